#!/usr/bin/env python3
"""Inline masking of MySQL result rows (issue #14, docs/mysql.md "Masking").

A real MariaDB 10.11 behind ringgate with rules/baseline + rules/pii + a test pack whose
column rules name this test's table (`*.customers.ssn` static, `*.customers.dob` null):
the same rows read straight from MariaDB show cards, SSNs and emails; read through ringgate
they are masked -- in text-protocol results (PyMySQL), with aliases and expressions, in
multi-statement result sets, in binary-protocol results (mysql2's execute: COM_STMT_PREPARE
and COM_STMT_EXECUTE, its rows decoded by mysql2; MariaDB Connector/J with server-side
prepared statements; cursor rows from COM_STMT_FETCH), in a wide row and a 2 MiB value, and
in a 20000-row result where 1 % of the rows hold an email; a row of 17 MiB passes when
nothing in it matches and ends the session with an ERR when it would need rewriting. Invalid cards, rows without PII and
NULLs pass as they are; no unmasked value reaches the agent; the session stays usable.
The server's error and warning texts echo row values (a duplicate key, an incorrect
integer value): ERR packets are masked by the detector rules with their code and SQLSTATE
kept (PyMySQL and mysql2), SHOW WARNINGS and GET DIAGNOSTICS answer with masked rows,
ringgate's own denials keep their text, and neither the audit trail nor the log holds the
unmasked values.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import mariadb  # noqa: E402
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402
from test_mysql_gateway import Certs, _NoPg, write_secret  # noqa: E402

pymysql = mariadb.require_pymysql()

CARD, BADCARD = "4111 1111 1111 1111", "4111 1111 1111 1112"
SSN, EMAIL, EMAIL2 = "536-22-1234", "ada@example.com", "bob@example.org"
SECRETS = (CARD, SSN, EMAIL, EMAIL2, "1990-01-31")  # (the BIGINT card: no detector)

PACK = """version: 1
pack: mymask
masks:
  - id: mymask.customers-ssn
    description: this test's SSN column, masked whatever it holds
    columns: ["*.customers.ssn"]
    style: static
    text: "***-**-****"
  - id: mymask.customers-dob
    description: this test's date of birth column is dropped
    columns: ["*.customers.dob"]
    style: "null"
rules:
  - id: mymask.no-vault
    description: ringgate's own denial, whose text holds an email (never masked)
    sql:
      tables: [vault]
    action: deny
    message: "the vault is closed; ask dba@example.com"
