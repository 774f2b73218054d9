"""Batch scoring with pandas (``b12labs.pandas``): every row is ``interpret()`` on that row.

The issue defines ``interpret_frame`` as identical to the single-panel call, so every expected
value here comes from ``b12labs.interpret()`` on the row or from the issue text, never from
the batch output itself. A batch row becomes a scalar call like this:

* a marker (or creatinine) text cell is passed as text, with the row's unit appended when the
  text has no unit of its own (``"<50"`` + unit ``"pg/mL"`` -> ``"<50 pg/mL"``); a numeric
  cell becomes ``(value, unit)`` (the bare number when the row has no unit at all);
* the row's unit is the first of: the row's unit-column cell, ``units=``, the header unit;
* missing cells (None, NaN, pd.NA, the no-result texts of ``MISSING_TOKENS``) give None;
* age and eGFR cells become floats (text that is not a number is passed as text), sex is
  passed as the same text, pregnant yes/no/true/false/1/0 becomes a bool.

Bad rows must carry ``"<reason code>: <message>"`` where ``ERROR_CODES[reason code]`` is
exactly the type the scalar call raises and the message is the scalar message.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import textwrap
from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import b12labs
from b12labs import B12LabsError, ColumnError
from b12labs._analytes import analyte_info
from b12labs._equations import equation_constants
from b12labs._models import MEASUREMENT_PATTERN
from b12labs._profile import compiled
from conftest import is_missing, run_without

pd = pytest.importorskip("pandas")
PA = pytest.importorskip("pyarrow")
bpd = pytest.importorskip("b12labs.pandas")  # registers the df.b12labs accessor
ERROR_CODES = bpd.ERROR_CODES
interpret_frame = bpd.interpret_frame

PROFILES = b12labs.list_profiles()
MARKERS = ("b12", "holotc", "mma", "hcy", "folate")
MEASURED = (*MARKERS, "creatinine")
CONTEXT = ("age", "sex", "pregnant", "egfr")
STATUSES = {s.value for s in b12labs.Status}
REL = 1e-9

# ----------------------------------------------------------------------------- reference


_MEASUREMENT = re.compile(MEASUREMENT_PATTERN, re.DOTALL)
_TRUE_TEXT = frozenset({"yes", "true", "1"})
_FALSE_TEXT = frozenset({"no", "false", "0"})


def has_own_unit(text: str) -> bool:
    """Text after the number, as the scalar parser splits it ("0,45" keeps ",45")."""
    match = _MEASUREMENT.match(text.strip())
    return match is not None and bool(match["unit"].strip())


def gives_a_unit(text: str) -> bool:
    """A cell that writes a unit; a decimal comma ("0,45" -> ",45") is not one."""
    match = _MEASUREMENT.match(text.strip())
    return match is not None and bool(match["unit"].strip()) and not match["unit"].startswith(",")


def scalar_measurement(cell: Any, unit: str | None) -> Any:
    if is_missing(cell):
        return None
    if isinstance(cell, str):
        if unit is None or has_own_unit(cell):
            return cell
        return f"{cell.strip()} {unit}"
    number = cell if isinstance(cell, bool) else float(cell)  # a bool is not a number
    return number if unit is None else (number, unit)


def scalar_number(cell: Any) -> Any:
    if is_missing(cell):
        return None
    if isinstance(cell, bool):  # not a number: the scalar check rejects it
        return cell
    if isinstance(cell, str):
        text = cell.strip()
        if re.fullmatch(r"[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]*)?", text):
            text = text.replace(",", "")  # thousands separators, as exports write them
        try:
            return float(text)
        except ValueError:
            return cell
    return float(cell)


def scalar_sex(cell: Any) -> Any:
    return None if is_missing(cell) else cell


def scalar_pregnant(cell: Any) -> Any:
    if is_missing(cell):
        return None
    if isinstance(cell, bool | np.bool_):
        return bool(cell)
    if isinstance(cell, str):
        text = cell.strip().lower()
        if text in _TRUE_TEXT:
            return True
        if text in _FALSE_TEXT:
            return False
        return cell
    if cell == 1:
        return True
    if cell == 0:
        return False
    return cell


@dataclass
class Layout:
    """How the test reads a frame: value column, unit column, units= and header unit."""

    value: dict[str, Hashable] = field(default_factory=dict)
    unit_column: dict[str, Hashable] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)
    header: dict[str, str] = field(default_factory=dict)


def row_kwargs(df: Any, layout: Layout, pos: int) -> dict[str, Any]:
    """The keyword arguments of the scalar call for the row at position ``pos``."""
    kwargs: dict[str, Any] = {}
    for key, label in layout.value.items():
        cell = df[label].iat[pos]
        if isinstance(cell, np.generic):  # numpy scalars of numeric columns: the Python value
            cell = cell.item()
        if key in MEASURED:
            unit = None
            if key in layout.unit_column:
                unit_cell = df[layout.unit_column[key]].iat[pos]
                if not is_missing(unit_cell):
                    unit = str(unit_cell).strip()
            unit = unit or layout.fixed.get(key) or layout.header.get(key)
            kwargs[key] = scalar_measurement(cell, unit)
        elif key in ("age", "egfr"):
            kwargs[key] = scalar_number(cell)
        elif key == "sex":
            kwargs[key] = scalar_sex(cell)
        else:
            kwargs[key] = scalar_pregnant(cell)
    return kwargs


def scalar(kwargs: dict[str, Any], profile: str) -> tuple[Any, B12LabsError | None]:
    try:
        return b12labs.interpret(profile=profile, **kwargs), None
    except B12LabsError as error:
        return None, error


def _na(x: Any) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _codes(text: Any) -> tuple[str, ...]:
    assert not _na(text), "a good row needs a findings / next steps text (maybe empty)"
    return tuple(text.split(";")) if text else ()


def _close(got: Any, expected: float | None) -> bool:
    if expected is None:
        return _na(got)
    return not _na(got) and math.isclose(got, expected, rel_tol=REL, abs_tol=0.0)


def assert_matches_scalar(df: Any, out: Any, layout: Layout, profile: str) -> list[Any]:
    """Check every output row against interpret() on that row; return the scalar errors."""
    n = len(df)
    assert len(out) == n
    assert out.index.equals(df.index)
    col = {c: out[c].astype(object).tolist() for c in out.columns if str(c).startswith("b12labs_")}
    markers = [m for m in MARKERS if m in layout.value]
    for m in MARKERS:
        present = {f"b12labs_{m}_{s}" for s in ("value", "category", "fhir")} <= col.keys()
        assert present == (m in markers), m
    errors: list[Any] = []
    for pos in range(n):
        kwargs = row_kwargs(df, layout, pos)
        result, error = scalar(kwargs, profile)
        errors.append(error)
        where = f"row {pos} (label {df.index[pos]!r}), scalar call {kwargs!r}, profile {profile}"
        got_error = col["b12labs_error"][pos]
        if error is not None:
            assert _na(col["b12labs_status"][pos]), (where, error, col["b12labs_status"][pos])
            code, sep, message = str(got_error).partition(": ")
            assert sep, (where, got_error)
            assert ERROR_CODES.get(code) is type(error), (where, got_error, repr(error))
            assert message == error.message, (where, got_error, error.message)
            for m in markers:
                assert _na(col[f"b12labs_{m}_category"][pos]), (where, m)
                assert _na(col[f"b12labs_{m}_value"][pos]), (where, m)
            continue
        assert got_error == "", (where, got_error)
        assert col["b12labs_status"][pos] == result.status.value, (where, result.status)
        for m in markers:
            assessment = result.markers.get(m)
            got = (
                col[f"b12labs_{m}_category"][pos],
                col[f"b12labs_{m}_fhir"][pos],
                col[f"b12labs_{m}_value"][pos],
            )
            if assessment is None:
                assert _na(got[0]), (where, m, got)
                assert _na(got[1]), (where, m, got)
                assert _na(got[2]), (where, m, got)
                continue
            assert got[0] == assessment.category.value, (where, m, got, assessment)
            assert got[1] == assessment.interpretation_code.value, (where, m, got, assessment)
            assert _close(got[2], assessment.value), (where, m, got, assessment)
        assert _codes(col["b12labs_findings"][pos]) == result.finding_codes, where
        assert _codes(col["b12labs_next_steps"][pos]) == result.next_step_codes, where
        assert _close(col["b12labs_cb12"][pos], result.cb12.value), (where, result.cb12)
        if "b12labs_cb12_band" in col:
            band = result.cb12.band
            assert (
                (col["b12labs_cb12_band"][pos] == band.value)
                if band
                else _na(col["b12labs_cb12_band"][pos])
            ), (where, result.cb12)
        if "b12labs_egfr" in col:
            assert _close(col["b12labs_egfr"][pos], result.patient.egfr), (where, result.patient)
    return errors


def names_label(message: str, label: Any) -> bool:
    """The message names the row label (as repr or str; numpy scalars as their value)."""
    plain = label.item() if isinstance(label, np.generic) else label
    return any(form in message for form in {repr(label), str(label), repr(plain), str(plain)})


def score(df: Any, layout: Layout, profile: str = "nice-ng239", **kwargs: Any) -> Any:
    """interpret_frame, checking that the input is untouched and comes first in the output."""
    before = df.copy(deep=True)
    out = interpret_frame(df, profile=profile, **kwargs)
    pd.testing.assert_frame_equal(df, before, check_exact=True)
    assert list(out.columns[: df.shape[1]]) == list(df.columns)
    # (integer labels next to the b12labs_ labels make an object column index: not a change)
    pd.testing.assert_frame_equal(
        out.iloc[:, : df.shape[1]], df, check_exact=True, check_column_type=False
    )
    assert all(str(c).startswith("b12labs_") for c in out.columns[df.shape[1] :])
    assert_matches_scalar(df, out, layout, profile)
    return out


# ----------------------------------------------------------------------------- strategies

# Spellings and names used by the generated frames: the issue's list of column names (with
# case, space and underscore variants) and units seen on reports (decision-spec section 1).
NAMES: dict[str, tuple[str, ...]] = {
    "b12": ("b12", "B12", "vitamin_b12", "Vitamin B12", "VITAMIN_B12", "cobalamin"),
    "holotc": ("holotc", "HoloTC", "active_b12", "Active B12"),
    "mma": ("mma", "MMA", "methylmalonic acid", "Methylmalonic_Acid"),
    "hcy": ("hcy", "tHcy", "homocysteine", "Homocysteine"),
    "folate": ("folate", "Folate"),
    "creatinine": ("creatinine", "Creatinine"),
    "age": ("age", "Age", "AGE"),
    "sex": ("sex", "Sex"),
    "pregnant": ("pregnant", "Pregnant"),
    "egfr": ("egfr", "eGFR"),
}
UNITS: dict[str, tuple[str, ...]] = {
    "b12": ("pg/mL", "pmol/L", "ng/L", "PG/ML", "pmol/l"),
    "holotc": ("pmol/L", "PMOL/L"),
    "mma": ("umol/L", "nmol/L", "µmol/L"),
    "hcy": ("umol/L", "μmol/L", "mg/L"),
    "folate": ("nmol/L", "ng/mL", "ug/L"),
    "creatinine": ("mg/dL", "umol/L"),
}
BAD_UNITS = ("bananas", "kg", "%", "mg/dL")  # unknown; not a concentration; holoTC mass unit
CANONICAL = {key: analyte_info(key).canonical_unit for key in MEASURED}
# Realistic values in canonical units (inside each analyte's plausible range).
RANGES = {
    "b12": (20.0, 3000.0),
    "holotc": (1.0, 300.0),
    "mma": (0.05, 5.0),
    "hcy": (2.0, 150.0),
    "folate": (1.0, 100.0),
    "creatinine": (0.3, 13.7),
}
MISSING_CELLS = (None, np.nan, pd.NA, "", "  ", "N/A", "n/a", " NA ", "pending", "Pending")
MISSING_CELLS += ("hemolysed", "Haemolyzed", "-", "not done", "QNS", "see comment", "nan")
JUNK = ("abc", "0,45", "-5", "1..2", "<", ">>5", "positive", "5 6", "1,2345", "12,5 pg/mL")
CENSORS = ("<", ">", "<=", ">=", "≤", "≥", "=<", "=>")


def _profile_thresholds() -> dict[str, set[tuple[float, str]]]:
    """Every marker threshold of every shipped profile, in its own unit."""
    found: dict[str, set[tuple[float, str]]] = {key: set() for key in MEASURED}
    for pid in PROFILES:
        cp = compiled(pid)
        for key in ("b12", "holotc", "hcy", "folate"):
            found[key].update((t.value, t.unit) for t in cp.cuts_for(key).thresholds)
        for cuts in cp.mma_bands:
            found["mma"].update((t.value, t.unit) for t in cuts.thresholds)
    for key in MEASURED:
        info = analyte_info(key)
        found[key].update(
            {(info.plausible_min, CANONICAL[key]), (info.plausible_max, CANONICAL[key])}
        )
    return found


def _context_thresholds() -> dict[str, list[float]]:
    ages = {0.0, 130.0, float(equation_constants()["ckd_epi_2021"]["min_age"])}
    egfrs = {0.0, 250.0}
    for pid in PROFILES:
        cp = compiled(pid)
        ages.update(a for a in cp.mma_ages if math.isfinite(a))
        if cp.applies_from_age is not None:
            ages.update(t.value for t in cp.applies_from_age.thresholds)
        egfrs.update(t.value for t in cp.renal.thresholds)
    return {"age": sorted(ages), "egfr": sorted(egfrs)}


THRESHOLDS = _profile_thresholds()
CONTEXT_THRESHOLDS = _context_thresholds()


def _convert(value: float, from_unit: str, to_unit: str, key: str) -> float:
    return b12labs.convert(value, from_unit, to_unit, analyte=key)


def _same_unit(key: str, a: str, b: str) -> bool:
    return _convert(1.0, a, b, key) == 1.0


@st.composite
def values_in(draw: st.DrawFn, key: str, unit: str) -> float:
    """A value of ``key`` in ``unit``: a profile threshold (exact when in the threshold's own
    unit), a plausible-range limit, or a random realistic value."""
    exact = [v for v, u in THRESHOLDS[key] if _same_unit(key, u, unit)]
    converted = [_convert(v, u, unit, key) for v, u in THRESHOLDS[key]]
    lo, hi = RANGES[key]
    random_value = st.floats(lo, hi).map(lambda x: _convert(x, CANONICAL[key], unit, key))
    options = [random_value, st.sampled_from(converted)]
    if exact:
        options.append(st.sampled_from(exact))
    return draw(st.one_of(options))


def number_text(draw: st.DrawFn, value: float) -> str:
    style = draw(st.sampled_from(("repr", "g", "comma", "fixed")))
    text = {
        "repr": repr(value),
        "g": f"{value:g}",
        "comma": f"{value:,}",
        "fixed": f"{value:.2f}",
    }[style]
    if draw(st.booleans()):
        text = draw(st.sampled_from(CENSORS)) + draw(st.sampled_from(("", " "))) + text
    pad = st.sampled_from(("", " ", "  ", "\t"))
    return draw(pad) + text + draw(pad)


@st.composite
def measured_cell(draw: st.DrawFn, key: str, unit: str | None, clean: bool) -> Any:
    """A cell of a marker / creatinine column for a row whose unit (if any) is ``unit``;
    ``clean`` leaves out junk and implausible values."""
    kinds: tuple[str, ...] = ("missing", "number", "number", "text", "text", "own_unit")
    if clean and unit is None:
        kinds = ("missing", "own_unit", "own_unit")
    kind = draw(st.sampled_from(kinds if clean else (*kinds, "junk", "implausible")))
    usable = unit if unit in UNITS[key] else draw(st.sampled_from(UNITS[key]))
    if kind == "missing":
        return draw(st.sampled_from(MISSING_CELLS))
    if kind == "number":
        return draw(values_in(key, usable))
    if kind == "text":
        return number_text(draw, draw(values_in(key, usable)))
    if kind == "own_unit":
        own = draw(st.sampled_from(UNITS[key]))
        text = number_text(draw, draw(values_in(key, own)))
        return text.rstrip() + draw(st.sampled_from((" ", "", "  "))) + own
    if kind == "junk":
        pad = st.sampled_from(("", " ", "  "))
        return draw(pad) + draw(st.sampled_from(JUNK)) + draw(pad)
    bad = draw(st.sampled_from((0.0, -5.0, 1e-9, 1e12, math.inf)))
    return repr(bad) if draw(st.booleans()) and math.isfinite(bad) else bad


AGE_TEXT = (" 70 ", "65", "16.0", "1e2", "old", "70 years", "n.k.", "131")
EGFR_TEXT = ("45", " 90.5 ", "low", ">90", "251")
SEX_CELLS = ("f", "m", "F", "Male", " female ", "FEMALE", None, "", "N/A")
PREGNANT_CELLS = (True, False, "yes", "no", "TRUE", "false", "1", "0", " Yes ", None, "N/A")
BAD_SEX = ("x", "unknown", "2")
BAD_PREGNANT = ("maybe", "2", "pregnant")


@st.composite
def context_cell(draw: st.DrawFn, key: str, clean: bool) -> Any:
    if key in ("sex", "pregnant"):
        good, bad = (SEX_CELLS, BAD_SEX) if key == "sex" else (PREGNANT_CELLS, BAD_PREGNANT)
        return draw(st.sampled_from(good if clean else good + bad))
    info = analyte_info(key)
    kinds = ("threshold", "threshold", "random", "missing")
    kind = draw(st.sampled_from(kinds if clean else (*kinds, "text", "out")))
    if kind == "threshold":
        return draw(st.sampled_from(CONTEXT_THRESHOLDS[key]))
    if kind == "random":
        return draw(st.floats(info.plausible_min, info.plausible_max))
    if kind == "missing":
        return draw(st.sampled_from((None, np.nan, "", "N/A")))
    if kind == "text":
        return draw(st.sampled_from(AGE_TEXT if key == "age" else EGFR_TEXT))
    return draw(st.sampled_from((-1.0, info.plausible_max + 0.5, 1000.0)))


def _series(draw: st.DrawFn, cells: list[Any]) -> Any:
    """A column of ``cells`` in a dtype that can hold them (numpy, nullable or pyarrow)."""
    options: list[Any] = ["object", "infer"]
    values = [c for c in cells if not is_missing(c) or isinstance(c, str)]
    if all(isinstance(c, float) and not isinstance(c, bool) for c in values):
        options += ["float64", "Float64", "double[pyarrow]"]
        if any(c is pd.NA for c in cells):
            options.remove("float64")
    elif all(isinstance(c, str) for c in values):
        options += ["string", "string[pyarrow]"]
    choice = draw(st.sampled_from(options))
    if choice == "float64":
        return pd.Series([np.nan if is_missing(c) else c for c in cells], dtype="float64")
    if choice in ("Float64", "double[pyarrow]"):
        return pd.Series([None if is_missing(c) else c for c in cells], dtype=choice)
    if choice in ("string", "string[pyarrow]"):
        return pd.Series([None if c is None or c is pd.NA else c for c in cells], dtype=choice)
    if choice == "infer":
        return pd.Series(cells)
    return pd.Series(cells, dtype=object)


def no_unit_for_numbers(series: Any, has_unit_column: bool, default: str | None) -> bool:
    """The ColumnError of a value column, decided by the schema alone (row locality): a
    column of numbers (a numeric or boolean dtype) with no unit in the header, units= or a
    unit column. A text column without a unit gives each row with a result its own error."""
    if default is not None or has_unit_column:
        return False
    return bool(
        pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
    )


@dataclass
class Case:
    df: Any
    layout: Layout
    profile: str
    kwargs: dict[str, Any]
    column_error: bool


@st.composite
def frames(draw: st.DrawFn) -> Case:
    """A frame of 0-8 rows with some markers, context, unit sources and cell forms."""
    n = draw(st.integers(0, 8))
    keys = draw(st.lists(st.sampled_from(MARKERS), min_size=1, max_size=5, unique=True))
    keys += draw(st.lists(st.sampled_from(("creatinine", *CONTEXT)), max_size=5, unique=True))
    if draw(st.integers(0, 3)) == 0:  # the four cB12 inputs and age, in a random order
        keys = draw(st.permutations(sorted({*keys, "holotc", "b12", "mma", "hcy", "age"})))
    layout = Layout()
    columns: dict[str, Any] = {}
    mapping: dict[str, Hashable] = {}
    units: dict[str, str] = {}
    column_error = False
    clean = draw(st.booleans())  # a clean frame: no junk, no bad unit, no missing unit
    for i, key in enumerate(keys):
        explicit = draw(st.integers(0, 4)) == 0
        name = f"col_{i}" if explicit else draw(st.sampled_from(NAMES[key]))
        if key not in MEASURED:
            cells = [draw(context_cell(key, clean)) for _ in range(n)]
            columns[name] = _series(draw, cells)
            layout.value[key] = name
            if explicit:
                mapping[key] = name
            continue
        mode = draw(st.sampled_from(("header", "units", "column", "column+header", "cell")))
        fixed = draw(st.sampled_from(UNITS[key]))
        label = name
        if mode in ("header", "column+header"):
            label = f"{name} ({fixed})" if draw(st.booleans()) else f"{name} [{fixed}]"
            layout.header[key] = fixed
        if mode == "units":
            units[key] = fixed
            layout.fixed[key] = fixed
        default = layout.fixed.get(key) or layout.header.get(key)
        row_units: list[Any] = [None] * n
        if mode.startswith("column"):
            unit_cells = st.one_of(
                st.sampled_from(UNITS[key]),
                st.sampled_from(UNITS[key]).map(lambda u: f" {u} "),
                st.sampled_from((None, "", "N/A") if default or not clean else UNITS[key]),
                st.sampled_from(UNITS[key] if clean else BAD_UNITS),
            )
            row_units = [draw(unit_cells) for _ in range(n)]
            unit_label = f"unit_{i}" if explicit else f"{name}_unit"
            columns[unit_label] = _series(draw, row_units)
            layout.unit_column[key] = unit_label
            if explicit:
                mapping[f"{key}_unit"] = unit_label
        cells = []
        for unit_cell in row_units:
            unit = None if is_missing(unit_cell) else str(unit_cell).strip()
            cells.append(draw(measured_cell(key, unit or default, clean)))
        columns[label] = _series(draw, cells)
        layout.value[key] = label
        if explicit:
            mapping[key] = label
        column_error = column_error or no_unit_for_numbers(
            columns[label], mode.startswith("column"), default
        )
    if draw(st.booleans()):
        columns["patient note"] = pd.Series([f"note {j}" for j in range(n)], dtype=object)
    df = pd.DataFrame(columns)
    index_kind = draw(st.sampled_from(("range", "duplicates", "strings", "reversed")))
    if index_kind == "duplicates":
        df.index = pd.Index(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    elif index_kind == "strings":
        df.index = pd.Index([f"p{j}" for j in range(n)])
    elif index_kind == "reversed":
        df.index = pd.RangeIndex(n, 0, -1) if n else pd.RangeIndex(0)
    kwargs: dict[str, Any] = {}
    if mapping:
        kwargs["columns"] = mapping
    if units:
        kwargs["units"] = units
    return Case(df, layout, draw(st.sampled_from(PROFILES)), kwargs, column_error)


# ----------------------------------------------------------------------------- properties


@settings(max_examples=100)
@given(case=frames())
def test_every_row_equals_the_scalar_call(case: Case):
    if case.column_error:
        before = case.df.copy(deep=True)
        with pytest.raises(ColumnError, match="unit"):
            interpret_frame(case.df, profile=case.profile, **case.kwargs)
        pd.testing.assert_frame_equal(case.df, before)
        return
    score(case.df, case.layout, case.profile, **case.kwargs)


@settings(max_examples=60)
@given(case=frames())
def test_errors_raise_stops_at_the_first_bad_row(case: Case):
    if case.column_error:
        return
    first = None
    for pos in range(len(case.df)):
        _, error = scalar(row_kwargs(case.df, case.layout, pos), case.profile)
        if error is not None:
            first = (pos, error)
            break
    before = case.df.copy(deep=True)
    if first is None:
        raised = interpret_frame(case.df, profile=case.profile, errors="raise", **case.kwargs)
        collected = interpret_frame(case.df, profile=case.profile, **case.kwargs)
        pd.testing.assert_frame_equal(raised, collected)
        return
    pos, error = first
    with pytest.raises(B12LabsError) as info:
        interpret_frame(case.df, profile=case.profile, errors="raise", **case.kwargs)
    pd.testing.assert_frame_equal(case.df, before)
    assert type(info.value) is type(error), (info.value, error)
    label = case.df.index[pos]
    assert names_label(str(info.value), label), (label, str(info.value))
    assert error.message in str(info.value)


# ----------------------------------------------------------------------------- import, API


def test_import_b12labs_does_not_import_pandas():
    code = textwrap.dedent(
        """
        import sys
        import b12labs
        b12labs.interpret(b12="150 pmol/L")
        heavy = sorted(m for m in ("pandas", "pyarrow") if m in sys.modules)
        assert not heavy, heavy
        frame = b12labs.interpret_frame  # the lazy alias imports b12labs.pandas
        import b12labs.pandas
        assert frame is b12labs.pandas.interpret_frame
        assert "pandas" in sys.modules
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("missing", ["pandas", "pyarrow"])
@pytest.mark.parametrize("how", ["import b12labs.pandas", "b12labs.interpret_frame"])
def test_batch_import_without_pandas_says_how_to_install(missing: str, how: str):
    done = run_without(
        missing,
        f"""
        import b12labs
        b12labs.interpret(b12="150 pmol/L")  # the single-panel API needs neither
        try:
            {how}
        except ImportError as error:
            assert type(error) is not ModuleNotFoundError or error.args[0] != (
                "No module named {missing!r}"
            ), "a bare ModuleNotFoundError"
            assert isinstance(error.__cause__, ModuleNotFoundError), repr(error.__cause__)
            print(error)
        else:
            raise SystemExit("no ImportError")
        """,
    )
    assert done.returncode == 0, done.stderr
    assert 'pip install "b12labs[pandas]"' in done.stdout
    assert missing in done.stdout


