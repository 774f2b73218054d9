"""Fuzzing batch scoring (issue 10, contract 3): hostile frames never crash, lose or change rows.

For any frame, ``interpret_frame``:

* raises nothing but :class:`~b12labs.ColumnError` (about the columns or the arguments), the
  row's :class:`~b12labs.B12LabsError` with ``errors="raise"``, or the documented
  ``TypeError`` for ``columns=`` / ``units=`` that are not mappings;
* returns exactly one row per input row, in order, with the input's index;
* never modifies its input (values, dtypes, labels, attrs);
* answers every row without an error exactly as ``interpret()`` answers that row (status,
  categories, HL7 codes, canonical values, findings, next steps, cB12, eGFR).

The frames mix dtypes (numpy, nullable, pyarrow, categorical, complex, bytes), put anything
in object columns (huge integers, NaN texts, bytes, complex numbers, containers, dates, text
that is not valid Unicode), duplicate labels, give odd labels, and fill unit columns and
``units=`` with hostile values. Realistic cells are mixed in so that many rows are good.

The reference reading of a row (written here, independent of b12labs' table code):

* missing: None, NaN, pandas' NA and NaT, a NaN Decimal, and the no-result texts;
* a measurement: text with the row's unit appended when it writes none; anything else as
  ``(cell, unit)``; the row's unit is the unit-column cell (as ``str()``), else ``units=``,
  else the header;
* age and eGFR: a number, or a text number (thousands separators allowed) as a float;
* sex: the cell itself; a code list: its text as it is ("none" is none reported), else the
  cell; yes/no: booleans, 1 / 0 and yes/no texts.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
import sys
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import b12labs
from b12labs import B12LabsError, ColumnError
from b12labs._models import MEASUREMENT_PATTERN, MISSING_TOKENS, NUMBER_PATTERN

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
bpd = pytest.importorskip("b12labs.pandas")
interpret_frame = bpd.interpret_frame

MEASURED = ("b12", "holotc", "mma", "hcy", "folate", "creatinine")
CONTEXT = ("age", "sex", "pregnant", "egfr", "recent_b12_treatment", "nitrous_oxide")
LISTS = ("symptoms", "risk_factors")
UNITS = {
    "b12": ("pmol/L", "pg/mL", "ng/L"),
    "holotc": ("pmol/L",),
    "mma": ("umol/L", "nmol/L"),
    "hcy": ("umol/L",),
    "folate": ("nmol/L", "ng/mL"),
    "creatinine": ("mg/dL", "umol/L"),
}
REALISTIC: dict[str, tuple[Any, ...]] = {
    "b12": (150, 300.0, "350", "<50", "> 2000", "250 pg/mL", "1,234", "N/A"),
    "holotc": (20, 45.0, "80", "<10"),
    "mma": (0.3, "0.45", 0.9, "<0.1", "350 nmol/L"),
    "hcy": (12, "25", 8.5, ">100"),
    "folate": (5, "20", 12.0),
    "creatinine": (1.0, "0.8", "<0.3", 2.5),
    "age": (70, 40.0, "66", 15, "30"),
    "sex": ("f", "male", "M", " Female "),
    "pregnant": (True, False, "yes", "no", 1, 0),
    "egfr": (45, 90.0, "75"),
    "recent_b12_treatment": (True, False, "Y", "n"),
    "nitrous_oxide": (True, False, "true", "0"),
    "symptoms": ("tremor; twitching", "none", "numbness", ["fatigue"]),
    "risk_factors": ("vegan", "pernicious anaemia", "n2o, metformin", "none"),
}


class Weird:
    """An object no reader knows (compared by value, so a copy of a frame equals it)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Weird)

    def __hash__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return "Weird()"


