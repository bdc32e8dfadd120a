#!/usr/bin/env python3
"""Statements held for approval inside live sessions (issue #11; docs/pg.md "Approval").

A rule with action require_approval (UPDATE of orders, expires 3s) holds the statement in the
agent's session: the agent gets a NOTICE naming the request, nothing reaches PostgreSQL, the
request is pending in the control store (state_dir/control.db), and other sessions go on.
Against a real PostgreSQL 15 and the real ringgate:
- nobody decides: the statement fails when the request expires, as a denial does (inside a
  transaction block the transaction is failed exactly as PostgreSQL fails it), and the
  session goes on;
- the client cancels (psycopg2's cancel, a real CancelRequest): 57014, request withdrawn;
- the client hangs up: the request is abandoned;
- an extended-protocol pipeline (Parse/Bind/Execute/Sync, then a Query) held behind the
  Parse: one error for the pipeline, then the Query runs;
- scope fingerprint: approved once through the admin listener, the same statement shape
  runs at once afterwards for the same identity;
- a reload while it waits: approved, it is still denied by the bundle now in force;
- a restart leaves nothing pending;
- a webhook hears of each request (Slack-compatible JSON with its URL), retried after a
  failed delivery.
Approve and deny go through the admin listener (tests of the admin API).
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import json
from http.server import BaseHTTPRequestHandler, HTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import adminfix  # noqa: E402
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from adminfix import statuses, wait_status  # noqa: E402
from pgfix import check  # noqa: E402
from test_clients_bad_input import (raw_login, read_reply, msg, read_msg,  # noqa: E402
                                    error_fields)

PACK = adminfix.orders_pack("3s", more="""  - id: t.stock-deletes
    description: a reviewer may approve a shape of DELETE for a while
    sql: {operation: delete, tables: [stock]}
    action: require_approval
    approval: {group: reviewers, ttl: 10m, scope: fingerprint, expires: 1m}
    tests:
      - sql: "DELETE FROM stock WHERE id = 1"
        expect: hold
