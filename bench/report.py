"""bench/report.py: the pure half of bench/run. It turns what the benchmark programs print
(dpath_bench, evidence_bench, mask_bench, policy_bench) and the TSV/CSV files the scripts
write (pg_bench.sh, audit_bench.py, approval_bench.py) into the CSV files of a run directory,
renders the markdown summary of a run, splices it into bench/README.md between the markers,
and draws the plots (matplotlib, imported only there).
Invariants: no process is started and no clock is read here (bench/run does that), so
everything but plot() is testable from strings (tests/integ/test_bench_report.py); ratios
are always between targets of the same run; a figure that is missing prints as "-", never 0.
"""
import csv
import io
import os
import re
import statistics

BEGIN = "<!-- bench/run: begin -->"
END = "<!-- bench/run: end -->"

# the peers and the floor, in the order tables and plots show them
TARGET_ORDER = ["direct", "pgbouncer", "haproxy", "fwd_epoll", "fwd_uring", "ringgate",
                "ringgate_none"]
TARGET_LABEL = {
    "direct": "direct (no proxy)",
    "pgbouncer": "pgbouncer",
    "haproxy": "haproxy",
    "fwd_epoll": "fwd_epoll (floor)",
    "fwd_uring": "fwd_uring (rg_core)",
    "ringgate": "ringgate (rules)",
    "ringgate_none": "ringgate (no bundle)",
}


def target_color(t):
    """One colour per target in every plot (matplotlib's tab10 cycle)."""
    return f"C{target_key(t) % 10}"


# ---- small helpers ----

def num(v):
    """A float from a CSV cell, or None for '', '-' and garbage."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def ratio(a, b):
    a, b = num(a), num(b)
    return None if a is None or b is None or b == 0 else a / b


def fmt(v, spec=".2f"):
    return "-" if v is None else format(v, spec)


def median(vals):
    vals = [v for v in (num(x) for x in vals) if v is not None]
    return statistics.median(vals) if vals else None


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path, header, rows):
    """rows: dicts; None prints as an empty cell, floats with 4 decimals at most."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if r.get(h) is None else
                        (round(r[h], 4) if isinstance(r[h], float) else r[h]) for h in header])


def target_key(t):
    return TARGET_ORDER.index(t) if t in TARGET_ORDER else len(TARGET_ORDER)


# ---- parsers of the programs' output ----

_NS = re.compile(r"^(\S.*?)\s{2,}([\d.]+) ns/(statement|result|row)")


def parse_dpath(text):
    """dpath_bench's lines -> [{measurement, value, unit}]."""
    out = []
    for line in text.splitlines():
        m = _NS.match(line)
        if m:
            out.append({"measurement": re.sub(r"\s+", " ", m.group(1)).strip(),
                        "value": float(m.group(2)), "unit": "ns/" + m.group(3)})
    return out


_EV = re.compile(r"^\s+(simple|prepared)\s+round (\d+) hooks (on|off)\s*:\s+([\d.]+) ns/statement"
                 r".*the writer: ([\d.]+) ns/statement")


def parse_evidence(text):
    """evidence_bench's rounds -> [{mode, round, hooks, ns_per_statement, writer_ns}]."""
    out = []
    for line in text.splitlines():
        m = _EV.match(line)
        if m:
            out.append({"mode": m.group(1), "round": int(m.group(2)), "hooks": m.group(3),
                        "ns_per_statement": float(m.group(4)),
                        "writer_ns_per_statement": float(m.group(5))})
    return out


def evidence_summary(rows):
    """Per mode: median hooks-on and hooks-off worker ns, their difference, the writer's."""
    out = []
    for mode in ("simple", "prepared"):
        on = [r["ns_per_statement"] for r in rows if r["mode"] == mode and r["hooks"] == "on"]
        off = [r["ns_per_statement"] for r in rows if r["mode"] == mode and r["hooks"] == "off"]
        wr = [r["writer_ns_per_statement"] for r in rows
              if r["mode"] == mode and r["hooks"] == "on"]
        if on and off:
            out.append({"mode": mode, "off_ns": median(off), "on_ns": median(on),
                        "hooks_ns": median(on) - median(off), "writer_ns": median(wr)})
    return out


