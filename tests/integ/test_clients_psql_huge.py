"""One >= 64 MiB text value through the real ringgate with psql: sent as a literal in one
Query message, hashed by the server (md5, length), read back in one DataRow and hashed by
the client; a second session keeps working meanwhile and ringgate stays healthy. Its own
file because it takes a good part of the ctest TIMEOUT under ASan.

RG_DIRECT=1 runs the same clients straight against PostgreSQL (validates the test only)."""

import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402
from test_clients_psql import _field_round_trip, finish, healthy  # noqa: E402

psycopg2 = rgtest.require_psycopg2()


def test_64mib_field_round_trip():
    with rgtest.ClientStack() as st:
        # A concurrent session issues small queries the whole time the big value moves.
        stop, errors, count = threading.Event(), [], [0]

        def chatter():
            try:
                conn = st.ep.connect()
                conn.autocommit = True
                cur = conn.cursor()
                while not stop.is_set():
                    cur.execute("SELECT %s::int + 1", (count[0],))
                    if cur.fetchone()[0] != count[0] + 1:
                        errors.append("wrong answer")
                    count[0] += 1
                    stop.wait(0.05)
                conn.close()
            except Exception as e:  # reported by the main thread
                errors.append(repr(e))

        t = threading.Thread(target=chatter, daemon=True)
        t.start()
        try:
            _field_round_trip(st, 64 * 1024 * 1024 + 2, ">= 64 MiB field", bytea=False)
        finally:
            stop.set()
            t.join(30)
        check(not errors and count[0] > 10,
              f"a concurrent session kept working during the transfer ({count[0]} queries, "
              f"errors {errors})")
        healthy(st)
        finish(st)


if __name__ == "__main__":
    rgtest.run_tests([test_64mib_field_round_trip])
