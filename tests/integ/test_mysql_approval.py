#!/usr/bin/env python3
"""Statements held for approval on MySQL sessions, as on PostgreSQL's (issue #14, "JIT
approval and limits work as on PostgreSQL"; docs/mysql.md "Approvals").

A real MariaDB 10.11 behind ringgate (TLS listener, rules/baseline plus a pack holding
UPDATE of orders, expiring after 3 s, and DELETE of stock with fingerprint-scoped approvals),
an audit trail, and the agents PyMySQL and the mariadb CLI:
- nobody decides: the COM_QUERY waits, then fails when its request expires with ringgate's
  ERR 1142 naming the rule; nothing reached the server and the session goes on; a held
  COM_STMT_PREPARE likewise;
- inside a transaction the failed statement leaves the transaction open, as MySQL leaves it
  after a statement it refuses: what ran before it and after it commits;
- a reviewer denies through the admin API: ERR 1142 with the reviewer and the reason;
- a reviewer approves: the statement runs (PyMySQL; the mariadb CLI, which simply waits);
  with scope fingerprint, the same shape with another literal runs at once afterwards;
- the agent hangs up while held: the request is abandoned; KILL QUERY from another session
  of the same identity withdraws it (the held statement fails with 1317, the session goes
  on);
- other sessions run while one is held; a command pipelined behind a held one runs after it,
  in order;
- the trail has each held stmt (verdict hold, its approval id) and its approval_outcome
  (protocol mysql); /metrics counts the outcomes with protocol="mysql".
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import adminfix  # noqa: E402
import mariadb  # noqa: E402
import rgtest  # noqa: E402
from adminfix import statuses, wait_status, wait_pending  # noqa: E402
from pgfix import wait_log  # noqa: E402
from rgtest import check  # noqa: E402
from test_mysql_audit import (Stack, records, stop_rg, value, prepare_stmt,  # noqa: E402
                              execute_stmt)
from test_mysql_gateway import Certs  # noqa: E402
from test_mysql_policy import prepare  # noqa: E402

pymysql = mariadb.require_pymysql()

PACK = adminfix.orders_pack("3s", more="""  - id: t.stock-deletes
    description: a reviewer may approve a shape of DELETE for a while
    sql: {operation: delete, tables: [stock]}
    action: require_approval
    approval: {group: reviewers, ttl: 10m, scope: fingerprint, expires: 1m}
    tests:
      - sql: "DELETE FROM stock WHERE id = 1"
        expect: hold
