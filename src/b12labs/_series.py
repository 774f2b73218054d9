"""Results over time: one patient's dated panels read as a series (decision-spec section 8).

:func:`interpret_series` interprets each point on its own (sections 3 and 7; a point collected
after the treatment start counts as recent treatment), then compares the results of each
marker over time: every consecutive pair and first-to-last, with the days between, the absolute
and percent change, the direction and, where the profile has a reference change value (RCV),
whether the change is significant. Series findings say what the changes mean.

The comparison works on light point records (:class:`PointResults`), so that the single-series
path and the batch path (:mod:`b12labs._series_table`) share :func:`analyse`, and with it every
decision about changes and findings.

Reading choices where the specification is silent (docs/series.md):

* a point collected on the day treatment started is the pre-treatment (baseline) sample:
  samples are normally taken before the first dose; "after the treatment start" is strictly
  after. Give ``recent_b12_treatment=True`` on a panel taken after a dose on that day;
* panels of the same date are one point (as FHIR results of one date are): they are merged
  when they give different markers; two results of one marker on one date are an error, and so
  are two different values of a context field (age, sex...) on one date;
* a change is significant when it lies strictly beyond the RCV of its direction (beyond by more
  than :data:`~b12labs._profile.TIE_TOLERANCE`, so that a change equal to the RCV in the unit
  the results were given in is not significant);
* a censored result gives a change only when its bound proves the direction; the change is then
  computed from the bound (the real change is at least that large) and is significant only when
  the bound change is; otherwise its verdict is ``not_proven``;
* a flagged MMA (above the check-unit limit, decision-spec 7.0) takes no part in changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator

from ._analytes import MARKERS, Analyte
from ._data_files import read_toml
from ._exceptions import InvalidValueError, brief
from ._interpret import _check_unit_above, _interpret, _published
from ._models import (
    Category,
    Censor,
    Interpretation,
    Measurement,
    Panel,
    _Frozen,
    _Output,
)
from ._profile import DEFAULT_PROFILE, TIE_TOLERANCE, CompiledProfile, Profile, compiled
from ._rules import RULES_VERSION
from ._version import SCHEMA_VERSION, __version__

__all__ = [
    "AppliedRCV",
    "ChangeDirection",
    "ChangeVerdict",
    "DatedPanel",
    "PointResults",
    "PointSummary",
    "Result",
    "SeriesChange",
    "SeriesFinding",
    "SeriesInterpretation",
    "SeriesPoint",
    "TreatmentRoute",
    "analyse",
    "format_report",
    "interpret_series",
    "series_catalog",
    "series_json_schema",
]


# ----------------------------------------------------------------------------- enums


class TreatmentRoute(StrEnum):
    """How B12 treatment is given."""

    ORAL = "oral"
    INJECTION = "injection"


class ChangeDirection(StrEnum):
    """The direction of a change between two results of one marker."""

    INCREASE = "increase"
    DECREASE = "decrease"
    UNCHANGED = "unchanged"


class ChangeVerdict(StrEnum):
    """Whether a change is beyond the marker's reference change value (RCV).

    ``not_proven``: a change computed from a censored bound whose size does not pass the
    RCV (the real change may or may not). ``rcv_not_available``: the profile has no RCV for
    the marker (holoTC), so no verdict is given.
    """

    SIGNIFICANT = "significant"
    NOT_SIGNIFICANT = "not_significant"
    NOT_PROVEN = "not_proven"
    RCV_NOT_AVAILABLE = "rcv_not_available"


# ----------------------------------------------------------------------------- inputs


def _as_date(value: Any, field: str) -> dt.date:
    """A date from a ``date``, a ``datetime`` (its own calendar date) or an ISO text."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidValueError(
        f"{field}: {brief(value)} is not a date; give a datetime.date or an ISO date text "
        "such as '2024-03-01'",
        analyte=field,
        value=value,
    )


def _as_route(value: Any) -> TreatmentRoute | None:
    if value is None or isinstance(value, TreatmentRoute):
        return value
    text = value.strip().lower() if isinstance(value, str) else ""
    try:
        return TreatmentRoute(text)
    except ValueError:
        accepted = ", ".join(repr(r.value) for r in TreatmentRoute)
        raise InvalidValueError(
            f"treatment_route: {brief(value)} is not accepted; give {accepted} or None",
            analyte="treatment_route",
            value=value,
        ) from None


