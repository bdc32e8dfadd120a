"""adminfix: what the admin listener's integration tests share (test_admin_*.py).

Owns: a small HTTP(S) client for the admin API (http.client, so tests can send malformed
requests too), what the held-statement tests of every protocol share (the control store's
statuses, waiting for a pending request and deciding it through the API), and the
approval-request fixture -- `rg_control_fixture`, a test-only C tool
linked with engine/control that writes requests of any shape into the running gateway's
control store (<state_dir>/control.db), as a held session would. Builds on rgtest and pgfix;
never prints a token.
"""

import http.client
import json
import os
import sqlite3
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rgtest  # noqa: E402


def orders_pack(expires="2m", more=""):
    """A rule pack holding UPDATE of table orders for the reviewers group (once, expiring
    after `expires`), with `more` rules appended (YAML list items at the rules' indent)."""
    return f"""version: 1
pack: t
rules:
  - id: t.orders-updates
    description: changing orders needs a reviewer
    sql: {{operation: update, tables: [orders]}}
    action: require_approval
    approval: {{group: reviewers, ttl: 10m, scope: once, expires: {expires}}}
    tests:
      - sql: "UPDATE orders SET n = n + 1 WHERE id = 1"
        expect: hold
{more}"""


def statuses(db):
    """{request id: status} of every request in the control store at path db."""
    with sqlite3.connect(db, timeout=10) as c:
        return {r[0]: r[1] for r in c.execute("SELECT id, status FROM ringgate_approvals")}


def wait_status(db, rid, want, timeout=10.0):
    """Wait until request rid has status want; returns the status it last had."""
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = statuses(db).get(rid)
        if st == want:
            return st
        time.sleep(0.1)
    return st


def wait_pending(admin, token, pred, timeout=10.0):
    """The first pending request (as GET /api/approvals lists it) for which pred(request)
    holds, asked as the reviewer of token; None when none came within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st, body, _ = admin.request("GET", "/api/approvals?status=pending", token=token)
        if st == 200:
            got = next((x for x in body["approvals"] if pred(x)), None)
            if got:
                return got
        time.sleep(0.1)
    return None


def fixture_binary():
    return os.path.join(rgtest.RG_BUILD, "tests", "integ", "rg_control_fixture")


def control_db(rg):
    return os.path.join(rg.workdir, "state", "control.db")


def insert_request(rg, **kw):
    """A pending request in rg's control store (see control_fixture.c for the keywords:
    iss, sub, groups, peer, target, rule, reviewers, sql, expires_in, scope, ttl); its id."""
    tool = fixture_binary()
    if not os.access(tool, os.X_OK):
        rgtest.skip(f"{tool} not built")
    argv = [tool, control_db(rg), "insert"]
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode:
        raise RuntimeError(f"rg_control_fixture insert failed: {r.stderr}")
    return r.stdout.strip()


def stored_status(rg, rid):
    r = subprocess.run([fixture_binary(), control_db(rg), "status", rid], capture_output=True,
                       text=True, timeout=30)
    return r.stdout.strip() if r.returncode == 0 else None


class Admin:
    """Requests to one admin listener: request() returns (status, body as JSON or text,
    headers dict with lower-case names)."""

    def __init__(self, port, host="127.0.0.1", tls_ca=None):
        self.host, self.port, self.tls_ca = host, port, tls_ca

    def conn(self, timeout=30):
        if self.tls_ca:
            ctx = ssl.create_default_context(cafile=self.tls_ca)
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, token=None, body=None, headers=None, raw_auth=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if raw_auth is not None:
            h["Authorization"] = raw_auth
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = data.decode(errors="replace")
        return r.status, doc, hdrs

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token=token, **kw)

    def post(self, path, token=None, body=None, **kw):
        return self.request("POST", path, token=token, body=body, **kw)

    def wait(self, timeout=30):
        rgtest.wait_port(self.host, self.port, timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError("the admin listener did not answer /healthz")
