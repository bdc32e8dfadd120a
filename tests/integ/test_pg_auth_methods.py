#!/usr/bin/env python3
"""How ringgate may authenticate to a target (issue #9 item 3; docs/config.md allowed_auth).

Against a real PostgreSQL 15: a target that asks for md5 or for the password in cleartext is
refused under the default allowed_auth (SCRAM only) and served when the config lists the
method. Against scripted targets: a target that lets ringgate in without any exchange is
refused by default, and one that starts SCRAM and then asks for md5 or cleartext never gets
the password, whatever allowed_auth says.
"""
import os
import socket
import struct
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from test_clients_bad_input import recv_exact  # noqa: E402
from pgfix import check  # noqa: E402

SECRET = "fake-target-secret-7f3a"


class ScriptedTarget:
    """A plaintext PostgreSQL look-alike that answers the StartupMessage with the auth
    requests of `script` and records every message ringgate sends after it."""

    def __init__(self, script):
        self.script = script
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.received = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _msg(self, c):
        t, n = struct.unpack("!cI", recv_exact(c, 5))
        return t, recv_exact(c, n - 4)

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                c.settimeout(10)
                n = struct.unpack("!I", recv_exact(c, 4))[0]
                recv_exact(c, n - 4)  # StartupMessage
                for step in self.script:
                    c.sendall(step)
                    if step[:1] == b"R" and struct.unpack("!I", step[5:9])[0] == 0:
                        break  # AuthenticationOk: nothing to wait for
                    self.received.append(self._msg(c))
                # whatever follows (ringgate should have hung up)
                while True:
                    self.received.append(self._msg(c))
            except (EOFError, OSError, struct.error):
                pass
            finally:
                c.close()

    def stop(self):
        self.sock.close()


def auth(code, extra=b""):
    return b"R" + struct.pack("!II", 8 + len(extra), code) + extra


SASL = auth(10, b"SCRAM-SHA-256\0\0")


def target(name, addr, user, env, allowed=None, database="rgtest"):
    t = {"name": name, "protocol": "postgres", "address": addr, "database": database,
         "user": user, "password_env": env, "tls": {"mode": "disable"}, "connect_timeout": "5s"}
    if allowed:
        t["allowed_auth"] = allowed
    return t


def login(rg, tok, name):
    return rgtest.run_psql("SELECT current_user", rg.env("agent-1", tok, database=name),
                           check=False)


def main():
    with rgtest.PgServer() as pg:
        pg.admin_psql("SET password_encryption = 'md5'; "
                      "CREATE ROLE md5user LOGIN PASSWORD 'md5-secret'; "
                      "SET password_encryption = 'scram-sha-256'; "
                      "CREATE ROLE pwuser LOGIN PASSWORD 'pw-secret'; "
                      f"GRANT CONNECT ON DATABASE {pg.database} TO md5user, pwuser")
        hba = os.path.join(pg.datadir, "pg_hba.conf")
        with open(hba) as f:
            lines = f.read()
        with open(hba, "w") as f:
            f.write("host all md5user 127.0.0.1/32 md5\n"
                    "host all pwuser 127.0.0.1/32 password\n" + lines)
        pg.admin_psql("SELECT pg_reload_conf()")

        fakes = {"scram_then_cleartext": ScriptedTarget([SASL, auth(3)]),
                 "scram_then_md5": ScriptedTarget([SASL, auth(5, b"salt")]),
                 "no_auth": ScriptedTarget([auth(0)]),
                 "cleartext": ScriptedTarget([auth(3)])}
        addr = f"{pg.host}:{pg.port}"
        targets = [
            target("md5def", addr, "md5user", "RG_MD5_PW", database=pg.database),
            target("md5ok", addr, "md5user", "RG_MD5_PW", ["md5"], database=pg.database),
            target("pwdef", addr, "pwuser", "RG_PW_PW", database=pg.database),
            target("pwok", addr, "pwuser", "RG_PW_PW", ["password"], database=pg.database),
            target("fake_cleartext", f"127.0.0.1:{fakes['cleartext'].port}", "u", "RG_FAKE_PW"),
            target("fake_no_auth", f"127.0.0.1:{fakes['no_auth'].port}", "u", "RG_FAKE_PW"),
            # even with every method allowed, no switch once SCRAM started
            target("fake_scram_ct", f"127.0.0.1:{fakes['scram_then_cleartext'].port}", "u",
                   "RG_FAKE_PW", ["scram-sha-256", "password", "md5"]),
            target("fake_scram_md5", f"127.0.0.1:{fakes['scram_then_md5'].port}", "u",
                   "RG_FAKE_PW", ["scram-sha-256", "password", "md5"]),
        ]
        iss = pgfix.Issuer()
        rg = pgfix.start(pg, iss, extra={"targets": targets},
                         env={"RG_MD5_PW": "md5-secret", "RG_PW_PW": "pw-secret",
                              "RG_FAKE_PW": SECRET})
        tok = iss.token()

        r = login(rg, tok, "md5def")
        check(r.returncode != 0 and pgfix.wait_log(rg, "target=md5def sub=agent-1 "
                                                   "reason=auth_not_allowed"),
              f"md5 target, default allowed_auth: refused ({r.stderr.strip()})")
        r = login(rg, tok, "md5ok")
        check(r.returncode == 0 and r.stdout.strip() == "md5user",
              f"allowed_auth [md5]: logged in ({r.stdout.strip()} {r.stderr.strip()})")
        r = login(rg, tok, "pwdef")
        check(r.returncode != 0 and pgfix.wait_log(rg, "target=pwdef sub=agent-1 "
                                                   "reason=auth_not_allowed"),
              "cleartext target, default allowed_auth: refused")
        r = login(rg, tok, "pwok")
        check(r.returncode == 0 and r.stdout.strip() == "pwuser",
              f"allowed_auth [password]: logged in ({r.stderr.strip()})")

        r = login(rg, tok, "fake_cleartext")
        check(r.returncode != 0, "scripted cleartext request refused by default")
        r = login(rg, tok, "fake_no_auth")
        check(r.returncode != 0 and pgfix.wait_log(rg, "target=fake_no_auth sub=agent-1 "
                                                   "reason=auth_not_allowed"),
              "a target that skips authentication is refused by default")
        for name, key in (("fake_scram_ct", "scram_then_cleartext"),
                          ("fake_scram_md5", "scram_then_md5")):
            r = login(rg, tok, name)
            check(r.returncode != 0 and pgfix.wait_log(rg, f"target={name} sub=agent-1 "
                                                       "reason=auth_downgrade"),
                  f"{key}: the switch after SCRAM started is refused (reason=auth_downgrade)")
        for key, f in fakes.items():
            sent = [t for t, _ in f.received]
            leaked = any(SECRET.encode() in b for _, b in f.received)
            check(not leaked and b"p" not in sent[1:],
                  f"{key}: the target never got the password ({sent})")
            f.stop()
        log = pgfix.log_text(rg)
        check(SECRET not in log and "md5-secret" not in log, "no password in the log")


if __name__ == "__main__":
    main()
