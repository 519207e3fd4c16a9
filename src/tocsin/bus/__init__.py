"""Fan-out of committed incident changes to live listeners (in-process; NATS later)."""
