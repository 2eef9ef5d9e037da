#!/usr/bin/env bash
# The soak under backend faults (soak/, its own module; make test runs its
# tests, never the soak): for each backend, two example instances share it while
# clients loop login → protected requests → refresh → logout and vegeta
# paces protected requests, and the backend is killed and restarted; the
# clients' logs are then checked (soak/check.go) and RELIABILITY.md is
# rewritten from the runs. Exits 1 when a rule is broken (the runs' files
# are then kept, and their directory printed), 2 when a run could not be
# carried out.
#
#   bash soak/run.sh short             # CI: 25 s and one outage per backend
#   bash soak/run.sh long              # 10 min and 8 outages per backend
#   bash soak/run.sh short redis       # some backends only
#   OUT=/tmp/r.md bash soak/run.sh short   # write elsewhere than RELIABILITY.md
#   KEEP=/tmp/soak bash soak/run.sh short  # keep every run's files there
#   SOAK_FLAGS='-store-timeout 2s' bash soak/run.sh short   # more soak run flags (soak/main.go)
#
# The soak starts its own servers on free ports of 127.0.0.1 (it kills
# them): redis-server and PostgreSQL's binaries must be installed, as
# .ci/services.sh installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-short}
[ $# -gt 0 ] && shift
case "$mode" in
short) flags=(-duration 25s -outages 1 -clients 8 -rate 100 -warmup 6s -access-ttl 8s) ;;
long) flags=(-duration 10m -outages 8 -clients 16 -rate 200 -warmup 20s -access-ttl 30s) ;;
*)
	echo "run.sh: $mode: want short or long" >&2
	exit 2
	;;
esac
backends=("$@")
command="bash soak/run.sh $mode${*:+ $*}"
[ ${#backends[@]} -gt 0 ] || backends=(redis postgres sqlite)
OUT=${OUT:-RELIABILITY.md}
# shellcheck disable=SC2206
extra=(${SOAK_FLAGS:-})

tmp=$(mktemp -d)
keep=${KEEP:-}
cleanup() { [ -n "$keep" ] || rm -rf "$tmp"; }
trap cleanup EXIT
runs=${keep:-$tmp}
mkdir -p "$runs"

go build -o "$tmp/example" ./example/backends
go build -o "$tmp/soak" ./soak

status=0
dirs=()
for b in "${backends[@]}"; do
	bflags=(-down 4s)
	# SQLite's outage is a held write lock, which a write waits for until
	# its store call's deadline (the instances' -store-timeout, 5 s): the
	# lock must outlast it by over a second for writes to fail (soak run
	# refuses a shorter -down). With another -store-timeout in SOAK_FLAGS,
	# give a -down there too: it comes last, and wins.
	[ "$b" = sqlite ] && bflags=(-down 8s)
	printf '\n==> soak %s %s\n' "$mode" "$b"
	rc=0
	"$tmp/soak" run -backend "$b" -example "$tmp/example" -out "$runs/$b" "${flags[@]}" "${bflags[@]}" "${extra[@]}" || rc=$?
	case $rc in
	0) ;;
	1)
		status=1
		keep=$runs
		;;
	*)
		echo "run.sh: the $b soak could not be carried out" >&2
		exit 2
		;;
	esac
	dirs+=("$runs/$b")
done

[ ${#extra[@]} -eq 0 ] || command="SOAK_FLAGS='${extra[*]}' $command"
"$tmp/soak" report -o "$OUT" -command "$command" "${dirs[@]}"
echo "wrote $OUT"
if [ "$status" -ne 0 ]; then
	echo "run.sh: violations found; the runs' files are in $runs" >&2
fi
exit "$status"
