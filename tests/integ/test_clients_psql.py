"""psql (and a psycopg2 listener) through the real ringgate to a real PostgreSQL 15, logged
in with a dev-issuer token: multi-statement query strings, error recovery in one session,
a 200k-row result identical to the direct one, an 8 MB field round trip (md5 server-side and
client-side; the >= 64 MiB one is in test_clients_psql_huge.py), COPY FROM STDIN / TO STDOUT byte-exact in text and
binary format, BEGIN/ROLLBACK/COMMIT visibility, LISTEN/NOTIFY delivered to an idle client,
pg_dump identical to the direct dump and pg_restore --clean through ringgate.
After each test ringgate must still run with no sanitizer report in its log.

RG_DIRECT=1 runs the same clients straight against PostgreSQL (validates the test only)."""

import hashlib
import os
import secrets
import select
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()


def psql(ep, sql=None, script=None, stdin=None, args=(), on_error_stop=True, timeout=240,
         text=True):
    """psql -X -w -A -t through ep; sql via -c, script via -f (a path), data on stdin."""
    argv = ["psql", "-X", "-w", "-A", "-t", "-q", "-v",
            f"ON_ERROR_STOP={1 if on_error_stop else 0}", *args]
    if sql is not None:
        argv += ["-c", sql]
    if script is not None:
        argv += ["-f", script]
    return subprocess.run(argv, env=ep.env(), input=stdin, capture_output=True, text=text,
                          timeout=timeout)


def ok(r, what):
    if r.returncode != 0:
        what += f" (rc {r.returncode}: {r.stderr!s:.600} {r.stdout!s:.200})"
    check(r.returncode == 0, what)


def healthy(st):
    probs = st.ringgate_problems()
    if st.rg is not None:
        check(not probs, f"ringgate alive, no sanitizer report ({probs[:5]})")


def finish(st):
    """Stop ringgate with SIGTERM: it must not have crashed and report nothing at exit."""
    healthy(st)
    rc, log = st.shutdown_ringgate()
    if rc is not None:
        reports = rgtest.sanitizer_reports(log)
        check(not reports and rc not in (-6, -11, 134, 139),
              f"ringgate shut down (rc {rc}) with no sanitizer report ({reports[:5]})")


def test_multi_statement_and_error_recovery(st):
    ep = st.ep
    # libpq's default sslmode=prefer sends an SSLRequest first; a plaintext listener
    # answers 'N' and the login continues in the clear.
    r = subprocess.run(["psql", "-X", "-w", "-A", "-t", "-c", "SELECT 'prefer ok'"],
                       env=ep.env(PGSSLMODE="prefer"), capture_output=True, text=True,
                       timeout=60)
    check(r.stdout.strip() == "prefer ok", f"sslmode=prefer logs in ({r.stderr.strip()})")
    r = psql(ep, "CREATE TABLE m(a int, b text); INSERT INTO m VALUES (1,'x'),(2,'y'),"
                 "(3,'z'); UPDATE m SET a = a * 10 WHERE a > 1; SELECT sum(a), "
                 "string_agg(b, ',' ORDER BY a) FROM m")
    ok(r, "multi-statement -c string")
    check(r.stdout.strip() == "51|x,y,z", f"multi-statement result {r.stdout!r}")

    # One -c string with an error in the middle: the implicit transaction of a
    # multi-statement Query is rolled back as a whole, and the session goes on.
    r = psql(ep, "INSERT INTO m VALUES (4,'w'); SELECT 1/0; INSERT INTO m VALUES (5,'v')",
             on_error_stop=False)
    check("division by zero" in r.stderr, f"error reported: {r.stderr.strip()!r}")
    r = psql(ep, "SELECT count(*) FROM m")
    check(r.stdout.strip() == "3", f"failed multi-statement string rolled back: {r.stdout!r}")

    # A script in one session: errors (syntax, runtime, unknown table, error inside a
    # transaction block) each followed by a query that must work.
    script = "\n".join([
        r"\set VERBOSITY verbose",
        "SELECT 'first';",
        "SELEC 1;",
        "SELECT 'after syntax error';",
        "SELECT 1/0;",
        "SELECT 'after division by zero';",
        "SELECT * FROM no_such_table;",
        "SELECT 'after undefined table';",
        "BEGIN;",
        "INSERT INTO m VALUES (6,'u');",
        "SELECT 1/0;",
        "SELECT 'in failed transaction';",
        "ROLLBACK;",
        "SELECT 'after rollback', count(*) FROM m;",
        "SELECT repeat('e', 100000)::int;",
        "SELECT 'after a long error message';",
    ]) + "\n"
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    try:
        r = psql(ep, script=f.name, on_error_stop=False)
    finally:
        os.unlink(f.name)
    lines = r.stdout.split("\n")
    check(lines[:6] == ["first", "after syntax error", "after division by zero",
                        "after undefined table", "after rollback|3",
                        "after a long error message"],
          f"every query after an error works: {lines[:8]!r}")
    for code in ("42601", "22012", "42P01", "25P02", "22P02"):
        check(f"ERROR:  {code}:" in r.stderr, f"SQLSTATE {code} reported through ringgate")
    healthy(st)


