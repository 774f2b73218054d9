"""HL7 FHIR in and out: read laboratory Observations, write interpreted Observations.

Resources are plain JSON dictionaries (R4, R4B or R5 shape on input; R4 shape on output), so
the runtime needs no FHIR library::

    panel = b12labs.fhir.panel_from_fhir(bundle)        # a Bundle, Observation(s) or JSON text
    bundle = b12labs.fhir.to_fhir(b12labs.interpret(panel))

Reading (:func:`read_fhir` gives the details, :func:`panel_from_fhir` the Panel):

* analytes are recognised by LOINC code (the codes of ``_data/analytes.toml``: 2132-9 and
  14685-2 total B12, 72160-5 holoTC, 13964-2 MMA, 13965-9 homocysteine, 2284-8 and 14732-2
  folate, 2160-0 creatinine) and age by LOINC 30525-0; other Observations are ignored and
  listed;
* context is read where a standard code says so: eGFR by the LOINC codes of
  :data:`EGFR_LOINC`, pregnancy by a "Pregnancy status" Observation (LOINC 82810-3, answers in
  :data:`PREGNANCY_ANSWERS`) or an active Condition coded as pregnancy
  (:data:`PREGNANCY_CONDITIONS`), and everything :func:`to_fhir` writes under b12labs' own
  codes; the codes and their sources are listed in docs/sources.md;
* risk factors are read from Conditions, Procedures, MedicationStatements and
  MedicationRequests coded with the SNOMED CT, ICD-10, ICD-10-CM, RxNorm and ATC codes of
  ``_data/fhir_risk_codes.toml`` (rules in :mod:`b12labs._fhir_context` and docs/fhir.md);
* the value is ``valueQuantity.value`` with its UCUM ``code`` (``unit`` text when no code is
  given); ``comparator`` ``<``, ``<=``, ``>``, ``>=`` makes a censored result;
* an Observation with status ``entered-in-error`` or ``cancelled`` is never used; an analyte
  present twice uses the most recent (``effectiveDateTime``, ``effectivePeriod.start``,
  ``effectiveInstant`` or ``issued``) and says so;
* a Patient gives sex (``gender``) and, with the date of the results, age at testing
  (completed years from ``birthDate``);
* refused with :class:`~b12labs.FhirError`: resources of more than one patient (a ``subject``
  that is not the Bundle's Patient, or two different subjects), a result dated after today or
  before the Patient's birth;
* a missing value, an unknown unit or a unit from a system other than UCUM is an error that
  names the Observation.

Writing (:func:`to_fhir`): a Bundle of type ``collection`` with one Observation per marker
(``interpretation`` from the result, ``referenceRange`` from the profile), an Observation for
cB12 when it was computed, Observations for the context the rules used, and an overall
Observation whose ``valueCodeableConcept`` is the status from the code system
:data:`STATUS_SYSTEM`, whose components carry the findings (:data:`FINDING_SYSTEM`), next
steps (:data:`NEXT_STEP_SYSTEM`) and the rules version, and whose ``derivedFrom`` lists the
marker Observations written and the input Observations they came from.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import numbers
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import _fhir_context
from ._analytes import MARKERS, analyte_info
from ._exceptions import B12LabsError, FhirError, InvalidValueError, UnitError
from ._fhir_codes import FHIR_ID, ICD10, ICD10_CM, SNOMED
from ._models import (
    Interpretation,
    Measurement,
    Panel,
    RiskFactor,
    Symptom,
    coerce_measurement,
)
from ._models import _number as _checked_number
from ._profile import TIE_TOLERANCE
from ._series import DatedPanel

__all__ = [
    "AGE_LOINC",
    "EGFR_LOINC",
    "FINDING_SYSTEM",
    "ICD10",
    "ICD10_CM",
    "LOINC",
    "MAX_DEPTH",
    "NEXT_STEP_SYSTEM",
    "OBSERVATION_CODE_SYSTEM",
    "PREGNANCY_ANSWERS",
    "PREGNANCY_CONDITIONS",
    "PREGNANCY_STATUS_LOINC",
    "RESULT_WINDOW",
    "RISK_FACTOR_SYSTEM",
    "SNOMED",
    "STATUS_SYSTEM",
    "SYMPTOM_SYSTEM",
    "UCUM",
    "FhirInput",
    "FhirSeries",
    "panel_from_fhir",
    "read_fhir",
    "read_fhir_series",
    "to_fhir",
]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
#: Code systems defined by b12labs (canonical URIs; documented in docs/fhir.md and
#: docs/codes.md). They are b12labs' own, not registered with HL7.
STATUS_SYSTEM = "https://b12labs.org/fhir/CodeSystem/status"
FINDING_SYSTEM = "https://b12labs.org/fhir/CodeSystem/finding"
NEXT_STEP_SYSTEM = "https://b12labs.org/fhir/CodeSystem/next-step"
OBSERVATION_CODE_SYSTEM = "https://b12labs.org/fhir/CodeSystem/observation"
SYMPTOM_SYSTEM = "https://b12labs.org/fhir/CodeSystem/symptom"
RISK_FACTOR_SYSTEM = "https://b12labs.org/fhir/CodeSystem/risk-factor"
#: LOINC "Age" (the patient's age at the time of the results).
AGE_LOINC = "30525-0"
#: LOINC "Pregnancy status" (the code of the IPS pregnancy status profile).
PREGNANCY_STATUS_LOINC = "82810-3"
#: Answers to "Pregnancy status": True pregnant, False not pregnant, None unknown. Every code
#: and its source is in docs/sources.md ("FHIR codes read by b12labs").
PREGNANCY_ANSWERS: Mapping[tuple[str, str], bool | None] = {
    (LOINC, "LA15173-0"): True,  # Pregnant
    (LOINC, "LA26683-5"): False,  # Not pregnant
    (LOINC, "LA4489-6"): None,  # Unknown
    (SNOMED, "77386006"): True,  # Pregnant
    (SNOMED, "60001007"): False,  # Not pregnant
    (SNOMED, "261665006"): None,  # Unknown
    (SNOMED, "152231000119106"): None,  # Pregnancy not yet confirmed
    (SNOMED, "146799005"): None,  # Possible pregnancy
}
#: Condition codes that mean "pregnant" when the Condition is active (docs/sources.md).
PREGNANCY_CONDITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (SNOMED, "77386006"),  # Pregnant
        (ICD10, "Z33"),  # Pregnant state, incidental (WHO ICD-10)
        (ICD10_CM, "Z33"),  # Pregnant state
        (ICD10_CM, "Z33.1"),  # Pregnant state, incidental
        (ICD10_CM, "Z33.3"),  # Pregnant state, gestational carrier
    }
)
#: LOINC codes of eGFR per 1.73 m2 that are read, most preferred first: on the same date the
#: earlier one in this order is used. Sources in docs/sources.md.
EGFR_LOINC: Mapping[str, str] = {
    "98980-6": "CKD-EPI 2021, creatinine and cystatin C",
    "98979-8": "CKD-EPI 2021, creatinine",
    "62238-1": "CKD-EPI, creatinine",
    "77147-7": "MDRD",
    "33914-3": "MDRD",
    "76633-7": "MDRD, blood",
    "69405-9": "method not stated",
    "50044-7": "MDRD, among females",
    "70969-1": "MDRD, among males",
    "48642-3": "MDRD, among non-blacks",
    "48643-1": "MDRD, among blacks",
    "88294-4": "CKD-EPI, among non-blacks",
    "88293-6": "CKD-EPI, among blacks",
}
# The place of each code in EGFR_LOINC (0 most preferred).
_EGFR_RANK: Mapping[str, int] = {code: rank for rank, code in enumerate(EGFR_LOINC)}
# Race-specific estimates: b12labs does not choose between them (see _race_ambiguity).
_RACE_SPECIFIC = frozenset({"48642-3", "48643-1", "88294-4", "88293-6"})
# How far a pregnancy record may be from the results and still describe them: b12labs' own
# reading choice, above the 42 completed weeks (294 days) from which a pregnancy is post-term
# (ACOG; Eurostat glossary), so a record this far away describes another time.
_PREGNANCY_SPAN = dt.timedelta(weeks=44)
#: Input nested deeper than this (JSON arrays and objects inside one another) is refused
#: before it is read. FHIR resources, even a Bundle of Bundles with nested extensions, are a
#: few levels deep; this is b12labs' own limit, far below Python's recursion limit.
MAX_DEPTH = 64
#: The longest span between the earliest and the latest result of one panel (calendar dates).
#: One panel is one point in time: B12 status can change within weeks of treatment, and
#: NICE NG239 reviews the response at 3 months. A b12labs choice, not a clinical threshold.
RESULT_WINDOW = dt.timedelta(days=90)
# Results whose dates make the panel's point in time: the markers, creatinine and eGFR.
_RESULT_KEYS = frozenset({*(str(m) for m in MARKERS), "creatinine", "egfr"})
_NOT_USED = frozenset({"entered-in-error", "cancelled"})
_COMPARATORS = frozenset({"<", "<=", ">", ">="})
# condition-clinical: "active" and its two children; condition-ver-status: only confirmed (or
# none given) counts, since pregnancy softens the reading of a low total B12.
_ACTIVE = frozenset({"active", "recurrence", "relapse"})
_BOOLEAN_CONTEXT = ("pregnant", "recent_b12_treatment", "nitrous_oxide")
_LIST_CONTEXT: Mapping[str, tuple[str, type[Symptom] | type[RiskFactor]]] = {
    "symptoms": (SYMPTOM_SYSTEM, Symptom),
    "risk_factors": (RISK_FACTOR_SYSTEM, RiskFactor),
}
_OWN_CONTEXT = ("egfr", *_BOOLEAN_CONTEXT, *_LIST_CONTEXT)
_ID_NAMESPACE = uuid.UUID("6f1d9c1e-2a7e-4d59-9d0b-b12b12b12b12")
# The LOINC code written for each marker: the code of its canonical (molar) unit.
_WRITE_LOINC = {
    "b12": "14685-2",
    "holotc": "72160-5",
    "mma": "13964-2",
    "hcy": "13965-9",
    "folate": "14732-2",
}
# A literal reference, relative or absolute, optionally with a version: [base]Type/id.
# \Z, not $: "$" also matches before a final newline, and "Patient/p1\n" is not p1.
_LITERAL = re.compile(
    rf"^(?P<base>(?:https?://\S+?/)?)(?P<type>[A-Z][A-Za-z]+)/(?P<id>{FHIR_ID})"
    rf"(?:/_history/{FHIR_ID})?\Z"
)
# eGFR units per 1.73 m2 of body surface, after spaces are removed and case folded.
_EGFR_UNIT = re.compile(r"^ml/(?P<per>min|s)/\{?1\.73_?m2\}?$")


@functools.cache
def _codes_to_analyte() -> dict[str, str]:
    table = {}
    for key in (*(str(m) for m in MARKERS), "creatinine"):
        for code in analyte_info(key).loinc:
            table[code] = key
    return table


@dataclass
class FhirInput:
    """What was read from FHIR: the Panel, and how it was built."""

    panel: Panel
    used: dict[str, str] = field(default_factory=dict)  # analyte -> "Observation/id"
    # Observations and Conditions that give nothing b12labs reads
    ignored: list[str] = field(default_factory=list)
    # duplicates, excluded statuses, age, context not used and why
    notes: list[str] = field(default_factory=list)
    # context field -> the resources it was read from ("Patient/p1", "Condition/c1, ...")
    context: dict[str, str] = field(default_factory=dict)
    # risk factor -> the resources that gave it ("Condition/c1", "MedicationRequest/m1")
    risk_factor_sources: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Entry:
    resource: dict[str, Any]
    full_url: str | None


@dataclass(frozen=True)
class _Stamp:
    """A FHIR date, dateTime or instant as calendar dates."""

    text: str
    first: dt.date  # earliest local date it can mean (a year or month is a range)
    last: dt.date  # latest local date it can mean
    utc: dt.date | None  # the date in UTC, for a date-time with a time zone


@dataclass(frozen=True)
class _Subject:
    """Who a resource's ``subject`` names."""

    shown: str  # as written, for messages
    key: tuple[str, ...]  # identity, to compare subjects when there is no Patient
    type: str | None = None
    id: str | None = None
    base: str | None = None  # server base of an absolute (or resolved relative) reference
    identifier: tuple[str, str] | None = None


