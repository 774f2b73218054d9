"""The package's own data files (profiles, analytes, codes, equations), read on first use.

``tomllib`` and ``importlib.resources`` are imported here, when a file is first read, not at
``import b12labs``: every caller caches what it reads.
"""

from __future__ import annotations

from typing import Any


def read_bytes(name: str) -> bytes:
    """The bytes of the package file ``name`` (a path inside ``b12labs``)."""
    from importlib import resources

    return resources.files("b12labs").joinpath(name).read_bytes()


def read_toml(name: str) -> dict[str, Any]:
    """The package TOML file ``name`` (a path inside ``b12labs``), parsed."""
    import tomllib

    return tomllib.loads(read_bytes(name).decode("utf-8"))
