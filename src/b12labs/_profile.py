"""Threshold profiles: the data model, loading, validation and compilation.

A profile is data (``_profiles/*.toml``, or a laboratory's own JSON/TOML) validated by
pydantic and compiled once into :class:`Cuts`: boundaries converted to the analyte's
canonical unit, each with the side its own value belongs to. One ``Cuts`` object serves
both the scalar path (:meth:`Cuts.point`) and the vectorized path (:meth:`Cuts.point_array`),
so the two can never disagree about a threshold.
"""

from __future__ import annotations

import contextvars
import functools
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from ._data_files import read_toml
from ._exceptions import B12LabsError, InvalidProfileError, UnitError, UnknownProfileError, brief
from ._models import PYDANTIC_API, Category, PydanticAPI, ReferenceInterval
from ._units import LOCK, canonical_factor

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEFAULT_PROFILE",
    "CompiledProfile",
    "Cuts",
    "Profile",
    "ReferenceChangeValue",
    "ReferenceChangeValues",
    "Source",
    "Threshold",
    "compiled",
    "get_profile",
    "list_profiles",
    "load_profile",
]

DEFAULT_PROFILE = "nice-ng239"
_SHIPPED = ("nice-ng239", "mayo-cascade", "labcorp-cascade", "population-survey")

#: Values within this relative distance of a threshold count as equal to it, so that a value
#: equal to a threshold in any spelling of an equivalent unit (180 pg/mL vs 180 ng/L, 0.378
#: umol/L vs 378 nmol/L) classifies as the source says despite floating-point conversion.
#: Laboratory results carry at most 4 to 5 significant digits, far coarser than this.
TIE_TOLERANCE = 1e-9

Evidence = Literal["confirmed", "secondary", "unconfirmed"]
Edge = Literal["below", "up_to", "above", "from"]


class _Strict(PydanticAPI):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, defer_build=True)

    def __init__(self, /, **data: Any) -> None:
        # Built directly (Profile(...), Threshold(...)): b12labs errors, never pydantic's.
        # pydantic calls this __init__ for nested models and from model_validate too: there,
        # errors stay ValidationErrors so that the outermost call reports their full path.
        if _VALIDATING.get():
            super().__init__(**data)
            return
        token = _VALIDATING.set(True)
        if PYDANTIC_API.get():
            api = PYDANTIC_API.set(False)
            try:
                super().__init__(**data)
            finally:
                PYDANTIC_API.reset(api)
                _VALIDATING.reset(token)
            return
        name = type(self).__name__
        lead = f"profile {brief(data['id'])}" if "id" in data else f"{name}()"
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _profile_error(exc, lead) from None
        except RecursionError:
            raise InvalidProfileError(f"{lead} is nested too deeply") from None
        finally:
            _VALIDATING.reset(token)


#: Set while pydantic validates profile data (see _Strict.__init__).
_VALIDATING: contextvars.ContextVar[bool] = contextvars.ContextVar("validating", default=False)
#: Set while a shipped profile is loaded: its own id is not refused as reserved.
_LOADING_SHIPPED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "loading_shipped", default=False
)


class Source(_Strict):
    """A citation that thresholds refer to by key."""

    citation: str = Field(min_length=1)
    url: str | None = None


