"""Who may do what: roles, permissions and bearer tokens."""
