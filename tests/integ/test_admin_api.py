"""The admin listener against the real ringgate (issue #11): health and readiness, bearer
authentication with the agents' issuers, POST /reload for operators only (sharing the SIGHUP
reloader), the approvals API end to end, bad requests answered 4xx with a JSON error, and
HTTPS with admin.tls.

Approval requests are created by rg_control_fixture (a test-only tool writing into the
gateway's <state_dir>/control.db), so every shape of request is covered without a session
for each; the API reads and decides them through the same control store the gateway opened.
A statement really held in a session is approved and denied in test_admin_page.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import adminfix  # noqa: E402
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

AUTH_FAILED = {"error": "authentication failed"}


def build_bundle(work):
    rulec = os.path.join(rgtest.RG_BUILD, "rulec", "rulec")
    if not os.access(rulec, os.X_OK):
        rgtest.skip(f"{rulec} not built")
    out = os.path.join(work, "policy.rgb")
    r = subprocess.run([rulec, "compile", "-o", out,
                        os.path.join(rgtest.RG_SRC, "rules", "baseline")],
                       capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise RuntimeError(f"rulec compile failed: {r.stderr}")
    return out


def check_auth(api, rg, iss, other):
    st, doc, h = api.get("/api/approvals")
    check(st == 401 and doc == AUTH_FAILED and h.get("www-authenticate") == "Bearer",
          "no Authorization header: 401 authentication failed, WWW-Authenticate: Bearer")
    st, doc, _ = api.get("/api/approvals", raw_auth="Basic dXNlcjpwdw==")
    check(st == 401 and doc == AUTH_FAILED, "a Basic header: 401")
    st, doc, _ = api.get("/api/approvals", token="not.a.token")
    check(st == 401 and doc == AUTH_FAILED, "a malformed token: 401, same words")
    st, doc, _ = api.get("/api/approvals", token=other.token(sub="mallory", groups="reviewers"))
    check(st == 401 and doc == AUTH_FAILED, "a token from an issuer not configured: 401")
    bad_aud = iss.token(sub="alice", groups="reviewers", audience="elsewhere")
    st, doc, _ = api.get("/api/approvals", token=bad_aud)
    check(st == 401 and doc == AUTH_FAILED, "a token for another audience: 401, same words")
    check(pgfix.wait_log(rg, "event=admin_auth_fail reason=bad_audience"),
          "the reason is in the log (event=admin_auth_fail reason=bad_audience)")
    check(bad_aud not in pgfix.log_text(rg), "the token itself is never logged")
    st, doc, _ = api.get("/api/approvals%0aevent=admin_reload%20sub=root")
    check(st == 404 and doc == {"error": "not found"} and
          "\nevent=admin_reload" not in pgfix.log_text(rg),
          "a path with a newline is not found and forges no log line")


def check_reload(api, rg, iss, live, bundle):
    ops = iss.token(sub="olga", groups="ops")
    st, doc, _ = api.post("/reload", token=ops)
    check(st == 200 and doc["status"] == "reloaded" and "generation 2" in doc["detail"],
          f"an operator's POST /reload reloads the bundle ({doc})")
    check(pgfix.wait_log(rg, "event=policy_reloaded generation=2"),
          "...through the same code as SIGHUP (event=policy_reloaded)")
    st, doc, _ = api.post("/reload", token=iss.token(sub="alice", groups="reviewers"))
    check(st == 403 and "operators" in doc["error"], "a non-operator's POST /reload: 403")
    with open(live, "wb") as f:
        f.write(b"not a bundle")
    st, doc, _ = api.post("/reload", token=ops)
    check(st == 422 and "stays" in doc["error"],
          f"a corrupt bundle: 422 and the one in force stays ({doc})")
    shutil.copy(bundle, live)
    rg.proc.send_signal(1)  # SIGHUP: the other caller of the same reload
    check(pgfix.wait_log(rg, "event=policy_reloaded generation=3"),
          "SIGHUP still reloads (generation 3)")
    st, doc, h = api.get("/reload", token=ops)
    check(st == 405 and h.get("allow") == "POST" and doc["error"], "GET /reload: 405 Allow: POST")
    st, doc, _ = api.get("/readyz")
    check(st == 200 and doc == {"status": "ready"}, "readyz after the reloads: ready")


def check_approvals(api, rg, iss):
    alice = iss.token(sub="alice", groups="reviewers")
    bob = iss.token(sub="bob", groups="devs")
    agent = iss.token(sub="agent-1", groups="reviewers,agents")
    ops = iss.token(sub="olga", groups="ops")
    sql = "UPDATE customers SET email = 'x' WHERE id < 10 -- <b>not html</b>"
    r1 = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-1", groups="agents",
                                 sql=sql, rule="approve-writes", reviewers="reviewers")
    r2 = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-2", reviewers="dba")
    r3 = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-3", scope="fingerprint",
                                 ttl=600)

    st, doc, h = api.get("/api/approvals?status=pending", token=alice)
    ids = [a["id"] for a in doc["approvals"]]
    check(st == 200 and h["content-type"].startswith("application/json") and
          r1 in ids and r3 in ids and r2 not in ids,
          "a reviewer lists the pending requests of their group only")
    a1 = next(a for a in doc["approvals"] if a["id"] == r1)
    check(a1["status"] == "pending" and a1["sql"] == sql and a1["subject"] == "agent-1" and
          a1["groups"] == ["agents"] and a1["rule"] == "approve-writes" and
          a1["target"] == "appdb" and a1["expires_ms"] > a1["created_ms"] and
          a1["url"] == f"http://127.0.0.1:{rg.admin_port}/#/approvals/{r1}" and
          isinstance(doc["now_ms"], int),
          "a request carries identity, target, statement, rule, times and its page URL")
    st, doc, _ = api.get("/api/approvals", token=ops)
    check(st == 200 and {r1, r2, r3} <= {a["id"] for a in doc["approvals"]},
          "an operator sees every request")
    st, doc, _ = api.get(f"/api/approvals/{r2}", token=alice)
    check(st == 404, "another group's request is not found for a reviewer")
    st, doc, _ = api.get(f"/api/approvals/{r1}", token=bob)
    check(st == 404, "nor for someone outside the reviewer group")
    st, doc, _ = api.get(f"/api/approvals/{r1}", token=agent)
    check(st == 200 and doc["id"] == r1, "the requester sees their own request")
    st, doc, _ = api.get("/api/approvals/" + "0" * 32, token=alice)
    check(st == 404 and doc["error"], "an unknown id: 404")
    st, doc, _ = api.get("/api/approvals/xyz", token=alice)
    check(st == 404, "a malformed id: 404")

    # bad decision bodies
    for body, what in [(None, "no body"), ("{", "bad JSON"), ("[]", "an array"),
                       ({"reason": ""}, "an empty reason"), ({"reason": 5}, "a number"),
                       ({"reason": "x" * 1001}, "a reason over 1000 bytes"),
                       ({"reason": "a\nb"}, "a reason with a newline"),
                       ({"reason": "ok", "scope": "all"}, "an unknown key")]:
        st, doc, _ = api.post(f"/api/approvals/{r1}/approve", token=alice, body=body)
        check(st == 400 and isinstance(doc, dict) and doc.get("error"),
              f"{what}: 400 with a JSON error ({doc})")
    st, doc, _ = api.post(f"/api/approvals/{r1}/approve", token=alice,
                          body=json.dumps({"reason": "x" * 30000}))
    check(st == 413, "a body over 16 KiB: 413")
    st, doc, _ = api.get("/api/approvals?status=maybe", token=alice)
    check(st == 400, "an unknown ?status: 400")
    st, doc, _ = api.get("/api/approvals?limit=0", token=alice)
    check(st == 400, "?limit=0: 400")
    st, doc, _ = api.get("/nope")
    check(st == 404 and doc == {"error": "not found"}, "an unknown path: 404 JSON")

    # who may decide
    st, doc, _ = api.post(f"/api/approvals/{r1}/approve", token=agent, body={"reason": "mine"})
    check(st == 403 and "own" in doc["error"], "nobody approves their own request: 403")
    st, doc, _ = api.post(f"/api/approvals/{r1}/approve", token=bob, body={"reason": "hm"})
    check(st == 404, "outside the reviewer group: 404 (not even seen)")
    st, doc, _ = api.post(f"/api/approvals/{r2}/approve", token=ops, body={"reason": "op"})
    check(st == 403 and "reviewer" in doc["error"],
          "an operator sees but does not decide another group's request: 403")
    st, doc, _ = api.post(f"/api/approvals/{r1}/approve", token=alice,
                          body={"reason": "looks fine"})
    check(st == 200 and doc["status"] == "approved" and doc["decided_by"] == "alice" and
          doc["reason"] == "looks fine" and doc["decided_iss"] == iss.issuer,
          "a reviewer approves: 200 with who and why")
    check(adminfix.stored_status(rg, r1) == "approved", "...and the control store says so")
    st, doc, _ = api.post(f"/api/approvals/{r1}/deny", token=alice, body={"reason": "late"})
    check(st == 409, "deciding again: 409")
    st, doc, _ = api.post(f"/api/approvals/{r3}/deny", token=alice,
                          body={"reason": "too wide"})
    check(st == 200 and doc["status"] == "denied" and doc["scope"] == "fingerprint",
          "a reviewer denies: 200")
    check(pgfix.wait_log(rg, f"event=approval_deny id={r3} result=ok by=alice"),
          "decisions are logged with who")

    # expiry
    r4 = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-4", expires_in=1500)
    time.sleep(2.0)
    st, doc, _ = api.post(f"/api/approvals/{r4}/approve", token=alice, body={"reason": "ok"})
    check(st == 410 and "expired" in doc["error"], "deciding past the expiry: 410")
    r5 = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-5", expires_in=-1)
    st, doc, _ = api.get(f"/api/approvals/{r5}", token=alice)
    check(st == 200 and doc["status"] == "expired", "a request read past its expiry is expired")
    st, doc, _ = api.get("/api/approvals?status=denied&limit=5", token=alice)
    check(st == 200 and [a["id"] for a in doc["approvals"]] == [r3], "?status=denied filters")
    return r1


def ctl(args, env=None, **extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("RINGGATE_")}
    e.update(env or {})
    e.update(extra)
    return subprocess.run([pgfix.ctl_binary(), "approvals", *args], capture_output=True,
                          text=True, timeout=60, env=e)


def check_ctl(rg, iss):
    alice = iss.token(sub="alice", groups="reviewers")
    env = {"RINGGATE_CONFIG": rg.config_path, "RINGGATE_TOKEN": alice}
    r6 = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-6",
                                 sql="DELETE FROM orders\nWHERE id = 6")
    r = ctl(["list", "--json"], env)
    arr = json.loads(r.stdout) if r.returncode == 0 else None
    check(isinstance(arr, list) and all("id" in a and "status" in a for a in arr) and
          any(a["id"] == r6 and a["status"] == "pending" for a in arr),
          "ringgatectl approvals list --json: an array of requests with id and status "
          "($RINGGATE_CONFIG, $RINGGATE_TOKEN)")
    r = ctl(["list", "--status", "pending"], env)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith(r6)), "")
    check(r.returncode == 0 and r.stdout.startswith("ID") and "pending" in line and
          "agent-6" in line and "DELETE FROM orders WHERE id = 6" in line,
          "approvals list: one line per request")
    r = ctl(["show", r6], env)
    check(r.returncode == 0 and "statement\nDELETE FROM orders\nWHERE id = 6" in r.stdout and
          "reviewers" in r.stdout, "approvals show ID")
    r = ctl(["approve", r6, "--reason", "checked by hand"], env)
    check(r.returncode == 0 and "approved" in r.stdout and
          adminfix.stored_status(rg, r6) == "approved", "approvals approve ID --reason")
    r = ctl(["approve", r6, "--reason", "again"], env)
    check(r.returncode == 1 and "HTTP 409" in r.stderr and alice not in r.stderr,
          f"approving twice: exit 1, the API's error and status ({r.stderr.strip()})")
    r7 = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-7")
    r = ctl(["deny", r7, "--reason", "no", "--config", rg.config_path, "--token", alice])
    check(r.returncode == 0 and adminfix.stored_status(rg, r7) == "denied",
          "approvals deny ID with --config and --token")
    r = ctl(["list"], env, RINGGATE_TOKEN="bad")
    check(r.returncode == 1 and "authentication failed (HTTP 401)" in r.stderr,
          "a bad token: exit 1, authentication failed")
    r = ctl(["list"], {"RINGGATE_CONFIG": rg.config_path})
    check(r.returncode == 2 and "RINGGATE_TOKEN" in r.stderr, "no token: usage error")
    r = ctl(["approve", r7], env)
    check(r.returncode == 2, "approve without --reason: usage error")
    r = ctl(["show", "nothex"], env)
    check(r.returncode == 2, "a malformed id: usage error")


def check_tls(pg, iss, work):
    d = os.path.join(work, "tls")
    os.makedirs(d)
    key, crt = os.path.join(d, "admin.key"), os.path.join(d, "admin.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    port = rgtest.free_port()
    cc = os.path.join(work, "cc")
    os.makedirs(cc)

    def check_config(admin, **extra):
        path, _ = rgtest.write_ringgate_config(pg, cc, identity=iss.identity(),
                                               extra={"admin": admin, **extra})
        return subprocess.run([rgtest.ringgate_binary(), "--check-config", path],
                              capture_output=True, text=True, timeout=60)
    r = check_config({"address": f"127.0.0.1:{port}", "tls": {"cert": crt, "key": key}})
    check(r.returncode == 0, f"--check-config reads admin.tls's files ({r.stderr.strip()})")
    r = check_config({"address": f"127.0.0.1:{port}",
                      "tls": {"cert": crt, "key": key + ".missing"}})
    check(r.returncode == 1 and "admin.tls:" in r.stderr and ".missing" in r.stderr,
          "--check-config refuses a missing admin.tls.key")
    r = check_config({"address": f"127.0.0.1:{port}"}, state_dir="no-such-dir/state")
    check(r.returncode == 1 and "state_dir" in r.stderr,
          "--check-config refuses an admin section without a usable state_dir")
    admin = {"address": f"127.0.0.1:{port}", "tls": {"cert": crt, "key": key}}
    with rgtest.Ringgate(pg, identity=iss.identity(), extra={"admin": admin}) as rg:
        api = adminfix.Admin(port, tls_ca=crt)
        api.wait()
        st, doc, _ = api.get("/healthz")
        check(st == 200 and doc == {"status": "ok"}, "admin.tls: /healthz over HTTPS")
        st, doc, _ = api.get("/api/approvals", token=iss.token(sub="a", groups="reviewers"))
        check(st == 200 and doc["approvals"] == [] and
              doc.get("now_ms"), "admin.tls: the API over HTTPS")
        plain = adminfix.Admin(port)
        try:
            st = plain.get("/healthz")[0]
        except Exception:  # noqa: BLE001 -- any failure is the point
            st = None
        check(st != 200, "admin.tls: plain HTTP is not served")
        r = ctl(["list", "--json", "--cacert", crt],
                {"RINGGATE_CONFIG": rg.config_path,
                 "RINGGATE_TOKEN": iss.token(sub="a", groups="reviewers")})
        check(r.returncode == 0 and json.loads(r.stdout) == [],
              f"ringgatectl over https with --cacert ({r.stderr.strip()})")
        check("event=admin_started" in pgfix.log_text(rg) and
              f"url=https://127.0.0.1:{port}" in pgfix.log_text(rg),
              "the start line says tls and the https URL")
        rc = rg.stop()
    check(rc == 0, f"ringgate with admin.tls exits 0 ({rc})")


def main():
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        other = pgfix.Issuer(issuer="https://not-configured.ringgate.test/")
        work = tempfile.mkdtemp(prefix="rgtest-admin-")
        try:
            bundle = build_bundle(work)
            live = os.path.join(work, "live.rgb")
            shutil.copy(bundle, live)
            port = rgtest.free_port()
            admin = {"address": f"127.0.0.1:{port}", "operators": ["ops"]}
            rg = pgfix.start(pg, iss, policy={"bundle": live}, extra={"admin": admin})
            try:
                api = adminfix.Admin(port)
                api.wait()
                st, doc, _ = api.get("/healthz")
                check(st == 200 and doc == {"status": "ok"}, "GET /healthz: 200 without a token")
                st, doc, _ = api.get("/readyz")
                check(st == 200 and doc == {"status": "ready"}, "GET /readyz: ready")
                st, doc, _ = api.request("HEAD", "/healthz")
                check(st == 200 and doc is None, "HEAD /healthz: 200, no body")
                check_auth(api, rg, iss, other)
                check_reload(api, rg, iss, live, bundle)
                check_approvals(api, rg, iss)
                check_ctl(rg, iss)
                rc = rg.stop()
                check(rc == 0, f"ringgate exits 0 after all of it (ASan clean) ({rc})")
            finally:
                rg.stop()
            check_tls(pg, iss, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            other.stop()
            iss.stop()


if __name__ == "__main__":
    main()
