// Package recipe mounts jwtpair in net/http's ServeMux, with Go 1.22's
// exact patterns: "{$}" matches the path and nothing under it, and a
// pattern without a method lets every method reach the token endpoints,
// which answer other methods than POST with their own JSON 405. The README
// shows the code between the recipe lines; routes_test.go runs the seed
// flow through it.
package recipe

import (
	"encoding/json"
	"net/http"

	"github.com/jwtpair/jwtpair"
)

// recipe:begin

// Routes mounts the token endpoints at exact paths and protects /hello/.
func Routes(auth *jwtpair.Auth) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/api/token/{$}", auth.ObtainHandler()) // exact paths, every method
	mux.Handle("/api/token/refresh/{$}", auth.RefreshHandler())
	mux.Handle("/api/token/verify/{$}", auth.VerifyHandler())
	mux.Handle("/api/token/blacklist/{$}", auth.BlacklistHandler())
	mux.Handle("GET /hello/{$}", auth.Middleware(http.HandlerFunc(hello)))
	mux.Handle("POST /hello/{$}", auth.Middleware(http.HandlerFunc(hello)))
	return mux
}

// recipe:end

// hello is the protected route, as in the README's Use section.
func hello(w http.ResponseWriter, r *http.Request) {
	u, _ := jwtpair.UserFrom(r.Context()) // the middleware put it there
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"message": "Hello, World!", "user_id": u.ID})
}