_MASK_CASE = re.compile(r"^(\S.*?) \(avg ([\d.]+) B/row")
_MASK_ROW = re.compile(r"^\s+(\S.*?)\s{2,}([\d.]+) MB/s\s+([\d.]+) ns/row")
_MASK_MS = re.compile(r"^(rg_mask\S* .*?)\s{2,}([\d.]+) ms")


def parse_mask(text):
    """mask_bench -> ([{case, bytes_per_row, method, mb_s, ns_per_row}], [{measurement, ms}])."""
    rows, setup, case, bpr = [], [], None, None
    for line in text.splitlines():
        m = _MASK_CASE.match(line)
        if m:
            case, bpr = m.group(1), float(m.group(2))
            continue
        m = _MASK_ROW.match(line)
        if m and case:
            rows.append({"case": case, "bytes_per_row": bpr, "method": m.group(1).strip(),
                         "mb_s": float(m.group(2)), "ns_per_row": float(m.group(3))})
            continue
        m = _MASK_MS.match(line)
        if m:
            setup.append({"measurement": m.group(1).strip(), "ms": float(m.group(2))})
    return rows, setup


_POL = re.compile(r"^\| (.+?) \| ([\d.]+) (s|ms|us)\b(.*?)\|")


def parse_policy(text):
    """policy_bench's markdown rows -> [{measurement, value, unit, note}] (µs spelt us)."""
    out = []
    for line in text.splitlines():
        m = _POL.match(line)
        if m:
            out.append({"measurement": m.group(1).strip(), "value": float(m.group(2)),
                        "unit": m.group(3), "note": m.group(4).strip(" ()")})
    return out


_MET_ROUND = re.compile(r"^# round (\d+) scrape (on|off): ([\d.]+) tps, ([\d.]+) \S+ CPU/tx")
_MET_SCRAPE = re.compile(r"one scrape ([\d.]+) ms")


def parse_metrics(text):
    """metrics_bench.py's rounds -> [{round, scrape, tps, cpu_us_per_tx}] and the median
    scrape time in ms (None when it did not print one)."""
    rows = []
    for line in text.splitlines():
        m = _MET_ROUND.match(line)
        if m:
            rows.append({"round": int(m.group(1)), "scrape": m.group(2),
                         "tps": float(m.group(3)), "cpu_us_per_tx": float(m.group(4))})
    m = _MET_SCRAPE.search(text)
    return rows, (float(m.group(1)) if m else None)


# ---- pg_bench.sh's raw TSV -> medians and ratios ----

def proxies_from_tsv(text):
    """pg_bench.sh's $OUT.raw.tsv -> one row per (scenario, protocol, clients, target), the
    medians over its repeats, in table order."""
    cells = {}
    for r in csv.DictReader(io.StringIO(text), delimiter="\t"):
        k = (r["scenario"], r["protocol"], int(r["clients"]), r["target"])
        cells.setdefault(k, []).append(r)
    out = []
    for k in sorted(cells, key=lambda k: (k[0] != "select1", k[1] != "simple", k[2],
                                          target_key(k[3]))):
        rs = cells[k]
        out.append({"scenario": k[0], "protocol": k[1], "clients": k[2], "target": k[3],
                    "runs": len(rs),
                    "tps": median(r["tps"] for r in rs),
                    "cpu_us_per_query": median(r["cpu_us_per_query"] for r in rs),
                    "p50_ms": median(r["p50_ms"] for r in rs),
                    "p99_ms": median(r["p99_ms"] for r in rs)})
    return out


PROXY_COLS = ["scenario", "protocol", "clients", "target", "runs", "tps", "cpu_us_per_query",
              "p50_ms", "p99_ms"]


def proxy_ratios(rows, who=("ringgate", "ringgate_none")):
    """For each cell and each of `who`: TPS and CPU against the peers of the same run."""
    by = {(r["scenario"], r["protocol"], int(r["clients"]), r["target"]): r for r in rows}
    cells = []
    for r in rows:
        k = (r["scenario"], r["protocol"], int(r["clients"]))
        if k not in cells:
            cells.append(k)
    out = []
    for k in cells:
        for w in who:
            me = by.get(k + (w,))
            if not me:
                continue
            peer = lambda t, f: ratio(me[f], by[k + (t,)][f]) if k + (t,) in by else None  # noqa: E731
            out.append({"scenario": k[0], "protocol": k[1], "clients": k[2], "target": w,
                        "tps": num(me["tps"]), "cpu_us_per_query": num(me["cpu_us_per_query"]),
                        "p99_ms": num(me["p99_ms"]),
                        "tps_vs_direct": peer("direct", "tps"),
                        "tps_vs_pgbouncer": peer("pgbouncer", "tps"),
                        "tps_vs_haproxy": peer("haproxy", "tps"),
                        "tps_vs_fwd_epoll": peer("fwd_epoll", "tps"),
                        "cpu_vs_fwd_epoll": peer("fwd_epoll", "cpu_us_per_query"),
                        "cpu_vs_pgbouncer": peer("pgbouncer", "cpu_us_per_query"),
                        "cpu_vs_haproxy": peer("haproxy", "cpu_us_per_query"),
                        "p99_vs_pgbouncer": peer("pgbouncer", "p99_ms")})
    return out


