"""Sessions and their replays on the admin listener (issue #12; docs/admin.md, "Sessions"),
against the real ringgate with audit.record_sessions: true, through the API and in a real
headless browser (Debian chromium + chromium-driver, python3-selenium).

A psql session through ringgate runs a SELECT whose card column rules/pii masks and a DROP
that rules/baseline denies; a second agent runs a plain SELECT. The API (operators only: no
token 401, a reviewer 403) lists them newest first and filters by sub, target, time and
denials; bad filters, a bad id, an unknown id and another method are 4xx with a JSON error;
the replay has the masked value (never the card), the denial with its rule and error, and
the times. Then an operator logs in to the page with a dev-issuer token, finds the session by
its sub, opens its replay and sees the statements highlighted, the masked value in an
aligned table, the denial and the timing; the denials and time filters narrow the list; a
reviewer's token is told sessions are for operators. Then a MySQL session (PyMySQL through a
loopback MySQL listener to a real MariaDB): the list names its protocol, and its replay shows
the masked value in a table with NULL, the mariadb client's "N rows in set" and "Query OK"
lines, and the denial as "ERROR 1142 (42000): ...". The browser logs no error.
Skips (77) when chromium, chromedriver or selenium is missing (the API part runs first).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import adminfix  # noqa: E402
import mariadb  # noqa: E402
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402
from test_admin_page import browser, wait_for  # noqa: E402

CARD = "4111111111111111"
MASKED = "************1111"


def run_sessions(rg, iss):
    """The two agents' sessions; returns what psql printed for the first."""
    env = rg.env("agent-page", iss.token(sub="agent-page", groups="agents"))
    r = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=0", "-c",
                        "SELECT id, card FROM customers WHERE id = 4242", "-c",
                        "DROP TABLE customers"], env=env, capture_output=True, text=True,
                       timeout=60)
    check(MASKED in r.stdout and CARD not in r.stdout and "baseline.no-drop" in r.stderr,
          f"psql: the card masked, the DROP denied ({r.stdout.strip()!r} {r.stderr.strip()!r})")
    env = rg.env("agent-other", iss.token(sub="agent-other"))
    rgtest.run_psql("SELECT 1", env)
    return r.stdout


def run_mysql_session(port, iss):
    """A MySQL agent: a masked SELECT, an UPDATE, a denied DROP. Returns its session id."""
    pymysql = mariadb.require_pymysql()
    conn = pymysql.connect(host="127.0.0.1", port=port, user="shop", connect_timeout=10,
                           password=iss.token(sub="agent-mysql"), autocommit=True)
    with conn.cursor() as c:
        c.execute("CREATE TABLE IF NOT EXISTS cards (id INT PRIMARY KEY, card VARCHAR(30), "
                  "note VARCHAR(10))")
        c.execute("DELETE FROM cards WHERE id > 0")
        c.execute(f"INSERT INTO cards VALUES (4242, '{CARD}', NULL)")
        c.execute("SELECT id, card, note FROM cards")
        got = c.fetchall()
        check(got and CARD not in str(got), f"mysql: the card masked ({got})")
        try:
            c.execute("DROP TABLE cards")
            check(False, "mysql: DROP denied")
        except pymysql.err.MySQLError as e:
            check(e.args[0] == 1142, f"mysql: DROP denied ({e.args})")
    conn.close()