class Threshold(_Strict):
    """One number of a profile: exactly one edge, its unit and its source.

    ``below`` (strictly below) and ``up_to`` (up to and including) bound a category from
    above; ``above`` (strictly above) and ``from`` (from, included) bound it from below.
    """

    below: float | None = None
    up_to: float | None = None
    above: float | None = None
    from_: float | None = Field(default=None, alias="from")
    unit: str = Field(min_length=1)
    source: str = Field(min_length=1)
    evidence: Evidence = "unconfirmed"
    note: str | None = None

    @property
    def edge(self) -> Edge:
        """Which of ``below``, ``up_to``, ``above``, ``from`` this threshold gives."""
        given = [e for e, v in self._edges() if v is not None]
        return given[0]

    @property
    def value(self) -> float:
        """The number of the threshold, in :attr:`unit`."""
        return next(v for _, v in self._edges() if v is not None)

    @property
    def equal_goes_up(self) -> bool:
        """True when a value equal to the threshold belongs to the category above it."""
        return self.edge in ("below", "from")

    def describe(self) -> str:
        """Short text such as ``'below 180 ng/L'``."""
        words = {"below": "below", "up_to": "up to", "above": "above", "from": "from"}
        unit = "" if self.unit == "1" else f" {self.unit}"
        return f"{words[self.edge]} {self.value:g}{unit}"

    def _edges(self) -> tuple[tuple[Edge, float | None], ...]:
        return (
            ("below", self.below),
            ("up_to", self.up_to),
            ("above", self.above),
            ("from", self.from_),
        )

    def model_post_init(self, context: Any, /) -> None:
        given = [e for e, v in self._edges() if v is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of below, up_to, above, from (got {given or 'none'})"
            )
        if not math.isfinite(self.value):
            raise ValueError("the threshold must be a finite number")


class AgeThreshold(Threshold):
    """A threshold that replaces the default from ``from_age`` (years, inclusive) upwards."""

    from_age: float = Field(ge=0, le=130)


class FirstLineThresholds(_Strict):
    """Total B12 or holoTC: low, indeterminate (upper edge), optional above-reference."""

    low: Threshold
    indeterminate: Threshold
    above_reference: Threshold | None = None


class MMAThresholds(_Strict):
    """Methylmalonic acid: elevated (optionally by age) and markedly elevated."""

    elevated: Threshold
    elevated_by_age: tuple[AgeThreshold, ...] = ()
    markedly_elevated: Threshold


class HcyThresholds(_Strict):
    """Total homocysteine: elevated (start of the moderate band), intermediate, severe."""

    elevated: Threshold
    intermediate: Threshold
    severe: Threshold


class FolateThresholds(_Strict):
    """Serum folate: low."""

    low: Threshold


class RenalThresholds(_Strict):
    """Renal impairment by eGFR (mL/min/1.73m2)."""

    impaired: Threshold


class CB12Thresholds(_Strict):
    """Lower edges of the cB12 bands above "probable deficiency"."""

    possible_deficiency: Threshold
    low: Threshold
    adequate: Threshold
    elevated: Threshold


class ReferenceChangeValue(_Strict):
    """A reference change value (RCV) of one analyte: how far, in percent of the earlier
    result, a later result of the same person must move before the change is more than the
    test's analytical and within-person biological variation (95%, two-sided).

    ``decrease`` and ``increase`` are percentages (``17.7`` means 17.7%); they may differ
    (log-normal RCVs are asymmetric). A change is significant when it lies strictly beyond
    the limit of its direction. RCVs depend on the laboratory's own analytical variation, so
    a laboratory profile may replace them (decision-spec section 8).
    """

    decrease: float = Field(gt=0, lt=100, allow_inf_nan=False)
    increase: float = Field(gt=0, allow_inf_nan=False)
    source: str = Field(min_length=1)
    evidence: Evidence = "unconfirmed"
    note: str | None = None

    def describe(self) -> str:
        """Short text such as ``'-17.7% / +21%'`` (or ``'±23.4%'`` when symmetric)."""
        if self.decrease == self.increase:
            return f"±{self.decrease:g}%"
        return f"-{self.decrease:g}% / +{self.increase:g}%"


class ReferenceChangeValues(_Strict):
    """The reference change value of each marker; None where no RCV is known (holoTC has no
    published one), in which case changes are reported without a significance verdict."""

    b12: ReferenceChangeValue | None = None
    holotc: ReferenceChangeValue | None = None
    mma: ReferenceChangeValue | None = None
    hcy: ReferenceChangeValue | None = None
    folate: ReferenceChangeValue | None = None


