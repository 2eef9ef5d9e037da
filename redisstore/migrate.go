package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Moving from the single-slot layout. Before sessions, redisstore kept every
// key under one hash tag, its prefix's ("{jwtpair:}"), so that a Redis
// Cluster held them all in one slot, on one shard:
//
//	{P}t:<jti>     hash  one refresh token: s state (a active, c consumed;
//	                     r revoked in the first version), f family id, u user
//	                     id, e expiry (ns), m expiry (ms), c consumption time
//	                     (ns), n replays granted, p parent jti
//	{P}f:<family>  hash  one family (a login): u user id, x latest expiry,
//	                     r "1" once revoked
//	{P}u:<user>    zset  the user's families
//
// Its refresh tokens carry the family as their sid claim (or no sid, from
// before the claim existed), so a family is a session of this layout, with
// the same id, and its token records keep their meaning field for field.
// MigrateKeys moves them: takeScript renames a batch of tokens and their
// families to "{P}mv:t:<jti>" and "{P}mv:f:<family>" (where no script of
// the old layout looks: a version still running finds them unknown) and
// returns them, all in the old slot; placeScript writes each family's
// tokens and session in the user's slot; then the moved token keys are
// deleted. An interruption leaves the "mv:" keys, which the next run picks
// up; placeScript never overwrites a record, so a second run changes
// nothing already moved but to end a session (below). A token is recorded in one layout at a time: never
// usable in both. The other keys (families, user indexes) are deleted by a
// last scan, once every token found has been taken with its family: a
// family deleted before its tokens were taken would look lost, and its
// session would be recorded ended. A family the old layout revoked after
// its session was moved (an old instance still answering a logout) ends
// that session, in placeScript, as EndSession ends one.

// migrateBatch is how many old token keys one takeScript moves.
const migrateBatch = 100

// MigrateReport is what [Store.MigrateKeys] did.
type MigrateReport struct {
	Tokens   int // token records moved (those already expired are dropped, uncounted)
	Sessions int // sessions recorded live: one per family with a live token
	Ended    int // sessions recorded ended (family revoked or lost), or moved live earlier and ended now (revoked since)
	Deleted  int // other keys of the old layout deleted: families, user indexes
}

// MigrateKeys moves the records of the single-slot layout, which redisstore
// wrote before it had sessions and a hash tag per user, into this store's
// layout, so that a deployment upgrades without logging anyone out.
// oldPrefix is the prefix the earlier version was given (its WithKeyPrefix;
// "" for its default, "jwtpair:"); it is wrapped in a hash tag as that
// version did ("{jwtpair:}") unless it holds one.
//
// Each token family becomes a session of the same id (the sid its tokens
// carry), for the same user, and each token record keeps its state and
// expiry: an active token stays active, a consumed one consumed (its
// consumption time and replay count kept, so the reuse grace window stays
// anchored where it was), a revoked one revoked. A family the old layout
// had revoked (a logout, reuse, "log out everywhere") becomes an ended
// session, its tokens refused; so does a family whose record is missing
// or names another user. No record is dropped but expired ones: a token
// the old layout refused stays known and refused, never unknown (an
// unknown token without a sid is what [jwtpair.WithSimplejwtAdoption]
// would adopt). The old layout kept no login time: a moved session's
// Created and LastRefreshed are the migration's, its idle expiry that of
// its latest token, its absolute expiry the migration plus maxSessionAge
// (the Auth's WithMaxSessionAge; zero for none, as the old layout had
// none). A session recorded ended gets no feed entry: the earlier version
// ended no access token either, and those it issued expire within their
// TTL. A session moved live by an earlier pass or run whose family the old
// layout has revoked since (an old instance answered a logout) is ended as
// [Store.EndSession] ends one, its end written to the revocation feed: new
// instances may have issued access tokens in it.
//
// Run it once, with every instance of the earlier version stopped and
// before the new ones take traffic: a logout an old instance answers after
// the run's last look at its tokens would not reach the moved session. An
// error leaves the
// rest for the next run, which picks up where this one stopped (a record
// is renamed in the old layout, where that version no longer finds it,
// until its copy is written); running it again is harmless, and changes a
// record already moved only to end a session as above. Afterwards no key under the old prefix
// is left. An old prefix whose keys would include this store's is refused.
// It scans the old prefix's keys (on a Cluster, on the node holding their
// slot; on a Ring, on every shard) three times: twice to move the tokens,
// 100 at a time (one script takes them, one per family writes it, one
// command deletes what was taken), the second time those an old instance
// added meanwhile; then once to delete the other keys, when every token
// found has been moved. It returns what it moved, also with an error.
func (s *Store) MigrateKeys(ctx context.Context, oldPrefix string, maxSessionAge time.Duration) (MigrateReport, error) {
	return s.migrateKeys(ctx, oldPrefix, maxSessionAge, nil)
}

