"""HTTP API (FastAPI) over the service layer."""
