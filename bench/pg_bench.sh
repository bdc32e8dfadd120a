#!/usr/bin/env bash
# pg_bench.sh: one command that measures PostgreSQL proxies on this machine, in one run so
# that VM drift (±30 % between runs) hits every target alike. It starts a throwaway
# PostgreSQL 15 (trust auth on 127.0.0.1 for postgres, SCRAM for the role ringgate logs in
# as; temp dir owned by postgres), pgbouncer (session mode), haproxy (tcp mode),
# rg_fwd_epoll (the floor), rg_fwd_uring (rg_core) and ringgate itself (dev issuer, JWT as
# PGPASSWORD, the RG_RULES policy bundle), all on free ports of 127.0.0.1, runs pgbench -S (simple and
# prepared) at each client count plus a 1000-row query scenario against each, and prints a
# markdown table (also written to $OUT). Then, unless IDLE_N=0, it measures RSS per idle
# session (bench/idle_sessions.py: login, one SELECT 1 that must return its row, then idle;
# VmRSS from /proc/PID/status before, at N/2 and at N). Each entry of IDLE_TARGETS:
#   ringgate           IDLE_N sessions through IDLE_RG_PROCS ringgate processes (RLIMIT_NOFILE
#                      is per process and a proxied session costs 2 fds) that share one
#                      SO_REUSEPORT port (IDLE_RG_PORTS=shared; "own": one port each, the
#                      client round-robins), RSS summed over them. Their target is a pgbouncer
#                      in transaction pooling mode (IDLE_POOL server connections) in front of
#                      PostgreSQL, so that idle sessions are not PostgreSQL backends; ringgate
#                      logs in to it as rg_bench with SCRAM (auth_file: the role's SCRAM secret
#                      from pg_authid) or md5 (IDLE_UPSTREAM_AUTH=md5; auth_file: the password).
#                      That pgbouncer's own RSS is reported in a note, not counted.
#   pgbouncer          the peer at IDLE_N: pgbouncer in transaction pooling mode (IDLE_POOL
#                      server connections), trust.
#   pgbouncer_session  pgbouncer in session mode at IDLE_SESSION_N (one backend per session).
#   ringgate_direct    ringgate straight to PostgreSQL at IDLE_SESSION_N (one backend each).
# Both N are lowered to what memory (IDLE_MIN_AVAIL_MB kept free; PG_BACKEND_KIB per
# backend) and fds allow, and the table says so. The idle rows also go to $OUT.idle.tsv.
#
# Per run: TPS, TPS as % of direct, proxy CPU µs per query ((utime+stime) delta from
# /proc/PID/stat / transactions), p50/p99 latency from pgbench --log per-transaction times.
# Also per run, in $OUT.syscpu.tsv: where the whole machine's CPU went per transaction (busy
# time from /proc/stat; the proxy (and, last column, its kernel share: stime); pgbench from its rusage via GNU time, with its context
# switches per transaction; PostgreSQL = postmaster + reaped backends; other = the rest).
# With REPEAT > 1 every cell is run REPEAT times (target order rotated each round) and the
# table shows the median; every single run is kept in $OUT.raw.tsv.
#
# Knobs (environment): DURATION=15  CLIENTS="8 16 64"  MODES="simple prepared"  REPEAT=1  TPS=1
#   (TPS=0: only the idle test)
#   TARGETS="direct pgbouncer haproxy fwd_epoll fwd_uring ringgate"  SCALE=10  ROWS_CLIENTS=16
#   BUILD=build/benchrel (rg_fwd_*, ringgate and ringgatectl are taken from there)
#   FWD_THREADS=1 (epoll threads, uring workers)  RG_THREADS=1 (ringgate workers)
#   IDLE_N=10000 (0: skip)  IDLE_TARGETS="ringgate pgbouncer pgbouncer_session ringgate_direct"
#   IDLE_SESSION_N=2000 (for the kinds that need a PostgreSQL backend per session)
#   IDLE_RG_PROCS=0 (ringgate processes; 0: enough that each stays under 80 % of its fds)
#   IDLE_RG_PORTS=shared|own  IDLE_POOL=10  IDLE_UPSTREAM_AUTH=scram|md5  IDLE_CONCURRENCY=32
#   IDLE_MIN_AVAIL_MB=6144 (keep this much memory free: N is lowered, and the client stops)
#   PG_BACKEND_KIB=2400 (memory per idle PostgreSQL backend, for that estimate)
#   OUT=bench/results/pg_bench-<date>.md  KEEP=1 keeps the temp dir
#   NO_SETSID=1: start proxies and pgbench in the script's own session (see start_bg)
#   FRESH_BACKENDS=1 (0: let pgbouncer's pool carry warm backends from run to run; see
#     fresh_backends)
#   RG_RULES="rules/baseline rules/pii" (packs compiled into the bundle ringgate enforces;
#     "none": no bundle, pass-through)
#   The target "ringgate_none" is a second ringgate without any bundle (pass-through) in the
#   same run as "ringgate" under RG_RULES, so the policy's cost is a ratio within one run.
#   RINGGATE_CMD: a custom gateway command with {PORT}/{PGPORT}/{CONFIG} placeholders
#     instead of "$BUILD/engine/ringgate --config {CONFIG}".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-15}
CLIENTS=${CLIENTS:-"8 16 64"}
MODES=${MODES:-"simple prepared"}
TARGETS=${TARGETS:-"direct pgbouncer haproxy fwd_epoll fwd_uring ringgate"}
TPS=${TPS:-1}
[ "$TPS" = 0 ] && TARGETS=direct
REPEAT=${REPEAT:-1}
SCALE=${SCALE:-10}
ROWS_CLIENTS=${ROWS_CLIENTS:-16}
BUILD=${BUILD:-build/benchrel}
FWD_THREADS=${FWD_THREADS:-1}
RG_THREADS=${RG_THREADS:-1}
FRESH_BACKENDS=${FRESH_BACKENDS:-1}
IDLE_N=${IDLE_N:-10000}
RG_RULES=${RG_RULES:-"rules/baseline rules/pii"}
IDLE_TARGETS=${IDLE_TARGETS:-"ringgate pgbouncer pgbouncer_session ringgate_direct"}
IDLE_SESSION_N=${IDLE_SESSION_N:-2000}
IDLE_RG_PROCS=${IDLE_RG_PROCS:-0}
IDLE_RG_PORTS=${IDLE_RG_PORTS:-shared}
IDLE_POOL=${IDLE_POOL:-10}
IDLE_UPSTREAM_AUTH=${IDLE_UPSTREAM_AUTH:-scram}
IDLE_CONCURRENCY=${IDLE_CONCURRENCY:-32}
IDLE_MIN_AVAIL_MB=${IDLE_MIN_AVAIL_MB:-6144}
PG_BACKEND_KIB=${PG_BACKEND_KIB:-2400}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
# PERF_STAT=1: count kernel events per query for each proxy (perf stat -p during each run; it
# adds overhead, so keep it out of runs whose CPU numbers you report)
PERF_STAT=${PERF_STAT:-}
PERF_EVENTS=${PERF_EVENTS:-raw_syscalls:sys_enter,io_uring:io_uring_submit_req,io_uring:io_uring_complete,io_uring:io_uring_poll_arm,io_uring:io_uring_task_work_run,io_uring:io_uring_local_work_run,context-switches}
OUT=${OUT:-bench/results/pg_bench-$(date +%Y%m%d-%H%M%S).md}
RG_BIN=$BUILD/engine/ringgate
RGCTL=$BUILD/engine/ctl/ringgatectl
CMD_LINE="$(for v in DURATION CLIENTS MODES TARGETS TPS REPEAT SCALE ROWS_CLIENTS BUILD FWD_THREADS \
	RG_THREADS IDLE_N IDLE_TARGETS IDLE_SESSION_N IDLE_RG_PROCS IDLE_RG_PORTS IDLE_POOL \
	IDLE_UPSTREAM_AUTH FRESH_BACKENDS RG_RULES; do printf '%s=%q ' "$v" "${!v}"; done)bench/pg_bench.sh"
