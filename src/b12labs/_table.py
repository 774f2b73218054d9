"""The table core of batch scoring: columns in, result arrays out (numpy + pyarrow only).

It works on any table whose columns are pandas Series or Arrow arrays, so the pandas API
(:mod:`b12labs.pandas`) and the command line (which never builds a DataFrame) share it. How
columns, units, values and errors are read is described in :mod:`b12labs.pandas`.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ._analytes import MARKERS, analyte_info
from ._arrow_numpy import arrow_of, bools, integers, scalar, strings, with_nulls
from ._arrow_numpy import floats as _arrow_floats
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
    _RISK_ALIASES,
    _SYMPTOM_ALIASES,
    MAX_MEASUREMENT_LENGTH,
    MEASUREMENT_PATTERN,
    MISSING_TOKENS,
    Panel,
    RiskFactor,
    Symptom,
    _enum_items,
    coerce_measurement,
)
from ._profile import CENSOR_INDEX, DEFAULT_PROFILE, Profile, compiled
from ._rules import RULES_VERSION, Tri
from ._units import ALIASES, canonical_factor
from ._vector import CATEGORIES, CB12_BANDS, CODES, STATUSES, BatchInput, BatchResult, evaluate
from ._version import SCHEMA_VERSION, __version__
from ._writer import COLUMN_SELECTIONS, ColumnSelection

__all__ = ["ERROR_CODES", "PREFIX", "Scored", "score_table"]

#: Reason codes of ``b12labs_error`` and the error type the single-panel call raises.
ERROR_CODES: dict[str, type[B12LabsError]] = {
    "unknown_unit": UnknownUnitError,
    "incompatible_unit": IncompatibleUnitError,
    "implausible_value": ImplausibleValueError,
    "invalid_value": InvalidValueError,
    "conflicting_unit": UnitError,
}
_CODE_OF: dict[type[B12LabsError], str] = {cls: code for code, cls in ERROR_CODES.items()}

PREFIX = "b12labs_"
_MEASURED = (*(str(m) for m in MARKERS), "creatinine")
#: Yes/no columns (Panel's bool fields) and code-list columns (one text of codes per cell).
_YES_NO = ("pregnant", "recent_b12_treatment", "nitrous_oxide")
_CODE_LISTS = ("symptoms", "risk_factors")
# Order in which a row's inputs are checked: the order of Panel's fields, so that a row
# with several problems reports the one the single-panel call raises.
_FIELD_ORDER = (
    *(str(m) for m in MARKERS),
    *("age", "sex", "pregnant", "egfr", "creatinine"),
    *("symptoms", "risk_factors", "recent_b12_treatment", "nitrous_oxide"),
)

_NAMES: dict[str, tuple[str, ...]] = {
    "b12": ("b12", "vitaminb12", "vitb12", "cobalamin", "serumb12", "totalb12", "serumcobalamin"),
    "holotc": ("holotc", "activeb12", "holotranscobalamin", "holotranscobalaminii"),
    "mma": ("mma", "methylmalonicacid", "methylmalonate", "serummma"),
    "hcy": ("hcy", "thcy", "homocysteine", "totalhomocysteine", "plasmahomocysteine"),
    "folate": ("folate", "serumfolate", "folicacid"),
    "creatinine": ("creatinine", "serumcreatinine", "creat", "scr"),
    "age": ("age", "ageyears", "ageyrs"),
    "sex": ("sex", "gender"),
    "pregnant": ("pregnant", "pregnancy", "pregnancystatus", "ispregnant"),
    "egfr": ("egfr",),
    "symptoms": ("symptoms", "symptom", "symptomlist"),
    "risk_factors": ("riskfactors", "riskfactor", "riskfactorlist"),
    # not "recent b12" (a latest B12 result) nor "b12 treatment" (a dose or a plan)
    "recent_b12_treatment": (
        *("recentb12treatment", "recenttreatment", "recentb12injection", "recentb12supplement"),
        *("recentb12supplementation", "onb12", "onb12treatment", "onb12supplement"),
        "onb12supplements",
    ),
    "nitrous_oxide": (
        *("nitrousoxide", "nitrousoxideexposure", "nitrousoxideuse"),
        *("n2o", "n2oexposure", "n2ouse"),
    ),
}
_BY_NAME = {name: key for key, names in _NAMES.items() for name in names}
_HEADER_UNIT = re.compile(r"^(?P<name>.*?)\s*[(\[]\s*(?P<unit>[^)\]]+?)\s*[)\]]\s*$")
_SEPARATORS = re.compile(r"[\s_\-.]+")
_PLAIN_NUMBER = r"^[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?$"
_TRUE = frozenset({"true", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "no", "n", "0", "0.0"})

# Header units of the two number columns, as (multiplier, divisor) to the canonical unit:
# value * multiplier / divisor. Only definitions, as UCUM and pint define these units (tested
# against pint): year = 365.25 days (UCUM "a", the Julian year), month = year / 12 (UCUM
# "mo"), week = 7 days, day = year / 365.25; 1 mL/s = 60 mL/min. Spellings are compared
# lower-cased without spaces, with "²" and "^2" read as "2". An eGFR is by definition per
# 1.73 m2 of body surface, so on an eGFR column "mL/min" and "mL/s" are read as the usual
# abbreviations of mL/min/1.73 m2 and mL/s/1.73 m2 (as exports write them).
_HEADER_UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "age": {
        "years": (1.0, 1.0),
        "months": (1.0, 12.0),
        "weeks": (7.0, 365.25),
        "days": (1.0, 365.25),
    },
    "egfr": {"mL/min/1.73m2": (1.0, 1.0), "mL/s/1.73m2": (60.0, 1.0)},
}
_HEADER_SPELLINGS: dict[str, dict[str, str]] = {
    "age": {
        **dict.fromkeys(("years", "year", "yrs", "yr", "y", "a"), "years"),
        **dict.fromkeys(("months", "month", "mos", "mo", "mths", "mth"), "months"),
        **dict.fromkeys(("weeks", "week", "wks", "wk"), "weeks"),
        **dict.fromkeys(("days", "day", "d"), "days"),
    },
    "egfr": {
        **dict.fromkeys(
            ("ml/min/1.73m2", "ml/min/1.73", "ml/minper1.73m2", "ml/min/1.73msq", "ml/min"),
            "mL/min/1.73m2",
        ),
        **dict.fromkeys(
            ("ml/s/1.73m2", "ml/sec/1.73m2", "ml/s/1.73", "ml/sper1.73m2", "ml/secper1.73m2"),
            "mL/s/1.73m2",
        ),
        **dict.fromkeys(("ml/s", "ml/sec"), "mL/s/1.73m2"),
    },
}

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


def _resolve_columns(
    labels: Sequence[Hashable], columns: Mapping[str, Hashable] | None
) -> _Columns:
    """Which column holds which key.

    Raises:
        TypeError: ``columns`` is not a mapping.
        ColumnError: an unknown key, a label that is not a column (or not hashable), two keys
            mapped to one column, a column read under a label that the frame holds twice,
            two columns that look like one key, or no B12-related column.
    """
    if columns is not None and not isinstance(columns, Mapping):
        raise TypeError(
            "columns= must be a mapping such as {'b12': 'Vitamin B12'}, not "
            f"{type(columns).__name__}"
        )
    found = _Columns()
    explicit = dict(columns or {})
    counts = Counter(labels)

    def read_once(label: Hashable, key: str) -> None:
        # a frame may hold one label twice (pandas allows it): reading either would be a guess
        if counts[label] > 1:
            raise ColumnError(
                f"column label {label!r} appears {counts[label]} times in the frame and is read "
                f"as {key!r}: rename the duplicates so that each label names one column",
                analyte=key.removesuffix("_unit"),
                value=label,
            )

    mapped: dict[Hashable, str] = {}
    for key, label in explicit.items():
        base = key[: -len("_unit")] if isinstance(key, str) and key.endswith("_unit") else key
        if not isinstance(key, str) or base not in _NAMES:
            accepted = ", ".join([*_NAMES, *(f"{m}_unit" for m in _MEASURED)])
            raise ColumnError(
                f"columns=: unknown key {key!r}; accepted keys: {accepted}", value=key
            )
        try:
            hash(label)
        except TypeError:
            raise ColumnError(
                f"columns=: {key!r} maps to {label!r}, which cannot be a column label",
                analyte=base,
                value=None,
            ) from None
        if label not in labels:
            raise ColumnError(
                f"columns=: {key!r} maps to {label!r}, which is not a column of the frame",
                analyte=base,
                value=label,
            )
        if label in mapped:
            raise ColumnError(
                f"columns=: {mapped[label]!r} and {key!r} both map to {label!r}; one column "
                "holds one key",
                analyte=base,
                value=label,
            )
        mapped[label] = key
        read_once(label, key)
        if key.endswith("_unit"):
            found.unit_column[base] = label
        else:
            found.value[base] = label
            header_unit = _normalize(label)[1]
            if header_unit:
                found.header_unit[base] = header_unit
    used = set(explicit.values())
    for label in labels:
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
        read_once(label, target if slot is found.value else f"{target}_unit")
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


# ----------------------------------------------------------------------------- column access
# A column is a pandas Series or an Arrow array; these few functions are all the core asks.


def _is_arrow(column: Any) -> bool:
    return isinstance(column, pa.Array | pa.ChunkedArray)


def _without_views(column: Any) -> Any:
    """An Arrow column of string views (polars' text) as large strings, which every compute
    kernel takes; any other column as it is."""
    if not _is_arrow(column):
        return column
    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if _is_view(kind):
        target = pa.large_string() if pa.types.is_string_view(kind) else pa.large_binary()
        if pa.types.is_dictionary(column.type):
            target = pa.dictionary(column.type.index_type, target)
        return column.cast(target)
    return column


def _is_view(kind: pa.DataType) -> bool:
    is_string_view = getattr(pa.types, "is_string_view", None)
    is_binary_view = getattr(pa.types, "is_binary_view", None)
    return bool(
        (is_string_view and is_string_view(kind)) or (is_binary_view and is_binary_view(kind))
    )


def _kind(column: Any) -> Literal["bool", "numeric", "text"]:
    """How a column is read: booleans, numbers, or text to parse.

    Columns that went through :func:`_readable` are exactly one of these. A raw column (the
    code lists read it raw) is "text" unless its type is boolean or numeric.
    """
    if _is_arrow(column):
        kind = column.type
        if pa.types.is_boolean(kind):
            return "bool"
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            return "numeric"
        return "text"
    from pandas.api import types

    if types.is_bool_dtype(column.dtype):
        return "bool"
    return "numeric" if types.is_numeric_dtype(column.dtype) else "text"


Role = Literal["measure", "flag", "label"]


@dataclass
class _Readable:
    """A column as the readers take it, and the cells no reader can take.

    ``column`` is a pandas Series of a boolean or real-number dtype, or an Arrow array of a
    boolean, number or string type. ``odd`` marks the cells that are present but are neither
    text nor a number the role accepts: bytes, complex numbers, containers, dates and other
    objects, integers beyond the float range, text that is not valid Unicode (and booleans,
    except in a yes/no column). They are null in ``column``; each becomes its row's error,
    the one ``interpret()`` raises for that cell. None when there are no such cells.
    """

    column: Any
    odd: npt.NDArray[np.bool_] | None = None


def _readable(column: Any, role: Role) -> _Readable:
    """Bring any column to a type the readers know (see :class:`_Readable`).

    ``role`` says how a Python object cell becomes text: "measure" (a marker, creatinine,
    age, eGFR) takes text and real numbers; "flag" (a yes/no column) also booleans; "label"
    (sex, a unit column) reads every cell as ``str()`` does, as ``Panel`` reads sex.
    Columns of text, numbers or booleans (almost every column) are passed through or
    converted by pyarrow in one go; only other columns are read cell by cell.
    """
    if _is_arrow(column):
        return _readable_arrow(column, role)
    from pandas.api import types

    dtype = column.dtype
    if role == "label":  # text (str, object, categorical or Arrow columns) in one go
        if types.is_bool_dtype(dtype) or types.is_numeric_dtype(dtype):
            return _objects(column.tolist(), role)  # str() of each cell, as Panel reads it
        try:
            array = _from_pandas(column.array)
            if pa.types.is_dictionary(array.type):
                array = pc.cast(array, array.type.value_type)
        except Exception:  # mixed objects, text that is not valid Unicode: cell by cell
            return _objects(column.tolist(), role)
        kind = array.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
            return _Readable(_text_array(array))
        return _objects(column.tolist(), role)
    if types.is_bool_dtype(dtype) and not isinstance(dtype, _arrow_dtype()):
        return _Readable(column)
    if isinstance(dtype, _arrow_dtype()):
        try:
            array = pa.array(column.array)
        except Exception:  # any failure: read the cells one by one
            return _objects(column.tolist(), role)
        return _readable_arrow(array, role)
    if types.is_complex_dtype(dtype):
        return _objects(column.tolist(), role)
    if types.is_numeric_dtype(dtype):
        return _Readable(column)
    if isinstance(dtype, _string_dtypes()):
        return _arrow_text(column, role)
    if types.is_object_dtype(dtype):
        inferred = types.infer_dtype(column, skipna=True)
        if inferred in ("string", "empty"):
            return _arrow_text(column, role)
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal", "boolean"):
            try:  # pyarrow reads a column of Python numbers (or booleans) in one go
                array = pa.array(column.array, from_pandas=True)
            except Exception:  # too wide for int64, mixed: cell by cell
                return _objects(column.tolist(), role)
            return _readable_arrow(array, role)
        return _objects(column.tolist(), role)
    if isinstance(dtype, types.CategoricalDtype):
        try:
            array = _from_pandas(column.array, from_pandas=False)
        except Exception:
            return _objects(column.tolist(), role)
        return _readable_arrow(array, role)
    return _objects(column.tolist(), role)  # dates, periods, intervals, sparse text...


def _readable_arrow(column: Any, role: Role) -> _Readable:
    kind = column.type
    if pa.types.is_dictionary(kind):
        try:
            column = pc.cast(column, kind.value_type)
        except Exception:
            return _objects(_pylist(column), role)
        kind = column.type
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_null(kind)
        or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(kind))
    ):
        return _Readable(_text_array(column))
    if role == "label":
        return _objects(_pylist(column), role)
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return _Readable(column)
    if pa.types.is_decimal(kind):
        return _Readable(column)
    return _objects(_pylist(column), role)  # binary, nested, dates and times...


def _arrow_text(column: Any, role: Role) -> _Readable:
    """A pandas column of text as an Arrow string array (cell by cell if pyarrow refuses it:
    text that is not valid Unicode)."""
    try:
        array = pa.array(column.array, from_pandas=True)
    except Exception:
        return _objects(column.tolist(), role)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)) and not (
        pa.types.is_null(array.type)
    ):
        return _objects(column.tolist(), role)
    return _Readable(_text_array(array))


def _text_array(array: Any) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string())
    return array


#: What pandas infers for object cells that pyarrow converts without the crash below.
_SAFE_INFERRED = frozenset(
    {"string", "empty", "integer", "floating", "mixed-integer-float", "decimal", "boolean", "bytes"}
)


def _from_pandas(values: Any, *, from_pandas: bool = True) -> pa.Array:
    """``pa.array`` of a pandas column's values, refused (``ArrowTypeError``, as pyarrow
    refuses other mixes, so callers read the cells one by one) where pyarrow 26 crashes:
    a numpy datetime64 among other numpy scalars in object cells or categories makes its
    type inference end the process with a segmentation fault."""
    if crashes_pyarrow(values):
        raise pa.ArrowTypeError("numpy datetime64 cells among other cells: read one by one")
    return pa.array(values, from_pandas=from_pandas)


def crashes_pyarrow(values: Any) -> bool:
    """Whether pyarrow 26's type inference would end the process on a pandas column's values
    (an ``ExtensionArray`` or numpy array): a numpy datetime64 among other numpy scalars in
    object cells or categories. One ``infer_dtype`` per object column; the cells are scanned
    only when they mix kinds."""
    from pandas.api import types

    dtype = values.dtype
    cells = None
    if isinstance(dtype, types.CategoricalDtype):
        cells = np.asarray(values.categories, dtype=object)
    elif types.is_object_dtype(dtype):
        cells = np.asarray(values, dtype=object)
    return bool(
        cells is not None
        and types.infer_dtype(cells, skipna=True) not in _SAFE_INFERRED
        and any(isinstance(cell, np.datetime64) for cell in cells)
    )


@functools.cache
def _string_dtypes() -> tuple[type, ...]:  # pandas is imported only for pandas columns
    import pandas as pd

    return (pd.StringDtype,)


@functools.cache
def _arrow_dtype() -> type:
    import pandas as pd

    return pd.ArrowDtype


def _pylist(column: Any) -> list[Any]:
    try:
        return list(column.to_pylist())
    except Exception:  # e.g. a timestamp Python cannot hold
        return [_Unreadable(str(v)) if v.is_valid else None for v in column]


class _Unreadable:
    """A cell Python cannot even hold (shown by its Arrow text)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_ODD = object()  # marks a cell that no reader takes


