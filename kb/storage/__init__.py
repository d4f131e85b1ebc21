"""Where knowledge lives: the Redis store of entries and vectors (store), every key built in one
place (redis_keys) and moved from older layouts (key_migration), the connection and the embedded
server kept up (redis_conn, redis_watchdog), cached vectors and reads (vector_store, recent),
and the per-shop in-memory indexes bounded by bytes (shop_cache)."""
