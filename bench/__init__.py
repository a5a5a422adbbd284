"""Benchmarks: a load generator playing real games against our server and two baselines (see docs/benchmarks.md)."""
