"""The engine: classify events, correlate them into incidents, drive incident lifecycles."""
