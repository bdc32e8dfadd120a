"""ringgate's PostgreSQL gateway under hostile or broken clients, against a real PostgreSQL 15:
garbage instead of a startup packet, an oversized startup length, a bad message type and
an oversized length after login, plaintext injected after an SSLRequest, a client that
resets mid-result, and one that disconnects during login. Each time that one session ends
cleanly (FATAL 08P01 where the protocol allows, one event=protocol_violation log line), while
a concurrent session keeps working, ringgate stays up, and no target backend is leaked.
A violation with 64 KiB pipelined behind it, and more after, which ringgate never reads,
still ends in the FATAL and a clean EOF, never a reset (closing a socket with unread bytes
sends a RST, which can destroy the FATAL before the client reads it), 50 times before login
and 10 times after."""

import os
import select
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()


def alive(cur, what):
    cur.execute("SELECT 7 * 6")
    check(cur.fetchone()[0] == 42, f"{what}: concurrent session unaffected")


def fatal_then_eof(raw, what, sqlstate="08P01"):
    msgs = []
    while True:
        m = raw.read_msg()
        if m is None:
            break
        msgs.append(m)
    errs = [pgfix.error_fields(b) for t, b in msgs if t == b"E"]
    check(errs and errs[-1].get("C") == sqlstate and errs[-1].get("S") == "FATAL",
          f"{what}: FATAL {sqlstate}")
    check(raw.at_eof(), f"{what}: connection closed")


def parse_msgs(data):
    msgs = []
    while len(data) >= 5:
        t, n = data[:1], struct.unpack("!I", data[1:5])[0]
        if len(data) < 1 + n:
            break
        msgs.append((t, data[5:1 + n]))
        data = data[1 + n:]
    return msgs


def fatal_then_clean_eof(s, bad_msg, first=b""):
    """Send bad_msg and 64 KiB of garbage in one write, then keep pipelining garbage (as a
    client that does not wait for answers would) until the server's EOF, at most 512 KiB, and
    a little after it. The answer must be FATAL 08P01 and then EOF, with no reset on any send
    or receive. Returns None, or what went wrong."""
    chunk = bytes(range(256)) * 64
    data, sent = b"", 0
    try:
        s.sendall(bad_msg + chunk * 4)
        s.setblocking(False)
        deadline = time.monotonic() + 10
        while True:
            if time.monotonic() > deadline:
                return "timeout"
            w = [s] if sent < 512 * 1024 else []
            r, w, _ = select.select([s], w, [], 0.5)
            if r:
                try:
                    d = s.recv(65536)
                except BlockingIOError:
                    d = None
                if d == b"":
                    # a client that has not noticed yet may still be writing: no reset for
                    # that either (ringgate waits for our EOF before it closes the socket)
                    for i in range(2):
                        time.sleep(0.01)
                        try:
                            s.send(chunk)
                        except BlockingIOError:
                            pass
                    break
                if d:
                    data += d
            if w:
                try:
                    sent += s.send(chunk)
                except BlockingIOError:
                    pass
    except (ConnectionResetError, BrokenPipeError) as e:
        return type(e).__name__
    errs = [pgfix.error_fields(b) for t, b in parse_msgs(first + data) if t == b"E"]
    if not errs or errs[-1].get("C") != "08P01" or errs[-1].get("S") != "FATAL":
        return f"no FATAL 08P01 in {data[:80]!r}"
    return None


def backends(pg):
    r = pg.admin_psql("SELECT count(*) FROM pg_stat_activity WHERE usename = "
                      f"'{pg.user}' AND pid <> pg_backend_pid()", database=pg.database)
    return int(r.stdout.strip())


