"""Paths of ringgate's PostgreSQL gateway the client matrix relies on, against a real
PostgreSQL 15: COPY FROM STDIN and COPY TO STDOUT of 200k rows, a COPY failed by the client,
LISTEN/NOTIFY between two agents, a 200k-row SELECT; then the binary: --version, --help,
--check-config on a good file (exit 0) and on a file with errors (exit 1, file:line:col),
a listener and a target of a protocol the config knows but this build has no module for
(mysql: refused by --check-config and --config, each with its file:line:col), and SIGTERM with an idle and a busy session (the idle one gets 57P01 at once, the busy one
finishes its statement first, ringgate exits 0)."""

import io
import os
import re
import select
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()


def copy_and_notify(rg, tok):
    conn = pgfix.connect(rg, tok)
    cur = conn.cursor()
    cur.execute("CREATE TABLE c (id int, v text)")
    data = "".join(f"{i}\tvalue-{i}\n" for i in range(200000))
    cur.copy_expert("COPY c FROM STDIN", io.StringIO(data))
    conn.commit()
    cur.execute("SELECT count(*), sum(id) FROM c")
    check(cur.fetchone() == (200000, sum(range(200000))), "COPY FROM STDIN of 200k rows")
    out = io.StringIO()
    cur.copy_expert("COPY c TO STDOUT", out)
    check(out.getvalue() == data, "COPY TO STDOUT of 200k rows, byte for byte")
    try:
        cur.copy_expert("COPY c FROM STDIN", io.StringIO("1\tok\nnot-a-number\tx\n"))
        check(False, "bad COPY data fails")
    except psycopg2.DataError:
        check(True, "bad COPY data fails with a data error")
    conn.rollback()
    cur.execute("SELECT id, v FROM c ORDER BY id")
    rows = cur.fetchall()
    check(len(rows) == 200000 and rows[-1] == (199999, "value-199999"), "200k-row SELECT")

    listener = pgfix.connect(rg, tok)
    listener.autocommit = True
    lcur = listener.cursor()
    lcur.execute("LISTEN ch")
    conn.rollback()
    conn.autocommit = True
    cur.execute("NOTIFY ch, 'hello'")
    deadline = time.monotonic() + 10
    got = []
    while not got and time.monotonic() < deadline:
        select.select([listener], [], [], 1)
        listener.poll()
        got = listener.notifies
    check(got and got[0].channel == "ch" and got[0].payload == "hello", "LISTEN/NOTIFY")
    listener.close()
    conn.close()


def binary_flags(rg, pg, iss):
    b = rgtest.ringgate_binary()
    r = subprocess.run([b, "--version"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("ringgate "), "--version")
    r = subprocess.run([b, "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and "--check-config" in r.stdout, "--help")
    r = subprocess.run([b], capture_output=True, text=True)
    check(r.returncode == 2, "no arguments: usage error")
    r = subprocess.run([b, "--check-config", rg.config_path], capture_output=True, text=True)
    check(r.returncode == 0, f"--check-config on the running config: {r.stderr.strip()}")
    bad = os.path.join(rg.workdir, "bad.yaml")
    with open(rg.config_path) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text.replace("version: 1", "version: 1\nbogus_key: 3"))
    r = subprocess.run([b, "--check-config", bad], capture_output=True, text=True)
    check(r.returncode == 1 and f"{bad}:3:1:" in r.stderr,
          f"--check-config reports file:line:col ({r.stderr.strip()})")
    missing = os.path.join(rg.workdir, "missing.yaml")
    with open(missing, "w") as f:
        f.write(text.replace("secrets/appdb.pw", "secrets/nope.pw"))
    r = subprocess.run([b, "--check-config", missing], capture_output=True, text=True)
    check(r.returncode == 1 and "nope.pw" in r.stderr and pg.password not in r.stderr,
          "--check-config opens the password file and names the missing one")
    mysql = os.path.join(rg.workdir, "mysql.yaml")
    with open(mysql, "w") as f:
        f.write(text.replace('protocol: "postgres"', 'protocol: "mysql"'))
    for flag in ("--check-config", "--config"):
        r = subprocess.run([b, flag, mysql], capture_output=True, text=True, timeout=60)
        where = re.escape(mysql) + r":\d+:\d+: "
        # mysql is built in (engine/proto/mysql): the same file is now judged by mysql's
        # rules, and a plaintext mysql listener needs insecure_plaintext (docs/config.md)
        check(r.returncode == 1
              and re.search(where + r"listeners\[0\]: a mysql listener without tls needs "
                            r"insecure_plaintext: true", r.stderr)
              and "not built in this version" not in r.stderr,
              f"{flag} judges a mysql listener by mysql's rules ({r.stderr.strip()})")


def drain(rg, tok):
    idle = pgfix.connect(rg, tok)
    busy = pgfix.connect(rg, tok)
    busy.autocommit = True  # idle ('I') right after its statement: drained then
    result = {}

    def run_busy():
        try:
            c = busy.cursor()
            c.execute("SELECT pg_sleep(2), 'done'")
            result["busy"] = c.fetchone()[1]
        except Exception as e:  # noqa: BLE001
            result["busy"] = repr(e)

    t = threading.Thread(target=run_busy)
    t.start()
    time.sleep(0.5)
    start = time.monotonic()
    rc = rg.stop(timeout=20)
    took = time.monotonic() - start
    t.join()
    check(rc == 0 and took < 8, f"SIGTERM drain exits 0 after {took:.1f}s, before the deadline")
    check(result.get("busy") == "done", f"busy session finished its statement: {result}")
    try:
        idle.cursor().execute("SELECT 1")
        check(False, "idle session was ended")
    except psycopg2.Error as e:
        check("administrator command" in str(e) or "closed" in str(e),
              "idle session was ended by the drain")
    idle.close()
    busy.close()


def main():
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        rg = pgfix.start(pg, iss, threads=2)
        tok = iss.token()
        copy_and_notify(rg, tok)
        binary_flags(rg, pg, iss)
        drain(rg, tok)


if __name__ == "__main__":
    main()
