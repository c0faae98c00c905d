"""Identification: watchlist 1:N matching (only inside an active deployment) and plate hotlists."""
