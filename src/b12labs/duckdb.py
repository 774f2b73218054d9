"""Batch interpretation in DuckDB: from SQL, and on Python relations, through :mod:`b12labs.arrow`.

**From SQL.** :func:`register` adds a scalar function that takes a row as a ``STRUCT`` and
returns the row's results as a ``STRUCT``::

    import duckdb
    import b12labs.duckdb

    con = duckdb.connect()
    b12labs.duckdb.register(con)  # b12labs_interpret(row STRUCT) -> STRUCT(b12labs_status ...)

.. code-block:: sql

    -- every column of the row, then every result field as a column
    SELECT p.*, unnest(b12labs_interpret(p)) FROM patients p;
    -- the same, through a subquery
    SELECT * EXCLUDE (r), r.* FROM (SELECT *, b12labs_interpret(p) AS r FROM patients p);
    -- one field
    SELECT id, b12labs_interpret(p).b12labs_status AS status FROM patients p;
    -- chosen columns, named as b12labs recognises them
    SELECT b12labs_interpret({'b12': lab_value, 'b12_unit': lab_unit, 'age': age}) FROM labs;

In ``FROM patients p``, ``p`` is the whole row as a ``STRUCT`` whose field names are the
column names: the fields are recognised exactly as :func:`b12labs.arrow.interpret_table`
recognises column names (``"MMA (umol/L)"``, ``b12_unit``, ``N2O exposure``...), and
``columns=`` and ``units=`` of :func:`register` apply to them. A NULL argument gives NULL
(the missing side of an outer join is a STRUCT of NULLs, not NULL: insufficient data).

DuckDB 2.0 calls the function on vectors of up to 2,048 rows, in parallel pipelines; row
locality (:mod:`b12labs.arrow`) makes every row's result independent of that cut. What
DuckDB 2.0.1's Python API allows, and what it does not:

* the argument is declared ``ANY`` (a STRUCT of any fields): DuckDB infers ``ANY`` for a
  parameter when no parameter types are given (``ANY`` cannot be written as a type);
* a Python function has no bind step, so its return type is fixed when it is registered,
  before the table is known: the ``STRUCT`` holds every result field b12labs can produce
  (status; value, category and HL7 code of all five markers; ``b12labs_cb12``,
  ``b12labs_cb12_band``, ``b12labs_egfr``; findings, next steps, error, rules version). The
  fields of markers the row has no field for are NULL. :func:`interpret_relation` gives the
  exact columns of :func:`b12labs.arrow.output_schema` instead;
* ``b12labs_interpret(p).*`` and ``(b12labs_interpret(p)).*`` are syntax errors in DuckDB
  2.0.1: expand the struct with ``unnest(...)`` or a subquery's ``r.*``, as above;
* the Python package has no table functions written in Python (``con.table_function``
  only calls the engine's own), so there is no ``FROM b12labs_interpret(patients)``;
* an exception in the function, a :class:`~b12labs.ColumnError` included, reaches the caller
  as ``duckdb.InvalidInputException`` whose message names it (``"... ColumnError: ..."``),
  when the query runs (the columns are not known before).

Dictionary result fields (status, categories, HL7 codes, cB12 band) are ``ENUM`` types over
their fixed categories; values are ``DOUBLE``, findings, next steps and error ``VARCHAR``
(error: empty, or ``"<reason code>: <message>"``), rules version ``SMALLINT``.

**From Python.** :func:`interpret_relation` takes a ``DuckDBPyRelation`` and returns a
relation on the same connection: the input's columns, then the result columns with the
types :func:`b12labs.arrow.output_schema` gives for the relation's Arrow schema. It stays
lazy and can be read any number of times; DuckDB scores the rows vector by vector as it
reads them, in the same pipeline, so memory stays bounded whatever the relation's size.
(Scoring the relation's own Arrow stream batch by batch and reading the result back in the
same connection is refused by DuckDB 2.0: a connection holds one open result, and the
second query fails with ``ResourceInUseException``.)
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Literal

from ._analytes import Analyte
from ._profile import DEFAULT_PROFILE, Profile

try:
    import duckdb
    import duckdb.func
    import pyarrow as pa

    from .arrow import categories, interpret_table, output_schema
except ModuleNotFoundError as exc:  # the optional dependencies: say how to install them
    if (exc.name or "").partition(".")[0] not in ("duckdb", "pyarrow"):
        raise
    raise ModuleNotFoundError(
        f"b12labs.duckdb needs duckdb and pyarrow, and {exc.name} is not installed; install "
        'them with: pip install "b12labs[duckdb]"',
        name=exc.name,
    ) from exc

__all__ = ["interpret_relation", "register"]

Errors = Literal["collect", "raise"]

#: SQL types of the result fields that are not dictionaries (see b12labs.arrow).
_SQL_TYPES = {pa.float64(): "DOUBLE", pa.int16(): "SMALLINT", pa.string(): "VARCHAR"}
#: Names the relation query gives its input and its row: the result prefix, which no input
#: column may carry (a ColumnError), so they never shadow a column.
_INPUT, _ROW = "b12labs_input", "b12labs_row"

# The functions interpret_relation registered, per connection: {key: function name}.
# The entry also holds the options' profile, so that a Profile object's id stays its own.
_REGISTERED: weakref.WeakKeyDictionary[Any, dict[Hashable, tuple[str, object]]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()
_COUNTER = itertools.count()


def register(
    con: duckdb.DuckDBPyConnection,
    *,
    name: str = "b12labs_interpret",
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Make ``name(row)`` available in SQL on ``con``: the row's results as a ``STRUCT``.

    See the module documentation for the SQL. Rows are scored with ``errors="collect"``:
    a bad row keeps its place, with its reason in ``b12labs_error``.

    Args:
        con: the connection (a Python function lives on one connection).
        name: the SQL function's name; DuckDB refuses a name already registered (remove it
            first with ``con.remove_function(name)``).
        profile: a shipped profile id or a :class:`~b12labs.Profile`.
        columns: explicit field names, e.g. ``{"b12": "LBXB12", "b12_unit": "B12 unit"}``.
        units: a fixed unit per analyte, e.g. ``{"mma": "nmol/L"}``.

    Returns:
        ``con``, as ``con.create_function`` returns it.

    Raises:
        TypeError: ``con`` is not a DuckDB connection; ``columns`` or ``units`` is not a
            mapping.
        ProfileError: ``profile`` is not a shipped profile id or a valid profile.
    """
    if not isinstance(con, duckdb.DuckDBPyConnection):
        raise TypeError(
            f"register() takes a DuckDB connection, not {type(con).__module__}."
            f"{type(con).__qualname__}"
        )
    for argument, value in (("columns", columns), ("units", units)):
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"{argument}= must be a mapping, not {type(value).__name__}")
    # every result field there is: the result fields of a row with every marker and eGFR
    every = pa.schema([(key, pa.string()) for key in (*map(str, Analyte), "egfr")])
    fields = list(output_schema(every, profile=profile))[len(every) :]
    options = {"profile": profile, "columns": columns, "units": units, "errors": "collect"}
    _create(con, name, fields, options, _struct_type(con, fields))
    return con


