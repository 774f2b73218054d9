"""The Dask front: ``b12labs.dask.interpret_ddf`` (map_partitions over the pandas core).

What is checked, on the real dask (synchronous scheduler unless a test says otherwise):

* every row equals ``b12labs.pandas.interpret_frame`` on the same rows (status, values,
  categories, findings, next steps, error text), messy cells included;
* the meta's dtypes are the input's plus those derived from ``b12labs.output_schema()``
  (fixed categories, never a partition's own), and every computed partition has exactly
  the meta's dtypes, whatever ``dataframe.convert-string`` says;
* the same rows cut into any partitions give the same rows (row locality);
* a partition whose text cells have no unit gives row errors; a number column with no unit
  anywhere is a ColumnError when interpret_ddf is called, before any partition is read;
* the input is never modified.
"""

from __future__ import annotations

import math
from itertools import cycle, islice
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import b12labs
from b12labs import ColumnError, InvalidValueError
from b12labs.arrow import categories
from b12labs.dask import interpret_ddf
from b12labs.pandas import interpret_frame

PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3
STATUSES = [status.value for status in b12labs.Status]


@pytest.fixture(autouse=True)
def synchronous() -> Any:
    with dask.config.set(scheduler="sync"):
        yield


# ----------------------------------------------------------------------------- data


def column(cells: list[Any], n: int) -> list[Any]:
    """``cells`` repeated to ``n`` rows (columns of co-prime lengths mix every combination)."""
    return list(islice(cycle(cells), n))


def messy_frame(n: int = 60) -> pd.DataFrame:
    """Cells as exports write them: censored values, a decimal comma, missing-value words,
    junk, blanks, a unit column with unknown units, a header unit, patient context."""
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "B12": column(
                [
                    *("<50 pmol/L", "1,234", "N/A", "junk text", "", "350", "200 pg/mL", None),
                    *("> 2000", " 180 ", "150", "90 pmol/L", "pending", "-5 pmol/L", "12 furlongs"),
                ],
                n,
            ),
            "B12 unit": column(
                [
                    *("pg/mL", None, "pmol/L", "", "pmol/L", "ng/L", None, "pmol/L", "pg/mL"),
                    *("foo/L", "ng/L"),
                ],
                n,
            ),
            "MMA (umol/L)": column([0.3, np.nan, 0.52, 1.2, 0.21, 0.45, 90.0, 0.1, np.nan], n),
            "hcy": column(
                [
                    *("15 umol/L", "N/A", "9 umol/L", "22 µmol/L", "", "abc", "12 umol/L"),
                    *("8 umol/L", "31 umol/L", "11", "", "10 umol/L", "pending"),
                ],
                n,
            ),
            "age": column([70.0, np.nan, 30.0, 85.0, 45.0, 200.0, 12.0, 60.0], n),
            "sex": column(["f", "m", "female", None, "x", "Male", "F"], n),
            "eGFR": column([90.0, 25.0, np.nan, 55.0, 120.0], n),
            "N2O exposure": column(["yes", "no", "", None, "maybe", "1"], n),
            "symptoms": column(
                ["tremor; twitching", "none", "", None, "sore tongue", "zzz", "fatigue"], n
            ),
            "pregnant": column(["no", "yes", "", None], n),
        }
    )


def python_cells(series: pd.Series) -> list[Any]:
    """A column as Python values: categories and strings as text, NaN / NA / None as None."""
    values = series.astype(object).tolist()
    return [
        None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
        for v in values
    ]


