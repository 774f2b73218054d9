"""Notebook display: the card of a result and the summary of a scored frame.

The HTML is parsed with the standard library's html.parser and checked for structure and
text (status words, every marker row with its value and unit, findings, versions), and for
escaping: hostile texts come out as text, never as markup. No comparison with stored HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

import b12labs
from b12labs import Finding, Interpretation, NextStep, Status, interpret
from b12labs._units import canonical_factor
from b12labs._version import SCHEMA_VERSION

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> | *bold* [a](b) &amp;'
LABELS = {
    Status.DEFICIENCY_LIKELY: "Deficiency likely",
    Status.BORDERLINE: "Borderline",
    Status.NOT_INDICATED: "Not indicated",
    Status.INSUFFICIENT_DATA: "Insufficient data",
}
PANELS = {
    Status.DEFICIENCY_LIKELY: {"b12": "100 pmol/L", "mma": "0.9 umol/L"},
    Status.BORDERLINE: {"b12": "200 pmol/L"},
    Status.NOT_INDICATED: {"b12": "600 pmol/L", "mma": "0.2 umol/L"},
    Status.INSUFFICIENT_DATA: {},
}
#: Tags a card may contain: no script, style, link, image or frame.
ALLOWED_TAGS = {"div", "p", "span", "strong", "code", "table", "thead", "tbody", "tr", "th",
                "td", "ul", "li"}  # fmt: skip


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Any:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def matches(self, key: str, value: str) -> bool:
        """``class_``: one of the classes; ``data_marker``: the ``data-marker`` attribute."""
        if key == "class_":
            return value in (self.attrs.get("class") or "").split()
        return self.attrs.get(key.replace("_", "-")) == value

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag) and all(n.matches(k, v) for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, (tag, attrs)
        return found[0]


VOID = {"br", "img", "hr", "input", "meta", "link"}


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed tags"
    return builder.root


def cells(row: Node) -> dict[str, str]:
    """A marker row's cells by their class (b12labs-<column>)."""
    out = {}
    for td in row.find_all("td"):
        (css,) = [c for c in (td.attrs.get("class") or "").split() if c.startswith("b12labs-")]
        out[css.removeprefix("b12labs-")] = td.text()
    return out


def in_interval_unit(result: Interpretation, key: str) -> tuple[float, str]:
    """The marker's value in the unit of its normal range, computed here from the factors."""
    marker = result.markers[key]
    unit = marker.reference_interval.unit
    return marker.value / canonical_factor(key, unit), unit


def no_active_content(tree: Node) -> None:
    tags = {n.tag for n in tree.iter()} - {"#root"}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    for node in tree.iter():
        assert not any(k.startswith("on") for k in node.attrs), node.attrs
        style = node.attrs.get("style") or ""
        assert "url(" not in style
        assert "@import" not in style


# ----------------------------------------------------------------------------- the card


def full() -> Interpretation:
    return interpret(
        b12="150 pmol/L",
        holotc="30 pmol/L",
        mma="0.52 umol/L",
        hcy="<12 umol/L",
        folate="10 ng/mL",
        age=70,
        sex="female",
        egfr=78,
        symptoms=["tremor"],
        risk_factors=["metformin"],
    )


@pytest.mark.parametrize("status", list(Status))
def test_card_names_the_status_in_words_and_colour(status: Status) -> None:
    result = interpret(PANELS[status])
    assert result.status is status
    tree = parse(result._repr_html_())
    card = tree.find("div", class_="b12labs-card")
    badge = card.find("span", class_="b12labs-status")
    assert badge.attrs["data-status"] == status.value
    assert badge.text() == LABELS[status]  # words: the card reads the same without colour
    assert "background:" in (badge.attrs["style"] or "")  # and colour
    assert card.find("code", class_="b12labs-status-code").text() == status.value
    assert card.find("p", class_="b12labs-summary").text() == result.summary
    no_active_content(tree)


def test_status_colours_differ() -> None:
    styles = set()
    for status in Status:
        badge = parse(interpret(PANELS[status])._repr_html_()).find("span", class_="b12labs-status")
        styles.add(badge.attrs["style"])
    assert len(styles) == len(Status)


