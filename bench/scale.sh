#!/usr/bin/env bash
# Store figures at scale (issue 16 §3): each store's BenchmarkScale
# (internal/scalebench) with 10k, 100k and 1M live sessions (memory store,
# Redis, PostgreSQL, SQLite), each backend's own limit measured by its own
# tool on the same server (redis-benchmark: EVALSHA of a script returning 1;
# pgbench: a single-row UPDATE), then bench/cmd/report, which summarizes them
# with benchstat and rewrites the "Stores at scale" section of
# BENCHMARKS.md (nothing else in the file changes). Not part of make test;
# bench/ci.sh runs BenchmarkScale once with 1,000 sessions.
#
#   bash bench/scale.sh                          # everything: about 25 min on 2 cores
#   SESSIONS=10000,100000 bash bench/scale.sh    # smaller sizes
#   ONLY=redis,postgres bash bench/scale.sh      # some stores (the others' rows: not measured)
#   KEEP=/tmp/scale bash bench/scale.sh          # keep the raw outputs there
#
# Settings (environment): SESSIONS, SESSIONS_MEMORY, SESSIONS_REDIS,
# SESSIONS_POSTGRES, SESSIONS_SQLITE (one store's sizes, SESSIONS unless
# set), CLIENTS (concurrent clients, 1,16,64),
# COUNT (runs of each benchmark, 6), MEMORY_BENCHTIME, REDIS_BENCHTIME
# (rotations per run, fixed so that the store's size grows alike in every
# run), SQL_BENCHTIME (time per run: the purge's b.N, expired sessions per
# run, then comes to about what one second purges), NATIVE_RUNS (runs of
# each native measurement, 6), PGBENCH_SECONDS, REDIS_BENCHMARK_REQUESTS,
# NICE (niceness of the benchmarks and the native tools, 10), OUT.
#
# Redis and PostgreSQL: those of JWTPAIR_REDIS_URL and JWTPAIR_POSTGRES_URL
# when both are set, otherwise throwaway ones started (and stopped at exit)
# by .ci/services.sh. The benchmarks leave nothing behind on them; pgbench's
# table (jwtpair_scale_pgbench) is dropped at exit. A native tool missing
# (redis-benchmark, pgbench) leaves its rows unmeasured, with a warning; with
# JWTPAIR_REQUIRE_BACKENDS=1 (set by .ci/services.sh) it is an error, before
# anything runs.
set -euo pipefail
cd "$(dirname "$0")/.."

SESSIONS=${SESSIONS:-10000,100000,1000000}
CLIENTS=${CLIENTS:-1,16,64}
COUNT=${COUNT:-6}
MEMORY_BENCHTIME=${MEMORY_BENCHTIME:-20000x}
REDIS_BENCHTIME=${REDIS_BENCHTIME:-5000x}
SQL_BENCHTIME=${SQL_BENCHTIME:-1s}
NATIVE_RUNS=${NATIVE_RUNS:-$COUNT}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-2}
REDIS_BENCHMARK_REQUESTS=${REDIS_BENCHMARK_REQUESTS:-20000}
NICE=${NICE:-10}
ONLY=${ONLY:-memory,redis,postgres,sqlite}
OUT=${OUT:-BENCHMARKS.md}

for be in ${ONLY//,/ }; do
	case "$be" in
	memory | redis | postgres | sqlite) ;;
	*)
		echo "scale.sh: ONLY=$ONLY: want a comma-separated subset of memory,redis,postgres,sqlite" >&2
		exit 2
		;;
	esac
done
wants() { [[ ",$ONLY," == *",$1,"* ]]; }

command -v benchstat >/dev/null || {
	echo "scale.sh: benchstat not found: go install golang.org/x/perf/cmd/benchstat@latest" >&2
	exit 1
}

