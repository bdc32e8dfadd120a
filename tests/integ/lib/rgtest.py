"""rgtest: the shared harness for ringgate's integration tests (python3 stdlib + psycopg2).

Owns the lifecycle of everything an integration test starts: a real PostgreSQL 15 server
in a fresh temp dir on a free 127.0.0.1 port (PgServer), helpers that run psql and pgbench
against it, the ringgate config file for that server and the ringgate process (Ringgate).
Invariants: every process a test starts is stopped and every temp dir removed when the test
exits -- normally, by an exception, by SIGTERM/SIGINT, and even by SIGKILL (a watchdog
process notices the test is gone and cleans up). Skips exit 77 with a reason on stderr;
nothing is skipped silently. Never touches anything outside its temp dirs.

Environment: RG_SRC (source tree), RG_BUILD (build tree holding engine/ringgate),
RG_PG_BIN (PostgreSQL binaries, default /usr/lib/postgresql/15/bin), RG_KEEP=1 keeps temp
dirs for post-mortem (processes are still stopped).
"""

import atexit
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
RG_SRC = os.environ.get("RG_SRC") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
RG_BUILD = os.environ.get("RG_BUILD") or os.path.join(RG_SRC, "build", "asan")
PG_BIN = os.environ.get("RG_PG_BIN", "/usr/lib/postgresql/15/bin")
KEEP = os.environ.get("RG_KEEP") == "1"


def log(*args):
    print("[rgtest]", *args, file=sys.stderr, flush=True)


def skip(reason):
    """Skip the whole test: ctest counts exit code 77 as skipped (SKIP_RETURN_CODE)."""
    print(f"SKIP: {reason}", file=sys.stderr, flush=True)
    _cleanup_all()
    os._exit(SKIP)


def require_psycopg2():
    """Import psycopg2 or skip, naming the interpreter that lacks it."""
    try:
        import psycopg2  # noqa: F401
        return psycopg2
    except ImportError:
        skip(f"psycopg2 is not importable by {sys.executable} "
             "(install python3-psycopg2, or run with /usr/bin/python3)")


_ports_given = set()


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago. Racy by nature: starters retry on bind errors.

    The kernel may hand the same ephemeral port to two binds in a row once the first socket
    is closed, so a port this process already gave out is never given again (a listener and
    an admin address drawn one after the other once came out equal)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(64):
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("free_port: no fresh port in 64 tries")


def wait_port(host, port, timeout=30.0, proc=None):
    """Wait until host:port accepts TCP connections; fail early if proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before "
                               f"listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def pid_alive(pid):
    """True while pid runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def client_env(host, port, user, database, password=None, **extra):
    """A clean libpq environment (inherited PG* variables dropped) for psql, pgbench and
    psycopg2; host may be a unix socket directory."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    e.update({"PGHOST": host, "PGPORT": str(port), "PGUSER": user, "PGDATABASE": database,
              "PGSSLMODE": "disable", "PGCONNECT_TIMEOUT": "10", "PGAPPNAME": "rgtest"})
    if password is not None:
        e["PGPASSWORD"] = password
    e.update({k: str(v) for k, v in extra.items()})
    return e


def run_psql(sql, env, check=True, args=(), timeout=120):
    """psql -X -w -A -t -v ON_ERROR_STOP=1 [args] -c sql; returns CompletedProcess."""
    r = subprocess.run(
        ["psql", "-X", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1", *args, "-c", sql],
        env=env, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"psql failed ({r.returncode}): {sql}\n{r.stderr}")
    return r


def run_pgbench(args, env, check=True, timeout=600):
    """pgbench [args] with env; returns CompletedProcess."""
    r = subprocess.run(["pgbench", *args], env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"pgbench failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r


# ---- cleanup registry ------------------------------------------------------------------------

_live = []          # objects with a stop() method, stopped in reverse order at exit
_handlers_installed = False


def _cleanup_all():
    while _live:
        obj = _live.pop()
        try:
            obj.stop()
        except Exception as e:  # keep cleaning the rest
            log(f"cleanup of {obj!r} failed: {e}")


def _on_signal(signum, frame):
    log(f"signal {signum}: cleaning up")
    _cleanup_all()
    os._exit(128 + signum)


def _register(obj):
    global _handlers_installed
    if not _handlers_installed:
        atexit.register(_cleanup_all)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, _on_signal)
        _handlers_installed = True
    _live.append(obj)


def _unregister(obj):
    if obj in _live:
        _live.remove(obj)


# The watchdog outlives a SIGKILLed test: it blocks reading a pipe whose only writer is the
# test process. "ok" before EOF means the test cleaned up itself; a bare EOF means the test
# died, so the watchdog runs the cleanup commands, kills the listed processes (only if the
# pid still names the same process: its start time is checked) and removes the dirs.
_WATCHDOG = r"""
import json, os, shutil, subprocess, sys
plan = json.loads(sys.argv[1])
if sys.stdin.buffer.read() == b"ok":
    sys.exit(0)
