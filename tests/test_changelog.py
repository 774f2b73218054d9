"""The changelog and its fragments keep the format docs/versioning.md describes.

- every fragment in changes/ is named <issue>.<type>.md or +<slug>.<type>.md (optionally
  with a counter, <issue>.<type>.1.md), with a type configured in [tool.towncrier];
- the configured types are exactly the documented ones;
- CHANGELOG.md has towncrier's start marker, version sections in the configured title
  format, section headings that are type names, and the rules-version 2 entry.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from conftest import ROOT

TYPES = {
    "added": "Added",
    "changed": "Changed",
    "fixed": "Fixed",
    "deprecated": "Deprecated",
    "removed": "Removed",
    "rules": "Decision rules and profiles",
}


def _config() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["tool"]["towncrier"])


def _fragments() -> list[str]:
    folder = ROOT / _config()["directory"]
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_towncrier_configuration() -> None:
    config = _config()
    assert config["package"] == "b12labs"
    assert config["directory"] == "changes"
    assert config["filename"] == "CHANGELOG.md"
    assert {t["directory"]: t["name"] for t in config["type"]} == TYPES
    assert all(t.get("showcontent", True) for t in config["type"])


def test_fragment_names_use_the_configured_types() -> None:
    types = "|".join(re.escape(t["directory"]) for t in _config()["type"])
    name = re.compile(rf"^(?:[0-9]+|\+[a-z0-9][a-z0-9-]*)\.(?:{types})(?:\.[0-9]+)?\.md$")
    fragments = _fragments()
    assert fragments, "changes/ holds the fragments of the next release"
    bad = [f for f in fragments if not name.match(f)]
    assert not bad, (
        f"fragment names must be <issue>.<type>.md or +<slug>.<type>.md with a type of "
        f"{sorted(TYPES)} (docs/versioning.md): {bad}"
    )


def test_fragments_are_one_non_empty_markdown_entry() -> None:
    folder = ROOT / "changes"
    for name in _fragments():
        text = (folder / name).read_text("utf-8")
        assert text.strip(), name
        assert not text.lstrip().startswith("#"), f"{name}: an entry, not a heading"


def test_changelog_has_the_checked_format() -> None:
    config = _config()
    text = (ROOT / config["filename"]).read_text("utf-8")
    assert text.startswith("# Changelog\n")
    marker = config["start_string"]
    assert text.count(marker) == 1
    releases = text.split(marker, 1)[1]
    # title_format "## [{version}] - {project_date}": a version and a date (or "unreleased")
    titles = re.findall(r"^## (.*)$", releases, re.M)
    assert titles, "no release section"
    for title in titles:
        assert re.fullmatch(
            r"\[[0-9]+\.[0-9]+\.[0-9]+\] - ([0-9]{4}-[0-9]{2}-[0-9]{2}|unreleased)", title
        ), title
    assert len(set(titles)) == len(titles), "a version appears twice"
    for heading in re.findall(r"^### (.*)$", releases, re.M):
        assert heading in TYPES.values(), heading
    for line in releases.splitlines():
        assert not line.startswith("# "), line


def test_changelog_records_rules_version_2() -> None:
    text = (ROOT / "CHANGELOG.md").read_text("utf-8")
    section = text.split("### Decision rules and profiles", 1)
    assert len(section) == 2, "the rules section is missing"
    rules = section[1].split("\n## ", 1)[0]
    assert "Rules version 2" in rules
    assert "`rules_version` 2" in rules


def test_versioning_page_is_in_the_site_and_documents_the_fragment_types() -> None:
    nav = (ROOT / "mkdocs.yml").read_text("utf-8")
    assert "  - Versioning and stability: versioning.md\n" in nav
    page = (ROOT / "docs" / "versioning.md").read_text("utf-8")
    assert page.startswith("# Versioning and stability\n")
    for directory, name in TYPES.items():
        assert f"| `{directory}` | {name}" in page


@pytest.mark.parametrize(("extra", "package"), [("test", "jsonschema"), ("dev", "towncrier")])
def test_extras(extra: str, package: str) -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    assert any(re.match(rf"{package}\b", spec) for spec in extras[extra])
