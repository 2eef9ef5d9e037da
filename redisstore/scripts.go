package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts below run atomically on the Redis server, one EVALSHA each
// (go-redis falls back to EVAL, sending the source, when the server answers
// NOSCRIPT, as after a restart).
//
// # Key layout
//
// P is the store's key prefix ([WithKeyPrefix], no braces), U the user's
// hash tag: "{u:<user id>}" when the id is at most 64 printable ASCII
// characters without braces, "{h:<first 32 hex digits of the id's
// SHA-256>}" otherwise (Store.user). A key is P, U and the rest
// concatenated, written below with spaces: "jwtpair:{u:42}:t:<jti>".
//
//	P U:t:<jti>  hash  one refresh token: s state (a active, c consumed),
//	                   i session id, e expiry (ns), c consumption time (ns),
//	                   n replays granted inside the grace window, p parent
//	                   jti (successors only)
//	P U:s:<sid>  hash  one session: u user id, c created (ns), l last
//	                   refreshed (ns), x idle expiry = latest expiry of its
//	                   tokens (ns), j jti of its latest token, a absolute
//	                   expiry (ns, absent: none), r when it ended (ns,
//	                   absent while live)
//	P U:m:<sid>  string the session's client metadata, one JSON object
//	                   (absent: none; deleted when the session ends). Apart
//	                   from the hash, whose every value then stays under
//	                   Redis's hash-max-listpack-value (64 bytes), so the
//	                   hash keeps its compact encoding: a user agent in it
//	                   would make it a hashtable, about 470 bytes more.
//	P U:i        zset  the user's sessions not ended, scored by created (µs):
//	                   listing, EndSessions and the per-user cap without SCAN
//	P U:p        zset  revocations of the user not yet acknowledged in the
//	                   feed: "s:<sid>" or "u" (all sessions), scored by when
//	                   they happened (µs)
//	P{feed}      stream the revocation feed: entries u user id, s session id
//	                   (absent for all sessions of the user), a time (µs)
//
// Every key of one user shares the tag U, so each script below but the feed
// script touches one Redis Cluster slot, the user's, and users spread over
// all slots. Keys a script reaches beyond KEYS (other sessions of the user,
// the index, the pending set) are built inside it from the base "P U:",
// passed in ARGV, so they share the tag of KEYS[1]. The feed stream has a tag
// of its own ("feed"; no user tag starts with it) and one slot; only the
// feed script touches it.
//
// After the type letter the rest of a key is the raw jti or session id: the
// user part ends at the first "}", which neither a prefix nor a tag holds,
// so two different (user, kind, id) never give one key.
//
// # Expiry
//
// Every key carries a TTL: a token expires with its token; a session (and
// its metadata) when its latest token would (x), so its end is remembered as
// long as any token it covers; the index no earlier than its longest-lived
// session; the pending set and the stream one retention after their last
// write. Times compared inside the scripts are Unix nanoseconds written as
// 19-digit zero-padded decimal strings, so that Lua compares them exactly as
// strings (Lua numbers are doubles and cannot hold nanoseconds); scores are
// µs, exact in a double; PEXPIREAT takes ms, which the store passes beside
// the ns.
//
// "Now" is Redis's own clock, read with TIME inside the script (luaClock),
// never the calling instance's: record expiry, session times and the reuse
// grace window are judged on one clock for every instance. Scripts that read
// TIME and then write rely on effects replication, the default since Redis 5
// and the only mode since Redis 7.
//
// # Ending sessions and the feed
//
// A script that ends sessions marks each ended (r), drops it from the index
// and adds it to the pending set; Issue's per-user cap instead forgets the
// sessions it evicts (forget): it deletes the session and the tokens of its
// chain (its latest token j, that token's parent p, and so on back to the
// first), so that however fast one user logs in, their keys stay bounded by
// the cap, and the evicted session's tokens answer "unknown". (A grace
// sibling off that chain is left to its TTL; it is unknown too, its session
// being gone.) Either way the script then answers an array: its result code
// followed by every pending entry of the user (member, µs). The store then
// runs feedScript on the stream's slot, which XADDs them, and ackScript on
// the user's slot, which drops from the pending set the entries it wrote.
// When the XADD fails the method fails (ErrStoreUnavailable) and the entries
// stay pending: the user's next Issue, Revoke, EndSession, EndSessions, or
// Rotate that meets an ended session (a caller's retry) answers them again,
// and they are written then. When only the acknowledgement fails, an entry
// is written twice; the feed's readers apply entries idempotently. The
// normal path of Rotate never reads the pending set.