class DatedPanel(_Frozen):
    """One point of a series: a :class:`~b12labs.Panel` and the date it was collected."""

    collected: dt.date = Field(description="Collection date of the samples.")
    panel: Panel

    @field_validator("collected", mode="before")
    @classmethod
    def _date(cls, value: Any) -> dt.date:
        return _as_date(value, "collected")

    @field_validator("panel", mode="before")
    @classmethod
    def _panel(cls, value: Any) -> Panel:
        if isinstance(value, Panel):
            return value
        if isinstance(value, Mapping):
            return Panel(**value)
        raise InvalidValueError(
            f"panel: {brief(value)} is not a Panel or a mapping of its fields",
            analyte="panel",
            value=value,
        )


def _dated(point: Any, position: int) -> DatedPanel:
    """A DatedPanel from any accepted point form (see :func:`interpret_series`)."""
    if isinstance(point, DatedPanel):
        return point
    if isinstance(point, tuple) and len(point) == 2:
        return DatedPanel(collected=point[0], panel=point[1])
    if isinstance(point, Mapping):
        if "collected" not in point:
            raise InvalidValueError(
                f"point {position}: a mapping needs 'collected' (the collection date) beside "
                "the panel fields",
                analyte="collected",
                value=None,
            )
        if "panel" in point:
            return DatedPanel(**point)
        fields = {k: v for k, v in point.items() if k != "collected"}
        return DatedPanel(collected=point["collected"], panel=fields)
    raise TypeError(
        f"interpret_series() takes DatedPanels, (date, Panel) tuples or mappings with "
        f"'collected'; point {position} is a {type(point).__name__}"
    )


_MEASURED = (*(str(m) for m in MARKERS), "creatinine")


def _shown(value: Any) -> str:
    if isinstance(value, Measurement):
        return f"'{value.censor or ''}{value.value:g} {value.unit}'"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return repr(value.value if isinstance(value, StrEnum) else value)


def _merge_day(day: dt.date, items: list[tuple[int, Panel]]) -> Panel:
    """The panels given for one date as one panel (they must not give one field twice)."""
    if len(items) == 1:
        return items[0][1]
    merged: dict[str, Any] = {}
    given_by: dict[str, int] = {}
    for position, panel in items:
        for name in Panel.model_fields:
            value = getattr(panel, name)
            if value is None:
                continue
            if name not in merged:
                merged[name] = value
                given_by[name] = position
                continue
            if name in _MEASURED:
                why = f"two {name} results on {day.isoformat()}"
            elif merged[name] != value:
                why = f"two different {name} values on {day.isoformat()}"
            else:
                continue
            raise InvalidValueError(
                f"{name}: {why}, in the points at positions {given_by[name]} and {position} "
                f"({_shown(merged[name])} and {_shown(value)}); give one per date",
                analyte=name,
                value=day.isoformat(),
            )
    return Panel(**merged)  # checked again as one panel (pregnant and male on one date...)


def _ordered(points: Iterable[Any]) -> list[tuple[dt.date, Panel]]:
    """The points sorted by date, the panels of one date merged into one."""
    if isinstance(points, str | bytes | Mapping | DatedPanel) or not isinstance(points, Iterable):
        raise TypeError(
            "interpret_series() takes an iterable of points (DatedPanels, (date, Panel) "
            f"tuples or mappings with 'collected'), not a {type(points).__name__}"
        )
    by_day: dict[dt.date, list[tuple[int, Panel]]] = {}
    for position, point in enumerate(points):
        dated = _dated(point, position)
        by_day.setdefault(dated.collected, []).append((position, dated.panel))
    return [(day, _merge_day(day, by_day[day])) for day in sorted(by_day)]


# ----------------------------------------------------------------------------- outputs


class AppliedRCV(_Output):
    """The reference change value a change was judged with, and its source."""

    decrease: float = Field(description="Percent: a fall beyond this is significant.")
    increase: float = Field(description="Percent: a rise beyond this is significant.")
    source: str = Field(description="The profile's source key.")
    citation: str
    evidence: Literal["confirmed", "secondary", "unconfirmed"]

    def describe(self) -> str:
        """Short text such as ``'-17.7% / +21%'`` (``'±23.4%'`` when symmetric)."""
        if self.decrease == self.increase:
            return f"±{self.decrease:g}%"
        return f"-{self.decrease:g}% / +{self.increase:g}%"


