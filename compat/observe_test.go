package compat

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The normaliser: an answer becomes a flat list of aspects ("status",
// "header Allow", "body.detail", "body.access.claims.exp" …) with values
// that keep everything a frontend could see except what must differ from
// one run to the next: token strings are replaced by their decoded header
// and claims, jti and sid by their shape, time claims by their distance
// from the moment of the answer.

// absent is the value of an aspect one answer has and the other has not.
const absent = "(absent)"

// comparedHeaders are the response headers the test compares.
var comparedHeaders = []string{"Content-Type", "WWW-Authenticate", "Allow", "Cache-Control", "Location"}

// timeClaims are claims holding NumericDate values.
var timeClaims = map[string]bool{"exp": true, "iat": true, "nbf": true, "refresh_exp": true, "auth_time": true}

// opaqueClaims hold random identifiers; only their shape is compared.
var opaqueClaims = map[string]bool{"jti": true, "sid": true}

// obs is a normalised answer: aspect names in the order first seen, and
// their values.
type obs struct {
	keys []string
	vals map[string]string
}

func newObs() *obs { return &obs{vals: map[string]string{}} }

func (o *obs) set(k, v string) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *obs) get(k string) string {
	if v, ok := o.vals[k]; ok {
		return v
	}
	return absent
}

func (o *obs) clone() *obs {
	c := newObs()
	for _, k := range o.keys {
		c.set(k, o.vals[k])
	}
	return c
}

// dropBody removes the body aspects.
func (o *obs) dropBody() {
	o.keys = slices.DeleteFunc(o.keys, func(k string) bool {
		if k == "body" || strings.HasPrefix(k, "body.") || strings.HasPrefix(k, "body[") {
			delete(o.vals, k)
			return true
		}
		return false
	})
}

// normalise turns an answer received at now into its aspects.
func normalise(status int, h http.Header, body []byte, now time.Time) *obs {
	o := newObs()
	o.set("status", strconv.Itoa(status))
	for _, name := range comparedHeaders {
		v := absent
		if vs := h.Values(name); len(vs) > 0 {
			v = strings.Join(vs, " | ")
		}
		o.set("header "+name, v)
	}
	normaliseBody(o, body, now)
	return o
}

func normaliseBody(o *obs, body []byte, now time.Time) {
	if len(bytes.TrimSpace(body)) == 0 {
		o.set("body", "(empty)")
		return
	}
	v, ok := decodeJSON(body)
	if !ok {
		o.set("body", "text: "+snippet(string(body), 70))
		return
	}
	flatten(o, "body", v, now)
}

// decodeJSON decodes one JSON value filling all of b, numbers kept as text.
func decodeJSON(b []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

func flatten(o *obs, path string, v any, now time.Time) {
	switch x := v.(type) {
	case map[string]any:
		o.set(path, "object")
		for _, k := range sortedKeys(x) {
			flatten(o, path+"."+k, x[k], now)
		}
	case []any:
		o.set(path, fmt.Sprintf("array(%d)", len(x)))
		for i, e := range x {
			flatten(o, fmt.Sprintf("%s[%d]", path, i), e, now)
		}
	case string:
		if hdr, claims, ok := decodeJWT(x); ok {
			o.set(path, "jwt")
			flatten(o, path+".header", hdr, now)
			o.set(path+".claims", "object")
			for _, k := range sortedKeys(claims) {
				flattenClaim(o, path+".claims."+k, k, claims[k], now)
			}
			return
		}
		o.set(path, literal(x))
	default:
		o.set(path, literal(x))
	}
}

func flattenClaim(o *obs, path, name string, v any, now time.Time) {
	switch {
	case timeClaims[name]:
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				o.set(path, relTime(f, now))
				return
			}
		}
	case opaqueClaims[name]:
		if s, ok := v.(string); ok {
			o.set(path, shape(s))
			return
		}
	}
	flatten(o, path, v, now)
}

// relTime renders a NumericDate as its distance from now: "time(now)"
// within 15 s, then to the nearest 10 s under two minutes, to the nearest
// minute under an hour, to the nearest 5 minutes beyond ("time(now+5m)",
// "time(now-1h)", "time(now+24h)"). The tolerance absorbs a slow answer on
// a loaded machine (a token minted when the request arrived, its answer
// received seconds later; a refresh_exp set at a login half a minute
// before the refresh that copies it) without hiding what the scenarios
// look at: lifetimes of minutes and hours, and times copied from a token
// issued minutes before.
func relTime(t float64, now time.Time) string {
	d := t - float64(now.Unix())
	if math.Abs(d) <= 15 {
		return "time(now)"
	}
	unit := 60.0
	switch {
	case math.Abs(d) < 120:
		unit = 10
	case math.Abs(d) >= 3600:
		unit = 300
	}
	s := int64(math.Round(d/unit) * unit)
	sign := "+"
	if s < 0 {
		sign, s = "-", -s
	}
	switch {
	case s%3600 == 0:
		return fmt.Sprintf("time(now%s%dh)", sign, s/3600)
	case s%60 == 0:
		return fmt.Sprintf("time(now%s%dm)", sign, s/60)
	}
	return fmt.Sprintf("time(now%s%ds)", sign, s)
}

