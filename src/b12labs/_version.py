"""Single source of the package version (read by hatchling and by results)."""

__version__ = "0.1.0"
