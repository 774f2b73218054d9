"""What the CDS Hooks services answer: prefetch read into one Bundle, one panel, one card.

**Reading.** The prefetched values (single resources and ``searchset`` Bundles; ``null``
means "no data") are joined into one collection Bundle and read with
:func:`b12labs.fhir.read_fhir`. Nothing is ever fetched: a key the EHR did not send is said in
the card ("Not sent by the EHR"), except the B12-status results themselves (``b12Results``),
without which the service answers 412. One panel is one point in time
(:data:`~b12labs.fhir.RESULT_WINDOW`, 90 days): the results used are the latest marker's and
those dated up to 90 days before it (creatinine and eGFR chosen so that the whole panel spans
90 days at most); older results are counted in the card, not used.

**Cards.** One card per call at most:

* ``patient-view``: the latest panel's interpretation; no card when the record has no
  B12-status result.
* ``order-select``: only when a selected order is a B12-status test (a ServiceRequest coded
  with a LOINC code of total B12, active B12, MMA or homocysteine) and B12-status results from
  the last 90 days exist: the card says whether they already measured the ordered test, or
  whether their next steps advise it.

**Indicator** (the mapping is documented in docs/cds-hooks.md): ``deficiency_likely`` gives
``warning``; ``borderline``, ``not_indicated`` and ``insufficient_data`` give ``info``. No card
is ever ``critical``: the statuses say how likely a deficiency is, not how urgent the patient
is, and urgency (neurological signs, pregnancy, severe anaemia) is the clinician's assessment.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._analytes import MARKERS, analyte_info
from .._exceptions import B12LabsError
from .._fhir_codes import FHIR_ID
from .._interpret import interpret
from .._models import Interpretation, Status
from .._profile import Profile
from ..fhir import (
    _NOT_USED,
    EGFR_LOINC,
    LOINC,
    PREGNANCY_STATUS_LOINC,
    RESULT_WINDOW,
    FhirInput,
    _codes_to_analyte,
    read_fhir,
)
from ._cds import (
    SERVICE_IDS,
    Card,
    CdsResponse,
    CdsService,
    Discovery,
    Indicator,
    OrderSelectRequest,
    PatientViewRequest,
    Source,
)
from ._errors import ServiceError

__all__ = ["INDICATORS", "PREFETCH", "SERVICES", "Service", "answer", "discovery_json"]

#: Card indicator of each status (docs/cds-hooks.md, "Cards").
INDICATORS: Mapping[Status, Indicator] = {
    Status.DEFICIENCY_LIKELY: "warning",
    Status.BORDERLINE: "info",
    Status.NOT_INDICATED: "info",
    Status.INSUFFICIENT_DATA: "info",
}
_STATUS_WORDS: Mapping[Status, str] = {
    Status.DEFICIENCY_LIKELY: "deficiency likely",
    Status.BORDERLINE: "borderline",
    Status.NOT_INDICATED: "deficiency not indicated",
    Status.INSUFFICIENT_DATA: "not enough data",
}
_SHORT_NAMES: Mapping[str, str] = {
    "b12": "Total B12",
    "holotc": "Active B12",
    "mma": "MMA",
    "hcy": "Homocysteine",
    "folate": "Folate",
}
_CONTEXT_NAMES: Mapping[str, str] = {"egfr": "eGFR", "recent_b12_treatment": "recent B12 treatment"}
#: Next steps that advise measuring a test (the analytes they name).
_ADVISES: Mapping[str, frozenset[str]] = {
    "measure_mma": frozenset({"mma"}),
    "check_mma_unit": frozenset({"mma"}),
    "measure_holotc": frozenset({"holotc"}),
    "measure_holotc_or_mma": frozenset({"holotc", "mma"}),
    "measure_homocysteine_or_mma": frozenset({"hcy", "mma"}),
    "measure_b12_or_holotc": frozenset({"b12", "holotc"}),
}
#: The tests an order-select card is about: B12 status proper (not folate).
_ORDERABLE = ("b12", "holotc", "mma", "hcy")
_MARKER_KEYS = frozenset(str(m) for m in MARKERS)
_ID_NAMESPACE = uuid.UUID("1b5a0c3e-7d0e-4c39-8f7b-b12b12c0d5e5")
_SUMMARY_MAX = 139  # "<140-character summary"
_PATIENT_REFERENCE = re.compile(rf"(?:^|/)Patient/(?P<id>{FHIR_ID})(?:/_history/{FHIR_ID})?$")
_DATE = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2}))?)?")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]{}<>|#~!])")
DISCLAIMER = (
    "*Decision support, not a diagnosis.* b12labs explains these laboratory results under the "
    "named guideline or laboratory cascade; it does not replace clinical judgement, and NICE "
    "advises treating when the clinical picture is strong despite normal tests."
)


# ----------------------------------------------------------------------------- services


def _codes(loinc_codes: Iterable[str]) -> str:
    return ",".join(f"{LOINC}|{code}" for code in loinc_codes)


_RESULT_CODES = _codes(c for m in MARKERS for c in analyte_info(str(m)).loinc)
_KIDNEY_CODES = _codes([*analyte_info("creatinine").loinc, *EGFR_LOINC])
_PATIENT = "{{context.patientId}}"
#: Prefetch templates of both services: key -> FHIR query (CDS Hooks 2.0, "Prefetch
#: Template"; only reads, token equality searches, references and _sort, as recommended).
PREFETCH: Mapping[str, str] = {
    "patient": f"Patient/{_PATIENT}",
    "b12Results": f"Observation?patient={_PATIENT}&code={_RESULT_CODES}&_sort=-date",
    "kidneyFunction": f"Observation?patient={_PATIENT}&code={_KIDNEY_CODES}&_sort=-date",
    "pregnancyStatus": (
        f"Observation?patient={_PATIENT}&code={LOINC}|{PREGNANCY_STATUS_LOINC}&_sort=-date"
    ),
    "conditions": f"Condition?patient={_PATIENT}",
    "procedures": f"Procedure?patient={_PATIENT}&status=completed",
    "medicationRequests": f"MedicationRequest?patient={_PATIENT}&status=active,on-hold",
    "medicationStatements": f"MedicationStatement?patient={_PATIENT}",
}
#: The prefetch key without which the services answer 412.
REQUIRED = "b12Results"
#: What is unknown when a prefetch key is not sent.
_UNKNOWN_WITHOUT: Mapping[str, str] = {
    "patient": "age and sex unknown (no age-specific MMA limit, no eGFR from creatinine)",
    "kidneyFunction": "kidney function unknown (renal impairment raises MMA and homocysteine)",
    "pregnancyStatus": "pregnancy status unknown unless a Condition records it",
    "conditions": "risk factors and pregnancy recorded as Conditions unknown",
    "procedures": "surgical risk factors (gastric or ileal surgery) unknown",
    "medicationRequests": "medicines ordered (metformin, acid suppressants...) unknown",
    "medicationStatements": "medicines taken (metformin, acid suppressants...) unknown",
}


@dataclass(frozen=True)
class Service:
    """One CDS service of the discovery response."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str] = field(default_factory=lambda: PREFETCH)


