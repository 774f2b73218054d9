"""Batch interpretation of Arrow data: any table with the Arrow PyCapsule interface.

:func:`interpret_table` takes a pyarrow ``Table``, ``RecordBatch`` or ``RecordBatchReader``,
or any object that exports an Arrow stream or array (``__arrow_c_stream__`` /
``__arrow_c_array__``: polars, DuckDB relations, pandas...) and returns a pyarrow ``Table``
(a ``RecordBatchReader`` in gives a ``RecordBatchReader`` out, scored batch by batch).
:func:`output_schema` gives the exact schema of that output from the input's schema alone:
it is what the polars, DuckDB, Dask and Spark fronts declare.

Columns, units, cells and errors are read exactly as :func:`b12labs.pandas.interpret_frame`
reads them (docs/batch.md): the same table core and the same ``decide()``.

**Row locality.** A row's result depends only on that row, the arguments and the column
names and types, never on which other rows share its table, batch, chunk or partition. A
:class:`~b12labs.ColumnError` depends only on the schema and the arguments; anything found
in the cells is a row error in ``b12labs_error``.

**Output.** The input columns, untouched, then the ``b12labs_*`` result columns with fixed
types, the same in every batch and partition:

* ``b12labs_status``: ``dictionary<int8, string>`` over the four status values, in
  :class:`~b12labs.Status` order (null for a row with an error). Every dictionary field
  carries its categories in its field metadata; :func:`categories` reads them;
* per marker present: ``b12labs_<m>_value`` (``double``, canonical unit),
  ``b12labs_<m>_category`` and ``b12labs_<m>_fhir`` (dictionaries over all the categories
  and HL7 v3 interpretation codes);
* ``b12labs_cb12`` (``double``), ``b12labs_cb12_band`` (dictionary; with holoTC, B12, MMA
  and homocysteine columns), ``b12labs_egfr`` (``double``; with an eGFR or creatinine column);
* ``b12labs_findings``, ``b12labs_next_steps``: ``string``, codes joined by ``;``;
* ``b12labs_error``: ``string``, empty or ``"<reason code>: <message>"``;
* ``b12labs_rules_version``: ``int16``.

Missing numbers are nulls. The schema metadata key ``b12labs`` holds the run's provenance
(JSON: rules_version, profile_id, profile_version, library_version).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Literal

from ._profile import DEFAULT_PROFILE, Profile

try:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._table import ERROR_CODES, Scored, score_table
except ModuleNotFoundError as exc:  # the optional dependency: say how to install it
    if (exc.name or "").partition(".")[0] != "pyarrow":
        raise
    raise ModuleNotFoundError(
        "b12labs.arrow needs pyarrow, which is not installed; install it with: pip install "
        '"b12labs[pandas]"',
        name=exc.name,
    ) from exc

__all__ = ["ERROR_CODES", "categories", "interpret_table", "output_schema"]

#: The Arrow type of every result column whose values are a fixed vocabulary.
_DICTIONARY = pa.dictionary(pa.int8(), pa.string())
#: Result columns whose categories vary with the data: written as plain text.
_TEXT_COLUMNS = ("b12labs_findings", "b12labs_next_steps", "b12labs_error")
_METADATA_KEY = b"b12labs"
#: Field metadata key of a dictionary result column: its categories in order (JSON list).
_CATEGORIES_KEY = b"b12labs_categories"


def interpret_table(
    data: Any,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Literal["collect", "raise"] = "collect",
) -> Any:
    """Interpret every row of Arrow-compatible ``data``; return it with ``b12labs_*`` columns.

    Args:
        data: a pyarrow ``Table``, ``RecordBatch`` or ``RecordBatchReader``, or any object
            with ``__arrow_c_stream__`` or ``__arrow_c_array__`` (a polars DataFrame, a
            DuckDB relation, a pandas DataFrame...). Never modified.
        profile: a shipped profile id or a :class:`~b12labs.Profile`.
        columns: explicit column names, e.g. ``{"b12": "LBXB12", "b12_unit": "B12 unit"}``.
        units: a fixed unit per analyte, e.g. ``{"mma": "nmol/L"}``.
        errors: ``"collect"`` (a reason per bad row, the rest go on) or ``"raise"``.

    Returns:
        A ``pyarrow.Table``: the input columns, then the result columns described in the
        module documentation, with the schema :func:`output_schema` gives. For a
        ``RecordBatchReader``, a ``RecordBatchReader`` that scores each batch as it is read.

    Raises:
        TypeError: ``data`` is not Arrow-compatible; ``columns`` or ``units`` is not a mapping.
        ColumnError: as :func:`b12labs.pandas.interpret_frame` (decided by the schema and
            the arguments alone).
        B12LabsError: with ``errors="raise"``, the first bad row's error (its 0-based row
            number in the message).
    """
    options: dict[str, Any] = {
        "profile": profile,
        "columns": columns,
        "units": units,
        "errors": errors,
    }
    if isinstance(data, pa.RecordBatchReader):
        schema = output_schema(data.schema, profile=profile, columns=columns, units=units)
        return pa.RecordBatchReader.from_batches(schema, _stream(data, schema, options))
    return _score(_as_table(data), 0, options)


def output_schema(
    input_schema: Any,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
) -> pa.Schema:
    """The exact Arrow schema :func:`interpret_table` returns for input of ``input_schema``.

    The input's fields come first, unchanged, then the result fields (see the module
    documentation). Because a row's result never depends on other rows, the schema depends
    only on the input schema and the options: it is what Dask ``meta`` and Spark schemas
    are built from.

    Args:
        input_schema: a ``pyarrow.Schema`` or any object with ``__arrow_c_schema__``.

    Raises:
        ColumnError: the same schema-level errors :func:`interpret_table` raises.
    """
    schema = input_schema if isinstance(input_schema, pa.Schema) else pa.schema(input_schema)
    options = {"profile": profile, "columns": columns, "units": units, "errors": "collect"}
    # zero rows through the one scoring path: exact by construction (row locality)
    return _score(schema.empty_table(), 0, options).schema


def categories(field: pa.Field) -> tuple[str, ...] | None:
    """The fixed categories of a dictionary result field of :func:`output_schema`, in order
    (what a front declares as its enum or categorical type); None for any other field."""
    raw = (field.metadata or {}).get(_CATEGORIES_KEY)
    return None if raw is None else tuple(json.loads(raw))


def _as_table(data: Any) -> pa.Table:
    """Any Arrow-compatible object as a pyarrow Table (zero-copy where the producer allows)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data).read_all()
    if hasattr(data, "__arrow_c_array__"):
        return pa.Table.from_batches([pa.record_batch(data)])
    hint = ""
    kind = type(data).__module__.partition(".")[0]
    if kind == "pandas":
        hint = "; pandas needs pandas>=2.2, or use b12labs.pandas.interpret_frame"
    raise TypeError(
        "interpret_table() takes a pyarrow Table, RecordBatch or RecordBatchReader, or an "
        "object with the Arrow PyCapsule interface (__arrow_c_stream__ or __arrow_c_array__: "
        f"polars, DuckDB, pandas), not {type(data).__name__}{hint}"
    )