case $IDLE_RG_PORTS in shared | own) ;; *) echo "IDLE_RG_PORTS: shared or own" >&2; exit 1 ;; esac
case $IDLE_UPSTREAM_AUTH in scram | md5) ;; *) echo "IDLE_UPSTREAM_AUTH: scram or md5" >&2; exit 1 ;; esac

WANT_RG=
[[ " $TARGETS " == *" ringgate "* ]] && WANT_RG=1
[[ " $TARGETS " == *" ringgate_none "* ]] && WANT_RG=1
[ "$IDLE_N" -gt 0 ] && [[ " $IDLE_TARGETS " == *" ringgate"* ]] && WANT_RG=1
need_bins=()
[[ " $TARGETS " == *" fwd_epoll "* ]] && need_bins+=("$BUILD/bench/fwd/rg_fwd_epoll")
[[ " $TARGETS " == *" fwd_uring "* ]] && need_bins+=("$BUILD/bench/fwd/rg_fwd_uring")
[ -n "$WANT_RG" ] && [ -z "${RINGGATE_CMD:-}" ] && need_bins+=("$RG_BIN")
[ -n "$WANT_RG" ] && need_bins+=("$RGCTL")
for b in "${need_bins[@]}"; do
	[ -x "$b" ] || { echo "missing $b: cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release &&" \
		"cmake --build $BUILD --target rg_fwd_epoll rg_fwd_uring ringgate ringgatectl" >&2
		exit 1; }
done
# 2 fds per proxied session: take the hard limit (it may not be raisable in a container)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

T=$(mktemp -d /tmp/rg_pg_bench.XXXXXX)
chown postgres: "$T"
chmod 755 "$T"
declare -A PORT PID
PIDS=()

cleanup() {
	set +e
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/data" -m immediate stop >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "port $1 never opened" >&2
	return 1
}

sys_ticks() { # busy and idle clock ticks of the whole machine (/proc/stat, all CPUs)
	awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit}' /proc/stat
}

pg_ticks() { # PostgreSQL's CPU: the postmaster's own and that of its reaped children (backends)
	awk '{ sub(/.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$(head -1 "$T/data/postmaster.pid")/stat"
}

