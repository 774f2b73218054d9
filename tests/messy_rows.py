"""Messy rows shared by the engine-front tests (polars, DuckDB): one pool per column.

Cells are cycled through pools of different lengths so that rows mix them: censored and
unit-carrying texts, thousands separators, no-result words, junk, blanks, an unknown unit,
a header unit, a text column whose cells carry units, context columns.
"""

from __future__ import annotations

from typing import Any

import b12labs

SYMPTOMS = [s.value for s in b12labs.Symptom]

POOLS: dict[str, list[Any]] = {
    "Vitamin B12": [
        *("<50 pmol/L", "1,234", "N/A", "see lab", "", "350", None, "> 2000", " 250 "),
        *("150 pmol/L", "-nan", "0,45", "180 ng/L", "pending", "95"),
    ],
    "B12 unit": ["pg/mL", "pmol/L", None, "ng/L", "bananas", "pmol/l", "pg/mL"],
    "MMA (umol/L)": [0.5, 0.2, None, 0.31, 0.9, 0.05, 0.45, 0.38],
    "Homocysteine": ["15 umol/L", "N/A", "8.5 µmol/L", None, "abc", "22 umol/L", "12"],
    "Age": [70.0, 30.0, None, 66.0, 17.0, 45.0, 90.0, 64.0, 52.0],
    "Sex": ["F", "M", "female", None, "x", "male"],
    "eGFR": [90.0, 25.0, None, 59.0, 110.0],
    "N2O exposure": ["yes", "no", None, "maybe", "1", "Y", ""],
    "Symptoms": [f"{SYMPTOMS[2]}; {SYMPTOMS[3]}", "none", "", None, SYMPTOMS[0], "bogus"],
}
ROWS = 120


def messy(n: int = ROWS) -> dict[str, list[Any]]:
    """``n`` rows of the pools, with an id column first."""
    data: dict[str, list[Any]] = {"id": list(range(n))}
    for name, pool in POOLS.items():
        data[name] = [pool[i % len(pool)] for i in range(n)]
    return data


def kind(name: str, cells: list[Any]) -> str:
    """A column's kind, from its whole pool (drawn rows may all be None)."""
    kinds = {type(c) for c in POOLS.get(name, cells) if c is not None}
    return "int" if kinds == {int} else "float" if kinds <= {float} else "text"
