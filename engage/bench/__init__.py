"""Benchmarks behind `engage bench ...`: each runs the real system and prints its figures as JSON."""
