#!/usr/bin/env python3
"""The classifier reads what the server executes (issue #9, item 1; docs/security.md).

Differential tests against a real PostgreSQL 15: the same bytes are judged by ringgate's
classifier (`rulec explain` over the baseline pack) and executed by the server, and whether
the server really ran a hidden DROP TABLE is read back from the catalog.

- Straight to PostgreSQL, with client_encoding SJIS or standard_conforming_strings off, the
  server runs a DROP the classifier does not see: the attack the gateway must prevent.
- Through ringgate those settings cannot be had: the login refuses them, the in-session ways
  to change them (SET, SET NAMES, set_config, UPDATE pg_settings) are refused, and bytes that
  are not UTF-8 are refused before the server sees them.
- Under the settings ringgate pins, classifier and server agree on every payload.
"""
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402
from test_clients_bad_input import (raw_login, read_reply, msg, wait_closed)  # noqa: E402

VICTIM = b"victim"

# Payloads whose meaning depends on how the server lexes them. Under the pinned settings
# (UTF8, standard_conforming_strings on) the classifier must agree with the server on all.
PINNED_PAYLOADS = [
    b"SELECT 'a\\'; DROP TABLE victim; --'",
    b"SELECT E'a\\'; DROP TABLE victim; --'",
    b"SELECT 'a\\''; DROP TABLE victim; --'",
    b"SELECT $$a'$$; DROP TABLE victim",
    b"SELECT $q$ $$ ' $q$; DROP TABLE victim",
    b"SELECT U&'\\0027'; DROP TABLE victim",
    b"SELECT 'x' -- '; DROP TABLE victim",
    b"SELECT 'x' /* '; */ ; DROP TABLE victim",
    b"SELECT '\xc3\xa9\\'; DROP TABLE victim; --'",
    b"SELECT E'\xc3\xa9\\'; DROP TABLE victim; --'",
    b"SELECT E'\xe6\x97\xa5\\\\'; DROP TABLE victim; --'",
    b"/* ' */ DROP TABLE victim",
]

SJIS_PAYLOAD = b"SELECT E'\x95\x5c'; DROP TABLE victim; --'"
SCS_PAYLOAD = b"SELECT 'a\\''; DROP TABLE victim; --'"


def rulec():
    return os.path.join(rgtest.RG_BUILD, "rulec", "rulec")


class Classifier:
    def __init__(self, workdir):
        self.bundle = os.path.join(workdir, "baseline.rgb")
        subprocess.run([rulec(), "compile", "-o", self.bundle,
                        os.path.join(rgtest.RG_SRC, "rules", "baseline")],
                       check=True, capture_output=True, timeout=120)

    def sees_drop(self, sql):
        r = subprocess.run([rulec(), "explain", "--bundle", self.bundle, sql],
                           capture_output=True, timeout=60)
        out = json.loads(r.stdout)
        return "drop" in out["facts"]["operations"]


def victim_exists(st):
    r = st.pg.psql("SELECT count(*) FROM pg_class WHERE relname = 'victim'")
    return r.stdout.strip() == "1"


def make_victim(st):
    st.pg.psql("CREATE TABLE IF NOT EXISTS victim (id int); "
               "GRANT ALL ON victim TO PUBLIC")


def direct_psql(st, *cmds, **env):
    """psql straight to PostgreSQL, one -c per command (each its own Query message)."""
    args = ["psql", "-X", "-w", "-A", "-t"]
    for c in cmds:
        args += ["-c", c]
    return subprocess.run(args, env=st.direct.env(**env), capture_output=True, timeout=60)


def query(s, sql):
    s.sendall(msg(b"Q", sql + b"\0"))
    return read_reply(s)


def test_attacks_are_real_straight_to_postgres(st, cl):
    """Without the gateway's pins the server runs a DROP the classifier does not see."""
    make_victim(st)
    check(not cl.sees_drop(SJIS_PAYLOAD), "classifier: the SJIS payload is one SELECT")
    r = direct_psql(st, SJIS_PAYLOAD, PGCLIENTENCODING="SJIS")
    check(not victim_exists(st),
          f"PostgreSQL with client_encoding SJIS ran the hidden DROP ({r.stderr!r})")
    make_victim(st)
    check(not cl.sees_drop(SCS_PAYLOAD), "classifier: the backslash payload is one SELECT")
    r = direct_psql(st, b"SET standard_conforming_strings = off", SCS_PAYLOAD)
    check(not victim_exists(st),
          f"PostgreSQL with standard_conforming_strings off ran the hidden DROP ({r.stderr!r})")
    make_victim(st)


def test_login_cannot_choose_the_lexing(st, cl):
    for extra, what in ((dict(PGCLIENTENCODING="SJIS"), 'client_encoding "SJIS"'),
                        (dict(PGCLIENTENCODING="BIG5"), 'client_encoding "BIG5"'),
                        (dict(PGCLIENTENCODING="GBK"), 'client_encoding "GBK"'),
                        (dict(PGOPTIONS="-c client_encoding=GB18030"), "GB18030"),
                        (dict(PGOPTIONS="-c standard_conforming_strings=off"),
                         "standard_conforming_strings"),
                        (dict(PGOPTIONS="--backslash-quote=on"), '"backslash_quote"')):
        r = subprocess.run(["psql", "-X", "-w", "-A", "-t", "-c", SJIS_PAYLOAD],
                           env=st.ep.env(**extra), capture_output=True, timeout=60)
        err = r.stderr.decode(errors="replace")
        check(r.returncode != 0 and "FATAL" in err and what in err,
              f"login with {extra} refused, naming {what} ({err.strip()})")
    check(victim_exists(st), "nothing was executed")


