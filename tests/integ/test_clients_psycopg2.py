"""psycopg2 (libpq) through the real ringgate: server-side (named) cursors incl. WITH HOLD,
executemany / execute_batch / execute_values, copy_expert both ways byte-exact, typed
parameters and notices, and query cancel: pg_sleep(30) in a thread, conn.cancel() from
another, QueryCanceled (57014) within seconds and the session usable afterwards; a
CancelRequest with a wrong key cancels nothing.

RG_DIRECT=1 runs the same clients straight against PostgreSQL (validates the test only)."""

import decimal
import hashlib
import io
import os
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()
import psycopg2.errors  # noqa: E402
import psycopg2.extras  # noqa: E402


def healthy(st):
    check(not st.ringgate_problems(), f"ringgate healthy ({st.ringgate_problems()[:5]})")


def test_named_cursors(st):
    conn = st.ep.connect()
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE n AS SELECT g AS id, md5(g::text) AS h "
                    "FROM generate_series(1, 100000) g")
        conn.commit()
        named = conn.cursor(name="rg_named")
        named.itersize = 777
        named.execute("SELECT id, h FROM n ORDER BY id")
        n, digest = 0, hashlib.md5()
        for row in named:
            n += 1
            digest.update(f"{row[0]}:{row[1]};".encode())
        named.close()
        want = hashlib.md5("".join(f"{i}:{hashlib.md5(str(i).encode()).hexdigest()};"
                                   for i in range(1, 100001)).encode()).hexdigest()
        check(n == 100000 and digest.hexdigest() == want,
              f"named cursor streamed 100000 rows in batches of 777 ({n})")

        named = conn.cursor(name="rg_scroll", scrollable=True)
        named.execute("SELECT id FROM n ORDER BY id")
        first = named.fetchmany(5)
        named.scroll(99990, mode="absolute")
        tail = named.fetchall()
        named.scroll(0, mode="absolute")
        again = named.fetchone()
        check([r[0] for r in first] == [1, 2, 3, 4, 5] and
              [r[0] for r in tail] == list(range(99991, 100001)) and again == (1,),
              "scrollable named cursor: fetchmany, scroll absolute, fetch again")
        named.close()
        conn.commit()

        held = conn.cursor(name="rg_hold", withhold=True)
        held.execute("SELECT id FROM n WHERE id <= 3000 ORDER BY id")
        part = held.fetchmany(1000)
        conn.commit()  # WITH HOLD: the cursor survives the commit
        rest = held.fetchall()
        held.close()
        check([r[0] for r in part + rest] == list(range(1, 3001)),
              "WITH HOLD cursor keeps fetching after commit")

        try:
            cur.execute("FETCH 1 FROM no_such_cursor")
            check(False, "FETCH from an unknown cursor fails")
        except psycopg2.errors.InvalidCursorName:
            conn.rollback()
            check(True, "FETCH from an unknown cursor fails with 34000, session recovers")
        cur.execute("SELECT count(*) FROM n")
        check(cur.fetchone()[0] == 100000, "plain query after the failure")
    finally:
        conn.close()
    healthy(st)


def test_executemany_and_batches(st):
    conn = st.ep.connect()
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE e(id int PRIMARY KEY, t text, b bytea, x numeric, "
                    "a int[], j jsonb)")
        rows = [(i, f"t{i} 'quoted' \\ é", bytes([i % 256]) * (i % 40), decimal.Decimal(i) / 7,
                 [i, -i], psycopg2.extras.Json({"i": i, "s": "x" * (i % 5)}))
                for i in range(1, 3001)]
        cur.executemany("INSERT INTO e VALUES (%s, %s, %s, %s, %s, %s)", rows[:1000])
        psycopg2.extras.execute_batch(cur, "INSERT INTO e VALUES (%s, %s, %s, %s, %s, %s)",
                                      rows[1000:2000], page_size=100)
        psycopg2.extras.execute_values(cur, "INSERT INTO e VALUES %s", rows[2000:],
                                       page_size=250)
        conn.commit()
        cur.execute("SELECT count(*), sum(id), sum(length(b)), sum(x)::numeric(20,6), "
                    "sum(a[2]), sum((j->>'i')::int) FROM e")
        cnt, s, lb, sx, sa, sj = cur.fetchone()
        want_lb = sum(i % 40 for i in range(1, 3001))
        check((cnt, s, lb, sa, sj) == (3000, 4501500, want_lb, -4501500, 4501500),
              f"executemany + execute_batch + execute_values stored all rows "
              f"({cnt}, {s}, {lb}, {sa}, {sj})")
        check(abs(sx - decimal.Decimal(4501500) / 7) < decimal.Decimal("0.01"),
              f"numeric parameters intact ({sx})")
        cur.execute("SELECT t, b, x, a, j FROM e WHERE id = %s", (2999,))
        t, b, x, a, j = cur.fetchone()
        check(t == "t2999 'quoted' \\ é" and bytes(b) == bytes([2999 % 256]) * 39 and
              x == decimal.Decimal(2999) / 7 and a == [2999, -2999] and
              j == {"i": 2999, "s": "xxxx"}, "typed values read back intact")

        notices = []
        conn.notices = notices
        cur.execute("DO $$ BEGIN RAISE NOTICE 'notice through the endpoint %', 42; END $$")
        check(any("notice through the endpoint 42" in n for n in notices),
              f"NOTICE delivered ({notices})")
        try:
            cur.executemany("INSERT INTO e VALUES (%s, %s, %s, %s, %s, %s)",
                            rows[5:7])
            check(False, "duplicate key in executemany refused")
        except psycopg2.errors.UniqueViolation as e:
            check(e.pgcode == "23505", "duplicate key in executemany refused with 23505")
            conn.rollback()
        cur.execute("SELECT count(*) FROM e")
        check(cur.fetchone()[0] == 3000, "session usable after the refused batch")
    finally:
        conn.close()
    healthy(st)