def _stream(reader: Any, schema: pa.Schema, options: dict[str, Any]) -> Iterator[Any]:
    offset = 0
    for batch in reader:
        table = _score(pa.Table.from_batches([batch], schema=reader.schema), offset, options)
        offset += batch.num_rows
        yield from table.cast(schema).to_batches()


def _score(table: pa.Table, offset: int, options: dict[str, Any]) -> pa.Table:
    names = list(table.schema.names)
    scored = score_table(
        names,
        lambda label: table.column(names.index(label)),
        table.num_rows,
        row_label=lambda row: offset + row,
        **options,
    )
    return _with_results(table, scored)


def _with_results(table: pa.Table, scored: Scored) -> pa.Table:
    """``table`` with the result columns appended, in their fixed types."""
    arrays = list(table.columns)
    fields = list(table.schema)
    for name, values, vocabulary in scored.columns():
        meta = None
        if vocabulary is None:
            if values.dtype == np.float64:
                array = pa.array(values, type=pa.float64(), from_pandas=True)  # NaN -> null
            else:
                array = pa.array(values, type=pa.int16())
        else:
            indices = pa.array(values, mask=values < 0, type=pa.int32())
            labels = pa.array([str(c) for c in vocabulary], type=pa.string())
            if name in _TEXT_COLUMNS:
                array = pc.take(labels, indices)
            else:
                array = pa.DictionaryArray.from_arrays(indices.cast(pa.int8()), labels)
                # the fixed vocabulary travels with the schema (see categories())
                meta = {_CATEGORIES_KEY: json.dumps(labels.to_pylist()).encode()}
        arrays.append(array)
        fields.append(pa.field(name, array.type, metadata=meta))
    metadata = {**(table.schema.metadata or {})}
    metadata[_METADATA_KEY] = json.dumps(scored.provenance).encode()
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=metadata))
