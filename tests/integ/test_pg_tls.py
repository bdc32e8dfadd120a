"""TLS on both sides of ringgate's PostgreSQL gateway, against a real PostgreSQL 15 with ssl=on:
psql and psycopg2 with sslmode=verify-full against the listener's certificate (issued by a
test CA for 127.0.0.1 / localhost); a plaintext client still works; bytes pipelined after an
SSLRequest are refused; the target is reached with tls verify-full (CA + server_name) and
with require, and the server confirms the connection is encrypted; a wrong server_name
fails the upstream handshake with a generic 08006 for the client and an event=upstream_fail
reason=tls log line; cancel works with a TLS target. ringgate logs in to a TLS target with
SCRAM-SHA-256-PLUS (channel binding tls-server-end-point, which PostgreSQL checks against its
own certificate: a wrong hash fails the login) and to the same server without TLS with plain
SCRAM-SHA-256, and says which in its event=upstream_login line. tls.channel_binding:
require binds too, disable logs in over TLS unbound (gs2 "n,,"); against a fake TLS target
that offers only SCRAM-SHA-256, prefer sends "y,," and require refuses without answering."""

import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from test_clients_bad_input import recv_exact  # noqa: E402
from pgfix import check  # noqa: E402

psycopg2 = rgtest.require_psycopg2()


