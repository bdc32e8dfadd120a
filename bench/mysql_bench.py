#!/usr/bin/env python3
"""MySQL/MariaDB through ringgate against its peers (issue #14, "Benchmark").

One MariaDB 10.11 (tests/integ/lib/mariadb.py, in a temp dir on a free port), and in front of
it, all in the same run: haproxy (tcp mode, one thread), the epoll floor forwarder
(bench/fwd/rg_fwd_epoll, one thread) and ringgate (Release build, one worker, a loopback
development listener without TLS as the forwarders have none, rules/baseline + rules/pii
enforced: every statement judged, results masked). sysbench (Debian `sysbench`, its
libmariadb) runs oltp_point_select and oltp_read_only (server-side prepared statements, the
sysbench default) and a 1000-row SELECT (1 % of the rows carry a card number) against each
target and against MariaDB directly, REPEAT rounds with the target order rotated:
TPS, queries/s, latency (avg and p99 from sysbench), and the proxy's CPU per query from
/proc (utime + stime of the process). Ratios: TPS / haproxy and CPU / fwd_epoll, medians.

Usage: bench/mysql_bench.py [--threads 16] [--duration 10] [--repeat 2] [--rows 10000]
                            [--out FILE.md] [--csv FILE]
Environment: RG_BUILD (default build/benchrel), RG_SRC.
"""
import argparse
import csv
import os
import re
import shutil
import signal
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
import mariadb  # noqa: E402
import rgtest  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
ROWS_LUA = """
function thread_init()
  drv = sysbench.sql.driver()
  con = drv:connect()
end
function event()
  con:query("SELECT id, k, c, pad FROM sbtest1 ORDER BY id LIMIT 1000")
end
function thread_done()
  con:disconnect()
end
"""


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


class _NoPg:
    host, port, user, database, password, socket_path = "127.0.0.1", 1, "-", "-", "-", "-"


def start_bg(argv, log):
    f = open(log, "w")
    p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    return p


