"""The polars front (``b12labs.polars``): the rows of ``b12labs.pandas.interpret_frame``.

Every expected result comes from ``interpret_frame`` on the same rows (checked row by row
against ``b12labs.interpret()`` in test_pandas.py), from ``b12labs.interpret()`` on a row, or
from the cited source; never from the polars output itself. The expected polars types are
the ones the issue fixes for each Arrow result type.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import b12labs
from b12labs import B12LabsError, ColumnError
from conftest import import_without
from messy_rows import (
    POOLS,
    assert_reaches_every_kind,
    assert_row_is_scalar,
    assert_same_results,
    expected_results,
    kind,
    messy,
    pandas_frame,
)

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
bpl = pytest.importorskip("b12labs.polars")  # registers the df.b12labs / lf.b12labs namespaces
bpd = pytest.importorskip("b12labs.pandas")
categories = b12labs.arrow.categories  # b12labs.arrow is imported by b12labs.polars
output_schema = b12labs.output_schema
interpret_frame = bpd.interpret_frame


def polars_frame(data: dict[str, list[Any]]) -> Any:
    types = {"int": pl.Int64, "float": pl.Float64, "text": pl.String}
    return pl.DataFrame(data, schema={n: types[kind(n, c)] for n, c in data.items()})


# ----------------------------------------------------------------------------- comparison


def results_of_polars(out: Any) -> dict[str, list[Any]]:
    return {name: out[name].to_list() for name in out.columns if name.startswith("b12labs_")}


def expected_dtype(field: Any) -> Any:
    """The polars type the issue fixes for an Arrow result field."""
    labels = categories(field)
    if labels is not None:
        return pl.Enum(list(labels))
    return {pa.float64(): pl.Float64(), pa.int16(): pl.Int16(), pa.string(): pl.String()}[
        field.type
    ]


# ----------------------------------------------------------------------------- (i) results


def test_dataframe_rows_equal_interpret_frame() -> None:
    data = messy()
    out = polars_frame(data).b12labs.interpret()
    expected = expected_results(data)
    assert_reaches_every_kind(expected)
    assert_same_results(results_of_polars(out), expected)


@pytest.mark.parametrize("engine", ["auto", "in-memory", "streaming"])
def test_lazyframe_rows_equal_interpret_frame(engine: str) -> None:
    data = messy()
    lazy = polars_frame(data).lazy().b12labs.interpret()
    assert isinstance(lazy, pl.LazyFrame)
    out = lazy.collect(engine=engine)
    assert_same_results(results_of_polars(out), expected_results(data))


def test_module_function_and_options() -> None:
    data = messy(40)
    data["LBXB12"] = data.pop("Vitamin B12")
    data["Unit"] = data.pop("B12 unit")
    options = {"columns": {"b12": "LBXB12", "b12_unit": "Unit"}, "units": {"hcy": "umol/L"}}
    for frame in (polars_frame(data), polars_frame(data).lazy()):
        got = bpl.interpret(frame, profile="mayo-cascade", **options)
        got = got.collect() if isinstance(got, pl.LazyFrame) else got
        assert_same_results(
            results_of_polars(got), expected_results(data, profile="mayo-cascade", **options)
        )


def test_string_view_large_string_and_categorical_inputs() -> None:
    """Text exported as string views (polars' own), large strings or dictionaries (a
    categorical column) is read the same."""
    data = messy(60)
    expected = expected_results(data)
    frame = polars_frame(data)
    assert pa.table(frame).schema.field("Sex").type == pa.string_view()  # polars' export
    assert pa.schema(frame.lazy().collect_schema()).field("Sex").type == pa.string_view()
    # the same rows as large strings, through the Arrow front the polars front stands on
    large = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
    assert large.schema.field("Sex").type == pa.large_string()
    scored = b12labs.interpret_table(large)
    assert_same_results(results_of_polars(pl.from_arrow(scored)), expected)
    categorical = frame.with_columns(pl.col("Sex", "B12 unit").cast(pl.Categorical))
    enum = frame.with_columns(pl.col("Sex").cast(pl.Enum(sorted(set(POOLS["Sex"]) - {None}))))
    for variant in (categorical, enum):
        assert_same_results(results_of_polars(variant.b12labs.interpret()), expected)
        lazy = variant.lazy().b12labs.interpret().collect(engine="streaming")
        assert_same_results(results_of_polars(lazy), expected)


def test_clinical_anchor() -> None:
    # NICE NG239 (2024), recommendation 1.2: total B12 below 180 ng/L is low; from 180 to
    # 350 ng/L is indeterminate (https://www.nice.org.uk/guidance/ng239).
    frame = pl.DataFrame({"b12": ["120 ng/L", "250 ng/L"], "age": [50.0, 50.0]})
    out = frame.b12labs.interpret(profile="nice-ng239")
    assert out["b12labs_b12_category"].to_list() == ["low", "indeterminate"]


# ----------------------------------------------------------------------------- (ii) schema


def test_schema_equals_output_schema() -> None:
    frame = polars_frame(messy(30))
    arrow = output_schema(pa.schema(frame.schema))
    expected = dict(frame.schema)
    for field in list(arrow)[frame.width :]:
        expected[field.name] = expected_dtype(field)
    lazy = frame.lazy().b12labs.interpret()
    assert dict(lazy.collect_schema()) == expected  # declared before any row is read
    assert dict(lazy.collect(engine="streaming").schema) == expected
    assert dict(frame.b12labs.interpret().schema) == expected
    assert list(expected)[: frame.width] == frame.columns


def test_every_batch_has_the_declared_enum_types() -> None:
    """Batches with no status, no category, or only errors still concatenate without a cast."""
    frames = [
        pl.DataFrame(
            {"b12": ["junk"], "mma (umol/L)": [None]}, schema_overrides={"mma (umol/L)": pl.Float64}
        ),
        pl.DataFrame({"b12": ["N/A"], "mma (umol/L)": [0.3]}),
        pl.DataFrame({"b12": ["150 pmol/L"], "mma (umol/L)": [0.9]}),
    ]
    outs = [f.b12labs.interpret() for f in frames]
    assert len({tuple(o.schema.items()) for o in outs}) == 1
    pl.concat(outs)  # same dtypes, no error


# ----------------------------------------------------------------------------- (iii) batches


@pytest.mark.parametrize("parts", [1, 3, 7])
def test_slices_give_the_same_rows(parts: int) -> None:
    frame = polars_frame(messy())
    whole = frame.b12labs.interpret()
    size = math.ceil(frame.height / parts)
    pieces = [frame.slice(i * size, size).b12labs.interpret() for i in range(parts)]
    assert sum(p.height for p in pieces) == frame.height
    assert pl.concat(pieces).equals(whole)
    lazy = pl.concat([frame.slice(i * size, size).lazy() for i in range(parts)])
    assert lazy.b12labs.interpret().collect(engine="streaming").equals(whole)


@pytest.mark.parametrize("chunk", [1, 7, 50])
def test_streaming_in_small_chunks(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    batch = bpl._score_batch

    def spy(frame: Any, options: Any) -> Any:
        calls.append(frame.height)
        return batch(frame, options)

    monkeypatch.setattr(bpl, "_score_batch", spy)
    frame = polars_frame(messy())
    expected = expected_results(messy())
    with pl.Config(streaming_chunk_size=chunk):
        out = frame.lazy().b12labs.interpret().collect(engine="streaming")
    assert sum(calls) == frame.height
    assert len(calls) >= 2  # really cut into batches
    assert_same_results(results_of_polars(out), expected)


# ----------------------------------------------------------------------------- (iv) errors


def test_column_error_for_numbers_without_a_unit() -> None:
    frame = pl.DataFrame({"b12": [150.0, 400.0], "age": [50, 60]})
    with pytest.raises(ColumnError, match="no unit"):
        frame.b12labs.interpret()
    with pytest.raises(ColumnError, match="no unit"):
        bpl.interpret(frame)


def test_column_error_raised_at_call_time_for_a_lazyframe() -> None:
    def never(batch: Any) -> Any:
        raise AssertionError("the frame was collected")

    lazy = pl.LazyFrame({"b12": [150.0], "age": [50]}).map_batches(never)
    with pytest.raises(ColumnError, match="no unit"):
        lazy.b12labs.interpret()
    with pytest.raises(ColumnError, match="no unit"):
        bpl.interpret(lazy)


def test_errors_raise_names_the_frame_row() -> None:
    cells = ["150 pmol/L"] * 9 + ["junk pmol/L"] + ["200 pmol/L"] * 5
    frame = pl.DataFrame({"b12": cells})
    with pytest.raises(B12LabsError, match=r"row 9\b") as eager:
        frame.b12labs.interpret(errors="raise")
    # as the scalar call: the same error type and message
    with pytest.raises(B12LabsError) as scalar:
        b12labs.interpret(b12="junk pmol/L")
    assert type(eager.value) is type(scalar.value)
    assert scalar.value.message in str(eager.value)
    with pl.Config(streaming_chunk_size=2), pytest.raises(B12LabsError, match=r"row 9\b"):
        frame.lazy().b12labs.interpret(errors="raise").collect(engine="streaming")


def test_not_polars() -> None:
    with pytest.raises(TypeError, match="polars DataFrame or LazyFrame"):
        bpl.interpret(pandas_frame(messy(3)))
    with pytest.raises(TypeError, match="mapping"):
        pl.DataFrame({"b12": ["1 pmol/L"]}).b12labs.interpret(columns=[("b12", "b12")])
    with pytest.raises(ValueError, match="errors must be"):  # now, not at collect()
        pl.LazyFrame({"b12": ["1 pmol/L"]}).b12labs.interpret(errors="ignore")


# ----------------------------------------------------------------------------- (v) input


def test_input_is_not_modified() -> None:
    frame = polars_frame(messy())
    before = frame.clone()
    out = frame.b12labs.interpret()
    assert frame.equals(before)
    assert frame.schema == before.schema
    assert out.select(frame.columns).equals(before)
    lazy = frame.lazy()
    lazy.b12labs.interpret().collect()
    assert lazy.collect().equals(before)


# ----------------------------------------------------------------------------- install hint


@pytest.mark.parametrize("missing", ["polars", "pyarrow"])
def test_import_without_the_extra_says_how_to_install(missing: str) -> None:
    done = import_without(missing, "b12labs.polars")
    assert done.returncode == 0, done.stderr
    assert 'pip install "b12labs[polars]"' in done.stdout
    assert done.stdout.startswith(missing + " ")


# ----------------------------------------------------------------------------- properties

CELLS = {name: st.sampled_from(pool) for name, pool in POOLS.items()}


@st.composite
def messy_rows(draw: st.DrawFn) -> tuple[dict[str, list[Any]], list[int]]:
    n = draw(st.integers(1, 25))
    data: dict[str, list[Any]] = {"id": list(range(n))}
    for name, cells in CELLS.items():
        data[name] = draw(st.lists(cells, min_size=n, max_size=n))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    return data, cuts


@settings(max_examples=40)
@given(messy_rows())
def test_property_any_cut_gives_interpret_frame(
    case: tuple[dict[str, list[Any]], list[int]],
) -> None:
    data, cuts = case
    frame = polars_frame(data)
    bounds = [0, *cuts, frame.height]
    pieces = [frame.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    scored = pl.concat([p.b12labs.interpret() for p in pieces])
    assert_same_results(results_of_polars(scored), expected_results(data))


B12_UNITS = ("pmol/L", "pg/mL", "ng/L")


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.floats(20, 3000).map(lambda v: round(v, 1)),
            st.sampled_from(B12_UNITS),
            st.none() | st.floats(0.05, 5.0).map(lambda v: round(v, 3)),
            st.floats(18, 95).map(lambda v: round(v)),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_property_batch_equals_scalar(rows: list[tuple[float, str, float | None, float]]) -> None:
    """A streamed LazyFrame row is exactly interpret() on that row."""
    frame = pl.DataFrame(
        {
            "b12": [f"{value} {unit}" for value, unit, _, _ in rows],
            "MMA (umol/L)": [mma for _, _, mma, _ in rows],
            "age": [age for _, _, _, age in rows],
        },
        schema={"b12": pl.String, "MMA (umol/L)": pl.Float64, "age": pl.Float64},
    )
    with pl.Config(streaming_chunk_size=3):
        out = frame.lazy().b12labs.interpret().collect(engine="streaming")
    for pos, (value, unit, mma, age) in enumerate(rows):
        panel = {
            "b12": f"{value} {unit}",
            "mma": None if mma is None else (mma, "umol/L"),
            "age": age,
        }
        assert_row_is_scalar(out, pos, panel)
