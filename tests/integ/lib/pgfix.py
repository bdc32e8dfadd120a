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


def connect(rg, token, **kw):
    psycopg2 = rgtest.require_psycopg2()
    params = {"host": rg.host, "port": rg.port, "user": "agent",
              "dbname": rg.config["targets"][0]["name"], "password": token,
              "sslmode": "disable", "connect_timeout": 10}
    params.update(kw)
    return psycopg2.connect(**params)