cpu_ticks() { # utime + stime of a process (all threads), in clock ticks
	[ -n "$1" ] || { echo 0; return; }
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

sys_of() { # stime alone: the proxy's kernel share (syscalls, its sockets' copies)
	[ -n "$1" ] || { echo 0; return; }
	awk '{ sub(/.*\) /, ""); print $13 }' "/proc/$1/stat"
}

rg_tree() { # the commit, and whether engine/ had uncommitted changes (binary built from the tree)
	local d
	d=$(git -C "$ROOT" status --porcelain -- engine 2>/dev/null | wc -l)
	printf '%s%s' "$(git -C "$ROOT" rev-parse --short HEAD)" \
		"$([ "$d" -gt 0 ] && echo " + $d uncommitted file(s) in engine/ at report time")"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# ---- PostgreSQL ----
PGPORT=$(free_port)
runuser -u postgres -- "$PGBIN/initdb" -D "$T/data" -A trust -U postgres >/dev/null
cat >>"$T/data/postgresql.conf" <<PGCONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$T'
max_connections = 300
shared_buffers = 256MB
fsync = off
synchronous_commit = off
PGCONF
# ringgate logs in with a real password (SCRAM) as rg_bench; everyone else is trusted
{ echo "host all rg_bench 127.0.0.1/32 scram-sha-256"; cat "$T/data/pg_hba.conf"; } >"$T/hba"
cat "$T/hba" >"$T/data/pg_hba.conf"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/data" -l "$T/pg.log" -w start >/dev/null
"$PGBIN/pgbench" -i -q -s "$SCALE" -h 127.0.0.1 -p "$PGPORT" -U postgres postgres >/dev/null 2>&1
# 1 % of the accounts carry a card number in filler, so rows1000 has PII for the masks to find
"$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -c \
	"UPDATE pgbench_accounts SET filler = 'card 4111 1111 1111 1111 of ' || aid WHERE aid % 100 = 0" \
	-c "VACUUM ANALYZE pgbench_accounts"
RG_PW=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
"$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
	-c "CREATE ROLE rg_bench LOGIN PASSWORD '$RG_PW'" -c "GRANT pg_read_all_data TO rg_bench"
PORT[direct]=$PGPORT
PID[direct]=""

# ---- ringgate: dev issuer, token (the agents' PGPASSWORD), 0600 password file ----
if [ -n "$WANT_RG" ]; then
	mkdir -m 700 "$T/issuer"
	"$RGCTL" dev-issuer init --dir "$T/issuer" --issuer https://bench.invalid/ >/dev/null
	RG_TOKEN=$("$RGCTL" token --dir "$T/issuer" --sub bench-agent --audience ringgate --ttl 6h)
	(umask 077 && printf '%s' "$RG_PW" >"$T/rg_bench.pw")
	RG_POLICY_YAML=""
	if [ "$RG_RULES" != none ]; then
		# shellcheck disable=SC2086 # the list is split into words on purpose
		"$BUILD/rulec/rulec" compile -o "$T/policy.rgb" $RG_RULES >/dev/null
		(umask 077 && head -c 32 /dev/urandom | base64 >"$T/mask.key")
		RG_POLICY_YAML="policy:
  bundle: $T/policy.rgb
  hmac_key_file: $T/mask.key"
	fi
fi
rg_config() { # port [target port [tag [policy yaml]]] -> config file path (own state_dir per tag)
	local tport=${2:-$PGPORT} tag=${3:-$1} policy=${4-$RG_POLICY_YAML}
	local f="$T/ringgate-$tag.yaml" sd="$T/rgstate-$tag"
	mkdir -p "$sd"
	chmod 700 "$sd"
	cat >"$f" <<RGCONF
version: 1
threads: $RG_THREADS
state_dir: $sd
listeners:
  - name: pg
    address: 127.0.0.1:$1
    protocol: postgres
identity:
  issuers:
    - issuer: https://bench.invalid/
      audience: ringgate
      jwks_file: $T/issuer/jwks.json
targets:
  - name: postgres
    protocol: postgres
    address: 127.0.0.1:$tport
    database: postgres
    user: rg_bench
    password_file: $T/rg_bench.pw
    tls: { mode: disable }
    allowed_auth: [scram-sha-256, md5]   # md5: the idle test's IDLE_UPSTREAM_AUTH=md5
limits:
  idle_timeout: 0s
  max_sessions: 100000
  max_pending_logins: 1024
  max_pending_per_address: 0   # every bench client connects from 127.0.0.1
$policy
RGCONF
	echo "$f"
}

# Every process this script starts runs in a session of its own (setsid), as a daemon does:
# with kernel.sched_autogroup_enabled=1 the scheduler shares the CPU between sessions first,
# and every PostgreSQL backend calls setsid(), so a proxy left in the script's session would
# share one backend's worth of CPU with pgbench (all proxies alike, but not how they run in
# production). Background jobs of a non-interactive shell are not group leaders, so setsid
# execs in place and $! stays the process's own pid.
SETSID=()
[ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0)" = 1 ] &&
	[ -z "${NO_SETSID:-}" ] && SETSID=(setsid)

start_bg() { # name, command...: start a process in the background, in its own session
	local name=$1
	shift
	"${SETSID[@]}" "$@" >"$T/$name.out" 2>&1 &
	PID[$name]=$!
	PIDS+=($!)
}

forget_pid() { # pid: no longer ours to kill at exit (it has been reaped; the number may be reused)
	local p keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# name port max_clients [pool_mode [pool_size [auth_type auth_file]]] -> ini path
pgb_config() {
	local mode=${4:-session} pool=${5:-$3} auth=${6:-trust} af=${7:-$T/userlist.txt}
	[ "$auth" = trust ] && echo '"postgres" ""' >"$af"
	cat >"$T/$1.ini" <<PGBCONF
[databases]
postgres = host=127.0.0.1 port=$PGPORT dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $2
unix_socket_dir =
auth_type = $auth
auth_file = $af
pool_mode = $mode
max_client_conn = $3
default_pool_size = $pool
logfile = $T/$1.log
PGBCONF
	chown postgres: "$T/$1.ini" "$af"
	echo "$T/$1.ini"
}

start_pgb() { # name port max_clients [pool_mode [pool_size [auth_type auth_file]]]
	local name=$1 c cfg
	cfg=$(pgb_config "$@")
	# setpriv, not runuser: runuser goes through PAM, which resets RLIMIT_NOFILE to 1024
	start_bg "$name" setpriv --reuid=postgres --regid=postgres --init-groups \
		/usr/sbin/pgbouncer "$cfg"
	wait_port "$2"
	# in case a wrapper forked: measure pgbouncer itself, not its parent
	c=$(pgrep -P "${PID[$name]}" pgbouncer || true)
	[ -n "$c" ] && { PID[$name]=$c; PIDS+=("$c"); }
	return 0
}

start_rg() { # name config port target-port: one ringgate process (or RINGGATE_CMD)
	local cmd
	if [ -n "${RINGGATE_CMD:-}" ]; then
		cmd=${RINGGATE_CMD//\{PORT\}/$3}
		cmd=${cmd//\{PGPORT\}/$4}
		cmd=${cmd//\{CONFIG\}/$2}
		start_bg "$1" bash -c "exec $cmd"
	else
		start_bg "$1" "$RG_BIN" --config "$2"
	fi
}

start_target() { # target-kind name port
	local t=$1 name=$2 p=$3
	case $t in
	pgbouncer)
		start_pgb "$name" "$p" 1000
		return 0
		;;
	haproxy)
		cat >"$T/haproxy.cfg" <<HACONF
global
	maxconn 2000
	nbthread 1
defaults
	mode tcp
	timeout connect 5s
	timeout client 1h
	timeout server 1h
listen pg
	bind 127.0.0.1:$p
	server pg1 127.0.0.1:$PGPORT
HACONF
		start_bg "$name" /usr/sbin/haproxy -db -f "$T/haproxy.cfg"
		;;
	fwd_epoll)
		start_bg "$name" "$BUILD/bench/fwd/rg_fwd_epoll" "$p" 127.0.0.1 "$PGPORT" "$FWD_THREADS"
		;;
	fwd_uring)
		start_bg "$name" "$BUILD/bench/fwd/rg_fwd_uring" "$p" 127.0.0.1 "$PGPORT" "$FWD_THREADS"
		;;
	ringgate)
		start_rg "$name" "$(rg_config "$p")" "$p" "$PGPORT"
		;;
	ringgate_none) # the same gateway without a bundle: pass-through
		start_rg "$name" "$(rg_config "$p" "$PGPORT" "$name" "")" "$p" "$PGPORT"
		;;
	*) echo "unknown target $t" >&2; exit 1 ;;
	esac
	wait_port "$p"
}