def test_lazy_alias_and_accessor_give_the_same_frame():
    assert b12labs.interpret_frame is interpret_frame
    df = pd.DataFrame({"B12 (pg/mL)": ["<50", "350", None], "mma": [0.5, 0.2, 0.3]})
    for profile in PROFILES:
        direct = interpret_frame(df, profile=profile, units={"mma": "umol/L"})
        via = df.b12labs.interpret(profile=profile, units={"mma": "umol/L"})
        pd.testing.assert_frame_equal(direct, via)
    layout = Layout(value={"b12": "B12 (pg/mL)", "mma": "mma"}, header={"b12": "pg/mL"})
    layout.fixed["mma"] = "umol/L"
    score(df, layout, units={"mma": "umol/L"})


def test_error_codes_are_the_scalar_exception_types():
    assert set(ERROR_CODES) >= {
        "unknown_unit",
        "incompatible_unit",
        "implausible_value",
        "invalid_value",
    }
    assert ERROR_CODES["unknown_unit"] is b12labs.UnknownUnitError
    assert ERROR_CODES["incompatible_unit"] is b12labs.IncompatibleUnitError
    assert ERROR_CODES["implausible_value"] is b12labs.ImplausibleValueError
    assert ERROR_CODES["invalid_value"] is b12labs.InvalidValueError
    assert len(set(ERROR_CODES.values())) == len(ERROR_CODES)


