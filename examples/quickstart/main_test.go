package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/internal/seedflow"
)

// TestMain runs main instead of the tests when asked to by
// TestMainRefusesBadConfiguration.
func TestMain(m *testing.M) {
	if os.Getenv("QUICKSTART_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestSeedFlow(t *testing.T) {
	seedflow.Run(t, func(auth *jwtpair.Auth) http.Handler { return routes(auth) })
}

func TestREADME(t *testing.T) { seedflow.InREADME(t, "main.go") }

// TestCheckPassword: the demo user logs in, with id "1" (the seed flow's);
// a wrong password and an unknown user get the one error.
func TestCheckPassword(t *testing.T) {
	u, err := checkPassword(context.Background(), "admin", "admin")
	require.NoError(t, err)
	assert.Equal(t, jwtpair.User{ID: "1"}, u)
	for _, c := range [][2]string{{"admin", "nope"}, {"mallory", "admin"}, {"", ""}} {
		_, err := checkPassword(context.Background(), c[0], c[1])
		assert.ErrorIs(t, err, jwtpair.ErrInvalidCredentials, c)
	}
}

// TestMainRefusesBadConfiguration: main, with JWTPAIR_SECRET unset or too
// short, exits 1 with New's error before it listens.
func TestMainRefusesBadConfiguration(t *testing.T) {
	for _, secret := range []string{"", "short"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "QUICKSTART_RUN_MAIN=1", "JWTPAIR_SECRET="+secret)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "secret %q: %s", secret, out)
		assert.Equal(t, 1, exit.ExitCode(), "secret %q: %s", secret, out)
		assert.Contains(t, string(out), "jwtpair: ", "secret %q", secret)
		assert.Contains(t, string(out), "HMAC", "secret %q", secret)
	}
}
