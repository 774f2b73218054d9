"""Batch interpretation of pandas DataFrames: vectorized, identical to ``interpret()``.

Importing this module registers the ``df.b12labs`` accessor::

    import b12labs.pandas  # noqa: F401  (registers the accessor)
    scored = df.b12labs.interpret(profile="nice-ng239")

or call :func:`interpret_frame` (also available as ``b12labs.interpret_frame``).

How a frame is read (documented in docs/batch.md):

* **Columns** are recognised by name, ignoring case, spaces, underscores, hyphens and a unit
  in brackets: ``b12``, ``vitamin_b12``, ``Vitamin B12 (pg/mL)``, ``cobalamin``, ``mma``,
  ``methylmalonic acid``, ``hcy``, ``homocysteine``, ``tHcy``, ``holotc``, ``active_b12``,
  ``folate``, ``age``, ``sex``, ``pregnant``, ``egfr``, ``creatinine``. ``columns=`` maps any
  of these keys (and ``"<analyte>_unit"`` for a unit column) to a column label explicitly.
* **Units**, for each cell, come from the first of: a unit written in the cell
  (``"350 pg/mL"``), the row's unit column (``b12_unit``), ``units=``, the column header
  (``B12 (pg/mL)``). A value column with no unit anywhere is a :class:`ColumnError` saying
  how to give one: a unit is never guessed from magnitudes.
* **Values** may be numbers or text: ``"<50"``, ``"> 2000"``, ``" 350 "``, ``"1,234"``. Text
  meaning "no result" (blank, ``"N/A"``, ``"pending"``, ``"hemolysed"``,
  :data:`b12labs._models.MISSING_TOKENS`) is missing, not an error. Text is parsed with
  pyarrow compute (RE2), never row by row in Python.
* **Errors**: a row that cannot be interpreted keeps its place; ``b12labs_error`` holds a
  reason code and the message the single-panel call would raise (``errors="collect"``).
  ``errors="raise"`` raises that error at the first bad row instead, naming the row label.

The output is the input frame (columns, values, dtypes, index and order untouched) plus
``b12labs_*`` result columns; see :func:`interpret_frame`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._analytes import MARKERS, analyte_info
from ._exceptions import (
    B12LabsError,
    ColumnError,
    ImplausibleValueError,
    IncompatibleUnitError,
    InvalidValueError,
    UnitError,
    UnknownUnitError,
)
from ._models import (
    _CENSOR_SPELLINGS,
    MEASUREMENT_PATTERN,
    MISSING_TOKENS,
    Panel,
    coerce_measurement,
)
from ._profile import CENSOR_CODES, DEFAULT_PROFILE, Profile, compiled
from ._units import canonical_factor
from ._vector import CATEGORIES, CODES, STATUSES, BatchInput, evaluate

__all__ = ["ERROR_CODES", "B12LabsAccessor", "interpret_frame"]

#: Reason codes of ``b12labs_error`` and the error type the single-panel call raises.
ERROR_CODES: dict[str, type[B12LabsError]] = {
    "unknown_unit": UnknownUnitError,
    "incompatible_unit": IncompatibleUnitError,
    "implausible_value": ImplausibleValueError,
    "invalid_value": InvalidValueError,
}
_CODE_OF: dict[type[B12LabsError], str] = {cls: code for code, cls in ERROR_CODES.items()}

PREFIX = "b12labs_"
_MEASURED = (*(str(m) for m in MARKERS), "creatinine")
_CONTEXT = ("age", "sex", "pregnant", "egfr")
# Order in which a row's inputs are checked: the order of Panel's fields, so that a row
# with several problems reports the one the single-panel call raises.
_FIELD_ORDER = (*(str(m) for m in MARKERS), "age", "sex", "pregnant", "egfr", "creatinine")

_NAMES: dict[str, tuple[str, ...]] = {
    "b12": ("b12", "vitaminb12", "vitb12", "cobalamin", "serumb12", "totalb12", "serumcobalamin"),
    "holotc": ("holotc", "activeb12", "holotranscobalamin", "holotranscobalaminii"),
    "mma": ("mma", "methylmalonicacid", "methylmalonate", "serummma"),
    "hcy": ("hcy", "thcy", "homocysteine", "totalhomocysteine", "plasmahomocysteine"),
    "folate": ("folate", "serumfolate", "folicacid"),
    "creatinine": ("creatinine", "serumcreatinine", "creat", "scr"),
    "age": ("age", "ageyears", "ageyrs"),
    "sex": ("sex", "gender"),
    "pregnant": ("pregnant", "pregnancy"),
    "egfr": ("egfr",),
}
_BY_NAME = {name: key for key, names in _NAMES.items() for name in names}
_HEADER_UNIT = re.compile(r"^(?P<name>.*?)\s*[(\[]\s*(?P<unit>[^)\]]+?)\s*[)\]]\s*$")
_SEPARATORS = re.compile(r"[\s_\-.]+")
_PLAIN_NUMBER = r"^[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?$"
_TRUE = frozenset({"true", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "no", "n", "0", "0.0"})
_SEX = {"f": "female", "female": "female", "m": "male", "male": "male"}

FloatArray = npt.NDArray[np.float64]


# ----------------------------------------------------------------------------- columns


def _normalize(label: Hashable) -> tuple[str, str | None]:
    """Header -> (lookup key, unit in brackets or None)."""
    text = str(label).strip()
    unit = None
    match = _HEADER_UNIT.match(text)
    if match:
        text, unit = match["name"], match["unit"]
    return _SEPARATORS.sub("", text.lower()), unit


@dataclass
class _Columns:
    value: dict[str, Hashable] = field(default_factory=dict)
    unit_column: dict[str, Hashable] = field(default_factory=dict)
    header_unit: dict[str, str] = field(default_factory=dict)


def _resolve_columns(df: pd.DataFrame, columns: Mapping[str, Hashable] | None) -> _Columns:
    found = _Columns()
    explicit = dict(columns or {})
    for key, label in explicit.items():
        base = key[: -len("_unit")] if key.endswith("_unit") else key
        if base not in _NAMES:
            accepted = ", ".join([*_NAMES, *(f"{m}_unit" for m in _MEASURED)])
            raise ColumnError(
                f"columns=: unknown key {key!r}; accepted keys: {accepted}", value=key
            )
        if label not in df.columns:
            raise ColumnError(
                f"columns=: {key!r} maps to {label!r}, which is not a column of the frame",
                analyte=base,
                value=label,
            )
        if key.endswith("_unit"):
            found.unit_column[base] = label
        else:
            found.value[base] = label
            header_unit = _normalize(label)[1]
            if header_unit:
                found.header_unit[base] = header_unit
    used = set(explicit.values())
    for label in df.columns:
        if label in used:
            continue
        if isinstance(label, str) and label.startswith(PREFIX):
            raise ColumnError(
                f"column {label!r} uses the result prefix {PREFIX!r}; drop earlier results "
                "before scoring again",
                value=label,
            )
        key, header_unit = _normalize(label)
        target = _BY_NAME.get(key)
        slot = found.value
        if target is None:
            for suffix in ("units", "unit"):
                stem = key.removesuffix(suffix) if key.endswith(suffix) else None
                stem = (
                    stem if stem else (key.removeprefix(suffix) if key.startswith(suffix) else None)
                )
                if stem and _BY_NAME.get(stem) in _MEASURED:
                    target, slot = _BY_NAME[stem], found.unit_column
                    break
        if target is None or target in (explicit.keys() if slot is found.value else ()):
            continue
        if slot is found.unit_column and f"{target}_unit" in explicit:
            continue
        if target in slot:
            raise ColumnError(
                f"columns {slot[target]!r} and {label!r} both look like {target!r}; choose one "
                f"with columns={{{target!r}: ...}}",
                analyte=target,
                value=label,
            )
        slot[target] = label
        if header_unit and slot is found.value:
            found.header_unit[target] = header_unit
    if not any(key in found.value for key in (*(str(m) for m in MARKERS),)):
        known = ", ".join(names[0] for key, names in _NAMES.items() if key in MARKERS)
        raise ColumnError(
            "no B12-related column found: name columns like "
            f"{known} (case, spaces, underscores and a unit in brackets are ignored), "
            "or map them with columns={'b12': 'My B12 column', ...}"
        )
    return found


# ----------------------------------------------------------------------------- parsing


@dataclass
class _Parsed:
    """One measurement column parsed: value, censor code, unit text per row, and errors."""

    value: FloatArray
    censor: npt.NDArray[np.int8]
    unit: pa.Array  # the cell's own unit (null when none)
    bad: npt.NDArray[np.bool_]  # text that is not a measurement


def _as_text(series: pd.Series) -> pa.Array:
    """The column as a pyarrow string array (numbers in object columns become their text)."""
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array(series.astype(pd.StringDtype("pyarrow")))
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    return array


def _missing_mask(trimmed: pa.Array) -> npt.NDArray[np.bool_]:
    lowered = pc.utf8_lower(trimmed)
    missing = pc.or_kleene(pc.is_null(trimmed), pc.is_in(lowered, value_set=_MISSING_SET))
    return np.asarray(missing.fill_null(True), dtype=bool)


_MISSING_SET = pa.array(sorted(MISSING_TOKENS), type=pa.string())
_CENSOR_TEXTS = pa.array(list(_CENSOR_SPELLINGS), type=pa.string())
_CENSOR_VALUES = np.array(
    [CENSOR_CODES[c.value] for c in _CENSOR_SPELLINGS.values()], dtype=np.int8
)


def _parse_measurements(series: pd.Series) -> _Parsed:
    n = len(series)
    value = np.full(n, np.nan)
    censor = np.zeros(n, dtype=np.int8)
    if pd.api.types.is_bool_dtype(series.dtype):
        return _Parsed(value, censor, pa.nulls(n, pa.string()), series.notna().to_numpy(bool))
    if pd.api.types.is_numeric_dtype(series.dtype):
        value = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return _Parsed(value, censor, pa.nulls(n, pa.string()), np.isinf(value))
    trimmed = pc.utf8_trim_whitespace(_as_text(series))
    missing = _missing_mask(trimmed)
    plain = np.asarray(
        pc.match_substring_regex(trimmed, _PLAIN_NUMBER).fill_null(False), dtype=bool
    )
    if plain.any():
        value[plain] = pc.cast(pc.filter(trimmed, pa.array(plain)), pa.float64()).to_numpy(
            zero_copy_only=False
        )
    unit = pa.nulls(n, pa.string())
    bad = np.zeros(n, dtype=bool)
    rest = np.flatnonzero(~plain & ~missing)
    if rest.size:
        parts = pc.extract_regex(pc.take(trimmed, pa.array(rest)), MEASUREMENT_PATTERN)
        matched = np.asarray(parts.is_valid(), dtype=bool)
        number = pc.replace_substring(parts.field("number"), ",", "")
        cell_unit = pc.utf8_trim_whitespace(parts.field("unit"))
        # a decimal comma ("0,45") leaves ",45" as the unit: not a measurement
        comma = np.asarray(pc.starts_with(cell_unit, ",").fill_null(False), dtype=bool)
        ok = matched & ~comma
        good = rest[ok]
        value[good] = pc.cast(pc.filter(number, pa.array(ok)), pa.float64()).to_numpy(
            zero_copy_only=False
        )
        spelled = pc.filter(parts.field("censor"), pa.array(ok))
        index = np.asarray(pc.index_in(spelled, value_set=_CENSOR_TEXTS).fill_null(-1))
        censor[good] = np.where(index >= 0, _CENSOR_VALUES[index], 0)
        bad[rest[~ok]] = True
        nonempty = pc.if_else(pc.equal(cell_unit, ""), pa.scalar(None, pa.string()), cell_unit)
        units = np.full(n, None, dtype=object)
        units[rest] = np.asarray(nonempty.to_pylist(), dtype=object)
        unit = pa.array(units, type=pa.string())
    return _Parsed(value, censor, unit, bad)


def _unit_column(series: pd.Series | None, n: int) -> pa.Array:
    if series is None:
        return pa.nulls(n, pa.string())
    trimmed = pc.utf8_trim_whitespace(_as_text(series))
    return pc.if_else(pa.array(_missing_mask(trimmed)), pa.scalar(None, pa.string()), trimmed)


def _numbers(series: pd.Series) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """A numeric context column (age, eGFR): floats, and the cells that are not numbers."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return np.full(len(series), np.nan), series.notna().to_numpy(bool)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(len(series), bool)
    trimmed = pc.utf8_trim_whitespace(_as_text(series))
    missing = _missing_mask(trimmed)
    plain = np.asarray(pc.match_substring_regex(trimmed, _PLAIN_NUMBER).fill_null(False), bool)
    value = np.full(len(series), np.nan)
    if plain.any():
        value[plain] = pc.cast(pc.filter(trimmed, pa.array(plain)), pa.float64()).to_numpy(
            zero_copy_only=False
        )
    return value, ~plain & ~missing


