#!/usr/bin/env python3
"""SQL-level prepared statements under a reloaded bundle (issue #10; docs/pg.md "After a reload").

Against a real PostgreSQL 15 and the real ringgate with a signed bundle: statements prepared
with SQL PREPARE (in a simple Query, a multi-statement string, or through Parse/Bind/Execute
as JDBC sends it) while a table is allowed are denied at their next EXECUTE once a SIGHUP
reload closes that table -- alone, under EXPLAIN ANALYZE, in CREATE TABLE AS, inside a
multi-statement string (nothing of it runs), in a Parse, through a protocol Bind of the
SQL name, with the rule's SQLSTATE and PostgreSQL's transaction semantics (checked against
PostgreSQL itself). Names fold as the server folds them. DEALLOCATE, DEALLOCATE ALL and
DISCARD ALL forget; PREPAREs past the tracker's bound are refused (54000); a PREPARE the
server refuses (the name exists, an aborted transaction) is never learned, while one in a
rolled-back transaction is (the server keeps it: checked directly). A statement the new
bundle allows runs, and a reload back allows them again.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402
from test_clients_bad_input import raw_login, read_reply, msg  # noqa: E402
from test_pg_enforce import (TEST_PACK, build_bundle, query_status, run_script,  # noqa: E402
                             rg_ep, direct_raw, parse, bind, execute)

psycopg2 = rgtest.require_psycopg2()

CLOSE_T = """version: 1
pack: t2
rules:
  - id: t2.no-t
    description: table t is closed
    sql: {tables: [t]}
    action: deny
    sqlstate: "42P01"
    message: "t is closed now"