HOSTILE_TEXTS = (
    "-nan", "nan(1)", "+NaN", "nan", "NaN", "inf", "-inf", "1e999", "-5", "0,45", "<", ">>5",
    "\ud800", "\x00", "", "  ", "pending", "5 6", "١٢", "1_000", "0x10", "9" * 400, "b12",
    "350 bananas", "150 kg", "<=0.05 umol/L", "\u00a0350", "true", "2", "maybe", "none",
)  # fmt: skip
hostile = st.one_of(
    st.sampled_from((None, np.nan, pd.NA, pd.NaT, np.datetime64("NaT", "ns"))),
    st.booleans(),
    st.sampled_from((np.True_, np.False_)),
    st.integers(-(10**6), 10**6),
    st.sampled_from((10**30, 10**400, 10**5000, 2**63, 2**64 - 1, -1, 0)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from((Decimal("150"), Decimal("NaN"), Decimal("1e500"), Decimal("-0"))),
    st.sampled_from((complex(150, 0), complex(1, 2))),
    st.sampled_from((b"150", bytearray(b"150"), b"\xff")),
    st.sampled_from(([150], ("tremor",), {"a": 1}, frozenset({"vegan"}), [], Weird())),
    st.sampled_from((np.float32(150.0), np.int64(150), np.uint64(2**64 - 1), np.float16(0.5))),
    st.sampled_from((pd.Timestamp("2020-01-01"), pd.Timedelta(1, "s"))),
    st.sampled_from(HOSTILE_TEXTS),
    st.text(max_size=8),
)
DTYPES = (
    "object", "infer", "float64", "Int64", "uint64", "string", "string[pyarrow]", "category",
    "complex128", "boolean", "bool", "double[pyarrow]", "large_string[pyarrow]",
    "binary[pyarrow]", "int64[pyarrow]",
)  # fmt: skip
JUNK_LABELS = ("note", 0, 1.5, ("x", 1), "", " ", "Patient ID", None, "B-12 maybe?")


def cell(key: str, clean: bool) -> st.SearchStrategy[Any]:
    realistic = st.sampled_from(REALISTIC[key])
    return realistic if clean else st.one_of(*[realistic] * 4, hostile)


@st.composite
def series(draw: st.DrawFn, cells: list[Any]) -> Any:
    """The cells in a drawn dtype (object when the dtype cannot hold them)."""
    dtype = draw(st.sampled_from(DTYPES))
    try:
        if dtype == "infer":
            return pd.Series(cells)
        if dtype.endswith("[pyarrow]") and dtype != "string[pyarrow]":
            kind = {"double": pa.float64(), "large_string": pa.large_string(),
                    "binary": pa.binary(), "int64": pa.int64()}[dtype.split("[")[0]]  # fmt: skip
            return pd.Series(cells, dtype=pd.ArrowDtype(kind))
        return pd.Series(cells, dtype=dtype)
    except Exception:  # the dtype cannot hold these cells
        return pd.Series(cells, dtype=object)


class Case:
    def __init__(self) -> None:
        self.columns: list[tuple[Any, Any]] = []  # (label, series), in order
        self.keys: dict[str, Any] = {}  # key -> label of its value column
        self.unit_columns: dict[str, Any] = {}  # key -> label of its unit column
        self.header: dict[str, str] = {}
        self.kwargs: dict[str, Any] = {}
        self.type_error = False  # columns= or units= that is not a mapping

    def frame(self) -> Any:
        df = pd.DataFrame({i: s for i, (_, s) in enumerate(self.columns)})
        df.columns = pd.Index(
            [label for label, _ in self.columns], dtype=object, tupleize_cols=False
        )
        return df

    def __repr__(self) -> str:
        kwargs = {k: shown(v) for k, v in self.kwargs.items()}
        return f"Case(keys={self.keys}, units={self.unit_columns}, kwargs={kwargs})"


def shown(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # more than 4300 digits
        return f"<int of {value.bit_length()} bits>"
    return text if len(text) < 60 else text[:50] + "..."


class Drawn(tuple):  # type: ignore[type-arg]
    """(frame, case), printed safely when hypothesis reports an example (pandas cannot print
    a frame holding an integer of 5000 digits)."""

    def __repr__(self) -> str:
        df, case = self
        columns = {shown(label): [shown(v) for v in df[label].tolist()] if not
                   isinstance(df[label], pd.DataFrame) else "(duplicated)"
                   for label in dict.fromkeys(df.columns)}  # fmt: skip
        dtypes = [str(d) for d in df.dtypes]
        return f"frame {columns}, dtypes {dtypes}, index {list(df.index)}, {case!r}"


@st.composite
def hostile_frames(draw: st.DrawFn) -> tuple[Any, Case]:
    n = draw(st.integers(0, 6))
    case = Case()
    keys = draw(
        st.lists(st.sampled_from((*MEASURED, *CONTEXT, *LISTS)), min_size=1, max_size=5,
                 unique=True)
    )  # fmt: skip
    clean_rows = draw(st.lists(st.booleans(), min_size=n, max_size=n))  # realistic cells only
    if not any(k in MEASURED[:5] for k in keys):
        keys.append(draw(st.sampled_from(MEASURED[:5])))
    units: dict[str, Any] = {}
    for key in keys:
        label: Any = key
        if key in MEASURED:
            how = draw(
                st.sampled_from(("header", "units", "column", "column+units", "header", "none"))
            )
            unit = draw(st.sampled_from(UNITS[key]))
            if how == "header":
                label = f"{key} ({unit})"
                case.header[key] = unit
            if how in ("units", "column+units"):
                units[key] = unit
            if how.startswith("column"):
                unit_cells = [
                    draw(
                        st.sampled_from(UNITS[key]) if clean else
                        st.one_of(st.sampled_from(UNITS[key]), st.none(), hostile)
                    )
                    for clean in clean_rows
                ]  # fmt: skip
                case.unit_columns[key] = f"{key}_unit"
                case.columns.append((f"{key}_unit", draw(series(unit_cells))))
        cells = [draw(cell(key, clean)) for clean in clean_rows]
        case.keys[key] = label
        case.columns.append((label, draw(series(cells))))
    for _ in range(draw(st.integers(0, 2))):  # junk columns, their labels maybe duplicated
        label = draw(st.sampled_from(JUNK_LABELS))
        case.columns.append((label, draw(series([draw(hostile) for _ in range(n)]))))
    if draw(st.integers(0, 9)) == 0:  # a key column twice: a ColumnError
        case.columns.append(case.columns[-1])
    if draw(st.integers(0, 9)) == 0:  # a hostile units= value
        units[draw(st.sampled_from(MEASURED))] = draw(st.one_of(hostile, st.just("bananas")))
    if units:
        case.kwargs["units"] = units
    if draw(st.integers(0, 19)) == 0:
        case.kwargs[draw(st.sampled_from(("units", "columns")))] = draw(
            st.sampled_from(("pmol/L", ["b12"], 5))
        )
        case.type_error = True
    if draw(st.integers(0, 9)) == 0:
        case.kwargs["errors"] = "raise"
    case.kwargs["profile"] = draw(st.sampled_from(b12labs.list_profiles()))
    df = case.frame()
    if draw(st.booleans()):
        df.index = pd.Index(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    df.attrs["source"] = "fuzz"
    return Drawn((df, case))


# ----------------------------------------------------------------------------- reference

_PATTERN = re.compile(MEASUREMENT_PATTERN, re.DOTALL)
_NUMBER = re.compile(rf"[ \t\r\n\f\v]*(?:{NUMBER_PATTERN})[ \t\r\n\f\v]*")
_YES = frozenset({"yes", "y", "true", "1", "1.0"})
_NO = frozenset({"no", "n", "false", "0", "0.0"})


def missing(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in MISSING_TOKENS
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, Decimal):
        return value.is_nan()
    if isinstance(value, np.datetime64 | np.timedelta64):
        return bool(np.isnat(value))
    return False


def plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def measurement(value: Any, unit: str | None) -> Any:
    if missing(value):
        return None
    if isinstance(value, str):
        match = _PATTERN.match(value.strip())
        if unit is None or (match is not None and match["unit"].strip()):
            return value
        return f"{value.strip()} {unit}"
    return value if unit is None else (value, unit)


def number(value: Any) -> Any:
    if missing(value):
        return None
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value.strip().replace(",", ""))
    return value


def flag(value: Any) -> Any:
    if missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _YES else False if text in _NO else value
    if isinstance(value, int | float) and value in (0, 1):
        return value == 1
    return value


def row_kwargs(df: Any, case: Case, pos: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    units = case.kwargs.get("units") or {}
    for key, label in case.keys.items():
        value = plain(df[label].iat[pos])
        if key in MEASURED:
            unit = None
            if key in case.unit_columns and not missing(value):  # no result: no unit read
                unit_cell = plain(df[case.unit_columns[key]].iat[pos])
                if not missing(unit_cell):
                    unit = str(unit_cell).strip()
            unit = unit or units.get(key) or case.header.get(key)
            kwargs[key] = measurement(value, unit)
        elif key in ("age", "egfr"):
            kwargs[key] = number(value)
        elif key in LISTS:  # Panel reads the text itself ("none": none reported)
            kwargs[key] = value if isinstance(value, str) or not missing(value) else None
        elif key == "sex":
            kwargs[key] = None if missing(value) else value
        else:
            kwargs[key] = flag(value)
    return kwargs


def na(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def close(got: Any, expected: float | None) -> bool:
    if expected is None:
        return na(got)
    return not na(got) and math.isclose(got, expected, rel_tol=1e-9)


def assert_rows(df: Any, out: Any, case: Case) -> int:
    """Every row without an error equals interpret() on that row; returns how many."""
    col = {c: out[c].astype(object).tolist() for c in out.columns[df.shape[1] :]}
    good = 0
    for pos in range(len(df)):
        if col["b12labs_error"][pos] != "":
            assert na(col["b12labs_status"][pos])
            continue
        kwargs = row_kwargs(df, case, pos)
        where = f"row {pos}: interpret({kwargs!r}) under {case.kwargs['profile']}"
        result = b12labs.interpret(profile=case.kwargs["profile"], **kwargs)
        good += 1
        assert col["b12labs_status"][pos] == result.status.value, where
        for key in MEASURED[:5]:
            if key not in case.keys:
                continue
            marker = result.markers.get(key)
            category = col[f"b12labs_{key}_category"][pos]
            if marker is None:
                assert na(category), (where, key)
                continue
            assert category == marker.category.value, (where, key)
            assert col[f"b12labs_{key}_fhir"][pos] == marker.interpretation_code.value, where
            assert close(col[f"b12labs_{key}_value"][pos], marker.value), (where, key)
        findings = col["b12labs_findings"][pos]
        assert tuple(findings.split(";") if findings else ()) == result.finding_codes, where
        steps = col["b12labs_next_steps"][pos]
        assert tuple(steps.split(";") if steps else ()) == result.next_step_codes, where
        assert close(col["b12labs_cb12"][pos], result.cb12.value), where
        if "b12labs_egfr" in col:
            assert close(col["b12labs_egfr"][pos], result.patient.egfr), where
    return good


# ----------------------------------------------------------------------------- properties

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@FUZZ
@given(drawn=hostile_frames())
def test_hostile_frames_keep_every_row_and_answer_like_interpret(drawn: tuple[Any, Case]):
    df, case = drawn
    before = copy.deepcopy(df)
    labels, dtypes, attrs = list(df.columns), list(df.dtypes), copy.deepcopy(df.attrs)
    try:
        out = interpret_frame(df, **case.kwargs)
    except ColumnError:
        out = None
    except TypeError:
        assert case.type_error, "a TypeError for arguments that are mappings"
        out = None
    except B12LabsError:
        assert case.kwargs.get("errors") == "raise"
        out = None
    # the input is never modified, whatever happened
    pd.testing.assert_frame_equal(df, before, check_exact=True)
    assert list(df.columns) == labels
    assert list(df.dtypes) == dtypes
    assert df.attrs == attrs
    if out is None:
        return
    assert not case.type_error
    assert len(out) == len(df)
    assert out.index.equals(df.index)
    pd.testing.assert_frame_equal(
        out.iloc[:, : df.shape[1]], df, check_exact=True, check_column_type=False
    )
    assert all(str(c).startswith("b12labs_") for c in out.columns[df.shape[1] :])
    assert out["b12labs_rules_version"].tolist() == [2] * len(df)
    assert_rows(df, out, case)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=hostile_frames())
def test_hostile_arrow_tables_through_the_table_core(drawn: tuple[Any, Case]):
    """The command line's path (Arrow columns, no DataFrame): no crash, no lost row."""
    from b12labs._table import _from_pandas, score_table

    df, case = drawn
    names = [str(label) for label in df.columns]
    arrays = []
    for _, column in df.items():
        try:  # pa.array with the library's guard against pyarrow's crash (see below)
            arrays.append(_from_pandas(column.array))
        except Exception:  # Arrow cannot hold these cells: text instead
            arrays.append(pa.array([None if missing(v) else shown(v) for v in column.tolist()]))
    table = pa.Table.from_arrays(arrays, names=names)
    kwargs = {k: v for k, v in case.kwargs.items() if k != "columns"}
    try:
        scored = score_table(
            names, lambda label: table.column(names.index(label)), table.num_rows, **kwargs
        )
    except (ColumnError, TypeError):
        return
    except B12LabsError:
        assert kwargs.get("errors") == "raise"
        return
    for name, values, _ in scored.columns():
        assert len(values) == table.num_rows, name


# pyarrow 26 ends the process (segmentation fault) when its type inference meets a numpy
# datetime64 followed by another numpy scalar: found by the property above. Each case runs in
# a child process, so that a crash fails this test instead of stopping the whole run.
CRASHING_CELLS = {
    "NaT, then numpy bool": "[np.datetime64('NaT', 'ns'), np.True_]",
    "a date, then numpy int": "[np.datetime64('2020-01-01', 'D'), np.int64(1)]",
    "a date, then numpy float32": "[np.datetime64('2020-01-01', 'D'), np.float32(1)]",
}


@pytest.mark.parametrize("cells", sorted(CRASHING_CELLS), ids=str)
@pytest.mark.parametrize("dtype", ["object", "category"])
@pytest.mark.parametrize("column", ["b12", "sex", "symptoms", "pregnant", "note"])
def test_numpy_datetimes_among_numpy_scalars_do_not_crash(
    cells: str, dtype: str, column: str
) -> None:
    code = (
        "import numpy as np, pandas as pd\n"
        "from b12labs import ColumnError\n"
        "from b12labs.pandas import interpret_frame\n"
        "df = pd.DataFrame({'b12': ['150 pmol/L', '300 pmol/L'], 'age': [70, 40]})\n"
        f"df[{column!r}] = pd.Series({CRASHING_CELLS[cells]}, dtype={dtype!r})\n"
        "try:\n"
        "    out = interpret_frame(df)\n"
        "except ColumnError:\n"  # a column judged by its type (no unit for numbers)
        "    print('column')\n"
        "else:\n"
        "    print(len(out), int(out['b12labs_error'].fillna('').ne('').sum()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    if result.stdout.strip() == "column":
        assert column == "b12"  # only the measured column is judged by its type
        return
    rows, errors = map(int, result.stdout.split())
    assert rows == 2  # one output row per input row
    if column == "note":
        assert errors == 0  # a column b12labs does not read changes nothing


@pytest.mark.parametrize("cells", sorted(CRASHING_CELLS), ids=str)
@pytest.mark.parametrize("dtype", ["object", "category"])
def test_interpret_table_refuses_a_pandas_column_pyarrow_would_crash_on(
    cells: str, dtype: str
) -> None:
    # interpret_table exports a pandas frame through pandas' own Arrow stream, that is
    # pyarrow's type inference: the column is refused with pyarrow's conversion error
    # instead of a crash, and a frame without such cells is scored as before.
    code = (
        "import numpy as np, pandas as pd, pyarrow as pa\n"
        "from b12labs.arrow import interpret_table\n"
        "df = pd.DataFrame({'b12': ['150 pmol/L', '300 pmol/L'], 'age': [70, 40]})\n"
        "print(interpret_table(df).num_rows)\n"
        f"df['note'] = pd.Series({CRASHING_CELLS[cells]}, dtype={dtype!r})\n"
        "try:\n"
        "    interpret_table(df)\n"
        "except pa.ArrowTypeError as error:\n"
        "    print('refused', 'note' in str(error), 'interpret_frame' in str(error))\n"
        "else:\n"  # NaT is no category: a category column of True alone converts
        "    print('scored', True, True)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    first, outcome, *named = result.stdout.split()
    assert first == "2"
    assert named == ["True", "True"]
    expected = "scored" if (dtype, cells) == ("category", "NaT, then numpy bool") else "refused"
    assert outcome == expected


def test_interpret_table_screens_a_pandas_series_too() -> None:
    # A Series exports one column, not a table: pyarrow's own error, as before the screen;
    # a Series of the crashing cells is refused by the screen first.
    code = (
        "import numpy as np, pandas as pd, pyarrow as pa\n"
        "from b12labs.arrow import interpret_table\n"
        "for cells in (['150 pmol/L'], [np.datetime64('2020-01-01', 'D'), np.int64(1)]):\n"
        "    try:\n"
        "        interpret_table(pd.Series(cells, name='b12', dtype=object))\n"
        "    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:\n"
        "        print(type(error).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["ArrowInvalid", "ArrowTypeError"]