def _labels(series: pd.Series, table: Mapping[str, Any]) -> tuple[Any, npt.NDArray[np.bool_]]:
    """Map a text/bool column through ``table`` (lower-cased); return (values, unknown mask)."""
    if pd.api.types.is_bool_dtype(series.dtype):
        values = np.asarray(series.astype(object), dtype=object)
        values[series.isna().to_numpy(dtype=bool)] = None
        return values, np.zeros(len(series), bool)
    trimmed = pc.utf8_trim_whitespace(_as_text(series))
    missing = _missing_mask(trimmed)
    lowered = pc.utf8_lower(trimmed)
    keys = pa.array(list(table), type=pa.string())
    index = np.asarray(pc.index_in(lowered, value_set=keys).fill_null(-1))
    options = np.array([*table.values(), None], dtype=object)
    values = options[np.where(index >= 0, index, len(table))]
    values[missing] = None
    return values, (index < 0) & ~missing


# ----------------------------------------------------------------------------- frame


@dataclass
class _Errors:
    """First error of each row, in Panel field order, as (code, message, exception)."""

    n: int
    first: dict[int, B12LabsError] = field(default_factory=dict)

    def add(self, rows: npt.NDArray[np.intp], make: Any) -> None:
        """Record an error for each row in ``rows`` that has none yet; ``make(row)`` builds it.

        Rows share the error object of the same input, so each distinct bad input is checked
        once.
        """
        cache: dict[Any, B12LabsError] = {}
        for row in rows.tolist():
            if row in self.first:
                continue
            key, build = make(row)
            if key not in cache:
                cache[key] = build()
            self.first[row] = cache[key]


