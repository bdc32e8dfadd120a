#!/usr/bin/env python3
"""Inline masking of results on live sessions (issue #10; docs/pg.md "Masked results").

Against a real PostgreSQL 15 and the real ringgate with rules/pii in the bundle: the same
table read straight from PostgreSQL shows the cards, SSNs and emails, read through ringgate
shows them masked -- in simple queries, in extended-protocol Executes whose rows come
without a RowDescription (the statement described earlier), in binary result format, in
COPY TO STDOUT, and in an ErrorResponse's DETAIL; rows without PII and NULLs pass as they
are; psycopg2, psql and the raw protocol agree; a row too large to hold whole fails closed.
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402
from test_clients_bad_input import raw_login, msg, read_msg, read_reply, error_fields  # noqa: E402

CARD, SSN, EMAIL = "4111 1111 1111 1111", "123-45-6789", "ada@example.com"


def parse(name, sql):
    return msg(b"P", name + b"\0" + sql + b"\0" + struct.pack("!h", 0))


def bind(stmt, result_formats=()):
    body = b"\0" + stmt + b"\0" + struct.pack("!hh", 0, 0)
    body += struct.pack("!h", len(result_formats)) + b"".join(
        struct.pack("!h", f) for f in result_formats)
    return msg(b"B", body)


def rows_of(s):
    """Messages up to ReadyForQuery: the DataRows' fields (bytes or None) and the types."""
    types, rows = [], []
    while True:
        t, body = read_msg(s)
        types.append(t)
        if t == b"D":
            (n,) = struct.unpack("!h", body[:2])
            off, fields = 2, []
            for _ in range(n):
                (ln,) = struct.unpack("!i", body[off:off + 4])
                off += 4
                if ln < 0:
                    fields.append(None)
                else:
                    fields.append(body[off:off + ln])
                    off += ln
            rows.append(fields)
        if t == b"Z":
            return types, rows


