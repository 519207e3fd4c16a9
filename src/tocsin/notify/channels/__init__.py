"""One module per notification channel."""