""")


class Hook(BaseHTTPRequestHandler):
    """A webhook receiver: the first POST fails (500), the next ones are kept (200)."""
    got, calls = [], [0]

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Hook.calls[0] += 1
        if Hook.calls[0] == 1:
            self.send_response(500)
        else:
            Hook.got.append(json.loads(body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def parse(name, sql):
    return msg(b"P", name + b"\0" + sql + b"\0" + struct.pack("!h", 0))


def main():
    with rgtest.PgServer() as pg:
        pg.psql("CREATE TABLE stock (id int PRIMARY KEY); "
                "INSERT INTO stock SELECT generate_series(1, 10); "
                "CREATE TABLE orders (id int PRIMARY KEY, n int); "
                "INSERT INTO orders SELECT g, 0 FROM generate_series(1, 5) g")
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rgtest-appr-") as d:
            pack = os.path.join(d, "t.yaml")
            with open(pack, "w") as f:
                f.write(PACK)
            bundle = rgtest.compile_bundle(["rules/baseline", pack], os.path.join(d, "b.rgb"))
            hook = HTTPServer(("127.0.0.1", 0), Hook)
            threading.Thread(target=hook.serve_forever, daemon=True).start()
            rg = pgfix.start(pg, iss, policy={"bundle": bundle}, extra={"approvals": {
                "webhooks": [f"http://127.0.0.1:{hook.server_address[1]}/hook"],
                "webhook_timeout": "2s"}})
            db = os.path.join(rg.workdir, "state", "control.db")
            tok = iss.token()
            env = rg.env("agent-1", tok)

            # expiry: psql waits, sees the notice, then the denial; nothing ran
            t0 = time.monotonic()
            r = rgtest.run_psql("UPDATE orders SET n = n + 1 WHERE id = 1", env, check=False)
            took = time.monotonic() - t0
            check(r.returncode != 0 and "waiting for approval" in r.stderr and
                  "t.orders-updates" in r.stderr and "expired" in r.stderr,
                  f"held, then expired ({r.stderr.strip()})")
            check(2.5 <= took < 10, f"it waited for the expiry ({took:.1f}s)")
            check(pg.psql("SELECT n FROM orders WHERE id = 1").stdout.strip() == "0",
                  "the held statement never reached PostgreSQL")
            st = statuses(db)
            check(list(st.values()) == ["expired"], f"the request expired in the store ({st})")
            check(pgfix.wait_log(rg, "event=stmt_held") and
                  pgfix.wait_log(rg, "event=approval_expired"), "held and expiry logged")
            # the webhook heard of it: its first answer was 500, the retry delivered
            rid0 = list(st)[0]
            deadline = time.monotonic() + 10
            while not Hook.got and time.monotonic() < deadline:
                time.sleep(0.1)
            check(Hook.calls[0] >= 2 and Hook.got and
                  Hook.got[0]["approval"]["id"] == rid0 and
                  rid0 in Hook.got[0]["text"] and "/#/approvals/" + rid0 in Hook.got[0]["text"]
                  and Hook.got[0]["approval"]["sql"].startswith("UPDATE orders"),
                  f"webhook: retried after a 500, Slack-style text with the URL ({Hook.got})")

            # inside a transaction block: failed as PostgreSQL fails a statement in error
            conn = pgfix.connect(rg, tok)
            cur = conn.cursor()
            cur.execute("INSERT INTO orders VALUES (100, 0)")
            try:
                cur.execute("UPDATE orders SET n = 7 WHERE id = 3")
                check(False, "the held UPDATE fails at expiry")
            except Exception as e:  # noqa: BLE001
                check("expired" in str(e), f"in a transaction: expired ({e})")
            try:
                cur.execute("SELECT 1")
                check(False, "the transaction is failed")
            except Exception as e:  # noqa: BLE001
                check(getattr(e, "pgcode", None) == "25P02", f"then 25P02 ({e.pgcode})")
            conn.rollback()
            cur.execute("INSERT INTO orders VALUES (101, 0)")
            conn.commit()
            conn.close()
            check(pg.psql("SELECT string_agg(id::text, ',') FROM orders WHERE id >= 100")
                  .stdout.strip() == "101",
                  "nothing of the failed transaction was committed; the session went on")
            pg.psql("DELETE FROM orders WHERE id >= 100")

            # other sessions go on while one is held
            conn = pgfix.connect(rg, tok)
            conn.autocommit = True
            res = {}

            def held():
                try:
                    conn.cursor().execute("UPDATE orders SET n = 9 WHERE id = 4")
                    res["ok"] = True
                except Exception as e:  # noqa: BLE001
                    res["err"] = e
            th = threading.Thread(target=held)
            th.start()
            time.sleep(0.8)
            other = rgtest.run_psql("SELECT count(*) FROM orders", env)
            check(other.stdout.strip() == "5", "another session runs while one is held")
            # the client cancels: withdrawn, 57014
            conn.cancel()
            th.join(10)
            err = res.get("err")
            check(err is not None and getattr(err, "pgcode", None) == "57014",
                  f"cancel while held: 57014 ({err!r})")
            check(pgfix.wait_log(rg, "reach=held_statement_only"),
                  "nothing ran ahead of it: the cancel did not go to PostgreSQL")
            cur = conn.cursor()
            cur.execute("SELECT 1")
            check(cur.fetchone() == (1,), "the session goes on after the withdrawal")
            conn.close()
            time.sleep(0.3)
            check(sorted(statuses(db).values()).count("withdrawn") == 1,
                  f"the request is withdrawn ({statuses(db)})")

            # hang-up while held: abandoned
            ok, s = raw_login(rgtest.Endpoint(rg.host, rg.port, "agent-1", None,
                                              rg.config["targets"][0]["name"]), tok)[:2]
            check(ok, "raw login")
            s.sendall(msg(b"Q", b"UPDATE orders SET n = 3 WHERE id = 5\0"))
            t, body = read_msg(s)
            check(t == b"N" and b"waiting for approval" in body, f"a NOTICE first ({body!r})")
            rid = body.split(b"waiting for approval ")[1].split(b" ")[0].decode()
            check(wait_status(db, rid, "pending") == "pending", "pending in the store")
            s.close()
            check(wait_status(db, rid, "abandoned") == "abandoned",
                  "the client hung up: abandoned")

            # a pipeline held behind its Parse: one error for it, the Query after it runs
            ok, s = raw_login(rgtest.Endpoint(rg.host, rg.port, "agent-1", None,
                                              rg.config["targets"][0]["name"]), tok)[:2]
            s.sendall(parse(b"", b"UPDATE orders SET n = 4 WHERE id = 5") +
                      msg(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 0)) +
                      msg(b"E", b"\0" + struct.pack("!i", 0)) + msg(b"S") +
                      msg(b"Q", b"SELECT n FROM orders WHERE id = 5\0"))
            seen, err = read_reply(s)
            check(b"N" in seen and err and "expired" in err.get("M", "") and
                  seen.count(b"E") == 1 and seen[-1] == b"Z",
                  f"the held pipeline fails once ({seen}, {err})")
            seen, err = read_reply(s)
            check(err is None and b"D" in seen, f"the Query behind it runs ({seen})")
            s.close()

            # scope fingerprint: approved once, the same shape runs without waiting for the
            # same identity (another literal), another shape still waits
            admin = adminfix.Admin(rg.admin_port)
            reviewer = iss.token(sub="rev-1", groups="reviewers")
            res = {}

            def delete(sql):
                c = pgfix.connect(rg, tok)
                c.autocommit = True
                try:
                    c.cursor().execute(sql)
                    res[sql] = "ok"
                except Exception as e:  # noqa: BLE001
                    res[sql] = e
                finally:
                    c.close()
            th = threading.Thread(target=delete, args=("DELETE FROM stock WHERE id = 1",))
            th.start()
            rid = None
            for _ in range(100):
                st_, body, _ = admin.request("GET", "/api/approvals?status=pending",
                                             token=reviewer)
                rid = next((x["id"] for x in body["approvals"] if x["rule"] ==
                            "t.stock-deletes"), None) if st_ == 200 else None
                if rid:
                    break
                time.sleep(0.1)
            st_, body, _ = admin.request("POST", f"/api/approvals/{rid}/approve",
                                         token=reviewer, body={"reason": "cleanup"})
            th.join(20)
            check(st_ == 200 and res.get("DELETE FROM stock WHERE id = 1") == "ok",
                  f"approved through the admin listener: it ran ({st_}, {res})")
            t0 = time.monotonic()
            delete("DELETE FROM stock WHERE id = 2")
            check(res.get("DELETE FROM stock WHERE id = 2") == "ok" and
                  time.monotonic() - t0 < 2 and pgfix.wait_log(rg, "event=approval_grant_used"),
                  "the same shape with another literal runs at once (fingerprint grant)")
            check(pg.psql("SELECT count(*) FROM stock").stdout.strip() == "8",
                  "both deletes ran once")

            # a reload while it waits: approved, it is still judged by the bundle in force
            deny_pack = os.path.join(d, "deny.yaml")
            with open(deny_pack, "w") as f:
                f.write("version: 1\npack: d\nrules:\n  - id: d.no-order-updates\n"
                        "    description: orders are frozen\n"
                        "    sql: {operation: update, tables: [orders]}\n"
                        "    action: deny\n    message: orders are frozen\n")
            frozen = rgtest.compile_bundle(["rules/baseline", deny_pack],
                                           os.path.join(d, "frozen.rgb"))
            held_bundle = os.path.join(d, "held.rgb")
            shutil.copy(bundle, held_bundle)
            res = {}

            def update():
                c = pgfix.connect(rg, tok)
                c.autocommit = True
                try:
                    c.cursor().execute("UPDATE orders SET n = 42 WHERE id = 4")
                    res["ok"] = True
                except Exception as e:  # noqa: BLE001
                    res["err"] = e
                finally:
                    c.close()
            th = threading.Thread(target=update)
            th.start()
            rid = None
            for _ in range(100):
                st_, body, _ = admin.request("GET", "/api/approvals?status=pending",
                                             token=reviewer)
                rid = next((x["id"] for x in body["approvals"] if "n = 42" in x["sql"]),
                           None) if st_ == 200 else None
                if rid:
                    break
                time.sleep(0.1)
            shutil.copy(frozen, bundle)
            rg.proc.send_signal(signal.SIGHUP)
            check(pgfix.wait_log(rg, "event=policy_reloaded generation=2"), "reloaded")
            st_, body, _ = admin.request("POST", f"/api/approvals/{rid}/approve",
                                         token=reviewer, body={"reason": "fine"})
            th.join(20)
            err = res.get("err")
            check(st_ == 200 and err is not None and "d.no-order-updates" in str(err) and
                  pg.psql("SELECT n FROM orders WHERE id = 4").stdout.strip() != "42",
                  f"approved, but the reloaded bundle denies it ({err!r})")
            shutil.copy(held_bundle, bundle)
            rg.proc.send_signal(signal.SIGHUP)
            check(pgfix.wait_log(rg, "event=policy_reloaded generation=3"), "reloaded back")

            # a restart: nothing held before it stays pending
            ok, s = raw_login(rgtest.Endpoint(rg.host, rg.port, "agent-1", None,
                                              rg.config["targets"][0]["name"]), tok)[:2]
            s.sendall(msg(b"Q", b"UPDATE orders SET n = 3 WHERE id = 5\0"))
            t, body = read_msg(s)
            rid = body.split(b"waiting for approval ")[1].split(b" ")[0].decode()
            check(wait_status(db, rid, "pending") == "pending", "pending")
            rg.proc.kill()
            rg.proc.wait()
            s.close()
            check(statuses(db).get(rid) == "pending", "killed while pending")
            # the same config and state_dir again
            log2 = os.path.join(rg.workdir, "restart.log")
            with open(log2, "wb") as lf:
                p2 = subprocess.Popen(rg.argv_fn(rgtest.ringgate_binary(), rg.config_path),
                                      stdout=lf, stderr=subprocess.STDOUT, cwd=rg.workdir)
            try:
                rgtest.wait_port(rg.host, rg.port, 30, p2)
                check(wait_status(db, rid, "abandoned") == "abandoned",
                      "after the restart the request is abandoned")
                with open(log2, errors="replace") as f:
                    check("event=approvals_abandoned" in f.read(), "and that is logged")
            finally:
                p2.terminate()
                p2.wait(10)
    print("ok")


if __name__ == "__main__":
    main()