for cmd in plan["cmds"]:
    try:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    except Exception:
        pass
for pid, start in plan["pids"]:
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[19] == start:
                os.kill(pid, 9)
    except (OSError, IndexError):
        pass
for d in plan["dirs"]:
    shutil.rmtree(d, ignore_errors=True)
"""


def _start_time(pid):
    """Field 22 of /proc/pid/stat: with the pid, it names one process for its lifetime."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class _Watchdog:
    def __init__(self, cmds=(), pids=(), dirs=()):
        r, w = os.pipe()
        plan = json.dumps({"cmds": list(cmds),
                           "pids": [[p, _start_time(p)] for p in pids],
                           "dirs": [] if KEEP else list(dirs)})
        self.proc = subprocess.Popen([sys.executable, "-c", _WATCHDOG, plan], stdin=r,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        os.close(r)
        self._w = w

    def disarm(self):
        """The owner cleaned up: tell the watchdog so, and let it exit."""
        if self._w is not None:
            try:
                os.write(self._w, b"ok")
            finally:
                os.close(self._w)
                self._w = None
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- PostgreSQL ------------------------------------------------------------------------------

FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "64MB",
    "max_connections": "200",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "log_connections": "off",
    "autovacuum": "off",
    "jit": "off",
    "password_encryption": "scram-sha-256",
    "ssl": "off",
}


