#!/usr/bin/env bash
# Smoke test of the example server over real HTTP: builds ./example (the
# memory store) and ./example/backends (the shared stores), starts the first
# and checks every status code and body of the wire contract with curl, and
# that it sends a shared -store to example/backends; then, for each shared
# store available (SQLite always; Redis and PostgreSQL when
# JWTPAIR_REDIS_URL / JWTPAIR_POSTGRES_URL are set), starts two processes of
# example/backends over it and checks they behave as one service. Run from
# the repository root: bash example/smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

command -v curl >/dev/null || { echo "smoke: curl is required" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/example" ./example
go build -o "$tmp/backends" ./example/backends
export JWTPAIR_SECRET="smoke-test-secret-0123456789abcdef-0123"

fail() { echo "not ok - $1"; shift; printf '%s\n' "$@"; exit 1; }
ok() { echo "ok - $1"; }

# start ARGS…: starts a server ($bin, default the memory-store example),
# waits for its address, sets $addr and $pid.
start() {
	local out="$tmp/out.$RANDOM"
	: >"$out" # exists before the server (started in the background) opens it
	"${bin:-$tmp/example}" -addr 127.0.0.1:0 "$@" >"$out" 2>>"$tmp/stderr" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 1 300); do
		addr=$(sed -n 's/^listening on //p' "$out")
		[ -n "$addr" ] && return 0
		kill -0 "$pid" 2>/dev/null || fail "server started" "$(cat "$tmp/stderr")"
		sleep 0.1
	done
	fail "server started in 30 s" "$(cat "$tmp/stderr")"
}

# req NAME WANT_STATUS WANT_BODY_FRAGMENT curl-args…: one check.
req() {
	local name=$1 want=$2 fragment=$3
	shift 3
	local status
	status=$(curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' "$@")
	body=$(cat "$tmp/body")
	[ "$status" = "$want" ] || fail "$name" "want status $want, got $status" "$body"
	case "$body" in *"$fragment"*) ;; *) fail "$name" "want body containing: $fragment" "got: $body" ;; esac
	ok "$name"
}

field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$tmp/body"; }
json=(-H 'Content-Type: application/json')

start
base=$addr
main=$pid

