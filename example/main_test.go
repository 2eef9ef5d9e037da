package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRootModuleOnly: ./example, the README's first command, is built from
// modules the root module requires and nothing else, so that its first run
// on a fresh machine downloads and compiles jwx and its few dependencies,
// not a database driver (go-redis, pgx and modernc.org/sqlite are hundreds
// of megabytes; they are example/backends'). The workspace (go.work) would
// let a driver's import through, as example/backends requires the drivers:
// this test is what stops it.
func TestRootModuleOnly(t *testing.T) {
	out, err := exec.Command("go", "mod", "edit", "-json", "../go.mod").Output()
	require.NoError(t, err)
	var root struct{ Require []struct{ Path string } }
	require.NoError(t, json.Unmarshal(out, &root))
	allowed := map[string]bool{"github.com/jwtpair/jwtpair": true, "github.com/jwtpair/jwtpair/example": true}
	for _, r := range root.Require {
		allowed[r.Path] = true
	}

	out, err = exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".").Output()
	require.NoError(t, err)
	modules := strings.Fields(string(out))
	require.Contains(t, modules, "github.com/lestrrat-go/jwx/v3", "the listing holds the example's modules")
	for _, m := range modules {
		assert.True(t, allowed[m], "./example links %s, which the root module does not require: its first run downloads it", m)
	}
}