def test_bad_unknown_errors_argument():
    df = pd.DataFrame({"b12": ["150 pmol/L"]})
    with pytest.raises(ValueError, match="errors"):
        interpret_frame(df, errors="ignore")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- columns

ISSUE_NAMES = {
    "b12": "b12",
    "vitamin_b12": "b12",
    "Vitamin B12": "b12",
    "cobalamin": "b12",
    "mma": "mma",
    "methylmalonic acid": "mma",
    "hcy": "hcy",
    "homocysteine": "hcy",
    "tHcy": "hcy",
    "holotc": "holotc",
    "active_b12": "holotc",
    "folate": "folate",
}
VALUE_FOR = {
    "b12": ("250", "pmol/L"),
    "holotc": ("30", "pmol/L"),
    "mma": ("0.5", "umol/L"),
    "hcy": ("18", "umol/L"),
    "folate": ("10", "nmol/L"),
}


# case, space and underscore variants (the issue: these are ignored)
VARIANTS = {
    "VITAMIN_B12": "b12",
    "Methylmalonic_Acid": "mma",
    "THCY": "hcy",
    "Active B12": "holotc",
}


@pytest.mark.parametrize("name", [*ISSUE_NAMES, *VARIANTS])
def test_marker_names_of_the_issue_are_recognised(name: str):
    key = {**ISSUE_NAMES, **VARIANTS}[name]
    number, unit = VALUE_FOR[key]
    for label in (f"{name} ({unit})", f"{name} [{unit}]", f"  {name}  ({unit})"):
        df = pd.DataFrame({label: [number, f"<{number}", None]})
        out = score(df, Layout(value={key: label}, header={key: unit}))
        assert f"b12labs_{key}_category" in out.columns
        expected = b12labs.interpret(**{key: f"{number} {unit}"}).markers[key]
        assert out[f"b12labs_{key}_value"].iat[0] == pytest.approx(expected.value, rel=REL)


def test_the_issue_header_example_vitamin_b12_pg_per_ml():
    df = pd.DataFrame({"Vitamin B12 (pg/mL)": [350.0, 180.0, 914.0]})
    out = score(df, Layout(value={"b12": "Vitamin B12 (pg/mL)"}, header={"b12": "pg/mL"}))
    # 1 pg/mL = 1/1.35537 pmol/L (molar mass 1355.37 g/mol, analytes.toml)
    assert out["b12labs_b12_value"].tolist() == pytest.approx(
        [350 / 1.35537, 180 / 1.35537, 914 / 1.35537], rel=REL
    )
    # NICE NG239 (ng/L = pg/mL): < 180 low, 180-350 indeterminate, > 914 above reference
    assert out["b12labs_b12_category"].astype(str).tolist() == [
        "indeterminate",
        "indeterminate",
        "normal",
    ]