def sh(*argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{argv}: {r.stderr}")


class Certs:
    """A test CA and one server certificate for 127.0.0.1 and localhost."""

    def __init__(self):
        if not shutil.which("openssl"):
            rgtest.skip("openssl command not found (needed to generate test certificates)")
        self.dir = tempfile.mkdtemp(prefix="rgtest-tls-")
        rgtest._register(self)
        os.chmod(self.dir, 0o755)
        d = self.dir
        self.ca = os.path.join(d, "ca.crt")
        self.cert = os.path.join(d, "server.crt")
        self.key = os.path.join(d, "server.key")
        cakey = os.path.join(d, "ca.key")
        csr = os.path.join(d, "server.csr")
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\n")
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", cakey, "-out", self.ca, "-days", "2", "-subj", "/CN=rgtest CA")
        sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", self.key, "-out", csr, "-subj", "/CN=localhost")
        sh("openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", cakey,
           "-CAcreateserial", "-out", self.cert, "-days", "2", "-extfile", ext)
        os.chmod(self.key, 0o640)
        if os.geteuid() == 0:  # PostgreSQL runs as `postgres`: let it read the key
            import grp
            try:
                os.chown(self.key, 0, grp.getgrnam("postgres").gr_gid)
            except KeyError:
                pass

    def stop(self):
        rgtest._unregister(self)
        shutil.rmtree(self.dir, ignore_errors=True)


def target(pg, tls, name="appdb"):
    return {"name": name, "protocol": "postgres", "address": f"{pg.host}:{pg.port}",
            "database": pg.database, "user": pg.user,
            "password_file": f"secrets/{name}.pw", "tls": tls, "connect_timeout": "5s"}


def upstream_mech(rg, target):
    """The mech= of the latest event=upstream_login line for target, or None."""
    found = re.findall(rf"event=upstream_login sess=\d+ target={re.escape(target)} role=\S+ "
                       r"tls=(\w+) mech=(\S+)", pgfix.log_text(rg))
    return found[-1] if found else None


class FakeTarget:
    """A TLS 'PostgreSQL' that offers only SCRAM-SHA-256 (no -PLUS) and records each
    SASLInitialResponse as (mechanism, client-first) -- or None when the client hung up
    instead of answering -- then refuses the login."""

    def __init__(self, certs):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certs.cert, certs.key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                c.settimeout(10)
                recv_exact(c, 8)  # SSLRequest
                c.sendall(b"S")
                c = self.ctx.wrap_socket(c, server_side=True)
                n = struct.unpack("!I", recv_exact(c, 4))[0]
                recv_exact(c, n - 4)  # StartupMessage
                mechs = b"SCRAM-SHA-256\0\0"
                c.sendall(b"R" + struct.pack("!II", 8 + len(mechs), 10) + mechs)
                try:
                    t, n = struct.unpack("!cI", recv_exact(c, 5))
                    body = recv_exact(c, n - 4)
                except (EOFError, OSError):
                    self.seen.append(None)
                    continue
                mech, rest = body.split(b"\0", 1)
                self.seen.append((mech.decode(), rest[4:].decode()))
                err = b"SFATAL\0C28P01\0Mfake target\0\0"
                c.sendall(b"E" + struct.pack("!I", 4 + len(err)) + err)
            except (EOFError, OSError, ssl.SSLError):
                pass
            finally:
                c.close()

    def stop(self):
        self.sock.close()


def listener(certs):
    return {"name": "pg", "address": f"127.0.0.1:{rgtest.free_port()}", "protocol": "postgres",
            "tls": {"cert": certs.cert, "key": certs.key}}


def main():
    certs = Certs()
    settings = {"ssl": "on", "ssl_cert_file": f"'{certs.cert}'",
                "ssl_key_file": f"'{certs.key}'"}
    with rgtest.PgServer(settings=settings) as pg:
        iss = pgfix.Issuer()
        tok = iss.token()
        optional = listener(certs)  # a second listener where TLS is offered, not required
        optional["name"] = "pg-optional-tls"
        optional["tls"]["require"] = False
        extra = {"listeners": [listener(certs), optional],
                 "targets": [target(pg, {"mode": "verify-full", "ca": certs.ca,
                                         "server_name": "localhost"})]}
        rg = pgfix.start(pg, iss, extra=extra, threads=2)

        env = rg.env("agent-1", tok)
        env.update({"PGSSLMODE": "verify-full", "PGSSLROOTCERT": certs.ca})
        r = rgtest.run_psql("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", env)
        check(r.stdout.strip() == "t", "psql verify-full to ringgate; ringgate->target is TLS")
        check(upstream_mech(rg, "appdb") == ("yes", "SCRAM-SHA-256-PLUS"),
              "verify-full target: logged in with SCRAM-SHA-256-PLUS (channel binding)")
        env["PGHOST"] = "localhost"
        r = rgtest.run_psql("SELECT 6 * 7", env)
        check(r.stdout.strip() == "42", "psql verify-full by host name")
        r = rgtest.run_psql("SELECT 1", dict(env, PGSSLMODE="disable"), check=False)
        check(r.returncode != 0 and "requires TLS" in r.stderr,
              "a plaintext login is refused: the token never crosses in clear")
        check("event=tls_required" in rg.log_tail(200), "...and the refusal is logged")
        opt_port = optional["address"].rsplit(":", 1)[1]
        r = rgtest.run_psql("SELECT 1", dict(env, PGSSLMODE="disable", PGPORT=opt_port))
        check(r.stdout.strip() == "1", "tls.require: false accepts a plaintext client")
        wrong = tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False)
        wrong.write(open(certs.cert).read())  # not the CA: verification must fail
        wrong.close()
        r = rgtest.run_psql("SELECT 1", dict(env, PGSSLROOTCERT=wrong.name), check=False)
        os.unlink(wrong.name)
        check(r.returncode != 0 and "certificate" in r.stderr,
              "psql verify-full with the wrong root is refused by the client")

        conn = pgfix.connect(rg, tok, sslmode="verify-full", sslrootcert=certs.ca)
        cur = conn.cursor()
        cur.execute("SELECT repeat('x', 5000000)")
        check(len(cur.fetchone()[0]) == 5000000, "5 MB row through TLS on both sides")
        t = threading.Timer(0.5, conn.cancel)
        t.start()
        try:
            cur.execute("SELECT pg_sleep(30)")
            check(False, "cancel with a TLS target")
        except psycopg2.extensions.QueryCanceledError:
            check(True, "cancel with a TLS target")
        t.join()
        conn.rollback()
        conn.close()

        raw = pgfix.Raw(rg.host, rg.port)
        raw.send(struct.pack("!II", 8, 80877103) + pgfix.startup_packet({"user": "x"}))
        data = raw.s.recv(100)
        check(not data.startswith(b"S"), "plaintext pipelined after SSLRequest is refused")
        check(raw.at_eof(), "...and the connection is closed")
        raw.close()
        log = pgfix.log_text(rg)
        check(pg.password not in log and tok not in log, "no secret in the log")
        check(rg.stop() == 0, "clean exit")

        # require (no verification), and a failing verify-full whose password comes from
        # the environment (password_env)
        bad = target(pg, {"mode": "verify-full", "ca": certs.ca, "server_name": "db.example"},
                     name="badname")
        del bad["password_file"]
        bad["password_env"] = "RGTEST_TARGET_PW"
        plain = target(pg, {"mode": "disable"}, name="plain")
        cbreq = target(pg, {"mode": "require", "channel_binding": "require"}, name="cbreq")
        cboff = target(pg, {"mode": "require", "channel_binding": "disable"}, name="cboff")
        fake = FakeTarget(certs)
        fakepref = target(pg, {"mode": "require", "channel_binding": "prefer"}, name="fakepref")
        fakereq = target(pg, {"mode": "require", "channel_binding": "require"}, name="fakereq")
        # issue #9 item 3: mode require proves nothing about the certificate, so binding is
        # required by default there
        fakedef = target(pg, {"mode": "require"}, name="fakedef")
        for t in (fakepref, fakereq, fakedef):
            t["address"] = f"127.0.0.1:{fake.port}"
        for t in (plain, cbreq, cboff, fakepref, fakereq, fakedef):
            t["password_file"] = "secrets/appdb.pw"
        extra = {"targets": [target(pg, {"mode": "require"}), bad, plain, cbreq, cboff,
                             fakepref, fakereq, fakedef]}
        rg = rgtest.Ringgate(pg, identity=iss.identity(), extra=extra,
                             env={"RGTEST_TARGET_PW": pg.password})
        rg.start()
        r = rgtest.run_psql("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                            rg.env("agent-1", tok))
        check(r.stdout.strip() == "t", "target tls require: encrypted")
        check(upstream_mech(rg, "appdb") == ("yes", "SCRAM-SHA-256-PLUS"),
              "require target (certificate not verified): still bound to it with -PLUS")
        r = rgtest.run_psql("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                            rg.env("agent-1", tok, database="plain"))
        check(r.stdout.strip() == "f", "target tls disable: not encrypted")
        check(upstream_mech(rg, "plain") == ("no", "SCRAM-SHA-256"),
              "tls disable target: plain SCRAM-SHA-256 (gs2 header n,,)")
        rgtest.run_psql("SELECT 1", rg.env("agent-1", tok, database="cbreq"))
        check(upstream_mech(rg, "cbreq") == ("yes", "SCRAM-SHA-256-PLUS"),
              "channel_binding: require against PostgreSQL: -PLUS")
        rgtest.run_psql("SELECT 1", rg.env("agent-1", tok, database="cboff"))
        check(upstream_mech(rg, "cboff") == ("yes", "SCRAM-SHA-256"),
              "channel_binding: disable: plain SCRAM over TLS (n,,, which PostgreSQL accepts)")
        r = rgtest.run_psql("SELECT 1", rg.env("agent-1", tok, database="fakepref"), check=False)
        check(r.returncode != 0 and fake.seen and fake.seen[-1] is not None
              and fake.seen[-1][0] == "SCRAM-SHA-256" and fake.seen[-1][1].startswith("y,,n="),
              f"TLS target without -PLUS: SCRAM-SHA-256 with gs2 header y,, ({fake.seen})")
        n = len(fake.seen)
        r = rgtest.run_psql("SELECT 1", rg.env("agent-1", tok, database="fakereq"), check=False)
        check(r.returncode != 0 and "could not connect to the target database" in r.stderr,
              "channel_binding: require, no -PLUS offered: the login fails")
        check(pgfix.wait_log(rg, "target=fakereq sub=agent-1 reason=channel_binding"),
              "...logged as reason=channel_binding")
        deadline = time.monotonic() + 10
        while len(fake.seen) == n and time.monotonic() < deadline:
            time.sleep(0.05)
        check(len(fake.seen) == n + 1 and fake.seen[-1] is None,
              f"...and ringgate hung up instead of answering ({fake.seen[n:]})")
        r = rgtest.run_psql("SELECT 1", rg.env("agent-1", tok, database="fakedef"), check=False)
        check(r.returncode != 0 and pgfix.wait_log(rg, "target=fakedef sub=agent-1 "
                                                   "reason=channel_binding"),
              "mode require without channel_binding: binding required by default, the relay "
              "that offers no -PLUS cannot log in")
        fake.stop()
        r = rgtest.run_psql("SELECT 1", rg.env("agent-1", tok, database="badname"), check=False)
        check(r.returncode != 0 and "could not connect to the target database" in r.stderr,
              "verify-full with a wrong server_name: generic error for the client")
        check(pgfix.wait_log(rg, "reason=tls"), "upstream TLS failure logged")
        log = pgfix.log_text(rg)
        check("certificate verify failed" in log or "verify" in log, "log names the verify error")
        check(pg.password not in log, "no password in the log")
        check(rg.stop() == 0, "clean exit")


if __name__ == "__main__":
    main()
