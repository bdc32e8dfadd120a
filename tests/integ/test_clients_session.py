"""Session behaviour of the real ringgate as stock clients see it (docs/pg.md): the startup
settings allow-list (parameters and options; anything else refused by name), the
BackendKeyData with the real pid and ringgate's own key, bytes an agent pipelines right after
its password, limits.max_sessions (FATAL 53300) and limits.idle_timeout, and the SIGTERM
drain (idle sessions get FATAL 57P01 at once, a busy one finishes its statement first,
exit 0).

No RG_DIRECT mode: everything here is about ringgate itself."""

import os
import signal
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402
from test_clients_bad_input import (error_fields, raw_login, read_msg, read_reply,  # noqa: E402
                                    connect_raw, startup_packet, wait_closed, msg)

psycopg2 = rgtest.require_psycopg2()
import psycopg2.errors  # noqa: E402


def healthy(st):
    check(not st.ringgate_problems(), f"ringgate healthy ({st.ringgate_problems()[:5]})")


def test_startup_parameters_and_backend_key():
    with rgtest.ClientStack(direct=False) as st:
        # issue #9 item 15: allow-listed settings reach the server, from parameters and from
        # options (-c and --name=value), and the pinned lexing settings are in force
        env = st.ep.env(PGAPPNAME="rg-app-name", PGCLIENTENCODING="UTF8", PGTZ="Asia/Tokyo",
                        PGDATESTYLE="SQL, DMY",
                        PGOPTIONS="-c search_path=app,public --statement-timeout=1234ms "
                                  "-c default_transaction_isolation=serializable")
        r = subprocess.run(["psql", "-X", "-w", "-A", "-t", "-F", "|", "-c",
                            "SELECT current_setting('application_name'), "
                            "current_setting('client_encoding'), current_setting('TimeZone'), "
                            "current_setting('DateStyle'), current_setting('search_path'), "
                            "current_setting('statement_timeout'), "
                            "current_setting('default_transaction_isolation'), "
                            "current_setting('standard_conforming_strings')"],
                           env=env, capture_output=True, timeout=60)
        got = r.stdout.decode().strip().split("|")
        check(got == ["rg-app-name", "UTF8", "Asia/Tokyo", "SQL, DMY", "app,public", "1234ms",
                      "serializable", "on"],
              f"allow-listed settings forwarded, lexing settings pinned ({got}) "
              f"{r.stderr.decode(errors='replace').strip()}")
        # anything else is refused by name, never dropped silently
        for extra, what in ((dict(PGOPTIONS="-c work_mem=77kB"), '"work_mem"'),
                            (dict(PGOPTIONS="-c session_replication_role=replica"),
                             '"session_replication_role"'),
                            (dict(PGCLIENTENCODING="LATIN1"), 'client_encoding "LATIN1"'),
                            (dict(PGCLIENTENCODING="SJIS"), 'client_encoding "SJIS"'),
                            (dict(PGOPTIONS="-c standard_conforming_strings=off"),
                             "standard_conforming_strings")):
            r = subprocess.run(["psql", "-X", "-w", "-A", "-t", "-c", "SELECT 1"],
                               env=st.ep.env(**extra), capture_output=True, timeout=60)
            err = r.stderr.decode(errors="replace")
            check(r.returncode != 0 and "FATAL" in err and what in err,
                  f"{extra} refused with a FATAL naming {what} ({err.strip()})")

        conn = st.ep.connect()
        cur = conn.cursor()
        cur.execute("SELECT pg_backend_pid()")
        real = cur.fetchone()[0]
        check(conn.get_backend_pid() == real,
              f"BackendKeyData carries the real backend pid: agent sees {conn.get_backend_pid()}, "
              f"the target's is {real}")
        # LISTEN/NOTIFY: the notifying pid is the one the client was told (drivers compare)
        conn.rollback()
        conn.autocommit = True
        cur.execute("LISTEN rgchan")
        cur.execute("NOTIFY rgchan, 'x'")
        conn.poll()
        pids = [n.pid for n in conn.notifies]
        check(pids == [real], f"NOTIFY's pid is the session's pid ({pids} vs {real})")
        conn.close()
        healthy(st)


def test_pipelined_after_password():
    """Password, Query and Sync-terminated extended messages in one write: held during
    the target login and forwarded after it, answered in order."""
    with rgtest.ClientStack(direct=False) as st:
        s = connect_raw(st.ep)
        s.sendall(startup_packet({"user": "agent-1", "database": st.ep.database}))
        t, body = read_msg(s)
        check(t == b"R" and struct.unpack("!i", body[:4])[0] == 3, "password requested")
        pw = st.ep.password.encode()
        q = b"SELECT 'early', 1 + 1\0"
        big = b"SELECT length('" + b"z" * 300000 + b"')\0"
        s.sendall(msg(b"p", pw + b"\0") + msg(b"Q", q) + msg(b"Q", big))
        seen = []
        while True:
            t, body = read_msg(s)
            seen.append(t)
            if t == b"Z":
                break
        check(seen[0] == b"R" and b"K" in seen, f"login completes ({seen})")
        first, err = read_reply(s)
        check(err is None and first == [b"T", b"D", b"C", b"Z"],
              f"pipelined Query answered after login ({first}, {err})")
        second, err = read_reply(s)
        check(err is None and second == [b"T", b"D", b"C", b"Z"],
              f"pipelined 300 KB Query answered too ({second}, {err})")
        s.sendall(msg(b"X"))
        s.close()

        # Startup, password and a Query in one write, before any answer.
        s = connect_raw(st.ep)
        s.sendall(startup_packet({"user": "agent-1", "database": st.ep.database}) +
                  msg(b"p", pw + b"\0") + msg(b"Q", q))
        seen = []
        while True:
            t, body = read_msg(s)
            seen.append(t)
            if t == b"Z":
                break
        check(seen[:2] == [b"R", b"R"] and b"K" in seen,
              f"startup + password in one write: login completes ({seen})")
        first, err = read_reply(s)
        check(err is None and first == [b"T", b"D", b"C", b"Z"],
              f"the Query in the same write is answered ({first}, {err})")
        s.sendall(msg(b"X"))
        s.close()
        healthy(st)


