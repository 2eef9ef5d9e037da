package demo

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// fakeBackends stands in for example/backends: it opens every shared
// store as a memory store, and records what it was asked to open, to
// import and to close.
type fakeBackends struct {
	opened, imported []string
	closed           int
}

func (f *fakeBackends) Open(_ context.Context, spec string) (Opened, error) {
	f.opened = append(f.opened, spec)
	s := jwtpair.NewMemoryStore()
	return Opened{Store: s, Pool: func() *PoolStats { return &PoolStats{Open: 1} }, Close: func() error {
		f.closed++
		return s.Close()
	}}, nil
}

func (f *fakeBackends) Import(_ context.Context, from, spec string, _ io.Writer) error {
	f.imported = append(f.imported, from+" into "+spec)
	return nil
}

// TestNeedsBackends: ./example (no Backends) refuses a shared -store and
// -import-simplejwt with a usage error (exit status 2) that names the
// command having them, with the same arguments, quoted for the shell, a
// password hidden; given Backends, the same command lines parse, and the
// store is theirs.
func TestNeedsBackends(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-store", "redis://127.0.0.1:6379/0"},
			"-store redis://127.0.0.1:6379/0: ./example has the memory store only"},
		{[]string{"-store", "redis://127.0.0.1:6379/0"},
			"From the repository root, run:\n\tgo run ./example/backends -store redis://127.0.0.1:6379/0"},
		{[]string{"-addr", "127.0.0.1:9000", "-store", "postgres://app:hunter2@db/auth?sslmode=disable", "-cookies"},
			"run (your password in place of xxxxx):\n\tgo run ./example/backends -addr 127.0.0.1:9000 -store 'postgres://app:xxxxx@db/auth?sslmode=disable' -cookies"},
		{[]string{"-store=postgresql://app:hunter2@db/auth", "-user", "bob:it's"},
			`go run ./example/backends -store=postgresql://app:xxxxx@db/auth -user 'bob:it'\''s'`},
		{[]string{"-store", "sqlite:auth.db"},
			"go run ./example/backends -store sqlite:auth.db"},
		{[]string{"-store", "rediss://cache:6380/1"},
			"go run ./example/backends -store rediss://cache:6380/1"},
		{[]string{"-import-simplejwt", "sqlite:django.sqlite3"},
			"-import-simplejwt: ./example has the memory store only"},
	} {
		t.Run(tc.args[len(tc.args)-1], func(t *testing.T) {
			err := Run(t.Context(), nil, tc.args, env(nil), io.Discard, io.Discard)
			require.Error(t, err)
			assert.ErrorAs(t, err, new(usageError), "exit status 2")
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}

	t.Run("with backends", func(t *testing.T) {
		b := &fakeBackends{}
		s := newTestServer(t, b, "-store", "redis://127.0.0.1:6379/0")
		assert.Equal(t, []string{"redis://127.0.0.1:6379/0"}, b.opened)
		assert.Equal(t, &PoolStats{Open: 1}, s.pool(), "the store's pool figures reach -debug-addr")
		require.NoError(t, s.Close())
		assert.Equal(t, 1, b.closed, "the server closes the store it opened")

		require.NoError(t, Run(t.Context(), b, []string{"-store", "sqlite:auth.db", "-import-simplejwt", "postgres://db/django"}, env(nil), io.Discard, io.Discard))
		assert.Equal(t, []string{"postgres://db/django into sqlite:auth.db"}, b.imported)
	})

	t.Run("memory needs none", func(t *testing.T) {
		srv := startServer(t, "-store", "memory")
		status, _ := call(t, srv, http.MethodPost, "/api/token/", "", `{"username":"admin","password":"admin"}`)
		assert.Equal(t, http.StatusOK, status)
	})
}
