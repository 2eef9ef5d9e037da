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