def check_mysql_page(drv, By, api, ops):
    def ended():
        st, doc = sessions(api, ops, "?sub=agent-mysql")
        done = [s for s in doc["sessions"] if s.get("end")] if st == 200 else []
        return done[0] if done else None
    s = wait_for("the MySQL session ended in the trail", ended)
    check(s.get("protocol") == "mysql" and s.get("recorded"),
          f"/api/sessions: protocol mysql, recorded ({s})")
    drv.find_element(By.ID, "logout").click()
    drv.find_element(By.ID, "token").send_keys(ops)
    drv.find_element(By.ID, "login-btn").click()
    drv.find_element(By.ID, "nav-sessions").click()
    wait_for("the sessions view", lambda: drv.find_element(By.ID, "sessions-view")
             .is_displayed())
    drv.find_element(By.ID, "sess-sub").clear()
    drv.find_element(By.ID, "sess-sub").send_keys("agent-mysql")
    drv.find_element(By.ID, "sess-search-btn").click()
    def listed():
        # the search re-renders the list: a row of the list shown before it may go stale
        # under us (wait_for tries again)
        row = drv.find_element(By.ID, f"sess-{s['id']}")
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        return (row, cells) if len(cells) > 1 and cells[1] == "agent-mysql" else None
    row, cells = wait_for("the MySQL session listed", listed)
    check(cells[1] == "agent-mysql" and cells[2] == "shop" and cells[7] == "yes" and
          cells[8] == "mysql", f"the list names its protocol ({cells})")
    row.find_element(By.TAG_NAME, "a").click()
    wait_for("the MySQL replay", lambda: drv.find_elements(By.CSS_SELECTOR, "#replay .stmt"))
    meta = drv.find_element(By.ID, "replay-meta").text
    check("mysql" in meta and "agent-mysql" in meta and "shop" in meta,
          f"the replay names the protocol, who and where ({meta!r})")
    boxes = drv.find_elements(By.CSS_SELECTOR, "#replay .stmt")
    texts = [b.text for b in boxes]
    sel = [b for b in boxes if "card" in b.text and b.find_elements(By.CSS_SELECTOR,
                                                                      "table.rows")]
    check(len(sel) == 1, f"the SELECT with its table ({texts})")
    heads = [c.text for c in sel[0].find_elements(By.CSS_SELECTOR, "table.rows th")]
    tds = sel[0].find_elements(By.CSS_SELECTOR, "table.rows td")
    vals = [c.text for c in tds]
    check(heads == ["id", "card", "note"] and vals[0] == "4242" and vals[1] != CARD and
          vals[1].endswith("1111") and vals[2] == "NULL" and
          "right" in tds[0].get_attribute("class") and
          "right" not in tds[1].get_attribute("class"),
          f"a MySQL result as an aligned table, masked, NULL shown ({heads} {vals})")
    check(re.search(r"1 row in set \(\d+\.\d{3} sec\)", sel[0].text),
          f"...with the client's row count and time ({sel[0].text!r})")
    check(any(re.search(r"Query OK, 1 row affected \(\d+\.\d{3} sec\)", t) for t in texts),
          "the INSERT's OK as the client writes it")
    drop = [b for b in boxes if "DROP" in b.text]
    err = drop and drop[0].find_element(By.CSS_SELECTOR, ".pg-error").text
    check(drop and err.startswith("ERROR 1142 (42000): ") and "baseline.no-drop" in err and
          "rule baseline.no-drop" in drop[0].text,
          f"the denial: its verdict, rule and the ERR as the client writes it ({err!r})")
    check(CARD not in drv.page_source, "no card anywhere in the page")
    errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE" and
              "401" not in e.get("message", "") and "403" not in e.get("message", "")]
    check(not errors, f"no browser errors on the MySQL replay ({errors[:3]})")


def sessions(api, tok, query=""):
    st, doc, _ = api.get("/api/sessions" + query, token=tok)
    return st, doc