// Result codes shared by the scripts: see codeOK and the others in store.go.

// luaClock reads Redis's clock: now (ns, a 19-digit string), now in µs (a
// Lua number, exact below 2^53) and now in ms (a number).
const luaClock = `
local function clock()
  local t = redis.call('TIME')
  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  return string.format('%016.0f000', us), us, math.floor(us / 1000)
end
`

// luaEnd holds the helpers of the scripts that end sessions.
//
// finish ends the session sid at now, drops it from the index and queues
// its revocation in the pending set for retms ms. forget does the same for a
// session it deletes, with the tokens of its chain.
//
// answer returns code alone when nothing is pending, else the code and the
// pending entries, dropping those older than the retention (the feed would
// not keep them anyway).
//
// extend moves key's expiry to ems (ms) when that is later.
const luaEnd = `
local function finish(base, sid, nowns, nowus, retms)
  redis.call('HSET', base .. 's:' .. sid, 'r', nowns)
  redis.call('DEL', base .. 'm:' .. sid)
  redis.call('ZREM', base .. 'i', sid)
  redis.call('ZADD', base .. 'p', nowus, 's:' .. sid)
  redis.call('PEXPIRE', base .. 'p', retms)
end
local function forget(base, sid, nowus, retms)
  local sk = base .. 's:' .. sid
  local j = redis.call('HGET', sk, 'j')
  while j do
    local tk = base .. 't:' .. j
    local f = redis.call('HMGET', tk, 'i', 'p')
    if f[1] ~= sid then
      break
    end
    redis.call('DEL', tk)
    j = f[2]
  end
  redis.call('DEL', sk, base .. 'm:' .. sid)
  redis.call('ZREM', base .. 'i', sid)
  redis.call('ZADD', base .. 'p', nowus, 's:' .. sid)
  redis.call('PEXPIRE', base .. 'p', retms)
end
local function answer(base, code, nowus, retms)
  local pk = base .. 'p'
  redis.call('ZREMRANGEBYSCORE', pk, '-inf', '(' .. string.format('%.0f', nowus - retms * 1000))
  local pend = redis.call('ZRANGE', pk, 0, -1, 'WITHSCORES')
  if #pend == 0 then
    return code
  end
  local out = {code}
  for i = 1, #pend do
    out[i + 1] = pend[i]
  end
  return out
end
`

// luaExtend moves a key's expiry later, never earlier.
const luaExtend = `
local function extend(key, ems, nowms)
  local ttl = redis.call('PTTL', key)
  if ttl == -1 or (ttl >= 0 and nowms + ttl < ems) then
    redis.call('PEXPIREAT', key, ems)
  end
end
`

