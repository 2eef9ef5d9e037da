// Package recipe mounts jwtpair in gin (github.com/gin-gonic/gin): the
// token endpoints with Any and gin.WrapH, so that every method reaches
// them and they answer other methods than POST with their own JSON 405,
// and the protected routes behind a gin middleware made of auth.Check,
// which authenticates the request as auth.Middleware does,
// auth.WriteError, which answers a refusal as auth.Middleware does (the
// Auth's error handler, its logging), and jwtpair.ContextWithClaims, which
// hands the claims to the handlers. The
// README shows the code between the recipe lines; routes_test.go runs the
// seed flow through it.
package recipe

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/jwtpair/jwtpair"
)

// recipe:begin

// Routes mounts the token endpoints and protects /hello/ in a gin group.
func Routes(auth *jwtpair.Auth) *gin.Engine {
	r := gin.New()
	r.Any("/api/token/", gin.WrapH(auth.ObtainHandler())) // Any: every method
	r.Any("/api/token/refresh/", gin.WrapH(auth.RefreshHandler()))
	r.Any("/api/token/verify/", gin.WrapH(auth.VerifyHandler()))
	r.Any("/api/token/blacklist/", gin.WrapH(auth.BlacklistHandler()))
	protected := r.Group("/", Required(auth))
	protected.GET("/hello/", hello)
	protected.POST("/hello/", hello)
	return r
}

// Required answers what auth.Middleware would for a request without a
// valid access token, and otherwise puts the claims where jwtpair.UserFrom
// and jwtpair.ClaimsFrom find them.
func Required(auth *jwtpair.Auth) gin.HandlerFunc {
	return func(c *gin.Context) {
		claims, err := auth.Check(c.Request)
		if err != nil {
			auth.WriteError(c.Writer, c.Request, err) // the Auth's error handler and logging
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(jwtpair.ContextWithClaims(c.Request.Context(), claims))
		c.Next()
	}
}

func hello(c *gin.Context) {
	u, _ := jwtpair.UserFrom(c.Request.Context())
	c.JSON(http.StatusOK, gin.H{"message": "Hello, World!", "user_id": u.ID})
}

// recipe:end