tmp=${KEEP:-}
if [ -n "$tmp" ]; then mkdir -p "$tmp"; else tmp=$(mktemp -d); fi
services=
pgtable=
cleanup() {
	if [ -n "$pgtable" ]; then psql "$JWTPAIR_POSTGRES_URL" -Xq -c "DROP TABLE IF EXISTS $pgtable" >/dev/null 2>&1 || true; fi
	if [ -n "$services" ]; then jwtpair_services_stop; fi
	if [ -z "${KEEP:-}" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

step() { printf '\n==> %s\n' "$*" >&2; }
load() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0; }

if wants redis || wants postgres; then
	if [ -z "${JWTPAIR_REDIS_URL:-}" ] || [ -z "${JWTPAIR_POSTGRES_URL:-}" ]; then
		step "Redis and PostgreSQL (.ci/services.sh)"
		# shellcheck source=../.ci/services.sh
		source .ci/services.sh
		services=1
		origin=services.sh
	else
		origin=preset
	fi
fi

# native TOOL: whether the native tool is there to measure its backend's
# limit. Without it: exit 1 under JWTPAIR_REQUIRE_BACKENDS=1, otherwise a
# warning (its rows say "—").
native() {
	command -v "$1" >/dev/null && return 0
	if [ "${JWTPAIR_REQUIRE_BACKENDS:-}" = 1 ]; then
		echo "scale.sh: $1 not found, and JWTPAIR_REQUIRE_BACKENDS=1 (install it: it comes with the server's packages)" >&2
		exit 1
	fi
	echo "scale.sh: $1 not found: its limit is not measured (its rows say —)" >&2
	return 1
}
have_redis_benchmark= have_pgbench=
if wants redis && native redis-benchmark; then have_redis_benchmark=1; fi
if wants postgres && native pgbench; then have_pgbench=1; fi

# What the report says about the machine and the servers.
{
	echo "origin=${origin:-none}"
	echo "tmpdir.fs=$(stat -f -c %T "${TMPDIR:-/tmp}")"
	echo "nproc=$(nproc)"
	echo "memtotal.kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
	echo "nice=$NICE"
	echo "sessions=$SESSIONS"
	echo "count=$COUNT"
	echo "clients=$CLIENTS"
	echo "rev=$(git describe --always --dirty 2>/dev/null || true)"
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	if wants redis; then
		redis-cli -u "$JWTPAIR_REDIS_URL" INFO server | tr -d '\r' | sed -n 's/^redis_version:/redis.version=/p'
		for k in save appendonly io-threads; do
			printf 'redis.%s=%s\n' "$k" "$(redis-cli -u "$JWTPAIR_REDIS_URL" --raw CONFIG GET "$k" | sed -n 2p)"
		done
	fi
	if wants postgres; then
		psql "$JWTPAIR_POSTGRES_URL" -XAt -F= -c "SELECT 'postgres.' || name, setting || coalesce(unit, '') FROM pg_settings
			WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers') ORDER BY name"
	fi
} >"$tmp/servers.txt"

export JWTPAIR_SCALE_SESSIONS=$SESSIONS JWTPAIR_SCALE_CLIENTS=$CLIENTS JWTPAIR_SCALE_OUT=$tmp/loads.jsonl
: >"$JWTPAIR_SCALE_OUT"

# bench NAME PACKAGE PATTERN BENCHTIME: one backend's BenchmarkScale (with
# the sizes of SESSIONS_<NAME>, e.g. SESSIONS_SQLITE, when set), its
# output in $tmp/NAME.txt, the command and the load averages in servers.txt.
# A failure is noted there (the report says so) and the others still run.
failed=
bench() {
	local name=$1 pkg=$2 pattern=$3 benchtime=$4 cmd sizes var
	var=SESSIONS_${name^^}
	sizes=${!var:-$SESSIONS}
	cmd="go test -run '^\$' -bench '$pattern' -benchmem -count $COUNT -benchtime $benchtime -timeout 2h $pkg"
	step "$name: JWTPAIR_SCALE_SESSIONS=$sizes JWTPAIR_SCALE_CLIENTS=$CLIENTS nice -n $NICE $cmd"
	echo "cmd.$name=JWTPAIR_SCALE_SESSIONS=$sizes $cmd" >>"$tmp/servers.txt"
	local start t0=$SECONDS
	start=$(load)
	if ! (export JWTPAIR_SCALE_SESSIONS=$sizes && eval "nice -n $NICE $cmd") | tee "$tmp/$name.txt"; then
		echo "failed.$name=1" >>"$tmp/servers.txt"
		failed+=" $name"
	fi
	echo "load.$name=$start $(load)" >>"$tmp/servers.txt"
	echo "seconds.$name=$((SECONDS - t0))" >>"$tmp/servers.txt"
}

wants memory && bench memory . '^BenchmarkScale$' "$MEMORY_BENCHTIME"
wants redis && bench redis ./redisstore '^BenchmarkScale$' "$REDIS_BENCHTIME"
wants postgres && bench postgres ./sqlstore '^BenchmarkScale$/^postgres$' "$SQL_BENCHTIME"
wants sqlite && bench sqlite ./sqlstore '^BenchmarkScale$/^sqlite$' "$SQL_BENCHTIME"

# The native limits, written as benchmark lines (ns/op, ops/s, p50-ns,
# p99-ns) so that benchstat reads them like the rest.
: >"$tmp/native.txt"
if [ -n "$have_redis_benchmark" ]; then
	port=${JWTPAIR_REDIS_URL##*:}
	port=${port%%/*}
	host=${JWTPAIR_REDIS_URL#redis://}
	host=${host%%:*}
	sha=$(redis-cli -h "$host" -p "$port" SCRIPT LOAD "return 1")
	echo "cmd.redis-benchmark=redis-benchmark -h $host -p PORT -c CLIENTS -n $REDIS_BENCHMARK_REQUESTS --csv EVALSHA $sha 0" >>"$tmp/servers.txt"
	step "redis-benchmark: EVALSHA of 'return 1', $NATIVE_RUNS runs per client count"
	for c in ${CLIENTS//,/ }; do
		for _ in $(seq "$NATIVE_RUNS"); do
			nice -n "$NICE" redis-benchmark -h "$host" -p "$port" -c "$c" -n "$REDIS_BENCHMARK_REQUESTS" --csv EVALSHA "$sha" 0 |
				tail -n 1 | tr -d '"' |
				awk -F, -v c="$c" -v n="$REDIS_BENCHMARK_REQUESTS" '$2 > 0 {
					printf "BenchmarkNative/redis-benchmark/clients=%s %d %.1f ns/op %.1f ops/s %.0f p50-ns %.0f p99-ns\n", c, n, 1e9 / $2, $2, $5 * 1e6, $7 * 1e6 }' |
				tee -a "$tmp/native.txt"
		done
	done
fi
if [ -n "$have_pgbench" ]; then
	pgtable=jwtpair_scale_pgbench
	psql "$JWTPAIR_POSTGRES_URL" -Xq -v ON_ERROR_STOP=1 \
		-c "DROP TABLE IF EXISTS $pgtable" \
		-c "CREATE TABLE $pgtable (id integer PRIMARY KEY, n bigint NOT NULL DEFAULT 0)" \
		-c "INSERT INTO $pgtable (id) SELECT generate_series(1, 100000)" \
		-c "VACUUM ANALYZE $pgtable"
	printf '\\set id random(1, 100000)\nUPDATE %s SET n = n + 1 WHERE id = :id;\n' "$pgtable" >"$tmp/update.sql"
	echo "cmd.pgbench=pgbench -n -M prepared -c CLIENTS -j min(CLIENTS, $(nproc)) -T $PGBENCH_SECONDS -f update.sql -l: UPDATE $pgtable SET n = n + 1 WHERE id = random(1, 100000)" >>"$tmp/servers.txt"
	step "pgbench: a single-row UPDATE, $NATIVE_RUNS runs of ${PGBENCH_SECONDS}s per client count"
	for c in ${CLIENTS//,/ }; do
		for i in $(seq "$NATIVE_RUNS"); do
			rm -rf "$tmp/pgbench" && mkdir "$tmp/pgbench"
			out=$(cd "$tmp/pgbench" && nice -n "$NICE" pgbench -n -M prepared -c "$c" -j "$((c < $(nproc) ? c : $(nproc)))" \
				-T "$PGBENCH_SECONDS" -f "$tmp/update.sql" -l "$JWTPAIR_POSTGRES_URL" 2>&1) ||
				{ echo "$out" >&2; exit 1; }
			tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
			n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
			# The per-transaction log: latency in µs is the third field.
			cat "$tmp"/pgbench/pgbench_log.* | awk '{ print $3 }' | sort -n |
				awk -v c="$c" -v n="$n" -v tps="$tps" '{ v[NR] = $1 } END {
					p50 = v[int(NR * 0.50 + 0.9999999)]; p99 = v[int(NR * 0.99 + 0.9999999)]
					printf "BenchmarkNative/pgbench/clients=%s %d %.1f ns/op %.1f ops/s %.0f p50-ns %.0f p99-ns\n", c, n, 1e9 / tps, tps, p50 * 1e3, p99 * 1e3 }' |
				tee -a "$tmp/native.txt"
		done
	done
fi

step "rewriting the \"Stores at scale\" section of $OUT"
go run ./bench/cmd/report -scale "$tmp" -out "$OUT"
echo "updated $OUT" >&2
if [ -n "$failed" ]; then
	echo "scale.sh: BenchmarkScale failed for:$failed (see above; the section says so)" >&2
	exit 1
fi
