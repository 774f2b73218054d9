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
* the value is ``valueQuantity.value`` with its UCUM ``code`` (``unit`` text when no code is
  given); ``comparator`` ``<``, ``<=``, ``>``, ``>=`` makes a censored result;
* an Observation with status ``entered-in-error`` or ``cancelled`` is never used; an analyte
  present twice uses the most recent (``effectiveDateTime``, ``effectivePeriod.start``,
  ``effectiveInstant`` or ``issued``) and says so;
* a Patient gives sex (``gender``) and, with the date of the results, age at testing
  (completed years from ``birthDate``);
* a missing value, an unknown unit or a unit from a system other than UCUM is an error that
  names the Observation.

Writing (:func:`to_fhir`): a Bundle of type ``collection`` with one Observation per marker
(``interpretation`` from the result, ``referenceRange`` from the profile), an Observation for
cB12 when it was computed, an Observation for age, and an overall Observation whose
``valueCodeableConcept`` is the status from the code system :data:`STATUS_SYSTEM`, whose
components carry the findings (:data:`FINDING_SYSTEM`) and next steps
(:data:`NEXT_STEP_SYSTEM`), and whose ``derivedFrom`` lists the marker Observations written
and the input Observations they came from.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._analytes import MARKERS, analyte_info
from ._exceptions import B12LabsError, FhirError, InvalidValueError, UnitError
from ._models import Interpretation, Measurement, Panel, coerce_measurement

__all__ = [
    "AGE_LOINC",
    "FINDING_SYSTEM",
    "LOINC",
    "NEXT_STEP_SYSTEM",
    "OBSERVATION_CODE_SYSTEM",
    "STATUS_SYSTEM",
    "UCUM",
    "FhirInput",
    "panel_from_fhir",
    "read_fhir",
    "to_fhir",
]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
#: Code systems defined by b12labs (canonical URIs; documented in docs/fhir.md and
#: docs/codes.md). They are b12labs' own, not registered with HL7.
STATUS_SYSTEM = "https://b12labs.org/fhir/CodeSystem/status"
FINDING_SYSTEM = "https://b12labs.org/fhir/CodeSystem/finding"
NEXT_STEP_SYSTEM = "https://b12labs.org/fhir/CodeSystem/next-step"
OBSERVATION_CODE_SYSTEM = "https://b12labs.org/fhir/CodeSystem/observation"
#: LOINC "Age" (the patient's age at the time of the results).
AGE_LOINC = "30525-0"
_NOT_USED = frozenset({"entered-in-error", "cancelled"})
_COMPARATORS = frozenset({"<", "<=", ">", ">="})
_ID_NAMESPACE = uuid.UUID("6f1d9c1e-2a7e-4d59-9d0b-b12b12b12b12")
# The LOINC code written for each marker: the code of its canonical (molar) unit.
_WRITE_LOINC = {
    "b12": "14685-2",
    "holotc": "72160-5",
    "mma": "13964-2",
    "hcy": "13965-9",
    "folate": "14732-2",
}


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
    ignored: list[str] = field(default_factory=list)  # Observations that are not B12 markers
    notes: list[str] = field(default_factory=list)  # duplicates, excluded statuses, age


def panel_from_fhir(data: Any) -> Panel:
    """The :class:`~b12labs.Panel` of a FHIR Observation, list of Observations or Bundle
    (a dict or JSON text). See :func:`read_fhir` for what is ignored and why."""
    return read_fhir(data).panel


