#!/usr/bin/env bash
# Runs the bench module's benchmarks in one `go test -bench` invocation, the
# stores' BenchmarkRotate (memory, Redis, PostgreSQL, SQLite) in a second one,
# the round-trip tests, the sessions measurements, an end-to-end wrk
# measurement of the middleware, and writes BENCHMARKS.md (bench/cmd/report
# computes every number in it). About 9 minutes on 2 cores, the sessions
# measurements about 4 of them.
#
#   bash bench/run.sh                      # from anywhere in the repository
#   COUNT=10 BENCHTIME=1s bash bench/run.sh
#   ONLY=e2e WRK_ROUNDS=1 WRK_SECONDS=1 bash bench/run.sh   # the wrk part alone, printed; no file written
#   ONLY=sessions bash bench/run.sh        # the sessions sections alone, rewritten in BENCHMARKS.md
#
# The sessions measurements (issue 13): bench/cmd/propagation (PROP_TRIALS
# trials per store, default 200: how soon an ended session's access token is
# refused on a second example instance, on Redis, PostgreSQL and SQLite);
# the root package's BenchmarkMiddleware with 0 and 100k ended sessions in
# the revoked set (REVOKED_ROUNDS invocations, default 10, interleaving its
# variants); the root package's revoked-set and memory-store tests, which
# report bytes per entry and per session; and the stores' bytes-per-session
# benchmarks (SESSION_BYTES_N sessions, default 5000).
#
# End to end: the example server (go build ./example) runs with -open-hello,
# which serves its /hello/ handler a second time, without the middleware, at
# /open/hello/; wrk measures both routes in alternating rounds with the same
# access token (from POST /api/token/ as admin:admin, through curl).
#
# Redis and PostgreSQL: the servers of JWTPAIR_REDIS_URL and
# JWTPAIR_POSTGRES_URL when both are set; otherwise throwaway ones started
# (and stopped at exit) by .ci/services.sh, which apt-installs them if missing.
# Without them their rows say not measured.
#
# wrk comes from Debian (apt-get install wrk), installed when missing and
# run as root; without it the end-to-end section says it was not measured.
set -euo pipefail
cd "$(dirname "$0")/.."

ONLY=${ONLY:-} # e2e: only the end-to-end measurement; sessions: only the sessions sections
case "$ONLY" in
"" | e2e | sessions) ;;
*)
	echo "run.sh: ONLY=$ONLY: want e2e or sessions, or unset for everything" >&2
	exit 2
	;;
esac

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-300ms}
STORE_COUNT=${STORE_COUNT:-$COUNT}
STORE_BENCHTIME=${STORE_BENCHTIME:-300ms}
WRK_ROUNDS=${WRK_ROUNDS:-5}
WRK_SECONDS=${WRK_SECONDS:-5}
PROP_TRIALS=${PROP_TRIALS:-200}
REVOKED_ROUNDS=${REVOKED_ROUNDS:-10}
SESSION_BYTES_N=${SESSION_BYTES_N:-5000}
OUT=${OUT:-BENCHMARKS.md}

tmp=$(mktemp -d)
server=
services= # set while the servers of .ci/services.sh run
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
	if [ -n "$services" ]; then jwtpair_services_stop; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

step() { printf '\n==> %s\n' "$*" >&2; }

# e2e_tools makes sure wrk and curl are there, apt-installing them as root.
e2e_tools() {
	local missing=()
	command -v wrk >/dev/null || missing+=(wrk)
	command -v curl >/dev/null || missing+=(curl)
	if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$tmp/apt.log" 2>&1 ||
			{ cat "$tmp/apt.log" >&2; echo "run.sh: could not install ${missing[*]}" >&2; }
	fi
	command -v wrk >/dev/null && command -v curl >/dev/null
}

