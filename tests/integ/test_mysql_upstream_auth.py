"""ringgate's login to MySQL targets with caching_sha2_password, which MariaDB does not
implement server side: a scripted server (a thread speaking just enough of the protocol)
checks what ringgate sends. Fast path (scramble, then AuthMoreData 0x03); full
authentication with the target's pinned RSA key (server_public_key_file: the server
decrypts with its private key and compares); full authentication inside TLS (the password
in cleartext, only there); full authentication in plaintext without a pinned key refused
(ringgate never asks the server for its key). The agent is PyMySQL through a TLS mysql
listener; after login a COM_PING goes through to the scripted server."""

import hashlib
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import mariadb  # noqa: E402
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402
from test_mysql_gateway import Certs, _NoPg, sh, write_secret  # noqa: E402

pymysql = mariadb.require_pymysql()
try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
except ImportError:
    rgtest.skip("python3-cryptography is missing (RSA decryption in the scripted server)")

PASSWORD = "s3cret-Upstream-pw"
CAPS = (1 | 2 | 4 | 8 | 0x80 | 0x100 | 0x200 | 0x400 | 0x1000 | 0x2000 | 0x8000 | 0x10000
        | 0x20000 | 0x40000 | 0x80000 | 0x100000 | 0x200000 | 0x800000 | 0x1000000)
SSL_CAP = 0x800


