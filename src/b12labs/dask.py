"""Batch interpretation of Dask DataFrames: every partition scored as ``interpret_frame``.

:func:`interpret_ddf` returns a lazy Dask DataFrame: the input's columns, untouched, then
the ``b12labs_*`` result columns of :func:`b12labs.pandas.interpret_frame`::

    import b12labs.dask

    scored = b12labs.dask.interpret_ddf(ddf, profile="nice-ng239", units={"mma": "nmol/L"})
    scored["b12labs_status"].value_counts().compute()

* **One core.** Each partition is a pandas DataFrame scored by
  :func:`~b12labs.pandas.interpret_frame`: a row gets exactly what ``interpret_frame``
  gives it, however the data is partitioned (row locality, see :mod:`b12labs.arrow`).
* **Fixed dtypes.** The ``meta`` is derived from :func:`b12labs.output_schema` and is the
  same in every partition: ``b12labs_status`` and the ``_category``, ``_fhir`` and
  ``cb12_band`` columns are ``pd.CategoricalDtype`` over all their categories
  (:func:`b12labs.arrow.categories`), never the categories one partition happens to hold;
  ``b12labs_findings``, ``b12labs_next_steps`` and ``b12labs_error`` are strings (see
  :func:`interpret_ddf`); numbers are ``float64``; ``b12labs_rules_version`` is ``int16``.
* **Errors.** A :class:`~b12labs.ColumnError` depends only on the column names and dtypes
  and the arguments, so it is raised when :func:`interpret_ddf` is called, from the meta,
  never in the middle of a computation. Anything found in the cells is that row's
  ``b12labs_error``; with ``errors="raise"`` the first bad row of a partition raises when
  the partition is computed, naming its index label.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, Literal

from ._profile import DEFAULT_PROFILE, Profile

try:
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from dask.dataframe.utils import pyarrow_strings_enabled

    from ._table import _kind
    from .arrow import categories, output_schema
    from .pandas import interpret_frame
except ModuleNotFoundError as exc:  # the optional dependencies: say how to install them
    if (exc.name or "").partition(".")[0] not in ("dask", "pandas", "pyarrow"):
        raise
    raise ModuleNotFoundError(
        f"b12labs.dask needs dask[dataframe], pandas and pyarrow, and {exc.name} is not "
        'installed; install them with: pip install "b12labs[dask]"',
        name=exc.name,
    ) from exc

__all__ = ["interpret_ddf"]

#: The Arrow type of each kind of column the core reads: enough for output_schema(), which
#: depends only on the column names and on whether a column holds booleans, numbers or text.
_KIND_TYPES = {"bool": pa.bool_(), "numeric": pa.float64(), "text": pa.string()}


def interpret_ddf(
    ddf: dd.DataFrame,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Literal["collect", "raise"] = "collect",
) -> dd.DataFrame:
    """Interpret every row of ``ddf`` lazily; return it with ``b12labs_*`` result columns.

    Args:
        ddf: a Dask DataFrame, one row per patient panel. Never modified.
        profile: a shipped profile id or a :class:`~b12labs.Profile` (it travels to the
            workers with the task, so it must pickle: every ``Profile`` does).
        columns: explicit column labels, e.g. ``{"b12": "LBXB12", "b12_unit": "B12 unit"}``.
        units: a fixed unit per analyte, e.g. ``{"mma": "nmol/L"}``.
        errors: ``"collect"`` (a reason per bad row, the rest go on) or ``"raise"``.

    Returns:
        A Dask DataFrame with ``ddf``'s columns, index and partitions, plus the result
        columns of :func:`b12labs.pandas.interpret_frame`, in dtypes fixed when this
        function is called (the same in the meta and in every computed partition):
        categoricals over all their categories, ``float64``, ``int16``, and for findings,
        next steps and error the string dtype Dask gives text under its
        ``dataframe.convert-string`` setting: ``string[pyarrow]`` when it is on (the
        default), else the dtype pandas gives text (``str`` on pandas 3, ``object`` before).
        Nothing is computed until you ask for it.

    Raises:
        TypeError: ``ddf`` is not a Dask DataFrame; ``columns`` or ``units`` is not a mapping.
        ColumnError: as :func:`b12labs.pandas.interpret_frame`, at once (decided by the
            column names and dtypes and the arguments alone).
        ValueError: ``errors`` is neither ``"collect"`` nor ``"raise"``.
    """
    if not isinstance(ddf, dd.DataFrame):
        hint = ""
        if isinstance(ddf, pd.DataFrame):
            hint = "; for a pandas DataFrame use b12labs.interpret_frame(df)"
        raise TypeError(
            f"interpret_ddf() takes a dask DataFrame, not {type(ddf).__module__}."
            f"{type(ddf).__qualname__}{hint}"
        )
    if errors not in ("collect", "raise"):
        raise ValueError(f"errors must be 'collect' or 'raise', not {errors!r}")
    meta = ddf._meta
    dtypes = _result_dtypes(meta, profile=profile, columns=columns, units=units)
    out_meta = meta.copy(deep=False)
    for name, dtype in dtypes.items():
        out_meta[name] = pd.Series([], index=meta.index, dtype=dtype)
    options = {"profile": profile, "columns": columns, "units": units, "errors": errors}
    # dask leaves map_partitions untyped
    scored: dd.DataFrame = ddf.map_partitions(  # type: ignore[no-untyped-call]
        _interpret_partition, dtypes=dtypes, options=options, meta=out_meta
    )
    return scored


def _result_dtypes(
    meta: pd.DataFrame,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``b12labs_*`` result columns :func:`interpret_ddf` adds to a frame like ``meta``
    (an empty pandas frame with the columns and dtypes of the data), with their dtypes.

    Derived from :func:`b12labs.output_schema`: a dictionary field becomes
    ``pd.CategoricalDtype(categories(field))``; ``double`` ``float64``; ``int16`` ``int16``;
    a ``string`` field the text dtype of :func:`_text_dtype`, read now.

    Raises:
        ColumnError: as :func:`interpret_ddf`.
    """
    labels = list(meta.columns)
    # Column labels are read as str(label) by the core; the kind of each column decides the
    # rest (a number column without a unit is a ColumnError, a text column never is).
    names = [label if isinstance(label, str) else str(label) for label in labels]
    schema = pa.schema(
        [pa.field(name, _KIND_TYPES[_kind(meta.iloc[:, i])]) for i, name in enumerate(names)]
    )
    renamed = {label: name for label, name in zip(labels, names, strict=True) if label != name}
    if renamed and isinstance(columns, Mapping):  # labels that are not text, as named above
        columns = {key: _renamed(label, renamed) for key, label in columns.items()}
    full = output_schema(schema, profile=profile, columns=columns, units=units)
    text = _text_dtype()
    dtypes: dict[str, Any] = {}
    for field in list(full)[len(labels) :]:
        fixed = categories(field)
        if fixed is not None:
            dtypes[field.name] = pd.CategoricalDtype(list(fixed))
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            dtypes[field.name] = text
        else:
            dtypes[field.name] = np.dtype(field.type.to_pandas_dtype())
    return dtypes


def _renamed(label: Any, renamed: Mapping[Any, str]) -> Any:
    try:
        return renamed.get(label, label)
    except TypeError:  # not hashable: left for the core to refuse
        return label


def _text_dtype() -> Any:
    """The dtype of the text result columns: ``string[pyarrow]`` when Dask converts text
    (``dataframe.convert-string``, on by default), else the dtype pandas gives text."""
    if pyarrow_strings_enabled():
        return pd.StringDtype("pyarrow")  # what dask converts every text column to
    return pd.Series([], dtype=str).dtype  # pandas' own: "str" on pandas 3, object before


def _interpret_partition(
    part: pd.DataFrame, dtypes: dict[str, Any], options: dict[str, Any]
) -> pd.DataFrame:
    """One partition through :func:`interpret_frame`, its result columns in ``dtypes``: the
    fixed categories of the meta (never the partition's own) and strings for the text."""
    out = interpret_frame(part, **options)
    return out.astype(dtypes)
