// Package recipe mounts jwtpair in Echo v5 (github.com/labstack/echo/v5):
// the token endpoints with Any and echo.WrapHandler, so that every method
// reaches them and they answer other methods than POST with their own JSON
// 405, and the protected routes behind echo.WrapMiddleware(auth.Middleware),
// which hands the request carrying the claims on to the handler. The
// middleware is given per route: a Group("", …) with it would also run it
// for paths no route matches, answering 401 where 404 is due. The README
// shows the code between the recipe lines; routes_test.go runs the seed
// flow through it.
package recipe

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/jwtpair/jwtpair"
)

// recipe:begin

// Routes mounts the token endpoints and protects /hello/ with route middleware.
func Routes(auth *jwtpair.Auth) *echo.Echo {
	e := echo.New()
	e.Any("/api/token/", echo.WrapHandler(auth.ObtainHandler())) // Any: every method
	e.Any("/api/token/refresh/", echo.WrapHandler(auth.RefreshHandler()))
	e.Any("/api/token/verify/", echo.WrapHandler(auth.VerifyHandler()))
	e.Any("/api/token/blacklist/", echo.WrapHandler(auth.BlacklistHandler()))
	protected := echo.WrapMiddleware(auth.Middleware) // per route: see the README
	e.GET("/hello/", hello, protected)
	e.POST("/hello/", hello, protected)
	return e
}

func hello(c *echo.Context) error {
	u, _ := jwtpair.UserFrom(c.Request().Context())
	return c.JSON(http.StatusOK, map[string]string{"message": "Hello, World!", "user_id": u.ID})
}

// recipe:end
