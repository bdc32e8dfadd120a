#!/usr/bin/env python3
"""What scraping /metrics costs the data path (issue #13): pgbench -S through one ringgate
(Release build, 2 workers, rules/baseline + rules/pii, eBPF on when it loads) with GET
/metrics every second and without, alternating REPEAT rounds in the same run; TPS and
ringgate's CPU per transaction, and the time one scrape takes.
Usage: bench/metrics_bench.py [--clients 16] [--duration 10] [--repeat 3] [--out FILE]
Environment: RG_BUILD (default build/benchrel), RG_SRC.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
os.environ.setdefault("RG_SRC", SRC)
os.environ.setdefault("RG_BUILD", os.path.join(SRC, "build", "benchrel"))
sys.path.insert(0, os.path.join(SRC, "tests", "integ", "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    res = {"off": [], "on": []}
    scrape_ms = []
    with rgtest.PgServer() as pg:
        rgtest.run_pgbench(["-i", "-s", "1", "-q"], pg.env())
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rg-metricsbench-") as d:
            bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"],
                                           os.path.join(d, "b.rgb"))
            rg = pgfix.start(pg, iss, policy={"bundle": bundle}, threads=2)
            rgtest.wait_port("127.0.0.1", rg.admin_port, 30, rg.proc)
            url = f"http://127.0.0.1:{rg.admin_port}/metrics"
            env = rg.env("agent-1", iss.token(ttl="1h"))
            for i in range(a.repeat):
                for mode in (("off", "on") if i % 2 == 0 else ("on", "off")):
                    stop = threading.Event()

                    def scraper():
                        while not stop.wait(1.0):
                            t = time.monotonic()
                            urllib.request.urlopen(url, timeout=10).read()
                            scrape_ms.append((time.monotonic() - t) * 1000)

                    th = threading.Thread(target=scraper)
                    if mode == "on":
                        th.start()
                    c0 = cpu_ticks(rg.proc.pid)
                    r = subprocess.run(["pgbench", "-n", "-S", "-c", str(a.clients), "-j", "2",
                                        "-T", str(a.duration)], env=env, capture_output=True,
                                       text=True, timeout=a.duration + 120)
                    c1 = cpu_ticks(rg.proc.pid)
                    stop.set()
                    if mode == "on":
                        th.join()
                    tps = next(float(x.split()[2]) for x in r.stdout.splitlines()
                               if x.startswith("tps = "))
                    n = next(int(x.split()[-1]) for x in r.stdout.splitlines()
                             if x.startswith("number of transactions actually processed"))
                    res[mode].append((tps, (c1 - c0) * 1e6 / TICK / max(n, 1)))
                    print(f"# round {i} scrape {mode}: {tps:.0f} tps, "
                          f"{res[mode][-1][1]:.2f} µs CPU/tx", flush=True)
            rg.stop()
    med = lambda m, k: statistics.median(x[k] for x in res[m])  # noqa: E731
    text = (f"bench/metrics_bench.py --clients {a.clients} --duration {a.duration} "
            f"--repeat {a.repeat}: TPS without scrapes {med('off', 0):.0f}, with a scrape "
            f"every second {med('on', 0):.0f} ({med('on', 0) / med('off', 0):.3f}x); ringgate "
            f"CPU {med('off', 1):.2f} / {med('on', 1):.2f} µs per transaction; one scrape "
            f"{statistics.median(scrape_ms):.1f} ms (median of {len(scrape_ms)})")
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