def check_api(api, rg, iss, ops):
    # the trail's writer is asynchronous: wait until both sessions have ended in it
    def ended():
        st, doc = sessions(api, ops)
        done = [s for s in doc["sessions"] if s.get("end")] if st == 200 else []
        return doc if len(done) == 2 else None
    doc = wait_for("both sessions in the trail", ended, timeout=30)
    ss = doc["sessions"]
    check(doc["total"] == 2 and [s["sub"] for s in ss] == ["agent-other", "agent-page"],
          f"GET /api/sessions: both sessions, newest first ({[s.get('sub') for s in ss]})")
    mine = ss[1]
    check(mine["recorded"] is True and mine["target"] == "appdb" and mine["denials"] == 1 and
          mine["statements"] == 2 and mine["reason"] == "terminate" and
          mine["client"].startswith("127.0.0.1:") and mine["groups"] == ["agents"],
          f"...with who, where, totals and whether recorded ({mine})")

    st, doc, h = api.get("/api/sessions")
    check(st == 401 and doc == {"error": "authentication failed"} and
          h.get("www-authenticate") == "Bearer", "no token: 401")
    reviewer = iss.token(sub="alice", groups="reviewers")
    st, doc = sessions(api, reviewer)
    check(st == 403 and "operators" in doc["error"], f"a reviewer: 403 ({doc})")
    st, doc, _ = api.get(f"/api/sessions/{mine['id']}", token=reviewer)
    check(st == 403, "a reviewer cannot read a replay either")
    check(pgfix.wait_log(rg, "event=admin_forbidden request=sessions sub=alice"),
          "the refusal is logged")

    def subs(query):
        st, doc = sessions(api, ops, query)
        return st, [s["sub"] for s in doc["sessions"]] if st == 200 else doc
    check(subs("?sub=agent-page") == (200, ["agent-page"]), "?sub= filters by identity")
    check(subs("?sub=agent") == (200, []), "...exactly")
    check(subs("?target=appdb")[1] == ["agent-other", "agent-page"] and
          subs("?target=elsewhere") == (200, []), "?target= filters by target")
    check(subs("?verdict=deny") == (200, ["agent-page"]), "?verdict=deny: sessions with a denial")
    check(subs("?verdict=all&sub=")[1] == ["agent-other", "agent-page"],
          "?verdict=all and empty values filter nothing")
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".500Z"  # noqa: E731
    check(subs(f"?since={iso(now - 3600)}&until={iso(now + 60)}")[1] ==
          ["agent-other", "agent-page"], "?since=&until= around now: both")
    check(subs(f"?since={iso(now + 3600)}") == (200, []), "?since= after they ended: none")
    check(subs("?until=2000-01-01T00:00:00Z") == (200, []), "?until= before they began: none")
    st, doc = sessions(api, ops, "?limit=1")
    check(st == 200 and [s["sub"] for s in doc["sessions"]] == ["agent-other"] and
          doc["total"] == 2, "?limit=1: the newest, and the total")

    for q, word in (("?verdict=allow", "verdict"), ("?since=yesterday", "UTC"),
                    ("?since=2026-02-30T00:00:00Z", "UTC"), ("?limit=0", "limit"),
                    (f"?since={iso(now)}&until={iso(now - 60)}", "after"),
                    ("?sub=" + "a" * 300, "256")):
        st, doc = sessions(api, ops, q)
        check(st == 400 and word in doc.get("error", ""), f"{q[:40]}: 400 ({doc})")
    for path, want in (("/api/sessions/abc", 400), ("/api/sessions/0", 400),
                       ("/api/sessions/" + "9" * 40, 400), ("/api/sessions/999999", 404),
                       ("/api/sessions/1/x", 404)):
        st, doc, _ = api.get(path, token=ops)
        check(st == want and isinstance(doc, dict) and doc.get("error"),
              f"GET {path[:40]}: {want} with a JSON error ({st} {doc})")
    st, doc, h = api.post(f"/api/sessions/{mine['id']}", token=ops)
    check(st == 405 and h.get("allow") == "GET, HEAD", "POST to a session: 405")

    st, rp, _ = api.get(f"/api/sessions/{mine['id']}", token=ops)
    check(st == 200 and rp["session"] == mine["id"] and rp["complete"] and
          not rp["truncated"] and rp["end"] == "terminate" and rp["who"]["sub"] == "agent-page",
          f"GET /api/sessions/{{id}}: the replay ({str(rp)[:200]})")
    stmts = [s for s in rp["statements"] if "t_us" in s]
    sel, drop = stmts[0], stmts[1]
    res = sel["results"][0]
    check(sel["sql"] == "SELECT id, card FROM customers WHERE id = $1" and
          res["columns"] == ["id", "card"] and res["rows"] == [["4242", MASKED]] and
          res["tag"] == "SELECT 1" and res["types"][0] == 23 and sel["time_ms"] >= 0,
          f"the SELECT: text without its literal, the masked value, the tag, the time ({sel})")
    check(drop["verdict"] == "deny" and drop["rule"] == "baseline.no-drop" and
          drop["errors"][0]["sqlstate"] == "42501" and drop["results"] == [],
          f"the DROP: denied, its rule and error ({drop})")
    check(CARD not in str(rp), "the replay holds no card")
    check(pgfix.wait_log(rg, f"event=admin_session_read session={mine['id']} sub=olga"),
          "reading a replay is logged with who read it")
    return mine["id"]


