"""The channel layers the server runs on: one process's in-memory layer (memory), and with
REDIS_URL, channels-redis's pub/sub layer guarded against a Redis that hangs or is gone
(redis_guard)."""
