"""Batch interpretation of pandas DataFrames: vectorized, identical to ``interpret()``.

Importing this module registers the ``df.b12labs`` accessor::

    import b12labs.pandas  # noqa: F401  (registers the accessor)
    scored = df.b12labs.interpret(profile="nice-ng239")

or call :func:`interpret_frame` (also available as ``b12labs.interpret_frame``).

How a frame is read (documented in docs/batch.md):

* **Columns** are recognised by name, ignoring case, spaces, underscores, hyphens and a unit
  in brackets: ``b12``, ``vitamin_b12``, ``Vitamin B12 (pg/mL)``, ``cobalamin``, ``mma``,
  ``methylmalonic acid``, ``hcy``, ``homocysteine``, ``tHcy``, ``holotc``, ``active_b12``,
  ``folate``, ``age``, ``sex``, ``pregnant``, ``egfr``, ``creatinine``, and the patient context
  ``symptoms``, ``risk_factors``, ``recent_b12_treatment`` (``on B12``), ``nitrous_oxide``
  (``N2O exposure``). ``columns=`` maps any of these keys (and ``"<analyte>_unit"`` for a unit
  column) to a column label explicitly.
* **Context cells**: yes/no columns take booleans, 1 / 0 and ``yes/no``, ``y/n``,
  ``true/false``, ``1/0`` in any case (blank: unknown); ``symptoms`` and ``risk_factors`` take
  codes or aliases separated by ``;`` or ``,`` (``"tremor; twitching"``; ``"none"``: none
  reported; blank: unknown), each distinct text parsed once. A header unit on ``age``
  (``Age (months)``) or ``eGFR`` (``eGFR (mL/s)``) is converted, or refused with a
  :class:`ColumnError`; on the other context columns a bracket text is a description.
* **Units**, for each cell, come from the first of: a unit written in the cell
  (``"350 pg/mL"``), the row's unit column (``b12_unit``), ``units=``, the column header
  (``B12 (pg/mL)``). ``units=`` must agree with the header and with every unit-column cell of
  a row with a result (``pg/mL`` and ``ng/L`` agree), and fills the unit column's blanks; a
  disagreement is a :class:`ColumnError`, never a silent choice. A value column with no unit
  anywhere is a :class:`ColumnError` saying how to give one: a unit is never guessed from
  magnitudes.
* **Values** may be numbers or text: ``"<50"``, ``"> 2000"``, ``" 350 "``, ``"1,234"``. Text
  meaning "no result" (blank, ``"N/A"``, ``"pending"``, ``"hemolysed"``,
  :data:`b12labs._models.MISSING_TOKENS`) is missing, not an error. Text is parsed with
  pyarrow compute (RE2), never row by row in Python.
* **Errors**: a row that cannot be interpreted keeps its place; ``b12labs_error`` holds a
  reason code and the message the single-panel call would raise (``errors="collect"``).
  ``errors="raise"`` raises that error at the first bad row instead, naming the row label.
  Cells the single-panel call refuses are refused in a batch too: texts such as ``"-nan"``,
  bytes, complex numbers, containers and other objects, integers beyond the float range.
* **Contract**: one output row per input row, in order; the input is never modified; every
  row without an error is exactly ``interpret()`` on that row (docs/batch.md).

The output is the input frame (columns, values, dtypes, index and order untouched) plus
``b12labs_*`` result columns; see :func:`interpret_frame`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, Literal

import numpy.typing as npt

from ._profile import DEFAULT_PROFILE, Profile

try:
    import pandas as pd

    from ._table import ERROR_CODES, Scored, score_table  # needs pyarrow
except ModuleNotFoundError as exc:  # the optional dependencies: say how to install them
    if (exc.name or "").partition(".")[0] not in ("pandas", "pyarrow"):
        raise
    raise ModuleNotFoundError(
        f"b12labs.pandas (batch scoring) needs pandas and pyarrow, and {exc.name} is not "
        'installed; install them with: pip install "b12labs[pandas]"',
        name=exc.name,
    ) from exc

__all__ = ["ERROR_CODES", "B12LabsAccessor", "interpret_frame"]


def interpret_frame(
    df: pd.DataFrame,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Literal["collect", "raise"] = "collect",
) -> pd.DataFrame:
    """Interpret every row of ``df``; return a new frame with ``b12labs_*`` result columns.

    Args:
        df: one row per patient panel. Never modified.
        profile: a shipped profile id or a :class:`~b12labs.Profile`.
        columns: explicit column labels, e.g. ``{"b12": "LBXB12", "b12_unit": "B12 unit"}``.
        units: a fixed unit per analyte, e.g. ``{"mma": "nmol/L"}``.
        errors: ``"collect"`` (a reason per bad row, the rest go on) or ``"raise"``.

    Returns:
        ``df``'s columns untouched, plus: ``b12labs_status`` (categorical of the four status
        values; missing for a row with an error); for each marker present
        ``b12labs_<m>_value`` (canonical unit), ``b12labs_<m>_category``,
        ``b12labs_<m>_fhir`` (HL7 v3 code); ``b12labs_cb12`` (NaN unless holoTC, B12, MMA,
        homocysteine and age are all known), with ``b12labs_cb12_band`` when the frame
        has those four markers; ``b12labs_egfr`` when it has eGFR or creatinine;
        ``b12labs_findings`` and ``b12labs_next_steps`` (codes joined by ``;``);
        ``b12labs_error`` (empty, or ``"<reason code>: <message>"``);
        ``b12labs_rules_version`` (the decision rules' version, on every row). ``out.attrs
        ["b12labs"]`` holds ``rules_version``, ``profile_id``, ``profile_version`` and
        ``library_version``.

    Raises:
        ColumnError: no recognised column, ambiguous columns, a label read twice, two keys
            mapped to one column, a column with no unit, ``units=`` that is not a unit text
            or disagrees with the header or the unit column, an age or eGFR header unit that
            is not accepted.
        TypeError: ``columns`` or ``units`` is not a mapping.
        B12LabsError: with ``errors="raise"``, the first bad row's error (label in message).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"interpret_frame() takes a pandas DataFrame, not {type(df).__module__}."
            f"{type(df).__qualname__}; for Arrow data (pyarrow, polars, DuckDB) use "
            "b12labs.interpret_table(data), which returns a pyarrow Table; see also "
            "b12labs.polars, b12labs.duckdb, b12labs.dask and b12labs.spark"
        )
    scored = score_table(
        list(df.columns),
        df.__getitem__,
        len(df),
        profile=profile,
        columns=columns,
        units=units,
        errors=errors,
        row_label=lambda row: df.index[row],
    )
    return _output(df, scored)


