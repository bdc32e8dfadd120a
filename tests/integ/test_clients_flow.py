"""Flow control and failure handling of the real ringgate, driven by a raw wire client and
psycopg2: back-pressure both ways (a client that stops reading a 100 MB result; an agent
pushing CopyData into a target that does not read because the COPY waits for a lock), an
extended-protocol pipeline with an error before Sync, Terminate, and a target that goes
away (backend terminated under a session, PostgreSQL stopped and started again).

No RG_DIRECT mode: everything here is about ringgate itself."""

import os
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402
from test_clients_bad_input import (error_fields, finish, msg, raw_login,  # noqa: E402
                                    read_msg, read_reply, still_serving, wait_backends,
                                    wait_closed)

psycopg2 = rgtest.require_psycopg2()


def test_slow_reader_backpressure():
    """A client that stops reading a 100 MB result for seconds: ringgate holds back (its
    memory does not grow by the result), other sessions stay fast, and when the client
    reads again every row arrives."""
    with rgtest.ClientStack(direct=False) as st:
        steady = st.ep.connect()
        steady.autocommit = True
        r = raw_login(st.ep, st.ep.password)
        s = r[1]
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sql = b"SELECT g, repeat('x', 1000) FROM generate_series(1, 100000) g\0"
        rss0 = rgtest.rss_kib(st.rg.proc.pid)
        s.sendall(msg(b"Q", sql))
        slowest = 0.0
        for _ in range(20):  # ~4 s without reading
            t0 = time.monotonic()
            cur = steady.cursor()
            cur.execute("SELECT 1")
            cur.fetchone()
            slowest = max(slowest, time.monotonic() - t0)
            time.sleep(0.2)
        rss1 = rgtest.rss_kib(st.rg.proc.pid)
        grew = (rss1 - rss0) // 1024
        print(f"# ringgate RSS {rss0 // 1024} MiB -> {rss1 // 1024} MiB while the client "
              "stalls", flush=True)
        check(grew < 64, f"ringgate does not buffer the stalled 100 MB result ({grew} MiB)")
        check(slowest < 2.0, f"another session stays responsive meanwhile ({slowest:.2f}s)")
        rows, nbytes = 0, 0
        s.settimeout(60)
        f = s.makefile("rb", buffering=1 << 20)
        while True:
            t = f.read(1)
            (n,) = struct.unpack("!i", f.read(4))
            body = f.read(n - 4)
            if len(body) != n - 4:
                raise AssertionError("connection closed mid-result")
            if t == b"D":
                rows += 1
                nbytes += len(body)
            elif t == b"E":
                raise AssertionError(f"error instead of rows: {error_fields(body)}")
            elif t == b"Z":
                break
        check(rows == 100000, f"after the stall every row arrives ({rows})")
        f.close()
        s.sendall(msg(b"X"))
        s.close()
        steady.close()
        finish(st)


def test_blocked_target_backpressure():
    """The target stops reading (COPY waits for a table lock) while the agent keeps sending
    CopyData: ringgate pushes back instead of queueing the agent's data, and once the lock
    goes the COPY completes with every row."""
    with rgtest.ClientStack(direct=False) as st:
        st.direct.psql("CREATE TABLE blk(id int, v text)")
        locker = st.direct.connect()
        locker.cursor().execute("LOCK TABLE blk IN ACCESS EXCLUSIVE MODE")
        r = raw_login(st.ep, st.ep.password)
        s = r[1]
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        sql = b"COPY blk FROM STDIN\0"
        s.sendall(msg(b"Q", sql))
        rss0 = rgtest.rss_kib(st.rg.proc.pid)
        rows = [msg(b"d", f"{i}\t".encode() + b"y" * 1000 + b"\n") for i in range(100000)]
        s.setblocking(False)
        sent_rows, sent_bytes, pending = 0, 0, b""
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline and sent_rows < len(rows):
            if not pending:
                pending = rows[sent_rows]
                sent_rows += 1
            try:
                n = s.send(pending)
                sent_bytes += n
                pending = pending[n:]
            except BlockingIOError:
                time.sleep(0.05)
        rss1 = rgtest.rss_kib(st.rg.proc.pid)
        print(f"# agent pushed {sent_bytes // 1024} KiB into a blocked COPY; ringgate RSS "
              f"{rss0 // 1024} -> {rss1 // 1024} MiB", flush=True)
        check(sent_bytes < 64 << 20 and (rss1 - rss0) < 100 * 1024,
              f"ringgate pushes back on the agent while the target does not read "
              f"({sent_bytes >> 20} MiB accepted, RSS +{(rss1 - rss0) >> 10} MiB)")
        locker.rollback()  # releases the lock: the COPY starts
        locker.close()
        s.setblocking(True)
        s.settimeout(60)
        if pending:
            s.sendall(pending)
        for i in range(sent_rows, len(rows), 512):
            s.sendall(b"".join(rows[i:i + 512]))
        s.sendall(msg(b"c"))
        seen, err = [], None
        while True:
            t, body = read_msg(s)
            seen.append(t)
            if t == b"E":
                err = error_fields(body)
            if t == b"C":
                tag = body.rstrip(b"\0")
            if t == b"Z":
                break
        check(err is None and b"G" in seen and tag == b"COPY 100000",
              f"COPY completes once the lock is gone ({tag if err is None else err})")
        s.sendall(msg(b"X"))
        s.close()
        finish(st)