stop_target() { # name: SIGTERM, wait (bounded), SIGKILL
	local pid=${PID[$1]:-} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# a wrapper (setpriv) is our child; pgbouncer itself may not be: wait for it to go
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	forget_pid "$pid"
	PID[$1]=""
}

for t in $TARGETS; do
	[ "$t" = direct ] && continue
	PORT[$t]=$(free_port)
	start_target "$t" "$t" "${PORT[$t]}"
done

cat >"$T/rows1000.sql" <<'SQL'
\set a random(1, 99000)
SELECT * FROM pgbench_accounts WHERE aid BETWEEN :a AND :a + 999;
SQL

HZ=$(getconf CLK_TCK)
RAW="${OUT%.md}.raw.tsv"
mkdir -p "$(dirname "$OUT")"
printf 'rep\tscenario\tprotocol\tclients\ttarget\ttps\tcpu_us_per_query\tp50_ms\tp99_ms\tclient_p10_pct\tjain\n' >"$RAW"
# machine CPU per transaction (see run_one); pgbench's own CPU needs GNU time
SYS_RAW="${OUT%.md}.syscpu.tsv"
printf 'rep\tscenario\tprotocol\tclients\ttarget\ttps\tmachine_busy_pct\tbusy_us_per_tx\tproxy_us\tpgbench_us\tpostgres_us\tother_us\tpgbench_cs_per_tx\tproxy_sys_us\n' >"$SYS_RAW"
TIMEV=()
[ -x /usr/bin/time ] && TIMEV=(/usr/bin/time -f "%U %S %w %c" -o "$T/time.out")
PERF_RAW="${OUT%.md}.perf.tsv"
[ -n "$PERF_STAT" ] && printf 'rep\tscenario\tprotocol\tclients\ttarget\t%s (per query)\n' \
	"$(tr ',' '\t' <<<"$PERF_EVENTS")" >"$PERF_RAW"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE_START=$(date -u +%Y-%m-%dT%H:%M:%SZ)

pg_sql() { "$PGBIN/psql" -qAt -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "$1"; }

