"""``python -m b12labs``: the command line."""

from .cli import run

run()
