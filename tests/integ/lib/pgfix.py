"""pgfix: fixtures shared by the test_pg_*.py integration tests (real PostgreSQL 15, the real
ringgate binary, tokens from the DEVELOPMENT issuer of `ringgatectl`).

Owns: a dev issuer directory per test, token minting, a ringgate started with that issuer
configured, and small assertions. Builds on rgtest (which owns process lifecycles and temp
dirs). Never prints a token or the target password unless a check fails on it -- and then
only says that it leaked, not what it is.
"""

import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rgtest  # noqa: E402

ISSUER = "https://dev-issuer.ringgate.test/"
AUDIENCE = "ringgate"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok - {what}", flush=True)


def ctl_binary():
    return os.path.join(rgtest.RG_BUILD, "engine", "ctl", "ringgatectl")


class Issuer:
    """A DEVELOPMENT issuer in a temp dir (removed at exit through rgtest's registry)."""

    def __init__(self, issuer=ISSUER):
        self.issuer = issuer
        if not os.access(ctl_binary(), os.X_OK):
            rgtest.skip(f"ringgatectl not built at {ctl_binary()}")
        self.dir = tempfile.mkdtemp(prefix="rgtest-iss-")
        rgtest._register(self)
        sub = os.path.join(self.dir, "iss")
        r = subprocess.run([ctl_binary(), "dev-issuer", "init", "--dir", sub, "--issuer",
                            issuer], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"dev-issuer init failed: {r.stderr}")
        self.sub_dir = sub
        self.jwks = os.path.join(sub, "jwks.json")

    def stop(self):
        import shutil
        rgtest._unregister(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def token(self, sub="agent-1", audience=AUDIENCE, ttl="10m", groups=None):
        argv = [ctl_binary(), "token", "--dir", self.sub_dir, "--sub", sub, "--audience",
                audience, "--ttl", ttl]
        if groups:
            argv += ["--groups", groups]
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"ringgatectl token failed: {r.stderr}")
        return r.stdout.strip()

    def identity(self):
        return {"clock_skew": "5s",
                "issuers": [{"issuer": self.issuer, "audience": AUDIENCE,
                             "jwks_file": self.jwks}]}


def start(pg, issuer, **kw):
    """A ringgate in front of pg that trusts issuer; returns the started Ringgate."""
    rg = rgtest.Ringgate(pg, identity=issuer.identity(), **kw)
    rg.start()
    return rg


def log_text(rg):
    try:
        with open(rg.logfile, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_log(rg, needle, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log_text(rg):
            return True
        time.sleep(0.05)
    return False


def wait_active(pg, query, timeout=20.0):
    """True once pg_stat_activity shows query running (superuser, over the unix socket).
    Tests that cancel or SIGTERM "during" a statement wait for this instead of a fixed delay,
    which races the statement's own start on a loaded machine."""
    psycopg2 = rgtest.require_psycopg2()
    admin = psycopg2.connect(host=pg.socket_dir, port=pg.port, user=pg.superuser,
                             dbname="postgres")
    admin.autocommit = True
    try:
        cur = admin.cursor()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                        "AND query = %s", (query,))
            if cur.fetchone()[0]:
                return True
            time.sleep(0.05)
        return False
    finally:
        admin.close()


def cancel_when_running(pg, conn, query):
    """conn.cancel() once query runs (see wait_active); for a thread of its own."""
    wait_active(pg, query)
    conn.cancel()


def token_sub(token, default="agent-1"):
    """The sub claim of a JWT (the startup user an agent logs in with), or default when the
    token is not a readable JWT (tests of bad tokens)."""
    import base64
    import json
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
    except (IndexError, ValueError, KeyError, TypeError, AttributeError):
        return default


def connect(rg, token, **kw):
    psycopg2 = rgtest.require_psycopg2()
    params = {"host": rg.host, "port": rg.port, "user": token_sub(token),
              "dbname": rg.config["targets"][0]["name"], "password": token,
              "sslmode": "disable", "connect_timeout": 10}
    params.update(kw)
    return psycopg2.connect(**params)


# ---- a raw protocol client: every byte the client sees is kept in .seen -----------------

import socket  # noqa: E402
import struct  # noqa: E402


def startup_packet(params, version=196608):
    body = struct.pack("!I", version)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def msg(t, body=b""):
    return t + struct.pack("!I", len(body) + 4) + body


def query_msg(sql):
    return msg(b"Q", sql.encode() + b"\0")


class Raw:
    def __init__(self, host, port, timeout=10.0):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.seen = b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send(self, b):
        self.s.sendall(b)

    def _fill(self):
        try:
            d = self.s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            d = b""
        self.seen += d
        self.buf += d
        return bool(d)

    def read_msg(self):
        """(type, body), or None at EOF/reset/timeout."""
        while len(self.buf) < 5:
            if not self._fill():
                return None
        t, n = self.buf[:1], struct.unpack("!I", self.buf[1:5])[0]
        while len(self.buf) < 1 + n:
            if not self._fill():
                return None
        body, self.buf = self.buf[5:1 + n], self.buf[1 + n:]
        return t, body

    def until_ready(self):
        msgs = []
        while True:
            m = self.read_msg()
            if m is None:
                return msgs, False
            msgs.append(m)
            if m[0] == b"Z":
                return msgs, True
            if m[0] == b"E" and b"SFATAL" in m[1]:
                return msgs, False

    def login(self, token, database, user=None):
        self.send(startup_packet({"user": user or token_sub(token), "database": database,
                                  "application_name": "raw"}))
        m = self.read_msg()
        if m is None or m[0] != b"R":
            return [m], False
        self.send(msg(b"p", token.encode() + b"\0"))
        return self.until_ready()

    def at_eof(self, timeout=10.0):
        """True once the server closed the connection (reading only EOF)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.seen += d
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def error_fields(body):
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[part[:1].decode()] = part[1:].decode(errors="replace")
    return out
