package propagation

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// delays returns a result of n trials that took 1 ms, 2 ms, … n ms, out of
// order.
func delays(n int) Result {
	r := Result{Trials: n}
	for i := n; i >= 1; i-- {
		r.Delays = append(r.Delays, int64(time.Duration(i)*time.Millisecond))
	}
	return r
}

func TestPercentile(t *testing.T) {
	r := delays(100)
	assert.Equal(t, 50*time.Millisecond, r.Percentile(50))
	assert.Equal(t, 99*time.Millisecond, r.Percentile(99))
	assert.Equal(t, 100*time.Millisecond, r.Percentile(100))
	r = delays(200)
	assert.Equal(t, 100*time.Millisecond, r.Percentile(50))
	assert.Equal(t, 198*time.Millisecond, r.Percentile(99), "nearest rank: the 198th of 200")
	assert.Equal(t, time.Millisecond, r.Percentile(0.1))
	assert.Equal(t, int64(200*time.Millisecond), r.Delays[0], "the result's own order is kept")
	assert.Zero(t, Result{}.Percentile(50))
}

func TestPassed(t *testing.T) {
	assert.True(t, delays(3).Passed())
	short := delays(3)
	short.Trials = 4
	assert.False(t, short.Passed(), "a trial missing")
	failed := delays(3)
	failed.Error = "trial 3: …"
	assert.False(t, failed.Passed())
	assert.False(t, Result{}.Passed(), "no trials")
}

func TestRead(t *testing.T) {
	rs, err := Read(strings.NewReader(`{"backend":"redis","trials":1,"delays_ns":[5]}
{"backend":"sqlite","trials":2,"delays_ns":[1],"error":"trial 2: x"}
`))
	require.NoError(t, err)
	require.Len(t, rs, 2)
	assert.True(t, rs[0].Passed())
	assert.Equal(t, "trial 2: x", rs[1].Error)
	_, err = Read(strings.NewReader(`{"backend":`))
	assert.Error(t, err)
}
