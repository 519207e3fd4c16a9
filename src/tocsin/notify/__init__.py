"""Notifications: the durable outbox and the channels that deliver from it."""
