#!/usr/bin/env python3
"""Policy enforced on live sessions (issue #10; docs/pg.md "Denying", docs/config.md policy).

Against a real PostgreSQL 15 and the real ringgate with a signed bundle of rules/baseline
plus a test pack: denied statements never reach the server and look exactly like a server
error (the rule's SQLSTATE, a message naming the rule); inside a transaction block the
transaction is failed as PostgreSQL fails it -- checked against PostgreSQL itself running
the same script with the denied statement replaced by one it rejects; simple, extended and
pipelined protocols stay in sync (psql, psycopg2, pgbench); shadow rules change nothing;
unparseable text is denied; FunctionCall is judged by the name of the function its OID
names in the target's catalog (pg_sleep denied, a user function allowed, an OID newer than the
catalog's last read refused, then allowed after the read it triggered); --check-config verifies
the bundle; SIGHUP reloads it (a bad bundle is refused and the old one stays) while pgbench
runs without a failed transaction; no bundle is pass-through, said at start.
"""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402
from test_clients_bad_input import (raw_login, read_reply, msg, read_msg,  # noqa: E402
                                    error_fields)

psycopg2 = rgtest.require_psycopg2()

TEST_PACK = """version: 1
pack: t
rules:
  - id: t.no-secrets
    description: the secrets table is off limits
    sql: {tables: [secrets]}
    action: deny
    sqlstate: "42P01"
    message: "the secrets table is not available to agents"
    tests:
      - sql: "SELECT * FROM secrets"
        expect: deny
      - sql: "SELECT 'secrets'"
        expect: allow
  - id: t.no-lo-unlink
    description: large objects may be written and read, not removed
    sql: {functions: [lo_unlink]}
    action: deny
    tests:
      - sql: "SELECT lo_unlink(1)"
        expect: deny
  - id: t.shadow-orders
    description: would deny deleting orders (shadow)
    sql: {operation: delete, tables: [orders]}
    action: deny
    enforce: false
    tests:
      - sql: "DELETE FROM orders WHERE id = 1"
        expect: allow
"""


def rulec():
    return os.path.join(rgtest.RG_BUILD, "rulec", "rulec")