def sysbench(test, host, port, user, password, threads, duration, extra=()):
    argv = ["sysbench", test, f"--mysql-host={host}", f"--mysql-port={port}",
            f"--mysql-user={user}", f"--mysql-password={password}", "--mysql-db=sbtest",
            "--tables=1", f"--threads={threads}", f"--time={duration}", "--percentile=99",
            "--report-interval=0", *extra, "run"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120)
    out = r.stdout
    if r.returncode != 0:
        raise RuntimeError(f"sysbench {test} against {host}:{port}: {r.stderr[-800:]}{out[-800:]}")

    def num(pat):
        m = re.search(pat, out)
        return float(m.group(1)) if m else float("nan")
    return {"tps": num(r"transactions:\s+\d+\s+\(([\d.]+) per sec"),
            "qps": num(r"queries:\s+\d+\s+\(([\d.]+) per sec"),
            "queries": num(r"queries:\s+(\d+)"),
            "avg_ms": num(r"avg:\s+([\d.]+)"),
            "p99_ms": num(r"99th percentile:\s+([\d.]+)"),
            "errors": num(r"ignored errors:\s+(\d+)")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--out")
    ap.add_argument("--csv")
    a = ap.parse_args()
    for tool in ("sysbench", "haproxy"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"mysql_bench: {tool} not found (tools/deps installs it)")
    build = os.environ["RG_BUILD"]
    fwd = os.path.join(build, "bench", "fwd", "rg_fwd_epoll")
    d = tempfile.mkdtemp(prefix="rg-mybench-")
    procs = []
    db = mariadb.MariaServer(settings={"max-connections": "200",
                                       "innodb-buffer-pool-size": "128M"})
    db.start()
    try:
        db.sql("CREATE DATABASE sbtest; "
               f"GRANT ALL ON sbtest.* TO '{db.native_user}'@'%'")
        r = subprocess.run(["sysbench", "oltp_read_only", f"--mysql-socket={db.socket_path}",
                            "--mysql-user=root", "--mysql-db=sbtest", "--tables=1",
                            f"--table-size={a.rows}", "prepare"],
                           capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise RuntimeError(f"sysbench prepare: {r.stderr}{r.stdout[-500:]}")
        # 1 % of the rows carry a card number (the masking scenario)
        db.sql("UPDATE sbtest1 SET pad = '4111 1111 1111 1111' WHERE id % 100 = 0",
               database="sbtest")
        lua = os.path.join(d, "rows1000.lua")
        with open(lua, "w") as f:
            f.write(ROWS_LUA)

        iss = rgtest.DevIssuer()
        bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"],
                                       os.path.join(d, "b.rgb"))
        pw = os.path.join(d, "n.pw")
        fd = os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, db.native_password.encode())
        os.close(fd)
        rg_port = rgtest.free_port()
        rg = rgtest.Ringgate(_NoPg(), identity=iss.identity(), policy={"bundle": bundle},
                             extra={"listeners": [{"name": "my",
                                                   "address": f"127.0.0.1:{rg_port}",
                                                   "protocol": "mysql",
                                                   "insecure_plaintext": True}],
                                    "targets": [{"name": "sb", "protocol": "mysql",
                                                 "address": f"{db.host}:{db.port}",
                                                 "database": "sbtest", "user": db.native_user,
                                                 "password_file": pw,
                                                 "tls": {"mode": "disable"}}]})
        rg.start()
        rgtest.wait_port("127.0.0.1", rg_port, 30, rg.proc)
        token = iss.token(ttl="1h")

        hp_port = rgtest.free_port()
        cfg = os.path.join(d, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("global\n\tmaxconn 2000\n\tnbthread 1\ndefaults\n\tmode tcp\n"
                    "\ttimeout connect 5s\n\ttimeout client 1h\n\ttimeout server 1h\n"
                    f"listen my\n\tbind 127.0.0.1:{hp_port}\n\tserver m1 127.0.0.1:{db.port}\n")
        hp = start_bg(["/usr/sbin/haproxy", "-db", "-f", cfg], os.path.join(d, "haproxy.log"))
        procs.append(hp)
        fw_port = rgtest.free_port()
        fw = start_bg([fwd, str(fw_port), "127.0.0.1", str(db.port), "1"],
                      os.path.join(d, "fwd.log"))
        procs.append(fw)
        for p in (hp_port, fw_port):
            rgtest.wait_port("127.0.0.1", p, 30)

        targets = {
            "direct": (db.port, db.native_user, db.native_password, None),
            "haproxy": (hp_port, db.native_user, db.native_password, hp.pid),
            "fwd_epoll": (fw_port, db.native_user, db.native_password, fw.pid),
            "ringgate": (rg_port, "sb", token, rg.proc.pid),
        }
        scenarios = [("point_select", "oltp_point_select", ()),
                     ("read_only", "oltp_read_only", ()),
                     ("rows1000", lua, ())]
        raw = []
        names = list(targets)
        for rep in range(a.repeat):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for sc, test, extra in scenarios:
                for t in order:
                    port, user, password, pid = targets[t]
                    c0 = cpu_ticks(pid) if pid else 0
                    res = sysbench(test, "127.0.0.1", port, user, password, a.threads,
                                   a.duration, extra)
                    c1 = cpu_ticks(pid) if pid else 0
                    q = res["queries"] or 1
                    res["cpu_us_q"] = (c1 - c0) * 1e6 / TICK / q if pid else float("nan")
                    res.update(rep=rep, scenario=sc, target=t)
                    raw.append(res)
                    print(f"# {sc} {t} round {rep}: tps {res['tps']:.0f} qps {res['qps']:.0f} "
                          f"cpu/q {res['cpu_us_q']:.1f} us avg {res['avg_ms']} ms "
                          f"p99 {res['p99_ms']} ms errors {res['errors']:.0f}", flush=True)
        log = open(rg.logfile).read()
        denials = log.count("event=denied")

        def med(sc, t, k):
            v = [r[k] for r in raw if r["scenario"] == sc and r["target"] == t
                 and r[k] == r[k]]
            return statistics.median(v) if v else float("nan")

        lines = [f"bench/mysql_bench.py --threads {a.threads} --duration {a.duration} "
                 f"--repeat {a.repeat} --rows {a.rows} (medians of {a.repeat}; MariaDB "
                 f"{db.version}; ringgate enforcing rules/baseline + rules/pii, "
                 f"{denials} denials in its log)", "",
                 "| scenario | target | TPS | queries/s | avg ms | p99 ms | µs CPU per query "
                 "| TPS / haproxy | CPU / fwd_epoll |", "|---|---|---|---|---|---|---|---|---|"]
        rows = []
        for sc, _, _ in scenarios:
            for t in names:
                tps, cpu = med(sc, t, "tps"), med(sc, t, "cpu_us_q")
                r_tps = tps / med(sc, "haproxy", "tps")
                r_cpu = cpu / med(sc, "fwd_epoll", "cpu_us_q") if t != "direct" else float("nan")
                lines.append(f"| {sc} | {t} | {tps:,.0f} | {med(sc, t, 'qps'):,.0f} | "
                             f"{med(sc, t, 'avg_ms'):.2f} | {med(sc, t, 'p99_ms'):.2f} | "
                             + ("-" if t == "direct" else f"{cpu:.1f}") + " | "
                             + f"{r_tps:.2f} | " + ("-" if r_cpu != r_cpu else f"{r_cpu:.2f}")
                             + " |")
                rows.append({"scenario": sc, "target": t, "tps": tps, "cpu_us_q": cpu,
                             "tps_vs_haproxy": r_tps, "cpu_vs_fwd_epoll": r_cpu,
                             "avg_ms": med(sc, t, "avg_ms"), "p99_ms": med(sc, t, "p99_ms")})
        text = "\n".join(lines) + "\n"
        print(text)
        if a.out:
            with open(a.out, "w") as f:
                f.write(text)
        if a.csv:
            with open(a.csv, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
        rg.stop()
        iss.stop()
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
            except Exception:
                pass
        db.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