def main():
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        rg = pgfix.start(pg, iss)
        tok = iss.token()
        target = rg.config["targets"][0]["name"]
        keep = pgfix.connect(rg, tok)
        cur = keep.cursor()

        # garbage as a startup packet (a length that is too small)
        raw = pgfix.Raw(rg.host, rg.port)
        raw.send(b"\x00\x00\x00\x02garbage!")
        fatal_then_eof(raw, "garbage startup packet")
        raw.close()
        alive(cur, "garbage startup")

        # an oversized startup length
        raw = pgfix.Raw(rg.host, rg.port)
        raw.send(struct.pack("!II", 0x7fffffff, 196608))
        fatal_then_eof(raw, "oversized startup length")
        raw.close()
        alive(cur, "oversized startup")

        # HTTP at a postgres port
        raw = pgfix.Raw(rg.host, rg.port)
        raw.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        fatal_then_eof(raw, "HTTP request")
        raw.close()

        # an oversized startup length with 64 KiB pipelined behind it: FATAL, then a clean EOF
        fails = []
        for i in range(50):
            s = socket.create_connection((rg.host, rg.port), timeout=10)
            err = fatal_then_clean_eof(s, struct.pack("!II", 0x7fffffff, 196608))
            s.close()
            if err:
                fails.append(err)
        check(not fails, f"oversized startup + 64 KiB garbage: FATAL then clean EOF, 50 times "
              f"({len(fails)} failed: {sorted(set(fails))})")
        alive(cur, "oversized startup + garbage")

        # after login: an unknown message type, then an oversized length
        for what, payload in (("unknown message type", b"\x01\x00\x00\x00\x04"),
                              ("oversized Sync length", b"S\x00\x10\x00\x00"),
                              ("negative length", b"Q\xff\xff\xff\xff"),
                              ("Query without NUL", pgfix.msg(b"Q", b"SELECT 1"))):
            raw = pgfix.Raw(rg.host, rg.port)
            msgs, ok = raw.login(tok, target)
            check(ok, f"{what}: logged in first")
            before = backends(pg)
            raw.send(payload)
            fatal_then_eof(raw, what)
            raw.close()
            alive(cur, what)
            deadline = time.monotonic() + 10
            while backends(pg) >= before and time.monotonic() < deadline:
                time.sleep(0.1)
            check(backends(pg) < before, f"{what}: target connection closed too")

        # after login, an oversized length with 64 KiB behind it: the same, and the target
        # connection (closed with a FIN, its EOF awaited) goes away too
        fails = []
        before = backends(pg)
        for i in range(10):
            raw = pgfix.Raw(rg.host, rg.port)
            msgs, ok = raw.login(tok, target)
            check(ok, "oversized length + garbage: logged in first")
            err = fatal_then_clean_eof(raw.s, b"S\x00\x10\x00\x00", first=raw.buf)
            raw.close()
            if err:
                fails.append(err)
        check(not fails, f"oversized length + 64 KiB garbage after login: FATAL then clean EOF, "
              f"10 times ({len(fails)} failed: {sorted(set(fails))})")
        alive(cur, "oversized length + garbage")
        deadline = time.monotonic() + 10
        while backends(pg) > before and time.monotonic() < deadline:
            time.sleep(0.1)
        check(backends(pg) <= before, "oversized length + garbage: target connections closed")

        # bytes pipelined after an SSLRequest: refused (the listener has no TLS: 'N', then
        # the pipelined bytes are an ordinary startup packet) -- with TLS see test_pg_tls
        raw = pgfix.Raw(rg.host, rg.port)
        raw.send(struct.pack("!II", 8, 80877103))
        check(raw.s.recv(1) == b"N", "SSLRequest without listener TLS: 'N'")
        raw.close()

        # a client that resets mid-result
        for i in range(3):
            raw = pgfix.Raw(rg.host, rg.port)
            msgs, ok = raw.login(tok, target)
            raw.send(pgfix.query_msg("SELECT g, repeat('x', 1000) FROM generate_series(1, 2000000) g"))
            raw.read_msg()
            raw.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
        alive(cur, "client reset mid-result")
        deadline = time.monotonic() + 15
        while backends(pg) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        check(backends(pg) == 1, "target connections of reset clients are closed")

        # a client that disconnects while its token is being checked / before the password
        raw = pgfix.Raw(rg.host, rg.port)
        raw.send(pgfix.startup_packet({"user": "a", "database": target}))
        raw.read_msg()
        raw.close()
        alive(cur, "disconnect during login")

        # a client that pipelines its password right behind the startup packet
        raw = pgfix.Raw(rg.host, rg.port)
        raw.send(pgfix.startup_packet({"user": "agent-1", "database": target}) +
                 pgfix.msg(b"p", tok.encode() + b"\0") + pgfix.query_msg("SELECT 1"))
        msgs, ok = raw.until_ready()
        check(ok and msgs[0] == (b"R", b"\0\0\0\3"), "pipelined password: logged in")
        msgs, ok = raw.until_ready()
        check(ok and any(t == b"D" for t, b in msgs), "pipelined query answered after login")
        raw.close()

        log = pgfix.log_text(rg)
        check(log.count("event=protocol_violation") >= 7, "violations logged, one line each")
        keep.close()
        check(rg.proc.poll() is None, "ringgate still running")
        check(rg.stop() == 0, "clean exit")


if __name__ == "__main__":
    main()
