// Package openapitest holds the test that holds jwtpair's OpenAPI
// description (openapi.json, embedded in the root package) to the real
// handlers. It is its own module so that the validator it uses,
// github.com/getkin/kin-openapi, never enters the root module's
// dependencies.
package openapitest