class SeriesChange(_Output):
    """The change of one marker between two dates.

    Values are in the marker's canonical unit. When either result is censored, the change is
    computed from the bound (``bound`` is True): the real change goes the same way and is at
    least as large.
    """

    analyte: Analyte
    span: Literal["consecutive", "first_to_last"] = Field(
        description="Between two consecutive results of the marker, or its first and last."
    )
    start: dt.date
    end: dt.date
    days: int
    start_value: float
    start_censor: Censor | None = None
    end_value: float
    end_censor: Censor | None = None
    unit: str
    absolute_change: float = Field(description="end_value - start_value, in unit.")
    percent_change: float = Field(description="Change in percent of start_value.")
    bound: bool = Field(description="Computed from a censored bound.")
    direction: ChangeDirection
    verdict: ChangeVerdict
    significant: bool | None = Field(
        description="True beyond the RCV, False within it, None without a verdict "
        "(no RCV, or a censored bound that does not pass it)."
    )
    rcv: AppliedRCV | None = None


class SeriesFinding(_Output):
    """A coded statement about the series, with a plain-language sentence."""

    code: str
    message: str
    analyte: Analyte | None = None
    dates: tuple[dt.date, ...] = Field(
        description="The dates it concerns, in order; the last is where it is observed."
    )


class SeriesPoint(_Output):
    """One date of the series and its own interpretation."""

    collected: dt.date
    on_treatment: bool = Field(
        description="Collected after the treatment start: interpreted as recent treatment."
    )
    interpretation: Interpretation


class SeriesInterpretation(_Output):
    """One patient's results over time: each point's interpretation, the changes of each
    marker, and the series findings. Decision support, not a diagnosis."""

    points: tuple[SeriesPoint, ...]
    changes: tuple[SeriesChange, ...]
    findings: tuple[SeriesFinding, ...]
    treatment_started: dt.date | None = None
    treatment_route: TreatmentRoute | None = None
    profile_id: str
    profile_version: str
    rules_version: int = Field(
        description="Version of the decision rules each point was interpreted with."
    )
    schema_version: str = Field(
        pattern=r"^[0-9]+\.[0-9]+$",
        description="Version of the shape of results (JSON, JSON Schema, batch columns), "
        "'MAJOR.MINOR', as on Interpretation (docs/versioning.md).",
    )
    library_version: str

    @property
    def finding_codes(self) -> tuple[str, ...]:
        """The codes of :attr:`findings`, in order."""
        return tuple(f.code for f in self.findings)

    def changes_of(
        self, analyte: str, span: Literal["consecutive", "first_to_last"] = "consecutive"
    ) -> tuple[SeriesChange, ...]:
        """The changes of one marker (``"b12"``, ``"mma"``...) of one span, in date order."""
        return tuple(c for c in self.changes if c.analyte == analyte and c.span == span)

    def report(self) -> str:
        """A readable report: the points, the changes with their verdicts and the findings
        (what ``b12labs explain --series`` prints)."""
        rows = [
            PointSummary(
                collected=p.collected,
                on_treatment=p.on_treatment,
                status=p.interpretation.status.value,
                markers=tuple(
                    (str(key), m.value, m.censor, m.unit, m.category.value)
                    for key, m in p.interpretation.markers.items()
                ),
            )
            for p in self.points
        ]
        return format_report(
            header=(
                f"b12labs {self.library_version}, profile {self.profile_id} "
                f"{self.profile_version}, rules version {self.rules_version}, schema version "
                f"{self.schema_version}"
            ),
            treatment_started=self.treatment_started,
            treatment_route=self.treatment_route,
            points=rows,
            changes=self.changes,
            findings=self.findings,
        )


# ----------------------------------------------------------------------------- the analysis


@dataclass(frozen=True, slots=True)
class Result:
    """One marker's result at one point: canonical value (the bound if censored), its
    comparator and its category under the profile."""

    value: float
    censor: Censor | None
    category: Category


@dataclass(frozen=True, slots=True)
class PointResults:
    """What the series analysis reads of one point."""

    collected: dt.date
    results: Mapping[str, Result]


@functools.cache
def series_catalog() -> dict[str, str]:
    """The message template of each series finding code (``_data/codes.toml``, [series])."""
    series: dict[str, str] = read_toml("_data/codes.toml")["series"]
    return series