// migrateKeys is MigrateKeys; the tests pass between (nil: none), which it
// calls after the first pass, to write what a straggling old instance would.
func (s *Store) migrateKeys(ctx context.Context, oldPrefix string, maxSessionAge time.Duration, between func()) (MigrateReport, error) {
	if oldPrefix == "" {
		oldPrefix = DefaultKeyPrefix
	}
	old := oldPrefix
	if i := strings.IndexByte(old, '{'); i < 0 || strings.IndexByte(old[i+1:], '}') <= 0 {
		old = "{" + old + "}"
	}
	if strings.HasPrefix(old, s.prefix+"{") {
		return MigrateReport{}, fmt.Errorf("redisstore: migrate keys: old prefix %q would name this store's own keys", oldPrefix)
	}
	m := migration{s: s, old: old, age: strconv.FormatInt(max(maxSessionAge.Microseconds(), 0), 10)}
	nodes, err := m.nodes(ctx)
	if err != nil {
		return m.rep, fmt.Errorf("redisstore: migrate keys: %w", err)
	}
	// The first pass moves the tokens; the second moves any a straggling
	// old instance added meanwhile; the third deletes the rest of the old
	// layout. It comes last, once every token found has been taken with its
	// family: a family deleted first would look lost, its session ended.
	for i, pass := range []func(context.Context, *redis.Client) error{m.moveTokens, m.moveTokens, m.deleteRest} {
		for _, node := range nodes {
			if err := pass(ctx, node); err != nil {
				return m.rep, fmt.Errorf("redisstore: migrate keys: %w", err)
			}
		}
		if i == 0 && between != nil {
			between()
		}
	}
	return m.rep, nil
}

// migration is one run of MigrateKeys.
type migration struct {
	s   *Store
	old string // the old prefix, hash tag included
	age string // max session age in µs, "0" for none
	rep MigrateReport
}

// nodes returns the servers that may hold keys of the old prefix: a
// Cluster's master of their slot, a Ring's shards, or the client itself.
func (m *migration) nodes(ctx context.Context) ([]*redis.Client, error) {
	switch c := m.s.client.(type) {
	case *redis.ClusterClient:
		node, err := c.MasterForKey(ctx, m.old)
		if err != nil {
			return nil, err
		}
		return []*redis.Client{node}, nil
	case *redis.Ring:
		var nodes []*redis.Client
		var mu sync.Mutex // ForEachShard calls fn concurrently
		err := c.ForEachShard(ctx, func(_ context.Context, node *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			nodes = append(nodes, node)
			return nil
		})
		return nodes, err
	case *redis.Client:
		return []*redis.Client{c}, nil
	}
	return nil, fmt.Errorf("client %T: a *redis.Client, *redis.ClusterClient or *redis.Ring is needed", m.s.client)
}

// moveTokens scans node for the old prefix's token keys, and moves them.
func (m *migration) moveTokens(ctx context.Context, node *redis.Client) error {
	tokens, moving := m.old+"t:", m.old+"mv:t:"
	return m.scan(ctx, node, func(k string) (string, bool) {
		if jti, ok := strings.CutPrefix(k, tokens); ok {
			return jti, true
		}
		return strings.CutPrefix(k, moving)
	}, m.move)
}

// deleteRest scans node for the old prefix's keys other than tokens, and
// deletes them.
func (m *migration) deleteRest(ctx context.Context, node *redis.Client) error {
	tokens, moving := m.old+"t:", m.old+"mv:t:"
	return m.scan(ctx, node, func(k string) (string, bool) {
		return k, !strings.HasPrefix(k, tokens) && !strings.HasPrefix(k, moving)
	}, func(ctx context.Context, keys []string) error {
		n, err := node.Del(ctx, keys...).Result()
		m.rep.Deleted += int(n)
		return err
	})
}

