"""Hostile and broken clients against the real ringgate (real PostgreSQL 15 behind it).

Bad tokens -- garbage, expired (--ttl 1s with clock_skew 0s, then a sleep), wrong audience,
unknown key (a second dev issuer with the same issuer URL), unknown issuer, alg "none",
HS256 signed with the issuer's public key bytes, a tampered payload, empty, oversized --
are refused with SQLSTATE 28P01 and a message that tells nothing about the cause (checked
on the raw ErrorResponse and with psql), and each leaves an `event=auth_fail reason=...`
audit line in ringgate's log that never contains the token.

Broken wire -- garbage instead of a startup packet, truncated startup (closed, and left
hanging), oversized / negative / tiny length fields, a startup packet without a user, an
unknown protocol version, garbage in the password phase, and clients that reset the
connection (kill -9 of psql, close with SO_LINGER 0) in the middle of a 200k-row result:
each session ends (the server closes it; the target backend goes away), a concurrent
session keeps working, ringgate still logs new agents in, and it neither dies nor writes a
sanitizer report. (Back-pressure, pipelines and a failing target: test_clients_flow.py.)

No RG_DIRECT mode: everything here is about ringgate itself."""

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()

PROTO_30 = 196608
LEAKY_WORDS = ("expire", "signature", "audience", "issuer", "kid", "alg", "token", "jwt",
               "malformed", "key")


# ---- raw PostgreSQL wire -----------------------------------------------------------------------

def startup_packet(params, proto=PROTO_30):
    body = struct.pack("!i", proto) + b"".join(
        k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items()) + b"\0"
    return struct.pack("!i", len(body) + 4) + body


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"peer closed after {len(buf)}/{n} bytes")
        buf += chunk
    return buf


def read_msg(s):
    t = recv_exact(s, 1)
    (n,) = struct.unpack("!i", recv_exact(s, 4))
    return t, recv_exact(s, n - 4)


def error_fields(body):
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode(errors="replace")
    return out


def connect_raw(ep, timeout=10):
    s = socket.create_connection((ep.host, ep.port), timeout=timeout)
    s.settimeout(timeout)
    return s


def raw_login(ep, password, user="agent-1", database=None):
    """Log in with a cleartext password. Returns ("ok", sock) after ReadyForQuery, or
    ("error", fields, closed) where closed says the server closed the socket after it."""
    s = connect_raw(ep)
    s.sendall(startup_packet({"user": user, "database": database or ep.database,
                              "application_name": "rgtest-raw"}))
    sent_pw = False
    while True:
        t, body = read_msg(s)
        if t == b"R":
            (code,) = struct.unpack("!i", body[:4])
            if code == 3 and not sent_pw:
                pw = password.encode() if isinstance(password, str) else password
                s.sendall(b"p" + struct.pack("!i", len(pw) + 5) + pw + b"\0")
                sent_pw = True
            elif code != 0:
                raise AssertionError(f"unexpected auth request {code}")
        elif t == b"E":
            fields = error_fields(body)
            closed = wait_closed(s)
            s.close()
            return ("error", fields, closed)
        elif t == b"Z":
            return ("ok", s)


def wait_closed(s, timeout=5.0):
    """True when the peer closes (EOF or reset) within timeout; data read meanwhile is dropped."""
    s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    return False


def read_reply(s, limit=None):
    """Read messages up to ReadyForQuery; returns (types seen, error fields or None)."""
    seen, err = [], None
    while True:
        t, body = read_msg(s)
        seen.append(t)
        if t == b"E":
            err = error_fields(body)
        if t == b"Z":
            return seen, err


# ---- tokens --------------------------------------------------------------------------------------

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def forged(good, header, key=None, payload_edit=None):
    """A token with good's payload (optionally edited) under another header, signed with
    HMAC-SHA256(key) or unsigned (key None: empty signature)."""
    h, p, _ = good.split(".")
    payload = json.loads(unb64u(p))
    if payload_edit:
        payload_edit(payload)
    signing = b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64u(json.dumps(payload, separators=(",", ":")).encode())
    sig = b64u(hmac.new(key, signing.encode(), hashlib.sha256).digest()) if key else ""
    return signing + "." + sig