def main():
    with rgtest.PgServer() as pg:
        pg.psql("CREATE TABLE people (id int PRIMARY KEY, name text, card text, ssn text, "
                "email text UNIQUE, note text, doc jsonb); "
                f"INSERT INTO people VALUES (1, 'Ada', '{CARD}', '{SSN}', '{EMAIL}', NULL, "
                f"'{{\"email\": \"{EMAIL}\"}}'), "
                "(2, 'Bob', NULL, NULL, 'no-pii-here', 'plain text', '{}')")
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rgtest-mask-") as d:
            key = rgtest.mask_key(d)
            bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"],
                                           os.path.join(d, "b.rgb"))
            rg = pgfix.start(pg, iss, policy={"bundle": bundle, "hmac_key_file": key})
            tok = iss.token()
            direct = pg.psql("SELECT card, ssn, email FROM people WHERE id = 1").stdout
            check(CARD in direct and SSN in direct and EMAIL in direct,
                  "straight from PostgreSQL the values are there")

            # psql, simple protocol
            r = rgtest.run_psql("SELECT id, name, card, ssn, email, note, doc FROM people "
                                "ORDER BY id", rg.env("agent-1", tok))
            out = r.stdout
            check(CARD not in out and SSN not in out and EMAIL not in out,
                  f"through ringgate they are masked ({out.strip()})")
            check("1111" in out and "6789" in out and "h:" in out,
                  "cards and SSNs keep their last digits, emails are hmac'd (joinable)")
            check("no-pii-here" in out and "plain text" in out and "Bob" in out,
                  "values without PII pass as they are")
            r2 = rgtest.run_psql("SELECT email FROM people WHERE id = 1",
                                 rg.env("agent-1", tok))
            check(r2.stdout.strip() in out, "the same email masks to the same value (hmac)")

            # psycopg2
            conn = pgfix.connect(rg, tok)
            cur = conn.cursor()
            cur.execute("SELECT card, ssn, email, note, doc FROM people WHERE id = %s", (1,))
            card, ssn, email, note, doc = cur.fetchone()
            check(card != CARD and ssn != SSN and email != EMAIL and note is None,
                  f"psycopg2: masked, NULL stays NULL ({card}, {ssn}, {email}, {note})")
            check(isinstance(doc, dict) and EMAIL not in str(doc),
                  f"jsonb stays valid JSON, its email masked ({doc})")
            conn.close()

            # raw extended protocol: Describe once, then Executes whose rows come without a
            # RowDescription, in text and in binary result format
            ok, s = raw_login(rgtest.Endpoint(rg.host, rg.port, "agent-1", None,
                                              rg.config["targets"][0]["name"]), tok)[:2]
            s.sendall(parse(b"p1", b"SELECT card, email, id FROM people WHERE id = 1") +
                      msg(b"D", b"Sp1\0") + msg(b"S"))
            types, _ = rows_of(s)
            check(b"T" in types, "Describe answered with a RowDescription")
            for fmt, what in ((0, "text"), (1, "binary")):
                s.sendall(bind(b"p1", (fmt,)) + msg(b"E", b"\0" + struct.pack("!i", 0)) +
                          msg(b"S"))
                types, rows = rows_of(s)
                check(b"T" not in types and len(rows) == 1, f"{what}: rows without a "
                      f"RowDescription ({types})")
                c, e, i = rows[0]
                check(c is not None and CARD.encode() not in c and EMAIL.encode() not in e,
                      f"{what} format: masked ({c!r}, {e!r})")
                if fmt == 1:
                    check(i == struct.pack("!i", 1), f"binary int4 untouched ({i!r})")
            # COPY TO STDOUT
            s.sendall(msg(b"Q", b"COPY (SELECT card, email FROM people ORDER BY id) TO STDOUT\0"))
            data = b""
            while True:
                t, body = read_msg(s)
                if t == b"d":
                    data += body
                if t == b"Z":
                    break
            check(CARD.encode() not in data and EMAIL.encode() not in data and
                  b"no-pii-here" in data, f"COPY TO STDOUT rows masked ({data!r})")
            # an error that quotes the row value in DETAIL
            s.sendall(msg(b"Q", f"INSERT INTO people (id, email) VALUES (9, '{EMAIL}')"
                          .encode() + b"\0"))
            types, _ = rows_of(s)
            s.sendall(msg(b"Q", f"INSERT INTO people (id, email) VALUES (9, '{EMAIL}')"
                          .encode() + b"\0"))
            t, body = read_msg(s)
            f = error_fields(body)
            check(t == b"E" and f.get("C") == "23505" and EMAIL not in f.get("D", "") and
                  "already exists" in f.get("D", ""),
                  f"ErrorResponse DETAIL masked ({f.get('D')})")
            read_reply(s)
            # a long pipeline without Sync: past the tracker's bound the gateway stops
            # reading the agent, and reads again as the answers drain (no deadlock for a
            # client that reads before it syncs)
            s.sendall(parse(b"p2", b"SELECT card FROM people WHERE id = 1"))
            n = 3000
            s.sendall((bind(b"p2") + msg(b"E", b"\0" + struct.pack("!i", 0))) * n +
                      msg(b"H"))
            got = {b"1": 0, b"2": 0, b"D": 0, b"C": 0}
            while got[b"C"] < n:
                t, body = read_msg(s)
                got[t] = got.get(t, 0) + 1
                if t == b"D":
                    check_once = CARD.encode() not in body
                    if not check_once:
                        break
            s.sendall(msg(b"S"))
            types, _ = rows_of(s)
            check(got[b"C"] == n and got[b"D"] == n and types[-1:] == [b"Z"],
                  f"{n} pipelined Executes without Sync all answered, masked ({got})")
            # many rows per receive buffer (the relay frames and proves them as runs):
            # cards at a row's first and last bytes, in rows of every length, and fields
            # of nothing but cards so that receive-buffer boundaries fall inside them (a
            # card split across buffers); every card comes out masked, every other row as
            # it was
            many = ("SELECT i, CASE WHEN i % 97 = 0 THEN repeat('4111 1111 1111 1111, ', "
                    "40 + i % 13) WHEN i % 10 = 3 THEN '4111 1111 1111 1111' "
                    "ELSE repeat('z', i % 61) END, CASE WHEN i % 10 = 7 THEN "
                    "'4111111111111111' WHEN i % 4 = 0 THEN NULL ELSE 'pad ' || i END "
                    "FROM generate_series(1, 20000) i")
            s.sendall(msg(b"Q", many.encode() + b"\0"))
            types, rows = rows_of(s)
            check(len(rows) == 20000, f"all rows of the long result ({len(rows)})")
            bad = [r for r in rows if any(f and (b"4111 1111 1111" in f or
                                                 b"4111111111111111" in f) for f in r)]
            check(not bad, f"every card masked, whatever the buffers ({bad[:2]})")
            plain, changed = 0, []
            for r in rows:
                i = int(r[0])
                if i % 97 and i % 10 not in (3, 7):
                    plain += 1
                    if r[1] != b"z" * (i % 61) or r[2] != (None if i % 4 == 0
                                                           else b"pad %d" % i):
                        changed.append(r)
            check(plain > 10000 and not changed,
                  f"{plain} rows without a card pass as they were ({changed[:2]})")
            s.sendall(msg(b"X"))
            s.close()

            # a row too large to hold whole is refused, never passed unmasked
            r = rgtest.run_psql("SELECT repeat('x', 70000000)", rg.env("agent-1", tok),
                                check=False, timeout=120)
            check(r.returncode != 0 and "54000" not in r.stdout and
                  "exceeds what ringgate can mask" in r.stderr,
                  f"a 70 MB row fails closed ({r.stderr.strip()[:160]})")
            log = pgfix.log_text(rg)
            probs = rgtest.sanitizer_reports(log)
            check(not probs and rg.proc.poll() is None, f"ringgate healthy ({probs[:3]})")
            check(CARD not in log and SSN not in log and EMAIL not in log,
                  "no unmasked value in the log")


if __name__ == "__main__":
    main()
