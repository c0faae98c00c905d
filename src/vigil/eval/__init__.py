"""Evaluation harness (vigil eval ...): accuracy on real data with honest statistics."""
