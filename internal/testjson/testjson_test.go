package testjson

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSkipReason(t *testing.T) {
	for _, c := range []struct{ name, out, want string }{
		{"t.Skip", "=== RUN   TestX\n    x_test.go:12: set X_URL to run this test\n--- SKIP: TestX (0.00s)\n", "set X_URL to run this test"},
		{"colon in the message", "    helpers.go:78: set A=redis://h:1/0 to run: now\n", "set A=redis://h:1/0 to run: now"},
		{"no file prefix", "=== RUN   TestX\nplain line\n--- SKIP: TestX (0.00s)\n", "plain line"},
		{"nothing logged", "=== RUN   TestX\n--- SKIP: TestX (0.00s)\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, SkipReason(c.out)) })
	}
}
