package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// V1Layout writes the single-slot layout of the redisstore before sessions
// (commit a2d62e5, the last version with it), with that version's own
// scripts, for the tests of MigrateKeys: its Issue, Rotate, Revoke and
// RevokeUser leave in Redis exactly what a deployment of that version
// left. It is compiled into the package for tests only (export_test.go
// style), so that the external tests reach it.
type V1Layout struct {
	client redis.UniversalClient
	prefix string // the key prefix, hash tag included: "{jwtpair:}"
}

// NewV1Layout returns the writer for client and prefix as that version's
// WithKeyPrefix took it ("" for its default, "jwtpair:").
func NewV1Layout(client redis.UniversalClient, prefix string) *V1Layout {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &V1Layout{client: client, prefix: "{" + prefix + "}"}
}

// Prefix is the prefix of every key it writes, hash tag included.
func (v *V1Layout) Prefix() string { return v.prefix }

// Issue records an active token of family for user, expiring at exp.
func (v *V1Layout) Issue(ctx context.Context, jti, family, user string, exp time.Time) error {
	return v1Result(v1IssueScript.Run(ctx, v.client,
		[]string{v.prefix + "t:" + jti, v.prefix + "f:" + family, v.prefix + "u:" + user},
		family, user, nanos(exp), millis(exp), v.prefix).Int())
}

// Rotate consumes jti and records next, expiring at exp, as that version
// did, with the reuse grace window grace (0: none).
func (v *V1Layout) Rotate(ctx context.Context, jti, next string, exp time.Time, grace time.Duration) error {
	return v1Result(v1RotateScript.Run(ctx, v.client,
		[]string{v.prefix + "t:" + jti, v.prefix + "t:" + next},
		v.prefix, jti, graceMicros(grace), maxReplays, "0", nanos(exp), millis(exp)).Int())
}

// Revoke logs out with jti: its family is revoked.
func (v *V1Layout) Revoke(ctx context.Context, jti string) error {
	return v1Result(v1RevokeScript.Run(ctx, v.client, []string{v.prefix + "t:" + jti}, v.prefix).Int())
}

// RevokeUser revokes every family of user.
func (v *V1Layout) RevokeUser(ctx context.Context, user string) error {
	return v1Result(v1RevokeUserScript.Run(ctx, v.client, []string{v.prefix + "u:" + user}, v.prefix).Int())
}

// v1Result reports a script's failure or a code other than OK.
func v1Result(code int, err error) error {
	if err != nil {
		return err
	}
	if code != codeOK {
		return fmt.Errorf("v1 layout: code %d", code)
	}
	return nil
}

// The scripts of commit a2d62e5 (redisstore/scripts.go), unchanged but for
// their names; luaClock has not changed since.

const v1LuaRevokeFamily = `
local function revoke(fk, user, e, ems)
  if redis.call('EXISTS', fk) == 0 then
    redis.call('HSET', fk, 'u', user, 'x', e)
    redis.call('PEXPIREAT', fk, ems)
  end
  redis.call('HSET', fk, 'r', '1')
end
`

const v1LuaExtend = `
local function extend(fk, uk, fam, user, e, ems)
  local x = redis.call('HGET', fk, 'x')
  if not x then
    redis.call('HSET', fk, 'u', user, 'x', e)
    redis.call('PEXPIREAT', fk, ems)
  elseif x < e then
    redis.call('HSET', fk, 'x', e)
    redis.call('PEXPIREAT', fk, ems)
  end
  local sc = redis.call('ZSCORE', uk, fam)
  if (not sc) or tonumber(sc) < tonumber(ems) then
    redis.call('ZADD', uk, ems, fam)
  end
  local top = redis.call('ZRANGE', uk, -1, -1, 'WITHSCORES')
  if top[2] then
    redis.call('PEXPIREAT', uk, top[2])
  end
end
`

var v1IssueScript = redis.NewScript(luaClock + v1LuaExtend + `
local now, _, nowms = clock()
local old = redis.call('HMGET', KEYS[1], 's', 'f', 'u', 'e')
local again = false
if old[4] and old[4] > now then
  if old[1] ~= 'a' or old[2] ~= ARGV[1] or old[3] ~= ARGV[2] or old[4] ~= ARGV[3] then
    return 4
  end
  again = true
end
local fam = redis.call('HMGET', KEYS[2], 'u', 'r')
if fam[1] then
  if fam[1] ~= ARGV[2] then
    return 5
  end
  if fam[2] == '1' then
    return 2
  end
end
if again then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', 'a', 'f', ARGV[1], 'u', ARGV[2], 'e', ARGV[3], 'm', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
extend(KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. nowms)
for _, f in ipairs(stale) do
  if redis.call('EXISTS', ARGV[5] .. 'f:' .. f) == 1 then
    break
  end
  redis.call('ZREM', KEYS[3], f)
end
return 0
`)

var v1RotateScript = redis.NewScript(luaClock + v1LuaRevokeFamily + v1LuaExtend + `
local now, nowus = clock()
local n = redis.call('HMGET', KEYS[2], 'p', 'e', 's')
local taken = n[2] and n[2] > now
if taken and n[1] ~= ARGV[2] then
  return 4
end
local t = redis.call('HMGET', KEYS[1], 's', 'f', 'u', 'e', 'm', 'c', 'n')
local s, fam, user = t[1], t[2], t[3]
if (not s) or t[4] <= now then
  return 1
end
if s ~= 'a' and s ~= 'c' then
  return 2
end
local fk = ARGV[1] .. 'f:' .. fam
if redis.call('HGET', fk, 'r') == '1' then
  return 2
end
if taken and n[3] == 'a' then
  return 0
end
if s == 'c' then
  local grace = tonumber(ARGV[3])
  if grace < 0 or t[6] < string.format('%016.0f000', nowus - grace)
      or tonumber(t[7] or '0') >= tonumber(ARGV[4]) then
    revoke(fk, user, t[4], t[5])
    return 3
  end
end
if taken then
  return 4
end
if s == 'c' then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
elseif ARGV[5] ~= '1' then
  redis.call('HSET', KEYS[1], 's', 'c', 'c', now)
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 's', 'a', 'f', fam, 'u', user, 'e', ARGV[6], 'm', ARGV[7], 'p', ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[7])
extend(fk, ARGV[1] .. 'u:' .. user, fam, user, ARGV[6], ARGV[7])
return 0
`)

var v1RevokeScript = redis.NewScript(luaClock + v1LuaRevokeFamily + `
local now = clock()
local t = redis.call('HMGET', KEYS[1], 's', 'f', 'e', 'u', 'm')
if (not t[1]) or t[3] <= now then
  return 1
end
local fk = ARGV[1] .. 'f:' .. t[2]
if redis.call('HGET', fk, 'r') == '1' then
  return 2
end
revoke(fk, t[4], t[3], t[5])
if t[1] == 'c' then
  return 2
end
return 0
`)

var v1RevokeUserScript = redis.NewScript(`
local fams = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, f in ipairs(fams) do
  local fk = ARGV[1] .. 'f:' .. f
  if redis.call('EXISTS', fk) == 1 then
    redis.call('HSET', fk, 'r', '1')
  end
end
redis.call('DEL', KEYS[1])
return 0
`)
