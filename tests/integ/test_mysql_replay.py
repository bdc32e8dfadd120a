#!/usr/bin/env python3
"""MySQL session recordings and their replay (issues #12, #14; docs/mysql.md, "Recording
and replay").

A real MariaDB 10.11 behind ringgate (TLS listener, rules/baseline + rules/pii, an audit
trail with record_sessions):
- the mariadb CLI (batch, -t -vvv --force) runs a script: DDL, an INSERT, a SELECT with NULLs,
  a DECIMAL, a DATETIME, UTF-8 and a card number the policy masks, an empty result, a DROP
  the policy denies, a statement the server fails, UPDATEs, a multi-statement COM_QUERY
  (DELIMITER) with two result sets; `ringgatectl replay` prints the session byte for byte as
  the CLI printed it (times normalized; the statements as the audit trail has them, literals
  replaced; errors as the interactive client writes them, without "at line N");
- PyMySQL: COM_STMT_PREPARE / COM_STMT_EXECUTE (binary rows shown in text form) and a
  multi-statement query, and mysql2 (execute(): DECIMAL, DATETIME, DOUBLE, NULL in binary
  rows; query() with two result sets): `replay --json` has the prepared statement, the
  executions' rows and each result set;
- `sessions list --json` lists the sessions with protocol mysql and recorded;
- the recordings hold no unmasked card; a session past record_max_bytes is marked truncated;
  the recordings trail verifies, and an edited byte in it is found by `audit verify`.
"""
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, HERE)
import mariadb  # noqa: E402
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402
from test_mysql_audit import Stack, ctl, prepare_execute, stop_rg  # noqa: E402

pymysql = mariadb.require_pymysql()
CARD = "4111 1111 1111 1111"

SCRIPT = """CREATE TABLE IF NOT EXISTS rp_t (id INT PRIMARY KEY, v VARCHAR(40), n DECIMAL(6,2), d DATETIME);
DELETE FROM rp_t WHERE id > 0;
INSERT INTO rp_t VALUES (1,'alpha',1.5,'2026-01-02 03:04:05'),(2,NULL,-22.25,NULL),(3,'%s',0,NULL),(4,'é unicode',3,NULL);
SELECT * FROM rp_t ORDER BY id;
SELECT * FROM rp_t WHERE id > 10;
DROP TABLE rp_t;
SELECT * FROM no_such_rp_table;
UPDATE rp_t SET v = 'x' WHERE id = 2;
UPDATE rp_t SET v = 'x' WHERE id = 2;
DELIMITER //
SELECT 1 AS a; SELECT 2 AS b, 'xx' AS c //
DELIMITER ;
SELECT id, v IS NULL AS missing, NULL AS nothing FROM rp_t WHERE id < 3 ORDER BY id;
""" % CARD

NODE = r"""
'use strict';
const fs = require('fs');
const mysql = require('mysql2/promise');
(async () => {
  const env = process.env;
  const c = await mysql.createConnection({
    host: '127.0.0.1', port: Number(env.MYSQL_PORT), user: 'shop',
    password: env.MYSQL_PASSWORD, ssl: { ca: fs.readFileSync(env.MYSQL_SSL_CA) },
    authPlugins: { mysql_clear_password: () => () => Buffer.from(env.MYSQL_PASSWORD + '\0') },
    multipleStatements: true, dateStrings: true,
  });
  const [rows] = await c.execute(
    'SELECT id, v, n, d, id / 4 AS q, CAST(? AS DOUBLE) AS x FROM rp_t WHERE id <= ? ORDER BY id',
    [0.5, 2]);
  const [sets] = await c.query('SELECT 1 AS one; SELECT 2 AS two');
  await c.end();
  console.log(JSON.stringify({ n: rows.length, sets: sets.length }));
})().catch((e) => { console.error(e); process.exit(1); });
"""

TIME = re.compile(r" \(\d+\.\d+ sec\)")


def cli(st, tok, script):
    exe = shutil.which("mariadb")
    if not exe:
        rgtest.skip("the mariadb client is not installed")
    env = dict(os.environ, MYSQL_PWD=tok)
    with open(script) as f:
        return subprocess.run([exe, "--no-defaults", "-h127.0.0.1", f"-P{st.rg.port}", "-ushop",
                               f"--ssl-ca={st.certs.ca}", "--default-auth=mysql_clear_password",
                               "-t", "-vvv", "--force"],
                              stdin=f, env=env, capture_output=True, text=True, timeout=120)