"""


def q(s, sql):
    """(message types, error fields or None, ReadyForQuery status)."""
    return query_status(s, sql)


def denied(r):
    seen, err, st = r
    return bool(err) and err.get("C") == "42P01" and "t2.no-t" in err.get("M", "") and \
        b"D" not in seen


def fine(r):
    seen, err, st = r
    return err is None and b"D" in seen


def main():
    with rgtest.PgServer() as pg:
        pg.psql("CREATE TABLE t (id int PRIMARY KEY, v text); "
                "INSERT INTO t VALUES (1, 'a'), (2, 'b'); CREATE TABLE secrets (k text)")
        iss = pgfix.Issuer()
        work = tempfile.mkdtemp(prefix="rgtest-prep-")
        try:
            key, pub = rgtest.signing_keypair(work)
            pack = os.path.join(work, "t.yaml")
            with open(pack, "w") as f:
                f.write(TEST_PACK)
            closed = os.path.join(work, "t2.yaml")
            with open(closed, "w") as f:
                f.write(CLOSE_T)
            baseline = os.path.join(rgtest.RG_SRC, "rules", "baseline")
            open_b = build_bundle(work, [baseline, pack], key=key)
            closed_b = build_bundle(work, [baseline, pack, closed], name="closed.rgb", key=key)
            live = os.path.join(work, "live.rgb")
            shutil.copy(open_b, live)
            rg = pgfix.start(pg, iss, policy={"bundle": live, "public_key": pub}, threads=2)
            tok = iss.token()

            def reload_to(path):
                before = pgfix.log_text(rg).count("event=policy_reloaded")
                shutil.copy(path, live + ".tmp")
                os.replace(live + ".tmp", live)
                rg.proc.send_signal(signal.SIGHUP)
                deadline = time.monotonic() + 10
                while pgfix.log_text(rg).count("event=policy_reloaded") == before and \
                        time.monotonic() < deadline:
                    time.sleep(0.05)
                check(pgfix.log_text(rg).count("event=policy_reloaded") > before,
                      "the bundle was reloaded")

            # ---- PostgreSQL itself: prepared statements are not transactional
            d = direct_raw(pg)
            r = run_script(d, ["BEGIN", "PREPARE rb AS SELECT 1", "ROLLBACK", "EXECUTE rb",
                               "PREPARE gone AS SELECT 1", "BEGIN", "DEALLOCATE gone",
                               "ROLLBACK", "EXECUTE gone",
                               "BEGIN", "SELECT 1/0", "PREPARE ab AS SELECT 1", "ROLLBACK",
                               "EXECUTE ab"])
            check([c for c, _ in r] == ["ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok",
                                        "26000", "ok", "22012", "25P02", "ok", "26000"],
                  f"PostgreSQL keeps a PREPARE and a DEALLOCATE across ROLLBACK, and refuses "
                  f"PREPARE in a failed transaction ({r})")
            d.close()

            # ---- under the open bundle: prepare in every way a client can
            ok, s = raw_login(rg_ep(rg), tok)[:2]
            r = q(s, "PREPARE rd AS SELECT count(*) FROM t")
            check(r[1] is None and r[2] == "I", f"PREPARE runs ({r[1]})")
            check(fine(q(s, "EXECUTE rd")), "EXECUTE returns rows under the open bundle")
            r = q(s, "PREPARE sec AS SELECT * FROM secrets")
            check(r[1] and "t.no-secrets" in r[1].get("M", ""),
                  f"a PREPARE of a denied statement is denied when sent ({r[1]})")
            r = q(s, "PREPARE rd AS SELECT 1")
            check(r[1] and r[1].get("C") == "42P05",
                  f"a PREPARE the server refuses (the name exists) fails as it does ({r[1]})")
            for sql in ["PREPARE \"Mixed\" AS SELECT v FROM t",
                        "PREPARE UPPER_case (int) AS SELECT v FROM t WHERE id = $1",
                        "PREPARE ok1 AS SELECT 1",
                        "PREPARE m1 AS SELECT v FROM t; PREPARE m2 AS SELECT 2",
                        "BEGIN; PREPARE gone AS SELECT v FROM t; COMMIT; DEALLOCATE gone",
                        "PREPARE ctas AS SELECT id FROM t"]:
                r = q(s, sql)
                check(r[1] is None and r[2] == "I", f"{sql}: {r[1]}")
            check(run_script(s, ["BEGIN", "PREPARE rb AS SELECT v FROM t", "ROLLBACK"]) ==
                  [("ok", "T"), ("ok", "T"), ("ok", "I")], "PREPARE in a rolled-back block")
            check([c for c, _ in run_script(s, ["BEGIN", "SELECT 1/0",
                                                "PREPARE ab AS SELECT v FROM t",
                                                "ROLLBACK"])] == ["ok", "22012", "25P02", "ok"],
                  "PREPARE in a failed transaction is refused by the server")
            # JDBC: the PREPARE itself through Parse/Bind/Execute of the unnamed statement
            s.sendall(parse(b"", b"PREPARE jd AS SELECT v FROM t") + bind(b"") + execute() +
                      msg(b"S"))
            seen, err = read_reply(s)
            check(err is None and b"C" in seen, f"PREPARE through the extended protocol ({err})")
            # a statement prepared through the protocol, run by SQL EXECUTE
            s.sendall(parse(b"s_p", b"SELECT count(*) FROM t") + msg(b"S"))
            check(read_reply(s)[1] is None, "Parse of s_p")
            check(fine(q(s, "EXECUTE s_p")), "SQL EXECUTE of a protocol-level statement")
            # past the tracker's bound (1024 statements): refused whole, clearly, not cut off
            r = q(s, "; ".join(f"PREPARE z{i} AS SELECT {i}" for i in range(1025)))
            check(r[1] and r[1].get("C") == "54000" and "DEALLOCATE" in r[1].get("M", "") and
                  r[2] == "I", f"PREPAREs past the bound are refused with 54000 ({r[1]})")
            r = q(s, "EXECUTE z0")
            check(r[1] and r[1].get("C") == "26000", f"...and none of them ran ({r[1]})")
            # sessions that forget
            ok, s2 = raw_login(rg_ep(rg), tok)[:2]
            check(q(s2, "PREPARE a1 AS SELECT v FROM t")[1] is None, "s2: PREPARE a1")
            ok, s3 = raw_login(rg_ep(rg), tok)[:2]
            check(q(s3, "PREPARE a2 AS SELECT v FROM t")[1] is None, "s3: PREPARE a2")
            # a driver
            conn = pgfix.connect(rg, tok)
            conn.autocommit = True
            cur = conn.cursor()
            cur.execute("PREPARE pp (int) AS SELECT v FROM t WHERE id = $1")
            cur.execute("EXECUTE pp (1)")
            check(cur.fetchall() == [("a",)], "psycopg2: EXECUTE under the open bundle")

            # ---- the reload closes t
            reload_to(closed_b)
            check(denied(q(s, "SELECT v FROM t")), "t is closed to new statements")
            for sql, what in [("EXECUTE rd", "EXECUTE"),
                              ("EXPLAIN ANALYZE EXECUTE m1", "EXPLAIN ANALYZE EXECUTE"),
                              ("execute \"Mixed\"", "a quoted name"),
                              ("EXECUTE upper_CASE(1)", "an unquoted name, folded"),
                              ("EXECUTE rb", "a statement prepared in a rolled-back block"),
                              ("EXECUTE jd", "a statement prepared through Parse/Execute"),
                              ("EXECUTE s_p", "a protocol-level statement run by EXECUTE"),
                              ("CREATE TEMP TABLE x AS EXECUTE ctas", "CREATE TABLE AS")]:
                r = q(s, sql)
                check(denied(r) and r[2] == "I",
                      f"after the reload, {what} of a statement reading t is denied "
                      f"with the rule's SQLSTATE ({r[1]})")
            r = q(s, "SELECT 1; EXECUTE rd; SELECT 2")
            check(denied(r), f"an EXECUTE inside a multi-statement Query denies it whole ({r})")
            check(fine(q(s, "EXECUTE m2")) and fine(q(s, "EXECUTE ok1")),
                  "statements the new bundle allows run after being judged again")
            check(fine(q(s, "PREPARE m3 AS SELECT 3; EXECUTE m3")),
                  "a statement prepared in the same string is judged with it")
            r = q(s, "EXECUTE gone")
            check(r[1] and r[1].get("C") == "26000",
                  f"a DEALLOCATEd statement is forgotten: the server answers 26000 ({r[1]})")
            r = q(s, "EXECUTE ab")
            check(r[1] and r[1].get("C") == "26000",
                  f"a PREPARE refused in a failed transaction was never learned ({r[1]})")
            # extended protocol: EXECUTE in a Parse, and a Bind of the SQL-prepared name
            s.sendall(parse(b"", b"EXECUTE rd") + bind(b"") + execute() + msg(b"S"))
            seen, err = read_reply(s)
            check(err and err.get("C") == "42P01" and "t2.no-t" in err.get("M", "") and
                  b"D" not in seen, f"a Parse of EXECUTE is denied ({err})")
            s.sendall(bind(b"rd") + execute() + msg(b"S"))
            seen, err = read_reply(s)
            check(err and err.get("C") == "42P01" and b"D" not in seen,
                  f"a protocol Bind of a SQL-prepared statement is judged again ({err})")
            # transaction semantics as PostgreSQL's own with a failing statement in its place
            script = ["BEGIN", "SELECT 1", "@DENIED@", "SELECT 1", "COMMIT", "SELECT 1"]
            through = run_script(s, [x.replace("@DENIED@", "EXECUTE rd") for x in script])
            d = direct_raw(pg)
            direct = run_script(d, [x.replace("@DENIED@", "SELECT 1/0") for x in script])
            d.close()
            check([st for _, st in through] == [st for _, st in direct] and
                  through[2][0] == "42P01" and through[3][0] == "25P02",
                  f"a denied EXECUTE fails the transaction as PostgreSQL would "
                  f"({through} vs {direct})")
            # replaced under the new bundle: runs
            check(q(s, "DEALLOCATE rd; PREPARE rd AS SELECT 1")[1] is None and
                  fine(q(s, "EXECUTE rd")), "DEALLOCATE and PREPARE again under the new bundle")
            # sessions that forgot
            check(q(s2, "DEALLOCATE ALL")[1] is None, "s2: DEALLOCATE ALL")
            r = q(s2, "EXECUTE a1")
            check(r[1] and r[1].get("C") == "26000", f"DEALLOCATE ALL forgets ({r[1]})")
            check(q(s3, "DISCARD ALL")[1] is None, "s3: DISCARD ALL")
            r = q(s3, "EXECUTE a2")
            check(r[1] and r[1].get("C") == "26000", f"DISCARD ALL forgets ({r[1]})")
            try:
                cur.execute("EXECUTE pp (1)")
                check(False, "psycopg2: EXECUTE after the reload is denied")
            except psycopg2.Error as e:
                check(e.pgcode == "42P01" and "t2.no-t" in str(e),
                      f"psycopg2: EXECUTE after the reload is denied ({e.pgcode})")
            cur.execute("SELECT 1")
            check(cur.fetchall() == [(1,)], "psycopg2: the session goes on")
            check(pgfix.wait_log(rg, "rule=t2.no-t"), "the denials are logged with the rule")

            # ---- back to the open bundle: judged again, allowed again
            reload_to(open_b)
            check(fine(q(s, "EXECUTE \"Mixed\"")) and fine(q(s, "EXECUTE m1")),
                  "a reload back allows them again")
            for x in (s, s2, s3):
                x.sendall(msg(b"X"))
                x.close()
            conn.close()
            probs = rgtest.sanitizer_reports(pgfix.log_text(rg))
            check(not probs and rg.proc.poll() is None, f"ringgate healthy ({probs[:3]})")
            rc = rg.stop()
            check(rc == 0, f"clean exit ({rc})")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
