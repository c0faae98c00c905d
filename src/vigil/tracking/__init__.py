"""Multi-object tracking per camera and best-shot selection."""