class Profile(_Strict):
    """A named, versioned set of thresholds, each with its citation."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = ""
    intended_use: Literal["clinical", "research"] = Field(
        default="clinical",
        description="'clinical' (one patient's care) or 'research' (population analyses): "
        "results of a research profile carry the finding 'research_profile'.",
    )
    applies_from_age: Threshold | None = None
    sources: dict[str, Source]
    b12: FirstLineThresholds
    holotc: FirstLineThresholds
    mma: MMAThresholds
    hcy: HcyThresholds
    folate: FolateThresholds
    renal: RenalThresholds
    cb12: CB12Thresholds
    rcv: ReferenceChangeValues = Field(
        default_factory=ReferenceChangeValues,
        description="Reference change values of the markers, for results over time "
        "(decision-spec section 8).",
    )
    review_after_treatment: Threshold | None = Field(
        default=None,
        description="Days after treatment started from which a result counts as taken at the "
        "treatment review (``from``, in 'days'); None: no review is judged.",
    )

    _compiled: CompiledProfile | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _not_a_shipped_id(self) -> Profile:
        if not _LOADING_SHIPPED.get():
            check_reserved_id(self)
        return self

    def thresholds(self) -> dict[str, Threshold]:
        """Every threshold of the profile keyed by its dotted path (``"b12.low"``...)."""
        out: dict[str, Threshold] = {}
        if self.applies_from_age is not None:
            out["applies_from_age"] = self.applies_from_age
        for group in ("b12", "holotc", "mma", "hcy", "folate", "renal", "cb12"):
            block = getattr(self, group)
            for name in type(block).model_fields:
                item = getattr(block, name)
                if isinstance(item, Threshold):
                    out[f"{group}.{name}"] = item
                elif isinstance(item, tuple):
                    for i, sub in enumerate(item):
                        out[f"{group}.{name}[{i}]"] = sub
        if self.review_after_treatment is not None:
            out["review_after_treatment"] = self.review_after_treatment
        return out

    def reference_change_values(self) -> dict[str, ReferenceChangeValue]:
        """Every reference change value of the profile keyed by its dotted path
        (``"rcv.b12"``...); markers without one are left out."""
        return {
            f"rcv.{name}": rcv
            for name in type(self.rcv).model_fields
            if (rcv := getattr(self.rcv, name)) is not None
        }


# ----------------------------------------------------------------------------- compiled form


class Cuts:
    """Ordered boundaries on one scale, compiled to canonical units.

    ``categories[i]`` lies between boundary ``i-1`` and boundary ``i``. A value equal to a
    boundary (within :data:`TIE_TOLERANCE`) goes to the side its threshold says.
    """

    __slots__ = ("_edges", "categories", "lower_edges", "thresholds", "up", "upper_edges")

    def __init__(
        self,
        categories: tuple[Any, ...],
        bounds: tuple[float, ...],
        thresholds: tuple[Threshold, ...],
    ) -> None:
        self.categories = categories
        self.thresholds = thresholds
        self.lower_edges = tuple(b - abs(b) * TIE_TOLERANCE for b in bounds)
        self.upper_edges = tuple(b + abs(b) * TIE_TOLERANCE for b in bounds)
        self.up = tuple(t.equal_goes_up for t in thresholds)
        self._edges = tuple(zip(self.lower_edges, self.upper_edges, self.up, strict=True))

    def point(self, x: float) -> int:
        """Index of the category of the exact value ``x``."""
        i = 0
        for low, high, up in self._edges:
            if (x >= low) if up else (x > high):
                i += 1
            else:
                break
        return i

    def range(self, x: float, censor: str | None) -> tuple[int, int]:
        """Lowest and highest category index a (possibly censored) result can be in."""
        if censor is None:
            i = self.point(x)
            return i, i
        top = len(self.categories) - 1
        if censor == "<":  # values in [0, x): the highest is just below x
            return 0, sum(1 for _, high, _ in self._edges if x > high)
        if censor == "<=":
            return 0, self.point(x)
        if censor == ">":  # values in (x, inf): the lowest is just above x
            return sum(1 for low, _, _ in self._edges if x >= low), top
        return self.point(x), top  # ">="

    def point_array(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.int8]:
        """Vectorized :meth:`point` (NaN gives 0; callers mask missing values)."""
        import numpy as np

        out = np.zeros(x.shape, dtype=np.int8)
        for low, high, up in self._edges:
            out += (x >= low) if up else (x > high)
        return out

    def range_array(
        self, x: npt.NDArray[np.float64], censor: npt.NDArray[np.int8]
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
        """Vectorized :meth:`range`; ``censor`` codes: 0 none, 1 '<', 2 '<=', 3 '>', 4 '>='."""
        import numpy as np

        point = self.point_array(x)
        lo, hi = point.copy(), point.copy()
        rows = np.flatnonzero(censor)  # censored results are few: work on them only
        if rows.size:
            xs, cs = x[rows], censor[rows]
            below = np.zeros(rows.shape, dtype=np.int8)  # highest category just below x
            above = np.zeros(rows.shape, dtype=np.int8)  # lowest category just above x
            for low, high, _ in self._edges:
                below += xs > high
                above += xs >= low
            top = np.int8(len(self.categories) - 1)
            lo[rows] = np.where(cs <= 2, 0, np.where(cs == 3, above, point[rows]))
            hi[rows] = np.where(cs == 1, below, np.where(cs == 2, point[rows], top))
        return lo, hi


CENSOR_INDEX: dict[str | None, int] = {None: 0, "<": 1, "<=": 2, ">": 3, ">=": 4}


class CompiledProfile:
    """A profile compiled for fast classification (built once per profile)."""

    __slots__ = (
        "applies_from_age",
        "cb12",
        "first_line",
        "folate",
        "hcy",
        "intervals",
        "mma_ages",
        "mma_bands",
        "profile",
        "rcv",
        "renal",
        "research",
        "review_after",
    )

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.research = profile.intended_use == "research"
        pid = profile.id
        b12 = _first_line(pid, "b12", profile.b12)
        holotc = _first_line(pid, "holotc", profile.holotc)
        self.first_line = {"b12": b12, "holotc": holotc}
        mma_cats = (Category.NORMAL, Category.ELEVATED, Category.MARKEDLY_ELEVATED)
        bands = [
            _cuts(
                pid,
                "mma",
                mma_cats,
                (
                    ("elevated", profile.mma.elevated),
                    ("markedly_elevated", profile.mma.markedly_elevated),
                ),
            )
        ]
        ages = [-math.inf]
        for i, by_age in enumerate(sorted(profile.mma.elevated_by_age, key=lambda t: t.from_age)):
            if by_age.from_age <= ages[-1]:
                raise InvalidProfileError(
                    f"profile {pid!r}: mma.elevated_by_age has two entries "
                    f"from age {by_age.from_age:g}",
                    analyte="mma",
                    value=by_age.from_age,
                    unit="years",
                )
            bands.append(
                _cuts(
                    pid,
                    "mma",
                    mma_cats,
                    (
                        (f"elevated_by_age[{i}]", by_age),
                        ("markedly_elevated", profile.mma.markedly_elevated),
                    ),
                )
            )
            ages.append(by_age.from_age)
        self.mma_bands = tuple(bands)
        self.mma_ages = tuple(ages)
        hcy = profile.hcy
        self.hcy = _cuts(
            pid,
            "hcy",
            (Category.NORMAL, Category.MODERATE, Category.INTERMEDIATE, Category.SEVERE),
            (
                ("elevated", hcy.elevated),
                ("intermediate", hcy.intermediate),
                ("severe", hcy.severe),
            ),
        )
        self.folate = _cuts(
            pid, "folate", (Category.LOW, Category.NORMAL), (("low", profile.folate.low),)
        )
        self.renal = _cuts(
            pid,
            "renal",
            (True, False),
            (("impaired", profile.renal.impaired),),
            unit="mL/min/1.73m2",
        )
        c = profile.cb12
        from ._models import CB12Band

        self.cb12 = _cuts(
            pid,
            "cb12",
            tuple(CB12Band),
            (
                ("possible_deficiency", c.possible_deficiency),
                ("low", c.low),
                ("adequate", c.adequate),
                ("elevated", c.elevated),
            ),
            unit="1",
        )
        # The age from which the profile applies, as Cuts on age: index 0 = younger.
        self.applies_from_age: Cuts | None = None
        if profile.applies_from_age is not None:
            self.applies_from_age = _cuts(
                pid,
                "age",
                (False, True),
                (("applies_from_age", profile.applies_from_age),),
                unit="years",
            )
        # Results over time (decision-spec 8): the RCVs by marker, and the treatment review
        # as Cuts on days since treatment started (index 1 = at or after the review).
        self.rcv: dict[str, ReferenceChangeValue] = {
            path.removeprefix("rcv."): rcv
            for path, rcv in profile.reference_change_values().items()
        }
        self.review_after: Cuts | None = None
        if profile.review_after_treatment is not None:
            if profile.review_after_treatment.value < 0:
                raise InvalidProfileError(
                    f"profile {pid!r}: review_after_treatment must be a number of days from "
                    f"0 upwards, got {profile.review_after_treatment.value:g}",
                    analyte="review_after_treatment",
                    value=profile.review_after_treatment.value,
                    unit=profile.review_after_treatment.unit,
                )
            self.review_after = _cuts(
                pid,
                "review",
                (False, True),
                (("review_after_treatment", profile.review_after_treatment),),
                unit="days",
            )
        self.intervals: dict[tuple[str, int], ReferenceInterval] = {}
        for key, cuts in (
            ("b12", b12),
            ("holotc", holotc),
            ("hcy", self.hcy),
            ("folate", self.folate),
        ):
            self.intervals[key, 0] = _interval(cuts)
        for i, cuts in enumerate(self.mma_bands):
            self.intervals["mma", i] = _interval(cuts)
        _check_sources(profile)

    def mma_band(self, age: float | None) -> int:
        """Index of the MMA cuts that apply at ``age`` (the default when age is unknown)."""
        if age is None:
            return 0
        band = 0
        for i, start in enumerate(self.mma_ages):
            if age >= start:
                band = i
        return band

    def cuts_for(self, analyte: str, band: int = 0) -> Cuts:
        """The cuts of a marker (MMA by age band)."""
        if analyte == "mma":
            return self.mma_bands[band]
        if analyte in self.first_line:
            return self.first_line[analyte]
        cuts: Cuts = getattr(self, analyte)
        return cuts


def _first_line(pid: str, analyte: str, block: FirstLineThresholds) -> Cuts:
    cats: tuple[Category, ...] = (Category.LOW, Category.INDETERMINATE, Category.NORMAL)
    named: list[tuple[str, Threshold]] = [
        ("low", block.low),
        ("indeterminate", block.indeterminate),
    ]
    if block.above_reference is not None:
        cats += (Category.ABOVE_REFERENCE,)
        named.append(("above_reference", block.above_reference))
    return _cuts(pid, analyte, cats, tuple(named))


_UPPER_EDGE_NAMES = frozenset({"low", "indeterminate", "impaired"})


def _cuts(
    pid: str,
    group: str,
    categories: tuple[Any, ...],
    named: tuple[tuple[str, Threshold], ...],
    *,
    unit: str | None = None,
) -> Cuts:
    bounds: list[float] = []
    for name, threshold in named:
        upper_edge = name in _UPPER_EDGE_NAMES and group != "cb12"
        allowed = ("below", "up_to") if upper_edge else ("above", "from")
        if threshold.edge not in allowed:
            raise InvalidProfileError(
                f"profile {pid!r}: {group}.{name} bounds its category from "
                f"{'above' if upper_edge else 'below'}, so it takes {allowed[0]!r} or "
                f"{allowed[1]!r}, not {threshold.edge!r}",
                analyte=group,
                value=threshold.value,
                unit=threshold.unit,
            )
        if unit is not None:
            _fixed_unit(pid, f"{group}.{name}", threshold, unit)
            bounds.append(threshold.value)
            continue
        try:
            factor = canonical_factor(group, threshold.unit)
        except UnitError as exc:
            raise InvalidProfileError(
                f"profile {pid!r}: {group}.{name}: {exc.message}",
                analyte=group,
                value=threshold.value,
                unit=threshold.unit,
            ) from None
        if threshold.value <= 0:
            raise InvalidProfileError(
                f"profile {pid!r}: {group}.{name} must be a positive concentration, "
                f"got {threshold.value:g}",
                analyte=group,
                value=threshold.value,
                unit=threshold.unit,
            )
        bounds.append(threshold.value * factor)
    for (name_a, a), (name_b, b), bound_a, bound_b in zip(
        named, named[1:], bounds, bounds[1:], strict=False
    ):
        if not bound_a < bound_b:
            raise InvalidProfileError(
                f"profile {pid!r}: {group}.{name_a} ({a.describe()}) must lie below "
                f"{group}.{name_b} ({b.describe()}); thresholds of {group} must increase",
                analyte=group,
                value=a.value,
                unit=a.unit,
            )
    return Cuts(categories, tuple(bounds), tuple(t for _, t in named))


def _fixed_unit(pid: str, where: str, threshold: Threshold, unit: str) -> None:
    if threshold.unit.replace(" ", "") != unit:
        raise InvalidProfileError(
            f"profile {pid!r}: {where} must be given in {unit!r}, not {threshold.unit!r}",
            analyte=where.split(".")[0],
            value=threshold.value,
            unit=threshold.unit,
        )


def _interval(cuts: Cuts) -> ReferenceInterval:
    """The interval of the NORMAL category, in the unit of its bounding thresholds."""
    i = cuts.categories.index(Category.NORMAL)
    low = cuts.thresholds[i - 1] if i > 0 else None
    high = cuts.thresholds[i] if i < len(cuts.thresholds) else None
    edge = high if high is not None else low
    unit = edge.unit if edge is not None else ""
    parts: list[str] = []
    if low is not None:
        parts.append(
            f"{'≥' if low.equal_goes_up else '>'} {low.value:g}"
            + ("" if low.unit == unit else f" {low.unit}")
        )
    if high is not None:
        parts.append(f"{'<' if high.equal_goes_up else '≤'} {high.value:g}")
    return ReferenceInterval(
        low=low.value if low is not None else None,
        low_inclusive=low.equal_goes_up if low is not None else True,
        high=high.value if high is not None else None,
        high_inclusive=not high.equal_goes_up if high is not None else True,
        unit=unit,
        text=" and ".join(parts) + f" {unit}",
    )


def _check_sources(profile: Profile) -> None:
    for path, threshold in profile.thresholds().items():
        if threshold.source not in profile.sources:
            raise _unknown_source(
                profile,
                path,
                threshold.source,
                analyte=path.split(".")[0],
                value=threshold.value,
                unit=threshold.unit,
            )
    for path, rcv in profile.reference_change_values().items():
        if rcv.source not in profile.sources:
            raise _unknown_source(
                profile, path, rcv.source, analyte=path.split(".")[1], value=rcv.source
            )


def _unknown_source(
    profile: Profile, path: str, source: str, *, analyte: str, value: Any, unit: str | None = None
) -> InvalidProfileError:
    """The error for a threshold or RCV at ``path`` citing a source the profile lacks."""
    known = ", ".join(sorted(profile.sources)) or "none"
    return InvalidProfileError(
        f"profile {profile.id!r}: {path} cites source {source!r}, which is not "
        f"in the profile's [sources] (known: {known})",
        analyte=analyte,
        value=value,
        unit=unit,
    )


# ----------------------------------------------------------------------------- loading


def _read_data(name: str) -> dict[str, Any]:
    return read_toml(f"_profiles/{name}.toml")


_BLOCKS = frozenset({"sources", "b12", "holotc", "mma", "hcy", "folate", "renal", "cb12", "rcv"})


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay ``override`` on ``base`` one level deep.

    Blocks (``b12``, ``mma``, ``sources``...) are merged key by key; what a block holds (a
    threshold, a source, a list of age thresholds) is replaced as a whole, so a threshold
    never inherits a number, unit or source from the base.
    """
    out = dict(base)
    for key, value in override.items():
        if key in _BLOCKS and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _profile_error(exc: ValidationError, lead: str) -> B12LabsError:
    """The InvalidProfileError for a ValidationError of ``lead`` ("profile 'x'"), or the
    b12labs error raised inside validation, as it is."""
    errors = exc.errors()
    for err in errors:
        original = err.get("ctx", {}).get("error")
        if isinstance(original, B12LabsError):
            return original
    shown = [
        f"{'.'.join(_loc(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
        for err in errors[:_SHOWN_PROBLEMS]
    ]
    if len(errors) > _SHOWN_PROBLEMS:
        shown.append(f"and {len(errors) - _SHOWN_PROBLEMS} more")
    return InvalidProfileError(f"{lead} is invalid: {'; '.join(shown)}")


