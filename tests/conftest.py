"""Shared test configuration: hypothesis settings, the NHANES data folder, and a child
interpreter in which an optional dependency is missing."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from b12labs._models import MISSING_TOKENS

# The machine is shared and noisy: no per-example deadline; CI gets a fixed seed database-free
# run so a failure is reproducible from its printed example.
settings.register_profile(
    "default",
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci", parent=settings.get_profile("default"), derandomize=True, database=None
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

ROOT = Path(__file__).resolve().parents[1]

#: Canonical unit of each marker (decision-spec section 1), written out independently of the
#: library so that tests do not read their expectations back from it.
CANONICAL = {
    "b12": "pmol/L",
    "holotc": "pmol/L",
    "mma": "umol/L",
    "hcy": "umol/L",
    "folate": "nmol/L",
}
#: Realistic result ranges in canonical units for generated panels (inside each analyte's
#: plausible range in analytes.toml).
RANGES = {
    "b12": (30.0, 3000.0),
    "holotc": (1.0, 300.0),
    "mma": (0.05, 5.0),
    "hcy": (2.0, 150.0),
    "folate": (1.0, 100.0),
}


def nhanes_dir() -> Path:
    """The NHANES folder: $B12LABS_NHANES_DIR, else ../shared/data/nhanes beside the project."""
    env = os.environ.get("B12LABS_NHANES_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "data" / "nhanes"


@pytest.fixture(scope="session")
def nhanes() -> Path:
    """The NHANES data folder; skips (with the reason printed by -ra) when it is absent."""
    folder = nhanes_dir()
    if not folder.is_dir():
        pytest.skip(f"NHANES data folder not found at {folder} (set B12LABS_NHANES_DIR)")
    return folder


def is_missing(cell: Any) -> bool:
    """A batch cell that means "no result": None, NaN, pd.NA and the no-result texts
    (compared trimmed, lower-cased), written out for the tests' own row-by-row reading."""
    if isinstance(cell, str):
        return cell.strip().lower() in MISSING_TOKENS
    if cell is None or type(cell).__name__ == "NAType":  # pd.NA, without importing pandas
        return True
    return isinstance(cell, float | np.floating) and math.isnan(cell)


def case(
    panel: dict[str, Any],
    status: Any,
    findings: tuple[str, ...] = (),
    steps: tuple[str, ...] = (),
    absent: tuple[str, ...] = (),
    *,
    id: str,
) -> Any:
    """One row of a status-rule table: a panel, the status the spec gives, the finding and
    next-step codes that must explain it, and codes that must not appear."""
    return pytest.param(panel, status, findings, steps, absent, id=id)


# ----------------------------------------------------------------------------- install hint

_BLOCK = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):  # as if {name} were not installed
    def find_spec(self, fullname, path=None, target=None):
        if fullname == {name!r} or fullname.startswith({name!r} + "."):
            raise ModuleNotFoundError(f"No module named {{fullname!r}}", name=fullname)
        return None

sys.meta_path.insert(0, Block())
"""


def run_without(missing: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) in a fresh interpreter in which the module ``missing`` and its
    submodules cannot be imported, as if it were not installed."""
    script = _BLOCK.format(name=missing) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


def import_without(missing: str, module: str) -> subprocess.CompletedProcess[str]:
    """``import b12labs`` then ``import <module>`` with ``missing`` blocked (:func:`run_without`).

    The child checks that the ``ModuleNotFoundError`` raised chains the original one, prints
    the error's module name and text, and exits with "no ImportError" if none was raised."""
    return run_without(
        missing,
        f"""
        import b12labs
        try:
            import {module}
        except ModuleNotFoundError as error:
            assert isinstance(error.__cause__, ModuleNotFoundError), repr(error.__cause__)
            print(error.name, error)
        else:
            raise SystemExit("no ImportError")
        """,
    )
