// Package recipe mounts jwtpair in chi (github.com/go-chi/chi/v5): the
// token endpoints with Handle, so that every method reaches them and they
// answer other methods than POST with their own JSON 405, and the
// protected routes in a Group that uses auth.Middleware as it is (chi
// middleware has its shape). The README shows the code between the recipe
// lines; routes_test.go runs the seed flow through it.
package recipe

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/jwtpair/jwtpair"
)

// recipe:begin

// Routes mounts the token endpoints and protects /hello/ in a chi Group.
func Routes(auth *jwtpair.Auth) chi.Router {
	r := chi.NewRouter()
	r.Handle("/api/token/", auth.ObtainHandler()) // Handle: every method
	r.Handle("/api/token/refresh/", auth.RefreshHandler())
	r.Handle("/api/token/verify/", auth.VerifyHandler())
	r.Handle("/api/token/blacklist/", auth.BlacklistHandler())
	r.Group(func(r chi.Router) {
		r.Use(auth.Middleware) // or r.With(auth.Middleware).Get(…)
		r.Get("/hello/", hello)
		r.Post("/hello/", hello)
	})
	return r
}

// recipe:end

// hello is the protected route, as in the README's Use section.
func hello(w http.ResponseWriter, r *http.Request) {
	u, _ := jwtpair.UserFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"message": "Hello, World!", "user_id": u.ID})
}