class PgServer:
    """A throwaway PostgreSQL 15: TCP on 127.0.0.1:port with scram-sha-256 passwords, a unix
    socket in its own dir with trust for the superuser, one login role and one database
    owned by it. Use as a context manager or call start()/stop(); stop() is also run at exit.

    Attributes after start(): host, port, socket_dir, socket_path, user, password, database,
    superuser, base (temp dir), datadir, logfile.
    """

    def __init__(self, user="rgtest", database="rgtest", password=None, settings=None):
        self.user = user
        self.database = database
        self.password = password or secrets.token_urlsafe(18)
        self.superuser = "postgres"
        self.settings = dict(FAST_SETTINGS)
        self.settings.update(settings or {})
        self.host = "127.0.0.1"
        self.port = None
        self.base = None
        self._as_postgres = os.geteuid() == 0
        self._watchdog = None
        self._running = False

    def __repr__(self):
        return f"PgServer({self.host}:{self.port}, {self.base})"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- paths and environment

    @property
    def datadir(self):
        return os.path.join(self.base, "data")

    @property
    def socket_dir(self):
        return os.path.join(self.base, "sock")

    @property
    def socket_path(self):
        """The unix socket file itself (what a ringgate target address names)."""
        return os.path.join(self.socket_dir, f".s.PGSQL.{self.port}")

    @property
    def logfile(self):
        return os.path.join(self.base, "postgres.log")

    def _bin(self, name):
        return os.path.join(PG_BIN, name)

    def _server_cmd(self, argv):
        """PostgreSQL refuses to run as root: run server-side tools as `postgres` then."""
        if self._as_postgres:
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    def env(self, user=None, password=None, database=None, tcp=True):
        """Environment for libpq clients: TCP with the role's password (or the one given),
        or tcp=False: the unix socket, as the superuser by default, no password."""
        if tcp:
            return client_env(self.host, self.port, user or self.user,
                              database or self.database,
                              self.password if password is None else password)
        return client_env(self.socket_dir, self.port, user or self.superuser,
                          database or self.database, password)

    def dsn(self, user=None, password=None, database=None):
        return (f"host={self.host} port={self.port} user={user or self.user} "
                f"dbname={database or self.database} "
                f"password={self.password if password is None else password} "
                "sslmode=disable connect_timeout=10")

    # -- lifecycle

    def start(self, attempts=3):
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not os.access(self._bin(tool), os.X_OK):
                skip(f"PostgreSQL binary {self._bin(tool)} not found (set RG_PG_BIN)")
        if self._as_postgres:
            if not shutil.which("runuser"):
                skip("running as root but runuser is missing (PostgreSQL refuses root)")
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                skip("running as root but there is no `postgres` user to run PostgreSQL")
        self.base = tempfile.mkdtemp(prefix="rgtest-pg-")
        _register(self)
        self._watchdog = _Watchdog(
            cmds=[self._server_cmd([self._bin("pg_ctl"), "-D", self.datadir, "-m",
                                    "immediate", "-w", "stop"])],
            dirs=[self.base])
        if self._as_postgres:
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
        os.mkdir(self.socket_dir, 0o700)
        if self._as_postgres:
            os.chown(self.socket_dir, pw.pw_uid, pw.pw_gid)
        self._initdb()
        last = None
        for _ in range(attempts):
            self.port = free_port(self.host)
            self._write_conf()
            r = subprocess.run(self._server_cmd(
                [self._bin("pg_ctl"), "-D", self.datadir, "-l", self.logfile, "-w", "-t",
                 "60", "start"]), capture_output=True, text=True)
            if r.returncode == 0:
                self._running = True
                break
            last = r.stdout + r.stderr + self.log_tail()
            if "could not bind" not in last and "already in use" not in last:
                break
        if not self._running:
            raise RuntimeError(f"PostgreSQL did not start:\n{last}")
        self._create_role_and_db()
        return self

    def _initdb(self):
        r = subprocess.run(self._server_cmd(
            [self._bin("initdb"), "-D", self.datadir, "-U", self.superuser, "-E", "UTF8",
             "--locale=C", "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256"]),
            capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{r.stdout}{r.stderr}")

    def _write_conf(self):
        conf = dict(self.settings)
        conf.update({
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
        })
        path = os.path.join(self.datadir, "postgresql.auto.conf")
        with open(path, "w") as f:
            f.write("# written by tests/integ/lib/rgtest.py\n")
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.datadir, "pg_hba.conf"), "w") as f:
            f.write("# written by tests/integ/lib/rgtest.py: trust only on the private socket\n"
                    "local all all trust\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n")

    def _create_role_and_db(self):
        # The password is token_urlsafe: no quote can end the literal.
        self.admin_psql(f"CREATE ROLE \"{self.user}\" LOGIN PASSWORD '{self.password}'")
        self.admin_psql(f"CREATE DATABASE \"{self.database}\" OWNER \"{self.user}\"")

    def stop(self):
        _unregister(self)
        if self.base is None:
            return
        if self._running:
            r = subprocess.run(self._server_cmd(
                [self._bin("pg_ctl"), "-D", self.datadir, "-m", "fast", "-w", "-t", "30",
                 "stop"]), capture_output=True, text=True)
            if r.returncode != 0:
                subprocess.run(self._server_cmd(
                    [self._bin("pg_ctl"), "-D", self.datadir, "-m", "immediate", "-w",
                     "stop"]), capture_output=True)
            self._running = False
        if self._watchdog:
            self._watchdog.disarm()
            self._watchdog = None
        if KEEP:
            log(f"RG_KEEP=1: keeping {self.base}")
        else:
            shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def log_tail(self, n=40):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # -- clients

    def admin_psql(self, sql, database="postgres"):
        """Run sql as the superuser over the unix socket; raises on error."""
        return self.psql(sql, tcp=False, user=self.superuser, database=database)

    def psql(self, sql, user=None, password=None, database=None, tcp=True, check=True,
             args=()):
        """psql -c sql with unaligned tuples-only output; returns CompletedProcess."""
        return run_psql(sql, self.env(user=user, password=password, database=database,
                                      tcp=tcp), check=check, args=args)

    def pgbench(self, args, user=None, password=None, database=None, check=True,
                timeout=600):
        """pgbench with the given args against this server over TCP."""
        return run_pgbench(args, self.env(user=user, password=password, database=database),
                           check=check, timeout=timeout)

    def connect(self, **kw):
        """A psycopg2 connection over TCP with password auth (kwargs override the DSN)."""
        psycopg2 = require_psycopg2()
        params = {"host": self.host, "port": self.port, "user": self.user,
                  "dbname": self.database, "password": self.password,
                  "sslmode": "disable", "connect_timeout": 10}
        params.update(kw)
        return psycopg2.connect(**params)


