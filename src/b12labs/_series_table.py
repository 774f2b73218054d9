"""The table core of results over time: a long table (one row per patient and date) in,
each row's point results, change columns and series findings out.

It serves :func:`b12labs.pandas.interpret_series_frame` and
:func:`b12labs.arrow.interpret_series_table` (and through them any engine that hands over
one patient's rows together). Each row's point is scored by the batch core
(:func:`b12labs._table.score_table`, identical to :func:`~b12labs.interpret`), with the rows
collected after the patient's treatment start read as recent treatment; each patient's rows
then go through the same :func:`b12labs._series.analyse` as :func:`~b12labs.interpret_series`.

**Grouping.** A patient's series is made of the rows of that patient in the table given:
rows of one patient spread over several tables, batches or partitions are separate series.
Engines must bring each patient's rows together first (partition by patient).

**Errors.** A row whose own input cannot be read (a bad unit, no date, no patient id) is an
error row: it takes no part in its patient's series, and the next row's change is computed
against the patient's previous readable row. Problems of the series itself (two rows of one
patient on one date, two different treatment starts or routes for one patient) make every row
of that patient an error row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ._analytes import MARKERS, analyte_info
from ._exceptions import ColumnError, InvalidValueError, brief
from ._models import MISSING_TOKENS, Censor
from ._profile import DEFAULT_PROFILE, Profile, compiled
from ._series import (
    ChangeDirection,
    ChangeVerdict,
    PointResults,
    PointSummary,
    Result,
    SeriesChange,
    SeriesFinding,
    TreatmentRoute,
    _as_date,
    _as_route,
    analyse,
    series_catalog,
)
from ._table import (
    PREFIX,
    Scored,
    _cells,
    _is_arrow,
    _is_missing_cell,
    _is_missing_text,
    _normalize,
    _pylist,
    _readable,
    _resolve_columns,
    _without_views,
    _yes_no,
    score_table,
)
from ._vector import CATEGORIES, STATUSES
from ._version import SCHEMA_VERSION
from ._writer import ColumnSelection

__all__ = ["DATE_NAMES", "Analysis", "SeriesColumn", "SeriesScored", "score_series"]

#: Column names read as the collection date when ``date=`` is not given (compared like
#: marker columns: case, spaces, underscores and hyphens ignored).
DATE_NAMES: tuple[str, ...] = (
    "date",
    "collected",
    "collectiondate",
    "collecteddate",
    "datecollected",
    "collectiondatetime",
    "sampledate",
    "specimendate",
    "drawdate",
)
_CENSORS: tuple[Censor | None, ...] = (None, Censor.LT, Censor.LE, Censor.GT, Censor.GE)
_DIRECTIONS: tuple[ChangeDirection, ...] = tuple(ChangeDirection)
_VERDICTS: tuple[ChangeVerdict, ...] = tuple(ChangeVerdict)
#: The label under which the treatment flag is given to the batch core when the table has no
#: recent-treatment column of its own.
_TREATMENT_LABEL = "__b12labs_series_treatment__"


@dataclass
class SeriesColumn:
    """One series result column: ``kind`` says how ``values`` are held.

    ``"bool"``: booleans, with ``missing`` marking nulls; ``"float"``: floats (NaN missing);
    ``"codes"``: int8 codes into ``categories`` (-1 missing), a fixed vocabulary; ``"text"``:
    int codes into ``categories``, a vocabulary that comes from the data (plain text in Arrow).
    """

    name: str
    kind: Literal["bool", "float", "codes", "text"]
    values: npt.NDArray[Any]
    missing: npt.NDArray[np.bool_] | None = None
    categories: tuple[str, ...] | None = None


@dataclass
class Analysis:
    """One patient's series: its rows in date order, their dates, the changes and findings."""

    rows: list[int]
    dates: list[dt.date]
    changes: tuple[SeriesChange, ...]
    findings: tuple[SeriesFinding, ...]
    started: dt.date | None = None
    route: TreatmentRoute | None = None


@dataclass
class _Patient:
    """One patient's series as found in the table."""

    rows: list[int]
    started: dt.date | None = None
    route: TreatmentRoute | None = None
    error: str | None = None