def panel_from_fhir(data: Any, *, today: dt.date | None = None) -> Panel:
    """The :class:`~b12labs.Panel` of a FHIR Observation, list of resources or Bundle
    (a dict or JSON text). See :func:`read_fhir` for what is read, refused and ignored."""
    return read_fhir(data, today=today).panel


def read_fhir(data: Any, *, today: dt.date | None = None) -> FhirInput:
    """Read B12-status results, their context and the Patient from FHIR resources.

    ``today`` (default: today's date in UTC) is the date results may not come after; give it
    to make reading reproducible.

    Raises:
        FhirError: not FHIR JSON; more than one Patient; resources of another patient; a
            result dated after today or before the Patient's birthDate.
        InvalidValueError, UnitError: an Observation without a usable value or unit (the
            message names the Observation).
    """
    return _read_entries(*_one_patients_entries(data), _today(today))


def _read_entries(entries: list[_Entry], patient: _Entry | None, today: dt.date) -> FhirInput:
    """:func:`read_fhir` of resources already loaded and checked by
    :func:`_one_patients_entries`."""
    result = FhirInput(panel=Panel())
    observations = [e.resource for e in entries if e.resource.get("resourceType") == "Observation"]
    chosen: dict[str, tuple[dt.datetime | None, dict[str, Any]]] = {}
    egfr_seen: list[tuple[dt.datetime | None, dict[str, Any]]] = []
    checked: list[dict[str, Any]] = []  # the Observations whose dates must make sense
    for obs in observations:
        label = _label(obs)
        key = _read_key(obs, result.ignored, result.notes)
        if key is None:
            continue
        checked.append(obs)
        if key in _OWN_CONTEXT and not _has_value(obs, key):
            # Context is optional: a context Observation without a value leaves it unknown.
            result.notes.append(f"{label} not used: it has no value ({key} unknown)")
            continue
        when = _effective(obs)
        if key == "egfr":
            egfr_seen.append((when, obs))
        if key in chosen:
            earlier_when, earlier = chosen[key]
            newer, why = _prefer(key, obs, when, earlier, earlier_when)
            kept, dropped = (obs, earlier) if newer else (earlier, obs)
            result.notes.append(
                f"{key} given twice: used {_label(kept)}, {why}; ignored {_label(dropped)}"
            )
            if not newer:
                continue
        chosen[key] = (when, obs)

    birth = _date_field(patient.resource, "birthDate") if patient else None
    _check_dates(checked, patient.resource if patient else None, birth, today)
    if "egfr" in chosen and _race_ambiguity(chosen["egfr"], egfr_seen, result.notes):
        del chosen["egfr"]
    _check_window(chosen)
    # The date of the results: the latest result read (a pregnancy record is not a result).
    dates = [d for k, (d, _) in chosen.items() if d is not None and k != "pregnant"]
    latest = max(dates) if dates else None
    if "pregnant" in chosen and _stale(chosen["pregnant"], latest, result.notes):
        del chosen["pregnant"]

    fields: dict[str, Any] = {}
    for key, (_, obs) in chosen.items():
        label = _label(obs)
        if key in ("age", "egfr"):
            value, comparator = _age_value(obs) if key == "age" else _egfr_value(obs)
            if comparator:  # e.g. age ">89" (top-coded) or eGFR ">60": the bound is used
                value = _censored_bound(label, key, value, comparator, result.notes)
            fields[key] = value
            result.context[key] = label
        elif key == "pregnant":
            fields[key] = _pregnancy_value(obs, result.notes)
        elif key in _BOOLEAN_CONTEXT:
            fields[key] = obs["valueBoolean"]
            result.context[key] = label
        elif key in _LIST_CONTEXT:
            fields[key] = _coded_list(obs, key, result.notes)
            if fields[key] is not None:
                result.context[key] = label
        else:
            fields[key] = _measurement(obs, key)
            result.used[key] = label

    tested = latest.date() if latest is not None else None
    _read_pregnancy(entries, chosen.get("pregnant"), tested, fields, result)
    _fhir_context.read_risk_factors(entries, tested, fields, result)
    if patient is not None:
        _read_patient(patient.resource, birth, tested, fields, result)
    result.panel = _panel(fields, result)
    return result


