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
(JSON: rules_version, profile_id, profile_version, library_version, schema_version).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any, Literal

from ._arrow_numpy import arrow_of, strings
from ._profile import DEFAULT_PROFILE, Profile

try:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._table import ERROR_CODES, Scored, crashes_pyarrow, score_table
except ModuleNotFoundError as exc:  # the optional dependency: say how to install it
    if (exc.name or "").partition(".")[0] != "pyarrow":
        raise
    raise ModuleNotFoundError(
        "b12labs.arrow needs pyarrow, which is not installed; install it with: pip install "
        '"b12labs[arrow]"',
        name=exc.name,
    ) from exc

__all__ = [
    "ERROR_CODES",
    "categories",
    "interpret_series_table",
    "interpret_table",
    "output_schema",
]

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
            ``pyarrow.ArrowTypeError`` (a ``TypeError``) when a pandas column cannot be
            converted to Arrow, as pandas' export raises it; a column of numpy datetime64
            cells among other numpy scalars, on which pyarrow 26 would end the process, is
            refused the same way.
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


def _interpret_with_views(data: Any, options: dict[str, Any]) -> pa.Table:
    """:func:`interpret_table` (``options``: its keyword arguments, all four) with the text
    results as ``string_view`` arrays (for polars, whose strings are views: they then cross
    without a copy of every row's text)."""
    return _score(_as_table(data), 0, options, views=True)


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
        if type(data).__module__.partition(".")[0] == "pandas":
            _refuse_crashing_columns(data)
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


def _refuse_crashing_columns(data: Any) -> None:
    """A pandas DataFrame's (or Series') export goes through pyarrow's type inference, which
    in pyarrow 26 ends the process on some object cells (see ``_table.crashes_pyarrow``).
    Such a column is refused before the export with the error pyarrow raises for the columns
    it cannot convert (an input that is not Arrow data, not a b12labs ColumnError: those
    depend only on the schema). ``interpret_frame`` reads those cells one by one instead."""
    columns = data.items() if hasattr(data, "columns") else [(data.name, data)]
    for label, column in columns:
        if crashes_pyarrow(column.array):
            raise pa.ArrowTypeError(
                f"Conversion failed for column {label!r} with type {column.dtype}: numpy "
                "datetime64 cells among other numpy scalars (pyarrow would end the process on "
                "them); convert the column to text or to datetimes first, or use "
                "b12labs.pandas.interpret_frame"
            )


def _stream(reader: Any, schema: pa.Schema, options: dict[str, Any]) -> Iterator[Any]:
    offset = 0
    for batch in reader:
        table = _score(pa.Table.from_batches([batch], schema=reader.schema), offset, options)
        offset += batch.num_rows
        yield from table.cast(schema).to_batches()


def _score(
    table: pa.Table, offset: int, options: dict[str, Any], *, views: bool = False
) -> pa.Table:
    scored = score_table(*_core_table(table), row_label=lambda row: offset + row, **options)
    return _with_results(table, scored, views)


def _core_table(table: pa.Table) -> tuple[list[str], Callable[[Hashable], Any], int]:
    """``table`` as the table cores read it: its column names, a getter of one column by
    name, and its number of rows (the first arguments of ``score_table`` and
    ``score_series``)."""
    names = list(table.schema.names)
    return names, lambda label: table.column(names.index(label)), table.num_rows


@functools.lru_cache(maxsize=64)
def _vocabulary(labels: tuple[str, ...]) -> tuple[pa.Array, dict[bytes, bytes]]:
    """The Arrow dictionary of a fixed vocabulary, and its field metadata (built once)."""
    return strings(labels), {_CATEGORIES_KEY: json.dumps(labels).encode()}


def _text(values: Any, missing: Any, labels: pa.Array, views: bool = False) -> pa.Array:
    """Codes into ``labels`` as a plain string array (null where the code is -1)."""
    if views:
        table, data = _view_table(tuple(labels.to_pylist()))
        # Arrow validity is 1 for a value: the missing mask inverted, bit-packed
        validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
        rows = table[np.where(missing, 0, values)]
        buffers = [validity, pa.py_buffer(rows), pa.py_buffer(data)]
        return pa.Array.from_buffers(pa.string_view(), len(values), buffers)
    if labels[0].as_py() == "" and not values.any():
        # the usual error column: every row empty; the offsets alone make the array
        offsets = np.zeros(len(values) + 1, dtype=np.int32)
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"")]
        return pa.Array.from_buffers(pa.string(), len(values), buffers)
    return pc.take(labels, arrow_of(values, mask=missing))


@functools.lru_cache(maxsize=64)
def _view_table(labels: tuple[str, ...]) -> tuple[Any, bytes]:
    """The 16-byte Arrow string-view struct of each label, and the data buffer they point to.

    A view holds the length (int32), then the text itself when it has at most 12 bytes, else
    its first 4 bytes, the data buffer's index (0) and the text's offset in it (Arrow
    columnar format, "Variable-size Binary View Layout"). Rows then take their label's view:
    16 bytes per row, whatever the text's length.
    """
    encoded = [label.encode() for label in labels]
    table = np.zeros((len(encoded), 16), dtype=np.uint8)
    offset = 0
    for row, text in enumerate(encoded):
        table[row, 0:4] = np.frombuffer(np.array(len(text), "<i4").tobytes(), np.uint8)
        if len(text) <= 12:
            table[row, 4 : 4 + len(text)] = np.frombuffer(text, np.uint8)
        else:
            table[row, 4:8] = np.frombuffer(text[:4], np.uint8)
            table[row, 12:16] = np.frombuffer(np.array(offset, "<i4").tobytes(), np.uint8)
        offset += len(text)
    return table, b"".join(encoded)


