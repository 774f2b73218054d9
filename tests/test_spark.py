"""The Spark front: ``b12labs.spark.interpret_sdf`` (mapInArrow over ``interpret_table``).

One local Spark session (``local[2]``, bound to 127.0.0.1, no UI) serves the module; each
test runs one or a few small jobs. What is checked:

* every row equals ``b12labs.pandas.interpret_frame`` on the same rows, messy cells
  included, with several Arrow batches per partition;
* the schema is the input's, then the result fields of ``b12labs.output_schema()`` of the
  input's Arrow schema in Spark types, with large or regular Arrow strings alike;
* the same rows cut into 1, 3 or 7 partitions give the same rows (row locality); a
  partition whose text cells have no unit gives row errors; a number column with no unit
  is a ColumnError when interpret_sdf is called, before any job runs;
* column names Spark cannot pass by name (duplicates, case, dots) do not stop a run;
* batches scored together (several per ``interpret_table`` call) each come back with their
  own rows' results, and ``errors="raise"`` numbers rows across them;
* columns b12labs does not read come back unchanged whatever their type (timestamps in a
  session time zone, decimals, binary, arrays, maps, structs, intervals);
* categorical results travel as codes into their declared categories.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from collections.abc import Iterator
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from pyspark.errors import PythonException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.functions import spark_partition_id
from pyspark.sql.pandas.types import from_arrow_type, to_arrow_schema
from pyspark.sql.types import (
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

import b12labs
import b12labs.spark
from b12labs import ColumnError
from b12labs.arrow import categories
from b12labs.pandas import interpret_frame
from b12labs.spark import interpret_sdf

# mapInArrow goes through pyspark's pandas_udf machinery, which warns that it does not yet
# support pandas 3 (interpret_sdf hands Spark Arrow batches only, never pandas objects).
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas >= 3.0.0:FutureWarning"
)


def java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    if java() is None:
        pytest.skip("Spark needs Java: no java on PATH and none in $JAVA_HOME")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYSPARK_PYTHON", sys.executable)  # workers: this interpreter, with b12labs
        env.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        session = (
            SparkSession.builder.master("local[2]")
            .appName("b12labs-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.sql.session.timeZone", "UTC")
            # several Arrow batches per partition: rows are numbered across them
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "7")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# ----------------------------------------------------------------------------- data


def column(cells: list[Any], n: int) -> list[Any]:
    return list(islice(cycle(cells), n))


TYPES: dict[str, DataType] = {"long": LongType(), "double": DoubleType(), "string": StringType()}


def struct(*fields: str) -> StructType:
    """A Spark schema from ``"name: type"`` texts (names may hold spaces, brackets, dots)."""
    pairs = [field.rpartition(": ") for field in fields]
    return StructType([StructField(name, TYPES[kind], True) for name, _, kind in pairs])


#: Spark types of the messy columns (the pandas frame has the matching dtypes).
SCHEMA = struct(
    *("id: long", "B12: string", "B12 unit: string", "MMA (umol/L): double", "hcy: string"),
    *("age: double", "sex: string", "eGFR: double", "N2O exposure: string", "symptoms: string"),
    "pregnant: string",
)


def messy_rows(n: int = 60) -> list[tuple[Any, ...]]:
    """Cells as exports write them: censored values, a decimal comma, missing-value words,
    junk, blanks, a unit column with unknown units, a header unit, patient context."""
    nan = None
    columns = [
        list(range(n)),
        column(
            [
                *("<50 pmol/L", "1,234", "N/A", "junk text", "", "350", "200 pg/mL", None),
                *("> 2000", " 180 ", "150", "90 pmol/L", "pending", "-5 pmol/L", "12 furlongs"),
            ],
            n,
        ),
        column(
            [
                *("pg/mL", None, "pmol/L", "", "pmol/L", "ng/L", None, "pmol/L", "pg/mL"),
                *("foo/L", "ng/L"),
            ],
            n,
        ),
        column([0.3, nan, 0.52, 1.2, 0.21, 0.45, 90.0, 0.1, nan], n),
        column(
            [
                *("15 umol/L", "N/A", "9 umol/L", "22 µmol/L", "", "abc", "12 umol/L"),
                *("8 umol/L", "31 umol/L", "11", "", "10 umol/L", "pending"),
            ],
            n,
        ),
        column([70.0, nan, 30.0, 85.0, 45.0, 200.0, 12.0, 60.0], n),
        column(["f", "m", "female", None, "x", "Male", "F"], n),
        column([90.0, 25.0, nan, 55.0, 120.0], n),
        column(["yes", "no", "", None, "maybe", "1"], n),
        column(["tremor; twitching", "none", "", None, "sore tongue", "zzz", "fatigue"], n),
        column(["no", "yes", "", None], n),
    ]
    return list(zip(*columns, strict=True))


def frame_of(rows: list[tuple[Any, ...]], schema: StructType = SCHEMA) -> pd.DataFrame:
    """The rows as pandas: text columns of Python strings, numbers as float64 (NaN)."""
    data: dict[str, Any] = {}
    for i, field in enumerate(schema.fields):
        cells = [row[i] for row in rows]
        kind = field.dataType.typeName()
        if kind == "double":
            data[field.name] = pd.Series(cells, dtype="float64")
        elif kind == "long":
            data[field.name] = pd.Series(cells, dtype="int64")
        else:
            data[field.name] = pd.Series(cells, dtype=object)
    return pd.DataFrame(data)


def sdf_of(
    spark: SparkSession, rows: list[tuple[Any, ...]], partitions: int, schema: StructType = SCHEMA
) -> DataFrame:
    """The rows as a Spark DataFrame cut into exactly ``partitions`` contiguous slices."""
    return spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions), schema)


def cell(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def spark_results(out: DataFrame) -> dict[str, list[Any]]:
    """Result columns by name, rows in ``id`` order, as Python values."""
    names = out.columns
    rows = sorted(out.collect(), key=lambda row: row[names.index("id")])
    return {
        name: [cell(row[i]) for row in rows]
        for i, name in enumerate(names)
        if name.startswith("b12labs_")
    }


def frame_results(frame: pd.DataFrame) -> dict[str, list[Any]]:
    return {
        name: [cell(v) for v in frame[name].astype(object).tolist()]
        for name in frame.columns
        if name.startswith("b12labs_")
    }


def assert_same_results(left: dict[str, list[Any]], right: dict[str, list[Any]]) -> None:
    assert list(left) == list(right)
    for name, values in left.items():
        assert len(values) == len(right[name]), name
        for row, (a, b) in enumerate(zip(values, right[name], strict=True)):
            if isinstance(a, float) and isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-12), (name, row)
            else:
                assert a == b, (name, row, a, b)


def expected_schema(spark: SparkSession, sdf: DataFrame, **options: Any) -> StructType:
    """The input's fields, then output_schema()'s result fields in Spark types: a dictionary
    as a string with its categories in the metadata, int16 as a short (written out here)."""
    tz = spark.conf.get("spark.sql.session.timeZone")
    arrow_in = to_arrow_schema(sdf.schema, timezone=tz)
    arrow_out = b12labs.output_schema(arrow_in, **options)
    fields = list(sdf.schema.fields)
    for field in list(arrow_out)[len(arrow_in) :]:
        metadata = None
        if pa.types.is_dictionary(field.type):
            metadata = {"b12labs_categories": list(categories(field) or ())}
        fields.append(StructField(field.name, from_arrow_type(field.type), True, metadata))
    return StructType(fields)


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize(
    "options",
    [
        {},
        {
            "profile": b12labs.get_profile("population-survey"),  # pickled to the workers
            "columns": {"b12": "B12", "hcy": "hcy"},
            "units": {"hcy": "umol/L"},
        },
    ],
    ids=["default", "profile-object-columns-units"],
)
def test_rows_equal_interpret_frame(spark: SparkSession, options: dict[str, Any]) -> None:
    rows = messy_rows()
    sdf = sdf_of(spark, rows, 3)
    out = interpret_sdf(sdf, **options)
    results = spark_results(out)
    expected = interpret_frame(frame_of(rows), **options)
    assert_same_results(results, frame_results(expected))
    # the data really is messy: statuses and several kinds of row errors
    codes = {error.partition(":")[0] for error in results["b12labs_error"]}
    assert {"", "invalid_value", "unknown_unit", "incompatible_unit"} <= codes
    assert {"deficiency_likely", "not_indicated"} <= set(results["b12labs_status"])
    # the input columns come back unchanged
    assert sorted(tuple(r) for r in out.select(*sdf.columns).collect()) == sorted(rows)


def test_schema_is_output_schema(spark: SparkSession) -> None:
    sdf = sdf_of(spark, messy_rows(20), 2)
    out = interpret_sdf(sdf)
    assert out.schema == expected_schema(spark, sdf)
    status = out.schema["b12labs_status"]
    assert status.metadata["b12labs_categories"] == [s.value for s in b12labs.Status]
    assert out.schema["b12labs_rules_version"].dataType.typeName() == "short"
    # Arrow batches of large strings (a session setting): the same schema and rows
    spark.conf.set("spark.sql.execution.arrow.useLargeVarTypes", "true")
    try:
        large = interpret_sdf(sdf)
        assert large.schema == out.schema
        assert_same_results(
            spark_results(large), frame_results(interpret_frame(frame_of(messy_rows(20))))
        )
    finally:
        spark.conf.unset("spark.sql.execution.arrow.useLargeVarTypes")


def test_partitioning_does_not_change_rows(spark: SparkSession) -> None:
    rows = messy_rows(40)
    expected = frame_results(interpret_frame(frame_of(rows)))
    for partitions in (1, 3, 7):
        sdf = sdf_of(spark, rows, partitions)
        assert sdf.rdd.getNumPartitions() == partitions
        assert_same_results(spark_results(interpret_sdf(sdf)), expected)


def test_partition_of_unitless_text_gives_row_errors(spark: SparkSession) -> None:
    schema = struct("id: long", "B12: string", "age: double")
    rows = [(0, "150 pmol/L", 70.0), (1, "400 pg/mL", 70.0), (2, "350", 70.0), (3, "<50", 70.0)]
    out = interpret_sdf(sdf_of(spark, rows, 2, schema))
    got = out.select("id", spark_partition_id().alias("part"), "b12labs_status", "b12labs_error")
    by_id = {row["id"]: row for row in got.collect()}
    assert {by_id[i]["part"] for i in (2, 3)} == {1}  # a partition of unitless cells only
    assert [by_id[i]["b12labs_status"] is None for i in range(4)] == [False, False, True, True]
    assert all("has no unit" in by_id[i]["b12labs_error"] for i in (2, 3))
    expected = interpret_frame(frame_of(rows, schema))
    assert_same_results(spark_results(out), frame_results(expected))


def test_schema_errors_at_call_time(spark: SparkSession) -> None:
    tracker = spark.sparkContext.statusTracker()
    jobs = set(tracker.getJobIdsForGroup())
    numbers = spark.createDataFrame([(150.0, 70.0)], struct("b12: double", "age: double"))
    with pytest.raises(ColumnError, match=r"column 'b12' \(b12\) holds numbers and has no unit"):
        interpret_sdf(numbers)
    both = spark.createDataFrame([("1 pmol/L", "2 pmol/L")], struct("B12: string", "b12: string"))
    with pytest.raises(ColumnError, match="both look like 'b12'"):
        interpret_sdf(both)
    twice = both.toDF("b12", "b12")
    with pytest.raises(ColumnError, match="appears 2 times"):
        interpret_sdf(twice)
    with pytest.raises(ColumnError, match="result prefix"):
        interpret_sdf(numbers.toDF("b12 (pmol/L)", "b12labs_status"))
    assert set(tracker.getJobIdsForGroup()) == jobs  # decided from the schema: no job ran
    with pytest.raises(TypeError, match=r"takes a pyspark\.sql\.DataFrame"):
        interpret_sdf(pd.DataFrame({"b12": ["1 pmol/L"]}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="errors must be"):
        interpret_sdf(both, errors="skip")  # type: ignore[arg-type]


def test_names_spark_cannot_pass_by_name(spark: SparkSession) -> None:
    # mapInArrow alone fails on these (AMBIGUOUS_REFERENCE, UNRESOLVED_COLUMN): a duplicated
    # name, names equal but for case, a dotted name; b12labs reads none of them
    names = ["Vitamin B12 (pg/mL)", "on B12", "x", "X", "lab.site", "x"]
    schema = struct("Vitamin B12 (pg/mL): double", "on B12: string", "x: long", "X: long")
    schema.add("lab.site", StringType()).add("x2", LongType())
    rows = [(300.0, "no", 1, 2, "a", 7), (150.0, "yes", 3, 4, "b", 8), (None, "", 5, 6, "c", 9)]
    sdf = spark.createDataFrame(rows, schema).toDF(*names)
    out = interpret_sdf(sdf, profile="mayo-cascade")
    assert out.columns[: len(names)] == names
    assert out.schema.fields[: len(names)] == sdf.schema.fields
    got = out.collect()
    assert [tuple(row)[: len(names)] for row in got] == rows
    results = {
        name: [cell(row[i]) for row in got]
        for i, name in enumerate(out.columns)
        if name.startswith("b12labs_")
    }
    frame = pd.DataFrame(rows, columns=names)  # pandas allows the same labels
    assert_same_results(results, frame_results(interpret_frame(frame, profile="mayo-cascade")))
    assert None not in results["b12labs_status"][:2]


def test_errors_raise_stops_the_job(spark: SparkSession) -> None:
    schema = struct("id: long", "B12: string")
    out = interpret_sdf(
        sdf_of(spark, [(0, "150 pmol/L"), (1, "350")], 1, schema), errors="raise"
    )  # lazy: nothing runs yet
    with pytest.raises(PythonException, match=r"row 1: b12: '350' has no unit"):
        out.collect()


def test_batches_scored_together_keep_their_rows(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Spark hands Python batches of 7 rows (the fixture); 10 rows at least per scoring call
    # puts them in twos: each batch still comes back with its own rows' results
    monkeypatch.setattr(b12labs.spark, "_GROUP_ROWS", 10)
    rows = messy_rows(60)
    out = interpret_sdf(sdf_of(spark, rows, 2))
    assert_same_results(spark_results(out), frame_results(interpret_frame(frame_of(rows))))
    assert sorted(tuple(r) for r in out.select(*SCHEMA.names).collect()) == sorted(rows)
    # a row number counts from the start of the partition, across the groups
    cells = [(i, "150 pmol/L") for i in range(30)]
    cells[23] = (23, "350")
    raising = interpret_sdf(
        sdf_of(spark, cells, 1, struct("id: long", "B12: string")), errors="raise"
    )
    with pytest.raises(PythonException, match=r"row 23: b12: '350' has no unit"):
        raising.collect()


#: Columns b12labs does not read, of types that must come back as they were.
PASS_THROUGH = {
    "visit.time": "timestamp_seconds(id * 3456000 + 1700000000)",  # a dotted name
    "local time": "cast(timestamp_seconds(id * 1000) as timestamp_ntz)",
    "day": "date_add(date'2024-02-28', cast(id as int))",
    "amount": "cast(id * 1.123456789012345678 as decimal(38,18))",
    "raw": "cast(concat('x', id) as binary)",
    "list": "if(id % 3 = 0, null, array(id, null, id + 1))",
    "map": "map('k', id * 0.5, 'm', null)",
    "nested": "named_struct('a', id, 'b', array(named_struct('c', 'z')))",
    "flag": "id % 2 = 0",
    "small": "cast(id as tinyint)",
    "ratio": "cast(id as float) / 3",
    "wait": "make_dt_interval(cast(id as int), 1, 2, 3.5)",
}


def test_columns_not_read_come_back_unchanged(spark: SparkSession) -> None:
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")  # timestamps: not UTC
    try:
        sdf = spark.range(12).selectExpr(
            "id",
            "concat(cast(100 + id * 50 as string), ' pmol/L') AS B12",
            *(f"{expression} AS `{name}`" for name, expression in PASS_THROUGH.items()),
        )
        out = interpret_sdf(sdf)
        assert out.schema.fields[: len(sdf.columns)] == sdf.schema.fields
        got = sorted(out.collect(), key=lambda row: row["id"])
        want = sorted(sdf.collect(), key=lambda row: row["id"])
        assert [tuple(row)[: len(sdf.columns)] for row in got] == [tuple(row) for row in want]
        assert [row["b12labs_b12_value"] for row in got] == [100.0 + 50 * i for i in range(12)]
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_categorical_results_travel_as_codes_into_their_categories() -> None:
    labels = pa.array(["a", "b", "c"])
    same = pa.DictionaryArray.from_arrays(pa.array([0, 2, None], pa.int8()), labels)
    codes = b12labs.spark._wire(same, labels, pa.string())
    assert codes.type == pa.int8()
    assert codes.to_pylist() == [0, 2, None]
    # a dictionary in another order (never from interpret_table): codes into the categories
    other = pa.DictionaryArray.from_arrays(pa.array([0, 1, None, 2], pa.int8()), ["c", "a", "b"])
    codes = b12labs.spark._wire(other, labels, pa.string())
    assert codes.type == pa.int8()
    assert codes.to_pylist() == [2, 0, None, 1]
    # text results in the session's string type, numbers as they are
    assert b12labs.spark._wire(pa.array(["x"]), None, pa.large_string()).type == pa.large_string()
    assert b12labs.spark._wire(pa.array([1.5]), None, pa.string()).type == pa.float64()
