package jwtpair

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"go/types"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewRefusesBadConfiguration(t *testing.T) {
	users := newTestUsers()
	base := []Option{WithHMACKey(testSecret), WithAuthenticator(users)}
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"no key", []Option{WithAuthenticator(users)}, "signing key is required"},
		{"no authenticator", []Option{WithHMACKey(testSecret)}, "Authenticator is required"},
		{"short key", []Option{WithHMACKey(make([]byte, 31)), WithAuthenticator(users)}, "at least 32"},
		{"key twice", append(base, WithHMACKey(testSecret)), "twice"},
		{"nil authenticator", append(base, WithAuthenticator(nil)), "nil Authenticator"},
		{"nil store", append(base, WithStore(nil)), "nil Store"},
		{"typed nil store", append(base, WithStore((*MemoryStore)(nil))), "nil Store"},
		{"typed nil authenticator", append(base, WithAuthenticator((*testUsers)(nil))), "nil Authenticator"},
		{"nil AuthenticatorFunc", append(base, WithAuthenticator(AuthenticatorFunc(nil))), "nil Authenticator"},
		{"user-id claim sid", append(base, WithUserIDClaim("sid")), "stamp, sid"},
		{"nil option", append(base, nil), "nil Option"},
		{"unknown algorithm", append(base, WithAlgorithm("HS1024")), "not an HMAC algorithm"},
		{"alg none", append(base, WithAlgorithm("none")), "not an HMAC algorithm"},
		{"zero access TTL", append(base, WithAccessTTL(0)), "access TTL must be positive"},
		{"negative refresh TTL", append(base, WithRefreshTTL(-time.Second)), "refresh TTL must be positive"},
		{"sub-second access TTL", append(base, WithAccessTTL(500*time.Millisecond)), "access TTL must be whole seconds"},
		{"fractional refresh TTL", append(base, WithRefreshTTL(90*time.Minute+time.Millisecond)), "refresh TTL must be whole seconds"},
		{"empty HMAC key", []Option{WithHMACKey(nil), WithAuthenticator(users)}, "jwtpair: HMAC key is 0 bytes (unset?), want at least 32 for HS256 (RFC 7518 §3.2); make a random one with: openssl rand -base64 48"},
		{"short server secret", append(base, WithServerSecret(make([]byte, 31))), "jwtpair: the server secret is 31 bytes, want at least 32; make a random one with: openssl rand -base64 48"},
		{"access TTL over a day", append(base, WithAccessTTL(24*time.Hour+time.Second), WithRefreshTTL(48*time.Hour)), "jwtpair: access TTL 24h0m1s is over 24h0m0s: an access token cannot be revoked before it expires"},
		{"JWKS URL with an Authenticator", []Option{WithJWKSURL("https://127.0.0.1:1/jwks.json"), WithAlgorithm("ES256"), WithAuthenticator(users)}, "jwtpair: WithAuthenticator is unused with WithJWKSURL"},
		{"access longer than refresh", append(base, WithAccessTTL(2*time.Hour), WithRefreshTTL(time.Hour)), "longer than refresh"},
		{"negative grace", append(base, WithReuseGrace(-time.Second)), "must not be negative"},
		{"grace as long as refresh", append(base, WithRefreshTTL(time.Hour), WithReuseGrace(time.Hour)), "shorter than the refresh TTL"},
		{"grace without rotation", append(base, WithRotation(false), WithReuseGrace(time.Second)), "needs rotation"},
		{"grace without blacklist", append(base, WithBlacklistAfterRotation(false), WithReuseGrace(time.Second)), "needs rotation"},
		{"blacklist-after-rotation without rotation", append(base, WithRotation(false), WithBlacklistAfterRotation(true)), "needs rotation"},
		{"negative leeway", append(base, WithLeeway(-time.Second)), "leeway must not be negative"},
		{"leeway as long as access TTL", append(base, WithLeeway(DefaultAccessTTL)), "shorter than the access TTL"},
		{"empty username field", append(base, WithUsernameField("")), "username field"},
		{"username field password", append(base, WithUsernameField("password")), "username field"},
		{"empty claim name", append(base, WithUserIDClaim("")), "must not be empty"},
		{"same claim names", append(base, WithUserIDClaim("t"), WithTokenTypeClaim("t")), "share the name"},
		{"registered claim name", append(base, WithUserIDClaim("exp")), "registered claims"},
		{"empty audience", append(base, WithAudience("")), "empty audience"},
		{"bad header name", append(base, WithHeader("X Token", "Bearer")), "bad header name"},
		{"no schemes", append(base, WithHeader("X-Token")), "at least one scheme"},
		{"scheme with space", append(base, WithHeader("X-Token", "Be arer")), "bad scheme"},
		{"nil clock", append(base, WithClock(nil)), "nil clock"},
		{"nil error handler", append(base, WithErrorHandler(nil)), "nil error handler"},
		{"nil logger", append(base, WithLogger(nil)), "nil logger"},
		{"zero body limit", append(base, WithMaxBodyBytes(0)), "max body bytes"},
		{"tiny token limit", append(base, WithMaxTokenBytes(10)), "max token bytes"},
		{"issuer not UTF-8", append(base, WithIssuer("https://a\xff")), "not valid UTF-8"},
		{"audience not UTF-8", append(base, WithAudience("api", "b\xfe")), "not valid UTF-8"},
		{"claim name not UTF-8", append(base, WithUserIDClaim("uid\xff")), "not valid UTF-8"},
		{"key ID not UTF-8", append(base, WithKeyID("k\xff")), "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.opts...)
			require.Error(t, err)
			assert.Nil(t, a)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "jwtpair: ")
		})
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(WithAccessTTL(0), WithRefreshTTL(0))
	require.Error(t, err)
	for _, want := range []string{"Authenticator", "signing key", "access TTL", "refresh TTL"} {
		assert.Contains(t, err.Error(), want)
	}
}