def _scalar_error(check: Any, fallback: B12LabsError) -> B12LabsError:
    """The error the single-panel path raises for this input (it must raise one)."""
    try:
        check()
    except B12LabsError as error:
        return error
    return fallback


def interpret_frame(
    df: pd.DataFrame,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Literal["collect", "raise"] = "collect",
) -> pd.DataFrame:
    """Interpret every row of ``df``; return a new frame with ``b12labs_*`` result columns.

    Args:
        df: one row per patient panel. Never modified.
        profile: a shipped profile id or a :class:`~b12labs.Profile`.
        columns: explicit column labels, e.g. ``{"b12": "LBXB12", "b12_unit": "B12 unit"}``.
        units: a fixed unit per analyte, e.g. ``{"mma": "nmol/L"}``.
        errors: ``"collect"`` (a reason per bad row, the rest go on) or ``"raise"``.

    Returns:
        ``df``'s columns untouched, plus: ``b12labs_status`` (categorical of the four status
        values; missing for a row with an error); for each marker present
        ``b12labs_<m>_value`` (canonical unit), ``b12labs_<m>_category``,
        ``b12labs_<m>_fhir`` (HL7 v3 code); ``b12labs_cb12``, ``b12labs_cb12_band``,
        ``b12labs_egfr``; ``b12labs_findings`` and ``b12labs_next_steps`` (codes joined
        by ``;``); ``b12labs_error`` (empty, or ``"<reason code>: <message>"``).

    Raises:
        ColumnError: no recognised column, ambiguous columns, a column with no unit.
        B12LabsError: with ``errors="raise"``, the first bad row's error (label in message).
    """
    if errors not in ("collect", "raise"):
        raise ValueError(f"errors must be 'collect' or 'raise', not {errors!r}")
    cp = compiled(profile)
    found = _resolve_columns(df, columns)
    fixed_units = dict(units or {})
    for key in fixed_units:
        if key not in _MEASURED:
            raise ColumnError(f"units=: unknown analyte {key!r}; accepted: {', '.join(_MEASURED)}")
    n = len(df)
    problems = _Errors(n)
    values: dict[str, FloatArray] = {}
    censors: dict[str, npt.NDArray[np.int8]] = {}
    raw_cells: dict[str, pd.Series] = {}

    for key in _FIELD_ORDER:
        if key in found.value and key in _MEASURED:
            series = df[found.value[key]]
            raw_cells[key] = series
            parsed = _parse_measurements(series)
            default = fixed_units.get(key) or found.header_unit.get(key)
            unit_col = _unit_column(
                df[found.unit_column[key]] if key in found.unit_column else None, n
            )
            unit = pc.coalesce(parsed.unit, unit_col, pa.scalar(default, pa.string()))
            present = ~np.isnan(parsed.value) | parsed.bad
            _check_unit_source(key, found, default, parsed, present, unit)
            canonical, censor = _convert(key, parsed, unit, present, series, problems)
            values[key], censors[key] = canonical, censor

    def context_error(key: str, rows: npt.NDArray[np.intp], series: pd.Series) -> None:
        problems.add(
            rows,
            lambda row: (
                series.iat[row],
                lambda: _scalar_error(
                    lambda: Panel(**{key: series.iat[row]}),
                    InvalidValueError(f"{key}: {series.iat[row]!r} is not accepted", analyte=key),
                ),
            ),
        )

    age = np.full(n, np.nan)
    if "age" in found.value:
        series = df[found.value["age"]]
        age, junk = _numbers(series)
        context_error("age", np.flatnonzero(junk), series)
        info = analyte_info("age")
        out = ~np.isnan(age) & ((age < info.plausible_min) | (age > info.plausible_max))
        _context_range_error(problems, "age", age, out)
        age[junk | out] = np.nan
    sex = np.full(n, None, dtype=object)
    if "sex" in found.value:
        series = df[found.value["sex"]]
        sex, unknown = _labels(series, _SEX)
        context_error("sex", np.flatnonzero(unknown), series)
    pregnant = np.full(n, None, dtype=object)
    if "pregnant" in found.value:
        series = df[found.value["pregnant"]]
        table = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
        pregnant, unknown = _labels(series, table)
        context_error("pregnant", np.flatnonzero(unknown), series)
    egfr = np.full(n, np.nan)
    if "egfr" in found.value:
        series = df[found.value["egfr"]]
        egfr, junk = _numbers(series)
        context_error("egfr", np.flatnonzero(junk), series)
        info = analyte_info("egfr")
        out = ~np.isnan(egfr) & ((egfr < info.plausible_min) | (egfr > info.plausible_max))
        _context_range_error(problems, "egfr", egfr, out)
        egfr[junk | out] = np.nan
    is_pregnant = pregnant == True  # noqa: E712  (object array of True/False/None)
    contradiction = np.flatnonzero(is_pregnant & (sex == "male"))
    problems.add(
        contradiction,
        lambda row: (
            "pregnant-male",
            lambda: _scalar_error(
                lambda: Panel(pregnant=True, sex="male"),
                InvalidValueError("pregnant: True contradicts sex 'male'", analyte="pregnant"),
            ),
        ),
    )

    valid = np.ones(n, dtype=bool)
    if problems.first:
        valid[list(problems.first)] = False
    if errors == "raise" and problems.first:
        row = min(problems.first)
        error = problems.first[row]
        raise type(error)(
            f"row {df.index[row]!r}: {error.message}",
            analyte=error.analyte,
            value=error.value,
            unit=error.unit,
        )

    creatinine = values.pop("creatinine", np.full(n, np.nan))
    creatinine_censor = censors.pop("creatinine", np.zeros(n, dtype=np.int8))
    creatinine = np.where(creatinine_censor == 0, creatinine, np.nan)
    batch = BatchInput(
        values=values,
        censors=censors,
        age=age,
        sex_known=sex != None,  # noqa: E711
        female=sex == "female",
        pregnant=np.asarray(is_pregnant, dtype=bool),
        egfr=egfr,
        creatinine_mg_dl=creatinine,
        valid=valid,
    )
    result = evaluate(cp, batch, _pandas_factorize)
    return _output(df, found, values, result, problems)


