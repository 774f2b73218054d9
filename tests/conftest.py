"""Shared test configuration: hypothesis settings and the NHANES data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

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