RATIO_COLS = ["scenario", "protocol", "clients", "target", "tps", "cpu_us_per_query", "p99_ms",
              "tps_vs_direct", "tps_vs_pgbouncer", "tps_vs_haproxy", "tps_vs_fwd_epoll",
              "cpu_vs_fwd_epoll", "cpu_vs_pgbouncer", "cpu_vs_haproxy", "p99_vs_pgbouncer"]


def idle_from_tsv(text):
    return [dict(r) for r in csv.DictReader(io.StringIO(text), delimiter="\t")]


# ---- the summary ----

def _ratio_table(ratios):
    lines = ["| cell | clients | ringgate TPS | TPS / pgbouncer | TPS / haproxy | "
             "TPS / fwd_epoll | µs CPU per query | CPU / fwd_epoll | CPU / pgbouncer | "
             "p99 / pgbouncer | no bundle: TPS / pgbouncer, µs CPU |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    none = {(r["scenario"], r["protocol"], int(r["clients"])): r for r in ratios
            if r["target"] == "ringgate_none"}
    for r in ratios:
        if r["target"] != "ringgate":
            continue
        k = (r["scenario"], r["protocol"], int(r["clients"]))
        n = none.get(k)
        lines.append(
            f"| {r['scenario']} {r['protocol']} | {r['clients']} | {fmt(num(r['tps']), ',.0f')} | "
            f"{fmt(num(r['tps_vs_pgbouncer']))} | {fmt(num(r['tps_vs_haproxy']))} | "
            f"{fmt(num(r['tps_vs_fwd_epoll']))} | {fmt(num(r['cpu_us_per_query']), '.1f')} | "
            f"{fmt(num(r['cpu_vs_fwd_epoll']))} | {fmt(num(r['cpu_vs_pgbouncer']))} | "
            f"{fmt(num(r['p99_vs_pgbouncer']))} | "
            + (f"{fmt(num(n['tps_vs_pgbouncer']))}, {fmt(num(n['cpu_us_per_query']), '.1f')} |"
               if n else "- |"))
    return lines if len(lines) > 2 else []


def _pick(rows, key, val):
    for r in rows:
        if r.get(key) == val:
            return r
    return None