// issueScript starts a session with its first token.
//
// A live record of the jti that is active, of the same session and expiry,
// in a live session of the same user, means this very Issue already ran
// (go-redis resent it after losing the reply): the script answers as the
// first run did, changing nothing. Any other live record of the jti, and any
// session key of the id that has not expired, refuses the Issue.
//
// Then, when there is a cap (max > 0) and the user's index holds more than
// max sessions, the script walks it oldest first: entries whose session is gone,
// ended or expired leave it, sessions past their absolute expiry are not
// counted, and the oldest live sessions beyond max (never the new one) are
// forgotten (evicted; see forget). Without a cap, it drops from the oldest
// end, 16 at a time, the entries whose session key Redis has expired,
// stopping at the first that exists, so the work done is proportional to
// the entries removed.
//
// It answers a pair: the answer of the other scripts (a code, or the code
// and the pending entries), then the array of the session ids it evicted.
//
// KEYS: token, session, index, pending.
// ARGV: base, user id, session id, expiry ns, expiry ms, absolute expiry ns
// or "", client JSON or "", cap (0: none), retention ms, jti.
var issueScript = redis.NewScript(luaClock + luaEnd + luaExtend + `
local base, user, sid = ARGV[1], ARGV[2], ARGV[3]
local nowns, nowus, nowms = clock()
local old = redis.call('HMGET', KEYS[1], 's', 'i', 'e')
local ses = redis.call('HMGET', KEYS[2], 'u', 'r', 'x')
if old[3] and old[3] > nowns then
  if old[1] == 'a' and old[2] == sid and old[3] == ARGV[4] and ses[1] == user and not ses[2] then
    return {0, {}}
  end
  return {4, {}}
end
if ses[3] and ses[3] > nowns then
  return {4, {}}
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 's', 'a', 'i', sid, 'e', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
redis.call('HSET', KEYS[2], 'u', user, 'c', nowns, 'l', nowns, 'x', ARGV[4], 'j', ARGV[10])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[2], 'a', ARGV[6])
end
redis.call('PEXPIREAT', KEYS[2], ARGV[5])
local mk = base .. 'm:' .. sid
redis.call('DEL', mk)
if ARGV[7] ~= '' then
  redis.call('SET', mk, ARGV[7], 'PXAT', ARGV[5])
end
redis.call('ZADD', KEYS[3], nowus, sid)
extend(KEYS[3], tonumber(ARGV[5]), nowms)
local cap = tonumber(ARGV[8])
local evicted = {}
if cap > 0 and redis.call('ZCARD', KEYS[3]) > cap then
  local live = {}
  for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    if id ~= sid then
      local f = redis.call('HMGET', base .. 's:' .. id, 'u', 'r', 'x', 'a')
      if f[1] ~= user or f[2] or (not f[3]) or f[3] <= nowns then
        redis.call('ZREM', KEYS[3], id)
      elseif (not f[4]) or f[4] > nowns then
        live[#live + 1] = id
      end
    end
  end
  for i = 1, #live + 1 - cap do
    forget(base, live[i], nowus, ARGV[9])
    evicted[i] = live[i]
  end
elseif cap <= 0 then
  local more = true
  while more do
    local ids = redis.call('ZRANGE', KEYS[3], 0, 15)
    more = #ids == 16
    for _, id in ipairs(ids) do
      if redis.call('EXISTS', base .. 's:' .. id) == 1 then
        more = false
        break
      end
      redis.call('ZREM', KEYS[3], id)
    end
  end
end
return {answer(base, 0, nowus, ARGV[9]), evicted}
`)

