"""What a client that has not logged in yet can make ringgate do, against a real PostgreSQL 15
(raw sockets for the hostile clients, psycopg2 with a dev-issuer token for the real one).

Password phase framing: after AuthenticationCleartextPassword only a PasswordMessage of at
most 64 KiB is acceptable. A Query header announcing 1 GiB, a PasswordMessage header over
64 KiB and a CopyData header (a type the relay would stream) each end the session at once,
at the 5-byte header (FATAL 08P01, one event=protocol_violation line), not at the login
timeout; and pushing megabytes behind such a header does not grow ringgate's RSS.

Logins in progress (limits): idle raw connections from one address (127.0.0.2) beyond
max_pending_per_address are refused with FATAL 53300 while a real client (psycopg2 from
127.0.0.1, a valid token) still logs in; beyond max_pending_logins every new connection is
refused, the real client too, until one pending login goes away; logged-in sessions take
neither cap (more sessions from 127.0.0.1 than the per-address cap, while the pending ones
stay open), and max_sessions, counted from the verified token, refuses the next agent with
53300 after its token. password_timeout closes a client that sends nothing, one that stops
after the startup packet and one that trickles its password; login_timeout is one deadline
from accept (a target that never answers: the session ends at login_timeout after accept,
not after the password plus login_timeout).
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
    base = rgtest.rss_kib(rg.proc.pid)
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
    grew = rgtest.rss_kib(rg.proc.pid) - base
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


def connect_from(rg, src, timeout=10.0):
    """A raw client whose connection comes from source address src (any 127/8 is local)."""
    raw = pgfix.Raw.__new__(pgfix.Raw)
    raw.s = socket.create_connection((rg.host, rg.port), timeout=timeout,
                                     source_address=(src, 0))
    raw.buf = raw.seen = b""
    return raw


def idle_login(rg, target, src):
    """A client that sent its StartupMessage, read the password request and stops there."""
    raw = connect_from(rg, src)
    raw.send(pgfix.startup_packet({"user": "idle", "database": target}))
    m = raw.read_msg()
    check(m == (b"R", b"\0\0\0\3"), f"idle login from {src}: asked for the password")
    return raw


def refused_53300(rg, target, src, reason, what):
    before = pgfix.log_text(rg).count(f"reason={reason}")
    raw = connect_from(rg, src)
    try:
        raw.send(pgfix.startup_packet({"user": "one-too-many", "database": target}))
    except OSError:
        pass
    m = raw.read_msg()
    fields = pgfix.error_fields(m[1]) if m and m[0] == b"E" else {}
    check(fields.get("C") == "53300" and fields.get("S") == "FATAL" and
          "too many clients" in fields.get("M", ""), f"{what}: FATAL 53300 ({m!r})")
    check(raw.at_eof(), f"{what}: closed")
    raw.close()
    check(pgfix.wait_log(rg, f"reason={reason}") and
          pgfix.log_text(rg).count(f"reason={reason}") == before + 1,
          f"{what}: event=session_refused reason={reason}")


def real_login(rg, iss):
    c = pgfix.connect(rg, iss.token())
    cur = c.cursor()
    cur.execute("SELECT 6 * 7")
    check(cur.fetchone()[0] == 42, "a real client (psycopg2, valid token) logs in")
    return c


def test_pending_caps(pg, iss):
    rg = pgfix.start(pg, iss, extra={"limits": {
        "idle_timeout": "1h", "max_sessions": 4, "max_pending_logins": 6,
        "max_pending_per_address": 3, "password_timeout": "60s", "login_timeout": "60s"}})
    target = rg.config["targets"][0]["name"]
    idle = [idle_login(rg, target, "127.0.0.2") for _ in range(3)]
    refused_53300(rg, target, "127.0.0.2", "max_pending_per_address",
                  "a 4th idle login from 127.0.0.2")
    real_login(rg, iss).close()
    idle += [idle_login(rg, target, "127.0.0.3") for _ in range(3)]
    refused_53300(rg, target, "127.0.0.4", "max_pending_logins",
                  "a 7th pending login (127.0.0.4)")
    try:
        pgfix.connect(rg, iss.token()).close()
        check(False, "max_pending_logins reached: the real client is refused too")
    except psycopg2.OperationalError as e:
        check("too many clients" in str(e),
              f"max_pending_logins reached: the real client is refused too ({str(e).strip()})")
    idle.pop().close()
    deadline = time.monotonic() + 10
    while True:  # the close reaches ringgate asynchronously
        try:
            sessions = [real_login(rg, iss)]
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    # Logged-in sessions take no pending slot: four from 127.0.0.1 (per-address cap 3) while
    # five pending logins stay open, and max_sessions (4) is about sessions only.
    sessions += [real_login(rg, iss) for _ in range(3)]
    before = pgfix.log_text(rg).count("reason=max_sessions")
    raw = pgfix.Raw(rg.host, rg.port)
    msgs, ok = raw.login(iss.token(), target)
    errs = [pgfix.error_fields(b) for t, b in msgs if t == b"E"]
    check(not ok and errs and errs[-1].get("C") == "53300",
          f"a 5th session: refused with 53300 ({errs})")
    raw.close()
    check(pgfix.wait_log(rg, "reason=max_sessions") and
          pgfix.log_text(rg).count("sub=agent-1 reason=max_sessions") == before + 1,
          "a 5th session: refused after its token (event=session_refused sub=agent-1 "
          "reason=max_sessions)")
    for c in sessions:
        c.cursor().execute("SELECT 1")
    check(True, "the four sessions still answer")
    for x in idle + sessions:
        x.close()
    check(rg.proc.poll() is None, "ringgate still running")
    reports = rgtest.sanitizer_reports(pgfix.log_text(rg))
    check(not reports, f"no sanitizer report ({reports[:3]})")
    check(rg.stop() == 0, "clean exit")


def closed_in(raw):
    """(seconds until the server's EOF, error fields) for a raw client."""
    t0 = time.monotonic()
    m = raw.read_msg()
    fields = pgfix.error_fields(m[1]) if m and m[0] == b"E" else {}
    raw.at_eof(10.0)
    return time.monotonic() - t0, fields


def test_timeouts(pg, iss):
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(16)  # connects complete in the kernel; nothing ever answers
    # the harness writes secrets/appdb.pw for its default target; both targets use it
    real = {"name": "appdb", "protocol": "postgres", "address": f"{pg.host}:{pg.port}",
            "database": pg.database, "user": pg.user, "password_file": "secrets/appdb.pw",
            "tls": {"mode": "disable"}, "connect_timeout": "5s"}
    hole = dict(real, name="blackhole", address=f"127.0.0.1:{blackhole.getsockname()[1]}")
    rg = pgfix.start(pg, iss, extra={"targets": [real, hole], "limits": {
        "idle_timeout": "1h", "max_sessions": 100, "password_timeout": "1500ms",
        "login_timeout": "3s"}})
    target = real["name"]

    raw = pgfix.Raw(rg.host, rg.port)
    t, f = closed_in(raw)
    raw.close()
    check(f.get("C") == "08006" and 1.2 <= t < 3.0,
          f"nothing sent: closed by password_timeout ({t:.2f}s, {f.get('C')})")
    raw = pgfix.Raw(rg.host, rg.port)
    raw.send(pgfix.startup_packet({"user": "slow", "database": target}))
    check(raw.read_msg()[0] == b"R", "startup answered")
    t, f = closed_in(raw)
    raw.close()
    check(f.get("C") == "08006" and 1.0 <= t < 3.0,
          f"no password: closed by password_timeout ({t:.2f}s)")
    raw = pgfix.Raw(rg.host, rg.port)
    t0 = time.monotonic()
    raw.send(pgfix.startup_packet({"user": "trickle", "database": target}))
    check(raw.read_msg()[0] == b"R", "startup answered")
    raw.send(b"p" + struct.pack("!I", 104))
    closed = False
    for _ in range(20):  # one byte every 0.2 s: never a whole password
        time.sleep(0.2)
        try:
            raw.send(b"x")
        except OSError:
            closed = True
            break
        if time.monotonic() - t0 > 1.5 and raw.at_eof(0.05):
            closed = True
            break
    t = time.monotonic() - t0
    raw.close()
    check(closed and t < 3.5, f"a trickled password: closed by password_timeout ({t:.2f}s)")
    log = pgfix.log_text(rg)
    check(log.count("limit=password_timeout") == 3, "three event=login_timeout "
          f"limit=password_timeout lines ({log.count('limit=password_timeout')})")

    # A target that never answers: the password after 1.2 s (within password_timeout), and
    # the session still ends 3 s after accept, not 1.2 s + 3 s.
    raw = pgfix.Raw(rg.host, rg.port)
    t0 = time.monotonic()
    raw.send(pgfix.startup_packet({"user": "agent-1", "database": "blackhole"}))
    check(raw.read_msg()[0] == b"R", "blackhole target: startup answered")
    time.sleep(1.2)
    raw.send(pgfix.msg(b"p", iss.token().encode() + b"\0"))
    m = raw.read_msg()
    t = time.monotonic() - t0
    fields = pgfix.error_fields(m[1]) if m and m[0] == b"E" else {}
    raw.close()
    check(fields.get("C") == "08006" and 2.8 <= t < 4.0,
          f"blackhole target: closed at login_timeout after accept ({t:.2f}s, {m!r})")
    check(pgfix.wait_log(rg, "limit=login_timeout") and "be_state=auth" in
          [ln for ln in pgfix.log_text(rg).splitlines() if "limit=login_timeout" in ln][0],
          "event=login_timeout limit=login_timeout while the target logs in")
    real_login(rg, iss).close()
    blackhole.close()
    check(rg.proc.poll() is None, "ringgate still running")
    reports = rgtest.sanitizer_reports(pgfix.log_text(rg))
    check(not reports, f"no sanitizer report ({reports[:3]})")
    check(rg.stop() == 0, "clean exit")


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
        test_pending_caps(pg, iss)
        test_timeouts(pg, iss)


if __name__ == "__main__":
    main()
