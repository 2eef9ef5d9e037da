module github.com/jwtpair/jwtpair/compat

go 1.25.0

replace github.com/jwtpair/jwtpair => ../

require (
	github.com/jwtpair/jwtpair v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