// rotateScript consumes the presented token and records its successor, or
// classifies the failure; on reuse it ends the session. A consumed token
// presented again is a replay while it was consumed no more than the grace
// window ago, on Redis's clock, and has been replayed fewer than the bound
// allows (the count n is kept on the token); otherwise it is reuse.
//
// The token must be recorded for the user named (its key carries the user's
// tag, and its session records the user) and, when a session id is named,
// for that session; otherwise it is unknown. A session past its absolute
// expiry refuses every rotation.
//
// A successor that already exists with the presented token as its parent
// means this very rotation already ran (go-redis retried after losing the
// reply). While the session is live and that successor still active, the
// script answers success again, with no change, instead of reporting
// reuse. Otherwise the presented token is judged as usual, and a successor
// that cannot be recorded because its jti is taken is refused; an existing
// record is never overwritten.
//
// On its normal path the script reads the two tokens and the session and
// writes them; it reads the pending set only when it answers with an ended
// session (reuse, or a session found ended).
//
// KEYS: presented token, successor token.
// ARGV: base, presented jti, user id, session id or "", grace window in µs
// ("-1": none), replay bound, keep ("1"/"0"), successor expiry ns, successor
// expiry ms, retention ms, successor jti.
var rotateScript = redis.NewScript(luaClock + luaEnd + luaExtend + `
local base = ARGV[1]
local nowns, nowus, nowms = clock()
local n = redis.call('HMGET', KEYS[2], 'p', 'e', 's')
local taken = n[2] and n[2] > nowns
if taken and n[1] ~= ARGV[2] then
  return 4
end
local t = redis.call('HMGET', KEYS[1], 's', 'i', 'e', 'c', 'n')
local s, sid = t[1], t[2]
if (not s) or (not sid) or t[3] <= nowns or (ARGV[4] ~= '' and sid ~= ARGV[4]) then
  return 1
end
local sk = base .. 's:' .. sid
local ses = redis.call('HMGET', sk, 'u', 'r', 'a', 'x')
if ses[1] ~= ARGV[3] then
  return 1
end
if ses[2] then
  return answer(base, 2, nowus, ARGV[10])
end
if (s ~= 'a' and s ~= 'c') or (ses[3] and ses[3] <= nowns) then
  return 2
end
if taken and n[3] == 'a' then
  return 0
end
if s == 'c' then
  local grace = tonumber(ARGV[5])
  if grace < 0 or t[4] < string.format('%016.0f000', nowus - grace)
      or tonumber(t[5] or '0') >= tonumber(ARGV[6]) then
    finish(base, sid, nowns, nowus, ARGV[10])
    return answer(base, 3, nowus, ARGV[10])
  end
end
if taken then
  return 4
end
if s == 'c' then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
elseif ARGV[7] ~= '1' then
  redis.call('HSET', KEYS[1], 's', 'c', 'c', nowns)
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 's', 'a', 'i', sid, 'e', ARGV[8], 'p', ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[9])
redis.call('HSET', sk, 'l', nowns, 'j', ARGV[11])
if ses[4] < ARGV[8] then
  redis.call('HSET', sk, 'x', ARGV[8])
  redis.call('PEXPIREAT', sk, ARGV[9])
  redis.call('PEXPIREAT', base .. 'm:' .. sid, ARGV[9])
  extend(base .. 'i', tonumber(ARGV[9]), nowms)
end
return 0
`)

// checkScript reports a token's usability; it writes nothing.
//
// KEYS: token. ARGV: base, user id, session id or "".
var checkScript = redis.NewScript(luaClock + `
local nowns = clock()
local t = redis.call('HMGET', KEYS[1], 's', 'i', 'e')
if (not t[1]) or (not t[2]) or t[3] <= nowns or (ARGV[3] ~= '' and t[2] ~= ARGV[3]) then
  return 1
end
local ses = redis.call('HMGET', ARGV[1] .. 's:' .. t[2], 'u', 'r', 'a')
if ses[1] ~= ARGV[2] then
  return 1
end
if t[1] ~= 'a' or ses[2] or (ses[3] and ses[3] <= nowns) then
  return 2
end
return 0
`)

// revokeScript logs out: it ends the token's session, with every rotation
// and grace sibling of it. A consumed token presented for logout is treated
// as reuse: the session ends and the answer is "blacklisted", so a stolen,
// already rotated token cannot be "logged out" to hide its reuse. A session
// already ended, or past its absolute expiry, is answered "blacklisted" and
// left as it is.
//
// KEYS: token. ARGV: base, user id, session id or "", retention ms.
var revokeScript = redis.NewScript(luaClock + luaEnd + `
local base = ARGV[1]
local nowns, nowus = clock()
local t = redis.call('HMGET', KEYS[1], 's', 'i', 'e')
if (not t[1]) or (not t[2]) or t[3] <= nowns or (ARGV[3] ~= '' and t[2] ~= ARGV[3]) then
  return 1
end
local ses = redis.call('HMGET', base .. 's:' .. t[2], 'u', 'r', 'a')
if ses[1] ~= ARGV[2] then
  return 1
end
if ses[2] or (ses[3] and ses[3] <= nowns) then
  return answer(base, 2, nowus, ARGV[4])
end
finish(base, t[2], nowns, nowus, ARGV[4])
if t[1] == 'a' then
  return answer(base, 0, nowus, ARGV[4])
end
return answer(base, 2, nowus, ARGV[4])
`)

