#!/usr/bin/env python3
"""Sessions in the audit trail (issue #12; docs/audit.md, "What a session records").

Through ringgate with rules/baseline + rules/pii and an audit trail:
- a psql session: a masked SELECT with a literal, a denied DROP, a failing statement; the
  trail has auth_ok, session_start, one stmt per statement (identity, client, target, the
  text with literals replaced by $n, fingerprint, verdict, rule) and its stmt_end (rows,
  bytes, masked rows, server time, SQLSTATE), session_end with the reason and totals; no
  literal of the session (the WHERE value, the card) appears in any byte of the trail;
- pgbench -M prepared: one `parse` stmt, and one stmt_end per execution naming it;
- `ringgatectl audit query` filters (--verdict, --sub, --event, --since) and joins ends;
  `audit tail -n` prints the last records;
- kill -9 of ringgate under pgbench load: verify reports the unsealed tail (exit 3); the next
  start drains the journal; every transaction pgbench saw acknowledged has its stmt record,
  none twice, and the trail verifies sealed;
- a trail on a full file system (a 1 MiB tmpfs; skipped, and said, where mount is not
  allowed): statements are refused with 58030 while it cannot be written, the gateway says
  so, and they run again once there is room, with nothing of the healthy periods lost.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

CARD = "4111111111111111"


def ctl(*args):
    return subprocess.run([pgfix.ctl_binary(), *args], capture_output=True, text=True,
                          timeout=120)


def records(trail):
    c = ctl("audit", "cat", "--dir", trail)
    if c.returncode != 0:
        raise AssertionError(f"audit cat failed: {c.stderr}")
    return [json.loads(line) for line in c.stdout.splitlines() if line.strip()]


def direct_env(pg):
    env = dict(os.environ, PGHOST=pg.host, PGPORT=str(pg.port), PGUSER=pg.user,
               PGPASSWORD=pg.password, PGDATABASE=pg.database, PGSSLMODE="disable")
    return env


def start_rg(pg, iss, bundle, trail, jdir, extra=None):
    audit = {"key_file": os.path.join(os.path.dirname(jdir), "audit.key"), "dir": trail,
             "journal_dir": jdir}
    audit.update(extra or {})
    return pgfix.start(pg, iss, policy={"bundle": bundle}, extra={"audit": audit})


def session_part(pg, iss, d, bundle):
    trail, jdir = os.path.join(d, "trail"), os.path.join(d, "journals")
    os.makedirs(jdir)
    rg = start_rg(pg, iss, bundle, trail, jdir)
    tok = iss.token(sub="agent-audit", groups="ci,etl")
    env = rg.env("agent-audit", tok)
    r = rgtest.run_psql(f"SELECT id, card FROM customers WHERE id = 4242", env)
    check(CARD not in r.stdout and "4242" in r.stdout, "the card is masked on the wire")
    r = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=0", "-c", "DROP TABLE customers",
                        "-c", "SELECT 1/0"], env=env, capture_output=True, text=True,
                       timeout=60)
    check("42501" in r.stderr or "denied" in r.stderr.lower(), f"DROP denied ({r.stderr.strip()})")
    rgtest.run_pgbench(["-n", "-M", "prepared", "-t", "50", "-f",
                        os.path.join(d, "one.sql")], env)
    # without --dir, ringgatectl finds the trail through the gateway's config
    cenv = dict(os.environ, RINGGATE_CONFIG=rg.config_path)
    found = []
    for _ in range(50):
        q = subprocess.run([pgfix.ctl_binary(), "audit", "query", "--verdict", "deny", "--json"],
                           env=cenv, capture_output=True, text=True, timeout=60)
        found = json.loads(q.stdout) if q.returncode == 0 else []
        if found:
            break
        time.sleep(0.1)
    check(found and found[0]["sql"] == "DROP TABLE customers",
          "audit query without --dir: the trail of $RINGGATE_CONFIG's gateway")
    rg.stop()

    recs = records(trail)
    sess = [e for e in recs if e.get("protocol") == "postgres"]
    stmts = [e for e in sess if e["event"] == "stmt"]
    ends = {(e["session"], e["n"]): e for e in sess if e["event"] == "stmt_end"}
    masked = [e for e in stmts if "customers" in (e.get("sql") or "") and e["kind"] == "query"
              and "SELECT" in e["sql"]]
    check(len(masked) == 1 and masked[0]["sql"] ==
          "SELECT id, card FROM customers WHERE id = $1",
          f"the SELECT's text, literal replaced ({masked})")
    m = masked[0]
    check(m["identity"] == {"iss": iss.issuer, "sub": "agent-audit", "groups": ["ci", "etl"]}
          and m["target"] == "appdb" and m["client"].startswith("127.0.0.1:")
          and m["verdict"] in ("allow", "log") and re.fullmatch(r"[0-9a-f]{16}",
                                                                 m["fingerprint"]),
          f"who, where, verdict, fingerprint ({m})")
    e = ends.get((m["session"], m["n"]))
    check(e and e["rows"] == 1 and e["masked_rows"] == 1 and e["tag"] == "SELECT" and
          e.get("masks") == {"credit_card": 1} and
          e["bytes"] > 0 and e["server_us"] >= 0, f"its end: rows, masked rows, bytes ({e})")
    drop = [s for s in stmts if s.get("sql", "").startswith("DROP TABLE")]
    check(len(drop) == 1 and drop[0]["verdict"] == "deny" and drop[0].get("rule") and
          drop[0].get("sqlstate") == "42501" and (drop[0]["session"], drop[0]["n"]) not in ends,
          f"the DROP: denied, its rule, no end ({drop})")
    div = [s for s in stmts if s.get("sql") == "SELECT $1/$2"]
    check(len(div) == 1 and ends[(div[0]["session"], div[0]["n"])].get("sqlstate") == "22012",
          f"a failing statement ends with its SQLSTATE ({div})")
    parse = [s for s in stmts if s["kind"] == "parse" and "pgbench_branches" in s.get("sql", "")]
    check(len(parse) == 1 and parse[0]["sql"] ==
          "SELECT bbalance FROM pgbench_branches WHERE bid = $1;",
          f"pgbench -M prepared: one parse record ({parse})")
    execs = [x for x in sess if x["event"] == "stmt_end" and
             (x["session"], x["n"]) == (parse[0]["session"], parse[0]["n"])]
    check(len(execs) == 50 and all(x["rows"] == 1 for x in execs),
          f"... and one stmt_end per execution naming it ({len(execs)})")
    names = [e["event"] for e in sess if e["session"] == m["session"]]
    check(names[0] == "auth_ok" and names[1] == "session_start" and
          names[-1] == "session_end", f"a session's records in order ({names})")
    end = [e for e in sess if e["event"] == "session_end" and e["session"] == drop[0]["session"]]
    check(end and end[0]["reason"] == "terminate" and end[0]["statements"] == 2 and
          end[0]["denials"] == 1 and end[0]["bytes_out"] > 0, f"session_end ({end})")
    raw = b"".join(open(os.path.join(trail, f), "rb").read()
                   for f in os.listdir(trail) if f.endswith(".seg"))
    check(b"4242" not in raw and CARD.encode() not in raw and tok.encode() not in raw,
          "no literal, card or token in any byte of the trail")

    q = ctl("audit", "query", "--dir", trail, "--verdict", "deny", "--json")
    qa = json.loads(q.stdout)
    check(q.returncode == 0 and [x["sql"] for x in qa] == [drop[0]["sql"]],
          f"audit query --verdict deny ({q.stdout.strip()[:200]})")
    q = ctl("audit", "query", "--dir", trail, "--sub", "agent-audit", "--event", "stmt",
            "--since", "1h", "--json")
    qa = json.loads(q.stdout)
    j = [x for x in qa if x.get("sql") == m["sql"]]
    check(len(qa) == len(stmts) and j and j[0]["end"]["rows"] == 1,
          "audit query --sub --event --since, with the end joined")
    q = ctl("audit", "query", "--dir", trail, "--event", "stmt", "--until",
            "2000-01-01T00:00:00Z", "--json")
    check(json.loads(q.stdout) == [], "--until in the past: nothing")
    q = ctl("audit", "query", "--dir", trail, "--sub", "agent-audit")
    check(q.returncode == 0 and "DROP TABLE customers" in q.stdout and "deny" in q.stdout,
          "the table form")
    t = ctl("audit", "tail", "--dir", trail, "-n", "3")
    tl = [json.loads(x) for x in t.stdout.splitlines()]
    check(len(tl) == 3 and tl[-1]["event"] == "gateway_stop", "audit tail -n 3")
    v = ctl("audit", "verify", "--dir", trail, "--key", os.path.join(d, "audit.pub"))
    check(v.returncode == 0, f"the trail verifies ({v.stdout.strip()})")


def kill9_part(pg, iss, d, bundle):
    trail, jdir = os.path.join(d, "trail9"), os.path.join(d, "journals9")
    os.makedirs(jdir)
    rg = start_rg(pg, iss, bundle, trail, jdir, {"fsync": "interval"})
    env = rg.env("agent-k9", iss.token(sub="agent-k9"))
    p = subprocess.Popen(["pgbench", "-n", "-S", "-c", "4", "-j", "2", "-T", "8"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    rg.proc.send_signal(signal.SIGKILL)
    rg.proc.wait()
    out, err = p.communicate(timeout=60)
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    done = int(m.group(1)) if m else -1
    rg.stop()
    check(done > 100, f"pgbench ran until the kill ({done} acknowledged)")
    v = ctl("audit", "verify", "--dir", trail, "--key", os.path.join(d, "audit.pub"))
    check(v.returncode in (0, 3), f"after kill -9: verify says what holds ({v.stdout.strip()})")
    rg = start_rg(pg, iss, bundle, trail, jdir)  # drains what the journals held
    rg.stop()
    v = ctl("audit", "verify", "--dir", trail, "--key", os.path.join(d, "audit.pub"))
    check(v.returncode == 0, f"after the restart: intact and sealed ({v.stdout.strip()})")
    recs = records(trail)
    sel = [e for e in recs if e.get("event") == "stmt" and
           (e.get("sql") or "").startswith("SELECT abalance FROM pgbench_accounts")]
    keys = {(e["session"], e["n"]) for e in sel}
    check(len(sel) >= done and len(keys) == len(sel),
          f"every acknowledged statement recorded once ({len(sel)} records, {done} acked)")


def full_disk_part(pg, iss, d, bundle):
    mnt = os.path.join(d, "small")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"# skip: the full-disk part needs mount (tmpfs): {r.stderr.strip()}")
        return
    try:
        trail, jdir = os.path.join(mnt, "trail"), os.path.join(d, "journalsfd")
        os.makedirs(jdir)
        rg = start_rg(pg, iss, bundle, trail, jdir)
        env = rg.env("agent-fd", iss.token(sub="agent-fd"))
        r = rgtest.run_psql("SELECT 'healthy-before'", env)
        check("healthy-before" in r.stdout, "statements run while the trail has room")
        filler = os.path.join(mnt, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"],
                       capture_output=True)  # fills the file system
        refused = None
        for _ in range(50):
            r = subprocess.run(["psql", "-X", "-At", "-c", "SELECT 2"], env=env,
                               capture_output=True, text=True, timeout=30)
            if "58030" in r.stderr or "audit trail" in r.stderr:
                refused = r.stderr.strip()
                break
            time.sleep(0.2)
        check(refused and "audit trail cannot be written" in refused,
              f"full: statements refused with a clear error ({refused})")
        check(pgfix.wait_log(rg, "event=audit_write_failed"), "the gateway says why")
        os.unlink(filler)
        ok = False
        for _ in range(50):
            r = subprocess.run(["psql", "-X", "-At", "-c", "SELECT 'healthy-after'"],
                               env=env, capture_output=True, text=True, timeout=30)
            if "healthy-after" in r.stdout:
                ok = True
                break
            time.sleep(0.2)
        check(ok and pgfix.wait_log(rg, "event=audit_write_recovered"),
              "room again: statements run, the gateway says so")
        rg.stop()
        v = ctl("audit", "verify", "--dir", trail, "--key", os.path.join(d, "audit.pub"))
        check(v.returncode == 0, f"the trail verifies after the full spell ({v.stdout.strip()})")
        texts = [e.get("sql") for e in records(trail) if e.get("event") == "stmt"]
        check(texts.count("SELECT $1") >= 2, f"the healthy statements are recorded ({texts})")

        # on_error: allow: statements go on while the trail is full; their records wait in
        # the journal and reach the trail once there is room
        trail2, jdir2 = os.path.join(mnt, "trail2"), os.path.join(d, "journalsfd2")
        os.makedirs(jdir2)
        rg = start_rg(pg, iss, bundle, trail2, jdir2, {"on_error": "allow"})
        env = rg.env("agent-fo", iss.token(sub="agent-fo"))
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], capture_output=True)
        ran = 0
        for i in range(20):
            r = subprocess.run(["psql", "-X", "-At", "-c", f"SELECT 'while-full', {i}"],
                               env=env, capture_output=True, text=True, timeout=30)
            ran += "while-full" in r.stdout
        check(ran == 20, f"allow: statements run while the trail cannot be written ({ran})")
        check(pgfix.wait_log(rg, "event=audit_write_failed"), "allow: the failure is logged")
        os.unlink(filler)
        check(pgfix.wait_log(rg, "event=audit_write_recovered", timeout=15),
              "room again: the writer catches up")
        rg.stop()
        texts = [e.get("sql") for e in records(trail2) if e.get("event") == "stmt"]
        check(texts.count("SELECT $1, $2") == 20,
              f"allow: every statement of the full spell is in the trail ({texts.count('SELECT $1, $2')})")
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)


SCRIPT = """SELECT id, card FROM customers ORDER BY id;
DROP TABLE customers;
SELECT 1/0;
SELECT g AS n, 'row ' || g AS label, g * 1.5 AS half FROM generate_series(1, 3) g;
UPDATE customers SET note = note WHERE id = 4242;
"""


def recording_part(pg, iss, d, bundle):
    trail, rec, jdir = (os.path.join(d, "trail-r"), os.path.join(d, "rec-r"),
                        os.path.join(d, "journals-r"))
    os.makedirs(jdir)
    rg = start_rg(pg, iss, bundle, trail, jdir, {"record_sessions": True,
                                                   "recordings_dir": rec})
    tok = iss.token(sub="agent-rec")
    env = rg.env("agent-rec", tok)
    script = os.path.join(d, "script.sql")
    with open(script, "w") as f:
        f.write(SCRIPT)
    r = subprocess.run(["psql", "-X", "-f", script], env=env, capture_output=True, text=True,
                       timeout=60)
    seen = r.stdout
    check(CARD not in seen and "DROP" not in seen, "psql's session: masked, DROP denied")
    # a session whose results pass the recording's size limit
    rg.stop()
    rg = start_rg(pg, iss, bundle, trail, jdir, {"record_sessions": True,
                                                   "recordings_dir": rec,
                                                   "record_max_bytes": 4096})
    env = rg.env("agent-big", iss.token(sub="agent-big"))
    rgtest.run_psql("SELECT g, repeat('x', 100) FROM generate_series(1, 500) g", env)
    rg.stop()

    ls = ctl("sessions", "list", "--audit", trail, "--json")
    sl = json.loads(ls.stdout)
    mine = [x for x in sl if x.get("sub") == "agent-rec"]
    check(ls.returncode == 0 and len(mine) == 1 and mine[0]["recorded"] and
          mine[0]["reason"] == "terminate" and mine[0]["statements"] == 5 and
          mine[0]["denials"] == 1, f"sessions list --json ({mine})")
    check(all(x["id"] > 1 << 30 for x in sl) and len({x["id"] for x in sl}) == len(sl),
          "session ids unique across the two runs")
    sid = str(mine[0]["id"])
    rp = ctl("replay", sid, "--audit", trail, "--recordings", rec)
    check(rp.returncode == 0, f"replay ({rp.stderr.strip()})")
    out = rp.stdout
    check(CARD not in out and "denied by policy rule baseline.no-drop" in out and
          "division by zero" in out and "Time: " in out and "=> DROP TABLE customers" in out
          and "=> SELECT id, card FROM customers ORDER BY id" in out,
          "replay: statements, masked results, the denial, the error, timings")
    # the tables and tags replay exactly as psql printed them
    shown = "".join(line + "\n" for line in out.splitlines()
                    if not line.startswith(("=> ", "-- ", "Time: ", "ERROR:")))
    shown = re.sub(r"\n\n+", "\n\n", shown).strip()
    want = re.sub(r"\n\n+", "\n\n", seen).strip()
    import difflib
    check(shown == want, "replay shows what psql showed:\n" + "\n".join(
        difflib.unified_diff(want.splitlines(), shown.splitlines(), "psql", "replay",
                             lineterm="")).replace(" ", "\u00b7"))
    js = json.loads(ctl("replay", sid, "--audit", trail, "--recordings", rec,
                        "--json").stdout)
    st = js["statements"]
    check(len(st) == 5 and st[1]["verdict"] == "deny" and st[2]["errors"][0]["sqlstate"] ==
          "22012" and st[3]["results"][0]["columns"] == ["n", "label", "half"] and
          st[3]["results"][0]["rows"][0] == ["1", "row 1", "1.5"] and
          st[4]["results"][0]["tag"] == "UPDATE 1" and js["complete"] and not js["truncated"],
          f"replay --json ({json.dumps(st)[:400]})")
    big = [x for x in sl if x.get("sub") == "agent-big"][0]
    jb = json.loads(ctl("replay", str(big["id"]), "--audit", trail, "--recordings", rec,
                        "--json").stdout)
    tb = ctl("replay", str(big["id"]), "--audit", trail, "--recordings", rec).stdout
    check(jb["truncated"] and "the recording stops here" in tb,
          "past record_max_bytes: truncated, and said")
    raw = b"".join(open(os.path.join(rec, f), "rb").read()
                   for f in os.listdir(rec) if f.endswith(".seg"))
    check(CARD.encode() not in raw, "the recordings hold no unmasked card")
    v = ctl("audit", "verify", "--dir", rec, "--key", os.path.join(d, "audit.pub"))
    check(v.returncode == 0, f"the recordings trail verifies ({v.stdout.strip()})")


def keep_part(pg, iss, d, bundle):
    """audit.literals: keep: texts as sent, and each execution's Bind parameters."""
    trail, jdir = os.path.join(d, "trail-k"), os.path.join(d, "journals-k")
    os.makedirs(jdir)
    rg = start_rg(pg, iss, bundle, trail, jdir, {"literals": "keep"})
    env = rg.env("agent-keep", iss.token(sub="agent-keep"))
    rgtest.run_psql("SELECT 'kept-literal'", env)
    with open(os.path.join(d, "param.sql"), "w") as f:
        f.write("\\set b 1\nSELECT bbalance, :b::text || '-x' FROM pgbench_branches "
                "WHERE bid = :b;\n")
    rgtest.run_pgbench(["-n", "-M", "prepared", "-t", "3", "-f",
                        os.path.join(d, "param.sql")], env)
    rg.stop()
    recs = records(trail)
    q = [e for e in recs if e.get("event") == "stmt" and e.get("kind") == "query"
         and "kept-literal" in (e.get("sql") or "")]
    check(len(q) == 1 and q[0]["sql"] == "SELECT 'kept-literal'", f"the text as sent ({q})")
    p = [e for e in recs if e.get("event") == "stmt" and e.get("kind") == "parse"]
    ends = [e for e in recs if e.get("event") == "stmt_end" and p and
            (e["session"], e["n"]) == (p[0]["session"], p[0]["n"])]
    check(len(ends) == 3 and all(e.get("params") == ["1", "1"] for e in ends),
          f"each execution with its parameters ({ends})")


def main():
    with rgtest.PgServer() as pg:
        pg.admin_psql("CREATE TABLE customers (id int primary key, card text, note text)",
                      database=pg.database)
        pg.admin_psql(f"INSERT INTO customers VALUES (4242, '{CARD}'), (7, NULL)",
                      database=pg.database)
        pg.admin_psql(f"GRANT ALL ON customers TO \"{pg.user}\"", database=pg.database)
        rgtest.run_pgbench(["-i", "-s", "1", "-q"], direct_env(pg))
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rgtest-auditsess-") as d:
            key, pub = rgtest.signing_keypair(d)
            os.rename(key, os.path.join(d, "audit.key"))
            os.rename(pub, os.path.join(d, "audit.pub"))
            with open(os.path.join(d, "one.sql"), "w") as f:
                f.write("SELECT bbalance FROM pgbench_branches WHERE bid = 1;\n")
            bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"],
                                           os.path.join(d, "b.rgb"))
            session_part(pg, iss, d, bundle)
            recording_part(pg, iss, d, bundle)
            keep_part(pg, iss, d, bundle)
            kill9_part(pg, iss, d, bundle)
            full_disk_part(pg, iss, d, bundle)
    print("ok")


if __name__ == "__main__":
    main()