# Every run starts on fresh PostgreSQL backends: pgbouncer's session pool keeps the server
# connections of the previous run open and hands them to the next run's clients, while
# every other target (and direct) gets newly forked backends. On this VM that alone made
# pgbouncer's prepared/16 runs 2.2-2.4x faster on inherited backends than on fresh ones
# (8 s runs). Without this, the table measures which target inherited warm backends, not
# the relay.
fresh_backends() {
	local i n
	pg_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" >/dev/null
	for i in $(seq 100); do
		n=$(pg_sql "SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
		[ "$n" = 0 ] && return 0
		sleep 0.1
	done
	echo "warning: $n client backends still alive before the run" >&2
}

run_one() { # rep target mode clients scenario
	local rep=$1 t=$2 mode=$3 c=$4 sc=$5 pid=${PID[$2]:-} log out c0 c1 tps n p50 p99 cpu p10 jain pw= s0 s1 i0 i1 g0 g1
	local args ppid=
	log="$T/log_${t}_${mode}_${c}_${sc}"
	rm -f "$log".*
	if [ "$sc" = rows1000 ]; then args=(-f "$T/rows1000.sql"); else args=(-S); fi
	user=postgres
	# through ringgate the startup user is the token's subject (docs/pg.md)
	case $t in ringgate | ringgate_none) pw=$RG_TOKEN; user=bench-agent ;; esac
	if [ -n "$PERF_STAT" ] && [ -n "$pid" ]; then
		perf stat -x, -e "$PERF_EVENTS" -p "$pid" -o "$T/perf.$t" &
		ppid=$!
		sleep 0.2
	fi
	[ "$FRESH_BACKENDS" = 1 ] && fresh_backends
	c0=$(cpu_ticks "$pid")
	k0=$(sys_of "$pid")
	read -r s0 i0 < <(sys_ticks)
	g0=$(pg_ticks)
	out=$(PGPASSWORD=$pw "${TIMEV[@]}" timeout $((DURATION + 120)) "${SETSID[@]}" "$PGBIN/pgbench" -n "${args[@]}" \
		-M "$mode" -c "$c" -j 2 -T "$DURATION" -h 127.0.0.1 -p "${PORT[$t]}" -U "$user" \
		--log --log-prefix="$log" postgres 2>&1) ||
		{ echo "pgbench failed against $t: $out" >&2; return 0; }
	c1=$(cpu_ticks "$pid")
	k1=$(sys_of "$pid")
	read -r s1 i1 < <(sys_ticks)
	# the run's backends count once reaped: end them (pgbouncer keeps its own) and wait
	fresh_backends
	g1=$(pg_ticks)
	if [ -n "$ppid" ]; then
		kill -INT "$ppid"
		wait "$ppid" 2>/dev/null || true
	fi
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' <<<"$out")
	n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
	read -r p50 p99 < <(cat "$log".* | awk '{print $3}' | sort -n |
		awk '{v[NR]=$1} END {i50=int(NR*0.50); i99=int(NR*0.99); if (i50<1) i50=1;
			if (i99<1) i99=1; printf "%.3f %.3f\n", v[i50]/1000, v[i99]/1000}')
	# fairness: transactions per client (column 1 of the log is the client id). p10 = the
	# client at the 10th percentile, as % of the mean client; Jain's index (sum x)^2 / (n sum x^2)
	# is 1 when every client was served alike and 1/n when one client got everything.
	read -r p10 jain < <(cat "$log".* | awk '{n[$1]++} END {for (k in n) print n[k]}' | sort -n |
		awk -v c="$c" '{v[NR] = $1; s += $1; q += $1 * $1}
			END {
				z = c - NR # clients that finished no transaction are not in the log
				i10 = int(c * 0.1); if (i10 < 1) i10 = 1
				x = i10 <= z ? 0 : v[i10 - z]
				if (s == 0) print "- -"
				else printf "%.0f %.3f\n", 100 * x / (s / c), s * s / (c * q)
			}')
	if [ -n "$pid" ] && [ "${n:-0}" -gt 0 ]; then
		cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$n" \
			'BEGIN {printf "%.1f", (b - a) * 1e6 / hz / n}')
	else
		cpu="-"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$sc" "$mode" "$c" "$t" "$tps" \
		"$cpu" "$p50" "$p99" "$p10" "$jain" | tee -a "$RAW" >&2
	if [ -n "$ppid" ] && [ "${n:-0}" -gt 0 ]; then
		{
			printf '%s\t%s\t%s\t%s\t%s' "$rep" "$sc" "$mode" "$c" "$t"
			awk -F, -v n="$n" '/^[0-9]/ {printf "\t%.2f", $1 / n}' "$T/perf.$t"
			echo
		} >>"$PERF_RAW"
	fi
	# where the machine's CPU went per transaction: all busy time, the proxy, pgbench (its
	# rusage via /usr/bin/time), PostgreSQL (postmaster + reaped backends) and the rest (softirq
	# time the kernel does not charge to a process, other processes)
	if [ "${n:-0}" -gt 0 ]; then
		local pgb="-" pgcs="-"
		if [ -s "$T/time.out" ]; then
			pgb=$(awk -v n="$n" 'END {printf "%.1f", ($1 + $2) * 1e6 / n}' "$T/time.out")
			pgcs=$(awk -v n="$n" 'END {printf "%.2f", ($3 + $4) / n}' "$T/time.out")
		fi
		awk -v s0="$s0" -v s1="$s1" -v i0="$i0" -v i1="$i1" -v hz="$HZ" -v n="$n" \
			-v a="$c0" -v b="$c1" -v k0="$k0" -v k1="$k1" -v pgb="$pgb" -v pgcs="$pgcs" -v g0="$g0" -v g1="$g1" -v px="$pid" -v pre="$rep\t$sc\t$mode\t$c\t$t\t$tps" '
			BEGIN {
				busy = (s1 - s0) * 1e6 / hz / n
				prox = px == "" ? 0 : (b - a) * 1e6 / hz / n
				pg = (g1 - g0) * 1e6 / hz / n
				rest = pgb == "-" ? "-" : sprintf("%.1f", busy - prox - pgb - pg)
				printf "%s\t%.0f\t%.1f\t%s\t%s\t%.1f\t%s\t%s\t%s\n", pre, 100 * (s1 - s0) / (s1 - s0 + i1 - i0),
					busy, px == "" ? "-" : sprintf("%.1f", prox), pgb, pg, rest, pgcs,
					px == "" ? "-" : sprintf("%.1f", (k1 - k0) * 1e6 / hz / n)
			}' >>"$SYS_RAW"
	fi
	rm -f "$log".* "$T/time.out"
}

rotate() { # k words...: the words rotated left by k
	local k=$1 i
	shift
	local a=("$@") n=$#
	for ((i = 0; i < n; i++)); do printf '%s ' "${a[$(((i + k) % n))]}"; done
}

[ "$TPS" = 0 ] && REPEAT=0
for ((rep = 1; rep <= REPEAT; rep++)); do
	# shellcheck disable=SC2086 # the list is split into words on purpose
	order=$(rotate $((rep - 1)) $TARGETS)
	for mode in $MODES; do
		for c in $CLIENTS; do
			for t in $order; do run_one "$rep" "$t" "$mode" "$c" select1; done
		done
	done
	for t in $order; do run_one "$rep" "$t" simple "$ROWS_CLIENTS" rows1000; done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# stop the proxies; rg_fwd_uring prints its counters on SIGTERM
for t in $TARGETS; do [ "$t" = direct ] || stop_target "$t"; done

# ---- the table: medians over repeats, % of direct; ringgate against the issue's targets ----
TABLE=$(awk -F'\t' -v order="$TARGETS" '
function med(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	if (n == 0) return ""
	if (a[1] == "-") return "-"
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function ratio(a, b) {
	return (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b)
}
NR > 1 {
	k = $2 SUBSEP $3 SUBSEP $4
	if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
	c = k SUBSEP $5
	tps[c] = tps[c] " " $6; cpu[c] = cpu[c] " " $7; p50[c] = p50[c] " " $8; p99[c] = p99[c] " " $9
	f10[c] = f10[c] " " $10; fj[c] = fj[c] " " $11
}
END {
	nt = split(order, tg, " ")
	for (i = 1; i <= nk; i++) {
		split(keys[i], kk, SUBSEP)
		d = med(tps[keys[i] SUBSEP "direct"])
		for (j = 1; j <= nt; j++) {
			c = keys[i] SUBSEP tg[j]
			if (!(c in tps)) continue
			v = med(tps[c]); u = med(cpu[c])
			pct = d > 0 ? sprintf("%.0f %%", 100 * v / d) : "-"
			a10 = med(f10[c]); aj = med(fj[c])
			printf "| %s | %s | %s | %s | %.0f | %s | %s | %.3f | %.3f | %s | %s |\n", kk[1], kk[2], kk[3],
				tg[j], v, pct, (u == "-" ? "-" : sprintf("%.1f", u)), med(p50[c]), med(p99[c]),
				(a10 == "-" ? "-" : sprintf("%.0f %%", a10)), (aj == "-" ? "-" : sprintf("%.3f", aj))
			TT[keys[i], tg[j]] = v; UU[keys[i], tg[j]] = u
		}
	}
	if (!index(" " order " ", " ringgate ")) exit
	print ""
	print "ringgate against the others (ratios of the medians above):"
	print ""
	print "| scenario | protocol | clients | TPS / pgbouncer | TPS / fwd_epoll | TPS / fwd_uring | TPS / direct | CPU / fwd_epoll | CPU / fwd_uring | CPU / pgbouncer |"
	print "|---|---|---|---|---|---|---|---|---|---|"
	for (i = 1; i <= nk; i++) {
		if (!((keys[i], "ringgate") in TT)) continue
		split(keys[i], kk, SUBSEP)
		r = TT[keys[i], "ringgate"]; ru = UU[keys[i], "ringgate"]
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", kk[1], kk[2], kk[3],
			ratio(r, TT[keys[i], "pgbouncer"]), ratio(r, TT[keys[i], "fwd_epoll"]),
			ratio(r, TT[keys[i], "fwd_uring"]), ratio(r, TT[keys[i], "direct"]),
			ratio(ru, UU[keys[i], "fwd_epoll"]), ratio(ru, UU[keys[i], "fwd_uring"]),
			ratio(ru, UU[keys[i], "pgbouncer"])
	}
}' "$RAW")

# ---- idle sessions: RSS per logged-in idle session ----
IDLE_ROWS=()
IDLE_NOTES=()
FD_LIM=$(ulimit -n)

fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

listen_count() { # port: listening TCP sockets on it (all processes)
	awk -v p=":$(printf '%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p' \
		/proc/net/tcp | wc -l
}

pg_commits() { pg_sql "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'"; }

wait_backends_gone() { # let PostgreSQL reap the backends before the next proxy logs in (else its
	# first logins hit connect timeouts while the postmaster is busy)
	local i nb
	for i in $(seq 180); do
		nb=$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'" \
			2>/dev/null || echo 999999)
		[ "$nb" -le 1 ] && return 0
		sleep 1
	done
	echo "PostgreSQL still has $nb client backends" >&2
}

# idle_measure label n password ports pid...: two clients of n/2 sessions each (the average
# (after - before) / n includes one-time growth: provided-buffer pages touched for the first
# time, malloc arenas; the marginal (RSS at n - RSS at n/2) / (n/2) is what one more idle
# session costs). RSS and fds are summed over the pids; with more than one pid, one row per
# process too (its sessions counted as (fds - fds before) / 2: 2 fds per proxied session).
# IDLE_SIDE_PID: a process on the path that is not counted (its RSS goes to a note).
IDLE_SIDE_PID=
idle_measure() {
	local label=$1 n=$2 pw=$3 ports=$4 half k i cpid ok per marg held s1 s2 side=""
	shift 4
	local pids=("$@") r0=() f0=() r1=() f1=() r2=() f2=() oks=() reps=() sr0=0 sr1=0 sr2=0 sf=0
	half=$((n / 2))
	sleep 1
	for i in "${!pids[@]}"; do
		r0[i]=$(rss_kib "${pids[i]}")
		f0[i]=$(fd_count "${pids[i]}")
	done
	[ -n "$IDLE_SIDE_PID" ] && side="$(rss_kib "$IDLE_SIDE_PID")"
	for k in 1 2; do
		rm -f "$T/idle.ready"
		start_bg "client_$k" env PGPASSWORD="$pw" python3 bench/idle_sessions.py \
			--user "$([ "$pw" = "$RG_TOKEN" ] && echo bench-agent || echo postgres)" \
			--port "$ports" --n $((k == 1 ? half : n - half)) \
			--concurrency "$IDLE_CONCURRENCY" --ready-file "$T/idle.ready" \
			--min-avail-mb "$IDLE_MIN_AVAIL_MB" --hold 3600
		cpid=${PID[client_$k]}
		for i in $(seq 3600); do
			[ -f "$T/idle.ready" ] && break
			kill -0 "$cpid" 2>/dev/null || break
			sleep 0.5
		done
		sleep 3
		for i in "${!pids[@]}"; do
			if [ "$k" = 1 ]; then
				r1[i]=$(rss_kib "${pids[i]}")
				f1[i]=$(fd_count "${pids[i]}")
			else
				r2[i]=$(rss_kib "${pids[i]}")
				f2[i]=$(fd_count "${pids[i]}")
			fi
		done
		reps+=("$(cat "$T/idle.ready" 2>/dev/null || echo '{"ok": 0, "first_error": "no report"}')")
		oks+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ok"])' "${reps[-1]}")")
		echo "idle $label step $k: ${reps[-1]}; VmRSS (sum) at step $k: $(
			if [ "$k" = 1 ]; then printf '%s+' "${r1[@]}"; else printf '%s+' "${r2[@]}"; fi) KiB" >&2
	done
	[ -n "$IDLE_SIDE_PID" ] && side="$side -> $(rss_kib "$IDLE_SIDE_PID") KiB, $(fd_count "$IDLE_SIDE_PID") fds"
	stop_target client_2
	stop_target client_1
	held="$(tail -1 "$T/client_1.out") $(tail -1 "$T/client_2.out")"
	ok=$((oks[0] + oks[1]))
	for i in "${!pids[@]}"; do
		sr0=$((sr0 + r0[i])); sr1=$((sr1 + r1[i])); sr2=$((sr2 + r2[i])); sf=$((sf + f2[i]))
	done
	per=$(awk -v a="$sr0" -v b="$sr2" -v n="$ok" \
		'BEGIN {if (n > 0) printf "%.2f", (b - a) / n; else printf "-"}')
	marg=$(awk -v a="$sr1" -v b="$sr2" -v n="${oks[1]}" \
		'BEGIN {if (n > 0) printf "%.2f", (b - a) / n; else printf "-"}')
	IDLE_ROWS+=("| $label | $n | $ok | $sr0 | $sr1 | $sr2 | $per | $marg | $sf | \`${reps[0]}\` \`${reps[1]}\` \`$held\` |")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$n" "$ok" "$sr0" "$sr1" "$sr2" \
		"$per" "$marg" "$sf" "$label" >>"$IDLE_RAW"
	if [ "${#pids[@]}" -gt 1 ]; then
		for i in "${!pids[@]}"; do
			s1=$(((f1[i] - f0[i]) / 2))
			s2=$(((f2[i] - f0[i]) / 2))
			per=$(awk -v a="${r0[i]}" -v b="${r2[i]}" -v n="$s2" \
				'BEGIN {if (n > 0) printf "%.2f", (b - a) / n; else printf "-"}')
			marg=$(awk -v a="${r1[i]}" -v b="${r2[i]}" -v n="$((s2 - s1))" \
				'BEGIN {if (n > 0) printf "%.2f", (b - a) / n; else printf "-"}')
			IDLE_ROWS+=("| ↳ process $((i + 1)) of ${#pids[@]} | | $s2 (fds) | ${r0[i]} | ${r1[i]} | ${r2[i]} | $per | $marg | ${f2[i]} | $s1 sessions at N/2 |")
		done
	fi
	IDLE_SIDE_RSS=$side
}

idle_fit() { # kind asked-n backends-per-session fd-capacity -> FIT_N (0: skip); notes
	local kind=$1 n=$2 per_backend=$3 fit_fd=$4 avail_mb fit_mem
	avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
	# PostgreSQL backends, or (pooled) ~64 KiB per session for proxy + client + pooler
	fit_mem=$(((avail_mb - IDLE_MIN_AVAIL_MB) * 1024 / (per_backend ? PG_BACKEND_KIB + 64 : 64)))
	if [ "$n" -gt "$fit_mem" ]; then
		IDLE_NOTES+=("$kind: N lowered from $n to $fit_mem: MemAvailable ${avail_mb} MiB, ${IDLE_MIN_AVAIL_MB} MiB kept free$([ "$per_backend" = 1 ] && echo ", ~${PG_BACKEND_KIB} KiB per PostgreSQL backend").")
		n=$fit_mem
	fi
	if [ "$n" -gt "$fit_fd" ]; then
		IDLE_NOTES+=("$kind: N lowered from $n to $fit_fd: fd limit $FD_LIM per process.")
		n=$fit_fd
	fi
	if [ "$n" -lt 100 ]; then
		IDLE_NOTES+=("$kind: skipped (N would be $n).")
		n=0
	fi
	FIT_N=$n
}

# ringgate processes sharing one port (or one port each): sets RGP_PIDS and RGP_PORTS
start_rg_procs() { # prefix nprocs target-port
	local pre=$1 np=$2 tport=$3 i p shared want
	RGP_PIDS=()
	RGP_PORTS=""
	shared=$(free_port)
	for ((i = 1; i <= np; i++)); do
		p=$shared
		[ "$IDLE_RG_PORTS" = own ] && p=$(free_port)
		start_rg "$pre$i" "$(rg_config "$p" "$tport" "$pre$i")" "$p" "$tport"
		want=$RG_THREADS
		[ "$IDLE_RG_PORTS" = shared ] && want=$((i * RG_THREADS))
		for _ in $(seq 100); do
			[ "$(listen_count "$p")" -ge "$want" ] && break
			kill -0 "${PID[$pre$i]}" 2>/dev/null || break
			sleep 0.1
		done
		if ! kill -0 "${PID[$pre$i]}" 2>/dev/null || [ "$(listen_count "$p")" -lt "$want" ]; then
			echo "ringgate process $i of $np did not come up on port $p:" >&2
			cat "$T/$pre$i.out" >&2
			exit 1
		fi
		RGP_PIDS+=("${PID[$pre$i]}")
		if [ "$IDLE_RG_PORTS" = own ]; then RGP_PORTS+="${RGP_PORTS:+,}$p"; else RGP_PORTS=$p; fi
	done
}

stop_rg_procs() { # prefix nprocs
	local i
	for ((i = 1; i <= $2; i++)); do stop_target "$1$i"; done
}

# one line per idle kind, for bench/run (kind: the IDLE_TARGETS entry)
IDLE_RAW="${OUT%.md}.idle.tsv"
if [ "$IDLE_N" -gt 0 ]; then
	printf 'kind\tn_asked\tsessions\trss_before_kib\trss_half_kib\trss_n_kib\tkib_per_session\tmarginal_kib_per_session\tfds\tlabel\n' >"$IDLE_RAW"
	declare -A KIND_N
	rg_procs=$IDLE_RG_PROCS
	if [ "$rg_procs" -le 0 ]; then # each process under 80 % of its fds (2 per session)
		rg_procs=$(((IDLE_N + (FD_LIM - 64) * 4 / 10 - 1) / ((FD_LIM - 64) * 4 / 10)))
	fi
	rgd_procs=$(((IDLE_SESSION_N + (FD_LIM - 64) * 4 / 10 - 1) / ((FD_LIM - 64) * 4 / 10)))
	max_backends=0
	for kind in $IDLE_TARGETS; do
		case $kind in
		ringgate) # and the pgbouncer behind it needs one fd per session
			cap=$(((FD_LIM - 64) * rg_procs / 2))
			[ "$cap" -gt $((FD_LIM - 64 - IDLE_POOL)) ] && cap=$((FD_LIM - 64 - IDLE_POOL))
			idle_fit "$kind" "$IDLE_N" 0 "$cap"
			;;
		pgbouncer) idle_fit "$kind" "$IDLE_N" 0 $((FD_LIM - 64 - IDLE_POOL)) ;;
		pgbouncer_session) idle_fit "$kind" "$IDLE_SESSION_N" 1 $((FD_LIM - 64)) ;;
		ringgate_direct) idle_fit "$kind" "$IDLE_SESSION_N" 1 $(((FD_LIM - 64) * rgd_procs / 2)) ;;
		*) echo "unknown idle target $kind" >&2; exit 1 ;;
		esac
		KIND_N[$kind]=$FIT_N
		case $kind in pgbouncer_session | ringgate_direct)
			[ "${KIND_N[$kind]}" -gt "$max_backends" ] && max_backends=${KIND_N[$kind]} ;;
		esac
	done
	echo "max_connections = $((max_backends + 100 > 300 ? max_backends + 100 : 300))" \
		>>"$T/data/postgresql.conf"
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/data" -l "$T/pg.log" -w restart >/dev/null

	for kind in $IDLE_TARGETS; do
		n=${KIND_N[$kind]}
		[ "$n" -gt 0 ] || continue
		echo "$(date +%T) idle $kind: N=$n" >&2
		c0=$(pg_commits)
		IDLE_SIDE_PID=
		case $kind in
		ringgate)
			up=$(free_port)
			if [ "$IDLE_UPSTREAM_AUTH" = scram ]; then
				secret=$(pg_sql "SELECT rolpassword FROM pg_authid WHERE rolname = 'rg_bench'")
				upauth=scram-sha-256
			else
				secret=$RG_PW
				upauth=md5
			fi
			(umask 077 && printf '"rg_bench" "%s"\n' "$secret" >"$T/upstream_users.txt")
			start_pgb idle_upstream "$up" $((n + 100)) transaction "$IDLE_POOL" "$upauth" \
				"$T/upstream_users.txt"
			IDLE_SIDE_PID=${PID[idle_upstream]}
			start_rg_procs idle_rg "$rg_procs" "$up"
			label="ringgate ($rg_procs process(es) × $RG_THREADS worker(s), port $IDLE_RG_PORTS; upstream: pgbouncer transaction pool of $IDLE_POOL, $IDLE_UPSTREAM_AUTH)"
			idle_measure "$label" "$n" "$RG_TOKEN" "$RGP_PORTS" "${RGP_PIDS[@]}"
			stop_rg_procs idle_rg "$rg_procs"
			stop_target idle_upstream
			IDLE_NOTES+=("$label: the pgbouncer between ringgate and PostgreSQL (not counted above): VmRSS $IDLE_SIDE_RSS at N.")
			;;
		ringgate_direct)
			start_rg_procs idle_rgd "$rgd_procs" "$PGPORT"
			label="ringgate → PostgreSQL ($rgd_procs process(es), a backend per session)"
			idle_measure "$label" "$n" "$RG_TOKEN" "$RGP_PORTS" "${RGP_PIDS[@]}"
			stop_rg_procs idle_rgd "$rgd_procs"
			;;
		pgbouncer | pgbouncer_session)
			p=$(free_port)
			if [ "$kind" = pgbouncer ]; then
				start_pgb idle_pgb "$p" $((n + 100)) transaction "$IDLE_POOL"
				label="pgbouncer (transaction pool of $IDLE_POOL)"
			else
				start_pgb idle_pgb "$p" $((n + 100)) session $((n + 100))
				label="pgbouncer (session, a backend per session)"
			fi
			idle_measure "$label" "$n" "" "$p" "${PID[idle_pgb]}"
			stop_target idle_pgb
			;;
		esac
		wait_backends_gone
		IDLE_NOTES+=("$label: PostgreSQL commits in database postgres during the run (backends' stats flushed at exit): $(($(pg_commits) - c0)) (each session's SELECT 1 is one, and so is each backend's login; a session-mode pooler adds DISCARD ALL etc.).")
	done