def test_raw_pipeline_with_error():
    """Extended-protocol pipeline through ringgate with an error in the middle: the server
    skips to Sync, the next Sync starts clean; then Terminate ends the session."""
    with rgtest.ClientStack(direct=False) as st:
        r = raw_login(st.ep, st.ep.password)
        check(r[0] == "ok", "raw client logged in")
        s = r[1]

        def parse(name, sql):
            return msg(b"P", name + b"\0" + sql + b"\0" + b"\0\0")

        def bind_exec(stmt, params=()):
            body = b"\0" + stmt + b"\0" + b"\0\0" + struct.pack("!h", len(params))
            for p in params:
                body += struct.pack("!i", len(p)) + p
            body += b"\0\0"
            return msg(b"B", body) + msg(b"E", b"\0" + struct.pack("!i", 0))

        pipeline = (parse(b"s1", b"SELECT $1::int * 2") + bind_exec(b"s1", [b"21"]) +
                    parse(b"s2", b"SELECT 1/($1::int + (random() * 0)::int)") + bind_exec(b"s2", [b"0"]) +
                    bind_exec(b"s1", [b"5"]) + msg(b"S") +
                    bind_exec(b"s1", [b"50"]) + msg(b"S"))
        s.sendall(pipeline)
        first, err1 = read_reply(s)
        check(first == [b"1", b"2", b"D", b"C", b"1", b"2", b"E", b"Z"] and
              err1 and err1.get("C") == "22012",
              f"first sync: result, then the error, rest skipped ({first}, {err1 and err1.get('C')})")
        second, err2 = read_reply(s)
        check(second == [b"2", b"D", b"C", b"Z"] and err2 is None,
              f"second sync: the statement runs again ({second})")
        s.sendall(msg(b"X"))
        check(wait_closed(s, 5.0), "Terminate: ringgate closes the agent connection")
        s.close()
        n = wait_backends(st, 0)
        check(n == 0, f"Terminate: the target session ended ({n} left)")
        finish(st)


def test_target_goes_away():
    """The backend is terminated under a session, then PostgreSQL stops and restarts: the
    agent gets an error instead of a hang, ringgate survives and logs agents in again."""
    with rgtest.ClientStack(direct=False) as st:
        a = st.ep.connect()
        a.autocommit = True
        cur = a.cursor()
        cur.execute("SELECT pg_backend_pid()")
        st.pg.admin_psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         f"WHERE usename = '{st.pg.user}'")
        t0 = time.monotonic()
        try:
            cur.execute("SELECT 1")
            check(False, "query on a terminated backend fails")
        except psycopg2.Error as e:
            code = getattr(e, "pgcode", None)
            check(isinstance(e, psycopg2.OperationalError) and time.monotonic() - t0 < 10,
                  f"query on a terminated backend fails promptly ({type(e).__name__} {code}: "
                  f"{str(e).strip()[:120]})")
        a.close()
        # An idle raw agent sees the backend's last words (FATAL 57P01), then EOF.
        r = raw_login(st.ep, st.ep.password)
        check(r[0] == "ok", "raw client logged in")
        s = r[1]
        st.pg.admin_psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         f"WHERE usename = '{st.pg.user}'")
        try:
            t, body = read_msg(s)
            fields = error_fields(body) if t == b"E" else {"type": t}
        except (EOFError, OSError) as e:
            fields = {"closed": repr(e)}
        closed = wait_closed(s)
        s.close()
        check(fields.get("C") == "57P01" and fields.get("S") == "FATAL" and closed,
              f"idle agent receives FATAL 57P01 from the terminated backend, then EOF ({fields})")
        steady = st.ep.connect()
        steady.autocommit = True
        still_serving(st, steady, "after pg_terminate_backend")
        steady.close()

        stop = subprocess.run(st.pg._server_cmd([st.pg._bin("pg_ctl"), "-D", st.pg.datadir,
                                                 "-m", "fast", "-w", "stop"]),
                              capture_output=True, text=True)
        check(stop.returncode == 0, "PostgreSQL stopped")
        t0 = time.monotonic()
        try:
            st.ep.connect().close()
            check(False, "login while the target is down fails")
        except psycopg2.OperationalError as e:
            dt = time.monotonic() - t0
            check(dt < 12, f"login while the target is down fails in {dt:.1f}s "
                           f"({str(e).strip()[:160]})")
        probs = st.ringgate_problems()
        check(not probs, f"ringgate alive with the target down ({probs[:5]})")
        start = subprocess.run(st.pg._server_cmd([st.pg._bin("pg_ctl"), "-D", st.pg.datadir,
                                                  "-l", st.pg.logfile, "-w", "start"]),
                               capture_output=True, text=True)
        check(start.returncode == 0, "PostgreSQL started again")
        c = st.ep.connect()
        c.cursor().execute("SELECT 1")
        c.close()
        check(True, "login works again once the target is back")
        finish(st)



if __name__ == "__main__":
    rgtest.run_tests([test_slow_reader_backpressure, test_blocked_target_backpressure,
                      test_raw_pipeline_with_error, test_target_goes_away])