def _read_key(obs: Mapping[str, Any], ignored: list[str], notes: list[str]) -> str | None:
    """The panel field an Observation gives, or None when it is left out: nothing b12labs
    reads (listed in ``ignored``) or an excluded status (a note says so)."""
    key = _key(obs)
    if key is None:
        ignored.append(f"{_label(obs)} ({_display(obs)})")
        return None
    status = obs.get("status")
    if status in _NOT_USED:
        notes.append(f"{_label(obs)} not used: its status is {status}")
        return None
    return key


def _censored_bound(label: str, key: str, bound: float, comparator: str, notes: list[str]) -> float:
    """The value read for a censored age or eGFR (a note says so): the bound, and for eGFR
    "<" just below it. Also used by :mod:`b12labs.hl7`."""
    value = bound
    if key == "egfr" and comparator == "<":
        # "<60" proves a value below 60: read just below the bound (further than the
        # profiles' tie tolerance), so that "<60" is renal impairment under a limit of 60, as
        # the laboratory means
        value = bound * (1 - 1000 * TIE_TOLERANCE)
    notes.append(
        f"{label}: {key} {comparator}{bound:g} read as "
        + (f"just below {bound:g}" if value != bound else f"{bound:g}")
    )
    return value


def _one_patients_entries(data: Any) -> tuple[list[_Entry], _Entry | None]:
    """The resources of ``data``, loaded and checked: their shape, at most one Patient, and
    every resource about that patient. Returns the entries and the Patient entry (if any).

    Raises:
        FhirError: not FHIR JSON, too deeply nested, a malformed resource, more than one
            Patient, or a resource of another patient.
    """
    loaded = _load(data)
    if _depth(loaded) > MAX_DEPTH:
        raise _too_deep()
    entries = list(_entries(loaded))
    for entry in entries:
        _check_shape(entry.resource)
    patients = [e for e in entries if e.resource.get("resourceType") == "Patient"]
    if len(patients) > 1:
        raise FhirError("the resources hold more than one Patient; give one patient's results")
    patient = patients[0] if patients else None
    _check_subjects(entries, patient)
    return entries, patient


def _today(today: dt.date | None) -> dt.date:
    if today is None:
        return dt.datetime.now(dt.UTC).date()
    if isinstance(today, dt.datetime):  # a datetime is a date too; compare dates only
        return today.astimezone(dt.UTC).date() if today.tzinfo else today.date()
    return today


def _key(obs: Mapping[str, Any]) -> str | None:
    """The panel field an Observation gives, from its codes, or None."""
    codes = _loinc_codes(obs)
    analytes = _codes_to_analyte()
    key = next((analytes[c] for c in codes if c in analytes), None)
    if key is not None:
        return key
    if AGE_LOINC in codes:
        return "age"
    if any(c in EGFR_LOINC for c in codes):
        return "egfr"
    if PREGNANCY_STATUS_LOINC in codes:
        return "pregnant"
    own = _own_code(obs)  # context written by to_fhir under b12labs' own codes
    return own if own in _OWN_CONTEXT else None


def _has_value(obs: Mapping[str, Any], key: str) -> bool:
    if key == "egfr":
        quantity = obs.get("valueQuantity")
        return isinstance(quantity, Mapping) and quantity.get("value") is not None
    if key == "pregnant" and PREGNANCY_STATUS_LOINC in _loinc_codes(obs):
        return isinstance(obs.get("valueCodeableConcept"), Mapping)
    if key in _LIST_CONTEXT:
        return isinstance(obs.get("valueBoolean"), bool) or bool(obs.get("component"))
    return isinstance(obs.get("valueBoolean"), bool)


def _prefer(
    key: str,
    obs: Mapping[str, Any],
    when: dt.datetime | None,
    earlier: Mapping[str, Any],
    earlier_when: dt.datetime | None,
) -> tuple[bool, str]:
    """Whether ``obs`` replaces ``earlier`` (the same field given twice), and why."""
    newer = when is not None and (earlier_when is None or when > earlier_when)
    older = when is not None and earlier_when is not None and when < earlier_when
    if newer or older:
        return newer, "the more recent"
    if key == "egfr" and when == earlier_when:  # same date: the preferred equation
        rank, earlier_rank = _egfr_rank(obs), _egfr_rank(earlier)
        if rank != earlier_rank:
            best = obs if rank < earlier_rank else earlier
            return rank < earlier_rank, f"same date, the preferred equation ({_egfr_name(best)})"
    return False, "listed first (same or unknown date)"


def _egfr_rank(obs: Mapping[str, Any]) -> int:
    ranks = [_EGFR_RANK[c] for c in _loinc_codes(obs) if c in _EGFR_RANK]
    return min(ranks) if ranks else -1  # b12labs' own eGFR: what the rules used


def _egfr_name(obs: Mapping[str, Any]) -> str:
    codes = [c for c in _loinc_codes(obs) if c in EGFR_LOINC]
    return f"LOINC {codes[0]}, {EGFR_LOINC[codes[0]]}" if codes else "b12labs egfr"


def _race_ambiguity(
    chosen: tuple[dt.datetime | None, dict[str, Any]],
    seen: list[tuple[dt.datetime | None, dict[str, Any]]],
    notes: list[str],
) -> bool:
    """True (and a note) when the eGFR to use is one of two race-specific estimates of the
    same date: b12labs does not pick a patient's race, so eGFR is left unknown."""
    when, obs = chosen
    codes = set(_loinc_codes(obs)) & _RACE_SPECIFIC
    if not codes:
        return False
    rivals = [
        o
        for w, o in seen
        if o is not obs and w == when and (set(_loinc_codes(o)) & _RACE_SPECIFIC) - codes
    ]
    if not rivals:
        return False
    notes.append(
        f"eGFR not used: {_label(obs)} and {', '.join(_label(o) for o in rivals)} are "
        "race-specific estimates of the same date and b12labs does not choose by race; give "
        "a CKD-EPI 2021 eGFR (LOINC 98979-8) or the creatinine"
    )
    return True


def _stale(
    status: tuple[dt.datetime | None, dict[str, Any]],
    latest: dt.datetime | None,
    notes: list[str],
) -> bool:
    """True (and a note) when a pregnancy status is too far from the results to apply."""
    when, obs = status
    if when is None or latest is None or abs(when - latest) <= _PREGNANCY_SPAN:
        return False
    notes.append(
        f"{_label(obs)} not used: its pregnancy status ({when.date().isoformat()}) is more "
        f"than {_PREGNANCY_SPAN.days // 7} weeks from the results ({latest.date().isoformat()})"
    )
    return True