// TestNewReportsEveryProblemAtOnce: New does not stop at the first bad
// option. Options record their errors, every concern is checked, and the
// one error names each problem, once.
func TestNewReportsEveryProblemAtOnce(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want []string
	}{
		{"issuer", []Option{
			WithHMACKey(make([]byte, 31)),     // keys: built, and refused
			WithKeyID("k\xff"),                // keys
			WithAuthenticator(nil),            // an option's own error
			nil,                               // no option at all
			WithHeader("X Token", "Bearer"),   // an option's own error
			WithUserCheck(),                   // users
			WithAccessTTL(0),                  // lifetimes
			WithReuseGrace(-time.Second),      // rotation
			WithUserIDClaim("exp"),            // claims
			WithMaxBodyBytes(0),               // limits
			WithServerSecret(testSecret[:31]), // secret
			WithCookies(CookieOptions{SameSite: http.SameSiteDefaultMode, TrustedOrigins: []string{"example.com"}}), // cookies
		}, []string{
			"want at least 32 for HS256",
			`"k\xff" is not valid UTF-8`,
			"nil Authenticator",
			"nil Option",
			`bad header name "X Token"`,
			"an Authenticator is required",
			"WithUserCheck needs an Authenticator that implements UserLoader",
			"access TTL must be positive",
			"reuse grace must not be negative",
			"claim names must not be registered claims",
			"max body bytes must be positive",
			"server secret is 31 bytes",
			"cookies: SameSite must be",
			"cookies: trusted origin",
		}},
		{"resource server", []Option{
			WithJWKSURL("http://issuer.example/jwks.json"),
			WithJWKSRefresh(time.Millisecond),
			WithPreviousKey(testSecret, "HS256", "k0", time.Now()),
			WithUserCheck(),
		}, []string{
			"JWKS refresh 1ms is under a second",
			"WithJWKSURL needs WithAlgorithm naming an asymmetric algorithm",
			"WithPreviousKey does not apply to WithJWKSURL",
			"WithUserCheck needs an Authenticator that implements UserLoader",
			"WithUserCheck on a resource server (WithJWKSURL) needs WithServerSecret",
			"is plain http on a host that is not loopback",
			"a resource server (WithJWKSURL) learns of ended sessions from the issuer's store",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.opts...)
			require.Error(t, err)
			assert.Nil(t, a)
			lines := strings.Split(err.Error(), "\n")
			for _, want := range tt.want {
				assert.Equal(t, 1, countContaining(lines, want), "%q once in:\n%v", want, err)
			}
			assert.Len(t, lines, len(tt.want), "nothing else:\n%v", err)
			for _, l := range lines {
				assert.True(t, strings.HasPrefix(l, "jwtpair: "), l)
			}
		})
	}
}

func countContaining(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// TestOptionIsOpaque: no exported name of the package shows an unexported
// type in its godoc (Option was func(*config) error), and options come
// only from this package's With… functions.
func TestOptionIsOpaque(t *testing.T) {
	typ := reflect.TypeFor[Option]()
	require.Equal(t, reflect.Interface, typ.Kind())
	for i := range typ.NumMethod() {
		assert.False(t, typ.Method(i).IsExported(), "Option's methods are unexported: no other package implements it")
	}

	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var files []*ast.File
	for _, name := range names {
		if !strings.HasSuffix(name, "_test.go") {
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
			require.NoError(t, err)
			files = append(files, f)
		}
	}
	d, err := doc.NewFromFiles(fset, files, "github.com/jwtpair/jwtpair") // exported names only, as godoc shows them
	require.NoError(t, err)
	var leaks []string
	check := func(name string, expr ast.Expr) {
		for _, id := range unexportedTypeNames(expr) {
			leaks = append(leaks, name+": "+id)
		}
	}
	funcs := func(fs []*doc.Func) {
		for _, f := range fs {
			check(f.Name, f.Decl.Type)
		}
	}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			for _, spec := range v.Decl.Specs {
				if vs := spec.(*ast.ValueSpec); vs.Type != nil {
					check(vs.Names[0].Name, vs.Type)
				}
			}
		}
	}
	funcs(d.Funcs)
	values(d.Consts)
	values(d.Vars)
	for _, ty := range d.Types {
		for _, spec := range ty.Decl.Specs {
			check(ty.Name, spec.(*ast.TypeSpec).Type)
		}
		funcs(ty.Funcs)
		funcs(ty.Methods)
		values(ty.Consts)
		values(ty.Vars)
	}
	assert.Empty(t, leaks, "exported names whose godoc shows an unexported type")
}