def test_copy_expert_both_ways(st):
    conn = st.ep.connect()
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE cp(id int, v text, b bytea)")
        src = io.BytesIO()
        for i in range(60000):
            v = "\\N" if i % 50 == 0 else f"v{i}\\t\\\\ ü " + "z" * (i % 200)
            src.write(f"{i}\t{v}\t\\\\x{(i % 256):02x}{'ab' * (i % 30)}\n".encode())
        data = src.getvalue()
        src.seek(0)
        cur.copy_expert("COPY cp FROM STDIN", src, size=65536)
        conn.commit()
        out = io.BytesIO()
        cur.copy_expert("COPY (SELECT * FROM cp ORDER BY id) TO STDOUT", out)
        check(out.getvalue() == data,
              f"copy_expert text round trip byte-exact ({len(out.getvalue())} bytes)")
        csv_out = io.BytesIO()
        cur.copy_expert("COPY (SELECT * FROM cp ORDER BY id) TO STDOUT (FORMAT csv, HEADER)",
                        csv_out)
        cur.execute("CREATE TABLE cp2(LIKE cp)")
        csv_out.seek(0)
        cur.copy_expert("COPY cp2 FROM STDIN (FORMAT csv, HEADER)", csv_out)
        cur.execute("SELECT count(*) FROM (SELECT * FROM cp EXCEPT ALL SELECT * FROM cp2) d")
        diff = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM cp2")
        check(diff == 0 and cur.fetchone()[0] == 60000, "CSV copy out and back in: same rows")
        conn.commit()
        # A client that aborts COPY IN half-way (CopyFail): error, then the session goes on.
        class Broken(io.RawIOBase):
            def __init__(self):
                self.n = 0

            def readable(self):
                return True

            def read(self, size=-1):
                self.n += 1
                if self.n > 3:
                    raise IOError("client gave up")
                return b"1\tpartial\t\\\\x00\n"
        try:
            cur.copy_expert("COPY cp2 FROM STDIN", Broken())
            check(False, "aborted COPY IN fails")
        except (psycopg2.Error, IOError) as e:
            conn.rollback()
            check(True, f"aborted COPY IN fails ({type(e).__name__})")
        cur.execute("SELECT count(*) FROM cp2")
        check(cur.fetchone()[0] == 60000, "aborted COPY added nothing; session usable")
    finally:
        conn.close()
    healthy(st)


def _cancel_request(host, port, pid, key):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(struct.pack("!iiii", 16, 80877102, pid, key))
        s.settimeout(5)
        try:
            return s.recv(1)  # the server closes without answering
        except OSError:
            return b""


def test_cancel(st):
    """Three times: with ringgate's 4 workers the CancelRequest connection and the session
    it cancels are likely on different threads at least once."""
    for attempt in range(3):
        _cancel(st, attempt)


def _cancel(st, attempt):
    conn = st.ep.connect()
    try:
        cur = conn.cursor()
        result = {}

        def sleeper():
            t0 = time.monotonic()
            try:
                cur.execute("SELECT pg_sleep(30)")
                result["outcome"] = "completed"
            except Exception as e:
                result["outcome"] = e
            result["elapsed"] = time.monotonic() - t0

        t = threading.Thread(target=sleeper, daemon=True)
        t.start()
        time.sleep(1.0)
        t_cancel = time.monotonic()
        conn.cancel()
        t.join(20)
        waited = time.monotonic() - t_cancel
        e = result.get("outcome")
        check(isinstance(e, psycopg2.errors.QueryCanceled) and e.pgcode == "57014",
              f"#{attempt}: pg_sleep(30) canceled with QueryCanceled 57014 ({e!r})")
        check(waited < 5.0, f"cancel took effect within seconds ({waited:.2f}s)")
        conn.rollback()
        cur.execute("SELECT 'after cancel'")
        check(cur.fetchone()[0] == "after cancel", "session usable after the cancel")

        if attempt == 0:
            # A CancelRequest with a made-up key must not cancel the running query.
            conn.rollback()
            conn.autocommit = True
            out = {}

            def short_sleep():
                try:
                    cur.execute("SELECT pg_sleep(3), 'slept'")
                    out["r"] = cur.fetchone()[1]
                except Exception as ex:
                    out["r"] = ex
            t = threading.Thread(target=short_sleep, daemon=True)
            t.start()
            time.sleep(0.5)
            for pid, key in ((1, 1), (conn.info.backend_pid, 0x5eed), (0, 0)):
                _cancel_request(st.ep.host, st.ep.port, pid, key)
            t.join(20)
            check(out.get("r") == "slept", f"CancelRequests with wrong keys canceled nothing "
                                          f"({out.get('r')!r})")
    finally:
        conn.close()
    # The cancel connection is not a session: ringgate still logs agents in.
    c2 = st.ep.connect()
    c2.cursor().execute("SELECT 1")
    c2.close()
    healthy(st)


