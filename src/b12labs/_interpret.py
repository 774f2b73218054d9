"""Single-panel interpretation: units checked at the edge, plain floats inside."""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Mapping
from typing import Any

from ._analytes import MARKERS, Analyte, analyte_info
from ._equations import cb12_value, egfr_ckd_epi_2021, equation_constants
from ._exceptions import InvalidValueError, brief
from ._models import (
    Category,
    CB12Band,
    Censor,
    CombinedB12,
    Finding,
    Interpretation,
    InterpretationCode,
    MarkerAssessment,
    Measurement,
    NextStep,
    Panel,
    PatientContext,
    RiskFactor,
    Sex,
    Status,
    Symptom,
    coerce_measurement,
    panel_from_fields,
    trusted,
    unexpected_keyword,
)
from ._profile import DEFAULT_PROFILE, CompiledProfile, Profile, compiled
from ._rules import CB, RULES_VERSION, RuleState, Tri, catalog, decide, reduce_range
from ._units import canonical_factor
from ._version import SCHEMA_VERSION, __version__

__all__ = ["cb12", "interpret", "panel_json_schema", "result_json_schema"]

#: HL7 v3 ObservationInterpretation code of each category (docs/codes.md).
CATEGORY_CODES: dict[Category, InterpretationCode] = {
    Category.LOW: InterpretationCode.LOW,
    Category.INDETERMINATE: InterpretationCode.EQUIVOCAL,
    Category.NORMAL: InterpretationCode.NORMAL,
    Category.ABOVE_REFERENCE: InterpretationCode.HIGH,
    Category.ELEVATED: InterpretationCode.HIGH,
    Category.MARKEDLY_ELEVATED: InterpretationCode.CRITICAL_HIGH,
    Category.MODERATE: InterpretationCode.HIGH,
    Category.INTERMEDIATE: InterpretationCode.HIGH,
    Category.SEVERE: InterpretationCode.CRITICAL_HIGH,
    Category.UNCLASSIFIABLE: InterpretationCode.EQUIVOCAL,
}
#: Censored results are off scale: '<' or '>' whatever category their bound proves.
CENSOR_CODES: dict[Censor, InterpretationCode] = {
    Censor.LT: InterpretationCode.OFF_SCALE_LOW,
    Censor.LE: InterpretationCode.OFF_SCALE_LOW,
    Censor.GT: InterpretationCode.OFF_SCALE_HIGH,
    Censor.GE: InterpretationCode.OFF_SCALE_HIGH,
}
_CB12_BANDS = tuple(CB12Band)


def interpret(
    panel: Panel | Mapping[str, Any] | None = None,
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    **kwargs: Any,
) -> Interpretation:
    """Interpret one patient's B12-status results.

    Give a :class:`Panel` (or a mapping of its fields), or the fields as keywords::

        interpret(b12="150 pmol/L", mma="0.52 umol/L", age=70)

    Markers (``b12``, ``holotc``, ``mma``, ``hcy``, ``folate``) accept ``"150 pmol/L"``,
    ``"<50 pg/mL"``, ``(150, "pmol/L")``, a pint Quantity or a :class:`Measurement`. Patient
    keywords: ``age``, ``sex``, ``pregnant``, ``egfr``, ``creatinine``, ``symptoms``,
    ``risk_factors``, ``recent_b12_treatment``, ``nitrous_oxide``.

    ``profile`` is a shipped profile id (see :func:`list_profiles`) or a :class:`Profile`
    from :func:`load_profile`. The result is decision support, not a diagnosis.

    Raises:
        UnitError: a unit that is unknown or not a concentration of the analyte.
        InvalidValueError: a value that is not a usable number (ImplausibleValueError when
            it lies outside the analyte's plausible range: check the unit).
        UnknownProfileError: no shipped profile has that id (or ``profile`` is neither an id
            nor a Profile).
        InvalidProfileError: a Profile that fails validation.
        TypeError: a wrong call shape: an unexpected keyword argument (or mapping key), both
            a panel and keyword results, or a panel that is neither a Panel nor a mapping.
    """
    if panel is None:
        if not kwargs.keys() <= _PANEL_FIELDS:
            unknown = next(k for k in kwargs if k not in _PANEL_FIELDS)
            raise unexpected_keyword("interpret()", unknown, _ACCEPTED, "keyword argument")
        panel = panel_from_fields(kwargs)
    elif kwargs:
        raise TypeError("interpret() takes a Panel or keyword results, not both")
    elif not isinstance(panel, Panel):
        if not isinstance(panel, Mapping):
            raise TypeError(f"interpret() expects a Panel or a mapping, not {type(panel).__name__}")
        unknown_keys = [k for k in panel if k not in _PANEL_FIELDS]
        if unknown_keys:
            raise unexpected_keyword("interpret()", unknown_keys[0], _ACCEPTED, "panel key")
        panel = panel_from_fields(panel)
    return _interpret(panel, compiled(profile))