req "obtain" 200 '"refresh":"' -X POST "${json[@]}" -d '{"username":"admin","password":"admin"}' "$base/api/token/"
access=$(field access)
refresh=$(field refresh)
grep -qi '^cache-control: no-store' "$tmp/headers" || fail "obtain: Cache-Control: no-store" "$(cat "$tmp/headers")"
ok "obtain: Cache-Control no-store"
req "hello with the access token" 200 '{"message":"Hello, World!","user_id":"1"}' -H "Authorization: Bearer $access" "$base/hello/"
req "POST hello" 200 '"user_id":"1"' -X POST -H "Authorization: Bearer $access" "$base/hello/"
req "hello without credentials" 401 '{"detail":"Authentication credentials were not provided."}' "$base/hello/"
grep -qi 'WWW-Authenticate: Bearer realm="api"' "$tmp/headers" || fail "WWW-Authenticate on 401" "$(cat "$tmp/headers")"
ok "WWW-Authenticate on 401"
req "Bearer alone" 401 '"code":"bad_authorization_header"' -H "Authorization: Bearer" "$base/hello/"
req "three parts" 401 '"code":"bad_authorization_header"' -H "Authorization: Bearer a b" "$base/hello/"
req "garbage token" 401 '"messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid"}]' -H "Authorization: Bearer x.y.z" "$base/hello/"
grep -q 'error="invalid_token"' "$tmp/headers" || fail "RFC 6750 error on a bad token" "$(cat "$tmp/headers")"
ok "RFC 6750 error on a bad token"
req "refresh token as access" 401 '"message":"Token has wrong type"' -H "Authorization: Bearer $refresh" "$base/hello/"
req "wrong password" 401 '{"detail":"No active account found with the given credentials"}' -X POST "${json[@]}" -d '{"username":"admin","password":"nope"}' "$base/api/token/"
req "unknown user" 401 '{"detail":"No active account found with the given credentials"}' -X POST "${json[@]}" -d '{"username":"nobody","password":"admin"}' "$base/api/token/"
req "missing password" 400 '{"password":["This field is required."]}' -X POST "${json[@]}" -d '{"username":"admin"}' "$base/api/token/"
req "form body" 200 '"access":"' -X POST -d 'username=admin&password=admin' "$base/api/token/"
req "GET on obtain" 405 '{"detail":"Method \"GET\" not allowed."}' "$base/api/token/"
grep -qi '^allow: POST, OPTIONS' "$tmp/headers" || fail "Allow: POST, OPTIONS on 405" "$(cat "$tmp/headers")"
ok "Allow: POST, OPTIONS on 405"
req "OPTIONS on obtain" 200 '"name":"Token Obtain Pair"' -X OPTIONS "$base/api/token/"
req "obtain on a sub-path" 404 '404 page not found' -X POST "${json[@]}" -d '{"username":"admin","password":"admin"}' "$base/api/token/anything/"
req "text/plain" 415 '{"detail":"Unsupported media type \"text/plain\" in request."}' -X POST -H 'Content-Type: text/plain' -d 'hi' "$base/api/token/"
head -c 70000 /dev/zero | tr '\0' 'a' | sed 's/^/{"username":"/; s/$/"}/' >"$tmp/big.json"
req "70 KB body" 413 '{"detail":"Request body too large."}' -X POST "${json[@]}" --data-binary "@$tmp/big.json" "$base/api/token/"
req "verify" 200 '{}' -X POST "${json[@]}" -d "{\"token\":\"$access\"}" "$base/api/token/verify/"
req "verify garbage" 401 '{"detail":"Token is invalid","code":"token_not_valid"}' -X POST "${json[@]}" -d '{"token":"a.b.c"}' "$base/api/token/verify/"
req "refresh" 200 '"refresh":"' -X POST "${json[@]}" -d "{\"refresh\":\"$refresh\"}" "$base/api/token/refresh/"
next=$(field refresh)
req "reuse of the rotated refresh token" 401 '{"detail":"Token is blacklisted","code":"token_not_valid"}' -X POST "${json[@]}" -d "{\"refresh\":\"$refresh\"}" "$base/api/token/refresh/"
req "family revoked by the reuse" 401 '"Token is blacklisted"' -X POST "${json[@]}" -d "{\"refresh\":\"$next\"}" "$base/api/token/refresh/"

# Parallel refreshes of one fresh token: exactly one 200.
req "obtain again" 200 '"refresh":"' -X POST "${json[@]}" -d '{"username":"admin","password":"admin"}' "$base/api/token/"
fresh=$(field refresh)
parallel_refresh() { # BASE… : 16 refreshes of $fresh spread over the bases
	local bases=("$@") i
	for i in $(seq 0 15); do
		curl -s -o /dev/null -w '%{http_code}\n' -X POST "${json[@]}" -d "{\"refresh\":\"$fresh\"}" "${bases[$((i % ${#bases[@]}))]}/api/token/refresh/" &
	done | sort | uniq -c | tr -s ' ' >"$tmp/statuses" # ends when every curl has closed its output
	grep -q '^ 1 200$' "$tmp/statuses" && grep -q '^ 15 401$' "$tmp/statuses" ||
		fail "16 parallel refreshes: exactly one 200" "$(cat "$tmp/statuses")"
}
parallel_refresh "$base"
ok "16 parallel refreshes of one token: exactly one 200"

req "obtain for logout" 200 '"refresh":"' -X POST "${json[@]}" -d '{"username":"admin","password":"admin"}' "$base/api/token/"
logout=$(field refresh)
req "blacklist" 200 '{}' -X POST "${json[@]}" -d "{\"refresh\":\"$logout\"}" "$base/api/token/blacklist/"
req "refresh after blacklist" 401 '"Token is blacklisted"' -X POST "${json[@]}" -d "{\"refresh\":\"$logout\"}" "$base/api/token/refresh/"

kill -TERM "$main"
status=0
wait "$main" || status=$?
[ "$status" = 0 ] || fail "SIGTERM: clean exit" "exit status $status" "$(cat "$tmp/stderr")"
kill -0 "$main" 2>/dev/null && fail "SIGTERM: process gone"
ok "SIGTERM: exit status 0"

