// Package bench compares jwtpair's middleware with peer JWT middlewares for
// net/http and with a plain standard-library floor, on the same tokens
// through the same handler shape.
//
// It is its own module so that the peers (go-chi/jwtauth,
// auth0/go-jwt-middleware, golang-jwt) never enter the root module's
// dependencies. The benchmarks are in bench_test.go; bash bench/run.sh runs
// them and an end-to-end wrk measurement of the example server (its /hello/
// against /open/hello/, the same handler without the middleware, served
// with -open-hello), and writes BENCHMARKS.md. Its sessions sections come
// from bench/cmd/propagation (logout across two example instances on each
// shared store) and from the root package's and the stores' benchmarks and
// tests of the revoked set and of bytes per session.
//
// Two tables drive everything: [Algs] (one row per signing algorithm) and
// [Libs] (one row per middleware). Adding an algorithm is one row of Algs.
package bench