def test_session_cannot_change_the_lexing(st, cl):
    ok, s = raw_login(st.ep, st.token())[:2]
    check(ok == "ok", "raw login")
    for sql in (b"SET client_encoding = 'SJIS'",
                b"set names 'BIG5'",
                b"SET LOCAL client_encoding TO 'GBK'",
                b"SET standard_conforming_strings = off",
                b"SELECT set_config('client_encoding', 'UHC', false)",
                b"SELECT pg_catalog.set_config('client_' || 'encoding', 'SJIS', false)",
                b"SELECT set_config(name, 'off', false) FROM pg_settings "
                b"WHERE name = 'standard_conforming_strings'",
                b"UPDATE pg_settings SET setting = 'SJIS' WHERE name = 'client_encoding'",
                b"SELECT 1; SET client_encoding = 'SJIS'"):
        seen, err = query(s, sql)
        check(err and err.get("C") == "42501" and seen[-1] == b"Z",
              f"{sql!r}: ERROR 42501, session goes on ({seen}, {err})")
    seen, err = query(s, b"SHOW client_encoding")
    check(err is None, "client_encoding still readable")
    # the pinned values themselves, and RESET, are fine (drivers and pg_dump send them)
    for sql in (b"SET client_encoding = 'UTF8'", b"SET standard_conforming_strings = on",
                b"RESET ALL", b"DISCARD ALL", b"SELECT pg_catalog.set_config('search_path', '', false)",
                b"SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings "
                b"WHERE name = 'restrict_nonsystem_relation_kind'"):
        seen, err = query(s, sql)
        check(err is None, f"{sql!r} allowed ({seen}, {err})")
    # not UTF-8: refused by the gateway as the server would, before it sees the bytes
    seen, err = query(s, SJIS_PAYLOAD)
    check(err and err.get("C") == "22021", f"non-UTF-8 payload refused with 22021 ({err})")
    # extended protocol: the same guard at Parse
    s.sendall(msg(b"P", b"\0" + b"SET client_encoding = 'SJIS'\0" + b"\0\0") +
              msg(b"B", b"\0\0" + b"\0\0\0\0\0\0") + msg(b"E", b"\0\0\0\0\0") + msg(b"S"))
    seen, err = read_reply(s)
    check(err and err.get("C") == "42501" and seen[-1] == b"Z",
          f"Parse of SET client_encoding refused ({seen}, {err})")
    # fast-path FunctionCall of set_config by OID (2078 in pg_proc.dat)
    r = st.pg.psql("SELECT 'set_config'::regproc::oid")
    check(r.stdout.strip() == "2078", f"set_config is OID 2078 ({r.stdout.strip()})")
    args = [b"client_encoding", b"SJIS", b"f"]
    body = (struct.pack("!IhhH", 2078, 1, 0, len(args)) +
            b"".join(struct.pack("!i", len(a)) + a for a in args) + struct.pack("!h", 0))
    s.sendall(msg(b"F", body))
    seen, err = read_reply(s)
    check(err and err.get("C") == "42501" and seen[-1] == b"Z",
          f"FunctionCall set_config refused ({seen}, {err})")
    seen, err = query(s, b"SELECT 1")
    check(err is None, "session usable after the refused FunctionCall")
    s.sendall(msg(b"X"))
    s.close()
    check(victim_exists(st), "the victim table survived")


def test_function_changing_the_encoding_ends_the_session(st, cl):
    """A function the guard cannot see into (its body is a string) changes client_encoding:
    the server reports it, and the gateway ends the session before relaying anything more."""
    st.pg.psql("CREATE OR REPLACE FUNCTION sneaky() RETURNS text LANGUAGE sql AS "
               "$$ SELECT set_config('client_' || 'encoding', 'SJIS', false) $$; "
               "GRANT EXECUTE ON FUNCTION sneaky() TO PUBLIC")
    ok, s = raw_login(st.ep, st.token())[:2]
    check(ok == "ok", "raw login")
    s.sendall(msg(b"Q", b"SELECT sneaky()\0"))
    types, fatal = [], None
    try:
        while True:
            from test_clients_bad_input import read_msg, error_fields
            t, body = read_msg(s)
            types.append(t)
            if t == b"E":
                fatal = error_fields(body)
                break
            if t == b"Z":
                break
    except (ConnectionError, AssertionError):
        pass
    check(fatal and fatal.get("S") == "FATAL" and fatal.get("C") == "42501",
          f"FATAL 42501 when the server reports client_encoding SJIS ({types}, {fatal})")
    check(b"Z" not in types, "no ReadyForQuery relayed after the change")
    check(wait_closed(s), "session closed")
    check("event=pinned_setting_changed" in st.rg_log(), "logged as pinned_setting_changed")


def test_pinned_settings_classifier_and_server_agree(st, cl):
    ok, s = raw_login(st.ep, st.token())[:2]
    check(ok == "ok", "raw login")
    for p in PINNED_PAYLOADS:
        make_victim(st)
        seen, err = query(s, p)
        ran_drop = not victim_exists(st)
        check(ran_drop == cl.sees_drop(p),
              f"{p!r}: server ran DROP={ran_drop}, classifier saw DROP={cl.sees_drop(p)} "
              f"({seen}, {err})")
    s.sendall(msg(b"X"))
    s.close()
    check(not st.ringgate_problems(), f"ringgate healthy ({st.ringgate_problems()[:5]})")


def main():
    with rgtest.ClientStack(direct=False) as st:
        cl = Classifier(st.rg.workdir)
        rgtest.run_tests([test_attacks_are_real_straight_to_postgres,
                          test_login_cannot_choose_the_lexing,
                          test_session_cannot_change_the_lexing,
                          test_function_changing_the_encoding_ends_the_session,
                          test_pinned_settings_classifier_and_server_agree], st, cl)


if __name__ == "__main__":
    main()
