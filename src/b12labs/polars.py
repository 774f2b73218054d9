"""Batch interpretation of polars DataFrames and LazyFrames, through :mod:`b12labs.arrow`.

Importing this module registers the ``b12labs`` namespace on polars ``DataFrame`` and
``LazyFrame``::

    import b12labs.polars  # noqa: F401  (registers the namespace)
    scored = df.b12labs.interpret(profile="nice-ng239")          # DataFrame -> DataFrame
    lazy = lf.b12labs.interpret(profile="nice-ng239")            # LazyFrame -> LazyFrame
    lazy.collect(engine="streaming")

or call :func:`interpret`, which takes either. Every row is scored by
:func:`b12labs.arrow.interpret_table`, so columns, units, cells and errors are read exactly
as :func:`b12labs.pandas.interpret_frame` reads them (docs/batch.md), and every row without
an error is exactly ``b12labs.interpret()`` on that row.

**Output.** The input's columns, untouched (same names, types and values), then the
``b12labs_*`` result columns of :func:`b12labs.arrow.output_schema`, with fixed polars types,
the same in every batch:

* ``b12labs_status``, ``b12labs_<m>_category``, ``b12labs_<m>_fhir``, ``b12labs_cb12_band``:
  ``pl.Enum`` over the field's fixed categories (:func:`b12labs.arrow.categories`), so that
  batches and partitions concatenate without a cast;
* ``b12labs_<m>_value``, ``b12labs_cb12``, ``b12labs_egfr``: ``pl.Float64`` (null when
  missing);
* ``b12labs_findings``, ``b12labs_next_steps``, ``b12labs_error``: ``pl.String``;
* ``b12labs_rules_version``: ``pl.Int16``.

**LazyFrame.** The result stays lazy: scoring is a ``map_batches`` node whose output schema
is declared up front from the LazyFrame's schema, and it is streamable, because a row's
result depends only on that row (:mod:`b12labs.arrow`, "Row locality"). A
:class:`~b12labs.ColumnError` is decided by the schema alone, so it is raised when
``.interpret()`` is called, not when the frame is collected. The node lets polars push no
projection, filter or slice through it: every column is read as the input names it. With
``errors="raise"`` the node is not streamable: polars scores the whole frame at once, so
that the row number in the error message counts from the frame's first row. A
``DataFrame`` goes through the same node, collected at once: polars may cut it into batches
and score them on its threads, so the result may hold several chunks.

The provenance of a run (rules, profile, library and schema versions) is the
``b12labs`` schema metadata of :func:`b12labs.arrow.interpret_table`'s output; polars frames
carry no metadata, so read it from :func:`b12labs.arrow.output_schema` when you need it.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from typing import Any, Literal, overload

from ._profile import DEFAULT_PROFILE, Profile

try:
    import polars as pl
    import pyarrow as pa

    from .arrow import _interpret_with_views, categories, output_schema  # needs pyarrow
except ModuleNotFoundError as exc:  # the optional dependencies: say how to install them
    if (exc.name or "").partition(".")[0] not in ("polars", "pyarrow"):
        raise
    raise ModuleNotFoundError(
        f"b12labs.polars needs polars and pyarrow, and {exc.name} is not installed; install "
        'them with: pip install "b12labs[polars]"',
        name=exc.name,
    ) from exc

__all__ = ["B12LabsFrame", "B12LabsLazyFrame", "interpret"]

Errors = Literal["collect", "raise"]


@overload
def interpret(
    frame: pl.DataFrame,
    *,
    profile: str | Profile = ...,
    columns: Mapping[str, Hashable] | None = ...,
    units: Mapping[str, str] | None = ...,
    errors: Errors = ...,
) -> pl.DataFrame: ...


@overload
def interpret(
    frame: pl.LazyFrame,
    *,
    profile: str | Profile = ...,
    columns: Mapping[str, Hashable] | None = ...,
    units: Mapping[str, str] | None = ...,
    errors: Errors = ...,
) -> pl.LazyFrame: ...


def interpret(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Errors = "collect",
) -> pl.DataFrame | pl.LazyFrame:
    """Interpret every row of a polars ``DataFrame`` or ``LazyFrame``.

    Args:
        frame: one row per patient panel. Never modified.
        profile: a shipped profile id or a :class:`~b12labs.Profile`.
        columns: explicit column names, e.g. ``{"b12": "LBXB12", "b12_unit": "B12 unit"}``.
        units: a fixed unit per analyte, e.g. ``{"mma": "nmol/L"}``.
        errors: ``"collect"`` (a reason per bad row, the rest go on) or ``"raise"``.

    Returns:
        For a ``DataFrame``, a new ``DataFrame``: ``frame``'s columns, then the result
        columns described in the module documentation. For a ``LazyFrame``, a ``LazyFrame``
        with that schema, which scores the rows batch by batch when it is collected (also by
        the streaming engine).

    Raises:
        TypeError: ``frame`` is not a polars ``DataFrame`` or ``LazyFrame``; ``columns`` or
            ``units`` is not a mapping.
        ValueError: ``errors`` is not ``"collect"`` or ``"raise"``.
        ColumnError: as :func:`b12labs.pandas.interpret_frame`; decided by the schema, so
            raised by this call for a ``LazyFrame`` too.
        B12LabsError: with ``errors="raise"``, the first bad row's error (its 0-based row
            number in the message); for a ``LazyFrame``, when it is collected.
    """
    if errors not in ("collect", "raise"):  # now, not when a LazyFrame is collected
        raise ValueError(f"errors must be 'collect' or 'raise', not {errors!r}")
    options: dict[str, Any] = {
        "profile": profile,
        "columns": columns,
        "units": units,
        "errors": errors,
    }
    if isinstance(frame, pl.DataFrame):
        # The same node, collected: polars hands it the rows in batches, scored in parallel
        # (exact by row locality), or at once under errors="raise".
        return _interpret_lazy(frame.lazy(), options).collect()
    if isinstance(frame, pl.LazyFrame):
        return _interpret_lazy(frame, options)
    raise TypeError(
        "b12labs.polars.interpret() takes a polars DataFrame or LazyFrame, not "
        f"{type(frame).__module__}.{type(frame).__qualname__}; for other Arrow data use "
        "b12labs.interpret_table, for pandas b12labs.interpret_frame"
    )


def _score_batch(frame: pl.DataFrame, options: dict[str, Any]) -> pl.DataFrame:
    """One batch scored: its columns, untouched, then the result columns."""
    # The frame goes to Arrow through the PyCapsule stream (zero-copy: polars' string views
    # are read as they are); only the result columns come back, next to the input's series.
    table = _interpret_with_views(frame, options)
    width = frame.width
    results = [
        _series(table.schema.field(i), table.column(i)) for i in range(width, table.num_columns)
    ]
    return frame.hstack(results)


def _series(field: Any, column: Any) -> pl.Series:
    """A result column (a pyarrow ChunkedArray) as a polars Series of its fixed type."""
    labels = categories(field)
    if labels is None:  # double, int16 and string columns convert as they are
        return pl.Series(field.name, column)
    dtype = pl.Enum(labels)
    if all(chunk.dictionary.to_pylist() == list(labels) for chunk in column.chunks):
        # Codes index the categories themselves (they do, from b12labs.arrow): take the enum
        # values by code, a gather of integers, rather than matching every row's text.
        codes = pa.chunked_array([c.indices for c in column.chunks], column.type.index_type)
        return pl.Series(field.name, labels, dtype=dtype).gather(pl.Series(codes))
    return pl.Series(field.name, column, dtype=dtype)


def _interpret_lazy(frame: pl.LazyFrame, options: dict[str, Any]) -> pl.LazyFrame:
    schema = frame.collect_schema()
    # pl.Schema exports its Arrow form (__arrow_c_schema__), the one the batches export:
    # this raises any ColumnError now, and gives the result fields every batch will have.
    arrow = output_schema(
        schema,
        profile=options["profile"],
        columns=options["columns"],
        units=options["units"],
    )
    declared = dict(schema)
    for index in range(len(schema), len(arrow)):
        field = arrow.field(index)
        declared[field.name] = _dtype(field)
    return frame.map_batches(
        functools.partial(_score_batch, options=options),
        schema=pl.Schema(declared),
        # Row locality: any cut of the rows gives the same rows. Under "raise" the message
        # names a row number counted from the start of what the function is given.
        streamable=options["errors"] == "collect",
    )


def _dtype(field: Any) -> pl.DataType:
    """The polars type of a result field of :func:`b12labs.arrow.output_schema`."""
    labels = categories(field)
    if labels is not None:
        return pl.Enum(labels)
    # the type polars gives that Arrow type (Float64, Int16, String), as _series converts it
    return pl.Series(field.name, pa.array([], type=field.type)).dtype


@pl.api.register_dataframe_namespace("b12labs")
class B12LabsFrame:
    """``df.b12labs.interpret(...)``: :func:`interpret` on a ``DataFrame`` (registered when
    ``b12labs.polars`` is imported)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame

    def interpret(
        self,
        *,
        profile: str | Profile = DEFAULT_PROFILE,
        columns: Mapping[str, Hashable] | None = None,
        units: Mapping[str, str] | None = None,
        errors: Errors = "collect",
    ) -> pl.DataFrame:
        """Interpret every row; see :func:`interpret`."""
        return interpret(self._frame, profile=profile, columns=columns, units=units, errors=errors)


@pl.api.register_lazyframe_namespace("b12labs")
class B12LabsLazyFrame:
    """``lf.b12labs.interpret(...)``: :func:`interpret` on a ``LazyFrame``, which stays lazy
    (registered when ``b12labs.polars`` is imported)."""

    def __init__(self, frame: pl.LazyFrame) -> None:
        self._frame = frame

    def interpret(
        self,
        *,
        profile: str | Profile = DEFAULT_PROFILE,
        columns: Mapping[str, Hashable] | None = None,
        units: Mapping[str, str] | None = None,
        errors: Errors = "collect",
    ) -> pl.LazyFrame:
        """Interpret every row when the frame is collected; see :func:`interpret`."""
        return interpret(self._frame, profile=profile, columns=columns, units=units, errors=errors)
