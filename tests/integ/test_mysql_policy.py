#!/usr/bin/env python3
"""The policy bundle on live MySQL sessions (issue #14, "Policy on MySQL"): a real MariaDB
10.11 behind ringgate with rules/baseline + rules/pii, PyMySQL (text protocol) and mysql2
(npm, server-side prepared statements) as agents.

- Every `protocol: mysql` inline test of rules/baseline goes through the live gateway as a
  COM_STMT_PREPARE (judged, never executed) under the sql_mode the test names, which the
  server's global sql_mode gives the new session (ringgate reads it after login: the
  probe); those expected to be denied also as a COM_QUERY. A denial is ringgate's ERR (1142,
  42000, naming the rule) and nothing reaches the server; an allowed one may still be
  refused by the server for its own reasons.
- A denied statement leaves the session usable and in the state MySQL would leave it (an
  open transaction stays open; nothing of a denied multi-statement ran).
- SET sql_mode / SET NAMES to an unsafe character set are refused whatever the rules say
  (the lexing guard), so the classifier keeps reading what the server executes.
- A server whose sql_mode the classifier cannot follow (ORACLE) ends the login cleanly.
- SIGHUP with another bundle: a prepared statement is judged again at its next EXECUTE.
"""
import os
import signal
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
from test_clients_node import node_modules  # noqa: E402

pymysql = mariadb.require_pymysql()
try:
    import yaml
except ImportError:
    rgtest.skip("python3-yaml is not installed (tools/deps installs it)")

PACKS = ["rules/baseline", "rules/pii"]


def mysql_tests():
    """(rule id, sql, expect, sql_mode) of the plain MySQL sql tests of rules/baseline."""
    out = []
    root = os.path.join(rgtest.RG_SRC, "rules/baseline")
    for dirpath, _, files in os.walk(root):
        for fn in sorted(files):
            if not fn.endswith((".yaml", ".yml")):
                continue
            with open(os.path.join(dirpath, fn)) as f:
                doc = yaml.safe_load(f)
            for rule in doc.get("rules") or []:
                for t in rule.get("tests") or []:
                    if t.get("protocol") != "mysql" or "sql" not in t:
                        continue
                    if set(t) - {"sql", "expect", "rule", "protocol", "sql_mode"}:
                        continue
                    if t.get("expect") in ("deny", "allow"):
                        out.append((rule["id"], t["sql"], t["expect"], t.get("sql_mode", "")))
    return out


def is_denial(e):
    return (isinstance(e, pymysql.err.MySQLError) and len(e.args) >= 2 and e.args[0] == 1142
            and str(e.args[1]).startswith(("denied by policy rule", "statement requires approval")))


def prepare(conn, sql):
    """COM_STMT_PREPARE over PyMySQL's connection (raw packets): None if the target prepared
    it (then closed again), the error otherwise."""
    from pymysql.constants import COMMAND
    conn._execute_command(COMMAND.COM_STMT_PREPARE, sql)
    try:
        pkt = conn._read_packet()
    except pymysql.err.MySQLError as e:
        return e
    stmt_id = int.from_bytes(pkt.get_all_data()[1:5], "little")
    nparams = int.from_bytes(pkt.get_all_data()[7:9], "little")
    ncols = int.from_bytes(pkt.get_all_data()[5:7], "little")
    for n in (nparams, ncols):
        if n:
            for _ in range(n):
                conn._read_packet()
            if not conn.client_flag & (1 << 24):
                conn._read_packet()  # EOF
    conn._execute_command(COMMAND.COM_STMT_CLOSE, stmt_id.to_bytes(4, "little"))
    return None


class Stack:
    def __init__(self):
        self.certs = Certs()
        self.db = mariadb.MariaServer()
        self.db.start()
        self.iss = rgtest.DevIssuer()
        self.dir = tempfile.mkdtemp(prefix="rgtest-mypol-")
        rgtest._register(self)
        self.bundle = rgtest.compile_bundle(PACKS, os.path.join(self.dir, "b.rgb"))
        db = self.db
        targets = [{"name": "shop", "protocol": "mysql", "address": f"{db.host}:{db.port}",
                    "database": db.database, "user": db.native_user,
                    "password_file": write_secret(self.dir, "n", db.native_password),
                    "tls": {"mode": "disable"}}]
        listeners = [{"name": "my", "address": f"127.0.0.1:{rgtest.free_port()}",
                      "protocol": "mysql",
                      "tls": {"cert": self.certs.cert, "key": self.certs.key}}]
        self.rg = rgtest.Ringgate(_NoPg(), identity=self.iss.identity(),
                                  policy={"bundle": self.bundle},
                                  extra={"listeners": listeners, "targets": targets})
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