def interpret_relation(
    rel: duckdb.DuckDBPyRelation,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Errors = "collect",
) -> duckdb.DuckDBPyRelation:
    """Interpret every row of a DuckDB relation; return a relation with the result columns.

    Args:
        rel: a relation of any connection. Never modified; its columns are read as
            :func:`b12labs.arrow.interpret_table` reads a table's.
        profile: a shipped profile id or a :class:`~b12labs.Profile`.
        columns: explicit column names, e.g. ``{"b12": "LBXB12", "b12_unit": "B12 unit"}``.
        units: a fixed unit per analyte, e.g. ``{"mma": "nmol/L"}``.
        errors: ``"collect"`` (a reason per bad row, the rest go on) or ``"raise"``.

    Returns:
        A lazy relation on ``rel``'s connection: ``rel``'s columns, then the result columns
        of :func:`b12labs.arrow.output_schema` for ``rel``'s Arrow schema (``ENUM`` for the
        dictionary fields, ``DOUBLE``, ``VARCHAR``, ``SMALLINT``). It scores the rows each
        time it is read.

    Raises:
        TypeError: ``rel`` is not a DuckDB relation; ``columns`` or ``units`` is not a
            mapping.
        ValueError: ``errors`` is not ``"collect"`` or ``"raise"``.
        ColumnError: as :func:`b12labs.pandas.interpret_frame`, raised by this call (it
            depends on the columns alone).
        duckdb.InvalidInputException: with ``errors="raise"``, when the relation is read and
            a row is bad; the message holds the b12labs error, whose row number counts
            within the vector of rows DuckDB passed (use ``errors="collect"`` and filter on
            ``b12labs_error`` to find the rows).

    This runs a zero-row query (for the Arrow schema) and registers one internal function on
    the connection per distinct result type and options (``b12labs_relation_<n>``): the
    connection must not hold an open result.
    """
    if errors not in ("collect", "raise"):  # now, not when the relation is read
        raise ValueError(f"errors must be 'collect' or 'raise', not {errors!r}")
    if not isinstance(rel, duckdb.DuckDBPyRelation):
        raise TypeError(
            "interpret_relation() takes a DuckDB relation, not "
            f"{type(rel).__module__}.{type(rel).__qualname__}; for SQL use "
            "b12labs.duckdb.register(con)"
        )
    con = _connection(rel)
    schema = rel.limit(0).to_arrow_table().schema
    fields = list(output_schema(schema, profile=profile, columns=columns, units=units))
    fields = fields[len(schema) :]
    options = {"profile": profile, "columns": columns, "units": units, "errors": errors}
    function = _relation_function(con, fields, options)
    scored = rel.query(_INPUT, f"SELECT *, unnest({function}({_ROW})) FROM {_INPUT} AS {_ROW}")
    if scored is None:  # pragma: no cover - only a statement that writes gives None
        raise RuntimeError("DuckDB returned no relation for the scoring query")
    return scored