def assert_rows_equal(result: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Every result column of ``expected`` (interpret_frame), row by row, in ``result``."""
    names = [c for c in expected.columns if str(c).startswith("b12labs_")]
    assert [c for c in result.columns if str(c).startswith("b12labs_")] == names
    assert list(result.index) == list(expected.index)
    for name in names:
        assert python_cells(result[name]) == python_cells(expected[name]), name


def expected_dtypes(meta: pd.DataFrame, **options: Any) -> dict[str, Any]:
    """Input dtypes, then each result field of b12labs.output_schema() as the dtype the
    contract gives it (written out here, not read back from b12labs.dask)."""
    schema = b12labs.output_schema(pa.Schema.from_pandas(meta, preserve_index=False), **options)
    if dask.config.get("dataframe.convert-string") in (None, True):
        text: Any = pd.StringDtype("pyarrow")
    else:
        text = pd.StringDtype(na_value=np.nan) if PANDAS_3 else np.dtype(object)
    dtypes: dict[str, Any] = dict(meta.dtypes)
    for field in list(schema)[len(meta.columns) :]:
        if pa.types.is_dictionary(field.type):
            dtypes[field.name] = pd.CategoricalDtype(list(categories(field) or ()))
        elif pa.types.is_string(field.type):
            dtypes[field.name] = text
        elif pa.types.is_float64(field.type):
            dtypes[field.name] = np.dtype("float64")
        else:
            assert pa.types.is_int16(field.type), field
            dtypes[field.name] = np.dtype("int16")
    return dtypes


def assert_dtypes(frame: pd.DataFrame, dtypes: dict[str, Any]) -> None:
    assert list(frame.columns) == list(dtypes)
    for name, dtype in dtypes.items():
        assert frame[name].dtype == dtype, (name, frame[name].dtype, dtype)
        if isinstance(dtype, pd.CategoricalDtype):  # the same categories, in the same order
            assert list(frame[name].dtype.categories) == list(dtype.categories), name


CONVERT_STRING = pytest.mark.parametrize("convert_string", [True, False], ids=["arrow", "object"])


# ----------------------------------------------------------------------------- results


@CONVERT_STRING
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"profile": "mayo-cascade", "units": {"hcy": "umol/L"}},
        {"profile": b12labs.get_profile("population-survey"), "columns": {"b12": "B12"}},
    ],
    ids=["default", "profile-id-and-units", "profile-object-and-columns"],
)
def test_rows_equal_interpret_frame(convert_string: bool, options: dict[str, Any]) -> None:
    with dask.config.set({"dataframe.convert-string": convert_string}):
        frame = messy_frame()
        ddf = dd.from_pandas(frame, npartitions=4)
        result = interpret_ddf(ddf, **options).compute()
    expected = interpret_frame(frame, **options)
    assert_rows_equal(result, expected)
    # the data really is messy: statuses, row errors and every kind of result are there
    assert result["b12labs_error"].str.startswith("invalid_value").any()
    assert result["b12labs_error"].str.startswith("unknown_unit").any()
    assert set(result["b12labs_status"].dropna()) >= {"deficiency_likely", "insufficient_data"}
    # the input columns come back untouched
    pd.testing.assert_frame_equal(result[list(frame.columns)], ddf.compute())


@CONVERT_STRING
def test_dtypes_are_output_schema_in_meta_and_every_partition(convert_string: bool) -> None:
    with dask.config.set({"dataframe.convert-string": convert_string}):
        ddf = dd.from_pandas(messy_frame(), npartitions=5)
        out = interpret_ddf(ddf)
        dtypes = expected_dtypes(ddf._meta)
        assert_dtypes(out._meta, dtypes)
        for i in range(out.npartitions):
            assert_dtypes(out.partitions[i].compute(), dtypes)
        assert_dtypes(out.compute(), dtypes)
        # partitions left empty by a filter keep the meta's dtypes too
        assert_dtypes(interpret_ddf(ddf[ddf["id"] < 0]).compute(), dtypes)
    # the known bug: categories from one partition, or [''] from an empty head
    assert list(out._meta["b12labs_status"].cat.categories) == STATUSES
    assert not isinstance(out._meta["b12labs_findings"].dtype, pd.CategoricalDtype)


def test_threaded_scheduler_gives_the_same_rows() -> None:
    frame = messy_frame()
    out = interpret_ddf(dd.from_pandas(frame, npartitions=6))
    assert_rows_equal(out.compute(scheduler="threads"), interpret_frame(frame))


# ----------------------------------------------------------------------------- row locality


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_partitioning_does_not_change_rows(npartitions: int) -> None:
    frame = messy_frame(50)
    out = interpret_ddf(dd.from_pandas(frame, npartitions=npartitions))
    assert out.npartitions == npartitions
    assert_rows_equal(out.compute(), interpret_frame(frame))


@settings(max_examples=20)
@given(
    cuts=st.sets(st.integers(min_value=1, max_value=29), max_size=8),
    n=st.integers(min_value=1, max_value=30),
)
def test_any_cut_points_give_the_same_rows(cuts: set[int], n: int) -> None:
    frame = messy_frame(n)
    divisions = sorted({0, *(c for c in cuts if c < n - 1), n - 1})
    ddf = dd.from_pandas(frame, npartitions=1)
    if len(divisions) > 1:
        ddf = ddf.repartition(divisions=divisions)
    assert_rows_equal(interpret_ddf(ddf).compute(), interpret_frame(frame))


def test_partition_of_unitless_text_gives_row_errors() -> None:
    # partition 0 has units in its cells, partition 1 only bare numbers: its rows are errors
    frame = pd.DataFrame({"B12": ["150 pmol/L", "400 pg/mL", "350", "<50"], "age": [70.0] * 4})
    ddf = dd.from_pandas(frame, npartitions=2)
    assert ddf.npartitions == 2
    out = interpret_ddf(ddf)
    second = out.partitions[1].compute()
    assert second["b12labs_status"].isna().all()
    assert second["b12labs_error"].str.startswith("invalid_value: b12: ").all()
    assert second["b12labs_error"].str.contains("has no unit").all()
    result = out.compute()
    assert result["b12labs_status"].notna().tolist() == [True, True, False, False]
    assert_rows_equal(result, interpret_frame(frame))


def test_number_column_without_unit_is_refused_at_call_time() -> None:
    read: list[int] = []

    def load(part: int) -> pd.DataFrame:
        read.append(part)
        return pd.DataFrame({"b12": [150.0 + part], "age": [70.0]})

    ddf = dd.from_map(load, [0, 1], meta=pd.DataFrame({"b12": [1.0], "age": [1.0]}).iloc[:0])
    with pytest.raises(ColumnError, match=r"column 'b12' \(b12\) holds numbers and has no unit"):
        interpret_ddf(ddf)
    assert read == []  # decided from the meta: no partition was read
    # the same check as interpret_frame, and a unit given any way lifts it
    with pytest.raises(ColumnError):
        interpret_frame(pd.DataFrame({"b12": [150.0], "age": [70.0]}))
    out = interpret_ddf(ddf, units={"b12": "pmol/L"}).compute()
    assert out["b12labs_b12_value"].tolist() == [150.0, 151.0]


@pytest.mark.parametrize(
    ("frame", "options", "message"),
    [
        (pd.DataFrame({"age": [1.0]}), {}, "no B12-related column"),
        (pd.DataFrame({"b12": ["1 pmol/L"], "cobalamin": ["2 pmol/L"]}), {}, "both look like"),
        (pd.DataFrame({"b12": ["1 pmol/L"]}), {"columns": {"b12": "x"}}, "not a column"),
        (pd.DataFrame({"Age (parsecs)": [1.0], "b12": ["1 pmol/L"]}), {}, "parsecs"),
        (pd.DataFrame({"b12 (pg/mL)": [1.0]}), {"units": {"b12": "pmol/L"}}, "units="),
        (pd.DataFrame({"b12": ["1"], "b12labs_status": ["x"]}), {}, "result prefix"),
    ],
    ids=["no-marker", "ambiguous", "unknown-label", "age-header", "units-header", "prefix"],
)
def test_schema_errors_are_interpret_frames(
    frame: pd.DataFrame, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ColumnError, match=message) as from_frame:
        interpret_frame(frame, **options)
    with pytest.raises(ColumnError) as from_dask:
        interpret_ddf(dd.from_pandas(frame, npartitions=1), **options)
    assert str(from_dask.value) == str(from_frame.value)


def test_errors_raise_names_the_row_at_compute_time() -> None:
    frame = pd.DataFrame({"B12": ["150 pmol/L", "350", "200 pmol/L"]}, index=["a", "b", "c"])
    out = interpret_ddf(dd.from_pandas(frame, npartitions=2), errors="raise")  # lazy: no error
    with pytest.raises(InvalidValueError, match=r"row 'b': b12: '350' has no unit"):
        out.compute()


def test_argument_errors() -> None:
    frame = pd.DataFrame({"B12": ["150 pmol/L"]})
    with pytest.raises(TypeError, match=r"takes a dask DataFrame.*interpret_frame"):
        interpret_ddf(frame)  # type: ignore[arg-type]
    ddf = dd.from_pandas(frame, npartitions=1)
    with pytest.raises(ValueError, match="errors must be"):
        interpret_ddf(ddf, errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="columns= must be a mapping"):
        interpret_ddf(ddf, columns=["B12"])  # type: ignore[arg-type]
    with pytest.raises(b12labs.UnknownProfileError):
        interpret_ddf(ddf, profile="no-such-profile")


def test_non_text_column_labels() -> None:
    frame = pd.DataFrame({0: ["150 pmol/L", "350"], "age": [70.0, 30.0]})
    expected = interpret_frame(frame, columns={"b12": 0})
    result = interpret_ddf(dd.from_pandas(frame, npartitions=2), columns={"b12": 0}).compute()
    assert_rows_equal(result, expected)


# ----------------------------------------------------------------------------- the input


def test_input_is_not_modified() -> None:
    frame = messy_frame(30)
    original = frame.copy(deep=True)
    ddf = dd.from_pandas(frame, npartitions=3)
    before = ddf.compute()
    meta_before = ddf._meta.copy()
    interpret_ddf(ddf, units={"hcy": "umol/L"}).compute()
    pd.testing.assert_frame_equal(frame, original)
    pd.testing.assert_frame_equal(ddf.compute(), before)
    pd.testing.assert_frame_equal(ddf._meta, meta_before)
    assert not any(str(c).startswith("b12labs_") for c in ddf.columns)