# ---- ringgate --------------------------------------------------------------------------------
#
# Written against the config schema in docs/config.md (which engine/config parses and its unit
# tests pin) and the binary's interface, both exercised by the integration tests:
#   - it is ${RG_BUILD}/engine/ringgate (or $RG_RINGGATE);
#   - it takes the config file as `--config PATH`, runs in the foreground, and exits 0 on SIGTERM.

def ringgate_binary():
    return os.environ.get("RG_RINGGATE") or os.path.join(RG_BUILD, "engine", "ringgate")


def to_yaml(obj, indent=0):
    """Minimal YAML emitter for config dicts: block mappings and sequences; strings as JSON
    double-quoted scalars (valid YAML), ints and bools plain."""
    pad = "  " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{k}:")
                out.append(to_yaml(v, indent + 1))
            else:
                out.append(f"{pad}{k}: {_scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 1).split("\n")
                out.append(f"{pad}- {body[0].lstrip()}")
                out.extend(body[1:])
            else:
                out.append(f"{pad}- {_scalar(item)}")
    else:
        out.append(pad + _scalar(obj))
    return "\n".join(out)


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict) and not v:
        return "{}"
    if isinstance(v, list) and not v:
        return "[]"
    return json.dumps(str(v))


def ringgate_config(pg, workdir, target="appdb", listen_port=None, admin_port=None,
                    via_socket=False, threads=1, identity=None, policy=None, extra=None):
    """Build the config dict for a ringgate in front of pg. The target's password goes into
    workdir/secrets/<target>.pw (mode 0600) and is referenced relative to the config file,
    which also exercises relative path resolution. identity/policy are config sections
    (dicts) copied as given; extra is merged into the top level last."""
    secrets_dir = os.path.join(workdir, "secrets")
    os.makedirs(secrets_dir, exist_ok=True)
    pwfile = os.path.join(secrets_dir, f"{target}.pw")
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(pg.password + "\n")
    cfg = {
        "version": 1,
        "threads": threads,
        "state_dir": "state",
        "listeners": [{
            "name": "pg",
            "address": f"127.0.0.1:{listen_port or free_port()}",
            "protocol": "postgres",
        }],
        "admin": {"address": f"127.0.0.1:{admin_port or free_port()}"},
        "targets": [{
            "name": target,
            "protocol": "postgres",
            "address": pg.socket_path if via_socket else f"{pg.host}:{pg.port}",
            "database": pg.database,
            "user": pg.user,
            "password_file": f"secrets/{target}.pw",
            "tls": {"mode": "disable"},
            "connect_timeout": "5s",
            # pg_hba trusts the private socket: no authentication there, explicitly allowed
            **({"allowed_auth": ["scram-sha-256", "none"]} if via_socket else {}),
        }],
        "limits": {"idle_timeout": "1h", "max_sessions": 10000},
    }
    if identity is not None:
        cfg["identity"] = identity
    if policy is not None:
        cfg["policy"] = policy
    cfg.update(extra or {})
    return cfg


def config_checker():
    """Path of rg_config_check (tests/integ/config_check.c), or None when not built."""
    p = os.path.join(RG_BUILD, "tests", "integ", "rg_config_check")
    return p if os.access(p, os.X_OK) else None


def check_config(path):
    """Validate a config file with the real parser. Returns (ok, errors), or (None, reason)
    when rg_config_check is not built."""
    tool = config_checker()
    if tool is None:
        return None, "rg_config_check not built"
    r = subprocess.run([tool, path], capture_output=True, text=True, timeout=30)
    return r.returncode == 0, r.stderr


def write_ringgate_config(pg, workdir, validate=True, **kw):
    """Write workdir/ringgate.yaml for pg (see ringgate_config); returns (path, cfg dict).
    With validate (and rg_config_check built), a config the parser rejects raises."""
    os.makedirs(os.path.join(workdir, "state"), exist_ok=True)
    cfg = ringgate_config(pg, workdir, **kw)
    path = os.path.join(workdir, "ringgate.yaml")
    with open(path, "w") as f:
        f.write("# written by tests/integ/lib/rgtest.py\n" + to_yaml(cfg) + "\n")
    if validate:
        ok, errors = check_config(path)
        if ok is False:
            raise ValueError(f"rgtest wrote an invalid ringgate config {path}:\n{errors}")
    return path, cfg


