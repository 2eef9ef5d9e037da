#!/usr/bin/env bash
# Cold start of the README's first command: `go run ./example` from a
# checkout, as on a fresh machine with Go and nothing else: empty module and
# build caches (GOMODCACHE, GOCACHE: the standard library is compiled too).
# Each run times, from `go run` until GET /hello/ answers (its 401), once
# with the empty caches (cold) and once more with what that filled (warm),
# and sizes the module cache it downloaded. Beside the wall time it gives
# the CPU time (user + system) of go run and the compiler and linker runs it
# waited for, which depends much less on what else the machine runs. Needs
# the network (the module proxy), curl and Linux's /proc.
#
#	bash example/coldstart.sh [DIR [PACKAGE]]    # default: this checkout, ./example
#	RUNS=3 bash example/coldstart.sh . ./example/backends
#	git worktree add /tmp/before c4bada3 && bash example/coldstart.sh /tmp/before
#
# One line per run: cold and warm seconds (wall, and CPU in parentheses),
# module cache size, and the 1-minute load average before and after (on a
# shared machine the wall times follow it).
set -euo pipefail
dir=$(cd "${1:-$(dirname "$0")/..}" && pwd)
pkg=${2:-./example}
runs=${RUNS:-3}
command -v curl >/dev/null || { echo "coldstart: curl is required" >&2; exit 1; }

scratch=$(mktemp -d)
cleanup() {
	# A go run still going (once runs in a subshell: its group is in a file).
	[ ! -s "$scratch/pgid" ] || kill -TERM -- "-$(cat "$scratch/pgid")" 2>/dev/null || true
	chmod -R u+w "$scratch" 2>/dev/null || true # the module cache is read-only without -modcacherw
	rm -rf "$scratch"
}
trap cleanup EXIT

# port prints a TCP port of 127.0.0.1 that nothing listens on.
port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 10000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

# once MODCACHE BUILDCACHE: seconds from `go run` to the first answer, and
# the CPU seconds go run used and waited for until then.
once() {
	local p t0 t1 cpu pgid
	p=$(port)
	t0=$(date +%s.%N)
	# setsid: go run and the server it starts form one process group, ended together.
	(cd "$dir" && GOMODCACHE=$1 GOCACHE=$2 GOFLAGS="-modcacherw -buildvcs=false" exec setsid go run "$pkg" -addr "127.0.0.1:$p") >"$scratch/out" 2>&1 &
	pgid=$!
	echo "$pgid" >"$scratch/pgid"
	until curl -s -o /dev/null "http://127.0.0.1:$p/hello/"; do
		kill -0 "$pgid" 2>/dev/null || { echo "coldstart: go run $pkg exited:" >&2; cat "$scratch/out" >&2; exit 1; }
		sleep 0.05
	done
	t1=$(date +%s.%N)
	# /proc/PID/stat fields 14-17: utime, stime, cutime, cstime, in clock ticks.
	cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13 + $14 + $15) / hz }' "/proc/$pgid/stat")
	kill -TERM -- "-$pgid"
	wait "$pgid" 2>/dev/null || true
	: >"$scratch/pgid"
	awk -v a="$t0" -v b="$t1" -v c="$cpu" 'BEGIN { printf "%.1f s (CPU %s s)", b - a, c }'
}

echo "go run $pkg in $dir, $(go version | cut -d' ' -f3-), $(nproc) CPUs"
for i in $(seq 1 "$runs"); do
	mc=$(mktemp -d "$scratch/mod.XXXX") gc=$(mktemp -d "$scratch/build.XXXX")
	load0=$(cut -d' ' -f1 /proc/loadavg)
	cold=$(once "$mc" "$gc")
	warm=$(once "$mc" "$gc")
	echo "run $i: cold ${cold}, warm ${warm}, module cache $(du -sh "$mc" | cut -f1), load $load0 -> $(cut -d' ' -f1 /proc/loadavg)"
	chmod -R u+w "$mc" && rm -rf "$mc" "$gc"
done
