"""Baseline servers the benchmark compares ours with: they relay moves and do nothing else."""