def _panel(fields: dict[str, Any], result: FhirInput) -> Panel:
    """The Panel; an error in a value read from a resource names that resource."""
    try:
        return Panel(**fields)
    except B12LabsError as error:
        where = result.context.get(error.analyte or "") or result.used.get(error.analyte or "")
        if where is None or error.message.startswith(where):
            raise
        raise type(error)(
            f"{where}: {error.message}", analyte=error.analyte, value=error.value, unit=error.unit
        ) from None


def _read_patient(
    patient: Mapping[str, Any],
    birth: _Stamp | None,
    tested: dt.date | None,
    fields: dict[str, Any],
    result: FhirInput,
) -> None:
    label = _label(patient)
    gender = patient.get("gender")
    if gender in ("female", "male"):
        fields["sex"] = gender
        result.context["sex"] = label
    if fields.get("pregnant") and gender == "male":
        raise FhirError(
            f"{label} has gender 'male' but {result.context['pregnant']} says pregnant; "
            "correct one of them"
        )
    full_birth = birth is not None and birth.first == birth.last
    if "age" in fields or birth is None or not full_birth or tested is None:
        return  # a year or year-month birthDate gives no age
    born = birth.first
    years = _completed_years(born, tested)
    if years < 0:  # only with a year or year-month result date in the month of birth
        result.notes.append(
            f"{label}: birthDate is after the results ({tested.isoformat()}); age not used"
        )
        return
    fields["age"] = float(years)
    result.context["age"] = f"{label} birthDate"
    result.notes.append(f"age {years} at {tested.isoformat()} from the Patient's birthDate")