@dataclass
class SeriesScored(Scored):
    """The point results of :func:`score_series` (rows with a series error masked), and the
    series columns and per-patient analyses."""

    #: Rows with a series error (no date, no patient id, a problem of the patient's series).
    series_errors: dict[int, str] = field(default_factory=dict)
    series: list[SeriesColumn] = field(default_factory=list)
    #: Per patient id (None for ``patient=None``): the patient's analysis.
    analyses: dict[Any, Analysis] = field(default_factory=dict)
    on_treatment: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def columns(
        self, selection: ColumnSelection = "standard"
    ) -> list[tuple[str, Any, tuple[Any, ...] | None]]:
        """The point result columns of :class:`~b12labs._table.Scored`, with the rows that have
        a series error shown as error rows (no results, the reason in ``b12labs_error``)."""
        out = super().columns(selection)
        if not self.series_errors:
            return out
        rows = np.fromiter(self.series_errors, dtype=np.intp)
        masked: list[tuple[str, Any, tuple[Any, ...] | None]] = []
        for name, values, categories in out:
            if name == f"{PREFIX}error":
                assert categories is not None
                vocabulary = list(categories)
                codes = np.array(values, dtype=np.int32)
                position = {text: i for i, text in enumerate(vocabulary)}
                for row, message in self.series_errors.items():
                    if codes[row] > 0:  # the row's own input error comes first
                        continue
                    text = f"invalid_value: {message}"
                    if text not in position:
                        position[text] = len(vocabulary)
                        vocabulary.append(text)
                    codes[row] = position[text]
                masked.append((name, codes, tuple(vocabulary)))
            elif name == f"{PREFIX}rules_version":
                masked.append((name, values, categories))
            elif categories is not None:
                values = np.array(values, copy=True)
                values[rows] = -1
                masked.append((name, values, categories))
            else:
                values = np.array(values, dtype=np.float64, copy=True)
                values[rows] = np.nan
                masked.append((name, values, categories))
        return masked

    def summaries(self, patient: Any) -> list[PointSummary]:
        """The report lines of one patient's points (rows in date order)."""
        analysis = self.analyses[patient]
        out: list[PointSummary] = []
        units = {
            str(m): analyte_info(str(m)).canonical_unit
            for m in MARKERS
            if str(m) in self.found.value
        }
        for row, day in zip(analysis.rows, analysis.dates, strict=True):
            shown = []
            for key, unit in units.items():
                code = int(self.result.categories[key][row])
                if code < 0:
                    continue
                censor = _CENSORS[int(self.censors[key][row])]
                shown.append(
                    (key, float(self.values[key][row]), censor, unit, CATEGORIES[code].value)
                )
            out.append(
                PointSummary(
                    collected=day,
                    on_treatment=bool(self.on_treatment[row]),
                    status=STATUSES[int(self.result.status[row])].value,
                    markers=tuple(shown),
                )
            )
        return out


# ----------------------------------------------------------------------------- cells


def _cells_of(column: Any) -> list[Any]:
    """Every cell of a pandas Series or Arrow array as a Python object."""
    if _is_arrow(column):
        return _pylist(column)
    return list(column.tolist())


def _date_cell(cell: Any) -> dt.date | str | None:
    """The date of a cell, None when missing, or the reason it is not a date."""
    if _is_missing_cell(cell):
        return None
    if isinstance(cell, dt.datetime):  # pandas Timestamps too: the date as written
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, np.datetime64):
        return dt.date.fromisoformat(str(cell.astype("datetime64[D]")))
    if isinstance(cell, str):
        text = cell.strip()
        if text.lower() in MISSING_TOKENS:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            pass
    return (
        f"{brief(cell)} is not an ISO date (YYYY-MM-DD, or an ISO date and time); b12labs "
        "never guesses the order of day and month"
    )


# ----------------------------------------------------------------------------- arguments


