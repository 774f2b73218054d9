"""The public API surface: names, docstrings, types, errors, import weight, result contents."""

from __future__ import annotations

import enum
import inspect
import subprocess
import sys
import textwrap

import pytest
from pydantic import BaseModel, ValidationError

import b12labs
from b12labs import Panel, Status

ERRORS = (
    "B12LabsError",
    "UnitError",
    "UnknownUnitError",
    "IncompatibleUnitError",
    "InvalidValueError",
    "ImplausibleValueError",
    "ProfileError",
    "InvalidProfileError",
    "UnknownProfileError",
    "ColumnError",
    "FhirError",
    "Hl7Error",
)
REQUIRED_NAMES = (
    "interpret",
    "Panel",
    "Measurement",
    "Status",
    "Interpretation",
    "convert",
    "cb12",
    "list_profiles",
    "get_profile",
    "load_profile",
    "result_json_schema",
    "panel_json_schema",
    "interpret_frame",
    "interpret_table",
    "output_schema",
    "interpret_series",
    "series_json_schema",
    "DatedPanel",
    "SeriesInterpretation",
    "SeriesPoint",
    "SeriesChange",
    "SeriesFinding",
    "TreatmentRoute",
    "ChangeDirection",
    "ChangeVerdict",
    "AppliedRCV",
    "ReferenceChangeValue",
    *ERRORS,
)
# Error tree documented in decision-spec section 1/2 and src/b12labs/_exceptions.py.
PARENTS = {
    "UnitError": "B12LabsError",
    "UnknownUnitError": "UnitError",
    "IncompatibleUnitError": "UnitError",
    "InvalidValueError": "B12LabsError",
    "ImplausibleValueError": "InvalidValueError",
    "ProfileError": "B12LabsError",
    "InvalidProfileError": "ProfileError",
    "UnknownProfileError": "ProfileError",
    "ColumnError": "B12LabsError",
    "FhirError": "B12LabsError",
    "Hl7Error": "B12LabsError",
}
PUBLIC = [name for name in b12labs.__all__ if name != "__version__"]


# ----------------------------------------------------------------------------- names


def test_all_is_sorted_and_complete():
    assert list(b12labs.__all__) == sorted(b12labs.__all__)
    assert len(set(b12labs.__all__)) == len(b12labs.__all__)
    for name in b12labs.__all__:
        assert hasattr(b12labs, name), name


@pytest.mark.parametrize("name", REQUIRED_NAMES)
def test_required_public_name(name: str):
    assert name in b12labs.__all__
    assert getattr(b12labs, name) is not None


def test_version_is_a_string():
    assert isinstance(b12labs.__version__, str)
    assert b12labs.__version__.strip()


@pytest.mark.parametrize("name", PUBLIC)
def test_public_object_has_a_docstring(name: str):
    obj = getattr(b12labs, name)
    assert callable(obj), name
    # __doc__ of a class is not inherited, so this checks the object's own docstring.
    assert obj.__doc__, name
    assert obj.__doc__.strip(), name


def _own_public_members(cls: type) -> list[tuple[str, object]]:
    out = []
    for key, value in vars(cls).items():
        if key.startswith("_") or hasattr(BaseModel, key):
            continue
        target = value.__func__ if isinstance(value, classmethod | staticmethod) else value
        target = target.fget if isinstance(target, property) else target
        if callable(target):
            out.append((key, target))
    return out


@pytest.mark.parametrize("name", [n for n in PUBLIC if inspect.isclass(getattr(b12labs, n))])
def test_public_methods_have_docstrings(name: str):
    cls = getattr(b12labs, name)
    if issubclass(cls, enum.Enum):
        return
    missing = [key for key, fn in _own_public_members(cls) if not (fn.__doc__ or "").strip()]
    assert not missing, (name, missing)


def test_status_values():
    assert {s.value for s in Status} == {
        "deficiency_likely",
        "borderline",
        "not_indicated",
        "insufficient_data",
    }
    assert Status("borderline") is Status.BORDERLINE
    assert Status.BORDERLINE == "borderline"  # a str enum: JSON-friendly