def _completed_years(born: dt.date, on: dt.date) -> int:
    """Age in completed years on ``on`` (also used by :mod:`b12labs.hl7`)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _pregnancy_value(obs: Mapping[str, Any], notes: list[str]) -> bool | None:
    """The answer of a pregnancy status Observation (LOINC 82810-3 or b12labs' own)."""
    label = _label(obs)
    if PREGNANCY_STATUS_LOINC not in _loinc_codes(obs):
        return bool(obs["valueBoolean"])
    concept = obs["valueCodeableConcept"]
    known = {_pair(c) for c in concept.get("coding") or []} & set(PREGNANCY_ANSWERS)
    answers = {PREGNANCY_ANSWERS[p] for p in known}
    if len(answers) == 1:
        (answer,) = answers
        if answer is None:
            notes.append(f"{label}: pregnancy status unknown")
        return answer
    why = "codings that disagree" if answers else "no answer code b12labs reads"
    notes.append(f"{label}: pregnancy status not used ({why}); pregnancy unknown")
    return None


def _read_pregnancy(
    entries: list[_Entry],
    status: tuple[dt.datetime | None, dict[str, Any]] | None,
    tested: dt.date | None,
    fields: dict[str, Any],
    result: FhirInput,
) -> None:
    """Combine the pregnancy status Observation with active pregnancy Conditions."""
    conditions = []
    for entry in entries:
        cond = entry.resource
        if cond.get("resourceType") != "Condition":
            continue
        label = _label(cond)
        if not {_pair(c) for c in (cond.get("code") or {}).get("coding") or []} & (
            PREGNANCY_CONDITIONS
        ):
            if not _fhir_context.is_risk_coded(cond):  # read for risk factors
                result.ignored.append(f"{label} ({_display(cond)})")
            continue
        why = _not_current(cond, tested)
        if why:
            result.notes.append(f"{label} (pregnancy) not used: {why}")
            continue
        conditions.append(label)
    observed = fields.get("pregnant")
    source = _label(status[1]) if status is not None else None
    if conditions and observed is False:
        # Two sources disagree: unknown (the standard rules) rather than a guess.
        result.notes.append(
            f"pregnancy unknown: {', '.join(conditions)} says pregnant, {source} says not pregnant"
        )
        fields["pregnant"] = None
        return
    if conditions:
        fields["pregnant"] = True
        result.context["pregnant"] = ", ".join(
            [*conditions, *([source] if observed and source else [])]
        )
    elif observed is not None and source is not None:
        result.context["pregnant"] = source


def _not_current(cond: Mapping[str, Any], tested: dt.date | None) -> str | None:
    """Why a pregnancy Condition does not say the patient was pregnant at the results."""
    clinical = _status_code(cond.get("clinicalStatus"), CONDITION_CLINICAL)
    if clinical not in _ACTIVE:
        return f"its clinicalStatus is {clinical}" if clinical else "it has no clinicalStatus"
    why = _unconfirmed_or_abated(cond)
    if why:
        return why
    onset = _date_field(cond, "onsetDateTime") or _date_field(
        cond.get("onsetPeriod") or {}, "start", owner=cond, name="onsetPeriod.start"
    )
    if onset is not None and tested is not None and onset.first > tested:
        return f"its onset {onset.text} is after the results ({tested.isoformat()})"
    if onset is not None and tested is not None and tested - onset.last > _PREGNANCY_SPAN:
        return (
            f"its onset {onset.text} is more than {_PREGNANCY_SPAN.days // 7} weeks before the "
            f"results ({tested.isoformat()}): that pregnancy has ended"
        )
    return None


def _unconfirmed_or_abated(cond: Mapping[str, Any]) -> str | None:
    """Why a Condition does not count although its clinicalStatus does: a verificationStatus
    other than confirmed, or an abatement (pregnancy and risk-factor Conditions alike)."""
    if cond.get("verificationStatus") is not None:
        verification = _status_code(cond.get("verificationStatus"), CONDITION_VERIFICATION)
        if verification != "confirmed":
            return f"its verificationStatus is {verification or 'not coded'}"
    if any(k.startswith("abatement") for k in cond):
        return "it has abated"
    return None


def _status_code(concept: Any, system: str) -> str | None:
    if not isinstance(concept, Mapping):
        return None
    codings = concept.get("coding") or []
    return next((c.get("code") for c in codings if c.get("system") in (system, None)), None)


def _coded_list(obs: Mapping[str, Any], key: str, notes: list[str]) -> tuple[str, ...] | None:
    """Symptoms or risk factors written by :func:`to_fhir`: one component each."""
    system, kind = _LIST_CONTEXT[key]
    codes = []
    for component in obs.get("component") or []:
        for coding in (component.get("code") or {}).get("coding") or []:
            if coding.get("system") == system and component.get("valueBoolean") is True:
                code = coding.get("code")
                if code not in {str(m) for m in kind}:
                    raise FhirError(f"{_label(obs)}: {key} code {code!r} is not a b12labs code")
                codes.append(code)
    if not codes and obs.get("valueBoolean") is True:
        notes.append(f"{_label(obs)}: {key} present but not coded; {key} unknown")
        return None
    return tuple(codes)


# ----------------------------------------------------------------------------- safety checks


def _check_subjects(entries: list[_Entry], patient: _Entry | None) -> None:
    """One panel is one patient: every Observation, Condition, Procedure and medicine
    statement or request must be the Patient's."""
    urls = {e.full_url: e.resource for e in entries if e.full_url}
    named: list[tuple[str, _Subject]] = []
    for entry in entries:
        resource = entry.resource
        kind = resource.get("resourceType")
        if kind == "Observation" and resource.get("status") in _NOT_USED:
            continue  # never used; often entered in error for the wrong patient
        if kind == "Condition" and (
            _status_code(resource.get("verificationStatus"), CONDITION_VERIFICATION)
            == "entered-in-error"
        ):
            continue
        if kind in _fhir_context.SUBJECT_TYPES and resource.get("status") == "entered-in-error":
            continue
        if kind in ("Observation", "Condition", *_fhir_context.SUBJECT_TYPES):
            subject = _subject(resource, entry.full_url, urls)
            if subject is not None:
                named.append((_label(resource), subject))
    if patient is not None:
        wrong = [(label, s) for label, s in named if not _is_patient(s, patient)]
        if wrong:
            names = _patient_names(patient)
            listed = "; ".join(f"{label} refers to {s.shown!r}" for label, s in wrong)
            raise FhirError(
                f"{listed}, not the Bundle's Patient ({names}); one panel is one patient's "
                "results: give only this patient's resources"
            )
        return
    groups: dict[tuple[str, ...], list[tuple[str, _Subject]]] = {}
    for label, subject in named:
        groups.setdefault(subject.key, []).append((label, subject))
    split = [g for g in groups.values() if len({s.base for _, s in g if s.base}) > 1]
    if len(groups) > 1 or split:
        parts = [f"{label} -> {s.shown!r}" for group in groups.values() for label, s in group]
        raise FhirError(
            "the resources refer to more than one subject (" + "; ".join(parts) + "); one "
            "panel is one patient's results: give only one patient's resources"
        )


def _subject(
    resource: Mapping[str, Any], full_url: str | None, urls: Mapping[str, Mapping[str, Any]]
) -> _Subject | None:
    subject = resource.get("subject")
    if not isinstance(subject, Mapping):
        return None
    reference = subject.get("reference")
    if isinstance(reference, str) and reference:
        target = urls.get(reference)  # an entry's fullUrl (urn:uuid: or absolute)
        match = _LITERAL.match(reference)
        if match is not None:
            base = match["base"] or _base(full_url)
            return _Subject(
                reference, (match["type"], match["id"]), match["type"], match["id"], base
            )
        if target is not None:
            kind, id_ = target.get("resourceType"), target.get("id")
            return _Subject(reference, ("url", reference), kind, id_)
        return _Subject(reference, ("url", reference))
    identifier = subject.get("identifier")
    if isinstance(identifier, Mapping) and identifier.get("value"):
        pair = (str(identifier.get("system") or ""), str(identifier["value"]))
        return _Subject(f"identifier {pair[0]}|{pair[1]}", ("identifier", *pair), identifier=pair)
    return None  # a display only: nothing to compare


def _base(full_url: str | None) -> str | None:
    """The server base of an entry's RESTful fullUrl (relative references resolve to it)."""
    match = _LITERAL.match(full_url or "")
    return (match["base"] or None) if match else None


def _is_patient(subject: _Subject, patient: _Entry) -> bool:
    resource = patient.resource
    if patient.full_url and subject.shown == patient.full_url:
        return True
    if subject.identifier is not None:
        identifiers = resource.get("identifier") or []
        return any(
            (str(i.get("system") or ""), str(i.get("value"))) == subject.identifier
            for i in identifiers
            if isinstance(i, Mapping)
        )
    if subject.key[0] == "url":  # a urn:uuid: or URL that is not the Patient's fullUrl
        return False
    if subject.type != "Patient" or subject.id is None or subject.id != resource.get("id"):
        return False
    base = _base(patient.full_url)
    return subject.base is None or base is None or subject.base == base


def _patient_names(patient: _Entry) -> str:
    names = [_label(patient.resource)]
    if patient.full_url and patient.full_url not in names:
        names.append(patient.full_url)
    return ", ".join(names)


def _check_window(chosen: Mapping[str, tuple[dt.datetime | None, dict[str, Any]]]) -> None:
    """Refuse results whose dates span more than :data:`RESULT_WINDOW` (one panel is one
    point in time). Only the results used count (markers, creatinine, eGFR), by calendar
    date; results without a date are not compared."""
    dated = sorted(
        (when.date(), _label(obs))
        for key, (when, obs) in chosen.items()
        if key in _RESULT_KEYS and when is not None
    )
    if len(dated) < 2:
        return
    (first, first_label), (last, last_label) = dated[0], dated[-1]
    if last - first <= RESULT_WINDOW:
        return
    raise FhirError(
        f"the results span {(last - first).days} days, from {first_label} "
        f"({first.isoformat()}) to {last_label} ({last.isoformat()}): more than the "
        f"{RESULT_WINDOW.days} days one panel may cover (one panel is one point in time). "
        "Give the results of one date, or read each date's results on their own"
    )


def _check_dates(
    checked: list[dict[str, Any]],
    patient: Mapping[str, Any] | None,
    birth: _Stamp | None,
    today: dt.date,
) -> None:
    """Refuse results from the future and results from before the Patient was born.

    Dates are compared as calendar dates. A date-time with a time zone is in the future when
    its date in UTC is after ``today`` (UTC). A date without a time zone is the local date
    where the sample was taken, which can be one day ahead of UTC (UTC+14): it is in the
    future when it is after tomorrow. Year or year-month values count from their first day.
    """
    future: list[str] = []
    before: list[str] = []
    tomorrow = today + dt.timedelta(days=1) if today < dt.date.max else today
    if patient is not None and birth is not None and birth.first > tomorrow:
        future.append(f"{_label(patient)} birthDate {birth.text}")
    for obs in checked:
        for name, stamp in _stamps(obs):
            ahead = stamp.utc > today if stamp.utc is not None else stamp.first > tomorrow
            if ahead:
                future.append(f"{_label(obs)} {name} {stamp.text}")
            if birth is not None and stamp.last < birth.first:
                before.append(f"{_label(obs)} {name} {stamp.text}")
    if future:
        raise FhirError(
            f"dated after today ({today.isoformat()}, UTC): {'; '.join(future)}; results cannot "
            "come from the future: check the dates and the sending system's clock"
        )
    if before and patient is not None and birth is not None:
        raise FhirError(
            f"dated before the Patient's birthDate {birth.text} ({_label(patient)}): "
            f"{'; '.join(before)}; the results or the Patient are wrong (another person's "
            "results?)"
        )


def _stamps(obs: Mapping[str, Any]) -> Iterator[tuple[str, _Stamp]]:
    period = obs.get("effectivePeriod") or {}
    for name, text in (
        ("effectiveDateTime", obs.get("effectiveDateTime")),
        ("effectivePeriod.start", period.get("start")),
        ("effectivePeriod.end", period.get("end")),
        ("effectiveInstant", obs.get("effectiveInstant")),
        ("issued", obs.get("issued")),
    ):
        if text is None:
            continue
        stamp = _stamp(text)
        if stamp is None:
            raise FhirError(f"{_label(obs)}: {name} {_shown(text)} is not a FHIR date or dateTime")
        yield name, stamp


def _date_field(
    container: Mapping[str, Any],
    key: str,
    *,
    owner: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> _Stamp | None:
    """The date in ``container[key]``; a text that is not a date is refused (never skipped)."""
    text = container.get(key)
    if text is None:
        return None
    stamp = _stamp(text)
    if stamp is None:
        who = _label(owner if owner is not None else container)
        raise FhirError(f"{who}: {name or key} {_shown(text)} is not a FHIR date or dateTime")
    return stamp


def _stamp(text: Any) -> _Stamp | None:
    if not isinstance(text, str):
        return None
    text = text.strip()
    partial = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
    try:
        if partial is not None:
            year, month, day = (int(p) if p else None for p in partial.groups())
            assert year is not None
            if day is not None and month is not None:
                date = dt.date(year, month, day)
                return _Stamp(text, date, date, None)
            first = dt.date(year, month or 1, 1)
            if month is None or month == 12:
                return _Stamp(text, first, dt.date(year, 12, 31), None)
            return _Stamp(text, first, dt.date(year, month + 1, 1) - dt.timedelta(days=1), None)
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        utc = when.astimezone(dt.UTC).date() if when.tzinfo else None
    except (ValueError, OverflowError):  # not a date; or a date-time whose UTC date is year 0
        return None
    return _Stamp(text, when.date(), when.date(), utc)


# ----------------------------------------------------------------------------- shapes
# The fields b12labs reads, with the JSON type FHIR gives them. A resource whose field has
# another type is refused with a message naming the field (it is not valid FHIR, and reading
# it would be a guess). Fields b12labs does not read are not checked; null counts as absent.

_Shape = Any  # str | bool | "value" | dict[str, _Shape] | list[_Shape] (a list of)
_CODING: dict[str, _Shape] = {"system": str, "code": str, "display": str}
_CONCEPT: dict[str, _Shape] = {"coding": [_CODING], "text": str}
_PERIOD: dict[str, _Shape] = {"start": str, "end": str}
_IDENTIFIER: dict[str, _Shape] = {"system": str, "value": str}
_REFERENCE: dict[str, _Shape] = {"reference": str, "identifier": _IDENTIFIER, "display": str}
_SHAPES: dict[str, dict[str, _Shape]] = {
    "Observation": {
        "id": str,
        "status": str,
        "code": _CONCEPT,
        "subject": _REFERENCE,
        "effectiveDateTime": str,
        "effectivePeriod": _PERIOD,
        "effectiveInstant": str,
        "issued": str,
        # the number itself is checked where it is read (a number, in the float range)
        "valueQuantity": {
            "value": "value",
            "unit": str,
            "code": str,
            "system": str,
            "comparator": str,
        },
        "valueBoolean": bool,
        "valueCodeableConcept": _CONCEPT,
        "dataAbsentReason": _CONCEPT,
        "component": [{"code": _CONCEPT, "valueBoolean": bool}],
    },
    "Patient": {"id": str, "gender": str, "birthDate": str, "identifier": [_IDENTIFIER]},
    "Condition": {
        "id": str,
        "subject": _REFERENCE,
        "code": _CONCEPT,
        "clinicalStatus": _CONCEPT,
        "verificationStatus": _CONCEPT,
        "onsetDateTime": str,
        "onsetPeriod": _PERIOD,
    },
}
_TYPE_NAMES = {str: "text", bool: "true or false"}


def _check_shape(resource: Mapping[str, Any]) -> None:
    """Refuse a resource whose fields read by b12labs have the wrong JSON type."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        raise FhirError(f"resourceType must be text, not {_shown(kind)}")
    shape = _SHAPES.get(kind) or _fhir_context.SHAPES.get(kind)
    if shape is None:
        return
    identifier = resource.get("id")
    label = f"{kind}/{identifier}" if isinstance(identifier, str) else f"{kind}/(no id)"
    _check_fields(resource, shape, label, "")


def _check_fields(value: Mapping[str, Any], shape: dict[str, _Shape], label: str, at: str) -> None:
    for key, expected in shape.items():
        item = value.get(key)
        if item is not None:
            _check_value(item, expected, label, f"{at}{key}")


def _check_value(item: Any, expected: _Shape, label: str, path: str) -> None:
    if expected == "value":
        if isinstance(item, Mapping | list | tuple):
            raise FhirError(f"{label}: {path} must be a number, not {_shown(item)}")
    elif isinstance(expected, dict):
        if not isinstance(item, Mapping):
            raise FhirError(f"{label}: {path} must be an object, not {_shown(item)}")
        _check_fields(item, expected, label, f"{path}.")
    elif isinstance(expected, list):
        if not isinstance(item, list):
            raise FhirError(f"{label}: {path} must be an array, not {_shown(item)}")
        for i, element in enumerate(item):
            if element is None:
                raise FhirError(f"{label}: {path}[{i}] is null")
            _check_value(element, expected[0], label, f"{path}[{i}]")
    elif not isinstance(item, expected) or (expected is not bool and isinstance(item, bool)):
        raise FhirError(f"{label}: {path} must be {_TYPE_NAMES[expected]}, not {_shown(item)}")


def _shown(value: Any) -> str:
    """A value as a message shows it: its repr, shortened (a huge number, a long text)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1000:
        return "a number of more than 300 digits"
    try:
        text = repr(value)
    except Exception:  # e.g. deep nesting
        return f"a {type(value).__name__}"
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


# ----------------------------------------------------------------------------- parsing


def _load(data: Any) -> Any:
    if isinstance(data, str | bytes | bytearray):
        try:
            return json.loads(data)
        except RecursionError:
            raise _too_deep() from None
        except ValueError as error:
            raise FhirError(f"not JSON: {error}") from None
    return data


def _too_deep() -> FhirError:
    return FhirError(
        f"the input is nested more than {MAX_DEPTH} levels deep (arrays and objects inside one "
        "another); FHIR resources are far shallower, so it is not read"
    )


def _depth(data: Any) -> int:
    """Nesting depth of JSON-like data (0 for a scalar), counted up to ``MAX_DEPTH + 1``.

    Level by level, without recursion; a structure that contains itself never ends, so it
    counts as too deep.
    """
    level = [data] if isinstance(data, Mapping | list | tuple) else []
    depth = 0
    while level and depth <= MAX_DEPTH:
        depth += 1
        below: dict[int, Any] = {}
        for item in level:
            for child in item.values() if isinstance(item, Mapping) else item:
                if isinstance(child, Mapping | list | tuple):
                    below[id(child)] = child
        level = list(below.values())
    return depth


def _entries(data: Any, full_url: str | None = None) -> Iterable[_Entry]:
    if isinstance(data, list):
        for item in data:
            yield from _entries(item)
        return
    if not isinstance(data, Mapping) or "resourceType" not in data:
        raise FhirError("expected a FHIR resource (a JSON object with a resourceType)")
    if data["resourceType"] == "Bundle":
        listed = data.get("entry")
        if listed is not None and not isinstance(listed, list):
            raise FhirError(f"Bundle entry must be an array, not {_shown(listed)}")
        for entry in listed or []:
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if resource is not None:
                url = entry.get("fullUrl")
                yield from _entries(resource, url if isinstance(url, str) else None)
        return
    yield _Entry(dict(data), full_url)


def _label(obs: Mapping[str, Any]) -> str:
    return f"{obs.get('resourceType', 'Observation')}/{obs.get('id', '(no id)')}"


def _pair(coding: Any) -> tuple[str, str]:
    if not isinstance(coding, Mapping):
        return ("", "")
    return (str(coding.get("system") or ""), str(coding.get("code") or ""))


def _loinc_codes(obs: Mapping[str, Any]) -> list[str]:
    codings = (obs.get("code") or {}).get("coding") or []
    return [c.get("code") for c in codings if c.get("system") == LOINC and c.get("code")]


def _own_code(obs: Mapping[str, Any]) -> str | None:
    codings = (obs.get("code") or {}).get("coding") or []
    return next(
        (c.get("code") for c in codings if c.get("system") == OBSERVATION_CODE_SYSTEM), None
    )


def _display(obs: Mapping[str, Any]) -> str:
    code = obs.get("code") or {}
    codings = code.get("coding") or [{}]
    return str(code.get("text") or codings[0].get("display") or codings[0].get("code") or "no code")


def _effective(obs: Mapping[str, Any]) -> dt.datetime | None:
    period = obs.get("effectivePeriod") or {}
    for text in (
        obs.get("effectiveDateTime"),
        period.get("start"),
        obs.get("effectiveInstant"),
        obs.get("issued"),
    ):
        if isinstance(text, str) and len(text) >= 4:
            padded = text + "-01-01"[len(text) - 4 :] if len(text) < 10 else text
            try:
                when = dt.datetime.fromisoformat(padded.replace("Z", "+00:00"))
            except ValueError:
                continue
            return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return None


def _quantity(obs: Mapping[str, Any], what: str) -> tuple[Any, str, str | None]:
    label = _label(obs)
    quantity = obs.get("valueQuantity")
    if not isinstance(quantity, Mapping) or quantity.get("value") is None:
        reason = obs.get("dataAbsentReason") or {}
        why = (reason.get("coding") or [{}])[0].get("code") or reason.get("text")
        raise InvalidValueError(
            f"{label}: {what} has no valueQuantity value"
            + (f" (dataAbsentReason: {why})" if why else "")
            + "; a numeric result with a UCUM unit is needed",
            analyte=what,
        )
    value = quantity["value"]
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise InvalidValueError(
            f"{label}: {what} valueQuantity.value {_shown(value)} is not a number",
            analyte=what,
        )
    try:
        float(value)
    except (ValueError, ArithmeticError):  # an integer beyond the float range
        raise InvalidValueError(
            f"{label}: {what} valueQuantity.value {_shown(value)} is not a usable result; a "
            "finite, non-negative number is required",
            analyte=what,
        ) from None
    system = quantity.get("system")
    unit = quantity.get("code")
    if system is not None and system != UCUM:
        raise UnitError(
            f"{label}: {what} unit {quantity.get('code') or quantity.get('unit')!r} is from "
            f"{system!r}, not UCUM ({UCUM}); give the UCUM code",
            analyte=what,
            value=quantity.get("value"),
            unit=quantity.get("code") or quantity.get("unit"),
        )
    unit = unit or quantity.get("unit")
    if not unit:
        raise InvalidValueError(
            f"{label}: {what} value {_shown(value)} has no unit; give the UCUM code",
            analyte=what,
            value=quantity.get("value"),
        )
    comparator = quantity.get("comparator")
    if comparator is not None and comparator not in _COMPARATORS:
        raise InvalidValueError(
            f"{label}: {what} comparator {comparator!r} is not one of <, <=, >, >=",
            analyte=what,
            value=quantity.get("value"),
            unit=unit,
        )
    return quantity.get("value"), str(unit), comparator


def _measurement(obs: Mapping[str, Any], key: str) -> Measurement:
    value, unit, comparator = _quantity(obs, key)
    try:
        source = _label(obs) if obs.get("id") else None  # a reference needs an id
        measurement = Measurement(value=value, unit=unit, censor=comparator, source=source)
        checked = coerce_measurement(measurement, key)
    except B12LabsError as error:
        raise type(error)(
            f"{_label(obs)}: {error.message}", analyte=key, value=value, unit=unit
        ) from None
    assert checked is not None
    return checked


def _number(obs: Mapping[str, Any], what: str, value: Any, unit: str) -> float:
    """The value as a float, checked as Panel checks numbers; the error names ``obs``."""
    try:
        return _checked_number(value, what, unit, value)
    except InvalidValueError as error:
        raise InvalidValueError(
            f"{_label(obs)}: {error.message}", analyte=what, value=value, unit=unit
        ) from None


def _age_value(obs: Mapping[str, Any]) -> tuple[float, str | None]:
    value, unit, comparator = _quantity(obs, "age")
    factors = {"a": 1.0, "mo": 1.0 / 12.0}  # UCUM year and month
    if unit not in factors:
        raise UnitError(
            f"{_label(obs)}: age unit {unit!r} is not 'a' (years) or 'mo'",
            analyte="age",
            value=value,
            unit=unit,
        )
    return _number(obs, "age", value, unit) * factors[unit], comparator


def _egfr_value(obs: Mapping[str, Any]) -> tuple[float, str | None]:
    """eGFR in mL/min/1.73 m2: UCUM ``mL/min/{1.73_m2}`` and its usual spellings, or
    ``mL/s/{1.73_m2}`` (x 60)."""
    value, unit, comparator = _quantity(obs, "egfr")
    folded = re.sub(r"\s+", "", unit).lower().replace("²", "2").replace("^2", "2")
    match = _EGFR_UNIT.match(folded)
    if match is None:
        raise UnitError(
            f"{_label(obs)}: eGFR unit {unit!r} is not per 1.73 m2 of body surface; give "
            "mL/min/{1.73_m2} (or mL/s/{1.73_m2})",
            analyte="egfr",
            value=value,
            unit=unit,
        )
    factor = 60.0 if match["per"] == "s" else 1.0
    return _number(obs, "egfr", value, unit) * factor, comparator


# ----------------------------------------------------------------------------- writing


def _id(*parts: Any) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(str(p) for p in parts)))


