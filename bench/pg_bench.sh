#!/usr/bin/env bash
# pg_bench.sh: one command that measures PostgreSQL proxies on this machine, in one run so
# that VM drift (±30 % between runs) hits every target alike. It starts a throwaway
# PostgreSQL 15 (trust auth on 127.0.0.1, temp dir owned by postgres), pgbouncer (session
# mode), haproxy (tcp mode), rg_fwd_epoll (the floor) and rg_fwd_uring (rg_core), all on
# free ports, runs pgbench -S (simple and prepared) at each client count plus a 1000-row
# query scenario against each, and prints a markdown table (also written to $OUT).
#
# Per run: TPS, TPS as % of direct, proxy CPU µs per query ((utime+stime) delta from
# /proc/PID/stat / transactions), p50/p99 latency from pgbench --log per-transaction times.
#
# Knobs (environment): DURATION=15  CLIENTS="8 16 64"  MODES="simple prepared"
#   TARGETS="direct pgbouncer haproxy fwd_epoll fwd_uring"  SCALE=10  ROWS_CLIENTS=16
#   BUILD=build/corerel (where rg_fwd_* are built)  FWD_THREADS=1 (epoll threads, uring workers)
#   OUT=bench/results/pg_bench-<date>.md
#   RINGGATE_CMD: hook for the real gateway; a command with {PORT} and {PGPORT} placeholders,
#     e.g. RINGGATE_CMD='build/corerel/engine/ringgate --listen 127.0.0.1:{PORT} --upstream
#     127.0.0.1:{PGPORT}'. When set, target "ringgate" is added.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-15}
CLIENTS=${CLIENTS:-"8 16 64"}
MODES=${MODES:-"simple prepared"}
TARGETS=${TARGETS:-"direct pgbouncer haproxy fwd_epoll fwd_uring"}
SCALE=${SCALE:-10}
ROWS_CLIENTS=${ROWS_CLIENTS:-16}
BUILD=${BUILD:-build/corerel}
FWD_THREADS=${FWD_THREADS:-1}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OUT=${OUT:-bench/results/pg_bench-$(date +%Y%m%d-%H%M%S).md}
[ -n "${RINGGATE_CMD:-}" ] && TARGETS="$TARGETS ringgate"

for b in "$BUILD/bench/fwd/rg_fwd_epoll" "$BUILD/bench/fwd/rg_fwd_uring"; do
	[ -x "$b" ] || { echo "missing $b: cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release &&" \
		"cmake --build $BUILD --target rg_fwd_epoll rg_fwd_uring" >&2; exit 1; }
done

T=$(mktemp -d /tmp/rg_pg_bench.XXXXXX)
chown postgres: "$T"
chmod 755 "$T"
declare -A PORT PID
PIDS=()

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/data" -m immediate stop >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

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

cpu_ticks() { # utime + stime of a process (all threads), in clock ticks
	[ -n "$1" ] || { echo 0; return; }
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# ---- PostgreSQL ----
PGPORT=$(free_port)
runuser -u postgres -- "$PGBIN/initdb" -D "$T/data" -A trust -U postgres >/dev/null
cat >>"$T/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$T'
max_connections = 300
shared_buffers = 256MB
fsync = off
synchronous_commit = off
EOF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/data" -l "$T/pg.log" -w start >/dev/null
"$PGBIN/pgbench" -i -q -s "$SCALE" -h 127.0.0.1 -p "$PGPORT" -U postgres postgres >/dev/null 2>&1
PORT[direct]=$PGPORT
PID[direct]=""

start_bg() { # name, command...: start a proxy in the background
	local name=$1
	shift
	"$@" >"$T/$name.out" 2>&1 &
	PID[$name]=$!
	PIDS+=($!)
}

for t in $TARGETS; do
	[ "$t" = direct ] && continue
	p=$(free_port)
	PORT[$t]=$p
	case $t in
	pgbouncer)
		echo '"postgres" ""' >"$T/userlist.txt"
		cat >"$T/pgbouncer.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=$PGPORT dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $p
