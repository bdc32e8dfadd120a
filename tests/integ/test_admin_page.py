"""The reviewers' page of the admin listener in a real headless browser (Debian chromium +
chromium-driver, python3-selenium), against the real ringgate (issue #11).

A reviewer pastes a dev-issuer token; a bad token is refused with "authentication failed";
the pending requests of their group show up with identity, target, rule, age, expiry and the
statement highlighted (as text: markup in a statement stays text); a request created while
the page is open appears by itself (polling); approve and deny need a reason and land in the
history; the token survives a reload of the tab (sessionStorage); a request's URL
(#/approvals/<id>) focuses it. The page runs under the listener's Content-Security-Policy
(no inline script) and the browser logs no error.

Then the whole path: a psql UPDATE that a require_approval rule holds in its live session
shows up on the page, a reviewer approves it there and the psql statement completes (the row
changes); a second one denied there fails in psql with the reviewer's reason.

The first requests are created by rg_control_fixture (a test-only tool writing into the
gateway's control store), so the page is tested on requests of any shape.
Skips (77) when chromium, chromedriver or selenium is missing.
"""

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


def browser(profile):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        rgtest.skip(f"selenium is not importable by {sys.executable} (install python3-selenium)")
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not chrome or not os.access(driver, os.X_OK):
        rgtest.skip("chromium and chromium-driver are needed (Debian packages)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
              "--window-size=1280,1000"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


def wait_for(what, fn, timeout=20.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 -- the DOM may be mid-update
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({last})")


PACK = adminfix.orders_pack("2m")


def held_card(drv, By, sql):
    """The pending card whose statement is sql (a request the gateway created)."""
    for c in drv.find_elements(By.CSS_SELECTOR, "#pending .card"):
        if c.find_element(By.CSS_SELECTOR, "pre.sql").text == sql:
            return c
    return None


def check_held_statements(drv, By, rg, pg, iss):
    """A statement held in a live psql session, approved (then another denied) on the page."""
    env = rg.env("agent-1", iss.token(sub="agent-1", groups="agents"))
    sql = "UPDATE orders SET n = n + 1 WHERE id = 1"
    psql = subprocess.Popen(["psql", "-X", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c",
                             sql], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        card = wait_for("the held statement on the page", lambda: held_card(drv, By, sql))
        check("agent-1" in card.text and "t.orders-updates" in card.text,
              "a statement held in a live session appears on the page (requester, rule)")
        check(psql.poll() is None, "...while psql waits")
        card.find_element(By.CSS_SELECTOR, "input.reason").send_keys("one row, fine")
        card.find_element(By.CSS_SELECTOR, "button.approve").click()
        out, err = psql.communicate(timeout=30)
    finally:
        if psql.poll() is None:
            psql.kill()
    check(psql.returncode == 0 and "UPDATE 1" in out and "waiting for approval" in err,
          f"approved on the page: the held psql statement completes ({out.strip()!r})")
    check(pg.psql("SELECT n FROM orders WHERE id = 1").stdout.strip() == "1",
          "...and it ran once on PostgreSQL")

    sql2 = "UPDATE orders SET n = 100 WHERE id = 2"
    psql = subprocess.Popen(["psql", "-X", "-w", "-A", "-t", "-c", sql2], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        card = wait_for("the second held statement", lambda: held_card(drv, By, sql2))
        card.find_element(By.CSS_SELECTOR, "input.reason").send_keys("use the batch job")
        card.find_element(By.CSS_SELECTOR, "button.deny").click()
        out, err = psql.communicate(timeout=30)
    finally:
        if psql.poll() is None:
            psql.kill()
    check("use the batch job" in err and "UPDATE" not in out,
          f"denied on the page: psql gets an error with the reason ({err.strip()[-160:]!r})")
    check(pg.psql("SELECT n FROM orders WHERE id = 2").stdout.strip() == "0",
          "...and nothing ran")


def main():
    from_page = None
    with rgtest.PgServer() as pg:
        pg.psql("CREATE TABLE orders (id int PRIMARY KEY, n int); "
                "INSERT INTO orders SELECT g, 0 FROM generate_series(1, 5) g")
        iss = pgfix.Issuer()
        profile = tempfile.mkdtemp(prefix="rgtest-chrome-")
        drv = None
        try:
            drv = browser(profile)
            from selenium.webdriver.common.by import By
            port = rgtest.free_port()
            pack = os.path.join(profile, "t.yaml")
            with open(pack, "w") as f:
                f.write(PACK)
            bundle = rgtest.compile_bundle(["rules/baseline", pack],
                                           os.path.join(profile, "b.rgb"))
            rg = pgfix.start(pg, iss, policy={"bundle": bundle},
                             extra={"admin": {"address": f"127.0.0.1:{port}"}})
            api = adminfix.Admin(port)
            api.wait()
            base = f"http://127.0.0.1:{port}"
            sql1 = "UPDATE customers SET email = 'a@b' WHERE id < 10 -- <b>bold?</b>"
            r1 = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-1", groups="agents",
                                         sql=sql1, rule="approve-writes", peer="10.1.2.3:5555")
            other = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-9", reviewers="dba")

            drv.get(base + "/")
            check(drv.title == "ringgate approvals", "the page loads from the binary")
            drv.find_element(By.ID, "token").send_keys("not-a-token")
            drv.find_element(By.ID, "login-btn").click()
            wait_for("the login error", lambda: drv.find_element(By.ID, "login-error").text)
            check(drv.find_element(By.ID, "login-error").text == "authentication failed",
                  "a bad token is refused: authentication failed")

            alice = iss.token(sub="alice", groups="reviewers")
            box = drv.find_element(By.ID, "token")
            box.clear()
            box.send_keys(alice)
            drv.find_element(By.ID, "login-btn").click()
            c1 = wait_for("the pending request", lambda: drv.find_element(By.ID, f"req-{r1}"))
            text = c1.text
            check("agent-1" in text and "approve-writes" in text and "appdb" in text and
                  "10.1.2.3:5555" in text and "agents" in text and "reviewers" in text,
                  "a pending request shows identity, source, target, rule, reviewers")
            check("age" in text and "expires in" in text and " min" in text,
                  "...its age and the time left before it expires")
            code = c1.find_element(By.CSS_SELECTOR, "pre.sql code")
            kws = [s.text for s in code.find_elements(By.CSS_SELECTOR, "span.kw")]
            strs = [s.text for s in code.find_elements(By.CSS_SELECTOR, "span.str")]
            coms = [s.text for s in code.find_elements(By.CSS_SELECTOR, "span.com")]
            check(code.text == sql1 and kws[:3] == ["UPDATE", "SET", "WHERE"] and
                  strs == ["'a@b'"] and coms == ["-- <b>bold?</b>"],
                  "the statement is highlighted (keywords, strings, comments), text unchanged")
            check(not code.find_elements(By.TAG_NAME, "b"), "markup in a statement stays text")
            check(not drv.find_elements(By.ID, f"req-{other}"),
                  "another group's request is not shown")
            check(drv.find_element(By.ID, "who").text == "alice (reviewers)",
                  "the header names the reviewer")

            # live update: a request created while the page is open appears
            r2 = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-2",
                                         sql="DELETE FROM orders WHERE id = 7")
            c2 = wait_for("the new request to appear",
                          lambda: drv.find_element(By.ID, f"req-{r2}"), timeout=10)
            check("DELETE FROM orders" in c2.text, "a new request appears without a reload")

            # approve needs a reason
            c1.find_element(By.CSS_SELECTOR, "button.approve").click()
            wait_for("the reason error", lambda: "reason" in c1.find_element(
                By.CSS_SELECTOR, "span.error").text)
            check(adminfix.stored_status(rg, r1) == "pending", "no reason, no decision")
            c1.find_element(By.CSS_SELECTOR, "input.reason").send_keys("ten rows, checked")
            c1.find_element(By.CSS_SELECTOR, "button.approve").click()
            row = wait_for("the history row", lambda: drv.find_element(By.ID, f"hist-{r1}"))
            check("approved" in row.text and "alice" in row.text and
                  "ten rows, checked" in row.text, "approved: in the history with who and why")
            check(adminfix.stored_status(rg, r1) == "approved",
                  "...and in the control store")
            check(not drv.find_elements(By.ID, f"req-{r1}"), "...and no longer pending")

            c2 = drv.find_element(By.ID, f"req-{r2}")
            c2.find_element(By.CSS_SELECTOR, "input.reason").send_keys("use the batch job")
            c2.find_element(By.CSS_SELECTOR, "button.deny").click()
            row = wait_for("the denied row", lambda: drv.find_element(By.ID, f"hist-{r2}"))
            check("denied" in row.text and "use the batch job" in row.text,
                  "denied: in the history with the reason")
            check(adminfix.stored_status(rg, r2) == "denied", "...and in the control store")

            # a request's URL focuses it; the token survives a reload of the tab
            r3 = adminfix.insert_request(rg, iss=iss.issuer, sub="agent-3")
            st, doc, _ = api.get(f"/api/approvals/{r3}", token=alice)
            check(st == 200 and doc["url"] == f"{base}/#/approvals/{r3}", "the request's URL")
            drv.get(doc["url"])
            drv.refresh()
            c3 = wait_for("the focused request", lambda: drv.find_element(By.ID, f"req-{r3}"))
            wait_for("the focus", lambda: "focus" in c3.get_attribute("class"))
            check(not drv.find_element(By.ID, "app").get_attribute("hidden"),
                  "the token is kept for the tab (sessionStorage): no login after a reload")
            check("focus" in c3.get_attribute("class"), "#/approvals/<id> focuses that request")

            check_held_statements(drv, By, rg, pg, iss)

            drv.find_element(By.ID, "logout").click()
            wait_for("the login form", lambda: drv.find_element(By.ID, "login").is_displayed())
            check(drv.execute_script("return sessionStorage.length") == 0,
                  "Forget token clears it")

            errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE" and
                      "401" not in e.get("message", "")]
            check(not errors, f"no browser errors (CSP, script) ({errors[:3]})")
            from_page = rg.stop()
            check(from_page == 0, f"ringgate exits 0 ({from_page})")
        finally:
            if drv is not None:
                drv.quit()
            shutil.rmtree(profile, ignore_errors=True)
            iss.stop()


if __name__ == "__main__":
    main()