def _objects(cells: list[Any], role: Role) -> _Readable:
    """Python cells one by one (a column that is not text, numbers or booleans)."""
    texts: list[str | None] = []
    odd = np.zeros(len(cells), dtype=bool)
    for i, cell in enumerate(cells):
        text = _cell_text(cell, role)
        if text is _ODD:
            odd[i] = True
            text = None
        texts.append(text)
    return _Readable(pa.array(texts, type=pa.string()), odd if odd.any() else None)


def _cell_text(cell: Any, role: Role) -> Any:
    """The text a cell is read as, None when missing, or _ODD."""
    if isinstance(cell, str):
        return cell if _is_unicode(cell) else _ODD
    if _is_missing_cell(cell):
        return None
    if role == "label":  # as Panel reads sex: str(value)
        try:
            text = str(cell)
        except Exception:  # e.g. an integer of more than 4300 digits
            return _ODD
        return text if _is_unicode(text) else _ODD
    if isinstance(cell, bool | np.bool_):
        return ("true" if cell else "false") if role == "flag" else _ODD
    if isinstance(cell, numbers.Real | Decimal):  # the numbers Panel accepts
        try:
            number = float(cell)
        except (TypeError, ValueError, ArithmeticError):  # beyond the float range; sNaN
            return _ODD
        return repr(number)  # text the parser reads back exactly ("1e+30", "inf")
    return _ODD