def pkt(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def sha2_scramble(pw, scr):
    h1 = hashlib.sha256(pw).digest()
    h3 = hashlib.sha256(hashlib.sha256(h1).digest() + scr).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


class ScriptedServer:
    """mode: 'fast', 'full' (AuthMoreData 0x04). tls: a server context (CLIENT_SSL offered)
    or None. key: the RSA private key for full authentication without TLS. results gets one
    entry per connection: what the check found."""

    def __init__(self, mode, tls=None, key=None):
        self.mode, self.tls, self.key = mode, tls, key
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.results = []
        threading.Thread(target=self.serve, daemon=True).start()

    def read(self, s):
        hdr = b""
        while len(hdr) < 4:
            c = s.recv(4 - len(hdr))
            if not c:
                raise EOFError
            hdr += c
        n = hdr[0] | hdr[1] << 8 | hdr[2] << 16
        body = b""
        while len(body) < n:
            c = s.recv(n - len(body))
            if not c:
                raise EOFError
            body += c
        return hdr[3], body

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                self.results.append(self.one(c))
            except Exception as e:  # the test reads results
                self.results.append(f"error: {type(e).__name__}: {e}")
            finally:
                c.close()

    @staticmethod
    def answer_probe(s, ccaps):
        def lenenc(b):
            return bytes([len(b)]) + b

        def coldef(name):
            return (lenenc(b"def") + lenenc(b"") + lenenc(b"") + lenenc(b"") + lenenc(name)
                    + lenenc(b"") + b"\x0c" + struct.pack("<HIBHB", 45, 512, 253, 0, 0)
                    + b"\0\0")

        eof = b"\xfe\x00\x00\x02\x00"
        out = [b"\x02", coldef(b"@@SESSION.sql_mode"), coldef(b"@@SESSION.character_set_client")]
        deprecate_eof = bool(ccaps & 0x01000000)
        if not deprecate_eof:
            out.append(eof)
        out.append(lenenc(b"STRICT_TRANS_TABLES") + lenenc(b"utf8mb4"))
        out.append(b"\xfe\x00\x00\x02\x00\x00\x00" if deprecate_eof else eof)
        s.sendall(b"".join(pkt(i + 1, p) for i, p in enumerate(out)))

    def one(self, s):
        scr = os.urandom(20).replace(b"\0", b"\1")
        caps = CAPS | (SSL_CAP if self.tls else 0)
        hs = (b"\x0a" + b"8.0.99-scripted\0" + struct.pack("<I", 77) + scr[:8] + b"\0"
              + struct.pack("<H", caps & 0xffff) + b"\x2d" + struct.pack("<H", 2)
              + struct.pack("<H", caps >> 16) + bytes([21]) + b"\0" * 10 + scr[8:] + b"\0"
              + b"caching_sha2_password\0")
        s.sendall(pkt(0, hs))
        seq, body = self.read(s)
        if len(body) == 32:  # SSLRequest
            if not self.tls:
                return "unexpected SSLRequest"
            s = self.tls.wrap_socket(s, server_side=True)
            seq, body = self.read(s)
        ccaps = struct.unpack_from("<I", body)[0]
        i = 32
        user = body[i:body.index(b"\0", i)]
        i += len(user) + 1
        if ccaps & 0x200000:
            alen = body[i]
            i += 1
        else:
            alen = body[i]
            i += 1
        auth = body[i:i + alen]
        if user != b"app" or auth != sha2_scramble(PASSWORD.encode(), scr):
            s.sendall(pkt(seq + 1, b"\xff\x15\x04#28000Access denied"))
            return f"bad fast-path answer (user {user!r})"
        if self.mode == "fast":
            s.sendall(pkt(seq + 1, b"\x01\x03") + pkt(seq + 2, b"\x00\x00\x00\x02\x00\x00\x00"))
            how = "fast"
            seq += 2
        else:
            s.sendall(pkt(seq + 1, b"\x01\x04"))
            seq, body = self.read(s)
            if self.tls and isinstance(s, ssl.SSLSocket):
                ok = body == PASSWORD.encode() + b"\0"
                how = "full-tls"
            elif self.key:
                plain = self.key.decrypt(body, padding.OAEP(
                    mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(),
                    label=None))
                xored = bytes(b ^ scr[k % 20] for k, b in enumerate(plain))
                ok = xored == PASSWORD.encode() + b"\0"
                how = "full-rsa"
            else:
                return f"full auth in plaintext got {len(body)} bytes"
            if not ok:
                s.sendall(pkt(seq + 1, b"\xff\x15\x04#28000Access denied"))
                return f"{how}: wrong password"
            s.sendall(pkt(seq + 1, b"\x00\x00\x00\x02\x00\x00\x00"))
            seq += 1
        # ringgate's own probe of the session's lexing state (docs/mysql.md, "Policy")
        try:
            cseq, cmd = self.read(s)
        except EOFError:
            return f"{how}: no probe"
        if cmd[:1] != b"\x03" or b"@@SESSION.sql_mode" not in cmd:
            return f"{how}: expected the sql_mode probe, got {cmd[:40]!r}"
        self.answer_probe(s, ccaps)
        # command phase: answer one COM_PING, then the agent quits
        try:
            cseq, cmd = self.read(s)
        except EOFError:
            return f"{how}: no command"
        if cmd[:1] != b"\x0e" or cseq != 0:
            return f"{how}: unexpected command {cmd[:1]!r}"
        s.sendall(pkt(1, b"\x00\x00\x00\x02\x00\x00\x00"))
        try:
            self.read(s)  # COM_QUIT, or EOF
        except EOFError:
            pass
        return f"{how}: ok"


def test_caching_sha2():
    certs = Certs()
    iss = rgtest.DevIssuer()
    d = tempfile.mkdtemp(prefix="rgtest-mysha2-")
    rgtest._register(type("D", (), {"stop": lambda self: shutil.rmtree(d, True)})())
    keyfile, pubfile = os.path.join(d, "rsa.key"), os.path.join(d, "rsa.pub")
    sh("openssl", "genrsa", "-out", keyfile, "2048")
    sh("openssl", "rsa", "-in", keyfile, "-pubout", "-out", pubfile)
    with open(keyfile, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(certs.cert, certs.key)
    servers = {"fast": ScriptedServer("fast"), "rsa": ScriptedServer("full", key=key),
               "tls": ScriptedServer("full", tls=sctx), "nokey": ScriptedServer("full")}
    pw = write_secret(d, "app", PASSWORD)
    targets = []
    for name, srv in servers.items():
        t = {"name": f"sha2{name}", "protocol": "mysql", "address": f"127.0.0.1:{srv.port}",
             "user": "app", "password_file": pw, "tls": {"mode": "disable"}}
        if name == "rsa":
            t["server_public_key_file"] = pubfile
        if name == "tls":
            t["tls"] = {"mode": "verify-full", "ca": certs.ca}
        targets.append(t)
    listeners = [{"name": "my", "address": f"127.0.0.1:{rgtest.free_port()}",
                  "protocol": "mysql", "tls": {"cert": certs.cert, "key": certs.key}}]
    rg = rgtest.Ringgate(_NoPg(), identity=iss.identity(),
                         extra={"listeners": listeners, "targets": targets})
    rg.start()
    try:
        for name in ("fast", "rsa", "tls"):
            conn = pymysql.connect(host="127.0.0.1", port=rg.port, user=f"sha2{name}",
                                   password=iss.token(), ssl={"ca": certs.ca},
                                   autocommit=None, connect_timeout=10)
            conn.ping(reconnect=False)
            conn.close()
            check(True, f"caching_sha2_password ({name}): agent logged in, COM_PING relayed")
        try:
            pymysql.connect(host="127.0.0.1", port=rg.port, user="sha2nokey",
                            password=iss.token(), ssl={"ca": certs.ca}, connect_timeout=10)
            check(False, "full authentication in plaintext without a pinned key refused")
        except pymysql.err.OperationalError as e:
            check(e.args[0] == 1043, f"no pinned key, no TLS: the agent gets {e.args}")
        import time
        time.sleep(0.5)
        res = {n: s.results for n, s in servers.items()}
        check(res["fast"] == ["fast: ok"], f"scripted server, fast path: {res['fast']}")
        check(res["rsa"] == ["full-rsa: ok"], f"full auth with the pinned RSA key: {res['rsa']}")
        check(res["tls"] == ["full-tls: ok"], f"full auth inside TLS: {res['tls']}")
        check(res["nokey"] == ["error: EOFError: "],
              f"nothing sent after 0x04 without a key, the connection closed: {res['nokey']}")
        with open(rg.logfile) as f:
            log = f.read()
        check(re.search(r"event=upstream_fail proto=mysql .*target=sha2nokey .*reason=auth "
                        r"detail=caching_sha2_password\\x20full", log) is not None,
              "event=upstream_fail says why")
        check(PASSWORD not in log, "the target's password is not in the log")
        check(not rgtest.sanitizer_reports(log), "no sanitizer report")
    finally:
        rg.stop()
        iss.stop()
        certs.stop()


if __name__ == "__main__":
    rgtest.run_tests([test_caching_sha2])
