"""pgbench 15 through the real ringgate (tables initialised directly on PostgreSQL): the
select-only builtin in simple, extended and prepared protocol modes, a pipeline script
(\\startpipeline / \\endpipeline) in extended and prepared modes, and tpcb-like writes with
a consistency check afterwards. Every run is bounded by -t and must report exactly
clients * t transactions processed and zero failed.

RG_DIRECT=1 runs the same clients straight against PostgreSQL (validates the test only)."""

import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402

CLIENTS, THREADS, TX = 4, 2, 250

PIPELINE = r"""
\set aid random(1, 100000 * :scale)
\set bid random(1, 1 * :scale)
\startpipeline
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = (:aid % 100000) + 1;
SELECT bbalance FROM pgbench_branches WHERE bid = :bid;
SELECT count(*) FROM pgbench_tellers WHERE bid = :bid;
SELECT repeat('p', 2000) FROM generate_series(1, 5);
\endpipeline
"""


def counts(out):
    """(processed, expected, failed) from pgbench 15 output; None for what is missing."""
    m = re.search(r"number of transactions actually processed: (\d+)/(\d+)", out)
    f = re.search(r"number of failed transactions: (\d+)", out)
    return (int(m.group(1)) if m else None, int(m.group(2)) if m else None,
            int(f.group(1)) if f else None)


def bench(ep, args, what):
    r = rgtest.run_pgbench(["-n", "-c", str(CLIENTS), "-j", str(THREADS), "-t", str(TX),
                            *args], ep.env(), check=False, timeout=240)
    done, want, failed = counts(r.stdout)
    n = CLIENTS * TX
    detail = "" if r.returncode == 0 else f"\n{r.stdout[-1500:]}{r.stderr[-1500:]}"
    check(r.returncode == 0 and done == n and want == n and failed == 0,
          f"pgbench {what}: rc {r.returncode}, {done}/{want} processed, {failed} failed "
          f"(want {n}/{n}, 0){detail}")
    tps = re.search(r"tps = ([\d.]+)", r.stdout)
    print(f"# pgbench {what}: {tps.group(1) if tps else '?'} tps", flush=True)


def test_select_only_modes(st):
    for mode in ("simple", "extended", "prepared"):
        bench(st.ep, ["-S", "-M", mode], f"-S -M {mode}")
    check(not st.ringgate_problems(), f"ringgate healthy ({st.ringgate_problems()[:5]})")


def test_pipeline_script(st):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(PIPELINE)
    try:
        for mode in ("extended", "prepared"):
            bench(st.ep, ["-M", mode, "-f", f.name], f"pipeline script -M {mode}")
    finally:
        os.unlink(f.name)
    check(not st.ringgate_problems(), f"ringgate healthy ({st.ringgate_problems()[:5]})")


def test_tpcb_like_writes_consistent(st):
    bench(st.ep, ["-b", "tpcb-like", "-M", "prepared"], "tpcb-like -M prepared")
    r = st.pg.psql("SELECT (SELECT sum(abalance) FROM pgbench_accounts), "
                   "(SELECT sum(bbalance) FROM pgbench_branches), "
                   "(SELECT sum(tbalance) FROM pgbench_tellers), "
                   "(SELECT sum(delta) FROM pgbench_history), "
                   "(SELECT count(*) FROM pgbench_history)")
    a, b, t, h, n = r.stdout.strip().split("|")
    check(a == b == t == h and int(n) == CLIENTS * TX,
          f"balances agree and history has every transaction ({a} {b} {t} {h}, {n} rows)")
    check(not st.ringgate_problems(), f"ringgate healthy ({st.ringgate_problems()[:5]})")


if __name__ == "__main__":
    with rgtest.ClientStack() as shared:
        shared.pg.pgbench(["-i", "-s", "1", "-q"])  # directly, not through ringgate
        rgtest.run_tests([test_select_only_modes, test_pipeline_script,
                          test_tpcb_like_writes_consistent], shared)
