"""Accuracy tests."""
