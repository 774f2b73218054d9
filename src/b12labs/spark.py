"""Batch interpretation of Spark DataFrames: Arrow batches scored by ``interpret_table``.

:func:`interpret_sdf` returns a lazy Spark DataFrame: the input's columns, untouched, then
the ``b12labs_*`` result columns::

    import b12labs.spark

    scored = b12labs.spark.interpret_sdf(sdf, profile="nice-ng239", units={"mma": "nmol/L"})
    scored.groupBy("b12labs_status").count().show()

* **One core.** Each Arrow batch Spark hands to Python (``DataFrame.mapInArrow``) is scored
  by :func:`b12labs.interpret_table`, so a row gets exactly what
  :func:`b12labs.pandas.interpret_frame` gives it, however Spark partitions and batches the
  data (row locality, see :mod:`b12labs.arrow`).
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
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any, Literal

from ._profile import DEFAULT_PROFILE, Profile

try:
    import pyarrow as pa
    from pyspark.sql import DataFrame
    from pyspark.sql.pandas.types import from_arrow_type, to_arrow_schema
    from pyspark.sql.types import StructField, StructType

    from .arrow import categories, interpret_table, output_schema
except ModuleNotFoundError as exc:  # the optional dependencies: say how to install them
    if (exc.name or "").partition(".")[0] not in ("pyspark", "pyarrow", "pandas", "py4j"):
        raise
    raise ModuleNotFoundError(
        f"b12labs.spark needs pyspark, pandas and pyarrow, and {exc.name} is not installed; "
        'install them with: pip install "b12labs[spark]"',
        name=exc.name,
    ) from exc

__all__ = ["interpret_sdf"]

#: Field metadata key of a categorical result column in the Spark schema: its categories.
_CATEGORIES_KEY = "b12labs_categories"
_LARGE_VAR_TYPES = "spark.sql.execution.arrow.useLargeVarTypes"
_TO_ARROW_KEYWORDS = inspect.signature(to_arrow_schema).parameters


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
    results = [_spark_field(field) for field in list(arrow_out)[len(arrow_in) :]]
    names = list(sdf.columns)
    # Spark passes columns to mapInArrow by name, which fails on duplicate names, names
    # equal but for case and names with dots: by position instead, named back afterwards.
    inner = [f"c{i}" for i in range(len(names) + len(results))]
    schema = StructType(
        [
            StructField(name, field.dataType, field.nullable, field.metadata)
            for name, field in zip(inner, [*sdf.schema.fields, *results], strict=True)
        ]
    )
    score = functools.partial(
        _score_batches,
        names=tuple(names),
        inner=tuple(inner),
        text=pa.large_string() if large else pa.string(),
        options={"profile": profile, "columns": columns, "units": units, "errors": errors},
    )
    scored = sdf.toDF(*inner[: len(names)]).mapInArrow(score, schema)
    return scored.toDF(*names, *(field.name for field in results))


def _arrow_schema(schema: StructType, timezone: str | None, large: bool) -> pa.Schema:
    """The Arrow schema of the batches ``mapInArrow`` hands Python for ``schema`` (the JVM
    converts alike): strings large or not as the session says, timestamps in its zone."""
    if "prefers_large_types" in _TO_ARROW_KEYWORDS:  # pyspark 4
        return to_arrow_schema(schema, timezone=timezone, prefers_large_types=large)
    # pyspark 3.5 has neither keyword; only names and kinds (booleans, numbers, text)
    # matter to output_schema(), so its plain conversion gives the same result fields
    return to_arrow_schema(schema)


def _spark_field(field: pa.Field) -> StructField:
    """A result field of :func:`~b12labs.output_schema` as a Spark field (a dictionary as
    ``StringType``, its categories in the metadata)."""
    fixed = categories(field)
    kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    metadata = None if fixed is None else {_CATEGORIES_KEY: list(fixed)}
    return StructField(field.name, from_arrow_type(kind), True, metadata)


def _score_batches(
    batches: Iterable[pa.RecordBatch],
    *,
    names: tuple[str, ...],
    inner: tuple[str, ...],
    text: pa.DataType,
    options: dict[str, Any],
) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function, run on the executors: one partition's batches, named
    back to the input's column names, scored by :func:`interpret_table`; the input columns
    as they came, the dictionary and text results as ``text``, named for Spark."""
    stream = iter(batches)
    first = next(stream, None)
    if first is None:  # an empty partition
        return
    schema = pa.schema(
        [field.with_name(name) for field, name in zip(first.schema, names, strict=True)]
    )
    named = (
        pa.RecordBatch.from_arrays(batch.columns, schema=schema)
        for batch in itertools.chain([first], stream)
    )
    # a reader in, a reader out: scored batch by batch, row numbers counted across batches
    reader = interpret_table(pa.RecordBatchReader.from_batches(schema, named), **options)
    for batch in reader:
        arrays = [
            column if i < len(names) else _as_text(column, text)
            for i, column in enumerate(batch.columns)
        ]
        yield pa.RecordBatch.from_arrays(arrays, names=list(inner))


def _as_text(column: pa.Array, text: pa.DataType) -> pa.Array:
    """A dictionary or text result column as ``text`` (Spark reads no dictionaries); any
    other column as it is."""
    kind = column.type
    if pa.types.is_dictionary(kind) or (
        (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and kind != text
    ):
        return column.cast(text)
    return column
