#!/usr/bin/env bash
# pg_bench.sh: one command that measures PostgreSQL proxies on this machine, in one run so
# that VM drift (±30 % between runs) hits every target alike. It starts a throwaway
# PostgreSQL 15 (trust auth on 127.0.0.1 for postgres, SCRAM for the role ringgate logs in
# as; temp dir owned by postgres), pgbouncer (session mode), haproxy (tcp mode),
# rg_fwd_epoll (the floor), rg_fwd_uring (rg_core) and ringgate itself (dev issuer, JWT as
# PGPASSWORD, no policy bundle), all on free ports of 127.0.0.1, runs pgbench -S (simple and
# prepared) at each client count plus a 1000-row query scenario against each, and prints a
# markdown table (also written to $OUT). Then, unless IDLE_N=0, it measures RSS per idle
# session: PostgreSQL restarted with max_connections > IDLE_N, a fresh ringgate and a fresh
# pgbouncer each get IDLE_N logged-in idle sessions (bench/idle_sessions.py), VmRSS from
# /proc/PID/status before and after.
#
# Per run: TPS, TPS as % of direct, proxy CPU µs per query ((utime+stime) delta from
# /proc/PID/stat / transactions), p50/p99 latency from pgbench --log per-transaction times.
# With REPEAT > 1 every cell is run REPEAT times (target order rotated each round) and the
# table shows the median; every single run is kept in $OUT.raw.tsv.
#
# Knobs (environment): DURATION=15  CLIENTS="8 16 64"  MODES="simple prepared"  REPEAT=1
#   TARGETS="direct pgbouncer haproxy fwd_epoll fwd_uring ringgate"  SCALE=10  ROWS_CLIENTS=16
#   BUILD=build/benchrel (rg_fwd_*, ringgate and ringgatectl are taken from there)
#   FWD_THREADS=1 (epoll threads, uring workers)  RG_THREADS=1 (ringgate workers)
#   IDLE_N=5000 (0: skip)  IDLE_TARGETS="ringgate pgbouncer"  IDLE_CONCURRENCY=32
#   IDLE_MIN_AVAIL_MB=6144 (keep this much memory free: N is lowered, and the client stops)
#   PG_BACKEND_KIB=2400 (memory per idle PostgreSQL backend, for that estimate)
#   OUT=bench/results/pg_bench-<date>.md  KEEP=1 keeps the temp dir
#   RINGGATE_CMD: a custom gateway command with {PORT}/{PGPORT}/{CONFIG} placeholders
#     instead of "$BUILD/engine/ringgate --config {CONFIG}".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-15}
CLIENTS=${CLIENTS:-"8 16 64"}
MODES=${MODES:-"simple prepared"}
TARGETS=${TARGETS:-"direct pgbouncer haproxy fwd_epoll fwd_uring ringgate"}
REPEAT=${REPEAT:-1}
SCALE=${SCALE:-10}
ROWS_CLIENTS=${ROWS_CLIENTS:-16}
BUILD=${BUILD:-build/benchrel}
FWD_THREADS=${FWD_THREADS:-1}
RG_THREADS=${RG_THREADS:-1}
IDLE_N=${IDLE_N:-5000}
IDLE_TARGETS=${IDLE_TARGETS:-"ringgate pgbouncer"}
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
CMD_LINE="$(for v in DURATION CLIENTS MODES TARGETS REPEAT SCALE ROWS_CLIENTS BUILD FWD_THREADS \
	RG_THREADS IDLE_N IDLE_TARGETS; do printf '%s=%q ' "$v" "${!v}"; done)bench/pg_bench.sh"

WANT_RG=
[[ " $TARGETS $IDLE_TARGETS " == *" ringgate "* ]] && WANT_RG=1
need_bins=("$BUILD/bench/fwd/rg_fwd_epoll" "$BUILD/bench/fwd/rg_fwd_uring")
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