def _is_missing_cell(cell: Any) -> bool:
    """None, NaN, pandas' NA and NaT, a NaN Decimal, numpy's NaT: a missing cell."""
    if cell is None:
        return True
    if isinstance(cell, float | np.floating):
        return math.isnan(cell)
    if isinstance(cell, Decimal):
        return cell.is_nan()
    if isinstance(cell, np.datetime64 | np.timedelta64):
        return bool(np.isnat(cell))
    return type(cell).__name__ in ("NAType", "NaTType")


def _is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _float_values(column: Any) -> FloatArray:
    """A numeric column as a new float array (NaN where missing)."""
    if _is_arrow(column):
        # not "safe": integers beyond 2**53 round to the nearest float, as float() does
        return np.array(_arrow_floats(pc.cast(column, pa.float64(), safe=False)))
    return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan, copy=True))


def _present(column: Any) -> npt.NDArray[np.bool_]:
    if _is_arrow(column):
        return _bool_array(pc.is_valid(column))
    return np.asarray(column.notna().to_numpy(dtype=bool))


def _bool_codes(column: Any) -> npt.NDArray[np.int8]:
    """A boolean column as codes: 1 true, 0 false, -1 missing."""
    truth = (
        bools(column)
        if _is_arrow(column)
        else np.asarray(column.to_numpy(dtype=bool, na_value=False))
    )
    codes = np.where(truth, 1, 0).astype(np.int8)
    codes[~_present(column)] = -1
    return codes


def _cells(column: Any, rows: npt.NDArray[np.intp]) -> list[Any]:
    """The raw cells of a few rows (bad rows only)."""
    if not rows.size:
        return []
    if _is_arrow(column):
        return _pylist(pc.take(column, arrow_of(rows)))
    return list(column.iloc[rows].tolist())


def _as_text(column: Any) -> pa.Array:
    """The column as an Arrow string array (numbers in object columns become their text).

    Used on raw columns by the code lists; may raise on a column pyarrow cannot read.
    """
    if _is_arrow(column):
        array = column
    else:
        try:
            array = _from_pandas(column.array)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            import pandas as pd

            array = pa.array(column.astype(pd.StringDtype("pyarrow")).array)
    return _text_array(array)


def _cell_key(cell: Any) -> Any:
    """A key telling apart the distinct bad cells of a column (they share one error each)."""
    try:
        return repr(cell)
    except Exception:  # an integer of more than 4300 digits, a broken object
        return ("cell", type(cell).__name__, id(cell))


def _shown(cell: Any) -> str:
    """A cell as an error message shows it: its repr, shortened when very long."""
    if isinstance(cell, int) and not isinstance(cell, bool) and cell.bit_length() > 1000:
        return f"an integer of about {int(cell.bit_length() * math.log10(2)) + 1} digits"
    try:
        text = repr(cell)
    except Exception:
        return f"a {type(cell).__name__} object"
    return text if len(text) <= 120 else f"{text[:100]}... ({len(text)} characters)"


_MISSING_SET = strings(sorted(MISSING_TOKENS))
_CENSOR_TEXTS = strings(list(_CENSOR_SPELLINGS))
_CENSOR_VALUES = np.array([CENSOR_INDEX[c.value] for c in _CENSOR_SPELLINGS.values()], np.int8)


def _is_missing_text(text: str | None) -> bool:
    return text is None or text.strip().lower() in MISSING_TOKENS


def _bool_array(array: Any) -> npt.NDArray[np.bool_]:
    return bools(array)


def _floats(texts: pa.Array) -> FloatArray:
    return _arrow_floats(pc.cast(texts, pa.float64()))


@dataclass
class _Encoded:
    """A low-cardinality text column as row indexes into its distinct values (-1: null)."""

    index: npt.NDArray[np.int64]
    values: list[str]

    @classmethod
    def of(cls, array: pa.Array, vocabulary: tuple[str, ...] = ()) -> _Encoded:
        """Encode ``array``; values found in ``vocabulary`` (the expected spellings) take a
        fast hash lookup, and only the others are dictionary-encoded."""
        if not vocabulary:
            encoded = pc.dictionary_encode(array)
            index = integers(encoded.indices).astype(np.int64)
            return cls(index, encoded.dictionary.to_pylist())
        index = integers(pc.index_in(array, value_set=_spellings(vocabulary))).astype(np.int64)
        other = np.flatnonzero((index < 0) & _bool_array(pc.is_valid(array)))
        if other.size == 0:
            return cls(index, list(vocabulary))
        rest = cls.of(pc.take(array, arrow_of(other)))
        index[other] = rest.index + len(vocabulary)
        return cls(index, [*vocabulary, *rest.values])

    def lookup(self, table: list[Any], missing: Any) -> npt.NDArray[Any]:
        """Per-row value: ``table[i]`` for distinct value i, ``missing`` for null rows."""
        return np.asarray([*table, missing])[self.index]


