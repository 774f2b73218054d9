"""schema_version and the published JSON Schemas (docs/versioning.md).

- every result, batch provenance and FHIR output carries ``schema_version``;
- ``panel_json_schema()`` and ``result_json_schema()`` are draft 2020-12 schemas with ``$id``;
- real inputs and outputs validate against them (jsonschema);
- the snapshots in tests/snapshots/ change only with ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import b12labs
from b12labs import Interpretation, Panel, interpret
from b12labs._version import SCHEMA_VERSION
from b12labs.cli import main as cli_main
from conftest import ROOT

jsonschema = pytest.importorskip("jsonschema")

SNAPSHOTS = ROOT / "tests" / "snapshots"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID = re.compile(
    r"^https://b12labs\.org/schema/(?P<major>[0-9]+)\.(?P<minor>[0-9]+)/(?P<name>[a-z]+)\.json$"
)
REFRESH = (
    ".venv/bin/b12labs schema --input > tests/snapshots/panel.schema.json && "
    ".venv/bin/b12labs schema --output > tests/snapshots/interpretation.schema.json"
)
PUBLISHED = {
    "panel": b12labs.panel_json_schema,
    "interpretation": b12labs.result_json_schema,
}
PROFILES = list(b12labs.list_profiles())
#: Panels as JSON documents, in every form the input schema describes.
JSON_PANELS: list[dict[str, Any]] = [
    {},
    {"b12": "150 pmol/L", "mma": "0.52 umol/L", "hcy": "12 umol/L", "age": 70, "sex": "female"},
    {"b12": "<100 pg/mL", "age": 31, "sex": "female", "pregnant": True},
    {"b12": [420, "pmol/L"], "mma": [0.21, "umol/L"], "symptoms": [], "risk_factors": None},
    {"b12": "≥ 2,000 ng/L", "recent_b12_treatment": True},
    {"b12": "N/A", "holotc": "32 pmol/L", "folate": "4.1 ng/mL", "creatinine": "1.1 mg/dL",
     "age": 66, "sex": "male", "symptoms": "tremor; paraesthesia", "risk_factors": "none"},
    {"b12": "400 ng/L", "hcy": "40 umol/L", "nitrous_oxide": True, "egfr": 45,
     "symptoms": ["paraesthesia", "ataxia"], "risk_factors": ["metformin", "autoimmune_gastritis"]},
]  # fmt: skip


def _validator(schema: dict[str, Any]) -> Any:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(schema: dict[str, Any], instance: Any) -> list[str]:
    return [e.message for e in _validator(schema).iter_errors(instance)]


# ----------------------------------------------------------------------------- schema_version


def test_every_result_carries_the_schema_version() -> None:
    result = interpret(b12="150 pmol/L")
    assert result.schema_version == SCHEMA_VERSION
    data = json.loads(result.model_dump_json())
    assert data["schema_version"] == SCHEMA_VERSION
    assert Interpretation.model_validate_json(result.model_dump_json()) == result
    assert f"schema version {SCHEMA_VERSION}" in result.report().splitlines()[0]


def test_schema_version_is_major_dot_minor() -> None:
    assert re.fullmatch(r"[0-9]+\.[0-9]+", SCHEMA_VERSION)


def test_a_result_saved_before_schema_version_still_loads() -> None:
    data = json.loads(interpret(b12="150 pmol/L").model_dump_json())
    del data["schema_version"]
    assert Interpretation.model_validate(data).schema_version == SCHEMA_VERSION


def test_schema_version_is_required_in_the_result_schema() -> None:
    schema = b12labs.result_json_schema()
    assert "schema_version" in schema["required"]
    assert schema["properties"]["schema_version"]["type"] == "string"
    assert "rules_version" in schema["required"]  # unchanged


def test_batch_provenance_has_the_schema_version() -> None:
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    from b12labs.arrow import interpret_table
    from b12labs.pandas import interpret_frame

    frame = pd.DataFrame({"b12": ["150 pmol/L", "abc pg/mL"]})
    single = interpret(b12="150 pmol/L")
    expected = {
        "rules_version": single.rules_version,
        "profile_id": single.profile_id,
        "profile_version": single.profile_version,
        "library_version": single.library_version,
        "schema_version": single.schema_version,
    }
    assert interpret_frame(frame).attrs["b12labs"] == expected
    table = interpret_table(pa.table({"b12": ["150 pmol/L"]}))
    assert json.loads(table.schema.metadata[b"b12labs"]) == expected


def test_fhir_output_has_the_schema_version_beside_the_rules_version() -> None:
    pytest.importorskip("fhir.resources")
    from b12labs.fhir import OBSERVATION_CODE_SYSTEM, to_fhir

    result = interpret(b12="150 pmol/L", mma="0.52 umol/L")
    (overall,) = [
        e["resource"]
        for e in to_fhir(result)["entry"]
        if e["resource"]["code"]["coding"][0]["code"] == "b12-status"
    ]
    *_, schema, rules = overall["component"]
    assert schema["code"]["coding"] == [
        {
            "system": OBSERVATION_CODE_SYSTEM,
            "code": "schema-version",
            "display": "b12labs result schema version",
        }
    ]
    assert schema["valueString"] == SCHEMA_VERSION
    assert rules["code"]["coding"][0]["code"] == "rules-version"
    (note,) = overall["note"]
    assert f"rules version 2, schema version {SCHEMA_VERSION}." in note["text"]


# ----------------------------------------------------------------------------- published schemas


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_schema_has_dialect_and_id(name: str) -> None:
    schema = PUBLISHED[name]()
    assert list(schema)[:2] == ["$schema", "$id"]
    assert schema["$schema"] == DIALECT
    assert schema["$id"] == f"https://b12labs.org/schema/{SCHEMA_VERSION}/{name}.json"
    jsonschema.Draft202012Validator.check_schema(schema)
    # a copy: changing it changes nothing for the next caller
    schema["properties"].clear()
    assert PUBLISHED[name]()["properties"]


def test_result_schema_is_pydantics_plus_dialect_and_id() -> None:
    """Backward compatible: the schema as before, with $schema and $id added."""
    schema = b12labs.result_json_schema()
    del schema["$schema"], schema["$id"]
    assert schema == Interpretation.model_json_schema(mode="serialization")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("panel", JSON_PANELS, ids=range(len(JSON_PANELS)))
def test_real_inputs_and_outputs_validate(profile: str, panel: dict[str, Any]) -> None:
    assert _errors(b12labs.panel_json_schema(), panel) == []
    parsed = Panel.model_validate_json(json.dumps(panel))
    result = interpret(parsed, profile=profile)
    assert _errors(b12labs.result_json_schema(), json.loads(result.model_dump_json())) == []


@given(
    b12=st.floats(20, 5000),
    unit=st.sampled_from(["pmol/L", "pg/mL", "ng/L"]),
    censor=st.sampled_from(["", "<", ">=", "≤ "]),
    mma=st.none() | st.floats(0.05, 5),
    age=st.none() | st.integers(0, 110),
    pair=st.booleans(),
)
def test_generated_inputs_and_outputs_validate(
    b12: float, unit: str, censor: str, mma: float | None, age: int | None, pair: bool
) -> None:
    panel: dict[str, Any] = {
        "b12": [b12, unit] if pair else f"{censor}{b12:.6g} {unit}",
        "mma": None if mma is None else f"{mma:.4g} umol/L",
        "age": age,
    }
    assert _errors(b12labs.panel_json_schema(), panel) == []
    result = interpret(Panel.model_validate_json(json.dumps(panel)))
    assert _errors(b12labs.result_json_schema(), json.loads(result.model_dump_json())) == []


@pytest.mark.parametrize(
    ("panel", "why"),
    [
        ({"b12": 150}, "a number without a unit"),
        ({"b12": [150]}, "a pair without a unit"),
        ({"b12": [150, "pmol/L", "x"]}, "three items"),
        ({"bogus": "150 pmol/L"}, "an unknown field"),
        ({"sex": "other"}, "not a sex"),
        ({"pregnant": "yes"}, "not a boolean"),
        ({"symptoms": ["hiccups"]}, "not a symptom code"),
    ],
)
def test_input_schema_refuses_what_interpret_refuses(panel: dict[str, Any], why: str) -> None:
    assert _errors(b12labs.panel_json_schema(), panel), why
    with pytest.raises((b12labs.B12LabsError, TypeError)):
        interpret(panel)


def test_input_schema_examples_are_accepted() -> None:
    """Every example the input schema gives is read by Panel (schema and code agree)."""
    schema = b12labs.panel_json_schema()
    for name, prop in schema["properties"].items():
        for alternative in prop.get("anyOf", [prop]):
            for example in alternative.get("examples", []):
                Panel.model_validate_json(json.dumps({name: example}))


def test_output_schema_refuses_a_changed_result() -> None:
    data = json.loads(interpret(b12="150 pmol/L").model_dump_json())
    schema = b12labs.result_json_schema()
    assert _errors(schema, data) == []
    for broken in (
        {k: v for k, v in data.items() if k != "schema_version"},
        {**data, "schema_version": 1},
        {**data, "status": "maybe"},
        {**data, "extra": True},
    ):
        assert _errors(schema, broken)


# ----------------------------------------------------------------------------- command line


@pytest.mark.parametrize(
    ("args", "name"),
    [((), "interpretation"), (("--output",), "interpretation"), (("--input",), "panel")],
)
def test_cli_schema_prints_the_published_schema(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], name: str
) -> None:
    assert cli_main(["schema", *args]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == PUBLISHED[name]()


def test_cli_schema_input_and_output_together_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:  # argparse's usage error, as for any flag
        cli_main(["schema", "--input", "--output"])
    assert info.value.code == 2
    assert "--input" in capsys.readouterr().err


# ----------------------------------------------------------------------------- snapshots

#: Keys that are wording: they may change without a new schema version.
WORDING = frozenset({"description", "title", "examples"})


def _without_wording(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: _without_wording(v)
            for k, v in schema.items()
            # a key inside "properties" or "$defs" is a name, never wording
            if k not in WORDING or not isinstance(v, str | list)
        }
    if isinstance(schema, list):
        return [_without_wording(v) for v in schema]
    return schema


def _objects(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The schema's object and enum definitions by path: the top level and each $defs entry."""
    out = {"": {k: v for k, v in schema.items() if k not in ("$defs", "$id")}}
    out.update({f"$defs/{k}": v for k, v in schema.get("$defs", {}).items()})
    return out