#: Each marker's name within a sentence (the start of a sentence capitalises it).
_SHORT_NAMES: Mapping[str, str] = {
    "b12": "total B12",
    "holotc": "active B12 (holoTC)",
    "mma": "MMA",
    "hcy": "homocysteine",
    "folate": "folate",
}
_CANONICAL: Mapping[str, str] = {
    "b12": "pmol/L",
    "holotc": "pmol/L",
    "mma": "umol/L",
    "hcy": "umol/L",
    "folate": "nmol/L",
}
_FUNCTIONAL = ("mma", "hcy")
_RAISED = frozenset(
    {
        Category.ELEVATED,
        Category.MARKEDLY_ELEVATED,
        Category.MODERATE,
        Category.INTERMEDIATE,
        Category.SEVERE,
    }
)


def _usable(analyte: str, result: Result) -> bool:
    """False for a flagged MMA (decision-spec 7.0): likely a unit slip, never compared."""
    if analyte != "mma" or result.censor in (Censor.LT, Censor.LE):
        return True
    return not result.value > _check_unit_above()


def _equal(x: float, y: float) -> bool:
    """Equal within :data:`TIE_TOLERANCE` (an open bound's infinity equals only itself)."""
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= TIE_TOLERANCE * max(abs(x), abs(y))


def _interval(result: Result) -> tuple[float, float, bool, bool]:
    """(low, high, low open, high open) of the values a result can be."""
    x, censor = result.value, result.censor
    if censor is None:
        return x, x, False, False
    if censor is Censor.LT:
        return 0.0, x, False, True
    if censor is Censor.LE:
        return 0.0, x, False, False
    if censor is Censor.GT:
        return x, math.inf, True, False
    return x, math.inf, False, False  # >=


def _direction(a: Result, b: Result) -> tuple[ChangeDirection, float, float] | None:
    """The proven direction from ``a`` to ``b`` and the values the change is computed from
    (the bounds closest to each other), or None when the direction is not proven."""
    if a.censor is None and b.censor is None:
        if _equal(a.value, b.value):
            return ChangeDirection.UNCHANGED, a.value, b.value
        kind = ChangeDirection.INCREASE if b.value > a.value else ChangeDirection.DECREASE
        return kind, a.value, b.value
    a_low, a_high, a_low_open, a_high_open = _interval(a)
    b_low, b_high, b_low_open, b_high_open = _interval(b)
    # every value b can be lies below every value a can be
    if b_high < a_low and not _equal(b_high, a_low):
        return ChangeDirection.DECREASE, a_low, b_high
    if _equal(b_high, a_low) and (b_high_open or a_low_open):
        return ChangeDirection.DECREASE, a_low, b_high
    if b_low > a_high and not _equal(b_low, a_high):
        return ChangeDirection.INCREASE, a_high, b_low
    if _equal(b_low, a_high) and (b_low_open or a_high_open):
        return ChangeDirection.INCREASE, a_high, b_low
    return None


def _applied(cp: CompiledProfile, analyte: str) -> AppliedRCV | None:
    rcv = cp.rcv.get(analyte)
    if rcv is None:
        return None
    return AppliedRCV(
        decrease=rcv.decrease,
        increase=rcv.increase,
        source=rcv.source,
        citation=cp.profile.sources[rcv.source].citation,
        evidence=rcv.evidence,
    )


def _change(
    analyte: str,
    start: tuple[dt.date, Result],
    end: tuple[dt.date, Result],
    span: Literal["consecutive", "first_to_last"],
    rcv: AppliedRCV | None,
) -> SeriesChange | None:
    (start_day, a), (end_day, b) = start, end
    proven = _direction(a, b)
    if proven is None:
        return None
    direction, x, y = proven
    percent = (y - x) / x * 100.0
    bound = a.censor is not None or b.censor is not None
    verdict: ChangeVerdict
    significant: bool | None
    if rcv is None:
        verdict, significant = ChangeVerdict.RCV_NOT_AVAILABLE, None
    elif direction is ChangeDirection.UNCHANGED:
        verdict, significant = ChangeVerdict.NOT_SIGNIFICANT, False
    else:
        limit = rcv.decrease if direction is ChangeDirection.DECREASE else rcv.increase
        if abs(percent) > limit * (1 + TIE_TOLERANCE):
            verdict, significant = ChangeVerdict.SIGNIFICANT, True
        elif bound:
            verdict, significant = ChangeVerdict.NOT_PROVEN, None
        else:
            verdict, significant = ChangeVerdict.NOT_SIGNIFICANT, False
    return SeriesChange(
        analyte=Analyte(analyte),
        span=span,
        start=start_day,
        end=end_day,
        days=(end_day - start_day).days,
        start_value=a.value,
        start_censor=a.censor,
        end_value=b.value,
        end_censor=b.censor,
        unit=_CANONICAL[analyte],
        absolute_change=y - x,
        percent_change=percent,
        bound=bound,
        direction=direction,
        verdict=verdict,
        significant=significant,
        rcv=rcv,
    )


