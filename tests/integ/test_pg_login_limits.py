"""What a client that has not logged in yet can make ringgate do, against a real PostgreSQL 15
(raw sockets for the hostile clients, psycopg2 with a dev-issuer token for the real one).

Password phase framing: after AuthenticationCleartextPassword only a PasswordMessage of at
most 64 KiB is acceptable. A Query header announcing 1 GiB, a PasswordMessage header over
64 KiB and a CopyData header (a type the relay would stream) each end the session at once,
at the 5-byte header (FATAL 08P01, one event=protocol_violation line), not at the login
timeout; and pushing megabytes behind such a header does not grow ringgate's RSS.
"""

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

GIB = 1 << 30


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def password_phase(rg, target):
    """A raw client that sent its StartupMessage and read the cleartext-password request."""
    raw = pgfix.Raw(rg.host, rg.port)
    raw.send(pgfix.startup_packet({"user": "hostile", "database": target}))
    m = raw.read_msg()
    check(m == (b"R", b"\0\0\0\3"), f"asked for the password ({m!r})")
    return raw


def refused_at_header(rg, target, what, header):
    """Send only the header: FATAL 08P01 and EOF well before any timeout."""
    before = pgfix.log_text(rg).count("event=protocol_violation")
    raw = password_phase(rg, target)
    t0 = time.monotonic()
    raw.send(header)
    m = raw.read_msg()
    took = time.monotonic() - t0
    fields = pgfix.error_fields(m[1]) if m and m[0] == b"E" else {}
    check(fields.get("S") == "FATAL" and fields.get("C") == "08P01",
          f"{what}: FATAL 08P01 ({m!r})")
    check(raw.at_eof(5.0), f"{what}: connection closed")
    check(took < 3.0, f"{what}: at once, not at a timeout ({took:.2f}s)")
    raw.close()
    check(pgfix.wait_log(rg, "event=protocol_violation") and
          pgfix.log_text(rg).count("event=protocol_violation") == before + 1,
          f"{what}: one event=protocol_violation line")


def pushes_nothing_into_memory(rg, target, what, header, mib=48):
    """Send the header and then up to `mib` MiB of body: ringgate must not keep it."""
    raw = password_phase(rg, target)
    base = rss_kib(rg.proc.pid)
    raw.s.settimeout(5.0)
    chunk = b"x" * (1 << 20)
    sent = 0
    try:
        raw.s.sendall(header)
        for _ in range(mib):
            raw.s.sendall(chunk)
            sent += 1
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    time.sleep(0.5)
    grew = rss_kib(rg.proc.pid) - base
    raw.close()
    check(grew < 8 * 1024, f"{what}: RSS grew {grew} KiB after {sent} MiB pushed (< 8 MiB)")


def test_password_phase_framing(pg, iss, rg):
    target = rg.config["targets"][0]["name"]
    keep = pgfix.connect(rg, iss.token())
    cur = keep.cursor()
    cases = (
        ("a Query header announcing 1 GiB", b"Q" + struct.pack("!I", GIB)),
        ("a PasswordMessage header over 64 KiB", b"p" + struct.pack("!I", 64 * 1024 + 5)),
        ("a CopyData header (streamable) of 1 MiB", b"d" + struct.pack("!I", 1 << 20)),
        ("a small CopyData", pgfix.msg(b"d", b"abc")),
    )
    for what, header in cases:
        refused_at_header(rg, target, what, header)
    for what, header in cases[:3]:
        pushes_nothing_into_memory(rg, target, what, header)
    cur.execute("SELECT 6 * 7")
    check(cur.fetchone()[0] == 42, "a logged-in session is unaffected")
    c = pgfix.connect(rg, iss.token())
    c.cursor().execute("SELECT 1")
    c.close()
    check(True, "a new login works")
    keep.close()


def main():
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        rg = pgfix.start(pg, iss)
        test_password_phase_framing(pg, iss, rg)
        check(rg.proc.poll() is None, "ringgate still running")
        log = pgfix.log_text(rg)
        reports = rgtest.sanitizer_reports(log)
        check(not reports, f"no sanitizer report ({reports[:3]})")
        check(rg.stop() == 0, "clean exit")


if __name__ == "__main__":
    main()