var hexRE = regexp.MustCompile(`^[0-9a-f]+$`)

// shape describes a random identifier: "hex(32)" or "string(22)".
func shape(s string) string {
	if s != "" && hexRE.MatchString(s) {
		return fmt.Sprintf("hex(%d)", len(s))
	}
	return fmt.Sprintf("string(%d)", len(s))
}

// decodeJWT decodes a compact JWS whose header and payload are JSON objects.
func decodeJWT(s string) (hdr, claims map[string]any, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || !strings.HasPrefix(s, "eyJ") {
		return nil, nil, false
	}
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, false
		}
		v, ok := decodeJSON(b)
		m, isObj := v.(map[string]any)
		if !ok || !isObj {
			return nil, nil, false
		}
		*dst = m
	}
	return hdr, claims, true
}

// literal renders a JSON value as JSON, without HTML escaping.
func literal(v any) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_=-]*\.[A-Za-z0-9_=-]*`)

// snippet shortens s to one line of at most n characters, tokens hidden.
func snippet(s string, n int) string {
	s = jwtRE.ReplaceAllString(strings.ToValidUTF8(s, "\uFFFD"), "<jwt>")
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// The comparison.

// aspectDiff is one aspect on which the two answers differ; Doc names the
// Documented entry that covers it ("" when none does).
type aspectDiff struct {
	Aspect, Simplejwt, Jwtpair, Doc string
}

// stepResult is one compared request.
type stepResult struct {
	Label, Request string
	Setup          bool // only the status is compared
	Ref, Got       *obs // Ref after any Want replacement
	Replaced       *obs // the reference's own answer when a Want replaced it
	WantDoc        string
	Diffs          []aspectDiff
}

// verdicts of a scenario.
const (
	verdictSame       = "same"
	verdictDocumented = "documented"
	verdictPending    = "pending" // differs, and a PendingWork entry says why
	verdictDiffer     = "differ"
)

// scenarioResult is the comparison of one scenario's answers.
type scenarioResult struct {
	ID, Desc string
	Steps    []stepResult
	Problems []string // steps missing on one side, fixtures not available
	Verdict  string
	Docs     []string // the Documented entries used
	Pending  string   // the PendingWork section a differing scenario waits for
}

// compiledDiff is a Difference with its regexps compiled.
type compiledDiff struct {
	Difference
	scenarios, notScenarios, aspect, simplejwt *regexp.Regexp
}

func compileDocumented(list []Difference) ([]compiledDiff, error) {
	out := make([]compiledDiff, 0, len(list))
	for _, d := range list {
		c := compiledDiff{Difference: d}
		var err error
		for _, p := range []struct {
			dst **regexp.Regexp
			src string
		}{{&c.scenarios, d.Scenarios}, {&c.notScenarios, d.NotScenarios}, {&c.aspect, d.Aspect}, {&c.simplejwt, d.Simplejwt}} {
			if p.src == "" {
				continue
			}
			if *p.dst, err = regexp.Compile(p.src); err != nil {
				return nil, fmt.Errorf("difference %s: %w", d.ID, err)
			}
		}
		if d.Jwtpair != "" {
			if _, err := regexp.Compile(strings.ReplaceAll(d.Jwtpair, "$S", "x")); err != nil {
				return nil, fmt.Errorf("difference %s: Jwtpair: %w", d.ID, err)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func (c *compiledDiff) coversScenario(id string) bool {
	return (c.scenarios == nil || c.scenarios.MatchString(id)) && (c.notScenarios == nil || !c.notScenarios.MatchString(id))
}

// coversAspect reports whether this aspect entry explains the difference.
func (c *compiledDiff) coversAspect(scenario string, d aspectDiff) bool {
	if c.Want != nil || c.aspect == nil || !c.coversScenario(scenario) || !c.aspect.MatchString(d.Aspect) {
		return false
	}
	if c.simplejwt != nil && !c.simplejwt.MatchString(d.Simplejwt) {
		return false
	}
	if c.Jwtpair == "" {
		return true
	}
	re, err := regexp.Compile(strings.ReplaceAll(c.Jwtpair, "$S", regexp.QuoteMeta(d.Simplejwt)))
	return err == nil && re.MatchString(d.Jwtpair)
}

// applyWant replaces ref by the answer w, received at now.
func applyWant(ref *obs, w *Answer, now time.Time) *obs {
	o := ref.clone()
	o.set("status", strconv.Itoa(w.Status))
	o.set("header Content-Type", "application/json")
	for name, v := range w.Header {
		if v == "" {
			v = absent
		}
		o.set("header "+name, v)
	}
	o.dropBody()
	normaliseBody(o, []byte(w.Body), now)
	return o
}

// diffObs lists the aspects on which a and b differ, a's order first.
func diffObs(a, b *obs, setup bool) []aspectDiff {
	var out []aspectDiff
	if setup {
		if a.get("status") != b.get("status") {
			out = append(out, aspectDiff{Aspect: "status", Simplejwt: a.get("status"), Jwtpair: b.get("status")})
		}
		return out
	}
	keys := slices.Clone(a.keys)
	for _, k := range b.keys {
		if _, ok := a.vals[k]; !ok {
			keys = append(keys, k)
		}
	}
	// A subtree only one side has (a token where the other answered an
	// error) is one difference, at its root.
	var onlyOneSide []string
	for _, k := range keys {
		av, bv := a.get(k), b.get(k)
		if av == bv || slices.ContainsFunc(onlyOneSide, func(p string) bool { return isBelow(k, p) }) {
			continue
		}
		if !isContainer(av) || !isContainer(bv) {
			onlyOneSide = append(onlyOneSide, k)
		}
		out = append(out, aspectDiff{Aspect: k, Simplejwt: av, Jwtpair: bv})
	}
	return out
}

// isBelow reports whether aspect k is inside aspect p.
func isBelow(k, p string) bool {
	return len(k) > len(p) && strings.HasPrefix(k, p) && (k[len(p)] == '.' || k[len(p)] == '[')
}

// isContainer reports whether an aspect value has aspects below it.
func isContainer(v string) bool {
	return v == "object" || v == "jwt" || strings.HasPrefix(v, "array(")
}

// step is what one side recorded for one request.
type step struct {
	label, req string
	setup      bool
	o          *obs
	at         time.Time
}

// sideRun is one side's run of a scenario.
type sideRun struct {
	steps    []step
	problems []string
}

// compiledPending is a Pending with its regexp compiled.
type compiledPending struct {
	Pending
	re *regexp.Regexp
}

func compilePending(list []Pending) ([]compiledPending, error) {
	out := make([]compiledPending, 0, len(list))
	for _, p := range list {
		re, err := regexp.Compile(p.Scenarios)
		if err != nil {
			return nil, fmt.Errorf("pending %s: %w", p.Section, err)
		}
		out = append(out, compiledPending{p, re})
	}
	return out, nil
}

// markPending turns a differing scenario that a pending entry covers into
// a pending one.
func markPending(r *scenarioResult, pending []compiledPending) {
	if r.Verdict != verdictDiffer {
		return
	}
	for _, p := range pending {
		if p.re.MatchString(r.ID) {
			r.Verdict, r.Pending = verdictPending, p.Section
			return
		}
	}
}

// compare compares the two sides' runs of scenario id, explaining what it
// can with docs.
func compare(id, desc string, ref, got sideRun, docs []compiledDiff) scenarioResult {
	r := scenarioResult{ID: id, Desc: desc}
	used := map[string]bool{}
	for _, p := range ref.problems {
		r.Problems = append(r.Problems, "simplejwt: "+p)
	}
	for _, p := range got.problems {
		r.Problems = append(r.Problems, "jwtpair: "+p)
	}
	n := max(len(ref.steps), len(got.steps))
	for i := range n {
		if i >= len(ref.steps) || i >= len(got.steps) {
			r.Problems = append(r.Problems, fmt.Sprintf("step %d is missing on one side", i+1))
			continue
		}
		rs, gs := ref.steps[i], got.steps[i]
		sr := stepResult{Label: rs.label, Request: rs.req, Setup: rs.setup && gs.setup, Ref: rs.o, Got: gs.o}
		if rs.label != gs.label {
			r.Problems = append(r.Problems, fmt.Sprintf("step %d is %q on one side, %q on the other", i+1, rs.label, gs.label))
		}
		for j := range docs {
			d := &docs[j]
			if d.Want != nil && d.Step == rs.label && d.coversScenario(id) {
				sr.Replaced, sr.Ref, sr.WantDoc = rs.o, applyWant(rs.o, d.Want, rs.at), d.ID
				used[d.ID] = true
				break
			}
		}
		for _, ad := range diffObs(sr.Ref, sr.Got, sr.Setup) {
			for j := range docs {
				if docs[j].coversAspect(id, ad) {
					ad.Doc = docs[j].ID
					used[ad.Doc] = true
					break
				}
			}
			sr.Diffs = append(sr.Diffs, ad)
		}
		r.Steps = append(r.Steps, sr)
	}
	r.Verdict = verdictSame
	if len(used) > 0 {
		r.Verdict = verdictDocumented
	}
	undocumented := len(r.Problems) > 0
	for _, s := range r.Steps {
		for _, d := range s.Diffs {
			undocumented = undocumented || d.Doc == ""
		}
	}
	if undocumented {
		r.Verdict = verdictDiffer
	}
	for k := range used {
		r.Docs = append(r.Docs, k)
	}
	slices.Sort(r.Docs)
	return r
}