def _split_addr(addr):
    host, port = addr.rsplit(":", 1)
    return host.strip("[]"), int(port)


class Ringgate:
    """A ringgate process in front of a PgServer (interface notes above).

    Use as a context manager or start()/stop(). binary defaults to ringgate_binary();
    argv(binary, config_path) builds the command line; other keywords go to ringgate_config.
    After start(): config_path, config (dict), host/port (the postgres listener), admin_port,
    workdir, logfile, proc.
    """

    def __init__(self, pg, binary=None, argv=None, env=None, startup_timeout=30.0,
                 **config_kw):
        self.pg = pg
        self.binary = binary
        self.config_kw = config_kw
        self.extra_env = env or {}
        self.argv_fn = argv or (lambda binary, config: [binary, "--config", config])
        self.startup_timeout = startup_timeout
        self.proc = None
        self.workdir = None
        self._watchdog = None

    def __repr__(self):
        return f"Ringgate({self.workdir})"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        binary = self.binary or ringgate_binary()
        if not os.access(binary, os.X_OK):
            skip(f"ringgate binary {binary} not built (set RG_BUILD or RG_RINGGATE)")
        self.workdir = tempfile.mkdtemp(prefix="rgtest-rg-")
        _register(self)
        self.config_path, self.config = write_ringgate_config(self.pg, self.workdir,
                                                              **self.config_kw)
        self.host, self.port = _split_addr(self.config["listeners"][0]["address"])
        self.admin_port = _split_addr(self.config["admin"]["address"])[1]
        self.logfile = os.path.join(self.workdir, "ringgate.log")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        env.update(self.extra_env)
        with open(self.logfile, "wb") as logf:
            self.proc = subprocess.Popen(self.argv_fn(binary, self.config_path),
                                         stdout=logf, stderr=subprocess.STDOUT, env=env,
                                         cwd=self.workdir)
        self._watchdog = _Watchdog(pids=[self.proc.pid], dirs=[self.workdir])
        try:
            wait_port(self.host, self.port, self.startup_timeout, self.proc)
            # the admin listener starts after the engine: tests that talk to it (approvals,
            # /metrics) must not race it (a stand-in binary of a harness test has none)
            if self.binary is None and self.config.get("admin", {}).get("address"):
                ahost = _split_addr(self.config["admin"]["address"])[0]
                wait_port(ahost, self.admin_port, self.startup_timeout, self.proc)
        except Exception as e:
            raise RuntimeError(f"ringgate did not start: {e}\n{self.log_tail()}") from None
        return self

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout. Returns the exit code (None if not started)."""
        _unregister(self)
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    log("ringgate ignored SIGTERM; killing")
                    self.proc.kill()
                    self.proc.wait()
            rc = self.proc.returncode
            self.proc = None
        if self._watchdog:
            self._watchdog.disarm()
            self._watchdog = None
        if self.workdir:
            if KEEP:
                log(f"RG_KEEP=1: keeping {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        return rc

    def log_tail(self, n=60):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except (OSError, TypeError):
            return ""

    def env(self, user, password, database=None):
        """libpq environment for psql/pgbench going through ringgate to the target (the
        startup `database` field names the target)."""
        return client_env(self.host, self.port, user,
                          database or self.config["targets"][0]["name"], password)

    def dsn(self, user, password, database=None):
        """libpq DSN for a client connecting through ringgate to the target."""
        return (f"host={self.host} port={self.port} user={user} password={password} "
                f"dbname={database or self.config['targets'][0]['name']} "
                "sslmode=disable connect_timeout=10")


# ---- development token issuer (ringgatectl dev-issuer / token) -------------------------------

def ringgatectl_binary():
    return os.environ.get("RG_RINGGATECTL") or os.path.join(RG_BUILD, "engine", "ctl",
                                                            "ringgatectl")


class DevIssuer:
    """A DEVELOPMENT issuer in its own temp dir (`ringgatectl dev-issuer init`), minting
    tokens with `ringgatectl token`. identity() is the matching ringgate `identity` config
    section (jwks_file); clock_skew "0s" lets a --ttl 1s token expire within seconds."""

    def __init__(self, issuer="https://dev-issuer.rgtest.invalid", audience="ringgate"):
        self.issuer = issuer
        self.audience = audience
        self.ctl = ringgatectl_binary()
        if not os.access(self.ctl, os.X_OK):
            skip(f"ringgatectl {self.ctl} not built (set RG_BUILD or RG_RINGGATECTL)")
        self.base = tempfile.mkdtemp(prefix="rgtest-iss-")
        _register(self)
        self.dir = os.path.join(self.base, "issuer")
        r = subprocess.run([self.ctl, "dev-issuer", "init", "--dir", self.dir, "--issuer",
                            issuer], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"ringgatectl dev-issuer init failed:\n{r.stderr}")
        self.jwks_file = os.path.join(self.dir, "jwks.json")
        self.key_file = os.path.join(self.dir, "issuer.key")

    def __repr__(self):
        return f"DevIssuer({self.issuer}, {self.base})"

    def token(self, sub="agent-1", groups=None, audience=None, ttl="10m", claims=()):
        argv = [self.ctl, "token", "--dir", self.dir, "--sub", sub, "--audience",
                audience or self.audience, "--ttl", ttl]
        if groups:
            argv += ["--groups", groups]
        for c in claims:
            argv += ["--claim", c]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"ringgatectl token failed:\n{r.stderr}")
        return r.stdout.strip()

    def identity(self, clock_skew=None, extra_issuers=()):
        """ringgate's `identity` section trusting this issuer (and any others given)."""
        issuers = [{"issuer": i.issuer, "audience": i.audience, "jwks_file": i.jwks_file}
                   for i in (self, *extra_issuers)]
        ident = {"issuers": issuers}
        if clock_skew is not None:
            ident = {"clock_skew": clock_skew, **ident}
        return ident

    def stop(self):
        _unregister(self)
        if self.base and not KEEP:
            shutil.rmtree(self.base, ignore_errors=True)
        self.base = None


