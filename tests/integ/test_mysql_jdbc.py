"""MariaDB Connector/J (Debian libmariadb-java) through ringgate's TLS mysql listener to a real
MariaDB 10.11: token login, server-side prepared statements in the binary protocol with
NULLs and a BLOB, a pipelined batch, transactions, multi-statements and a 5 MiB value; see java/MyJdbcClient.java. Compiled with javac into a temp dir. No JDK
or no driver jar skips with the reason."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402
from test_mysql_gateway import Stack  # noqa: E402

JAR = os.environ.get("RG_MARIADB_JDBC_JAR", "/usr/share/java/mariadb-java-client.jar")
SRC = os.path.join(HERE, "java", "MyJdbcClient.java")


def compile_client():
    javac, java = shutil.which("javac"), shutil.which("java")
    if not javac or not java:
        rgtest.skip("javac/java not found (Debian: apt-get install default-jdk-headless)")
    if not os.path.isfile(JAR):
        rgtest.skip(f"MariaDB JDBC driver {JAR} not found (Debian: apt-get install "
                    "libmariadb-java, or set RG_MARIADB_JDBC_JAR)")
    out = tempfile.mkdtemp(prefix="rgtest-myjdbc-")
    rgtest._register(type("Dir", (), {"stop": lambda self: shutil.rmtree(out, True)})())
    r = subprocess.run([javac, "-encoding", "UTF-8", "-cp", JAR, "-d", out, SRC],
                       capture_output=True, text=True, timeout=180)
    if r.returncode != 0:
        raise RuntimeError(f"javac failed:\n{r.stdout}{r.stderr}")
    return [java, "-Dfile.encoding=UTF-8", "-cp", JAR + os.pathsep + out, "MyJdbcClient"]


def test_connector_j(st):
    argv = compile_client()
    env = dict(os.environ, MY_HOST="127.0.0.1", MY_PORT=str(st.rg.port), MY_USER="mynative",
               MY_DB=st.db.database, MY_TOKEN=st.iss.token(), MY_CA=st.certs.ca)
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    sys.stdout.write(r.stdout)
    check(r.returncode == 0 and "mysql jdbc: all checks passed" in r.stdout,
          f"Connector/J checks through ringgate (rc {r.returncode})"
          + ("" if r.returncode == 0 else f"\n{r.stdout[-3000:]}{r.stderr[-3000:]}"))
    log = st.log()
    check(not rgtest.sanitizer_reports(log), "no sanitizer report")
    check("event=protocol_violation" not in log, "no protocol violation logged")


if __name__ == "__main__":
    with Stack() as stack:
        rgtest.run_tests([test_connector_j], stack)