def public_pem(issuer):
    r = subprocess.run(["openssl", "pkey", "-in", issuer.key_file, "-pubout"],
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"openssl pkey -pubout failed: {r.stderr.decode()}")
    return r.stdout


# ---- shared checks -------------------------------------------------------------------------------

def still_serving(st, steady, what):
    """The concurrent session answers, a new agent logs in, ringgate is healthy."""
    cur = steady.cursor()
    cur.execute("SELECT %s::text", (what,))
    check(cur.fetchone()[0] == what, f"{what}: concurrent session still answers")
    c = st.ep.connect()
    c.cursor().execute("SELECT 1")
    c.close()
    check(True, f"{what}: a new login works")
    probs = st.ringgate_problems()
    check(not probs, f"{what}: ringgate alive, no sanitizer report ({probs[:5]})")


def backends(st):
    """Target backends of ringgate's role other than our own probe."""
    r = st.pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{st.pg.user}' "
                   "AND backend_type = 'client backend'", tcp=False, user=st.pg.superuser)
    return int(r.stdout.strip())


def wait_backends(st, want, timeout=15.0):
    deadline = time.monotonic() + timeout
    n = backends(st)
    while n != want and time.monotonic() < deadline:
        time.sleep(0.2)
        n = backends(st)
    return n


def finish(st):
    probs = st.ringgate_problems()
    check(not probs, f"ringgate alive, no sanitizer report ({probs[:5]})")
    rc, log = st.shutdown_ringgate()
    reports = rgtest.sanitizer_reports(log)
    check(not reports and rc not in (-6, -11, 134, 139),
          f"ringgate shut down (rc {rc}) with no sanitizer report ({reports[:5]})")


# ---- tests ---------------------------------------------------------------------------------------

def test_bad_tokens(st):
    iss = st.issuer
    same_url_other_key = rgtest.DevIssuer(issuer=iss.issuer)
    other_issuer = rgtest.DevIssuer(issuer="https://other-issuer.rgtest.invalid")
    good = st.token()
    pem = public_pem(iss)
    with open(iss.jwks_file, "rb") as f:
        jwks_bytes = f.read()
    kid = json.loads(unb64u(good.split(".")[0])).get("kid")
    short = st.token(ttl="1s")
    steady = st.ep.connect()
    steady.autocommit = True

    def tamper(p):
        p["sub"] = "admin"

    cases = [
        ("garbage", "garbage-not-a-jwt", {"malformed"}),
        ("garbage three parts", "aaaa.bbbb.cccc", {"malformed"}),
        ("binary garbage", os.urandom(300).hex(), {"malformed"}),
        ("empty", "", {"malformed"}),
        ("oversized garbage", "a" * 20000 + "." + "b" * 20000 + ".c",
         {"too_large", "malformed"}),
        ("oversized token (20 KB claim)",
         forged(good, json.loads(unb64u(good.split(".")[0])),
                payload_edit=lambda p: p.update(pad="x" * 20000)) + "A" * 86,
         {"too_large"}),
        ("wrong audience", st.token(audience="not-ringgate"), {"bad_audience"}),
        ("unknown key (same issuer, other key)", same_url_other_key.token(),
         {"unknown_kid"}),
        ("unknown issuer", other_issuer.token(), {"bad_issuer"}),
        ("alg none", forged(good, {"alg": "none", "typ": "JWT"}),
         {"alg_not_allowed", "malformed"}),
        ("alg none with kid", forged(good, {"alg": "none", "typ": "JWT", "kid": kid}),
         {"alg_not_allowed", "malformed"}),
        ("HS256 keyed with the public key PEM",
         forged(good, {"alg": "HS256", "typ": "JWT", "kid": kid}, key=pem),
         {"alg_not_allowed"}),
        ("HS256 keyed with the JWKS bytes",
         forged(good, {"alg": "HS256", "typ": "JWT"}, key=jwks_bytes),
         {"alg_not_allowed"}),
        ("tampered payload", good.split(".")[0] + "." +
         forged(good, {}, payload_edit=tamper).split(".")[1] + "." + good.split(".")[2],
         {"bad_signature"}),
    ]
    time.sleep(2.5)  # the --ttl 1s token is now expired (clock_skew 0s)
    cases.insert(5, ("expired", short, {"expired"}))

    for what, token, reasons in cases:
        before = st.rg_log()
        r = raw_login(st.ep, token)
        check(r[0] == "error", f"{what}: refused")
        fields, closed = r[1], r[2]
        check(fields.get("C") == "28P01", f"{what}: SQLSTATE 28P01 ({fields.get('C')})")
        text = " ".join(v for k, v in fields.items() if k not in "C").lower()
        check(fields.get("M") == "authentication failed" and
              not any(w in text for w in LEAKY_WORDS),
              f"{what}: message tells nothing about the cause ({fields})")
        check(fields.get("S") == "FATAL" and closed, f"{what}: FATAL, then the server closes")
        time.sleep(0.1)
        new = st.rg_log()[len(before):]
        lines = [ln for ln in new.splitlines() if "event=auth_fail" in ln]
        check(any(f"reason={x}" in ln for ln in lines for x in reasons),
              f"{what}: audit line with reason in {sorted(reasons)} ({lines[:2]})")
        if len(token) > 20:
            sig = token.rsplit(".", 1)[-1]
            check(token not in new and (len(sig) < 20 or sig not in new),
                  f"{what}: the token is not in the log")

    # The same through psql: a real client shows the same non-committal message.
    by_name = {w: t for w, t, _ in cases}
    for what, token in (("expired", short), ("wrong audience", by_name["wrong audience"])):
        r = subprocess.run(["psql", "-X", "-w", "-c", "SELECT 1"],
                           env=rgtest.client_env(st.ep.host, st.ep.port, "agent-1",
                                                 st.ep.database, token),
                           capture_output=True, text=True, timeout=30)
        low = r.stderr.lower()
        check(r.returncode == 2 and "authentication failed" in low and
              not any(w in low for w in ("expire", "signature", "audience")),
              f"psql with an {what} token: refused, nothing leaked ({r.stderr.strip()})")

    still_serving(st, steady, "after bad tokens")
    ok = raw_login(st.ep, good)
    check(ok[0] == "ok", "the good token still logs in (raw client)")
    ok[1].close()
    log = st.rg_log()
    check(good not in log and good.rsplit(".", 1)[1] not in log,
          "no good token in the log either")
    steady.close()


