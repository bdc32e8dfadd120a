#!/usr/bin/env python3
"""Statements held for approval at scale (issue #11, "Numbers").

One ringgate (Release build) in front of PostgreSQL 15, rules/baseline plus a pack that
holds UPDATE of pgbench_branches for approval (expires 1 h: nobody decides during the run).
Measured in one run, same machine:
  1. pgbench -S through ringgate (CLIENTS, DURATION s): TPS and per-transaction latency
     p50/p99 (from pgbench -l logs);
  2. HELD sessions log in (psycopg2, asynchronous connections); ringgate's RSS;
     pgbench -S again with those sessions idle (each is a PostgreSQL backend too);
  3. each sends the UPDATE, which ringgate holds; RSS again: (difference) / HELD is the memory
     of one held statement (the request, the kept message, the waiter), the session itself
     excluded;
  4. pgbench -S again with the HELD statements still held: TPS and p50/p99 against step 2
     (what holding costs) and step 1.
Usage: bench/approval_bench.py [--held 1000] [--clients 16] [--duration 15] [--out FILE]
                               [--csv FILE] (one row per step, for bench/run)
Environment: RG_BUILD (default build/benchrel), RG_SRC.
"""
import argparse
import csv
import glob
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
os.environ.setdefault("RG_SRC", SRC)
os.environ.setdefault("RG_BUILD", os.path.join(SRC, "build", "benchrel"))
sys.path.insert(0, os.path.join(SRC, "tests", "integ", "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402

PACK = """version: 1
pack: bench
rules:
  - id: bench.branches-updates
    description: held for the benchmark; nobody decides
    sql: {operation: update, tables: [pgbench_branches]}
    action: require_approval
    approval: {group: reviewers, ttl: 1h, scope: once, expires: 1h}
"""



def pgbench_run(env, clients, duration, workdir, tag):
    d = os.path.join(workdir, tag)
    os.makedirs(d, exist_ok=True)
    r = subprocess.run(["pgbench", "-n", "-S", "-M", "prepared", "-c", str(clients), "-j", "2",
                        "-T", str(duration), "-l", "--log-prefix", os.path.join(d, "log")],
                       env=env, capture_output=True, text=True, timeout=duration + 120)
    if r.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{r.stdout}{r.stderr}")
    tps = None
    for line in r.stdout.splitlines():
        if line.startswith("tps = "):
            tps = float(line.split()[2])
    lat = []
    for fn in glob.glob(os.path.join(d, "log*")):
        with open(fn) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
    lat.sort()
    p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else 0)
    return tps, p(0.50), p(0.99), len(lat)


def wait_conn(conn):
    import psycopg2.extensions as ext
    while True:
        st = conn.poll()
        if st == ext.POLL_OK:
            return
        if st == ext.POLL_READ:
            select.select([conn.fileno()], [], [], 30)
        elif st == ext.POLL_WRITE:
            select.select([], [conn.fileno()], [], 30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--held", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--out")
    ap.add_argument("--csv")
    a = ap.parse_args()
    psycopg2 = rgtest.require_psycopg2()
    with rgtest.PgServer(settings={"max_connections": str(a.held + a.clients + 50)}) as pg:
        rgtest.run_pgbench(["-i", "-s", "1", "-q"], pg.env())
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rg-apprbench-") as d:
            pack = os.path.join(d, "bench.yaml")
            with open(pack, "w") as f:
                f.write(PACK)
            bundle = rgtest.compile_bundle(["rules/baseline", pack], os.path.join(d, "b.rgb"))
            rg = pgfix.start(pg, iss, policy={"bundle": bundle}, threads=2)
            tok = iss.token(ttl="1h")
            env = rg.env("agent-1", tok)
            pid = rg.proc.pid

            print("# pgbench, no other session", flush=True)
            base = pgbench_run(env, a.clients, a.duration, d, "base")
            print(f"# {a.held} sessions logging in", flush=True)
            conns = []
            while len(conns) < a.held:  # in batches: pending logins per address are capped
                batch = []
                for _ in range(min(16, a.held - len(conns))):
                    batch.append(psycopg2.connect(
                        host=rg.host, port=rg.port, user="agent-1",
                        dbname=rg.config["targets"][0]["name"], password=tok,
                        sslmode="disable", async_=1))
                for c in batch:
                    wait_conn(c)
                conns += batch
            time.sleep(1)
            rss_idle = rgtest.rss_kib(pid)
            print(f"# pgbench, {a.held} sessions idle", flush=True)
            idle = pgbench_run(env, a.clients, a.duration, d, "idle")
            print(f"# {a.held} statements held", flush=True)
            for c in conns:
                c.cursor().execute("UPDATE pgbench_branches SET bbalance = bbalance "
                                   "WHERE bid = 1")
            # all held (the store has them)
            deadline = time.monotonic() + 120
            log = ""
            while time.monotonic() < deadline:
                log = pgfix.log_text(rg)
                if log.count("event=approval_requested") >= a.held:
                    break
                time.sleep(0.5)
            held = log.count("event=approval_requested")
            time.sleep(1)
            rss_held = rgtest.rss_kib(pid)
            print(f"# pgbench, {held} statements held", flush=True)
            loaded = pgbench_run(env, a.clients, a.duration, d, "held")
            still = log.count("event=stmt_held")
            for c in conns:
                c.close()
            rg.stop()

    lines = [
        f"approval_bench: {a.held} sessions each holding one statement, pgbench -S -M prepared "
        f"-c {a.clients} -j 2 -T {a.duration} through the same ringgate (2 workers)",
        "",
        "| run | TPS | p50 µs | p99 µs | transactions |",
        "|---|---|---|---|---|",
        f"| no other session | {base[0]:.0f} | {base[1]} | {base[2]} | {base[3]} |",
        f"| {a.held} other sessions, idle | {idle[0]:.0f} | {idle[1]} | {idle[2]} | {idle[3]} |",
        f"| the same {a.held} sessions, {held} statements held | {loaded[0]:.0f} | {loaded[1]} | "
        f"{loaded[2]} | {loaded[3]} |",
        "",
        f"held vs the same sessions idle: TPS ratio {loaded[0] / idle[0]:.3f}, p99 ratio "
        f"{(loaded[2] / idle[2]) if idle[2] else 0:.3f} (vs no other session: TPS "
        f"{loaded[0] / base[0]:.3f}, p99 {(loaded[2] / base[2]) if base[2] else 0:.3f})",
        f"ringgate RSS: {rss_idle} KiB with {a.held} idle sessions, {rss_held} KiB with their "
        f"statements held: {(rss_held - rss_idle) / max(held, 1):.2f} KiB per held statement "
        f"({still} stmt_held lines)",
    ]
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "sessions", "held", "tps", "p50_us", "p99_us", "transactions",
                        "rss_kib"])
            w.writerow(["none", 0, 0, f"{base[0]:.1f}", base[1], base[2], base[3], ""])
            w.writerow(["idle", a.held, 0, f"{idle[0]:.1f}", idle[1], idle[2], idle[3],
                        rss_idle])
            w.writerow(["held", a.held, held, f"{loaded[0]:.1f}", loaded[1], loaded[2],
                        loaded[3], rss_held])
    out = "\n".join(lines) + "\n"
    sys.stdout.write(out)
    if a.out:
        with open(a.out, "w") as f:
            f.write(out)


if __name__ == "__main__":
    main()
