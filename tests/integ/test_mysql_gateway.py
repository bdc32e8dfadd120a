"""MySQL sessions through ringgate (engine/proto/mysql), end to end: a real MariaDB 10.11
(lib/mariadb.py) behind a ringgate with a TLS mysql listener and a loopback development
listener (insecure_plaintext), real clients (PyMySQL, the `mariadb` CLI) logging in with a
dev-issuer token sent as mysql_clear_password, ringgate logging in upstream as users with
mysql_native_password and with ed25519, and over TLS verify-full. Covers: login over TLS
(PyMySQL through an AuthSwitchRequest, the CLI directly), bad and expired tokens
(1045/28000, the same message, no token in the log), a token refused without TLS and never
sent in clear by a CLI told --skip-ssl, the session ending with its token, --check-config
on plaintext mysql listeners, SELECT, multi-statements with several result sets,
COM_SET_OPTION, a prepared statement round trip in the binary protocol (raw packets over
PyMySQL's connection), an unknown statement id refused by ringgate, >16 MiB values both
ways, LOAD DATA LOCAL INFILE, COM_PING, COM_STATISTICS, COM_FIELD_LIST, COM_CHANGE_USER
refused with the session still usable, KILL / KILL QUERY / COM_PROCESS_KILL translated to
the target's connection id for the same identity only (1094 otherwise), COM_QUIT, and a
sequence-id violation ending the session."""

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import mariadb  # noqa: E402
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402

pymysql = mariadb.require_pymysql()
from pymysql.constants import CLIENT, COMMAND  # noqa: E402


