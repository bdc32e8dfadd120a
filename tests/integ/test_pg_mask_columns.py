#!/usr/bin/env python3
"""Column mask rules on live sessions (issue #10; docs/pg.md "Column origins").

rules/pii masks public.customers.ssn (static text) and drops public.customers.date_of_birth
(null) whatever they hold. A RowDescription names a column's origin only as (table OID,
attribute number): ringgate reads the target's catalog through its own internal listener to
know which columns those are. Against a real PostgreSQL 15, with values no detector matches
(666-12-3456 is not a valid SSN), so only a resolved column origin can mask them:
- psql, psycopg2 and the raw extended protocol (text and binary, rows of an earlier
  Describe) see them masked; an alias keeps its origin; archive.customers.ssn and other
  tables are left alone; NULL stays NULL;
- the first result waits for the catalog read with its rows held, and a 2 MB result (past
  the hold bound that stops reading the target) arrives whole and in order;
- a table dropped and created again around the gateway (new OID) is resolved on the miss;
- a rename through the gateway (ALTER TABLE ... RENAME, same OID) is seen at once, one
  made around it by the next background read (policy.catalog_refresh);
- a fast-path call's result (FunctionCallResponse) the detectors match comes back NULL;
- when the catalog cannot be read, a result that may need a column mask is not relayed: the
  session ends with 58000 (fail closed), and the catalog session never shows up as an agent.
"""
import os
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
from test_clients_bad_input import raw_login, msg, read_msg  # noqa: E402
from test_pg_mask import parse, bind, rows_of  # noqa: E402

BADSSN = "666-12-3456"  # not a valid SSN: the us_ssn detector leaves it alone
DOB = "1990-01-31"
STATIC = "***-**-****"


def q(rg, tok, sql, check_rc=True):
    return rgtest.run_psql(sql, rg.env("agent-1", tok), check=check_rc)