_SHOWN_PROBLEMS = 8


def _loc(part: Any) -> str:
    text = str(part)
    return text if len(text) <= 40 else brief(text)


def _validate(data: Mapping[str, Any], label: str, *, shipped: bool = False) -> Profile:
    loading_shipped = _LOADING_SHIPPED.set(shipped)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        raise _profile_error(exc, f"profile {label}") from None
    except RecursionError:
        raise InvalidProfileError(f"profile {label} is nested too deeply") from None
    finally:
        _LOADING_SHIPPED.reset(loading_shipped)
    profile._compiled = CompiledProfile(profile)
    return profile


@functools.cache
def _shipped(profile_id: str) -> Profile:
    data = _merge(_read_data("_common"), _read_data(profile_id))
    return _validate(data, repr(profile_id), shipped=True)


def _fold(profile_id: str) -> str:
    """An id as read: 'nice_ng239', 'nice.ng239' and 'nice-ng239.' read as 'nice-ng239'."""
    return re.sub(r"[._-]+", "-", profile_id).strip("-")


def check_reserved_id(profile: Profile) -> None:
    """Refuse a profile that takes (or reads as) a shipped profile's id without being an
    identical copy of it: its results would be labelled as the shipped profile's.

    Raises:
        InvalidProfileError: the id is reserved; the message says to choose another.
    """
    folded = _fold(profile.id)
    for shipped_id in _SHIPPED:
        if _fold(shipped_id) != folded:
            continue
        shipped = _shipped(shipped_id)
        if profile is shipped:
            return
        hint = (
            f"choose another id for your own profile (for example '{shipped_id}-local'), "
            f"and use base = '{shipped_id}' to start from the shipped thresholds"
        )
        if profile.id != shipped_id:
            raise InvalidProfileError(
                f"profile id {profile.id!r} is reserved: it reads as the shipped profile id "
                f"{shipped_id!r}; {hint}",
                value=profile.id,
            )
        differences = _differences(profile, shipped)
        if differences:
            raise InvalidProfileError(
                f"profile id {profile.id!r} is reserved for the shipped profile {shipped_id} "
                f"{shipped.version}, and this profile differs from it ({differences}): its "
                f"results would be labelled as the shipped profile's; {hint} (an identical "
                "copy of the shipped profile is accepted)",
                value=profile.id,
            )


