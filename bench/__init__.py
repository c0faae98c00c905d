"""Benchmarks (``make bench``): each beside its baseline, measured in the same run, as ratios."""
