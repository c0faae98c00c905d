"""Per-resource routers; each handler authenticates, calls one service and shapes the answer."""
