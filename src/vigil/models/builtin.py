"""Built-in model entries (filled from the verified package contents)."""