def _check_unit_source(
    key: str,
    found: _Columns,
    default: str | None,
    parsed: _Parsed,
    present: npt.NDArray[np.bool_],
    unit: pa.Array,
) -> None:
    if default is not None or key in found.unit_column:
        return
    if present.any() and not np.asarray(pc.is_valid(parsed.unit)).any():
        label = found.value[key]
        raise ColumnError(
            f"column {label!r} ({key}) has no unit: write it in the header "
            f"('{label} (pmol/L)'), pass units={{{key!r}: '...'}}, or add a unit column "
            f"('{key}_unit'); accepted units: see b12labs.accepted_units({key!r}). "
            "b12labs never guesses a unit from magnitudes",
            analyte=key,
            value=label,
        )


def _convert(
    key: str,
    parsed: _Parsed,
    unit: pa.Array,
    present: npt.NDArray[np.bool_],
    series: pd.Series,
    problems: _Errors,
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """Canonical values (NaN where absent or bad) and censor codes; record row errors."""
    len(parsed.value)
    encoded = pc.dictionary_encode(unit)
    indices = np.asarray(encoded.indices.fill_null(-1), dtype=np.int64)
    factors = np.full(len(encoded.dictionary) + 1, np.nan)  # last slot: no unit
    for i, text in enumerate(encoded.dictionary.to_pylist()):
        with contextlib.suppress(UnitError):  # reported per row below, as the scalar path does
            factors[i] = canonical_factor(key, text)
    factor = factors[indices]
    canonical = parsed.value * factor
    info = analyte_info(key)
    negative = parsed.value < 0
    bad = present & (
        parsed.bad
        | np.isnan(factor)
        | negative
        | ~((canonical >= info.plausible_min) & (canonical <= info.plausible_max))
    )
    rows = np.flatnonzero(bad)
    if rows.size:
        units = np.asarray(unit.to_pylist(), dtype=object)

        def make(row: int) -> tuple[Any, Any]:
            cell, cell_unit = series.iat[row], units[row]
            scalar = _scalar_input(cell, cell_unit)
            fallback = InvalidValueError(f"{key}: {cell!r} is not a usable result", analyte=key)
            return (repr(cell), cell_unit), lambda: _scalar_error(
                lambda: coerce_measurement(scalar, key), fallback
            )

        problems.add(rows, make)
    canonical[bad] = np.nan
    censor = np.where(bad, 0, parsed.censor).astype(np.int8)
    return canonical, censor


def _scalar_input(cell: Any, unit: str | None) -> Any:
    """What the single-panel call receives for this cell (used for the exact error)."""
    if isinstance(cell, str):
        match = re.match(MEASUREMENT_PATTERN, cell.strip(), re.DOTALL)
        has_unit = match is not None and bool(match["unit"].strip())
        return cell if has_unit or unit is None else f"{cell.strip()} {unit}"
    return cell if unit is None else (cell, unit)


def _context_range_error(
    problems: _Errors, key: str, value: FloatArray, out: npt.NDArray[np.bool_]
) -> None:
    problems.add(
        np.flatnonzero(out),
        lambda row: (
            value[row],
            lambda: _scalar_error(
                lambda: Panel(**{key: float(value[row])}),
                InvalidValueError(f"{key}: {value[row]:g} is out of range", analyte=key),
            ),
        ),
    )


def _pandas_factorize(codes: npt.NDArray[np.int64]) -> tuple[Any, Any]:
    inverse, uniques = pd.factorize(codes)
    return inverse.astype(np.int64), np.asarray(uniques)


def _categorical(codes: npt.NDArray[Any], categories: tuple[Any, ...] | list[str]) -> Any:
    dtype = pd.CategoricalDtype([str(c) for c in categories])
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), dtype=dtype)


