"""The edges, where people and bots come in: the WebSocket consumers and the frame checks they
share (sockets), the pages, the JSON API and what they share, idempotency keys, the per-address
limits and the readiness check."""
