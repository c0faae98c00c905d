"""Cluster mode: the same pipeline code as Ray actors, with a capacity model."""