# e2e starts the example server with -open-hello and measures /hello/ (the
# middleware) and /open/hello/ (the same handler without it) under wrk,
# alternating routes round by round; wrk's outputs go to the directory $1 as
# protected-N.txt and open-N.txt. During the last protected round it takes
# the server's CPU profile (-debug-addr's /debug/pprof/profile), whose
# cumulative top goes to protected-profile.txt: where the protected route
# spends its time in a real server.
e2e() {
	local dir=$1 addr= debug= token auth i prof=
	step "end to end: the example server (-open-hello) under wrk, $WRK_ROUNDS rounds of ${WRK_SECONDS}s per route"
	mkdir -p "$dir"
	go build -o "$tmp/example" ./example
	: >"$tmp/example.out" # exists before the server (started in the background) opens it
	JWTPAIR_SECRET="bench-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')" "$tmp/example" \
		-addr 127.0.0.1:0 -debug-addr 127.0.0.1:0 -access-ttl 1h -open-hello >"$tmp/example.out" 2>"$tmp/example.err" &
	server=$!
	for _ in $(seq 1 100); do
		addr=$(sed -n 's/^listening on //p' "$tmp/example.out")
		debug=$(sed -n 's/^debug on //p' "$tmp/example.out")
		[ -n "$addr" ] && [ -n "$debug" ] && break
		kill -0 "$server" 2>/dev/null || { cat "$tmp/example.err" >&2; exit 1; }
		sleep 0.1
	done
	[ -n "$addr" ] && [ -n "$debug" ] || { echo "run.sh: the example server did not start (no listening or debug line)" >&2; cat "$tmp/example.err" >&2; exit 1; }
	token=$(curl -fsS -H 'Content-Type: application/json' -d '{"username":"admin","password":"admin"}' "$addr/api/token/" |
		sed -n 's/.*"access":"\([^"]*\)".*/\1/p')
	[ -n "$token" ] || { echo "run.sh: no access token from POST $addr/api/token/" >&2; exit 1; }
	auth="Authorization: Bearer $token"
	# Both routes get the same header, so only the middleware differs.
	for route in open/hello hello; do wrk -t1 -c16 -d1s -H "$auth" "$addr/$route/" >/dev/null; done # warm up
	for i in $(seq 1 "$WRK_ROUNDS"); do
		wrk -t1 -c16 -d"${WRK_SECONDS}s" -H "$auth" "$addr/open/hello/" | tee "$dir/open-$i.txt"
		prof=
		if [ "$i" = "$WRK_ROUNDS" ]; then
			curl -fsS -o "$tmp/protected.pprof" "$debug/debug/pprof/profile?seconds=$((WRK_SECONDS > 1 ? WRK_SECONDS - 1 : 1))" &
			prof=$!
		fi
		wrk -t1 -c16 -d"${WRK_SECONDS}s" -H "$auth" "$addr/hello/" | tee "$dir/protected-$i.txt"
		if [ -n "$prof" ]; then
			wait "$prof"
			go tool pprof -top -cum -nodecount 1000 "$tmp/example" "$tmp/protected.pprof" >"$dir/protected-profile.txt" 2>"$tmp/pprof.err" ||
				{ echo "run.sh: go tool pprof failed on the server's profile:" >&2; cat "$tmp/pprof.err" >&2; exit 1; }
		fi
	done
	if grep -q '^Non-2xx' "$dir"/*.txt; then
		echo "run.sh: wrk saw non-2xx answers" >&2
		exit 1
	fi
	kill "$server"
	wait "$server" 2>/dev/null || true
	server=
}

# Other work on a shared machine skews the medians: wait_quiet waits (at most
# QUIET_WAIT seconds) for the 1-minute load average to fall under QUIET_LOAD.
# The load at start and end goes into the report.
QUIET_LOAD=${QUIET_LOAD:-0.5}
QUIET_WAIT=${QUIET_WAIT:-300}
load() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0; }
wait_quiet() {
	local waited=0
	while awk -v l="$(load)" -v m="$QUIET_LOAD" 'BEGIN { exit !(l >= m) }'; do
		if [ "$waited" -ge "$QUIET_WAIT" ]; then
			echo "run.sh: load average still $(load) after ${QUIET_WAIT}s; measuring anyway" >&2
			break
		fi
		[ "$waited" = 0 ] && echo "run.sh: waiting for the load average ($(load)) to fall under $QUIET_LOAD" >&2
		sleep 5
		waited=$((waited + 5))
	done
}

# sessions measures the inputs of the sessions sections into $tmp, and sets
# sessargs to the report's flags for them and sessfail when one failed (its
# section then says which). Redis and PostgreSQL are measured when their
# URLs are set.
sessfail=
sessions() {
	step "sessions: logout propagation across two example instances, $PROP_TRIALS trials per store"
	propcmd='go build -o "$tmp/example" ./example/backends && go run ./bench/cmd/propagation -example "$tmp/example" -trials '"$PROP_TRIALS"
	if [ -n "${JWTPAIR_REDIS_URL:-}" ]; then propcmd+=' -store "$JWTPAIR_REDIS_URL"'; fi
	if [ -n "${JWTPAIR_POSTGRES_URL:-}" ]; then propcmd+=' -store "$JWTPAIR_POSTGRES_URL"'; fi
	propcmd+=' -store "sqlite:$tmp/propagation.db" -out "$tmp/propagation.jsonl"'
	: >"$tmp/propagation.jsonl"
	eval "$propcmd" || sessfail=1

	revokedcmd="for i in \$(seq $REVOKED_ROUNDS); do go test -run '^\$' -bench '^BenchmarkMiddleware\$' -benchmem -benchtime $BENCHTIME -count 1 .; done"
	step "$revokedcmd"
	session_load_start=$(load)
	eval "$revokedcmd" | tee "$tmp/revoked.txt" || sessfail=1
	session_load_end=$(load)

	testscmd="go test -json -count=1 -run '^(TestRevokedSetBytesPerEntry|TestRevokedLookupAllocatesNothing|TestRevokedSetGenerations|TestMemoryStoreBytesPerSession)\$' ."
	step "$testscmd"
	eval "$testscmd" >"$tmp/sessiontests.json" || sessfail=1

	bytescmd="go test -run '^\$' -bench '^(BenchmarkSessionMemory|BenchmarkSessionBytes)\$' -benchtime ${SESSION_BYTES_N}x ./redisstore ./sqlstore"
	step "$bytescmd"
	eval "$bytescmd" | tee "$tmp/sessionbytes.txt" || sessfail=1

	sessargs=(-propagation "$tmp/propagation.jsonl" -propcmd "$propcmd"
		-revoked "$tmp/revoked.txt" -revokedcmd "$revokedcmd" -sessionload "$session_load_start $session_load_end"
		-sessiontests "$tmp/sessiontests.json" -sessiontestscmd "$testscmd"
		-sessionbytes "$tmp/sessionbytes.txt" -sessionbytescmd "$bytescmd")
	if [ -n "$sessfail" ]; then echo "run.sh: a sessions measurement failed (its section says which)" >&2; fi
}

# start_services makes sure Redis and PostgreSQL run: the servers of
# JWTPAIR_REDIS_URL and JWTPAIR_POSTGRES_URL when both are set, otherwise
# throwaway ones of .ci/services.sh (stopped at exit). origin says which.
start_services() {
	if [ -n "${JWTPAIR_REDIS_URL:-}" ] && [ -n "${JWTPAIR_POSTGRES_URL:-}" ]; then
		origin=preset
		return
	fi
	step "Redis and PostgreSQL for the store benchmarks (.ci/services.sh)"
	origin=services.sh
	# shellcheck source=../.ci/services.sh
	if source .ci/services.sh; then
		services=1
	else
		origin=none
		echo "run.sh: Redis and PostgreSQL did not start; their rows will say not measured" >&2
	fi
}

if [ "$ONLY" = e2e ]; then
	e2e_tools || { echo "run.sh: ONLY=e2e needs wrk and curl" >&2; exit 1; }
	wait_quiet
	e2e "$tmp/wrk"
	exit 0
fi

# The stores' servers start before the wait for a quiet machine, so that
# installing and starting them does not count against the benchmarks.
start_services

rev=$(git describe --always --dirty 2>/dev/null || true) # the tree measured

if [ "$ONLY" = sessions ]; then
	wait_quiet
	sessions
	step "rewriting the sessions sections of $OUT"
	go run ./bench/cmd/report -update -rev "$rev" -out "$OUT" "${sessargs[@]}"
	echo "updated $OUT" >&2
	if [ -n "$sessfail" ]; then exit 1; fi
	exit 0
fi

# The settings of the servers, as they report them, for the report's notes.
redis_setting() {
	local out
	out=$(redis-cli -u "$JWTPAIR_REDIS_URL" --raw CONFIG GET "$1" 2>/dev/null) || return 0
	if [ "$(sed -n 1p <<<"$out")" = "$1" ]; then echo "redis.$1=$(sed -n 2p <<<"$out")"; fi
}
{
	echo "origin=$origin"
	echo "tmpdir.fs=$(stat -f -c %T "${TMPDIR:-/tmp}")"
	if [ -n "${JWTPAIR_REDIS_URL:-}" ] && command -v redis-cli >/dev/null; then
		redis-cli -u "$JWTPAIR_REDIS_URL" INFO server | tr -d '\r' | sed -n 's/^redis_version:/redis.version=/p'
		redis_setting save
		redis_setting appendonly
	fi
	if [ -n "${JWTPAIR_POSTGRES_URL:-}" ] && command -v psql >/dev/null; then
		psql "$JWTPAIR_POSTGRES_URL" -XAt -F= -c "SELECT 'postgres.' || name, setting FROM pg_settings
			WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'full_page_writes') ORDER BY name"
	fi
} >"$tmp/servers.txt" 2>"$tmp/servers.err" || true

wait_quiet
load_start=$(load)
cmd="go test -run '^\$' -bench . -count $COUNT -benchtime $BENCHTIME ./bench"
step "$cmd"
eval "$cmd" | tee "$tmp/bench.txt" # the command the report quotes, run as quoted

load_end=$(load)

# The stores: BenchmarkRotate of the root package (memory store), redisstore
# and sqlstore (PostgreSQL and SQLite); then the tests that count round trips.
store_load_start=$(load)
storecmd="go test -run '^\$' -bench '^BenchmarkRotate\$' -benchmem -count $STORE_COUNT -benchtime $STORE_BENCHTIME . ./redisstore ./sqlstore"
step "$storecmd"
eval "$storecmd" | tee "$tmp/stores.txt"
store_load_end=$(load)

rtcmd="go test -json -count=1 -run '^(TestRoundTrips|TestOneRoundTrip|TestOneRoundTripPostgres)\$' ./bench ./redisstore ./sqlstore"
step "$rtcmd"
rtfail=
if ! eval "$rtcmd" >"$tmp/roundtrips.json"; then
	rtfail=1
	echo "run.sh: a round-trip test failed (the report says which):" >&2
	grep -o '"Output":"[^"]*FAIL[^"]*"' "$tmp/roundtrips.json" >&2 || true
fi
sessions
if [ -n "$services" ]; then
	jwtpair_services_stop
	services=
fi

wrkdir=
if e2e_tools; then
	wrkdir="$tmp/wrk"
	e2e "$wrkdir"
else
	echo "run.sh: wrk or curl not found; skipping the end-to-end measurement" >&2
fi

step "writing $OUT"
go run ./bench/cmd/report -bench "$tmp/bench.txt" ${wrkdir:+-wrk "$wrkdir"} -gomod bench/go.mod -cmd "$cmd" -rev "$rev" -load "$load_start $load_end" \
	-stores "$tmp/stores.txt" -servers "$tmp/servers.txt" -storecmd "$storecmd" -storeload "$store_load_start $store_load_end" \
	-roundtrips "$tmp/roundtrips.json" -rtcmd "$rtcmd" "${sessargs[@]}" -out "$OUT"
echo "wrote $OUT" >&2
if [ -n "$rtfail" ]; then
	echo "run.sh: a round-trip test failed; see the round-trip section of $OUT" >&2
	exit 1
fi
if [ -n "$sessfail" ]; then
	echo "run.sh: a sessions measurement failed; see the sessions sections of $OUT" >&2
	exit 1
fi
