// Command example is a runnable jwtpair server (package internal/demo).
package main

import "github.com/jwtpair/jwtpair/example/internal/demo"

func main() { demo.Main() }
