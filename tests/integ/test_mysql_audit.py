#!/usr/bin/env python3
"""MySQL sessions in the audit trail and /metrics (issues #12, #13, #14; docs/audit.md,
docs/mysql.md "Evidence").

A real MariaDB 10.11 behind ringgate (TLS listener, rules/baseline + rules/pii, an audit
trail), PyMySQL as the agent:
- an allowed SELECT with a literal, a denied DROP, a statement the server fails, and a
  prepared statement through raw COM_STMT_PREPARE / COM_STMT_EXECUTE;
- the trail (`ringgatectl audit cat` / `audit query --json`) holds auth_ok, session_start,
  each stmt (protocol mysql, identity, client, target, kind query/prepare/execute, text with
  its literals replaced, verdict, rule) and its stmt_end (rows, bytes, server time, the ERR's
  number and SQLSTATE), session_end; no literal and no token in any byte of the trail;
  `audit verify` holds; `ringgatectl sessions list` lists the session;
- two pipelined COM_QUERYs are attributed in order; a multi-statement COM_QUERY is one
  statement whose rows sum its result sets;
- a bad token leaves auth_fail with its reason; a sequence-id violation protocol_violation;
- with audit.literals: keep, the EXECUTE's binary-protocol parameters are in its stmt_end
  (strings, integers, NULL, DOUBLE, DATETIME in MySQL's text form);
- a full trail (tmpfs; skipped without mount) refuses statements with ERR 1290;
- /metrics has protocol="mysql" samples (sessions, auth, statements by verdict and rule).
"""
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import mariadb  # noqa: E402
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402
from test_mysql_gateway import Certs, _NoPg, write_secret  # noqa: E402

pymysql = mariadb.require_pymysql()

SECRET = "lit-alpha-7731"   # a literal that must never reach the trail (normalized mode)
PARAM = "param-omega-5150"  # an EXECUTE parameter (recorded only with literals: keep)


def ctl(*args):
    return subprocess.run([rgtest.ringgatectl_binary(), *args], capture_output=True,
                          text=True, timeout=120)


def records(trail):
    c = ctl("audit", "cat", "--dir", trail)
    if c.returncode != 0:
        raise AssertionError(f"audit cat failed: {c.stderr}")
    return [json.loads(line) for line in c.stdout.splitlines() if line.strip()]


def value(text, name, **labels):
    total = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total = (total or 0) + float(m.group(3))
    return total


def stop_rg(rg):
    """Stop ringgate (the trail sealed) and return its log, read before the workdir goes."""
    if rg.proc is not None and rg.proc.poll() is None:
        rg.proc.send_signal(signal.SIGTERM)
        try:
            rg.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    log = rg.log_tail(100000)
    rg.stop()
    return log


def read_until_eof(conn):
    n = 0
    while not conn._read_packet().is_eof_packet():
        n += 1
    return n


def prepare_stmt(conn, sql):
    """COM_STMT_PREPARE over PyMySQL's connection (raw packets): the statement id (4 bytes)
    once its definitions are read."""
    from pymysql.constants import COMMAND
    conn._execute_command(COMMAND.COM_STMT_PREPARE, sql)
    pkt = conn._read_packet().get_all_data()
    check(pkt[0] == 0, f"PREPARE ok: {sql}")
    sid = pkt[1:5]
    ncols = int.from_bytes(pkt[5:7], "little")
    nparams = int.from_bytes(pkt[7:9], "little")
    deprecate_eof = conn.client_flag & (1 << 24)
    for n in (nparams, ncols):
        for _ in range(n):
            conn._read_packet()
        if n and not deprecate_eof:
            conn._read_packet()
    return sid