def change_kind(old: dict[str, Any], new: dict[str, Any], *, name: str) -> tuple[str, list[str]]:
    """("none" | "minor" | "major", reasons) for a change from ``old`` to ``new``
    (both without wording), by the rules of docs/versioning.md."""
    major: list[str] = []
    minor: list[str] = []
    before, after = _objects(old), _objects(new)
    for path in before.keys() - after.keys():
        major.append(f"{path} removed")
    for path in after.keys() - before.keys():
        minor.append(f"{path} added")
    for path in before.keys() & after.keys():
        was, now = before[path], after[path]
        if "enum" in was or "enum" in now:
            gone = set(was.get("enum", [])) - set(now.get("enum", []))
            added = set(now.get("enum", [])) - set(was.get("enum", []))
            if gone:
                major.append(f"{path}: values removed {sorted(gone)}")
            if added and path == "$defs/Status":
                major.append(f"{path}: status values added {sorted(added)}")
            elif added:
                minor.append(f"{path}: values added {sorted(added)}")
            rest = {k: v for k, v in was.items() if k != "enum"}
            if rest != {k: v for k, v in now.items() if k != "enum"}:
                major.append(f"{path} changed")
            continue
        props_was, props_now = was.get("properties", {}), now.get("properties", {})
        for prop in props_was.keys() - props_now.keys():
            major.append(f"{path or name}.{prop} removed")
        for prop in props_now.keys() - props_was.keys():
            required = prop in now.get("required", [])
            if name == "panel" and required:
                major.append(f"{path or name}.{prop} added as a required input")
            else:
                minor.append(f"{path or name}.{prop} added")
        for prop in props_was.keys() & props_now.keys():
            if props_was[prop] != props_now[prop]:
                major.append(f"{path or name}.{prop} changed")
        newly_required = set(now.get("required", [])) - set(was.get("required", []))
        newly_required &= props_was.keys()
        if newly_required:
            major.append(f"{path or name}: now required {sorted(newly_required)}")
        rest_was = {k: v for k, v in was.items() if k not in ("properties", "required")}
        rest_now = {k: v for k, v in now.items() if k not in ("properties", "required")}
        if rest_was != rest_now:
            major.append(f"{path or name} changed")
    kind = "major" if major else "minor" if minor else "none"
    return kind, major + minor


