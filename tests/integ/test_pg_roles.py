#!/usr/bin/env python3
"""The startup user is bound to the identity (issue #9 item 17; docs/pg.md, docs/config.md).

Against a real PostgreSQL 15: the agent's startup user is its token's subject or the target's
user (the target's user), or one of the target's `roles` that its token's groups allow (that
role, with its own credential); any other name is refused with FATAL 28000, so a client that
asks for a role it may not have is never silently given another.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402


def who(rg, user, tok):
    r = rgtest.run_psql("SELECT current_user", rg.env(user, tok), check=False)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def main():
    with rgtest.PgServer() as pg:
        pg.admin_psql("CREATE ROLE reader LOGIN PASSWORD 'reader-pw'; "
                      "CREATE ROLE dba LOGIN PASSWORD 'dba-pw'; "
                      f"GRANT CONNECT ON DATABASE {pg.database} TO reader, dba")
        iss = pgfix.Issuer()
        cfg_target = {"name": "appdb", "protocol": "postgres", "address": f"{pg.host}:{pg.port}",
                      "database": pg.database, "user": pg.user, "password_env": "RG_APP_PW",
                      "tls": {"mode": "disable"},
                      "roles": [{"user": "reader", "password_env": "RG_READER_PW",
                                 "groups": ["readers", "analysts"]},
                                {"user": "dba", "password_env": "RG_DBA_PW",
                                 "groups": ["dba"]}]}
        rg = pgfix.start(pg, iss, extra={"targets": [cfg_target]},
                         env={"RG_APP_PW": pg.password, "RG_READER_PW": "reader-pw",
                              "RG_DBA_PW": "dba-pw"})
        reader_tok = iss.token(sub="agent-9", groups="readers")
        dba_tok = iss.token(sub="agent-10", groups="dba,readers")
        nogroup_tok = iss.token(sub="agent-11")

        rc, out, err = who(rg, "agent-9", reader_tok)
        check(rc == 0 and out == pg.user, f"startup user = sub: the target's user ({out} {err})")
        rc, out, err = who(rg, pg.user, reader_tok)
        check(rc == 0 and out == pg.user, f"startup user = target's user ({out} {err})")
        rc, out, err = who(rg, "reader", reader_tok)
        check(rc == 0 and out == "reader",
              f"startup user = a role the token's groups allow: that role ({out} {err})")
        rc, out, err = who(rg, "dba", dba_tok)
        check(rc == 0 and out == "dba", f"dba group: the dba role ({out} {err})")
        for user, tok, what in (("dba", reader_tok, "a role of another group"),
                                ("reader", nogroup_tok, "a role, token without groups"),
                                ("postgres", reader_tok, "a name that is no role"),
                                ("agent-10", reader_tok, "another agent's subject"),
                                ("Reader", reader_tok, "a role name in other case")):
            rc, out, err = who(rg, user, tok)
            check(rc != 0 and "FATAL" in err and "28000" not in out and
                  f'role "{user}" is not available' in err,
                  f"{what} ({user}): refused with FATAL ({err})")
        log = pgfix.log_text(rg)
        check("event=role_refused" in log and "event=upstream_login" in log and
              "role=reader" in log, "refusals and the role logged in as are in the log")
        # the raw wire: SQLSTATE 28000 after the token verified
        raw = pgfix.Raw(rg.host, rg.port)
        msgs, ok = raw.login(reader_tok, "appdb", user="dba")
        errs = [pgfix.error_fields(b) for t, b in msgs if t == b"E"]
        check(not ok and errs and errs[0].get("C") == "28000" and errs[0].get("S") == "FATAL",
              f"raw: FATAL 28000 ({errs})")
        raw.close()
        # a refused role leaves no backend behind
        r = subprocess.run(["psql", "-X", "-A", "-t", "-c",
                            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'dba'"],
                           env=pg.env(tcp=False), capture_output=True, text=True, timeout=30)
        check(r.stdout.strip() == "0", f"no dba backend left ({r.stdout.strip()})")


if __name__ == "__main__":
    main()
