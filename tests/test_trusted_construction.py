"""The single-panel fast paths build the same objects, and raise the same errors, as pydantic.

``interpret()`` builds its results with ``_models.trusted`` (no re-validation of values
b12labs produced) and reads keyword results with ``panel_from_fields`` (the Panel checks,
called directly). Both are checked here against pydantic's validated construction, field by
field and type by type (a ``str`` where an enum member belongs would compare equal).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import b12labs
from b12labs import Interpretation, Measurement, Panel
from b12labs._models import panel_from_fields
from test_properties import PROFILES, any_panel, marker_input


def _assert_same(ours: Any, validated: Any, where: str = "result") -> None:
    """Equal values of identical types, all the way down."""
    assert type(ours) is type(validated), f"{where}: {type(ours)} != {type(validated)}"
    if isinstance(ours, BaseModel):
        assert ours.model_fields_set <= set(type(ours).model_fields), where
        assert list(ours.__dict__) == list(type(ours).model_fields), where  # definition order
        for name in type(ours).model_fields:
            _assert_same(getattr(ours, name), getattr(validated, name), f"{where}.{name}")
    elif isinstance(ours, dict):
        assert list(ours) == list(validated), where
        for key in ours:
            assert type(key) is type(next(k for k in validated if k == key)), f"{where} key"
            _assert_same(ours[key], validated[key], f"{where}[{key!r}]")
    elif isinstance(ours, tuple | list):
        assert len(ours) == len(validated), where
        for i, (a, b) in enumerate(zip(ours, validated, strict=True)):
            _assert_same(a, b, f"{where}[{i}]")
    else:
        assert ours == validated, f"{where}: {ours!r} != {validated!r}"


def _rebuilt(model: Any) -> Any:
    """``model`` built again through its validating constructor, parts first."""
    if isinstance(model, BaseModel):
        return type(model)(**{k: _rebuilt(v) for k, v in model.__dict__.items()})
    if isinstance(model, dict):
        return {k: _rebuilt(v) for k, v in model.items()}
    if isinstance(model, tuple):
        return tuple(_rebuilt(v) for v in model)
    return model


@pytest.mark.parametrize("profile", PROFILES)
@given(panel=any_panel())
def test_results_equal_their_validated_construction(profile: str, panel: dict[str, Any]) -> None:
    result = b12labs.interpret(panel, profile=profile)
    _assert_same(result, Interpretation.model_validate(result.model_dump()))
    _assert_same(result, _rebuilt(result))
    # the fields a validated construction was given: every one but the defaulted version
    assert result.model_fields_set == set(Interpretation.model_fields) - {"schema_version"}
    assert "schema_version" not in result.model_dump(exclude_unset=True)


def test_a_cached_result_part_is_not_shared_mutable_state() -> None:
    # The same inputs give equal, separately built results: the markers mapping is new on
    # every call (its frozen MarkerAssessment values may be shared).
    first = b12labs.interpret(b12="150 pmol/L", mma="0.52 umol/L", age=70)
    second = b12labs.interpret(b12="150 pmol/L", mma="0.52 umol/L", age=70)
    assert first == second
    assert first.markers is not second.markers
    first.markers.pop(b12labs.Analyte.B12)  # a user mutating one result...
    third = b12labs.interpret(b12="150 pmol/L", mma="0.52 umol/L", age=70)
    assert set(third.markers) == {b12labs.Analyte.B12, b12labs.Analyte.MMA}  # ...changes no other


def test_zero_age_and_egfr_keep_their_own_results() -> None:
    # 0 and -0.0 are one cache key: the Panel's checks read -0.0 as 0, so both print alike.
    # Markers cannot be zero: their plausible ranges start above it (_data/analytes.toml).
    zero = b12labs.interpret(hcy="12 umol/L", age=0, egfr=0)
    negative_zero = b12labs.interpret(hcy="12 umol/L", age=-0.0, egfr=-0.0)
    assert zero == negative_zero
    assert str(negative_zero.patient.age) == "0.0"
    assert str(negative_zero.patient.egfr) == "0.0"


@given(
    text=st.sampled_from(("b12", "holotc", "mma", "hcy", "folate"))
    .flatmap(marker_input)
    .filter(lambda value: isinstance(value, str)),  # the text form, which parse() reads
    padding=st.sampled_from(("", " ", "\u00a0")),
)
def test_parsed_measurements_equal_their_validated_construction(text: str, padding: str) -> None:
    parsed = Measurement.parse(padding + text + padding)
    validated = Measurement(value=parsed.value, unit=parsed.unit, censor=parsed.censor)
    _assert_same(parsed, validated, "measurement")
    assert parsed.model_fields_set == validated.model_fields_set


# Values each field refuses (decision-spec 1: clear errors at the boundary).
_BAD: dict[str, list[Any]] = {
    "b12": ["abc", 150, (150, ""), "-5 pmol/L", "150 furlongs"],
    "mma": ["0.5", (float("nan"), "umol/L"), ["x"]],
    "age": [-1, "seventy", 500, float("inf"), True],
    "egfr": [-3, "high", 10_000],
    "sex": ["x", 3, ""],
    "pregnant": ["yes", 1],
    "symptoms": [["bogus"], 5, "tremor; nonsense"],
    "risk_factors": [["not-a-factor"], {"a": 1}],
    "nitrous_oxide": ["no"],
}


@st.composite
def panel_fields(draw: st.DrawFn) -> dict[str, Any]:
    """A valid panel, maybe with some fields replaced by refused values, keys shuffled."""
    data = draw(any_panel())
    for name in draw(st.lists(st.sampled_from(sorted(_BAD)), max_size=3, unique=True)):
        data[name] = draw(st.sampled_from(_BAD[name]))
    if draw(st.booleans()):
        data["pregnant"], data["sex"] = True, "male"  # contradictory
    keys = draw(st.permutations(list(data)))
    return {key: data[key] for key in keys}


def _outcome(build: Any, data: dict[str, Any]) -> Any:
    try:
        return build(**data)
    except Exception as error:
        return error


@given(data=panel_fields())
def test_panel_from_fields_is_the_panel_constructor(data: dict[str, Any]) -> None:
    ours = _outcome(lambda **kw: panel_from_fields(kw), data)
    validated = _outcome(Panel, data)
    if isinstance(validated, Exception):
        assert type(ours) is type(validated)
        assert str(ours) == str(validated)
        assert getattr(ours, "analyte", None) == getattr(validated, "analyte", None)
        return
    _assert_same(ours, validated, "panel")
    assert ours.model_fields_set == validated.model_fields_set
    assert b12labs.interpret(**data) == b12labs.interpret(validated)


def test_unknown_keyword_is_still_the_constructors_type_error() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'b13'.*did you mean 'b12'"):
        panel_from_fields({"b13": "150 pmol/L"})
