package bench

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jwtpair/jwtpair"
	"github.com/stretchr/testify/require"
)

// countingStore counts the calls (backend round trips) made to a memory
// store. Its revocation feed is the memory store's, uncounted: the feed
// is read in the background, never on a request.
type countingStore struct {
	*jwtpair.MemoryStore
	mu    sync.Mutex
	calls map[string]int
}

var _ jwtpair.Store = (*countingStore)(nil)

func (s *countingStore) count(method string) {
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
}

// take returns the calls counted since the last take.
func (s *countingStore) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := maps.Clone(s.calls)
	clear(s.calls)
	return c
}

func (s *countingStore) Issue(ctx context.Context, rec jwtpair.Record, opts jwtpair.IssueOptions) ([]string, error) {
	s.count("Issue")
	return s.MemoryStore.Issue(ctx, rec, opts)
}

func (s *countingStore) Rotate(ctx context.Context, t jwtpair.Token, next jwtpair.Record, opts jwtpair.RotateOptions) error {
	s.count("Rotate")
	return s.MemoryStore.Rotate(ctx, t, next, opts)
}

func (s *countingStore) Check(ctx context.Context, t jwtpair.Token) error {
	s.count("Check")
	return s.MemoryStore.Check(ctx, t)
}

func (s *countingStore) Revoke(ctx context.Context, t jwtpair.Token) error {
	s.count("Revoke")
	return s.MemoryStore.Revoke(ctx, t)
}

func (s *countingStore) EndSession(ctx context.Context, userID, sessionID string) error {
	s.count("EndSession")
	return s.MemoryStore.EndSession(ctx, userID, sessionID)
}

func (s *countingStore) EndSessions(ctx context.Context, userID, keep string) error {
	s.count("EndSessions")
	return s.MemoryStore.EndSessions(ctx, userID, keep)
}

func (s *countingStore) Sessions(ctx context.Context, userID string) ([]jwtpair.Session, error) {
	s.count("Sessions")
	return s.MemoryStore.Sessions(ctx, userID)
}

// TestRoundTrips counts store round trips per operation through the real
// handlers: obtain 1 (with the per-user cap), refresh 1 (with and without
// rotation), verify of an access token 0 (endpoint and middleware, which
// read the revoked set), blacklist 1; listing sessions 1, ending one 2
// (the user's sessions, then the end), ending the others 1.
func TestRoundTrips(t *testing.T) {
	alg, _ := AlgByName("HS256")
	ks := keysFor(t, alg)
	for _, rotate := range []bool{true, false} {
		name := "rotation"
		if !rotate {
			name = "no-rotation"
		}
		t.Run(name, func(t *testing.T) {
			store := &countingStore{MemoryStore: jwtpair.NewMemoryStore(), calls: map[string]int{}}
			opts := append(JWTPairOptions(ks.Key), jwtpair.WithAuthenticator(plainUsers),
				jwtpair.WithStore(store), jwtpair.WithRotation(rotate))
			a, err := jwtpair.New(opts...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = a.Close() })

			var pair jwtpair.Pair
			roundTrip := func(h http.Handler, body string, want map[string]int) {
				t.Helper()
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				h.ServeHTTP(w, r)
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				require.Equal(t, want, store.take(), "body %s", body)
				var p jwtpair.Pair
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
				if p.Access != "" {
					pair.Access = p.Access
				}
				if p.Refresh != "" {
					pair.Refresh = p.Refresh
				}
			}

			roundTrip(a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`, map[string]int{"Issue": 1})
			roundTrip(a.VerifyHandler(), `{"token":"`+pair.Access+`"}`, map[string]int{})

			mw := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
			r.Header.Set("Authorization", "Bearer "+pair.Access)
			w := httptest.NewRecorder()
			mw.ServeHTTP(w, r)
			require.Equal(t, http.StatusOK, w.Code)
			require.Equal(t, map[string]int{}, store.take(), "middleware")

			_, err = a.VerifyAccess(context.Background(), pair.Access)
			require.NoError(t, err)
			require.Equal(t, map[string]int{}, store.take(), "VerifyAccess")

			refresh := map[string]int{"Rotate": 1}
			if !rotate {
				refresh = map[string]int{"Check": 1}
			}
			roundTrip(a.RefreshHandler(), `{"refresh":"`+pair.Refresh+`"}`, refresh)

			mux := http.NewServeMux()
			mux.Handle("/api/sessions/{$}", a.Middleware(a.SessionsHandler()))
			mux.Handle("/api/sessions/{sid}/{$}", a.Middleware(a.EndSessionHandler()))
			mux.Handle("/api/sessions/end-others/{$}", a.Middleware(a.EndOtherSessionsHandler()))
			other, err := a.IssuePair(context.Background(), jwtpair.User{ID: UserID})
			require.NoError(t, err)
			c, err := a.VerifyAccess(context.Background(), other.Access)
			require.NoError(t, err)
			store.take()
			for _, step := range []struct {
				method, path string
				status       int
				want         map[string]int
			}{
				{http.MethodGet, "/api/sessions/", http.StatusOK, map[string]int{"Sessions": 1}},
				{http.MethodDelete, "/api/sessions/" + c.SessionID + "/", http.StatusNoContent, map[string]int{"Sessions": 1, "EndSession": 1}},
				{http.MethodPost, "/api/sessions/end-others/", http.StatusOK, map[string]int{"EndSessions": 1}},
			} {
				r := httptest.NewRequest(step.method, step.path, nil)
				r.Header.Set("Authorization", "Bearer "+pair.Access)
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, r)
				require.Equal(t, step.status, w.Code, w.Body.String())
				require.Equal(t, step.want, store.take(), "%s %s", step.method, step.path)
			}

			roundTrip(a.BlacklistHandler(), `{"refresh":"`+pair.Refresh+`"}`, map[string]int{"Revoke": 1})
		})
	}
}
