"""Batch interpretation of Spark DataFrames: Arrow batches scored by ``interpret_table``.

:func:`interpret_sdf` returns a lazy Spark DataFrame: the input's columns, untouched, then
the ``b12labs_*`` result columns::

    import b12labs.spark

    scored = b12labs.spark.interpret_sdf(sdf, profile="nice-ng239", units={"mma": "nmol/L"})
    scored.groupBy("b12labs_status").count().show()

* **One core.** Each partition's Arrow batches (``DataFrame.mapInArrow``) are scored by
  :func:`b12labs.interpret_table`, so a row gets exactly what
  :func:`b12labs.pandas.interpret_frame` gives it, however Spark partitions and batches the
  data (row locality, see :mod:`b12labs.arrow`).
* **Data path.** Only the columns b12labs reads (found from the schema when
  :func:`interpret_sdf` is called) are scored, consecutive Arrow batches of a partition
  together, 50,000 rows at least per call (a call has a fixed cost; Spark's batches are
  ``spark.sql.execution.arrow.maxRecordsPerBatch`` rows, 10,000 by default, and that setting
  need not change). Every batch goes back to Spark as it came, its results appended; the
  categorical results travel as one-byte codes that Spark itself turns into their strings
  (a lookup in the fixed categories), so Python never builds those strings. Columns pass
  through Arrow unchanged, whatever their type (timestamps, decimals, arrays, maps,
  structs...); a type Arrow cannot carry (year-month or calendar intervals) is refused when
  :func:`interpret_sdf` is called.
* **Schema.** Derived from :func:`b12labs.output_schema` of the input's Spark schema
  converted to Arrow, when :func:`interpret_sdf` is called; nobody writes a schema by hand.
  The categorical results (``b12labs_status``, the ``_category``, ``_fhir`` and
  ``cb12_band`` columns) are ``StringType`` (Spark has no dictionary type): their fixed
  categories, in order, are in the field metadata under ``"b12labs_categories"``. Numbers
  are ``DoubleType``, findings, next steps and error ``StringType``,
  ``b12labs_rules_version`` ``ShortType``.
* **Column names** are recognised as :func:`~b12labs.interpret_table` recognises Arrow
  field names: by name, ignoring case, spaces, underscores, hyphens and a unit in brackets,
  and ``columns=`` names them exactly. Names Spark itself cannot pass to Python by name
  (duplicates, names differing only in case, names with dots) are carried by position, so
  they do not stop a run unless b12labs has to read them: a name that two columns share is
  a :class:`~b12labs.ColumnError` when it is read, as in any table.
* **Errors.** A :class:`~b12labs.ColumnError` depends only on the schema and the
  arguments, so it is raised when :func:`interpret_sdf` is called, never on the executors.
  Anything found in the cells is that row's ``b12labs_error``. With ``errors="raise"`` the
  first bad row stops the Spark job; its row number counts from the start of its Spark
  partition.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections import deque
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any, Literal

from ._profile import DEFAULT_PROFILE, Profile

try:
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.functions import array, col, lit
    from pyspark.sql.pandas.types import from_arrow_type, to_arrow_schema
    from pyspark.sql.types import ByteType, StringType, StructField, StructType

    from ._exceptions import ColumnError
    from ._table import _resolve_columns
    from .arrow import _CATEGORIES_KEY, categories, interpret_table, output_schema
except ModuleNotFoundError as exc:  # the optional dependencies: say how to install them
    if (exc.name or "").partition(".")[0] not in ("pyspark", "pyarrow", "pandas", "py4j"):
        raise
    raise ModuleNotFoundError(
        f"b12labs.spark needs pyspark, pandas and pyarrow, and {exc.name} is not installed; "
        'install them with: pip install "b12labs[spark]"',
        name=exc.name,
    ) from exc

__all__ = ["interpret_sdf"]

#: Field metadata key of a categorical result column in the Spark schema: its categories
#: (the key of the Arrow field metadata).
_METADATA_KEY = _CATEGORIES_KEY.decode()
_LARGE_VAR_TYPES = "spark.sql.execution.arrow.useLargeVarTypes"
_TO_ARROW_KEYWORDS = inspect.signature(to_arrow_schema).parameters
#: Rows scored per :func:`interpret_table` call at least (consecutive Arrow batches of a
#: partition together): a call has a fixed cost, and Spark's batches are 10,000 rows.
_GROUP_ROWS = 50_000


def interpret_sdf(
    sdf: DataFrame,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Literal["collect", "raise"] = "collect",
) -> DataFrame:
    """Interpret every row of ``sdf`` lazily; return it with ``b12labs_*`` result columns.

    Args:
        sdf: a Spark DataFrame, one row per patient panel. Never modified.
        profile: a shipped profile id or a :class:`~b12labs.Profile` (it is pickled with the
            task and travels to the executors: every ``Profile`` pickles).
        columns: explicit column names, e.g. ``{"b12": "LBXB12", "b12_unit": "B12 unit"}``.
        units: a fixed unit per analyte, e.g. ``{"mma": "nmol/L"}``.
        errors: ``"collect"`` (a reason per bad row, the rest go on) or ``"raise"``.

    Returns:
        A Spark DataFrame: ``sdf``'s columns (names, types and order unchanged), then the
        result columns of :func:`b12labs.interpret_table` in the Spark types described in
        the module documentation. Nothing runs until an action (``count``, ``write``...).

    Raises:
        TypeError: ``sdf`` is not a Spark DataFrame; ``columns`` or ``units`` is not a
            mapping.
        ColumnError: as :func:`b12labs.pandas.interpret_frame`, at once (decided by the
            schema and the arguments alone).
        ValueError: ``errors`` is neither ``"collect"`` nor ``"raise"``.
    """
    if not (hasattr(sdf, "mapInArrow") and hasattr(sdf, "sparkSession")):  # classic, Connect
        raise TypeError(
            f"interpret_sdf() takes a pyspark.sql.DataFrame, not {type(sdf).__module__}."
            f"{type(sdf).__qualname__}; for pandas use b12labs.interpret_frame(df), for "
            "Arrow data b12labs.interpret_table(data)"
        )
    if errors not in ("collect", "raise"):
        raise ValueError(f"errors must be 'collect' or 'raise', not {errors!r}")
    conf = sdf.sparkSession.conf
    large = (conf.get(_LARGE_VAR_TYPES, "false") or "").lower() == "true"
    arrow_in = _arrow_schema(sdf.schema, conf.get("spark.sql.session.timeZone"), large)
    arrow_out = output_schema(arrow_in, profile=profile, columns=columns, units=units)
    results = list(arrow_out)[len(arrow_in) :]
    fixed = tuple(categories(field) for field in results)
    names = list(sdf.columns)
    read = _read_positions(names, columns)
    # Spark passes columns to mapInArrow by name, which fails on duplicate names, names
    # equal but for case and names with dots: by position instead, named back afterwards.
    inner = [f"c{i}" for i in range(len(names))]
    coded = [f"r{i}" for i in range(len(results))]
    # the categorical results travel as int8 codes, looked up in their categories by Spark
    wire = [
        ByteType() if labels is not None else from_arrow_type(field.type)
        for field, labels in zip(results, fixed, strict=True)
    ]
    schema = StructType(
        [
            *(
                StructField(name, field.dataType, field.nullable, field.metadata)
                for name, field in zip(inner, sdf.schema.fields, strict=True)
            ),
            *(StructField(name, kind, True) for name, kind in zip(coded, wire, strict=True)),
        ]
    )
    score = functools.partial(
        _score_batches,
        read=read,
        labels=tuple(names[i] for i in read),
        names=(*inner, *coded),
        fixed=fixed,
        text=pa.large_string() if large else pa.string(),
        group_rows=_GROUP_ROWS,
        options={"profile": profile, "columns": columns, "units": units, "errors": errors},
    )
    # mapInArrow sends every column through Python and back; an Arrow UDF (pyspark 4.1+)
    # would keep the unread ones in the JVM, but costs Spark more CPU per row (its row queue
    # and struct result), even with 20 unread columns: measured, benchmarks/bench_spark.py
    scored = sdf.toDF(*inner).mapInArrow(score, schema)
    return scored.select(
        *(col(name).alias(original) for name, original in zip(inner, names, strict=True)),
        *(
            _decoded(col(name), field.name, labels)
            for name, field, labels in zip(coded, results, fixed, strict=True)
        ),
    )


def _read_positions(names: list[str], columns: Mapping[str, Hashable] | None) -> tuple[int, ...]:
    """The positions of the columns b12labs reads (values and unit columns), in order.

    Scoring only those gives every row the results the whole row gives it: they are found
    under the same keys and labels. Checked here: should the columns found among them differ
    from those found among all names, all are scored.
    """
    found = _resolve_columns(names, columns)
    wanted = {*found.value.values(), *found.unit_column.values()}
    positions = tuple(i for i, name in enumerate(names) if name in wanted)
    try:
        same = _resolve_columns([names[i] for i in positions], columns) == found
    except ColumnError:
        same = False
    return positions if same else tuple(range(len(names)))


def _arrow_schema(schema: StructType, timezone: str | None, large: bool) -> pa.Schema:
    """The Arrow schema of the batches ``mapInArrow`` hands Python for ``schema`` (the JVM
    converts alike): strings large or not as the session says, timestamps in its zone."""
    if "prefers_large_types" in _TO_ARROW_KEYWORDS:  # pyspark 4
        return to_arrow_schema(schema, timezone=timezone, prefers_large_types=large)
    # pyspark 3.5 has neither keyword; only names and kinds (booleans, numbers, text)
    # matter to output_schema(), so its plain conversion gives the same result fields
    return to_arrow_schema(schema)


def _decoded(codes: Column, name: str, labels: tuple[str, ...] | None) -> Column:
    """A result column named ``name``: a categorical one's codes looked up in its categories
    (null for a null code) as ``StringType``, its categories in the field metadata."""
    if labels is None:
        return codes.alias(name)
    # the trailing null makes the lookup nullable, as Spark must know: a null code gives null
    vocabulary = array(*(lit(label) for label in labels), lit(None).cast(StringType()))
    return vocabulary[codes].alias(name, metadata={_METADATA_KEY: list(labels)})


def _score_batches(
    batches: Iterable[pa.RecordBatch],
    *,
    read: tuple[int, ...],
    labels: tuple[str, ...],
    names: tuple[str, ...],
    fixed: tuple[tuple[str, ...] | None, ...],
    text: pa.DataType,
    group_rows: int,
    options: dict[str, Any],
) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function, run on the executors: one partition's batches.

    The columns b12labs reads (``read``, named back to ``labels``) of consecutive batches,
    ``group_rows`` rows at least, are scored together by :func:`interpret_table`; each input
    batch goes back as it came with its rows' results: the categorical ones as their codes
    (``int8``), text as ``text``; the columns named ``names`` for Spark.
    """
    stream = iter(batches)
    first = next(stream, None)
    if first is None:  # an empty partition
        return
    schema = pa.schema(
        [first.schema.field(i).with_name(label) for i, label in zip(read, labels, strict=True)]
    )
    dictionaries = [None if c is None else pa.array(c, pa.string()) for c in fixed]
    waiting: deque[pa.RecordBatch] = deque()  # input batches whose results are not yet out

    def groups() -> Iterator[pa.RecordBatch]:
        for group in _groups(itertools.chain([first], stream), group_rows):
            waiting.extend(group)
            arrays = [
                pa.concat_arrays([batch.column(i) for batch in group])
                if len(group) > 1
                else group[0].column(i)
                for i in read
            ]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    # a reader in, a reader out: scored group by group, row numbers counted across them
    reader = interpret_table(pa.RecordBatchReader.from_batches(schema, groups()), **options)
    for scored in reader:
        results = [
            _wire(column, dictionary, text)
            for column, dictionary in zip(scored.columns[len(read) :], dictionaries, strict=True)
        ]
        start = 0
        while start < scored.num_rows:  # the input batches of these rows, in order
            rows = min(waiting[0].num_rows, scored.num_rows - start)
            batch = waiting.popleft()
            if rows < batch.num_rows:  # never with interpret_table's batches; kept general
                waiting.appendleft(batch.slice(rows))
                batch = batch.slice(0, rows)
            arrays = [*batch.columns, *(result.slice(start, rows) for result in results)]
            yield pa.RecordBatch.from_arrays(arrays, names=list(names))
            start += rows


def _groups(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[list[pa.RecordBatch]]:
    """Consecutive batches in lists of ``rows`` rows at least (the last one may have fewer)."""
    group: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        group.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield group
            group, count = [], 0
    if group:
        yield group


def _wire(column: pa.Array, dictionary: pa.Array | None, text: pa.DataType) -> pa.Array:
    """A result column as it goes back to Spark: a categorical one as its ``int8`` codes into
    ``dictionary`` (its fixed categories), text as ``text``, numbers as they are."""
    if dictionary is not None:
        if column.dictionary.equals(dictionary):  # always: interpret_table's fixed categories
            return column.indices
        positions = pc.index_in(column.dictionary, value_set=dictionary)
        return pc.take(positions, column.indices).cast(pa.int8())
    if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) and (
        column.type != text
    ):
        return column.cast(text)
    return column
