"""mariafix: a throwaway MariaDB server for integration tests (Debian `mariadb-server`).

MariaServer starts mariadbd on a free 127.0.0.1 port in a fresh temp dir (its own datadir,
socket, pid and log; no option files read), with grant tables off so any TCP login is root:
the server is the test's oracle, never a target reachable by anything else. Cleanup follows
rgtest's contract: stopped at exit, on signals, and by the watchdog if the test is killed.
Skips (exit 77) when mariadbd, mariadb-install-db or PyMySQL is missing.
"""

import os
import shutil
import subprocess
import tempfile
import time

import rgtest

MARIADBD = os.environ.get("RG_MARIADBD") or shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"


def require_pymysql():
    try:
        import pymysql  # noqa: F401
        return pymysql
    except ImportError:
        rgtest.skip(f"PyMySQL is not importable by {rgtest.sys.executable} "
                    "(install python3-pymysql, or run with /usr/bin/python3)")


class MariaServer:
    def __init__(self):
        self.host = "127.0.0.1"
        self.port = None
        self.base = None
        self.proc = None
        self._watchdog = None

    def __repr__(self):
        return f"MariaServer({self.host}:{self.port}, {self.base})"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _user_args(self):
        return ["--user=root"] if os.geteuid() == 0 else []

    def start(self):
        if not os.path.exists(MARIADBD) or not os.path.exists(INSTALL_DB):
            rgtest.skip("mariadbd or mariadb-install-db not installed (Debian package "
                        "mariadb-server)")
        self.base = tempfile.mkdtemp(prefix="rg-maria-")
        rgtest._register(self)
        datadir = os.path.join(self.base, "data")
        log = os.path.join(self.base, "install.log")
        with open(log, "wb") as out:
            r = subprocess.run([INSTALL_DB, "--no-defaults", f"--datadir={datadir}",
                                "--auth-root-authentication-method=normal",
                                "--skip-test-db"] + self._user_args(),
                               stdout=out, stderr=subprocess.STDOUT, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed, see {log}")
        for attempt in range(5):
            self.port = rgtest.free_port()
            argv = [MARIADBD, "--no-defaults", f"--datadir={datadir}",
                    f"--socket={os.path.join(self.base, 'mysqld.sock')}",
                    f"--pid-file={os.path.join(self.base, 'mysqld.pid')}",
                    f"--log-error={os.path.join(self.base, 'error.log')}",
                    f"--tmpdir={self.base}", f"--port={self.port}",
                    "--bind-address=127.0.0.1", "--skip-grant-tables", "--skip-name-resolve",
                    "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M",
                    "--max-connections=20", "--skip-log-bin"] + self._user_args()
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            self._watchdog = rgtest._Watchdog(pids=[self.proc.pid], dirs=[self.base])
            try:
                rgtest.wait_port(self.host, self.port, timeout=60, proc=self.proc)
                return self
            except Exception:
                self._kill()
                if attempt == 4:
                    raise
        return self

    def connect(self, **kw):
        pymysql = require_pymysql()
        from pymysql.constants import CLIENT
        return pymysql.connect(host=self.host, port=self.port, user="root", password="",
                               client_flag=CLIENT.MULTI_STATEMENTS, autocommit=True,
                               connect_timeout=10, **kw)

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._watchdog:
            self._watchdog.disarm()
            self._watchdog = None

    def stop(self):
        self._kill()
        rgtest._unregister(self)
        if self.base and not rgtest.KEEP:
            shutil.rmtree(self.base, ignore_errors=True)
        self.base = None