def _differences(profile: Profile, shipped: Profile) -> str:
    """The fields and thresholds where ``profile`` differs from ``shipped`` (a few)."""
    ours: dict[str, Any] = {**profile.thresholds(), **profile.reference_change_values()}
    theirs: dict[str, Any] = {**shipped.thresholds(), **shipped.reference_change_values()}
    found = [path for path in sorted(set(ours) | set(theirs)) if ours.get(path) != theirs.get(path)]
    for name in Profile.model_fields:
        if name in _BLOCKS - {"sources"} or name in ("applies_from_age", "review_after_treatment"):
            continue  # compared threshold by threshold (and RCV by RCV) above
        if getattr(profile, name) != getattr(shipped, name):
            found.append(name)
    if not found:
        return ""
    return ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")


def list_profiles() -> tuple[str, ...]:
    """Ids of the shipped profiles; the first is the default."""
    return _SHIPPED


def get_profile(profile_id: str) -> Profile:
    """Return a shipped profile by id.

    Raises:
        UnknownProfileError: no shipped profile has that id.
    """
    if profile_id not in _SHIPPED:
        raise UnknownProfileError(
            f"unknown profile {brief(profile_id)}; shipped profiles: {', '.join(_SHIPPED)} "
            "(use load_profile() for a laboratory's own thresholds)",
            value=profile_id,
        )
    return _shipped(profile_id)