# ---- client stacks: PostgreSQL + dev issuer + ringgate, and where clients connect -------------

class Endpoint:
    """Where a client connects and as whom: straight to PostgreSQL (its role and password)
    or through ringgate (any user name, a token as password, the target name as database)."""

    def __init__(self, host, port, user, password, database):
        self.host, self.port, self.user = host, port, user
        self.password, self.database = password, database

    def env(self, **extra):
        return client_env(self.host, self.port, self.user, self.database, self.password,
                          **extra)

    def params(self, **kw):
        p = {"host": self.host, "port": self.port, "user": self.user,
             "password": self.password, "dbname": self.database, "sslmode": "disable",
             "connect_timeout": 10}
        p.update(kw)
        return p

    def connect(self, **kw):
        return require_psycopg2().connect(**self.params(**kw))

    def psql(self, sql, check=True, args=(), timeout=120, env=None):
        return run_psql(sql, env or self.env(), check=check, args=args, timeout=timeout)


class ClientStack:
    """PostgreSQL, a dev issuer and ringgate in front, for a test that drives real clients.
    `ep` is the endpoint through ringgate, `direct` the one straight to PostgreSQL.
    With direct=True (default: env RG_DIRECT=1) no ringgate is started and `ep` IS the
    direct endpoint: that validates a test's client side, never ringgate."""

    def __init__(self, direct=None, pg_settings=None, sub="agent-1", groups="dev",
                 clock_skew=None, **ringgate_kw):
        self.direct_mode = (os.environ.get("RG_DIRECT") == "1") if direct is None else direct
        self.pg_settings = pg_settings
        self.sub, self.groups, self.clock_skew = sub, groups, clock_skew
        self.ringgate_kw = ringgate_kw
        self.pg = self.rg = self.issuer = self.ep = self.direct = None

    def __enter__(self):
        if not self.direct_mode and not os.access(self.ringgate_kw.get("binary") or
                                                  ringgate_binary(), os.X_OK):
            skip(f"ringgate binary {ringgate_binary()} not built (set RG_BUILD or "
                 "RG_RINGGATE; RG_DIRECT=1 runs the clients straight against PostgreSQL)")
        self.pg = PgServer(settings=self.pg_settings).start()
        self.direct = Endpoint(self.pg.host, self.pg.port, self.pg.user, self.pg.password,
                               self.pg.database)
        if self.direct_mode:
            log("RG_DIRECT=1: clients connect straight to PostgreSQL (checks the test only)")
            self.ep = self.direct
            return self
        self.issuer = DevIssuer()
        self.rg = Ringgate(self.pg, identity=self.issuer.identity(self.clock_skew),
                           **self.ringgate_kw).start()
        self.ep = Endpoint(self.rg.host, self.rg.port, self.sub, self.token(),
                           self.rg.config["targets"][0]["name"])
        return self

    def token(self, **kw):
        kw.setdefault("sub", self.sub)
        kw.setdefault("groups", self.groups)
        return self.issuer.token(**kw) if self.issuer else self.pg.password

    def __exit__(self, *exc):
        for obj in (self.rg, self.issuer, self.pg):
            if obj is not None:
                obj.stop()
        return False

    def ringgate_problems(self):
        """Why ringgate is not healthy right now: exited, or a sanitizer report in its log."""
        if self.rg is None:
            return []
        probs = []
        if self.rg.proc is None or self.rg.proc.poll() is not None:
            probs.append(f"ringgate exited with {self.rg.proc and self.rg.proc.returncode}")
        probs += sanitizer_reports(self.rg_log())
        return probs

    def rg_log(self):
        try:
            with open(self.rg.logfile, errors="replace") as f:
                return f.read()
        except (OSError, TypeError, AttributeError):
            return ""

    def shutdown_ringgate(self, timeout=15.0):
        """SIGTERM ringgate and wait; returns (exit code, full log) before the workdir goes."""
        if self.rg is None or self.rg.proc is None:
            return None, ""
        if self.rg.proc.poll() is None:
            self.rg.proc.send_signal(signal.SIGTERM)
            try:
                self.rg.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log("ringgate ignored SIGTERM; killing")
                self.rg.proc.kill()
                self.rg.proc.wait()
        rc, text = self.rg.proc.returncode, self.rg_log()
        self.rg.stop()
        self.rg = None
        return rc, text


