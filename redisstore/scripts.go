package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts below run atomically on the Redis server, one EVALSHA each
// (go-redis falls back to EVAL, sending the source, when the server answers
// NOSCRIPT, as after a restart).
//
// Key layout, P being the store's key prefix, which carries the hash tag:
//
//	P t:<jti>     hash  one refresh token: s state (a active, c consumed),
//	                    f family id, u user id, e expiry, m expiry in ms,
//	                    c consumption time, n replays granted inside the
//	                    grace window, p parent jti (successors)
//	P f:<family>  hash  one family: u user id, x latest expiry of its tokens,
//	                    r "1" once revoked (a logout, reuse, RevokeFamily,
//	                    RevokeUser)
//	P u:<user>    zset  the user's families, scored by their x in ms
//
// Every key carries a TTL: a token expires with its token, a family and a
// user index with the latest token they cover. Times compared inside the
// scripts (e, x, c and "now") are Unix nanoseconds written as 19-digit
// zero-padded decimal strings, so that Lua compares them exactly as strings:
// Lua numbers are doubles and cannot hold nanoseconds. Times given to
// PEXPIREAT and scores are milliseconds.
//
// "Now" is Redis's own clock, read with TIME inside the script (luaClock),
// never the calling instance's: record expiry and the reuse grace window are
// judged on one clock for every instance. Scripts that read TIME and then
// write rely on effects replication, the default since Redis 5 and the only
// mode since Redis 7.
//
// Keys other than KEYS[...] are built inside the scripts from P; they share
// the hash tag of KEYS[1], so every script touches a single Cluster slot.

// Result codes shared by the scripts.
const (
	codeOK          = 0
	codeNotFound    = 1
	codeBlacklisted = 2
	codeReused      = 3
	codeDuplicate   = 4
	codeFamilyUser  = 5
)

// luaClock reads Redis's clock: now (ns, a 19-digit string), now in µs (a
// Lua number, exact below 2^53) and now in ms (a number).
const luaClock = `
local function clock()
  local t = redis.call('TIME')
  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  return string.format('%016.0f000', us), us, math.floor(us / 1000)
end
`

// luaRevokeFamily marks family fk of user revoked, creating its hash (with
// the expiry e ns / ems ms of the token that names it) when Redis no longer
// holds it.
const luaRevokeFamily = `
local function revoke(fk, user, e, ems)
  if redis.call('EXISTS', fk) == 0 then
    redis.call('HSET', fk, 'u', user, 'x', e)
    redis.call('PEXPIREAT', fk, ems)
  end
  redis.call('HSET', fk, 'r', '1')
end
`

// luaExtend records that family fam of user now covers a token expiring at
// e (ns string) / ems (ms): it creates the family hash or moves its expiry
// later, and adds the family to the user's index, whose own TTL follows the
// latest family.
const luaExtend = `
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

// issueScript records a new active token.
//
// A live record of the jti that is active and identical (family, user,
// expiry) means this very Issue already ran (go-redis resent it after losing
// the reply): the script answers as the first run did, changing nothing.
//
// The user index is pruned of families whose key Redis has expired. The
// clock only picks the candidates, lowest score (earliest expiry) first, and
// the first family whose key still exists ends the pruning, so the work done
// is proportional to the entries removed. An entry left behind costs only
// space: RevokeUser skips it, and the index expires with its latest family.
//
// KEYS: token, family, user index.
// ARGV: family id, user id, expiry ns, expiry ms, prefix.
var issueScript = redis.NewScript(luaClock + luaExtend + `
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

// rotateScript consumes the presented token and records its successor, or
// classifies the failure; on reuse it revokes the family. A consumed token
// presented again is a replay while it was consumed no more than the grace
// window ago, on Redis's clock, and has been replayed fewer than the bound
// allows (the count n is kept on the token); otherwise it is reuse.
//
// A successor that already exists with the presented token as its parent
// means this very rotation already ran (go-redis retried after losing the
// reply). While the presented token is not revoked, its family not revoked
// and that successor still active, the script answers success again, with
// no change, instead of reporting reuse. Otherwise the presented token is
// judged as usual (revoked, reuse), and a successor that cannot be recorded
// because its jti is taken is refused; an existing record is never
// overwritten.
//
// KEYS: presented token, successor token.
// ARGV: prefix, presented jti, grace window in µs ("-1": none), replay bound,
// keep ("1"/"0"), successor expiry ns, successor expiry ms.
var rotateScript = redis.NewScript(luaClock + luaRevokeFamily + luaExtend + `
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

// checkScript reports a token's usability.
//
// KEYS: token. ARGV: prefix.
var checkScript = redis.NewScript(luaClock + `
local now = clock()
local t = redis.call('HMGET', KEYS[1], 's', 'f', 'e')
if (not t[1]) or t[3] <= now then
  return 1
end
if t[1] ~= 'a' then
  return 2
end
if redis.call('HGET', ARGV[1] .. 'f:' .. t[2], 'r') == '1' then
  return 2
end
return 0
`)

// revokeScript logs out: it revokes the token's family, ending the session
// with every rotation and grace sibling of it. A consumed token presented
// for logout is treated as reuse: the answer is "revoked", so a stolen,
// already rotated token cannot be "logged out" to hide its reuse.
//
// KEYS: token. ARGV: prefix.
var revokeScript = redis.NewScript(luaClock + luaRevokeFamily + `
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

// revokeFamilyScript marks an existing family revoked; its TTL stays.
//
// KEYS: family.
var revokeFamilyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'r', '1')
end
return 0
`)

// revokeUserScript revokes every family in the user's index whose key still
// exists, whatever the scores say (the caller's clock may run ahead of the
// instances still using a family), and drops the index: families issued
// later start a new one.
//
// KEYS: user index. ARGV: prefix.
var revokeUserScript = redis.NewScript(`
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
