#!/usr/bin/env python3
"""The control store on a shared PostgreSQL 15 (issue #11; engine/control).

Runs the control store's unit cases (tests/unit/control/test_control.c: who decides, once;
expiry; withdrawal; abandonment; fingerprint grants; the store outliving a reopen) against a
real PostgreSQL the harness starts, through RG_CONTROL_PG: the same SQL as on SQLite, with
notifications arriving through LISTEN/NOTIFY from the store's listener thread.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402


def main():
    exe = os.path.join(rgtest.RG_BUILD, "tests", "unit", "control", "control_test_control")
    if not os.access(exe, os.X_OK):
        rgtest.skip(f"{exe} not built")
    with rgtest.PgServer() as pg:
        env = dict(os.environ, RG_CONTROL_PG=pg.dsn())
        r = subprocess.run([exe], env=env, capture_output=True, text=True, timeout=120)
        sys.stdout.write(r.stdout[-3000:])
        sys.stderr.write(r.stderr[-3000:])
        check(r.returncode == 0, "the control store's cases pass on PostgreSQL")
        out = pg.psql("SELECT count(*) FROM ringgate_approvals").stdout.strip()
        check(out.isdigit() and int(out) > 0, f"the rows are in PostgreSQL ({out})")
    print("ok")


if __name__ == "__main__":
    main()
