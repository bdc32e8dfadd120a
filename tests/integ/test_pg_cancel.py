"""ringgate's cancel path against a real PostgreSQL 15: psycopg2's cancel() of a running
pg_sleep goes through ringgate's BackendKeyData (the real pid with a key drawn per session), which
ringgate maps to the target's key and forwards -- on a gateway with several workers, so the
CancelRequest may land on another worker than the session. The session stays usable after
the cancel (57014); a CancelRequest with an unknown key is dropped silently and harms
nobody."""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()


def cancel_once(pg, rg, tok, i):
    conn = pgfix.connect(rg, tok)
    try:
        cur = conn.cursor()
        tag = f"cancel-{i}"
        t = threading.Thread(target=pgfix.cancel_when_running,
                             args=(pg, conn, f"SELECT pg_sleep(30) /* {tag} */"))
        t.start()
        start = time.monotonic()
        try:
            cur.execute(f"SELECT pg_sleep(30) /* {tag} */")
            check(False, f"cancel {i}: pg_sleep was cancelled")
        except psycopg2.extensions.QueryCanceledError as e:
            took = time.monotonic() - start
            check(e.pgcode == "57014" and took < 10, f"cancel {i}: 57014 after {took:.1f}s")
        t.join()
        conn.rollback()
        cur.execute("SELECT 42")
        check(cur.fetchone()[0] == 42, f"cancel {i}: session usable afterwards")
    finally:
        conn.close()


def main():
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        rg = pgfix.start(pg, iss, threads=2)
        tok = iss.token()
        for i in range(6):  # several connections: with two workers both paths get used
            cancel_once(pg, rg, tok, i)

        # an unknown key: the gateway closes the cancel connection and nothing else happens
        conn = pgfix.connect(rg, tok)
        raw = pgfix.Raw(rg.host, rg.port)
        import struct
        raw.send(struct.pack("!IIII", 16, 80877102, 12345, 67890))
        check(raw.at_eof(), "CancelRequest with an unknown key: connection closed")
        raw.close()
        cur = conn.cursor()
        cur.execute("SELECT 1")
        check(cur.fetchone()[0] == 1, "other sessions unaffected")
        conn.close()
        check(pgfix.wait_log(rg, "event=cancel_unknown_key"), "unknown key logged")
        log = pgfix.log_text(rg)
        check(log.count("event=cancel ") >= 6, "each cancel logged")
        check(rg.stop() == 0, "clean exit")


if __name__ == "__main__":
    main()