def test_card_has_every_marker_with_value_unit_category_and_range_in_one_unit() -> None:
    result = full()
    tree = parse(result._repr_html_())
    table = tree.find("table", class_="b12labs-markers")
    headers = [th.text() for th in table.find_all("th")]
    assert headers[:6] == ["Marker", "Value", "Unit", "Category", "Code", "Normal range"]
    rows = {row.attrs["data-marker"]: cells(row) for row in table.find_all("tr") if row.attrs}
    assert list(rows) == [str(k) for k in result.markers]
    for key, marker in result.markers.items():
        row = rows[str(key)]
        value, unit = in_interval_unit(result, str(key))
        censor = marker.censor.value if marker.censor else ""
        assert row["unit"] == unit == marker.reference_interval.unit
        assert row["value"].startswith(censor)
        assert float(row["value"].removeprefix(censor)) == pytest.approx(value, rel=1e-3)
        assert row["category"] == marker.category.value
        assert row["code"] == marker.interpretation_code.value
        assert row["normal"] == marker.reference_interval.text
        assert row["normal"].endswith(unit)  # the range is in the unit of the value
        assert row["reported"] == f"{censor}{marker.original_value:g} {marker.original_unit}"
    # B12 150 pmol/L against the NICE range in ng/L: shown as 203.3 ng/L
    assert (rows["b12"]["value"], rows["b12"]["unit"]) == ("203.3", "ng/L")
    assert rows["hcy"]["value"] == "<12"


def test_card_lists_findings_and_next_steps_with_their_sentences() -> None:
    result = full()
    tree = parse(result._repr_html_())
    for css, items in (
        ("b12labs-findings", result.findings),
        ("b12labs-next-steps", result.next_steps),
    ):
        section = tree.find("div", class_=css)
        lis = section.find_all("li")
        assert [li.attrs["data-code"] for li in lis] == [i.code for i in items]
        for li, item in zip(lis, items, strict=True):
            assert li.find("code").text() == item.code
            assert item.message in li.text()
    assert result.next_steps
    assert result.findings


def test_card_names_profile_rules_and_schema_versions() -> None:
    result = full()
    text = parse(result._repr_html_()).find("p", class_="b12labs-provenance").text()
    assert f"{result.profile_id} {result.profile_version}" in text
    assert f"rules version {result.rules_version}" in text
    assert f"schema version {SCHEMA_VERSION}" in text
    assert f"b12labs {result.library_version}" in text
    assert "Decision support, not a diagnosis." in text


def test_card_without_markers() -> None:
    tree = parse(interpret()._repr_html_())
    assert tree.find("p", class_="b12labs-markers").text() == "No marker given."
    assert not tree.find_all("table")


def hostile_result() -> Interpretation:
    result = full()
    b12 = result.markers["b12"]
    markers = dict(result.markers)
    markers["b12"] = b12.model_copy(
        update={
            "original_unit": HOSTILE,
            "reference_interval": b12.reference_interval.model_copy(
                update={"unit": HOSTILE, "text": HOSTILE}
            ),
        }
    )
    return result.model_copy(
        update={
            "profile_id": HOSTILE,
            "profile_version": '"><b>1</b>',
            "summary": HOSTILE,
            "markers": markers,
            "findings": (Finding(code='x" onclick="alert(1)', message=HOSTILE),),
            "next_steps": (NextStep(code=HOSTILE, message=HOSTILE),),
        }
    )


def test_card_escapes_every_text() -> None:
    result = hostile_result()
    html = result._repr_html_()
    tree = parse(html)
    no_active_content(tree)
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert tree.find("p", class_="b12labs-summary").text() == HOSTILE
    row = cells(tree.find("tr", data_marker="b12"))
    # a unit b12labs does not know: the value stays in its canonical unit, the texts as given
    assert row["normal"] == HOSTILE
    assert row["reported"].endswith(HOSTILE)
    (finding,) = tree.find("div", class_="b12labs-findings").find_all("li")
    assert finding.attrs["data-code"] == 'x" onclick="alert(1)'  # an attribute value, intact
    assert finding.text().endswith(HOSTILE)
    provenance = tree.find("p", class_="b12labs-provenance").text()
    assert HOSTILE in provenance
    assert '"><b>1</b>' in provenance


# ----------------------------------------------------------------------------- Markdown


def table_rows(markdown: str) -> list[list[str]]:
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_markdown_card() -> None:
    result = full()
    markdown = result._repr_markdown_()
    assert LABELS[result.status] in markdown.splitlines()[0]
    rows = table_rows(markdown)
    assert rows[0] == [
        "Marker", "Value", "Unit", "Category", "Code", "Normal range", "As reported"
    ]  # fmt: skip
    assert len(rows) == 2 + len(result.markers)
    for row, marker in zip(rows[2:], result.markers.values(), strict=True):
        assert len(row) == 7
        assert row[3] == marker.category.value.replace("_", "\\_")
        assert row[2] == marker.reference_interval.unit
    for item in (*result.findings, *result.next_steps):
        assert item.code.replace("_", "\\_") in markdown
    assert f"schema version {SCHEMA_VERSION}" in markdown
    assert f"rules version {result.rules_version}" in markdown


