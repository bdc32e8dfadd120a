#!/usr/bin/env python3
"""engine/proto/mysql against a real MariaDB 10.11 (lib/mariadb.py): the C program
rg_mysql_check logs in with mysql_native_password and, through an AuthSwitchRequest, with
client_ed25519, then runs text and binary result sets, multi-statements, a prepared
statement round trip with long data, and 17 MB messages both ways; a wrong password gets
ERR 1045/28000. The ed25519 public key computed by the module must equal what the server
stored for the same password. caching_sha2_password has no MariaDB server side: it is
covered by the known-answer tests in tests/unit/mysql only."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import mariadb  # noqa: E402
import rgtest  # noqa: E402


def run_check(my, mode, user, password, timeout=300):
    exe = os.path.join(rgtest.RG_BUILD, "tests", "integ", "rg_mysql_check")
    if not os.access(exe, os.X_OK):
        rgtest.skip(f"{exe} not built")
    env = dict(os.environ, RG_TEST_MY_HOST=my.host, RG_TEST_MY_PORT=str(my.port),
               RG_TEST_MY_DB=my.database, RG_TEST_MY_USER=user, RG_TEST_MY_PASSWORD=password)
    r = subprocess.run([exe, mode], env=env, capture_output=True, text=True, timeout=timeout)
    sys.stdout.write(r.stdout)
    return r


def main():
    with mariadb.MariaServer() as my:
        rgtest.check(my.version.startswith("10.11"), f"MariaDB {my.version} started")
        # the harness's own users work for an ordinary client (PyMySQL, native password)
        conn = my.connect()
        cur = conn.cursor()
        cur.execute("SELECT CURRENT_USER()")
        rgtest.check(cur.fetchone()[0] == f"{my.native_user}@%", "PyMySQL logs in as the native user")
        conn.close()

        stored = my.sql(f"SELECT authentication_string FROM mysql.user "
                        f"WHERE user = '{my.ed_user}'").strip()
        r = run_check(my, "pubkey", my.ed_user, my.ed_password)
        rgtest.check(r.returncode == 0 and r.stdout.strip() == stored,
                     "ed25519 public key from the password equals the server's stored key")

        r = run_check(my, "native", my.native_user, my.native_password)
        rgtest.check(r.returncode == 0 and "PASSED" in r.stdout,
                     f"native login, queries, prepared statements, 17 MB\n{r.stderr}")
        r = run_check(my, "ed25519", my.ed_user, my.ed_password)
        rgtest.check(r.returncode == 0 and "PASSED" in r.stdout,
                     f"ed25519 login, queries, prepared statements\n{r.stderr}")
        for user in (my.native_user, my.ed_user):
            r = run_check(my, "bad-password", user, "unused")
            rgtest.check(r.returncode == 0, f"wrong password for {user} refused\n{r.stderr}")
    print("mysql wire: native and ed25519 logins, text/binary results, 16 MiB+ messages "
          "checked against MariaDB")


if __name__ == "__main__":
    main()
