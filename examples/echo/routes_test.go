package recipe

import (
	"net/http"
	"testing"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/internal/seedflow"
)

func TestSeedFlow(t *testing.T) {
	seedflow.Run(t, func(auth *jwtpair.Auth) http.Handler { return Routes(auth) })
}

func TestREADME(t *testing.T) { seedflow.InREADME(t, "routes.go") }
