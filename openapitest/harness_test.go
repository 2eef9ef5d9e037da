package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// spec is a loaded, validated OpenAPI document and its router.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

// loadSpec loads and validates an OpenAPI 3.1 document: its structure, its
// references, its schemas (compiled as JSON Schema 2020-12) and its
// examples against their schemas.
func loadSpec(t testing.TB, b []byte) *spec {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	require.NoError(t, err, "loading the document")
	require.True(t, doc.IsOpenAPI31OrLater(), "openapi is %q, not 3.1", doc.OpenAPI)
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.1."), "openapi is %q, not 3.1", doc.OpenAPI)
	require.NoError(t, doc.Validate(context.Background(), openapi3.EnableExamplesValidation()), "validating the document")
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &spec{doc: doc, router: router}
}

// opStatus is one documented answer: a path of the document, a method,
// a status.
type opStatus struct {
	path, method string
	status       int
}

func (o opStatus) String() string { return fmt.Sprintf("%s %s → %d", o.method, o.path, o.status) }

// documented returns every answer the document describes.
func (s *spec) documented() []opStatus {
	var out []opStatus
	for _, path := range s.doc.Paths.InMatchingOrder() {
		for method, op := range s.doc.Paths.Value(path).Operations() {
			for code := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					panic("a response that is not one status: " + code) // "default", "4XX": none in this document
				}
				out = append(out, opStatus{path, method, status})
			}
		}
	}
	slices.SortFunc(out, func(a, b opStatus) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// checker sends requests to real handlers and holds every exchange to
// the document; it records which documented answers were seen.
type checker struct {
	spec   *spec
	client *http.Client
	seen   map[opStatus]int
}

func newChecker(s *spec) *checker {
	return &checker{
		spec: s,
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer to check, never followed
		}},
		seen: map[opStatus]int{},
	}
}

// exchange is one request and what it must get.
type exchange struct {
	method, url string
	header      http.Header
	body        []byte
	// status is the status the handlers must answer.
	status int
	// conforming says whether the document admits the request: a request
	// the test breaks on purpose (no credentials, a missing field, another
	// media type) must be refused by the request validator, which proves
	// the document describes what a client may send.
	conforming bool
}

// answer is what the handlers answered.
type answer struct {
	*http.Response
	body []byte
}

// do sends ex, checks its status, and validates the request and the
// answer against the document (the answer's status must be documented for
// the operation, its required headers present and valid, its body of a
// documented media type and schema, or empty where none is documented).
func (c *checker) do(t *testing.T, ex exchange) answer {
	t.Helper()
	a, in, op := c.send(t, ex)
	c.seen[opStatus{in.Route.Path, ex.method, a.StatusCode}]++
	reqErr := openapi3filter.ValidateRequest(t.Context(), in)
	if ex.conforming {
		require.NoError(t, reqErr, "%s %s: the request does not conform to the document", ex.method, ex.url)
	} else {
		require.Error(t, reqErr, "%s %s: the document admits a request the test breaks on purpose", ex.method, ex.url)
	}
	require.NoError(t, c.validateAnswer(in, op, a), "%s %s → %d: the answer does not match the document; body %s",
		ex.method, ex.url, a.StatusCode, a.body)
	return a
}

// send sends ex and checks its status; it returns the answer, the
// request's validation input and its documented operation.
func (c *checker) send(t *testing.T, ex exchange) (answer, *openapi3filter.RequestValidationInput, *openapi3.Operation) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), ex.method, ex.url, bytes.NewReader(ex.body))
	require.NoError(t, err)
	for k, vs := range ex.header {
		req.Header[k] = vs
	}
	resp, err := c.client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, ex.status, resp.StatusCode, "%s %s: status; body %s", ex.method, ex.url, body)
	in, op := c.route(t, ex)
	return answer{resp, body}, in, op
}

// route finds the documented operation of ex (its path by the document's
// router, as a client would) and the validation input for it.
func (c *checker) route(t *testing.T, ex exchange) (*openapi3filter.RequestValidationInput, *openapi3.Operation) {
	t.Helper()
	req, err := http.NewRequest(ex.method, ex.url, bytes.NewReader(ex.body))
	require.NoError(t, err)
	for k, vs := range ex.header {
		req.Header[k] = vs
	}
	route, params, err := c.spec.router.FindRoute(req)
	require.NoError(t, err, "%s %s is not in the document", ex.method, ex.url)
	return &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: authenticate, MultiError: true},
	}, route.Operation
}

// validateAnswer validates an answer to the request in against op.
func (c *checker) validateAnswer(in *openapi3filter.RequestValidationInput, op *openapi3.Operation, a answer) error {
	ref := op.Responses.Status(a.StatusCode)
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("status %d is not documented", a.StatusCode)
	}
	if len(ref.Value.Content) == 0 && len(a.body) > 0 {
		return fmt.Errorf("a body where the document has none: %s", a.body)
	}
	if in.Request.Method == http.MethodHead {
		// openapi3filter does not validate HEAD answers: their headers here.
		if len(a.body) > 0 {
			return errors.New("a body in answer to HEAD")
		}
		for name, h := range ref.Value.Headers {
			if h.Value.Required && a.Header.Get(name) == "" {
				return fmt.Errorf("required header %s missing", name)
			}
		}
		return nil
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 a.StatusCode,
		Header:                 a.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(a.body)
	return openapi3filter.ValidateResponse(context.Background(), out)
}

// authenticate is what the request validator checks of a security
// scheme: that the request carries the credentials it names (whether they
// are good is the handlers' business).
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	switch s := in.SecurityScheme; {
	case s.Type == "http" && s.Scheme == "bearer":
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.Contains(tok, " ") {
			return errors.New("no bearer token")
		}
	case s.Type == "apiKey" && s.In == "cookie":
		if ck, err := r.Cookie(s.Name); err != nil || ck.Value == "" {
			return fmt.Errorf("no %s cookie", s.Name)
		}
	default:
		return fmt.Errorf("security scheme %q unknown to the test", in.SecuritySchemeName)
	}
	return nil
}

// requireCovered fails unless every answer the document describes was
// seen at least once, so that no documented answer goes untested.
func (c *checker) requireCovered(t *testing.T) {
	t.Helper()
	var missing []string
	documented := c.spec.documented()
	exchanges := 0
	for _, o := range documented {
		if c.seen[o] == 0 {
			missing = append(missing, o.String())
		}
		exchanges += c.seen[o]
	}
	require.Empty(t, missing, "documented answers no test exercised")
	t.Logf("all %d documented answers seen, in %d validated exchanges", len(documented), exchanges)
}

// the document as served by default.
func defaultSpec(t testing.TB) *spec {
	b, err := jwtpair.OpenAPI(nil)
	require.NoError(t, err)
	return loadSpec(t, b)
}