// endSessionScript ends one session of the user, if it is theirs and has
// not ended or expired; anything else changes nothing.
//
// KEYS: session, index, pending. ARGV: base, user id, session id,
// retention ms.
var endSessionScript = redis.NewScript(luaClock + luaEnd + `
local nowns, nowus = clock()
local ses = redis.call('HMGET', KEYS[1], 'u', 'r', 'x')
if ses[1] == ARGV[2] and (not ses[2]) and ses[3] > nowns then
  finish(ARGV[1], ARGV[3], nowns, nowus, ARGV[4])
end
return answer(ARGV[1], 0, nowus, ARGV[4])
`)

// endSessionsScript ends every session in the user's index but keep, and
// drops from the index the entries whose session is gone; with keep "" it
// also queues a revocation of all the user's sessions. A session past its
// absolute expiry but not its idle expiry is ended too: access tokens it
// issued may still be live.
//
// KEYS: index, pending. ARGV: base, user id, keep, retention ms.
var endSessionsScript = redis.NewScript(luaClock + luaEnd + `
local base = ARGV[1]
local nowns, nowus = clock()
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[3] then
    local f = redis.call('HMGET', base .. 's:' .. id, 'u', 'r', 'x')
    if f[1] == ARGV[2] and (not f[2]) and f[3] > nowns then
      finish(base, id, nowns, nowus, ARGV[4])
    else
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
if ARGV[3] == '' then
  redis.call('ZADD', KEYS[2], nowus, 'u')
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return answer(base, 0, nowus, ARGV[4])
`)

// sessionsScript lists the user's live sessions, newest first: for each,
// id, created, last refreshed, idle expiry, absolute expiry ("" for none)
// and client JSON ("" for none). It writes nothing.
//
// KEYS: index. ARGV: base, user id.
var sessionsScript = redis.NewScript(luaClock + `
local nowns = clock()
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', ARGV[1] .. 's:' .. id, 'u', 'c', 'l', 'x', 'a', 'r')
  if f[1] == ARGV[2] and (not f[6]) and f[4] and f[4] > nowns and ((not f[5]) or f[5] > nowns) then
    local m = redis.call('GET', ARGV[1] .. 'm:' .. id)
    for _, v in ipairs({id, f[2], f[3], f[4], f[5] or '', m or ''}) do
      out[#out + 1] = v
    end
  end
end
return out
`)

// feedScript appends revocations of one user to the feed stream, trimming
// the entries older than the retention on Redis's clock (exact MINID: each
// XADD removes the few entries that have aged out since the last one), and
// keeps the stream one retention past its last write.
//
// KEYS: stream. ARGV: retention ms, user id, then pairs of a pending entry
// ("s:<sid>" or "u") and its time in µs.
var feedScript = redis.NewScript(`
local t = redis.call('TIME')
local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[1])
if minid < 0 then
  minid = 0
end
minid = string.format('%.0f', minid)
for i = 3, #ARGV - 1, 2 do
  local m, at = ARGV[i], ARGV[i + 1]
  if m == 'u' then
    redis.call('XADD', KEYS[1], 'MINID', minid, '*', 'u', ARGV[2], 'a', at)
  elseif string.sub(m, 1, 2) == 's:' then
    redis.call('XADD', KEYS[1], 'MINID', minid, '*', 'u', ARGV[2], 's', string.sub(m, 3), 'a', at)
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
`)

// ackScript drops from a user's pending set the entries written to the feed,
// each only while its time is the one written (a later revocation of the
// same kind stays pending).
//
// KEYS: pending. ARGV: pairs of entry and time in µs.
var ackScript = redis.NewScript(`
for i = 1, #ARGV - 1, 2 do
  local sc = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if sc and tonumber(sc) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return 0
`)
