#!/usr/bin/env python3
"""What the audit trail costs on the data path (issue #12, "Tests and numbers").

Two ringgates (Release build, 2 workers, rules/baseline + rules/pii) in front of one
PostgreSQL 15: one without an audit trail, one with it (journals in /dev/shm, fsync every
batch). pgbench -S through each in turn, REPEAT rounds alternating, simple and prepared mode:
TPS, p50/p99 latency (pgbench -l), and CPU per transaction from /proc: the whole process,
and for the trail's ringgate also its writer thread (`rg-audit`) apart, so that the data
path's own added cost is (with - writer) - without. Then the trail's size per statement.
Usage: bench/audit_bench.py [--clients 16] [--duration 10] [--repeat 3] [--out FILE]
                            [--csv FILE] (one row per mode: the medians, for bench/run)
Environment: RG_BUILD (default build/benchrel), RG_SRC.
"""
import argparse
import csv
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
os.environ.setdefault("RG_SRC", SRC)
os.environ.setdefault("RG_BUILD", os.path.join(SRC, "build", "benchrel"))
sys.path.insert(0, os.path.join(SRC, "tests", "integ", "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(path):
    with open(path) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime, stime


def thread_stats(pid, prefix):
    out = []
    for t in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(os.path.join(t, "comm")) as f:
                if f.read().strip().startswith(prefix):
                    out.append(os.path.join(t, "stat"))
        except OSError:
            pass
    return out


def writer_stat(pid):
    w = [s for s in thread_stats(pid, "rg-audit")]
    return w[0] if w else None


def ticks_of(paths):
    return sum(cpu_ticks(p) for p in paths)


def run(env, pid, mode, clients, duration, d, tag):
    wdir = os.path.join(d, tag)
    os.makedirs(wdir, exist_ok=True)
    ws = writer_stat(pid)
    wk = thread_stats(pid, "rg-worker-")  # the data path: the engine's worker threads
    c0, w0 = cpu_ticks(f"/proc/{pid}/stat"), cpu_ticks(ws) if ws else 0
    k0 = ticks_of(wk)
    perf = None
    if os.environ.get("RG_PERF") and ws:  # a profile of the trail's ringgate (perf.data in d)
        perf = subprocess.Popen(["perf", "record", "-g", "-p", str(pid), "-o",
                                 os.path.join(os.environ["RG_PERF"], f"perf-{tag}.data")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = subprocess.run(["pgbench", "-n", "-S", "-M", mode, "-c", str(clients), "-j", "2",
                        "-T", str(duration), "-l", "--log-prefix", os.path.join(wdir, "log")],
                       env=env, capture_output=True, text=True, timeout=duration + 120)
    c1, w1 = cpu_ticks(f"/proc/{pid}/stat"), cpu_ticks(ws) if ws else 0
    k1 = ticks_of(wk)
    if perf:
        perf.send_signal(2)
        perf.wait()
    if r.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{r.stdout}{r.stderr}")
    tps = next(float(x.split()[2]) for x in r.stdout.splitlines() if x.startswith("tps = "))
    lat = []
    for fn in glob.glob(os.path.join(wdir, "log*")):
        with open(fn) as f:
            lat += [int(x.split()[2]) for x in f if len(x.split()) >= 3]
    lat.sort()
    n = len(lat)
    us = lambda ticks: ticks * 1e6 / TICK / max(n, 1)  # noqa: E731
    return {"tps": tps, "p50": lat[n // 2] if n else 0, "p99": lat[min(n - 1, int(n * .99))] if n else 0,
            "cpu": us(c1 - c0), "writer": us(w1 - w0), "workers": us(k1 - k0), "n": n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fsync", default="every", choices=["every", "interval"])
    ap.add_argument("--record", action="store_true",
                    help="also record sessions (audit.record_sessions) in the trail's ringgate")
    ap.add_argument("--out")
    ap.add_argument("--csv")
    a = ap.parse_args()
    out = []
    with rgtest.PgServer() as pg:
        rgtest.run_pgbench(["-i", "-s", "1", "-q"], pg.env())
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rg-auditbench-") as d:
            key, _ = rgtest.signing_keypair(d)
            bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"],
                                           os.path.join(d, "b.rgb"))
            trail = os.path.join(d, "trail")
            off = pgfix.start(pg, iss, policy={"bundle": bundle}, threads=2)
            audit = {"key_file": key, "dir": trail, "fsync": a.fsync}
            if a.record:
                audit.update({"record_sessions": True,
                              "recordings_dir": os.path.join(d, "recordings")})
            on = pgfix.start(pg, iss, policy={"bundle": bundle}, threads=2,
                             extra={"audit": audit})
            tok = iss.token(ttl="1h")
            res = {}
            for mode in ("simple", "prepared"):
                for i in range(a.repeat):
                    order = [("off", off), ("on", on)] if i % 2 == 0 else [("on", on), ("off", off)]
                    for name, rg in order:
                        r = run(rg.env("agent-1", tok), rg.proc.pid, mode, a.clients,
                                a.duration, d, f"{mode}-{name}-{i}")
                        res.setdefault((mode, name), []).append(r)
                        print(f"# {mode} {name} run {i}: {r}", flush=True)
            on.stop()
            off.stop()
            # recording size per 1000-row result: one session, 20 of them, then the trail's
            # growth (pgbench_accounts rows: 3 integers and an 84-character filler)
            rd = os.path.join(d, "rec-size")
            rg = pgfix.start(pg, iss, policy={"bundle": bundle}, threads=2,
                             extra={"audit": {"key_file": key, "dir": os.path.join(d, "t2"),
                                              "record_sessions": True,
                                              "recordings_dir": rd}})
            q = "SELECT * FROM pgbench_accounts WHERE aid <= 1000;\n" * 20
            subprocess.run(["psql", "-X", "-q", "-o", "/dev/null", "-c", q],
                           env=rg.env("agent-1", tok), check=True, timeout=120)
            rg.stop()
            rec_size = sum(os.path.getsize(os.path.join(rd, f)) for f in os.listdir(rd)
                           if f.endswith(".seg"))
            c2 = subprocess.run([rgtest.ringgatectl_binary(), "audit", "cat", "--dir",
                                 os.path.join(d, "t2")], capture_output=True, text=True)
            wire = sum(json.loads(x).get("bytes", 0) for x in c2.stdout.splitlines()
                       if '"stmt_end"' in x)
            segs = glob.glob(os.path.join(trail, "*.seg"))
            size = sum(os.path.getsize(s) for s in segs)
            c = subprocess.run([rgtest.ringgatectl_binary(), "audit", "cat", "--dir", trail],
                               capture_output=True, text=True)
            recs = c.stdout.count("\n")
            stmts = c.stdout.count('"event":"stmt"')
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    out.append(f"bench/audit_bench.py --clients {a.clients} --duration {a.duration} "
               f"--repeat {a.repeat} --fsync {a.fsync}{' --record' if a.record else ''} "
               f"(medians of {a.repeat} alternating runs)\n")
    out.append("| mode | TPS off | TPS on | on/off | p50/p99 µs off | p50/p99 µs on | "
               "CPU µs/tx off | CPU µs/tx on (writer) | workers µs/tx off / on | "
               "data path added µs/tx |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for mode in ("simple", "prepared"):
        f, n = res[(mode, "off")], res[(mode, "on")]
        out.append(f"| {mode} | {med(f, 'tps'):.0f} | {med(n, 'tps'):.0f} | "
                   f"{med(n, 'tps') / med(f, 'tps'):.3f} | {med(f, 'p50'):.0f}/{med(f, 'p99'):.0f} | "
                   f"{med(n, 'p50'):.0f}/{med(n, 'p99'):.0f} | {med(f, 'cpu'):.2f} | "
                   f"{med(n, 'cpu'):.2f} ({med(n, 'writer'):.2f}) | "
                   f"{med(f, 'workers'):.2f} / {med(n, 'workers'):.2f} | "
                   f"{med(n, 'workers') - med(f, 'workers'):.2f} |")
    out.append(f"\ntrail: {size} bytes, {recs} records ({stmts} stmt), "
               f"{size / max(recs, 1):.0f} bytes per record")
    out.append(f"recording: {rec_size / 20 / 1024:.1f} KiB per 1000-row pgbench_accounts "
               f"result (20 results, one session, zstd level 1; the results were "
               f"{wire / 20 / 1024:.1f} KiB each on the wire)")
    if a.csv:
        with open(a.csv, "w", newline="") as fo:
            w = csv.writer(fo)
            w.writerow(["mode", "clients", "runs", "tps_off", "tps_on", "tps_on_off",
                        "p50_us_off", "p99_us_off", "p50_us_on", "p99_us_on", "cpu_us_off",
                        "cpu_us_on", "writer_us_on", "workers_us_off", "workers_us_on",
                        "trail_bytes_per_record"])
            for mode in ("simple", "prepared"):
                f, n = res[(mode, "off")], res[(mode, "on")]
                w.writerow([mode, a.clients, a.repeat, f"{med(f, 'tps'):.1f}",
                            f"{med(n, 'tps'):.1f}", f"{med(n, 'tps') / med(f, 'tps'):.4f}",
                            med(f, "p50"), med(f, "p99"), med(n, "p50"), med(n, "p99"),
                            f"{med(f, 'cpu'):.2f}", f"{med(n, 'cpu'):.2f}",
                            f"{med(n, 'writer'):.2f}", f"{med(f, 'workers'):.2f}",
                            f"{med(n, 'workers'):.2f}", f"{size / max(recs, 1):.0f}"])
    text = "\n".join(out)
    print(text)
    if a.out:
        with open(a.out, "w") as fo:
            fo.write(text + "\n")


if __name__ == "__main__":
    main()