# ----------------------------------------------------------------------------- errors


def test_exception_hierarchy():
    classes = [getattr(b12labs, name) for name in ERRORS]
    assert len(set(classes)) == len(classes)  # distinct types
    assert issubclass(b12labs.B12LabsError, ValueError)
    for cls in classes:
        assert issubclass(cls, b12labs.B12LabsError), cls
        assert issubclass(cls, ValueError), cls
    for child, parent in PARENTS.items():
        assert issubclass(getattr(b12labs, child), getattr(b12labs, parent)), child
    # Siblings are not confused with each other.
    assert not issubclass(b12labs.UnitError, b12labs.InvalidValueError)
    assert not issubclass(b12labs.InvalidValueError, b12labs.UnitError)
    assert not issubclass(b12labs.ProfileError, b12labs.UnitError)
    assert not issubclass(b12labs.UnknownUnitError, b12labs.IncompatibleUnitError)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"b12": "150 blorps/L"}, "UnknownUnitError"),
        ({"b12": "150 furlongs"}, "IncompatibleUnitError"),  # a length, not a concentration
        ({"b12": "150 mmol/mol"}, "IncompatibleUnitError"),
        ({"b12": "150 %"}, "IncompatibleUnitError"),
        ({"holotc": "50 pg/mL"}, "IncompatibleUnitError"),  # holoTC: molar units only
        ({"b12": "0.3 pg/mL"}, "ImplausibleValueError"),  # spec: 0.3 ng/mL mistyped
        ({"b12": "-5 pmol/L"}, "InvalidValueError"),
        ({"b12": (float("nan"), "pmol/L")}, "InvalidValueError"),
        ({"b12": (float("inf"), "pmol/L")}, "InvalidValueError"),
        ({"b12": 150}, "InvalidValueError"),  # no unit
    ],
)
def test_errors_raised_at_the_boundary(kwargs, error: str):
    with pytest.raises(getattr(b12labs, error)) as info:
        b12labs.interpret(**kwargs)
    assert isinstance(info.value, ValueError)


def test_unknown_profile_error():
    with pytest.raises(b12labs.UnknownProfileError):
        b12labs.interpret(b12="300 pmol/L", profile="no-such-profile")
    with pytest.raises(b12labs.UnknownProfileError):
        b12labs.get_profile("no-such-profile")


def test_implausible_error_says_check_the_unit():
    with pytest.raises(b12labs.ImplausibleValueError, match="check the unit"):
        b12labs.interpret(b12="0.3 pg/mL")


# ----------------------------------------------------------------------------- import weight

_FRESH = textwrap.dedent(
    """
    import socket, sys

    def _no_network(*args, **kwargs):
        raise OSError("network access attempted")

    socket.socket.connect = _no_network
    socket.socket.connect_ex = _no_network
    socket.create_connection = _no_network
    socket.getaddrinfo = _no_network

    import b12labs
    engines = ("pandas", "matplotlib", "pint", "pyarrow", "polars", "duckdb", "dask", "pyspark")
    heavy = sorted(m for m in engines if m in sys.modules)
    print("HEAVY", heavy)
    result = b12labs.interpret(b12="150 pmol/L", mma="0.52 umol/L", age=70)
    print("STATUS", result.status.value)
    """
)


