"""Perception: face, person, vehicle and plate detection, alignment, quality and embedding."""