_PATIENT_VIEW, _ORDER_SELECT = SERVICE_IDS
SERVICES: Mapping[str, Service] = {
    _PATIENT_VIEW: Service(
        id=_PATIENT_VIEW,
        hook="patient-view",
        title="Vitamin B12 status (b12labs)",
        description=(
            "Interprets the patient's latest vitamin B12 status results (total B12, active "
            "B12, MMA, homocysteine, folate) with age, kidney function, pregnancy and risk "
            "factors under a published guideline; one card with the findings and next steps. "
            "Decision support, not a diagnosis."
        ),
    ),
    _ORDER_SELECT: Service(
        id=_ORDER_SELECT,
        hook="order-select",
        title="Recent vitamin B12 results (b12labs)",
        description=(
            "When a B12-status test (total B12, active B12, MMA, homocysteine) is selected, "
            "says whether results from the last 90 days already answer it or advise it, with "
            "their interpretation. Decision support, not a diagnosis."
        ),
    ),
}
_USAGE = (
    "b12labs fetches nothing: it reads only the prefetched data (b12Results is required; "
    "without the other keys the card says what is unknown). fhirServer and "
    "fhirAuthorization are never used."
)


@functools.cache
def discovery_json() -> str:
    """The discovery response (``GET /cds-services``) as JSON text."""
    services = [
        CdsService(
            hook=s.hook,
            title=s.title,
            description=s.description,
            id=s.id,
            prefetch=dict(s.prefetch),
            usageRequirements=_USAGE,
        )
        for s in SERVICES.values()
    ]
    return Discovery(services=services).model_dump_json(exclude_none=True)


