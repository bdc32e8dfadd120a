#!/usr/bin/env python3
"""The MySQL classifier reads what MariaDB executes (issue #14; docs/security.md).

Differential test against a real MariaDB 10.11: the same bytes are judged by ringgate's
MySQL classifier (rg_myclass_check, engine/policy/mysqlclass.c) and executed by the server
as one COM_QUERY with multi-statements on, under the same sql_mode. What the server really
ran is read back from side effects: rows inserted into a log table (a hidden INSERT, as a
hidden DROP would be), or the number of columns a SELECT returned (an executable comment's
hidden SLEEP(0) column).

For every payload: if the server ran the hidden statement, the classifier must have
reported it (an INSERT writing `lg`, or the function `sleep`) or refused the whole string as
unparseable. Where the payload is marked exact, the classifier must also not report what
the server did not run (no over-reporting), so the test pins executable-comment versions,
comment forms and quoting to the server's behaviour, not only to safety.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import rgtest  # noqa: E402
import mariafix  # noqa: E402

AQ, NB = 1, 2
MODES = {0: "", AQ: "ANSI_QUOTES", NB: "NO_BACKSLASH_ESCAPES",
         AQ | NB: "ANSI_QUOTES,NO_BACKSLASH_ESCAPES"}
INS = b"INSERT INTO lg VALUES (1)"

# (sql, modes, probe, exact): probe "log" counts rows the string inserted into lg, "cols"
# looks for a SLEEP(0) column in its first result set.
CASES = [
    # multi-statements and comments
    (b"SELECT 1; " + INS, 0, "log", True),
    (b"SELECT 1 -- x\n; " + INS, 0, "log", True),
    (b"SELECT 1 -- ; " + INS, 0, "log", True),
    (b"SELECT 1 --1; " + INS, 0, "log", True),
    (b"SELECT 1 --\t; " + INS, 0, "log", True),
    (b"SELECT 1 --\x01; " + INS, 0, "log", True),
    (b"SELECT 1 --\x7f; " + INS, 0, "log", True),
    (b"SELECT 1 # ; " + INS, 0, "log", True),
    (b"SELECT 1 # x\n; " + INS, 0, "log", True),
    (b"SELECT 1 /* ; */ ; " + INS, 0, "log", True),
    (b"/* x /* y */ " + INS, 0, "log", True),
    # executable and versioned comments (10.11: MySQL's 50700..99999 never run)
    (b"/*!" + INS + b" */", 0, "log", True),
    (b"/*!50699 " + INS + b" */", 0, "log", True),
    (b"/*!50700 " + INS + b" */ SELECT 1", 0, "log", True),
    (b"/*!80000 " + INS + b" */ SELECT 1", 0, "log", True),
    (b"/*!99999 " + INS + b" */ SELECT 1", 0, "log", True),
    (b"/*!100000 " + INS + b" */", 0, "log", True),
    (b"/*!101100 " + INS + b" */", 0, "log", True),
    (b"/*!109999 " + INS + b" */ SELECT 1", 0, "log", True),
    (b"/*M!50700 " + INS + b" */", 0, "log", True),
    (b"/*M!" + INS + b" */", 0, "log", True),
    (b"/*M!999999 " + INS + b" */ SELECT 1", 0, "log", True),
    (b"/*!99999 /* nested */ " + INS + b" */ SELECT 1", 0, "log", True),
    (b"/*!99999 ; */ " + INS, 0, "log", True),
    (b"SELECT 1 /*!*/; " + INS, 0, "log", True),
    (b"SELECT 1 /*! # */\n, 2 */; " + INS, 0, "log", True),
    (b"SELECT 1 /*!50000 ; " + INS + b"; */", 0, "log", False),
    (b"SELECT 1 /*!50000 ; " + INS + b" */", 0, "log", False),
    (b"SELECT 1 /*!50000 , SLEEP(0) */", 0, "cols", True),
    (b"SELECT 1 /*!50000 , '*/' , SLEEP(0) */", 0, "cols", True),
    (b"SELECT 1 /*!50000 , 2 -- */\n, SLEEP(0) */", 0, "cols", True),
    (b"SELECT '/*!50000', SLEEP(0) /* '*/", 0, "cols", True),
    (b"SELECT 1 /*!50000 AS \"*/\" */ , SLEEP(0)", AQ, "cols", True),
    (b"SELECT 1 /*!50700 , SLEEP(0) */", 0, "cols", True),
    (b"SELECT 1 /*M!50700 , SLEEP(0) */", 0, "cols", True),
    (b"SELECT 1 /*!99999 , SLEEP(0) */", 0, "cols", True),
    (b"SELECT 1 /*M! , SLEEP(0) */", 0, "cols", True),
    # strings, escapes, quoting, sql_mode
    (b"SELECT 'a\\'; " + INS + b"; -- '", 0, "log", True),
    (b"SELECT 'a\\'; " + INS + b"; -- '", NB, "log", True),
    (b"SELECT 'a''\\'; " + INS + b"; -- '", NB | AQ, "log", True),
    (b"SELECT \"a\\\"; " + INS + b"; -- \"", NB, "log", True),
    (b"SELECT 1 --\r; " + INS, 0, "log", True),
    (b"SELECT '#'; " + INS, 0, "log", True),
    (b"SELECT '--'; " + INS, 0, "log", True),
    (b"SELECT 'a\\\\'; " + INS, 0, "log", True),
    (b"SELECT \"a\\\"; " + INS + b"; -- \"", 0, "log", True),
    (b"SELECT 1 AS \"a\\\"; " + INS + b"; -- \"", AQ, "log", True),
    (b"SELECT 1 AS \"a\\\"; " + INS + b"; -- \"", 0, "log", True),
    (b"SELECT @\"a\\\"; " + INS + b"; -- \"", AQ, "log", True),
    (b"SELECT 'it''s; " + INS + b"'", 0, "log", True),
    (b"SELECT 1 AS `a``; " + INS + b"; -- `", 0, "log", True),
    (b"SELECT _binary'a\\'; " + INS + b"; -- '", 0, "log", True),
    (b"SELECT N'a\\'; " + INS + b"; -- '", 0, "log", True),
    (b"SELECT _latin1 'a\\'; " + INS + b"; -- '", NB, "log", True),
    (b"SELECT X'41'; " + INS, 0, "log", True),
    (b"SELECT 0x41, 0b1, b'1', 1e5, .5; " + INS, 0, "log", True),
    (b"SELECT @v, @'x;', @`y;`; " + INS, 0, "log", True),
    # SET lists mix NAMES with assignments (the grammar accepts both orders)
    (b"SET NAMES utf8mb4, @x = 1; " + INS, 0, "log", True),
    (b"SET @x = 1, NAMES utf8mb4; " + INS, 0, "log", True),
    # dynamic SQL
    (b"PREPARE s FROM '" + INS + b"'; EXECUTE s", 0, "log", True),
    (b"EXECUTE IMMEDIATE '" + INS + b"'", 0, "log", True),
    (b"SET @q = '" + INS + b"'; PREPARE s FROM @q; EXECUTE s", 0, "log", False),
    # a routine's body runs at CALL: its statement is reported with the CREATE
    (b"CREATE PROCEDURE p() " + INS + b"; CALL p()", 0, "log", True),
    (b"CREATE FUNCTION f() RETURNS INT MODIFIES SQL DATA BEGIN " + INS + b"; RETURN 1; END; "
     b"SELECT f()", 0, "log", False),
    # what the server refuses must not be reported as a harmless read either
    (b"SELECT 1 \\; " + INS, 0, "log", False),
    (b"SELECT 1\x00; " + INS, 0, "log", False),
    (b"SELECT X'4'; " + INS, 0, "log", False),
]


def classify(tool, version, modes, sql):
    r = subprocess.run([tool, str(version), str(modes)], input=sql, capture_output=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"rg_myclass_check failed: {r.stderr!r}")
    return json.loads(r.stdout)


def classifier_says(facts, probe):
    """True: reports the hidden statement; False: does not; None: refused (unparseable)."""
    if facts["status"] != 0:
        return None
    if probe == "log":
        return "insert" in facts["ops"] and any(
            t[1] == "lg" and t[2] & 2 for t in facts["tables"])
    return "sleep" in facts["functions"]


def run_on_server(srv, modes, sql, probe):
    """What the server ran: True/False, and the error it raised, if any."""
    conn = srv.connect(database="rgdiff")
    err = None
    cols = None
    try:
        with conn.cursor() as cur:
            cur.execute("TRUNCATE TABLE rgdiff.lg")
            cur.execute(f"SET SESSION sql_mode = '{MODES[modes]}'")
            try:
                cur.execute(sql.decode("utf-8", "surrogateescape"))
                cols = [d[0] for d in cur.description or ()]
                while cur.nextset():
                    pass
            except Exception as e:  # the server may refuse part of the string
                err = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    conn = srv.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM rgdiff.lg")
            rows = cur.fetchone()[0]
    finally:
        conn.close()
    if probe == "log":
        return rows > 0, err
    return any("sleep" in (c or "").lower() for c in cols or ()), err


def main():
    mariafix.require_pymysql()
    tool = os.path.join(rgtest.RG_BUILD, "tests", "integ", "rg_myclass_check")
    if not os.path.exists(tool):
        rgtest.skip(f"{tool} not built")
    with mariafix.MariaServer() as srv:
        conn = srv.connect()
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE rgdiff")
            cur.execute("CREATE TABLE rgdiff.lg (a INT)")
            cur.execute("SELECT VERSION()")
            ver = cur.fetchone()[0]
        conn.close()
        major, minor, patch = (int(x) for x in ver.split("-")[0].split(".")[:3])
        version = major * 10000 + minor * 100 + patch
        rgtest.log(f"MariaDB {ver} (versioned comments up to {version})")
        failures = []
        for sql, modes, probe, exact in CASES:
            # qualified, as a rule would see it (the session's database is rgdiff too)
            sql = sql.replace(b"INTO lg", b"INTO rgdiff.lg")
            facts = classify(tool, version, modes, sql)
            says = classifier_says(facts, probe)
            ran, err = run_on_server(srv, modes, sql, probe)
            line = (f"{sql!r} mode={MODES[modes] or '-'}: server ran={ran}"
                    f"{' (' + err + ')' if err else ''}; classifier="
                    f"{'unparseable' if says is None else says}")
            rgtest.log(line)
            if ran and says is False:
                failures.append("HIDDEN FROM THE CLASSIFIER: " + line)
            elif exact and says is not None and says != ran:
                failures.append("disagrees with the server: " + line)
            elif exact and says is None:
                failures.append("refused what the server reads plainly: " + line)
        if failures:
            for f in failures:
                print(f, file=sys.stderr)
            sys.exit(1)
        rgtest.log(f"{len(CASES)} payloads: classifier and server agree")


if __name__ == "__main__":
    main()
