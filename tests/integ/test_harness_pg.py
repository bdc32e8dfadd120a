"""The harness itself, against a real PostgreSQL 15: PgServer starts on a free port, psycopg2
and psql log in with the generated password over TCP (scram-sha-256), a wrong or missing
password is refused, pgbench runs, the ringgate config writer emits the documented schema
(checked by engine/config when rg_config_check is built), the Ringgate process helper starts
and stops a stand-in binary, and nothing is left behind -- after a normal exit, after an
exception, after SIGTERM, and after the test process is SIGKILLed (the watchdog's job)."""

import os
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import rgtest  # noqa: E402

psycopg2 = rgtest.require_psycopg2()


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok - {what}", flush=True)


def wait_gone(pid, base, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not rgtest.pid_alive(pid) and not os.path.exists(base):
            return True
        time.sleep(0.1)
    return False


def test_login_query_and_refusals():
    with rgtest.PgServer() as pg:
        base, pid = pg.base, pg.postmaster_pid()
        check(pid and rgtest.pid_alive(pid), "postmaster is running")
        check(os.path.exists(pg.socket_path), "unix socket exists")

        conn = pg.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT current_user, current_database(), 40 + 2, "
                            "current_setting('fsync')")
                row = cur.fetchone()
        finally:
            conn.close()
        check(row == (pg.user, pg.database, 42, "off"), f"psycopg2 over TCP: {row}")

        # The password really is checked with SCRAM (not trust) on TCP.
        r = pg.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid "
                    f"WHERE rolname = '{pg.user}'", tcp=False, user=pg.superuser)
        check(r.stdout.strip() == "t", "role password stored as SCRAM-SHA-256")
        r = pg.psql("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host'",
                    tcp=False, user=pg.superuser)
        check(r.stdout.split() == ["scram-sha-256"], "TCP auth is scram-sha-256 only")

        r = pg.psql("SELECT 6 * 7")
        check(r.stdout.strip() == "42", "psql over TCP with PGPASSWORD")

        try:
            pg.connect(password="wrong-" + pg.password).close()
            check(False, "psycopg2 with a wrong password is refused")
        except psycopg2.OperationalError as e:
            check("password authentication failed" in str(e),
                  "psycopg2 with a wrong password is refused")

        r = pg.psql("SELECT 1", password="wrong", check=False)
        check(r.returncode != 0 and "password authentication failed" in r.stderr,
              "psql with a wrong password is refused")
        r = pg.psql("SELECT 1", password="", check=False)
        check(r.returncode != 0, "psql without a password is refused")

        pg.pgbench(["-i", "-s", "1", "-q"])
        r = pg.pgbench(["-n", "-c", "2", "-t", "50", "-S"])
        check("number of transactions actually processed: 100" in r.stdout,
              "pgbench select-only run")

        workdir = os.path.join(pg.base, "rg")
        path, cfg = rgtest.write_ringgate_config(pg, workdir, via_socket=True)
        text = open(path).read()
        check(cfg["targets"][0]["address"] == pg.socket_path
              and f'"{pg.socket_path}"' in text and "version: 1" in text,
              "ringgate config written for the server")
        ok, why = rgtest.check_config(path)
        if ok is None:
            print(f"# not checked against engine/config: {why}", flush=True)
        else:
            check(ok, f"engine/config accepts the written config {why}")
        path, _ = rgtest.write_ringgate_config(
            pg, workdir, identity={"issuers": [{"issuer": "https://idp.test/",
                                                "audience": "ringgate",
                                                "jwks_file": "jwks.json",
                                                "required_claims": ["sub", "exp"]}]},
            policy={"bundle": "policy.rgb"})
        check(rgtest.check_config(path)[0] in (True, None),
              "config with identity and policy sections is valid")
        pw = open(os.path.join(workdir, "secrets", "appdb.pw")).read().strip()
        check(pw == pg.password and
              (os.stat(os.path.join(workdir, "secrets", "appdb.pw")).st_mode & 0o777) == 0o600,
              "target password file holds the password, mode 0600")
    # pg_ctl -w returns once postmaster.pid is gone, a moment before the process exits.
    check(not os.path.exists(base), "temp dir removed after the with block")
    check(wait_gone(pid, base, 10), "postmaster stopped after the with block")


# Stand-in for the ringgate binary (which does not exist yet): takes --config, listens on the
# first listener address found in it, exits 0 on SIGTERM. Exercises Ringgate's start/stop.
FAKE_RINGGATE = r"""
import re, signal, socket, sys
assert sys.argv[1] == "--config"
text = open(sys.argv[2]).read()
host, port = re.search(r'address: "([0-9.]+):([0-9]+)"', text).groups()
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(port)))
s.listen()
print("listening", flush=True)
while True:
    s.accept()[0].close()
"""


def test_ringgate_process_helper():
    with rgtest.PgServer() as pg:
        fake = os.path.join(pg.base, "fake-ringgate")
        with open(fake, "w") as f:
            f.write(f"#!{sys.executable}\n" + FAKE_RINGGATE)
        os.chmod(fake, 0o755)
        rg = rgtest.Ringgate(pg, binary=fake).start()
        workdir, pid = rg.workdir, rg.proc.pid
        check(os.path.exists(rg.config_path), "Ringgate wrote its config")
        with socket.create_connection((rg.host, rg.port), timeout=5):
            pass
        check(True, "Ringgate.start waited for the listener port")
        check(rg.env("agent-1", "tok")["PGDATABASE"] == "appdb", "client env names the target")
        check(rg.stop() == 0, "Ringgate.stop: SIGTERM, clean exit")
        check(wait_gone(pid, workdir, 10), "Ringgate workdir removed, process gone")


CHILD = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
import rgtest
pg = rgtest.PgServer().start()
print(pg.postmaster_pid(), pg.base, flush=True)
if sys.argv[2] == "raise":
    raise RuntimeError("test failure on purpose")
time.sleep(600)
"""


def start_child(mode):
    lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib")
    p = subprocess.Popen([sys.executable, "-c", CHILD, lib, mode], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    if len(line) != 2:
        p.kill()
        raise AssertionError(f"child did not start a server: {p.stderr.read()}")
    return p, int(line[0]), line[1]


def test_cleanup_after_exception():
    p, pid, base = start_child("raise")
    p.wait(timeout=120)
    check(p.returncode == 1, "child failed with its exception")
    check(wait_gone(pid, base, 5), "exception: server stopped and temp dir removed at exit")


def test_cleanup_after_sigterm_and_sigkill():
    p, pid, base = start_child("sleep")
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
    check(wait_gone(pid, base, 5), "SIGTERM: server stopped and temp dir removed")

    p, pid, base = start_child("sleep")
    p.kill()
    p.wait(timeout=30)
    check(wait_gone(pid, base, 60), "SIGKILL: the watchdog stopped the server and removed "
          "the temp dir")


if __name__ == "__main__":
    test_login_query_and_refusals()
    test_ringgate_process_helper()
    test_cleanup_after_exception()
    test_cleanup_after_sigterm_and_sigkill()
    print("all ok")
