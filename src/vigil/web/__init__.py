"""Web console served by the API."""
