"""Arrow to numpy and back through buffers (``b12labs._arrow_numpy``), and the command line
that uses them never importing pandas (pyarrow would import it on a conversion: 0.13 s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from b12labs._arrow_numpy import arrow_of, bools, floats, integers, scalar, strings, with_nulls

rows = st.integers(0, 40)


@st.composite
def masked(draw: st.DrawFn, dtype: object) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Values, a null mask, and a slice (offset, length) to read them through."""
    n = draw(rows)
    values = draw(hnp.arrays(dtype, n))
    mask = draw(hnp.arrays(np.bool_, n))
    start = draw(st.integers(0, n))
    return values, mask, start, draw(st.integers(0, n - start))


def _expected(array: pa.Array, fill: object) -> list[object]:
    # pyarrow's own conversion, as the reference
    return [fill if v is None else v for v in array.to_pylist()]


@given(masked(np.float64))
def test_floats_round_trip(case: tuple[np.ndarray, np.ndarray, int, int]) -> None:
    values, mask, start, length = case
    array = arrow_of(values, mask=mask).slice(start, length)
    got = floats(array)
    want = np.array(_expected(array, np.nan), dtype=np.float64)
    np.testing.assert_array_equal(got, want)  # NaN equals NaN here


@given(masked(np.bool_), st.booleans())
def test_bools_round_trip(case: tuple[np.ndarray, np.ndarray, int, int], fill: bool) -> None:
    values, mask, start, length = case
    array = arrow_of(values, mask=mask).slice(start, length)
    assert bools(array, fill).tolist() == _expected(array, fill)


@given(masked(np.int32))
def test_integers_round_trip(case: tuple[np.ndarray, np.ndarray, int, int]) -> None:
    values, mask, start, length = case
    array = arrow_of(values, mask=mask).slice(start, length)
    got = integers(array)
    assert got.dtype == np.int32
    assert got.tolist() == _expected(array, -1)


@given(st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=30))
def test_strings_round_trip(texts: list[str | None]) -> None:
    array = strings(texts)
    array.validate(full=True)
    assert array.to_pylist() == texts


@given(st.lists(st.one_of(st.none(), st.text(max_size=4)), max_size=30), st.data())
def test_with_nulls_adds_nulls_and_keeps_the_rest(
    texts: list[str | None], data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, len(texts)))
    length = data.draw(st.integers(0, len(texts) - start))
    array = pa.array(texts, type=pa.string()).slice(start, length)  # an offset, as in a batch
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=length, max_size=length)), bool)
    result = with_nulls(array, mask)
    result.validate(full=True)
    expected = [None if m else v for m, v in zip(mask, array.to_pylist(), strict=True)]
    assert result.to_pylist() == expected
    assert array.to_pylist() == texts[start : start + length]  # the input is unchanged


def test_chunked_arrays_are_read_whole() -> None:
    chunked = pa.chunked_array([arrow_of(np.array([1.5])), arrow_of(np.array([2.5, 3.5]))])
    assert floats(chunked).tolist() == [1.5, 2.5, 3.5]


def test_scalars_compare_like_python_values() -> None:
    lengths = pc.utf8_length(strings(["abc", "a", None]))
    assert pc.greater(lengths, scalar(2)).to_pylist() == [True, False, None]
    assert pc.not_equal(strings(["", "x"]), scalar("")).to_pylist() == [False, True]


def test_score_never_imports_pandas(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        'id,b12,b12_unit,MMA (umol/L),note\n1,433.0,pg/mL,0.691,=SUM(A1)\n2,"<50",pg/mL,x,\n'
        "3,junk,pmol/L,0.2,\n4,1\u00a0250,pg/mL,\n",  # a formula, a junk cell, a short line
        encoding="utf-8",
    )
    code = (
        "import sys\nfrom b12labs.cli import main\n"
        f"status = main(['score', {str(source)!r}, '-o', {str(tmp_path / 'out.csv')!r}, "
        "'--quiet', '--no-progress'])\n"
        "print(status, 'pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    status, imported = result.stdout.split()
    assert status == "1"  # the junk rows are row errors
    assert imported == "False", "b12labs score imported pandas"
    assert (tmp_path / "out.csv").read_text("utf-8").count("\n") == 5


@pytest.mark.parametrize("columns", ["minimal", "all"])
def test_score_never_imports_pandas_whatever_the_columns(tmp_path: Path, columns: str) -> None:
    source = tmp_path / "in.csv"
    source.write_text("b12,hcy\n150 pmol/L,12 umol/L\n<50 pg/mL,\n", encoding="utf-8")
    code = (
        "import sys\nfrom b12labs.cli import main\n"
        f"main(['score', {str(source)!r}, '-o', {str(tmp_path / 'o.parquet')!r}, "
        f"'--columns', {columns!r}, '--quiet', '--no-progress'])\n"
        "print('pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_scalars_of_equal_python_values_keep_their_types() -> None:
    # False == 0 == 0.0 in Python: each still gets its own Arrow type
    assert scalar(False).type == pa.bool_()
    assert scalar(0).type == pa.int64()
    assert scalar(0.0).type == pa.float64()
