# shellcheck shell=bash
#
# Throwaway Redis and PostgreSQL servers for the backend tests.
#
# Source this file from bash (it is not a program):
#
#     source .ci/services.sh && trap jwtpair_services_stop EXIT
#
# It installs redis-server and postgresql with apt-get when they are missing,
# starts a Redis server (no persistence) and a PostgreSQL cluster (trust auth,
# fsync off) on free ports of 127.0.0.1, each in its own temporary directory,
# and exports
#
#     JWTPAIR_REDIS_URL         redis://127.0.0.1:PORT/0
#     JWTPAIR_POSTGRES_URL      postgres://postgres@127.0.0.1:PORT/jwtpair?sslmode=disable
#     JWTPAIR_REQUIRE_BACKENDS  1 (the backend tests then fail instead of skipping)
#
# jwtpair_services_stop stops both servers and removes their directories; call
# it (or trap it) when done. Sourcing the file again first stops the servers a
# previous sourcing started. Nothing else on the machine is touched: the
# servers the Debian packages may start on their default ports are left alone.
# Returns non-zero, with a message on stderr, when a server cannot be started.

jwtpair_services_log() { printf 'services: %s\n' "$*" >&2; }

# jwtpair_services_port prints a TCP port of 127.0.0.1 that nothing listens
# on, below the kernel's ephemeral range (a port in it can be taken at any
# moment by an outgoing connection, and a server then fails to bind it).
jwtpair_services_port() {
	local port i lo=10000 hi=32767 eph _
	if read -r eph _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && [ "$eph" -gt $((lo + 1000)) ]; then
		hi=$((eph - 1))
	fi
	for i in $(seq 1 200); do
		port=$((lo + RANDOM % (hi - lo + 1)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# jwtpair_services_install installs the server packages that are missing.
jwtpair_services_install() {
	local pkgs=()
	command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || pkgs+=(postgresql)
	[ "${#pkgs[@]}" -eq 0 ] && return 0

	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || {
			jwtpair_services_log "need root (or sudo) to install ${pkgs[*]}"
			return 1
		}
		sudo=(sudo)
	fi
	jwtpair_services_log "installing ${pkgs[*]}"
	# Only our own throwaway cluster is wanted: keep the postgresql package
	# from creating and starting its default one.
	if [[ " ${pkgs[*]} " == *" postgresql "* ]]; then
		"${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d &&
			echo 'create_main_cluster = false' |
			"${sudo[@]}" tee /etc/postgresql-common/createcluster.d/jwtpair-ci.conf >/dev/null
	fi
	local log
	log=$(mktemp "${TMPDIR:-/tmp}/jwtpair-apt.XXXXXX") || return 1
	if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${pkgs[@]}"; } >"$log" 2>&1; then
		jwtpair_services_log "apt-get install ${pkgs[*]} failed:"
		tail -n 30 "$log" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
}

# jwtpair_services_start_redis starts redis-server on a free port; a port
# taken between the check and the bind gets another try, twice.
jwtpair_services_start_redis() {
	local dir=$1 port i try
	for try in 1 2 3; do
		port=$(jwtpair_services_port) || {
			jwtpair_services_log "no free port for redis"
			return 1
		}
		redis-server --bind 127.0.0.1 --port "$port" --daemonize yes \
			--dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
			--save '' --appendonly no --maxmemory-policy noeviction || {
			jwtpair_services_log "redis-server did not start (see $dir/redis.log)"
			return 1
		}
		for i in $(seq 1 100); do
			# A server that could not bind exits (and writes no pid file).
			if grep -q "Address already in use" "$dir/redis.log" 2>/dev/null; then
				break
			fi
			# Ours answers: its pid file is there, and the port says PONG.
			if [ -s "$dir/redis.pid" ] && [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
				export JWTPAIR_SERVICES_REDIS_PORT=$port
				export JWTPAIR_REDIS_URL="redis://127.0.0.1:$port/0"
				return 0
			fi
			sleep 0.1
		done
		grep -q "Address already in use" "$dir/redis.log" 2>/dev/null || break
		jwtpair_services_log "redis: port $port was taken; another port"
		: >"$dir/redis.log"
	done
	jwtpair_services_log "redis-server on port $port does not answer; log:"
	tail -n 20 "$dir/redis.log" >&2
	return 1
}

jwtpair_services_start_postgres() {
	local dir=$1 port bin
	bin=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1)
	[ -n "$bin" ] || {
		jwtpair_services_log "no PostgreSQL server binaries under /usr/lib/postgresql"
		return 1
	}
	# PostgreSQL refuses to run as root: run it as the postgres user.
	local as=()
	if [ "$(id -u)" -eq 0 ]; then
		as=(runuser -u postgres --)
		chown postgres: "$dir"
	fi
	mkdir -p "$dir/sock" || return 1
	[ "$(id -u)" -ne 0 ] || chown postgres: "$dir/sock"
	"${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync \
		>"$dir/initdb.log" 2>&1 || {
		jwtpair_services_log "initdb failed; log:"
		tail -n 20 "$dir/initdb.log" >&2
		return 1
	}
	# A port taken between the check and the bind gets another try, twice.
	local try started=
	for try in 1 2 3; do
		port=$(jwtpair_services_port) || {
			jwtpair_services_log "no free port for postgres"
			return 1
		}
		if "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
			-o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >/dev/null; then
			started=1
			break
		fi
		grep -q "Address already in use" "$dir/postgres.log" 2>/dev/null || break
		jwtpair_services_log "postgres: port $port was taken; another port"
		"${as[@]}" truncate -s 0 "$dir/postgres.log"
	done
	[ -n "$started" ] || {
		jwtpair_services_log "postgres did not start; log:"
		tail -n 20 "$dir/postgres.log" >&2
		return 1
	}
	export JWTPAIR_SERVICES_PG_BIN=$bin
	"$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres jwtpair || {
		jwtpair_services_log "createdb failed"
		return 1
	}
	export JWTPAIR_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/jwtpair?sslmode=disable"
}

# jwtpair_services_stop stops the servers this file started and removes their
# directories. Safe to call more than once.
jwtpair_services_stop() {
	local dir=${JWTPAIR_SERVICES_DIR:-}
	[ -n "$dir" ] || return 0
	if [ -s "$dir/redis/redis.pid" ]; then
		kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
	fi
	if [ -n "${JWTPAIR_SERVICES_PG_BIN:-}" ] && [ -e "$dir/postgres/data/postmaster.pid" ]; then
		if [ "$(id -u)" -eq 0 ]; then
			runuser -u postgres -- "$JWTPAIR_SERVICES_PG_BIN/pg_ctl" -D "$dir/postgres/data" -m immediate -w stop >/dev/null 2>&1 || true
		else
			"$JWTPAIR_SERVICES_PG_BIN/pg_ctl" -D "$dir/postgres/data" -m immediate -w stop >/dev/null 2>&1 || true
		fi
	fi
	rm -rf "$dir"
	unset JWTPAIR_SERVICES_DIR JWTPAIR_SERVICES_REDIS_PORT JWTPAIR_SERVICES_PG_BIN \
		JWTPAIR_REDIS_URL JWTPAIR_POSTGRES_URL JWTPAIR_REQUIRE_BACKENDS
}

jwtpair_services_start() {
	jwtpair_services_stop
	jwtpair_services_install || return 1
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/jwtpair-services.XXXXXX") || return 1
	chmod 755 "$dir"
	mkdir -p "$dir/redis" "$dir/postgres"
	export JWTPAIR_SERVICES_DIR=$dir
	jwtpair_services_start_redis "$dir/redis" || { jwtpair_services_stop; return 1; }
	jwtpair_services_start_postgres "$dir/postgres" || { jwtpair_services_stop; return 1; }
	export JWTPAIR_REQUIRE_BACKENDS=1
	jwtpair_services_log "redis at $JWTPAIR_REDIS_URL, postgres at $JWTPAIR_POSTGRES_URL"
}

jwtpair_services_start
