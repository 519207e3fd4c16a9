"""Helpers private to the package; nothing outside ``tocsin`` may import them."""
