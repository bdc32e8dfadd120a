#!/usr/bin/env python3
"""Sessions do not outlive their token (issue #9 item 4; docs/pg.md, docs/config.md).

Against a real PostgreSQL 15 and the real ringgate: a session whose token expires is ended
at exp + clock skew with a FATAL that says so, idle or in the middle of its work; an issuer
with session_outlives_token: true keeps such a session; an issuer with max_token_lifetime
refuses tokens that live longer at login.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()

SKEW = 2  # seconds, the identity's clock_skew below
TTL = 3


def identity(iss, **issuer_keys):
    ident = iss.identity()
    ident["clock_skew"] = f"{SKEW}s"
    ident["issuers"][0].update(issuer_keys)
    return ident


def main():
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        rg = rgtest.Ringgate(pg, identity=identity(iss)).start()
        rg_keep = rgtest.Ringgate(pg, identity=identity(
            iss, session_outlives_token=True)).start()
        rg_short = rgtest.Ringgate(pg, identity=identity(iss, max_token_lifetime="1m")).start()

        t0 = time.time()
        tok = iss.token(ttl=f"{TTL}s")
        idle = pgfix.connect(rg, tok)
        busy = pgfix.connect(rg, tok)
        kept = pgfix.connect(rg_keep, tok)
        for c in (idle, busy, kept):
            c.autocommit = True
            c.cursor().execute("SELECT 1")
        check(True, "three sessions logged in with a 3 s token")
        # busy: a statement running across the expiry is cut
        cur = busy.cursor()
        try:
            cur.execute(f"SELECT pg_sleep({TTL + SKEW + 4})")
            check(False, "a statement running across the expiry does not complete")
        except psycopg2.OperationalError as e:
            # psycopg2 reports a FATAL during a query as the lost connection (it does the
            # same for PostgreSQL's own pg_terminate_backend); psql below shows the text
            dt = time.time() - t0
            check(TTL + SKEW - 1 <= dt < TTL + SKEW + 3,
                  f"busy session ended at exp + skew ({dt:.1f}s): {str(e).strip()}")
        try:
            idle.cursor().execute("SELECT 1")
            check(False, "the idle session is gone")
        except psycopg2.OperationalError as e:
            check(True, f"idle session ended too ({str(e).strip()[:60]})")
        t1 = time.time()
        r = rgtest.run_psql(f"SELECT pg_sleep({TTL + SKEW + 4})",
                            rg.env("agent-1", iss.token(ttl=f"{TTL}s")), check=False)
        check(r.returncode != 0 and "FATAL:  terminating connection because the agent's token "
              "expired" in r.stderr and time.time() - t1 < TTL + SKEW + 3,
              f"psql sees the FATAL that says why ({r.stderr.strip()[:120]})")
        log = pgfix.log_text(rg)
        check(log.count("event=session_expired") == 3, "three event=session_expired lines")
        kept.cursor().execute("SELECT 1")
        check(True, "session_outlives_token: true keeps the session past its token")
        kept.close()
        # the expired token no longer logs in anywhere
        try:
            pgfix.connect(rg, tok).close()
            check(False, "expired token refused")
        except psycopg2.OperationalError:
            check(True, "the expired token no longer logs in")

        # max_token_lifetime
        try:
            pgfix.connect(rg_short, iss.token(ttl="10m")).close()
            check(False, "a 10 min token is refused by max_token_lifetime 1m")
        except psycopg2.OperationalError as e:
            check("authentication failed" in str(e), "a 10 min token: refused (28P01)")
        check(pgfix.wait_log(rg_short, "reason=lifetime_too_long"),
              "...logged as reason=lifetime_too_long")
        c = pgfix.connect(rg_short, iss.token(ttl="30s"))
        c.cursor().execute("SELECT 1")
        c.close()
        check(True, "a 30 s token logs in under max_token_lifetime 1m")
        for r in (rg, rg_keep, rg_short):
            probs = rgtest.sanitizer_reports(pgfix.log_text(r))
            check(not probs and r.proc.poll() is None, f"ringgate healthy ({probs[:3]})")


if __name__ == "__main__":
    main()
