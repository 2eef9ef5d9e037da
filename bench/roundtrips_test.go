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

// countingStore counts the calls (backend round trips) made to a store.
type countingStore struct {
	jwtpair.Store
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

func (s *countingStore) Issue(ctx context.Context, rec jwtpair.Record) error {
	s.count("Issue")
	return s.Store.Issue(ctx, rec)
}

func (s *countingStore) Rotate(ctx context.Context, jti string, next jwtpair.Record, opts jwtpair.RotateOptions) error {
	s.count("Rotate")
	return s.Store.Rotate(ctx, jti, next, opts)
}

func (s *countingStore) Check(ctx context.Context, jti string) error {
	s.count("Check")
	return s.Store.Check(ctx, jti)
}

func (s *countingStore) Revoke(ctx context.Context, jti string) error {
	s.count("Revoke")
	return s.Store.Revoke(ctx, jti)
}

func (s *countingStore) RevokeFamily(ctx context.Context, familyID string) error {
	s.count("RevokeFamily")
	return s.Store.RevokeFamily(ctx, familyID)
}

func (s *countingStore) RevokeUser(ctx context.Context, userID string) error {
	s.count("RevokeUser")
	return s.Store.RevokeUser(ctx, userID)
}

// TestRoundTrips counts store round trips per operation through the real
// handlers: obtain 1, refresh 1 (with and without rotation), verify of an
// access token 0 (endpoint and middleware), blacklist 1.
func TestRoundTrips(t *testing.T) {
	alg, _ := AlgByName("HS256")
	ks := keysFor(t, alg)
	for _, rotate := range []bool{true, false} {
		name := "rotation"
		if !rotate {
			name = "no-rotation"
		}
		t.Run(name, func(t *testing.T) {
			store := &countingStore{Store: jwtpair.NewMemoryStore(), calls: map[string]int{}}
			opts := append(JWTPairOptions(ks.Key), jwtpair.WithAuthenticator(plainUsers),
				jwtpair.WithStore(store), jwtpair.WithRotation(rotate))
			a, err := jwtpair.New(opts...)
			require.NoError(t, err)

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
			roundTrip(a.BlacklistHandler(), `{"refresh":"`+pair.Refresh+`"}`, map[string]int{"Revoke": 1})
		})
	}
}
