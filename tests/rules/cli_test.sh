#!/usr/bin/env bash
# rulec's command line as CI and operators use it: check reports file:line:col and exits 1;
# compile is byte-for-byte deterministic; signed bundles verify and tampered ones are refused
# with a precise reason; explain prints one JSON line; test runs inline tests; limits are
# tested, explained and inspected.
set -euo pipefail
rulec=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$t/good.yaml" <<'Y'
version: 1
pack: cli
rules:
  - id: cli.no-drop
    sql: { operation: drop }
    action: deny
    message: drops are not allowed
    tests:
      - sql: "DROP TABLE t"
        expect: deny
      - sql: "SELECT 'drop table t'"
        expect: allow
Y
cat > "$t/bad.yaml" <<'Y'
version: 1
pack: cli
rules:
  - id: cli.bad
    sql: { operation: dropp }
    action: deny
    colour: red
Y

# check: every error, each with file:line:col, exit 1
set +e
out=$("$rulec" check "$t/bad.yaml" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "check on a bad file exited $rc"
echo "$out" | grep -Eq "bad.yaml:5:[0-9]+: .*dropp" || fail "no positioned error for the bad operation: $out"
echo "$out" | grep -Eq "bad.yaml:7:[0-9]+: .*colour" || fail "no positioned error for the unknown key: $out"
"$rulec" check "$t/good.yaml" | grep -q "^ok: 1 rules" || fail "check on a good file"

# compile: deterministic
"$rulec" compile -o "$t/a.rgb" "$t/good.yaml" >/dev/null
"$rulec" compile -o "$t/b.rgb" "$t/good.yaml" >/dev/null
cmp -s "$t/a.rgb" "$t/b.rgb" || fail "two compiles of the same input differ"

# test: from sources and from the bundle; the closing line is the plain summary
"$rulec" test "$t/good.yaml" | grep -q "^2 passed, 0 failed$" || fail "rulec test on sources"
"$rulec" test "$t/a.rgb" | grep -q "^2 passed, 0 failed$" || fail "rulec test on a bundle"

# explain: one JSON line
line=$("$rulec" explain --bundle "$t/a.rgb" --sub ci-bot --groups ci "DROP TABLE t")
[ "$(echo "$line" | wc -l)" -eq 1 ] || fail "explain printed more than one line"
echo "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["verdict"]=="deny", d; assert d["rules"]==["cli.no-drop"], d' \
	|| fail "explain output: $line"
echo "$("$rulec" explain --bundle "$t/a.rgb" "SELECT 1")" | grep -q '"verdict":"allow"' || fail "explain allow"

# signing
openssl genpkey -algorithm ed25519 -out "$t/k.pem" 2>/dev/null
openssl pkey -in "$t/k.pem" -pubout -out "$t/k.pub" 2>/dev/null
"$rulec" compile -o "$t/s.rgb" --sign "$t/k.pem" "$t/good.yaml" >/dev/null
"$rulec" inspect --pubkey "$t/k.pub" "$t/s.rgb" | grep -q '"signed": true' || fail "signed bundle does not inspect"
set +e
err=$("$rulec" inspect --pubkey "$t/k.pub" "$t/a.rgb" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$err" | grep -q "not signed" || fail "unsigned bundle accepted with a key: $err"
cp "$t/s.rgb" "$t/x.rgb"
printf '\x01' | dd of="$t/x.rgb" bs=1 seek=300 conv=notrunc 2>/dev/null
set +e
err=$("$rulec" inspect "$t/x.rgb" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$err" | grep -q "checksum" || fail "corrupt bundle not refused: $err"
head -c 100 "$t/a.rgb" > "$t/short.rgb"
set +e
err=$("$rulec" inspect "$t/short.rgb" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$err" | grep -q "truncated" || fail "truncated bundle not refused: $err"
# limits: session tests run, explain prints the effective limits (with or without SQL),
# inspect lists the entries
cat > "$t/limits.yaml" <<'Y'
version: 1
pack: lim
limits:
  - id: lim.agents
    match: { target: "prod-*", identity: { groups_any: [agents] } }
    max_rows: 1000
    max_bytes: 10MiB
    idle_timeout: 15m
    tests:
      - session: { subject: a-1, groups: [agents], target: prod-db }
        expect: { max_rows: 1000, max_bytes: 10MiB, max_denials: none }
Y
"$rulec" check "$t/limits.yaml" | grep -q "^ok: 0 rules, 0 masks, 1 limits, 1 tests" || fail "check on a limits file"
"$rulec" test "$t/limits.yaml" | grep -q "^1 passed, 0 failed$" || fail "rulec test on limits"
"$rulec" compile -o "$t/l.rgb" "$t/limits.yaml" "$t/good.yaml" >/dev/null
line=$("$rulec" explain --bundle "$t/l.rgb" --sub a-1 --groups agents --target prod-db)
echo "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); l=d["limits"]; assert l["max_rows"]=={"value":1000,"text":"1000","limit":"lim.agents"}, d; assert l["idle_timeout"]["value"]==900, d; assert "max_denials" not in l and "verdict" not in d, d' \
	|| fail "explain limits: $line"
line=$("$rulec" explain --bundle "$t/l.rgb" --sub a-1 --groups agents --target staging "DROP TABLE t")
echo "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["verdict"]=="deny" and d["limits"]=={}, d' \
	|| fail "explain with SQL and limits: $line"
"$rulec" inspect "$t/l.rgb" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["limits"]==1, d; e=d["limit_list"][0]; assert e["id"]=="lim.agents" and e["max_bytes"]=="10MiB" and e["idle_timeout"]=="15m", e' \
	|| fail "inspect limits"
echo "rulec cli: all checks passed"
