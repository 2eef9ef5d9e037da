package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// Kinds of request.
const (
	kindLogin   = "login"   // POST /api/token/
	kindHello   = "hello"   // GET /hello/ (protected, no store I/O)
	kindRefresh = "refresh" // POST /api/token/refresh/
	kindLogout  = "logout"  // POST /api/token/blacklist/
)

// Probes: why a client sent a request outside the plain flow, and so what
// it expects.
const (
	probeConcurrent  = "concurrent"   // one of k refreshes sent at once with one token
	probeReplay      = "replay"       // a consumed refresh token, after the grace window: reuse
	probeAfterEnd    = "after-end"    // a token of a session that ended (logout or reuse)
	probeEndedAccess = "ended-access" // an access token of an ended session
	probeAnonymous   = "anonymous"    // no token at all
	probeRetry       = "retry"        // the same request again after a 503
)

// Entry is one request as the client that sent it saw it: a line of
// requests.jsonl. Times are Unix nanoseconds of the soak's clock, which
// is the backend's (one machine).
type Entry struct {
	Seq    uint64 `json:"seq"`             // order of logging
	Kind   string `json:"kind"`            // kindLogin, …
	Probe  string `json:"probe,omitempty"` // probe…, "" for the plain flow
	Client int    `json:"client"`          // the chain client; -1 for vegeta's traffic
	Inst   int    `json:"inst"`            // the instance asked: 0 or 1
	Group  uint64 `json:"group,omitempty"` // concurrent refreshes of one token share it
	Start  int64  `json:"start"`           // before the request was sent
	End    int64  `json:"end"`             // after the whole answer was read
	Status int    `json:"status"`          // 0: no HTTP answer (Err says why)
	Err    string `json:"err,omitempty"`   // transport error
	Code   string `json:"code,omitempty"`  // the answer's JSON "code", when not 200
	Detail string `json:"detail,omitempty"`

	User   string `json:"user,omitempty"`
	Family string `json:"family,omitempty"` // the session (sid) the request concerns
	Token  string `json:"token,omitempty"`  // jti of the token presented

	// What a 200 handed out.
	Access    string `json:"access,omitempty"`     // jti of the access token
	AccessExp int64  `json:"access_exp,omitempty"` // its exp, Unix seconds
	Refresh   string `json:"refresh,omitempty"`    // jti of the refresh token
	NewFamily string `json:"new_family,omitempty"` // its sid
}

func (e *Entry) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// storeBacked reports whether answering the request needs the store.
func (e *Entry) storeBacked() bool { return e.Kind != kindHello }

// logWriter appends entries to requests.jsonl, numbering them.
type logWriter struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	seq uint64
	err error
}

func newLogWriter(path string) (*logWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &logWriter{f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

func (l *logWriter) add(e *Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e.Seq = l.seq
	b, err := json.Marshal(e)
	if err == nil {
		b = append(b, '\n')
		_, err = l.w.Write(b)
	}
	if err != nil && l.err == nil {
		l.err = err
	}
}

func (l *logWriter) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.w.Flush(); err != nil && l.err == nil {
		l.err = err
	}
	if err := l.f.Close(); err != nil && l.err == nil {
		l.err = err
	}
	return l.err
}

// readLog reads requests.jsonl.
func readLog(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