"""

DENY_MSG = "the vault is closed; ask dba@example.com"
DUP_EMAIL = "carol@example.com"  # a UNIQUE value a duplicate insert echoes

NODE_ERR = r"""
'use strict';
const fs = require('fs');
const mysql = require('mysql2/promise');
(async () => {
  const env = process.env;
  const c = await mysql.createConnection({
    host: '127.0.0.1', port: Number(env.MYSQL_PORT), user: env.MYSQL_USER,
    password: env.MYSQL_PASSWORD, database: env.MYSQL_DATABASE,
    ssl: { ca: fs.readFileSync(env.MYSQL_SSL_CA) },
    authPlugins: { mysql_clear_password: () => () => Buffer.from(env.MYSQL_PASSWORD + '\0') },
  });
  const out = {};
  const err = (e) => ({ errno: e.errno, state: e.sqlState, msg: e.sqlMessage });
  try { await c.query("INSERT INTO accounts (id, email) VALUES (90, '" + env.DUP + "')"); }
  catch (e) { out.query = err(e); }
  try { await c.execute('INSERT INTO accounts (id, email) VALUES (?, ?)', [91, env.DUP]); }
  catch (e) { out.execute = err(e); }
  try { await c.execute('INSERT INTO accounts (id, email, n) VALUES (?, ?, ?)',
                        [92, 'x', 'card 4111 1111 1111 1111']); }
  catch (e) { out.card = err(e); }
  const [rows] = await c.execute('SELECT COUNT(*) AS n FROM accounts');
  out.after = rows[0].n;
  await c.end();
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
"""

NODE = r"""
'use strict';
const fs = require('fs');
const mysql = require('mysql2/promise');
(async () => {
  const env = process.env;
  const c = await mysql.createConnection({
    host: '127.0.0.1', port: Number(env.MYSQL_PORT), user: env.MYSQL_USER,
    password: env.MYSQL_PASSWORD, database: env.MYSQL_DATABASE,
    ssl: { ca: fs.readFileSync(env.MYSQL_SSL_CA) },
    authPlugins: { mysql_clear_password: () => () => Buffer.from(env.MYSQL_PASSWORD + '\0') },
    dateStrings: true,
  });
  const out = {};
  let [rows] = await c.execute(
    'SELECT id, name, email, card, ssn, dob, note, n FROM customers WHERE id > ? ORDER BY id', [0]);
  out.customers = rows;
  [rows] = await c.execute('SELECT CONCAT(?, email) AS e, ssn AS s FROM customers WHERE id = ?',
    ['to: ', 1]);
  out.expr = rows;
  [rows] = await c.execute('SELECT id, v FROM big ORDER BY id');
  out.big_n = rows.length;
  out.big_masked = rows.filter(r => r.v !== 'row ' + r.id).length;
  out.big_leak = rows.filter(r => r.v.includes('@example.com')).length;
  [rows] = await c.execute('SELECT 7 AS seven');
  out.after = rows[0].seven;
  await c.end();
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
"""


JAVA = r"""
import java.sql.*;
import java.util.Properties;

public class MyMaskJdbc {
	public static void main(String[] a) throws Exception {
		String url = "jdbc:mariadb://127.0.0.1:" + System.getenv("MY_PORT") + "/"
			+ System.getenv("MY_DB");
		Properties p = new Properties();
		p.setProperty("user", "shop");
		p.setProperty("password", System.getenv("MY_TOKEN"));
		p.setProperty("useSsl", "true");
		p.setProperty("serverSslCert", System.getenv("MY_CA"));
		p.setProperty("useServerPrepStmts", "true");
		// no SET sql_mode at connect: rules/baseline's lexing guard refuses it
		p.setProperty("jdbcCompliantTruncation", "false");
		try (Connection c = DriverManager.getConnection(url, p)) {
			StringBuilder out = new StringBuilder();
			for (int round = 0; round < 2; round++) {
				try (PreparedStatement ps = c.prepareStatement(
					     "SELECT id, email, card, ssn, dob, n FROM customers WHERE id > ? ORDER BY id")) {
					ps.setInt(1, 0);
					try (ResultSet rs = ps.executeQuery()) {
						while (rs.next())
							out.append(rs.getInt(1)).append('|').append(rs.getString(2)).append('|')
								.append(rs.getString(3)).append('|').append(rs.getString(4))
								.append('|').append(rs.getDate(5)).append('|').append(rs.getLong(6))
								.append('\n');
					}
				}
			}
			System.out.print(out);
		}
	}
}
"""


class Stack:
    def __init__(self):
        self.certs = Certs()
        self.db = mariadb.MariaServer()
        self.db.start()
        self.iss = rgtest.DevIssuer()
        self.dir = tempfile.mkdtemp(prefix="rgtest-mymask-")
        rgtest._register(self)
        pack = os.path.join(self.dir, "pack")
        os.makedirs(pack)
        with open(os.path.join(pack, "mymask.yaml"), "w") as f:
            f.write(PACK)
        self.bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii", pack],
                                            os.path.join(self.dir, "b.rgb"))
        key = rgtest.mask_key(self.dir)
        db = self.db
        targets = [{"name": "shop", "protocol": "mysql", "address": f"{db.host}:{db.port}",
                    "database": db.database, "user": db.native_user,
                    "password_file": write_secret(self.dir, "n", db.native_password),
                    "tls": {"mode": "disable"}}]
        listeners = [{"name": "my", "address": f"127.0.0.1:{rgtest.free_port()}",
                      "protocol": "mysql",
                      "tls": {"cert": self.certs.cert, "key": self.certs.key}}]
        self.trail = os.path.join(self.dir, "trail")
        jdir = os.path.join(self.dir, "journals")
        os.makedirs(jdir)
        akey, _ = rgtest.signing_keypair(self.dir)
        audit = {"key_file": akey, "dir": self.trail, "journal_dir": jdir}
        self.rg = rgtest.Ringgate(_NoPg(), identity=self.iss.identity(),
                                  policy={"bundle": self.bundle, "hmac_key_file": key},
                                  extra={"listeners": listeners, "targets": targets,
                                         "audit": audit})
        self.rg.start()

    def stop(self):
        rgtest._unregister(self)
        for x in (self.rg, self.iss, self.db, self.certs):
            try:
                x.stop()
            except Exception:
                pass

    def connect(self, **kw):
        return pymysql.connect(host="127.0.0.1", port=self.rg.port, user="shop",
                               password=self.iss.token(), ssl={"ca": self.certs.ca},
                               connect_timeout=10, autocommit=True, **kw)


def setup_data(st):
    st.db.sql(f"""
        CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(80),
            card VARCHAR(40), ssn CHAR(11), dob DATE, note TEXT, n BIGINT);
        INSERT INTO customers VALUES
          (1, 'Ada', '{EMAIL}', '{CARD}', '{SSN}', '1990-01-31', 'card {CARD} on file',
           4111111111111111),
          (2, 'Bob', '{EMAIL2}', '{BADCARD}', '666-12-3456', NULL, NULL, 42),
          (3, 'Cy', NULL, NULL, NULL, NULL, 'nothing here', NULL),
          (4, 'Di', 'not an email', 'n/a', '', '2001-02-03', '', 0);
        CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(80));
        INSERT INTO big SELECT seq, IF(seq % 100 = 0, CONCAT('user', seq, '@example.com'),
            CONCAT('row ', seq)) FROM seq_1_to_20000;
        CREATE TABLE accounts (id INT PRIMARY KEY, email VARCHAR(80) UNIQUE, n INT,
            CONSTRAINT n_small CHECK (n < 1000));
        INSERT INTO accounts VALUES (1, '{DUP_EMAIL}', 0);
        CREATE TABLE vault (id INT);
    """, database=st.db.database)


def no_secret(rows, what):
    blob = json.dumps(rows, default=str)
    leaks = [s for s in SECRETS if s in blob]
    check(not leaks, f"{what}: no unmasked value reaches the agent ({leaks})")


def test_text_protocol(st):
    direct = st.db.connect()
    with direct.cursor() as c:
        c.execute("SELECT email, card, ssn, dob FROM customers WHERE id = 1")
        d = c.fetchone()
    direct.close()
    check(d[0] == EMAIL and d[1] == CARD and d[2] == SSN and str(d[3]) == "1990-01-31",
          "read straight from MariaDB the row holds the email, card, SSN and date")
    conn = st.connect()
    with conn.cursor() as c:
        c.execute("SELECT id, name, email, card, ssn, dob, note, n FROM customers ORDER BY id")
        rows = c.fetchall()
    r1, r2, r3, r4 = rows
    check(r1[1] == "Ada" and r1[2] != EMAIL and "@" not in r1[2] and len(r1[2]) > 0,
          f"email masked by its detector (hmac): {r1[2]!r}")
    check(r1[3] != CARD and r1[3].endswith("1111"), f"valid card partially masked: {r1[3]!r}")
    check(r1[4] == "***-**-****", f"ssn column rule (static): {r1[4]!r}")
    check(r1[5] is None, "dob column rule (null): the DATE becomes NULL")
    check(CARD not in r1[6] and r1[6].startswith("card "), f"card inside free text: {r1[6]!r}")
    check(r1[7] == 4111111111111111, "a BIGINT is not a string column: detectors leave it")
    check(r2[3] == BADCARD, "an invalid card (Luhn) passes as it is")
    check(r2[4] == "***-**-****" and r2[5] is None and r2[6] is None,
          "column rule on an invalid SSN; NULLs stay NULL")
    check(r3 == (3, "Cy", None, None, None, None, "nothing here", None),
          f"a row of NULLs and no PII passes untouched: {r3}")
    check(r4[2] == "not an email" and r4[3] == "n/a" and r4[4] == "***-**-****" and
          r4[5] is None, f"row 4: no detector match, column rules apply: {r4}")
    no_secret(rows, "text protocol")
    with conn.cursor() as c:
        c.execute("SELECT email AS e, ssn AS s, CONCAT('<', email, '>') AS x FROM customers "
                  "WHERE id = 1")
        a = c.fetchone()
    check(a[0] == r1[2], "the same email masks to the same value (hmac)")
    check(a[1] == "***-**-****", "an alias keeps the column rule (org_table, org_name)")
    check(a[2].startswith("<") and EMAIL not in a[2], f"an expression: detectors apply: {a[2]}")
    with conn.cursor() as c:
        c.execute("SELECT CAST(email AS BINARY) AS b, ssn AS s FROM customers WHERE id = 1")
        b = c.fetchone()
    check(b == (EMAIL.encode(), "***-**-****"), "a binary string is not text: detectors "
          "leave its bytes (column rules still apply)")
    conn.close()


def test_multi_results_and_wide(st):
    conn = st.connect(client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    with conn.cursor() as c:
        c.execute("SELECT email FROM customers WHERE id = 1; SELECT id, n FROM customers "
                  "WHERE id = 1; SELECT ssn, dob, name FROM customers WHERE id = 2")
        sets = [c.fetchall()]
        while c.nextset():
            sets.append(c.fetchall())
    check(len(sets) == 3, "three result sets")
    check(EMAIL not in sets[0][0][0], "first result: email masked")
    check(sets[1][0] == (1, 4111111111111111), "second result (numbers only) untouched")
    check(sets[2][0] == ("***-**-****", None, "Bob"),
          f"third result: its own column definitions apply: {sets[2][0]}")
    cols = [f"'v{i}' AS c{i}" for i in range(300)]
    cols[250] = f"'{CARD}' AS c250"
    cols[299] = "ssn AS c299"
    with conn.cursor() as c:
        c.execute("SELECT " + ", ".join(cols) + " FROM customers WHERE id = 1")
        w = c.fetchone()
    check(len(w) == 300 and w[0] == "v0" and w[249] == "v249" and w[250].endswith("1111") and
          CARD not in w[250] and w[299] == "***-**-****", "a 300-column row masked in place")
    pad = "x" * (1 << 20)
    with conn.cursor() as c:
        c.execute(f"SELECT CONCAT(REPEAT('x', {1 << 20}), ' {EMAIL} ', REPEAT('x', {1 << 20}))"
                  " AS big, 'tail' AS t")
        b = c.fetchone()
    check(EMAIL not in b[0] and b[0].startswith(pad) and b[0].endswith(pad) and b[1] == "tail",
          "an email inside a 2 MiB value masked (the length prefix rewritten)")
    with conn.cursor() as c:
        c.execute("SELECT id, v FROM big ORDER BY id")
        rows = c.fetchall()
    masked = [r for r in rows if r[1] != f"row {r[0]}"]
    check(len(rows) == 20000 and len(masked) == 200 and
          all(r[0] % 100 == 0 for r in masked) and
          not any("@example.com" in r[1] for r in rows),
          f"20000 rows, the 200 holding an email masked ({len(masked)})")
    conn.ping(reconnect=False)
    conn.close()


def test_binary_protocol(st):
    from test_clients_node import node_modules
    modules = node_modules()
    js = os.path.join(st.dir, "mask_client.js")
    with open(js, "w") as f:
        f.write(NODE)
    env = dict(os.environ, NODE_PATH=modules, MYSQL_PORT=str(st.rg.port), MYSQL_USER="shop",
               MYSQL_PASSWORD=st.iss.token(), MYSQL_DATABASE=st.db.database,
               MYSQL_SSL_CA=st.certs.ca)
    r = subprocess.run(["node", js], env=env, capture_output=True, text=True, timeout=180)
    check(r.returncode == 0, f"mysql2 execute() through ringgate: {r.stderr[-1500:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    rows = {x["id"]: x for x in out["customers"]}
    r1, r2, r3 = rows[1], rows[2], rows[3]
    check(r1["name"] == "Ada" and r1["email"] != EMAIL and "@" not in r1["email"],
          f"binary: email masked (hmac): {r1['email']}")
    check(r1["card"].endswith("1111") and r1["card"] != CARD, "binary: card partially masked")
    check(r1["ssn"] == "***-**-****" and r1["dob"] is None,
          "binary: ssn static, DATE column nulled through the NULL bitmap")
    check(str(r1["n"]) == "4111111111111111", "binary: BIGINT untouched")
    check(r2["card"] == BADCARD and r2["note"] is None, "binary: invalid card and NULL kept")
    check(r3["email"] is None and r3["note"] == "nothing here", "binary: row 3 untouched")
    check(out["expr"][0]["s"] == "***-**-****" and EMAIL not in out["expr"][0]["e"],
          "binary: alias and expression")
    check(out["big_n"] == 20000 and out["big_masked"] == 200 and out["big_leak"] == 0,
          f"binary: 20000 rows, 200 masked ({out['big_masked']})")
    check(out["after"] == 7, "binary: the connection is usable afterwards")
    no_secret(out, "binary protocol")


def test_connector_j(st):
    """MariaDB Connector/J with server-side prepared statements (PREPARE and EXECUTE of the
    last-prepared id, pipelined): binary rows decoded by another client."""
    import shutil
    jar = os.environ.get("RG_MARIADB_JDBC_JAR", "/usr/share/java/mariadb-java-client.jar")
    javac, java = shutil.which("javac"), shutil.which("java")
    if not javac or not java or not os.path.exists(jar):
        print("SKIP test_connector_j: javac/java or libmariadb-java not installed", flush=True)
        return
    d = os.path.join(st.dir, "java")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "MyMaskJdbc.java"), "w") as f:
        f.write(JAVA)
    r = subprocess.run([javac, "-cp", jar, "-d", d, os.path.join(d, "MyMaskJdbc.java")],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"javac: {r.stderr[-800:]}")
    env = dict(os.environ, MY_PORT=str(st.rg.port), MY_DB=st.db.database,
               MY_TOKEN=st.iss.token(), MY_CA=st.certs.ca)
    r = subprocess.run([java, "-cp", jar + os.pathsep + d, "MyMaskJdbc"], env=env,
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"Connector/J through ringgate: {r.stderr[-1500:]}")
    lines = r.stdout.strip().splitlines()
    check(len(lines) == 8, f"two executions of four rows ({len(lines)})")
    one = lines[0].split("|")
    check(one[0] == "1" and one[1] != EMAIL and one[1].startswith("h:") and
          one[2].endswith("1111") and one[2] != CARD and one[3] == "***-**-****" and
          one[4] == "null" and one[5] == "4111111111111111",
          f"Connector/J: email, card, ssn masked, DATE NULL, BIGINT kept: {lines[0]}")
    check(lines[1].split("|")[2] == BADCARD and lines[0:4] == lines[4:8],
          "Connector/J: the invalid card kept; the second execution masks alike")
    no_secret(lines, "Connector/J")


def read_defs(conn, n):
    for _ in range(n):
        conn._read_packet()
    if n and not conn.client_flag & (1 << 24):
        conn._read_packet()  # EOF


def test_cursor_fetch(st):
    """COM_STMT_EXECUTE opening a cursor, then COM_STMT_FETCH: the fetched rows are masked
    with the columns of that statement's EXECUTE (raw packets over PyMySQL)."""
    from pymysql.constants import COMMAND
    conn = st.connect()
    conn._execute_command(COMMAND.COM_STMT_PREPARE,
                          "SELECT id, email, ssn, dob FROM customers ORDER BY id")
    pkt = conn._read_packet().get_all_data()
    check(pkt[0] == 0, "PREPARE answered")
    sid = pkt[1:5]
    read_defs(conn, int.from_bytes(pkt[7:9], "little"))
    read_defs(conn, int.from_bytes(pkt[5:7], "little"))
    conn._execute_command(COMMAND.COM_STMT_EXECUTE, sid + b"\x01" + (1).to_bytes(4, "little"))
    check(conn._read_packet().get_all_data()[0] == 4, "EXECUTE with a cursor: four columns")
    read_defs(conn, 4)
    raw = []
    for _ in range(2):
        conn._execute_command(COMMAND.COM_STMT_FETCH, sid + (2).to_bytes(4, "little"))
        while True:
            p = conn._read_packet()
            if p.is_eof_packet():
                break
            raw.append(p.get_all_data())
    blob = b"".join(raw)
    check(len(raw) == 4 and all(r[0] == 0 for r in raw), f"two FETCHes of two binary rows "
          f"({len(raw)})")
    check(EMAIL.encode() not in blob and EMAIL2.encode() not in blob and
          SSN.encode() not in blob and blob.count(b"***-**-****") == 3,
          "cursor rows masked with the EXECUTE's columns (detectors and column rules)")
    # row 1: bitmap byte 1 has the dob's bit (column 3: bit 5) set by the null rule
    check(raw[0][1] & 0x20, "the DATE nulled through the NULL bitmap in a fetched row")
    conn._execute_command(COMMAND.COM_STMT_CLOSE, sid)
    conn.ping(reconnect=False)
    check(True, "the session is usable after the cursor")
    conn.close()


def test_errors(st):
    """Values the server echoes in ERR packets and warnings (docs/mysql.md, "Errors and
    warnings"): masked by the detector rules, code and SQLSTATE intact, session usable."""
    dup = f"INSERT INTO accounts (id, email) VALUES (2, '{DUP_EMAIL}')"
    card = f"INSERT INTO accounts (id, email, n) VALUES (3, 'x', 'card {CARD}')"
    direct = st.db.connect()
    with direct.cursor() as c:
        c.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES'")
        for sql, want in ((dup, DUP_EMAIL), (card, CARD)):
            try:
                c.execute(sql)
                check(False, f"straight to MariaDB: {sql} fails")
            except pymysql.err.MySQLError as e:
                check(want in e.args[1], f"straight from MariaDB the error echoes the value: "
                      f"{e.args}")
    direct.close()
    conn = st.connect()
    try:
        with conn.cursor() as c:
            c.execute(dup)
        check(False, "the duplicate insert fails through ringgate")
    except pymysql.err.IntegrityError as e:
        check(e.args[0] == 1062 and DUP_EMAIL not in e.args[1] and
              e.args[1].startswith("Duplicate entry 'h:") and
              e.args[1].endswith("' for key 'email'"),
              f"duplicate key: the email masked (hmac), code 1062 kept: {e.args}")
    try:
        with conn.cursor() as c:
            c.execute(card)  # the session's default sql_mode is strict (10.11)
        check(False, "the card in an INT column fails")
    except pymysql.err.MySQLError as e:
        check(e.args[0] == 1366 and CARD not in e.args[1] and "**** **** **** 1111" in e.args[1],
              f"incorrect integer value: the card partially masked, code 1366: {e.args}")
    try:
        with conn.cursor() as c:
            c.execute("INSERT INTO accounts (id, email, n) VALUES (4, 'y', 5000)")
        check(False, "a CHECK constraint violation fails")
    except pymysql.err.MySQLError as e:
        check(e.args[0] == 4025, f"a CHECK error without a value passes as it is: {e.args}")
    with conn.cursor() as c:
        c.execute("SELECT id, email FROM accounts ORDER BY id")
        rows = c.fetchall()
    check(len(rows) == 1 and rows[0][0] == 1, "the session is usable after the errors")
    # warnings: the same texts as rows of SHOW WARNINGS and through GET DIAGNOSTICS
    with conn.cursor() as c:
        c.execute(f"INSERT IGNORE INTO accounts (id, email) VALUES (5, '{DUP_EMAIL}')")
        c.execute("SHOW WARNINGS")
        w = c.fetchall()
    check(len(w) == 1 and w[0][1] == 1062 and DUP_EMAIL not in w[0][2] and
          w[0][2].startswith("Duplicate entry 'h:"),
          f"SHOW WARNINGS: the message column masked as text: {w}")
    # GET DIAGNOSTICS: refused as a statement the classifier cannot read (and CALL of a
    # procedure that would use it by rules/baseline)
    try:
        with conn.cursor() as c:
            c.execute(f"INSERT IGNORE INTO accounts (id, email) VALUES (5, '{DUP_EMAIL}')")
            c.execute("GET DIAGNOSTICS CONDITION 1 @rg_m = MESSAGE_TEXT")
        check(False, "GET DIAGNOSTICS is refused")
    except pymysql.err.MySQLError as e:
        check(e.args[0] == 1142, f"GET DIAGNOSTICS as a statement is refused: {e.args}")
    # ringgate's own denial: its text is the rule's, never masked
    try:
        with conn.cursor() as c:
            c.execute("SELECT * FROM vault")
        check(False, "the vault is denied")
    except pymysql.err.MySQLError as e:
        check(e.args[0] == 1142 and e.args[1].endswith(": " + DENY_MSG),
              f"ringgate's own denial keeps its text (the email in it unmasked): {e.args}")
    conn.ping(reconnect=False)
    conn.close()
    # mysql2: text and binary protocol, errno and SQLSTATE as the client sees them
    from test_clients_node import node_modules
    js = os.path.join(st.dir, "err_client.js")
    with open(js, "w") as f:
        f.write(NODE_ERR)
    env = dict(os.environ, NODE_PATH=node_modules(), MYSQL_PORT=str(st.rg.port),
               MYSQL_USER="shop", MYSQL_PASSWORD=st.iss.token(),
               MYSQL_DATABASE=st.db.database, MYSQL_SSL_CA=st.certs.ca, DUP=DUP_EMAIL)
    r = subprocess.run(["node", js], env=env, capture_output=True, text=True, timeout=180)
    check(r.returncode == 0, f"mysql2 errors through ringgate: {r.stderr[-1500:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for k in ("query", "execute"):
        e = out[k]
        check(e["errno"] == 1062 and e["state"] == "23000" and DUP_EMAIL not in e["msg"] and
              e["msg"].startswith("Duplicate entry 'h:"),
              f"mysql2 {k}: errno 1062, SQLSTATE 23000, the email masked: {e}")
    e = out.get("card") or {}
    check(e.get("errno") == 1366 and e.get("state") == "22007" and CARD not in e["msg"],
          f"mysql2: incorrect integer value masked, 1366 / 22007: {e}")
    check(out["after"] == 1, "mysql2: the session is usable after the errors")
    # what ringgate keeps: the trail has the error's code and SQLSTATE, never its text
    time.sleep(1.5)
    c = subprocess.run([rgtest.ringgatectl_binary(), "audit", "cat", "--dir", st.trail],
                       capture_output=True, text=True, timeout=120)
    check(c.returncode == 0, f"audit cat: {c.stderr}")
    check(DUP_EMAIL not in c.stdout and CARD not in c.stdout and
          "4111111111111111" not in c.stdout, "the audit trail holds no unmasked value")
    recs = [json.loads(x) for x in c.stdout.splitlines() if x.strip()]
    ends = [x for x in recs if x.get("error_code") == 1062]
    check(ends and all(x.get("sqlstate") == "23000" for x in ends),
          f"the duplicate key's stmt_end records its code and SQLSTATE ({len(ends)})")
    log = open(st.rg.logfile).read()
    check(DUP_EMAIL not in log, "the log holds no unmasked value")


def test_huge_rows(st):
    """A row of 16 MiB and more (split into packets): forwarded as it is when nothing in it
    matches; when it would need rewriting the session ends with an ERR (fail closed), never
    the unmasked row. Runs last."""
    st.db.sql("SET GLOBAL max_allowed_packet = 67108864")
    conn = st.connect(max_allowed_packet=64 << 20)
    n = 17 << 20
    with conn.cursor() as c:
        c.execute(f"SELECT REPEAT('a', {n}) AS big, 'x' AS t")
        r = c.fetchone()
    check(len(r[0]) == n and r[1] == "x", "a 17 MiB row without PII passes untouched")
    try:
        with conn.cursor() as c:
            c.execute(f"SELECT CONCAT(REPEAT('a', {n}), ' {EMAIL}') AS big")
            r = c.fetchone()
        check(False, f"a 17 MiB row with an email is refused, not sent ({len(r[0])})")
    except pymysql.err.MySQLError as e:
        check(e.args[0] in (1153, 2013), f"a 17 MiB row with an email: the session ends "
              f"with an ERR ({e.args})")
    log = open(st.rg.logfile).read()
    check("event=mask_failed" in log, "the failure is logged (event=mask_failed)")
    st.db.sql("SET GLOBAL max_allowed_packet = DEFAULT")


def main():
    st = Stack()
    try:
        setup_data(st)
        for t in (test_text_protocol, test_multi_results_and_wide, test_binary_protocol,
                  test_cursor_fetch, test_connector_j, test_errors):
            print(f"--- {t.__name__}", flush=True)
            t(st)
        log = open(st.rg.logfile).read()
        check("event=mask_failed" not in log, "no row failed to mask")
        print("--- test_huge_rows", flush=True)
        test_huge_rows(st)
        log = open(st.rg.logfile).read()
        check(not rgtest.sanitizer_reports(log), "no sanitizer report")
    finally:
        st.stop()


if __name__ == "__main__":
    main()
