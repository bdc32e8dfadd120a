"""Log injection through values a token or a client chooses, against the real ringgate and a
real PostgreSQL 15: a token whose sub is "x\\nevent=auth_ok sub=admin", sent with a startup
user "u\\nevent=auth_ok sub=root", logs in (auth_ok, upstream_login, then a client reset:
session_end) and is refused by a target that is down (auth_ok, upstream_fail); an unknown
database name with a newline and a pair in it is refused (unknown_database). The log must
hold exactly the expected lines: every line an event=..., one key per line at most once,
the values escaped as one token (\\n, \\x20, \\x3d), no forged auth_ok line and no sub=admin
or sub=root pair anywhere."""

import os
import re
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402

EVIL_SUB = "x\nevent=auth_ok sub=admin"
EVIL_USER = "u\nevent=auth_ok sub=root"
SUB_LOGGED = "sub=x\\nevent\\x3dauth_ok\\x20sub\\x3dadmin"
USER_LOGGED = "user=u\\nevent\\x3dauth_ok\\x20sub\\x3droot"
# a logged-in agent's startup user is its token's sub (docs/pg.md)
SUB_AS_USER_LOGGED = "user=x\\nevent\\x3dauth_ok\\x20sub\\x3dadmin"


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connects are refused
    return port


def lines_of(rg, sess):
    return [ln for ln in pgfix.log_text(rg).splitlines() if f" sess={sess} " in ln + " "]


def main():
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        real = {"name": "appdb", "protocol": "postgres", "address": f"{pg.host}:{pg.port}",
                "database": pg.database, "user": pg.user,
                "password_file": "secrets/appdb.pw", "tls": {"mode": "disable"},
                "connect_timeout": "5s"}
        down = dict(real, name="down", address=f"127.0.0.1:{closed_port()}")
        rg = pgfix.start(pg, iss, extra={"targets": [real, down]})
        tok = iss.token(sub=EVIL_SUB)

        # 1. logged in, then reset by the client: auth_ok, upstream_login, session_end
        raw = pgfix.Raw(rg.host, rg.port)
        msgs, ok = raw.login(tok, "appdb", user=EVIL_SUB)
        check(ok, "the token with a newline in its sub logs in")
        raw.send(pgfix.query_msg("SELECT 1"))
        msgs, ok = raw.until_ready()
        check(ok, "and runs a query")
        raw.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
        check(pgfix.wait_log(rg, "event=session_end"), "session_end logged")

        # 2. the target is down: auth_ok, upstream_fail
        raw = pgfix.Raw(rg.host, rg.port)
        msgs, ok = raw.login(tok, "down", user=EVIL_SUB)
        errs = [pgfix.error_fields(b) for t, b in msgs if t == b"E"]
        check(not ok and errs and errs[-1].get("C") == "08006", "target down: 08006")
        raw.close()
        check(pgfix.wait_log(rg, "event=upstream_fail"), "upstream_fail logged")

        # 3. an unknown database whose name carries a line and a pair
        raw = pgfix.Raw(rg.host, rg.port)
        msgs, ok = raw.login(tok, "nope\nevent=auth_ok sub=db", user=EVIL_USER)
        errs = [pgfix.error_fields(b) for t, b in msgs if t == b"E"]
        check(not ok and errs and errs[0].get("C") == "3D000",
              "unknown database: 3D000 once the token verified")
        raw.close()
        check(pgfix.wait_log(rg, "event=unknown_database"), "unknown_database logged")
        time.sleep(0.2)

        log = pgfix.log_text(rg)
        lines = log.splitlines()
        other = [ln for ln in lines if not ln.startswith("event=")]
        check(not other, f"every log line is an event line ({other[:3]})")
        dup = []
        for ln in lines:
            keys = re.findall(r"(?:^| )([a-z_]+)=", ln)
            if len(keys) != len(set(keys)):
                dup.append(ln)
        check(not dup, f"no key twice on a line ({dup[:2]})")
        check(not re.search(r"(^| )sub=(admin|root|db)( |$)", log, re.M),
              "no forged sub=admin / sub=root / sub=db pair")
        auth_ok = [ln for ln in lines if ln.startswith("event=auth_ok ")]
        check(len(auth_ok) == 2 and all(SUB_LOGGED in ln and SUB_AS_USER_LOGGED in ln
                                        for ln in auth_ok),
              f"exactly two auth_ok lines, sub and user escaped ({auth_ok})")
        sess = [re.search(r" sess=(\d+) ", ln).group(1) for ln in auth_ok]
        events = [[ln.split()[0] for ln in lines_of(rg, s)] for s in sess]
        check(events[0] == ["event=auth_ok", "event=upstream_login", "event=session_end"],
              f"logged-in session: auth_ok, upstream_login, session_end ({events[0]})")
        check(events[1] == ["event=auth_ok", "event=upstream_fail"],
              f"target down: auth_ok, upstream_fail ({events[1]})")
        for s in sess:
            for ln in lines_of(rg, s):
                if ln.split()[0] in ("event=auth_ok", "event=upstream_fail",
                                     "event=session_end"):
                    check(SUB_LOGGED in ln, f"{ln.split()[0]}: sub escaped ({ln})")
        unk = [ln for ln in lines if ln.startswith("event=unknown_database ")]
        check(len(unk) == 1 and "database=nope\\nevent\\x3dauth_ok\\x20sub\\x3ddb" in unk[0]
              and USER_LOGGED in unk[0], f"unknown_database: database and user escaped ({unk})")
        check(rg.proc.poll() is None, "ringgate still running")
        # a client that ends cleanly (Terminate) has its end logged too
        plain = iss.token(sub="agent-9")
        rgtest.run_psql("SELECT 1", rg.env("agent-9", plain, "appdb"))
        check(pgfix.wait_log(rg, "sub=agent-9 target=appdb reason="),
              "a session ended by Terminate: session_end logged")
        reports = rgtest.sanitizer_reports(log)
        check(not reports, f"no sanitizer report ({reports[:3]})")
        check(rg.stop() == 0, "clean exit")


if __name__ == "__main__":
    main()