def load_profile(source: str | Path | Mapping[str, Any]) -> Profile:
    """Load and validate a laboratory's own profile from a JSON or TOML file or a mapping.

    Missing blocks are taken from ``base`` (a shipped profile id) when the data names one,
    otherwise from the defaults common to every shipped profile (holoTC bands, MMA
    markedly elevated, homocysteine bands, folate, renal, cB12 bands). A threshold given
    in the data replaces the base threshold as a whole.

    Raises:
        InvalidProfileError: unreadable file, wrong structure, a threshold out of order, a
            unit that is not a concentration of the analyte, or an unknown source key.
    """
    if isinstance(source, Mapping):
        data: dict[str, Any] = dict(source)
        label = brief(data.get("id", "<mapping>"))
    elif isinstance(source, str | os.PathLike):
        data, label = _read_file(source)
    else:
        raise InvalidProfileError(
            f"load_profile() takes a file path or a mapping, not {brief(source)}", value=source
        )
    base_id = data.pop("base", None)
    if "id" in data and not isinstance(data["id"], str):
        raise InvalidProfileError(f"profile {label}: 'id' must be a text", value=data["id"])
    if base_id is not None:
        if not isinstance(base_id, str):
            raise InvalidProfileError(
                f"profile {label}: 'base' must be a shipped profile id", value=base_id
            )
        base = _merge(_read_data("_common"), _read_data(get_profile(base_id).id))
        # A laboratory's profile is not the base profile: it must name itself.
        for own in ("id", "version", "title", "description"):
            base.pop(own, None)
    else:
        base = _read_data("_common")
    return _validate(_merge(base, data), label)