def _connection(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyConnection:
    """The connection a relation runs on (DuckDB 2.0 keeps it as ``_con``: there is no
    public accessor, and the scoring function must be registered on that connection)."""
    con = getattr(rel, "_con", None)
    if not isinstance(con, duckdb.DuckDBPyConnection):  # pragma: no cover - another DuckDB
        raise TypeError(
            "interpret_relation() cannot find the connection of this DuckDB relation (DuckDB "
            f"{duckdb.__version__}); use b12labs.duckdb.register(con) and SQL instead"
        )
    return con


def _relation_function(
    con: duckdb.DuckDBPyConnection, fields: list[Any], options: dict[str, Any]
) -> str:
    """The name of a function on ``con`` returning ``fields`` under ``options``: registered
    once per connection, result type and options, reused by later calls."""
    struct = _struct_type(con, fields)
    profile = options["profile"]
    try:
        key: Hashable = (
            str(struct),
            profile if isinstance(profile, str) else (id(profile), type(profile)),
            *(
                None if options[k] is None else frozenset(dict(options[k]).items())
                for k in ("columns", "units")
            ),
            options["errors"],
        )
        hash(key)
    except TypeError:  # a column label that is not hashable: a function of its own
        key = object()
    with _LOCK:
        known = _REGISTERED.setdefault(con, {})
        if key not in known:
            name = f"b12labs_relation_{next(_COUNTER)}"
            _create(con, name, fields, options, struct)
            known[key] = (name, profile)
        return known[key][0]


def _create(
    con: duckdb.DuckDBPyConnection,
    name: str,
    fields: list[Any],
    options: dict[str, Any],
    struct: Any,
) -> None:
    # no parameter types: DuckDB declares the parameter ANY, so any STRUCT is taken
    con.create_function(name, _scorer(name, fields, options), None, struct, type=duckdb.func.ARROW)


def _scorer(name: str, fields: list[Any], options: dict[str, Any]) -> Callable[[Any], Any]:
    """The vectorised function DuckDB calls: a STRUCT array of rows in, a STRUCT of the
    result ``fields`` out (a field the rows give no result for is NULL)."""
    plain = [pa.field(f.name, f.type) for f in fields]
    names = {f.name for f in fields}

    def score(rows: Any) -> Any:
        if not pa.types.is_struct(rows.type):
            raise TypeError(
                f"{name}() takes a row as a STRUCT, e.g. SELECT {name}(p) FROM patients p, or "
                f"{name}({{'b12': b12_column, 'age': age}}), not {rows.type}"
            )
        table = pa.Table.from_struct_array(rows)
        scored = interpret_table(table, **options)
        produced = {
            scored.field(i).name: scored.column(i)
            for i in range(table.num_columns, scored.num_columns)
        }
        if not produced.keys() <= names:  # pragma: no cover - the declared type is every field
            raise RuntimeError(f"{name}(): undeclared result fields {produced.keys() - names}")
        count = len(rows)
        children = [
            produced[f.name].combine_chunks() if f.name in produced else _nulls(f, count)
            for f in fields
        ]
        return pa.StructArray.from_arrays(children, fields=plain)

    return score


def _nulls(field: Any, count: int) -> Any:
    labels = categories(field)
    if labels is None:
        return pa.nulls(count, field.type)
    return pa.DictionaryArray.from_arrays(pa.nulls(count, field.type.index_type), list(labels))


def _struct_type(con: duckdb.DuckDBPyConnection, fields: list[Any]) -> Any:
    """The DuckDB STRUCT type of result ``fields``: ENUMs for the dictionaries."""
    members = []
    for field in fields:
        labels = categories(field)
        if labels is not None:
            kind = "ENUM(" + ", ".join(_literal(label) for label in labels) + ")"
        else:
            kind = _SQL_TYPES[field.type]
        members.append(f'"{field.name}" {kind}')
    return con.sqltype(f"STRUCT({', '.join(members)})")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