# ----------------------------------------------------------------------------- prefetch


@dataclass
class _Prefetched:
    entries: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # requested keys not sent
    failed: list[str] = field(default_factory=list)  # keys answered with an OperationOutcome


def _gather(prefetch: Mapping[str, Any] | None, templates: Mapping[str, str]) -> _Prefetched:
    """The resources of the requested prefetch keys (others are ignored)."""
    out = _Prefetched()
    prefetch = prefetch or {}
    for key in templates:
        if key not in prefetch:
            out.missing.append(key)
            continue
        value = prefetch[key]
        if value is None:  # the EHR has no data for this template
            continue
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise ServiceError(
                400,
                "invalid_request",
                f"prefetch.{key} must be a FHIR resource, a Bundle or null",
                field=f"prefetch.{key}",
            )
        if value["resourceType"] == "OperationOutcome":
            out.failed.append(key)
            continue
        if value["resourceType"] != "Bundle":
            out.entries.append((value, None))
            continue
        entries = value.get("entry", [])
        if not isinstance(entries, list):
            raise ServiceError(
                400,
                "invalid_request",
                f"prefetch.{key}.entry must be an array",
                field=f"prefetch.{key}.entry",
            )
        for i, entry in enumerate(entries):
            where = f"prefetch.{key}.entry[{i}]"
            if not isinstance(entry, dict):
                raise ServiceError(
                    400, "invalid_request", f"{where} must be an object", field=where
                )
            resource = entry.get("resource")
            if resource is None:
                continue
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                raise ServiceError(
                    400, "invalid_request", f"{where}.resource must be a FHIR resource", field=where
                )
            search = entry.get("search")
            outcome = isinstance(search, dict) and search.get("mode") == "outcome"
            if outcome or resource["resourceType"] == "OperationOutcome":
                if key not in out.failed:
                    out.failed.append(key)
                continue
            url = entry.get("fullUrl")
            out.entries.append((resource, url if isinstance(url, str) else None))
    return out


def _check_patient(entries: Sequence[tuple[dict[str, Any], str | None]], patient_id: str) -> None:
    """Prefetched resources must be the context's patient's (the message names no id)."""
    for resource, _ in entries:
        kind = resource["resourceType"]
        if kind == "Patient" and resource.get("id") not in (None, patient_id):
            raise ServiceError(
                400,
                "invalid_request",
                "the prefetched Patient is not the patient of context.patientId",
                field="prefetch",
            )
        for name in ("subject", "patient"):
            reference = resource.get(name)
            text = reference.get("reference") if isinstance(reference, dict) else None
            match = _PATIENT_REFERENCE.search(text) if isinstance(text, str) else None
            if match is not None and match["id"] != patient_id:
                raise ServiceError(
                    400,
                    "invalid_request",
                    f"a prefetched {kind} refers to another patient than context.patientId",
                    field="prefetch",
                )


@functools.cache
def _result_codes() -> dict[str, str]:
    """LOINC code -> the result it gives (a marker, creatinine or egfr)."""
    return {**dict.fromkeys(EGFR_LOINC, "egfr"), **_codes_to_analyte()}


@functools.cache
def _orderable_codes() -> dict[str, str]:
    """LOINC code -> the B12-status test an order of it is about."""
    return {code: key for code, key in _result_codes().items() if key in _ORDERABLE}


def _result_key(resource: Mapping[str, Any]) -> str | None:
    """The result an Observation gives (a marker, creatinine or egfr), from its LOINC code."""
    status = resource.get("status")  # prefetch is not shape-checked yet: any JSON value
    if resource.get("resourceType") != "Observation" or (
        isinstance(status, str) and status in _NOT_USED
    ):
        return None
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    codes = _result_codes()
    for coding in codings if isinstance(codings, list) else ():
        if isinstance(coding, dict) and coding.get("system") == LOINC:
            key = codes.get(str(coding.get("code")))
            if key is not None:
                return key
    return None


