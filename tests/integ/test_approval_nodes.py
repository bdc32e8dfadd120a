#!/usr/bin/env python3
"""Two ringgate nodes sharing a control PostgreSQL (issue #11; docs/pg.md "Approval").

Node A and node B front the same target and keep requests in one shared control store
(`control: postgres://...`, LISTEN/NOTIFY). A statement held in a session on node A shows up
in node B's approvals API; approved through node B, it is released on A and runs; denied
through B, A's client gets the reviewer's reason. A restart of node A abandons what A held,
not what B holds.
"""
import json
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import adminfix  # noqa: E402
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

PACK = adminfix.orders_pack("2m")


def held_update(rg, tok, sql, res):
    conn = pgfix.connect(rg, tok)
    conn.autocommit = True
    try:
        conn.cursor().execute(sql)
        res["ok"] = True
    except Exception as e:  # noqa: BLE001
        res["err"] = e
    finally:
        conn.close()


def pending_on(admin, tok, sql, timeout=20.0):
    """The id of the pending request for sql, as node `admin` lists it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st, body, _ = admin.request("GET", "/api/approvals?status=pending", token=tok)
        if st == 200:
            for a in body["approvals"]:
                if a["sql"] == sql:
                    return a["id"]
        time.sleep(0.2)
    return None


def main():
    with rgtest.PgServer() as pg, rgtest.PgServer(user="control", database="control") as cpg:
        pg.psql("CREATE TABLE orders (id int PRIMARY KEY, n int); "
                "INSERT INTO orders SELECT g, 0 FROM generate_series(1, 5) g")
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rgtest-nodes-") as d:
            pack = os.path.join(d, "t.yaml")
            with open(pack, "w") as f:
                f.write(PACK)
            bundle = rgtest.compile_bundle(["rules/baseline", pack], os.path.join(d, "b.rgb"))
            shared = {"control": f"postgresql://{cpg.user}:{cpg.password}@{cpg.host}:"
                                 f"{cpg.port}/{cpg.database}"}
            a = pgfix.start(pg, iss, policy={"bundle": bundle}, extra=shared)
            b = pgfix.start(pg, iss, policy={"bundle": bundle}, extra=shared)
            agent = iss.token()
            reviewer = iss.token(sub="rev-1", groups="reviewers")
            admin_b = adminfix.Admin(b.admin_port)

            # held on A, approved through B: released on A
            sql = "UPDATE orders SET n = n + 1 WHERE id = 1"
            res = {}
            th = threading.Thread(target=held_update, args=(a, agent, sql, res))
            th.start()
            rid = pending_on(admin_b, reviewer, sql)
            check(rid is not None, "node B lists the request held on node A")
            check(pg.psql("SELECT n FROM orders WHERE id = 1").stdout.strip() == "0",
                  "held: nothing ran yet")
            st, body, _ = admin_b.request("POST", f"/api/approvals/{rid}/approve",
                                          token=reviewer, body=json.dumps({"reason": "ok"}))
            check(st == 200 and body.get("status") == "approved",
                  f"approved through node B ({st} {body})")
            th.join(20)
            check(res.get("ok") is True, f"released on node A: it ran ({res})")
            check(pg.psql("SELECT n FROM orders WHERE id = 1").stdout.strip() == "1",
                  "the statement ran once")
            check(pgfix.wait_log(a, f"event=approval_approved id={rid}"),
                  "node A logs the outcome it acted on")

            # held on A, denied through B: A's client gets the reason
            sql2 = "UPDATE orders SET n = n + 1 WHERE id = 2"
            res = {}
            th = threading.Thread(target=held_update, args=(a, agent, sql2, res))
            th.start()
            rid2 = pending_on(admin_b, reviewer, sql2)
            st, body, _ = admin_b.request("POST", f"/api/approvals/{rid2}/deny",
                                          token=reviewer,
                                          body=json.dumps({"reason": "not during the sale"}))
            check(st == 200 and body.get("status") == "denied", f"denied through B ({st})")
            th.join(20)
            err = res.get("err")
            check(err is not None and "not during the sale" in str(err) and
                  getattr(err, "pgcode", None) == "42501",
                  f"node A's client gets the reviewer's reason ({err!r})")

            # a restart of A abandons what A holds, not what B holds
            res_a, res_b = {}, {}
            ta = threading.Thread(target=held_update,
                                  args=(a, agent, "UPDATE orders SET n = 7 WHERE id = 3",
                                        res_a))
            tb = threading.Thread(target=held_update,
                                  args=(b, agent, "UPDATE orders SET n = 7 WHERE id = 4",
                                        res_b))
            ta.start()
            tb.start()
            ra = pending_on(admin_b, reviewer, "UPDATE orders SET n = 7 WHERE id = 3")
            rb = pending_on(admin_b, reviewer, "UPDATE orders SET n = 7 WHERE id = 4")
            check(ra and rb, "one request held on each node")
            a.proc.kill()
            a.proc.wait()
            ta.join(20)
            import subprocess
            log2 = os.path.join(a.workdir, "restart.log")
            with open(log2, "wb") as lf:
                p2 = subprocess.Popen(a.argv_fn(rgtest.ringgate_binary(), a.config_path),
                                      stdout=lf, stderr=subprocess.STDOUT, cwd=a.workdir)
            try:
                rgtest.wait_port(a.host, a.port, 30, p2)
                deadline = time.monotonic() + 20
                sa = sb = None
                while time.monotonic() < deadline:
                    sa = admin_b.request("GET", f"/api/approvals/{ra}", token=reviewer)[1]
                    sb = admin_b.request("GET", f"/api/approvals/{rb}", token=reviewer)[1]
                    if sa.get("status") == "abandoned":
                        break
                    time.sleep(0.2)
                check(sa.get("status") == "abandoned" and sb.get("status") == "pending",
                      f"A's request abandoned at A's restart, B's still pending "
                      f"({sa.get('status')}, {sb.get('status')})")
            finally:
                p2.terminate()
                p2.wait(10)
            st, body, _ = admin_b.request("POST", f"/api/approvals/{rb}/approve",
                                          token=reviewer, body=json.dumps({"reason": "ok"}))
            tb.join(20)
            check(res_b.get("ok") is True, f"B's own held statement released ({res_b})")
            b.stop()
    print("ok")


if __name__ == "__main__":
    main()