def test_rule_packs(st):
    tests = mysql_tests()
    check(len(tests) >= 100, f"{len(tests)} MySQL sql tests in rules/baseline")
    wrong, nq = [], 0
    for mode in sorted({t[3] for t in tests}):
        st.db.sql(f"SET GLOBAL sql_mode = '{mode}'")
        conn = st.connect()
        for rid, sql, expect, m in tests:
            if m != mode:
                continue
            e = prepare(conn, sql)
            if is_denial(e) != (expect == "deny"):
                wrong.append(("prepare", rid, mode, sql, expect, e))
            if expect == "deny":
                nq += 1
                try:
                    with conn.cursor() as c:
                        c.execute(sql.replace("%", "%%"))
                    e = None
                except pymysql.err.MySQLError as x:
                    e = x
                if not is_denial(e):
                    wrong.append(("query", rid, mode, sql, expect, e))
            try:
                conn.ping(reconnect=False)
            except pymysql.err.MySQLError as x:
                wrong.append(("out of sync after", rid, mode, sql, expect, x))
                conn.close()
                conn = st.connect()
        conn.close()
    st.db.sql("SET GLOBAL sql_mode = DEFAULT")
    for w in wrong[:15]:
        print("   ", w, flush=True)
    check(not wrong, f"{len(tests)} tests as COM_STMT_PREPARE, {nq} denials also as COM_QUERY, "
          f"each judged as `rulec test` expects ({len(wrong)} wrong)")