def execute_stmt(conn, sid, params):
    """One COM_STMT_EXECUTE of statement sid with params (int, str, None or (type, bytes));
    returns the rows it returned (an ERR raises)."""
    from pymysql.constants import COMMAND
    deprecate_eof = conn.client_flag & (1 << 24)
    types, values, nulls = b"", b"", bytearray((len(params) + 7) // 8)
    for i, p in enumerate(params):
        if p is None:
            types += b"\x06\x00"
            nulls[i // 8] |= 1 << (i % 8)
        elif isinstance(p, tuple):
            types += bytes([p[0], 0])
            values += p[1]
        elif isinstance(p, int):
            types += b"\x08\x00"
            values += p.to_bytes(8, "little", signed=True)
        else:
            b = p.encode()
            types += b"\xfd\x00"
            values += bytes([len(b)]) + b
    body = sid + b"\x00" + (1).to_bytes(4, "little")
    if params:
        body += bytes(nulls) + b"\x01" + types + values
    conn._execute_command(COMMAND.COM_STMT_EXECUTE, body)
    first = conn._read_packet().get_all_data()
    rows = 0
    if first[0] not in (0, 0xff):
        read_until_eof(conn)  # definitions [+ EOF]
        if not deprecate_eof:
            rows = read_until_eof(conn)
    return rows


def prepare_execute(conn, sql, params):
    """COM_STMT_PREPARE, one COM_STMT_EXECUTE with params (int or str), COM_STMT_CLOSE over
    PyMySQL's connection (raw packets). Returns the rows the EXECUTE returned."""
    from pymysql.constants import COMMAND
    sid = prepare_stmt(conn, sql)
    rows = execute_stmt(conn, sid, params)
    conn._execute_command(COMMAND.COM_STMT_CLOSE, sid)
    return rows


class Stack:
    def __init__(self, d, db, certs, iss, bundle, audit_extra=None, trail=None):
        self.dir = d
        self.trail = trail or os.path.join(d, "trail")
        jdir = os.path.join(d, "journals")
        os.makedirs(jdir)
        key, pub = rgtest.signing_keypair(d)
        self.pub = pub
        audit = {"key_file": key, "dir": self.trail, "journal_dir": jdir}
        audit.update(audit_extra or {})
        targets = [{"name": "shop", "protocol": "mysql", "address": f"{db.host}:{db.port}",
                    "database": db.database, "user": db.native_user,
                    "password_file": write_secret(d, "n", db.native_password),
                    "tls": {"mode": "disable"}}]
        listeners = [{"name": "my", "address": f"127.0.0.1:{rgtest.free_port()}",
                      "protocol": "mysql",
                      "tls": {"cert": certs.cert, "key": certs.key}}]
        self.certs, self.iss = certs, iss
        self.rg = rgtest.Ringgate(_NoPg(), identity=iss.identity(),
                                  policy={"bundle": bundle},
                                  extra={"listeners": listeners, "targets": targets,
                                         "audit": audit})
        self.rg.start()

    def connect(self, token, **kw):
        return pymysql.connect(host="127.0.0.1", port=self.rg.port, user="shop",
                               password=token, ssl={"ca": self.certs.ca},
                               connect_timeout=10, autocommit=True, **kw)

    def scrape(self):
        rgtest.wait_port("127.0.0.1", self.rg.admin_port, 30, self.rg.proc)
        url = f"http://127.0.0.1:{self.rg.admin_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()


def session_part(d, db, certs, iss, bundle):
    st = Stack(d, db, certs, iss, bundle)
    try:
        tok = iss.token(sub="agent-my", groups="ci,etl")
        conn = st.connect(tok)
        with conn.cursor() as c:
            c.execute("CREATE TABLE IF NOT EXISTS audit_t (id INT PRIMARY KEY, "
                      "v VARCHAR(40))")
            c.execute("DELETE FROM audit_t WHERE id > 0")
            c.execute(f"INSERT INTO audit_t VALUES (1, '{SECRET}'), (2, 'other')")
            c.execute(f"SELECT id FROM audit_t WHERE v = '{SECRET}'")
            check(c.fetchall() == ((1,),), "the SELECT with a literal runs")
            c.execute("INSERT INTO audit_t VALUES (3, '4111 1111 1111 1111')")
            c.execute("SELECT v AS card_here FROM audit_t WHERE id = 3")
            got = c.fetchall()[0][0]
            check("4111 1111 1111 1111" not in got, f"the card is masked for the agent ({got})")
            c.execute("DELETE FROM audit_t WHERE id = 3")
            try:
                c.execute("DROP TABLE audit_t")
                check(False, "DROP TABLE denied")
            except pymysql.err.MySQLError as e:
                check(e.args[0] == 1142, f"DROP TABLE denied: {e.args}")
            try:
                c.execute("SELECT * FROM no_such_table_here")
                check(False, "the target fails a SELECT of a missing table")
            except pymysql.err.MySQLError as e:
                check(e.args[0] == 1146, f"the target's ERR: {e.args}")
        rows = prepare_execute(conn, "SELECT id, v FROM audit_t WHERE id >= ? AND v <> ?",
                               [1, PARAM])
        check(rows == 2, f"EXECUTE returned the rows ({rows})")
        # two commands in one write: their answers are attributed in order
        def cmd(body):
            return struct.pack("<I", len(body))[:3] + b"\x00" + body
        conn._sock.sendall(cmd(b"\x03SELECT 'pipe-one' UNION SELECT 'pipe-two'")
                           + cmd(b"\x03SELECT * FROM pipe_missing_table"))
        conn._next_seq_id = 1
        conn._read_packet()  # column count
        n = read_until_eof(conn)  # definitions [+ EOF]
        if not conn.client_flag & (1 << 24):
            n = read_until_eof(conn)
        check(n == 2, f"pipelined: the first query's two rows ({n})")
        conn._next_seq_id = 1
        try:
            conn._read_packet()
            check(False, "pipelined: the second fails")
        except pymysql.err.MySQLError as e:
            check(e.args[0] == 1146, f"pipelined: the second's ERR ({e.args})")
        conn.close()
        multi = st.connect(tok, client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
        with multi.cursor() as c:
            c.execute("SELECT 'multi-a'; SELECT 'multi-b' UNION SELECT 'multi-c'")
            while c.nextset():
                pass
        multi.close()
        try:
            st.connect("not-a-token")
            check(False, "a bad token is refused")
        except pymysql.err.MySQLError as e:
            check(e.args[0] == 1045, f"bad token refused: {e.args}")
        bad = st.connect(iss.token(sub="agent-bad"))
        bad._sock.sendall(b"\x01\x00\x00\x05\x0e")  # COM_PING with sequence id 5
        try:
            bad._read_packet()
        except Exception:
            pass
        try:
            bad.close()
        except Exception:
            pass
        m = st.scrape()
        for name, labels in (("ringgate_sessions_total", {}),
                             ("ringgate_auth_ok_total", {}),
                             ("ringgate_auth_failures_total", {}),
                             ("ringgate_statements_total", {"verdict": "deny"}),
                             ("ringgate_rule_statements_total", {"rule": "baseline.no-drop"}),
                             ("ringgate_statement_duration_seconds_count", {})):
            v = value(m, name, protocol="mysql", **labels)
            check(v is not None and v >= 1, f"/metrics {name}{labels} protocol=mysql: {v}")
        v = value(m, "ringgate_statements_total", protocol="mysql")
        check(v is not None and v >= 6, f"/metrics statements judged on mysql: {v}")
    finally:
        log = stop_rg(st.rg)
    check(not rgtest.sanitizer_reports(log), "no sanitizer report")

    recs = records(st.trail)
    my = [r for r in recs if r.get("protocol") == "mysql"]
    stmts = [r for r in my if r["event"] == "stmt"]
    ends = {(r["session"], r["n"]): r for r in my if r["event"] == "stmt_end"}
    for r in stmts:
        print("   ", json.dumps({k: r.get(k) for k in ("n", "kind", "sql", "verdict", "rule")}),
              json.dumps(ends.get((r["session"], r["n"]))), flush=True)
    sel = [s for s in stmts if "audit_t WHERE v" in (s.get("sql") or "")
           and s["kind"] == "query"]
    check(len(sel) == 1 and SECRET not in sel[0]["sql"], f"the SELECT, literal replaced ({sel})")
    s = sel[0]
    check(s["identity"] == {"iss": iss.issuer, "sub": "agent-my", "groups": ["ci", "etl"]}
          and s["target"] == "shop" and s["client"].startswith("127.0.0.1:")
          and s["verdict"] in ("allow", "log"), f"who, where, verdict ({s})")
    e = ends.get((s["session"], s["n"]))
    check(e and e["rows"] == 1 and e["bytes"] > 0 and e["server_us"] >= 0,
          f"its stmt_end: rows, bytes, server time ({e})")
    card = [x for x in stmts if "card_here" in (x.get("sql") or "")]
    ce = card and ends.get((card[0]["session"], card[0]["n"]))
    check(ce and ce.get("masked_rows") == 1 and (ce.get("masks") or {}).get("credit_card") == 1,
          f"a masked result's stmt_end: masked_rows and masks by detector ({ce})")
    ins = [x for x in stmts if (x.get("sql") or "").startswith("INSERT INTO audit_t")]
    check(ins and ends.get((ins[0]["session"], ins[0]["n"]), {}).get("rows") == 2,
          f"an INSERT's stmt_end counts the affected rows ({ins})")
    drop = [x for x in stmts if (x.get("sql") or "").startswith("DROP TABLE")]
    check(len(drop) == 1 and drop[0]["verdict"] == "deny" and
          drop[0].get("rule") == "baseline.no-drop" and drop[0].get("error_code") == 1142 and
          (drop[0]["session"], drop[0]["n"]) not in ends,
          f"the DROP: denied, its rule, no stmt_end ({drop})")
    bad = [x for x in stmts if "no_such_table_here" in (x.get("sql") or "")]
    be = bad and ends.get((bad[0]["session"], bad[0]["n"]))
    check(be and be.get("error_code") == 1146 and be.get("sqlstate") == "42S02",
          f"a failing statement ends with the target's error ({be})")
    prep = [x for x in stmts if x["kind"] == "prepare"]
    exe = [x for x in stmts if x["kind"] == "execute"]
    check(len(prep) == 1 and len(exe) == 1 and exe[0].get("prepared") == prep[0]["n"] and
          exe[0].get("sql") == prep[0].get("sql") and "?" in prep[0]["sql"],
          f"PREPARE and its EXECUTE, which names it ({prep} {exe})")
    xe = ends.get((exe[0]["session"], exe[0]["n"]))
    check(xe and xe["rows"] == 2 and "params" not in xe,
          f"the EXECUTE's end: its rows, no parameters without literals: keep ({xe})")
    names = [r["event"] for r in my if r.get("session") == s["session"]]
    check(names[0] == "auth_ok" and names[1] == "session_start" and
          names[-1] == "session_end", f"a session's records in order ({names})")
    start = [r for r in my if r["event"] == "session_start" and r["session"] == s["session"]]
    check(start and start[0].get("role") == db.native_user and start[0].get("mech"),
          f"session_start: the target's user and the login method ({start})")
    end = [r for r in my if r["event"] == "session_end" and r["session"] == s["session"]]
    check(end and end[0]["reason"] == "quit" and end[0]["statements"] >= 7 and
          end[0]["denials"] == 1 and end[0]["bytes_out"] > 0 and end[0]["bytes_in"] > 0,
          f"session_end ({end})")
    fail = [r for r in my if r["event"] == "auth_fail"]
    check(fail and fail[0].get("reason") and "not-a-token" not in json.dumps(fail),
          f"auth_fail with its reason, not the token ({fail})")
    viol = [r for r in my if r["event"] == "protocol_violation"]
    vend = viol and [r for r in my if r["event"] == "session_end" and
                     r["session"] == viol[0]["session"]]
    check(viol and viol[0].get("side") == "agent" and
          viol[0].get("identity", {}).get("sub") == "agent-bad" and vend and
          vend[0]["reason"] == "protocol_violation",
          f"a sequence-id violation: its record and the session's end ({viol} {vend})")
    def end_of(sub):
        x = [r for r in stmts if sub in (r.get("sql") or "")]
        return x and ends.get((x[0]["session"], x[0]["n"]))
    p1 = end_of("pipe_missing_table")
    e1 = [r for r in stmts if "UNION" in (r.get("sql") or "")]  # the pipelined, the multi
    check(len(e1) == 2, f"the pipelined and the multi-statement texts ({e1})")
    pe = [ends.get((r["session"], r["n"])) for r in e1]
    check(pe[0] and pe[0]["rows"] == 2 and "error_code" not in pe[0] and
          p1 and p1.get("error_code") == 1146,
          f"pipelined: each answer attributed to its command ({pe[0]}, {p1})")
    check(pe[1] and pe[1]["rows"] == 3,
          f"a multi-statement COM_QUERY: one stmt_end, rows over its result sets ({pe[1]})")
    raw = b"".join(open(os.path.join(st.trail, f), "rb").read()
                   for f in os.listdir(st.trail))
    check(SECRET.encode() not in raw and PARAM.encode() not in raw and tok.encode() not in raw,
          "no literal, parameter or token in any byte of the trail")

    q = ctl("audit", "query", "--dir", st.trail, "--verdict", "deny", "--json")
    qa = json.loads(q.stdout) if q.returncode == 0 else None
    check(qa is not None and [x.get("sql") for x in qa if x.get("event") == "stmt"] ==
          [drop[0]["sql"]] and
          qa[0].get("protocol") == "mysql", f"audit query --verdict deny ({q.stdout[:300]})")
    q = ctl("audit", "query", "--dir", st.trail, "--sub", "agent-my", "--event", "stmt",
            "--json")
    qa = json.loads(q.stdout) if q.returncode == 0 else []
    j = [x for x in qa if x.get("sql") == s["sql"]]
    check(j and j[0].get("end", {}).get("rows") == 1,
          "audit query --sub --event stmt joins the MySQL statement's end")
    v = ctl("audit", "verify", "--dir", st.trail, "--key", st.pub)
    check(v.returncode == 0, f"audit verify: {v.stdout.strip()} {v.stderr.strip()}")
    ls = ctl("sessions", "list", "--audit", st.trail, "--json")
    sl = json.loads(ls.stdout) if ls.returncode == 0 else []
    mine = [x for x in sl if x.get("id") == s["session"]]
    check(mine and mine[0].get("sub") == "agent-my" and mine[0].get("target") == "shop",
          f"sessions list shows the MySQL session ({mine or ls.stderr[-300:]})")


def keep_part(d, db, certs, iss, bundle):
    st = Stack(d, db, certs, iss, bundle, {"literals": "keep"})
    try:
        conn = st.connect(iss.token(sub="agent-keep"))
        rows = prepare_execute(conn, "SELECT id FROM audit_t WHERE id >= ? AND v <> ?",
                               [-5, PARAM])
        check(rows == 2, f"EXECUTE with literals: keep ({rows})")
        dt = bytes([7]) + (2026).to_bytes(2, "little") + bytes([12, 2, 9, 30, 5])
        rows = prepare_execute(conn, "SELECT ?, ?, ?, ?",
                               [None, (5, struct.pack("<d", 2.5)), (12, dt), (1, b"\xfe")])
        check(rows == 1, f"EXECUTE with NULL, DOUBLE, DATETIME, TINY ({rows})")
        conn.close()
    finally:
        log = stop_rg(st.rg)
    check(not rgtest.sanitizer_reports(log), "no sanitizer report")
    recs = [r for r in records(st.trail) if r.get("protocol") == "mysql"]
    exe = [r for r in recs if r["event"] == "stmt" and r.get("kind") == "execute"]
    e = exe and [r for r in recs if r["event"] == "stmt_end" and
                 (r["session"], r["n"]) == (exe[0]["session"], exe[0]["n"])]
    check(e and e[0].get("params") == ["-5", PARAM],
          f"the EXECUTE's parameters, from the binary protocol ({e})")
    check(exe and exe[0].get("sql") == "SELECT id FROM audit_t WHERE id >= ? AND v <> ?",
          f"the text as sent ({exe})")
    e = len(exe) == 2 and [r for r in recs if r["event"] == "stmt_end" and
                           (r["session"], r["n"]) == (exe[1]["session"], exe[1]["n"])]
    check(e and e[0].get("params") == [None, "2.5", "2026-12-02 09:30:05", "-2"],
          f"NULL, DOUBLE, DATETIME and a signed TINY in MySQL's text form ({e})")


def full_disk_part(d, db, certs, iss, bundle):
    """Fail closed: while the trail cannot be written, statements get an ERR (1290) naming
    the audit trail, and the session stays usable; room again, statements run."""
    mnt = os.path.join(d, "small")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"# skip: the full-disk part needs mount (tmpfs): {r.stderr.strip()}")
        return
    filler = os.path.join(mnt, "filler")
    try:
        st = Stack(d, db, certs, iss, bundle, trail=os.path.join(mnt, "trail"))
        try:
            conn = st.connect(iss.token(sub="agent-full"))
            with conn.cursor() as c:
                c.execute("SELECT 1")
                subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"],
                               capture_output=True)
                refused = None
                for _ in range(50):
                    try:
                        c.execute("SELECT 2")
                    except pymysql.err.MySQLError as e:
                        refused = e.args
                        break
                    time.sleep(0.2)
                check(refused and refused[0] == 1290 and "audit trail" in refused[1],
                      f"full: statements refused with a clear error ({refused})")
                os.unlink(filler)
                ok = False
                for _ in range(50):
                    try:
                        c.execute("SELECT 3")
                        ok = c.fetchall() == ((3,),)
                        break
                    except pymysql.err.MySQLError:
                        time.sleep(0.2)
                check(ok, "room again: the same session's statements run")
            conn.close()
        finally:
            log = stop_rg(st.rg)
        check(not rgtest.sanitizer_reports(log), "no sanitizer report")
    finally:
        if os.path.exists(filler):
            os.unlink(filler)
        subprocess.run(["umount", "-l", mnt], capture_output=True)


def main():
    certs = Certs()
    db = mariadb.MariaServer()
    iss = rgtest.DevIssuer()
    try:
        db.start()
        with tempfile.TemporaryDirectory(prefix="rgtest-myaudit-") as d:
            bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"],
                                           os.path.join(d, "b.rgb"))
            for name, part in (("session", session_part), ("keep", keep_part),
                               ("full", full_disk_part)):
                print(f"--- {name}", flush=True)
                sub = os.path.join(d, name)
                os.makedirs(sub)
                part(sub, db, certs, iss, bundle)
    finally:
        for x in (iss, db, certs):
            try:
                x.stop()
            except Exception:
                pass
    print("ok")


if __name__ == "__main__":
    main()
