"""node-pg (npm `pg`, pinned by tests/integ/node/package-lock.json) through the real ringgate:
parameterized queries and named prepared statements, see node/pg_client.js for the checks.

The package is installed with `npm ci` into a cache dir outside the source tree
(${RG_BUILD}/integ-node, else ~/.cache/ringgate/integ-node), reused while the lock file is
unchanged. No node/npm, or npm ci failing (registry unreachable), skips with the reason.

RG_DIRECT=1 runs the same clients straight against PostgreSQL (validates the test only)."""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import rgtest  # noqa: E402
from rgtest import check  # noqa: E402

NODE_DIR = os.path.join(HERE, "node")


def node_modules():
    """Install the locked packages (once per lock file) and return the node_modules path."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        rgtest.skip("node/npm not found (Debian: apt-get install nodejs npm)")
    lock = os.path.join(NODE_DIR, "package-lock.json")
    with open(lock, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    if os.path.isdir(rgtest.RG_BUILD):
        cache = os.path.join(rgtest.RG_BUILD, "integ-node")
    else:
        cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                             os.path.expanduser("~/.cache"), "ringgate", "integ-node")
    os.makedirs(cache, exist_ok=True)
    stamp = os.path.join(cache, "installed-" + digest)
    with open(os.path.join(cache, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not os.path.exists(stamp):
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(os.path.join(NODE_DIR, name), os.path.join(cache, name))
            try:
                r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                                   cwd=cache, capture_output=True, text=True, timeout=240)
            except subprocess.TimeoutExpired:
                rgtest.skip("npm ci timed out (npm registry unreachable?)")
            if r.returncode != 0:
                rgtest.skip(f"npm ci failed (npm registry unreachable?): {r.stderr.strip()[-800:]}")
            for old in os.listdir(cache):
                if old.startswith("installed-"):
                    os.unlink(os.path.join(cache, old))
            open(stamp, "w").close()
    return os.path.join(cache, "node_modules")


def test_node_pg():
    modules = node_modules()
    with rgtest.ClientStack() as st:
        env = st.ep.env(NODE_PATH=modules)
        r = subprocess.run(["node", os.path.join(NODE_DIR, "pg_client.js")], env=env,
                           capture_output=True, text=True, timeout=180)
        sys.stdout.write(r.stdout)
        check(r.returncode == 0 and "node-pg: all checks passed" in r.stdout,
              f"node-pg checks through the endpoint (rc {r.returncode})"
              + ("" if r.returncode == 0 else f"\n{r.stdout[-2000:]}{r.stderr[-2000:]}"))
        check(not st.ringgate_problems(), f"ringgate healthy ({st.ringgate_problems()[:5]})")


def test_node_pg_policy():
    """Denials under a bundle of rules/baseline, in every mode node-pg uses."""
    modules = node_modules()
    import tempfile
    with tempfile.TemporaryDirectory(prefix="rgtest-node-") as d:
        bundle = rgtest.compile_bundle(["rules/baseline", "rules/pii"], os.path.join(d, "b.rgb"))
        with rgtest.ClientStack(direct=False, policy={"bundle": bundle}) as st:
            env = st.ep.env(NODE_PATH=modules)
            r = subprocess.run(["node", os.path.join(NODE_DIR, "pg_deny.js")], env=env,
                               capture_output=True, text=True, timeout=180)
            sys.stdout.write(r.stdout)
            check(r.returncode == 0 and "node-pg policy: all checks passed" in r.stdout,
                  f"node-pg under a policy bundle (rc {r.returncode})"
                  + ("" if r.returncode == 0 else f"\n{r.stdout[-2000:]}{r.stderr[-2000:]}"))
            check(not st.ringgate_problems(), f"ringgate healthy ({st.ringgate_problems()[:5]})")


if __name__ == "__main__":
    rgtest.run_tests([test_node_pg, test_node_pg_policy])
