"""Target passwords at the credential store's limit (1024 bytes) log in through ringgate
against a real PostgreSQL 15, by cleartext `password` (the PasswordMessage carries all 1024
bytes) and by SCRAM-SHA-256, both read from password_env; and once read, the variables are
gone from ringgate's environment: /proc/PID/environ no longer shows the values."""

import os
import secrets
import string
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402


def long_password(n=1024):
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def main():
    pw_clear, pw_scram = long_password(), long_password()
    with rgtest.PgServer() as pg:
        pg.admin_psql(f"CREATE ROLE longclear LOGIN PASSWORD '{pw_clear}'; "
                      f"CREATE ROLE longscram LOGIN PASSWORD '{pw_scram}'")
        hba = os.path.join(pg.datadir, "pg_hba.conf")
        with open(hba) as f:
            lines = f.read()
        with open(hba, "w") as f:  # cleartext for one role, ahead of the scram line
            f.write("host all longclear 127.0.0.1/32 password\n" + lines)
        pg.admin_psql("SELECT pg_reload_conf()")

        def target(name, user, var, allowed=("scram-sha-256",)):
            return {"name": name, "protocol": "postgres", "address": f"{pg.host}:{pg.port}",
                    "database": pg.database, "user": user, "password_env": var,
                    "tls": {"mode": "disable"}, "allowed_auth": list(allowed)}

        iss = pgfix.Issuer()
        rg = pgfix.start(pg, iss, env={"RG_LONG_CLEAR": pw_clear, "RG_LONG_SCRAM": pw_scram},
                         extra={"targets": [target("clear", "longclear", "RG_LONG_CLEAR", ("password",)),
                                            target("scram", "longscram", "RG_LONG_SCRAM")]})
        try:
            tok = iss.token()
            for db, user in (("clear", "longclear"), ("scram", "longscram")):
                r = rgtest.run_psql("SELECT current_user", rg.env("agent-1", tok, database=db),
                                    check=False)
                check(r.returncode == 0 and r.stdout.strip() == user,
                      f"1024-byte password logs in as {user} ({r.stderr.strip()[:200]})")
            log = pgfix.log_text(rg)
            check("target=clear role=longclear tls=no mech=password" in log,
                  "the cleartext target was logged in with a PasswordMessage")
            check("mech=SCRAM-SHA-256" in log, "the scram target used SCRAM-SHA-256")
            check(pw_clear not in log and pw_scram not in log, "no password in the log")
            with open(f"/proc/{rg.proc.pid}/environ", "rb") as f:
                env = f.read()
            check(pw_clear.encode() not in env and pw_scram.encode() not in env and
                  b"RG_LONG_CLEAR=" + pw_clear[:8].encode() not in env,
                  "password_env values are gone from /proc/PID/environ")
        finally:
            rg.stop()
            iss.stop()
    print("long target passwords: cleartext and SCRAM at 1024 bytes; environment scrubbed")


if __name__ == "__main__":
    main()