def read_fhir(data: Any) -> FhirInput:
    """Read B12-status results (and the Patient) from FHIR resources.

    Raises:
        FhirError: not FHIR JSON, or more than one Patient.
        InvalidValueError, UnitError: an Observation without a usable value or unit (the
            message names the Observation).
    """
    resources = list(_resources(_load(data)))
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) > 1:
        raise FhirError("the resources hold more than one Patient; give one patient's results")
    observations = [r for r in resources if r.get("resourceType") == "Observation"]
    analytes = _codes_to_analyte()
    chosen: dict[str, tuple[dt.datetime | None, dict[str, Any]]] = {}
    result = FhirInput(panel=Panel())
    for obs in observations:
        label = _label(obs)
        status = obs.get("status")
        codes = _loinc_codes(obs)
        key = next((analytes[c] for c in codes if c in analytes), None)
        if key is None and AGE_LOINC in codes:
            key = "age"
        if key is None:  # context written by to_fhir under b12labs' own codes
            own = _own_code(obs)
            key = own if own in ("egfr", "pregnant") else None
        if key is None:
            result.ignored.append(f"{label} ({_display(obs)})")
            continue
        if status in _NOT_USED:
            result.notes.append(f"{label} not used: its status is {status}")
            continue
        when = _effective(obs)
        if key in chosen:
            earlier_when, earlier = chosen[key]
            newer = when is not None and (earlier_when is None or when > earlier_when)
            kept, dropped = (obs, earlier) if newer else (earlier, obs)
            older = when is not None and earlier_when is not None and when < earlier_when
            why = "the more recent" if newer or older else "listed first (same or unknown date)"
            result.notes.append(
                f"{key} given twice: used {_label(kept)}, {why}; ignored {_label(dropped)}"
            )
            if not newer:
                continue
        chosen[key] = (when, obs)

    fields: dict[str, Any] = {}
    for key, (_, obs) in chosen.items():
        if key in ("age", "egfr"):
            value, comparator = _age_value(obs) if key == "age" else _quantity(obs, "egfr")[::2]
            if comparator:  # e.g. age ">89" (top-coded) or eGFR ">60": the bound is used
                result.notes.append(f"{_label(obs)}: {key} {comparator}{value} read as {value}")
            fields[key] = value
            continue
        if key == "pregnant":
            fields["pregnant"] = obs.get("valueBoolean")
            continue
        fields[key] = _measurement(obs, key)
        result.used[key] = _label(obs)
    if patients:
        patient = patients[0]
        gender = patient.get("gender")
        if gender in ("female", "male"):
            fields["sex"] = gender
        birth = _date(patient.get("birthDate"))
        dates = [d for d, o in chosen.values() if d is not None]
        if "age" not in fields and birth is not None and dates:
            tested = max(dates).date()
            years = (
                tested.year - birth.year - ((tested.month, tested.day) < (birth.month, birth.day))
            )
            if years < 0:
                result.notes.append(
                    f"{_label(patient)}: birthDate {birth.isoformat()} is after the results "
                    f"({tested.isoformat()}); age not used"
                )
            else:
                fields["age"] = float(years)
                result.notes.append(
                    f"age {years} at {tested.isoformat()} from the Patient's birthDate"
                )
    result.panel = Panel(**fields)
    return result


def _load(data: Any) -> Any:
    if isinstance(data, str | bytes):
        try:
            return json.loads(data)
        except ValueError as error:
            raise FhirError(f"not JSON: {error}") from None
    return data


def _resources(data: Any) -> Iterable[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _resources(item)
        return
    if not isinstance(data, Mapping) or "resourceType" not in data:
        raise FhirError("expected a FHIR resource (a JSON object with a resourceType)")
    if data["resourceType"] == "Bundle":
        for entry in data.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if resource is not None:
                yield from _resources(resource)
        return
    yield dict(data)


def _label(obs: Mapping[str, Any]) -> str:
    return f"{obs.get('resourceType', 'Observation')}/{obs.get('id', '(no id)')}"


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


def _date(text: Any) -> dt.date | None:
    if not isinstance(text, str) or len(text) < 10:  # a year or year-month gives no age
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


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
            f"{label}: {what} value {quantity.get('value')!r} has no unit; give the UCUM code",
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
    return float(value) * factors[unit], comparator


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
    if patient.pregnant is not None:
        add(
            {
                "resourceType": "Observation",
                "id": _id(seed, "pregnant"),
                "status": "final",
                "code": {
                    "coding": [
                        {
                            "system": OBSERVATION_CODE_SYSTEM,
                            "code": "pregnant",
                            "display": "Pregnant",
                        }
                    ]
                },
                "valueBoolean": patient.pregnant,
            }
        )
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

    components = [
        {"code": {"coding": [{"system": FINDING_SYSTEM, "code": f.code}]}, "valueString": f.message}
        for f in interpretation.findings
    ] + [
        {
            "code": {"coding": [{"system": NEXT_STEP_SYSTEM, "code": s.code}]},
            "valueString": s.message,
        }
        for s in interpretation.next_steps
    ]
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
                f"{interpretation.profile_id} {interpretation.profile_version}. "
                "Decision support, not a diagnosis."
            }
        ],
    }
    if components:
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