# Expiry, on a server of its own with a 1 s access TTL (exp is in whole
# seconds: the token is dead at most 1 s after it was issued).
start -access-ttl 1s
req "obtain, 1 s access TTL" 200 '"access":"' -X POST "${json[@]}" -d '{"username":"admin","password":"admin"}' "$addr/api/token/"
short=$(field access)
sleep 2.2
req "access token after its TTL" 401 '"message":"Token is expired"' -H "Authorization: Bearer $short" "$addr/hello/"

# ./example has the memory store only: a shared one is a usage error (exit
# status 2) naming the command that has it, with the same arguments. Under
# timeout: were the store ever accepted, the server would serve in the
# foreground (timeout's status 124 then fails the check, not CI's clock).
status=0
timeout -k 2 10 "$tmp/example" -addr 127.0.0.1:0 -store "sqlite:$tmp/auth.db" 2>"$tmp/refused" || status=$?
[ "$status" != 124 ] && [ "$status" != 137 ] || fail "./example -store sqlite: exits at once" "still running after 10 s: it served" "$(cat "$tmp/refused")"
[ "$status" = 2 ] || fail "./example -store sqlite: exit status 2" "exit status $status" "$(cat "$tmp/refused")"
grep -qF "go run ./example/backends -addr 127.0.0.1:0 -store sqlite:$tmp/auth.db" "$tmp/refused" ||
	fail "./example -store sqlite: names go run ./example/backends" "$(cat "$tmp/refused")"
ok "./example -store sqlite: exit 2, names go run ./example/backends"

# Two processes of example/backends over one shared store behave as one service.
bin=$tmp/backends
stores=("sqlite:$tmp/auth.db")
[ -n "${JWTPAIR_REDIS_URL:-}" ] && stores+=("$JWTPAIR_REDIS_URL")
[ -n "${JWTPAIR_POSTGRES_URL:-}" ] && stores+=("$JWTPAIR_POSTGRES_URL")
for store in "${stores[@]}"; do
	kind=${store%%:*}
	start -store "$store"
	a=$addr
	start -store "$store"
	b=$addr
	req "$kind: obtain on A" 200 '"refresh":"' -X POST "${json[@]}" -d '{"username":"admin","password":"admin"}' "$a/api/token/"
	tok=$(field refresh)
	acc=$(field access)
	req "$kind: A's access token on B" 200 '"user_id":"1"' -H "Authorization: Bearer $acc" "$b/hello/"
	req "$kind: logout on A" 200 '{}' -X POST "${json[@]}" -d "{\"refresh\":\"$tok\"}" "$a/api/token/blacklist/"
	req "$kind: refresh on B after logout on A" 401 '"Token is blacklisted"' -X POST "${json[@]}" -d "{\"refresh\":\"$tok\"}" "$b/api/token/refresh/"
	req "$kind: obtain on B" 200 '"refresh":"' -X POST "${json[@]}" -d '{"username":"admin","password":"admin"}' "$b/api/token/"
	fresh=$(field refresh)
	parallel_refresh "$a" "$b"
	ok "$kind: 16 parallel refreshes across A and B: exactly one 200"
	req "$kind: obtain on A for reuse" 200 '"refresh":"' -X POST "${json[@]}" -d '{"username":"admin","password":"admin"}' "$a/api/token/"
	first=$(field refresh)
	req "$kind: refresh on A" 200 '"refresh":"' -X POST "${json[@]}" -d "{\"refresh\":\"$first\"}" "$a/api/token/refresh/"
	second=$(field refresh)
	req "$kind: reuse on B of the token rotated on A" 401 '"Token is blacklisted"' -X POST "${json[@]}" -d "{\"refresh\":\"$first\"}" "$b/api/token/refresh/"
	req "$kind: successor on A, family revoked by B" 401 '"Token is blacklisted"' -X POST "${json[@]}" -d "{\"refresh\":\"$second\"}" "$a/api/token/refresh/"
done
echo "smoke: all checks passed"