#: The fields of a Panel: interpret()'s keywords and a panel mapping's keys.
_ACCEPTED: tuple[str, ...] = tuple(Panel.model_fields)
_PANEL_FIELDS: frozenset[str] = frozenset(_ACCEPTED)


def _interpret(panel: Panel, cp: CompiledProfile) -> Interpretation:
    fields = panel.__dict__  # plain dict access: this function is the hot path
    age = fields["age"]
    # The caches below key on numbers: the Panel's checks read -0.0 as 0.0 (_models._number),
    # so two values that compare equal also print alike.
    patient, mma_band, before, after = _context(*_CONTEXT_FIELDS(fields), cp)
    markers: dict[Any, MarkerAssessment] = {}
    levels: dict[str, int] = {}
    exact: dict[str, float] = {}
    mma_check_unit = False
    for analyte, key in _MARKER_KEYS:
        measurement: Measurement | None = fields[analyte]
        if measurement is None:
            continue
        censor = measurement.censor
        marker, level, check_unit = _assessed(
            analyte,
            key,
            measurement.value,
            measurement.unit,
            censor,
            measurement.source,
            mma_band if analyte == "mma" else 0,
            cp,
        )
        markers[key] = marker
        levels[analyte] = level
        if censor is None:
            exact[analyte] = marker.value
        if check_unit:
            mma_check_unit = True
    combined = _combined(exact, age, cp)
    state = _new_tuple(  # positional, in RuleState's field order (checked below at import)
        RuleState,
        (
            levels.get("b12", 0),
            levels.get("holotc", 0),
            levels.get("mma", 0),
            mma_check_unit,
            levels.get("hcy", 0),
            levels.get("folate", 0),
            *before,
            _CB12_LEVEL[combined.band],
            *after,
        ),
    )
    status, summary, findings, next_steps = _resolved(state)
    profile = cp.profile
    # Every value was produced and checked by b12labs: built without re-validation.
    return trusted(
        Interpretation,
        {
            "status": status,
            "summary": summary,
            "markers": markers,
            "findings": findings,
            "next_steps": next_steps,
            "cb12": combined,
            "patient": patient,
            "profile_id": profile.id,
            "profile_version": profile.version,
            "rules_version": RULES_VERSION,
            "library_version": __version__,
            "schema_version": SCHEMA_VERSION,
        },
        _GIVEN_RESULT_FIELDS,
    )


#: The fields a validated construction is given (schema_version keeps its default).
_PATIENT_FIELDS = set(PatientContext.model_fields)
_GIVEN_RESULT_FIELDS = set(Interpretation.model_fields) - {"schema_version"}
_MARKER_FIELDS = set(MarkerAssessment.model_fields)
_STATE_FIELDS = (
    "b12",
    "holotc",
    "mma",
    "mma_check_unit",
    "hcy",
    "folate",
    "renal",
    "pregnant",
    "recent_treatment",
    "nitrous_oxide",
    "symptoms",
    "risk_factors",
    "cb12",
    "below_guideline_age",
    "autoimmune_gastritis",
    "research_profile",
    "egfr_not_computed",
)
if RuleState._fields != _STATE_FIELDS:  # pragma: no cover - a guard for whoever edits RuleState
    raise ImportError("RuleState's fields changed: update _interpret's positional RuleState(...)")


