#!/usr/bin/env bash
# Regenerate the bundle fuzz seeds from small rule files: gen-bundle-seeds.sh RULEC
set -euo pipefail
rulec=$1
here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus/bundle
mkdir -p "$out"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cat > "$t/a.yaml" <<'Y'
version: 1
pack: seed
rules:
  - id: s.drop
    sql: { operation: drop }
    action: deny
  - id: s.users
    match: { identity: { groups_any: [dba] } }
    sql: { tables: [public.users], table_access: write }
    action: require_approval
    approval: { group: dba, ttl: 5m, scope: fingerprint }
  - id: s.fn
    sql: { functions: ["pg_sleep*"] }
    action: log
    enforce: false
  - id: s.txt
    text: { literals: [secret], regex: ["pass(word)?\\s*="] }
    action: deny
  - id: s.fp
    sql: { fingerprints: ["0123456789abcdef"] }
    action: allow
masks:
  - id: s.cards
    detector: credit_card
    style: partial
  - id: s.ssn
    columns: ["*.customers.ssn"]
    style: static
    text: "***"
limits:
  - id: s.all
    max_session_duration: 8h
    max_denials: 0
  - id: s.agents
    match: { target: "db", identity: { groups_any: [dba], subject: "agent*" } }
    idle_timeout: 15m
    max_statements: 100
    max_rows: 1000
    max_bytes: 10MiB
tests:
  - sql: "DROP TABLE x"
    expect: deny
  - row: ["4111 1111 1111 1111"]
    expect: ["**** **** **** 1111"]
  - session: { subject: agent, groups: [dba], target: db }
    expect: { max_rows: 1000, max_denials: 0, max_bytes: 10MiB }
  - session: { subject: other, target: db }
    expect: { max_rows: none, max_session_duration: 8h }
Y
cat > "$t/b.yaml" <<'Y'
version: 1
pack: tiny
on_unparseable: log
rules:
  - id: t.all
    action: log
Y
"$rulec" compile -o "$out/full.rgb" "$t/a.yaml" >/dev/null
"$rulec" compile -o "$out/tiny.rgb" "$t/b.yaml" >/dev/null
head -c 200 "$out/full.rgb" > "$out/truncated.rgb"