// unexportedTypeNames returns the unexported type names a type expression
// of godoc's filtered view uses (predeclared types aside).
func unexportedTypeNames(expr ast.Expr) []string {
	var out []string
	var walk func(ast.Expr)
	fields := func(l *ast.FieldList) {
		if l == nil {
			return
		}
		for _, f := range l.List {
			walk(f.Type)
		}
	}
	walk = func(e ast.Expr) {
		switch e := e.(type) {
		case *ast.Ident:
			if !e.IsExported() && types.Universe.Lookup(e.Name) == nil {
				out = append(out, e.Name)
			}
		case *ast.StarExpr:
			walk(e.X)
		case *ast.ArrayType:
			walk(e.Elt)
		case *ast.Ellipsis:
			walk(e.Elt)
		case *ast.MapType:
			walk(e.Key)
			walk(e.Value)
		case *ast.ChanType:
			walk(e.Value)
		case *ast.FuncType:
			fields(e.Params)
			fields(e.Results)
		case *ast.StructType:
			fields(e.Fields)
		case *ast.InterfaceType:
			fields(e.Methods)
		case *ast.IndexExpr:
			walk(e.X)
			walk(e.Index)
		case *ast.SelectorExpr: // another package's name
		}
	}
	walk(expr)
	return out
}

func TestNewAcceptsGoodConfiguration(t *testing.T) {
	a, err := New(WithHMACKey(longSecret), WithAuthenticator(newTestUsers()),
		WithAlgorithm("HS512"), WithAccessTTL(time.Minute), WithRefreshTTL(time.Hour),
		WithReuseGrace(5*time.Second), WithLeeway(10*time.Second), WithRotation(false), WithRotation(true),
		WithHeader("X-Token", "Token"), WithOnLogin(func(*http.Request, User) {}))
	require.NoError(t, err)
	p := login(t, a)
	c, err := a.VerifyAccess(t.Context(), p.Access)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, c.ExpiresAt.Sub(c.IssuedAt))
}

func TestKeyCopied(t *testing.T) {
	key := append([]byte(nil), testSecret...)
	a, err := New(WithHMACKey(key), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	p := login(t, a)
	for i := range key {
		key[i] = 0
	}
	_, err = a.VerifyAccess(t.Context(), p.Access)
	assert.NoError(t, err, "New keeps its own copy of the key")
}

// What New accepts at the edges of the checks above.
func TestNewAcceptsAtTheBounds(t *testing.T) {
	users := WithAuthenticator(newTestUsers())
	_, err := New(WithHMACKey(testSecret), users, WithAccessTTL(24*time.Hour), WithRefreshTTL(24*time.Hour))
	require.NoError(t, err, "an access TTL of a day")
	_, err = New(WithHMACKey(longSecret), WithKeyID("k2"), users, WithPreviousKey(testSecret, "HS256", "k1", time.Now().Add(time.Hour)))
	require.NoError(t, err, "a previous secret that is not the signing one")
}

// A previous key whose end has passed verifies nothing: New accepts it (a
// configuration must not start failing because time passed) and logs a
// warning naming it, once; a key still valid is not mentioned.
func TestNewWarnsOfEndedPreviousKey(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		until time.Time
		warn  bool
	}{
		{"ended", now.Add(-time.Second), true},
		{"ending now", now, true},
		{"still valid", now.Add(time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			a, err := New(WithHMACKey(longSecret), WithKeyID("k2"), WithAuthenticator(newTestUsers()),
				WithClock(func() time.Time { return now }), WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))),
				WithPreviousKey(testSecret, "HS256", "k1", tc.until))
			require.NoError(t, err)
			require.NotNil(t, a)
			if !tc.warn {
				assert.Empty(t, buf.String())
				return
			}
			var rec struct{ Level, Msg string }
			require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), "one record: %s", buf.String())
			assert.Equal(t, "WARN", rec.Level)
			assert.Equal(t, `jwtpair: previous key "k1" ended at `+tc.until.Format(time.RFC3339)+` and verifies nothing; remove its WithPreviousKey`, rec.Msg)
		})
	}
}