def _version(schema: dict[str, Any]) -> tuple[int, int]:
    match = ID.match(str(schema.get("$id", "")))
    assert match is not None, f"snapshot has no b12labs $id; refresh it: {REFRESH}"
    return int(match["major"]), int(match["minor"])


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_schema_matches_its_snapshot_unless_schema_version_changed(name: str) -> None:
    path = SNAPSHOTS / f"{name}.schema.json"
    snapshot = json.loads(path.read_text("utf-8"))
    current = PUBLISHED[name]()
    if snapshot == current:
        return
    taken_at = _version(snapshot)
    now = _version(current)
    old, new = _without_wording(snapshot), _without_wording(current)
    del old["$id"], new["$id"]
    kind, reasons = change_kind(old, new, name=name)
    if now == taken_at:
        if kind == "none":
            pytest.fail(
                f"The {name} schema's wording changed (descriptions, titles, examples): no new "
                f"schema version is needed; refresh the snapshot: {REFRESH}"
            )
        pytest.fail(
            f"The {name} schema changed ({kind}: {'; '.join(reasons)}) but SCHEMA_VERSION is "
            f"still {SCHEMA_VERSION}. Bump SCHEMA_VERSION in src/b12labs/_version.py by the "
            f"rules of docs/versioning.md (this change needs a {kind} version), add a "
            f"changelog fragment in changes/, then refresh the snapshot: {REFRESH}"
        )
    bump = "major" if now[0] > taken_at[0] else "minor" if now > taken_at else "backwards"
    if bump == "backwards" or (kind == "major" and bump != "major"):
        pytest.fail(
            f"SCHEMA_VERSION went from {taken_at[0]}.{taken_at[1]} to {SCHEMA_VERSION}, but the "
            f"{name} schema change is {kind} ({'; '.join(reasons)}): see docs/versioning.md"
        )
    pytest.skip(
        f"SCHEMA_VERSION changed ({taken_at[0]}.{taken_at[1]} -> {SCHEMA_VERSION}, enough for "
        f"this {kind} change): refresh the snapshot: {REFRESH}"
    )


