"""Risk factors for B12 deficiency read from FHIR Conditions, Procedures and medicines.

The codes live in ``_data/fhir_risk_codes.toml``, each with its display text and the public
source in which it was read; this module loads and validates them once and reads a Bundle's
resources against them. :func:`b12labs.fhir.read_fhir` calls :func:`read_risk_factors`; the
rules are documented in docs/fhir.md ("Risk factors from Conditions and medicines") and the
codes in docs/sources.md.

Rules, in short:

* a **Condition** counts when its ``clinicalStatus`` is ``active``, ``recurrence`` or
  ``relapse`` (or absent), its ``verificationStatus`` is ``confirmed`` (or absent), it has no
  ``abatement[x]`` and it did not start after the results;
* a **Procedure** counts when its ``status`` is ``completed`` and it was not done after the
  results;
* a **MedicationStatement** counts when its ``status`` is ``active`` or ``on-hold`` (FHIR R5:
  ``recorded`` with an ``adherence`` saying taking or on hold); a **MedicationRequest** when
  its ``status`` is ``active`` or ``on-hold`` and it is not ``doNotPerform``; neither when it
  starts after the results;
* the medicine is ``medicationCodeableConcept`` (R4), ``medication.concept`` (R5), or the
  Medication that ``medicationReference`` / ``medication.reference`` names (contained, or an
  entry of the Bundle), with the codes of its ingredients;
* ICD-10 and ICD-10-CM codes match their subdivisions; SNOMED CT, RxNorm and ATC codes match
  only themselves; codings of one concept that give different risk factors give none.

Risk factors found are added to those the Panel already has (never removed); none found leaves
them as they were (unknown stays unknown: a Bundle without a Condition does not say "none").
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from . import fhir as _fhir
from ._data_files import read_toml
from ._fhir_codes import ICD10, ICD10_CM, SNOMED
from ._models import RiskFactor

if TYPE_CHECKING:
    from .fhir import FhirInput, _Entry

__all__ = [
    "ATC",
    "ICD10",
    "ICD10_CM",
    "READ_TYPES",
    "RXNORM",
    "SHAPES",
    "SNOMED",
    "SUBJECT_TYPES",
    "SYSTEMS",
    "SYSTEM_NAMES",
    "CodeSource",
    "NotShipped",
    "RiskCode",
    "RiskCodeTable",
    "is_risk_coded",
    "lookup",
    "read_risk_factors",
    "risk_code_table",
    "risk_factors_of",
]

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
#: The short names of ``_data/fhir_risk_codes.toml`` and the FHIR code system URIs they stand for.
SYSTEMS: Mapping[str, str] = {
    "snomed": SNOMED,
    "icd10": ICD10,
    "icd10cm": ICD10_CM,
    "rxnorm": RXNORM,
    "atc": ATC,
}
SYSTEM_NAMES: Mapping[str, str] = {
    SNOMED: "SNOMED CT",
    ICD10: "ICD-10",
    ICD10_CM: "ICD-10-CM",
    RXNORM: "RxNorm",
    ATC: "ATC",
}
# Classifications whose codes match their subdivisions (E10 matches E10.9).
_HIERARCHICAL = frozenset({ICD10, ICD10_CM})
# The form of a code in each system (a code of another form in the data file is a typo).
_CODE_FORMS: Mapping[str, re.Pattern[str]] = {
    "snomed": re.compile(r"^[1-9][0-9]{5,17}$"),
    "icd10": re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$"),
    "icd10cm": re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$"),
    "rxnorm": re.compile(r"^[1-9][0-9]{0,8}$"),
    "atc": re.compile(r"^[A-Z][0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?$"),
}
#: The resources read for risk factors (a Condition that codes pregnancy is read for that too).
READ_TYPES = ("Condition", "Procedure", "MedicationStatement", "MedicationRequest")
# Resources, besides Observations and Conditions, whose subject must be the Bundle's Patient.
SUBJECT_TYPES = ("Procedure", "MedicationStatement", "MedicationRequest")
_MEDICINES = frozenset({"MedicationStatement", "MedicationRequest"})
# Statuses that count (see the module docstring and docs/fhir.md).
_COUNTING_MEDICINE = frozenset({"active", "on-hold"})
ADHERENCE = "http://hl7.org/fhir/CodeSystem/medication-statement-adherence"
_TAKING = frozenset(
    {
        "taking",
        "taking-as-directed",
        "taking-not-as-directed",
        "on-hold",
        "on-hold-as-directed",
        "on-hold-not-as-directed",
    }
)
# Where each resource says when it started (checked against the date of the results).
_STARTS: Mapping[str, tuple[tuple[str, str | None], ...]] = {
    "Condition": (("onsetDateTime", None), ("onsetPeriod", "start")),
    "Procedure": (
        ("performedDateTime", None),
        ("performedPeriod", "start"),
        ("occurrenceDateTime", None),
        ("occurrencePeriod", "start"),
    ),
    "MedicationStatement": (("effectiveDateTime", None), ("effectivePeriod", "start")),
    "MedicationRequest": (("authoredOn", None),),
}

# ----------------------------------------------------------------------------- shapes
# The fields read here, with their JSON types (checked as fhir.py checks the others).
_CODING: dict[str, Any] = {"system": str, "code": str, "display": str}
_CONCEPT: dict[str, Any] = {"coding": [_CODING], "text": str}
_REFERENCE: dict[str, Any] = {
    "reference": str,
    "identifier": {"system": str, "value": str},
    "display": str,
}
_PERIOD: dict[str, Any] = {"start": str, "end": str}
_CODEABLE_REFERENCE: dict[str, Any] = {"concept": _CONCEPT, "reference": _REFERENCE}
_CONTAINED: list[Any] = [{"resourceType": str, "id": str}]
MEDICATION_SHAPE: dict[str, Any] = {
    "id": str,
    "code": _CONCEPT,
    "ingredient": [
        {"itemCodeableConcept": _CONCEPT, "item": _CODEABLE_REFERENCE, "isActive": bool}
    ],
}
#: Shapes of the resources read here that fhir.py does not read itself.
SHAPES: Mapping[str, dict[str, Any]] = {
    "Procedure": {
        "id": str,
        "status": str,
        "subject": _REFERENCE,
        "code": _CONCEPT,
        "performedDateTime": str,
        "performedPeriod": _PERIOD,
        "occurrenceDateTime": str,
        "occurrencePeriod": _PERIOD,
    },
    "MedicationStatement": {
        "id": str,
        "status": str,
        "subject": _REFERENCE,
        "medicationCodeableConcept": _CONCEPT,
        "medicationReference": _REFERENCE,
        "medication": _CODEABLE_REFERENCE,
        "effectiveDateTime": str,
        "effectivePeriod": _PERIOD,
        "adherence": {"code": _CONCEPT},
        "contained": _CONTAINED,
    },
    "MedicationRequest": {
        "id": str,
        "status": str,
        "doNotPerform": bool,
        "subject": _REFERENCE,
        "medicationCodeableConcept": _CONCEPT,
        "medicationReference": _REFERENCE,
        "medication": _CODEABLE_REFERENCE,
        "authoredOn": str,
        "contained": _CONTAINED,
    },
    "Medication": MEDICATION_SHAPE,
}

# ----------------------------------------------------------------------------- the code table

SystemName = Literal["snomed", "icd10", "icd10cm", "rxnorm", "atc"]


class CodeSource(BaseModel):
    """A public page in which codes were read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    citation: str = Field(min_length=1)
    url: str = Field(pattern=r"^https://\S+$")
    evidence: Literal["confirmed", "secondary"]