def _moved(change: SeriesChange) -> str:
    """'fell by 95.6%', 'rose by at least 12.0%'."""
    if change.direction is ChangeDirection.UNCHANGED:
        return "did not change"
    verb = "fell" if change.direction is ChangeDirection.DECREASE else "rose"
    least = "at least " if change.bound else ""
    return f"{verb} by {least}{abs(change.percent_change):.1f}%"


def _finding(
    code: str, analyte: str | None, dates: tuple[dt.date, ...], **words: Any
) -> SeriesFinding:
    name = _SHORT_NAMES.get(analyte or "", "")
    texts = {"analyte": name, "Analyte": name[:1].upper() + name[1:]}
    if dates:
        texts |= {"start": dates[0].isoformat(), "end": dates[-1].isoformat()}
    texts |= {k: v.isoformat() if isinstance(v, dt.date) else str(v) for k, v in words.items()}
    return SeriesFinding(
        code=code,
        message=series_catalog()[code].format(**texts),
        analyte=Analyte(analyte) if analyte else None,
        dates=dates,
    )


def analyse(
    points: Sequence[PointResults],
    cp: CompiledProfile,
    treatment_started: dt.date | None,
    treatment_route: TreatmentRoute | None,
) -> tuple[tuple[SeriesChange, ...], tuple[SeriesFinding, ...]]:
    """The changes and series findings of ``points`` (sorted by date, one per date)."""
    changes: list[SeriesChange] = []
    by_analyte: dict[str, list[tuple[dt.date, Result]]] = {}
    for key in (str(m) for m in MARKERS):
        seq = [
            (p.collected, p.results[key])
            for p in points
            if key in p.results and _usable(key, p.results[key])
        ]
        by_analyte[key] = seq
        if len(seq) < 2:
            continue
        rcv = _applied(cp, key)
        for start, end in itertools.pairwise(seq):
            change = _change(key, start, end, "consecutive", rcv)
            if change is not None:
                changes.append(change)
        overall = _change(key, seq[0], seq[-1], "first_to_last", rcv)
        if overall is not None:
            changes.append(overall)

    found: dict[str, list[SeriesFinding]] = {code: [] for code in series_catalog()}
    started = treatment_started
    responded: set[str] = set()
    if started is not None:
        for key in _FUNCTIONAL:
            before = [(d, r) for d, r in by_analyte[key] if d <= started]
            after = [(d, r) for d, r in by_analyte[key] if d > started]
            if not before or not after:
                continue
            baseline = before[-1]
            rcv = _applied(cp, key)
            for later in after:
                how = _response(key, baseline, later, rcv)
                if how is not None:
                    responded.add(key)
                    found["biochemical_response"].append(
                        _finding(
                            "biochemical_response",
                            key,
                            (baseline[0], later[0]),
                            change=how,
                            treatment_started=started,
                        )
                    )
                    break
            review = cp.review_after
            if review is None or baseline[1].category not in _RAISED:
                continue
            at_review = [(d, r) for d, r in after if review.point((d - started).days) == 1]
            if at_review and _response(key, baseline, at_review[-1], rcv) is None:
                day = at_review[-1][0]
                found["no_biochemical_response_at_review"].append(
                    _finding(
                        "no_biochemical_response_at_review",
                        key,
                        (baseline[0], day),
                        treatment_started=started,
                        days=(day - started).days,
                    )
                )
        if treatment_route is TreatmentRoute.INJECTION:
            for p in points:
                if p.collected > started and "b12" in p.results:
                    found["b12_retested_on_injections"].append(
                        _finding(
                            "b12_retested_on_injections",
                            "b12",
                            (p.collected,),
                            treatment_started=started,
                        )
                    )
    seen: set[tuple[str, dt.date, dt.date]] = set()
    for change in changes:
        key = str(change.analyte)
        if change.verdict is not ChangeVerdict.SIGNIFICANT:
            continue
        if (key, change.start, change.end) in seen:
            continue
        seen.add((key, change.start, change.end))
        explained = (
            key in responded
            and started is not None
            and change.direction is ChangeDirection.DECREASE
            and change.end > started
        )
        if explained:
            continue
        assert change.rcv is not None
        found["significant_change"].append(
            _finding(
                "significant_change",
                key,
                (change.start, change.end),
                change=_moved(change),
                rcv=change.rcv.describe(),
            )
        )
    for key in (str(m) for m in MARKERS):
        without = [c for c in changes if c.analyte == key and c.rcv is None]
        if without:
            span = (min(c.start for c in without), max(c.end for c in without))
            found["rcv_not_available"].append(_finding("rcv_not_available", key, span))
    findings = tuple(f for code in series_catalog() for f in found[code])
    return tuple(changes), findings