def test_snapshot_files_are_what_the_refresh_command_writes() -> None:
    """The refresh command is the CLI: its output, parsed, is the published schema."""
    for name in PUBLISHED:
        text = (SNAPSHOTS / f"{name}.schema.json").read_text("utf-8")
        assert text.endswith("}\n")
        assert json.loads(text)["$schema"] == DIALECT


# ----------------------------------------------------------------------------- the checker


def _snapshot(name: str) -> dict[str, Any]:
    schema = _without_wording(PUBLISHED[name]())
    del schema["$id"]
    return schema


def test_change_kind_of_an_added_optional_field_is_minor() -> None:
    old = _snapshot("interpretation")
    new = copy.deepcopy(old)
    new["properties"]["new_field"] = {"type": "string"}
    assert change_kind(old, new, name="interpretation")[0] == "minor"
    panel_new = _snapshot("panel")
    panel_new["properties"]["new_input"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert change_kind(_snapshot("panel"), panel_new, name="panel")[0] == "minor"


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s["properties"].pop("summary"),
        lambda s: s["properties"].__setitem__("rules_version", {"type": "string"}),
        lambda s: s["$defs"]["Status"]["enum"].append("maybe"),
        lambda s: s["$defs"]["Category"]["enum"].remove("low"),
        lambda s: s["$defs"].pop("CombinedB12"),
    ],
    ids=["removed", "type changed", "status added", "enum value removed", "definition removed"],
)
def test_change_kind_of_a_removal_or_a_change_is_major(edit: Any) -> None:
    old = _snapshot("interpretation")
    new = copy.deepcopy(old)
    edit(new)
    assert change_kind(old, new, name="interpretation")[0] == "major"


def test_change_kind_of_a_new_required_input_is_major() -> None:
    old = _snapshot("panel")
    new = copy.deepcopy(old)
    new["properties"]["site"] = {"type": "string"}
    new["required"] = ["site"]
    assert change_kind(old, new, name="panel")[0] == "major"


def test_wording_is_not_a_change() -> None:
    old = _snapshot("interpretation")
    current = b12labs.result_json_schema()
    current["description"] = "Reworded."
    current["properties"]["summary"]["title"] = "Another title"
    new = _without_wording(current)
    del new["$id"]
    assert change_kind(old, new, name="interpretation")[0] == "none"
    assert new == old


def test_snapshot_paths_exist() -> None:
    assert sorted(p.name for p in SNAPSHOTS.glob("*.schema.json")) == [
        "interpretation.schema.json",
        "panel.schema.json",
    ]
    assert (
        Path(ROOT / "docs" / "versioning.md")
        .read_text("utf-8")
        .count("tests/snapshots/panel.schema.json")
        >= 2
    )