def connect_soon(ep, timeout=5.0):
    """Connect, retrying while ringgate has not yet seen closed sessions go (53300)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ep.connect()
        except psycopg2.OperationalError as e:
            if "too many" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_max_sessions_and_idle_timeout():
    with rgtest.ClientStack(direct=False, extra={"limits": {"idle_timeout": "2s",
                                                            "max_sessions": 3}}) as st:
        conns = [st.ep.connect() for _ in range(3)]
        try:
            st.ep.connect().close()
            check(False, "a 4th session is refused")
        except psycopg2.OperationalError as e:
            check("FATAL" in str(e), f"a 4th session is refused with FATAL ({str(e).strip()})")
        r = raw_login(st.ep, st.ep.password)
        check(r[0] == "error" and r[1].get("C") == "53300",
              f"raw: max_sessions refusal is FATAL 53300 ({r[1] if r[0] == 'error' else r[0]})")
        conns[0].close()
        c = connect_soon(st.ep)
        c.cursor().execute("SELECT 1")
        check(True, "a slot freed by a closed session is usable again")
        # Idle timeout: a session left alone for > 2 s is closed; an active one is not.
        for x in conns[1:]:
            x.close()
        active = c
        idle = connect_soon(st.ep)
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            active.cursor().execute("SELECT 1")
            time.sleep(0.25)  # well inside the 2 s idle_timeout even on a loaded machine
        try:
            idle.cursor().execute("SELECT 1")
            closed = False
        except psycopg2.OperationalError:
            closed = True
        check(closed, "a session idle for longer than idle_timeout is closed")
        active.cursor().execute("SELECT 'still here'")
        check(True, "a session active all along is still open")
        active.close()
        healthy(st)


def test_sigterm_drain():
    with rgtest.ClientStack(direct=False) as st:
        r = raw_login(st.ep, st.ep.password)
        idle = r[1]
        r = raw_login(st.ep, st.ep.password)
        busy = r[1]
        sql = b"SELECT pg_sleep(2), 'finished'\0"
        busy.sendall(msg(b"Q", sql))
        # SIGTERM only once the statement runs in PostgreSQL: a fixed delay raced it under
        # load, and a session whose query has not arrived yet is (rightly) drained as idle
        check(pgfix.wait_active(st.pg, sql[:-1].decode()), "the busy session's statement is running")
        t0 = time.monotonic()
        st.rg.proc.send_signal(signal.SIGTERM)
        t, body = read_msg(idle)
        f = error_fields(body) if t == b"E" else {"type": t}
        check(f.get("C") == "57P01" and f.get("S") == "FATAL" and wait_closed(idle) and
              time.monotonic() - t0 < 5.0, f"idle session: FATAL 57P01 at once, closed ({f})")
        seen, err = read_reply(busy)
        check(seen == [b"T", b"D", b"C", b"Z"] and err is None,
              f"busy session: its statement completes during the drain ({seen}, {err})")
        t, body = read_msg(busy)
        f = error_fields(body) if t == b"E" else {"type": t}
        check(f.get("C") == "57P01" and wait_closed(busy),
              f"busy session: then FATAL 57P01 and closed ({f})")
        rc = st.rg.proc.wait(timeout=15)
        dt = time.monotonic() - t0
        check(rc == 0 and dt < 12, f"ringgate exits 0 after the drain ({rc}, {dt:.1f}s)")
        reports = rgtest.sanitizer_reports(st.rg_log())
        check(not reports, f"no sanitizer report at exit ({reports[:5]})")


def test_unix_socket_target():
    """A target reached over PostgreSQL's unix socket (pg_hba trust there: the target logs
    ringgate in without any password exchange)."""
    with rgtest.ClientStack(direct=False, via_socket=True) as st:
        r = st.ep.psql("SELECT current_user, inet_server_addr() IS NULL; "
                       "CREATE TABLE us AS SELECT g FROM generate_series(1, 50000) g; "
                       "SELECT count(*), sum(g) FROM us", args=("-q",))
        check(r.stdout.split() == [f"{st.pg.user}|t", "50000|1250025000"],
              f"queries through a unix-socket target ({r.stdout.split()})")
        r = subprocess.run(["psql", "-X", "-w", "-c", "COPY us TO STDOUT"], env=st.ep.env(),
                           capture_output=True, timeout=60)
        check(r.stdout == b"".join(b"%d\n" % g for g in range(1, 50001)),
              "COPY TO STDOUT through a unix-socket target")
        logins = [ln for ln in st.rg_log().splitlines() if "event=upstream_login" in ln]
        check(logins and all("tls=no" in ln and "mech=none" in ln for ln in logins),
              f"the trust target's logins are logged as tls=no mech=none ({logins[:2]})")
        healthy(st)


if __name__ == "__main__":
    rgtest.run_tests([test_startup_parameters_and_backend_key, test_pipelined_after_password,
                      test_max_sessions_and_idle_timeout, test_unix_socket_target,
                      test_sigterm_drain])
