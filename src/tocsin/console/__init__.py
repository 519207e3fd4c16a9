"""The operator console: server-rendered pages and their scripts, served by the same process."""
