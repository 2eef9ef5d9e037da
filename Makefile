# Every module of the workspace (go.work): the root, the stores, the example…
MODULES = $(shell go list -m -f '{{.Path}}/...')

.PHONY: test vet bench fuzz

# Runs every module's tests with the race detector. Backend tests skip
# without JWTPAIR_REDIS_URL / JWTPAIR_POSTGRES_URL (see README); CI sets
# them and JWTPAIR_REQUIRE_BACKENDS=1, which turns those skips into failures.
# internal/skipsummary prints go test's usual output, then the tests that
# skipped and why, and exits with go test's status.
SKIP_HINT = Redis and PostgreSQL: source .ci/services.sh (README, Stores); Chromium: apt-get install chromium. CI turns these skips into failures.
test:
	go run ./internal/skipsummary -hint "$(SKIP_HINT)" go test -json -race -count=1 $(MODULES)

vet:
	go vet $(MODULES)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# Side-by-side benchmarks against peer libraries and wrk end to end;
# rewrites BENCHMARKS.md. (Root-package benchmarks alone:
# go test -run '^$$' -bench . -benchmem .)
bench:
	bash bench/run.sh

# Fuzz every target of every package in turn, FUZZTIME each (the seed
# corpora alone run in `make test`): make fuzz FUZZTIME=10m. The targets are
# found by `go test -list`, so a new one is fuzzed without a change here.
FUZZTIME ?= 2m
fuzz:
	@set -e; list=$$(go test -list '^Fuzz' $(MODULES)); \
	targets=$$(echo "$$list" | awk '/^Fuzz/ { t[++n] = $$1; next } /^ok/ { for (i = 1; i <= n; i++) print $$2, t[i]; n = 0 }'); \
	test -n "$$targets" || { echo "no fuzz targets found"; exit 1; }; \
	echo "$$targets" | while read pkg t; do \
		echo "== $$pkg $$t ($(FUZZTIME))"; \
		go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done