// scan hands the keys of the old prefix on node that pick selects, as pick
// returns them, to do, a batch of migrateBatch at a time.
func (m *migration) scan(ctx context.Context, node *redis.Client, pick func(string) (string, bool), do func(context.Context, []string) error) error {
	var batch []string
	iter := node.Scan(ctx, 0, globEscape(m.old)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if v, ok := pick(iter.Val()); ok {
			batch = append(batch, v)
		}
		if len(batch) == migrateBatch {
			if err := do(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return do(ctx, batch)
	}
	return nil
}

// oldToken is a token record as takeScript returns it: its fields, then its
// family's user and revocation mark.
type oldToken struct {
	jti, state, family, user, expiry, consumed, replays, parent string
	familyUser, familyRevoked                                   string
}

// takeWidth is how many values takeScript returns per token.
const takeWidth = 10

// move moves the tokens jtis of the old layout (and their families) to this
// store's layout.
func (m *migration) move(ctx context.Context, jtis []string) error {
	args := make([]any, 0, 1+len(jtis))
	args = append(args, m.old)
	for _, jti := range jtis {
		args = append(args, jti)
	}
	res, err := takeScript.Run(ctx, m.s.client, []string{m.old + "t:" + jtis[0]}, args...).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if len(res)%takeWidth != 0 {
		return fmt.Errorf("unexpected reply of %d values", len(res))
	}
	type session struct{ user, id string }
	groups := map[session][]oldToken{}
	var order []session
	for i := 0; i < len(res); i += takeWidth {
		var f [takeWidth]string
		for j := range f {
			f[j], _ = res[i+j].(string) // nil: a field the record lacks
		}
		t := oldToken{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]}
		if t.user == "" || t.family == "" {
			continue // no record (deleted meanwhile), or none this store can place
		}
		k := session{t.user, t.family}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], t)
	}
	for _, k := range order {
		if err := m.place(ctx, k.user, k.id, groups[k]); err != nil {
			return err
		}
	}
	moved := make([]string, len(jtis))
	for i, jti := range jtis {
		moved[i] = m.old + "mv:t:" + jti
	}
	return m.s.client.Del(ctx, moved...).Err()
}

// place writes the tokens of one family (all of user and family sid) and
// their session.
func (m *migration) place(ctx context.Context, user, sid string, toks []oldToken) error {
	// A family the old layout revoked ends the session, even one recorded
	// already; a family missing, or of another user, a new one.
	ended := "0"
	switch f := toks[0]; {
	case f.familyRevoked == "1":
		ended = "1"
	case f.familyUser != user:
		ended = "2"
	}
	u := m.s.user(user)
	args := make([]any, 0, 6+7*len(toks))
	args = append(args, u.base, user, sid, ended, m.age, m.s.retMillis)
	for _, t := range toks {
		ns, err := strconv.ParseInt(t.expiry, 10, 64)
		if err != nil {
			return fmt.Errorf("token %s: expiry %q", t.jti, t.expiry)
		}
		args = append(args, t.jti, t.state, t.expiry, strconv.FormatInt(ns/1e6, 10), t.consumed, t.replays, t.parent)
	}
	res, err := placeScript.Run(ctx, m.s.client, []string{u.session(sid), u.index()}, args...).Slice()
	if err != nil {
		return err
	}
	var code, written int64
	if len(res) >= 2 {
		code, _ = res[0].(int64)
		written, _ = res[1].(int64)
	}
	if len(res) != 2 && (code != placeEndedNow || len(res) != 3) {
		return fmt.Errorf("unexpected reply %v", res)
	}
	m.rep.Tokens += int(written)
	switch code {
	case placeExisting, placeNone:
	case placeLive:
		m.rep.Sessions++
	case placeEnded:
		m.rep.Ended++
	case placeEndedNow:
		m.rep.Ended++
		_, pending, err := parseReply(res[2])
		if err == nil && len(pending) > 0 {
			err = m.s.record(ctx, user, pending)
		}
		if err != nil {
			return fmt.Errorf("session %q of user %q: recording its end in the revocation feed: %w", sid, user, err)
		}
	case placeOtherUser:
		return fmt.Errorf("session %q of user %q is recorded for another user", sid, user)
	default:
		return fmt.Errorf("unexpected reply %v", res)
	}
	return nil
}

// globEscape escapes the characters SCAN's MATCH pattern gives a meaning.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// takeScript renames, in the old layout's slot, the tokens ARGV[2:] and
// their families to their "mv:" names (a name already moved is read where
// it is), and returns per token: jti, state, family, user, expiry ns,
// consumption ns, replays, parent, family user, family revoked (nil for a
// field or record that is missing). A family found under both names (an
// old instance wrote it again after an earlier run moved it) keeps the
// revocation of either.
//
// KEYS: the first token (for the slot). ARGV: the old prefix, then jtis.
var takeScript = redis.NewScript(`
local base = ARGV[1]
local function take(kind, id)
  local live, moved = base .. kind .. id, base .. 'mv:' .. kind .. id
  if redis.call('EXISTS', live) == 1 then
    if redis.call('HGET', moved, 'r') == '1' then
      redis.call('HSET', live, 'r', '1')
    end
    redis.call('RENAME', live, moved)
  end
  return moved
end
local out, fams = {}, {}
for i = 2, #ARGV do
  local t = redis.call('HMGET', take('t:', ARGV[i]), 's', 'f', 'u', 'e', 'c', 'n', 'p')
  if t[1] and t[2] then
    local f = fams[t[2]]
    if not f then
      f = redis.call('HMGET', take('f:', t[2]), 'u', 'r')
      fams[t[2]] = f
    end
    for _, v in ipairs({ARGV[i], t[1], t[2], t[3], t[4], t[5], t[6], t[7], f[1], f[2]}) do
      out[#out + 1] = v
    end
  end
end
return out
`)

