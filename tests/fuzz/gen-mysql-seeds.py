#!/usr/bin/env python3
"""gen-mysql-seeds.py: writes the seed corpus of fuzz_mysql_wire (corpus/mysql_wire/), one
realistic exchange per file: byte 0 selects the capabilities the readers assume, byte 1 the
reassembler's chunk size, then MySQL packets (3-byte length, sequence id, payload). Layouts
follow the MySQL / MariaDB protocol documentation; the handshake is the shape MariaDB 10.11
sends. Run from anywhere; rewrites the directory's files."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "mysql_wire")

PROTOCOL_41, SESSION_TRACK, DEPRECATE_EOF, SECURE, PLUGIN, ATTRS, EXTMETA, TRANS = (
    1, 2, 4, 8, 16, 32, 64, 128)


def lenenc(n):
    if n < 0xfb:
        return bytes([n])
    if n <= 0xffff:
        return b"\xfc" + struct.pack("<H", n)
    if n <= 0xffffff:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def lstr(b):
    return lenenc(len(b)) + b


def pkt(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xff]) + payload


def seed(name, selector, chunk, packets):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([selector, chunk]) + b"".join(packets))


def handshake(plugin=b"mysql_native_password", mariadb=True):
    caps_lo, caps_hi = (0xf7fe if mariadb else 0xf7ff), 0x81ff
    return (b"\x0a" + b"5.5.5-10.11.19-MariaDB\0" + struct.pack("<I", 9) + b"abcdefgh\0" +
            struct.pack("<HBHH", caps_lo, 45, 2, caps_hi) + bytes([21]) + b"\0" * 6 +
            (struct.pack("<I", 0x1d) if mariadb else b"\0" * 4) + b"ijklmnopqrst\0" +
            plugin + b"\0")


def response(auth, lenenc_auth=True, plugin=b"mysql_native_password"):
    caps = 0x000fa20d | (1 << 21 if lenenc_auth else 0) | (1 << 20)
    attrs = lstr(b"_client_name") + lstr(b"libmariadb") + lstr(b"_pid") + lstr(b"4242")
    a = lstr(auth) if lenenc_auth else bytes([len(auth)]) + auth
    return (struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23 + b"rg_native\0" + a +
            b"rgtest\0" + plugin + b"\0" + lstr(attrs))


def ok(status=2, info=b"", state=b""):
    body = b"\0" + lenenc(1) + lenenc(0) + struct.pack("<HH", status, 0)
    return body + lstr(info) + (lstr(state) if status & 0x4000 else b"")


def err(code, state, msg):
    return b"\xff" + struct.pack("<H", code) + b"#" + state + msg


def eof(status=2):
    return b"\xfe" + struct.pack("<HH", 0, status)


def coldef(name, typ, ext=None):
    b = lstr(b"def") + lstr(b"rgtest") + lstr(b"t") + lstr(b"t") + lstr(name) + lstr(name)
    if ext is not None:
        b += lstr(ext)
    return b + b"\x0c" + struct.pack("<HIBHB", 45, 80, typ, 0, 0) + b"\0\0"


def main():
    os.makedirs(OUT, exist_ok=True)
    scramble20 = bytes(range(20))
    seed("login_native", PROTOCOL_41 | SESSION_TRACK | SECURE | PLUGIN | ATTRS | TRANS, 3, [
        pkt(0, handshake()), pkt(1, response(scramble20)), pkt(2, ok(info=b""))])
    seed("login_ed25519_switch", PROTOCOL_41 | SECURE | PLUGIN, 7, [
        pkt(0, handshake()), pkt(1, response(scramble20, lenenc_auth=False)),
        pkt(2, b"\xfe" + b"client_ed25519\0" + bytes(range(32))), pkt(3, bytes(64)),
        pkt(4, err(1045, b"28000", b"Access denied for user 'rg_ed'@'127.0.0.1'"))])
    seed("login_sha2", PROTOCOL_41 | SECURE | PLUGIN, 5, [
        pkt(0, handshake(b"caching_sha2_password", mariadb=False)),
        pkt(1, response(bytes(32), plugin=b"caching_sha2_password")), pkt(2, b"\x01\x04"),
        pkt(3, b"secret\0"), pkt(4, b"\x01-----BEGIN PUBLIC KEY-----\n"), pkt(5, ok())])
    seed("ssl_request", PROTOCOL_41, 1, [
        pkt(1, struct.pack("<IIB", 0x000faa0d, 1 << 24, 45) + b"\0" * 23)])
    seed("select1_eof", PROTOCOL_41 | TRANS, 4, [
        pkt(0, b"\x03SELECT 1"), pkt(1, b"\x01"), pkt(2, coldef(b"1", 3)), pkt(3, eof()),
        pkt(4, lstr(b"1")), pkt(5, eof(0x0a))])
    seed("multi_deprecate_eof", PROTOCOL_41 | SESSION_TRACK | DEPRECATE_EOF | EXTMETA, 9, [
        pkt(0, b"\x03SELECT 'a', NULL; DO 1"), pkt(1, b"\x02"),
        pkt(2, coldef(b"a", 253, b"\x00\x04json")), pkt(3, coldef(b"NULL", 6, b"")),
        pkt(4, lstr(b"a") + b"\xfb"),
        pkt(5, b"\xfe" + lenenc(0) + lenenc(0) + struct.pack("<HH", 0x0a, 0) + lstr(b"")),
        pkt(6, ok(status=0x4002, state=b"\x00\x0a\x0aautocommit"))])
    seed("prepared", PROTOCOL_41 | DEPRECATE_EOF, 2, [
        pkt(0, b"\x16SELECT i, s FROM t WHERE i = ?"),
        pkt(1, b"\x00" + struct.pack("<IHHBH", 1, 2, 1, 0, 0)), pkt(2, coldef(b"?", 253)),
        pkt(3, coldef(b"i", 8)), pkt(4, coldef(b"s", 253)),
        pkt(0, b"\x18" + struct.pack("<IH", 1, 0) + b"long data"),
        pkt(0, b"\x17" + struct.pack("<IBI", 1, 0, 1) + b"\x00\x01" + bytes([8, 0]) +
            struct.pack("<q", 42)),
        pkt(1, b"\x02"), pkt(2, coldef(b"i", 8)), pkt(3, coldef(b"s", 253)),
        pkt(4, b"\x00\x00" + struct.pack("<q", 42) + lstr(b"hello")),
        pkt(5, b"\x00\x08" + struct.pack("<q", 43)),
        pkt(6, b"\xfe\x00\x00\x02\x00\x00\x00"),
        pkt(0, b"\x1c" + struct.pack("<II", 1, 100)), pkt(0, b"\x1a" + struct.pack("<I", 1)),
        pkt(0, b"\x19" + struct.pack("<I", 1))])
    seed("commands", PROTOCOL_41 | SECURE | PLUGIN | ATTRS, 6, [
        pkt(0, b"\x02rgtest"), pkt(0, b"\x0e"), pkt(0, b"\x1b\x01\x00"),
        pkt(0, b"\x04customers\0%"), pkt(0, b"\x0c" + struct.pack("<I", 7)), pkt(0, b"\x1f"),
        pkt(0, b"\x09"), pkt(0, b"\x11bob\0\x03abcdb\0\x21\x00mysql_native_password\0" +
                             lstr(lstr(b"k") + lstr(b"v"))),
        pkt(0, b"eyJhbGciOiJFUzI1NiJ9.e30.sig\0"), pkt(0, b"\x01")])
    seed("binary_types", PROTOCOL_41 | DEPRECATE_EOF, 1, [
        pkt(5, b"\x00\x08\x02" + struct.pack("<q", 1) + b"\x7f" +
            b"\x07\xea\x07\x0c\x02\x09\x1e\x00" + struct.pack("<d", 1.0) + lstr(b"3.14") +
            b"\x08\x00\x01\x00\x00\x00\x02\x03\x04" + struct.pack("<h", 0x1234) +
            bytes([8, 254, 1, 11, 12, 246, 11, 2]))])
    seed("local_infile", PROTOCOL_41, 2, [
        pkt(0, b"\x03LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t"),
        pkt(1, b"\xfb/etc/passwd"), pkt(2, b"root:x:0:0\n"), pkt(3, b""),
        pkt(4, ok(info=b"Records: 1"))])
    seed("text_row_big_lenenc", PROTOCOL_41, 11, [
        pkt(3, lstr(b"x" * 300) + lstr(b"y" * 70000) + b"\xfb")])


if __name__ == "__main__":
    main()