def test_200k_rows_same_as_direct(st):
    st.direct.psql("CREATE TABLE r AS SELECT g AS id, md5(g::text) AS h, "
                   "repeat(chr(65 + g % 26), g % 50) AS pad FROM generate_series(1, 200000) g")
    q = "SELECT id, h, pad FROM r ORDER BY id"
    t0 = time.monotonic()
    via = psql(st.ep, q, text=False)
    dt = time.monotonic() - t0
    ok(via, f"200k-row SELECT through the endpoint ({dt:.1f}s)")
    direct = psql(st.direct, q, text=False)
    ok(direct, "200k-row SELECT direct")
    n = via.stdout.count(b"\n")
    check(n == 200000, f"200000 rows received ({n})")
    check(hashlib.sha256(via.stdout).hexdigest() == hashlib.sha256(direct.stdout).hexdigest(),
          f"result bytes identical to direct ({len(via.stdout)} vs {len(direct.stdout)} bytes)")
    # Four at once, with ringgate streaming each to its own client.
    procs = [subprocess.Popen(["psql", "-X", "-w", "-A", "-t", "-q", "-c", q],
                              env=st.ep.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(4)]
    outs = [p.communicate(timeout=240) for p in procs]
    same = [p.returncode == 0 and o[0] == direct.stdout for p, o in zip(procs, outs)]
    check(all(same), f"4 concurrent 200k-row results identical to direct ({same}; "
                     f"{[o[1][:200] for o in outs if o[1]]})")
    r = psql(st.ep, "SELECT count(*), md5(string_agg(h || pad, '' ORDER BY id)) FROM r")
    d = psql(st.direct, "SELECT count(*), md5(string_agg(h || pad, '' ORDER BY id)) FROM r")
    check(r.stdout == d.stdout and r.stdout.startswith("200000|"),
          f"server-side count and checksum agree: {r.stdout.strip()} / {d.stdout.strip()}")
    healthy(st)


def _field_round_trip(st, nbytes, what, bytea=True):
    """Send a text value of nbytes in one query (psql -f), have the server hash it, read it
    back in one DataRow and hash it here."""
    value = secrets.token_hex(nbytes // 2)
    local_md5 = hashlib.md5(value.encode()).hexdigest()
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("CREATE TABLE IF NOT EXISTS big(id int PRIMARY KEY, v text);\n")
        f.write("ALTER TABLE big ALTER COLUMN v SET STORAGE EXTERNAL;\n")
        f.write(f"INSERT INTO big VALUES ({nbytes}, '")
        f.write(value)
        f.write("');\n")
        path = f.name
    try:
        t0 = time.monotonic()
        r = psql(st.ep, script=path)
        ok(r, f"{what}: {nbytes}-byte literal sent ({time.monotonic() - t0:.1f}s)")
    finally:
        os.unlink(path)
    r = psql(st.ep, f"SELECT length(v), md5(v) FROM big WHERE id = {nbytes}")
    check(r.stdout.strip() == f"{nbytes}|{local_md5}",
          f"{what}: server-side length and md5 match the client's ({r.stdout.strip()[:80]})")
    t0 = time.monotonic()
    r = psql(st.ep, f"SELECT v FROM big WHERE id = {nbytes}", text=False)
    ok(r, f"{what}: value read back ({time.monotonic() - t0:.1f}s)")
    got = r.stdout[:-1] if r.stdout.endswith(b"\n") else r.stdout
    check(len(got) == nbytes and hashlib.md5(got).hexdigest() == local_md5,
          f"{what}: client-side md5 of the value read back matches ({len(got)} bytes)")
    if not bytea:
        return
    # And as bytea: the server builds it, the client checks the md5.
    r = psql(st.ep, f"SELECT md5(decode(v, 'hex')), encode(decode(v, 'hex'), 'base64') "
                    f"FROM big WHERE id = {nbytes}", text=False)
    ok(r, f"{what}: bytea value read back")
    srv_md5, b64 = r.stdout.rstrip(b"\n").split(b"|", 1)
    import base64
    raw = base64.b64decode(b64.replace(b"\n", b""))
    check(hashlib.md5(raw).hexdigest().encode() == srv_md5 and raw == bytes.fromhex(value),
          f"{what}: bytea md5 server-side == client-side ({len(raw)} bytes)")


def test_8mb_field_round_trip(st):
    _field_round_trip(st, 8 * 1024 * 1024, "8 MiB field")
    healthy(st)


def _copy_data(rows=50000):
    """COPY text data that exercises escapes: tabs/newlines/backslashes escaped, \\N, empty
    strings, multi-byte UTF-8, long lines."""
    out = []
    for i in range(rows):
        if i % 97 == 0:
            t = r"\N"
        elif i % 89 == 0:
            t = ""
        else:
            t = f"row {i} tab\\there nl\\nthere bs\\\\ é€😀 " + "x" * (i % 300)
        f = repr(i * 1.5)
        out.append(f"{i}\t{t}\t{f[:-2] if f.endswith('.0') else f}\n")
    return "".join(out).encode()


COPY_OUT = "COPY (SELECT * FROM c ORDER BY id) TO STDOUT"  # heap order is not insertion order


def test_copy_round_trip_byte_exact(st):
    ep = st.ep
    ok(psql(ep, "CREATE TABLE c(id int PRIMARY KEY, t text, f float8); "
                "CREATE TABLE c2(LIKE c)"), "tables created")
    data = _copy_data()
    r = psql(ep, "COPY c FROM STDIN", stdin=data, text=False)
    ok(r, f"COPY FROM STDIN of {len(data)} bytes")
    r = psql(ep, "SELECT count(*), count(t), sum(id) FROM c")
    check(r.stdout.strip() == "50000|49484|1249975000",
          f"all rows arrived: {r.stdout.strip()}")
    r = psql(ep, COPY_OUT, text=False)
    ok(r, "COPY TO STDOUT")
    check(r.stdout == data, f"COPY TO STDOUT byte-exact ({len(r.stdout)} vs {len(data)})")
    d = psql(st.direct, COPY_OUT, text=False)
    check(d.stdout == data, "direct COPY TO STDOUT agrees")

    # Binary format both ways: out through the endpoint, back in, out again.
    r = psql(ep, COPY_OUT + " (FORMAT binary)", text=False)
    ok(r, "COPY TO STDOUT binary")
    d = psql(st.direct, COPY_OUT + " (FORMAT binary)", text=False)
    check(r.stdout == d.stdout and r.stdout.startswith(b"PGCOPY\n\xff\r\n\0"),
          f"binary COPY identical to direct ({len(r.stdout)} bytes)")
    r2 = psql(ep, "COPY c2 FROM STDIN (FORMAT binary)", stdin=r.stdout, text=False)
    ok(r2, "COPY FROM STDIN binary")
    r3 = psql(ep, "COPY (SELECT * FROM c2 ORDER BY id) TO STDOUT (FORMAT binary)", text=False)
    check(r3.stdout == r.stdout, "binary COPY round trip byte-exact")

    # A COPY that fails half-way (bad data) ends with an error; the session goes on.
    bad = b"1\tok\t1\nnot-a-number\tx\t2\n"
    r = psql(ep, "COPY c2 FROM STDIN", stdin=bad, text=False, on_error_stop=False)
    check(b"invalid input syntax" in r.stderr, f"bad COPY data refused: {r.stderr[:200]!r}")
    r = psql(ep, "SELECT count(*) FROM c2")
    check(r.stdout.strip() == "50000", f"failed COPY left no rows: {r.stdout.strip()}")
    healthy(st)


def test_transactions_visibility(st):
    ep = st.ep
    ok(psql(ep, "CREATE TABLE tx(id int)"), "table created")
    r = psql(ep, "BEGIN; INSERT INTO tx VALUES (1); SELECT count(*) FROM tx; ROLLBACK; "
                 "SELECT count(*) FROM tx")
    check(r.stdout.split() == ["1", "0"], f"psql: BEGIN/ROLLBACK in one session {r.stdout!r}")

    a = ep.connect()
    b = ep.connect()
    try:
        b.autocommit = True
        ca, cb = a.cursor(), b.cursor()
        ca.execute("INSERT INTO tx VALUES (2)")  # opens a transaction on a
        cb.execute("SELECT count(*) FROM tx")
        check(cb.fetchone()[0] == 0, "uncommitted insert invisible to another session")
        a.rollback()
        cb.execute("SELECT count(*) FROM tx")
        check(cb.fetchone()[0] == 0, "rolled back insert never visible")
        ca.execute("INSERT INTO tx VALUES (3)")
        ca.execute("SAVEPOINT s")
        ca.execute("INSERT INTO tx VALUES (4)")
        ca.execute("ROLLBACK TO SAVEPOINT s")
        a.commit()
        cb.execute("SELECT array_agg(id ORDER BY id) FROM tx")
        check(cb.fetchone()[0] == [3], "committed insert visible, rolled-back savepoint not")
    finally:
        a.close()
        b.close()
    r = psql(ep, "SELECT count(*) FROM tx")
    check(r.stdout.strip() == "1", "psql sees the committed row")
    healthy(st)


def _wait_notify(conn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn.poll()
        if conn.notifies:
            return conn.notifies.pop(0)
        select.select([conn], [], [], max(0.0, deadline - time.monotonic()))
    return None


def test_listen_notify(st):
    lis = st.ep.connect()
    try:
        lis.autocommit = True
        lis.cursor().execute("LISTEN rg_chan")
        # From psql through the endpoint, while the listener sits idle.
        ok(psql(st.ep, "NOTIFY rg_chan, 'hello via endpoint'"), "psql NOTIFY")
        n = _wait_notify(lis)
        check(n is not None and n.channel == "rg_chan" and n.payload == "hello via endpoint",
              f"notification from a psql session delivered to the idle listener ({n})")
        # From a direct session: the server pushes it asynchronously to the listener.
        ok(psql(st.direct, "SELECT pg_notify('rg_chan', 'hello direct ' || repeat('p', 7000))"),
           "direct pg_notify")
        n = _wait_notify(lis)
        check(n is not None and n.payload == "hello direct " + "p" * 7000,
              "large notification from a direct session delivered")
        # Several in one transaction arrive in order; the listener still answers queries.
        ok(psql(st.direct, "BEGIN; NOTIFY rg_chan, 'a'; NOTIFY rg_chan, 'b'; "
                           "NOTIFY rg_chan, 'c'; COMMIT"), "three notifications")
        got = [getattr(_wait_notify(lis), "payload", None) for _ in range(3)]
        check(got == ["a", "b", "c"], f"notifications in order: {got}")
        cur = lis.cursor()
        cur.execute("SELECT 7")
        check(cur.fetchone()[0] == 7, "listener session still answers queries")
        # Own notification after UNLISTEN is not delivered.
        cur.execute("UNLISTEN rg_chan")
        ok(psql(st.ep, "NOTIFY rg_chan, 'after unlisten'"), "NOTIFY after UNLISTEN")
        check(_wait_notify(lis, 1.5) is None, "nothing delivered after UNLISTEN")
    finally:
        lis.close()
    healthy(st)


def test_pg_dump_restore(st):
    """pg_dump (snapshot transaction, catalog queries, COPY TO per table) through the
    endpoint gives the same dump as directly; pg_restore --clean through the endpoint (DROP,
    CREATE, COPY FROM) leaves the database as it was."""
    st.direct.psql("CREATE TABLE IF NOT EXISTS dumped(id serial PRIMARY KEY, t text, "
                   "b bytea, j jsonb); INSERT INTO dumped(t, b, j) SELECT 'row ' || g, "
                   "decode(md5(g::text), 'hex'), jsonb_build_object('g', g) "
                   "FROM generate_series(1, 5000) g; CREATE INDEX ON dumped(t); "
                   "CREATE VIEW dumped_v AS SELECT id, t FROM dumped WHERE id % 2 = 0")

    def dump(ep, fmt="p"):
        r = subprocess.run(["pg_dump", "-w", "--no-owner", "-F", fmt], env=ep.env(),
                           capture_output=True, timeout=240)
        if fmt == "p":  # \restrict / \unrestrict carry a random key per dump (15.14+)
            r.stdout = b"\n".join(ln for ln in r.stdout.split(b"\n")
                                  if not ln.startswith((b"\\restrict", b"\\unrestrict")))
        return r

    via, direct = dump(st.ep), dump(st.direct)
    ok(via, f"pg_dump through the endpoint ({len(via.stdout)} bytes)")
    check(via.stdout == direct.stdout,
          f"pg_dump output identical to the direct one ({len(via.stdout)} vs "
          f"{len(direct.stdout)} bytes)")
    custom = dump(st.ep, "c")
    ok(custom, "pg_dump -Fc through the endpoint")
    with tempfile.NamedTemporaryFile(suffix=".dump", delete=False) as f:
        f.write(custom.stdout)
    try:
        r = subprocess.run(["pg_restore", "-w", "--no-owner", "--clean", "--if-exists",
                            "--exit-on-error", "--single-transaction", "-d", st.ep.database,
                            f.name], env=st.ep.env(), capture_output=True, timeout=240)
        ok(r, "pg_restore --clean through the endpoint")
    finally:
        os.unlink(f.name)
    again = dump(st.direct)
    check(again.stdout == direct.stdout, "after the restore the database dumps the same")
    healthy(st)


def test_zz_clean_shutdown(st):
    """Last: a short session then SIGTERM: ringgate exits without a crash or sanitizer report."""
    r = psql(st.ep, "SELECT 'up'")
    check(r.stdout.strip() == "up", f"login and query through the endpoint ({r.stderr.strip()})")
    finish(st)


if __name__ == "__main__":
    # One PostgreSQL + ringgate for the file (each test uses its own tables; healthy() after
    # each one names the test that broke ringgate, if one does).
    with rgtest.ClientStack() as shared:
        rgtest.run_tests([
            test_multi_statement_and_error_recovery,
            test_200k_rows_same_as_direct,
            test_8mb_field_round_trip,
            test_copy_round_trip_byte_exact,
            test_transactions_visibility,
            test_listen_notify,
            test_pg_dump_restore,
            test_zz_clean_shutdown,
        ], shared)
