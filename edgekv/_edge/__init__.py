"""The edge HTTP layer: a DevCycle-compatible API over a cluster, its keys, inputs, logs,
live page and durable storage."""