def _response(
    analyte: str,
    baseline: tuple[dt.date, Result],
    later: tuple[dt.date, Result],
    rcv: AppliedRCV | None,
) -> str | None:
    """How ``later`` shows a response against ``baseline`` (a significant fall, or raised to
    normal), in words; None when it does not."""
    change = _change(analyte, baseline, later, "consecutive", rcv)
    fell = (
        change is not None
        and change.direction is ChangeDirection.DECREASE
        and change.verdict is ChangeVerdict.SIGNIFICANT
    )
    to_normal = baseline[1].category in _RAISED and later[1].category is Category.NORMAL
    parts = []
    if fell:
        assert change is not None
        assert change.rcv is not None
        parts.append(
            f"{_moved(change)}, beyond its reference change value ({change.rcv.describe()})"
        )
    if to_normal:
        parts.append(f"went from {baseline[1].category.value.replace('_', ' ')} to normal")
    return ", and ".join(parts) if parts else None


# ----------------------------------------------------------------------------- the entry point


def interpret_series(
    points: Iterable[DatedPanel | tuple[Any, Any] | Mapping[str, Any]],
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    treatment_started: dt.date | str | None = None,
    treatment_route: TreatmentRoute | str | None = None,
) -> SeriesInterpretation:
    """Interpret one patient's results over time (decision-spec section 8).

    Each point is a :class:`DatedPanel`, a ``(date, Panel)`` tuple (the panel may be a mapping
    of its fields) or a mapping with ``collected`` and the panel fields::

        interpret_series(
            [
                {"collected": "2024-01-10", "mma": "3850 nmol/L", "hcy": "37.2 umol/L"},
                {"collected": "2024-05-09", "mma": "169 nmol/L", "hcy": "10.6 umol/L"},
            ],
            treatment_started="2024-01-10",
            treatment_route="oral",
        )

    Points are sorted by date; panels of the same date are merged into one point. Each point is
    interpreted on its own with ``profile``; a point collected after ``treatment_started``
    (strictly after: a sample of that day is the baseline) counts as recent treatment. For each
    marker with two or more results, every consecutive pair and first-to-last gives a
    :class:`SeriesChange`, judged against the profile's reference change value. The series
    findings (``biochemical_response``, ``no_biochemical_response_at_review``,
    ``b12_retested_on_injections``, ``significant_change``, ``rcv_not_available``) are listed
    in docs/codes.md. A one-point series holds exactly ``interpret()`` of that panel.

    Args:
        points: the dated panels of one patient, in any order.
        profile: a shipped profile id or a :class:`~b12labs.Profile`.
        treatment_started: the date B12 treatment started (a date or an ISO text), if any.
        treatment_route: ``"oral"`` or ``"injection"``; it matters only with a start date.

    Raises:
        InvalidValueError: two results of one marker on one date (the message names them),
            two different context values on one date, a date that is not a date, a route
            other than oral or injection; and every error :func:`~b12labs.interpret` raises
            for a panel.
        TypeError: ``points`` is not an iterable of points.
        UnknownProfileError, InvalidProfileError: as for :func:`~b12labs.interpret`.
    """
    cp = compiled(profile)
    started = (
        None if treatment_started is None else _as_date(treatment_started, "treatment_started")
    )
    route = _as_route(treatment_route)
    series_points: list[SeriesPoint] = []
    records: list[PointResults] = []
    for collected, panel in _ordered(points):
        on_treatment = started is not None and collected > started
        if on_treatment and panel.recent_b12_treatment is not True:
            panel = panel.model_copy(update={"recent_b12_treatment": True})
        interpretation = _interpret(panel, cp)
        series_points.append(
            SeriesPoint(
                collected=collected, on_treatment=on_treatment, interpretation=interpretation
            )
        )
        records.append(
            PointResults(
                collected=collected,
                results={
                    str(key): Result(m.value, m.censor, m.category)
                    for key, m in interpretation.markers.items()
                },
            )
        )
    changes, findings = analyse(records, cp, started, route)
    return SeriesInterpretation(
        points=tuple(series_points),
        changes=changes,
        findings=findings,
        treatment_started=started,
        treatment_route=route,
        profile_id=cp.profile.id,
        profile_version=cp.profile.version,
        rules_version=RULES_VERSION,
        schema_version=SCHEMA_VERSION,
        library_version=__version__,
    )


