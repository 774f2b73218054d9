"""The DuckDB front (``b12labs.duckdb``): SQL and relations give the rows of ``interpret_frame``.

Every expected result comes from ``b12labs.pandas.interpret_frame`` on the same rows
(checked row by row against ``b12labs.interpret()`` in test_pandas.py), from
``b12labs.interpret()`` on a row, or from the cited source; never from the DuckDB output
itself. The expected SQL types are the ones the issue fixes for each Arrow result type.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import b12labs
from b12labs import B12LabsError, ColumnError
from conftest import import_without
from messy_rows import (
    assert_reaches_every_kind,
    assert_row_is_scalar,
    assert_same_results,
    expected_results,
    kind,
    messy,
    pandas_frame,
)

duckdb = pytest.importorskip("duckdb")
pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
bdd = pytest.importorskip("b12labs.duckdb")
bpd = pytest.importorskip("b12labs.pandas")
categories = b12labs.arrow.categories  # b12labs.arrow is imported by b12labs.duckdb
output_schema = b12labs.output_schema
interpret_frame = bpd.interpret_frame

VECTOR = duckdb.__standard_vector_size__  # a scalar function sees at most this many rows


def arrow_table(data: dict[str, list[Any]]) -> Any:
    types = {"int": pa.int64(), "float": pa.float64(), "text": pa.string()}
    return pa.table({n: pa.array(c, type=types[kind(n, c)]) for n, c in data.items()})


def table(con: Any, data: dict[str, list[Any]], name: str = "patients") -> Any:
    con.from_arrow(arrow_table(data)).create(name)
    return con.table(name)


@pytest.fixture
def con() -> Any:
    connection = duckdb.connect()
    yield connection
    connection.close()


# ----------------------------------------------------------------------------- comparison


def results_of(rel: Any, order: str = "id") -> dict[str, list[Any]]:
    """The b12labs_ columns of a relation, in ``order``, as Python values."""
    names = [c for c in rel.columns if c.startswith("b12labs_")]
    rows = rel.order(order).fetchall()
    at = {name: i for i, name in enumerate(rel.columns)}
    return {name: [row[at[name]] for row in rows] for name in names}


def sql_type(field: Any) -> str:
    """The DuckDB type the issue fixes for an Arrow result field."""
    labels = categories(field)
    if labels is not None:
        return "ENUM(" + ", ".join("'" + label.replace("'", "''") + "'" for label in labels) + ")"
    return {pa.float64(): "DOUBLE", pa.int16(): "SMALLINT", pa.string(): "VARCHAR"}[field.type]


SCORED_SQL = "SELECT p.id, unnest(b12labs_interpret(p)) FROM patients p"


# ----------------------------------------------------------------------------- (i) results


def test_relation_rows_equal_interpret_frame(con: Any) -> None:
    data = messy()
    scored = bdd.interpret_relation(table(con, data))
    expected = expected_results(data)
    assert_reaches_every_kind(expected)
    assert_same_results(results_of(scored), expected)


def test_sql_rows_equal_interpret_frame(con: Any) -> None:
    data = messy()
    table(con, data)
    bdd.register(con)
    got = results_of(con.sql(SCORED_SQL))
    assert_same_results(got, expected_results(data), extra_null=True)
    # the other spellings of the same query
    other = con.sql(
        "SELECT * EXCLUDE (r), r.* FROM (SELECT *, b12labs_interpret(p) AS r FROM patients p)"
    )
    assert_same_results(results_of(other), expected_results(data), extra_null=True)
    status = con.sql("SELECT id, b12labs_interpret(p).b12labs_status AS s FROM patients p")
    assert [row[1] for row in status.order("id").fetchall()] == got["b12labs_status"]


def test_sql_struct_of_chosen_columns_and_options(con: Any) -> None:
    data = messy(40)
    table(con, data)
    options = {"columns": {"b12": "LBXB12", "b12_unit": "Unit"}, "units": {"hcy": "umol/L"}}
    bdd.register(con, name="score_b12", profile="mayo-cascade", **options)
    sql = """
        SELECT id, unnest(score_b12({'LBXB12': "Vitamin B12", 'Unit': "B12 unit",
                                     'homocysteine': Homocysteine, 'age': Age}))
        FROM patients
    """
    chosen = {
        "id": data["id"],
        "LBXB12": data["Vitamin B12"],
        "Unit": data["B12 unit"],
        "homocysteine": data["Homocysteine"],
        "age": data["Age"],
    }
    assert_same_results(
        results_of(con.sql(sql)),
        expected_results(chosen, profile="mayo-cascade", **options),
        extra_null=True,
    )


def test_relation_options(con: Any) -> None:
    data = messy(40)
    data["LBXB12"] = data.pop("Vitamin B12")
    options = {"columns": {"b12": "LBXB12", "b12_unit": "B12 unit"}, "units": {"hcy": "umol/L"}}
    scored = bdd.interpret_relation(table(con, data), profile="population-survey", **options)
    expected = expected_results(data, profile="population-survey", **options)
    assert_same_results(results_of(scored), expected)


def test_clinical_anchor(con: Any) -> None:
    # NICE NG239 (2024), recommendation 1.2: total B12 below 180 ng/L is low; from 180 to
    # 350 ng/L is indeterminate (https://www.nice.org.uk/guidance/ng239).
    bdd.register(con, profile="nice-ng239")
    got = con.sql(
        "SELECT b12labs_interpret({'b12': v, 'age': 50}).b12labs_b12_category "
        "FROM (VALUES ('120 ng/L', 1), ('250 ng/L', 2)) t(v, i) ORDER BY i"
    ).fetchall()
    assert got == [("low",), ("indeterminate",)]


def test_null_row_gives_null_and_missing_cells_are_missing(con: Any) -> None:
    bdd.register(con)
    rows = con.sql(
        "SELECT i, b12labs_interpret(s) AS r FROM (VALUES (1, {'b12': '150 pmol/L'}), "
        "(2, NULL), (3, {'b12': NULL})) t(i, s) ORDER BY i"
    ).fetchall()
    assert rows[1][1] is None
    expected = expected_results({"b12": ["150 pmol/L", None]})
    assert [rows[0][1]["b12labs_status"], rows[2][1]["b12labs_status"]] == expected[
        "b12labs_status"
    ]


# ----------------------------------------------------------------------------- (ii) types


def test_relation_types_are_output_schema(con: Any) -> None:
    data = messy(30)
    rel = table(con, data)
    arrow = output_schema(rel.limit(0).to_arrow_table().schema)
    scored = bdd.interpret_relation(rel)
    assert scored.columns == arrow.names
    width = len(rel.columns)
    assert scored.types[:width] == rel.types  # the input's columns, untouched
    got = [str(t) for t in scored.types[width:]]
    assert got == [sql_type(f) for f in list(arrow)[width:]]
    # read back as Arrow: the dictionaries hold the same categories
    back = scored.to_arrow_table().schema
    for field in list(arrow)[width:]:
        if categories(field) is not None:
            assert pa.types.is_dictionary(back.field(field.name).type), field.name
        else:
            assert back.field(field.name).type == field.type, field.name


def test_sql_struct_type_holds_every_result_field(con: Any) -> None:
    data = messy(30)
    table(con, data)
    bdd.register(con)
    every = pa.schema([(k, pa.string()) for k in ("b12", "holotc", "mma", "hcy", "folate", "egfr")])
    fields = list(output_schema(every))[len(every) :]
    kind = con.sql("SELECT b12labs_interpret(p) AS r FROM patients p").types[0]
    assert str(kind) == "STRUCT(" + ", ".join(f"{f.name} {sql_type(f)}" for f in fields) + ")"
    # the fields of this table's output schema are among them, with the same types
    present = list(output_schema(arrow_table(data).schema))[len(data) :]
    assert {f.name: sql_type(f) for f in present}.items() <= {
        f.name: sql_type(f) for f in fields
    }.items()


# ----------------------------------------------------------------------------- (iii) batches


@pytest.mark.parametrize("threads", [1, 4])
def test_vectors_and_threads_give_the_same_rows(con: Any, threads: int) -> None:
    n = 3 * VECTOR + 123  # several vectors, the last one short
    data = messy(n)
    con.execute(f"SET threads = {threads}")
    rel = table(con, data)
    expected = expected_results(data)
    assert_same_results(results_of(bdd.interpret_relation(rel)), expected)
    bdd.register(con)
    assert_same_results(results_of(con.sql(SCORED_SQL)), expected, extra_null=True)


@pytest.mark.parametrize("parts", [1, 3, 7])
def test_partitions_give_the_same_rows(con: Any, parts: int) -> None:
    data = messy()
    rel = table(con, data)
    whole = results_of(bdd.interpret_relation(rel))
    union = " UNION ALL ".join(
        f"SELECT * FROM patients WHERE id % {parts} = {j}" for j in range(parts)
    )
    assert_same_results(results_of(bdd.interpret_relation(con.sql(union))), whole)
    pieces = [
        bdd.interpret_relation(con.sql(f"SELECT * FROM patients WHERE id % {parts} = {j}"))
        for j in range(parts)
    ]
    got: dict[str, list[Any]] = {name: [None] * len(data["id"]) for name in whole}
    for piece in pieces:
        ids = [row[0] for row in piece.order("id").fetchall()]
        for name, cells in results_of(piece).items():
            for i, cell in zip(ids, cells, strict=True):
                got[name][i] = cell
    assert_same_results(got, whole)


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_arrow_batches_give_the_same_rows(con: Any, batch_size: int) -> None:
    data = messy()
    scored = bdd.interpret_relation(table(con, data))
    reader = scored.order("id").to_arrow_reader(batch_size)
    whole = pa.Table.from_batches(list(reader))
    got = {n: whole.column(n).to_pylist() for n in whole.column_names if n.startswith("b12labs_")}
    assert_same_results(got, expected_results(data))


def test_relation_reads_again(con: Any) -> None:
    scored = bdd.interpret_relation(table(con, messy()))
    first = results_of(scored)
    assert results_of(scored) == first
    assert scored.filter("b12labs_error = ''").aggregate("count(*)").fetchall()[0][0] == sum(
        e == "" for e in first["b12labs_error"]
    )


# ----------------------------------------------------------------------------- (iv) errors


def test_column_error_at_call_time(con: Any) -> None:
    rel = con.sql("SELECT * FROM (VALUES (150.0, 50), (400.0, 60)) t(b12, age)")
    with pytest.raises(ColumnError, match="no unit"):
        bdd.interpret_relation(rel)
    bdd.register(con)  # SQL knows the columns only when the query runs
    with pytest.raises(duckdb.InvalidInputException, match=r"ColumnError: .*no unit"):
        con.sql("SELECT b12labs_interpret(p) FROM (VALUES (150.0, 50)) p(b12, age)").fetchall()


def test_errors_raise(con: Any) -> None:
    rel = con.sql("SELECT * FROM (VALUES ('150 pmol/L'), ('junk pmol/L')) t(b12)")
    scored = bdd.interpret_relation(rel, errors="raise")  # lazy: nothing read yet
    with pytest.raises(B12LabsError) as scalar:
        b12labs.interpret(b12="junk pmol/L")
    with pytest.raises(duckdb.InvalidInputException) as raised:
        scored.fetchall()
    assert f"{type(scalar.value).__name__}: " in str(raised.value)
    assert scalar.value.message in str(raised.value)


def test_refusals(con: Any) -> None:
    bdd.register(con)
    with pytest.raises(duckdb.InvalidInputException, match="takes a row as a STRUCT"):
        con.sql("SELECT b12labs_interpret('150 pmol/L')").fetchall()
    with pytest.raises(duckdb.NotImplementedException):  # DuckDB: one function per name
        bdd.register(con)
    with pytest.raises(ValueError, match="errors must be"):  # now, not when it is read
        bdd.interpret_relation(con.sql("SELECT '1 pmol/L' AS b12"), errors="ignore")
    with pytest.raises(TypeError, match="DuckDB relation"):
        bdd.interpret_relation(pandas_frame(messy(3)))
    with pytest.raises(TypeError, match="DuckDB connection"):
        bdd.register(object())
    with pytest.raises(TypeError, match="mapping"):
        bdd.register(con, name="other", units=[("b12", "pmol/L")])
    with pytest.raises(b12labs.UnknownProfileError):
        bdd.register(con, name="other", profile="no-such-profile")


def test_one_function_per_result_type_and_options(con: Any) -> None:
    rel = table(con, messy(10))
    count = "SELECT count(*) FROM duckdb_functions() WHERE function_name LIKE 'b12labs_relation_%'"
    for _ in range(3):
        bdd.interpret_relation(rel)
    assert con.sql(count).fetchall() == [(1,)]
    bdd.interpret_relation(rel, errors="raise")
    bdd.interpret_relation(rel.select("id", '"Vitamin B12"', '"B12 unit"'))
    assert con.sql(count).fetchall() == [(3,)]


# ----------------------------------------------------------------------------- (v) input


def test_input_is_not_modified(con: Any) -> None:
    data = messy()
    rel = table(con, data)
    before = rel.order("id").fetchall()
    types = rel.types
    scored = bdd.interpret_relation(rel)
    width = len(rel.columns)
    assert [row[:width] for row in scored.order("id").fetchall()] == before
    bdd.register(con)
    con.sql(SCORED_SQL).fetchall()
    assert con.table("patients").order("id").fetchall() == before
    assert con.table("patients").types == types


# ----------------------------------------------------------------------------- install hint


@pytest.mark.parametrize("missing", ["duckdb", "pyarrow"])
def test_import_without_the_extra_says_how_to_install(missing: str) -> None:
    done = import_without(missing, "b12labs.duckdb")
    assert done.returncode == 0, done.stderr
    assert 'pip install "b12labs[duckdb]"' in done.stdout
    assert done.stdout.startswith(missing + " ")


# ----------------------------------------------------------------------------- properties


@settings(max_examples=30)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "<", ">"]),
            st.floats(20, 3000).map(lambda v: round(v, 1)),
            st.sampled_from(["pmol/L", "pg/mL", "ng/L"]),
            st.none() | st.floats(0.05, 5.0).map(lambda v: round(v, 3)),
            st.none() | st.floats(18, 95).map(lambda v: round(v)),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_property_sql_row_equals_scalar(rows: list[tuple[str, float, str, Any, Any]]) -> None:
    """A row scored in SQL is exactly interpret() on that row."""
    con = duckdb.connect()
    try:
        bdd.register(con, units={"mma": "umol/L"})
        values = [(i, f"{c}{v} {u}", m, a) for i, (c, v, u, m, a) in enumerate(rows)]
        con.from_arrow(
            pa.table(
                {
                    "i": [r[0] for r in values],
                    "b12": [r[1] for r in values],
                    "mma": pa.array([r[2] for r in values], pa.float64()),
                    "age": pa.array([r[3] for r in values], pa.float64()),
                }
            )
        ).create("labs")
        got = con.sql(
            "SELECT i, unnest(b12labs_interpret({'b12': b12, 'mma': mma, 'age': age})) FROM labs"
        )
        out = results_of(got, order="i")
    finally:
        con.close()
    for pos, (_, b12, mma, age) in enumerate(values):
        panel = {"b12": b12, "mma": None if mma is None else (mma, "umol/L"), "age": age}
        assert_row_is_scalar(out, pos, panel, fhir=True)
