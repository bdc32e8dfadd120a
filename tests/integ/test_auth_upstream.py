#!/usr/bin/env python3
"""ringgate's upstream login code (engine/auth SCRAM-SHA-256 and md5 clients) against a real
PostgreSQL 15: the C check program logs in with each method; a wrong password is refused."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import rgtest  # noqa: E402


def run_check(pg, user, password):
    exe = os.path.join(os.environ["RG_BUILD"], "tests/unit/auth/auth_scram_pg_check")
    if not os.path.exists(exe):
        rgtest.skip(f"{exe} not built")
    env = dict(os.environ, RG_TEST_PG_HOST="127.0.0.1", RG_TEST_PG_PORT=str(pg.port),
               RG_TEST_PG_USER=user, RG_TEST_PG_PASSWORD=password, RG_TEST_PG_DB=pg.database)
    return subprocess.run([exe], env=env, capture_output=True, text=True, timeout=120)


def main():
    with rgtest.PgServer() as pg:
        r = run_check(pg, pg.user, pg.password)
        assert r.returncode == 0, f"SCRAM login failed:\n{r.stdout}{r.stderr}"
        assert "PASSED" in r.stdout + r.stderr, r.stdout + r.stderr
        # an md5-hashed role, and an md5 line in pg_hba ahead of the scram one
        pg.admin_psql("SET password_encryption = 'md5'; "
                      "CREATE ROLE md5user LOGIN PASSWORD 'md5-secret'; "
                      f"GRANT CONNECT ON DATABASE {pg.database} TO md5user")
        hba = os.path.join(pg.datadir, "pg_hba.conf")
        with open(hba) as f:
            lines = f.read()
        with open(hba, "w") as f:  # root may rewrite it; owner and mode stay
            f.write("host all md5user 127.0.0.1/32 md5\n" + lines)
        pg.admin_psql("SELECT pg_reload_conf()")
        r = run_check(pg, "md5user", "md5-secret")
        assert r.returncode == 0, f"md5 login failed:\n{r.stdout}{r.stderr}"
        r = run_check(pg, pg.user, "wrong-password")
        assert r.returncode != 0, "a wrong password was accepted"
    print("upstream auth: scram, md5 and refusal checked against PostgreSQL 15")


if __name__ == "__main__":
    main()
