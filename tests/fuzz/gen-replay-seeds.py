#!/usr/bin/env python3
"""Seeds for fuzz_replay (tests/fuzz/fuzz_replay.c): small session recordings' entries, as
engine/evidence/record.c writes them, written to corpus/replay. The first two bytes of a seed
are the driver's: byte 0 odd puts a MySQL protocol entry in front, byte 1 its capabilities
(1 DEPRECATE_EOF, 2 SESSION_TRACK). Run from anywhere; rewrites the seeds."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "replay")


def entry(kind, t, body):
    return kind.encode() + struct.pack("<QI", t, len(body)) + body


def pkt(seq, body):
    return struct.pack("<I", len(body))[:3] + bytes([seq]) + body


def lstr(s):
    return bytes([len(s)]) + s


def coldef(name, typ, flags=0, dec=0):
    return pkt(2, b"".join(lstr(x) for x in (b"def", b"db", b"t", b"t", name, name)) +
               b"\x0c\x2d\x00" + b"\0\0\0\0" + bytes([typ]) + struct.pack("<H", flags) +
               bytes([dec]) + b"\0\0")


def cmd(c, n, binary=False):
    return entry("C", 10, bytes([c, 1 if binary else 0]) + struct.pack("<I", n))


def my_deprecate_eof():
    b = cmd(3, 1)
    b += entry("B", 20, pkt(1, b"\x02") + coldef(b"id", 3, 1) + coldef(b"v", 253) +
               pkt(4, b"\x011" + lstr(b"alpha")) + pkt(5, b"\x012\xfb") +
               pkt(6, b"\xfe\x00\x00\x02\x00\x01\x00"))
    b += cmd(3, 2)
    b += entry("B", 30, pkt(1, b"\xff\x76\x04#42000denied"))
    b += cmd(0x16, 3)
    b += entry("B", 40, pkt(1, b"\x00\x07\0\0\0\x02\x00\x01\x00\x00\x00\x00") +
               coldef(b"?", 253) + coldef(b"a", 1) + coldef(b"b", 12, 0, 3))
    b += cmd(0x17, 4, True)
    row = b"\x00\x00" + b"\xfe" + bytes([11]) + struct.pack("<HBBBBBI", 2026, 12, 2, 9, 30, 5,
                                                              123000)
    b += entry("B", 50, pkt(1, b"\x02") + coldef(b"a", 1) + coldef(b"b", 12, 0, 3) +
               pkt(4, row) + pkt(5, b"\xfe\x00\x00\x02\x00\x00\x00"))
    b += cmd(0x0e, 0)
    b += entry("B", 60, pkt(1, b"\x00\x00\x00\x02\x00\x00\x00") + b"\x05\x00")
    b += entry("E", 70, b"quit")
    return b"\x01\x03" + b


def my_eof_multi():
    eof = lambda st: pkt(3, b"\xfe\x00\x00" + struct.pack("<H", st))
    b = cmd(3, 1)
    b += entry("B", 20, pkt(1, b"\x01") + coldef(b"a", 8, 1) + eof(2) + pkt(3, b"\x011") +
               eof(0x0a) + pkt(1, b"\x01") + coldef(b"b", 253) + eof(2) + pkt(3, b"\x01x") +
               eof(2))
    b += cmd(0x17, 2, True)
    b += entry("B", 30, pkt(1, b"\x01") + coldef(b"n", 3) + eof(0x42))
    b += cmd(0x1c, 0, True)
    b += entry("B", 40, pkt(1, b"\x00\x00\x2a\x00\x00\x00") + eof(0x82))
    b += cmd(3, 3)
    b += entry("B", 50, pkt(1, b"\x00\x03\x00\x02\x00\x00\x00Rows matched: 3"))
    b += entry("T", 60, struct.pack("<Q", 4096))
    return b"\x01\x00" + b


def pg():
    def msg(t, body):
        return t + struct.pack("!I", len(body) + 4) + body
    rd = msg(b"T", struct.pack("!H", 1) + b"id\0" + b"\0" * 6 + struct.pack("!I", 23) +
             b"\0" * 8)
    b = entry("S", 10, struct.pack("<I", 1))
    b += entry("B", 20, rd + msg(b"D", struct.pack("!HI", 1, 1) + b"7") +
               msg(b"C", b"SELECT 1\0") + msg(b"Z", b"I"))
    b += entry("E", 30, b"terminate")
    return b"\x00\x00" + b


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in (("mysql-deprecate-eof", my_deprecate_eof()),
                       ("mysql-eof-multi-cursor", my_eof_multi()), ("pg-select", pg())):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
