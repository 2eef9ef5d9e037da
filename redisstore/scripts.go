package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts below run atomically on the Redis server, one EVALSHA each
// (go-redis falls back to EVAL, sending the source, when the server answers
// NOSCRIPT, as after a restart).
//
// Key layout, P being the store's key prefix, which carries the hash tag:
//
//	P t:<jti>     hash  one refresh token: s state (a active, c consumed,
//	                    r revoked), f family id, u user id, e expiry, m expiry
//	                    in ms, c consumption time, p parent jti (successors)
//	P f:<family>  hash  one family: u user id, x latest expiry of its tokens,
//	                    r "1" once revoked
//	P u:<user>    zset  the user's families, scored by their x in ms
//
// Every key carries a TTL: a token expires with its token, a family and a
// user index with the latest token they cover. Times compared inside the
// scripts (e, x, c and the ARGV instants) are Unix nanoseconds written as
// 19-digit zero-padded decimal strings, so that Lua compares them exactly as
// strings: Lua numbers are doubles and cannot hold nanoseconds. Times given
// to PEXPIREAT and scores are milliseconds.
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
// caller's clock only picks the candidates, lowest score (earliest expiry)
// first, and the first family whose key still exists ends the pruning: an
// instance whose clock runs ahead never drops a live family, and the work
// done is proportional to the entries removed. An entry left behind costs
// only space: RevokeUser skips it, and the index expires with its latest
// family.
//
// KEYS: token, family, user index.
// ARGV: family id, user id, expiry ns, expiry ms, now ns, now ms, prefix.
var issueScript = redis.NewScript(luaExtend + `
local old = redis.call('HMGET', KEYS[1], 's', 'f', 'u', 'e')
local again = false
if old[4] and old[4] > ARGV[5] then
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
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[6])
for _, f in ipairs(stale) do
  if redis.call('EXISTS', ARGV[7] .. 'f:' .. f) == 1 then
    break
  end
  redis.call('ZREM', KEYS[3], f)
end
return 0
`)

// rotateScript consumes the presented token and records its successor, or
// classifies the failure; on reuse it revokes the family.
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
// ARGV: prefix, presented jti, now ns (store clock), at ns (opts.Now),
// grace threshold ns (at - grace; "" without grace), keep ("1"/"0"),
// successor expiry ns, successor expiry ms.
var rotateScript = redis.NewScript(luaExtend + `
local n = redis.call('HMGET', KEYS[2], 'p', 'e', 's')
local taken = n[2] and n[2] > ARGV[3]
if taken and n[1] ~= ARGV[2] then
  return 4
end
local t = redis.call('HMGET', KEYS[1], 's', 'f', 'u', 'e', 'm', 'c')
local s, fam, user = t[1], t[2], t[3]
if (not s) or t[4] <= ARGV[3] then
  return 1
end
if s == 'r' then
  return 2
end
local fk = ARGV[1] .. 'f:' .. fam
if redis.call('HGET', fk, 'r') == '1' then
  return 2
end
if taken and n[3] == 'a' then
  return 0
end
if s == 'c' and (ARGV[5] == '' or t[6] < ARGV[5]) then
  if redis.call('EXISTS', fk) == 0 then
    redis.call('HSET', fk, 'u', user, 'x', t[4])
    redis.call('PEXPIREAT', fk, t[5])
  end
  redis.call('HSET', fk, 'r', '1')
  return 3
end
if taken then
  return 4
end
if s == 'a' and ARGV[6] ~= '1' then
  redis.call('HSET', KEYS[1], 's', 'c', 'c', ARGV[4])
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 's', 'a', 'f', fam, 'u', user, 'e', ARGV[7], 'm', ARGV[8], 'p', ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[8])
extend(fk, ARGV[1] .. 'u:' .. user, fam, user, ARGV[7], ARGV[8])
return 0
`)

// checkScript reports a token's usability.
//
// KEYS: token. ARGV: prefix, now ns.
var checkScript = redis.NewScript(`
local t = redis.call('HMGET', KEYS[1], 's', 'f', 'e')
if (not t[1]) or t[3] <= ARGV[2] then
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

// revokeScript revokes one token. A consumed token presented for logout is
// treated as reuse: its family is revoked (as in rotateScript) and the
// answer is "revoked", so a stolen, already rotated token cannot be
// "logged out" to hide its reuse.
//
// KEYS: token. ARGV: prefix, now ns.
var revokeScript = redis.NewScript(`
local t = redis.call('HMGET', KEYS[1], 's', 'f', 'e', 'u', 'm')
if (not t[1]) or t[3] <= ARGV[2] then
  return 1
end
if t[1] == 'r' then
  return 2
end
local fk = ARGV[1] .. 'f:' .. t[2]
if redis.call('HGET', fk, 'r') == '1' then
  return 2
end
if t[1] == 'c' then
  if redis.call('EXISTS', fk) == 0 then
    redis.call('HSET', fk, 'u', t[4], 'x', t[3])
    redis.call('PEXPIREAT', fk, t[5])
  end
  redis.call('HSET', fk, 'r', '1')
  return 2
end
redis.call('HSET', KEYS[1], 's', 'r')
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