def _doubles(values: Any) -> pa.Array:
    """Float results as a ``double`` array (NaN -> null)."""
    values = np.asarray(values, dtype=np.float64)
    return arrow_of(values, mask=np.isnan(values))


def _coded(
    codes: Any, labels: tuple[str, ...], text: bool, views: bool = False
) -> tuple[pa.Array, dict[bytes, bytes] | None]:
    """Codes into ``labels`` (-1 missing) as a result array and its field metadata: plain
    text (no metadata) when ``text``, else a dictionary array whose metadata holds the
    categories."""
    dictionary, meta = _vocabulary(labels)
    missing = codes < 0
    if text:
        return _text(codes, missing, dictionary, views), None
    # codes are in range by construction: no validation pass over the rows
    indices = arrow_of(codes.astype(np.int8, copy=False), mask=missing)
    return pa.DictionaryArray.from_arrays(indices, dictionary, safe=False), meta


def _with_results(table: pa.Table, scored: Scored, views: bool = False) -> pa.Table:
    """``table`` with the result columns appended, in their fixed types."""
    arrays = list(table.columns)
    fields = list(table.schema)
    for name, values, vocabulary in scored.columns():
        meta = None
        if vocabulary is None:
            if values.dtype == np.float64:
                array = _doubles(values)
            else:
                array = arrow_of(np.asarray(values, dtype=np.int16))
        else:
            labels = tuple(str(c) for c in vocabulary)
            array, meta = _coded(values, labels, name in _TEXT_COLUMNS, views)
        arrays.append(array)
        fields.append(pa.field(name, array.type, metadata=meta))
    metadata = {**(table.schema.metadata or {})}
    metadata[_METADATA_KEY] = json.dumps(scored.provenance).encode()
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=metadata))


def interpret_series_table(
    data: Any,
    *,
    patient: Hashable | None,
    date: Hashable | None = None,
    profile: str | Profile = DEFAULT_PROFILE,
    treatment_started: Any = None,
    treatment_route: Any = None,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Literal["collect", "raise"] = "collect",
) -> pa.Table:
    """Interpret Arrow data of results over time (one row per patient and date) as series.

    The Arrow form of :func:`b12labs.pandas.interpret_series_frame`, over the same core: the
    arguments, the series rules and the result columns are the same (docs/series.md). The
    input columns come first, untouched, then the result columns of :func:`interpret_table`,
    then ``b12labs_series_on_treatment`` (``bool``), per marker ``b12labs_<m>_change_pct``
    (``double``), ``b12labs_<m>_change_direction`` and ``b12labs_<m>_change_verdict``
    (dictionaries, categories in their field metadata), ``b12labs_<m>_change_significant``
    (``bool``), and ``b12labs_series_findings`` (``string``, codes joined by ``;``).

    **Grouping.** Unlike :func:`interpret_table`, a row's result depends on the other rows of
    its patient: the whole table is one unit (a ``RecordBatchReader`` is read whole). An
    engine front must hand over all of a patient's rows together: partition by patient, for
    example Spark ``groupBy(patient).applyInArrow`` or a Dask frame shuffled on the patient.

    Args:
        data: a pyarrow ``Table``, ``RecordBatch`` or ``RecordBatchReader``, or any object
            with ``__arrow_c_stream__`` or ``__arrow_c_array__``. Never modified.
        patient: the column of patient ids (``None``: one patient), as for
            :func:`b12labs.pandas.interpret_series_frame`, like every argument below.
        date: the column of collection dates.
        profile: a shipped profile id or a :class:`~b12labs.Profile`.
        treatment_started: the date B12 treatment started (a column, a mapping or a date).
        treatment_route: ``"oral"`` or ``"injection"``, given like ``treatment_started``.
        columns: explicit column names.
        units: a fixed unit per analyte.
        errors: ``"collect"`` or ``"raise"``.

    Raises:
        TypeError: ``data`` is not Arrow-compatible.
        ColumnError, B12LabsError: as :func:`b12labs.pandas.interpret_series_frame`.
    """
    from ._series_table import score_series

    table = data.read_all() if isinstance(data, pa.RecordBatchReader) else _as_table(data)
    scored = score_series(
        *_core_table(table),
        patient=patient,
        date=date,
        profile=profile,
        treatment_started=treatment_started,
        treatment_route=treatment_route,
        columns=columns,
        units=units,
        errors=errors,
    )
    out = _with_results(table, scored)
    for column in scored.series:
        meta = None
        if column.kind == "float":
            array = _doubles(column.values)
        elif column.kind == "bool":
            array = pa.array(column.values, type=pa.bool_(), mask=column.missing)
        else:
            assert column.categories is not None
            array, meta = _coded(column.values, column.categories, column.kind == "text")
        out = out.append_column(pa.field(column.name, array.type, metadata=meta), array)
    return out