@functools.lru_cache(maxsize=4096)
def _assessed(
    analyte: str,
    key: Analyte,
    value: float,
    unit: str,
    censor: Censor | None,
    source: str | None,
    band: int,
    cp: CompiledProfile,
) -> tuple[MarkerAssessment, int, bool]:
    """One marker against the profile: its assessment, its rule level, and whether an MMA
    this high suggests a unit mix-up. Cached: laboratory values repeat (a result is reported
    to a few significant digits), and the assessment is a frozen object."""
    canonical = value * canonical_factor(analyte, unit)
    cuts = cp.cuts_for(analyte, band)
    if censor is None:
        i = cuts.point(canonical)
        level, category = reduce_range(analyte, i, i, cuts.categories)
        code = CATEGORY_CODES[category]
    else:
        lo, hi = cuts.range(canonical, censor)
        level, category = reduce_range(analyte, lo, hi, cuts.categories)
        code = CENSOR_CODES[censor]
    check_unit = False
    if analyte == "mma":
        # a '<' or '<=' bound proves nothing about a very high value
        upper_bounded = censor is Censor.LT or censor is Censor.LE
        check_unit = not upper_bounded and canonical > _check_unit_above()
    marker = trusted(
        MarkerAssessment,
        {
            "analyte": key,
            "value": canonical,
            "unit": _canonical_unit(analyte),
            "censor": censor,
            "original_value": value,
            "original_unit": unit,
            "category": category,
            "interpretation_code": code,
            "reference_interval": cp.intervals[analyte, band],
            "source": source,
        },
        _MARKER_FIELDS,
    )
    return marker, level, check_unit


_MARKER_KEYS: tuple[tuple[str, Analyte], ...] = tuple((str(m), Analyte(m)) for m in MARKERS)


_new_tuple = tuple.__new__
#: The Panel fields the patient context reads, in :func:`_context`'s argument order.
_CONTEXT_FIELDS = operator.itemgetter(
    "age",
    "sex",
    "pregnant",
    "egfr",
    "creatinine",
    "symptoms",
    "risk_factors",
    "recent_b12_treatment",
    "nitrous_oxide",
)


@functools.lru_cache(maxsize=1024)
def _context(
    age: float | None,
    sex: Sex | None,
    pregnant: bool | None,
    egfr_given: float | None,
    creatinine: Measurement | None,
    symptoms: tuple[Symptom, ...] | None,
    risks: tuple[RiskFactor, ...] | None,
    recent: bool | None,
    nitrous_given: bool | None,
    cp: CompiledProfile,
) -> tuple[PatientContext, int, tuple[Any, ...], tuple[Any, ...]]:
    """What the patient's context gives, whatever the results: the echoed PatientContext,
    the MMA age band, and the RuleState fields before and after ``cb12``. Cached: the same
    context (often none but an age) comes with many panels, and the result is frozen."""
    egfr, egfr_source = _egfr(egfr_given, creatinine, age, sex)
    renal = Tri.UNKNOWN
    if egfr is not None:
        renal = Tri.YES if cp.renal.point(egfr) == 0 else Tri.NO
    patient = trusted(
        PatientContext,
        {
            "age": age,
            "sex": sex,
            "pregnant": pregnant,
            "egfr": egfr,
            "egfr_source": egfr_source,
            "renal_impairment": None if renal == Tri.UNKNOWN else renal == Tri.YES,
            "symptoms": symptoms,
            "risk_factors": risks,
            "recent_b12_treatment": recent,
            "nitrous_oxide": nitrous_given,
        },
        _PATIENT_FIELDS,
    )
    nitrous = bool(nitrous_given) or (risks is not None and RiskFactor.NITROUS_OXIDE in risks)
    before = (
        renal,
        bool(pregnant),
        bool(recent),
        nitrous,
        Tri.UNKNOWN if symptoms is None else (Tri.YES if symptoms else Tri.NO),
        Tri.UNKNOWN if risks is None else (Tri.YES if risks else Tri.NO),
    )
    after = (
        cp.applies_from_age is not None and age is not None and cp.applies_from_age.point(age) == 0,
        risks is not None and RiskFactor.AUTOIMMUNE_GASTRITIS in risks,
        cp.research,
        creatinine is not None and egfr is None,
    )
    return patient, cp.mma_band(age), before, after


@functools.lru_cache(maxsize=4096)
def _resolved(state: RuleState) -> tuple[Status, str, tuple[Finding, ...], tuple[NextStep, ...]]:
    """The decision for a state with its shared Finding and NextStep objects."""
    decision = decide(state)
    texts = catalog()
    return (
        decision.status,
        texts.summaries[decision.status],
        tuple(texts.findings[c] for c in decision.findings),
        tuple(texts.next_steps[c] for c in decision.next_steps),
    )


_CB12_LEVEL: dict[CB12Band | None, int] = {None: CB.NONE} | {
    band: CB.PROBABLE_DEFICIENCY + i for i, band in enumerate(CB12Band)
}


@functools.cache
def _check_unit_above() -> float:
    limit = analyte_info("mma").check_unit_above
    return float("inf") if limit is None else limit


