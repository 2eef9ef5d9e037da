package redisstore_test

import (
	"github.com/redis/go-redis/v9"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
)

// A store on a Redis the application already has a client for. The client
// works for Cluster too (redis.NewClusterClient); the store never closes it.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	var store jwtpair.Store = redisstore.New(rdb, redisstore.WithKeyPrefix("myapp:"))
	_ = store // jwtpair.New(…, jwtpair.WithStore(store))
}
