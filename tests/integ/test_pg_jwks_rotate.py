"""Key rotation at the IdP through ringgate, against a real PostgreSQL 15: the issuer's keys
come from a jwks_url served by a local HTTP server whose document the test changes, with a
1 h periodic refresh, so only the refresh an unknown kid triggers can bring a new key in.

A token under a kid the document does not carry yet is refused (FATAL 28P01, generic
message) once the bounded wait (3 s) ends; after the key is published, a token under it logs
in on the first try: the login waits for the refresh its unknown kid triggered (exactly one
fetch, seen by the HTTP server) and verifies once more. A kid still unknown after that
refresh is refused at once, the same way. A client that hangs up while waiting, and a
SIGTERM while a login waits, leave nothing behind: ringgate exits 0 under ASan/LSan.

The unknown-kid refresh is rate-limited to one per `unknown_kid_refresh` after the issuer's
previous fetch; the test sets 20 s (long enough for the three bounded waits it makes inside
the first window, even on a loaded machine) and waits out two such windows: about 45 s.
"""

import http.server
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()

KID_WINDOW = 20.0  # the issuer's unknown_kid_refresh below, in seconds
WAIT_MAX = 3.0     # session.c KEYWAIT_MAX_MS


class Jwks:
    """The IdP's JWKS endpoint on 127.0.0.1: serves .doc, notes the time of every fetch."""

    def __init__(self):
        self.doc = b'{"keys":[]}'
        self.delay = 0.0
        self.hits = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with outer.lock:
                    outer.hits.append(time.monotonic())
                    doc, delay = outer.doc, outer.delay
                if delay:
                    time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(doc)))
                self.end_headers()
                self.wfile.write(doc)

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, *issuers):
        keys = []
        for iss in issuers:
            with open(iss.jwks) as f:
                keys += json.load(f)["keys"]
        with self.lock:
            self.doc = json.dumps({"keys": keys}).encode()

    def nhits(self):
        with self.lock:
            return len(self.hits)

    def last_hit(self):
        with self.lock:
            return self.hits[-1]

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def raw_login(rg, token):
    """(ok, first error fields or None, seconds) of a raw login with token."""
    raw = pgfix.Raw(rg.host, rg.port, timeout=20.0)
    t0 = time.monotonic()
    try:
        msgs, ok = raw.login(token, rg.config["targets"][0]["name"])
        dt = time.monotonic() - t0
        errs = [pgfix.error_fields(m[1]) for m in msgs if m and m[0] == b"E"]
        if ok:
            raw.send(pgfix.query_msg("SELECT 1"))
            _, ok = raw.until_ready()
            raw.send(pgfix.msg(b"X"))
        closed = raw.at_eof()
        return ok, (errs[0] if errs else None), dt, closed
    finally:
        raw.close()


def refused_as_before(res, what):
    ok, err, dt, closed = res
    check(not ok and err is not None and err.get("S") == "FATAL" and err.get("C") == "28P01"
          and err.get("M") == "authentication failed" and "D" not in err and closed,
          f"{what}: FATAL 28P01 'authentication failed', no detail, closed ({err}, {dt:.2f}s)")


def wait_until(t):
    while time.monotonic() < t:
        time.sleep(min(0.5, max(0.0, t - time.monotonic())))


def main():
    jwks = Jwks()
    try:
        run(jwks)
    finally:
        jwks.stop()


