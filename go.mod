module github.com/jwtpair/jwtpair

go 1.25