fi

{
	echo "# pg_bench $DATE_START"
	echo
	echo "command: \`$CMD_LINE\`"
	echo
	echo "host: $(nproc) CPUs, $(uname -r), $(free -g | awk '/^Mem:/ {print $2}') GiB;" \
		"PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'),"
	echo "$(pgbouncer --version | head -1), $(haproxy -v | head -1 | awk '{print $1, $3}')," \
		"ringgate at $(cat "$BUILD/.rg_commit" 2>/dev/null || rg_tree) (binary: $RG_BIN of $(date -u -r "$RG_BIN" +%H:%MZ 2>/dev/null));"
	echo "load average (1/5/15 min) at start: $LOAD_START$([ "$TPS" != 0 ] && echo "; after the TPS runs: $LOAD_END");" \
		"at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "duration ${DURATION}s per run, $REPEAT run(s) per cell (median shown), pgbench -j 2, scale $SCALE;"
	echo "forwarders with $FWD_THREADS thread(s), ringgate with $RG_THREADS worker(s), haproxy nbthread 1,"
	echo "pgbouncer single-threaded. ringgate: JWT login (ES256 dev issuer), SCRAM to PostgreSQL, policy bundle: ${RG_RULES}."
	echo "select1 = pgbench -S; rows1000 = SELECT of 1000 rows of pgbench_accounts per transaction (1 % of them carry a card number)."
	echo "CPU µs/query = proxy process (utime+stime) / transactions; latency from pgbench --log."
	echo "Backends: $([ "$FRESH_BACKENDS" = 1 ] && echo "every run starts on fresh PostgreSQL backends (all client backends terminated before it)" || echo "FRESH_BACKENDS=0: pgbouncer's pool keeps its backends from run to run")."
	echo "Sessions: proxies and pgbench each $([ ${#SETSID[@]} -gt 0 ] && echo "in a session of their own (setsid; sched_autogroup on)" || echo "in the script's session (NO_SETSID or sched_autogroup off)")."
	echo "Fairness, from the same log: p10 client = transactions of the client at the 10th percentile"
	echo "as % of the mean client (100 % = all alike); Jain = (Σx)²/(n·Σx²) over the clients' counts."
	echo
	if [ "$TPS" != 0 ]; then
		echo "| scenario | protocol | clients | target | TPS | % of direct | proxy CPU µs/query | p50 ms | p99 ms | p10 client | Jain |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|"
		echo "$TABLE"
		echo
	fi
	if [ "${#IDLE_ROWS[@]}" -gt 0 ] || [ "${#IDLE_NOTES[@]}" -gt 0 ]; then
		echo "Idle sessions (logged in, one SELECT 1 that returned its row, then idle; VmRSS of the"
		echo "proxy before, at N/2 and at N, summed over its processes; fd limit $FD_LIM per process):"
		echo
		echo "| proxy | N asked | sessions up | VmRSS before KiB | at N/2 KiB | at N KiB | KiB per session (after-before)/N | marginal KiB per session (N/2..N) | proxy fds at N | client reports |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
		[ "${#IDLE_ROWS[@]}" -gt 0 ] && printf '%s\n' "${IDLE_ROWS[@]}"
		echo
		[ "${#IDLE_NOTES[@]}" -gt 0 ] && printf -- '- %s\n' "${IDLE_NOTES[@]}"
		echo
	fi
	if [ -f "$T/fwd_uring.out" ]; then echo '```'; cat "$T/fwd_uring.out"; echo '```'; fi
	if [ -n "$PERF_STAT" ]; then
		echo "kernel events per query (perf stat -p on the proxy during each run):"
		echo
		echo '```'
		column -t -s $'\t' "$PERF_RAW"
		echo '```'
	fi
	echo "raw runs: \`$RAW\`"
} | tee "$OUT"
