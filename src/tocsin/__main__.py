"""``python -m tocsin`` runs the command-line interface."""

from tocsin.cli import main

main()
