"""The Arrow batch API: ``interpret_table`` and ``output_schema`` (docs/scale-out.md).

What is checked:

* every row of ``interpret_table`` equals ``interpret_frame`` on the same rows (the pandas
  front, itself checked against ``interpret()`` row by row in test_pandas.py);
* row locality: the same rows cut into any batches give the same rows, and a
  ``RecordBatchReader`` streams the same rows out;
* the result's schema is exactly ``output_schema()`` of the input schema, with fixed types;
* column errors are decided by the schema and the arguments alone, row errors by the cells;
* every Arrow PyCapsule producer is accepted; anything else is a clear ``TypeError``.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import b12labs
from b12labs import ColumnError, InvalidValueError
from b12labs.arrow import categories, interpret_table, output_schema
from b12labs.pandas import interpret_frame

# ----------------------------------------------------------------------------- helpers


def arrow_rows(table: pa.Table) -> dict[str, list[Any]]:
    """The result columns as Python values (None for missing)."""
    out: dict[str, list[Any]] = {}
    for name in table.column_names:
        if name.startswith("b12labs_"):
            values = table.column(name).to_pylist()
            out[name] = [
                None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values
            ]
    return out


def frame_rows(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """The same for a pandas result (categories as their text, NaN as None)."""
    out: dict[str, list[Any]] = {}
    for name in frame.columns:
        if isinstance(name, str) and name.startswith("b12labs_"):
            column = frame[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                column = column.astype(object)
            out[name] = [
                None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                for v in column.tolist()
            ]
    return out


def assert_same_results(left: dict[str, list[Any]], right: dict[str, list[Any]]) -> None:
    assert left.keys() == right.keys()
    for name, values in left.items():
        other = right[name]
        assert len(values) == len(other), name
        for row, (a, b) in enumerate(zip(values, other, strict=True)):
            if isinstance(a, float) and isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-12), (name, row)
            else:
                assert a == b, (name, row, a, b)


# ----------------------------------------------------------------------------- strategies

# Cells seen in real exports (decision-spec section 1: units, censored results, missing-value
# words) and cells that must become row errors (junk, unknown units, negative, no unit).
B12_CELLS = [
    "150 pmol/L",
    "<50 pg/mL",
    "1,234 pg/mL",
    "350 ng/L",
    " 400 pmol/L ",
    "> 2000 pg/mL",
    "N/A",
    "",
    None,
    "junk",
    "150",
    "-5 pmol/L",
    "200 bananas",
    "9e9 pmol/L",
    "pending",
]
HOLOTC_CELLS = [
    ("35", "pmol/L"),
    ("<10", "pmol/L"),
    ("60", None),
    (None, "pmol/L"),
    ("20", "kg"),
    ("x", "pmol/L"),
    (None, None),
]
MMA_NUMBERS = [0.15, 0.3, 0.45, 0.8, 2.5, None, -1.0]
HCY_NUMBERS = [8.0, 14.0, 22.0, None]
AGE_CELLS = [25, 45, 70, 85, None]
SEX_CELLS = ["F", "male", "female", "M", None, "x"]
EGFR_NUMBERS = [95.0, 55.0, 25.0, None]
FLAG_CELLS = ["yes", "no", "Y", None, "maybe"]
SYMPTOM_CELLS = ["tremor; twitching", "none", None, "cramps", "bogus"]
FOLATE_CELLS = ["4.1", "12", "<2.0", None, "abc"]


@st.composite
def tables(draw: st.DrawFn) -> tuple[pa.Table, dict[str, Any]]:
    """A messy Arrow table (0-12 rows) and the keyword arguments it is scored with."""
    n = draw(st.integers(0, 12))

    def cells(choices: list[Any]) -> list[Any]:
        return [draw(st.sampled_from(choices)) for _ in range(n)]

    columns: dict[str, pa.Array] = {}
    kwargs: dict[str, Any] = {}
    wanted = draw(
        st.lists(
            st.sampled_from(
                [
                    "b12",
                    "holotc",
                    "mma",
                    "hcy",
                    "folate",
                    "age",
                    "sex",
                    "egfr",
                    "n2o",
                    "symptoms",
                    "treatment",
                ]
            ),
            min_size=1,
            max_size=11,
            unique=True,
        )
    )
    if not {"b12", "holotc", "mma", "hcy", "folate"} & set(wanted):
        wanted.append("b12")
    for key in wanted:
        if key == "b12":
            text = pa.string_view() if draw(st.booleans()) else pa.string()
            columns["Vitamin B12"] = pa.array(cells(B12_CELLS), type=text)
        elif key == "holotc":
            pairs = cells(HOLOTC_CELLS)
            columns["Active B12"] = pa.array([p[0] for p in pairs], type=pa.large_string())
            columns["holotc_unit"] = pa.array([p[1] for p in pairs], type=pa.string())
        elif key == "mma":
            columns["MMA (umol/L)"] = pa.array(cells(MMA_NUMBERS), type=pa.float64())
        elif key == "hcy":
            columns["tHcy"] = pa.array(cells(HCY_NUMBERS), type=pa.float32())
            kwargs["units"] = {"hcy": "umol/L"}
        elif key == "folate":
            columns["Folate (ng/mL)"] = pa.array(cells(FOLATE_CELLS), type=pa.string())
        elif key == "age":
            columns["age"] = pa.array(cells(AGE_CELLS), type=pa.int64())
        elif key == "sex":
            columns["Sex"] = pa.array(cells(SEX_CELLS), type=pa.string()).dictionary_encode()
        elif key == "egfr":
            columns["eGFR"] = pa.array(cells(EGFR_NUMBERS), type=pa.float64())
        elif key == "n2o":
            columns["N2O exposure"] = pa.array(cells(FLAG_CELLS), type=pa.string())
        elif key == "symptoms":
            columns["Symptoms"] = pa.array(cells(SYMPTOM_CELLS), type=pa.string())
        else:
            columns["on B12"] = pa.array(cells([True, False, None]), type=pa.bool_())
    columns["patient"] = pa.array([f"p{i}" for i in range(n)], type=pa.string())
    kwargs["profile"] = draw(st.sampled_from(b12labs.list_profiles()))
    return pa.table(columns), kwargs


def cut(table: pa.Table, points: list[int]) -> list[pa.Table]:
    """``table`` cut at ``points`` (row positions) into consecutive slices."""
    edges = [0, *sorted({p % (table.num_rows + 1) for p in points}), table.num_rows]
    return [table.slice(a, b - a) for a, b in itertools.pairwise(edges) if b >= a]


# ----------------------------------------------------------------------------- properties


@settings(max_examples=150)
@given(case=tables())
def test_every_row_equals_interpret_frame(case: tuple[pa.Table, dict[str, Any]]):
    table, kwargs = case
    before = table.to_pylist()
    out = interpret_table(table, **kwargs)
    assert table.to_pylist() == before  # the input is never modified
    # the input columns come first, untouched (same arrays, same types)
    assert out.select(table.column_names).equals(table)
    frame = interpret_frame(table.to_pandas(), **kwargs)
    assert_same_results(arrow_rows(out), frame_rows(frame))


@settings(max_examples=150)
@given(case=tables(), points=st.lists(st.integers(0, 12), max_size=6))
def test_row_locality_any_cut_gives_the_same_rows(
    case: tuple[pa.Table, dict[str, Any]], points: list[int]
):
    table, kwargs = case
    whole = interpret_table(table, **kwargs)
    parts = [interpret_table(part, **kwargs) for part in cut(table, points)]
    assert pa.concat_tables(parts).equals(whole, check_metadata=True)
    # a stream of the same batches: one scored batch per input batch, the same rows
    batches = [b for part in cut(table, points) for b in part.to_batches()]
    reader = pa.RecordBatchReader.from_batches(table.schema, batches)
    streamed = interpret_table(reader, **kwargs)
    assert isinstance(streamed, pa.RecordBatchReader)
    assert streamed.read_all().equals(whole, check_metadata=True)


@settings(max_examples=100)
@given(case=tables())
def test_the_schema_is_output_schema_of_the_input_schema(case: tuple[pa.Table, dict[str, Any]]):
    table, kwargs = case
    out = interpret_table(table, **kwargs)
    options = {k: v for k, v in kwargs.items() if k != "errors"}
    assert out.schema.equals(output_schema(table.schema, **options), check_metadata=True)


# ----------------------------------------------------------------------------- the schema


FIXED_CATEGORIES = {
    # the four outcomes of decision-spec section 3, in Status order
    "b12labs_status": ("deficiency_likely", "borderline", "not_indicated", "insufficient_data"),
}


def test_output_schema_has_fixed_types_and_categories():
    schema = output_schema(
        pa.schema(
            [
                ("b12", pa.string()),
                ("holotc (pmol/L)", pa.float64()),
                ("mma (umol/L)", pa.float64()),
                ("hcy (umol/L)", pa.float64()),
                ("creatinine (mg/dL)", pa.float64()),
                ("age", pa.int32()),
            ]
        )
    )
    types = {f.name: f.type for f in schema}
    assert types["b12"] == pa.string()  # input fields first, unchanged
    dictionary = pa.dictionary(pa.int8(), pa.string())
    for name in ("b12labs_status", "b12labs_b12_category", "b12labs_mma_fhir", "b12labs_cb12_band"):
        assert types[name] == dictionary, name
    for name in ("b12labs_b12_value", "b12labs_cb12", "b12labs_egfr"):
        assert types[name] == pa.float64(), name
    for name in ("b12labs_findings", "b12labs_next_steps", "b12labs_error"):
        assert types[name] == pa.string(), name
    assert types["b12labs_rules_version"] == pa.int16()
    assert categories(schema.field("b12labs_status")) == FIXED_CATEGORIES["b12labs_status"]
    assert set(categories(schema.field("b12labs_b12_fhir")) or ()) >= {"L", "N", "H"}
    assert categories(schema.field("b12labs_findings")) is None
    provenance = json.loads(schema.metadata[b"b12labs"])
    assert provenance["rules_version"] == 2  # decision-spec section 7
    assert provenance["profile_id"] == "nice-ng239"


def test_the_status_dictionary_is_the_same_whatever_the_rows():
    # one row per batch: a dictionary built from the data would differ between the batches
    first = interpret_table(pa.table({"b12": ["150 pmol/L"]}))
    second = interpret_table(pa.table({"b12": ["900 pmol/L"]}))
    for table in (first, second):
        chunk = table.column("b12labs_status").chunk(0)
        assert tuple(chunk.dictionary.to_pylist()) == FIXED_CATEGORIES["b12labs_status"]


def test_output_schema_accepts_a_capsule_schema():
    polars = pytest.importorskip("polars")
    frame = polars.DataFrame({"b12": ["150 pmol/L"]})
    streamed = pa.RecordBatchReader.from_stream(frame).schema  # polars' own Arrow types

    class Producer:  # the minimal __arrow_c_schema__ producer of the PyCapsule interface
        def __arrow_c_schema__(self) -> Any:
            return streamed.__arrow_c_schema__()

    schema = output_schema(Producer())
    assert schema.equals(interpret_table(frame).schema, check_metadata=True)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("cells", [[150.0, 300.0], [None, None], []])
def test_a_column_of_numbers_without_unit_is_a_column_error_from_the_schema(cells: list[Any]):
    table = pa.table({"b12": pa.array(cells, type=pa.float64())})
    with pytest.raises(ColumnError, match="units=") as info:
        interpret_table(table)
    assert info.value.analyte == "b12"
    with pytest.raises(ColumnError, match="units="):
        output_schema(table.schema)


def test_text_without_unit_is_each_rows_error_in_any_batch():
    # one batch holds only rows without a unit: they are row errors, as in one table
    table = pa.table({"b12": ["150", "300 pmol/L", "200", "250"]})
    reader = pa.RecordBatchReader.from_batches(
        table.schema, [table.slice(0, 1).to_batches()[0], table.slice(1).to_batches()[0]]
    )
    out = interpret_table(reader).read_all()
    errors = out.column("b12labs_error").to_pylist()
    with pytest.raises(InvalidValueError) as info:
        b12labs.interpret(b12="150")
    assert errors[0] == f"invalid_value: {info.value.message}"
    assert errors[1] == ""
    assert errors[2].startswith("invalid_value: ")
    assert "has no unit" in errors[2]


def test_units_disagreeing_with_a_unit_column_cell_is_a_row_error():
    table = pa.table({"b12": [150.0, 300.0], "b12_unit": ["pmol/L", "ng/L"]})
    out = interpret_table(table, units={"b12": "pg/mL"})
    errors = out.column("b12labs_error").to_pylist()
    assert errors[0].startswith("conflicting_unit: ")
    assert "'pmol/L'" in errors[0]
    assert errors[1] == ""  # ng/L is pg/mL
    # the same rows in separate batches: the same answer (row locality)
    alone = interpret_table(table.slice(1), units={"b12": "pg/mL"})
    assert alone.column("b12labs_error").to_pylist() == [""]


def test_errors_raise_names_the_row_across_batches():
    table = pa.table({"b12": ["150 pmol/L", "300 pmol/L", "x pmol/L"]})
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=2))
    with pytest.raises(InvalidValueError, match="row 2"):
        interpret_table(reader, errors="raise").read_all()


@pytest.mark.parametrize("data", [{"b12": ["150 pmol/L"]}, [("b12", "150 pmol/L")], "b12", 5])
def test_data_without_the_arrow_interface_is_a_type_error(data: Any):
    with pytest.raises(TypeError, match="PyCapsule"):
        interpret_table(data)


def test_interpret_frame_points_other_frames_to_interpret_table():
    for frame in (pa.table({"b12": ["150 pmol/L"]}),):
        with pytest.raises(TypeError, match="interpret_table"):
            interpret_frame(frame)  # type: ignore[arg-type]
    polars = pytest.importorskip("polars")
    with pytest.raises(TypeError, match="interpret_table"):
        interpret_frame(polars.DataFrame({"b12": ["150 pmol/L"]}))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- producers

RAW = {
    "Vitamin B12": ["150 pmol/L", "<50 pg/mL", None, "junk"],
    "MMA (umol/L)": [0.52, 0.2, 0.9, None],
    "age": [70, 40, 55, 30],
}


def expected() -> dict[str, list[Any]]:
    return arrow_rows(interpret_table(pa.table(RAW)))


def test_record_batch_and_reader_inputs():
    batch = pa.record_batch(RAW)
    out = interpret_table(batch)
    assert isinstance(out, pa.Table)
    assert_same_results(arrow_rows(out), expected())


def test_polars_duckdb_and_pandas_through_the_capsule_interface():
    polars = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    frame = polars.DataFrame(RAW)
    assert_same_results(arrow_rows(interpret_table(frame)), expected())
    con = duckdb.connect()
    relation = con.from_arrow(pa.table(RAW))
    assert_same_results(arrow_rows(interpret_table(relation)), expected())
    assert_same_results(arrow_rows(interpret_table(pd.DataFrame(RAW))), expected())


def test_a_capsule_array_producer():
    class Producer:  # the minimal __arrow_c_array__ producer of the PyCapsule interface
        def __init__(self) -> None:
            self.batch = pa.record_batch(RAW)

        def __arrow_c_array__(self, requested_schema: Any = None) -> Any:
            return self.batch.__arrow_c_array__(requested_schema)

    assert_same_results(arrow_rows(interpret_table(Producer())), expected())


def test_top_level_names_are_lazy():
    assert b12labs.interpret_table is interpret_table
    assert b12labs.output_schema is output_schema


def test_values_are_in_the_canonical_unit():
    # 1 pg/mL of cobalamin = 0.7378 pmol/L (molar mass 1355.37 g/mol; domain-facts.md)
    out = interpret_table(pa.table({"b12": ["300 pg/mL"]}))
    value = out.column("b12labs_b12_value").to_pylist()[0]
    assert value == pytest.approx(300 / 1.35537, rel=1e-4)
    assert not np.isnan(value)


_WITHOUT_PANDAS = """
import sys

class NoPandas:  # an environment with pyarrow and polars but no pandas installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoPandas())
import pyarrow as pa
import b12labs

table = pa.table({"b12": ["150 pmol/L", "junk"], "mma (umol/L)": [0.52, None], "age": [70, 40]})
out = b12labs.interpret_table(table)
print("STATUS", out.column("b12labs_status").to_pylist())
print("SCHEMA", b12labs.output_schema(table.schema).equals(out.schema))
try:
    import polars
except ModuleNotFoundError:
    print("POLARS", "absent")
else:
    print("POLARS", b12labs.interpret_table(polars.from_arrow(table)).num_rows)
print("PANDAS", "pandas" in sys.modules)
"""


def test_the_arrow_front_works_without_pandas_installed():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PANDAS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    # the first row as interpret() answers it; "junk" is a row error, so its status is missing
    first = b12labs.interpret(b12="150 pmol/L", mma="0.52 umol/L", age=70).status.value
    assert lines["STATUS"] == f"[{first!r}, None]"
    assert lines["SCHEMA"] == "True"
    assert lines["POLARS"] in ("2", "absent")
    assert lines["PANDAS"] == "False"
