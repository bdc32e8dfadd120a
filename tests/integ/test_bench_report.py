"""bench/report.py, the pure half of bench/run: the benchmark programs' output parsed as they
print it, pg_bench.sh's raw TSV reduced to medians and to ratios against the peers of the
same run (a missing peer gives no ratio, never 0), a run directory's CSV files rendered into
the README block, and the splice between the markers (a README without them is refused).
No benchmark runs and nothing is timed here."""

import os
import sys
import tempfile

sys.dont_write_bytecode = True
SRC = os.environ.get("RG_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "bench"))
import report  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok - {what}", flush=True)


DPATH = """verdict, pgbench -S text, new literal each time         467 ns/statement
verdict, pgbench -S text, repeated (cache hit)           36 ns/statement
rg_policy_mask_plan_build, no columns                      59 ns/result
rg_pg_mask_datarow, pgbench_accounts (112 B/row)       43.0 ns/row (1.00 % rewritten)
"""
EVIDENCE = """evidence_bench: 0.3 s rounds, hooks off/on alternating, worker thread CPU per statement
  simple   round 0 hooks off:    14.1 ns/statement (30208 statements, 2 records written; the writer: 0 ns/statement)
  simple   round 0 hooks on :   365.4 ns/statement (29952 statements, 59904 records written; the writer: 1669 ns/statement)
  simple   round 1 hooks off:    16.1 ns/statement (30208 statements, 2 records written; the writer: 0 ns/statement)
  simple   round 1 hooks on :   385.4 ns/statement (29952 statements, 59904 records written; the writer: 1569 ns/statement)
"""
MASK = """hyperscan 5.4.0 2021-01-26, 11 detectors
rg_mask_compile (SOM db)                         41.0 ms
rg_masker_new (prefilter + scratch)               0.1 ms

short rows: 5 fields, ~80 B, no PII (avg 80 B/row; 0.00% of rows hold a sensitive value, 0.000% of bytes)
  rg_masker_row (prefilter + SOM)                 511 MB/s      156 ns/row  (1921024 rows, 0.00% changed, 0 matches/pass)
  prefilter alone, scalar                          69 MB/s     1162 ns/row  (0.00% of fields, 0.00% of bytes to SOM)
    candidate fields per detector: (of 20480)
  raw SOM hs_scan per DataRow (no prefilter)      109 MB/s      731 ns/row
"""
POLICY = """| measurement | value | target |
|---|---|---|
| compile 10,000 rules (parse+check+compile) | 0.76 s (2819560 bytes) | <= 10 s |
| load a 1,000-rule bundle | 0.090 ms | <= 5 ms |
| verdict with rules/baseline, DROP (83 bytes) -> deny | 2.40 us (cached: 0.04 us) | <= 5 us |
"""
METRICS = """# round 0 scrape off: 26016 tps, 17.92 µs CPU/tx
# round 0 scrape on: 26256 tps, 20.32 µs CPU/tx
bench/metrics_bench.py --clients 16 --duration 3 --repeat 1: TPS without scrapes 26016, with a scrape every second 26256 (1.009x); ringgate CPU 17.92 / 20.32 µs per transaction; one scrape 5.2 ms (median of 2)
"""
RAW = """rep\tscenario\tprotocol\tclients\ttarget\ttps\tcpu_us_per_query\tp50_ms\tp99_ms\tclient_p10_pct\tjain
1\tselect1\tsimple\t8\tdirect\t30000\t-\t0.1\t2.0\t75\t0.9
1\tselect1\tsimple\t8\tpgbouncer\t20000\t10.0\t0.2\t3.0\t75\t0.9
1\tselect1\tsimple\t8\tringgate\t22000\t12.0\t0.2\t2.4\t75\t0.9
2\tselect1\tsimple\t8\tringgate\t26000\t11.0\t0.2\t3.6\t75\t0.9
2\tselect1\tsimple\t8\tpgbouncer\t20000\t10.0\t0.2\t3.0\t75\t0.9
1\trows1000\tsimple\t16\tringgate\t2000\t120.0\t5\t10\t90\t0.99
1\tselect1\tprepared\t8\tringgate_none\t25000\t9.0\t0.2\t2.0\t75\t0.9
"""


def test_parsers():
    d = report.parse_dpath(DPATH)
    check(len(d) == 4 and d[0]["value"] == 467 and d[0]["unit"] == "ns/statement"
          and d[3]["unit"] == "ns/row" and d[3]["value"] == 43.0,
          "dpath_bench: one row per measurement, its value and unit")
    ev = report.parse_evidence(EVIDENCE)
    s = report.evidence_summary(ev)
    check(len(ev) == 4 and len(s) == 1 and s[0]["mode"] == "simple"
          and abs(s[0]["hooks_ns"] - (375.4 - 15.1)) < 1e-9 and s[0]["writer_ns"] == 1619,
          "evidence_bench: hooks' cost = median on - median off, the writer's median apart")
    rows, setup = report.parse_mask(MASK)
    check([r["method"] for r in rows] == ["rg_masker_row (prefilter + SOM)",
                                          "prefilter alone, scalar",
                                          "raw SOM hs_scan per DataRow (no prefilter)"]
          and rows[0]["case"] == "short rows: 5 fields, ~80 B, no PII"
          and rows[0]["mb_s"] == 511 and rows[0]["bytes_per_row"] == 80,
          "mask_bench: methods under their case, the candidate lines skipped")
    check([x["ms"] for x in setup] == [41.0, 0.1], "mask_bench: compile costs in ms")
    p = report.parse_policy(POLICY)
    check([(x["value"], x["unit"]) for x in p] == [(0.76, "s"), (0.09, "ms"), (2.4, "us")],
          "policy_bench: the value and unit of each markdown row, the header skipped")
    m, ms = report.parse_metrics(METRICS)
    check([(x["scrape"], x["tps"], x["cpu_us_per_tx"]) for x in m]
          == [("off", 26016, 17.92), ("on", 26256, 20.32)] and ms == 5.2,
          "metrics_bench.py: its rounds and the median scrape time")


def test_proxies():
    rows = report.proxies_from_tsv(RAW)
    keys = [(r["scenario"], r["protocol"], r["clients"], r["target"]) for r in rows]
    check(keys == [("select1", "simple", 8, "direct"), ("select1", "simple", 8, "pgbouncer"),
                   ("select1", "simple", 8, "ringgate"),
                   ("select1", "prepared", 8, "ringgate_none"),
                   ("rows1000", "simple", 16, "ringgate")],
          "cells in table order: select1 simple, prepared, rows1000; targets as in the notebook")
    rg = rows[2]
    check(rg["runs"] == 2 and rg["tps"] == 24000 and rg["cpu_us_per_query"] == 11.5
          and rg["p99_ms"] == 3.0, "medians over the repeats of a cell")
    check(rows[0]["cpu_us_per_query"] is None, "direct has no proxy CPU: None, not 0")
    r = {(x["scenario"], x["protocol"], x["target"]): x for x in report.proxy_ratios(rows)}
    a = r[("select1", "simple", "ringgate")]
    check(abs(a["tps_vs_pgbouncer"] - 1.2) < 1e-9 and abs(a["cpu_vs_pgbouncer"] - 1.15) < 1e-9
          and abs(a["tps_vs_direct"] - 0.8) < 1e-9,
          "ratios against the peers of the same cell")
    check(a["tps_vs_haproxy"] is None and r[("rows1000", "simple", "ringgate")]
          ["tps_vs_pgbouncer"] is None, "a peer that did not run gives no ratio")


def test_render_and_splice():
    with tempfile.TemporaryDirectory() as d:
        rows = report.proxies_from_tsv(RAW)
        report.write_csv(os.path.join(d, "proxies.csv"), report.PROXY_COLS, rows)
        report.write_csv(os.path.join(d, "ratios.csv"), report.RATIO_COLS,
                         report.proxy_ratios(rows))
        report.write_csv(os.path.join(d, "audit.csv"), ["mode", "clients", "runs", "tps_off",
                                                        "tps_on", "tps_on_off", "p99_us_off",
                                                        "p99_us_on"],
                         [{"mode": "simple", "clients": 16, "runs": 3, "tps_off": 100.0,
                           "tps_on": 90.0, "tps_on_off": 0.9, "p99_us_off": 10,
                           "p99_us_on": 12}])
        with open(os.path.join(d, "meta.json"), "w") as f:
            f.write('{"date": "2026-12-02 06:00 UTC", "commit": "abc1234", "nproc": 2, '
                    '"command": "bench/run", "repeat": "2", "rundir": "results/run-x"}')
        open(os.path.join(d, "cpu.png"), "wb").close()
        data = report.collect(d)
        check(data["proxies"][2]["tps"] == "24000.0" and data["evidence"] == [],
              "collect: the CSV files back, absent ones empty")
        block = report.render(data, "results/run-x")
        check("| select1 simple | 8 | 24,000 | 1.20 | - | - | 11.5 | - | 1.15 | 1.00 | - |"
              in block, "the ratio table: ringgate's row, '-' for what did not run")
        check("| audit trail | simple, 16 clients: TPS on / off (median of 3) | 0.90" in block,
              "the audit on/off ratio in the scenarios table")
        check("![cpu](results/run-x/cpu.png)" in block and "tps_p99" not in block,
              "plots embedded by their path from the README, only those drawn")
        check("Commit abc1234" in block and "`bench/run`" in block and "quick" not in block,
              "the run's commit and command; no quick-run warning for a full run")
    readme = f"# bench/\n\nintro\n\n{report.BEGIN}\nold\n{report.END}\n\n## History\nkept\n"
    new = report.splice(readme, "NEW\n")
    check(new == f"# bench/\n\nintro\n\n{report.BEGIN}\nNEW\n{report.END}\n\n## History\nkept\n",
          "splice: only the text between the markers changes")
    check(report.splice(new, "NEW\n") == new, "splice: the same block twice is idempotent")
    try:
        report.splice("# bench/\nno markers\n", "NEW\n")
        check(False, "splice refuses a README without markers")
    except ValueError:
        check(True, "splice refuses a README without markers")
    with open(os.path.join(SRC, "bench", "README.md")) as f:
        text = f.read()
    check(text.count(report.BEGIN) == 1 and text.count(report.END) == 1
          and text.index(report.BEGIN) < text.index(report.END),
          "bench/README.md holds the markers once, in order")


if __name__ == "__main__":
    test_parsers()
    test_proxies()
    test_render_and_splice()