def _date(resource: Mapping[str, Any]) -> dt.date | None:
    """The calendar date of an Observation (as written: the local date), or None."""
    period = resource.get("effectivePeriod")
    start = period.get("start") if isinstance(period, dict) else None
    for text in (
        resource.get("effectiveDateTime"),
        start,
        resource.get("effectiveInstant"),
        resource.get("issued"),
    ):
        match = _DATE.match(text) if isinstance(text, str) else None
        if match is not None:
            try:
                return dt.date(int(match["y"]), int(match["m"] or 1), int(match["d"] or 1))
            except ValueError:
                return None
    return None


@dataclass
class _Panel:
    entries: list[tuple[dict[str, Any], str | None]]
    date: dt.date | None  # the latest marker's date
    older: int  # results left out: older than the panel's 90 days


def _panel_entries(
    entries: Sequence[tuple[dict[str, Any], str | None]], anchor: dt.date | None = None
) -> _Panel:
    """The entries of one panel: results (markers, creatinine, eGFR) around the latest marker
    (or ``anchor``), spanning at most RESULT_WINDOW; other resources as they are."""
    markers = [
        (day, r)
        for r, _ in entries
        if (key := _result_key(r)) in _MARKER_KEYS and (day := _date(r)) is not None
    ]
    if anchor is None:
        if not markers:
            return _Panel(list(entries), None, 0)
        anchor = max(day for day, _ in markers)
    earliest = anchor - RESULT_WINDOW
    kept_markers = [day for day, _ in markers if earliest <= day <= anchor]
    first = min(kept_markers, default=anchor)
    kept: list[tuple[dict[str, Any], str | None]] = []
    older = 0
    for resource, url in entries:
        key = _result_key(resource)
        day = _date(resource) if key is not None else None
        if key is None or day is None:
            inside = True  # not a result, or undated: read_fhir compares dated results only
        elif key in _MARKER_KEYS:
            inside = earliest <= day <= anchor
        else:  # creatinine, eGFR: the whole panel spans RESULT_WINDOW at most
            inside = earliest <= day <= first + RESULT_WINDOW
        if inside:
            kept.append((resource, url))
        else:
            older += 1
    return _Panel(kept, anchor, older)


def _read(panel: _Panel, profile: Profile) -> tuple[FhirInput, Interpretation]:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": url, "resource": resource} if url else {"resource": resource}
            for resource, url in panel.entries
        ],
    }
    read = read_fhir(bundle)
    return read, interpret(read.panel, profile=profile)


# ----------------------------------------------------------------------------- answers


def answer(
    service: Service, call: PatientViewRequest | OrderSelectRequest, profile: Profile
) -> str:
    """The CDS Hooks response (JSON text) to ``call`` for ``service``."""
    prefetch = call.prefetch
    if prefetch is None or REQUIRED not in prefetch:
        raise ServiceError(
            412,
            "missing_prefetch",
            f"the request has no prefetch.{REQUIRED} (the patient's B12-status Observations); "
            "b12labs fetches nothing itself, so send it as the discovery response's template "
            "asks (CDS Hooks 2.0: 412 Precondition Failed)",
            field=f"prefetch.{REQUIRED}",
        )
    gathered = _gather(prefetch, service.prefetch)
    if REQUIRED in gathered.failed:
        raise ServiceError(
            412,
            "missing_prefetch",
            f"prefetch.{REQUIRED} is an OperationOutcome: the EHR could not fetch the "
            "B12-status Observations, and b12labs fetches nothing itself",
            field=f"prefetch.{REQUIRED}",
        )
    _check_patient(gathered.entries, call.context.patientId)
    if isinstance(call, OrderSelectRequest):
        cards = _order_select(service, call, gathered, profile)
    else:
        cards = _patient_view(service, call, gathered, profile)
    return CdsResponse(cards=cards).model_dump_json(exclude_none=True)


def _patient_view(
    service: Service, call: PatientViewRequest, gathered: _Prefetched, profile: Profile
) -> list[Card]:
    if not any(_result_key(r) in _MARKER_KEYS for r, _ in gathered.entries):
        return []  # nothing to interpret: no card rather than "not enough data" on every chart
    panel = _panel_entries(gathered.entries)
    try:
        read, result = _read(panel, profile)
    except B12LabsError as error:
        return [_unreadable_card(service, call.hookInstance, error, profile)]
    when = f"results of {panel.date.isoformat()}" if panel.date else "the latest results"
    summary = f"Vitamin B12: {_STATUS_WORDS[result.status]} on {when} ({result.profile_id})"
    return [
        _card(
            service,
            call.hookInstance,
            summary,
            result,
            read,
            panel,
            gathered,
            profile,
            lead=f"**{result.summary}** Interpretation of the {when}.",
        )
    ]