def test_many_concurrent_sessions(st):
    """A login storm and many sessions streaming results at once (each its own rows)."""
    setup = st.ep.connect()
    setup.cursor().execute("CREATE TABLE cc AS SELECT g AS id, md5(g::text) AS h "
                           "FROM generate_series(1, 40000) g")
    setup.commit()
    setup.close()
    errors, results = [], {}

    def worker(i):
        try:
            conn = st.ep.connect()
            cur = conn.cursor()
            for rep in range(3):
                lo = i * 1000
                cur.execute("SELECT id, h FROM cc WHERE id > %s ORDER BY id LIMIT 20000",
                            (lo,))
                rows = cur.fetchall()
                if len(rows) != min(20000, 40000 - lo) or rows[0][0] != lo + 1:
                    errors.append(f"worker {i}: wrong rows ({len(rows)})")
                digest = hashlib.md5("".join(h for _, h in rows).encode()).hexdigest()
                results.setdefault(i, set()).add(digest)
            conn.close()
        except Exception as e:  # collected and reported by the main thread
            errors.append(f"worker {i}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(24)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    dt = time.monotonic() - t0
    check(not errors, f"24 concurrent sessions x 3 queries of up to 20000 rows in {dt:.1f}s "
                      f"({errors[:3]})")
    check(all(len(v) == 1 for v in results.values()) and len(results) == 24,
          "every session got the same rows on each repetition")
    healthy(st)


def test_large_objects_function_call(st):
    """libpq's lo_* API speaks the FunctionCall protocol ('F' / 'V'), with writes and reads
    big enough (>= 256 KiB) that ringgate streams those messages."""
    conn = st.ep.connect()
    try:
        data = os.urandom(3 * 1024 * 1024 + 17)
        lo = conn.lobject(0, "wb")
        oid = lo.oid
        lo.write(data[:100])
        lo.write(data[100:700000])
        lo.write(data[700000:])
        lo.close()
        conn.commit()
        lo = conn.lobject(oid, "rb")
        head = lo.read(4096)
        lo.seek(0)
        back = lo.read()
        lo.close()
        cur = conn.cursor()
        cur.execute("SELECT md5(lo_get(%s))", (oid,))
        srv = cur.fetchone()[0]
        check(head == data[:4096] and back == data and srv == hashlib.md5(data).hexdigest(),
              f"large object written and read back via FunctionCall, md5 agrees "
              f"({len(back)} bytes)")
        try:
            conn.lobject(oid + 100000, "rb")
            check(False, "opening a missing large object fails")
        except psycopg2.OperationalError as e:
            conn.rollback()
            check("does not exist" in str(e), f"missing large object: error relayed ({e})")
        conn.lobject(oid, "wb").unlink()
        conn.commit()
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM pg_largeobject_metadata WHERE oid = %s", (oid,))
        check(cur.fetchone()[0] == 0, "large object unlinked; session usable")
    finally:
        conn.close()
    healthy(st)


def test_copy_big_rows(st):
    """COPY rows of 3 MiB each way: CopyData messages ringgate streams rather than holds."""
    conn = st.ep.connect()
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE cb(id int, v text)")
        rows = [f"{i}\t{os.urandom(1536 * 1024).hex()}\n".encode() for i in range(4)]
        data = b"".join(rows)
        cur.copy_expert("COPY cb FROM STDIN", io.BytesIO(data), size=4 * 1024 * 1024)
        conn.commit()
        out = io.BytesIO()
        cur.copy_expert("COPY (SELECT * FROM cb ORDER BY id) TO STDOUT", out)
        check(out.getvalue() == data, f"3 MiB COPY rows round trip byte-exact "
                                      f"({len(out.getvalue())} bytes)")
    finally:
        conn.close()
    healthy(st)


if __name__ == "__main__":
    # One PostgreSQL + ringgate (4 worker threads) for the file; each test has its own
    # tables, healthy() after each one names the test that broke ringgate, if one does.
    with rgtest.ClientStack(threads=4) as shared:
        rgtest.run_tests([test_named_cursors, test_executemany_and_batches,
                          test_copy_expert_both_ways, test_large_objects_function_call,
                          test_copy_big_rows, test_cancel,
                          test_many_concurrent_sessions], shared)
