"""Command-line interface (``vigil ...``)."""
