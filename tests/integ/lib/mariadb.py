"""mariadb: a throwaway MariaDB 10.11 for the MySQL-protocol integration tests, the MariaDB
sibling of rgtest.PgServer (same lifecycle rules, same cleanup registry and watchdog).

Owns: a data directory made by mariadb-install-db in a fresh temp dir, one mariadbd on a
free 127.0.0.1 port with its unix socket in that dir (root logs in there, no password), the
ed25519 plugin (INSTALL SONAME 'auth_ed25519'), one database and two login users with random
passwords: one with mysql_native_password, one with ed25519. Invariants: the server is
stopped (mariadb-admin shutdown, then SIGKILL) and the dir removed when the test exits,
however it exits; works as root (the server drops to `mysql`, or runs with --user=root when
there is no such user) and as an ordinary user. Skips exit 77 with a reason when mariadbd or
mariadb-install-db is missing. Never touches the system's MariaDB (--no-defaults everywhere).

Environment: RG_MARIADB_BIN (directory holding mariadbd; default /usr/sbin, then PATH),
RG_KEEP=1.
"""

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rgtest  # noqa: E402

SERVER_BIN = os.environ.get("RG_MARIADB_BIN")

FAST_SETTINGS = {
    "innodb-buffer-pool-size": "32M",
    "innodb-log-file-size": "16M",
    "innodb-flush-log-at-trx-commit": "0",
    "max-allowed-packet": "64M",  # 32 MiB values and the 16 MiB split-packet tests
    "max-connections": "100",
    "skip-name-resolve": None,
    "skip-log-bin": None,
    "performance-schema": "OFF",
}


def _tool(name):
    """mariadbd from RG_MARIADB_BIN when it is set (and only there), else /usr/sbin or PATH;
    the other tools from RG_MARIADB_BIN, /usr/bin, /usr/sbin, then PATH."""
    if name == "mariadbd" and SERVER_BIN:
        p = os.path.join(SERVER_BIN, name)
        return p if os.access(p, os.X_OK) else None
    for d in (SERVER_BIN, "/usr/bin", "/usr/sbin"):
        if d and os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return shutil.which(name)


def require_pymysql():
    try:
        import pymysql  # noqa: F401
        return pymysql
    except ImportError:
        rgtest.skip(f"pymysql is not importable by {sys.executable} (install python3-pymysql)")