def build_bundle(d, packs, name="policy.rgb", key=None):
    out = os.path.join(d, name)
    argv = [rulec(), "compile", "-o", out]
    if key:
        argv += ["--sign", key]
    r = subprocess.run(argv + packs, capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise RuntimeError(f"rulec compile failed: {r.stderr}")
    return out


def q(s, sql):
    s.sendall(msg(b"Q", sql.encode() + b"\0"))
    return read_reply(s)


def query_status(s, sql):
    """Send a simple Query, return (types, error fields, ReadyForQuery status)."""
    s.sendall(msg(b"Q", sql.encode() + b"\0"))
    seen, err, st = [], None, None
    while True:
        t, body = read_msg(s)
        seen.append(t)
        if t == b"E":
            err = error_fields(body)
        if t == b"Z":
            st = body[:1].decode()
            return seen, err, st


def run_script(s, stmts):
    """Each statement as its own Query: [(sqlstate or 'ok', tx status)]."""
    out = []
    for x in stmts:
        _, err, st = query_status(s, x)
        out.append(((err or {}).get("C", "ok"), st))
    return out


def table_rows(pg, sql):
    return pg.psql(sql).stdout.strip()


def main():
    with rgtest.PgServer() as pg:
        pg.psql("CREATE FUNCTION public.addone(int) RETURNS int LANGUAGE sql "
                "AS 'SELECT $1 + 1'; "
                "CREATE TABLE t (id int PRIMARY KEY, v text); "
                "CREATE TABLE secrets (k text); INSERT INTO secrets VALUES ('x'); "
                "CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 5)")
        iss = pgfix.Issuer()
        work = tempfile.mkdtemp(prefix="rgtest-pol-")
        try:
            key, pub = rgtest.signing_keypair(work)
            pack = os.path.join(work, "t.yaml")
            with open(pack, "w") as f:
                f.write(TEST_PACK)
            baseline = os.path.join(rgtest.RG_SRC, "rules", "baseline")
            bundle = build_bundle(work, [baseline, pack], key=key)
            # the bundle the gateway loads is a copy it can be told to reload
            live = os.path.join(work, "live.rgb")
            shutil.copy(bundle, live)
            policy = {"bundle": live, "public_key": pub}
            rg = pgfix.start(pg, iss, policy=policy, threads=2)
            tok = iss.token()
            log0 = pgfix.log_text(rg)
            check("event=policy_loaded generation=1" in log0 and "signed=yes" in log0,
                  "the signed bundle is loaded at start and said so")

            # ---- simple protocol: a denial is a server error, the server never sees it
            ok, s = raw_login(rg_ep(rg), tok)[:2]
            seen, err = q(s, "DROP TABLE t")
            check(err and err.get("C") == "42501" and "baseline.no-drop" in err.get("M", "")
                  and err.get("S") == "ERROR" and seen[-1] == b"Z",
                  f"DROP TABLE denied: 42501 naming the rule, then ReadyForQuery ({err})")
            check(table_rows(pg, "SELECT count(*) FROM pg_class WHERE relname = 't'") == "1",
                  "the table is still there")
            seen, err = q(s, "SELECT * FROM secrets")
            check(err and err.get("C") == "42P01" and "t.no-secrets" in err.get("M", ""),
                  f"a rule's own SQLSTATE ({err})")
            seen, err = q(s, "INSERT INTO t VALUES (1, 'a'); DROP TABLE t; "
                             "INSERT INTO t VALUES (2, 'b')")
            check(err and err.get("C") == "42501",
                  "a multi-statement Query with one denied statement is denied whole")
            check(table_rows(pg, "SELECT count(*) FROM t") == "0",
                  "nothing of that Query reached the server")
            seen, err = q(s, "SELECT 'DROP TABLE t', \"drop\" FROM (SELECT 1 AS drop) x")
            check(err is None, "a literal and an identifier that say DROP are allowed")
            seen, err = q(s, "SELEC oops FROM")
            check(err and err.get("C") == "42601" and "unparseable" in err.get("M", ""),
                  f"text the classifier cannot parse is denied (fail closed) ({err})")
            seen, err = q(s, "DELETE FROM orders WHERE id = 1")
            check(err is None, "a shadow rule changes nothing")
            check(pgfix.wait_log(rg, "shadow_rule=t.shadow-orders"),
                  "...and is logged as what it would have done")

            # ---- transaction-state equivalence with PostgreSQL itself: the denied statement
            # replaced by one PostgreSQL rejects must leave the same statuses and data
            script = ["BEGIN", "INSERT INTO t VALUES (10, 'x')", "@DENIED@",
                      "SELECT count(*) FROM t", "INSERT INTO t VALUES (11, 'y')", "COMMIT",
                      "SELECT count(*) FROM t WHERE id >= 10"]
            through = run_script(s, [x.replace("@DENIED@", "DROP TABLE t") for x in script])
            direct_s = direct_raw(pg)
            pg.psql("DELETE FROM t WHERE id >= 10")
            direct = run_script(direct_s, [x.replace("@DENIED@", "SELECT 1/0") for x in script])
            direct_s.close()
            check([st for _, st in through] == [st for _, st in direct],
                  f"transaction statuses as PostgreSQL's own ({through} vs {direct})")
            check([c for c, _ in through][3:] == [c for c, _ in direct][3:] and
                  through[2][0] == "42501" and direct[2][0] == "22012",
                  f"25P02 after the denial, COMMIT rolls back ({through})")
            check(table_rows(pg, "SELECT count(*) FROM t WHERE id >= 10") == "0",
                  "the statements around the denied one were rolled back")
            s.sendall(msg(b"X"))
            s.close()

            # ---- extended protocol: a denied Parse, the pipeline stays in sync
            ok, s = raw_login(rg_ep(rg), tok)[:2]
            s.sendall(parse(b"s1", b"DROP TABLE t") + bind(b"s1") + execute() +
                      parse(b"", b"SELECT 42") + bind(b"") + execute() + msg(b"S"))
            seen, err = read_reply(s)
            check(err and err.get("C") == "42501" and seen == [b"E", b"Z"],
                  f"denied Parse: one error, the rest of the pipeline skipped ({seen})")
            s.sendall(bind(b"s1") + execute() + msg(b"S"))
            seen, err = read_reply(s)
            check(err and err.get("C") == "26000",
                  f"the denied statement name does not exist afterwards: 26000 ({err})")
            s.sendall(parse(b"s2", b"SELECT $1::int + 1", 1) + bind(b"s2", [b"41"]) +
                      execute() + msg(b"S"))
            seen, err = read_reply(s)
            check(err is None and b"D" in seen, f"allowed extended statements run ({seen})")
            # Parse + Flush, no Sync: the denial is answered at once
            s.sendall(parse(b"", b"TRUNCATE t") + msg(b"H"))
            t, body = read_msg(s)
            check(t == b"E" and error_fields(body).get("C") == "42501",
                  "Parse + Flush of a denied statement: the error comes before any Sync")
            s.sendall(msg(b"S"))
            seen, err = read_reply(s)
            check(seen == [b"Z"], f"...and Sync then gives ReadyForQuery ({seen})")
            # FunctionCall under a bundle: judged as the call of the function the target's
            # catalog names for the OID (read at start, and again on an unknown OID)
            def fcall(oid, args=()):
                body = struct.pack("!Ih", oid, 0) + struct.pack("!h", len(args))
                for a in args:
                    body += struct.pack("!i", len(a)) + a
                s.sendall(msg(b"F", body + struct.pack("!h", 0)))
                out = None
                seen, err = [], None
                while True:
                    t, b = read_msg(s)
                    seen.append(t)
                    if t == b"V":
                        (n,) = struct.unpack("!i", b[:4])
                        out = b[4:4 + n] if n >= 0 else None
                    elif t == b"E":
                        err = error_fields(b)
                    elif t == b"Z":
                        return out, err, seen
            sleep_oid = int(table_rows(pg, "SELECT 'pg_catalog.pg_sleep(float8)'"
                                       "::regprocedure::oid"))
            out, err, seen = fcall(sleep_oid, [b"0"])
            check(err and err.get("C") == "42501" and "baseline.no-sleep" in err.get("M", "")
                  and seen[-1] == b"Z",
                  f"FunctionCall of pg_sleep by OID: denied by the rule on its name ({err})")
            addone = int(table_rows(pg, "SELECT 'public.addone(int)'::regprocedure::oid"))
            out, err, seen = fcall(addone, [b"41"])
            check(err is None and out == b"42",
                  f"FunctionCall of a user function by OID: allowed, runs ({out}, {err})")
            pg.psql("CREATE FUNCTION public.addtwo(int) RETURNS int "
                    "LANGUAGE sql AS 'SELECT $1 + 2'")
            addtwo = int(table_rows(pg, "SELECT 'public.addtwo(int)'::regprocedure::oid"))
            out, err, seen = fcall(addtwo, [b"40"])
            check(err and err.get("C") == "42501" and "retry" in err.get("M", ""),
                  f"a function newer than the catalog read: refused, read again ({err})")
            for _ in range(50):
                out, err, seen = fcall(addtwo, [b"40"])
                if err is None:
                    break
                time.sleep(0.1)
            check(err is None and out == b"42", f"...then allowed ({out}, {err})")
            out, err, seen = fcall(4000000000, [])
            check(err and err.get("C") == "42501" and seen[-1] == b"Z",
                  f"an OID no function has: refused ({err})")
            s.sendall(msg(b"X"))
            s.close()

            # ---- real clients
            conn = pgfix.connect(rg, tok)
            cur = conn.cursor()
            try:
                cur.execute("DROP TABLE t")
                check(False, "psycopg2: DROP denied")
            except psycopg2.Error as e:
                check(e.pgcode == "42501", f"psycopg2: DROP denied with 42501 ({e.pgcode})")
            try:
                cur.execute("SELECT 1")
                check(False, "psycopg2: the transaction is failed after a denial")
            except psycopg2.Error as e:
                check(e.pgcode == "25P02", f"psycopg2: then 25P02 as PostgreSQL ({e.pgcode})")
            conn.rollback()
            cur.executemany("INSERT INTO t VALUES (%s, %s)", [(100 + i, "m") for i in range(5)])
            conn.commit()
            check(table_rows(pg, "SELECT count(*) FROM t WHERE id >= 100") == "5",
                  "psycopg2 executemany through the bundle")
            named = conn.cursor(name="srv")
            named.execute("SELECT id FROM t WHERE id >= 100 ORDER BY id")
            check([r[0] for r in named.fetchmany(2)] == [100, 101],
                  "psycopg2 server-side cursor")
            named.close()
            conn.rollback()
            conn.close()
            # libpq's large-object API calls built-in functions by OID (FunctionCall): judged
            # as the SQL calls they are
            conn = pgfix.connect(rg, tok)
            lo = conn.lobject(0, "wb")
            lo.write(b"large object through ringgate")
            oid = lo.oid
            lo.close()
            conn.commit()
            lo = conn.lobject(oid, "rb")
            check(lo.read() == b"large object through ringgate",
                  "psycopg2 large objects (lo_creat/lo_open/lowrite/loread by OID) work")
            lo.close()
            conn.commit()
            try:
                conn.lobject(oid, "rb").unlink()
                check(False, "lo_unlink denied")
            except psycopg2.Error as e:
                # (psycopg2 reports lobject errors without their SQLSTATE)
                check("denied by policy rule t.no-lo-unlink" in str(e),
                      f"...and a rule on lo_unlink denies the unlink by OID ({e})")
            conn.rollback()
            conn.close()
            r = rgtest.run_psql("DROP TABLE secrets", rg.env("agent-1", tok), check=False)
            check(r.returncode != 0 and "baseline.no-drop" in r.stderr,
                  f"psql shows the rule ({r.stderr.strip()})")

            pg_env = rg.env("agent-1", tok)
            rgtest.run_pgbench(["-i", "-s", "1", "-q"], direct_env(pg))
            script_f = os.path.join(work, "pipe.sql")
            with open(script_f, "w") as f:
                f.write("\\startpipeline\nSELECT 1;\nDELETE FROM pgbench_history;\n"
                        "SELECT 2;\n\\endpipeline\n")
            r = rgtest.run_pgbench(["-n", "-M", "extended", "-c", "1", "-t", "2", "-f",
                                    script_f], pg_env, check=False)
            check(r.returncode != 0 and "aborted in command 4 query 0: ERROR:  denied by "
                  "policy rule baseline.no-delete-without-where" in (r.stdout + r.stderr),
                  "pgbench pipeline: the denied statement inside the pipeline is reported "
                  f"as the server error, the client exits cleanly ({(r.stdout + r.stderr)[-600:]})")
            check(rg.proc.poll() is None, "ringgate still serving")

            # ---- hot reload under load: 100 SIGHUPs, zero failed transactions
            strict = build_bundle(work, [baseline, pack], name="strict.rgb", key=key)
            pgb = subprocess.Popen(
                ["pgbench", "-n", "-S", "-M", "prepared", "-c", "4", "-j", "2", "-T", "12"],
                env=pg_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            time.sleep(1)
            for i in range(100):
                shutil.copy(strict if i % 2 else bundle, live + ".tmp")
                os.replace(live + ".tmp", live)
                rg.proc.send_signal(signal.SIGHUP)
                time.sleep(0.08)
            out, _ = pgb.communicate(timeout=60)
            check(pgb.returncode == 0 and "number of failed transactions: 0" in out,
                  f"pgbench during 100 reloads: zero failed transactions "
                  f"({[ln for ln in out.splitlines() if 'failed' in ln or 'processed' in ln]})")
            time.sleep(0.5)
            log = pgfix.log_text(rg)
            n = log.count("event=policy_reloaded")
            check(n >= 90, f"reloads logged ({n})")
            # after a reload a prepared statement is judged again at its next Bind
            def reload_to(path):
                before = pgfix.log_text(rg).count("event=policy_reloaded")
                shutil.copy(path, live + ".tmp")
                os.replace(live + ".tmp", live)
                rg.proc.send_signal(signal.SIGHUP)
                deadline = time.monotonic() + 10
                while pgfix.log_text(rg).count("event=policy_reloaded") == before and \
                        time.monotonic() < deadline:
                    time.sleep(0.05)
            reload_to(bundle)
            ok, s = raw_login(rg_ep(rg), tok)[:2]
            s.sendall(parse(b"s_t", b"SELECT count(*) FROM t") + msg(b"S"))
            seen, err = read_reply(s)
            s.sendall(bind(b"s_t") + execute() + msg(b"S"))
            seen, err = read_reply(s)
            check(err is None and b"D" in seen, "a prepared statement runs under bundle A")
            extra = os.path.join(work, "t2.yaml")
            with open(extra, "w") as f:
                f.write("version: 1\npack: t2\nrules:\n  - id: t2.no-t\n"
                        "    sql: {tables: [t]}\n    action: deny\n"
                        "    message: t is closed now\n")
            closed_t = build_bundle(work, [baseline, pack, extra], name="closed.rgb", key=key)
            reload_to(closed_t)
            for i in range(2):
                s.sendall(bind(b"s_t") + execute() + msg(b"S"))
                seen, err = read_reply(s)
                check(err and err.get("C") == "42501" and "t2.no-t" in err.get("M", "") and
                      b"D" not in seen and seen[-1] == b"Z",
                      f"after the reload its Bind #{i + 1} is judged again and denied ({err})")
            s.sendall(parse(b"", b"SELECT 1") + bind(b"") + execute() + msg(b"S"))
            seen, err = read_reply(s)
            check(err is None and b"D" in seen, "the session goes on")
            s.sendall(msg(b"X"))
            s.close()
            reload_to(bundle)

            # a bad bundle is refused and the old one stays
            with open(live, "wb") as f:
                f.write(b"not a bundle")
            rg.proc.send_signal(signal.SIGHUP)
            check(pgfix.wait_log(rg, "event=policy_reload_failed reason=bad_bundle"),
                  "a corrupt bundle is refused on reload")
            r = rgtest.run_psql("DROP TABLE t", pg_env, check=False)
            check(r.returncode != 0 and "baseline.no-drop" in r.stderr,
                  "...and the bundle in force still denies")
            probs = rgtest.sanitizer_reports(pgfix.log_text(rg))
            check(not probs and rg.proc.poll() is None, f"ringgate healthy ({probs[:3]})")
            rc = rg.stop()
            check(rc == 0, f"clean exit after reloads ({rc})")

            # ---- --check-config verifies the bundle; a bad one stops the start
            path, _ = rgtest.write_ringgate_config(pg, work, validate=False,
                                                   identity=iss.identity(),
                                                   policy={"bundle": live, "public_key": pub})
            r = subprocess.run([rgtest.ringgate_binary(), "--check-config", path],
                               capture_output=True, text=True, timeout=60)
            check(r.returncode == 1 and "policy.bundle" in r.stderr,
                  f"--check-config refuses a corrupt bundle ({r.stderr.strip()[:160]})")
            unsigned = build_bundle(work, [baseline], name="unsigned.rgb")
            path, _ = rgtest.write_ringgate_config(pg, work, validate=False,
                                                   identity=iss.identity(),
                                                   policy={"bundle": unsigned,
                                                           "public_key": pub})
            r = subprocess.run([rgtest.ringgate_binary(), "--config", path],
                               capture_output=True, text=True, timeout=60)
            check(r.returncode != 0 and "policy.bundle" in r.stderr,
                  f"an unsigned bundle where a key is configured stops the start "
                  f"({r.stderr.strip()[:160]})")
            # no bundle: pass-through, said once
            rg2 = pgfix.start(pg, iss)
            check("event=policy_none" in pgfix.log_text(rg2),
                  "no bundle: pass-through, said at start")
            rg2.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)


def rg_ep(rg):
    return rgtest.Endpoint(rg.host, rg.port, "agent-1", None, rg.config["targets"][0]["name"])


def direct_env(pg):
    return pg.env()


def direct_raw(pg):
    """A raw protocol connection straight to PostgreSQL (trust on its private socket)."""
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.connect(pg.socket_path)
    s.settimeout(10)
    from test_clients_bad_input import startup_packet
    s.sendall(startup_packet({"user": pg.user, "database": pg.database}))
    while True:
        t, body = read_msg(s)
        if t == b"Z":
            return s
        if t == b"E":
            raise RuntimeError(f"direct login failed: {error_fields(body)}")


def parse(name, sql, nparams=0):
    return msg(b"P", name + b"\0" + sql + b"\0" + struct.pack("!h", nparams) +
               struct.pack("!I", 0) * nparams)


def bind(name, params=()):
    body = b"\0" + name + b"\0" + struct.pack("!h", 0) + struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", len(p)) + p
    return msg(b"B", body + struct.pack("!h", 0))


def execute():
    return msg(b"E", b"\0" + struct.pack("!i", 0))


if __name__ == "__main__":
    main()