def other_rows(d):
    """The scenarios besides the proxy table, one markdown row each: (scenario, figure, value)."""
    out = []
    idle = d.get("idle", [])
    rg, pgb = _pick(idle, "kind", "ringgate"), _pick(idle, "kind", "pgbouncer")
    if rg:
        out.append(("idle sessions", f"ringgate KiB per idle session, marginal (N/2..N), "
                    f"{rg['sessions']} sessions",
                    f"{fmt(num(rg['marginal_kib_per_session']))} (pgbouncer: "
                    f"{fmt(num(pgb['marginal_kib_per_session'])) if pgb else '-'})"))
    for r in d.get("rulec", []):
        out.append(("rulec", r["measurement"], f"{fmt(num(r['value']), '.3g')} {r['unit']}"))
    for r in d.get("dpath", []):
        if r["measurement"].startswith(("verdict", "rg_pg_mask_datarow, pgbench", "runs of")):
            out.append(("data path", r["measurement"], f"{fmt(num(r['value']), '.1f')} {r['unit']}"))
    for r in d.get("evidence_summary", []):
        out.append(("audit hooks", f"{r['mode']}: hooks' worker CPU per statement (writer "
                    "thread apart)",
                    f"{fmt(num(r['hooks_ns']), '.0f')} ns (writer {fmt(num(r['writer_ns']), '.0f')} ns)"))
    for r in d.get("mask", []):
        if r["method"].startswith("rg_masker_row"):
            out.append(("masking", f"rg_masker_row, {r['case']}",
                        f"{fmt(num(r['mb_s']) / 1000 if num(r['mb_s']) is not None else None)}"
                        f" GB/s, {fmt(num(r['ns_per_row']), '.0f')} ns/row"))
    for r in d.get("audit", []):
        out.append(("audit trail", f"{r['mode']}, {r['clients']} clients: TPS on / off "
                    f"(median of {r['runs']})",
                    f"{fmt(num(r['tps_on_off']))} (p99 µs {r['p99_us_off']} → {r['p99_us_on']})"))
    met = d.get("metrics", [])
    on = median(r["tps"] for r in met if r["scrape"] == "on")
    off = median(r["tps"] for r in met if r["scrape"] == "off")
    if on is not None and off is not None:
        sm = [r.get("scrape_ms") for r in met if r.get("scrape_ms") not in (None, "")]
        out.append(("metrics", "pgbench -S TPS with a /metrics scrape every second / without "
                    f"(median of {sum(1 for r in met if r['scrape'] == 'on')})",
                    f"{fmt(on / off if off else None)}"
                    + (f" (one scrape {fmt(num(sm[0]), '.1f')} ms)" if sm else "")))
    ap = {r["step"]: r for r in d.get("approval", [])}
    if "held" in ap and "idle" in ap:
        h, i = ap["held"], ap["idle"]
        per = ratio(num(h["rss_kib"]) - num(i["rss_kib"]) if num(h["rss_kib"]) is not None
                    and num(i["rss_kib"]) is not None else None, h["held"])
        out.append(("approvals", f"{h['held']} held statements: TPS, p99 against the same "
                    "sessions idle",
                    f"{fmt(ratio(h['tps'], i['tps']))}, {fmt(ratio(h['p99_us'], i['p99_us']))}"
                    f" ({fmt(per)} KiB per held statement)"))
    return out


MEANING = [
    ("select1 simple / prepared", "pgbench -S through each target at each client count: the "
     "relay's per-query cost (TPS, p99, proxy CPU µs per query from /proc) against pgbouncer, "
     "haproxy and the epoll forwarder (the floor) measured in the same run."),
    ("rules on / pass-through", "`ringgate` enforces rules/baseline + rules/pii (verdict per "
     "statement, masks on results); `ringgate_none` is the same binary without a bundle: their "
     "difference is what the policy costs."),
    ("rows1000 (masking on)", "a 1000-row SELECT of pgbench_accounts (1 % of rows carry a card "
     "number): the per-DataRow cost of framing and masking."),
    ("idle sessions", "VmRSS per logged-in idle session, marginal between N/2 and N sessions "
     "(ringgate behind a transaction-pooling pgbouncer, pgbouncer itself as the peer)."),
    ("rulec", "wall time of `rulec compile` on the shipped packs, and policy_bench: compiling "
     "10,000 generated rules, loading a 1,000-rule bundle, verdicts without the cache."),
    ("data path", "dpath_bench: the verdict and the row masking as the gateway calls them, "
     "without the network (thread CPU ns)."),
    ("audit hooks", "evidence_bench: a worker's CPU per statement with the audit hooks on "
     "minus off, and the writer thread's, into a real journal and trail."),
    ("masking", "mask_bench: rg_masker_row throughput over synthetic DataRows with every "
     "detector on (GB/s of field bytes)."),
    ("audit trail", "audit_bench.py: pgbench -S through a ringgate with the trail (fsync every "
     "batch) and one without, alternating: TPS on / off."),
    ("approvals", "approval_bench.py: pgbench -S while N sessions each hold a statement for "
     "approval, against the same sessions idle (issue #11: within 10 %)."),
    ("metrics", "metrics_bench.py: pgbench -S through one ringgate with GET /metrics every "
     "second and without, alternating: what scraping costs the data path."),
]


