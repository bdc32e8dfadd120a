"""A target named by DNS with several addresses, against a real PostgreSQL 15.

ringgate runs in a private mount namespace (unshare --mount) whose /etc/hosts is a file of
this test: `dbmulti.test` has two addresses, ::1 (nothing listens there: PostgreSQL is on
127.0.0.1 only) and 127.0.0.1. getaddrinfo puts ::1 first (RFC 6724 precedence), so every
login first meets a refused connect: ringgate must log `event=upstream_retry` and log in
through the next address, and a cancel of that session must reach the server the session is
connected to (127.0.0.1), not whichever address comes first. The machine's own /etc/hosts
is never touched. Skips (77) where a mount namespace cannot be made."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()
NAME = "dbmulti.test"


def private_hosts_works(hosts):
    """Can this machine give a process its own /etc/hosts? (root + mount namespaces)"""
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        f'mount --bind "$0" /etc/hosts && getent ahosts {NAME}', hosts],
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0 and "127.0.0.1" in r.stdout, (r.stdout + r.stderr).strip()


def argv_in_namespace(hosts):
    def argv(binary, config):
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /etc/hosts && exec "$1" --config "$2"', hosts, binary,
                config]
    return argv


def main():
    work = tempfile.mkdtemp(prefix="rg-dns-")
    try:
        run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work):
    hosts = os.path.join(work, "hosts")
    with open(hosts, "w") as f:
        f.write(f"::1 {NAME}\n127.0.0.1 {NAME}\n")
    ok, why = private_hosts_works(hosts)
    if not ok:
        shutil.rmtree(work, ignore_errors=True)
        rgtest.skip(f"cannot give ringgate a private /etc/hosts here: {why[:200]}")
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        target = {"name": "appdb", "protocol": "postgres", "address": f"{NAME}:{pg.port}",
                  "database": pg.database, "user": pg.user,
                  "password_file": "secrets/appdb.pw", "tls": {"mode": "disable"},
                  "connect_timeout": "5s"}
        rg = pgfix.start(pg, iss, argv=argv_in_namespace(hosts), extra={"targets": [target]})
        tok = iss.token()

        conn = pgfix.connect(rg, tok)
        cur = conn.cursor()
        cur.execute("SELECT inet_server_addr()::text")
        check(cur.fetchone()[0].startswith("127.0.0.1"), "logged in through 127.0.0.1")
        check(pgfix.wait_log(rg, "event=upstream_retry"),
              "the refused first address (::1) was logged and the next one tried")
        log = pgfix.log_text(rg)
        check("next=2/2" in log, "two addresses known for the name")

        # cancel: must go to the connected server, with no connect to ::1 in between
        retries = log.count("event=upstream_retry")
        t = threading.Thread(target=pgfix.cancel_when_running,
                             args=(pg, conn, "SELECT pg_sleep(30)"))
        t.start()
        start = time.monotonic()
        try:
            cur.execute("SELECT pg_sleep(30)")
            check(False, "pg_sleep was cancelled")
        except psycopg2.extensions.QueryCanceledError as e:
            took = time.monotonic() - start
            check(e.pgcode == "57014" and took < 10, f"cancel reached the server ({took:.1f}s)")
        t.join()
        log = pgfix.log_text(rg)
        check("event=cancel_fail" not in log, "no cancel connect failed")
        check(log.count("event=upstream_retry") == retries,
              "the cancel connected straight to the session's server")
        conn.rollback()
        cur.execute("SELECT 7")
        check(cur.fetchone()[0] == 7, "session usable after the cancel")
        conn.close()
        check(rg.stop() == 0, "clean exit")


if __name__ == "__main__":
    main()