def check_page(drv, By, base, iss, ops, sid):
    drv.get(base + "/")
    drv.find_element(By.ID, "token").send_keys(ops)
    drv.find_element(By.ID, "login-btn").click()
    wait_for("the approvals view", lambda: drv.find_element(By.ID, "approvals-view")
             .is_displayed())
    drv.find_element(By.ID, "nav-sessions").click()
    wait_for("the sessions view", lambda: drv.find_element(By.ID, "sessions-view")
             .is_displayed())
    check(drv.title == "ringgate sessions" and
          not drv.find_element(By.ID, "approvals-view").is_displayed(),
          "Sessions: a view beside the approvals")
    wait_for("the list", lambda: drv.find_elements(By.ID, f"sess-{sid}"))
    rows = drv.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")
    check(len(rows) == 2, f"both sessions listed ({len(rows)})")

    drv.find_element(By.ID, "sess-sub").send_keys("agent-page")
    drv.find_element(By.ID, "sess-search-btn").click()
    wait_for("the search by sub", lambda: len(drv.find_elements(
        By.CSS_SELECTOR, "#sessions tbody tr")) == 1)
    row = drv.find_element(By.ID, f"sess-{sid}")
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    check(cells[1] == "agent-page" and cells[2] == "appdb" and cells[5] == "2" and
          cells[6] == "1" and cells[7] == "yes", f"found by its sub: who, target, totals ({cells})")

    row.find_element(By.TAG_NAME, "a").click()
    wait_for("the replay", lambda: drv.find_elements(By.CSS_SELECTOR, "#replay .stmt"))
    check(drv.current_url.endswith(f"#/sessions/{sid}"), "the replay has its own URL")
    meta = drv.find_element(By.ID, "replay-meta").text
    check("agent-page" in meta and "appdb" in meta and "terminate" in meta,
          f"the replay names who, where and how it ended ({meta!r})")
    boxes = [b for b in drv.find_elements(By.CSS_SELECTOR, "#replay .stmt")
             if b.find_elements(By.CSS_SELECTOR, "pre.sql")]
    check(len(boxes) == 2, f"two statements ({len(boxes)})")
    sel, drop = boxes
    code = sel.find_element(By.CSS_SELECTOR, "pre.sql code")
    kws = [s.text for s in code.find_elements(By.CSS_SELECTOR, "span.kw")]
    check(code.text == "SELECT id, card FROM customers WHERE id = $1" and
          kws == ["SELECT", "FROM", "WHERE"], f"the statement, highlighted ({kws})")
    heads = [c.text for c in sel.find_elements(By.CSS_SELECTOR, "table.rows th")]
    vals = [c.text for c in sel.find_elements(By.CSS_SELECTOR, "table.rows td")]
    num = sel.find_element(By.CSS_SELECTOR, "table.rows td").get_attribute("class")
    check(heads == ["id", "card"] and vals == ["4242", MASKED] and "right" in num,
          f"its result as an aligned table, the masked value as recorded ({vals}, {num})")
    check("(1 row)" in sel.text and "Time: " in sel.text and " ms" in sel.text,
          "...its row count and timing")
    verdict = drop.find_element(By.CSS_SELECTOR, ".verdict")
    err = drop.find_element(By.CSS_SELECTOR, ".pg-error").text
    check(verdict.text.lower() == "deny" and "v-deny" in verdict.get_attribute("class") and
          "rule baseline.no-drop" in drop.text, "the DROP: its verdict and rule")
    check(err.startswith("ERROR:") and "denied by policy rule baseline.no-drop" in err and
          "42501" in err, f"...and the error the agent got ({err!r})")
    check(CARD not in drv.page_source, "no card anywhere in the page")

    drv.find_element(By.ID, "replay-back").click()
    wait_for("the list again", lambda: drv.find_element(By.ID, "sessions-view").is_displayed())
    drv.find_element(By.ID, "sess-sub").clear()
    drv.find_element(By.ID, "sess-denied").click()
    drv.find_element(By.ID, "sess-search-btn").click()
    def listed():
        return [r.get_attribute("id") for r in drv.find_elements(
            By.CSS_SELECTOR, "#sessions tbody tr")]
    wait_for("only denials", lambda: len(listed()) == 1)
    check(listed() == [f"sess-{sid}"], "only with denials: the session with the DROP alone")
    drv.find_element(By.ID, "sess-denied").click()
    drv.execute_script("document.getElementById('sess-until').value = '2000-01-01T00:00:00'")
    drv.find_element(By.ID, "sess-search-btn").click()
    wait_for("the time filter", lambda: drv.find_element(By.ID, "sess-status").text ==
             "no session matches")
    check(not listed(), "a time range before the sessions: none")
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 3600))
    drv.execute_script("document.getElementById('sess-until').value = '';"
                       f"document.getElementById('sess-since').value = '{since}'")
    drv.find_element(By.ID, "sess-search-btn").click()
    wait_for("the last hour", lambda: len(listed()) == 2)
    check(listed()[1] == f"sess-{sid}", "from an hour ago (local time): both, newest first")

    # a reviewer's token: the view says sessions are for operators
    drv.find_element(By.ID, "logout").click()
    drv.find_element(By.ID, "token").send_keys(iss.token(sub="alice", groups="reviewers"))
    drv.find_element(By.ID, "login-btn").click()
    wait_for("the sessions view", lambda: drv.find_element(By.ID, "sessions-view")
             .is_displayed())
    wait_for("the refusal", lambda: "operators" in drv.find_element(By.ID, "sess-status").text)
    check(not drv.find_elements(By.CSS_SELECTOR, "#sessions tbody tr"),
          "a reviewer sees no session, and is told why")
    errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE" and
              "401" not in e.get("message", "") and "403" not in e.get("message", "")]
    check(not errors, f"no browser errors (CSP, script) ({errors[:3]})")