class MariaServer:
    """Attributes after start(): host, port, socket_path, base, datadir, logfile, database,
    native_user/native_password, ed_user/ed_password, version."""

    def __init__(self, database="rgtest", settings=None):
        self.database = database
        self.native_user = "rg_native"
        self.native_password = secrets.token_urlsafe(18)
        self.ed_user = "rg_ed"
        self.ed_password = secrets.token_urlsafe(18)
        self.settings = dict(FAST_SETTINGS)
        self.settings.update(settings or {})
        self.host = "127.0.0.1"
        self.port = None
        self.base = None
        self.proc = None
        self.version = None
        self._watchdog = None
        self._pid_watchdog = None

    def __repr__(self):
        return f"MariaServer({self.host}:{self.port}, {self.base})"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def datadir(self):
        return os.path.join(self.base, "data")

    @property
    def socket_path(self):
        return os.path.join(self.base, "mysqld.sock")

    @property
    def tmpdir(self):
        return os.path.join(self.base, "tmp")

    @property
    def logfile(self):
        return os.path.join(self.base, "mariadbd.log")

    def _run_as(self):
        """The --user for mariadb-install-db and mariadbd: only meaningful as root."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("mysql")
            return "mysql"
        except KeyError:
            return "root"

    # -- lifecycle

    def start(self, attempts=3):
        server, install = _tool("mariadbd"), _tool("mariadb-install-db")
        if not server or not install:
            rgtest.skip("mariadbd / mariadb-install-db not found (apt-get install "
                        "mariadb-server, or set RG_MARIADB_BIN)")
        if not _tool("mariadb") or not _tool("mariadb-admin"):
            rgtest.skip("the mariadb / mariadb-admin clients are missing (mariadb-client)")
        self._server = server
        user = self._run_as()
        self.base = tempfile.mkdtemp(prefix="rgtest-my-")
        rgtest._register(self)
        self._watchdog = rgtest._Watchdog(
            cmds=[[_tool("mariadb-admin"), "--no-defaults", "-uroot", f"-S{self.socket_path}",
                   "--connect-timeout=5", "shutdown"]],
            dirs=[self.base])
        # the server's own temp dir: concurrent servers (tests run in parallel) must not
        # share /tmp's temporary tables (a bootstrap once failed on one it could not remove)
        os.mkdir(self.tmpdir)
        if user and user != "root":
            pw = pwd.getpwnam(user)
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            os.chown(self.tmpdir, pw.pw_uid, pw.pw_gid)
        argv = [install, "--no-defaults", f"--datadir={self.datadir}", "--skip-test-db",
                "--auth-root-authentication-method=normal", f"--tmpdir={self.tmpdir}"]
        if user:
            argv.append(f"--user={user}")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{r.stdout}{r.stderr}")
        last = ""
        for _ in range(attempts):
            self.port = rgtest.free_port(self.host)
            if self._launch(user):
                break
            last = self.log_tail()
            if "Address already in use" not in last and "Bind on TCP/IP" not in last:
                break
        else:
            raise RuntimeError(f"mariadbd did not start:\n{last}")
        if self.proc is None:
            raise RuntimeError(f"mariadbd did not start:\n{last}")
        # a second watchdog knows the server's pid: SIGKILL if the shutdown did not stop it
        self._pid_watchdog = rgtest._Watchdog(pids=[self.proc.pid])
        self._setup()
        return self

    def _launch(self, user):
        argv = [self._server, "--no-defaults", f"--datadir={self.datadir}",
                f"--socket={self.socket_path}", f"--port={self.port}",
                f"--bind-address={self.host}", f"--pid-file={self.base}/mariadbd.pid",
                f"--log-error={self.logfile}", f"--tmpdir={self.tmpdir}"]
        if user:
            argv.append(f"--user={user}")
        for k, v in self.settings.items():
            argv.append(f"--{k}" if v is None else f"--{k}={v}")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if os.path.exists(self.socket_path):
                r = self._client(["-e", "SELECT 1"], check=False)
                if r.returncode == 0:
                    self.proc = proc
                    return True
            time.sleep(0.1)
        proc.kill()
        proc.wait()
        return False

    def _setup(self):
        self.version = self.sql("SELECT VERSION()").strip()
        db = self.database
        self.sql("INSTALL SONAME 'auth_ed25519'")
        # passwords are token_urlsafe: no quote can end the literal
        self.sql(f"CREATE DATABASE `{db}`; "
                 f"CREATE USER '{self.native_user}'@'%' IDENTIFIED VIA mysql_native_password "
                 f"USING PASSWORD('{self.native_password}'); "
                 f"CREATE USER '{self.ed_user}'@'%' IDENTIFIED VIA ed25519 "
                 f"USING PASSWORD('{self.ed_password}'); "
                 f"GRANT ALL ON `{db}`.* TO '{self.native_user}'@'%'; "
                 f"GRANT ALL ON `{db}`.* TO '{self.ed_user}'@'%'")

    def stop(self):
        rgtest._unregister(self)
        if self.base is None:
            return
        if self.proc is not None:
            self._admin(["shutdown"])
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        for w in (self._pid_watchdog, self._watchdog):
            if w:
                w.disarm()
        self._watchdog = self._pid_watchdog = None
        if rgtest.KEEP:
            rgtest.log(f"RG_KEEP=1: keeping {self.base}")
        else:
            shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def log_tail(self, n=40):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # -- clients

    def _client(self, args, check=True, timeout=120):
        r = subprocess.run([_tool("mariadb"), "--no-defaults", "-uroot",
                            f"-S{self.socket_path}", "--connect-timeout=10", "-N", "-B", *args],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"mariadb {args} failed ({r.returncode}):\n{r.stderr}")
        return r

    def _admin(self, args):
        return subprocess.run([_tool("mariadb-admin"), "--no-defaults", "-uroot",
                               f"-S{self.socket_path}", "--connect-timeout=10", *args],
                              capture_output=True, text=True, timeout=120)

    def sql(self, statements, database=None):
        """Run statements as root over the unix socket; returns stdout (tab-separated,
        no column names). Raises on error."""
        args = ["-e", statements]
        if database:
            args = ["-D", database] + args
        return self._client(args).stdout

    def connect(self, user=None, password=None, **kw):
        """A PyMySQL connection over TCP as the native user (kwargs override)."""
        pymysql = require_pymysql()
        params = {"host": self.host, "port": self.port, "user": user or self.native_user,
                  "password": self.native_password if password is None else password,
                  "database": self.database, "connect_timeout": 10}
        params.update(kw)
        return pymysql.connect(**params)