def _quantity_json(value: float, unit: str, comparator: str | None = None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if comparator:
        quantity["comparator"] = comparator
    return quantity


def to_fhir(interpretation: Interpretation, *, subject: str | None = None) -> dict[str, Any]:
    """The interpretation as a FHIR R4 Bundle of type ``collection``.

    ``subject`` (e.g. ``"Patient/123"``) is set as every Observation's subject when given.
    Identifiers are derived from the content (UUID 5), so the same interpretation always
    gives the same Bundle.
    """
    seed = interpretation.model_dump_json()
    entries: list[dict[str, Any]] = []
    written: list[str] = []
    sources: list[str] = []

    patient = interpretation.patient
    if subject is None and patient.sex is not None:  # written first: the others refer to it
        patient_id = _id(seed, "patient")
        entries.append(
            {
                "fullUrl": f"urn:uuid:{patient_id}",
                "resource": {
                    "resourceType": "Patient",
                    "id": patient_id,
                    "gender": patient.sex.value,
                },
            }
        )
        subject = f"urn:uuid:{patient_id}"  # entries are identified by their fullUrl

    def add(resource: dict[str, Any]) -> str:
        if subject:
            resource["subject"] = {"reference": subject}
        full_url = f"urn:uuid:{resource['id']}"
        entries.append({"fullUrl": full_url, "resource": resource})
        return full_url

    def laboratory() -> list[dict[str, Any]]:  # a fresh list per resource: nothing is shared
        return [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}]

    for key, marker in interpretation.markers.items():
        info = analyte_info(str(key))
        interval = marker.reference_interval
        reference: dict[str, Any] = {"text": f"{interval.text} ({interpretation.profile_id})"}
        if interval.low is not None:
            reference["low"] = _quantity_json(interval.low, interval.unit)
        if interval.high is not None:
            reference["high"] = _quantity_json(interval.high, interval.unit)
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": _id(seed, key),
            "status": "final",
            "category": laboratory(),
            "code": {
                "coding": [{"system": LOINC, "code": _WRITE_LOINC[str(key)]}],
                "text": info.name,
            },
            "valueQuantity": _quantity_json(
                marker.value, marker.unit, marker.censor.value if marker.censor else None
            ),
            "interpretation": [
                {
                    "coding": [
                        {"system": V3_INTERPRETATION, "code": marker.interpretation_code.value}
                    ],
                    "text": marker.category.value,
                }
            ],
            "referenceRange": [reference],
        }
        if marker.source:
            resource["derivedFrom"] = [{"reference": marker.source}]
            sources.append(marker.source)
        written.append(add(resource))

    if patient.egfr is not None:
        add(
            {
                "resourceType": "Observation",
                "id": _id(seed, "egfr"),
                "status": "final",
                "code": {
                    "coding": [
                        {
                            "system": OBSERVATION_CODE_SYSTEM,
                            "code": "egfr",
                            "display": f"eGFR ({patient.egfr_source})",
                        }
                    ]
                },
                "valueQuantity": _quantity_json(patient.egfr, "mL/min/{1.73_m2}"),
            }
        )
    # The context that decides rules-v2 findings, so that reading the Bundle back gives
    # the same status (decision-spec section 7).
    for name, display in (
        ("pregnant", "Pregnant"),
        ("recent_b12_treatment", "Recent B12 treatment (injection or supplement)"),
        ("nitrous_oxide", "Nitrous oxide exposure"),
    ):
        flag = getattr(patient, name)
        if flag is not None:
            add(_own_observation(_id(seed, name), name, display, {"valueBoolean": flag}))
    for name, display in (("symptoms", "Symptoms"), ("risk_factors", "Risk factors")):
        items = getattr(patient, name)
        if items is not None:  # an empty list is "none reported", not unknown
            system = _LIST_CONTEXT[name][0]
            value: dict[str, Any] = {"valueBoolean": bool(items)}  # any reported
            if items:
                value["component"] = [
                    {"code": {"coding": [{"system": system, "code": str(i)}]}, "valueBoolean": True}
                    for i in items
                ]
            add(_own_observation(_id(seed, name), name, display, value))
    if interpretation.patient.age is not None:
        add(
            {
                "resourceType": "Observation",
                "id": _id(seed, "age"),
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": AGE_LOINC, "display": "Age"}]},
                "valueQuantity": _quantity_json(interpretation.patient.age, "a"),
            }
        )

    if interpretation.cb12.value is not None:
        written.append(
            add(
                {
                    "resourceType": "Observation",
                    "id": _id(seed, "cb12"),
                    "status": "final",
                    "category": laboratory(),
                    "code": {
                        "coding": [
                            {
                                "system": OBSERVATION_CODE_SYSTEM,
                                "code": "cb12",
                                "display": "Combined indicator of vitamin B12 status (cB12)",
                            }
                        ]
                    },
                    "valueQuantity": {
                        "value": interpretation.cb12.value,
                        "unit": "1",
                        "system": UCUM,
                        "code": "1",
                    },
                    "note": [{"text": f"band: {interpretation.cb12.band}"}],
                    "derivedFrom": [{"reference": r} for r in written],
                }
            )
        )

    components: list[dict[str, Any]] = [
        {"code": {"coding": [{"system": FINDING_SYSTEM, "code": f.code}]}, "valueString": f.message}
        for f in interpretation.findings
    ] + [
        {
            "code": {"coding": [{"system": NEXT_STEP_SYSTEM, "code": s.code}]},
            "valueString": s.message,
        }
        for s in interpretation.next_steps
    ]
    components.append(
        {
            "code": {
                "coding": [
                    {
                        "system": OBSERVATION_CODE_SYSTEM,
                        "code": "schema-version",
                        "display": "b12labs result schema version",
                    }
                ]
            },
            "valueString": interpretation.schema_version,
        }
    )
    components.append(
        {
            "code": {
                "coding": [
                    {
                        "system": OBSERVATION_CODE_SYSTEM,
                        "code": "rules-version",
                        "display": "b12labs decision rules version",
                    }
                ]
            },
            "valueInteger": interpretation.rules_version,
        }
    )
    overall: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _id(seed, "status"),
        "status": "final",
        "category": laboratory(),
        "code": {
            "coding": [
                {
                    "system": OBSERVATION_CODE_SYSTEM,
                    "code": "b12-status",
                    "display": "Vitamin B12 status interpretation",
                }
            ],
        },
        "valueCodeableConcept": {
            "coding": [{"system": STATUS_SYSTEM, "code": interpretation.status.value}],
            "text": interpretation.summary,
        },
        "note": [
            {
                "text": f"Interpreted by b12labs {interpretation.library_version} with profile "
                f"{interpretation.profile_id} {interpretation.profile_version}, rules version "
                f"{interpretation.rules_version}, schema version "
                f"{interpretation.schema_version}. Decision support, not a diagnosis."
            }
        ],
    }
    overall["component"] = components
    if written or sources:
        overall["derivedFrom"] = [{"reference": r} for r in [*written, *sources]]
    add(overall)
    return {
        "resourceType": "Bundle",
        "id": _id(seed, "bundle"),
        "type": "collection",
        "entry": entries,
    }