def main():
    with rgtest.PgServer() as pg:
        pg.admin_psql("CREATE TABLE customers (id int primary key, card text)",
                      database=pg.database)
        pg.admin_psql(f"INSERT INTO customers VALUES (4242, '{CARD}')", database=pg.database)
        pg.admin_psql(f"GRANT ALL ON customers TO \"{pg.user}\"", database=pg.database)
        iss = pgfix.Issuer()
        work = tempfile.mkdtemp(prefix="rgtest-sessui-")
        drv = None
        db = mariadb.MariaServer()
        try:
            db.start()
            key, _ = rgtest.signing_keypair(work)
            jdir = os.path.join(work, "journals")
            os.makedirs(jdir)
            bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"],
                                           os.path.join(work, "b.rgb"))
            port = rgtest.free_port()
            # a MySQL listener and target too (the pg ones first: rg.port is pg's)
            my_port = rgtest.free_port()
            mypw = os.path.join(work, "my.pw")
            with open(mypw, "w") as f:
                f.write(db.native_password + "\n")
            os.chmod(mypw, 0o600)
            base = rgtest.ringgate_config(pg, os.path.join(work, "cfgtmp"))
            listeners = base["listeners"] + [
                {"name": "my", "address": f"127.0.0.1:{my_port}", "protocol": "mysql",
                 "insecure_plaintext": True}]
            targets = base["targets"] + [
                {"name": "shop", "protocol": "mysql", "address": f"{db.host}:{db.port}",
                 "database": db.database, "user": db.native_user, "password_file": mypw,
                 "tls": {"mode": "disable"}}]
            # audit.dir and recordings_dir left out: the listener finds them in state_dir
            rg = pgfix.start(pg, iss, policy={"bundle": bundle}, extra={
                "listeners": listeners, "targets": targets,
                "admin": {"address": f"127.0.0.1:{port}", "operators": ["ops"]},
                "audit": {"key_file": key, "journal_dir": jdir, "record_sessions": True}})
            api = adminfix.Admin(port)
            api.wait()
            ops = iss.token(sub="olga", groups="ops")
            run_sessions(rg, iss)
            sid = check_api(api, rg, iss, ops)

            drv = browser(os.path.join(work, "chrome"))
            from selenium.webdriver.common.by import By
            check_page(drv, By, f"http://127.0.0.1:{port}", iss, ops, sid)
            run_mysql_session(my_port, iss)
            check_mysql_page(drv, By, api, ops)
            rc = rg.stop()
            check(rc == 0, f"ringgate exits 0 (ASan clean) ({rc})")
        finally:
            if drv is not None:
                drv.quit()
            shutil.rmtree(work, ignore_errors=True)
            iss.stop()
            db.stop()


if __name__ == "__main__":
    main()
