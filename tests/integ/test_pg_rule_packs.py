#!/usr/bin/env python3
"""Every inline test of the shipped rule packs, through the live gateway (issue #10, Tests).

`rulec test` proves rules/baseline's verdicts offline; this proves the engine applies the same
verdicts on the wire: each `sql` test of every rule (case, comments, quoting, U& escapes,
CTEs, multi-statement strings, PREPARE/EXECUTE, EXPLAIN ANALYZE, and the false-positive
traps) is sent through ringgate to a real PostgreSQL 15 as an extended-protocol Parse
(judged, never executed), and those expected to be denied also as a simple Query. A test
expecting deny must get ringgate's denial; one expecting allow must not (the server may
still refuse it for its own reasons: unknown tables, a statement that cannot be prepared).
"""
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402
from test_clients_bad_input import raw_login, msg, read_reply  # noqa: E402

try:
    import yaml
except ImportError:
    rgtest.skip("python3-yaml is not installed (tools/deps installs it)")

PACKS = ["rules/baseline"]


def pack_tests(path):
    """(rule id, sql, expect) of the plain sql tests (no identity, target or row)."""
    out = []
    for root, _, files in os.walk(os.path.join(rgtest.RG_SRC, path)):
        for fn in sorted(files):
            if not fn.endswith((".yaml", ".yml")):
                continue
            with open(os.path.join(root, fn)) as f:
                doc = yaml.safe_load(f)
            for rule in doc.get("rules") or []:
                for t in rule.get("tests") or []:
                    if "sql" not in t or set(t) - {"sql", "expect", "rule"}:
                        continue
                    if t.get("expect") in ("deny", "allow"):
                        out.append((rule["id"], t["sql"], t["expect"]))
    return out


def denied(err):
    """ringgate's refusal: a rule's denial, or the always-on lexing guard's (which refuses
    what baseline.no-set-lexing names before the bundle is asked)."""
    m = (err or {}).get("M", "")
    return m.startswith("denied by policy rule") or m.startswith(
        "changing client_encoding or string-literal settings is not allowed")


def main():
    tests = []
    for p in PACKS:
        tests += pack_tests(p)
    check(len(tests) >= 200, f"{len(tests)} sql tests found in {PACKS}")
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rgtest-packs-") as d:
            bundle = rgtest.compile_bundle(PACKS, os.path.join(d, "b.rgb"))
            rg = pgfix.start(pg, iss, policy={"bundle": bundle})
            tok = iss.token()
            ep = rgtest.Endpoint(rg.host, rg.port, "agent-1", None,
                                 rg.config["targets"][0]["name"])
            ok, s = raw_login(ep, tok)[:2]
            wrong = []
            nq = 0
            for rid, sql, expect in tests:
                body = b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0)
                s.sendall(msg(b"P", body) + msg(b"S"))
                seen, err = read_reply(s)
                if denied(err) != (expect == "deny"):
                    wrong.append(("parse", rid, sql, expect, err))
                if expect == "deny":
                    nq += 1
                    s.sendall(msg(b"Q", sql.encode() + b"\0"))
                    seen, err = read_reply(s)
                    if not denied(err):
                        wrong.append(("query", rid, sql, expect, err))
            s.sendall(msg(b"X"))
            s.close()
            check(not wrong, f"every test judged on the wire as rulec test expects "
                  f"({len(tests)} Parses, {nq} Queries; {len(wrong)} wrong: {wrong[:5]})")
            log = pgfix.log_text(rg)
            probs = rgtest.sanitizer_reports(log)
            check(not probs and rg.proc.poll() is None, f"ringgate healthy ({probs[:3]})")


if __name__ == "__main__":
    main()