unix_socket_dir =
auth_type = trust
auth_file = $T/userlist.txt
pool_mode = session
max_client_conn = 1000
default_pool_size = 200
logfile = $T/pgbouncer.log
EOF
		chown postgres: "$T/pgbouncer.ini" "$T/userlist.txt"
		start_bg pgbouncer runuser -u postgres -- /usr/sbin/pgbouncer "$T/pgbouncer.ini"
		;;
	haproxy)
		cat >"$T/haproxy.cfg" <<EOF
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
EOF
		start_bg haproxy /usr/sbin/haproxy -db -f "$T/haproxy.cfg"
		;;
	fwd_epoll)
		start_bg fwd_epoll "$BUILD/bench/fwd/rg_fwd_epoll" "$p" 127.0.0.1 "$PGPORT" "$FWD_THREADS"
		;;
	fwd_uring)
		start_bg fwd_uring "$BUILD/bench/fwd/rg_fwd_uring" "$p" 127.0.0.1 "$PGPORT" "$FWD_THREADS"
		;;
	ringgate)
		cmd=${RINGGATE_CMD//\{PORT\}/$p}
		cmd=${cmd//\{PGPORT\}/$PGPORT}
		start_bg ringgate bash -c "exec $cmd"
		;;
	*) echo "unknown target $t" >&2; exit 1 ;;
	esac
	wait_port "$p"
done
# runuser forks: measure pgbouncer itself, not the runuser parent
if [ -n "${PID[pgbouncer]:-}" ]; then
	PID[pgbouncer]=$(pgrep -P "${PID[pgbouncer]}" pgbouncer || echo "${PID[pgbouncer]}")
fi

cat >"$T/rows1000.sql" <<'EOF'
\set a random(1, 99000)
SELECT * FROM pgbench_accounts WHERE aid BETWEEN :a AND :a + 999;
EOF

HZ=$(getconf CLK_TCK)
declare -A DIRECT_TPS
ROWS=()

run_one() { # target mode clients scenario
	local t=$1 mode=$2 c=$3 sc=$4 pid=${PID[$1]:-} log out c0 c1 tps n p50 p99 cpu pct args
	log="$T/log_${t}_${mode}_${c}_${sc}"
	rm -f "$log".*
	if [ "$sc" = rows1000 ]; then args=(-f "$T/rows1000.sql"); else args=(-S); fi
	c0=$(cpu_ticks "$pid")
	out=$("$PGBIN/pgbench" -n "${args[@]}" -M "$mode" -c "$c" -j 2 -T "$DURATION" \
		-h 127.0.0.1 -p "${PORT[$t]}" -U postgres --log --log-prefix="$log" postgres 2>&1) ||
		{ echo "pgbench failed against $t: $out" >&2; return 0; }
	c1=$(cpu_ticks "$pid")
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' <<<"$out")
	n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
	read -r p50 p99 < <(cat "$log".* | awk '{print $3}' | sort -n |
		awk '{v[NR]=$1} END {i50=int(NR*0.50); i99=int(NR*0.99); if (i50<1) i50=1;
			if (i99<1) i99=1; printf "%.3f %.3f\n", v[i50]/1000, v[i99]/1000}')
	if [ -n "$pid" ] && [ "${n:-0}" -gt 0 ]; then
		cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$n" \
			'BEGIN {printf "%.1f", (b - a) * 1e6 / hz / n}')
	else
		cpu="-"
	fi
	local key="${mode}_${c}_${sc}"
	[ "$t" = direct ] && DIRECT_TPS[$key]=$tps
	if [ -n "${DIRECT_TPS[$key]:-}" ]; then
		pct=$(awk -v a="$tps" -v d="${DIRECT_TPS[$key]}" 'BEGIN {printf "%.0f %%", 100 * a / d}')
	else
		pct="-"
	fi
	ROWS+=("| $sc | $mode | $c | $t | ${tps%.*} | $pct | $cpu | $p50 | $p99 |")
	echo "${ROWS[-1]}" >&2
	rm -f "$log".*
}

for mode in $MODES; do
	for c in $CLIENTS; do
		for t in $TARGETS; do run_one "$t" "$mode" "$c" select1; done
	done
done
for t in $TARGETS; do run_one "$t" simple "$ROWS_CLIENTS" rows1000; done

# stop rg_fwd_uring gracefully so it prints its counters
if [ -n "${PID[fwd_uring]:-}" ]; then
	kill -TERM "${PID[fwd_uring]}"
	wait "${PID[fwd_uring]}" 2>/dev/null || true
fi

mkdir -p "$(dirname "$OUT")"
{
	echo "# pg_bench $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "host: $(nproc) CPUs, $(uname -r); PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'),"
	echo "$(pgbouncer --version | head -1), $(haproxy -v | head -1 | awk '{print $1, $3}');"
	echo "duration ${DURATION}s per run, pgbench -j 2, scale $SCALE, forwarders with $FWD_THREADS thread(s)."
	echo "select1 = pgbench -S; rows1000 = SELECT of 1000 rows of pgbench_accounts per transaction."
	echo "CPU µs/query = proxy process (utime+stime) / transactions; latency from pgbench --log."
	echo
	echo "| scenario | protocol | clients | target | TPS | % of direct | proxy CPU µs/query | p50 ms | p99 ms |"
	echo "|---|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
	echo
	[ -f "$T/fwd_uring.out" ] && { echo '```'; cat "$T/fwd_uring.out"; echo '```'; }
} | tee "$OUT"