def main():
    with rgtest.PgServer() as pg:
        pg.psql("CREATE TABLE customers (id int PRIMARY KEY, name text, ssn text, "
                "date_of_birth date, note text); "
                f"INSERT INTO customers VALUES (1, 'Ada', '{BADSSN}', '{DOB}', 'n1'), "
                "(2, 'Bob', NULL, NULL, 'n2'); "
                "CREATE SCHEMA archive; "
                f"CREATE TABLE archive.customers (id int, ssn text); "
                f"INSERT INTO archive.customers VALUES (1, '{BADSSN}'); "
                "CREATE FUNCTION public.card_of(int) RETURNS text LANGUAGE sql "
                "AS $$SELECT '4111 1111 1111 1111'$$; "
                "CREATE FUNCTION public.plain_of(int) RETURNS text LANGUAGE sql "
                "AS $$SELECT 'plain ' || $1$$; "
                f"CREATE TABLE staging (id int, ssn text); "
                f"INSERT INTO staging VALUES (7, '{BADSSN}')")
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rgtest-maskcol-") as d:
            key = rgtest.mask_key(d)
            bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"],
                                           os.path.join(d, "b.rgb"))
            rg = pgfix.start(pg, iss, policy={"bundle": bundle, "hmac_key_file": key,
                                              "catalog_refresh": "2s"})
            tok = iss.token()
            direct = pg.psql("SELECT ssn, date_of_birth FROM customers WHERE id = 1").stdout
            check(BADSSN in direct and DOB in direct, "straight from PostgreSQL: the values")

            # the first result waits for the catalog read; its rows come whole and masked
            out = q(rg, tok, "SELECT id, name, ssn, date_of_birth, note FROM customers "
                    "ORDER BY id").stdout
            check(out.splitlines() == [f"1|Ada|{STATIC}||n1", "2|Bob|||n2"],
                  f"psql: ssn masked by its column, date_of_birth dropped, NULLs stay "
                  f"({out!r})")
            check(pgfix.wait_log(rg, "event=catalog_read target="),
                  "the catalog was read (logged)")
            out = q(rg, tok, "SELECT ssn AS x, c.date_of_birth AS y FROM customers c "
                    "WHERE id = 1").stdout.strip()
            check(out == f"{STATIC}|", f"an alias keeps the column's origin ({out!r})")
            out = q(rg, tok, "SELECT ssn FROM archive.customers").stdout.strip()
            check(out == BADSSN, f"archive.customers.ssn is another column ({out!r})")
            out = q(rg, tok, "SELECT ssn FROM staging").stdout.strip()
            check(out == BADSSN, f"staging.ssn is not named by any rule ({out!r})")

            # psycopg2 (extended protocol with parameters)
            conn = pgfix.connect(rg, tok)
            cur = conn.cursor()
            cur.execute("SELECT name, ssn, date_of_birth FROM customers WHERE id = %s", (1,))
            row = cur.fetchone()
            check(row == ("Ada", STATIC, None), f"psycopg2: masked ({row})")
            conn.close()

            # raw extended protocol: rows of an earlier Describe, text and binary formats
            ok, s = raw_login(rgtest.Endpoint(rg.host, rg.port, "agent-1", None,
                                              rg.config["targets"][0]["name"]), tok)[:2]
            check(ok, "raw login")
            s.sendall(parse(b"c1", b"SELECT ssn, date_of_birth, id FROM customers "
                            b"WHERE id = 1") + msg(b"D", b"Sc1\0") + msg(b"S"))
            rows_of(s)
            for fmt, what in ((0, "text"), (1, "binary")):
                s.sendall(bind(b"c1", (fmt,)) + msg(b"E", b"\0" + struct.pack("!i", 0)) +
                          msg(b"S"))
                types, rows = rows_of(s)
                check(b"T" not in types and len(rows) == 1, f"{what}: rows without a "
                      f"RowDescription ({types})")
                ssn, dob, i = rows[0]
                check(ssn == STATIC.encode() and dob is None,
                      f"{what}: ssn masked, date_of_birth NULL ({rows[0]})")
                check(i == (b"1" if fmt == 0 else struct.pack("!i", 1)),
                      f"{what}: the id is intact ({i!r})")
            # FunctionCallResponse: a value the detectors match becomes NULL
            for fn, arg, want in (("card_of", b"1", None), ("plain_of", b"5", b"plain 5")):
                oid = int(pg.psql(f"SELECT 'public.{fn}(int)'::regprocedure::oid")
                          .stdout.strip())
                s.sendall(msg(b"F", struct.pack("!IhhI", oid, 0, 1, len(arg)) + arg +
                              struct.pack("!h", 0)))
                types, val = [], "unset"
                while True:
                    t, body = read_msg(s)
                    types.append(t)
                    if t == b"V":
                        (n,) = struct.unpack("!i", body[:4])
                        val = None if n < 0 else body[4:4 + n]
                    if t == b"Z":
                        break
                check(b"E" not in types and val == want,
                      f"FunctionCall {fn}: result {val!r} ({types})")
            s.close()

            # a 2 MB first result for a table nobody read yet: held whole, in order
            pg.psql("CREATE TABLE public.customers_big (LIKE customers); "
                    "INSERT INTO customers_big SELECT g, 'n' || g, "
                    f"'{BADSSN}', NULL, repeat('x', 100) FROM generate_series(1, 20000) g")
            out = q(rg, tok, "SELECT id, ssn FROM customers_big ORDER BY id").stdout
            lines = out.splitlines()
            check(len(lines) == 20000 and lines[0] == f"1|{BADSSN}" and
                  lines[-1] == f"20000|{BADSSN}" and
                  all(ln.startswith(f"{i + 1}|") for i, ln in enumerate(lines)),
                  f"a result held past the bound comes whole and in order ({len(lines)})")

            # dropped and created again around the gateway: a new OID, resolved on the miss
            pg.psql("DROP TABLE customers; CREATE TABLE customers (ssn text, id int); "
                    f"INSERT INTO customers VALUES ('{BADSSN}', 3)")
            out = q(rg, tok, "SELECT id, ssn FROM customers").stdout.strip()
            check(out == f"3|{STATIC}", f"a recreated table is masked at once ({out!r})")

            # a rename through the gateway keeps the OID: seen as soon as it commits
            q(rg, tok, "ALTER TABLE customers RENAME TO customers_old")
            q(rg, tok, "ALTER TABLE staging RENAME TO customers")
            out = q(rg, tok, "SELECT ssn FROM customers").stdout.strip()
            check(out == STATIC, f"a rename through ringgate is seen at once ({out!r})")
            # inside the renaming transaction the catalog still shows the committed names:
            # a column keeps the origin it had (its OID did not change)
            out = q(rg, tok, "BEGIN; ALTER TABLE customers RENAME TO tmp_c; "
                    "SELECT ssn FROM tmp_c; ROLLBACK").stdout
            check(STATIC in out and BADSSN not in out,
                  f"an uncommitted rename keeps the committed origin ({out!r})")
            out = q(rg, tok, "SELECT ssn FROM customers_old").stdout.strip()
            check(out == BADSSN, f"the renamed-away table is no longer named ({out!r})")

            # a rename around the gateway: the next background read (catalog_refresh 2s)
            pg.psql("ALTER TABLE customers RENAME TO staging; "
                    "ALTER TABLE customers_old RENAME TO customers")
            time.sleep(4.5)
            out = q(rg, tok, "SELECT ssn FROM customers").stdout.strip()
            check(out == STATIC, f"a rename around ringgate: after the refresh ({out!r})")
            out = q(rg, tok, "SELECT ssn FROM staging").stdout.strip()
            check(out == BADSSN, f"... and the other table is plain again ({out!r})")

            # the internal listener: loopback, its secret only; a valid token is refused too
            ports = set()
            for ln in subprocess.run(["ss", "-Hltnp"], capture_output=True,
                                     text=True).stdout.splitlines():
                if f"pid={rg.proc.pid}," in ln:
                    ports.add(int(ln.split()[3].rsplit(":", 1)[1]))
                    check(ln.split()[3].startswith("127.0.0.1:"), f"loopback only ({ln})")
            ports.discard(rg.port)
            ports.discard(rg.admin_port)  # the admin listener (docs/admin.md)
            check(len(ports) == 1, f"one internal listener besides the agents' and the "
                  f"admin listener ({ports})")
            psycopg2 = rgtest.require_psycopg2()
            for pw, what in ((tok, "an agent's valid token"), ("0" * 64, "a guessed secret")):
                try:
                    psycopg2.connect(host="127.0.0.1", port=next(iter(ports)), user=pg.user,
                                     dbname=rg.config["targets"][0]["name"], password=pw,
                                     sslmode="disable", connect_timeout=10).close()
                    check(False, f"internal listener accepted {what}")
                except psycopg2.OperationalError as e:
                    check("authentication failed" in str(e),
                          f"internal listener refuses {what} ({str(e).strip()})")

            log = pgfix.log_text(rg)
            check("sub=ringgate-catalog" in log, "the catalog's own session is logged")
            check(not [ln for ln in log.splitlines()
                       if "sub=ringgate-catalog" in ln and "event=stmt_" in ln],
                  "the catalog's query is not judged")

            # the catalog cannot be read: fail closed
            pg.admin_psql("REVOKE SELECT ON pg_catalog.pg_attribute FROM PUBLIC",
                          database=pg.database)
            pg.psql("DROP TABLE customers; CREATE TABLE customers (ssn text); "
                    f"INSERT INTO customers VALUES ('{BADSSN}')")
            r = q(rg, tok, "SELECT ssn FROM customers", check_rc=False)
            check(r.returncode != 0 and BADSSN not in r.stdout and
                  "could not read the target's catalog" in r.stderr,
                  f"unreadable catalog: the result is not relayed ({r.stdout!r} {r.stderr!r})")
            check(pgfix.wait_log(rg, "event=catalog_read_failed"), "the failure is logged")
            pg.admin_psql("GRANT SELECT ON pg_catalog.pg_attribute TO PUBLIC",
                          database=pg.database)
            out = q(rg, tok, "SELECT ssn FROM customers").stdout.strip()
            check(out == STATIC, f"readable again: masked ({out!r})")
            rg.stop()
    print("ok")


if __name__ == "__main__":
    main()