class RiskCode(BaseModel):
    """One code that says a patient has a risk factor, with its meaning and source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    risk_factor: RiskFactor
    system: SystemName
    code: str
    display: str = Field(min_length=1)
    source: str
    note: str | None = None

    @property
    def uri(self) -> str:
        """The FHIR code system URI."""
        return SYSTEMS[self.system]

    @model_validator(mode="after")
    def _code_has_the_form_of_its_system(self) -> RiskCode:
        if not _CODE_FORMS[self.system].match(self.code):
            raise ValueError(f"{self.system} code {self.code!r} does not have the form of one")
        return self


class NotShipped(BaseModel):
    """A code looked for and not shipped, with the reason (documented in docs/sources.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    risk_factor: RiskFactor
    system: SystemName
    code: str | None = None
    name: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class RiskCodeTable(BaseModel):
    """The content of ``_data/fhir_risk_codes.toml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    codes: tuple[RiskCode, ...]
    not_shipped: tuple[NotShipped, ...] = ()
    sources: dict[str, CodeSource]

    @model_validator(mode="after")
    def _consistent(self) -> RiskCodeTable:
        unknown = sorted({c.source for c in self.codes} - set(self.sources))
        if unknown:
            raise ValueError(f"codes cite sources that are not defined: {', '.join(unknown)}")
        unused = sorted(set(self.sources) - {c.source for c in self.codes})
        if unused:
            raise ValueError(f"sources that no code cites: {', '.join(unused)}")
        seen: dict[tuple[str, str], RiskCode] = {}
        for entry in self.codes:
            key = (entry.uri, _normal(entry.uri, entry.code))
            if key in seen:
                raise ValueError(f"{entry.system} {entry.code} is listed twice")
            seen[key] = entry
        for entry in self.codes:  # a subdivision listed under another risk factor is ambiguous
            if entry.uri in _HIERARCHICAL:
                parent = _find(seen, entry.uri, _normal(entry.uri, entry.code), below=True)
                if parent is not None and parent.risk_factor != entry.risk_factor:
                    raise ValueError(
                        f"{entry.system} {entry.code} ({entry.risk_factor}) is inside "
                        f"{parent.code} ({parent.risk_factor})"
                    )
        for item in self.not_shipped:
            if item.code and (SYSTEMS[item.system], _normal(SYSTEMS[item.system], item.code)) in (
                seen
            ):
                raise ValueError(f"{item.system} {item.code} is both shipped and not shipped")
        return self


def _normal(system: str, code: str) -> str:
    """ICD codes compared without the dot and case (K50.90, K5090 and k50.90 are one code)."""
    if system in _HIERARCHICAL:
        return code.replace(".", "").strip().upper()
    return code


def _find(
    index: Mapping[tuple[str, str], RiskCode], system: str, code: str, *, below: bool = False
) -> RiskCode | None:
    """The entry for ``code``: itself, or (ICD) the category or subcategory it is inside."""
    if system not in _HIERARCHICAL:
        return None if below else index.get((system, code))
    for end in range(len(code) - (1 if below else 0), 2, -1):
        found = index.get((system, code[:end]))
        if found is not None:
            return found
    return None


@functools.cache
def risk_code_table() -> RiskCodeTable:
    """Load and validate ``_data/fhir_risk_codes.toml`` once."""
    return RiskCodeTable.model_validate(read_toml("_data/fhir_risk_codes.toml"))


@functools.cache
def _index() -> dict[tuple[str, str], RiskCode]:
    return {(c.uri, _normal(c.uri, c.code)): c for c in risk_code_table().codes}


def lookup(system: str, code: str) -> RiskCode | None:
    """The shipped entry a coding matches, or None."""
    if not isinstance(system, str) or not isinstance(code, str) or not code:
        return None
    return _find(_index(), system, _normal(system, code))


def risk_factors_of(concept: Any) -> dict[RiskFactor, list[RiskCode]]:
    """The risk factors the codings of one CodeableConcept give, with the entries matched."""
    found: dict[RiskFactor, list[RiskCode]] = {}
    if not isinstance(concept, Mapping):
        return found
    for coding in concept.get("coding") or []:
        if isinstance(coding, Mapping):
            entry = lookup(coding.get("system") or "", coding.get("code") or "")
            if entry is not None:
                found.setdefault(entry.risk_factor, []).append(entry)
    return found


def is_risk_coded(resource: Mapping[str, Any]) -> bool:
    """Whether a Condition's or Procedure's code is one of the shipped codes."""
    return bool(risk_factors_of(resource.get("code")))


# ----------------------------------------------------------------------------- reading


def read_risk_factors(
    entries: list[_Entry], tested: dt.date | None, fields: dict[str, Any], result: FhirInput
) -> None:
    """Add the risk factors of the resources to ``fields["risk_factors"]`` (a union with those
    already read), record in ``result.risk_factor_sources`` which resources gave each, and
    explain in ``result.notes`` what was read and what was not, and why."""
    own = fields.get("risk_factors")
    own_label = result.context.get("risk_factors")
    sources: dict[str, list[str]] = {}
    for code in own or ():
        if own_label:
            sources.setdefault(str(code), []).append(own_label)

    urls = {e.full_url: e.resource for e in entries if e.full_url}
    medications = [e.resource for e in entries if e.resource.get("resourceType") == "Medication"]
    found: dict[RiskFactor, list[str]] = {}
    for entry in entries:
        resource = entry.resource
        kind = resource.get("resourceType")
        if kind not in READ_TYPES:
            continue
        label = _fhir._label(resource)
        concepts = _concepts(resource, urls, medications, result.notes)
        given = _risk_factors(label, concepts, result.notes)
        if not given:
            if kind in SUBJECT_TYPES and concepts is not None:
                result.ignored.append(f"{label} ({_shown_concept(concepts)})")
            continue
        names = ", ".join(str(rf) for rf in given)
        why = _why_not(resource, kind, tested)
        if why:
            result.notes.append(f"{label} (risk factor {names}) not used: {why}")
            continue
        for rf, entries_matched in given.items():
            found.setdefault(rf, []).append(label)
            first = entries_matched[0]
            result.notes.append(
                f"{label}: risk factor {rf} ({SYSTEM_NAMES[first.uri]} {first.code} "
                f"{first.display})"
            )

    if not found:
        if sources:
            result.risk_factor_sources = {k: tuple(v) for k, v in sources.items()}
        return
    current = [str(c) for c in own or ()]
    if own is not None and not current and own_label:
        result.notes.append(
            f"{own_label} reports no risk factors, but "
            f"{', '.join(sorted({lb for labels in found.values() for lb in labels}))} give "
            f"{', '.join(str(rf) for rf in found)}: these are read as present"
        )
    added = [rf.value for rf in RiskFactor if rf in found and rf.value not in current]
    fields["risk_factors"] = (*current, *added)
    for rf, labels in found.items():
        for label in labels:
            if label not in sources.setdefault(rf.value, []):
                sources[rf.value].append(label)
    order = [str(c) for c in fields["risk_factors"]]
    result.risk_factor_sources = {k: tuple(sources[k]) for k in order if k in sources}
    labels = [lb for k in order for lb in sources.get(k, ())]
    result.context["risk_factors"] = ", ".join(dict.fromkeys(labels))


def _risk_factors(
    label: str, concepts: list[Mapping[str, Any]] | None, notes: list[str]
) -> dict[RiskFactor, list[RiskCode]]:
    """The risk factors of a resource's concepts. The codings of one concept are one meaning
    in several code systems: when they give different risk factors, that concept gives none."""
    found: dict[RiskFactor, list[RiskCode]] = {}
    for concept in concepts or []:
        given = risk_factors_of(concept)
        if len(given) > 1:
            notes.append(
                f"{label}: codings of one concept give different risk factors "
                f"({', '.join(str(rf) for rf in given)}); not used"
            )
            continue
        for rf, matched in given.items():
            found.setdefault(rf, []).extend(matched)
    return found


def _concepts(
    resource: Mapping[str, Any],
    urls: Mapping[str, Mapping[str, Any]],
    medications: Sequence[Mapping[str, Any]],
    notes: list[str],
) -> list[Mapping[str, Any]] | None:
    """The CodeableConcepts that say what the resource is about; None when a medicine it
    names cannot be found (a note says so)."""
    if resource.get("resourceType") not in _MEDICINES:
        code = resource.get("code")
        return [code] if isinstance(code, Mapping) else []
    label = _fhir._label(resource)
    r5 = resource.get("medication")
    r5 = r5 if isinstance(r5, Mapping) else {}
    concept = resource.get("medicationCodeableConcept") or r5.get("concept")
    reference = resource.get("medicationReference") or r5.get("reference")
    concepts: list[Mapping[str, Any]] = [concept] if isinstance(concept, Mapping) else []
    if isinstance(reference, Mapping) and reference.get("reference"):
        medication = _medication(resource, str(reference["reference"]), urls, medications)
        if medication is None:
            notes.append(
                f"{label}: its medication {reference['reference']!r} is not among the resources "
                "given; the medicine is not read"
            )
            return concepts or None
        concepts.extend(_medication_concepts(medication))
    return concepts


def _medication(
    owner: Mapping[str, Any],
    reference: str,
    urls: Mapping[str, Mapping[str, Any]],
    medications: Sequence[Mapping[str, Any]],
) -> Mapping[str, Any] | None:
    """The Medication a reference names: contained (``#id``), an entry's fullUrl, or
    ``Medication/<id>`` when exactly one Medication entry has that id."""
    if reference.startswith("#"):
        for i, item in enumerate(owner.get("contained") or []):
            if not isinstance(item, Mapping):
                continue
            if item.get("resourceType") == "Medication" and item.get("id") == reference[1:]:
                _fhir._check_fields(item, MEDICATION_SHAPE, _fhir._label(owner), f"contained[{i}].")
                return item
        return None
    target = urls.get(reference)
    if target is not None:
        return target if target.get("resourceType") == "Medication" else None
    match = _fhir._LITERAL.match(reference)
    if match is None or match["type"] != "Medication":
        return None
    named = [m for m in medications if m.get("id") == match["id"]]
    return named[0] if len(named) == 1 else None


def _medication_concepts(medication: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """A Medication's code, and the codes of its active ingredients (R4 itemCodeableConcept,
    R5 item.concept)."""
    code = medication.get("code")
    if isinstance(code, Mapping):
        yield code
    for ingredient in medication.get("ingredient") or []:
        if ingredient.get("isActive") is False:
            continue
        item = ingredient.get("itemCodeableConcept") or (ingredient.get("item") or {}).get(
            "concept"
        )
        if isinstance(item, Mapping):
            yield item


def _shown_concept(concepts: list[Mapping[str, Any]]) -> str:
    for concept in concepts:
        codings = concept.get("coding") or [{}]
        text = concept.get("text") or codings[0].get("display") or codings[0].get("code")
        if text:
            return str(text)
    return "no code"


def _why_not(resource: Mapping[str, Any], kind: str, tested: dt.date | None) -> str | None:
    """Why a resource with a risk-factor code does not count, or None when it does."""
    if kind == "Condition":
        why = _condition_why_not(resource)
    elif kind == "Procedure":
        status = resource.get("status")
        why = None if status == "completed" else _status_text(status)
    else:
        why = _medicine_why_not(resource, kind)
    return why or _started_after(resource, kind, tested)


def _condition_why_not(cond: Mapping[str, Any]) -> str | None:
    if cond.get("clinicalStatus") is not None:
        clinical = _fhir._status_code(cond.get("clinicalStatus"), _fhir.CONDITION_CLINICAL)
        if clinical not in _fhir._ACTIVE:
            return f"its clinicalStatus is {clinical or 'not coded'}"
    return _fhir._unconfirmed_or_abated(cond)


def _medicine_why_not(resource: Mapping[str, Any], kind: str) -> str | None:
    status = resource.get("status")
    if kind == "MedicationRequest" and resource.get("doNotPerform") is True:
        return "it is an order not to give the medicine (doNotPerform)"
    if status in _COUNTING_MEDICINE:
        return None
    if kind == "MedicationStatement" and status == "recorded":  # FHIR R5
        adherence = resource.get("adherence") or {}
        taking = _fhir._status_code(adherence.get("code"), ADHERENCE)
        if taking in _TAKING:
            return None
        return f"its status is recorded and its adherence is {taking or 'not given'}"
    return _status_text(status)


def _status_text(status: Any) -> str:
    return f"its status is {status}" if status else "it has no status"


def _started_after(resource: Mapping[str, Any], kind: str, tested: dt.date | None) -> str | None:
    """A resource that starts after the results describes a later time (dates that are not
    dates are refused, as fhir.py refuses them)."""
    for key, part in _STARTS[kind]:
        if part is None:
            stamp = _fhir._date_field(resource, key)
            name = key
        else:
            container = resource.get(key)
            if not isinstance(container, Mapping):
                continue
            name = f"{key}.{part}"
            stamp = _fhir._date_field(container, part, owner=resource, name=name)
        if stamp is None:
            continue
        if tested is not None and stamp.first > tested:
            return f"its {name} {stamp.text} is after the results ({tested.isoformat()})"
        return None
    return None
