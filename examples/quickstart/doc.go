// Command quickstart is the README's first program ("Use"): the token
// endpoints and a protected /hello/ on a ServeMux, at exact paths, for one
// demo user, admin:admin. main.go holds it as the README shows it, between
// the recipe lines; main_test.go runs the seed flow through its routes,
// checks its Authenticator and that main reports a bad configuration, and
// fails when the README's copy differs. Run it with
//
//	JWTPAIR_SECRET=$(openssl rand -base64 48) go run ./examples/quickstart
package main
