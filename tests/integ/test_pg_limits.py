#!/usr/bin/env python3
"""Scope limits from the rules' `limits:` end sessions that exceed them (issue #10; docs/pg.md
"Scope limits", docs/rules.md "Limits").

Against a real PostgreSQL 15 and the real ringgate with a bundle holding one limit per
identity: max_rows, max_bytes, max_statements, max_denials, idle_timeout and
max_session_duration each end that identity's session with a FATAL (57P01, 57P05 for
idle_timeout) that names the limit, its value and the entry that set it, before anything
beyond the limit reaches the agent; one event=limit_exceeded line names the identity. An
identity no limit matches runs unlimited.
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402
from test_clients_bad_input import raw_login, msg, read_msg, error_fields  # noqa: E402

PACK = """version: 1
pack: lim
limits:
  - id: lim.rows
    match: {identity: {subject: agent-rows}}
    max_rows: 10
  - id: lim.bytes
    match: {identity: {subject: agent-bytes}}
    max_bytes: 4kB
  - id: lim.big
    match: {identity: {subject: agent-big}}
    max_bytes: 1MB
  - id: lim.stmts
    match: {identity: {subject: agent-stmts}}
    max_statements: 3
  - id: lim.denials
    match: {identity: {subject: agent-deny}}
    max_denials: 1
  - id: lim.idle
    match: {identity: {subject: agent-idle}}
    idle_timeout: 2s
  - id: lim.duration
    match: {identity: {subject: agent-dur}}
    max_session_duration: 3s
"""


def login(rg, iss, sub):
    ep = rgtest.Endpoint(rg.host, rg.port, sub, None, rg.config["targets"][0]["name"])
    r = raw_login(ep, iss.token(sub=sub), user=sub)
    check(r[0] == "ok", f"{sub} logs in")
    return r[1]


def run(s, sql):
    """Send a Query; return (types, first error fields or None, closed) up to Z or close."""
    s.sendall(msg(b"Q", sql.encode() + b"\0"))
    seen, err = [], None
    while True:
        try:
            t, body = read_msg(s)
        except (EOFError, ConnectionError, OSError):
            return seen, err, True
        seen.append(t)
        if t == b"E" and err is None:
            err = error_fields(body)
        if t == b"Z":
            return seen, err, False


def fatal(err, sqlstate, words):
    return (err and err.get("S") == "FATAL" and err.get("C") == sqlstate and
            all(w in err.get("M", "") for w in words))


def main():
    with rgtest.PgServer() as pg:
        pg.psql("CREATE TABLE nums AS SELECT g FROM generate_series(1, 100) g")
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rgtest-lim-") as d:
            pack = os.path.join(d, "lim.yaml")
            with open(pack, "w") as f:
                f.write(PACK)
            bundle = rgtest.compile_bundle(["rules/baseline", pack], os.path.join(d, "b.rgb"))
            rg = pgfix.start(pg, iss, policy={"bundle": bundle})

            s = login(rg, iss, "agent-rows")
            seen, err, _ = run(s, "SELECT g FROM nums WHERE g <= 10")
            check(err is None and seen.count(b"D") == 10, "10 rows: within max_rows 10")
            seen, err, closed = run(s, "SELECT g FROM nums")
            check(fatal(err, "57P01", ["max_rows 10", "lim.rows"]) and seen.count(b"D") == 0
                  and closed,
                  f"the 11th row ends the session, before it is sent ({seen[:3]}, {err})")

            s = login(rg, iss, "agent-bytes")
            seen, err, closed = run(s, "SELECT repeat('x', 100) FROM nums")
            check(fatal(err, "57P01", ["max_bytes", "lim.bytes"]) and closed and
                  seen.count(b"D") < 40, f"max_bytes 4kB ends the session ({err})")

            s = login(rg, iss, "agent-big")
            seen, err, closed = run(s, "SELECT repeat('y', 3000000)")
            check(fatal(err, "57P01", ["max_bytes 1MB", "lim.big"]) and closed and
                  b"D" not in seen,
                  f"a 3 MB row (streamed in pieces) over max_bytes 1MB: ended before any of "
                  f"it is sent ({seen}, {err})")

            s = login(rg, iss, "agent-stmts")
            for i in range(3):
                seen, err, _ = run(s, "SELECT 1")
                check(err is None, f"statement {i + 1} of max_statements 3")
            seen, err, closed = run(s, "SELECT 1")
            check(fatal(err, "57P01", ["max_statements 3", "lim.stmts"]) and closed and
                  b"D" not in seen, f"the 4th statement ends the session unanswered ({err})")

            s = login(rg, iss, "agent-deny")
            seen, err, closed = run(s, "DROP TABLE nums")
            check(err and err.get("C") == "42501" and not closed, "first denial: an ERROR")
            seen, err, closed = run(s, "TRUNCATE nums")
            check(closed and fatal(err, "57P01", ["max_denials 1", "lim.denials"]),
                  f"the second denial exceeds max_denials 1: the session ends ({seen}, {err})")

            s = login(rg, iss, "agent-idle")
            run(s, "SELECT 1")
            t0 = time.monotonic()
            s.settimeout(8)
            try:
                t, body = read_msg(s)
                err = error_fields(body) if t == b"E" else None
            except (EOFError, OSError):
                err = None
            dt = time.monotonic() - t0
            check(fatal(err, "57P05", ["idle_timeout 2s", "lim.idle"]) and 1.5 <= dt < 4,
                  f"idle for 2 s: FATAL 57P05 naming idle_timeout ({dt:.1f}s, {err})")

            s = login(rg, iss, "agent-dur")
            t0 = time.monotonic()
            while time.monotonic() - t0 < 8:
                seen, err, closed = run(s, "SELECT 1")
                if closed or err:
                    break
                time.sleep(0.3)
            dt = time.monotonic() - t0
            check(fatal(err, "57P01", ["max_session_duration 3s", "lim.duration"]) and
                  2.5 <= dt < 5, f"a busy session ends at max_session_duration ({dt:.1f}s)")

            s = login(rg, iss, "agent-free")
            seen, err, _ = run(s, "SELECT g FROM nums")
            check(err is None and seen.count(b"D") == 100, "no limit matches: unlimited")

            log = pgfix.log_text(rg)
            lines = [ln for ln in log.splitlines() if ln.startswith("event=limit_exceeded")]
            check(len(lines) == 7 and all(" sub=agent-" in ln and " id=lim." in ln
                                          for ln in lines),
                  f"seven limit_exceeded lines with the identity and the entry ({lines})")
            probs = rgtest.sanitizer_reports(log)
            check(not probs and rg.proc.poll() is None, f"ringgate healthy ({probs[:3]})")


if __name__ == "__main__":
    main()