@pytest.mark.parametrize(
    ("name", "key", "cells"),
    [
        ("age", "age", [70.0, 15.0, None]),
        ("Age", "age", [65.0, 64.0, 30.0]),
        ("sex", "sex", ["female", "m", None]),
        ("pregnant", "pregnant", ["yes", "no", None]),
        ("egfr", "egfr", [30.0, 90.0, None]),
        ("eGFR", "egfr", [59.0, 60.0, 61.0]),
    ],
)
def test_context_names_of_the_issue_are_used(name: str, key: str, cells: list[Any]):
    df = pd.DataFrame({"b12 (pmol/L)": ["150", "150", "150"], "mma": ["0.44 umol/L"] * 3})
    df[name] = pd.Series(cells, dtype=object)
    layout = Layout(value={"b12": "b12 (pmol/L)", "mma": "mma", key: name})
    layout.header["b12"] = "pmol/L"
    out = score(df, layout)
    assert out["b12labs_error"].tolist() == ["", "", ""]


def test_creatinine_gives_egfr_like_the_scalar_call():
    df = pd.DataFrame(
        {
            "b12": ["150 pmol/L"] * 4,
            "creatinine": [1.9, 0.8, "<0.3", 2.5],
            "creatinine_unit": ["mg/dL", "mg/dL", "mg/dL", "mg/dL"],
            "age": [70, 40, 70, 15],
            "sex": ["f", "m", "f", "m"],
        }
    )
    layout = Layout(
        value={"b12": "b12", "creatinine": "creatinine", "age": "age", "sex": "sex"},
        unit_column={"creatinine": "creatinine_unit"},
    )
    out = score(df, layout)
    expected = b12labs.interpret(b12="150 pmol/L", creatinine="1.9 mg/dL", age=70, sex="f")
    assert expected.patient.egfr_source == "ckd-epi-2021"
    assert out["b12labs_egfr"].iat[0] == pytest.approx(expected.patient.egfr, rel=REL)
    assert math.isnan(out["b12labs_egfr"].iat[2])  # censored creatinine: no eGFR
    assert math.isnan(out["b12labs_egfr"].iat[3])  # under 18: no eGFR


@pytest.mark.parametrize("with_sex", [True, False])
def test_a_creatinine_without_egfr_gives_the_finding_like_the_scalar_call(with_sex: bool):
    # issue 10: a creatinine that gives no eGFR used to say nothing, in the batch and in
    # interpret(); both now add egfr_not_computed (score() compares every row to interpret())
    df = pd.DataFrame(
        {
            "b12": ["150 pmol/L"] * 6,
            "creatinine (mg/dL)": [1.9, "<0.3", 2.5, 1.0, None, 1.0],
            "age": [70, 70, 15, None, 70, 50],
            "sex": ["f", "f", "m", "m", "f", None],
            "egfr": [None, None, None, None, None, 80],
        }
    )
    if not with_sex:
        df = df.drop(columns="sex")
    layout = Layout(value={k: k for k in ("b12", "age", "egfr")}, header={"creatinine": "mg/dL"})
    layout.value["creatinine"] = "creatinine (mg/dL)"
    if with_sex:
        layout.value["sex"] = "sex"
    out = score(df, layout)
    flagged = ["egfr_not_computed" in f.split(";") for f in out["b12labs_findings"]]
    # computed; censored; under 18; no age; no creatinine; eGFR given
    assert flagged == ([False, True, True, True, False, False] if with_sex else
                       [True, True, True, True, False, False])  # fmt: skip


def test_columns_mapping_with_a_unit_column_key():
    df = pd.DataFrame(
        {
            "LBXB12": [300.0, 300.0, 100.0, np.nan],
            "B12 unit code": ["pg/mL", "pmol/L", "ng/mL", "pg/mL"],
            "LBXMMA": ["0.5", "<0.1", "pending", "1,234"],
            "x": [1, 2, 3, 4],
        }
    )
    columns = {"b12": "LBXB12", "b12_unit": "B12 unit code", "mma": "LBXMMA", "mma_unit": "x"}
    df["x"] = ["umol/L", "umol/L", "umol/L", "nmol/L"]
    layout = Layout(
        value={"b12": "LBXB12", "mma": "LBXMMA"},
        unit_column={"b12": "B12 unit code", "mma": "x"},
    )
    out = score(df, layout, columns=columns)
    assert out["b12labs_b12_value"].iat[0] == pytest.approx(300 / 1.35537, rel=REL)
    assert out["b12labs_b12_value"].iat[1] == pytest.approx(300.0, rel=REL)
    assert out["b12labs_mma_value"].iat[3] == pytest.approx(1.234, rel=REL)  # 1,234 nmol/L


def test_explicit_mapping_resolves_two_b12_columns():
    df = pd.DataFrame({"b12": ["150 pmol/L", "400 pmol/L"], "Vitamin B12 (pg/mL)": [200, 500]})
    score(df, Layout(value={"b12": "b12"}), columns={"b12": "b12"})
    chosen = Layout(value={"b12": "Vitamin B12 (pg/mL)"}, header={"b12": "pg/mL"})
    score(df, chosen, columns={"b12": "Vitamin B12 (pg/mL)"})


def test_unit_column_mixes_pg_per_ml_and_pmol_per_l():
    df = pd.DataFrame(
        {
            "b12": [300.0, 300.0, 150.0, 150.0, np.nan],
            "b12_unit": ["pg/mL", "pmol/L", "pg/mL", "pmol/L", "pmol/L"],
        }
    )
    layout = Layout(value={"b12": "b12"}, unit_column={"b12": "b12_unit"})
    for profile in PROFILES:
        out = score(df, layout, profile)
        values = out["b12labs_b12_value"].tolist()
        assert values[:4] == pytest.approx([300 / 1.35537, 300.0, 150 / 1.35537, 150.0], rel=REL)
        assert math.isnan(values[4])
    # text cells and unit column: "<50" + "pg/mL" is "<50 pg/mL"
    text = pd.DataFrame(
        {"B12": ["<50", " 350 ", "1,234", "> 2000"], "B12 unit": ["pg/mL"] * 2 + ["pmol/L"] * 2}
    )
    score(text, Layout(value={"b12": "B12"}, unit_column={"b12": "B12 unit"}))


def test_units_argument_gives_a_fixed_unit_per_analyte():
    df = pd.DataFrame({"b12": [150, 300], "mma": ["0.3", "<0.1"], "hcy": [12.0, 40.0]})
    units = {"b12": "pmol/L", "mma": "umol/L", "hcy": "umol/L"}
    layout = Layout(value={k: k for k in units}, fixed=dict(units))
    out = score(df, layout, units=units)
    assert out["b12labs_hcy_category"].astype(str).tolist() == ["normal", "intermediate"]
    # a unit written in the cell wins over units=
    cells = pd.DataFrame({"b12": ["300 pg/mL", "300"]})
    out = score(
        cells, Layout(value={"b12": "b12"}, fixed={"b12": "pmol/L"}), units={"b12": "pmol/L"}
    )
    assert out["b12labs_b12_value"].tolist() == pytest.approx([300 / 1.35537, 300.0], rel=REL)


def test_issue_value_texts_and_no_result_texts_are_missing_not_errors():
    cells = ["<50", "> 2000", " 350 ", "1,234", "", "N/A", "pending", "hemolysed", None, "nan"]
    df = pd.DataFrame({"B12 (pg/mL)": cells})
    out = score(df, Layout(value={"b12": "B12 (pg/mL)"}, header={"b12": "pg/mL"}))
    assert out["b12labs_error"].tolist() == [""] * len(cells)
    assert out["b12labs_status"].astype(str).tolist()[4:] == ["insufficient_data"] * 6
    # the scalar call agrees that these texts are missing
    for text in ("", "N/A", "pending", "hemolysed"):
        assert b12labs.interpret(b12=text).status == "insufficient_data"


# ----------------------------------------------------------------------------- ColumnError


def test_no_recognised_column_is_a_column_error():
    df = pd.DataFrame({"patient": [1, 2], "weight": [70, 80], "age": [40, 50]})
    with pytest.raises(ColumnError, match=r"columns=") as info:
        interpret_frame(df)
    assert "b12" in str(info.value)
    with pytest.raises(ColumnError):
        interpret_frame(pd.DataFrame())


def test_two_b12_columns_are_ambiguous():
    df = pd.DataFrame({"b12": ["150 pmol/L"], "Vitamin B12 (pg/mL)": [200]})
    with pytest.raises(ColumnError) as info:
        interpret_frame(df)
    message = str(info.value)
    assert "'b12'" in message
    assert "Vitamin B12 (pg/mL)" in message
    assert "columns=" in message


def test_duplicate_column_labels_are_a_column_error():
    df = pd.DataFrame([["150 pmol/L", "200 pmol/L"]], columns=["b12", "b12"])
    with pytest.raises(ColumnError, match="b12"):
        interpret_frame(df)


@pytest.mark.parametrize(
    "cells",
    [
        [150.0, 300.0],
        pd.array([150.0, None], dtype="Float64"),
        pd.array([None, None], dtype="Float64"),  # no value at all: the type decides
        [150, 300],
    ],
)
def test_a_column_of_numbers_with_no_unit_is_a_column_error(cells: Any):
    df = pd.DataFrame({"b12": cells, "age": [40, 50]})
    before = df.copy()
    with pytest.raises(ColumnError) as info:
        interpret_frame(df)
    message = str(info.value)
    assert "b12" in message
    # it says how to give a unit: header, units= or a unit column
    assert "units=" in message
    assert "(pmol/L)" in message or "header" in message
    assert "unit column" in message or "b12_unit" in message
    assert info.value.analyte == "b12"
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize(
    "cells", [["150", "300 pmol/L", None], pd.array(["150", "300 pmol/L", pd.NA], dtype="string")]
)
def test_a_text_cell_with_no_unit_is_its_rows_error(cells: Any):
    # row locality: the text column could carry units in its cells, so what is missing is
    # found in the data, and is each row's error (the one interpret() raises)
    df = pd.DataFrame({"b12": cells})
    out = interpret_frame(df)
    assert out["b12labs_error"].iloc[0] == row_error(scalar_error(b12="150"))
    assert "has no unit" in out["b12labs_error"].iloc[0]
    assert out["b12labs_error"].iloc[1:].tolist() == ["", ""]
    assert out["b12labs_status"].iloc[1] == b12labs.interpret(b12="300 pmol/L").status.value


def test_no_unit_is_never_guessed_from_magnitudes():
    # 0.3 would be ng/mL, 300 pg/mL, 150 pmol/L: each plausible in some unit; none is guessed
    for cells in ([0.3], [300.0], [150.0]):
        with pytest.raises(ColumnError, match="unit"):
            interpret_frame(pd.DataFrame({"b12": cells}))


