package claimset

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/internal/strictjson"
)

var simplejwt = NewNames("user_id", "token_type")

func parse(t *testing.T, payload string) (Set, error) {
	t.Helper()
	var s Set
	err := Parse([]byte(payload), &simplejwt, &s)
	return s, err
}

func TestParse(t *testing.T) {
	t.Run("simplejwt's claims", func(t *testing.T) {
		s, err := parse(t, `{"token_type":"access","exp":1800000300,"iat":1800000000,"jti":"7f59","user_id":1}`)
		require.NoError(t, err)
		assert.Equal(t, Set{
			TokenType: "access", UserID: "1", JTI: "7f59", ExpiresAt: time.Unix(1800000300, 0), IssuedAt: time.Unix(1800000000, 0),
			Present: TokenType | Exp | Iat | JTI | UserID,
		}, s)
		assert.True(t, s.Has(TokenType|UserID|JTI|Exp))
		assert.False(t, s.Has(Exp|Nbf))
	})
	t.Run("every registered claim, white space, custom claims", func(t *testing.T) {
		s, err := parse(t, " {\n\"token_type\" : \"refresh\", \"exp\":1.5, \"iat\":0, \"nbf\":1099511627776, \"jti\":\"j\", \"user_id\":\"u\\u00e9\", "+
			`"iss":"i", "aud":["a","b"], "stamp":"st", "sid":"s", "auth_time":1699999000, "refresh_exp":1800086400, "custom":{"a":[1,true,null]}, "more":1 }`+"\t")
		require.NoError(t, err)
		assert.Equal(t, Set{
			TokenType: "refresh", UserID: "ué", JTI: "j", ExpiresAt: time.Unix(1, 5e8), IssuedAt: time.Unix(0, 0),
			NotBefore: time.Unix(MaxNumericDate, 0), Issuer: "i", Audience: []string{"a", "b"}, Stamp: "st", SessionID: "s",
			AuthTime: time.Unix(1699999000, 0), RefreshExp: time.Unix(1800086400, 0),
			Present: TokenType | UserID | JTI | Exp | Iat | Nbf | Iss | Aud | Stamp | SID | AuthTime | RefreshExp, Custom: true,
		}, s)
	})
	t.Run("configured names", func(t *testing.T) {
		n := NewNames("uid", "typ")
		var s Set
		require.NoError(t, Parse([]byte(`{"uid":"7","typ":"access","user_id":"x","token_type":"y"}`), &n, &s))
		assert.Equal(t, "7", s.UserID)
		assert.Equal(t, "access", s.TokenType)
		assert.True(t, s.Custom, "simplejwt's names are custom claims here")
		assert.Equal(t, UserID|TokenType, s.Present)
	})
	t.Run("escaped names are read as themselves", func(t *testing.T) {
		s, err := parse(t, `{"user\u005fid":"1","\u0065xp":5}`)
		require.NoError(t, err)
		assert.Equal(t, "1", s.UserID)
		assert.Equal(t, time.Unix(5, 0), s.ExpiresAt)
		assert.False(t, s.Custom)
	})
	t.Run("the common token types are not copies", func(t *testing.T) {
		s, err := parse(t, `{"token_type":"access"}`)
		require.NoError(t, err)
		assert.True(t, sameBytes(s.TokenType, typeAccess))
		s, err = parse(t, `{"token_type":"refres\u0068"}`)
		require.NoError(t, err)
		assert.True(t, sameBytes(s.TokenType, typeRefresh), "escaped too")
	})
	for name, tc := range map[string]struct {
		payload string
		check   func(t *testing.T, s Set)
	}{
		"aud string":          {`{"aud":"api"}`, func(t *testing.T, s Set) { assert.Equal(t, []string{"api"}, s.Audience) }},
		"aud empty list":      {`{"aud":[ ]}`, func(t *testing.T, s Set) { assert.Equal(t, []string{}, s.Audience); assert.True(t, s.Has(Aud)) }},
		"user_id -0":          {`{"user_id":-0}`, func(t *testing.T, s Set) { assert.Equal(t, "-0", s.UserID) }},
		"user_id big integer": {`{"user_id":123456789012345678901234567890}`, func(t *testing.T, s Set) { assert.Equal(t, "123456789012345678901234567890", s.UserID) }},
		"exp -0":              {`{"exp":-0}`, func(t *testing.T, s Set) { assert.Equal(t, time.Unix(0, 0), s.ExpiresAt) }},
		"exp 1e3":             {`{"exp":1e3}`, func(t *testing.T, s Set) { assert.Equal(t, time.Unix(1000, 0), s.ExpiresAt) }},
		"exp 13 digits":       {`{"exp":1000000000000}`, func(t *testing.T, s Set) { assert.Equal(t, time.Unix(1e12, 0), s.ExpiresAt) }},
		"jti empty":           {`{"jti":""}`, func(t *testing.T, s Set) { assert.Equal(t, "", s.JTI); assert.True(t, s.Has(JTI)) }},
		"sid any string":      {`{"sid":"<&>"}`, func(t *testing.T, s Set) { assert.Equal(t, "<&>", s.SessionID) }},
		"empty object":        {` {} `, func(t *testing.T, s Set) { assert.Equal(t, Set{}, s) }},
		"custom deep":         {`{"d":` + nest(strictjson.MaxDepth) + `}`, func(t *testing.T, s Set) { assert.True(t, s.Custom) }},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := parse(t, tc.payload)
			require.NoError(t, err)
			tc.check(t, s)
		})
	}
	for name, tc := range map[string]struct {
		payload string
		want    error
	}{
		"not JSON":                    {`hello`, ErrClaims},
		"array":                       {`[1]`, ErrClaims},
		"string":                      {`"a"`, ErrClaims},
		"empty":                       {``, ErrClaims},
		"trailing data":               {`{}{}`, ErrClaims},
		"trailing comma":              {`{"a":1,}`, strictjson.ErrSyntax},
		"unterminated":                {`{"a":1`, ErrClaims},
		"missing colon":               {`{"a" 1}`, strictjson.ErrSyntax},
		"exp twice":                   {`{"exp":1,"exp":2}`, ErrClaims},
		"exp twice, escaped":          {`{"exp":1,"\u0065xp":2}`, ErrClaims},
		"user_id twice":               {`{"user_id":"a","user_id":"a"}`, ErrClaims},
		"aud twice":                   {`{"aud":"a","aud":[]}`, ErrClaims},
		"sid twice":                   {`{"sid":"a","sid":"b"}`, ErrClaims},
		"stamp twice":                 {`{"stamp":"a","stamp":"b"}`, ErrClaims},
		"exp string":                  {`{"exp":"1"}`, strictjson.ErrSyntax},
		"exp null":                    {`{"exp":null}`, strictjson.ErrSyntax},
		"exp negative":                {`{"exp":-1}`, ErrClaims},
		"exp past MaxNumericDate":     {`{"exp":1099511627777}`, ErrClaims},
		"exp past, fraction":          {`{"exp":1099511627776.5}`, ErrClaims},
		"exp huge":                    {`{"exp":1e300}`, ErrClaims},
		"exp out of float64":          {`{"exp":1e400}`, ErrClaims},
		"user_id empty":               {`{"user_id":""}`, ErrClaims},
		"user_id float":               {`{"user_id":1.5}`, ErrClaims},
		"user_id exponent":            {`{"user_id":1e3}`, ErrClaims},
		"user_id null":                {`{"user_id":null}`, strictjson.ErrSyntax},
		"user_id object":              {`{"user_id":{"id":1}}`, strictjson.ErrSyntax},
		"token_type number":           {`{"token_type":1}`, strictjson.ErrSyntax},
		"jti number":                  {`{"jti":7}`, strictjson.ErrSyntax},
		"aud number":                  {`{"aud":1}`, strictjson.ErrSyntax},
		"aud list of numbers":         {`{"aud":["a",1]}`, strictjson.ErrSyntax},
		"aud list unterminated":       {`{"aud":["a"`, ErrClaims},
		"aud list, missing comma":     {`{"aud":["a" "b"]}`, ErrClaims},
		"invalid UTF-8":               {"{\"token_type\":\"acc\xffess\"}", strictjson.ErrUTF8},
		"invalid UTF-8 in a name":     {"{\"\xff\":1}", strictjson.ErrUTF8},
		"lone surrogate, user_id":     {`{"user_id":"a\ud800"}`, ErrClaims},
		"lone surrogate, custom":      {`{"x":"\udc00"}`, strictjson.ErrSurrogate},
		"lone surrogate, name":        {`{"\ud800":1}`, strictjson.ErrSurrogate},
		"custom nested too deep":      {`{"d":` + nest(strictjson.MaxDepth+1) + `}`, strictjson.ErrDepth},
		"control character in a name": {"{\"a\x01\":1}", strictjson.ErrSyntax},
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			var s Set
			err := Parse([]byte(tc.payload), &simplejwt, &s)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

// sameBytes reports whether two strings are one: the same bytes in memory.
func sameBytes(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

func nest(n int) string { return strings.Repeat("[", n) + "1" + strings.Repeat("]", n) }

func TestIsReserved(t *testing.T) {
	n := NewNames("uid", "typ")
	for _, k := range []string{"exp", "iat", "nbf", "auth_time", "refresh_exp", "jti", "iss", "aud", "stamp", "sid", "uid", "typ"} {
		assert.True(t, n.IsReserved(k), k)
	}
	for _, k := range []string{"user_id", "token_type", "Exp", "exp ", "name", ""} {
		assert.False(t, n.IsReserved(k), k)
	}
	assert.True(t, IsRegistered("sid"))
	assert.False(t, IsRegistered("uid"), "the configurable names are not fixed")
}

func TestAppend(t *testing.T) {
	set := Set{TokenType: "access", UserID: "1", JTI: "7f59", ExpiresAt: time.Unix(1800000300, 999), IssuedAt: time.Unix(1800000000, 5)}
	t.Run("simplejwt's shape, whole seconds", func(t *testing.T) {
		assert.Equal(t, `{"token_type":"access","exp":1800000300,"iat":1800000000,"jti":"7f59","user_id":"1"}`, string(Append(nil, &simplejwt, &set, nil)))
	})
	t.Run("every claim, configured names, quoting, custom", func(t *testing.T) {
		n := NewNames(`u"id`, "t<")
		all := set
		all.UserID, all.Stamp, all.SessionID, all.Issuer = "é<&>\u2028\"", "st", "s\\", "https://i"
		all.Audience, all.NotBefore, all.AuthTime, all.RefreshExp = []string{"a", "b"}, time.Unix(17, 0), time.Unix(16, 0), time.Unix(18, 0)
		got := Append([]byte("x"), &n, &all, []byte(`,"c":1`))
		assert.Equal(t, `x{"t\u003c":"access","exp":1800000300,"iat":1800000000,"nbf":17,"refresh_exp":18,"jti":"7f59","u\"id":"é\u003c\u0026\u003e\u2028\"",`+
			`"stamp":"st","sid":"s\\","auth_time":16,"aud":["a","b"],"iss":"https://i","c":1}`, string(got))
		one := set
		one.Audience = []string{"api"}
		assert.Contains(t, string(Append(nil, &simplejwt, &one, nil)), `,"aud":"api"}`, "one audience is a string")
	})
	t.Run("round trip", func(t *testing.T) {
		var s Set
		require.NoError(t, Parse(Append(nil, &simplejwt, &set, []byte(`,"c":[1]`)), &simplejwt, &s))
		want := set
		want.ExpiresAt, want.IssuedAt = time.Unix(1800000300, 0), time.Unix(1800000000, 0)
		want.Present, want.Custom = TokenType|Exp|Iat|JTI|UserID, true
		assert.Equal(t, want, s)
	})
}

func TestEncodeCustom(t *testing.T) {
	n := NewNames("uid", "typ")
	got, err := EncodeCustom(map[string]any{"roles": []string{"a"}, "b": 1, "html": "<&>", "name": "é\uFFFD"}, &n)
	require.NoError(t, err)
	assert.Equal(t, `,"b":1,"html":"\u003c\u0026\u003e","name":"é`+"\uFFFD"+`","roles":["a"]`, string(got), "sorted by name, as json.Marshal writes values")
	got, err = EncodeCustom(nil, &n)
	assert.NoError(t, err)
	assert.Nil(t, got)

	for _, name := range []string{"exp", "iat", "nbf", "auth_time", "refresh_exp", "jti", "iss", "aud", "stamp", "sid", "uid", "typ", ""} {
		_, err := EncodeCustom(map[string]any{"ok": 1, name: 1}, &n)
		assert.EqualError(t, err, "custom claim "+strconv.Quote(name)+" uses a registered claim name")
	}
	_, err = EncodeCustom(map[string]any{"user_id": 1, "token_type": "x"}, &n)
	assert.NoError(t, err, "simplejwt's names are free when configured otherwise")
	_, err = EncodeCustom(map[string]any{"bad\xffname": 1}, &n)
	assert.EqualError(t, err, `custom claim name "bad\xffname" is not valid UTF-8`)

	for name, tc := range map[string]struct {
		v    any
		kind error
		msg  string
	}{
		"invalid string":  {"x\xff", strictjson.ErrRewritten, "holds a string that is not valid UTF-8 (encoding/json rewrote it to U+FFFD)"},
		"raw invalid":     {json.RawMessage("\"a\xffb\""), strictjson.ErrUTF8, "holds a string that is not valid UTF-8"},
		"raw lone":        {json.RawMessage(`"\ud800"`), strictjson.ErrSurrogate, "holds a lone UTF-16 surrogate"},
		"too deep":        {json.RawMessage(nest(strictjson.MaxDepth + 1)), strictjson.ErrDepth, "nested deeper than 32 levels, which verification refuses"},
		"not marshalable": {func() {}, nil, "json: unsupported type: func()"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := EncodeCustom(map[string]any{"c": tc.v}, &n)
			require.Error(t, err)
			assert.Equal(t, `custom claim "c": `+tc.msg, err.Error())
			if tc.kind != nil {
				assert.ErrorIs(t, err, tc.kind)
			}
		})
	}
	_, err = EncodeCustom(map[string]any{"c": json.RawMessage(nest(strictjson.MaxDepth))}, &n)
	assert.NoError(t, err, "MaxDepth itself")
}

// namePairs are the claim names FuzzParse tries, picked by its second
// argument: simplejwt's, short ones, and ones needing escapes.
var namePairs = []Names{simplejwt, NewNames("uid", "typ"), NewNames("sub", "t"), NewNames("é", "\u2028"), NewNames(`"`, "\\"), expecting}

// expecting is simplejwt's names expecting an issuer and audiences
// (Names.Expect), as an Auth configured with them parses.
var expecting = func() Names {
	n := NewNames("user_id", "token_type")
	n.Expect("https://iss", []string{"api", "other"})
	return n
}()

// mintedSeeds are payloads as Append writes them (jwtpair's tokens), for
// the fuzz targets to start from: parseMinted's fast path reads them; and
// some with white space between members, where it hands over.
var mintedSeeds = []string{
	`{"token_type":"access","exp":1800000300,"iat":1800000000,"jti":"7f5997b7150d46579dc2b49167097e7b","user_id":"1","sid":"04959db215267deb1693b6c5d346a292","auth_time":1800000000}`,
	`{"token_type":"refresh","exp":1800086400,"iat":1800000000,"jti":"j","user_id":"u","stamp":"st","sid":"s","auth_time":1,"aud":"api","iss":"https://iss"}`,
	`{"token_type":"sliding","exp":1800000300,"iat":1800000000,"nbf":1800000000,"refresh_exp":1800086400,"jti":"j","user_id":"42","aud":"other","iss":"https://iss","custom":[1]}`,
	`{"token_type":"access","exp":0,"iat":1099511627776,"jti":"","user_id":"x","aud":"else","iss":"i"}`,
	// White space between members, which Append never writes: the fast
	// path hands over to the general loop where it meets it.
	`{"token_type":"access", "exp":1800000300,"iat":1800000000}`,
	"{\"token_type\":\"access\",\n\t\"exp\":1800000300 ,\"iat\":1800000000, \"jti\":\"j\"}",
	`{ "token_type":"access","exp":1800000300,  "user_id":"1" }`,
}

// reference is what encoding/json reads in a payload, by the typing rules
// of the package doc: the Set Parse must return, or false when the payload
// must be refused. It calls no code of this package; of strictjson, only
// Validate, on each member name and value, for strictjson's list of
// deliberate refusals (FuzzScanner proves that list against encoding/json).
func reference(t *testing.T, b []byte, n *Names) (Set, bool) {
	var s Set
	if !json.Valid(b) {
		return s, false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return s, false
	}
	registered := map[string]Claim{n.userID: UserID, n.tokenType: TokenType, "jti": JTI, "exp": Exp, "iat": Iat, "nbf": Nbf, "iss": Iss, "aud": Aud, "stamp": Stamp, "sid": SID, "auth_time": AuthTime, "refresh_exp": RefreshExp}
	ok := true
	for d.More() {
		before := d.InputOffset()
		tok, err := d.Token()
		require.NoError(t, err)
		name := tok.(string)
		rawName := bytes.TrimLeft(b[before:d.InputOffset()], " \t\r\n,")
		var raw json.RawMessage
		require.NoError(t, d.Decode(&raw))
		if strictjson.Validate(rawName) != nil || strictjson.Validate(raw) != nil {
			ok = false
		}
		c, isRegistered := registered[name]
		if !isRegistered {
			s.Custom = true
			continue
		}
		if s.Present&c != 0 {
			ok = false // repeated
		}
		s.Present |= c
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&v))
		str, isString := v.(string)
		num, isNumber := v.(json.Number)
		switch c {
		case Exp, Iat, Nbf, AuthTime, RefreshExp:
			f, err := num.Float64()
			if !isNumber || err != nil || f < 0 || f > MaxNumericDate {
				ok = false
				continue
			}
			sec := math.Floor(f)
			at := time.Unix(int64(sec), int64(math.Round((f-sec)*1e9)))
			switch c {
			case Exp:
				s.ExpiresAt = at
			case Iat:
				s.IssuedAt = at
			case Nbf:
				s.NotBefore = at
			case RefreshExp:
				s.RefreshExp = at
			default:
				s.AuthTime = at
			}
		case UserID:
			switch {
			case isString && str != "":
				s.UserID = str
			case isNumber && !strings.ContainsAny(num.String(), ".eE"):
				s.UserID = num.String()
			default:
				ok = false
			}
		case Aud:
			switch v := v.(type) {
			case string:
				s.Audience = []string{v}
			case []any:
				s.Audience = []string{}
				for _, a := range v {
					a, isString := a.(string)
					ok = ok && isString
					s.Audience = append(s.Audience, a)
				}
			default:
				ok = false
			}
		default:
			ok = ok && isString
			switch c {
			case TokenType:
				s.TokenType = str
			case JTI:
				s.JTI = str
			case Iss:
				s.Issuer = str
			case Stamp:
				s.Stamp = str
			case SID:
				s.SessionID = str
			}
		}
	}
	_, err := d.Token()
	require.NoError(t, err)
	_, err = d.Token()
	require.ErrorIs(t, err, io.EOF, "json.Valid said one value")
	return s, ok
}