def run(jwks):
    with rgtest.PgServer() as pg:
        old = pgfix.Issuer()  # the key in use when ringgate starts
        new = pgfix.Issuer()  # same issuer, the key the IdP rotates to
        never = pgfix.Issuer()  # same issuer, a key that is never published
        jwks.publish(old)
        identity = {"clock_skew": "5s",
                    "issuers": [{"issuer": pgfix.ISSUER, "audience": pgfix.AUDIENCE,
                                 "jwks_url": jwks.url, "jwks_refresh": "1h",
                                 "unknown_kid_refresh": f"{int(KID_WINDOW)}s"}]}
        trail_dir = tempfile.mkdtemp(prefix="rgtest-jwks-trail-")
        akey, apub = rgtest.signing_keypair(trail_dir)
        trail = os.path.join(trail_dir, "trail")
        rg = rgtest.Ringgate(pg, identity=identity, threads=2,
                             extra={"audit": {"key_file": akey, "dir": trail}}).start()
        check(jwks.nhits() == 1, "ringgate fetched the keys once at startup")
        first_fetch = jwks.last_hit()

        ok, err, dt, _ = raw_login(rg, old.token(sub="agent-old"))
        check(ok, f"a token under the published kid logs in ({err})")

        # Inside the rate-limit window of the startup fetch: the refresh the unknown kid
        # asks for cannot come within the wait, so the login is refused when the wait ends.
        tok_new = new.token(sub="agent-new")
        res = raw_login(rg, tok_new)
        refused_as_before(res, "a kid not published yet")
        check(WAIT_MAX - 0.5 <= res[2] <= WAIT_MAX + 5.0,
              f"refused after the bounded wait ({res[2]:.2f}s, bound {WAIT_MAX}s)")
        res = raw_login(rg, never.token())
        refused_as_before(res, "a kid that stays unknown")
        check(res[2] <= WAIT_MAX + 5.0, f"within the bounded wait ({res[2]:.2f}s)")

        # Bytes the client should not send before AuthenticationOk, pipelined behind the
        # token: held as before the wait existed, then dropped with the refusal.
        raw = pgfix.Raw(rg.host, rg.port, timeout=20.0)
        raw.send(pgfix.startup_packet({"user": "agent-1", "database":
                                       rg.config["targets"][0]["name"]}))
        m = raw.read_msg()
        raw.send(pgfix.msg(b"p", never.token().encode() + b"\0") + pgfix.query_msg("SELECT 1"))
        msgs, ok = raw.until_ready()
        errs = [pgfix.error_fields(b) for t, b in msgs if t == b"E"]
        check(m and m[0] == b"R" and not ok and errs and errs[0].get("C") == "28P01"
              and raw.at_eof(), f"a Query pipelined behind a waiting token: refused ({errs})")
        raw.close()

        # Clients that hang up while their login waits: nothing may leak (checked by LSan at
        # the exit below), ringgate keeps serving.
        for i in range(3):
            raw = pgfix.Raw(rg.host, rg.port)
            raw.send(pgfix.startup_packet({"user": "agent-1", "database":
                                           rg.config["targets"][0]["name"]}))
            raw.read_msg()
            raw.send(pgfix.msg(b"p", never.token().encode() + b"\0"))
            time.sleep(0.2 * (i + 1))
            raw.close()
        ok, err, _, _ = raw_login(rg, old.token())
        check(ok, f"still serving after clients hung up while waiting ({err})")

        # The refresh those unknown kids asked for comes when the window ends; it finds the
        # old document. Only then does the IdP publish the new key.
        deadline = first_fetch + KID_WINDOW + 15.0
        while jwks.nhits() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        check(jwks.nhits() == 2, "the requested refresh came once the rate-limit window ended")
        time.sleep(1.0)  # let it publish (the old document again)
        jwks.publish(old, new)
        wait_until(jwks.last_hit() + KID_WINDOW + 1.0)
        check(jwks.nhits() == 2, "no other fetch in between (periodic refresh is 1 h)")

        # The rotation: the new kid's login waits for the refresh it triggers and succeeds on
        # the first try; a never-published kid, waiting on the same refresh (the slow IdP
        # makes sure it verified before the fetch ended), is refused right after it.
        jwks.delay = 0.7
        results = {}

        def login(name, token, after):
            time.sleep(after)
            results[name] = raw_login(rg, token)

        threads = [threading.Thread(target=login, args=("new", tok_new, 0.0)),
                   threading.Thread(target=login, args=("never", never.token(), 0.2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        ok, err, dt, _ = results["new"]
        check(ok, f"the token under the new kid logs in on the first try ({err}, {dt:.2f}s)")
        check(dt >= 0.5, f"it waited for the refresh ({dt:.2f}s)")
        check(jwks.nhits() == 3, f"exactly one fetch explains it ({jwks.nhits() - 2})")
        refused_as_before(results["never"], "a kid still unknown after the refresh")
        check(results["never"][2] < WAIT_MAX - 0.5,
              f"refused right after the refresh, not at the end of the wait "
              f"({results['never'][2]:.2f}s)")
        jwks.delay = 0.0
        ok, err, dt, _ = raw_login(rg, new.token(sub="agent-new-2"))
        check(ok and dt < 2.0, f"the new key is now in the key set ({dt:.2f}s)")

        log = pgfix.log_text(rg)
        n = log.count("event=auth_fail")
        check(n == log.count("reason=unknown_kid") == 7,
              f"every refusal, and every login left while waiting, audited as unknown_kid ({n})")
        check(tok_new not in log, "no token in the log")
        check("event=auth_ok sess=" in log and "sub=agent-new " in log,
              "the rotated-key login is audited with its sub")
        probs = rgtest.sanitizer_reports(log)
        check(not probs, f"no sanitizer report ({probs[:3]})")

        # SIGTERM while a login waits: the agent hears why, ringgate exits 0 (LSan clean).
        raw = pgfix.Raw(rg.host, rg.port, timeout=20.0)
        raw.send(pgfix.startup_packet({"user": "agent-1", "database":
                                       rg.config["targets"][0]["name"]}))
        raw.read_msg()
        raw.send(pgfix.msg(b"p", never.token().encode() + b"\0"))
        time.sleep(0.3)
        rg.proc.send_signal(signal.SIGTERM)
        msgs, ok = raw.until_ready()
        errs = [pgfix.error_fields(b) for t, b in msgs if t == b"E"]
        check(not ok and errs and errs[0].get("C") in ("57P01", "28P01"),
              f"a login waiting at SIGTERM ends with a FATAL error ({errs})")
        raw.close()
        try:
            rg.proc.wait(timeout=20)
        except Exception:
            pass
        log = pgfix.log_text(rg)
        rc = rg.stop()
        check(rc == 0, f"SIGTERM: ringgate exits 0, no leak ({rc}): {log[-2000:] if rc else ''}")
        check(not rgtest.sanitizer_reports(log), "no sanitizer report at exit")
        # each key-set fetch and failure the log shows is in the audit trail too
        c = subprocess.run([pgfix.ctl_binary(), "audit", "cat", "--dir", trail],
                           capture_output=True, text=True, timeout=60)
        keys = [json.loads(x) for x in c.stdout.splitlines() if '"issuer_keys"' in x]
        n_log = log.count("event=jwks_")
        check(n_log >= 2 and len(keys) == n_log and
              any("refreshed" in k["detail"] for k in keys),
              f"issuer key changes in the audit trail ({len(keys)} records, {n_log} log lines)")
        shutil.rmtree(trail_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
