"""ringgate's PostgreSQL gateway, login and relay, against a real PostgreSQL 15 (SCRAM on TCP):
psql and psycopg2 log in with a dev-issuer token as the password; simple queries,
multi-statement queries, error recovery, transactions, the extended protocol (psycopg2
server-side parameters via PREPARE, pgbench -M extended/prepared) and a large result work;
wrong, expired, wrong-audience and garbage tokens are refused with SQLSTATE 28P01 and the
generic message; an unknown database gets 3D000; a unix-socket target works; the target's
password never appears in any client-visible byte or in ringgate's log; the counters and
the startup line are there; SIGTERM exits 0."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()


def refused(rg, token, what, dbname=None, sqlstate="28P01"):
    try:
        pgfix.connect(rg, token, **({"dbname": dbname} if dbname else {})).close()
        check(False, f"{what}: refused")
    except psycopg2.OperationalError as e:
        msg = str(e)
        check("authentication failed" in msg or sqlstate != "28P01", f"{what}: refused ({msg.strip()})")
    raw = pgfix.Raw(rg.host, rg.port)
    try:
        msgs, ok = raw.login(token, dbname or rg.config["targets"][0]["name"])
        errs = [pgfix.error_fields(b) for t, b in msgs if t == b"E"]
        check(not ok and errs and errs[0].get("C") == sqlstate and errs[0].get("S") == "FATAL",
              f"{what}: FATAL {sqlstate} on the wire ({errs})")
        if sqlstate == "28P01":
            check(errs[0].get("M") == "authentication failed" and "D" not in errs[0],
                  f"{what}: generic message, no detail")
        check(raw.at_eof(), f"{what}: connection closed after the error")
    finally:
        raw.close()


def main():
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        rg = pgfix.start(pg, iss, threads=2)
        target = rg.config["targets"][0]["name"]
        check(pgfix.wait_log(rg, f"event=started") and f"pg=127.0.0.1:{rg.port}" in
              pgfix.log_text(rg), "startup line names the bound port")
        check(f"event=plaintext_listener listener=pg address=127.0.0.1:{rg.port} loopback=yes "
              "insecure_plaintext=no" in pgfix.log_text(rg),
              "a listener without tls is logged as plaintext at start")
        tok = iss.token(sub="agent-7", groups="dev,ops")

        # psql: simple, multi-statement, error recovery, transactions
        env = rg.env("agent-7", tok)
        r = rgtest.run_psql("SELECT current_user, current_database(), 40 + 2", env)
        check(r.stdout.strip() == f"{pg.user}|{pg.database}|42",
              f"psql runs as the target's role on its database: {r.stdout.strip()}")
        r = rgtest.run_psql("SELECT 1; SELECT 2; SELECT 'three'", env)
        check(r.stdout.split() == ["1", "2", "three"], "multi-statement simple query")
        r = rgtest.run_psql("SELECT 1/0", env, check=False)
        check(r.returncode != 0 and "division by zero" in r.stderr, "errors reach psql")
        r = rgtest.run_psql("SELECT current_setting('application_name')", env)
        check(r.stdout.strip() == "rgtest", "application_name is forwarded")

        conn = pgfix.connect(rg, tok)
        try:
            cur = conn.cursor()
            cur.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
            conn.commit()
            cur.execute("INSERT INTO t VALUES (1, 'a')")
            conn.rollback()
            cur.execute("SELECT count(*) FROM t")
            check(cur.fetchone()[0] == 0, "rollback discards")
            cur.execute("INSERT INTO t VALUES (1, 'a')")
            conn.commit()
            try:
                cur.execute("INSERT INTO t VALUES (1, 'dup')")
                check(False, "duplicate key fails")
            except psycopg2.IntegrityError as e:
                check(e.pgcode == "23505", "duplicate key fails with 23505")
            conn.rollback()
            cur.execute("SELECT v FROM t WHERE id = %s", (1,))
            check(cur.fetchone()[0] == "a", "session usable after an error + rollback")
            cur.execute("PREPARE p(int) AS SELECT $1 * 2")
            cur.execute("EXECUTE p(21)")
            check(cur.fetchone()[0] == 42, "PREPARE/EXECUTE")
            cur.execute("SELECT repeat('x', 100000), g FROM generate_series(1, 300) g")
            rows = cur.fetchall()
            check(len(rows) == 300 and all(len(x[0]) == 100000 for x in rows),
                  "300 rows of 100 kB each (split messages) arrive intact")
            cur.execute("SELECT repeat('y', 3000000)")
            check(len(cur.fetchone()[0]) == 3000000, "a 3 MB DataRow (streamed) arrives intact")
            cur.execute("SELECT length(%s)", ("z" * 2000000,))
            check(cur.fetchone()[0] == 2000000, "a 2 MB Query (held whole) reaches the target")
        finally:
            conn.close()

        # extended protocol through pgbench
        pg_env = rg.env("agent-7", tok)
        rgtest.run_pgbench(["-i", "-s", "1", "-q"], pg_env)
        for mode in ("simple", "extended", "prepared"):
            r = rgtest.run_pgbench(["-n", "-c", "4", "-j", "2", "-t", "100", "-M", mode], pg_env)
            check("number of transactions actually processed: 400" in r.stdout,
                  f"pgbench -M {mode} through ringgate")

        # refusals
        other = pgfix.Issuer()  # same issuer URL, another key
        refused(rg, other.token(), "token signed by another key")
        refused(rg, iss.token(audience="someone-else"), "token for another audience")
        refused(rg, "not-a-token", "garbage token")
        refused(rg, tok[:-4] + ("AAAA" if not tok.endswith("AAAA") else "BBBB"), "tampered signature")
        short = iss.token(ttl="1s")
        time.sleep(7)  # ttl 1s + clock_skew 5s
        refused(rg, short, "expired token")
        refused(rg, tok, "unknown database", dbname="nosuchdb", sqlstate="3D000")
        refused(rg, "not-a-token", "unknown database, bad token: the token is refused first",
                dbname="nosuchdb", sqlstate="28P01")
        log = pgfix.log_text(rg)
        check("event=auth_fail" in log and "reason=expired" in log and
              ("reason=bad_signature" in log or "reason=unknown_kid" in log),
              "auth failures logged with a reason")
        check(tok not in log and short not in log, "no token in the log")
        check("event=unknown_database" in log, "unknown database logged")

        # the password never reaches a client or a log line
        raw = pgfix.Raw(rg.host, rg.port)
        msgs, ok = raw.login(tok, target)
        check(ok, "raw client logs in")
        keys = [b for t, b in msgs if t == b"K"]
        check(len(keys) == 1 and len(keys[0]) == 8, "one BackendKeyData of ringgate's own")
        raw.send(pgfix.query_msg("SELECT 1"))
        m, ok = raw.until_ready()
        raw.send(pgfix.msg(b"X"))
        check(raw.at_eof(), "Terminate closes the session")
        raw.close()
        check(pg.password.encode() not in raw.seen, "password absent from client-visible bytes")
        check(pg.password not in pgfix.log_text(rg), "password absent from the log")
        rg_stop_rc = rg.stop()
        check(rg_stop_rc == 0, "SIGTERM: ringgate exits 0")

    # a unix-socket target
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        rg = pgfix.start(pg, iss, via_socket=True)
        r = rgtest.run_psql("SELECT 6 * 7", rg.env("agent-1", iss.token()))
        check(r.stdout.strip() == "42", "unix socket target (trust) works")
        log = pgfix.log_text(rg)
        check(pg.password not in log, "password absent from the log")
        check(rg.stop() == 0, "clean exit")


if __name__ == "__main__":
    main()