def _date_label(labels: Sequence[Hashable], date: Hashable | None) -> Hashable:
    if date is not None:
        if date not in labels:
            raise ColumnError(
                f"date={date!r} is not a column of the table", analyte="date", value=date
            )
        return date
    found = [label for label in labels if _normalize(label)[0] in DATE_NAMES]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ColumnError(
            "no collection date column: name it 'date' or 'collected', or give date= "
            "(a series needs each result's collection date)",
            analyte="date",
        )
    raise ColumnError(
        f"columns {', '.join(repr(f) for f in found)} all look like the collection date; "
        "choose one with date=",
        analyte="date",
        value=found[0],
    )


Spec = Literal["started", "route"]


def _constant(spec: Any, kind: Spec) -> Any:
    """The value ``spec`` gives every patient, or None when it is not a plain value."""
    try:
        return _as_date(spec, "treatment_started") if kind == "started" else _as_route(spec)
    except InvalidValueError:
        return None


def _per_patient_values(
    spec: Any,
    kind: Spec,
    labels: Sequence[Hashable],
    column: Callable[[Hashable], Any],
    patients: dict[Any, _Patient],
    patient_label: Hashable | None,
    row_errors: dict[int, str],
) -> None:
    """Set each patient's treatment start or route from ``spec`` (see score_series)."""
    name = "treatment_started" if kind == "started" else "treatment_route"
    value: Any
    attribute = "started" if kind == "started" else "route"
    if spec is None:
        return
    if isinstance(spec, Mapping):
        if patient_label is None:
            raise TypeError(
                f"{name}= is a mapping by patient id, but patient=None (one patient): give "
                "the value itself"
            )
        for pid, record in patients.items():
            if pid in spec and spec[pid] is not None:
                value = _as_date(spec[pid], name) if kind == "started" else _as_route(spec[pid])
                setattr(record, attribute, value)
        return
    try:
        is_label = spec in labels
    except TypeError:  # an unhashable spec that is not a mapping
        is_label = False
    if not is_label:
        value = _constant(spec, kind)
        if value is None:
            raise ColumnError(
                f"{name}={spec!r} is neither a column of the table nor "
                + ("a date" if kind == "started" else "'oral' or 'injection'")
                + ", nor a mapping by patient id",
                analyte=name,
                value=spec,
            )
        for record in patients.values():
            setattr(record, attribute, value)
        return
    cells = _cells_of(_without_views(column(spec)))
    for pid, record in patients.items():
        seen: dict[Any, int] = {}
        for row in record.rows:
            cell = cells[row]
            if kind == "started":
                value = _date_cell(cell)
                if isinstance(value, str):
                    row_errors.setdefault(row, f"{name}: {value}")
                    continue
            else:
                if _is_missing_cell(cell) or (isinstance(cell, str) and _is_missing_text(cell)):
                    continue
                try:
                    value = _as_route(cell)
                except InvalidValueError as error:
                    row_errors.setdefault(row, error.message)
                    continue
            if value is not None:
                seen.setdefault(value, row)
        if len(seen) > 1:
            shown = " and ".join(v.isoformat() if isinstance(v, dt.date) else str(v) for v in seen)
            record.error = (
                f"{name}: the rows of patient {brief(pid)} give different values "
                f"({shown}); give one per patient"
            )
        elif seen:
            setattr(record, attribute, next(iter(seen)))


# ----------------------------------------------------------------------------- treatment


def _with_treatment(original: Any, on: npt.NDArray[np.bool_]) -> pa.Array:
    """The recent-treatment column with the rows ``on`` set to yes (cells that are not a
    yes/no answer are kept as their text, so they stay that row's error)."""
    codes, unknown = _yes_no(_readable(_without_views(original), "flag"))
    unknown = np.zeros(len(codes), dtype=bool) if unknown is None else np.asarray(unknown)
    bad_rows = np.flatnonzero(unknown)
    bad_cells = dict(zip(bad_rows.tolist(), _cells(original, bad_rows), strict=True))
    texts: list[str | None] = []
    for row, code in enumerate(codes.tolist()):
        if row in bad_cells:
            cell = bad_cells[row]
            texts.append(cell if isinstance(cell, str) else repr(cell))
        elif on[row] or code == 1:
            texts.append("yes")
        elif code == 0:
            texts.append("no")
        else:
            texts.append(None)
    return pa.array(texts, type=pa.string())


