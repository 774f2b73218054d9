"""Messy rows shared by the engine-front tests (polars, DuckDB): one pool per column.

Cells are cycled through pools of different lengths so that rows mix them: censored and
unit-carrying texts, thousands separators, no-result words, junk, blanks, an unknown unit,
a header unit, a text column whose cells carry units, context columns.

The fronts' expected results come from ``b12labs.pandas.interpret_frame`` on the same rows
(:func:`expected_results`), compared row by row with :func:`assert_same_results`; a generated
row is compared with ``b12labs.interpret`` on it by :func:`assert_row_is_scalar`. pandas is
imported when they are called: the test modules skip first when it is missing.
"""

from __future__ import annotations

import math
from typing import Any

import b12labs
from b12labs import B12LabsError

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


def pandas_frame(data: dict[str, list[Any]]) -> Any:
    """The rows as a pandas DataFrame, each column in the dtype of its :func:`kind`."""
    import pandas as pd

    types = {"int": "int64", "float": "float64", "text": object}
    return pd.DataFrame({n: pd.Series(c, dtype=types[kind(n, c)]) for n, c in data.items()})


def _missing(cell: Any) -> bool:
    import pandas as pd

    return cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell))


def expected_results(data: dict[str, list[Any]], **options: Any) -> dict[str, list[Any]]:
    """The b12labs_ columns ``interpret_frame`` gives the rows, as Python values (None
    missing)."""
    from b12labs.pandas import interpret_frame

    out = interpret_frame(pandas_frame(data), **options)
    return {
        name: [None if _missing(c) else c for c in out[name].astype(object).tolist()]
        for name in out.columns
        if str(name).startswith("b12labs_")
    }


def assert_same_results(
    got: dict[str, list[Any]], expected: dict[str, list[Any]], *, extra_null: bool = False
) -> None:
    """Status, values, categories, codes, findings, next steps, error text: row by row.

    ``extra_null``: ``got`` may hold more fields (the SQL function's every result field),
    all NULL."""
    if extra_null:
        for name in set(got) - set(expected):
            assert all(cell is None for cell in got[name]), name
        got = {name: got[name] for name in expected}
    assert list(got) == list(expected)
    for name, cells in expected.items():
        assert len(got[name]) == len(cells), name
        for row, (have, want) in enumerate(zip(got[name], cells, strict=True)):
            where = (name, row, have, want)
            if want is None:
                assert have is None, where
            elif isinstance(want, float):
                assert isinstance(have, float), where
                assert math.isclose(have, want, rel_tol=1e-12, abs_tol=0.0), where
            else:
                assert str(have) == str(want), where


def assert_reaches_every_kind(expected: dict[str, list[Any]]) -> None:
    """The pools reach every kind of row: results, row errors, and insufficient data."""
    assert any(e == "" for e in expected["b12labs_error"])
    assert any(e and e.startswith("invalid_value:") for e in expected["b12labs_error"])
    assert any(e and e.startswith("unknown_unit:") for e in expected["b12labs_error"])
    assert len(set(expected["b12labs_status"]) - {None}) >= 3


def scalar(**kwargs: Any) -> tuple[Any, B12LabsError | None]:
    """``b12labs.interpret(**kwargs)`` and None, or None and the error it raised."""
    try:
        return b12labs.interpret(**kwargs), None
    except B12LabsError as error:
        return None, error


def assert_row_is_scalar(out: Any, pos: int, panel: dict[str, Any], *, fhir: bool = False) -> None:
    """Row ``pos`` of the b12labs_ columns ``out`` is exactly ``b12labs.interpret(**panel)``:
    its error code and message, or its status, B12 category (``fhir``: and FHIR code) and
    value, findings and next steps."""
    from b12labs.pandas import ERROR_CODES

    result, error = scalar(**panel)
    if error is not None:
        code, _, message = out["b12labs_error"][pos].partition(": ")
        assert ERROR_CODES[code] is type(error)
        assert message == error.message
        return
    assert out["b12labs_error"][pos] == ""
    assert out["b12labs_status"][pos] == result.status.value
    assert out["b12labs_b12_category"][pos] == result.markers["b12"].category.value
    if fhir:
        assert out["b12labs_b12_fhir"][pos] == result.markers["b12"].interpretation_code.value
    assert math.isclose(out["b12labs_b12_value"][pos], result.markers["b12"].value)
    findings = out["b12labs_findings"][pos]
    assert tuple(findings.split(";") if findings else ()) == result.finding_codes
    steps = out["b12labs_next_steps"][pos]
    assert tuple(steps.split(";") if steps else ()) == result.next_step_codes