cpu_ticks() { # utime + stime of a process (all threads), in clock ticks
	[ -n "$1" ] || { echo 0; return; }
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
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
RG_PW=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
"$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
	-c "CREATE ROLE rg_bench LOGIN PASSWORD '$RG_PW'" -c "GRANT pg_read_all_data TO rg_bench"
PORT[direct]=$PGPORT
PID[direct]=""

# ---- ringgate: dev issuer, token (the agents' PGPASSWORD), 0600 password file ----
if [ -n "$WANT_RG" ]; then
	mkdir -m 700 "$T/issuer" "$T/rgstate"
	"$RGCTL" dev-issuer init --dir "$T/issuer" --issuer https://bench.invalid/ >/dev/null
	RG_TOKEN=$("$RGCTL" token --dir "$T/issuer" --sub bench-agent --audience ringgate --ttl 6h)
	(umask 077 && printf '%s' "$RG_PW" >"$T/rg_bench.pw")
fi
rg_config() { # port -> config file path
	local f="$T/ringgate-$1.yaml"
	cat >"$f" <<RGCONF
version: 1
threads: $RG_THREADS
state_dir: $T/rgstate
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
    address: 127.0.0.1:$PGPORT
    database: postgres
    user: rg_bench
    password_file: $T/rg_bench.pw
    tls: { mode: disable }
limits:
  idle_timeout: 0s
  max_sessions: 100000
RGCONF
	echo "$f"
}

start_bg() { # name, command...: start a process in the background
	local name=$1
	shift
	"$@" >"$T/$name.out" 2>&1 &
	PID[$name]=$!
	PIDS+=($!)
}

pgb_config() { # name port max_clients -> ini path
	echo '"postgres" ""' >"$T/userlist.txt"
	cat >"$T/$1.ini" <<PGBCONF
[databases]
postgres = host=127.0.0.1 port=$PGPORT dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $2
unix_socket_dir =
auth_type = trust
auth_file = $T/userlist.txt
pool_mode = session
max_client_conn = $3
default_pool_size = $3
logfile = $T/$1.log
PGBCONF
	chown postgres: "$T/$1.ini" "$T/userlist.txt"
	echo "$T/$1.ini"
}

start_target() { # target-kind name port
	local t=$1 name=$2 p=$3 cmd cfg c
	case $t in
	pgbouncer)
		cfg=$(pgb_config "$name" "$p" $((IDLE_N > 900 ? IDLE_N + 100 : 1000)))
		# setpriv, not runuser: runuser goes through PAM, which resets RLIMIT_NOFILE to 1024
		start_bg "$name" setpriv --reuid=postgres --regid=postgres --init-groups \
			/usr/sbin/pgbouncer "$cfg"
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
		cfg=$(rg_config "$p")
		if [ -n "${RINGGATE_CMD:-}" ]; then
			cmd=${RINGGATE_CMD//\{PORT\}/$p}
			cmd=${cmd//\{PGPORT\}/$PGPORT}
			cmd=${cmd//\{CONFIG\}/$cfg}
			start_bg "$name" bash -c "exec $cmd"
		else
			start_bg "$name" "$RG_BIN" --config "$cfg"
		fi
		;;
	*) echo "unknown target $t" >&2; exit 1 ;;
	esac
	wait_port "$p"
	# in case a wrapper forked: measure pgbouncer itself, not its parent
	if [ "$t" = pgbouncer ]; then
		c=$(pgrep -P "${PID[$name]}" pgbouncer || true)
		[ -n "$c" ] && { PID[$name]=$c; PIDS+=("$c"); }
	fi
	return 0
}

stop_target() { # name: SIGTERM, wait (bounded), SIGKILL
	local pid=${PID[$1]:-} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
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
printf 'rep\tscenario\tprotocol\tclients\ttarget\ttps\tcpu_us_per_query\tp50_ms\tp99_ms\n' >"$RAW"
PERF_RAW="${OUT%.md}.perf.tsv"
[ -n "$PERF_STAT" ] && printf 'rep\tscenario\tprotocol\tclients\ttarget\t%s (per query)\n' \
	"$(tr ',' '\t' <<<"$PERF_EVENTS")" >"$PERF_RAW"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE_START=$(date -u +%Y-%m-%dT%H:%M:%SZ)

run_one() { # rep target mode clients scenario
	local rep=$1 t=$2 mode=$3 c=$4 sc=$5 pid=${PID[$2]:-} log out c0 c1 tps n p50 p99 cpu pw=
	local args ppid=
	log="$T/log_${t}_${mode}_${c}_${sc}"
	rm -f "$log".*
	if [ "$sc" = rows1000 ]; then args=(-f "$T/rows1000.sql"); else args=(-S); fi
	[ "$t" = ringgate ] && pw=$RG_TOKEN
	if [ -n "$PERF_STAT" ] && [ -n "$pid" ]; then
		perf stat -x, -e "$PERF_EVENTS" -p "$pid" -o "$T/perf.$t" &
		ppid=$!
		sleep 0.2
	fi
	c0=$(cpu_ticks "$pid")
	out=$(PGPASSWORD=$pw timeout $((DURATION + 120)) "$PGBIN/pgbench" -n "${args[@]}" \
		-M "$mode" -c "$c" -j 2 -T "$DURATION" -h 127.0.0.1 -p "${PORT[$t]}" -U postgres \
		--log --log-prefix="$log" postgres 2>&1) ||
		{ echo "pgbench failed against $t: $out" >&2; return 0; }
	c1=$(cpu_ticks "$pid")
	if [ -n "$ppid" ]; then
		kill -INT "$ppid"
		wait "$ppid" 2>/dev/null || true
	fi
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
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$sc" "$mode" "$c" "$t" "$tps" "$cpu" \
		"$p50" "$p99" | tee -a "$RAW" >&2
	if [ -n "$ppid" ] && [ "${n:-0}" -gt 0 ]; then
		printf '%s\t%s\t%s\t%s\t%s' "$rep" "$sc" "$mode" "$c" "$t" >>"$PERF_RAW"
		awk -F, -v n="$n" '/^[0-9]/ {printf "\t%.2f", $1 / n}' "$T/perf.$t" >>"$PERF_RAW"
		echo >>"$PERF_RAW"
	fi
	rm -f "$log".*
}

rotate() { # k words...: the words rotated left by k
	local k=$1 i
	shift
	local a=("$@") n=$#
	for ((i = 0; i < n; i++)); do printf '%s ' "${a[$(((i + k) % n))]}"; done
}

for ((rep = 1; rep <= REPEAT; rep++)); do
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
			printf "| %s | %s | %s | %s | %.0f | %s | %s | %.3f | %.3f |\n", kk[1], kk[2], kk[3],
				tg[j], v, pct, (u == "-" ? "-" : sprintf("%.1f", u)), med(p50[c]), med(p99[c])
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
IDLE_NOTE=""
if [ "$IDLE_N" -gt 0 ]; then
	# What fits: every idle session behind a session-mode proxy is a PostgreSQL backend too,
	# and costs the proxy 2 file descriptors.
	avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
	fit_mem=$(((avail_mb - IDLE_MIN_AVAIL_MB) * 1024 / (PG_BACKEND_KIB + 64)))
	fit_fd=$((($(ulimit -n) - 64) / 2))
	n=$IDLE_N
	if [ "$n" -gt "$fit_mem" ]; then
		n=$fit_mem
		IDLE_NOTE+="N lowered from $IDLE_N to $n: MemAvailable ${avail_mb} MiB, ~${PG_BACKEND_KIB} KiB per PostgreSQL backend, ${IDLE_MIN_AVAIL_MB} MiB kept free. "
	fi
	if [ "$n" -gt "$fit_fd" ]; then
		n=$fit_fd
		IDLE_NOTE+="N lowered to $n: fd limit $(ulimit -n) (2 per proxied session). "
	fi
	if [ "$n" -lt 100 ]; then
		IDLE_NOTE+="idle test skipped: too little memory. "
		IDLE_N=0
	else
		IDLE_N=$n
	fi
fi
if [ "$IDLE_N" -gt 0 ]; then
	echo "max_connections = $((IDLE_N + 100))" >>"$T/data/postgresql.conf"
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/data" -l "$T/pg.log" -w restart >/dev/null
	for t in $IDLE_TARGETS; do
		name=idle_$t
		p=$(free_port)
		start_target "$t" "$name" "$p"
		pid=${PID[$name]}
		sleep 1
		r0=$(rss_kib "$pid")
		pw=
		[ "$t" = ringgate ] && pw=$RG_TOKEN
		# two clients of N/2 each: the average (after - before) / N includes one-time growth
		# (provided-buffer pages touched for the first time, malloc arenas); the marginal
		# cost (RSS at N - RSS at N/2) / (N/2) is what one more idle session costs
		half=$((IDLE_N / 2))
		oks=() reps=() rss=()
		for k in 1 2; do
			rm -f "$T/idle.ready"
			start_bg "client_${t}_$k" env PGPASSWORD="$pw" python3 bench/idle_sessions.py \
				--port "$p" --n $((k == 1 ? half : IDLE_N - half)) \
				--concurrency "$IDLE_CONCURRENCY" --ready-file "$T/idle.ready" \
				--min-avail-mb "$IDLE_MIN_AVAIL_MB" --hold 1800
			cpid=${PID[client_${t}_$k]}
			for i in $(seq 2400); do
				[ -f "$T/idle.ready" ] && break
				kill -0 "$cpid" 2>/dev/null || break
				sleep 0.5
			done
			sleep 3
			rss+=("$(rss_kib "$pid")")
			reps+=("$(cat "$T/idle.ready" 2>/dev/null || echo '{"ok": 0, "first_error": "no report"}')")
			oks+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ok"])' "${reps[-1]}")")
			echo "idle $t step $k: ${reps[-1]}; VmRSS $r0 -> ${rss[-1]} KiB" >&2
		done
		fds=$(ls "/proc/$pid/fd" | wc -l)
		stop_target "client_${t}_2"
		stop_target "client_${t}_1"
		held="$(tail -1 "$T/client_${t}_1.out") $(tail -1 "$T/client_${t}_2.out")"
		ok=$((oks[0] + oks[1]))
		per=$(awk -v a="$r0" -v b="${rss[1]}" -v n="$ok" \
			'BEGIN {if (n > 0) printf "%.2f", (b - a) / n; else printf "-"}')
		marg=$(awk -v a="${rss[0]}" -v b="${rss[1]}" -v n="${oks[1]}" \
			'BEGIN {if (n > 0) printf "%.2f", (b - a) / n; else printf "-"}')
		IDLE_ROWS+=("| $t | $IDLE_N | $ok | $r0 | ${rss[0]} | ${rss[1]} | $per | $marg | $fds | \`${reps[0]}\` \`${reps[1]}\` \`$held\` |")
		stop_target "$name"
		# let PostgreSQL reap the N backends before the next proxy logs in (else the next
		# proxy's first logins hit connect timeouts while the postmaster is busy)
		for i in $(seq 180); do
			nb=$("$PGBIN/psql" -qAt -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c \
				"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'" \
				2>/dev/null || echo 999999)
			[ "$nb" -le 1 ] && break
			sleep 1
		done
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
		"ringgate at $(cat "$BUILD/.rg_commit" 2>/dev/null || git -C "$ROOT" rev-parse --short HEAD) (binary: $BUILD);"
	echo "load average (1/5/15 min) at start: $LOAD_START; after the TPS runs: $LOAD_END."
	echo "duration ${DURATION}s per run, $REPEAT run(s) per cell (median shown), pgbench -j 2, scale $SCALE;"
	echo "forwarders with $FWD_THREADS thread(s), ringgate with $RG_THREADS worker(s), haproxy nbthread 1,"
	echo "pgbouncer single-threaded. ringgate: JWT login (ES256 dev issuer), SCRAM to PostgreSQL, no policy bundle."
	echo "select1 = pgbench -S; rows1000 = SELECT of 1000 rows of pgbench_accounts per transaction."
	echo "CPU µs/query = proxy process (utime+stime) / transactions; latency from pgbench --log."
	echo
	echo "| scenario | protocol | clients | target | TPS | % of direct | proxy CPU µs/query | p50 ms | p99 ms |"
	echo "|---|---|---|---|---|---|---|---|---|"
	echo "$TABLE"
	echo
	if [ "${#IDLE_ROWS[@]}" -gt 0 ] || [ -n "$IDLE_NOTE" ]; then
		echo "Idle sessions (logged in, one SELECT 1, then idle; VmRSS of the proxy before/after):"
		[ -n "$IDLE_NOTE" ] && echo "$IDLE_NOTE"
		echo
		echo "| proxy | N asked | sessions up | VmRSS before KiB | at N/2 KiB | at N KiB | KiB per session (after-before)/N | marginal KiB per session (N/2..N) | proxy fds at N | client reports |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
		[ "${#IDLE_ROWS[@]}" -gt 0 ] && printf '%s\n' "${IDLE_ROWS[@]}"
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