@functools.cache
def _schema() -> dict[str, Any]:
    # $id: an identifier, never fetched (the schema is this function's output)
    return _published(SeriesInterpretation.model_json_schema(mode="serialization"), "series")


def series_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a :class:`SeriesInterpretation` as serialized to
    JSON (``model_dump_json``); ``$id`` names the schema version."""
    import copy

    return copy.deepcopy(_schema())


# ----------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class PointSummary:
    """What the report shows of one point: (analyte, value, censor, unit, category) each."""

    collected: dt.date
    on_treatment: bool
    status: str | None
    markers: tuple[tuple[str, float, Censor | None, str, str], ...]
    error: str | None = None


_VERDICT_WORDS: Mapping[ChangeVerdict, str] = {
    ChangeVerdict.SIGNIFICANT: "significant",
    ChangeVerdict.NOT_SIGNIFICANT: "not significant",
    ChangeVerdict.NOT_PROVEN: "not proven (censored bound within the RCV)",
    ChangeVerdict.RCV_NOT_AVAILABLE: "no verdict (no RCV)",
}


def _value(value: float, censor: Censor | None, unit: str) -> str:
    return f"{censor.value if censor else ''}{value:.4g} {unit}"


def format_report(
    *,
    header: str,
    treatment_started: dt.date | None,
    treatment_route: TreatmentRoute | None,
    points: Sequence[PointSummary],
    changes: Sequence[SeriesChange],
    findings: Sequence[SeriesFinding],
) -> str:
    """The text of a series report (shared by :meth:`SeriesInterpretation.report` and the
    command line)."""
    lines = [header, ""]
    if treatment_started is not None:
        route = f" ({treatment_route.value})" if treatment_route is not None else ""
        lines += [f"Treatment started {treatment_started.isoformat()}{route}.", ""]
    lines.append(f"Points ({len(points)}):")
    for p in points:
        mark = " [on treatment]" if p.on_treatment else ""
        status = p.status if p.status is not None else f"error: {p.error}"
        lines.append(f"  {p.collected.isoformat()}  {status}{mark}")
        for key, value, censor, unit, category in p.markers:
            lines.append(f"      {key:<7} {_value(value, censor, unit):<16} {category}")
    shown = [
        c
        for c in changes
        if c.span == "consecutive"
        or not any(
            o.span == "consecutive" and (o.analyte, o.start, o.end) == (c.analyte, c.start, c.end)
            for o in changes
        )
    ]
    lines += ["", "Changes:" if shown else "Changes: none (fewer than two comparable results)"]
    for c in shown:
        span = "first to last " if c.span == "first_to_last" else ""
        rcv = f"; RCV {c.rcv.describe()} ({c.rcv.source})" if c.rcv is not None else ""
        lines.append(
            f"  {c.analyte!s:<7} {span}{c.start.isoformat()} -> {c.end.isoformat()} "
            f"({c.days} days): {_value(c.start_value, c.start_censor, c.unit)} -> "
            f"{_value(c.end_value, c.end_censor, c.unit)}, {_moved(c)}: "
            f"{_VERDICT_WORDS[c.verdict]}{rcv}"
        )
    lines += ["", "Series findings:" if findings else "Series findings: none"]
    lines += [f"  - [{f.code}] {f.message}" for f in findings]
    lines += ["", "Decision support, not a diagnosis."]
    return "\n".join(lines)
