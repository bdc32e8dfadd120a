"""ringgate's PostgreSQL gateway under hostile or broken clients, against a real PostgreSQL 15:
garbage instead of a startup packet, an oversized startup length, a bad message type and
an oversized length after login, plaintext injected after an SSLRequest, a client that
resets mid-result, and one that disconnects during login. Each time that one session ends
cleanly (FATAL 08P01 where the protocol allows, one event=protocol_violation log line), while
a concurrent session keeps working, ringgate stays up, and no target backend is leaked."""

import os
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
        raw.send(pgfix.startup_packet({"user": "a", "database": target}) +
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
