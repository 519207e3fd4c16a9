"""Coverage-guided fuzzing of tocsin's wire-format parsers (atheris); see ``fuzz/README.md``."""