def test_unknown_key_in_columns_is_a_column_error():
    df = pd.DataFrame({"b12": ["150 pmol/L"]})
    with pytest.raises(ColumnError, match="vitamin") as info:
        interpret_frame(df, columns={"vitamin": "b12"})
    assert "accepted" in str(info.value)


def test_columns_naming_a_missing_column_is_a_column_error():
    df = pd.DataFrame({"b12": ["150 pmol/L"]})
    with pytest.raises(ColumnError, match="LBXB12"):
        interpret_frame(df, columns={"b12": "LBXB12"})
    with pytest.raises(ColumnError, match="nope"):
        interpret_frame(df, columns={"b12": "b12", "b12_unit": "nope"})


def test_existing_result_columns_are_a_column_error():
    df = pd.DataFrame({"b12": ["150 pmol/L"]})
    scored = interpret_frame(df)
    with pytest.raises(ColumnError, match="b12labs_"):
        interpret_frame(scored)
    with pytest.raises(ColumnError, match="b12labs_"):
        scored.b12labs.interpret()
    with pytest.raises(ColumnError, match="b12labs_"):
        interpret_frame(pd.DataFrame({"b12": ["150 pmol/L"], "b12labs_note": ["x"]}))


def test_unknown_analyte_in_units_is_a_column_error():
    df = pd.DataFrame({"b12": [150.0]})
    with pytest.raises(ColumnError, match="units="):
        interpret_frame(df, units={"vitamin": "pmol/L"})


def test_an_unknown_unit_in_units_is_a_row_error_like_the_scalar_call():
    df = pd.DataFrame({"b12": [150.0, np.nan]})
    out = score(
        df, Layout(value={"b12": "b12"}, fixed={"b12": "bananas"}), units={"b12": "bananas"}
    )
    assert out["b12labs_error"].iat[0].startswith("unknown_unit: ")
    assert out["b12labs_error"].iat[1] == ""


# ----------------------------------------------------------------------------- errors


def test_bad_rows_keep_their_place_and_carry_the_scalar_error():
    df = pd.DataFrame(
        {
            "b12": ["150", "abc", "0.001", "150", "150", "-5", "150"],
            "b12_unit": ["pmol/L", "pmol/L", "pmol/L", "bananas", "kg", "pmol/L", "pmol/L"],
            "age": [40, 40, 40, 40, 40, 40, 200],
        },
        index=["a", "b", "c", "d", "e", "f", "g"],
    )
    layout = Layout(value={"b12": "b12", "age": "age"}, unit_column={"b12": "b12_unit"})
    out = score(df, layout)
    codes = [e.partition(":")[0] for e in out["b12labs_error"]]
    assert codes == [
        "",
        "invalid_value",
        "implausible_value",
        "unknown_unit",
        "incompatible_unit",
        "invalid_value",
        "implausible_value",
    ]
    assert out["b12labs_status"].isna().tolist() == [False] + [True] * 6


def test_errors_raise_names_the_row_label_and_raises_the_scalar_type():
    df = pd.DataFrame(
        {"b12": ["150 pmol/L", "150 pmol/L", "abc"], "age": [40, "old", 40]},
        index=["first", "second", "third"],
    )
    with pytest.raises(b12labs.InvalidValueError) as info:
        interpret_frame(df, errors="raise")
    with pytest.raises(b12labs.InvalidValueError) as scalar_info:
        b12labs.Panel(b12="150 pmol/L", age="old")
    assert type(info.value) is type(scalar_info.value)
    assert "'second'" in str(info.value)
    assert scalar_info.value.message in str(info.value)
    assert info.value.analyte == "age"


def test_errors_raise_with_duplicate_index_names_the_label():
    df = pd.DataFrame(
        {"b12": ["150 pmol/L", "150 bananas", "150 pmol/L"]}, index=pd.Index([7, 7, 7])
    )
    with pytest.raises(b12labs.UnknownUnitError) as info:
        interpret_frame(df, errors="raise")
    assert "7" in str(info.value)
    with pytest.raises(b12labs.UnknownUnitError) as scalar_info:
        b12labs.interpret(b12="150 bananas")
    assert scalar_info.value.message in str(info.value)


def test_pregnant_male_contradiction_is_a_row_error():
    df = pd.DataFrame(
        {"b12": ["150 pmol/L"] * 3, "sex": ["m", "f", "male"], "pregnant": ["yes", "yes", "no"]}
    )
    out = score(df, Layout(value={"b12": "b12", "sex": "sex", "pregnant": "pregnant"}))
    assert out["b12labs_error"].iat[0].startswith("invalid_value: ")
    assert out["b12labs_error"].iloc[1:].tolist() == ["", ""]


def test_first_error_follows_the_scalar_field_order():
    """A row with several problems reports the one the scalar call raises (Panel field
    order: markers, age, sex, pregnant, egfr, creatinine)."""
    df = pd.DataFrame(
        {
            "b12": ["150 pmol/L"] * 4,
            "creatinine": ["abc", "abc", "abc", "1 bananas"],
            "age": ["old", 40, 40, 200],
            "sex": ["f", "x", "f", "f"],
            "egfr": [60, 60, 500, 60],
        }
    )
    layout = Layout(value={k: k for k in ("b12", "creatinine", "age", "sex", "egfr")})
    score(df, layout)


def test_non_breaking_space_is_read_like_the_scalar_call():
    """A cell the scalar call rejects must not be accepted by the batch (and vice versa)."""
    df = pd.DataFrame({"b12": ["\u00a0150 pmol/L", "150\u00a0pmol/L", "\u00a0150"]})
    layout = Layout(value={"b12": "b12"}, fixed={"b12": "pmol/L"})
    score(df, layout, units={"b12": "pmol/L"})


# ----------------------------------------------------------------------------- shapes, dtypes


def test_output_columns_and_dtypes():
    df = pd.DataFrame(
        {
            "id": [3, 1, 2],
            "B12 (pmol/L)": ["150", "<50", "abc"],
            "mma [umol/L]": [0.5, 0.2, np.nan],
            "hcy": ["12 umol/L", None, "40 umol/L"],
            "age": [70, 30, 50],
        },
        index=pd.Index(["z", "y", "x"], name="patient"),
    )
    out = interpret_frame(df)
    assert list(out.columns[:5]) == list(df.columns)
    # the result columns, in order (docs/batch.md); no context column adds one
    assert list(out.columns[5:]) == [
        "b12labs_status",
        *(
            f"b12labs_{m}_{part}"
            for m in ("b12", "mma", "hcy")
            for part in ("value", "category", "fhir")
        ),
        "b12labs_cb12",
        "b12labs_findings",
        "b12labs_next_steps",
        "b12labs_error",
        "b12labs_rules_version",
    ]
    # the rules version describes the run: a plain integer on every row, error rows too
    assert out["b12labs_rules_version"].dtype.kind == "i"
    assert out["b12labs_rules_version"].tolist() == [2, 2, 2]
    assert out.attrs["b12labs"]["rules_version"] == 2
    assert out.index.equals(df.index)
    assert out.index.name == "patient"
    status = out["b12labs_status"]
    assert isinstance(status.dtype, pd.CategoricalDtype)
    assert set(status.cat.categories) == STATUSES
    for m in ("b12", "mma", "hcy"):
        assert out[f"b12labs_{m}_value"].dtype == np.float64
        assert isinstance(out[f"b12labs_{m}_category"].dtype, pd.CategoricalDtype)
        assert f"b12labs_{m}_fhir" in out.columns
    for m in ("holotc", "folate"):
        assert not any(c.startswith(f"b12labs_{m}_") for c in out.columns)
    for name in ("b12labs_cb12", "b12labs_findings", "b12labs_next_steps", "b12labs_error"):
        assert name in out.columns
    for dtype_in, dtype_out in zip(df.dtypes, out.dtypes.iloc[:5], strict=True):
        assert dtype_in == dtype_out
    layout = Layout(
        value={"b12": "B12 (pmol/L)", "mma": "mma [umol/L]", "hcy": "hcy", "age": "age"},
        header={"b12": "pmol/L", "mma": "umol/L"},
    )
    score(df, layout)


def test_empty_frames():
    for df in (
        pd.DataFrame({"b12": pd.Series([], dtype=float), "age": pd.Series([], dtype=float)}),
        pd.DataFrame({"B12 (pmol/L)": pd.Series([], dtype=object)}),
        pd.DataFrame({"b12": pd.Series([], dtype="string")}),
    ):
        out = interpret_frame(df, units={"b12": "pmol/L"})
        assert len(out) == 0
        assert list(out.columns[: df.shape[1]]) == list(df.columns)
        assert "b12labs_status" in out.columns
        assert "b12labs_error" in out.columns
    with pytest.raises(ColumnError):
        interpret_frame(pd.DataFrame(index=range(3)))


def test_single_row_equals_the_scalar_call():
    df = pd.DataFrame(
        {
            "holotc": ["45 pmol/L"],
            "b12": ["300 pmol/L"],
            "mma": ["0.3 umol/L"],
            "hcy": ["12 umol/L"],
            "folate": ["20 nmol/L"],
            "age": [50],
            "sex": ["female"],
            "pregnant": [False],
            "egfr": [80.0],
        }
    )
    layout = Layout(value={c: c for c in df.columns})
    for profile in PROFILES:
        out = score(df, layout, profile)
        expected = b12labs.interpret(
            holotc="45 pmol/L",
            b12="300 pmol/L",
            mma="0.3 umol/L",
            hcy="12 umol/L",
            folate="20 nmol/L",
            age=50.0,
            sex="female",
            pregnant=False,
            egfr=80.0,
            profile=profile,
        )
        assert expected.cb12.value is not None
        assert out["b12labs_cb12"].iat[0] == pytest.approx(expected.cb12.value, rel=REL)


@pytest.mark.parametrize(
    "index",
    [
        pd.Index([5, 5, 1, 5]),
        pd.Index(["a", "b", "a", "a"]),
        pd.MultiIndex.from_tuples([("x", 1), ("x", 1), ("y", 2), ("x", 1)]),
        pd.DatetimeIndex(["2024-01-01"] * 4),
        pd.RangeIndex(10, 2, -2),
    ],
)
def test_duplicate_and_unusual_indexes(index: Any):
    df = pd.DataFrame(
        {"b12": ["150 pmol/L", "abc", None, "<50 pg/mL"], "mma": [0.5, 0.2, 0.9, np.nan]},
        index=index,
    )
    out = score(
        df,
        Layout(value={"b12": "b12", "mma": "mma"}, fixed={"mma": "umol/L"}),
        units={"mma": "umol/L"},
    )
    assert out.index.equals(index)
    with pytest.raises(b12labs.InvalidValueError) as info:
        interpret_frame(df, errors="raise", units={"mma": "umol/L"})
    assert names_label(str(info.value), index[1]), str(info.value)


