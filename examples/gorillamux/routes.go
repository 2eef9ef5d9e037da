// Package recipe mounts jwtpair in gorilla/mux: the token endpoints with
// Handle and no Methods, so that every method reaches them and they answer
// other methods than POST with their own JSON 405, and the protected
// routes on a subrouter that uses auth.Middleware as it is (a
// mux.MiddlewareFunc has its shape). The README shows the code between the
// recipe lines; routes_test.go runs the seed flow through it.
package recipe

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/jwtpair/jwtpair"
)

// recipe:begin

// Routes mounts the token endpoints and protects /hello/ on a subrouter.
func Routes(auth *jwtpair.Auth) *mux.Router {
	r := mux.NewRouter()
	r.Handle("/api/token/", auth.ObtainHandler()) // no Methods: every method
	r.Handle("/api/token/refresh/", auth.RefreshHandler())
	r.Handle("/api/token/verify/", auth.VerifyHandler())
	r.Handle("/api/token/blacklist/", auth.BlacklistHandler())
	protected := r.NewRoute().Subrouter()
	protected.Use(auth.Middleware)
	protected.HandleFunc("/hello/", hello).Methods(http.MethodGet, http.MethodPost)
	return r
}

// recipe:end

// hello is the protected route, as in the README's Use section.
func hello(w http.ResponseWriter, r *http.Request) {
	u, _ := jwtpair.UserFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"message": "Hello, World!", "user_id": u.ID})
}