@functools.cache
def _canonical_unit(analyte: str) -> str:
    return analyte_info(analyte).canonical_unit


def _egfr(
    egfr: float | None, creatinine: Measurement | None, age: float | None, sex: Sex | None
) -> tuple[float | None, Any]:
    if egfr is not None:
        return egfr, "given"
    if creatinine is None or creatinine.censor is not None or age is None or sex is None:
        return None, None
    if age < equation_constants()["ckd_epi_2021"]["min_age"]:
        return None, None
    mg_dl = creatinine.value * canonical_factor("creatinine", creatinine.unit)
    return float(egfr_ckd_epi_2021(mg_dl, age, sex)), "ckd-epi-2021"


_CB12_INPUTS = ("holotc", "b12", "mma", "hcy")


def _combined(exact: dict[str, float], age: float | None, cp: CompiledProfile) -> CombinedB12:
    if len(exact) < 4 or age is None or not all(a in exact for a in _CB12_INPUTS):
        given = (
            ("holotc" in exact)
            | ("b12" in exact) << 1
            | ("mma" in exact) << 2
            | ("hcy" in exact) << 3
            | (age is not None) << 4
        )
        return _cb12_missing(given)
    value = float(cb12_value(exact["holotc"], exact["b12"], exact["mma"], exact["hcy"], age))
    band = _CB12_BANDS[cp.cb12.point(value)]
    return trusted(CombinedB12, {"value": value, "band": band, "reason": None}, _CB12_GIVEN)


_CB12_GIVEN = {"value", "band"}


@functools.cache
def _cb12_missing(given: int) -> CombinedB12:
    """The shared frozen result of a cB12 that cannot be computed: ``given`` has one bit
    per input (holoTC, B12, MMA, Hcy, age, in that order) set when it is known exactly."""
    names = (*_CB12_INPUTS, "age")
    missing = [name for bit, name in enumerate(names) if not given >> bit & 1]
    return CombinedB12(
        reason="cB12 needs exact (uncensored) holoTC, total B12, MMA and homocysteine, and "
        f"age; missing or censored: {', '.join(missing)}"
    )


def cb12(*, holotc: Any, b12: Any, mma: Any, hcy: Any, age: float) -> float:
    """The combined indicator of B12 status (Fedosov): log10[(holoTC·B12)/(MMA·Hcy)] - age factor.

    Results may be given with units (``"45 pmol/L"``, ``(0.3, "umol/L")``, a Measurement or
    pint Quantity) or as plain numbers in the equation's units: pmol/L for holoTC and B12,
    umol/L for MMA and Hcy. ``age`` is in years. The age-factor constants are widely
    reproduced but were not confirmed in the source (docs/sources.md).

    Raises:
        InvalidValueError: a censored or unusable value, or an unusable age (None included).
        UnitError: a unit that is not a concentration of the analyte.
    """
    values: dict[str, float] = {}
    for analyte, given in (("holotc", holotc), ("b12", b12), ("mma", mma), ("hcy", hcy)):
        if isinstance(given, int | float) and not isinstance(given, bool):
            given = Measurement(value=given, unit=_canonical_unit(analyte))
        measurement = coerce_measurement(given, analyte)
        if measurement is None:
            raise InvalidValueError(
                f"{analyte}: cB12 needs a value, got {brief(given)}", analyte=analyte
            )
        if measurement.censor is not None:
            raise InvalidValueError(
                f"{analyte}: cB12 needs an exact value, not the censored result "
                f"{measurement.censor}{measurement.value:g} {measurement.unit}",
                analyte=analyte,
                value=measurement.value,
                unit=measurement.unit,
            )
        values[analyte] = measurement.value * canonical_factor(analyte, measurement.unit)
    checked = Panel(age=age).age
    if checked is None:
        raise InvalidValueError(
            "age: cB12 needs the age in years, got None", analyte="age", value=age
        )
    return float(cb12_value(values["holotc"], values["b12"], values["mma"], values["hcy"], checked))


#: The JSON Schema dialect of the published schemas.
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: The ``$id`` of a published schema: ``name`` is ``panel`` (input) or ``interpretation``
#: (output). An identifier, not a download location: b12labs never fetches it, and the
#: schemas are available offline from :func:`panel_json_schema` and
#: :func:`result_json_schema` and from ``b12labs schema`` (docs/versioning.md).
SCHEMA_ID = "https://b12labs.org/schema/{version}/{name}.json"