def _order_select(
    service: Service, call: OrderSelectRequest, gathered: _Prefetched, profile: Profile
) -> list[Card]:
    ordered = _ordered_tests(call)
    if not ordered:
        return []
    today = dt.datetime.now(dt.UTC).date()
    since = today - RESULT_WINDOW
    recent = [
        (day, key)
        for r, _ in gathered.entries
        if (key := _result_key(r)) in _MARKER_KEYS
        and (day := _date(r)) is not None
        and since <= day <= today + dt.timedelta(days=1)
    ]
    if not recent:
        return []  # the order repeats nothing recent: nothing to say
    anchor = max(day for day, _ in recent)
    panel = _panel_entries(gathered.entries, anchor)
    try:
        read, result = _read(panel, profile)
    except B12LabsError as error:
        return [_unreadable_card(service, call.hookInstance, error, profile)]
    words = _STATUS_WORDS[result.status]
    advised = sorted(
        {a for s in result.next_steps for a in _ADVISES.get(s.code, ())} & ordered.keys(),
        key=_ORDERABLE.index,
    )
    measured = sorted(
        {key for _, key in recent if key in ordered}, key=lambda k: _ORDERABLE.index(k)
    )
    names = ", ".join(_SHORT_NAMES[k] for k in measured)
    if advised:
        tests = " or ".join(_SHORT_NAMES[k] for k in advised)
        summary = f"Recent B12 results ({anchor.isoformat()}, {words}) advise this test ({tests})"
        lead = (
            f"**The results of {anchor.isoformat()} advise measuring {tests}**: this order "
            f"follows their next steps. {result.summary}"
        )
    elif measured:
        last = max(day for day, key in recent if key in measured)
        days = (today - last).days
        summary = (
            f"{names} measured {_ago(days)} ({last.isoformat()}): {words}; check before repeating"
        )
        lead = (
            f"**{names} {'was' if len(measured) == 1 else 'were'} measured {_ago(days)}** "
            f"({last.isoformat()}), within the {RESULT_WINDOW.days} days b12labs reads as one "
            f"point in time: these results may already answer this order. {result.summary}"
        )
    else:
        summary = f"Recent B12 results ({anchor.isoformat()}): {words}; review them before ordering"
        lead = (
            f"**B12-status results of {anchor.isoformat()} exist** (within "
            f"{RESULT_WINDOW.days} days); they do not include the ordered test. {result.summary}"
        )
    lead += f" Ordered: {', '.join(_escape(label) for label in ordered.values())}."
    return [
        _card(
            service, call.hookInstance, summary, result, read, panel, gathered, profile, lead=lead
        )
    ]


def _ago(days: int) -> str:
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


def _ordered_tests(call: OrderSelectRequest) -> dict[str, str]:
    """The B12-status tests among the selected orders: analyte -> the order's label."""
    drafts: dict[str, dict[str, Any]] = {}
    for entry in call.context.draftOrders.get("entry", []):
        resource = entry.get("resource")
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            drafts[f"{resource['resourceType']}/{resource.get('id')}"] = resource
    codes = _orderable_codes()
    found: dict[str, str] = {}
    for i, selection in enumerate(call.context.selections):
        order = drafts.get(selection)
        if order is None:
            raise ServiceError(
                400,
                "invalid_request",
                f"context.selections[{i}] is not an entry of context.draftOrders",
                field=f"context.selections[{i}]",
            )
        if order["resourceType"] not in ("ServiceRequest", "ProcedureRequest"):
            continue
        code = order.get("code")
        codings = code.get("coding") if isinstance(code, dict) else None
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict) and coding.get("system") == LOINC:
                key = codes.get(str(coding.get("code")))
                if key is not None:
                    found.setdefault(key, selection)
    return found


# ----------------------------------------------------------------------------- card texts


def _summary(text: str) -> str:
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1].rstrip() + "…"