def sanitizer_reports(text):
    """Lines of a log that report an ASan/UBSan/LSan error."""
    return [line for line in text.splitlines()
            if "ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line
            or "UndefinedBehaviorSanitizer" in line or ": runtime error: " in line]


# ---- a tiny test runner: every test function runs, failures are listed, exit 1 if any ---------

def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok - {what}", flush=True)


def run_tests(tests, *shared):
    """Run each test function in order, called with the shared fixtures given (e.g. one
    ClientStack for a whole file); a failure (exception) is reported and the next test still
    runs. Without shared fixtures, whatever a test left registered is cleaned up after it.
    Exit 0 when all pass, 1 otherwise (skip() inside a test exits 77 at once)."""
    failed = []
    for t in tests:
        t0 = time.monotonic()
        print(f"# {t.__name__}", flush=True)
        try:
            t(*shared)
        except Exception as e:  # report and continue with the next test
            import traceback
            traceback.print_exc()
            failed.append(t.__name__)
            print(f"not ok - {t.__name__}: {type(e).__name__}: {str(e)[:2000]}", flush=True)
        else:
            print(f"# {t.__name__} passed in {time.monotonic() - t0:.1f}s", flush=True)
        if not shared:
            _cleanup_all()
    print(f"# {len(tests) - len(failed)}/{len(tests)} passed"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    sys.exit(1 if failed else 0)


# ---- policy bundles for tests ------------------------------------------------------------------

def rulec_binary():
    return os.path.join(RG_BUILD, "rulec", "rulec")


def signing_keypair(d):
    """An Ed25519 key pair for signing bundles in directory d: (private, public) paths."""
    key, pub = os.path.join(d, "bundle.key"), os.path.join(d, "bundle.pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return key, pub


def mask_key(d):
    """A key file for the hmac masking style (policy.hmac_key_file) in directory d."""
    key = os.path.join(d, "mask.key")
    with open(key, "w") as f:
        f.write("0123456789abcdef0123456789abcdef")
    os.chmod(key, 0o600)
    return key


def rss_kib(pid):
    """VmRSS of a process, KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def compile_bundle(packs, out, key=None):
    """Compile rule packs (paths; relative ones against the source tree) into bundle `out`,
    signed with `key` if given. Returns out."""
    if not os.access(rulec_binary(), os.X_OK):
        skip(f"rulec not built at {rulec_binary()}")
    argv = [rulec_binary(), "compile", "-o", out]
    if key:
        argv += ["--sign", key]
    argv += [p if os.path.isabs(p) else os.path.join(RG_SRC, p) for p in packs]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"rulec compile failed: {r.stderr}")
    return out
