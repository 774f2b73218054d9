"""The documentation in docs/ cannot drift from the package data.

- every status, finding code and next-step code of the catalog is in docs/codes.md, with its
  message;
- every threshold of every shipped profile (profile id + dotted path) is in docs/profiles.md;
- the generator scripts (docs/gen_codes.py, docs/gen_profiles.py) would leave the docs
  unchanged: they are run with ``--check``, which computes exactly what a real run would
  write and fails with a diff instead of writing;
- the profile examples and the error messages shown in the docs are real.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import b12labs
from b12labs import Status
from b12labs._profile import TIE_TOLERANCE
from b12labs._rules import catalog

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GENERATORS = ("gen_codes.py", "gen_profiles.py")


def _read(name: str) -> str:
    return (DOCS / name).read_text("utf-8")


def _region(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match is not None, f"region {name!r} not found"
    return match.group(1)


def _fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


# ----------------------------------------------------------------------------- codes.md


def test_every_status_is_documented_with_its_message() -> None:
    codes = _region(_read("codes.md"), "codes")
    for status in Status:
        row = f"| `{status.value}` | status | {catalog().summaries[status]} |"
        assert row in codes, row


def test_every_finding_code_is_documented_with_its_message() -> None:
    codes = _region(_read("codes.md"), "codes")
    for code, finding in catalog().findings.items():
        row = f"| `{code}` | finding | {finding.message} |"
        assert row in codes, row


def test_every_next_step_code_is_documented_with_its_message() -> None:
    codes = _region(_read("codes.md"), "codes")
    for code, step in catalog().next_steps.items():
        row = f"| `{code}` | next step | {step.message} |"
        assert row in codes, row


def test_every_interpretation_code_is_documented() -> None:
    text = _read("codes.md")
    for code in b12labs.InterpretationCode:
        assert f"`{code.value}`" in text, code


# ----------------------------------------------------------------------------- profiles.md


def _profile_sections() -> dict[str, str]:
    body = _region(_read("profiles.md"), "profiles")
    sections: dict[str, str] = {}
    for part in re.split(r"^### ", body, flags=re.M)[1:]:
        match = re.match(r"`([^`]+)`", part)
        assert match is not None, part[:80]
        sections[match.group(1)] = part
    return sections


def test_every_shipped_threshold_is_documented() -> None:
    sections = _profile_sections()
    assert sorted(sections) == sorted(b12labs.list_profiles())
    for pid in b12labs.list_profiles():
        for path, threshold in b12labs.get_profile(pid).thresholds().items():
            row = f"| `{path}` | {threshold.edge} |"
            assert row in sections[pid], f"{pid}: {path}"
            assert f"`{threshold.source}`" in sections[pid], f"{pid}: {path} source"


def test_every_cited_source_is_documented() -> None:
    sections = _profile_sections()
    for pid in b12labs.list_profiles():
        profile = b12labs.get_profile(pid)
        for threshold in profile.thresholds().values():
            citation = profile.sources[threshold.source].citation
            assert citation in sections[pid], f"{pid}: {threshold.source}"


# ----------------------------------------------------------------------------- generators


@pytest.mark.parametrize("script", GENERATORS)
def test_generator_leaves_docs_unchanged(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(DOCS / script), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, (
        f"docs/{script} would change the docs; run it and review the diff:\n"
        f"{done.stdout}\n{done.stderr}"
    )


# ----------------------------------------------------------------------------- examples


def _own_profile_section() -> str:
    text = _read("profiles.md")
    start = text.index("## Writing your own profile")
    return text[start : text.index("### Validation errors", start)]


def test_toml_profile_example_loads(tmp_path: Path) -> None:
    (toml_text,) = _fenced(_own_profile_section(), "toml")
    assert 'base = "nice-ng239"' in toml_text
    path = tmp_path / "mylab.toml"
    path.write_text(toml_text, "utf-8")
    profile = b12labs.load_profile(path)
    assert profile.id == "mylab-2025"
    thresholds = profile.thresholds()
    assert thresholds["b12.low"].below == 133
    base = b12labs.get_profile("nice-ng239")
    assert thresholds["b12.above_reference"] == base.b12.above_reference  # inherited
    # the age-specific MMA limit is inclusive at 50
    at_50 = b12labs.interpret(mma="0.30 umol/L", age=50, profile=profile)
    at_49 = b12labs.interpret(mma="0.30 umol/L", age=49, profile=profile)
    assert at_50.markers["mma"].category.value == "normal"
    assert at_49.markers["mma"].category.value == "elevated"


def test_json_profile_example_loads_and_matches_mayo(tmp_path: Path) -> None:
    (json_text,) = _fenced(_own_profile_section(), "json")
    path = tmp_path / "mayo-by-hand.json"
    path.write_text(json_text, "utf-8")
    profile = b12labs.load_profile(path)
    assert profile.id == json.loads(json_text)["id"]
    panels: list[dict[str, Any]] = [
        {"b12": "150 ng/L", "mma": "0.40 umol/L"},
        {"b12": "149.9 ng/L"},
        {"b12": "400 ng/L", "mma": "0.41 umol/L"},
        {"b12": "914 ng/L", "hcy": "15.1 umol/L"},
        {"b12": "260 pmol/L", "mma": "400 nmol/L"},
    ]
    for panel in panels:
        mine = b12labs.interpret(profile=profile, **panel)
        mayo = b12labs.interpret(profile="mayo-cascade", **panel)
        assert mine.status == mayo.status, panel
        assert mine.finding_codes == mayo.finding_codes, panel


def test_python_profile_example_runs() -> None:
    blocks = _fenced(_own_profile_section(), "python")
    (block,) = [b for b in blocks if "load_profile({" in b]
    namespace: dict[str, Any] = {"b12labs": b12labs}
    exec(block, namespace)
    assert namespace["mylab"].id == "mylab-2025"


def test_concepts_examples_are_real() -> None:
    text = _read("concepts.md")
    result = b12labs.interpret(b12="250 pmol/L", mma="0.52 umol/L", age=70, egfr=45)
    assert f"result.status          # Status.{result.status.name}" in text
    assert f"result.finding_codes   # {result.finding_codes!r}" in text
    value = b12labs.cb12(holotc=40, b12=150, mma=0.3, hcy=10, age=50)
    assert f"# {value:.4f}..." in text
    assert f"{TIE_TOLERANCE:.0e}".replace("e-0", "e-") in text


def test_shipped_profile_messages_in_profiles_md_are_generated_from_real_errors() -> None:
    errors = _region(_read("profiles.md"), "errors")
    tomls = _fenced(errors, "toml")
    messages = _fenced(errors, "text")
    assert tomls
    assert len(tomls) == len(messages)
    for toml_text, message in zip(tomls, messages, strict=True):
        with pytest.raises(b12labs.InvalidProfileError) as info:
            b12labs.load_profile(tomllib.loads(toml_text))
        assert message.strip() == f"InvalidProfileError: {info.value}"
