#!/usr/bin/env bash
# CI: builds the bench module and runs every benchmark of the repository for
# one iteration, so that none can rot: the bench module's, then the root
# package's and the stores' (redisstore, sqlstore). No timing is asserted.
# That includes each store's BenchmarkScale with its smoke size (1,000
# sessions, internal/scalebench), whose loaders TestBulkIssueIsIssue checks
# in make test; bench/scale.sh runs it at 10k to 1M.
# (The bench module's tests, which prove every benchmarked middleware really
# verifies tokens, run in `make test`.)
#
# The store benchmarks need the servers of JWTPAIR_REDIS_URL and
# JWTPAIR_POSTGRES_URL (.ci/run sources .ci/services.sh first, which also
# sets JWTPAIR_REQUIRE_BACKENDS=1: a missing URL then fails instead of
# skipping).
set -euo pipefail
cd "$(dirname "$0")/.."
go vet ./bench/...
go build ./bench/...
go test -run '^$' -bench . -benchtime 1x ./bench/...
go test -run '^$' -bench . -benchtime 1x . ./redisstore ./sqlstore

# bench/scale.sh end to end, tiny (1,000 sessions, one run of everything),
# into a copy of BENCHMARKS.md without its "Stores at scale" section: the
# script, the native tools' parsing, benchstat and the report's scale
# section cannot rot. The report must write the section anew (it adds a
# section the file lacks), with a figure from each native tool
# (redis-benchmark, pgbench; under JWTPAIR_REQUIRE_BACKENDS=1 scale.sh fails
# when one is missing). benchstat is installed when missing.
if ! command -v benchstat >/dev/null; then
	go install golang.org/x/perf/cmd/benchstat@latest
	PATH=$PATH:$(go env GOPATH)/bin
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
scale_section() { awk '/^## / { in_scale = /^## Stores at scale/ } in_scale' "$1"; }
awk '/^## / { in_scale = /^## Stores at scale/ } !in_scale' BENCHMARKS.md >"$scratch/BENCHMARKS.md"
if [ -n "$(scale_section "$scratch/BENCHMARKS.md")" ]; then
	echo "bench/ci.sh: the scratch copy of BENCHMARKS.md still has the scale section" >&2
	exit 1
fi
SESSIONS=1000 COUNT=1 NATIVE_RUNS=1 MEMORY_BENCHTIME=100x REDIS_BENCHTIME=100x SQL_BENCHTIME=1x \
	PGBENCH_SECONDS=1 REDIS_BENCHMARK_REQUESTS=1000 OUT="$scratch/BENCHMARKS.md" bash bench/scale.sh
scale_section "$scratch/BENCHMARKS.md" >"$scratch/scale.md"
if [ ! -s "$scratch/scale.md" ]; then
	echo "bench/ci.sh: bench/scale.sh wrote no \"Stores at scale\" section" >&2
	exit 1
fi
# The limits table: | store | clients | rotations/s | limit | ops/s | tool | ops/s | ratio |
for tool in redis-benchmark pgbench; do
	if ! awk -F'|' -v t="\`$tool\`" 'index($7, t) && $8 ~ /[0-9]/ { found = 1 } END { exit !found }' "$scratch/scale.md"; then
		echo "bench/ci.sh: no $tool figure in the scale section:" >&2
		grep -F "$tool" "$scratch/scale.md" >&2 || true
		exit 1
	fi
done
