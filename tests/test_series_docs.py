"""docs/series.md shows the real output of the current code, and its pieces are in place."""

from __future__ import annotations

from conftest import ROOT
from test_readme import _generator  # docs/gen_readme.py, loaded from its file


def test_series_page_shows_the_current_output() -> None:
    page = (ROOT / "docs" / "series.md").read_text("utf-8")
    assert "<!-- series:start -->" in page
    assert "<!-- series-cli:start -->" in page
    assert _generator().render(page) == page, "docs/series.md is stale: run docs/gen_readme.py"


def test_series_page_is_in_the_site_and_its_image_exists() -> None:
    assert "series.md" in (ROOT / "mkdocs.yml").read_text("utf-8")
    assert (ROOT / "docs" / "img" / "series.png").stat().st_size > 0
    assert "img/series.png" in (ROOT / "docs" / "series.md").read_text("utf-8")


def test_readme_has_the_two_point_example() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "<!-- series:start -->" in readme
    assert "biochemical_response: Between 2024-01-10 and 2024-05-10" in readme