// FuzzParse is differential against encoding/json, both ways: Parse
// accepts a payload exactly when reference (encoding/json and the typing
// rules) does, and then returns the same Set: the same registered claims,
// times to the nanosecond's rounding, the same Present bits and Custom.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"token_type":"access","exp":1700000000,"iat":1699999700,"jti":"abc","user_id":1}`,
		`{"user_id":"x","aud":["a","b"],"iss":"i","nbf":1.5e9,"custom":{"a":[1,true,null,"\u00e9"]}}`,
		`{"\u0065xp":1}`, `{}`, `{"a":}`, `[1]`, `{"exp":"1"}`, "{\"s\":\"\xff\"}", `{"exp":1,"\u0065xp":2}`, `{"uid":-0,"typ":"refresh"}`,
		`{"user_id":"a\ud800"}`, `{"aud":[]}`, `{"exp":1099511627776.9}`, `{"sid":1}`, `{"\u00e9":"x","\u2028":"access"}`, `{"auth_time":1.5,"auth_time":2}`, `{"auth_time":"1"}`,
		`{"token_type":"sliding","refresh_exp":1800086400.5}`, `{"refresh_exp":null}`, `{"refresh_exp":1,"refresh_\u0065xp":2}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	for _, s := range mintedSeeds {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(len(namePairs)-1)) // expecting
	}
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		n := &namePairs[int(which)%len(namePairs)]
		var got Set
		err := Parse(b, n, &got)
		want, ok := reference(t, b, n)
		if !ok {
			require.Error(t, err, "accepted %q; encoding/json and the typing rules refuse it", b)
			return
		}
		require.NoError(t, err, "refused %q; encoding/json and the typing rules accept it", b)
		for _, at := range []struct{ got, want time.Time }{{got.ExpiresAt, want.ExpiresAt}, {got.IssuedAt, want.IssuedAt}, {got.NotBefore, want.NotBefore}, {got.AuthTime, want.AuthTime}, {got.RefreshExp, want.RefreshExp}} {
			require.Equal(t, at.want.Unix(), at.got.Unix(), "seconds of %q", b)
			require.InDelta(t, at.want.Nanosecond(), at.got.Nanosecond(), 1e3, "nanoseconds of %q", b)
		}
		got.ExpiresAt, got.IssuedAt, got.NotBefore, got.AuthTime, got.RefreshExp = want.ExpiresAt, want.IssuedAt, want.NotBefore, want.AuthTime, want.RefreshExp
		require.Equal(t, want, got, "read %q", b)
	})
}

// FuzzAppend: Append writes what json.Marshal writes for each string and
// what Parse reads back as the same Set, for any valid UTF-8 text (the
// callers refuse any other).
func FuzzAppend(f *testing.F) {
	f.Add("access", "1", "7f5997b7150d46579dc2b49167097e7b", "", "", "", "", int64(1800000300), int64(1800000000), int64(0), int64(-1))
	f.Add("refresh", "é<&>\u2028\"\\\x01", "j", "st", "s", "https://iss", "api", int64(0), int64(MaxNumericDate), int64(1), int64(-1))
	f.Add("sliding", "1", "j", "", "s", "", "", int64(1800000300), int64(1800000000), int64(1800000000), int64(1800086400))
	f.Fuzz(func(t *testing.T, typ, user, jti, stamp, sid, iss, aud string, exp, iat, authTime, refreshExp int64) {
		for _, s := range []string{typ, user, jti, stamp, sid, iss, aud} {
			if !utf8.ValidString(s) {
				return
			}
		}
		if user == "" || exp < 0 || iat < 0 || exp > MaxNumericDate || iat > MaxNumericDate || authTime > MaxNumericDate || refreshExp > MaxNumericDate {
			return
		}
		in := Set{TokenType: typ, UserID: user, JTI: jti, ExpiresAt: time.Unix(exp, 0), IssuedAt: time.Unix(iat, 0), Stamp: stamp, SessionID: sid, Issuer: iss}
		if authTime >= 0 { // negative: absent
			in.AuthTime = time.Unix(authTime, 0)
		}
		if refreshExp >= 0 { // negative: absent
			in.RefreshExp = time.Unix(refreshExp, 0)
		}
		if aud != "" {
			in.Audience = []string{aud}
		}
		out := Append(nil, &simplejwt, &in, nil)

		q := func(s string) string { b, err := json.Marshal(s); require.NoError(t, err); return string(b) }
		want := `{"token_type":` + q(typ) + `,"exp":` + strconv.FormatInt(exp, 10) + `,"iat":` + strconv.FormatInt(iat, 10)
		if refreshExp >= 0 {
			want += `,"refresh_exp":` + strconv.FormatInt(refreshExp, 10)
		}
		want += `,"jti":` + q(jti) + `,"user_id":` + q(user)
		for _, m := range []struct{ name, v string }{{"stamp", q(stamp)}, {"sid", q(sid)}, {"auth_time", strconv.FormatInt(authTime, 10)}, {"aud", q(aud)}, {"iss", q(iss)}} {
			if m.v != `""` && m.v[0] != '-' {
				want += `,"` + m.name + `":` + m.v
			}
		}
		require.Equal(t, want+"}", string(out))

		var back Set
		require.NoError(t, Parse(out, &simplejwt, &back))
		in.Present = TokenType | Exp | Iat | JTI | UserID
		for c, v := range map[Claim]string{Stamp: stamp, SID: sid, Aud: aud, Iss: iss} {
			if v != "" {
				in.Present |= c
			}
		}
		if authTime >= 0 {
			in.Present |= AuthTime
		}
		if refreshExp >= 0 {
			in.Present |= RefreshExp
		}
		for _, common := range []string{typeAccess, typeRefresh, typeSliding} {
			if typ == common {
				require.True(t, sameBytes(back.TokenType, common), "interned")
			}
		}
		require.Equal(t, in, back)
	})
}

// TestParseAllocations: the strings a token keeps cost one allocation
// together, however many there are (when they have no escapes).
func TestParseAllocations(t *testing.T) {
	for payload, want := range map[string]float64{
		`{"token_type":"access","exp":1,"jti":"0123456789abcdef0123456789abcdef","user_id":"42","sid":"fedcba9876543210fedcba9876543210","stamp":"st","iss":"i"}`: 1,
		`{"token_type":"access","exp":1}`:                  0,
		`{"token_type":"sliding","exp":1,"refresh_exp":2}`: 0,
	} {
		b := []byte(payload)
		got := testing.AllocsPerRun(100, func() {
			var s Set
			if err := Parse(b, &simplejwt, &s); err != nil {
				t.Fatal(err)
			}
		})
		assert.Equal(t, want, got, payload)
	}
}

// TestParseMinted: parseMinted reads jwtpair's own tokens whole (the fast
// path is taken), and hands anything else to the general loop at the
// member where it differs, with the same result as the loop alone.
func TestParseMinted(t *testing.T) {
	for _, seed := range mintedSeeds[:2] {
		var s Set
		var kept spans
		b := []byte(seed)
		next, done := s.parseMinted(b, 1, &expecting, &kept)
		assert.True(t, done, "read whole: %s", seed)
		assert.Equal(t, len(b), next)
	}
	// Each a minted payload changed at one member; the fast path stops
	// there and the loop reads the rest.
	base := `{"token_type":"access","exp":1800000300,"iat":1800000000,"jti":"j","user_id":"1","sid":"s","aud":"api","iss":"https://iss"`
	for name, payload := range map[string]string{
		"white space":              strings.Replace(base, `"jti":`, `"jti" : `, 1) + "}",
		"escaped name":             strings.Replace(base, `"jti":`, `"\u006Ati":`, 1) + "}",
		"escaped value":            strings.Replace(base, `"sid":"s"`, `"sid":"\u0073"`, 1) + "}",
		"non-ASCII value":          strings.Replace(base, `"sid":"s"`, `"sid":"é"`, 1) + "}",
		"fraction":                 strings.Replace(base, `1800000300`, `1800000300.5`, 1) + "}",
		"exponent":                 strings.Replace(base, `1800000300`, `18000003e2`, 1) + "}",
		"leading zero":             strings.Replace(base, `1800000300`, `01800000300`, 1) + "}",
		"integer user id":          strings.Replace(base, `"user_id":"1"`, `"user_id":1`, 1) + "}",
		"empty user id":            strings.Replace(base, `"user_id":"1"`, `"user_id":""`, 1) + "}",
		"aud not expected":         strings.Replace(base, `"aud":"api"`, `"aud":"else"`, 1) + "}",
		"aud array":                strings.Replace(base, `"aud":"api"`, `"aud":["api"]`, 1) + "}",
		"out of order":             strings.Replace(base, `"exp":1800000300,"iat":1800000000`, `"iat":1800000000,"exp":1800000300`, 1) + "}",
		"repeated after":           base + `,"exp":1}`,
		"repeated, other spelling": base + `,"\u0065xp":1800000300}`,
		"custom claims after":      base + `,"roles":["admin"]}`,
		"date too large":           strings.Replace(base, `1800000300`, `1099511627777`, 1) + "}",
		"date of 13 digits":        strings.Replace(base, `1800000300`, `1800000300000`, 1) + "}",
		"string not closed":        `{"token_type":"access","exp":1,"iat":1,"jti":"j`,
		"no separator":             strings.Replace(base, `"jti":"j",`, `"jti":"j" ,`, 1) + "}",
		"trailing comma":           base + ",}",
		"trailing white space":     base + "} \n",
		"trailing data":            base + "}x",
		"two objects":              base + "}{}",
		"control byte":             strings.Replace(base, `"sid":"s"`, "\"sid\":\"s\x01\"", 1) + "}",
	} {
		t.Run(name, func(t *testing.T) {
			b := []byte(payload)
			var fast, slow Set
			var kf, ks spans
			ef := parseObject(b, &expecting, &fast, &kf, true)
			es := parseObject(b, &expecting, &slow, &ks, false)
			require.Equal(t, es, ef)
			want, ok := reference(t, b, &expecting)
			require.Equal(t, ok, ef == nil, "as encoding/json reads it")
			if ef == nil {
				kf.fill(b, &fast, nil)
				ks.fill(b, &slow, nil)
				require.Equal(t, slow, fast)
				require.Equal(t, want, fast)
			}
		})
	}
}

// FuzzParseMinted: parseObject with parseMinted's fast path returns what
// the general loop alone returns, error or claims, for any payload
// (starting from minted ones, which take the fast path).
func FuzzParseMinted(f *testing.F) {
	for _, s := range mintedSeeds {
		f.Add([]byte(s), uint8(len(namePairs)-1))
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		n := &namePairs[int(which)%len(namePairs)]
		var fast, slow Set
		var kf, ks spans
		ef := parseObject(b, n, &fast, &kf, true)
		es := parseObject(b, n, &slow, &ks, false)
		require.Equal(t, es, ef, "%q", b)
		if ef == nil {
			var mem [64]byte
			kf.fill(b, &fast, mem[:])
			ks.fill(b, &slow, nil)
			require.Equal(t, slow, fast, "%q", b)
		}
	})
}
