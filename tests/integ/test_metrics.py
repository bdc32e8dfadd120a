#!/usr/bin/env python3
"""GET /metrics (issue #13; docs/metrics.md).

A ringgate with rules/baseline, an audit trail and its admin listener: /metrics answers in the
Prometheus text format, which `promtool check metrics` accepts (no lint problem); after psql
statements (one denied) and pgbench -S through the gateway, the families count them:
sessions, statements by verdict, bytes both ways, the round-trip and upstream-login
histograms, the io_uring figures per worker, the audit writer, the policy generation. Scrapes
every 100 ms during a pgbench run fail nothing. eBPF: as root here the programs load
(ringgate_bpf_enabled 1) and io_uring request latencies are observed; a ringgate run as an
unprivileged user starts anyway, says why once, and reports ringgate_bpf_enabled 0.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402


def scrape(rg):
    rgtest.wait_port("127.0.0.1", rg.admin_port, 30, rg.proc)
    with urllib.request.urlopen(f"http://127.0.0.1:{rg.admin_port}/metrics", timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def value(text, name, **labels):
    """The sample name{labels...} (labels given must match; others may be there)."""
    total = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total = (total or 0) + float(m.group(3))
    return total


def promtool(text):
    return subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60)


def main():
    if not shutil.which("promtool"):
        rgtest.skip("promtool (Debian package prometheus) is not installed")
    with rgtest.PgServer() as pg:
        rgtest.run_pgbench(["-i", "-s", "1", "-q"], pg.env())
        pg.admin_psql("CREATE TABLE cards (c text); INSERT INTO cards VALUES "
                      "('4111111111111111')", database=pg.database)
        pg.admin_psql(f'GRANT SELECT ON cards TO "{pg.user}"', database=pg.database)
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rgtest-metrics-") as d:
            key, _ = rgtest.signing_keypair(d)
            bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"],
                                           os.path.join(d, "b.rgb"))
            rg = pgfix.start(pg, iss, policy={"bundle": bundle},
                             extra={"audit": {"key_file": key, "dir": os.path.join(d, "t")}})
            st, ctype, t0 = scrape(rg)
            check(st == 200 and ctype.startswith("text/plain; version=0.0.4"),
                  f"GET /metrics: 200, text format 0.0.4 ({st} {ctype})")
            p = promtool(t0)
            check(p.returncode == 0 and not p.stdout.strip(),
                  f"promtool check metrics: clean ({p.stdout.strip()} {p.stderr.strip()})")
            check(value(t0, "ringgate_build_info") == 1 and
                  value(t0, "ringgate_policy_generation") == 1,
                  "build info, policy generation 1")

            tok = iss.token(sub="agent-m")
            env = rg.env("agent-m", tok)
            rgtest.run_psql("SELECT 1", env)
            r = rgtest.run_psql("SELECT c FROM cards", env)
            check("4111111111111111" not in r.stdout, "the card is masked")
            r = subprocess.run(["psql", "-X", "-c", "DROP TABLE pgbench_history"], env=env,
                               capture_output=True, text=True, timeout=30)
            check(r.returncode != 0, "DROP denied")
            errors = []
            stop = threading.Event()

            def scraper():
                while not stop.is_set():
                    try:
                        scrape(rg)
                    except Exception as e:  # noqa: BLE001
                        errors.append(repr(e))
                    time.sleep(0.1)

            th = threading.Thread(target=scraper)
            th.start()
            b = rgtest.run_pgbench(["-n", "-S", "-c", "4", "-j", "2", "-t", "300"], env)
            stop.set()
            th.join()
            check(not errors and "number of failed transactions: 0" in b.stdout,
                  f"pgbench while scraped every 100 ms: no failure ({errors[:2]})")
            # sessions close a moment after their clients go: wait for the gauges to settle
            for _ in range(100):
                st, _, t1 = scrape(rg)
                if (value(t1, "ringgate_sessions_active", protocol="postgres") <= 1 and
                        value(t1, "ringgate_target_sessions_active", target="appdb") == 0):
                    break
                time.sleep(0.1)
            check(promtool(t1).returncode == 0, "promtool: still clean after traffic")
            n_allow = value(t1, "ringgate_statements_total", verdict="allow")
            check(value(t1, "ringgate_masked_rows_total", detector="credit_card") == 1,
                  "masked rows by detector")
            check(n_allow and n_allow >= 1202 and
                  value(t1, "ringgate_statements_total", verdict="deny") == 1,
                  f"statements by verdict (allow {n_allow})")
            # (the catalog reader keeps one session of its own open: docs/pg.md)
            tot = value(t1, "ringgate_sessions_total", protocol="postgres")
            act = value(t1, "ringgate_sessions_active", protocol="postgres")
            check(tot >= 6 and act <= 1, f"sessions total and active ({tot}, {act})")
            check(value(t1, "ringgate_bytes_total", direction="in") > 0 and
                  value(t1, "ringgate_bytes_total", direction="out") > 0, "bytes in and out")
            rt = value(t1, "ringgate_statement_duration_seconds_count")
            inf = value(t1, "ringgate_statement_duration_seconds_bucket", le="+Inf")
            check(rt and rt >= 1203 and inf == rt and
                  value(t1, "ringgate_statement_duration_seconds_sum") > 0,
                  f"round-trip histogram ({rt})")
            check(value(t1, "ringgate_upstream_login_duration_seconds_count") >= 6,
                  "upstream login histogram")
            check(value(t1, "ringgate_io_uring_enters_total", worker="0") > 0 and
                  value(t1, "ringgate_io_uring_completions_total") > 0,
                  "io_uring figures per worker")
            check(value(t1, "ringgate_audit_records_written_total") >= 2400 and
                  value(t1, "ringgate_audit_write_failing") == 0, "the audit writer")
            check(value(t1, "ringgate_rule_statements_total", rule="baseline.no-drop",
                        verdict="deny") == 1, "statements by rule id: the DROP's rule")
            check(value(t1, "ringgate_target_sessions_total", target="appdb") >= 6 and
                  value(t1, "ringgate_target_sessions_active", target="appdb") == 0,
                  "sessions per target")
            check(all(value(t1, "ringgate_approvals_total", outcome=o) is not None
                      for o in ("approved", "denied", "expired", "withdrawn", "abandoned")),
                  "approvals by outcome: every outcome is a series")
            auth = value(t1, "ringgate_auth_ok_total", protocol="postgres")
            check(auth and auth >= 6, "authentications")
            bpf = value(t1, "ringgate_bpf_enabled")
            log = pgfix.log_text(rg)
            if os.geteuid() == 0 and "event=bpf_enabled" in log:
                n = value(t1, "ringgate_io_uring_request_duration_seconds_count", op="send")
                check(bpf == 1 and n and n > 0,
                      f"eBPF: enabled, io_uring send latencies observed ({n})")
                check(value(t1, "ringgate_tcp_state_changes_total", state="close") >= 1,
                      "eBPF: the closed sessions' sockets are counted")
            else:
                check(bpf == 0 and "event=bpf_disabled" in log,
                      "eBPF unavailable here: reported 0 and logged why")
            rg.stop()

            # an unprivileged ringgate: no eBPF, serves anyway, says why once
            def as_nobody(binary, config):
                wd = os.path.dirname(config)
                subprocess.run(["chown", "-R", "65534:65534", wd], check=True)
                return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        binary, "--config", config]

            if os.geteuid() != 0:
                rgtest.skip("the unprivileged case needs root to drop privileges")
            # that user's own copy of the issuer's key set (ringgate wants its files its own)
            kd = os.path.join(d, "nobody")
            os.makedirs(kd)
            shutil.copy(iss.jwks, os.path.join(kd, "jwks.json"))
            subprocess.run(["chown", "-R", "65534:65534", kd], check=True)
            os.chmod(d, 0o755)
            ident = iss.identity()
            ident["issuers"][0]["jwks_file"] = os.path.join(kd, "jwks.json")
            rg = rgtest.Ringgate(pg, identity=ident, argv=as_nobody)
            rg.start()
            rgtest.run_psql("SELECT 1", rg.env("agent-n", iss.token(sub="agent-n")))
            _, _, t2 = scrape(rg)
            log = pgfix.log_text(rg)
            check(value(t2, "ringgate_bpf_enabled") == 0 and
                  log.count("event=bpf_disabled") == 1 and
                  value(t2, "ringgate_statements_total", verdict="pass") >= 1,
                  "unprivileged: serves, ringgate_bpf_enabled 0, said once")
            rg.stop()
    print("ok")


if __name__ == "__main__":
    main()