def render(d, rel_png=""):
    """The markdown block for a run: d holds meta and the CSV rows; rel_png is the path from
    the markdown file to the run's directory ('' inside the run directory)."""
    m = d.get("meta", {})
    L = [f"## Current numbers ({m.get('date', '-')}{', quick run' if m.get('quick') else ''})", "",
         f"Machine: {m.get('nproc', '-')} CPUs ({m.get('cpu', '-')}), kernel {m.get('kernel', '-')}, "
         f"{m.get('mem_gib', '-')} GiB; load average at start {m.get('load_start', '-')}, "
         f"at the end {m.get('load_end', '-')}. Commit {m.get('commit', '-')}. "
         f"Command: `{m.get('command', '-')}` ({m.get('elapsed', '-')}). "
         f"Results: [{m.get('rundir', '-')}]({rel_png or '.'}).", ""]
    if m.get("quick"):
        L += ["**Quick run: short cells on one run each, for developing the harness; read "
              "nothing into these numbers.**", ""]
    if m.get("failed"):
        L += ["Failed steps (see their .log in the run directory): "
              + ", ".join(m["failed"]) + ".", ""]
    rt = _ratio_table(d.get("ratios", []))
    if rt:
        L += [f"ringgate against its peers in the same run (medians of {m.get('repeat', '-')} "
              f"run(s) per cell of {m.get('duration', '-')} s; ringgate enforces "
              f"{m.get('rules', '-')}; the last column is ringgate without a bundle; "
              "TPS ratios above 1 and CPU or p99 ratios below 1 favour ringgate):", ""]
        L += rt + [""]
    oth = other_rows(d)
    if oth:
        L += ["| scenario | figure | value |", "|---|---|---|"]
        L += [f"| {a} | {b} | {c} |" for a, b, c in oth] + [""]
    pngs = [p for p in ("tps_p99.png", "cpu.png", "masking.png", "audit.png")
            if p in d.get("pngs", [])]
    for p in pngs:
        L.append(f"![{p[:-4]}]({rel_png + '/' if rel_png else ''}{p})")
    if pngs:
        L.append("")
    L += ["What each scenario means:", ""]
    L += [f"- **{a}**: {b}" for a, b in MEANING]
    return "\n".join(L) + "\n"


def splice(readme, block):
    """readme with the text between the markers replaced by block (markers kept). Missing
    markers are an error: a README that lost them is never rewritten elsewhere."""
    i, j = readme.find(BEGIN), readme.find(END)
    if i < 0 or j < 0 or j < i:
        raise ValueError(f"bench/README.md: markers {BEGIN} / {END} not found in order")
    return readme[:i + len(BEGIN)] + "\n" + block.rstrip("\n") + "\n" + readme[j:]


# ---- plots ----