def normalize_cli(out):
    """The CLI's output as the replay prints it: no closing Bye, times as 'T'."""
    out = TIME.sub(" (T)", out)
    if out.endswith("Bye\n"):
        out = out[:-4]
    return out


def replay_body(out):
    """The replay without its annotations (lines starting with '-- '), times as 'T'."""
    lines = [x for x in out.splitlines(keepends=True) if not x.startswith("-- ")]
    return TIME.sub(" (T)", "".join(lines))


def sql_lines_out(text):
    """Each statement echo's text replaced by a placeholder (the replay shows the audit
    trail's normalized text, the CLI the text as typed): both kept separately."""
    lines, texts, out, i = text.split("\n"), [], [], 0
    while i < len(lines):
        out.append(lines[i])
        if lines[i] == "--------------" and i + 2 < len(lines) and \
                lines[i + 2] == "--------------":
            texts.append(lines[i + 1])
            out.append("<sql>")
            out.append(lines[i + 2])
            i += 3
            continue
        i += 1
    return "\n".join(out), texts


def main():
    from test_mysql_gateway import Certs
    certs = Certs()
    db = mariadb.MariaServer()
    iss = rgtest.DevIssuer()
    try:
        db.start()
        with tempfile.TemporaryDirectory(prefix="rgtest-myreplay-") as d:
            bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"],
                                           os.path.join(d, "b.rgb"))
            rec = os.path.join(d, "rec")
            st = Stack(d, db, certs, iss, bundle, {"record_sessions": True,
                                                   "recordings_dir": rec})
            try:
                script = os.path.join(d, "script.sql")
                with open(script, "w") as f:
                    f.write(SCRIPT)
                r = cli(st, iss.token(sub="agent-cli"), script)
                seen, errs = r.stdout, r.stderr
                print(seen + errs)
                check(r.returncode == 0 and "ERROR 1146" in errs and "ERROR 1142" in errs,
                      f"the CLI ran the script with its two errors (rc {r.returncode})")
                check("| **** **** **** 1111 |" in seen and "alpha" in seen,
                      "the card is masked on the wire")
                conn = st.connect(iss.token(sub="agent-py"),
                                  client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
                rows = prepare_execute(conn, "SELECT id, v, n, d FROM rp_t WHERE id >= ? "
                                       "ORDER BY id", [1])
                check(rows == 4, f"EXECUTE returned the rows ({rows})")
                with conn.cursor() as c:
                    c.execute("SELECT 'multi-a' AS m; SELECT 'multi-b' AS m UNION "
                              "SELECT 'multi-c'")
                    while c.nextset():
                        pass
                conn.close()
                from test_clients_node import node_modules
                js = os.path.join(d, "replay_client.js")
                with open(js, "w") as f:
                    f.write(NODE)
                env = dict(os.environ, NODE_PATH=node_modules(), MYSQL_PORT=str(st.rg.port),
                           MYSQL_PASSWORD=iss.token(sub="agent-node"),
                           MYSQL_SSL_CA=st.certs.ca)
                r = subprocess.run(["node", js], env=env, capture_output=True, text=True,
                                   timeout=180)
                check(r.returncode == 0 and json.loads(r.stdout.strip().splitlines()[-1]) ==
                      {"n": 2, "sets": 2}, f"mysql2 through ringgate ({r.stderr[-800:]})")
            finally:
                log = stop_rg(st.rg)
            check(not rgtest.sanitizer_reports(log), "no sanitizer report")

            ls = ctl("sessions", "list", "--audit", st.trail, "--json")
            sl = json.loads(ls.stdout) if ls.returncode == 0 else []
            mine = {x.get("sub"): x for x in sl}
            check(all(s in mine and mine[s].get("protocol") == "mysql" and
                      mine[s].get("recorded") for s in ("agent-cli", "agent-py", "agent-node")),
                  f"sessions list: the MySQL sessions, protocol mysql, recorded ({sl})")
            txt = ctl("sessions", "list", "--audit", st.trail)
            check(txt.returncode == 0 and "mysql" in txt.stdout, "the table names the protocol")

            sid = str(mine["agent-cli"]["id"])
            rp = ctl("replay", sid, "--audit", st.trail, "--recordings", rec)
            check(rp.returncode == 0, f"replay ({rp.stderr.strip()})")
            print(rp.stdout)
            # the CLI writes errors to stderr ("at line N": batch mode), the replay in place
            body = replay_body(rp.stdout)
            got_err = [x for x in body.splitlines() if x.startswith("ERROR ")]
            want_err = [re.sub(r" at line \d+:", ":", x) for x in errs.splitlines()
                        if x.startswith("ERROR ")]
            check(got_err == want_err, f"the errors as the client wrote them ({got_err})")
            body = "".join(x for x in body.splitlines(keepends=True)
                           if not x.startswith("ERROR "))
            got, got_sql = sql_lines_out(body)
            want, want_sql = sql_lines_out(normalize_cli(seen))
            check(got == want, "replay shows what the mariadb CLI showed:\n" + "\n".join(
                difflib.unified_diff(want.splitlines(), got.splitlines(), "mariadb",
                                     "replay", lineterm="")).replace(" ", "\u00b7"))
            check(len(got_sql) == len(want_sql) and
                  "SELECT * FROM rp_t ORDER BY id" in got_sql and
                  "DROP TABLE rp_t" in got_sql and CARD not in rp.stdout and
                  not any("alpha" in x for x in got_sql),
                  f"the statements as the audit trail has them, literals replaced ({got_sql})")
            check("-- verdict: deny, rule baseline.no-drop" in rp.stdout,
                  "the denied statement's verdict and rule are annotated")

            js = json.loads(ctl("replay", sid, "--audit", st.trail, "--recordings", rec,
                                "--json").stdout)
            stm = [s for s in js["statements"] if s.get("n")]
            sel = [s for s in stm if s.get("sql") == "SELECT * FROM rp_t ORDER BY id"][0]
            res = sel["results"][0]
            check(js["protocol"] == "mysql" and js["complete"] and not js["truncated"] and
                  res["columns"] == ["id", "v", "n", "d"] and
                  res["rows"][0] == ["1", "alpha", "1.50", "2026-01-02 03:04:05"] and
                  res["rows"][1] == ["2", None, "-22.25", None],
                  f"replay --json: columns, rows, NULL ({json.dumps(res)[:300]})")
            drop = [s for s in stm if (s.get("sql") or "").startswith("DROP")][0]
            check(drop["verdict"] == "deny" and drop["errors"][0]["code"] == 1142 and
                  drop["errors"][0]["sqlstate"] == "42000", f"the denial's ERR ({drop})")
            multi = [s for s in stm if len(s["results"]) == 2]
            check(multi and [r["rows"] for r in multi[0]["results"]] == [[["1"]], [["2", "xx"]]],
                  f"a multi-statement COM_QUERY: both result sets ({multi})")
            upd = [s for s in stm if (s.get("sql") or "").startswith("UPDATE")]
            check(len(upd) == 2 and upd[0]["results"][0]["affected_rows"] == 1 and
                  upd[1]["results"][0]["affected_rows"] == 0 and
                  "Rows matched: 1" in upd[0]["results"][0].get("info", ""),
                  f"OK packets: affected rows and info ({upd})")

            pid = str(mine["agent-py"]["id"])
            jp = json.loads(ctl("replay", pid, "--audit", st.trail, "--recordings", rec,
                                "--json").stdout)
            ps = [s for s in jp["statements"] if s.get("n")]
            prep = [s for s in ps if s.get("kind") == "prepare"]
            exe = [s for s in ps if s.get("kind") == "execute"]
            check(prep and prep[0]["results"][0]["prepared"]["params"] == 1 and
                  prep[0]["results"][0]["prepared"]["columns"] == 4,
                  f"the PREPARE: its parameters and columns ({prep})")
            er = exe and exe[0]["results"][0]
            check(er and er["columns"] == ["id", "v", "n", "d"] and len(er["rows"]) == 4 and
                  er["rows"][0] == ["1", "alpha", "1.50", "2026-01-02 03:04:05"] and
                  er["rows"][1] == ["2", "x", "-22.25", None] and CARD not in json.dumps(er),
                  f"the EXECUTE's binary rows in text form, masked ({er})")
            mq = [s for s in ps if "multi-a" in (s.get("sql") or "") or
                  len(s["results"]) == 2 and s.get("kind") == "query"]
            check(mq and [r["rows"] for r in mq[-1]["results"]] ==
                  [[["multi-a"]], [["multi-b"], ["multi-c"]]],
                  f"PyMySQL's multi-statement query: each result set ({mq})")
            # mysql2: execute() prepares and executes (binary rows), query() multi-results
            nid = str(mine["agent-node"]["id"])
            jn = json.loads(ctl("replay", nid, "--audit", st.trail, "--recordings", rec,
                                "--json").stdout)
            ns = [s for s in jn["statements"] if s.get("n")]
            nx = [s for s in ns if s.get("kind") == "execute"]
            nr = nx and nx[0]["results"][0]
            check(nr and nr["columns"] == ["id", "v", "n", "d", "q", "x"] and
                  nr["rows"] == [["1", "alpha", "1.50", "2026-01-02 03:04:05", "0.2500", "0.5"],
                                 ["2", "x", "-22.25", None, "0.5000", "0.5"]],
                  f"mysql2's EXECUTE: binary rows as text (DECIMAL, DATETIME, DOUBLE, NULL) "
                  f"({nr})")
            nm = [s for s in ns if len(s["results"]) == 2]
            check(nm and [r["columns"] for r in nm[0]["results"]] == [["one"], ["two"]],
                  f"mysql2's multi-statement query: two result sets ({nm})")
            tn = ctl("replay", nid, "--audit", st.trail, "--recordings", rec)
            check(tn.returncode == 0 and "-- execute (COM_STMT_EXECUTE)" in tn.stdout and
                  "2 rows in set" in tn.stdout, f"mysql2's session prints ({tn.stdout[-600:]})")
            tp = ctl("replay", pid, "--audit", st.trail, "--recordings", rec)
            print(tp.stdout)
            check(tp.returncode == 0 and "Statement prepared: 1 parameter, 4 columns" in
                  tp.stdout and "4 rows in set" in tp.stdout,
                  "the prepared statement replays sensibly")

            raw = b"".join(open(os.path.join(rec, f), "rb").read() for f in os.listdir(rec)
                           if f.endswith(".seg"))
            check(CARD.encode() not in raw, "the recordings hold no unmasked card")
            v = ctl("audit", "verify", "--dir", rec, "--key", st.pub)
            check(v.returncode == 0, f"the recordings trail verifies ({v.stdout.strip()})")
            # tamper: one byte of a recorded chunk changed
            bad = os.path.join(d, "rec-bad")
            shutil.copytree(rec, bad)
            seg = sorted(f for f in os.listdir(bad) if f.endswith(".seg"))[0]
            with open(os.path.join(bad, seg), "r+b") as f:
                data = bytearray(f.read())
                at = len(data) // 2
                data[at] ^= 0x01
                f.seek(0)
                f.write(data)
            v = ctl("audit", "verify", "--dir", bad, "--key", st.pub)
            check(v.returncode not in (0, 3) and seg in v.stdout + v.stderr,
                  f"an edited byte of the recordings is found ({v.stdout.strip()})")

            # past record_max_bytes: truncated, and said
            os.makedirs(os.path.join(d, "big"))
            st2 = Stack(os.path.join(d, "big"), db, certs, iss, bundle,
                        {"record_sessions": True, "recordings_dir": rec,
                         "record_max_bytes": 4096}, trail=st.trail)
            try:
                conn = st2.connect(iss.token(sub="agent-big"))
                with conn.cursor() as c:
                    c.execute("SELECT seq, REPEAT('x', 100) FROM seq_1_to_500")
                    check(len(c.fetchall()) == 500, "the big result reached the agent")
                conn.close()
            finally:
                log = stop_rg(st2.rg)
            check(not rgtest.sanitizer_reports(log), "no sanitizer report")
            sl = json.loads(ctl("sessions", "list", "--audit", st.trail, "--json").stdout)
            big = [x for x in sl if x.get("sub") == "agent-big"][0]
            jb = json.loads(ctl("replay", str(big["id"]), "--audit", st.trail,
                                "--recordings", rec, "--json").stdout)
            tb = ctl("replay", str(big["id"]), "--audit", st.trail, "--recordings", rec)
            check(jb["truncated"] and "the recording stops here" in tb.stdout,
                  "past record_max_bytes: truncated, and said")
    finally:
        for x in (iss, db, certs):
            try:
                x.stop()
            except Exception:
                pass
    print("ok")


if __name__ == "__main__":
    main()