def _categorical(codes: npt.NDArray[Any], categories: tuple[Any, ...]) -> Any:
    # codes are built by b12labs, in range by construction: no validation pass over the rows
    dtype = pd.CategoricalDtype([str(c) for c in categories])
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _output(df: pd.DataFrame, scored: Scored) -> pd.DataFrame:
    # Insert column by column: building a frame from a dict would first stack the float
    # results into one 2-D block (a copy); the input's columns are shared, never copied.
    out = df.copy(deep=False)
    for name, values, categories in scored.columns():
        out[name] = _categorical(values, categories) if categories is not None else values
    # a new dict: the input frame's attrs are never modified
    out.attrs = {**out.attrs, "b12labs": dict(scored.provenance)}
    return out


@pd.api.extensions.register_dataframe_accessor("b12labs")
class B12LabsAccessor:
    """``df.b12labs.interpret(...)``: the same as :func:`interpret_frame` (registered when
    ``b12labs.pandas`` is imported)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def interpret(
        self,
        *,
        profile: str | Profile = DEFAULT_PROFILE,
        columns: Mapping[str, Hashable] | None = None,
        units: Mapping[str, str] | None = None,
        errors: Literal["collect", "raise"] = "collect",
    ) -> pd.DataFrame:
        """Interpret every row; see :func:`interpret_frame`."""
        return interpret_frame(
            self._frame, profile=profile, columns=columns, units=units, errors=errors
        )