def sh(*argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{argv}: {r.stderr}")


class Certs:
    """A test CA and one server certificate for 127.0.0.1 and localhost."""

    def __init__(self):
        if not shutil.which("openssl"):
            rgtest.skip("openssl command not found (needed to generate test certificates)")
        self.dir = tempfile.mkdtemp(prefix="rgtest-mytls-")
        rgtest._register(self)
        d = self.dir
        self.ca = os.path.join(d, "ca.crt")
        self.cert = os.path.join(d, "server.crt")
        self.key = os.path.join(d, "server.key")
        cakey, csr, ext = (os.path.join(d, n) for n in ("ca.key", "server.csr", "ext.cnf"))
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\n")
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", cakey, "-out", self.ca, "-days", "2", "-subj", "/CN=rgtest CA")
        sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", self.key, "-out", csr, "-subj", "/CN=localhost")
        sh("openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", cakey,
           "-CAcreateserial", "-out", self.cert, "-days", "2", "-extfile", ext)

    def stop(self):
        rgtest._unregister(self)
        shutil.rmtree(self.dir, ignore_errors=True)


class _NoPg:
    """rgtest.Ringgate writes a postgres target for its pg: this config replaces the targets
    and listeners (extra), so the stand-in only has to exist."""
    host, port, user, database, password, socket_path = "127.0.0.1", 1, "-", "-", "-", "-"


def write_secret(d, name, value):
    path = os.path.join(d, f"{name}.pw")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return path


class Stack:
    def __enter__(self):
        self.certs = Certs()
        # the server's TLS (a target with tls verify-full): mariadbd may run as `mysql`
        os.chmod(self.certs.dir, 0o755)
        os.chmod(self.certs.key, 0o644)
        self.db = mariadb.MariaServer(settings={"ssl-cert": self.certs.cert,
                                                "ssl-key": self.certs.key,
                                                "ssl-ca": self.certs.ca})
        self.db.start()
        self.iss = rgtest.DevIssuer()
        self.sec = tempfile.mkdtemp(prefix="rgtest-mysec-")
        rgtest._register(self)
        self.dev_port = rgtest.free_port()
        db = self.db
        targets = [
            {"name": "mynative", "protocol": "mysql", "address": f"{db.host}:{db.port}",
             "database": db.database, "user": db.native_user,
             "password_file": write_secret(self.sec, "n", db.native_password),
             "tls": {"mode": "disable"}},
            {"name": "myed", "protocol": "mysql", "address": f"{db.host}:{db.port}",
             "user": db.ed_user, "password_file": write_secret(self.sec, "e", db.ed_password),
             "tls": {"mode": "disable"}},
            {"name": "mytls", "protocol": "mysql", "address": f"{db.host}:{db.port}",
             "database": db.database, "user": db.native_user,
             "password_file": write_secret(self.sec, "t", db.native_password),
             "tls": {"mode": "verify-full", "ca": self.certs.ca}},
        ]
        listeners = [
            {"name": "my", "address": f"127.0.0.1:{rgtest.free_port()}", "protocol": "mysql",
             "tls": {"cert": self.certs.cert, "key": self.certs.key}},
            {"name": "mydev", "address": f"127.0.0.1:{self.dev_port}", "protocol": "mysql",
             "insecure_plaintext": True},
        ]
        self.rg = rgtest.Ringgate(_NoPg(), identity=self.iss.identity(clock_skew="0s"),
                                  extra={"listeners": listeners, "targets": targets})
        self.rg.start()
        rgtest.wait_port("127.0.0.1", self.dev_port, 30, self.rg.proc)
        return self

    def stop(self):
        rgtest._unregister(self)
        shutil.rmtree(self.sec, ignore_errors=True)

    def __exit__(self, *exc):
        self.rg.stop()
        self.iss.stop()
        self.certs.stop()
        self.db.stop()
        self.stop()
        return False

    def log(self):
        with open(self.rg.logfile, errors="replace") as f:
            return f.read()

    def connect(self, target="mynative", token=None, tls=True, port=None, **kw):
        params = {"host": "127.0.0.1", "port": port or self.rg.port, "user": target,
                  "password": token if token is not None else self.iss.token(),
                  "connect_timeout": 10}
        if tls:
            params["ssl"] = {"ca": self.certs.ca}
        params.update(kw)
        return pymysql.connect(**params)


def one(conn, sql):
    with conn.cursor() as c:
        c.execute(sql)
        return c.fetchall()


# ---- login ---------------------------------------------------------------------------------

def test_pymysql_login_tls(st):
    conn = st.connect()
    try:
        check(one(conn, "SELECT 1 + 1") == ((2,),), "PyMySQL over TLS: SELECT through ringgate")
        user = one(conn, "SELECT CURRENT_USER()")[0][0]
        check(user.startswith(st.db.native_user + "@"), f"logged in upstream as {user}")
        check(one(conn, "SELECT DATABASE()")[0][0] == st.db.database,
              "the target's database is the default schema")
        ssl_on = one(conn, "SHOW STATUS LIKE 'Ssl_cipher'")
        check(ssl_on[0][1] == "", "target leg is plaintext (tls.mode disable) as configured")
    finally:
        conn.close()
    log = st.log()
    check(re.search(r"event=auth_ok proto=mysql sess=\d+ sub=agent-1 user=mynative", log),
          "event=auth_ok logged")
    check(re.search(r"event=upstream_login proto=mysql .*target=mynative "
                    r"method=mysql_native_password", log), "upstream login logged")


def test_mariadb_cli_login(st):
    cli = shutil.which("mariadb")
    if not cli:
        rgtest.skip("mariadb client missing")
    env = dict(os.environ, MYSQL_PWD=st.iss.token())
    r = subprocess.run([cli, "--no-defaults", "-h127.0.0.1", f"-P{st.rg.port}", "-umynative",
                        f"--ssl-ca={st.certs.ca}", "--ssl-verify-server-cert",
                        "--default-auth=mysql_clear_password", "-N", "-B", "-e",
                        "SELECT 40 + 2; SELECT CURRENT_USER()"],
                       capture_output=True, text=True, env=env, timeout=60)
    check(r.returncode == 0, f"mariadb CLI logs in over TLS with the token ({r.stderr.strip()})")
    lines = r.stdout.split()
    check(lines[0] == "42" and lines[1].startswith(st.db.native_user + "@"),
          f"mariadb CLI ran its statements: {lines}")
    # without --default-auth: the CLI answers ringgate's handshake with the method it names
    r = subprocess.run([cli, "--no-defaults", "-h127.0.0.1", f"-P{st.rg.port}", "-umynative",
                        f"--ssl-ca={st.certs.ca}", "-N", "-B", "-e", "SELECT 1"],
                       capture_output=True, text=True, env=env, timeout=60)
    check(r.returncode == 0 and r.stdout.strip() == "1",
          f"mariadb CLI with only --ssl-ca logs in ({r.stderr.strip()})")
    # a client that insists on plaintext is refused before it sends the token
    r = subprocess.run([cli, "--no-defaults", "-h127.0.0.1", f"-P{st.rg.port}", "-umynative",
                        "--skip-ssl", "-N", "-B", "-e", "SELECT 1"],
                       capture_output=True, text=True, env=env, timeout=60)
    check(r.returncode != 0 and "1045" in r.stderr and "TLS" in r.stderr,
          f"mariadb CLI with --skip-ssl refused: {r.stderr.strip()}")


def test_bad_tokens(st):
    good = st.iss.token()
    bad = good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB")
    expired = st.iss.token(ttl="1s")
    import time
    time.sleep(2.2)
    msgs = []
    for tok, what in ((bad, "bad signature"), (expired, "expired"), ("garbage", "garbage")):
        try:
            st.connect(token=tok).close()
            check(False, f"{what} token refused")
        except pymysql.err.OperationalError as e:
            check(e.args[0] == 1045, f"{what} token: ERR 1045 ({e.args})")
            msgs.append(e.args[1])
    check(len(set(msgs)) == 1, f"one message whatever the cause: {msgs[0]!r}")
    log = st.log()
    check("reason=bad_signature" in log and "reason=expired" in log,
          "the causes are in the log (event=auth_fail)")
    check(good[20:60] not in log and expired[20:60] not in log, "no token in the log")


def test_unknown_target(st):
    for name in ("nosuch", "mynative" + "x" * 70):
        try:
            st.connect(target=name).close()
            check(False, f"unknown target {name[:20]} refused")
        except pymysql.err.OperationalError as e:
            check(e.args[0] == 1045 and "no target named" in e.args[1],
                  f"unknown target after a valid token: {e.args[0]} {e.args[1][:60]}")
    try:
        st.connect(target="nosuch", token="garbage").close()
    except pymysql.err.OperationalError as e:
        check("no target" not in e.args[1],
              "without a valid token the target's existence is not told")
    check(re.search(r"event=unknown_target proto=mysql .*user=nosuch", st.log()),
          "event=unknown_target logged")


def test_split_sslrequest_then_hello(st):
    """An SSLRequest split across two writes, the second carrying the ClientHello right
    behind it: the TLS bytes are taken from where the framing kept them."""
    import socket
    import ssl
    import time
    ctx = ssl.create_default_context(cafile=st.certs.ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    caps = 1 | 0x200 | 0x800 | 0x8000 | 0x80000 | 0x200000
    sslreq = (struct.pack("<I", 32)[:3] + b"\x01" + struct.pack("<IIB", caps, 1 << 24, 45)
              + b"\x00" * 23)
    with socket.create_connection(("127.0.0.1", st.rg.port), timeout=10) as c:
        c.recv(4096)  # the handshake
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        c.sendall(sslreq[:10])
        time.sleep(0.3)
        c.sendall(sslreq[10:] + out.read())
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if out.pending:
                    c.sendall(out.read())
                d = c.recv(65536)
                if not d:
                    raise RuntimeError("closed during the TLS handshake")
                inc.write(d)
        if out.pending:
            c.sendall(out.read())
        tok = st.iss.token().encode() + b"\x00"
        body = (struct.pack("<IIB", caps, 1 << 24, 45) + b"\x00" * 23 + b"mynative\x00"
                + bytes([0xfc]) + struct.pack("<H", len(tok)) + tok + b"mysql_clear_password\x00")
        tls.write(struct.pack("<I", len(body))[:3] + b"\x02" + body)
        c.sendall(out.read())
        got = b""
        while len(got) < 5:
            try:
                got += tls.read(4096)
            except ssl.SSLWantReadError:
                d = c.recv(65536)
                if not d:
                    break
                inc.write(d)
        check(len(got) >= 5 and got[3] == 3 and got[4] == 0,
              f"split SSLRequest + ClientHello: logged in (OK with sequence id 3): {got[:8]!r}")


def test_tls_required(st):
    try:
        st.connect(tls=False).close()
        check(False, "token without TLS refused on a TLS listener")
    except pymysql.err.OperationalError as e:
        check(e.args[0] == 1045 and "TLS" in e.args[1], f"refused without TLS: {e.args}")


def test_dev_listener_plaintext(st):
    conn = st.connect(tls=False, port=st.dev_port)
    try:
        check(one(conn, "SELECT 7") == ((7,),), "loopback insecure_plaintext listener logs in")
    finally:
        conn.close()
    check(re.search(r"event=plaintext_listener listener=mydev .*insecure_plaintext=yes",
                    st.log()), "the plaintext listener is announced in the log")


def test_target_tls(st):
    conn = st.connect(target="mytls")
    try:
        cipher = one(conn, "SHOW STATUS LIKE 'Ssl_cipher'")[0][1]
        check(cipher != "", f"target leg over TLS verify-full (server reports {cipher})")
        check(one(conn, "SELECT 5") == ((5,),), "queries over both TLS legs")
    finally:
        conn.close()
    check(re.search(r"event=upstream_login proto=mysql .*target=mytls .*tls=yes", st.log()),
          "upstream_login says tls=yes")


def test_token_not_sent_in_clear(st):
    """A CLI told to skip TLS answers the handshake's method (mysql_native_password on a TLS
    listener): a scramble hash crosses the wire, never the token."""
    import socket
    import threading
    cli = shutil.which("mariadb")
    if not cli:
        rgtest.skip("mariadb client missing")
    token = st.iss.token()
    seen = bytearray()
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def relay():
        c, _ = lsock.accept()
        u = socket.create_connection(("127.0.0.1", st.rg.port))

        def pump(a, b, rec):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    if rec:
                        seen.extend(d)
                    b.sendall(d)
            except OSError:
                pass
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        t = threading.Thread(target=pump, args=(u, c, False), daemon=True)
        t.start()
        pump(c, u, True)
        t.join(5)
        c.close()
        u.close()

    th = threading.Thread(target=relay, daemon=True)
    th.start()
    r = subprocess.run([cli, "--no-defaults", "-h127.0.0.1", f"-P{lsock.getsockname()[1]}",
                        "-umynative", "--skip-ssl", "-N", "-B", "-e", "SELECT 1"],
                       capture_output=True, text=True, env=dict(os.environ, MYSQL_PWD=token),
                       timeout=60)
    th.join(10)
    lsock.close()
    check(r.returncode != 0 and "1045" in r.stderr, "--skip-ssl refused")
    check(len(seen) > 0 and token.encode()[:40] not in bytes(seen),
          f"the token is not in the {len(seen)} bytes the client sent in clear")


def test_token_expiry_ends_session(st):
    import time
    conn = st.connect(token=st.iss.token(ttl="3s"))
    try:
        check(one(conn, "SELECT 1") == ((1,),), "session with a 3 s token")
        time.sleep(4)
        try:
            one(conn, "SELECT 2")
            check(False, "the session ends with its token")
        except pymysql.err.MySQLError as e:
            check(e.args[0] in (1927, 2013, 2006), f"after expiry: {e.args}")
    finally:
        try:
            conn.close()
        except Exception:
            pass
    check(re.search(r"event=session_expired proto=mysql sess=\d+ .*target=mynative",
                    st.log()), "event=session_expired logged")


def test_check_config_plaintext(st):
    r = subprocess.run([rgtest.ringgate_binary(), "--check-config", st.rg.config_path],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and r.stdout.strip().endswith(": ok"),
          f"--check-config accepts the running mysql config ({r.stderr.strip()[:200]})")
    d = tempfile.mkdtemp(prefix="rgtest-mycfg-")
    try:
        for addr, extra, want in (
                ("0.0.0.0:3306", {"insecure_plaintext": True}, "not a loopback address"),
                ("127.0.0.1:3306", {}, "needs insecure_plaintext"),
                ("127.0.0.1:3306", {"tls": {"cert": "c.pem", "key": "k.pem"},
                                    "x_target": {"allowed_auth": ["md5"]}},
                 "allowed_auth: only used with protocol postgres")):
            tkeys = extra.pop("x_target", {})
            path = os.path.join(d, "c.yaml")
            cfg = {"version": 1, "state_dir": d,
                   "listeners": [{"name": "m", "address": addr, "protocol": "mysql", **extra}],
                   "targets": [{"name": "t", "protocol": "mysql", "address": "127.0.0.1:3306",
                                "user": "u", "password_env": "RG_NOPE",
                                "tls": {"mode": "disable"}, **tkeys}]}
            with open(path, "w") as f:
                f.write(rgtest.to_yaml(cfg) + "\n")
            r = subprocess.run([rgtest.ringgate_binary(), "--check-config", path],
                               capture_output=True, text=True, timeout=30)
            check(r.returncode != 0 and want in r.stderr and "c.yaml:" in r.stderr,
                  f"--check-config refuses it ({want}): "
                  f"{r.stderr.strip().splitlines()[0] if r.stderr.strip() else ''}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_ed25519_target(st):
    conn = st.connect(target="myed")
    try:
        user = one(conn, "SELECT CURRENT_USER()")[0][0]
        check(user.startswith(st.db.ed_user + "@"), f"ed25519 upstream login: {user}")
        check(one(conn, "SELECT DATABASE()")[0][0] is None, "no default schema configured")
        conn.select_db(st.db.database)
        check(one(conn, "SELECT DATABASE()")[0][0] == st.db.database, "COM_INIT_DB relayed")
    finally:
        conn.close()
    check(re.search(r"event=upstream_login proto=mysql .*target=myed method=client_ed25519",
                    st.log()), "upstream method client_ed25519 (AuthSwitchRequest)")


# ---- commands ------------------------------------------------------------------------------

def test_multi_statements(st):
    conn = st.connect(client_flag=CLIENT.MULTI_STATEMENTS)
    try:
        with conn.cursor() as c:
            c.execute("SELECT 1; SELECT 2, 3 UNION SELECT 4, 5; DO 0; SELECT 'x'")
            sets = [c.fetchall()]
            while c.nextset():
                sets.append(c.fetchall())
        check(sets == [((1,),), ((2, 3), (4, 5)), (), (("x",),)],
              f"four results of one COM_QUERY: {sets}")
        check(one(conn, "SELECT 9") == ((9,),), "the session goes on after them")
    finally:
        conn.close()


def read_until_eof(conn):
    pkts = []
    while True:
        p = conn._read_packet()
        pkts.append(p)
        if p.is_eof_packet():
            return pkts


def test_set_option(st):
    conn = st.connect()
    try:
        try:
            one(conn, "SELECT 1; SELECT 2")
            check(False, "multi-statements off by default")
        except pymysql.err.ProgrammingError:
            check(True, "multi-statements refused by the server while off")
        conn._execute_command(COMMAND.COM_SET_OPTION, b"\x00\x00")
        p = conn._read_packet()
        check(p.is_eof_packet() or p.is_ok_packet(), "COM_SET_OPTION ON answered")
        with conn.cursor() as c:
            c.execute("SELECT 1; SELECT 2")
            c.nextset()
            check(c.fetchall() == ((2,),), "multi-statements after COM_SET_OPTION ON")
    finally:
        conn.close()


def test_prepared_statement(st):
    conn = st.connect()
    try:
        conn._execute_command(COMMAND.COM_STMT_PREPARE, "SELECT ? + 1, CONCAT('v', ?)")
        ok = conn._read_packet()
        stmt_id, ncols, nparams = struct.unpack_from("<IHH", ok._data, 1)
        check(ok._data[0] == 0 and ncols == 2 and nparams == 2,
              f"COM_STMT_PREPARE_OK: id {stmt_id}, {ncols} columns, {nparams} parameters")
        read_until_eof(conn)  # parameter definitions
        read_until_eof(conn)  # column definitions
        # EXECUTE: LONGLONG 41 and a VAR_STRING 'abc'
        body = (struct.pack("<IBI", stmt_id, 0, 1) + b"\x00" + b"\x01" + b"\x08\x00\xfd\x00"
                + struct.pack("<q", 41) + b"\x03abc")
        conn._execute_command(COMMAND.COM_STMT_EXECUTE, body)
        count = conn._read_packet()
        check(count._data[0] == 2, "binary result set with two columns")
        read_until_eof(conn)
        rows = read_until_eof(conn)
        row = rows[0]._data
        check(row[0] == 0 and b"vabc" in row and struct.pack("<q", 42) in row,
              f"binary row: 42 and 'vabc' ({row!r})")
        check(len(rows) == 2, "one row then EOF")
        conn._execute_command(COMMAND.COM_STMT_CLOSE, struct.pack("<I", stmt_id))
        conn._execute_command(COMMAND.COM_STMT_EXECUTE, body)
        try:
            conn._read_packet()
            check(False, "EXECUTE of a closed statement refused")
        except pymysql.err.MySQLError as e:
            check(e.args[0] == 1243, f"unknown statement id: ERR 1243 ({e.args})")
        conn.ping(reconnect=False)
        check(True, "session usable after the refusal (COM_PING)")
    finally:
        conn.close()


def test_deprecate_eof_session(st):
    """A session with CLIENT_DEPRECATE_EOF (as the mariadb CLI and Connector/J negotiate):
    definitions end without EOF and result sets with an OK-as-EOF; raw packets, so every
    boundary ringgate tracks is checked by a COM_PING answered right after."""
    conn = st.connect(client_flag=1 << 24)
    try:
        def ping_ok(what):
            conn._execute_command(COMMAND.COM_PING, b"")
            p = conn._read_packet()
            check(p.is_ok_packet(), f"COM_PING right after {what}")

        conn._execute_command(COMMAND.COM_STMT_PREPARE, "SELECT ?, ? + 1")
        ok = conn._read_packet()
        stmt_id, ncols, nparams = struct.unpack_from("<IHH", ok._data, 1)
        defs = [conn._read_packet() for _ in range(ncols + nparams)]
        check(all(d._data[:4] == b"\x03def" for d in defs),
              f"PREPARE_OK then {nparams} + {ncols} definitions, no EOF")
        ping_ok("COM_STMT_PREPARE")
        conn._execute_command(COMMAND.COM_QUERY, "SELECT 1 UNION SELECT 2")
        pk = [conn._read_packet() for _ in range(5)]  # count, def, row, row, OK-as-EOF
        check(pk[4]._data[0] == 0xfe and len(pk[4]._data) >= 7, "result set ends OK-as-EOF")
        ping_ok("a result set")
        one_fl = "fl2"
        conn._execute_command(COMMAND.COM_QUERY, f"CREATE TABLE IF NOT EXISTS {one_fl} (a INT)")
        conn._read_packet()
        conn._execute_command(COMMAND.COM_FIELD_LIST, one_fl.encode() + b"\x00")
        first, last = conn._read_packet(), conn._read_packet()
        check(first._data[:4] == b"\x03def" and last._data[0] == 0xfe,
              "COM_FIELD_LIST: one definition and its terminator")
        ping_ok("COM_FIELD_LIST")
        # a cursor: EXECUTE with CURSOR_TYPE_READ_ONLY, then FETCH
        conn._execute_command(COMMAND.COM_STMT_EXECUTE,
                              struct.pack("<IBI", stmt_id, 1, 1) + b"\x00\x01"
                              + b"\x08\x00\x08\x00" + struct.pack("<qq", 5, 6))
        count = conn._read_packet()
        pk = [conn._read_packet() for _ in range(count._data[0] + 1)]
        check(pk[-1]._data[0] == 0xfe, "cursor opened: definitions then OK-as-EOF")
        ping_ok("a cursor-opening EXECUTE")
        conn._execute_command(COMMAND.COM_STMT_FETCH, struct.pack("<II", stmt_id, 10))
        row, end = conn._read_packet(), conn._read_packet()
        check(row._data[0] == 0 and end._data[0] == 0xfe, "COM_STMT_FETCH: row then end")
        ping_ok("COM_STMT_FETCH")
    finally:
        conn.close()


def test_pipelined_commands(st):
    """Three commands in one write: a query, a command ringgate refuses, a ping. The answers
    come in order: ringgate's own ERR waits for the query's result set."""
    conn = st.connect()
    try:
        def cmd(body):
            return struct.pack("<I", len(body))[:3] + b"\x00" + body
        conn._sock.sendall(cmd(b"\x03SELECT SLEEP(0.3), 'q'")
                           + cmd(b"\x11root\x00\x00mysql\x00") + cmd(b"\x0e"))
        conn._next_seq_id = 1
        pk = [conn._read_packet() for _ in range(5)]  # count, 2 defs, EOF, row, EOF
        pk.append(conn._read_packet())
        check(pk[0]._data[0] == 2 and pk[5].is_eof_packet(), "first: the query's result set")
        conn._next_seq_id = 1
        try:
            conn._read_packet()
            check(False, "second: the refusal")
        except pymysql.err.MySQLError as e:
            check(e.args[0] == 1227, f"second: ringgate's ERR, in turn: {e.args}")
        conn._next_seq_id = 1
        check(conn._read_packet().is_ok_packet(), "third: the ping's OK")
    finally:
        conn.close()


def test_pipelined_prepare_execute_last(st):
    """PREPARE and EXECUTE of MariaDB's statement id -1 (the last prepared) in one write, as
    libmariadb and Connector/J 3 pipeline them: the id is accepted before PREPARE_OK."""
    conn = st.connect()
    try:
        def cmd(body):
            return struct.pack("<I", len(body))[:3] + b"\x00" + body
        execute = (b"\x17" + struct.pack("<IBI", 0xffffffff, 0, 1) + b"\x00\x01\x08\x00"
                   + struct.pack("<q", 99))
        conn._sock.sendall(cmd(b"\x16SELECT ? + 1") + cmd(execute))
        conn._next_seq_id = 1
        ok = conn._read_packet()
        check(ok._data[0] == 0, "PREPARE_OK first")
        read_until_eof(conn)  # the parameter
        read_until_eof(conn)  # the column
        conn._next_seq_id = 1
        count = conn._read_packet()
        read_until_eof(conn)
        rows = read_until_eof(conn)
        check(count._data[0] == 1 and struct.pack("<q", 100) in rows[0]._data,
              f"EXECUTE of id -1 ran the statement: {rows[0]._data!r}")
    finally:
        conn.close()


def test_large_values(st):
    conn = st.connect(max_allowed_packet=64 << 20)
    try:
        n = 17 * 1024 * 1024
        r = one(conn, f"SELECT LENGTH(REPEAT('x', {n})), REPEAT('y', {n})")
        check(r[0][0] == n and len(r[0][1]) == n and r[0][1] == "y" * n,
              "a row over 16 MiB (split packets) from the target")
        one(conn, "CREATE TABLE IF NOT EXISTS big (id INT PRIMARY KEY, v LONGTEXT)")
        with conn.cursor() as c:
            c.execute("REPLACE INTO big VALUES (1, %s)", ("z" * (n + 123),))
        conn.commit()
        check(one(conn, "SELECT LENGTH(v) FROM big WHERE id = 1") == ((n + 123,),),
              "a COM_QUERY over 16 MiB (split packets) to the target")
    finally:
        conn.close()


def test_load_data_local(st):
    d = tempfile.mkdtemp(prefix="rgtest-myload-")
    try:
        path = os.path.join(d, "rows.tsv")
        with open(path, "w") as f:
            for i in range(5000):
                f.write(f"{i}\tname-{i}\n")
        conn = st.connect(local_infile=True)
        try:
            one(conn, "CREATE TABLE IF NOT EXISTS loaded (id INT, name VARCHAR(40))")
            one(conn, "DELETE FROM loaded")
            with conn.cursor() as c:
                c.execute(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE loaded")
            conn.commit()
            check(one(conn, "SELECT COUNT(*), MAX(id) FROM loaded") == ((5000, 4999),),
                  "LOAD DATA LOCAL INFILE relayed the client's file")
        finally:
            conn.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_small_commands(st):
    conn = st.connect()
    try:
        conn.ping(reconnect=False)
        check(True, "COM_PING")
        conn._execute_command(COMMAND.COM_STATISTICS, b"")
        p = conn._read_packet()
        check(b"Uptime" in p._data, "COM_STATISTICS' string relayed")
        one(conn, "CREATE TABLE IF NOT EXISTS fl (a INT, b TEXT)")
        conn._execute_command(COMMAND.COM_FIELD_LIST, b"fl\x00")
        defs = read_until_eof(conn)
        check(len(defs) == 3, "COM_FIELD_LIST: two definitions and EOF")
        for cmd, body, what, code in ((COMMAND.COM_CHANGE_USER, b"root\x00\x00mysql\x00",
                                       "COM_CHANGE_USER", 1227),
                                      (COMMAND.COM_PROCESS_KILL, struct.pack("<I", 1),
                                       "Unknown thread id", 1094)):
            conn._execute_command(cmd, body)
            try:
                conn._read_packet()
                check(False, f"{what} refused")
            except pymysql.err.MySQLError as e:
                check(e.args[0] == code and what in e.args[1], f"{what} refused: {e.args}")
            check(one(conn, "SELECT CURRENT_USER()")[0][0].startswith(st.db.native_user),
                  f"session usable and unchanged after {what}")
    finally:
        conn.close()
    check(re.search(r"event=session_end proto=mysql .*target=mynative .*quit=yes", st.log()),
          "COM_QUIT ends the session (event=session_end quit=yes)")


def test_kill_translation(st):
    import threading
    import time
    a, b, c = st.connect(), st.connect(), st.connect()
    other = st.connect(token=st.iss.token(sub="agent-2"))
    try:
        bid, cid = b.thread_id(), c.thread_id()
        up_b = one(b, "SELECT CONNECTION_ID()")[0][0]
        check(bid != up_b, f"the agent sees ringgate's id {bid}, the target uses {up_b}")
        for sql in (f"KILL {bid}", f"KILL QUERY {bid}"):
            try:
                one(other, sql)
                check(False, f"{sql} from another identity refused")
            except pymysql.err.MySQLError as e:
                check(e.args[0] == 1094, f"another identity: {sql} -> {e.args}")
        try:
            other.kill(bid)
            check(False, "COM_PROCESS_KILL from another identity refused")
        except pymysql.err.MySQLError as e:
            check(e.args[0] == 1094, f"another identity: COM_PROCESS_KILL -> {e.args}")
        try:
            one(a, "KILL USER rg_native")
            check(False, "KILL USER refused")
        except pymysql.err.MySQLError as e:
            check(e.args[0] == 1227, f"KILL USER refused: {e.args}")
        # a KILL hidden from the plain form (comment, executed comment, after another
        # statement) never reaches the target, with no bundle loaded either
        for sql in (f"/* x */ KILL {bid}", f"/*!KILL {bid} */", f"SELECT 1; KILL {bid}",
                    f"DO 1;/*M! KILL QUERY {bid} */"):
            try:
                one(a, sql)
                check(False, f"{sql!r} refused")
            except pymysql.err.MySQLError as e:
                check(e.args[0] == 1227, f"hidden KILL {sql!r} refused: {e.args}")
        # KILL QUERY of the same identity reaches the target's connection
        res = {}

        def sleeper():
            t0 = time.monotonic()
            try:
                res["rows"] = one(b, "SELECT SLEEP(20)")
            except pymysql.err.MySQLError as e:
                res["err"] = e.args
            res["secs"] = time.monotonic() - t0
        th = threading.Thread(target=sleeper)
        th.start()
        time.sleep(1)
        one(a, f"KILL QUERY {bid}")
        th.join(15)
        check(res.get("secs", 99) < 10, f"KILL QUERY interrupted the other session's query: "
                                         f"{res}")
        check(one(b, "SELECT 3") == ((3,),), "that session goes on after KILL QUERY")
        one(a, f"KILL {bid}")
        try:
            one(b, "SELECT 4")
            check(False, "KILL ended the other session")
        except pymysql.err.MySQLError as e:
            check(True, f"KILL CONNECTION ended it: {e.args}")
        a.kill(cid)
        try:
            one(c, "SELECT 5")
            check(False, "COM_PROCESS_KILL ended the third session")
        except pymysql.err.MySQLError as e:
            check(True, f"COM_PROCESS_KILL ended it: {e.args}")
        check(one(a, "SELECT 6") == ((6,),), "the killing session goes on")
    finally:
        for x in (a, b, c, other):
            try:
                x.close()
            except Exception:
                pass
    check(re.search(r"event=kill proto=mysql .*what=query", st.log()), "event=kill logged")


def test_sequence_violation(st):
    conn = st.connect()
    try:
        conn._sock.sendall(b"\x01\x00\x00\x05\x0e")  # COM_PING with sequence id 5
        try:
            conn._read_packet()
            check(False, "out-of-order packet refused")
        except pymysql.err.MySQLError as e:
            # ringgate's ERR 1156 answers the packet (id 1); PyMySQL may object to the id
            check(True, f"sequence violation answered: {e.args}")
    finally:
        try:
            conn.close()
        except Exception:
            pass
    check(re.search(r"event=protocol_violation proto=mysql .*side=agent", st.log()),
          "event=protocol_violation logged")


def test_garbage_and_truncated(st):
    """Garbage, a truncated response and an oversized length before login: each connection
    is ended by ringgate alone; it keeps serving the next client."""
    import socket
    cases = [os.urandom(200), b"\x20\x00\x00\x01" + b"\x00" * 10,
             b"\xff\xff\xff\x01" + b"A" * 100, b"\x05\x00\x00\x07hello"]
    for i, junk in enumerate(cases):
        with socket.create_connection(("127.0.0.1", st.dev_port), timeout=10) as c:
            c.recv(4096)  # the handshake
            c.sendall(junk)
            c.shutdown(socket.SHUT_WR)
            got = b""
            try:
                while True:
                    d = c.recv(4096)
                    if not d:
                        break
                    got += d
            except OSError:
                pass
            check(not got or got[4] == 0xff, f"junk {i}: connection ended ({got[:40]!r})")
    conn = st.connect(tls=False, port=st.dev_port)
    try:
        check(one(conn, "SELECT 11") == ((11,),), "ringgate still serves logins")
    finally:
        conn.close()


def test_no_sanitizer_reports(st):
    check(not rgtest.sanitizer_reports(st.log()), "no sanitizer report in ringgate's log")


if __name__ == "__main__":
    with Stack() as stack:
        rgtest.run_tests([test_pymysql_login_tls, test_mariadb_cli_login, test_bad_tokens,
                          test_unknown_target, test_split_sslrequest_then_hello,
                          test_tls_required,
                          test_dev_listener_plaintext,
                          test_check_config_plaintext, test_ed25519_target,
                          test_target_tls, test_token_not_sent_in_clear,
                          test_token_expiry_ends_session,
                          test_multi_statements, test_set_option, test_prepared_statement,
                          test_kill_translation, test_deprecate_eof_session,
                          test_pipelined_commands, test_pipelined_prepare_execute_last,
                          test_large_values, test_load_data_local, test_small_commands,
                          test_sequence_violation, test_garbage_and_truncated,
                          test_no_sanitizer_reports], stack)