def test_pandas_nullable_and_arrow_dtypes():
    df = pd.DataFrame(
        {
            "b12": pd.array([150.0, pd.NA, 400.0, 90.0], dtype="Float64"),
            # units= fills the blank unit cell; the others agree with it (ng/L is pg/mL)
            "b12_unit": pd.array(["ng/L", "pmol/L", pd.NA, "pg/mL"], dtype="string"),
            "mma": pd.array(["0.5", pd.NA, "<0.1", "N/A"], dtype="string[pyarrow]"),
            "hcy": pd.array([12.0, None, 40.0, 8.0], dtype="double[pyarrow]"),
            "age": pd.array([70, pd.NA, 40, 16], dtype="Int64"),
            "sex": pd.Categorical(["f", None, "m", "f"]),
            "pregnant": pd.array([False, pd.NA, False, True], dtype="boolean"),
            "egfr": pd.array([pd.NA, 50, 90, pd.NA], dtype="Int64"),
        }
    )
    layout = Layout(
        value={k: k for k in ("b12", "mma", "hcy", "age", "sex", "pregnant", "egfr")},
        unit_column={"b12": "b12_unit"},
        fixed={"b12": "pg/mL", "mma": "umol/L", "hcy": "umol/L"},
    )
    out = score(df, layout, units={"b12": "pg/mL", "mma": "umol/L", "hcy": "umol/L"})
    assert out["b12labs_error"].tolist() == [""] * 4
    assert out["b12labs_b12_value"].iat[2] == pytest.approx(400 / 1.35537, rel=REL)


def test_categorical_and_integer_marker_columns():
    df = pd.DataFrame(
        {
            "b12": pd.Categorical(["150", "<50", "150", None]),
            "hcy": pd.array([12, 40, pd.NA, 8], dtype="Int64"),
            "folate": pd.array([10, 5, 3, 30], dtype="int64"),
        }
    )
    units = {"b12": "pmol/L", "hcy": "umol/L", "folate": "nmol/L"}
    score(df, Layout(value={k: k for k in units}, fixed=dict(units)), units=units)


def test_object_column_of_numbers_and_texts():
    df = pd.DataFrame({"b12": [150, 150.5, "<50", " 1,234 ", np.nan, pd.NA, None, "pmol"]})
    layout = Layout(value={"b12": "b12"}, fixed={"b12": "pmol/L"})
    score(df, layout, units={"b12": "pmol/L"})


def test_input_frame_is_never_modified():
    df = pd.DataFrame(
        {
            "Vitamin B12 (pg/mL)": ["<50", " 350 ", "abc", None],
            "mma": pd.array([0.5, pd.NA, 0.2, 0.3], dtype="Float64"),
            "age": [70, 30, 50, 20],
        },
        index=[3, 3, 1, 0],
    )
    before = df.copy(deep=True)
    columns_before, index_before = df.columns.copy(), df.index.copy()
    out = interpret_frame(df, units={"mma": "umol/L"})
    out.iloc[0, 0] = "changed"
    out["b12labs_status"] = None
    pd.testing.assert_frame_equal(df, before, check_exact=True)
    assert df.columns.equals(columns_before)
    assert df.index.equals(index_before)
    assert not hasattr(df, "b12labs_status")
    with pytest.raises(b12labs.InvalidValueError):
        interpret_frame(df, units={"mma": "umol/L"}, errors="raise")
    pd.testing.assert_frame_equal(df, before, check_exact=True)


# ----------------------------------------------------------------------------- NHANES


def _read_xpt(folder: Path, name: str) -> Any:
    path = folder / name
    if not path.is_file():
        pytest.skip(f"{name} not found in {folder}")
    return pd.read_sas(path, format="xport")


def test_nhanes_2003_2004_scored_with_every_profile(nhanes: Path):
    b12 = _read_xpt(nhanes, "L06NB_C.XPT")[["SEQN", "LBXB12"]]
    mh = _read_xpt(nhanes, "L06MH_C.XPT")[["SEQN", "LBXMMA", "LBXHCY"]]
    demo = _read_xpt(nhanes, "DEMO_C.XPT")[["SEQN", "RIDAGEYR", "RIAGENDR", "RIDEXPRG"]]
    labs = b12.merge(mh, on="SEQN", how="outer")
    df = labs.merge(demo, on="SEQN", how="left")
    # NHANES codes: RIAGENDR 1 male, 2 female; RIDEXPRG 1 = pregnant (2 not, 3 unknown)
    df["sex"] = df["RIAGENDR"].map({1.0: "male", 2.0: "female"})
    df["pregnant"] = pd.Series(
        np.where(df["RIDEXPRG"] == 1, "yes", np.where(df["RIDEXPRG"] == 2, "no", None)),
        dtype=object,
    )
    columns = {"b12": "LBXB12", "mma": "LBXMMA", "hcy": "LBXHCY", "age": "RIDAGEYR"}
    units = {"b12": "pg/mL", "mma": "umol/L", "hcy": "umol/L"}
    layout = Layout(
        value={**columns, "sex": "sex", "pregnant": "pregnant"},
        fixed=dict(units),
    )
    assert len(df) >= 9000
    before = df.copy(deep=True)
    rng = np.random.default_rng(2003)
    sample = np.sort(rng.choice(len(df), size=400, replace=False))
    lines = [f"NHANES 2003-2004 ({len(df)} rows: L06NB_C + L06MH_C + DEMO_C on SEQN)"]
    for profile in PROFILES:
        out = interpret_frame(df, profile=profile, columns=columns, units=units)
        pd.testing.assert_frame_equal(df, before)
        assert len(out) == len(df)
        assert out.index.equals(df.index)
        status = out["b12labs_status"]
        bad = (out["b12labs_error"] != "").to_numpy()
        counts = {str(k): int(v) for k, v in status.value_counts().items()}
        counts["row_error"] = int(bad.sum())
        line = f"  {profile}: {counts}"
        lines.append(line)
        print(line if len(lines) > 2 else f"\n{lines[0]}\n{line}")
        # every row: a status or a row error, never both, never neither
        assert (status.isna().to_numpy() == bad).all(), line
        assert sum(counts.values()) == len(df), line
        assert set(counts) <= {*STATUSES, "row_error"}, line
        for text in out.loc[bad, "b12labs_error"]:
            assert text.partition(": ")[0] in ERROR_CODES, (line, text)
        # a sample of rows against the scalar call
        assert_matches_scalar(df.iloc[sample], out.iloc[sample], layout, profile)


def test_nhanes_rows_equal_the_scalar_call_for_one_profile(nhanes: Path):
    b12 = _read_xpt(nhanes, "L06NB_C.XPT")[["SEQN", "LBXB12"]]
    mh = _read_xpt(nhanes, "L06MH_C.XPT")[["SEQN", "LBXMMA", "LBXHCY"]]
    demo = _read_xpt(nhanes, "DEMO_C.XPT")[["SEQN", "RIDAGEYR"]]
    df = b12.merge(mh, on="SEQN", how="inner").merge(demo, on="SEQN", how="left")
    df = df.rename(columns={"LBXB12": "B12 (pg/mL)", "LBXMMA": "MMA (umol/L)", "RIDAGEYR": "age"})
    df = df.rename(columns={"LBXHCY": "Homocysteine (umol/L)"})
    layout = Layout(
        value={"b12": "B12 (pg/mL)", "mma": "MMA (umol/L)", "hcy": "Homocysteine (umol/L)"},
        header={"b12": "pg/mL", "mma": "umol/L", "hcy": "umol/L"},
    )
    layout.value["age"] = "age"
    out = score(df, layout, "nice-ng239")
    counts = out["b12labs_status"].value_counts(dropna=False).to_dict()
    print(f"\nNHANES 2003-2004 by header names, nice-ng239, every row checked: {counts}")


UNUSUAL_TEXTS = [
    "+150",
    ".5e2",
    "5.",
    "1E+03",
    "007",
    "1,234.5",
    "1,234,567",
    "1e400",
    "1" * 400,
    "1e-320",
    "0x10",
    "١٥٠",
    "Infinity",
    "inf",
    "-0",
    "- 5",
    "< 50",
    "<<50",
    "50-",
    "50 pmol/L pmol/L",
    "50pmol/L",
    "50 PMOL/L",
    "5 0",
    "1 234",
    "1.234,5",
    "≤50",
    "≥ 2,000",
    "=< 50",
    "150\n",
    "\t150 pmol/L\r\n",
]