// placeScript answers.
const (
	placeExisting  = 0  // the session was recorded already (an earlier batch or run)
	placeLive      = 1  // recorded live
	placeEnded     = 2  // recorded ended
	placeNone      = 3  // nothing live: no session recorded
	placeEndedNow  = 4  // recorded live already, ended now: its family was revoked since
	placeOtherUser = -1 // the session id is another user's: nothing written
)

// placeScript records, in the user's slot, tokens of one old family and
// their session (id: the family's). A token is written unless its record
// exists (an earlier run wrote it, and this layout's state wins) or it has
// expired. A new session is created at now, with the latest token's expiry
// as its idle expiry and that token as its latest, ended (r) when ARGV[4]
// is "1" or "2", otherwise in the user's index, with an absolute expiry of
// now plus ARGV[5] µs when that is positive. An existing session of the
// user has its idle expiry moved later, and when ARGV[4] is "1" and it has
// not ended, it is ended as endSessionScript ends one (finish: marked
// ended, out of the index, its revocation pending for the feed). It
// answers {code, tokens written}, and after the code placeEndedNow the
// answer of the scripts that end sessions (0 and the user's pending feed
// entries).
//
// KEYS: session, index. ARGV: base, user id, session id, ended ("1": the
// family was revoked; "2": its record is lost or another user's; "0"),
// max session age µs ("0": none), retention ms, then 7 per token: jti,
// state, expiry ns, expiry ms, consumption ns or "", replays or "", parent
// or "".
var placeScript = redis.NewScript(luaClock + luaEnd + luaExtend + `
local base, user, sid = ARGV[1], ARGV[2], ARGV[3]
local nowns, nowus, nowms = clock()
local ses = redis.call('HMGET', KEYS[1], 'u', 'x', 'j', 'r')
if ses[1] and ses[1] ~= user then
  return {-1, 0}
end
local x, j, xms = ses[2] or '', ses[3], nil
local written = 0
for i = 7, #ARGV - 6, 7 do
  local jti, e, ems = ARGV[i], ARGV[i + 2], ARGV[i + 3]
  if e > nowns then
    local tk = base .. 't:' .. jti
    if redis.call('EXISTS', tk) == 0 then
      redis.call('HSET', tk, 's', ARGV[i + 1], 'i', sid, 'e', e)
      for k, f in ipairs({'c', 'n', 'p'}) do
        if ARGV[i + 3 + k] ~= '' then
          redis.call('HSET', tk, f, ARGV[i + 3 + k])
        end
      end
      redis.call('PEXPIREAT', tk, ems)
      written = written + 1
    end
    if e > x then
      x, j, xms = e, jti, tonumber(ems)
    end
  end
end
if ses[1] then
  if xms then
    redis.call('HSET', KEYS[1], 'x', x, 'j', j)
    redis.call('PEXPIREAT', KEYS[1], xms)
    extend(KEYS[2], xms, nowms)
  end
  if ARGV[4] == '1' and not ses[4] then
    finish(base, sid, nowns, nowus, ARGV[6])
    return {4, written, answer(base, 0, nowus, ARGV[6])}
  end
  return {0, written}
end
if not xms then
  return {3, written}
end
redis.call('HSET', KEYS[1], 'u', user, 'c', nowns, 'l', nowns, 'x', x, 'j', j)
redis.call('PEXPIREAT', KEYS[1], xms)
if tonumber(ARGV[5]) > 0 then
  redis.call('HSET', KEYS[1], 'a', string.format('%016.0f000', nowus + tonumber(ARGV[5])))
end
if ARGV[4] ~= '0' then
  redis.call('HSET', KEYS[1], 'r', nowns)
  return {2, written}
end
redis.call('ZADD', KEYS[2], nowus, sid)
extend(KEYS[2], xms, nowms)
return {1, written}
`)