def _escape(text: str) -> str:
    """Text from the request, shown in Markdown as written (no link, HTML, table cell...)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _source(profile: Profile) -> Source:
    low = getattr(profile.b12, "low", None)
    cited = profile.sources.get(low.source) if low is not None else None
    return Source(label=profile.title, url=cited.url if cited is not None else None)


def _uuid(service: Service, hook_instance: str, n: int) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{service.id}/{hook_instance}/{n}"))


def _card(
    service: Service,
    hook_instance: str,
    summary: str,
    result: Interpretation,
    read: FhirInput,
    panel: _Panel,
    gathered: _Prefetched,
    profile: Profile,
    *,
    lead: str,
) -> Card:
    lines = [
        lead,
        "",
        f"b12labs {result.library_version}, profile {_escape(profile.title)} "
        f"({result.profile_id} {result.profile_version}), rules version {result.rules_version}.",
        "",
    ]
    if result.markers:
        lines += ["| Result | Value | Normal range | Category |", "|---|---|---|---|"]
        for key, marker in result.markers.items():
            censor = marker.censor.value if marker.censor else ""
            value = f"{censor}{marker.original_value:g} {marker.original_unit}"
            if marker.original_unit.replace(" ", "") != marker.unit:
                value += f" (= {censor}{marker.value:.4g} {marker.unit})"
            lines.append(
                f"| {_cell(analyte_info(str(key)).name)} | {_escape(value)} | "
                f"{_cell(marker.reference_interval.text)} | {marker.category.value} "
                f"({_cell(marker.interpretation_code.value)}) |"
            )
        lines.append("")
    if result.findings:
        lines += ["**Findings**", "", *(f"- {f.message}" for f in result.findings), ""]
    if result.next_steps:
        lines += ["**Next steps**", "", *(f"- {s.message}" for s in result.next_steps), ""]
    lines += _data_lines(result, read, panel, gathered)
    lines += ["", DISCLAIMER]
    return Card(
        uuid=_uuid(service, hook_instance, 0),
        summary=_summary(summary),
        detail="\n".join(lines),
        indicator=INDICATORS[result.status],
        source=_source(profile),
    )


def _data_lines(
    result: Interpretation, read: FhirInput, panel: _Panel, gathered: _Prefetched
) -> list[str]:
    used = [f"{_SHORT_NAMES.get(k, k)} {_escape(label)}" for k, label in read.used.items()]
    context = [
        f"{_CONTEXT_NAMES.get(k, k.replace('_', ' '))} from {_escape(label)}"
        for k, label in read.context.items()
        if k != "risk_factors"  # listed with their sources below
    ]
    risks = [
        f"{factor.replace('_', ' ')} ({', '.join(_escape(s) for s in sources)})"
        for factor, sources in read.risk_factor_sources.items()
    ]
    patient = result.patient
    lines = ["**Data used**", ""]
    if used:
        lines.append(f"- Results: {'; '.join(used)}.")
    if context:
        lines.append(f"- Context: {'; '.join(context)}.")
    if risks:
        lines.append(f"- Risk factors: {'; '.join(risks)}.")
    if patient.egfr is not None:
        lines.append(f"- eGFR {patient.egfr:.0f} mL/min/1.73 m2 ({patient.egfr_source}).")
    if panel.older:
        lines.append(
            f"- {panel.older} older result{'s' if panel.older != 1 else ''} not used: one panel "
            f"is one point in time ({RESULT_WINDOW.days} days)."
        )
    if gathered.missing:
        unknown = "; ".join(f"{key}: {_UNKNOWN_WITHOUT[key]}" for key in gathered.missing)
        lines.append(f"- **Not sent by the EHR** (b12labs fetches nothing itself): {unknown}.")
    if gathered.failed:
        lines.append(
            f"- The EHR reported errors fetching: {', '.join(gathered.failed)} (not used)."
        )
    for note in read.notes[:10]:
        lines.append(f"- Note: {_escape(note)}")
    if len(read.notes) > 10:
        lines.append(f"- ... and {len(read.notes) - 10} more notes.")
    return lines


def _unreadable_card(
    service: Service, hook_instance: str, error: B12LabsError, profile: Profile
) -> Card:
    detail = "\n".join(
        [
            "**b12labs could not interpret the B12-status results sent.**",
            "",
            f"- {_escape(error.message)}",
            "",
            "Check these results in the record; nothing was interpreted.",
            "",
            DISCLAIMER,
        ]
    )
    return Card(
        uuid=_uuid(service, hook_instance, 0),
        summary="Vitamin B12: the results in the record could not be interpreted (see details)",
        detail=detail,
        indicator="info",
        source=_source(profile),
    )