@pytest.mark.parametrize("unit_source", ["units", "header", "column"])
def test_unusual_number_texts_are_read_like_the_scalar_call(unit_source: str):
    cells = [*UNUSUAL_TEXTS, Decimal("150"), np.int64(150), np.float32(150.5), 150]
    layout = Layout()
    kwargs: dict[str, Any] = {}
    if unit_source == "units":
        df = pd.DataFrame({"b12": pd.Series(cells, dtype=object)})
        layout.value["b12"], layout.fixed["b12"] = "b12", "pmol/L"
        kwargs["units"] = {"b12": "pmol/L"}
    elif unit_source == "header":
        df = pd.DataFrame({"B12 (pg/mL)": pd.Series(cells, dtype=object)})
        layout.value["b12"], layout.header["b12"] = "B12 (pg/mL)", "pg/mL"
    else:
        df = pd.DataFrame(
            {
                "b12": pd.Series(cells, dtype=object),
                "b12_unit": ["pmol/L", "pg/mL"] * (len(cells) // 2) + ["ng/L"] * (len(cells) % 2),
            }
        )
        layout.value["b12"], layout.unit_column["b12"] = "b12", "b12_unit"
    score(df, layout, **kwargs)


AGE_TEXTS = ["+70", "70.", " 70 ", "7e1", "70 years", ">90", "old", "1,000", "", "N/A", "0", "130"]
AGE_TEXTS += ["130.0001", "-5", "1e400", "16", "65", "18"]
SEX_TEXTS = ["f", "M", " Female ", "MALE", "x", "1", "", "N/A", "woman", "f ", "pending"]
PREGNANT_TEXTS = ["yes", "No", " TRUE ", "false", "1", "0", "maybe", "", "N/A", "YES "]


def test_context_texts_are_read_like_the_scalar_call():
    n = max(len(AGE_TEXTS), len(SEX_TEXTS), len(PREGNANT_TEXTS))

    def cycle(texts: list[str]) -> list[str]:
        return [texts[i % len(texts)] for i in range(n)]

    df = pd.DataFrame(
        {
            "b12": ["150 pmol/L"] * n,
            "mma": ["0.45 umol/L"] * n,
            "creatinine": ["1.2 mg/dL"] * n,
            "age": cycle(AGE_TEXTS),
            "sex": cycle(SEX_TEXTS),
            "pregnant": cycle(PREGNANT_TEXTS),
            "egfr": cycle(["59.9", "60", " 61 ", "250", "251", "-1", "low", ""]),
        }
    )
    layout = Layout(value={c: c for c in df.columns})
    for profile in PROFILES:
        score(df, layout, profile)


def test_every_threshold_of_every_profile_censored_or_not():
    """Each marker threshold of each profile, exact and censored, in its own unit and in the
    canonical unit, with ages at the MMA age band and guideline-age edges."""
    ages = [None, *CONTEXT_THRESHOLDS["age"]]
    for key in MARKERS:
        cells, units, row_ages = [], [], []
        for value, unit in sorted(THRESHOLDS[key]):
            canonical = _convert(value, unit, CANONICAL[key], key)
            for number, u in ((value, unit), (canonical, CANONICAL[key])):
                for censor in ("", "<", "<=", ">", ">="):
                    for age in ages if key == "mma" else ages[:2]:
                        cells.append(f"{censor}{number!r}")
                        units.append(u)
                        row_ages.append(age)
                cells.append(number)  # a number cell, unit from the unit column
                units.append(u)
                row_ages.append(None)
        df = pd.DataFrame(
            {
                key: pd.Series(cells, dtype=object),
                f"{key}_unit": units,
                "age": pd.Series(row_ages, dtype="Float64"),
            }
        )
        layout = Layout(value={key: key, "age": "age"}, unit_column={key: f"{key}_unit"})
        for profile in PROFILES:
            score(df, layout, profile)


def test_two_bad_cells_with_the_same_message_do_not_crash():
    """Distinct cells whose scalar errors read the same ("abc" and " abc" both give
    "b12: 'abc pmol/L' ..."; 0.0 and "0.0" both give "b12: 0 pmol/L is ...")."""
    df = pd.DataFrame({"b12": ["abc", " abc", "150"], "mma": [0.0, 0.3, 0.3]})
    df["mma"] = df["mma"].astype(object)
    df.loc[1, "mma"] = "0.0"
    layout = Layout(value={"b12": "b12", "mma": "mma"}, fixed={"b12": "pmol/L", "mma": "umol/L"})
    out = score(df, layout, units={"b12": "pmol/L", "mma": "umol/L"})
    assert out["b12labs_error"].iloc[0] == out["b12labs_error"].iloc[1] != ""


@pytest.mark.parametrize(("key", "text"), [("age", "200"), ("age", "131"), ("egfr", "251")])
def test_a_text_number_out_of_range_is_implausible_like_the_scalar_call(key: str, text: str):
    """Ages read from CSV as text: "200" is a number (the batch reads it as 200), so the
    error is the scalar one for 200.0 (ImplausibleValueError), not "'200' is not a number"."""
    df = pd.DataFrame({"b12": ["150 pmol/L"], key: pd.Series([text], dtype="string")})
    out = score(df, Layout(value={"b12": "b12", key: key}))
    with pytest.raises(b12labs.ImplausibleValueError) as info:
        b12labs.Panel(**{key: float(text)})
    assert out["b12labs_error"].iloc[0] == f"implausible_value: {info.value.message}"


def test_a_boolean_age_column_gives_the_scalar_message():
    df = pd.DataFrame({"b12": ["150 pmol/L"], "age": [True]})
    out = interpret_frame(df)
    with pytest.raises(b12labs.InvalidValueError) as info:
        b12labs.interpret(b12="150 pmol/L", age=True)
    assert out["b12labs_error"].iloc[0] == f"invalid_value: {info.value.message}"


def test_errors_raise_names_an_integer_label_plainly():
    """The label as the user sees it ("row 7"), not a numpy repr ("row np.int64(7)")."""
    df = pd.DataFrame({"b12": ["150 pmol/L", "abc"]}, index=pd.Index([3, 7]))
    with pytest.raises(b12labs.InvalidValueError) as info:
        interpret_frame(df, errors="raise")
    assert str(info.value).startswith("row 7: "), str(info.value)


def test_integer_column_labels_profile_objects_and_unknown_profiles():
    df = pd.DataFrame({0: ["150 pmol/L", "<50 pg/mL"], 1: [70, 30]})
    layout = Layout(value={"b12": 0, "age": 1})
    score(df, layout, columns={"b12": 0, "age": 1})
    for profile in PROFILES:
        by_object = interpret_frame(df, profile=b12labs.get_profile(profile), columns={"b12": 0})
        by_id = interpret_frame(df, profile=profile, columns={"b12": 0})
        pd.testing.assert_frame_equal(by_object, by_id)
    with pytest.raises(b12labs.UnknownProfileError):
        interpret_frame(df, profile="no-such-profile", columns={"b12": 0})


# ----------------------------------------------------------------------------- hardening
# Issue 10: no wrong answer, no lost row, no traceback, on any input. Each defect below was
# reproduced before its fix; the expected answers come from interpret() on the same cell.


def scalar_error(**kwargs: Any) -> B12LabsError:
    """The error interpret() raises for these keywords (it must raise one)."""
    with pytest.raises(B12LabsError) as info:
        b12labs.interpret(**kwargs)
    return info.value


def row_error(error: B12LabsError) -> str:
    """The ``b12labs_error`` text of a row whose scalar call raises ``error``."""
    code = next(c for c, cls in ERROR_CODES.items() if cls is type(error))
    return f"{code}: {error.message}"


def score_arrow(table: Any, **kwargs: Any) -> dict[str, list[Any]]:
    """Score an Arrow table with the table core (the command line's path, no DataFrame)."""
    from b12labs._table import score_table

    names = list(table.schema.names)
    scored = score_table(
        names, lambda label: table.column(names.index(label)), table.num_rows, **kwargs
    )
    out: dict[str, list[Any]] = {}
    for name, values, categories in scored.columns():
        if categories is None:
            out[name] = values.tolist()
        else:
            out[name] = [None if v < 0 else str(categories[v]) for v in values.tolist()]
    return out


@pytest.mark.parametrize(
    ("labels", "kwargs"),
    [
        (["b12", "b12"], {"columns": {"b12": "b12"}}),
        (["x", "x"], {"columns": {"b12": "x"}}),
        (["b12", "age", "age"], {}),
        (["b12", "age", "age"], {"columns": {"age": "age"}}),
        (["b12", "u", "u"], {"columns": {"b12_unit": "u"}}),
        (["b12", "b12_unit", "b12_unit"], {}),
    ],
)
def test_a_duplicate_label_that_is_read_is_a_column_error(labels: list[str], kwargs: Any):
    cells = {"b12": "150 pmol/L", "x": "150 pmol/L", "age": 40, "u": "pmol/L"}
    cells["b12_unit"] = "pmol/L"
    df = pd.DataFrame([[cells[label] for label in labels]], columns=labels)
    before = df.copy(deep=True)
    with pytest.raises(ColumnError, match="appears 2 times") as info:
        interpret_frame(df, units={"b12": "pmol/L"} if "u" not in labels else None, **kwargs)
    assert "rename" in str(info.value)
    pd.testing.assert_frame_equal(df, before)


def test_a_duplicate_label_that_is_not_read_is_left_alone():
    df = pd.DataFrame([["150 pmol/L", 1, 2]], columns=["b12", "note", "note"])
    out = interpret_frame(df)
    assert out["b12labs_error"].tolist() == [""]
    assert list(out.columns[:3]) == ["b12", "note", "note"]


@pytest.mark.parametrize("mapping", [{"b12": "x", "holotc": "x"}, {"b12": "x", "b12_unit": "x"}])
def test_two_keys_mapped_to_one_column_is_a_column_error(mapping: dict[str, str]):
    df = pd.DataFrame({"x": ["150 pmol/L"]})
    with pytest.raises(ColumnError, match="both map to 'x'"):
        interpret_frame(df, columns=mapping)


@pytest.mark.parametrize("unit", [5, 1.5, b"pmol/L", ["pmol/L"], "", "  "])
def test_a_units_value_that_is_not_a_unit_text_is_a_column_error(unit: Any):
    df = pd.DataFrame({"b12": [150, 300]})
    with pytest.raises(ColumnError, match="units=") as info:
        interpret_frame(df, units={"b12": unit})
    assert info.value.analyte == "b12"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"columns": {5: "b12"}},
        {"columns": {None: "b12"}},
        {"columns": {"b12": ["b12"]}},
        {"units": {5: "pmol/L"}},
    ],
)
def test_arguments_with_keys_or_labels_of_the_wrong_kind_are_column_errors(kwargs: Any):
    df = pd.DataFrame({"b12": ["150 pmol/L"]})
    with pytest.raises(ColumnError):
        interpret_frame(df, **kwargs)


@pytest.mark.parametrize("kwargs", [{"columns": ["b12"]}, {"units": "pmol/L"}, {"units": 5}])
def test_columns_and_units_that_are_not_mappings_are_a_type_error(kwargs: Any):
    df = pd.DataFrame({"b12": ["150 pmol/L"]})
    with pytest.raises(TypeError, match="mapping"):
        interpret_frame(df, **kwargs)


HUGE = (10**30, 10**400, 10**5000)  # beyond int64; beyond float; beyond repr()'s digit limit