# ----------------------------------------------------------------------------- the core


def score_series(
    labels: Sequence[Hashable],
    column: Callable[[Hashable], Any],
    n: int,
    *,
    patient: Hashable | None,
    date: Hashable | None = None,
    profile: str | Profile = DEFAULT_PROFILE,
    treatment_started: Any = None,
    treatment_route: Any = None,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    errors: Literal["collect", "raise"] = "collect",
    row_label: Callable[[int], Any] = lambda row: row,
) -> SeriesScored:
    """Score a long table as series, one per patient. See
    :func:`b12labs.pandas.interpret_series_frame` for the arguments and the output."""
    if errors not in ("collect", "raise"):
        raise ValueError(f"errors must be 'collect' or 'raise', not {errors!r}")
    cp = compiled(profile)
    labels = list(labels)
    if patient is not None and patient not in labels:
        raise ColumnError(
            f"patient={patient!r} is not a column of the table", analyte="patient", value=patient
        )
    date_label = _date_label(labels, date)

    row_errors: dict[int, str] = {}
    patient_of: list[Any] = [None] * n
    if patient is not None:
        for row, cell in enumerate(_cells_of(_without_views(column(patient)))):
            if _is_missing_cell(cell) or (isinstance(cell, str) and not cell.strip()):
                row_errors[row] = f"patient: the row has no patient id (column {patient!r})"
                continue
            try:
                hash(cell)
            except TypeError:
                row_errors[row] = f"patient: {brief(cell)} cannot be a patient id"
                continue
            patient_of[row] = cell
    dates: list[dt.date | None] = [None] * n
    for row, cell in enumerate(_cells_of(_without_views(column(date_label)))):
        value = _date_cell(cell)
        if value is None:
            row_errors.setdefault(
                row,
                f"date: the row has no collection date (column {date_label!r}); a series "
                "needs each result's date",
            )
        elif isinstance(value, str):
            row_errors.setdefault(row, f"date: {value}")
        else:
            dates[row] = value

    patients: dict[Any, _Patient] = {}
    for row in range(n):
        if row in row_errors and row_errors[row].startswith("patient:"):
            continue
        patients.setdefault(patient_of[row], _Patient(rows=[])).rows.append(row)
    _per_patient_values(treatment_started, "started", labels, column, patients, patient, row_errors)
    _per_patient_values(treatment_route, "route", labels, column, patients, patient, row_errors)
    for pid, record in patients.items():
        if record.error is not None:
            continue
        by_day: dict[dt.date, list[int]] = {}
        for row in record.rows:
            day = dates[row]
            if day is not None:
                by_day.setdefault(day, []).append(row)
        twice = {day: rows for day, rows in by_day.items() if len(rows) > 1}
        if twice:
            day, rows = min(twice.items())
            who = "the table" if patient is None else f"patient {brief(pid)}"
            record.error = (
                f"date: {who} has {len(rows)} rows dated {day.isoformat()} (rows "
                f"{', '.join(repr(_plain(row_label(r))) for r in rows)}); give one row per "
                "patient and date"
            )
    series_errors = dict(row_errors)
    for record in patients.values():
        if record.error is not None:
            for row in record.rows:
                series_errors.setdefault(row, record.error)
    if errors == "raise" and series_errors:
        row = min(series_errors)
        raise InvalidValueError(f"row {_plain(row_label(row))!r}: {series_errors[row]}")

    on = np.zeros(n, dtype=bool)
    for record in patients.values():
        if record.started is None:
            continue
        for row in record.rows:
            day = dates[row]
            if day is not None and day > record.started:
                on[row] = True
    on[list(series_errors)] = False

    getter = column
    options_columns = columns
    score_labels: list[Hashable] = labels
    if on.any():
        own = _resolve_columns(labels, columns).value.get("recent_b12_treatment")
        if own is not None:
            injected = _with_treatment(column(own), on)

            def getter(label: Hashable) -> Any:
                return injected if label == own else column(label)

        else:
            flag = pa.array([True if x else None for x in on.tolist()], type=pa.bool_())
            score_labels = [*labels, _TREATMENT_LABEL]
            options_columns = {**(columns or {}), "recent_b12_treatment": _TREATMENT_LABEL}

            def getter(label: Hashable) -> Any:
                return flag if label == _TREATMENT_LABEL else column(label)

    scored = score_table(
        score_labels,
        getter,
        n,
        profile=profile,
        columns=options_columns,
        units=units,
        errors=errors,
        row_label=row_label,
    )
    valid = scored.problems.index < 0
    valid[list(series_errors)] = False
    markers = [str(m) for m in MARKERS if str(m) in scored.found.value]
    censors = scored.censors  # read by score_table: a result's censor code is its cell's

    out = SeriesScored(
        scored.n,
        scored.found,
        scored.values,
        scored.result,
        scored.problems,
        {**scored.provenance, "schema_version": SCHEMA_VERSION},
        series_errors=series_errors,
        on_treatment=on,
        censors=censors,
    )
    change_rows: dict[str, list[tuple[int, SeriesChange]]] = {key: [] for key in markers}
    finding_rows: dict[int, list[str]] = {}
    for pid, record in patients.items():
        rows = sorted(
            (r for r in record.rows if valid[r]),
            key=lambda r: dates[r],  # type: ignore[arg-type,return-value]
        )
        if not rows:
            continue
        points = []
        for row in rows:
            results = {}
            for key in markers:
                code = int(scored.result.categories[key][row])
                if code < 0:
                    continue
                results[key] = Result(
                    float(scored.values[key][row]),
                    _CENSORS[int(censors[key][row])],
                    CATEGORIES[code],
                )
            day = dates[row]
            assert day is not None
            points.append(PointResults(collected=day, results=results))
        changes, findings = analyse(points, cp, record.started, record.route)
        row_of = {p.collected: row for p, row in zip(points, rows, strict=True)}
        out.analyses[pid] = Analysis(
            rows, [p.collected for p in points], changes, findings, record.started, record.route
        )
        for change in changes:
            if change.span == "consecutive":
                change_rows[str(change.analyte)].append((row_of[change.end], change))
        for finding in findings:
            codes = finding_rows.setdefault(row_of[finding.dates[-1]], [])
            if finding.code not in codes:
                codes.append(finding.code)

    series: list[SeriesColumn] = [
        SeriesColumn(f"{PREFIX}series_on_treatment", "bool", on.copy(), ~valid)
    ]
    for key in markers:
        pct = np.full(n, np.nan)
        direction = np.full(n, -1, dtype=np.int8)
        verdict = np.full(n, -1, dtype=np.int8)
        significant = np.zeros(n, dtype=bool)
        no_verdict = np.ones(n, dtype=bool)
        for row, change in change_rows[key]:
            pct[row] = change.percent_change
            direction[row] = _DIRECTIONS.index(change.direction)
            verdict[row] = _VERDICTS.index(change.verdict)
            if change.significant is not None:
                significant[row] = change.significant
                no_verdict[row] = False
        series += [
            SeriesColumn(f"{PREFIX}{key}_change_pct", "float", pct),
            SeriesColumn(
                f"{PREFIX}{key}_change_direction",
                "codes",
                direction,
                categories=tuple(d.value for d in _DIRECTIONS),
            ),
            SeriesColumn(
                f"{PREFIX}{key}_change_verdict",
                "codes",
                verdict,
                categories=tuple(v.value for v in _VERDICTS),
            ),
            SeriesColumn(f"{PREFIX}{key}_change_significant", "bool", significant, no_verdict),
        ]
    order = list(series_catalog())
    texts: dict[str, int] = {"": 0}
    finding_codes = np.zeros(n, dtype=np.int32)
    for row, found_codes in finding_rows.items():
        text = ";".join(sorted(found_codes, key=order.index))
        finding_codes[row] = texts.setdefault(text, len(texts))
    finding_codes[~valid] = -1
    series.append(
        SeriesColumn(f"{PREFIX}series_findings", "text", finding_codes, categories=tuple(texts))
    )
    out.series = series
    return out


def _plain(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label
