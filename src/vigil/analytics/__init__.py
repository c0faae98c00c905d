"""Analytics: zones, line crossings, dwell and crowd counting."""