@dataclass
class _Parsed:
    """One measurement column: value, censor code, the cell's own unit, bad cells."""

    value: FloatArray
    censor: npt.NDArray[np.int8]
    unit_rows: npt.NDArray[np.intp]  # rows whose cell text carries its own unit...
    units: _Encoded  # ...and those units
    bad: npt.NDArray[np.bool_]  # cells that are not a measurement
    text: pa.Array | None  # the raw cells as text (None for a numeric column)


def _parse_measurements(readable: _Readable) -> _Parsed:
    """Parse a measurement column; texts longer than the single-panel limit are bad cells.

    ``Measurement.parse`` refuses a text over :data:`MAX_MEASUREMENT_LENGTH` characters
    (outer spaces trimmed) before parsing it: the batch refuses the same cells, with the
    error the single-panel call raises.
    """
    parsed = _parse_measurement_texts(readable)
    text = parsed.text
    if text is None or len(text) == 0:
        return parsed
    # bytes first (read from the offsets): a cell has at least as many bytes as characters
    longest = pc.max(pc.binary_length(text)).as_py()
    if longest is None or longest <= MAX_MEASUREMENT_LENGTH:
        return parsed  # no cell can be over the limit: no trimming pass
    longest = pc.max(pc.utf8_length(text)).as_py()
    if longest is None or longest <= MAX_MEASUREMENT_LENGTH:
        return parsed
    long = _bool_array(
        pc.greater(
            pc.utf8_length(pc.utf8_trim_whitespace(text)),
            scalar(MAX_MEASUREMENT_LENGTH),
        )
    )
    if not long.any():
        return parsed
    parsed.bad = parsed.bad | long
    # new arrays: the values may be a read-only view of Arrow memory (a zero-copy cast)
    parsed.value = np.where(long, np.nan, parsed.value)
    parsed.censor = np.where(long, 0, parsed.censor).astype(np.int8)
    keep = ~long[parsed.unit_rows]
    if not keep.all():
        parsed.unit_rows = parsed.unit_rows[keep]
        parsed.units = _Encoded(parsed.units.index[keep], parsed.units.values)
    return parsed


