"""Reports: the public transparency report (and, later, exports such as CAP and EIDO)."""
