package demo

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jwtpair/jwtpair"
)

// config is the parsed command line and environment.
type config struct {
	addr       string
	users      []demoUser
	store      string
	accessTTL  time.Duration
	refreshTTL time.Duration
	rotate     bool
	grace      time.Duration
	maxAge     time.Duration // -max-session-age; 0: none
	maxSess    int           // -max-sessions: live sessions per user
	sessions   bool          // -sessions: mount the session endpoints
	sliding    bool          // -sliding: sliding tokens, their endpoints and /sliding/hello/
	alg        string
	keyPath    string
	cookies    bool
	tlsCert    string // -tls-cert and -tls-key: PEM files, HTTPS when set
	tlsKey     string
	openHello  bool   // -open-hello: /open/hello/ without authentication, for benchmarks
	debugAddr  string // -debug-addr: pprof and /debug/stats on this loopback address; "" for none
	throttle   bool   // -throttle: login and refresh throttling (jwtpair.DefaultThrottle); false turns it off
	userCheck  bool   // -user-check: WithUserCheck, the user loaded on every request
	secret     []byte // from JWTPAIR_SECRET; nil when unset

	// -store-timeout: WithStoreTimeout, the deadline of each store call;
	// -request-timeout: the deadline of a request to a store-backed route,
	// below the server's writeTimeout.
	storeTimeout, requestTimeout time.Duration

	// backends open the shared stores; nil in ./example, which has the
	// memory store only.
	backends Backends

	// A move from simplejwt (simplejwt.go).
	importFrom               string    // -import-simplejwt: import this database, then exit
	adoptCutover, adoptUntil time.Time // -adopt-cutover, -adopt-until: the adoption window; zero: none
}

// userFlag collects the repeated -user and -inactive-user flags into one
// list, numbered in flag order.
type userFlag struct {
	list     *[]demoUser
	inactive bool
}

func (u userFlag) String() string { return "" }

func (u userFlag) Set(v string) error {
	name, password, ok := strings.Cut(v, ":")
	if !ok || name == "" || password == "" {
		return fmt.Errorf("want name:password, got %q", v)
	}
	for _, have := range *u.list {
		if have.name == name {
			return fmt.Errorf("user %q given twice", name)
		}
	}
	*u.list = append(*u.list, demoUser{id: strconv.Itoa(len(*u.list) + 1), name: name, password: password, inactive: u.inactive})
	return nil
}

// algorithms are the -alg values the example takes: the algorithms
// jwtpair signs with, for each of which generateKey can make a key (New
// refuses any other algorithm, whatever this list says).
var algorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// parseConfig parses the command line and the environment of a command
// with backends (nil: the memory store only).
func parseConfig(args []string, getenv func(string) string, stderr io.Writer, b Backends) (config, error) {
	c := config{backends: b}
	var users []demoUser
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8000", "listen address")
	fs.Var(userFlag{list: &users}, "user", "demo account name:password, repeatable (default admin:admin)")
	fs.Var(userFlag{list: &users, inactive: true}, "inactive-user", "an inactive demo account name:password, repeatable: it cannot log in, and its tokens are refused at refresh (and with -user-check)")
	fs.BoolVar(&c.userCheck, "user-check", false, "load the user on every authenticated request (WithUserCheck): a removed or inactive user's access tokens stop working at once")
	storeUsage := "memory | redis://host:port/db | postgres://… | sqlite:PATH"
	if b == nil {
		storeUsage = "memory (redis://host:port/db, postgres://… and sqlite:PATH are in " + BackendsCommand + ")"
	}
	fs.StringVar(&c.store, "store", "memory", storeUsage)
	fs.DurationVar(&c.accessTTL, "access-ttl", jwtpair.DefaultAccessTTL, "access token lifetime")
	fs.DurationVar(&c.refreshTTL, "refresh-ttl", jwtpair.DefaultRefreshTTL, "refresh token lifetime")
	fs.BoolVar(&c.rotate, "rotate", true, "rotate refresh tokens (with reuse detection)")
	fs.DurationVar(&c.grace, "reuse-grace", 0, "reuse grace window")
	fs.DurationVar(&c.maxAge, "max-session-age", 0, "end every session this long after its login, whatever its refreshes (0: no limit)")
	fs.IntVar(&c.maxSess, "max-sessions", jwtpair.DefaultMaxSessionsPerUser, "live sessions per user; a login past it ends the user's oldest")
	fs.BoolVar(&c.sessions, "sessions", false, "mount the session endpoints: GET /api/sessions/, DELETE /api/sessions/{sid}/, POST /api/sessions/end-others/")
	fs.BoolVar(&c.sliding, "sliding", false, "sliding tokens (5 min, refreshable for a day): POST /api/token/sliding/, /api/token/sliding/refresh/, /api/token/sliding/blacklist/, and /sliding/hello/, which accepts access and sliding tokens (/hello/ keeps to access tokens)")
	fs.StringVar(&c.alg, "alg", "HS256", strings.Join(algorithms, "|"))
	fs.StringVar(&c.keyPath, "key", "", "PEM private key for asymmetric algorithms")
	fs.BoolVar(&c.cookies, "cookies", false, "cookie mode (serves a browser demo page at /)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with, beside -tls-key")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key of -tls-cert")
	fs.BoolVar(&c.openHello, "open-hello", false, "also serve the /hello/ handler without authentication at GET /open/hello/ (for benchmarks)")
	fs.BoolVar(&c.throttle, "throttle", true, "throttle logins and refreshes (jwtpair.DefaultThrottle); -throttle=false is for load and differential tests, never a deployment")
	fs.DurationVar(&c.storeTimeout, "store-timeout", jwtpair.DefaultStoreTimeout, "deadline of each store call (jwtpair.WithStoreTimeout): a store that does not answer costs the request a 503")
	fs.DurationVar(&c.requestTimeout, "request-timeout", defaultRequestTimeout, "deadline of each request to the token and session endpoints, below the server's "+writeTimeout.String()+" write timeout: a slow store answers 503 JSON, never a dropped connection")
	fs.StringVar(&c.debugAddr, "debug-addr", "", "serve net/http/pprof profiles and /debug/stats (goroutines, store pool) on this loopback address (default none)")
	c.simplejwtFlags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	switch StoreKind(c.store) {
	case "memory":
	case "":
		return c, fmt.Errorf("-store %q: want memory, redis://host:port/db, postgres://… or sqlite:PATH", Redact(c.store))
	default:
		if b == nil {
			return c, needBackends("-store "+Redact(c.store), args)
		}
	}
	if err := c.checkSimplejwt(args); err != nil {
		return c, err
	}
	if c.requestTimeout <= 0 || c.requestTimeout >= writeTimeout {
		return c, fmt.Errorf("-request-timeout %v: want more than 0 and less than the server's write timeout, %v (past it the client gets no answer at all)", c.requestTimeout, writeTimeout)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("-tls-cert and -tls-key go together: give both to serve HTTPS, or neither")
	}
	if c.debugAddr != "" && !loopback(c.debugAddr) {
		return c, fmt.Errorf("-debug-addr %q: want a loopback address (127.0.0.1:PORT, [::1]:PORT or localhost:PORT); profiles are not for the network", c.debugAddr)
	}
	if !slices.ContainsFunc(users, func(u demoUser) bool { return !u.inactive }) {
		users = append([]demoUser{{id: "1", name: "admin", password: "admin"}}, users...)
		for i := range users[1:] {
			users[i+1].id = strconv.Itoa(i + 2)
		}
	}
	c.users = users
	if !slices.Contains(algorithms, c.alg) {
		return c, fmt.Errorf("-alg %q: want one of %s", c.alg, strings.Join(algorithms, ", "))
	}
	hmac := strings.HasPrefix(c.alg, "HS")
	if s := getenv("JWTPAIR_SECRET"); s != "" {
		if !hmac {
			return c, fmt.Errorf("JWTPAIR_SECRET is for HS* algorithms; -alg %s signs with -key", c.alg)
		}
		if len(s) < jwtpair.MinHMACKeyBytes {
			return c, fmt.Errorf("JWTPAIR_SECRET is %d bytes, want at least %d", len(s), jwtpair.MinHMACKeyBytes)
		}
		c.secret = []byte(s)
	}
	if c.keyPath != "" && hmac {
		return c, fmt.Errorf("-key is for asymmetric algorithms; -alg %s uses JWTPAIR_SECRET", c.alg)
	}
	return c, nil
}