#: Examples of each marker field as text and as a pair (all plausible, in accepted units).
_EXAMPLES: dict[str, tuple[list[str], list[Any]]] = {
    "b12": (["150 pmol/L", "<100 pg/mL", "≥ 2,000 ng/L"], [150, "pmol/L"]),
    "holotc": (["32 pmol/L", "<5 pmol/L"], [32, "pmol/L"]),
    "mma": (["0.52 umol/L", ">3.5 umol/L"], [380, "nmol/L"]),
    "hcy": (["12 umol/L", "<5 umol/L"], [12, "umol/L"]),
    "folate": (["4.1 ng/mL", ">20 ng/mL"], [9.3, "nmol/L"]),
    "creatinine": (["1.1 mg/dL", "97 umol/L"], [97, "umol/L"]),
}


def _result_forms(name: str) -> list[dict[str, Any]]:
    """The JSON forms of a marker field: a text, a [number, unit] pair, or null."""
    texts, pair = _EXAMPLES[name]
    return [
        {
            "type": "string",
            "description": "A result as text: a number and a unit, optionally censored; a text "
            "meaning no result ('', 'N/A', 'pending', 'hemolysed'...) is missing.",
            "examples": texts,
        },
        {
            "type": "array",
            "description": "A result as [number, unit].",
            "prefixItems": [{"type": "number", "minimum": 0}, {"type": "string", "minLength": 1}],
            "minItems": 2,
            "maxItems": 2,
            "examples": [pair],
        },
        {"type": "null"},
    ]


#: Examples of the code-list fields as one text.
_CODE_EXAMPLES: dict[str, list[str]] = {
    "symptoms": ["tremor; twitching", "none"],
    "risk_factors": ["metformin, ppi", "none"],
}


def _codes_text(name: str) -> dict[str, Any]:
    return {
        "type": "string",
        "description": "Codes (or their aliases) in one text separated by ';' or ','; 'none': "
        "none reported.",
        "examples": _CODE_EXAMPLES[name],
    }


def _published(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """``schema`` with ``$schema`` and ``$id`` first."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID.format(version=SCHEMA_VERSION, name=name),
        **schema,
    }


@functools.cache
def _schema() -> dict[str, Any]:
    return _published(Interpretation.model_json_schema(mode="serialization"), "interpretation")


@functools.cache
def _panel_schema() -> dict[str, Any]:
    # pydantic describes the markers as Measurement objects, which only Python code can give
    # (a JSON object is refused): in JSON a result is a text or a [number, unit] pair.
    schema = Panel.model_json_schema(mode="validation")
    for name, prop in schema["properties"].items():
        alternatives = prop.get("anyOf")
        if not isinstance(alternatives, list):  # pragma: no cover - every field is optional
            continue
        if name in _EXAMPLES:
            prop["anyOf"] = _result_forms(name)
        elif name in _CODE_EXAMPLES:
            alternatives[1:1] = [_codes_text(name)]
    text = json.dumps(schema["properties"])
    schema["$defs"] = {k: v for k, v in schema["$defs"].items() if f'"#/$defs/{k}"' in text}
    schema["description"] = (
        "One patient's B12-status results and context, as JSON. Every field is optional and "
        "unknown fields are refused. A marker is a text ('150 pmol/L', '<50 pg/mL') or a "
        "[number, unit] pair; a number without a unit is refused. symptoms and risk_factors: "
        "null or absent means unknown, [] or 'none' means none reported."
    )
    return _published(schema, "panel")


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an :class:`Interpretation` as serialized to JSON.

    ``$id`` is ``https://b12labs.org/schema/<schema version>/interpretation.json`` (an
    identifier, never fetched); every result's ``schema_version`` names the version it
    follows. Returns a new copy on every call.
    """
    import copy

    return copy.deepcopy(_schema())


def panel_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the input: a :class:`Panel` as JSON.

    It describes the JSON that :func:`interpret` and ``Panel.model_validate_json`` accept:
    each marker as a text (``"150 pmol/L"``) or a ``[number, unit]`` pair (a
    :class:`Measurement` or a pint Quantity can be given from Python only); symptoms and
    risk factors as a list of codes or one text. Values are checked further when read
    (units, plausible ranges), and aliases such as ``"f"`` for ``"female"`` are accepted
    although the schema lists the canonical codes. ``$id`` is
    ``https://b12labs.org/schema/<schema version>/panel.json`` (an identifier, never
    fetched). Returns a new copy on every call.
    """
    import copy

    return copy.deepcopy(_panel_schema())