def test_broken_startup_and_wire(st):
    steady = st.ep.connect()
    steady.autocommit = True
    base = wait_backends(st, 1)
    check(base == 1, f"one target backend for the steady session ({base})")
    hanging = []

    def send_and_expect_close(what, data, hang=False):
        s = connect_raw(st.ep)
        try:
            s.sendall(data)
        except OSError:
            pass  # already closed by ringgate: fine
        if hang:
            hanging.append(s)  # keep it open: must not block anyone else
            check(True, f"{what}: sent, left open")
        else:
            closed = wait_closed(s, 10.0)
            s.close()
            check(closed, f"{what}: ringgate closes the connection")
        still_serving(st, steady, what)

    send_and_expect_close("HTTP request instead of startup",
                          b"GET / HTTP/1.1\r\nHost: ringgate\r\n\r\n")
    send_and_expect_close("random bytes instead of startup", os.urandom(4096))
    send_and_expect_close("oversized length field",
                          struct.pack("!ii", 0x7FFFFFFF, PROTO_30) + b"user\0x\0")
    send_and_expect_close("negative length field", struct.pack("!ii", -8, PROTO_30))
    send_and_expect_close("length field below the minimum", struct.pack("!ii", 4, PROTO_30))
    send_and_expect_close("length just over the 10000-byte limit",
                          struct.pack("!ii", 10009, PROTO_30) + b"x" * 10001)
    send_and_expect_close("zero length field", b"\0" * 64)
    pkt = startup_packet({"user": "agent-1", "database": st.ep.database})
    s = connect_raw(st.ep)
    s.sendall(pkt[: len(pkt) // 2])
    s.shutdown(socket.SHUT_WR)  # half-close: no more bytes are coming
    check(wait_closed(s, 10.0), "truncated startup then EOF: ringgate closes")
    s.close()
    still_serving(st, steady, "truncated startup then EOF")
    send_and_expect_close("truncated startup left hanging", pkt[:len(pkt) - 5], hang=True)
    send_and_expect_close("only two bytes of a length, left hanging", b"\0\0", hang=True)
    send_and_expect_close("startup packet without a terminator",
                          struct.pack("!ii", 8 + 9, PROTO_30) + b"user\0abcd")

    # Well-formed packets with bad contents get a FATAL ErrorResponse.
    # Another major protocol version: PostgreSQL's own SQLSTATE and message, word for word.
    unsupported = "unsupported frontend protocol {}: server supports 3.0 to 3.0"
    for what, params, proto, codes, message in (
            ("no user", {"database": st.ep.database}, PROTO_30, {"28000"}, None),
            ("protocol 2.0", {"user": "a", "database": st.ep.database}, 0x20000,
             {"0A000"}, unsupported.format("2.0")),
            ("protocol 4.0", {"user": "a", "database": st.ep.database}, 0x40000,
             {"0A000"}, unsupported.format("4.0")),
            ("protocol 2.5", {"user": "a", "database": st.ep.database}, 0x20005,
             {"0A000"}, unsupported.format("2.5")),
            ("replication", {"user": "a", "database": st.ep.database,
                             "replication": "database"}, PROTO_30, {"0A000"}, None)):
        s = connect_raw(st.ep)
        s.sendall(startup_packet(params, proto))
        try:
            t, body = read_msg(s)
            fields = error_fields(body) if t == b"E" else {"type": t}
        except (EOFError, OSError) as e:
            fields = {"closed": repr(e)}
        closed = wait_closed(s)
        s.close()
        check(fields.get("C") in codes and fields.get("S") == "FATAL" and closed,
              f"startup with {what}: FATAL {sorted(codes)} then close ({fields})")
        if message:
            check(fields.get("M") == message, f"startup with {what}: says {message!r}")
    still_serving(st, steady, "bad startup contents")

    # Target names cannot be probed (issue #9 item 11): an unknown target is asked for the
    # token like a known one, and a bad token gets the same refusal either way; only an
    # agent whose token verified learns that the name does not exist.
    known = raw_login(st.ep, "not-a-token")
    unknown = raw_login(st.ep, "not-a-token", database="no-such-target")
    check(known[0] == unknown[0] == "error" and known[1] == unknown[1] and
          known[1].get("C") == "28P01",
          f"bad token: same refusal for a known and an unknown target ({known[1]}, {unknown[1]})")
    r = raw_login(st.ep, st.token(), database="no-such-target")
    check(r[0] == "error" and r[1].get("C") == "3D000" and r[2],
          f"verified token, unknown target: FATAL 3D000 then close ({r[1:]})")

    # GSSENCRequest and SSLRequest (each refused with 'N') before the startup packet,
    # all in one write: the login proceeds in the clear.
    s = connect_raw(st.ep)
    s.sendall(struct.pack("!ii", 8, 80877104) + struct.pack("!ii", 8, 80877103))
    answers = recv_exact(s, 2)
    s.sendall(startup_packet({"user": "agent-1", "database": st.ep.database}))
    t, body = read_msg(s)
    check(answers == b"NN" and t == b"R", f"GSSENC + SSL requests refused with N, N, then "
                                          f"the password request ({answers!r}, {t!r})")
    s.close()
    # Three SSLRequests in a row: answered with N (PostgreSQL itself refuses a repeat;
    # ringgate may too) -- what matters is that it keeps serving (checked below).
    s = connect_raw(st.ep)
    s.sendall(struct.pack("!ii", 8, 80877103) * 3)
    s.settimeout(3.0)
    try:
        got = s.recv(16)
    except socket.timeout:
        got = b"(nothing)"
    check(got.startswith(b"N"), f"repeated SSLRequests: first answered with N ({got!r})")
    s.close()
    still_serving(st, steady, "SSL/GSSENC negotiation")

    # Garbage in the password phase.
    for what, data in (("a Query instead of the password", b"Q\0\0\0\x0dSELECT 1\0"),
                       ("a password message with a huge length",
                        b"p" + struct.pack("!i", 0x40000000) + b"x" * 100),
                       ("a password message with length 3", b"p\0\0\0\x03"),
                       ("random bytes", os.urandom(2000))):
        s = connect_raw(st.ep)
        s.sendall(startup_packet({"user": "agent-1", "database": st.ep.database}))
        t, body = read_msg(s)
        check(t == b"R" and struct.unpack("!i", body[:4])[0] == 3,
              "ringgate asks for a cleartext password (the token)")
        s.sendall(data)
        check(wait_closed(s, 10.0), f"password phase, {what}: ringgate closes")
        s.close()
        still_serving(st, steady, f"password phase, {what}")

    # A login in progress that hangs must not hold up others; closing it is fine.
    for s in hanging:
        s.close()
    n = wait_backends(st, 1)
    check(n == 1, f"no target backend left over by broken logins ({n})")
    steady.close()


def test_client_reset_mid_result(st):
    st.direct.psql("CREATE TABLE big AS SELECT g AS id, md5(g::text) || repeat('r', 100) "
                   "AS v FROM generate_series(1, 200000) g")
    steady = st.ep.connect()
    steady.autocommit = True
    check(wait_backends(st, 1) == 1, "one target backend for the steady session")

    # 1. psql killed with SIGKILL while the 200k-row result streams.
    for delay in (0.05, 0.3, 1.0):
        p = subprocess.Popen(["psql", "-X", "-w", "-A", "-t", "-c",
                              "SELECT id, v FROM big ORDER BY id"],
                             env=st.ep.env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        n = wait_backends(st, 1)
        check(n == 1, f"psql killed after {delay}s: its target session ended ({n} left)")
        still_serving(st, steady, f"psql killed -9 after {delay}s")

    # 2. Raw client: reads part of the result (or nothing), then resets (SO_LINGER 0).
    for what, read_bytes in (("read nothing", 0), ("read 64 KiB", 65536),
                             ("read 4 MiB", 4 << 20)):
        r = raw_login(st.ep, st.ep.password)
        check(r[0] == "ok", f"{what}: raw client logged in")
        s = r[1]
        sql = b"SELECT id, v FROM big ORDER BY id\0"
        s.sendall(b"Q" + struct.pack("!i", len(sql) + 4) + sql)
        got = 0
        while got < read_bytes:
            chunk = s.recv(min(65536, read_bytes - got))
            if not chunk:
                break
            got += len(chunk)
        time.sleep(0.5)  # let ringgate's buffers fill against a client that stopped
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        check(got == read_bytes, f"{what}: received {got} bytes before the reset")
        n = wait_backends(st, 1)
        check(n == 1, f"reset after '{what}': its target session ended ({n} left)")
        still_serving(st, steady, f"reset after '{what}'")

    # 3. Reset while a large COPY IN is being sent.
    r = raw_login(st.ep, st.ep.password)
    s = r[1]
    sql = b"COPY big FROM STDIN\0"
    s.sendall(b"Q" + struct.pack("!i", len(sql) + 4) + sql)
    t, _ = read_msg(s)
    check(t == b"G", "COPY IN started")
    row = b"1\t" + b"c" * 1000 + b"\n"
    for _ in range(200):
        s.sendall(b"d" + struct.pack("!i", len(row) + 4) + row)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    n = wait_backends(st, 1)
    check(n == 1, f"reset during COPY IN: its target session ended ({n} left)")
    c = st.direct.connect()
    cur = c.cursor()
    cur.execute("SELECT count(*) FROM big")
    check(cur.fetchone()[0] == 200000, "the interrupted COPY added no rows")
    c.close()
    still_serving(st, steady, "reset during COPY IN")

    # The steady session can still run the full result after all that.
    cur = steady.cursor()
    cur.execute("SELECT count(*), md5(string_agg(v, '' ORDER BY id)) FROM big")
    via = cur.fetchone()
    d = st.direct.connect()
    dc = d.cursor()
    dc.execute("SELECT count(*), md5(string_agg(v, '' ORDER BY id)) FROM big")
    check(via == dc.fetchone(), "steady session: full-table checksum equals direct")
    d.close()
    steady.close()


def msg(t, body=b""):
    return t + struct.pack("!i", len(body) + 4) + body


def test_zz_shutdown(st):
    """Last: SIGTERM after everything above; no crash, no sanitizer report at exit."""
    finish(st)


if __name__ == "__main__":
    # One PostgreSQL + ringgate (clock_skew 0s, for the expired token) for the file: each
    # test checks ringgate's health after every step, so a breakage is pinned to its cause.
    with rgtest.ClientStack(direct=False, clock_skew="0s") as shared:
        rgtest.run_tests([test_bad_tokens, test_broken_startup_and_wire,
                          test_client_reset_mid_result, test_zz_shutdown], shared)