def test_fresh_import_is_light_and_offline():
    proc = subprocess.run(
        [sys.executable, "-c", _FRESH], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert lines["HEAVY"] == "[]", proc.stdout
    # 150 pmol/L = 203 ng/L (indeterminate under NICE, 180 to 350 ng/L), MMA 0.52 above
    # the age-65+ limit 0.46 umol/L: decision-spec rule 2, MMA elevated -> deficiency_likely.
    assert lines["STATUS"] == "deficiency_likely", proc.stdout


# ----------------------------------------------------------------------------- interpret


def test_interpretation_is_frozen():
    result = b12labs.interpret(b12="300 pmol/L")
    with pytest.raises(ValidationError):
        result.status = Status.BORDERLINE  # type: ignore[misc]
    with pytest.raises(ValidationError):
        result.markers["b12"].value = 1.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        result.cb12.value = 1.0  # type: ignore[misc]
    assert result.status is Status.NOT_INDICATED  # 300 pmol/L = 407 ng/L > 350 ng/L (NICE)


def test_panel_is_frozen():
    panel = Panel(b12="300 pmol/L")
    with pytest.raises(ValidationError):
        panel.age = 40  # type: ignore[misc]


def test_panel_and_keywords_together_is_a_type_error():
    with pytest.raises(TypeError):
        b12labs.interpret(Panel(b12="300 pmol/L"), b12="100 pmol/L")
    with pytest.raises(TypeError):
        b12labs.interpret({"b12": "300 pmol/L"}, age=40)
    with pytest.raises(TypeError):
        b12labs.interpret(42)  # type: ignore[arg-type]


def test_interpret_accepts_panel_mapping_and_keywords_alike():
    fields = {"b12": "150 pg/mL", "mma": "0.30 umol/L", "age": 50}
    by_panel = b12labs.interpret(Panel(**fields))
    by_mapping = b12labs.interpret(fields)
    by_keywords = b12labs.interpret(**fields)
    assert by_panel == by_mapping == by_keywords
    # 150 pg/mL < 180 ng/L: low under NICE -> deficiency_likely; normal MMA adds the
    # discordant_normal_mma finding (decision-spec 3, rule 1).
    assert by_panel.status is Status.DEFICIENCY_LIKELY
    assert "discordant_normal_mma" in by_panel.finding_codes


@pytest.mark.parametrize(
    "markers",
    [
        {},
        {"b12": "300 pmol/L"},
        {"holotc": "40 pmol/L"},
        {"mma": "0.3 umol/L", "hcy": "12 umol/L"},
        {"b12": "300 pmol/L", "holotc": "40 pmol/L", "mma": "0.3 umol/L", "hcy": "12 umol/L"},
        {"folate": "10 nmol/L"},
        {"b12": "<100 pmol/L", "folate": ">20 ng/mL"},
    ],
)
def test_markers_keys_are_exactly_those_given(markers):
    result = b12labs.interpret(**markers, age=40, creatinine="0.9 mg/dL", sex="male")
    assert set(result.markers) == set(markers)
    assert "creatinine" not in result.markers


def test_no_marker_is_insufficient_data():
    result = b12labs.interpret(age=40)
    assert result.status is Status.INSUFFICIENT_DATA
    assert result.findings  # every status carries its findings


@pytest.mark.parametrize("profile", b12labs.list_profiles())
def test_provenance_is_recorded(profile: str):
    result = b12labs.interpret(b12="300 pmol/L", profile=profile)
    assert result.profile_id == profile
    assert result.profile_version == b12labs.get_profile(profile).version
    assert result.profile_version
    assert result.library_version == b12labs.__version__


def test_default_profile_is_nice():
    # decision-spec 2: nice-ng239 is the default.
    assert b12labs.list_profiles()[0] == "nice-ng239"
    assert b12labs.interpret(b12="300 pmol/L").profile_id == "nice-ng239"


def test_marker_assessment_records_everything():
    result = b12labs.interpret(
        b12="200 pg/mL", mma="520 nmol/L", hcy="<5 umol/L", holotc="80 pmol/L", age=40
    )
    b12 = result.markers["b12"]
    assert b12.analyte == "b12"
    assert b12.original_value == 200
    assert b12.original_unit == "pg/mL"
    assert b12.unit == "pmol/L"
    # 200 pg/mL / 1.35537 (molar mass 1355.37) = 147.56 pmol/L (spec section 1; convert doc).
    assert b12.value == pytest.approx(200 / 1.35537, rel=1e-9)
    assert b12.censor is None
    assert b12.category == "indeterminate"  # NICE: 180 to 350 ng/L
    assert b12.interpretation_code == "E"  # spec 6: E for a borderline/equivocal result
    ri = b12.reference_interval
    assert (ri.low, ri.high, ri.unit) == (350, 914, "ng/L")  # NICE row: > 350 to 914 ng/L
    assert ri.low_inclusive is False
    assert ri.high_inclusive is True
    assert ri.text

    mma = result.markers["mma"]
    assert (mma.original_value, mma.original_unit, mma.unit) == (520, "nmol/L", "umol/L")
    assert mma.value == pytest.approx(0.52)
    assert mma.category == "elevated"  # > 0.40 umol/L, not > 0.75
    assert mma.interpretation_code == "H"
    assert mma.reference_interval.high == 0.40

    hcy = result.markers["hcy"]
    assert hcy.censor == "<"
    assert hcy.category == "normal"  # < 5 proves <= 15 umol/L
    assert hcy.interpretation_code == "<"  # spec 6: off-scale censored value

    holotc = result.markers["holotc"]
    assert holotc.category == "normal"  # > 70 pmol/L (NICE active B12)
    assert holotc.interpretation_code == "N"


def test_censored_b12_that_proves_nothing_is_unclassifiable():
    # Spec section 1: B12 <100 pmol/L is low under every profile; <200 pmol/L proves
    # nothing under NICE (133 to 258 pmol/L indeterminate) so it is unclassifiable.
    for profile in b12labs.list_profiles():
        low = b12labs.interpret(b12="<100 pmol/L", profile=profile).markers["b12"]
        assert low.category == "low", profile
    vague = b12labs.interpret(b12="<200 pmol/L").markers["b12"]
    assert vague.category == "unclassifiable"


def test_patient_context_is_echoed():
    result = b12labs.interpret(
        b12="300 pmol/L",
        age=70,
        sex="f",
        egfr=45,
        symptoms=["tingling"],
        risk_factors=["metformin"],
        recent_b12_treatment=False,
        nitrous_oxide=False,
    )
    patient = result.patient
    assert patient.age == 70
    assert patient.sex == "female"
    assert patient.egfr == 45
    assert patient.egfr_source == "given"
    assert patient.renal_impairment is True  # eGFR below 60 (spec 2)
    assert patient.symptoms == (b12labs.Symptom.PARAESTHESIA,)
    assert patient.risk_factors == (b12labs.RiskFactor.METFORMIN,)
    assert "nice_testing_criteria_met" in result.finding_codes  # spec 4


@pytest.mark.parametrize(
    ("analyte", "text", "category"),
    [
        # Spec section 1: a censored value gets the category its bound proves. NICE row:
        # low < 180 ng/L; 180 to 350 ng/L indeterminate (both inclusive); > 914 ng/L above.
        ("b12", "<180 ng/L", "low"),  # every value is below 180
        ("b12", "<=180 ng/L", "unclassifiable"),  # 180 itself is indeterminate
        ("b12", ">350 ng/L", "normal"),  # normal or above reference: not low
        ("b12", ">=350 ng/L", "unclassifiable"),  # 350 itself is indeterminate
        ("b12", ">914 ng/L", "above_reference"),
        # MMA elevated "above 0.40 umol/L" (strict); markedly elevated above 0.75.
        ("mma", "<=0.4 umol/L", "normal"),
        ("mma", ">0.4 umol/L", "elevated"),  # at least elevated
        ("mma", ">=0.4 umol/L", "unclassifiable"),  # 0.40 itself is normal
        ("mma", ">0.75 umol/L", "markedly_elevated"),
    ],
)
def test_censored_category_is_what_the_bound_proves(analyte: str, text: str, category: str):
    marker = b12labs.interpret(**{analyte: text}).markers[analyte]
    assert marker.category == category
    assert marker.interpretation_code == ("<" if text.startswith("<") else ">")
