"""Storage: repositories over SQLite and PostgreSQL, media store and the sighting archive index."""