def test_denials_keep_the_session(st):
    conn = st.connect(client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    with conn.cursor() as c:
        c.execute("CREATE TABLE IF NOT EXISTS keepme (id INT PRIMARY KEY, v VARCHAR(20))")
        c.execute("DELETE FROM keepme WHERE id > 0")
        c.execute("BEGIN")
        c.execute("INSERT INTO keepme VALUES (1, 'a')")
        try:
            c.execute("DROP TABLE keepme")
            check(False, "DROP TABLE denied")
        except pymysql.err.MySQLError as e:
            check(is_denial(e) and "baseline.no-drop" in e.args[1],
                  f"DROP TABLE denied with the rule's name: {e.args}")
        c.execute("SELECT @@in_transaction")
        check(c.fetchone()[0] == 1, "the transaction is still open after the denial (as MySQL "
              "leaves it after a failed statement)")
        c.execute("INSERT INTO keepme VALUES (2, 'b')")
        c.execute("COMMIT")
        c.execute("SELECT COUNT(*) FROM keepme")
        check(c.fetchone()[0] == 2, "COMMIT kept both inserts around the denied statement")
        try:
            c.execute("INSERT INTO keepme VALUES (3, 'c'); DROP TABLE keepme")
            check(False, "a multi-statement with a denied statement is denied")
        except pymysql.err.MySQLError as e:
            check(is_denial(e), f"multi-statement with a DROP denied whole: {e.args}")
        c.execute("SELECT COUNT(*) FROM keepme")
        check(c.fetchone()[0] == 2, "nothing of the denied multi-statement ran")
        for sql in ("SELECT 'DROP TABLE keepme' AS t", "SELECT v AS drop_count FROM keepme"):
            c.execute(sql)
        check(True, "literals and names that mention a denied word are allowed")
        for sql, what in (("SET sql_mode = 'ANSI_QUOTES'", "SET sql_mode"),
                          ("SET NAMES sjis", "SET NAMES sjis"),
                          ("SET STATEMENT sql_mode='NO_BACKSLASH_ESCAPES' FOR SELECT 1",
                           "SET STATEMENT sql_mode ... FOR")):
            try:
                c.execute(sql)
                check(False, f"{what} refused")
            except pymysql.err.MySQLError as e:
                check(e.args[0] in (1142, 1227), f"{what} refused: {e.args}")
        c.execute("SELECT @@SESSION.sql_mode")
        check("ANSI_QUOTES" not in c.fetchone()[0], "the session's sql_mode is unchanged")
    conn.close()
    with open(st.rg.logfile) as f:
        log = f.read()
    check("event=denied proto=mysql" in log and "rule=baseline.no-drop" in log,
          "the denial is logged with its rule")


def test_unfollowable_sql_mode(st):
    st.db.sql("SET GLOBAL sql_mode = 'ORACLE'")
    try:
        st.connect()
        check(False, "a session under sql_mode ORACLE is refused")
    except pymysql.err.MySQLError as e:
        check(e.args[0] == 1043, f"sql_mode ORACLE: the login ends ({e.args})")
    finally:
        st.db.sql("SET GLOBAL sql_mode = DEFAULT")
    with open(st.rg.logfile) as f:
        check("reason=lexing" in f.read(), "event=upstream_fail says reason=lexing")


def test_mysql2_prepared_and_denied(st):
    modules = node_modules()
    env = dict(os.environ, NODE_PATH=modules, MYSQL_PORT=str(st.rg.port), MYSQL_USER="shop",
               MYSQL_PASSWORD=st.iss.token(), MYSQL_DATABASE=st.db.database,
               MYSQL_SSL_CA=st.certs.ca, RG_EXPECT_DENY="DROP TABLE m2_t")
    r = subprocess.run(["node", os.path.join(HERE, "node", "mysql_client.js")], env=env,
                       capture_output=True, text=True, timeout=180)
    print(r.stdout, end="", flush=True)
    check(r.returncode == 0, f"mysql2 client through ringgate: {r.stderr[-1500:]}")


RELOAD_PACK = """version: 1
pack: reloadtest
rules:
  - id: reloadtest.no-vault
    description: the vault table is off limits
    sql:
      tables: [vault]
    action: deny
    message: vault is off limits
"""


def test_reload_judges_prepared_again(st):
    """Prepared under the first bundle, executed after a SIGHUP to one that denies its table:
    refused at EXECUTE, and the session stays usable. Runs last: the gateway keeps the
    second bundle."""
    from pymysql.constants import COMMAND
    conn = st.connect()
    with conn.cursor() as c:
        c.execute("CREATE TABLE IF NOT EXISTS vault (id INT)")
        c.execute("INSERT INTO vault VALUES (1)")
    conn._execute_command(COMMAND.COM_STMT_PREPARE, "SELECT id FROM vault")
    pkt = conn._read_packet()
    check(pkt.get_all_data()[0] == 0, "SELECT FROM vault prepared under the first bundle")
    sid = pkt.get_all_data()[1:5]
    conn._read_packet()  # the column definition
    if not conn.client_flag & (1 << 24):
        conn._read_packet()
    execute = sid + b"\x00" + (1).to_bytes(4, "little")
    conn._execute_command(COMMAND.COM_STMT_EXECUTE, execute)
    first = conn._read_packet()
    check(first.get_all_data()[0] == 1, "EXECUTE runs under the first bundle")
    while not (conn._read_packet().is_eof_packet()):
        pass
    if not conn.client_flag & (1 << 24):
        while not conn._read_packet().is_eof_packet():
            pass
    d = tempfile.mkdtemp(prefix="rgtest-reload-", dir=st.dir)
    with open(os.path.join(d, "reload.yaml"), "w") as f:
        f.write(RELOAD_PACK)
    new = rgtest.compile_bundle(PACKS + [d], os.path.join(d, "new.rgb"))
    os.replace(new, st.bundle)
    st.rg.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline:
        with open(st.rg.logfile) as f:
            if "event=policy_reloaded" in f.read():
                break
        time.sleep(0.1)
    conn._execute_command(COMMAND.COM_STMT_EXECUTE, execute)
    try:
        conn._read_packet()
        check(False, "EXECUTE after the reload refused")
    except pymysql.err.MySQLError as e:
        check(is_denial(e) and "reloadtest.no-vault" in e.args[1],
              f"EXECUTE of the statement prepared before the reload judged again: {e.args}")
    conn.ping(reconnect=False)
    check(True, "the session is usable after the refused EXECUTE")
    conn.close()


def main():
    st = Stack()
    try:
        for t in (test_rule_packs, test_denials_keep_the_session, test_unfollowable_sql_mode,
                  test_mysql2_prepared_and_denied, test_reload_judges_prepared_again):
            print(f"--- {t.__name__}", flush=True)
            t(st)
        log = open(st.rg.logfile).read()
        check(not rgtest.sanitizer_reports(log), "no sanitizer report")
    finally:
        st.stop()


if __name__ == "__main__":
    main()
