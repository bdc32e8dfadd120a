#!/usr/bin/env python3
"""Scope limits on MySQL sessions, as on PostgreSQL's (issue #14; docs/mysql.md "Scope
limits", docs/rules.md "Limits").

A real MariaDB 10.11 behind ringgate with a bundle holding one limit per identity (the same
pack as test_pg_limits.py) and an audit trail; PyMySQL and the mariadb CLI as agents. Each
of max_rows, max_bytes, max_statements, max_denials, idle_timeout and max_session_duration
ends that identity's session with an ERR the client reads (1226 / 42000, ER_USER_LIMIT_REACHED;
4031 / HY000 for idle_timeout, the server's own "disconnected because of inactivity") naming
the limit, its value and the entry that set it, before anything beyond the limit reaches the
agent; the connection is closed after it. One event=limit_exceeded line (proto=mysql) and
one limit_exceeded record in the trail name the identity. An identity no limit matches runs
unlimited.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import mariadb  # noqa: E402
import rgtest  # noqa: E402
from pgfix import log_text  # noqa: E402
from rgtest import check  # noqa: E402
from test_mysql_audit import Stack, records, stop_rg  # noqa: E402
from test_mysql_gateway import Certs  # noqa: E402
from test_pg_limits import PACK  # noqa: E402

pymysql = mariadb.require_pymysql()


def run(conn, sql):
    """(rows, None) or (None, the error's args)."""
    try:
        with conn.cursor() as c:
            c.execute(sql)
            return c.fetchall(), None
    except pymysql.err.MySQLError as e:
        return None, e.args


def limit_err(err, code, words):
    return bool(err) and err[0] == code and all(w in str(err[1]) for w in words)


def closed(conn):
    try:
        with conn.cursor() as c:
            c.execute("SELECT 1")
        return False
    except pymysql.err.MySQLError as e:
        return e.args[0] in (2006, 2013, 0) or isinstance(e, pymysql.err.InterfaceError)
    except Exception:  # noqa: BLE001
        return True


def main():
    certs = Certs()
    db = mariadb.MariaServer()
    iss = rgtest.DevIssuer()
    try:
        db.start()
        db.sql("CREATE TABLE nums (g INT PRIMARY KEY) ENGINE=InnoDB; "
               "INSERT INTO nums SELECT seq FROM seq_1_to_100", database=db.database)
        with tempfile.TemporaryDirectory(prefix="rgtest-mylim-") as d:
            pack = os.path.join(d, "lim.yaml")
            with open(pack, "w") as f:
                f.write(PACK)
            bundle = rgtest.compile_bundle(["rules/baseline", pack], os.path.join(d, "b.rgb"))
            st = Stack(d, db, certs, iss, bundle)
            try:
                parts(st, iss, db)
                log = log_text(st.rg)
            finally:
                stop_rg(st.rg)
            lines = [ln for ln in log.splitlines() if ln.startswith("event=limit_exceeded")]
            check(len(lines) == 8 and all(" proto=mysql " in ln and " sub=agent-" in ln and
                                          " id=lim." in ln for ln in lines),
                  f"eight limit_exceeded lines with the identity and the entry ({lines})")
            check(not rgtest.sanitizer_reports(log), "no sanitizer report")
            recs = [r for r in records(st.trail)
                    if r.get("protocol") == "mysql" and r["event"] == "limit_exceeded"]
            got = sorted((r["identity"]["sub"], r["limit"], r["rule"]) for r in recs)
            check(len(recs) == 8 and ("agent-rows", "max_rows", "lim.rows") in got and
                  ("agent-idle", "idle_timeout", "lim.idle") in got,
                  f"the trail has each limit_exceeded record ({got})")
            ends = [r for r in records(st.trail) if r.get("protocol") == "mysql" and
                    r["event"] == "session_end" and r.get("reason") == "limit_exceeded"]
            check(len(ends) == 8, f"their sessions end with reason limit_exceeded ({len(ends)})")
    finally:
        for x in (iss, db, certs):
            try:
                x.stop()
            except Exception:
                pass
    print("ok")


def parts(st, iss, st_db):
    def login(sub):
        return st.connect(iss.token(sub=sub))

    c = login("agent-rows")
    rows, err = run(c, "SELECT g FROM nums WHERE g <= 10")
    check(err is None and len(rows) == 10, "10 rows: within max_rows 10")
    conn_rows = c
    rows, err = run(c, "SELECT g FROM nums")
    check(limit_err(err, 1226, ["max_rows 10", "lim.rows"]) and rows is None,
          f"the 11th row ends the session with ERR 1226 naming the limit ({err})")
    check(closed(conn_rows), "and the connection is closed")

    c = login("agent-bytes")
    rows, err = run(c, "SELECT REPEAT('x', 100) FROM nums")
    check(limit_err(err, 1226, ["max_bytes 4kB", "lim.bytes"]) and closed(c),
          f"max_bytes 4kB ends the session ({err})")

    c = login("agent-big")
    rows, err = run(c, "SELECT REPEAT('y', 3000000)")
    check(limit_err(err, 1226, ["max_bytes 1MB", "lim.big"]) and closed(c),
          f"a 3 MB row over max_bytes 1MB: ended before it is sent ({err})")

    c = login("agent-stmts")
    for i in range(3):
        rows, err = run(c, "SELECT 1")
        check(err is None, f"statement {i + 1} of max_statements 3")
    rows, err = run(c, "SELECT 1")
    check(limit_err(err, 1226, ["max_statements 3", "lim.stmts"]) and closed(c),
          f"the 4th statement ends the session unanswered ({err})")

    c = login("agent-deny")
    rows, err = run(c, "DROP TABLE nums")
    check(err and err[0] == 1142, f"first denial: ERR 1142, the session goes on ({err})")
    rows, err = run(c, "TRUNCATE nums")
    check(limit_err(err, 1226, ["max_denials 1", "lim.denials"]) and closed(c),
          f"the second denial exceeds max_denials 1: the session ends ({err})")

    c = login("agent-idle")
    run(c, "SELECT 1")
    time.sleep(3.0)
    up = st_db.sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                   f"WHERE USER = '{st_db.native_user}'").strip()
    check(up == "0", f"at the idle deadline the target's session ended ({up} left)")
    t0 = time.monotonic()
    rows, err = run(c, "SELECT 1")
    check(limit_err(err, 4031, ["idle_timeout 2s", "lim.idle"]) and time.monotonic() - t0 < 2,
          f"idle for 2 s: the next read finds ERR 4031 naming idle_timeout ({err})")

    c = login("agent-dur")
    t0 = time.monotonic()
    err = None
    while time.monotonic() - t0 < 8:
        rows, err = run(c, "SELECT 1")
        if err:
            break
        time.sleep(0.3)
    dt = time.monotonic() - t0
    check(limit_err(err, 1226, ["max_session_duration 3s", "lim.duration"]) and 2.5 <= dt < 5,
          f"a busy session ends at max_session_duration ({dt:.1f}s, {err})")

    # the mariadb CLI reads the ERR too
    cli = shutil.which("mariadb")
    if cli:
        env = dict(os.environ, MYSQL_PWD=iss.token(sub="agent-rows"))
        r = subprocess.run([cli, "--no-defaults", "-h127.0.0.1", f"-P{st.rg.port}", "-ushop",
                            f"--ssl-ca={st.certs.ca}", "--default-auth=mysql_clear_password",
                            "-N", "-B", "-e", "SELECT g FROM nums"],
                           capture_output=True, text=True, env=env, timeout=60)
        check(r.returncode != 0 and "1226" in r.stderr and "max_rows 10" in r.stderr,
              f"the mariadb CLI shows the limit's ERR ({r.stderr.strip()})")
    else:
        print("# note: the mariadb CLI part needs the mariadb client (not installed)")

    c = login("agent-free")
    rows, err = run(c, "SELECT g FROM nums")
    check(err is None and len(rows) == 100, "no limit matches: unlimited")
    c.close()


if __name__ == "__main__":
    main()
