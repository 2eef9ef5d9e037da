// The README's "Use" program, as it shows it (main_test.go's TestREADME).

// recipe:begin

package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"

	"github.com/jwtpair/jwtpair"
)

func main() {
	auth, err := jwtpair.New(
		jwtpair.WithHMACKey([]byte(os.Getenv("JWTPAIR_SECRET"))), // ≥ 32 bytes
		jwtpair.WithAuthenticator(jwtpair.AuthenticatorFunc(checkPassword)),
	)
	if err != nil {
		log.Fatal(err) // every configuration mistake is reported here
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:8000", routes(auth)))
}

// routes mounts the token endpoints and /hello/ on exact paths, never
// subtrees.
func routes(auth *jwtpair.Auth) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/api/token/{$}", auth.ObtainHandler())
	mux.Handle("/api/token/refresh/{$}", auth.RefreshHandler())
	mux.Handle("/api/token/verify/{$}", auth.VerifyHandler())
	mux.Handle("/api/token/blacklist/{$}", auth.BlacklistHandler())
	mux.Handle("/hello/{$}", auth.Middleware(http.HandlerFunc(hello)))
	return mux
}

func hello(w http.ResponseWriter, r *http.Request) {
	u, _ := jwtpair.UserFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"message": "Hello, World!", "user_id": u.ID})
}

// checkPassword looks the user up and compares password hashes; unknown
// users and wrong passwords are one error.
func checkPassword(ctx context.Context, username, password string) (jwtpair.User, error) {
	if username == "admin" && password == "admin" { // use bcrypt/argon2id for real
		return jwtpair.User{ID: "1"}, nil
	}
	return jwtpair.User{}, jwtpair.ErrInvalidCredentials
}

// recipe:end
