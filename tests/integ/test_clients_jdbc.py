"""The PostgreSQL JDBC driver (Debian libpostgresql-jdbc-java) through the real ringgate:
binaryTransfer=true with prepareThreshold=1 and repeated executes, batches, a fetch-size
cursor and result checks; see java/JdbcClient.java. The test compiles it with javac into a
temp dir. No JDK or no driver jar skips with the reason.

RG_DIRECT=1 runs the same client straight against PostgreSQL (validates the test only)."""

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

JAR = os.environ.get("RG_PG_JDBC_JAR", "/usr/share/java/postgresql.jar")
SRC = os.path.join(HERE, "java", "JdbcClient.java")
SRC_DENY = os.path.join(HERE, "java", "JdbcDeny.java")


def compile_client():
    javac, java = shutil.which("javac"), shutil.which("java")
    if not javac or not java:
        rgtest.skip("javac/java not found (Debian: apt-get install default-jdk-headless)")
    if not os.path.isfile(JAR):
        rgtest.skip(f"JDBC driver {JAR} not found (Debian: apt-get install "
                    "libpostgresql-jdbc-java, or set RG_PG_JDBC_JAR)")
    out = tempfile.mkdtemp(prefix="rgtest-jdbc-")
    rgtest._register(type("Dir", (), {"stop": lambda self: shutil.rmtree(out, True)})())
    r = subprocess.run([javac, "-encoding", "UTF-8", "-cp", JAR, "-d", out, SRC, SRC_DENY],
                       capture_output=True, text=True, timeout=180)
    if r.returncode != 0:
        raise RuntimeError(f"javac failed:\n{r.stdout}{r.stderr}")
    return [java, "-Dfile.encoding=UTF-8", "-cp", JAR + os.pathsep + out, "JdbcClient"]


def test_jdbc():
    argv = compile_client()
    with rgtest.ClientStack() as st:
        r = subprocess.run(argv, env=st.ep.env(), capture_output=True, text=True, timeout=180)
        sys.stdout.write(r.stdout)
        check(r.returncode == 0 and "jdbc: all checks passed" in r.stdout,
              f"JDBC checks through the endpoint (rc {r.returncode})"
              + ("" if r.returncode == 0 else f"\n{r.stdout[-3000:]}{r.stderr[-2000:]}"))
        check(not st.ringgate_problems(), f"ringgate healthy ({st.ringgate_problems()[:5]})")


def test_jdbc_policy():
    """Denials under a bundle of rules/baseline: plain, prepared (prepareThreshold=1), batch,
    transaction."""
    argv = compile_client()
    argv[-1] = "JdbcDeny"
    with tempfile.TemporaryDirectory(prefix="rgtest-jdbc-b-") as d:
        bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"], os.path.join(d, "b.rgb"))
        with rgtest.ClientStack(direct=False, policy={"bundle": bundle}) as st:
            r = subprocess.run(argv, env=st.ep.env(), capture_output=True, text=True,
                               timeout=180)
            sys.stdout.write(r.stdout)
            check(r.returncode == 0 and "jdbc policy: all checks passed" in r.stdout,
                  f"JDBC under a policy bundle (rc {r.returncode})"
                  + ("" if r.returncode == 0 else f"\n{r.stdout[-3000:]}{r.stderr[-2000:]}"))
            check(not st.ringgate_problems(),
                  f"ringgate healthy ({st.ringgate_problems()[:5]})")


if __name__ == "__main__":
    rgtest.run_tests([test_jdbc, test_jdbc_policy])