def _parse_measurement_texts(readable: _Readable) -> _Parsed:
    series = readable.column
    n = len(series)
    value = np.full(n, np.nan)
    censor = np.zeros(n, dtype=np.int8)
    no_units = _Encoded(np.zeros(0, dtype=np.int64), [])
    nowhere = np.zeros(0, dtype=np.intp)
    kind = _kind(series)
    if kind == "bool":
        return _Parsed(value, censor, nowhere, no_units, _present(series), None)
    if kind == "numeric":
        value = _float_values(series)
        return _Parsed(value, censor, nowhere, no_units, np.isinf(value), None)
    text = _as_text(series)
    odd = readable.odd
    # Fastest path: a text column of clean numbers (MMA or age exported as text) casts in
    # one go. Every finite number the cast accepts reads as the measurement pattern reads it
    # ("inf" or "-5" then fail the plausibility check, as in interpret()). A NaN is missing
    # only when the text is a no-result text ("nan", "NaN"): the cast also reads "-nan",
    # "nan(1)", "+NaN", which interpret() refuses. A blank cell is a no-result text: it is
    # read as null, so a column of numbers with blanks (MMA is often not measured) still
    # casts in one go.
    castable = _blank_as_null(text)
    try:
        whole = pc.cast(castable, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        whole = None
    if whole is not None:
        value = _floats(whole)
        bad = np.zeros(n, dtype=bool) if odd is None else odd.copy()
        nan = np.flatnonzero(np.isnan(value) & _bool_array(pc.is_valid(castable)))
        if nan.size:
            cells = pc.utf8_lower(pc.utf8_trim_whitespace(pc.take(text, arrow_of(nan))))
            bad[nan[~_bool_array(pc.is_in(cells, value_set=_MISSING_SET))]] = True
        return _Parsed(value, censor, nowhere, no_units, bad, text)
    # Fast path: cells that are a bare number (most of an export) are cast in one go.
    plain = _bool_array(pc.match_substring_regex(text, _PLAIN_NUMBER))
    if plain.any():
        value[plain] = _floats(pc.filter(text, arrow_of(plain)))
    bad = np.zeros(n, dtype=bool) if odd is None else odd.copy()
    rest = np.flatnonzero(~plain & _bool_array(pc.is_valid(text)))
    if rest.size == 0:
        return _Parsed(value, censor, nowhere, no_units, bad, text)
    cells = pc.utf8_trim_whitespace(pc.take(text, arrow_of(rest)))
    kept = ~_bool_array(pc.is_in(pc.utf8_lower(cells), value_set=_MISSING_SET))
    rest, cells = rest[kept], pc.filter(cells, arrow_of(kept))
    parts = pc.extract_regex(cells, MEASUREMENT_PATTERN)
    matched = _bool_array(pc.is_valid(parts))
    unit = pc.utf8_trim_whitespace(parts.field("unit"))
    # a decimal comma ("0,45") leaves ",45" as the unit: not a measurement
    ok = matched & ~_bool_array(pc.starts_with(unit, ","))
    bad[rest[~ok]] = True
    good, mask = rest[ok], arrow_of(ok)
    value[good] = _floats(pc.replace_substring(pc.filter(parts.field("number"), mask), ",", ""))
    spelled = pc.index_in(pc.filter(parts.field("censor"), mask), value_set=_CENSOR_TEXTS)
    index = integers(spelled).astype(np.int64)
    censor[good] = np.where(index >= 0, _CENSOR_VALUES[index], 0)
    unit = pc.filter(unit, mask)
    has_unit = _bool_array(pc.not_equal(unit, scalar("")))
    units = _Encoded.of(pc.filter(unit, arrow_of(has_unit)))
    return _Parsed(value, censor, good[has_unit], units, bad, text)


def _blank_as_null(text: pa.Array) -> pa.Array:
    """``text`` with its empty cells null ("" is in MISSING_TOKENS: a missing result)."""
    blank = integers(pc.binary_length(text)) == 0  # null cells read as -1
    return with_nulls(text, blank) if blank.any() else text


def _numbers(readable: _Readable) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """A numeric context column (age, eGFR): floats, and the cells that are not numbers."""
    if _kind(readable.column) == "numeric":
        value = _float_values(readable.column)
        return value, np.isinf(value)
    parsed = _parse_measurements(readable)
    # a censored age or a number with text after it is not a number here
    bad = parsed.bad | (parsed.censor > 0)
    bad[parsed.unit_rows] = True
    value = parsed.value.copy()
    value[bad] = np.nan
    return value, bad


@functools.lru_cache(maxsize=64)
def _spellings(spelled: tuple[str, ...]) -> pa.Array:
    """Texts (a code table's spellings, a vocabulary) as an Arrow array, built once each."""
    return strings(spelled)


def _labels(readable: _Readable, table: Mapping[str, int]) -> tuple[npt.NDArray[np.int8], Any]:
    """Codes of a text column through ``table`` (trimmed, lower-cased keys).

    Returns (codes with -1 for missing, mask of cells that are not in the table).
    """
    series = readable.column
    text = _as_text(series)
    if readable.odd is not None:  # odd cells are null in the text: unknown, not missing
        codes, unknown = _labels(_Readable(text), table)
        return codes, unknown | readable.odd
    # Fast path: the spellings as written in the table, in lower, upper or title case.
    spelled = {
        form: code for key, code in table.items() for form in (key, key.upper(), key.title())
    }
    exact = integers(pc.index_in(text, value_set=_spellings(tuple(spelled))))
    codes_of = np.array([*spelled.values(), -1], dtype=np.int8)
    codes = codes_of[exact]
    other = np.flatnonzero((exact < 0) & _bool_array(pc.is_valid(text)))
    if other.size == 0:
        return codes, np.zeros(len(series), dtype=bool)
    encoded = _Encoded.of(pc.take(text, arrow_of(other)))
    mapped = [table.get(v.strip().lower(), -2) for v in encoded.values]
    mapped = [-1 if _is_missing_text(v) else m for v, m in zip(encoded.values, mapped, strict=True)]
    other_codes = encoded.lookup(mapped, -1).astype(np.int8)
    unknown = np.zeros(len(series), dtype=bool)
    unknown[other[other_codes == -2]] = True
    codes[other] = np.where(other_codes == -2, -1, other_codes)
    return codes, unknown


def _yes_no(readable: _Readable) -> tuple[npt.NDArray[np.int8], Any]:
    """A yes/no column as codes (1 yes, 0 no, -1 missing) and the mask of unreadable cells.

    Booleans, numbers 1 / 0, and the texts of :data:`_BOOL_CODES` in any case.
    """
    series = readable.column
    kind = _kind(series)
    if kind == "bool":
        return _bool_codes(series), np.zeros(len(series), dtype=bool)
    if kind == "text":
        return _labels(readable, _BOOL_CODES)
    value = _float_values(series)
    codes = np.full(len(value), -1, dtype=np.int8)
    codes[value == 1] = 1
    codes[value == 0] = 0
    return codes, ~np.isnan(value) & (codes < 0)


def _header_factor(key: str, label: Hashable, unit: str | None) -> tuple[float, float] | None:
    """(multiplier, divisor) of an age or eGFR header unit; None when there is no conversion.

    Raises:
        ColumnError: a bracket text that is not an accepted unit (never ignored).
    """
    if unit is None:
        return None
    spelled = re.sub(r"\s+", "", unit.lower()).replace("²", "2").replace("^2", "2")
    name = _HEADER_SPELLINGS[key].get(spelled)
    if name is None:
        spellings = _HEADER_SPELLINGS[key].items()
        accepted = "; ".join(
            f"{canonical} ({', '.join(s for s, c in spellings if c == canonical)})"
            for canonical in _HEADER_UNITS[key]
        )
        raise ColumnError(
            f"column {label!r} ({key}): {unit!r} in the header is not an accepted {key} unit; "
            f"accepted: {accepted}. A bracket text on the {key} column is read as its unit: "
            "fix it, or rename the column",
            analyte=key,
            value=label,
            unit=unit,
        )
    factor = _HEADER_UNITS[key][name]
    return None if factor == (1.0, 1.0) else factor


@dataclass
class _CodeList:
    """A symptoms or risk-factors column: the Tri code per row, and rows naming a code."""

    tri: npt.NDArray[np.int8]
    naming: dict[str, npt.NDArray[np.bool_]]  # code -> rows whose list holds it


_ENUMS: dict[str, tuple[type[Symptom] | type[RiskFactor], dict[str, Any]]] = {
    "symptoms": (Symptom, _SYMPTOM_ALIASES),
    "risk_factors": (RiskFactor, _RISK_ALIASES),
}
#: Codes of a list that the rules read one by one (decision-spec 7.0 and 7.2 step 4).
_NAMED_CODES: dict[str, tuple[str, ...]] = {
    "symptoms": (),
    "risk_factors": (RiskFactor.NITROUS_OXIDE.value, RiskFactor.AUTOIMMUNE_GASTRITIS.value),
}


def _code_list(key: str, series: Any, problems: _Errors) -> _CodeList:
    """Read a symptoms / risk-factors column as ``Panel`` reads one text of codes.

    Text is dictionary-encoded, so each distinct cell text goes once through the scalar
    parser (:func:`~b12labs._models._enum_items`); a bad cell gets Panel's error. Missing cells
    are unknown; numbers and booleans are not code lists (Panel's error).
    """
    n = len(series)
    enum, aliases = _ENUMS[key]
    if _kind(series) != "text":
        rows = np.flatnonzero(_present(series))
        cells = _cells(series, rows)
        problems.add(rows, [_cell_key(c) for c in cells], _context_builder(key, cells))
        nowhere = {code: np.zeros(n, dtype=bool) for code in _NAMED_CODES[key]}
        return _CodeList(np.zeros(n, dtype=np.int8), nowhere)
    text = _list_text(series)
    if text is None:
        return _code_list_cells(key, series, problems)
    encoded = _Encoded.of(text)
    parsed: list[tuple[Any, ...] | None] = []
    bad: list[int] = []
    for i, value in enumerate(encoded.values):
        try:
            parsed.append(_enum_items(value, enum, aliases, key))
        except InvalidValueError:
            parsed.append(None)
            bad.append(i)
    if bad:
        rows = np.flatnonzero(np.isin(encoded.index, bad))
        cells = [encoded.values[i] for i in encoded.index[rows].tolist()]
        problems.add(rows, [_cell_key(c) for c in cells], _context_builder(key, cells))
    tri = encoded.lookup([_tri(items) for items in parsed], int(Tri.UNKNOWN)).astype(np.int8)
    naming = {
        code: encoded.lookup(
            [items is not None and code in items for items in parsed], False
        ).astype(bool)
        for code in _NAMED_CODES[key]
    }
    return _CodeList(tri, naming)


def _tri(items: tuple[Any, ...] | None) -> int:
    """Tri code of a parsed list: None unknown, () none reported, codes some reported."""
    return int(Tri.UNKNOWN if items is None else (Tri.YES if items else Tri.NO))


def _list_text(series: Any) -> pa.Array | None:
    """The column as Arrow text, or None when its cells are not all text (Python lists,
    bytes, dates...: read cell by cell as Panel reads them)."""
    try:
        array = series if _is_arrow(series) else _from_pandas(series.array)
        if pa.types.is_dictionary(array.type):
            array = pc.cast(array, array.type.value_type)
    except Exception:  # mixed objects, text that is not valid Unicode
        return None
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return _text_array(array)
    return None


def _code_list_cells(key: str, series: Any, problems: _Errors) -> _CodeList:
    """The slow path of :func:`_code_list`: cells that are Python lists (or mixed objects),
    read one by one exactly as ``Panel`` reads them."""
    n = len(series)
    enum, aliases = _ENUMS[key]
    tri = np.zeros(n, dtype=np.int8)
    naming = {code: np.zeros(n, dtype=bool) for code in _NAMED_CODES[key]}
    rows = np.flatnonzero(_present(series))
    bad_rows: list[int] = []
    bad_cells: list[Any] = []
    for row, cell in zip(rows.tolist(), _cells(series, rows), strict=True):
        try:
            items = _enum_items(cell, enum, aliases, key)
        except Exception:  # Panel fails on this cell too (its error is built below)
            bad_rows.append(row)
            bad_cells.append(cell)
            continue
        tri[row] = _tri(items)
        for code, rows_naming in naming.items():
            rows_naming[row] = items is not None and code in items
    problems.add(
        np.asarray(bad_rows, dtype=np.intp),
        [_cell_key(c) for c in bad_cells],
        _context_builder(key, bad_cells),
    )
    return _CodeList(tri, naming)


# ----------------------------------------------------------------------------- frame


class _Errors:
    """The first error of each row, in Panel field order (index into ``objects``)."""

    def __init__(self, n: int) -> None:
        self.index = np.full(n, -1, dtype=np.int32)
        self.objects: list[B12LabsError] = []
        #: Rows with a result but no unit from any source, per analyte (for a front's note).
        self.unitless: dict[str, int] = {}

    def add(self, rows: npt.NDArray[np.intp], keys: list[Any], build: Any) -> None:
        """Record ``build(key)`` for each row without an error yet.

        Only bad rows get here (Python per bad row, never per row), and each distinct
        bad input is checked once by the single-panel code.
        """
        made: dict[Any, int] = {}
        for row, key in zip(rows.tolist(), keys, strict=True):
            if self.index[row] >= 0:
                continue
            if key not in made:
                made[key] = len(self.objects)
                self.objects.append(build(key))
            self.index[row] = made[key]


def _scalar_error(check: Any, fallback: B12LabsError) -> B12LabsError:
    """The error the single-panel path raises for this input (it must raise one).

    ``fallback`` is used when it raises none, or fails with an exception that is not a
    b12labs error (an integer too large for a float): the row is refused either way.
    """
    try:
        check()
    except B12LabsError as error:
        # Keep the error, not its traceback: the frames would keep this batch's arrays
        # alive (a reference cycle through the error table) until the next full collection.
        error.__traceback__ = error.__context__ = error.__cause__ = None
        return error
    except Exception:  # the fallback says what is wrong with the cell
        pass
    return fallback


_SEX_CODES = {"f": 0, "female": 0, "m": 1, "male": 1}
#: Unit spellings expected in unit columns (fast path of the encoding; others work too).
_UNIT_SPELLINGS: tuple[str, ...] = tuple(
    dict.fromkeys([*ALIASES.values(), *ALIASES, *(u.replace("L", "l") for u in ALIASES.values())])
)
_BOOL_CODES = {**dict.fromkeys(_FALSE, 0), **dict.fromkeys(_TRUE, 1)}
_SEX_NAMES = ("female", "male")


#: The FHIR interpretation codes as the categories of a ``*_fhir`` result column.
_CODE_TEXTS: tuple[str, ...] = tuple(c.value for c in CODES)


@dataclass
class Scored:
    """Result arrays of a scored table (one entry per row)."""

    n: int
    found: _Columns
    values: dict[str, FloatArray]
    result: BatchResult
    problems: _Errors
    #: What produced the results: rules_version, profile_id, profile_version, library_version,
    #: schema_version.
    provenance: dict[str, Any] = field(default_factory=dict)
    #: Censor code of each marker column found (0 none, 1 '<', 2 '<=', 3 '>', 4 '>='; 0 in a
    #: cell that is not a measurement).
    censors: dict[str, npt.NDArray[np.int8]] = field(default_factory=dict)

    def columns(
        self, selection: ColumnSelection = "standard"
    ) -> list[tuple[str, Any, tuple[Any, ...] | None]]:
        """The result columns in output order: (name, array, categories).

        With categories, the array holds integer codes into them (-1 for missing); without,
        it holds numbers (floats, or integers for ``b12labs_rules_version``).

        ``selection`` (the command line's ``--columns``): ``"standard"``, the columns of
        the markers and context found; ``"minimal"``, only status, error and rules
        version; ``"all"``, every result column whatever the input holds (empty where a
        marker or eGFR is absent), so that outputs of different exports line up.
        """
        if selection not in COLUMN_SELECTIONS:
            raise ValueError(f"columns: {selection!r} is not one of {', '.join(COLUMN_SELECTIONS)}")
        result, found = self.result, self.found
        every = selection == "all"
        out: list[tuple[str, Any, tuple[Any, ...] | None]] = [
            (f"{PREFIX}status", result.status, tuple(STATUSES))
        ]
        for analyte in (str(m) for m in MARKERS) if selection != "minimal" else ():
            if analyte not in found.value:
                if every:
                    absent = np.full(self.n, -1, dtype=np.int8)
                    out.append((f"{PREFIX}{analyte}_value", np.full(self.n, np.nan), None))
                    out.append((f"{PREFIX}{analyte}_category", absent, CATEGORIES))
                    out.append((f"{PREFIX}{analyte}_fhir", absent, _CODE_TEXTS))
                continue
            value = self.values[analyte]  # computed here, never the input's memory
            if self.problems.objects:
                value[self.problems.index >= 0] = np.nan
            out.append((f"{PREFIX}{analyte}_value", value, None))
            out.append((f"{PREFIX}{analyte}_category", result.categories[analyte], CATEGORIES))
            out.append(
                (
                    f"{PREFIX}{analyte}_fhir",
                    result.fhir[analyte],
                    _CODE_TEXTS,
                )
            )
        if selection != "minimal":
            self._context_columns(out, every)
        # Different bad inputs can share a message: one category per distinct message.
        position: dict[str, int] = {"": 0}
        of_object = np.array(
            [0]
            + [
                position.setdefault(f"{_reason_code(e)}: {e.message}", len(position))
                for e in self.problems.objects
            ],
            dtype=np.int32,
        )
        out.append((f"{PREFIX}error", of_object[self.problems.index + 1], tuple(position)))
        # the rules version describes the run, so error rows carry it too
        out.append((f"{PREFIX}rules_version", np.full(self.n, RULES_VERSION, np.int16), None))
        return out

    def _context_columns(
        self, out: list[tuple[str, Any, tuple[Any, ...] | None]], every: bool
    ) -> None:
        """cB12, its band, eGFR, findings and next steps (appended to ``out``)."""
        result, found = self.result, self.found
        out.append((f"{PREFIX}cb12", result.cb12, None))
        if every or all(a in found.value for a in ("holotc", "b12", "mma", "hcy")):
            out.append((f"{PREFIX}cb12_band", result.cb12_band, CB12_BANDS))
        if every or "egfr" in found.value or "creatinine" in found.value:
            out.append((f"{PREFIX}egfr", result.egfr, None))
        for name, (texts, codes) in (
            ("findings", result.findings),
            ("next_steps", result.next_steps),
        ):
            out.append((f"{PREFIX}{name}", codes, tuple(texts) or ("",)))

    def status_counts(self) -> dict[str, int]:
        """Rows per status (rows with errors are not counted)."""
        counts = np.bincount(self.result.status[self.result.status >= 0], minlength=len(STATUSES))
        return {str(s): int(c) for s, c in zip(STATUSES, counts, strict=True)}

    def unitless_counts(self) -> dict[str, int]:
        """Rows with a result but no unit from any source, per analyte (each is an error)."""
        return dict(self.problems.unitless)

    def error_counts(self) -> dict[str, int]:
        """Rows with errors, by reason code."""
        if not self.problems.objects:
            return {}
        per_object = np.bincount(
            self.problems.index[self.problems.index >= 0], minlength=len(self.problems.objects)
        )
        counts: dict[str, int] = {}
        for error, count in zip(self.problems.objects, per_object.tolist(), strict=True):
            code = _reason_code(error)
            counts[code] = counts.get(code, 0) + count
        return counts


def score_table(
    labels: Sequence[Hashable],
    column: Callable[[Hashable], Any],
    n: int,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Literal["collect", "raise"] = "collect",
    row_label: Callable[[int], Any] = lambda row: row,
) -> Scored:
    """Score a table given as its column labels, a getter of one column (a pandas Series or
    an Arrow array) and its number of rows. See :func:`b12labs.pandas.interpret_frame`.

    Row locality: a row's result depends only on that row, the arguments and the column
    labels and types, never on the other rows of the batch. A :class:`ColumnError` is decided
    by the labels, the column types and the arguments alone; anything found in the cells is
    that row's error.
    """
    if errors not in ("collect", "raise"):
        raise ValueError(f"errors must be 'collect' or 'raise', not {errors!r}")
    cp = compiled(profile)
    found = _resolve_columns(labels, columns)
    fixed_units = _fixed_units(units)
    # header units of age and eGFR first: a wrong one stops the run before any row is read
    scales: dict[str, tuple[float, float] | None] = {
        key: _header_factor(key, found.value[key], found.header_unit.get(key))
        for key in ("age", "egfr")
        if key in found.value
    }
    problems = _Errors(n)
    values: dict[str, FloatArray] = {}
    censors: dict[str, npt.NDArray[np.int8]] = {}
    numbers: dict[str, FloatArray] = {}
    flags: dict[str, npt.NDArray[np.int8]] = {}
    lists: dict[str, _CodeList] = {}
    sex: npt.NDArray[np.int8] | None = None

    for key in _FIELD_ORDER:  # Panel's field order: a row reports the error interpret() raises
        if key not in found.value:
            continue
        series = _without_views(column(found.value[key]))
        if key in _MEASURED:
            unit_column = (
                _without_views(column(found.unit_column[key])) if key in found.unit_column else None
            )
            values[key], censors[key] = _measurement_column(
                key, series, unit_column, found, fixed_units, problems
            )
        elif key in ("age", "egfr"):
            number, junk = _numbers(_readable(series, "measure"))
            scale = scales[key]
            if scale is not None:  # as the definition reads: value * multiplier / divisor
                with np.errstate(over="ignore"):  # 1e308 months: inf, out of range below
                    number = number * scale[0] / scale[1]
            info = analyte_info(key)
            out = ~np.isnan(number) & (
                (number < info.plausible_min) | (number > info.plausible_max)
            )
            # junk text goes to the scalar check as written; a number out of range as the
            # number it was read as, in years or mL/min/1.73 m2 (what interpret() receives)
            bad = np.flatnonzero(junk | out)
            cells = [
                number[row] if out[row] else cell
                for row, cell in zip(bad.tolist(), _cells(series, bad), strict=True)
            ]
            problems.add(bad, [_cell_key(c) for c in cells], _context_builder(key, cells))
            number[junk | out] = np.nan
            numbers[key] = number
        elif key in _CODE_LISTS:
            lists[key] = _code_list(key, series, problems)
        else:
            if key in _YES_NO:
                codes, unknown = _yes_no(_readable(series, "flag"))
            else:  # sex: every cell read as Panel reads it, str(cell) (a boolean is not a sex)
                codes, unknown = _labels(_readable(series, "label"), _SEX_CODES)
            bad = np.flatnonzero(unknown)
            cells = _cells(series, bad)
            problems.add(bad, [_cell_key(c) for c in cells], _context_builder(key, cells))
            if key == "sex":
                sex = codes
            else:
                flags[key] = codes
    pregnant = flags.get("pregnant")
    contradiction = np.zeros(0, dtype=np.intp)
    if pregnant is not None and sex is not None:
        contradiction = np.flatnonzero((pregnant == 1) & (sex == 1))
    problems.add(
        contradiction,
        ["pregnant-male"] * contradiction.size,
        lambda _key: _scalar_error(
            lambda: Panel(pregnant=True, sex="male"),
            InvalidValueError("pregnant: True contradicts sex 'male'", analyte="pregnant"),
        ),
    )

    valid = problems.index < 0
    if errors == "raise" and not valid.all():
        row = int(np.flatnonzero(~valid)[0])
        error = problems.objects[problems.index[row]]
        label = row_label(row)
        label = label.item() if isinstance(label, np.generic) else label  # 7, not np.int64(7)
        raise type(error)(
            f"row {label!r}: {error.message}",
            analyte=error.analyte,
            value=error.value,
            unit=error.unit,
        )

    creatinine = values.pop("creatinine", None)
    creatinine_given = None
    if creatinine is not None:  # a censored creatinine gives no eGFR, as in interpret()
        creatinine_given = ~np.isnan(creatinine)
        creatinine = np.where(censors.pop("creatinine") == 0, creatinine, np.nan)
    # nitrous oxide exposure: the flag, or the risk factor (decision-spec 7.0)
    nitrous = None if "nitrous_oxide" not in flags else flags["nitrous_oxide"] == 1
    risks = lists.get("risk_factors")
    if risks is not None:
        listed = risks.naming[RiskFactor.NITROUS_OXIDE.value]
        nitrous = listed if nitrous is None else nitrous | listed
    treatment = flags.get("recent_b12_treatment")
    symptoms = lists.get("symptoms")
    batch = BatchInput(
        n=n,
        values=values,
        censors=censors,
        valid=valid,
        age=numbers.get("age"),
        sex_known=None if sex is None else sex >= 0,
        female=None if sex is None else sex == 0,
        pregnant=None if pregnant is None else pregnant == 1,
        egfr=numbers.get("egfr"),
        creatinine_mg_dl=creatinine,
        creatinine_given=creatinine_given,
        recent_treatment=None if treatment is None else treatment == 1,
        nitrous_oxide=nitrous,
        symptoms=None if symptoms is None else symptoms.tri,
        risk_factors=None if risks is None else risks.tri,
        autoimmune_gastritis=(
            None if risks is None else risks.naming[RiskFactor.AUTOIMMUNE_GASTRITIS.value]
        ),
    )
    provenance = {
        "rules_version": RULES_VERSION,
        "profile_id": cp.profile.id,
        "profile_version": cp.profile.version,
        "library_version": __version__,
        "schema_version": SCHEMA_VERSION,
    }
    return Scored(n, found, values, evaluate(cp, batch), problems, provenance, censors)


def _fixed_units(units: Mapping[str, str] | None) -> dict[str, str]:
    """``units=`` checked: known analyte keys, each with a unit text (None: no unit given).

    Raises:
        TypeError: ``units`` is not a mapping.
        ColumnError: an unknown analyte, or a unit that is not a non-blank text.
    """
    if units is None:
        return {}
    if not isinstance(units, Mapping):
        raise TypeError(
            f"units= must be a mapping such as {{'mma': 'nmol/L'}}, not {type(units).__name__}"
        )
    fixed: dict[str, str] = {}
    for key, unit in units.items():
        if key not in _MEASURED:
            raise ColumnError(f"units=: unknown analyte {key!r}; accepted: {', '.join(_MEASURED)}")
        if unit is None:
            continue
        if not isinstance(unit, str) or not unit.strip():
            example = analyte_info(key).canonical_unit
            raise ColumnError(
                f"units=: the unit of {key!r} must be a unit text such as {example!r}, not "
                f"{_shown(unit)}; b12labs never guesses a unit",
                analyte=key,
                value=unit,
            )
        fixed[key] = unit
    return fixed


def _context_builder(key: str, cells: list[Any]) -> Any:
    """Build the single-panel error for a bad patient-context cell."""
    by_key = {_cell_key(c): c for c in cells}

    def build(cell_key: Any) -> B12LabsError:
        cell = by_key[cell_key]
        given = cell.item() if isinstance(cell, np.generic) else cell
        return _scalar_error(
            lambda: Panel(**{key: given}),
            InvalidValueError(
                f"{key}: {_shown(cell)} is not a usable value", analyte=key, value=cell
            ),
        )

    return build


def _measurement_column(
    key: str,
    series: Any,
    unit_series: Any,
    found: _Columns,
    fixed_units: Mapping[str, str],
    problems: _Errors,
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """Canonical values (NaN where absent or bad) and censor codes of one measurement column.

    The unit of a row is, in order: the cell's own unit, the row's unit column, ``units=``,
    the header. ``units=`` must agree with the header and with every unit-column cell of a
    row with a result (agree: the same conversion factor); it fills the blanks of the unit
    column. One factor is computed per distinct unit text.

    Raises:
        ColumnError: a column of numbers with no unit in the header, ``units=`` or a unit
            column; ``units=`` disagreeing with the header (a unit-column cell that disagrees
            is its row's ``conflicting_unit`` error).
    """
    n = len(series)
    fixed = fixed_units.get(key)
    header = found.header_unit.get(key)
    if fixed is not None and header is not None:
        _check_agree(key, fixed, header, f"the header of column {found.value[key]!r}")
    default = fixed or header
    if default is None and key not in found.unit_column and _kind(series) != "text":
        # decided by the schema alone: a column of numbers cannot carry units in its cells
        label = found.value[key]
        raise ColumnError(
            f"column {label!r} ({key}) holds numbers and has no unit: write it in the header "
            f"('{label} (pmol/L)'), pass units={{{key!r}: '...'}}, or add a unit column "
            f"('{key}_unit'); accepted units: see b12labs.accepted_units({key!r}). "
            "b12labs never guesses a unit from magnitudes",
            analyte=key,
            value=label,
        )
    parsed = _parse_measurements(_readable(series, "measure"))
    present = ~np.isnan(parsed.value) | parsed.bad
    if key not in found.unit_column and not parsed.unit_rows.size and default is not None:
        # one unit for the whole column: one factor, no per-row unit bookkeeping
        return _checked(
            key,
            series,
            parsed,
            present,
            _factor_or_nan(key, default),
            problems,
            lambda rows: [default] * rows.size,
        )
    unit_source = -np.ones(n, dtype=np.int8)  # -1 none, 0 default, 1 unit column, 2 cell
    factor = np.full(n, np.nan)
    if default is not None:
        factor[:] = _factor_or_nan(key, default)
        unit_source[:] = 0
    column: _Encoded | None = None
    odd_units: dict[int, str] = {}
    if unit_series is not None:
        readable = _readable(unit_series, "label")
        column = _Encoded.of(_as_text(readable.column), _UNIT_SPELLINGS)
        usable = [None if _is_missing_text(v) else v.strip() for v in column.values]
        has = column.lookup([u is not None for u in usable], False).astype(bool)
        factor[has] = column.lookup([_factor_or_nan(key, u) for u in usable], np.nan)[has]
        unit_source[has] = 1
        if readable.odd is not None:  # a unit cell no text can be made of: a unit error
            rows = np.flatnonzero(readable.odd)
            odd_units = {
                row: _shown(cell)
                for row, cell in zip(rows.tolist(), _cells(unit_series, rows), strict=True)
            }
            factor[rows] = np.nan
            unit_source[rows] = 1
    if parsed.unit_rows.size:
        cell_factors = [_factor_or_nan(key, u) for u in parsed.units.values]
        factor[parsed.unit_rows] = parsed.units.lookup(cell_factors, np.nan)
        unit_source[parsed.unit_rows] = 2
    if default is None:
        unitless = int(np.count_nonzero(present & (unit_source < 0)))
        if unitless:
            problems.unitless[key] = unitless
    if fixed is not None and column is not None:
        # units= and a filled unit-column cell of a row with a result must agree; a row
        # where they do not is that row's error (row locality: it is found in the data)
        fixed_factor = _factor_or_nan(key, fixed)
        cell_factor = column.lookup([_factor_or_nan(key, u) for u in usable], np.nan)
        with np.errstate(invalid="ignore"):
            differs = ~np.isclose(cell_factor, fixed_factor, rtol=1e-9, atol=0.0)
        conflict = present & (unit_source == 1) & differs & ~np.isnan(cell_factor)
        if not math.isnan(fixed_factor) and conflict.any():
            rows = np.flatnonzero(conflict)
            label = found.unit_column[key]
            cell_units = [usable[i] for i in column.index[rows].tolist()]
            problems.add(
                rows,
                cell_units,
                lambda unit: _conflict_error(key, fixed, unit, f"unit column {label!r}"),
            )
            factor[rows] = np.nan  # refused below as well, after the conflict is recorded
    return _checked(
        key,
        series,
        parsed,
        present,
        factor,
        problems,
        lambda rows: _unit_texts(rows, unit_source, default, column, parsed, odd_units),
    )


def _check_agree(key: str, fixed: str, header: str, where: str) -> None:
    """Raise a ColumnError when ``units=`` and the header state different units.

    Units agree when they convert with the same factor (``pg/mL`` and ``ng/L``). A unit
    that is not a known unit of the analyte is not compared: it is each row's unit error.
    """
    ours, theirs = _factor_or_nan(key, fixed), _factor_or_nan(key, header)
    if math.isnan(ours) or math.isnan(theirs) or math.isclose(ours, theirs, rel_tol=1e-9):
        return
    error = _conflict_error(key, fixed, header, where)
    raise ColumnError(error.message, analyte=key, value=header, unit=fixed)


def _conflict_error(key: str, fixed: str, other: str, where: str) -> UnitError:
    """``units=`` and another statement of the unit disagree (reason ``conflicting_unit``)."""
    return UnitError(
        f"{key}: units= gives {fixed!r} but {where} gives {other!r}: a unit stated twice must "
        "agree (b12labs never picks one silently). Drop units= to use the column's own units, "
        "or correct the column",
        analyte=key,
        value=other,
        unit=fixed,
    )


def _checked(
    key: str,
    series: Any,
    parsed: _Parsed,
    present: npt.NDArray[np.bool_],
    factor: FloatArray | float,
    problems: _Errors,
    units_of: Any,
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """Convert with ``factor``; record bad rows with the single-panel path's error."""
    with np.errstate(over="ignore"):  # 1e308 ng/mL: inf, refused as implausible below
        canonical = parsed.value * factor
    info = analyte_info(key)
    plausible = (canonical >= info.plausible_min) & (canonical <= info.plausible_max)
    bad = present & ~plausible  # also NaN factors (unknown unit) and negative values
    if parsed.bad.any():
        bad |= parsed.bad
    rows = np.flatnonzero(bad)
    if rows.size:
        cells = _cells(series, rows)
        keys = [(_cell_key(c), u) for c, u in zip(cells, units_of(rows), strict=True)]
        by_key = dict(zip(keys, cells, strict=True))

        def build(cell_key: tuple[Any, str | None]) -> B12LabsError:
            cell, unit = by_key[cell_key], cell_key[1]
            scalar = _scalar_input(cell, unit)
            fallback = InvalidValueError(
                f"{key}: {_shown(cell)} is not a usable result; a finite, non-negative number "
                "is required",
                analyte=key,
                unit=unit,
            )
            return _scalar_error(lambda: coerce_measurement(scalar, key), fallback)

        problems.add(rows, keys, build)
        canonical[bad] = np.nan
        return canonical, np.where(bad, 0, parsed.censor).astype(np.int8)
    return canonical, parsed.censor


def _factor_or_nan(key: str, unit: str | None) -> float:
    if unit is None:
        return np.nan
    try:
        return canonical_factor(key, unit)
    except UnitError:  # reported per row, with the single-panel path's message
        return np.nan


def _unit_texts(
    rows: npt.NDArray[np.intp],
    source: npt.NDArray[np.int8],
    default: str | None,
    column: _Encoded | None,
    parsed: _Parsed,
    odd_units: Mapping[int, str],
) -> list[str | None]:
    """The unit text each of a few (bad) rows was read with."""
    cell_units = dict(
        zip(parsed.unit_rows.tolist(), parsed.units.lookup(parsed.units.values, None), strict=True)
    )
    out: list[str | None] = []
    for row in rows.tolist():
        kind = source[row]
        if kind == 2:
            out.append(cell_units[row])
        elif row in odd_units:
            out.append(odd_units[row])
        elif kind == 1 and column is not None:
            out.append(column.values[column.index[row]].strip())
        else:
            out.append(default if kind == 0 else None)
    return out


def _scalar_input(cell: Any, unit: str | None) -> Any:
    """What the single-panel call receives for this cell (used for the exact error)."""
    if isinstance(cell, str):
        match = re.match(MEASUREMENT_PATTERN, cell.strip(), re.DOTALL)
        has_unit = match is not None and bool(match["unit"].strip())
        return cell if has_unit or unit is None else f"{cell.strip()} {unit}"
    return cell if unit is None else (cell, unit)


def _reason_code(error: B12LabsError) -> str:
    for cls in type(error).__mro__:
        if cls in _CODE_OF:
            return _CODE_OF[cls]
    return "invalid_value"
