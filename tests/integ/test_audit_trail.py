#!/usr/bin/env python3
"""The gateway's own events in the audit trail (issue #12, first part; docs/audit.md).

A ringgate with an `audit` section writes its start, the bundle it loaded, a SIGHUP reload,
a refused reload and its stop to state_dir/audit: `ringgatectl audit cat` prints them in
order as JSON, `ringgatectl audit verify` passes (exit 0, sealed) with the checkpoint key's
public half and fails with another key; an edited byte is named (exit 1); a start on a trail
that does not verify is refused, and --check-config says why.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import pgfix  # noqa: E402
import rgtest  # noqa: E402
from pgfix import check  # noqa: E402


def ctl(*args):
    return subprocess.run([pgfix.ctl_binary(), *args], capture_output=True, text=True,
                          timeout=60)


def main():
    with rgtest.PgServer() as pg:
        iss = pgfix.Issuer()
        with tempfile.TemporaryDirectory(prefix="rgtest-audit-") as d:
            key, pub = rgtest.signing_keypair(d)
            xd = os.path.join(d, "x")
            os.makedirs(xd)
            _, other_pub = rgtest.signing_keypair(xd)
            bundle = rgtest.compile_bundle(["rules/baseline"], os.path.join(d, "b.rgb"))
            live = os.path.join(d, "live.rgb")
            shutil.copy(bundle, live)
            trail = os.path.join(d, "trail")
            rg = pgfix.start(pg, iss, policy={"bundle": live},
                             extra={"audit": {"key_file": key, "dir": trail}})
            tok = iss.token()
            r = rgtest.run_psql("SELECT 1", rg.env("agent-1", tok))
            check(r.stdout.strip() == "1", "the gateway serves with the trail open")
            rg.proc.send_signal(signal.SIGHUP)
            check(pgfix.wait_log(rg, "event=policy_reloaded"), "reloaded")
            with open(live, "wb") as f:
                f.write(b"not a bundle")
            rg.proc.send_signal(signal.SIGHUP)
            check(pgfix.wait_log(rg, "reason=bad_bundle"), "a bad bundle refused")
            rg.stop()

            v = ctl("audit", "verify", "--dir", trail, "--key", pub)
            check(v.returncode == 0 and v.stdout.startswith("ok:"),
                  f"verify: intact and sealed ({v.stdout.strip()} {v.stderr.strip()})")
            c = ctl("audit", "cat", "--dir", trail)
            events = [json.loads(ln) for ln in c.stdout.splitlines()]
            sess = [e for e in events if e.get("protocol") == "postgres"]
            check([e["event"] for e in sess] ==
                  ["auth_ok", "session_start", "stmt", "stmt_end", "session_end"],
                  f"the psql session's records ({[e['event'] for e in sess]})")
            print("\n".join(json.dumps(e) for e in sess))
            events = [e for e in events if "protocol" not in e]
            names = [e["event"] for e in events]
            check(names == ["policy_loaded", "gateway_start", "policy_reloaded",
                            "policy_reload_failed", "gateway_stop"],
                  f"the gateway's events, in order ({names})")
            check([e["seq"] for e in events] == sorted(e["seq"] for e in events) and
                  all(e["time_us"] > 1.7e15 for e in events),
                  "sequence numbers and UTC microsecond times")
            check(re.fullmatch(r"[0-9a-f]{64}", events[1].get("config_sha256", "")),
                  f"gateway_start names the config's digest ({events[1]})")
            check(events[0]["generation"] == 1 and len(events[0]["checksum"]) == 16 and
                  events[2]["generation"] == 2, f"bundle generations ({events[0]})")
            w = ctl("audit", "verify", "--dir", trail, "--key", other_pub)
            check(w.returncode == 1 and "signature" in w.stdout,
                  f"another key: the checkpoints do not verify ({w.stdout.strip()})")

            seg = sorted(f for f in os.listdir(trail) if f.endswith(".seg"))[0]
            path = os.path.join(trail, seg)
            with open(path, "rb") as f:
                data = bytearray(f.read())
            i = data.find(b"gateway_start")
            data[i] ^= 0x20
            with open(path, "wb") as f:
                f.write(data)
            b = ctl("audit", "verify", "--dir", trail, "--key", pub, "--json")
            rep = json.loads(b.stdout)
            check(b.returncode == 1 and rep["verdict"] == "broken" and
                  rep["file"].endswith(seg) and "checksum" in rep["why"],
                  f"an edited byte is named ({rep})")
            # a gateway does not append to a trail that does not verify
            shutil.copy(bundle, live)
            rg2 = rgtest.Ringgate(pg, identity=iss.identity(), policy={"bundle": live},
                                  extra={"audit": {"key_file": key, "dir": trail}})
            try:
                rg2.start()
                check(False, "a start on a broken trail is refused")
            except RuntimeError as e:
                check("does not verify" in str(e), f"refused with the reason ({e})")
                cc = subprocess.run([rgtest.ringgate_binary(), "--check-config",
                                     rg2.config_path], capture_output=True, text=True,
                                    timeout=60, cwd=rg2.workdir)
                check(cc.returncode == 1 and "audit:" in cc.stderr and
                      "does not verify" in cc.stderr,
                      f"--check-config says so too ({cc.stderr.strip()})")
            finally:
                try:
                    rg2.stop()
                except Exception:  # noqa: BLE001
                    pass
    print("ok")


if __name__ == "__main__":
    main()
