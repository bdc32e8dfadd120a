#!/usr/bin/env python3
"""idle_sessions.py: open N logged-in, idle PostgreSQL sessions through a proxy and hold them.

Raw v3 protocol over asyncio (standard library only). Each session sends a StartupMessage,
answers the authentication request (trust, cleartext or md5; the password comes from the
environment variable named by --password-env, e.g. a ringgate JWT), waits for
ReadyForQuery, then runs one query (default "SELECT 1") so that a pooler in session mode
binds a server connection to it too (and so that the query is known to go end to end: a
session counts only if the query returned at least one DataRow and no error), and then stays
idle until the process is told to stop. --port may list several ports ("5001,5002"): session
i goes to the i-th port modulo their number (e.g. one port per proxy process).

When all sessions are up (or the attempt gave up), one JSON line goes to stdout and, if
--ready-file is given, to that file: {"ok": n, "failed": f, "first_error": "...",
"stopped_early": bool, "seconds": t}. The process then holds the sessions until SIGTERM,
SIGINT or --hold seconds, and prints a second JSON line with how many were still open.

Safety: it stops opening sessions when MemAvailable (/proc/meminfo) falls below
--min-avail-mb (the machine is shared; every session behind a proxy is also a PostgreSQL
backend), and it never opens more than --n.
"""
import argparse
import asyncio
import hashlib
import json
import os
import signal
import struct
import sys
import time


def mem_available_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 1 << 30


def startup_msg(user, db):
    body = struct.pack("!I", 196608)
    for k, v in (("user", user), ("database", db), ("application_name", "idle_sessions")):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def msg(t, payload):
    return t + struct.pack("!I", len(payload) + 4) + payload


async def read_msg(r):
    hdr = await r.readexactly(5)
    n = struct.unpack("!I", hdr[1:])[0]
    return hdr[:1], await r.readexactly(n - 4)


class Session:
    def __init__(self, r, w):
        self.r, self.w = r, w
        self.closed = False

    async def watch(self):
        try:
            while True:
                if not await self.r.read(4096):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        self.closed = True


async def open_session(a, port, password):
    r, w = await asyncio.open_connection(a.host, port)
    w.write(startup_msg(a.user, a.db))
    while True:
        t, p = await read_msg(r)
        if t == b"R":
            code = struct.unpack("!I", p[:4])[0]
            if code == 0:
                continue
            if code == 3:
                w.write(msg(b"p", password.encode() + b"\0"))
            elif code == 5:
                inner = hashlib.md5(password.encode() + a.user.encode()).hexdigest()
                outer = hashlib.md5(inner.encode() + p[4:8]).hexdigest()
                w.write(msg(b"p", b"md5" + outer.encode() + b"\0"))
            else:
                raise RuntimeError("unsupported authentication request %d" % code)
        elif t == b"E":
            raise RuntimeError("login refused: " + p.replace(b"\0", b" ").decode(errors="replace"))
        elif t == b"Z":
            break
    if a.query:
        w.write(msg(b"Q", a.query.encode() + b"\0"))
        rows = 0
        while True:
            t, p = await read_msg(r)
            if t == b"E":
                raise RuntimeError("query failed: " + p.replace(b"\0", b" ").decode(errors="replace"))
            if t == b"D":
                rows += 1
            if t == b"Z":
                break
        if rows == 0 and a.expect_row:
            raise RuntimeError("query returned no row")
    return Session(r, w)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", required=True, help="port, or comma-separated ports (round robin)")
    ap.add_argument("--user", default="postgres")
    ap.add_argument("--db", default="postgres")
    ap.add_argument("--password-env", default="PGPASSWORD")
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--concurrency", type=int, default=32, help="logins in flight")
    ap.add_argument("--query", default="SELECT 1", help="run once after login ('' = none)")
    ap.add_argument("--no-expect-row", dest="expect_row", action="store_false",
                    help="the query need not return a row")
    ap.add_argument("--min-avail-mb", type=int, default=4096)
    ap.add_argument("--max-errors", type=int, default=20)
    ap.add_argument("--hold", type=float, default=3600.0, help="seconds to hold at most")
    ap.add_argument("--ready-file")
    a = ap.parse_args()
    password = os.environ.get(a.password_env, "")
    ports = [int(x) for x in a.port.split(",") if x]

    sessions, errors = [], []
    stop_opening = False
    started = time.monotonic()
    sem = asyncio.Semaphore(a.concurrency)
    it = iter(range(a.n))

    async def worker():
        nonlocal stop_opening
        for i in it:
            if stop_opening:
                return
            if i % 100 == 0 and mem_available_mb() < a.min_avail_mb:
                stop_opening = True
                errors.append("MemAvailable below %d MiB after %d sessions" % (a.min_avail_mb, len(sessions)))
                return
            async with sem:
                try:
                    s = await asyncio.wait_for(open_session(a, ports[i % len(ports)], password), 60)
                    sessions.append(s)
                except Exception as e:  # noqa: BLE001 - report any failure
                    errors.append("%s: %s" % (type(e).__name__, e))
                    if len(errors) >= a.max_errors:
                        stop_opening = True

    await asyncio.gather(*(worker() for _ in range(a.concurrency)))
    watchers = [asyncio.ensure_future(s.watch()) for s in sessions]
    report = {
        "ok": len(sessions),
        "failed": len(errors),
        "first_error": errors[0] if errors else "",
        "stopped_early": stop_opening,
        "seconds": round(time.monotonic() - started, 1),
    }
    line = json.dumps(report)
    print(line, flush=True)
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write(line + "\n")
        os.rename(a.ready_file + ".tmp", a.ready_file)

    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    try:
        await asyncio.wait_for(done.wait(), a.hold)
    except asyncio.TimeoutError:
        pass
    still = sum(1 for s in sessions if not s.closed)
    print(json.dumps({"held": still, "dropped": len(sessions) - still}), flush=True)
    for s in sessions:
        s.w.write(msg(b"X", b""))
        s.w.close()
    for w in watchers:
        w.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