def _own_observation(id_: str, code: str, display: str, value: dict[str, Any]) -> dict[str, Any]:
    """A context Observation coded in b12labs' observation code system."""
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "code": {"coding": [{"system": OBSERVATION_CODE_SYSTEM, "code": code, "display": display}]},
        **value,
    }


# ----------------------------------------------------------------------------- series


@dataclass
class FhirSeries:
    """One patient's results read from FHIR as a series: one point per collection date.

    Iterating gives the :class:`~b12labs.DatedPanel` points in date order, so
    ``b12labs.interpret_series(read_fhir_series(bundle))`` works.
    """

    points: list[DatedPanel] = field(default_factory=list)
    # collection date -> how that date's point was read (used, ignored, notes, context)
    reads: dict[dt.date, FhirInput] = field(default_factory=dict)
    # Observations that give nothing b12labs reads
    ignored: list[str] = field(default_factory=list)
    # Observations not used (excluded status, context of a date without results) and why
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[DatedPanel]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)


def read_fhir_series(data: Any, *, today: dt.date | None = None) -> FhirSeries:
    """Read one patient's B12-status results on several dates as a series (one point per date).

    The result Observations (markers, creatinine, eGFR) are grouped by their collection date
    (the calendar date of ``effectiveDateTime``, ``effectivePeriod.start``,
    ``effectiveInstant`` or, failing those, ``issued``, as written); each date is read by
    :func:`read_fhir` together with the resources that describe the patient: the Patient (sex,
    and age at each date from ``birthDate``), Conditions, Procedures and medications (risk
    factors and pregnancy, judged against that date), pregnancy-status Observations (used
    within :func:`read_fhir`'s window of that date) and context Observations without a date.
    A context Observation with a date (age, b12labs' own context codes) belongs to the point of
    that date; one dated on a day without results is not used (a note says so).

    Raises:
        FhirError: as :func:`read_fhir`; a result Observation without a collection date or
            dated by year or month only.
        InvalidValueError, UnitError: as :func:`read_fhir` (the message names the
            Observation).
    """
    today = _today(today)
    entries, patient = _one_patients_entries(data)

    series = FhirSeries()
    shared: list[_Entry] = []
    results: dict[dt.date, list[_Entry]] = {}
    context: dict[dt.date, list[_Entry]] = {}
    for entry in entries:
        obs = entry.resource
        if obs.get("resourceType") != "Observation":
            shared.append(entry)
            continue
        key = _read_key(obs, series.ignored, series.notes)
        if key is None:
            continue
        when = _effective(obs)
        if key in _RESULT_KEYS:
            results.setdefault(_collection_day(obs, when), []).append(entry)
        elif key == "pregnant" or when is None:
            shared.append(entry)
        else:
            context.setdefault(when.date(), []).append(entry)
    for day in sorted(set(context) - set(results)):
        for entry in context[day]:
            series.notes.append(
                f"{_label(entry.resource)} not used: it is dated {day.isoformat()}, a date "
                "without results"
            )
    for day in sorted(results):
        # the entries were loaded and checked above: each date reads its share of them
        chosen = [*shared, *results[day], *context.get(day, [])]
        read = _read_entries(chosen, patient, today)
        series.reads[day] = read
        series.points.append(DatedPanel(collected=day, panel=read.panel))
    return series


def _collection_day(obs: Mapping[str, Any], when: dt.datetime | None) -> dt.date:
    """The calendar date a result was collected, as written (a series needs the day)."""
    period = obs.get("effectivePeriod") or {}
    texts = [obs.get("effectiveDateTime"), period.get("start"), obs.get("effectiveInstant")]
    text = next((t for t in texts if isinstance(t, str)), obs.get("issued"))
    if when is None or not isinstance(text, str):
        raise FhirError(
            f"{_label(obs)} has no collection date (effectiveDateTime, effectivePeriod.start, "
            "effectiveInstant or issued): a result of a series needs its date"
        )
    if len(text.strip()) < 10:
        raise FhirError(
            f"{_label(obs)} is dated {text.strip()!r}, a year or month only: a result of a "
            "series needs its collection day"
        )
    return when.date()
