"""`python -m tuneloop` runs the CLI."""

from tuneloop.cli import app

app()