@pytest.mark.parametrize("huge", HUGE, ids=["1e30", "1e400", "1e5000"])
@pytest.mark.parametrize("key", ["b12", "creatinine", "age", "egfr", "pregnant", "sex"])
def test_huge_python_integers_are_row_errors(key: str, huge: int):
    good = {"b12": 150, "creatinine": 1.0, "age": 50, "egfr": 90, "pregnant": 1, "sex": "f"}
    df = pd.DataFrame({"b12": [150, 150], key: pd.Series([huge, good[key]], dtype=object)})
    before = df.copy(deep=True)
    units = {"b12": "pmol/L", "creatinine": "mg/dL"}
    out = interpret_frame(df, units={k: units[k] for k in ("b12", key) if k in units})
    pd.testing.assert_frame_equal(df, before)
    errors = out["b12labs_error"].tolist()
    assert errors[0].split(":")[0] in ERROR_CODES, errors
    assert errors[1] == "", errors
    assert key in errors[0]
    assert len(errors[0]) < 1000  # a 5000-digit number is not spelled out
    if huge == 10**30 and key in ("b12", "age", "egfr"):  # interpret() reads 1e30: same error
        scalar_in = {"b12": (huge, "pmol/L")} if key == "b12" else {key: huge}
        assert errors[0] == row_error(scalar_error(**scalar_in))


def test_a_huge_integer_in_a_unit_column_is_a_row_error():
    df = pd.DataFrame(
        {"b12": [150, 150], "b12_unit": pd.Series([10**5000, "pmol/L"], dtype=object)}
    )
    out = interpret_frame(df)
    assert out["b12labs_error"].iloc[0].startswith("unknown_unit: ")
    assert out["b12labs_error"].iloc[1] == ""


@pytest.mark.parametrize(
    ("values", "kind"), [([2**53 + 1, 150], "int64"), ([2**64 - 1, 150], "uint64")]
)
def test_wide_arrow_integers_through_the_table_core(values: list[int], kind: str):
    good = {"b12": 150, "creatinine": 1, "age": 50, "egfr": 90, "pregnant": 1}
    for key, cell in good.items():
        columns = {"b12": PA.array([150, 150]), key: PA.array([values[0], cell], kind)}
        out = score_arrow(PA.table(columns), units={"b12": "pmol/L", "creatinine": "mg/dL"})
        assert out["b12labs_error"][0].startswith(("implausible_value: ", "invalid_value: "))
        assert f" {key}: " in out["b12labs_error"][0]
        assert out["b12labs_error"][1] == ""


@pytest.mark.parametrize("dtype", ["uint64", "UInt64", "uint64[pyarrow]"])
def test_uint64_columns(dtype: str):
    df = pd.DataFrame({"b12": pd.Series([2**64 - 1, 150], dtype=dtype), "age": [40, 50]})
    out = score(df, Layout(value={"b12": "b12", "age": "age"}, fixed={"b12": "pmol/L"}),
                units={"b12": "pmol/L"})  # fmt: skip
    assert out["b12labs_error"].iloc[0].startswith("implausible_value: ")


# cells interpret() refuses, which a batch used to read (as missing, or as a number)
REFUSED_TEXTS = ("-nan", "nan(1)", "+nan", "-NaN", "nan()", "NAN(0x1)")
REFUSED_OBJECTS = (complex(150, 0), complex(1, 2), b"150", bytearray(b"150"), {"v": 150})


@pytest.mark.parametrize("cell", [*REFUSED_TEXTS, *REFUSED_OBJECTS], ids=repr)
@pytest.mark.parametrize("alone", [True, False], ids=["whole-column", "mixed"])
def test_a_cell_interpret_refuses_is_the_same_row_error(cell: Any, alone: bool):
    cells = [cell, cell] if alone else [cell, "150"]
    df = pd.DataFrame({"b12": pd.Series(cells, dtype=object)})
    out = interpret_frame(df, units={"b12": "pmol/L"})
    scalar_in = f"{cell} pmol/L" if isinstance(cell, str) else (cell, "pmol/L")
    assert out["b12labs_error"].iloc[0] == row_error(scalar_error(b12=scalar_in))
    assert pd.isna(out["b12labs_status"].iloc[0])


@pytest.mark.parametrize("cell", REFUSED_TEXTS)
def test_a_text_nan_age_or_egfr_is_the_panel_error(cell: str):
    for key in ("age", "egfr"):
        df = pd.DataFrame({"b12": ["150 pmol/L"], key: [cell]})
        out = interpret_frame(df)
        assert out["b12labs_error"].iloc[0] == row_error(scalar_error(**{key: cell}))


def test_a_complex_column_is_refused_cell_by_cell():
    df = pd.DataFrame({"b12": np.array([150 + 0j, 1 + 2j]), "age": np.array([40 + 0j, 50])})
    out = interpret_frame(df, units={"b12": "pmol/L"})
    for row in range(2):
        expected = scalar_error(b12=(complex(df["b12"].iloc[row]), "pmol/L"))
        assert out["b12labs_error"].iloc[row] == row_error(expected)


@pytest.mark.parametrize(
    "column",
    [
        lambda: pd.Series([b"150", b"200"]),
        lambda: pd.Series([b"150", None], dtype=pd.ArrowDtype(PA.binary())),
        lambda: pd.Series(["150", "\ud800"], dtype=object),  # not valid Unicode
        lambda: pd.Series(["150", "\ud800"], dtype="string[python]"),
        lambda: pd.Series(pd.period_range("2020-01", periods=2, freq="M")),
        lambda: pd.Series(pd.interval_range(0, 2)),
        lambda: pd.Series([[150], [200]], dtype=pd.ArrowDtype(PA.list_(PA.int64()))),
    ],
    ids=["bytes", "arrow-binary", "surrogate", "surrogate-string", "period", "interval", "list"],
)
def test_columns_of_objects_interpret_refuses(column: Any):
    df = pd.DataFrame({"b12": column()})
    before = df.copy(deep=True)
    out = interpret_frame(df, units={"b12": "pmol/L"})
    assert len(out) == 2
    for row, cell in enumerate(df["b12"].tolist()):
        if is_missing(cell):
            continue
        if isinstance(cell, str) and cell.isascii():
            assert out["b12labs_error"].iloc[row] == ""
            continue
        scalar_in = f"{cell} pmol/L" if isinstance(cell, str) else (cell, "pmol/L")
        assert out["b12labs_error"].iloc[row] == row_error(scalar_error(b12=scalar_in))
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize(
    "array",
    [
        lambda: PA.array([b"150", b"\xff"], PA.binary()),
        lambda: PA.array([[150], None]),
        lambda: PA.array([{"v": 150}, None]),
        lambda: PA.array([1, 2], PA.timestamp("s")),
    ],
    ids=["binary", "list", "struct", "timestamp"],
)
def test_arrow_columns_of_other_types_through_the_table_core(array: Any):
    out = score_arrow(PA.table({"b12": array()}), units={"b12": "pmol/L"})
    assert out["b12labs_error"][0].startswith("invalid_value: b12: ")
    assert len(out["b12labs_status"]) == 2


# units= and a unit column (docs/batch.md, "Units"): a unit stated twice must agree


def test_units_argument_fills_the_blank_cells_of_a_unit_column():
    df = pd.DataFrame({"b12": [150, 300, 400], "b12_unit": ["pg/mL", None, "ng/L"]})
    out = interpret_frame(df, units={"b12": "pg/mL"})  # ng/L is pg/mL: they agree
    expected = [b12labs.interpret(b12=(v, "pg/mL")) for v in (150, 300, 400)]
    assert out["b12labs_status"].astype(str).tolist() == [r.status.value for r in expected]
    assert out["b12labs_b12_value"].tolist() == pytest.approx(
        [r.markers["b12"].value for r in expected], rel=REL
    )


def test_units_argument_disagreeing_with_a_unit_column_cell_is_that_rows_error():
    # row locality: found in the data, so a row error (reason conflicting_unit), not a
    # ColumnError; it used to be silently ignored, then a ColumnError for the whole frame
    df = pd.DataFrame({"b12": [150, 300, 400], "b12_unit": ["pmol/L", None, "ng/L"]})
    before = df.copy(deep=True)
    out = interpret_frame(df, units={"b12": "pg/mL"})
    error = out["b12labs_error"].iloc[0]
    assert error.startswith("conflicting_unit: ")
    for part in ("'pg/mL'", "'pmol/L'", "b12_unit"):
        assert part in error
    assert pd.isna(out["b12labs_status"].iloc[0])
    assert np.isnan(out["b12labs_b12_value"].iloc[0])
    # the blank cell takes units=, and ng/L is pg/mL: both rows are read
    assert out["b12labs_error"].iloc[1:].tolist() == ["", ""]
    expected = [b12labs.interpret(b12=(v, "pg/mL")) for v in (300, 400)]
    assert out["b12labs_b12_value"].iloc[1:].tolist() == pytest.approx(
        [r.markers["b12"].value for r in expected], rel=REL
    )
    assert ERROR_CODES["conflicting_unit"] is b12labs.UnitError
    pd.testing.assert_frame_equal(df, before)


def test_a_unit_column_cell_of_a_row_without_result_is_not_a_conflict():
    df = pd.DataFrame({"b12": [150, None], "b12_unit": ["pg/mL", "pmol/L"]})
    out = interpret_frame(df, units={"b12": "pg/mL"})
    assert out["b12labs_error"].tolist() == ["", ""]


def test_units_argument_disagreeing_with_the_header_is_a_column_error():
    df = pd.DataFrame({"B12 (pmol/L)": [150, 300]})
    with pytest.raises(ColumnError, match="header"):
        interpret_frame(df, units={"b12": "pg/mL"})
    # the same unit in other words is no conflict
    out = interpret_frame(pd.DataFrame({"B12 (pg/mL)": [150]}), units={"b12": "ng/L"})
    assert out["b12labs_error"].tolist() == [""]


def test_a_unit_in_the_cell_still_wins_over_units_and_the_unit_column():
    df = pd.DataFrame({"b12": ["150 pmol/L", "150"], "b12_unit": ["pg/mL", "pg/mL"]})
    out = interpret_frame(df, units={"b12": "pg/mL"})
    assert out["b12labs_b12_value"].tolist() == pytest.approx([150.0, 150 / 1.35537], rel=REL)


def test_an_unknown_unit_in_the_unit_column_stays_a_row_error_with_units():
    df = pd.DataFrame({"b12": [150, 300], "b12_unit": ["bananas", None]})
    out = interpret_frame(df, units={"b12": "pmol/L"})
    assert out["b12labs_error"].iloc[0] == row_error(scalar_error(b12=(150, "bananas")))
    assert out["b12labs_error"].iloc[1] == ""