def _read_file(source: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """The data of a JSON or TOML profile file, and its label for messages."""
    path = Path(source)
    text = str(path)  # a path is shown whole unless absurdly long (its end names the file)
    label = repr(text if len(text) <= 240 else "..." + text[-240:])
    try:
        raw = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidProfileError(f"profile file {label} cannot be read: {why}") from None
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidProfileError(
            f"profile file {label} is not UTF-8 text (byte {exc.start}): a profile file must "
            "be saved as UTF-8"
        ) from None
    import tomllib  # user profile files only: not at `import b12labs`

    kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
    try:
        data = json.loads(content) if kind == "JSON" else tomllib.loads(content)
    except RecursionError:
        raise InvalidProfileError(f"profile file {label} is nested too deeply") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InvalidProfileError(f"profile file {label} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidProfileError(f"profile file {label} must hold a table/object at the top level")
    return data, label


# Shipped profiles by id: a plain dict lookup on the hot path (pydantic private attributes
# are slower to read).
_COMPILED: dict[str, CompiledProfile] = {}


def compiled(profile: str | Profile) -> CompiledProfile:
    """The compiled form of a profile given by id or object.

    Raises:
        UnknownProfileError: no shipped profile has that id, or ``profile`` is neither an
            id nor a Profile.
        InvalidProfileError: a Profile object that fails compilation or takes a reserved id.
    """
    if isinstance(profile, str):
        cached = _COMPILED.get(profile)
        if cached is not None:
            return cached
        with LOCK:
            compiled_profile = _COMPILED.get(profile) or compiled(get_profile(profile))
            _COMPILED[profile] = compiled_profile
        return compiled_profile
    if not isinstance(profile, Profile):
        raise UnknownProfileError(
            f"profile {brief(profile)} is neither a shipped profile id ({', '.join(_SHIPPED)}) "
            "nor a Profile from load_profile()",
            value=profile,
        )
    cp = profile._compiled
    if cp is None or cp.profile is not profile:
        # A Profile built by the user (model_copy, model_construct...): checked like a loaded one.
        with LOCK:
            check_reserved_id(profile)
            cp = CompiledProfile(profile)
            profile._compiled = cp
    return cp
