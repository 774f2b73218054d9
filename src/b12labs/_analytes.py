"""Analyte metadata (canonical unit, molar mass, LOINC, plausible range) read from data.

The numbers live in ``_data/analytes.toml`` with their sources; this module only loads and
validates them once.
"""

from __future__ import annotations

import functools
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._data_files import read_toml

__all__ = ["MARKERS", "Analyte", "AnalyteInfo", "analyte_info"]


class Analyte(StrEnum):
    """The five B12-status markers b12labs interprets."""

    B12 = "b12"
    HOLOTC = "holotc"
    MMA = "mma"
    HCY = "hcy"
    FOLATE = "folate"


#: Marker keys in the order results list them.
MARKERS: tuple[Analyte, ...] = tuple(Analyte)


class AnalyteInfo(BaseModel):
    """What b12labs knows about one analyte (from ``_data/analytes.toml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    key: str
    name: str
    canonical_unit: str
    molar_mass: float | None = Field(
        default=None, gt=0, description="g/mol; None: molar units only"
    )
    loinc: tuple[str, ...] = ()
    plausible_min: float = Field(ge=0)
    plausible_max: float = Field(gt=0)
    check_unit_above: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _range_is_ordered(self) -> AnalyteInfo:
        if self.plausible_min >= self.plausible_max:
            raise ValueError(f"{self.key}: plausible_min must be below plausible_max")
        return self


@functools.cache
def _all_info() -> dict[str, AnalyteInfo]:
    raw = read_toml("_data/analytes.toml")
    return {key: AnalyteInfo(key=key, **body) for key, body in raw.items()}


def analyte_info(key: str) -> AnalyteInfo:
    """Return the metadata of ``key`` (a marker or ``"creatinine"``)."""
    try:
        return _all_info()[key]
    except (KeyError, TypeError):  # TypeError: an unhashable key
        from ._exceptions import InvalidValueError, brief

        known = ", ".join(_all_info())
        raise InvalidValueError(
            f"unknown analyte {brief(key)}; known analytes: {known}",
            analyte=key if isinstance(key, str) else None,
            value=key,
        ) from None