""")


class Held:
    """A statement run on its own connection in a thread: .result ("ok" or the exception)
    once it ends; .took its seconds."""

    def __init__(self, st, token, sql):
        self.result, self.took = None, None
        self.conn = st.connect(token)
        self.thread = threading.Thread(target=self._run, args=(sql,))
        self.thread.start()

    def _run(self, sql):
        t0 = time.monotonic()
        try:
            with self.conn.cursor() as c:
                c.execute(sql)
            self.result = "ok"
        except Exception as e:  # noqa: BLE001
            self.result = e
        self.took = time.monotonic() - t0

    def join(self, timeout=30):
        self.thread.join(timeout)
        return self.result


def err_of(res):
    return res.args if isinstance(res, pymysql.err.MySQLError) else (None, repr(res))


def main():
    certs = Certs()
    db = mariadb.MariaServer()
    iss = rgtest.DevIssuer()
    try:
        db.start()
        db.sql("CREATE TABLE orders (id INT PRIMARY KEY, n INT) ENGINE=InnoDB; "
               "INSERT INTO orders VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0); "
               "CREATE TABLE stock (id INT PRIMARY KEY) ENGINE=InnoDB; "
               "INSERT INTO stock SELECT seq FROM seq_1_to_10", database=db.database)
        with tempfile.TemporaryDirectory(prefix="rgtest-myappr-") as d:
            pack = os.path.join(d, "t.yaml")
            with open(pack, "w") as f:
                f.write(PACK)
            bundle = rgtest.compile_bundle(["rules/baseline", pack], os.path.join(d, "b.rgb"))
            plain = rgtest.compile_bundle(["rules/baseline"], os.path.join(d, "plain.rgb"))
            st = Stack(d, db, certs, iss, bundle)
            try:
                run(st, db, iss)
                reload_part(st, db, iss, bundle, plain, d)
            finally:
                log = stop_rg(st.rg)
            check(not rgtest.sanitizer_reports(log), "no sanitizer report")
            trail_part(st)
    finally:
        for x in (iss, db, certs):
            try:
                x.stop()
            except Exception:
                pass
    print("ok")


def n_of(db, oid):
    return db.sql(f"SELECT n FROM orders WHERE id = {oid}", database=db.database).strip()


def run(st, db, iss):
    store = os.path.join(st.rg.workdir, "state", "control.db")
    admin = adminfix.Admin(st.rg.admin_port)
    reviewer = iss.token(sub="rev-1", groups="reviewers")
    tok = iss.token(sub="agent-my")

    # expiry: the COM_QUERY waits, then ERR 1142 naming the rule; nothing ran
    conn = st.connect(tok)
    t0 = time.monotonic()
    try:
        with conn.cursor() as c:
            c.execute("UPDATE orders SET n = n + 1 WHERE id = 1")
        got = None
    except pymysql.err.MySQLError as e:
        got = e.args
    took = time.monotonic() - t0
    check(got and got[0] == 1142 and "t.orders-updates" in got[1] and "expired" in got[1],
          f"held, then expired: ERR 1142 naming the rule ({got})")
    check(2.5 <= took < 10, f"it waited for the expiry ({took:.1f}s)")
    check(n_of(db, 1) == "0", "the held statement never reached the server")
    check(list(statuses(store).values()) == ["expired"],
          f"the request expired in the store ({statuses(store)})")
    with conn.cursor() as c:
        c.execute("SELECT 1")
        check(c.fetchall() == ((1,),), "the session goes on after the expiry")
    # a held COM_STMT_PREPARE expires the same way
    e = prepare(conn, "UPDATE orders SET n = ? WHERE id = 2")
    check(e is not None and e.args[0] == 1142 and "expired" in e.args[1],
          f"a held PREPARE fails at expiry ({e})")

    # in a transaction: the failed statement leaves it open, as MySQL does
    conn.autocommit(False)
    with conn.cursor() as c:
        c.execute("INSERT INTO orders VALUES (100, 0)")
        try:
            c.execute("UPDATE orders SET n = 7 WHERE id = 3")
            got = None
        except pymysql.err.MySQLError as e:
            got = e.args
        check(got and got[0] == 1142 and "expired" in got[1], f"in a transaction ({got})")
        c.execute("SELECT @@in_transaction")
        check(c.fetchall() == ((1,),), "the transaction is still open after the failure")
        c.execute("INSERT INTO orders VALUES (101, 0)")
    conn.commit()
    conn.autocommit(True)
    check(db.sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM orders WHERE id >= 100",
                 database=db.database).strip() == "100,101" and n_of(db, 3) == "0",
          "what ran before and after the failed statement committed; it did not")
    db.sql("DELETE FROM orders WHERE id >= 100", database=db.database)
    conn.close()

    # other sessions go on while one is held; a reviewer denies it
    h = Held(st, tok, "UPDATE orders SET n = 9 WHERE id = 4")
    req = wait_pending(admin, reviewer, lambda x: "n = 9" in x["sql"])
    check(req is not None and req["rule"] == "t.orders-updates", f"pending ({req})")
    other = st.connect(tok)
    with other.cursor() as c:
        c.execute("SELECT COUNT(*) FROM orders")
        check(c.fetchall() == ((5,),), "another session runs while one is held")
    other.close()
    code, body, _ = admin.request("POST", f"/api/approvals/{req['id']}/deny", token=reviewer,
                                  body={"reason": "not during the freeze"})
    res = h.join()
    got = err_of(res)
    check(code == 200 and got[0] == 1142 and "rev-1" in got[1] and "not during the freeze"
          in got[1] and "t.orders-updates" in got[1],
          f"denied by the reviewer: ERR 1142 with who and why ({code}, {got})")
    check(n_of(db, 4) == "0", "the denied statement did not run")
    with h.conn.cursor() as c:
        c.execute("SELECT 2")
        check(c.fetchall() == ((2,),), "the session goes on after the denial")
    h.conn.close()

    # approved: it runs (PyMySQL)
    h = Held(st, tok, "UPDATE orders SET n = 5 WHERE id = 5")
    req = wait_pending(admin, reviewer, lambda x: "n = 5" in x["sql"])
    code, _, _ = admin.request("POST", f"/api/approvals/{req['id']}/approve", token=reviewer,
                               body={"reason": "ok"})
    check(code == 200 and h.join() == "ok" and n_of(db, 5) == "5",
          f"approved: the statement ran ({code}, {h.result})")
    h.conn.close()

    # a command pipelined behind a held one waits behind it, then runs in order
    def cmd(body):
        return struct.pack("<I", len(body))[:3] + b"\x00" + body
    p = st.connect(tok)
    p._sock.sendall(cmd(b"\x03UPDATE orders SET n = 44 WHERE id = 4") +
                    cmd(b"\x03SELECT n FROM orders WHERE id = 4"))
    req = wait_pending(admin, reviewer, lambda x: "n = 44" in x["sql"])
    check(req is not None and n_of(db, 4) == "0", "held, with a SELECT pipelined behind it")
    admin.request("POST", f"/api/approvals/{req['id']}/approve", token=reviewer,
                  body={"reason": "pipeline"})
    p._next_seq_id = 1
    ok = p._read_packet()
    check(ok.is_ok_packet(), "approved: the UPDATE's OK first")
    p._next_seq_id = 1
    p._read_packet()  # column count
    p._read_packet()  # its definition
    if not p.client_flag & (1 << 24):
        p._read_packet()  # EOF
    row = p._read_packet().read_length_coded_string()
    check(row == b"44", f"then the pipelined SELECT's answer, after the UPDATE ran ({row})")
    p._sock.shutdown(socket.SHUT_RDWR)
    p._sock.close()

    # the mariadb CLI waits for the reviewer like any client
    cli = shutil.which("mariadb")
    if cli:
        env = dict(os.environ, MYSQL_PWD=tok)
        p = subprocess.Popen([cli, "--no-defaults", "-h127.0.0.1", f"-P{st.rg.port}", "-ushop",
                              f"--ssl-ca={st.certs.ca}", "--default-auth=mysql_clear_password",
                              "-N", "-B", "-e", "UPDATE orders SET n = 6 WHERE id = 2; "
                              "SELECT n FROM orders WHERE id = 2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        req = wait_pending(admin, reviewer, lambda x: "n = 6" in x["sql"])
        time.sleep(1.0)  # the CLI has been waiting a while
        admin.request("POST", f"/api/approvals/{req['id']}/approve", token=reviewer,
                      body={"reason": "cli"})
        out, errs = p.communicate(timeout=60)
        check(p.returncode == 0 and out.strip() == "6",
              f"the mariadb CLI waited, then its statement ran ({p.returncode}, {errs})")
    else:
        print("# note: the mariadb CLI part needs the mariadb client (not installed)")

    # scope fingerprint: approved once, the same shape runs at once for the same identity
    h = Held(st, tok, "DELETE FROM stock WHERE id = 1")
    req = wait_pending(admin, reviewer, lambda x: x["rule"] == "t.stock-deletes")
    admin.request("POST", f"/api/approvals/{req['id']}/approve", token=reviewer,
                  body={"reason": "cleanup"})
    check(h.join() == "ok", f"approved delete ran ({h.result})")
    h.conn.close()
    conn = st.connect(tok)
    t0 = time.monotonic()
    with conn.cursor() as c:
        c.execute("DELETE FROM stock WHERE id = 2")
    check(time.monotonic() - t0 < 2, "the same shape with another literal runs at once")
    check(db.sql("SELECT COUNT(*) FROM stock", database=db.database).strip() == "8",
          "both deletes ran once")
    # ... but not for another identity
    h = Held(st, iss.token(sub="agent-other"), "DELETE FROM stock WHERE id = 3")
    req = wait_pending(admin, reviewer, lambda x: x["subject"] == "agent-other")
    check(req is not None, "another identity's same shape waits for its own approval")
    admin.request("POST", f"/api/approvals/{req['id']}/deny", token=reviewer,
                  body={"reason": "no"})
    check(err_of(h.join())[0] == 1142, "denied")
    h.conn.close()

    # the agent hangs up while held: abandoned
    from pymysql.constants import COMMAND
    conn._execute_command(COMMAND.COM_QUERY, "UPDATE orders SET n = 8 WHERE id = 1")
    req = wait_pending(admin, reviewer, lambda x: "n = 8" in x["sql"])
    conn._sock.shutdown(socket.SHUT_RDWR)  # (PyMySQL's reader keeps the fd open)
    conn._sock.close()
    check(req and wait_status(store, req["id"], "abandoned") == "abandoned",
          "the agent hung up: abandoned")

    # KILL QUERY from another session of the same identity withdraws it
    a = st.connect(tok)
    a._execute_command(COMMAND.COM_QUERY, "UPDATE orders SET n = 3 WHERE id = 1")
    req = wait_pending(admin, reviewer, lambda x: "n = 3" in x["sql"])
    b = st.connect(tok)
    with b.cursor() as c:
        c.execute(f"KILL QUERY {a.thread_id()}")
    b.close()
    try:
        a._read_query_result()
        got = None
    except pymysql.err.MySQLError as e:
        got = e.args
    check(got and got[0] == 1317 and "withdrawn" in got[1], f"KILL QUERY: 1317 ({got})")
    check(req and wait_status(store, req["id"], "withdrawn") == "withdrawn",
          "the request is withdrawn")
    with a.cursor() as c:
        c.execute("SELECT n FROM orders WHERE id = 1")
        check(c.fetchall() == ((0,),), "the session goes on; nothing ran")
    a.close()

    m = st.scrape()
    for outcome in ("approved", "denied", "expired", "abandoned", "withdrawn"):
        v = value(m, "ringgate_approvals_total", protocol="mysql", outcome=outcome)
        check(v is not None and v >= 1, f"/metrics approvals {outcome} protocol=mysql: {v}")


def reload_part(st, db, iss, bundle, plain, d):
    """A statement prepared under a bundle that lets it through is judged again at its
    EXECUTE under the one in force: held, then approved, it runs."""
    admin = adminfix.Admin(st.rg.admin_port)
    reviewer = iss.token(sub="rev-1", groups="reviewers")
    keep = os.path.join(d, "held.rgb")
    shutil.copy(bundle, keep)
    shutil.copy(plain, bundle)
    st.rg.proc.send_signal(signal.SIGHUP)
    check(wait_log(st.rg, "event=policy_reloaded generation=2"), "reloaded (no holds)")
    conn = st.connect(iss.token(sub="agent-my"))
    sid = prepare_stmt(conn, "UPDATE orders SET n = ? WHERE id = 3")
    shutil.copy(keep, bundle)
    st.rg.proc.send_signal(signal.SIGHUP)
    check(wait_log(st.rg, "event=policy_reloaded generation=3"), "reloaded (holds again)")
    res = {}

    def execute():
        try:
            execute_stmt(conn, sid, [11])
            res["ok"] = True
        except Exception as e:  # noqa: BLE001
            res["err"] = e
    th = threading.Thread(target=execute)
    th.start()
    req = wait_pending(admin, reviewer, lambda x: "n = ?" in x["sql"] and "id = 3" in x["sql"])
    check(req is not None and n_of(db, 3) == "0", f"the EXECUTE is held ({req})")
    admin.request("POST", f"/api/approvals/{req['id']}/approve", token=reviewer,
                  body={"reason": "reload"})
    th.join(30)
    check(res.get("ok") and n_of(db, 3) == "11", f"approved, the EXECUTE ran ({res})")
    execute_stmt(conn, sid, [12])
    check(n_of(db, 3) == "12", "its next EXECUTE under the same bundle runs without waiting")
    conn.close()


def trail_part(st):
    recs = [r for r in records(st.trail) if r.get("protocol") == "mysql"]
    held = [r for r in recs if r["event"] == "stmt" and r.get("verdict") == "hold"]
    outs = [r for r in recs if r["event"] == "approval_outcome"]
    check(len(held) >= 8 and all(r.get("approval") and r.get("rule") for r in held),
          f"held statements are in the trail with their approval ids ({len(held)})")
    by = {r["approval"]: r for r in outs}
    kinds = sorted({r.get("outcome") for r in outs})
    check({"approved", "denied", "expired", "abandoned", "withdrawn"} <= set(kinds),
          f"every outcome recorded ({kinds})")
    check(all(r["approval"] in by for r in held), "each held statement has its outcome")
    appr = [r for r in held if by[r["approval"]]["outcome"] == "approved"]
    ends = {(r["session"], r["n"]) for r in recs if r["event"] == "stmt_end"}
    check(appr and all((r["session"], r["n"]) in ends for r in appr),
          "an approved statement's stmt_end follows when it ran")
    denied = next(r for r in outs if r["outcome"] == "denied")
    check(denied.get("reviewer") == "rev-1" and denied.get("reason"),
          f"the denial names the reviewer and the reason ({denied})")


if __name__ == "__main__":
    main()
