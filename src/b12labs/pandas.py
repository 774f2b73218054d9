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
``b12labs_*`` result columns; see :func:`interpret_frame`. :func:`summary` (or
``scored.b12labs.summary()``) counts a scored frame's rows per status and per error reason
and shows them as a small table in notebooks.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, Literal

import numpy.typing as npt

from ._display import BatchSummary
from ._exceptions import ColumnError
from ._models import Status
from ._profile import DEFAULT_PROFILE, Profile

try:
    import pandas as pd

    from ._table import ERROR_CODES, PREFIX, Scored, score_table  # needs pyarrow
except ModuleNotFoundError as exc:  # the optional dependencies: say how to install them
    if (exc.name or "").partition(".")[0] not in ("pandas", "pyarrow"):
        raise
    raise ModuleNotFoundError(
        f"b12labs.pandas (batch scoring) needs pandas and pyarrow, and {exc.name} is not "
        'installed; install them with: pip install "b12labs[pandas]"',
        name=exc.name,
    ) from exc

__all__ = [
    "ERROR_CODES",
    "B12LabsAccessor",
    "BatchSummary",
    "interpret_frame",
    "interpret_series_frame",
    "summary",
]


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
        ["b12labs"]`` holds ``rules_version``, ``profile_id``, ``profile_version``,
        ``library_version`` and ``schema_version``.

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


def summary(scored: pd.DataFrame) -> BatchSummary:
    """Counts of a frame scored by :func:`interpret_frame`, for a glance in a notebook.

    The returned :class:`BatchSummary` displays as a small table in Jupyter (HTML or
    Markdown) and prints as text (``print(summary(scored))``): the number of rows, the rows
    per status (all four, in words and colour), the rows with errors per reason code
    (``b12labs_error``), and the profile and versions recorded in ``scored.attrs["b12labs"]``
    (shown as lost when an operation dropped the attrs). Its fields hold the same numbers.

    Raises:
        ColumnError: ``scored`` has no ``b12labs_status`` column (it was not scored).
        TypeError: ``scored`` is not a pandas DataFrame.
    """
    if not isinstance(scored, pd.DataFrame):
        raise TypeError(f"summary() takes a scored pandas DataFrame, not {type(scored).__name__}")
    status_column, error_column = f"{PREFIX}status", f"{PREFIX}error"
    if status_column not in scored.columns:
        raise ColumnError(
            f"summary() needs a frame scored by b12labs (a {status_column} column); score it "
            "first with df.b12labs.interpret() or b12labs.interpret_frame(df)",
            value=status_column,
        )
    counts = scored[status_column].astype(object).value_counts(dropna=True)
    statuses = {s.value: int(counts.get(s.value, 0)) for s in Status}
    reasons: dict[str, int] = {}
    if error_column in scored.columns:
        for text, count in scored[error_column].astype(object).value_counts(dropna=True).items():
            reason = str(text).partition(":")[0].strip()
            if reason and count:
                reasons[reason] = reasons.get(reason, 0) + int(count)
    errors = dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
    provenance = scored.attrs.get("b12labs")
    return BatchSummary(
        rows=len(scored),
        statuses=statuses,
        errors=errors,
        provenance=dict(provenance) if isinstance(provenance, Mapping) else {},
    )


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

    def summary(self) -> BatchSummary:
        """Counts of this scored frame per status and error reason; see :func:`summary`."""
        return summary(self._frame)


def interpret_series_frame(
    df: pd.DataFrame,
    *,
    patient: Hashable | None,
    date: Hashable | None = None,
    profile: str | Profile = DEFAULT_PROFILE,
    treatment_started: Any = None,
    treatment_route: Any = None,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Literal["collect", "raise"] = "collect",
) -> pd.DataFrame:
    """Interpret a long frame of results over time: one row per patient and date.

    Each patient's rows form one series, interpreted exactly as
    :func:`b12labs.interpret_series` interprets that patient's dated panels (docs/series.md):
    every row gets its point's result columns (those of :func:`interpret_frame`, with a row
    collected after the patient's treatment start read as recent treatment), the change of
    each marker since the patient's previous result of that marker, and the series findings
    observed at that row. Rows may come in any order. Columns, units and cells are read as
    :func:`interpret_frame` reads them.

    A patient's rows must all be in ``df``: when a frame is split over partitions, group it
    by patient first (rows of one patient in different frames are different series).

    Args:
        df: one row per patient and date. Never modified.
        patient: the column of patient ids; ``None``: every row is one patient's.
        date: the column of collection dates (dates, datetimes or ISO texts such as
            ``"2024-03-01"``; the date part of a datetime is used). By default the one column
            named like ``date``, ``collected``, ``collection date`` or ``sample date``.
        profile: a shipped profile id or a :class:`~b12labs.Profile`.
        treatment_started: the date B12 treatment started: a column (its non-empty cells must
            agree within a patient), a mapping from patient id to date, or one date for every
            patient (a ``datetime.date`` or an ISO text that is not a column name).
        treatment_route: ``"oral"`` or ``"injection"``, given like ``treatment_started``.
        columns: explicit column labels, as for :func:`interpret_frame`.
        units: a fixed unit per analyte, as for :func:`interpret_frame`.
        errors: ``"collect"`` or ``"raise"``, as for :func:`interpret_frame`.

    Returns:
        ``df``'s columns untouched, the result columns of :func:`interpret_frame`, then:
        ``b12labs_series_on_treatment`` (boolean: collected after the treatment start);
        for each marker column ``b12labs_<m>_change_pct`` (percent change since the
        patient's previous result of the marker; NaN for the first),
        ``b12labs_<m>_change_direction`` (``increase``, ``decrease``, ``unchanged``),
        ``b12labs_<m>_change_verdict`` (``significant``, ``not_significant``,
        ``not_proven``, ``rcv_not_available``) and ``b12labs_<m>_change_significant``
        (boolean; missing without a verdict); ``b12labs_series_findings`` (the codes of the
        series findings observed at this row, joined by ``;``). A row with an error (its
        own input, no date or patient id, or a problem of its patient's series such as two
        rows on one date) has no results and says why in ``b12labs_error``; it takes no part
        in its patient's series. ``out.attrs["b12labs"]`` holds the run's provenance.

    Raises:
        ColumnError: as :func:`interpret_frame`; ``patient`` or ``date`` not a column; no or
            several date columns; ``treatment_started`` or ``treatment_route`` that is
            neither a column, a mapping nor a value.
        TypeError: a mapping for ``treatment_started`` or ``treatment_route`` with
            ``patient=None``.
        B12LabsError: with ``errors="raise"``, the first bad row's error.
    """
    from ._series_table import score_series

    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"interpret_series_frame() takes a pandas DataFrame, not {type(df).__name__}; for "
            "Arrow data use b12labs.arrow.interpret_series_table(data)"
        )
    scored = score_series(
        list(df.columns),
        df.__getitem__,
        len(df),
        patient=patient,
        date=date,
        profile=profile,
        treatment_started=treatment_started,
        treatment_route=treatment_route,
        columns=columns,
        units=units,
        errors=errors,
        row_label=lambda row: df.index[row],
    )
    out = _output(df, scored)
    for column in scored.series:
        if column.kind == "float":
            out[column.name] = column.values
        elif column.kind == "bool":
            assert column.missing is not None  # boolean series columns always carry it
            out[column.name] = pd.arrays.BooleanArray(column.values, column.missing)
        else:
            assert column.categories is not None
            out[column.name] = _categorical(column.values, column.categories)
    return out
