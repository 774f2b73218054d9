"""Figures of b12labs results with matplotlib (install with ``pip install "b12labs[plot]"``).

* :func:`panel` draws one patient's :class:`~b12labs.Interpretation`: a horizontal bar per
  marker for its reference interval, the profile's other zones shaded around it, and the
  patient's value marked and labelled with its category.
* :func:`cohort` draws a frame scored by :func:`b12labs.interpret_frame`: B12 against MMA,
  coloured by status, with the profile's B12 and MMA thresholds as lines.
* :func:`series` draws a :class:`~b12labs.SeriesInterpretation`: each marker over time with
  its reference interval, the reference change value band around each result and the
  treatment start.

Both build on matplotlib's object API (:class:`matplotlib.figure.Figure`), never on pyplot's
global state: they return the Figure, which can be saved with ``fig.savefig(...)``. Give
``ax=`` to draw into an existing Axes (its figure is returned). ``import b12labs`` never
imports this module or matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

try:
    from matplotlib.figure import Figure, SubFigure
    from matplotlib.ticker import FuncFormatter, NullFormatter
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        'b12labs.plot needs matplotlib; install it with: pip install "b12labs[plot]"'
    ) from exc

from ._analytes import MARKERS, Analyte
from ._exceptions import ColumnError, InvalidValueError
from ._models import Category, Censor, Interpretation, MarkerAssessment, Status
from ._profile import (
    DEFAULT_PROFILE,
    CompiledProfile,
    Profile,
    compiled,
    get_profile,
    list_profiles,
)
from ._units import convert

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from ._series import SeriesInterpretation

__all__ = ["CATEGORY_COLORS", "STATUS_COLORS", "cohort", "panel", "series"]

#: The colour of each status in :func:`cohort` (fixed, so figures compare across cohorts).
STATUS_COLORS: Mapping[Status, str] = MappingProxyType(
    {
        Status.DEFICIENCY_LIKELY: "#d62728",
        Status.BORDERLINE: "#ff7f0e",
        Status.NOT_INDICATED: "#2ca02c",
        Status.INSUFFICIENT_DATA: "#7f7f7f",
    }
)

#: The colour of each marker category in :func:`panel` (the reference interval is NORMAL).
CATEGORY_COLORS: Mapping[Category, str] = MappingProxyType(
    {
        Category.LOW: "#d62728",
        Category.INDETERMINATE: "#ffbf00",
        Category.NORMAL: "#2ca02c",
        Category.ABOVE_REFERENCE: "#6baed6",
        Category.ELEVATED: "#ff7f0e",
        Category.MARKEDLY_ELEVATED: "#d62728",
        Category.MODERATE: "#ffbf00",
        Category.INTERMEDIATE: "#ff7f0e",
        Category.SEVERE: "#d62728",
        Category.UNCLASSIFIABLE: "#7f7f7f",
    }
)

_NAMES: Mapping[str, str] = MappingProxyType(
    {"b12": "B12", "holotc": "holoTC", "mma": "MMA", "hcy": "Homocysteine", "folate": "Folate"}
)
# Value markers: a circle for an exact result, a caret pointing the way a censored one opens.
_CENSOR_MARKERS: Mapping[Censor | None, str] = MappingProxyType(
    {None: "o", Censor.LT: "<", Censor.LE: "<", Censor.GT: ">", Censor.GE: ">"}
)
_BAR_HEIGHT = 0.5
_PAD = 3.0  # the x-axis reaches this factor beyond the smallest and largest number drawn


def panel(interpretation: Interpretation, *, ax: Axes | None = None) -> Figure:
    """Draw one interpretation: each marker against its reference interval.

    One horizontal bar per marker present (in result order, top to bottom) spans the
    marker's reference interval converted to the marker's canonical unit, so that everything
    on a row is in that unit (shown in the row's label). Rows share a logarithmic x-axis,
    since the markers' units differ by orders of magnitude. An open-ended interval (such as
    MMA ``≤ 0.46 umol/L``) runs to the edge of the axis.

    The patient's value is marked with a black circle, or, when censored, with a caret
    pointing the way the result is open (``<`` or ``>``); its annotation gives the value with
    its comparator and the category (``"<73.78 pmol/L: low"``). When the result was
    interpreted with a shipped profile (see :func:`b12labs.list_profiles`), the profile's
    other categories are shaded around the bar (low and indeterminate for B12, elevated and
    markedly elevated for MMA...); a row whose reference interval does not match the shipped
    profile (a laboratory's own profile under a shipped id) is left unshaded.

    The title names the status and the profile: ``"deficiency_likely — nice-ng239 1.0"``.

    Args:
        interpretation: a result of :func:`b12labs.interpret`.
        ax: the Axes to draw into; by default a new Figure with one Axes is made.

    Returns:
        The Figure drawn on (``ax``'s root figure when ``ax`` is given).
    """
    if ax is None:
        rows = max(len(interpretation.markers), 1)
        figure = Figure(figsize=(9.0, 1.6 + 0.9 * rows), layout="constrained")
        ax = figure.add_subplot()
    else:
        figure = _root_figure(ax)
    markers = list(interpretation.markers.items())
    cp = _shipped_compiled(interpretation)

    rows_drawn: list[tuple[float | None, float | None]] = []
    zones_by_row: list[list[tuple[Category, float, float | None]]] = []
    numbers: list[float] = []
    for key, marker in markers:
        low, high = _interval_bounds(key, marker)
        rows_drawn.append((low, high))
        numbers += [v for v in (low, high, marker.value) if v is not None]
        zones = _zones(cp, key, marker, interpretation.patient.age)
        zones_by_row.append(zones)
        numbers += [start for _, start, _ in zones if start > 0]
    if numbers:
        x_min, x_max = min(numbers) / _PAD, max(numbers) * _PAD
    else:
        x_min, x_max = 0.1, 1000.0
    ax.set_xscale("log")
    _plain_log_ticks(ax, "x", minor=False)
    ax.set_xlim(x_min, x_max)

    seen: set[str] = set()

    def once(label: str) -> str:
        # a legend entry per kind of thing, however many rows draw it
        if label in seen:
            return f"_{label}"
        seen.add(label)
        return label

    # One legend entry per zone colour, naming the categories drawn in it.
    by_colour: dict[str, list[str]] = {}
    for zones in zones_by_row:
        for category, _, _ in zones:
            names = by_colour.setdefault(CATEGORY_COLORS[category], [])
            if category.value.replace("_", " ") not in names:
                names.append(category.value.replace("_", " "))
    for y, ((key, _), zones) in enumerate(zip(markers, zones_by_row, strict=True)):
        for category, start, end in zones:
            left = max(start, x_min)
            right = x_max if end is None else end
            if right <= left:
                continue
            ax.broken_barh(
                [(left, right - left)],
                (y - _BAR_HEIGHT / 2, _BAR_HEIGHT),
                facecolors=CATEGORY_COLORS[category],
                alpha=0.3,
                label=once(", ".join(by_colour[CATEGORY_COLORS[category]])),
                gid=f"b12labs-zone-{key}-{category}",
            )
    if markers:
        lefts = [x_min if low is None else low for low, _ in rows_drawn]
        rights = [x_max if high is None else high for _, high in rows_drawn]
        bars = ax.barh(
            list(range(len(markers))),
            [right - left for left, right in zip(lefts, rights, strict=True)],
            left=lefts,
            height=_BAR_HEIGHT,
            color=CATEGORY_COLORS[Category.NORMAL],
            alpha=0.8,
            label="reference interval",
            gid="b12labs-reference-intervals",
        )
        for bar, (key, _) in zip(bars.patches, markers, strict=True):
            bar.set_gid(f"b12labs-reference-{key}")

    for y, (key, marker) in enumerate(markers):
        censor = marker.censor.value if marker.censor is not None else ""
        label = f"{censor}{marker.value:.4g} {marker.unit}: {marker.category.value}"
        ax.plot(
            [marker.value],
            [y],
            linestyle="none",
            marker=_CENSOR_MARKERS[marker.censor],
            markersize=11,
            color="black",
            label=once("censored result" if censor else "patient result"),
            gid=f"b12labs-value-{key}",
        )
        ax.annotate(
            label,
            (marker.value, y - _BAR_HEIGHT / 2),  # just above the bar (the y-axis is inverted)
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="small",
            gid=f"b12labs-label-{key}",
        )

    ax.set_yticks(
        list(range(len(markers))),
        [
            f"{_NAMES.get(key, key)} ({marker.unit})\nnormal {marker.reference_interval.text}"
            for key, marker in markers
        ],
    )
    ax.set_ylim(len(markers) - 0.5 if markers else 0.5, -0.7)  # first marker on top
    ax.set_xlabel("result, in the unit of its row (log scale)")
    ax.set_title(
        f"{interpretation.status.value} — "
        f"{interpretation.profile_id} {interpretation.profile_version}"
    )
    if not markers:
        ax.text(0.5, 0.5, "no marker results", transform=ax.transAxes, ha="center")
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return figure


def cohort(
    scored: pd.DataFrame,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    ax: Axes | None = None,
    log: bool = True,
) -> Figure:
    """Scatter B12 against MMA for a scored cohort, coloured by status.

    ``scored`` is a frame returned by :func:`b12labs.interpret_frame` (or
    ``df.b12labs.interpret()``) from data with B12 and MMA columns. Each row with both
    ``b12labs_b12_value`` (x, pmol/L) and ``b12labs_mma_value`` (y, umol/L) and a status is
    one point; rows missing either value, or without a status (rows that could not be
    interpreted), are skipped (so are values that are not positive, on log axes: b12labs
    never gives such values). Censored results are drawn at their bound. Each status present
    is one scatter collection in its fixed colour (:data:`STATUS_COLORS`), in the order of
    :class:`~b12labs.Status`, with a legend giving the counts.

    ``profile`` should be the profile the frame was scored with: its B12 low and
    indeterminate thresholds are drawn as vertical lines (converted to pmol/L) and its MMA
    elevated and markedly elevated thresholds as horizontal lines (converted to umol/L).
    When the MMA limit depends on age (nice-ng239: 0.40 umol/L, and 0.46 umol/L from age
    65), each limit is drawn and labelled with its ages (gid ``b12labs-mma-elevated`` for
    the default limit, ``b12labs-mma-elevated-from-65`` for the limit from 65): each point
    was classified against the limit of its patient's age.

    Args:
        scored: the output of :func:`b12labs.interpret_frame`. Not modified.
        profile: a shipped profile id or a :class:`~b12labs.Profile`.
        ax: the Axes to draw into; by default a new Figure with one Axes is made.
        log: logarithmic axes (the default); ``False`` for linear ones.

    Returns:
        The Figure drawn on (``ax``'s root figure when ``ax`` is given).

    Raises:
        ColumnError: ``scored`` lacks ``b12labs_status``, ``b12labs_b12_value`` or
            ``b12labs_mma_value``.
        UnknownProfileError: no shipped profile has that id.
    """
    needed = ("b12labs_status", "b12labs_b12_value", "b12labs_mma_value")
    missing = [name for name in needed if name not in scored.columns]
    if missing:
        raise ColumnError(
            f"cohort() needs the columns {', '.join(needed)} of a frame returned by "
            f"b12labs.interpret_frame() from data with B12 and MMA results; missing: "
            f"{', '.join(missing)}",
            value=missing[0],
        )
    prof = get_profile(profile) if isinstance(profile, str) else profile
    if ax is None:
        figure = Figure(figsize=(7.5, 5.5), layout="constrained")
        ax = figure.add_subplot()
    else:
        figure = _root_figure(ax)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_ticks(ax, "x", minor=True)
        _plain_log_ticks(ax, "y", minor=True)

    status = scored["b12labs_status"].to_numpy(dtype=object)
    x = scored["b12labs_b12_value"].to_numpy(dtype=float, na_value=math.nan)
    y = scored["b12labs_mma_value"].to_numpy(dtype=float, na_value=math.nan)
    both = [
        math.isfinite(a) and math.isfinite(b) and (not log or (a > 0 and b > 0))
        for a, b in zip(x, y, strict=True)
    ]
    plotted = 0
    for state in Status:
        rows = [i for i, (s, ok) in enumerate(zip(status, both, strict=True)) if ok and s == state]
        if not rows:
            continue
        plotted += len(rows)
        ax.scatter(
            x[rows],
            y[rows],
            s=22,
            color=STATUS_COLORS[state],
            alpha=0.75,
            edgecolors="none",
            label=f"{state.value} (n={len(rows)})",
            gid=f"b12labs-status-{state.value}",
        )

    # The MMA limit can depend on age (nice-ng239: 0.46 umol/L from 65): the default line is
    # for patients below the first age band (and of unknown age), one line per band above it.
    by_age = sorted(prof.mma.elevated_by_age, key=lambda t: t.from_age)
    default_ages = f" (under {by_age[0].from_age:g}, or age unknown)" if by_age else ""
    lines: list[tuple[str, str, Any, str, str, str]] = [
        ("b12", "low", prof.b12.low, "pmol/L", "--", ""),
        ("b12", "indeterminate", prof.b12.indeterminate, "pmol/L", ":", ""),
        ("mma", "elevated", prof.mma.elevated, "umol/L", "--", default_ages),
    ]
    for i, band in enumerate(by_age):
        upper = by_age[i + 1].from_age if i + 1 < len(by_age) else None
        ages = f"{band.from_age:g} and over" if upper is None else f"{band.from_age:g} to {upper:g}"
        lines.append(
            ("mma", f"elevated-from-{band.from_age:g}", band, "umol/L", ":", f" (age {ages})")
        )
    lines.append(("mma", "markedly_elevated", prof.mma.markedly_elevated, "umol/L", "-.", ""))
    at_b12: list[float] = []
    at_mma: list[float] = []
    for key, name, threshold, unit, style, ages in lines:
        at = convert(threshold.value, threshold.unit, unit, analyte=key)
        (at_b12 if key == "b12" else at_mma).append(at)
        shown = f" = {at:.4g} {unit}" if threshold.unit != unit else ""
        kind = "elevated" if name.startswith("elevated") else name.replace("_", " ")
        label = f"{_NAMES[key]} {kind}{ages}: {threshold.describe()}{shown}"
        draw = ax.axvline if key == "b12" else ax.axhline
        draw(
            at,
            color="0.3",
            linestyle=style,
            linewidth=1.0,
            label=label,
            gid=f"b12labs-{key}-{name}",
        )

    # axvline and axhline leave the other axis' limits alone: keep every line in view.
    ax.update_datalim([(min(at_b12), min(at_mma)), (max(at_b12), max(at_mma))])
    ax.autoscale_view()
    ax.set_xlabel("B12 (pmol/L)")
    ax.set_ylabel("MMA (umol/L)")
    ax.set_title(
        f"B12 and MMA by status — {prof.id} {prof.version}\n"
        f"{plotted} of {len(scored)} rows have both values and a status"
    )
    ax.legend(loc="best", fontsize="small")
    return figure


# ----------------------------------------------------------------------------- helpers


def _plain_log_ticks(ax: Axes, which: str, *, minor: bool) -> None:
    """Label a log axis with plain numbers (0.4, 200) rather than powers of ten; with
    ``minor``, also label the 2s and 5s between the powers of ten."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_formatter(FuncFormatter(_plain))
    axis.set_minor_formatter(FuncFormatter(_twos_and_fives) if minor else NullFormatter())


def _plain(value: float, _position: int | None = None) -> str:
    return f"{value:g}"


def _twos_and_fives(value: float, _position: int | None = None) -> str:
    if value <= 0:
        return ""
    mantissa = value / 10 ** math.floor(math.log10(value))
    return f"{value:g}" if round(mantissa, 6) in (2.0, 5.0) else ""


def _root_figure(ax: Axes) -> Figure:
    parent = ax.figure
    return parent.figure if isinstance(parent, SubFigure) else parent


def _shipped_compiled(interpretation: Interpretation) -> CompiledProfile | None:
    """The shipped profile the result names, if it is one (same id and version)."""
    if interpretation.profile_id not in list_profiles():  # a laboratory's own profile
        return None
    cp = compiled(interpretation.profile_id)
    return cp if cp.profile.version == interpretation.profile_version else None


def _interval_bounds(key: str, marker: MarkerAssessment) -> tuple[float | None, float | None]:
    """The reference interval's bounds converted to the marker's canonical unit."""
    interval = marker.reference_interval
    unit = interval.unit or marker.unit

    def canonical(value: float | None) -> float | None:
        if value is None:
            return None
        return convert(value, unit, marker.unit, analyte=key)

    return canonical(interval.low), canonical(interval.high)


def _zones(
    cp: CompiledProfile | None, key: str, marker: MarkerAssessment, age: float | None
) -> list[tuple[Category, float, float | None]]:
    """The profile's non-normal categories on this row: (category, start, end or None).

    Starts and ends are in the canonical unit; the first zone starts at 0 and ``None``
    ends the last one at the edge of the axis. Empty unless ``cp`` is the profile that gave
    the marker's reference interval.
    """
    if cp is None:
        return []
    band = cp.mma_band(age) if key == "mma" else 0
    if cp.intervals.get((key, band)) != marker.reference_interval:
        return []
    cuts = cp.cuts_for(key, band)
    bounds = [convert(t.value, t.unit, marker.unit, analyte=key) for t in cuts.thresholds]
    starts: list[float] = [0.0, *bounds]
    ends: list[float | None] = [*bounds, None]
    return [
        (category, start, end)
        for category, start, end in zip(cuts.categories, starts, ends, strict=True)
        if isinstance(category, Category) and category is not Category.NORMAL
    ]


# ----------------------------------------------------------------------------- series

_RCV_COLOR = "#9467bd"
_TREATMENT_COLOR = "#1f77b4"
_SIGNIFICANT_COLOR = "#d62728"


def series(series_result: SeriesInterpretation, *, analytes: Sequence[str] | None = None) -> Figure:
    """Draw results over time: one row of axes per marker, sharing the date axis.

    On each row (the marker's canonical unit, logarithmic): the reference interval of each
    point shaded (one band when every point has the same interval, a step band otherwise), the
    results joined in date order (a circle for an exact result, a caret for a censored one,
    as in :func:`panel`), consecutive changes judged significant drawn in red, and around each
    result its reference change value band: the range a next result must leave for the change
    to be significant (from the profile's RCV; no band for a marker without one, such as
    holoTC). A dashed vertical line marks the treatment start, when one was given.

    gids: ``b12labs-reference-<m>``, ``b12labs-line-<m>``, ``b12labs-value-<m>-<date>``,
    ``b12labs-rcv-<m>``, ``b12labs-significant-<m>-<start>-<end>``,
    ``b12labs-treatment-<m>`` (dates in ISO form).

    Args:
        series_result: a result of :func:`b12labs.interpret_series`.
        analytes: the markers to draw, in order (default: every marker with a result, in
            result order).

    Returns:
        A new Figure (matplotlib's object API; pyplot's global state is never touched).

    Raises:
        InvalidValueError: an analyte in ``analytes`` that is not a marker.
    """
    import matplotlib.dates as mdates

    present = [
        str(m)
        for m in MARKERS
        if any(str(m) in p.interpretation.markers for p in series_result.points)
    ]
    keys = present if analytes is None else [str(a) for a in analytes]
    unknown = [k for k in keys if k not in _NAMES]
    if unknown:
        raise InvalidValueError(
            f"series(): {unknown[0]!r} is not a marker; markers: {', '.join(_NAMES)}",
            analyte=unknown[0],
            value=unknown[0],
        )
    rows = max(len(keys), 1)
    figure = Figure(figsize=(8.5, 1.0 + 2.4 * rows), layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    rcvs = _series_rcvs(series_result)
    started = series_result.treatment_started
    for ax, key in zip(axes, keys, strict=False):
        analyte = Analyte(key)
        points = [
            (p.collected, p.interpretation.markers[analyte])
            for p in series_result.points
            if analyte in p.interpretation.markers
        ]
        unit = points[0][1].unit if points else ""
        ax.set_yscale("log")
        _plain_log_ticks(ax, "y", minor=True)
        ax.set_ylabel(f"{_NAMES[key]} ({unit})" if unit else _NAMES[key])
        if not points:
            ax.text(0.5, 0.5, "no results", transform=ax.transAxes, ha="center")
            continue
        days = [day for day, _ in points]
        values = [marker.value for _, marker in points]
        rcv = rcvs.get(key)
        low_band = [v * (1 - rcv[0] / 100) for v in values] if rcv else values
        high_band = [v * (1 + rcv[1] / 100) for v in values] if rcv else values
        bounds = [_interval_bounds(key, marker) for _, marker in points]
        numbers = [*values, *low_band, *high_band]
        numbers += [b for pair in bounds for b in pair if b is not None and b > 0]
        y_min, y_max = min(numbers) / 1.6, max(numbers) * 1.6
        ax.set_ylim(y_min, y_max)

        lows = [y_min if low is None else low for low, _ in bounds]
        highs = [y_max if high is None else high for _, high in bounds]
        interval = points[-1][1].reference_interval.text
        if len(set(zip(lows, highs, strict=True))) == 1:
            ax.axhspan(
                lows[0],
                highs[0],
                color=CATEGORY_COLORS[Category.NORMAL],
                alpha=0.18,
                label=f"reference interval ({interval})",
                gid=f"b12labs-reference-{key}",
            )
        else:
            ax.fill_between(
                days,
                lows,
                highs,
                step="mid",
                color=CATEGORY_COLORS[Category.NORMAL],
                alpha=0.18,
                label="reference interval of each result",
                gid=f"b12labs-reference-{key}",
            )
        if rcv:
            ax.vlines(
                days,
                low_band,
                high_band,
                colors=_RCV_COLOR,
                linewidth=7,
                alpha=0.35,
                label=f"RCV band (-{rcv[0]:g}% / +{rcv[1]:g}%)",
                gid=f"b12labs-rcv-{key}",
            )
        ax.plot(days, values, color="0.45", linewidth=1.2, gid=f"b12labs-line-{key}")
        for change in series_result.changes_of(key):
            if change.verdict.value != "significant":
                continue
            ax.plot(
                [change.start, change.end],
                [change.start_value, change.end_value],
                color=_SIGNIFICANT_COLOR,
                linewidth=2.2,
                label="significant change",
                gid=f"b12labs-significant-{key}-{change.start.isoformat()}-{change.end.isoformat()}",
            )
        for day, marker in points:
            ax.plot(
                [day],
                [marker.value],
                linestyle="none",
                marker=_CENSOR_MARKERS[marker.censor],
                markersize=8,
                color="black",
                label="censored result" if marker.censor else "result",
                gid=f"b12labs-value-{key}-{day.isoformat()}",
            )
        if started is not None:
            route = series_result.treatment_route
            ax.axvline(
                started,
                color=_TREATMENT_COLOR,
                linestyle="--",
                linewidth=1.2,
                label="treatment started" + (f" ({route.value})" if route else ""),
                gid=f"b12labs-treatment-{key}",
            )
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))  # one entry per kind of thing
        ax.legend(
            unique.values(),
            unique.keys(),
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="small",
        )
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    )
    axes[-1].set_xlabel("collection date")
    axes[0].set_title(
        f"Results over time — {series_result.profile_id} {series_result.profile_version}"
    )
    return figure


def _series_rcvs(series_result: SeriesInterpretation) -> dict[str, tuple[float, float]]:
    """The (decrease, increase) RCV of each marker: the one its changes were judged with, or
    the shipped profile's when the series has no change of that marker."""
    out: dict[str, tuple[float, float]] = {}
    for change in series_result.changes:
        if change.rcv is not None:
            out.setdefault(str(change.analyte), (change.rcv.decrease, change.rcv.increase))
    if series_result.profile_id in list_profiles():
        cp = compiled(series_result.profile_id)
        if cp.profile.version == series_result.profile_version:
            for key, rcv in cp.rcv.items():
                out.setdefault(key, (rcv.decrease, rcv.increase))
    return out