def _output(
    df: pd.DataFrame,
    found: _Columns,
    values: Mapping[str, FloatArray],
    result: Any,
    problems: _Errors,
) -> pd.DataFrame:
    n = len(df)
    data: dict[str, Any] = {f"{PREFIX}status": _categorical(result.status, STATUSES)}
    for analyte in (str(m) for m in MARKERS):
        if analyte not in found.value:
            continue
        value = values[analyte].copy()
        value[result.categories[analyte] < 0] = np.nan
        data[f"{PREFIX}{analyte}_value"] = value
        data[f"{PREFIX}{analyte}_category"] = _categorical(result.categories[analyte], CATEGORIES)
        data[f"{PREFIX}{analyte}_fhir"] = _categorical(
            result.fhir[analyte], tuple(c.value for c in CODES)
        )
    from ._vector import CB12_BANDS

    data[f"{PREFIX}cb12"] = result.cb12
    data[f"{PREFIX}cb12_band"] = _categorical(result.cb12_band, CB12_BANDS)
    data[f"{PREFIX}egfr"] = result.egfr
    for name, (texts, codes) in (("findings", result.findings), ("next_steps", result.next_steps)):
        data[f"{PREFIX}{name}"] = _categorical(codes, list(texts) or [""])
    error = np.full(n, "", dtype=object)
    for row, problem in problems.first.items():
        error[row] = f"{_reason_code(problem)}: {problem.message}"
    data[f"{PREFIX}error"] = error
    results = pd.DataFrame(data, index=df.index)
    return pd.concat([df, results], axis=1)


def _reason_code(error: B12LabsError) -> str:
    for cls in type(error).__mro__:
        if cls in _CODE_OF:
            return _CODE_OF[cls]
    return "invalid_value"


@pd.api.extensions.register_dataframe_accessor("b12labs")
class B12LabsAccessor:
    """``df.b12labs.interpret(...)``: the same as :func:`interpret_frame` (registered when
    ``b12labs.pandas`` is imported)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def interpret(
        self,
        *,
        profile: str | Profile = DEFAULT_PROFILE,
        columns: Mapping[str, Hashable] | None = None,
        units: Mapping[str, str] | None = None,
        errors: Literal["collect", "raise"] = "collect",
    ) -> pd.DataFrame:
        """Interpret every row; see :func:`interpret_frame`."""
        return interpret_frame(
            self._frame, profile=profile, columns=columns, units=units, errors=errors
        )