def test_markdown_card_escapes_every_text() -> None:
    markdown = hostile_result()._repr_markdown_()
    assert "<" not in markdown
    assert ">" not in markdown.replace("&gt;", "")
    assert "&lt;script&gt;" in markdown
    for row in table_rows(markdown):
        assert len(row) == 7  # a '|' in a text does not add a cell
    assert "*bold*" not in markdown.replace("\\*bold\\*", "")
    assert "[a](b)" not in markdown


# ----------------------------------------------------------------------------- batch summary


@pytest.fixture
def scored() -> Any:
    pd = pytest.importorskip("pandas")
    import b12labs.pandas  # noqa: F401

    frame = pd.read_csv(b12labs_examples() / "messy_export.csv")
    return frame.b12labs.interpret(profile="nice-ng239")


def b12labs_examples() -> Any:
    from conftest import ROOT

    return ROOT / "examples"


def test_summary_counts(scored: Any) -> None:
    from b12labs.pandas import BatchSummary, summary

    result = summary(scored)
    assert isinstance(result, BatchSummary)
    assert result == scored.b12labs.summary()
    assert result.rows == len(scored)
    assert list(result.statuses) == [s.value for s in Status]
    counts = scored["b12labs_status"].value_counts()
    assert result.statuses == {s.value: int(counts[s.value]) for s in Status}
    reasons = scored["b12labs_error"].astype(str).str.partition(":")[0]
    expected = reasons[reasons != ""].value_counts()
    assert result.errors == {k: int(v) for k, v in expected.items()}
    assert result.error_rows == int((scored["b12labs_error"] != "").sum()) == 2
    assert result.provenance == scored.attrs["b12labs"]


def test_summary_html(scored: Any) -> None:
    from b12labs.pandas import summary

    result = summary(scored)
    tree = parse(result._repr_html_())
    no_active_content(tree)
    box = tree.find("div", class_="b12labs-batch-summary")
    for status, count in result.statuses.items():
        row = box.find("tr", data_status=status)
        assert row.find("span", class_="b12labs-status").text() == LABELS[Status(status)]
        assert row.find_all("td")[-1].text() == f"{count:,}"
    assert box.find("tr", data_status="error").find_all("td")[-1].text() == "2"
    for reason, count in result.errors.items():
        assert box.find("tr", data_reason=reason).find_all("td")[-1].text() == str(count)
    heading = box.find("div").text()
    assert f"{len(scored)} rows" in heading
    assert "profile nice-ng239 1.0" in heading
    assert f"schema version {SCHEMA_VERSION}" in heading
    assert "rules version 2" in heading


def test_summary_text_and_markdown(scored: Any) -> None:
    from b12labs.pandas import summary

    result = summary(scored)
    text = str(result)
    assert text.splitlines()[0].startswith(f"b12labs: {len(scored)} rows, profile nice-ng239")
    for status, count in result.statuses.items():
        assert re.search(rf"^  {status} +{count}$", text, re.M)
    assert re.search(r"^  rows with errors +2$", text, re.M)
    markdown = result._repr_markdown_()
    rows = table_rows(markdown)
    assert rows[0] == ["Status", "Rows"]
    assert len(rows) == 2 + len(Status) + 1 + len(result.errors)
    assert "Deficiency likely" in markdown


def test_summary_escapes_a_hostile_profile_name(scored: Any) -> None:
    from b12labs.pandas import summary

    scored.attrs["b12labs"] = {**scored.attrs["b12labs"], "profile_id": HOSTILE}
    result = summary(scored)
    html = result._repr_html_()
    tree = parse(html)
    no_active_content(tree)
    assert "<script" not in html
    assert HOSTILE in tree.find("div", class_="b12labs-batch-summary").find("div").text()
    assert "<" not in result._repr_markdown_()


def test_summary_when_attrs_were_lost(scored: Any) -> None:
    from b12labs.pandas import summary

    scored.attrs = {}
    result = summary(scored)
    assert result.provenance == {}
    assert "provenance unknown" in str(result)


def test_summary_of_an_unscored_frame_is_a_column_error() -> None:
    pd = pytest.importorskip("pandas")
    from b12labs.pandas import summary

    with pytest.raises(b12labs.ColumnError, match="interpret"):
        summary(pd.DataFrame({"b12": ["150 pmol/L"]}))
    with pytest.raises(TypeError):
        summary([1, 2])  # type: ignore[arg-type]