def plot(d, outdir):
    """Draw the PNGs the data allows into outdir; returns their file names."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    rows = d.get("proxies", [])
    sel = [r for r in rows if r["scenario"] == "select1"]
    modes = [mo for mo in ("simple", "prepared") if any(r["protocol"] == mo for r in sel)]
    targets = sorted({r["target"] for r in rows}, key=target_key)
    if sel and modes:
        fig, ax = plt.subplots(2, len(modes), figsize=(5.5 * len(modes), 7.5), squeeze=False)
        for j, mo in enumerate(modes):
            for t in targets:
                pts = sorted((int(r["clients"]), num(r["tps"]), num(r["p99_ms"])) for r in sel
                             if r["protocol"] == mo and r["target"] == t)
                if not pts:
                    continue
                x = [p[0] for p in pts]
                for i in (0, 1):
                    ax[i][j].plot(x, [p[i + 1] for p in pts], marker="o",
                                  color=target_color(t), label=TARGET_LABEL.get(t, t))
            ax[0][j].set_title(f"pgbench -S, {mo}")
            ax[0][j].set_ylabel("TPS")
            ax[1][j].set_ylabel("p99 latency, ms")
            xs = sorted({int(r["clients"]) for r in sel if r["protocol"] == mo})
            for a in (ax[0][j], ax[1][j]):
                a.set_xscale("log", base=2)
                a.set_xticks(xs)
                a.set_xticklabels([str(x) for x in xs])
                a.minorticks_off()
                a.set_xlabel("clients")
                a.grid(True, alpha=.3)
                a.set_ylim(bottom=0)
        ax[0][0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, "tps_p99.png"), dpi=90)
        plt.close(fig)
        made.append("tps_p99.png")
    cpu = [r for r in rows if num(r["cpu_us_per_query"]) is not None]
    if cpu:
        groups = [("select1", [c for c in dict.fromkeys((r["protocol"], int(r["clients"]))
                                                        for r in cpu if r["scenario"] == "select1")]),
                  ("rows1000", [c for c in dict.fromkeys((r["protocol"], int(r["clients"]))
                                                         for r in cpu if r["scenario"] == "rows1000")])]
        groups = [g for g in groups if g[1]]
        fig, ax = plt.subplots(1, len(groups), figsize=(11, 4),
                               gridspec_kw={"width_ratios": [max(len(g[1]), 1) for g in groups]},
                               squeeze=False)
        ts = [t for t in targets if any(r["target"] == t for r in cpu)]
        w = 0.8 / max(len(ts), 1)
        for gi, (sc, cells) in enumerate(groups):
            a = ax[0][gi]
            for ti, t in enumerate(ts):
                by = {(r["protocol"], int(r["clients"])): num(r["cpu_us_per_query"]) for r in cpu
                      if r["scenario"] == sc and r["target"] == t}
                a.bar([i + ti * w for i in range(len(cells))], [by.get(c) or 0 for c in cells],
                      w, color=target_color(t), label=TARGET_LABEL.get(t, t))
            a.set_xticks([i + w * (len(ts) - 1) / 2 for i in range(len(cells))])
            a.set_xticklabels([f"{p}/{c}" for p, c in cells], fontsize=8)
            a.set_title(sc)
            a.set_ylabel("proxy CPU µs per query")
            a.grid(True, axis="y", alpha=.3)
        ax[0][0].legend(fontsize=8)
        fig.suptitle("proxy CPU per query (utime+stime from /proc / transactions), "
                     "by protocol/clients")
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, "cpu.png"), dpi=90)
        plt.close(fig)
        made.append("cpu.png")
    mask = d.get("mask", [])
    if mask:
        cases = list(dict.fromkeys(r["case"] for r in mask))
        meths = [mt for mt in dict.fromkeys(r["method"] for r in mask)
                 if mt.startswith(("rg_masker_row", "raw SOM", "prefilter alone, avx2"))]
        fig, a = plt.subplots(figsize=(10, 4))
        w = 0.8 / max(len(meths), 1)
        for mi, mt in enumerate(meths):
            by = {r["case"]: num(r["mb_s"]) for r in mask if r["method"] == mt}
            a.barh([i + mi * w for i in range(len(cases))], [(by.get(c) or 0) / 1000 for c in cases],
                   w, label=mt)
        a.set_yticks([i + w * (len(meths) - 1) / 2 for i in range(len(cases))])
        a.set_yticklabels(cases, fontsize=8)
        a.invert_yaxis()
        a.set_xlabel("GB/s of field bytes (thread CPU)")
        a.set_title("masking throughput, every detector on (mask_bench)")
        a.legend(fontsize=8)
        a.grid(True, axis="x", alpha=.3)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, "masking.png"), dpi=90)
        plt.close(fig)
        made.append("masking.png")
    aud = d.get("audit", [])
    if aud:
        fig, a = plt.subplots(figsize=(5, 3.5))
        xs = [r["mode"] for r in aud]
        a.bar(xs, [num(r["tps_on_off"]) or 0 for r in aud], 0.5)
        a.axhline(1.0, color="k", lw=.8, ls="--")
        for i, r in enumerate(aud):
            a.text(i, (num(r["tps_on_off"]) or 0) + .02, fmt(num(r["tps_on_off"])), ha="center")
        a.set_ylabel("TPS with the trail / without")
        a.set_title("audit trail on/off (pgbench -S)")
        a.set_ylim(0, max(1.2, max((num(r["tps_on_off"]) or 0) for r in aud) + .15))
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, "audit.png"), dpi=90)
        plt.close(fig)
        made.append("audit.png")
    return made


# ---- a run directory ----

def collect(rundir):
    """Everything render() and plot() need, from the CSV files of a run directory."""
    import json
    d = {}
    mp = os.path.join(rundir, "meta.json")
    if os.path.exists(mp):
        with open(mp) as f:
            d["meta"] = json.load(f)
    for name in ("proxies", "ratios", "idle", "rulec", "dpath", "evidence", "mask", "audit",
                 "approval", "metrics"):
        d[name] = read_csv(os.path.join(rundir, name + ".csv"))
    d["evidence_summary"] = evidence_summary(
        [{"mode": r["mode"], "hooks": r["hooks"], "ns_per_statement": float(r["ns_per_statement"]),
          "writer_ns_per_statement": float(r["writer_ns_per_statement"])}
         for r in d["evidence"]])
    d["pngs"] = sorted(f for f in os.listdir(rundir) if f.endswith(".png"))
    return d