// signingOption returns the key option for the configured algorithm, and a
// warning when the key is made up for this run.
func (c config) signingOption() (jwtpair.Option, []byte, string, error) {
	if strings.HasPrefix(c.alg, "HS") {
		if c.secret != nil {
			return jwtpair.WithHMACKey(c.secret), c.secret, "", nil
		}
		secret := make([]byte, 64) // long enough for HS512
		_, _ = rand.Read(secret)
		return jwtpair.WithHMACKey(secret), secret, "JWTPAIR_SECRET is not set: using a random secret; tokens die with this process and other instances will not accept them", nil
	}
	if c.keyPath != "" {
		pemBytes, err := os.ReadFile(c.keyPath)
		if err != nil {
			return nil, nil, "", fmt.Errorf("-key: %w", err)
		}
		return jwtpair.WithSigningKey(pemBytes, c.alg), nil, "", nil
	}
	key, err := generateKey(c.alg)
	if err != nil {
		return nil, nil, "", err
	}
	return jwtpair.WithSigningKey(key, c.alg), nil, "-key is not set: using a key generated for this run; other instances will not accept its tokens", nil
}

// generateKey makes a private key fit for alg.
func generateKey(alg string) (any, error) {
	switch alg[:2] {
	case "RS", "PS":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ES":
		curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		return ecdsa.GenerateKey(curve, rand.Reader)
	case "Ed":
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	}
	return nil, errors.New("no key generator for " + alg)
}

// needBackends is the error of a flag that needs the shared stores given
// to ./example: it names the command that has them, with the same
// arguments (a password in a URL hidden, as in the log).
func needBackends(what string, args []string) error {
	cmd, hidden := BackendsCommand, ""
	for _, a := range args {
		name, value, isFlag := strings.Cut(a, "=")
		if !isFlag || !strings.HasPrefix(name, "-") {
			name, value = "", a
		}
		if r := Redact(value); strings.Contains(value, "://") && r != value {
			value, hidden = r, " (your password in place of xxxxx)"
		}
		if name != "" {
			value = name + "=" + value
		}
		cmd += " " + shellQuote(value)
	}
	return fmt.Errorf("%s: ./example has the memory store only, so that it starts fast with no database driver to download; the shared stores and -import-simplejwt are in example/backends, which takes the same flags. From the repository root, run%s:\n\t%s", what, hidden, cmd)
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_./:=@,+%.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
