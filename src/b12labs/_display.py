"""Notebook display: the HTML and Markdown card of one result and of a batch summary.

Every text written is escaped (``html.escape`` for HTML; HTML entities plus backslashes for
Markdown), so a unit, code or profile name cannot inject markup. Styles are inline: no
external CSS, no JavaScript. The status is given in words (a text badge and its code) as well
as in colour, so the card reads the same without colour.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._models import _value_in_interval_unit

if TYPE_CHECKING:
    from ._models import Interpretation, MarkerAssessment

__all__ = ["BatchSummary", "card_html", "card_markdown", "status_label"]

#: Status -> (label, background, text colour, border). The label carries the meaning; the
#: colours (contrast above 7:1 on their background) only repeat it.
_STATUS_STYLE: dict[str, tuple[str, str, str, str]] = {
    "deficiency_likely": ("Deficiency likely", "#fde8e8", "#7f1d1d", "#c53030"),
    "borderline": ("Borderline", "#fff4db", "#5c3b00", "#b7791f"),
    "not_indicated": ("Not indicated", "#e6f4ea", "#14532d", "#2f855a"),
    "insufficient_data": ("Insufficient data", "#edf0f3", "#1f2933", "#718096"),
}
_UNKNOWN_STYLE = ("Unknown status", "#ffffff", "#1f2933", "#718096")
_MARKER_LABELS = {
    "b12": "Total B12",
    "holotc": "Active B12 (holoTC)",
    "mma": "MMA",
    "hcy": "Homocysteine",
    "folate": "Folate",
}
_BOX = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.45;"
    "max-width:780px;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;"
    "color:#1f2933;background:#ffffff"
)
_TABLE = "border-collapse:collapse;margin:6px 0"
_CELL = "border-bottom:1px solid #e1e4e8;padding:2px 10px 2px 0;text-align:left"
_NUMBER = "border-bottom:1px solid #e1e4e8;padding:2px 10px 2px 0;text-align:right"
_QUIET = "color:#57606a;font-size:12px"
DISCLAIMER = "Decision support, not a diagnosis."


def status_label(status: str) -> str:
    """The words of a status value (``"deficiency_likely"`` -> ``"Deficiency likely"``)."""
    return _STATUS_STYLE.get(status, _UNKNOWN_STYLE)[0]


def _h(text: Any) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~!])")


def _md(text: Any) -> str:
    """``text`` escaped for Markdown: on one line, HTML as entities, markup characters
    backslashed, and no list, heading or quote marker at its start."""
    one_line = " ".join(str(text).split())
    escaped = _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))
    escaped = re.sub(r"^([-+])", r"\\\1", escaped)
    return re.sub(r"^([0-9]+)([.)])(?=\s|$)", r"\1\\\2", escaped)


def _number(value: float) -> str:
    text = f"{value:.4g}"
    if "e" in text:  # no exponent in a card: 100000, 0.00001
        text = f"{value:.0f}" if abs(value) >= 1 else f"{value:.8f}".rstrip("0").rstrip(".")
    return text


def _marker_row(marker: MarkerAssessment) -> dict[str, str]:
    """One marker's cells: the value in the unit of its normal range (converted with
    b12labs' own factors), so that value and range can be compared at a glance."""
    censor = marker.censor.value if marker.censor else ""
    interval = marker.reference_interval
    value, unit = _value_in_interval_unit(marker) or (marker.value, marker.unit)
    key = str(marker.analyte)
    return {
        "key": key,
        "marker": _MARKER_LABELS.get(key, key),
        "value": f"{censor}{_number(value)}",
        "unit": unit,
        "category": marker.category.value,
        "code": marker.interpretation_code.value,
        "normal": interval.text,
        "reported": f"{censor}{marker.original_value:g} {marker.original_unit}",
    }


_MARKER_COLUMNS = (
    ("marker", "Marker"),
    ("value", "Value"),
    ("unit", "Unit"),
    ("category", "Category"),
    ("code", "Code"),
    ("normal", "Normal range"),
    ("reported", "As reported"),
)


def _badge(status: str) -> str:
    label, background, colour, border = _STATUS_STYLE.get(status, _UNKNOWN_STYLE)
    style = (
        f"display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;"
        f"background:{background};color:{colour};border:1px solid {border}"
    )
    return (
        f'<span class="b12labs-status" data-status="{_h(status)}" style="{style}">'
        f"{_h(label)}</span>"
    )


def _versions(result: Interpretation) -> str:
    return (
        f"Profile {result.profile_id} {result.profile_version} · rules version "
        f"{result.rules_version} · schema version {result.schema_version} · b12labs "
        f"{result.library_version}"
    )


def card_html(result: Interpretation) -> str:
    """The HTML card of one result (see :meth:`Interpretation._repr_html_`)."""
    status = result.status.value
    parts = [
        f'<div class="b12labs-card" style="{_BOX}">',
        '<div class="b12labs-header" style="font-size:14px">'
        f"<strong>B12 status:</strong> {_badge(status)} "
        f'<code class="b12labs-status-code">{_h(status)}</code></div>',
        f'<p class="b12labs-summary" style="margin:6px 0">{_h(result.summary)}</p>',
    ]
    if result.markers:
        head = "".join(
            f'<th style="{_NUMBER if name == "value" else _CELL}">{_h(title)}</th>'
            for name, title in _MARKER_COLUMNS
        )
        rows = []
        for marker in result.markers.values():
            cells = _marker_row(marker)
            tds = "".join(
                f'<td class="b12labs-{name}" '
                f'style="{_NUMBER if name == "value" else _CELL}">{_h(cells[name])}</td>'
                for name, _ in _MARKER_COLUMNS
            )
            rows.append(f'<tr data-marker="{_h(cells["key"])}">{tds}</tr>')
        parts.append(
            f'<table class="b12labs-markers" style="{_TABLE}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    else:
        parts.append('<p class="b12labs-markers" style="margin:6px 0">No marker given.</p>')
    extras = _extras(result)
    if extras:
        parts.append(f'<p class="b12labs-extras" style="margin:4px 0">{_h("; ".join(extras))}</p>')
    for css, title, items in (
        ("b12labs-findings", "Findings", result.findings),
        ("b12labs-next-steps", "Next steps", result.next_steps),
    ):
        if not items:
            continue
        lis = "".join(
            f'<li data-code="{_h(item.code)}"><code>{_h(item.code)}</code> {_h(item.message)}</li>'
            for item in items
        )
        parts.append(
            f'<div class="{css}"><strong>{title}</strong>'
            f'<ul style="margin:2px 0 6px 0;padding-left:20px">{lis}</ul></div>'
        )
    parts.append(
        f'<p class="b12labs-provenance" style="margin:4px 0 0 0;{_QUIET}">'
        f"{_h(_versions(result))}. {DISCLAIMER}</p></div>"
    )
    return "".join(parts)


def card_markdown(result: Interpretation) -> str:
    """The Markdown card of one result (see :meth:`Interpretation._repr_markdown_`)."""
    status = result.status.value
    lines = [
        f"**B12 status: {_md(status_label(status))}** ({_md(status)}): {_md(result.summary)}",
        "",
    ]
    if result.markers:
        lines.append("| " + " | ".join(title for _, title in _MARKER_COLUMNS) + " |")
        lines.append(
            "|" + "|".join("---:" if n == "value" else "---" for n, _ in _MARKER_COLUMNS) + "|"
        )
        for marker in result.markers.values():
            cells = _marker_row(marker)
            lines.append("| " + " | ".join(_md(cells[n]) for n, _ in _MARKER_COLUMNS) + " |")
    else:
        lines.append("No marker given.")
    extras = _extras(result)
    if extras:
        lines += ["", _md("; ".join(extras))]
    for title, items in (("Findings", result.findings), ("Next steps", result.next_steps)):
        if items:
            lines += ["", f"**{title}**", ""]
            lines += [f"- {_md(item.code)}: {_md(item.message)}" for item in items]
    lines += ["", f"*{_md(_versions(result))}. {DISCLAIMER}*"]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- batch


@dataclass(frozen=True)
class BatchSummary:
    """Counts of a scored batch, displayed as a small table in notebooks.

    ``statuses`` has the four status values in order (0 when absent); ``errors`` the rows
    that could not be interpreted per reason code, most frequent first; ``provenance`` what
    produced the results (``rules_version``, ``profile_id``, ``profile_version``,
    ``library_version``, ``schema_version``), empty when the frame lost it.
    """

    rows: int
    statuses: Mapping[str, int]
    errors: Mapping[str, int]
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def error_rows(self) -> int:
        """The number of rows that could not be interpreted."""
        return sum(self.errors.values())

    def _heading(self) -> str:
        p = self.provenance
        if not p:
            return f"{self.rows:,} rows (provenance unknown: the frame's attrs were lost)"

        def get(key: str) -> str:
            value = p.get(key)
            return "?" if value is None else str(value)

        return (
            f"{self.rows:,} rows, profile {get('profile_id')} {get('profile_version')}, "
            f"rules version {get('rules_version')}, schema version {get('schema_version')}, "
            f"b12labs {get('library_version')}"
        )

    def __str__(self) -> str:
        lines = [f"b12labs: {self._heading()}"]
        lines += [f"  {status:<20} {count:>12,}" for status, count in self.statuses.items()]
        lines.append(f"  {'rows with errors':<20} {self.error_rows:>12,}")
        lines += [f"    {reason:<18} {count:>12,}" for reason, count in self.errors.items()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """A small HTML table: rows per status (in words and colour) and per error reason."""
        rows = [
            f'<tr data-status="{_h(status)}"><td style="{_CELL}">{_badge(status)} '
            f'<code>{_h(status)}</code></td><td style="{_NUMBER}">{count:,}</td></tr>'
            for status, count in self.statuses.items()
        ]
        rows.append(
            f'<tr data-status="error"><td style="{_CELL}">Rows with errors</td>'
            f'<td style="{_NUMBER}">{self.error_rows:,}</td></tr>'
        )
        rows += [
            f'<tr data-reason="{_h(reason)}"><td style="{_CELL};padding-left:18px">'
            f'<code>{_h(reason)}</code></td><td style="{_NUMBER}">{count:,}</td></tr>'
            for reason, count in self.errors.items()
        ]
        return (
            f'<div class="b12labs-batch-summary" style="{_BOX}">'
            f"<div><strong>b12labs batch:</strong> {_h(self._heading())}</div>"
            f'<table style="{_TABLE}"><thead><tr><th style="{_CELL}">Status</th>'
            f'<th style="{_NUMBER}">Rows</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<p style="margin:4px 0 0 0;{_QUIET}">{DISCLAIMER}</p></div>'
        )

    def _repr_markdown_(self) -> str:
        """The table of :meth:`_repr_html_` as Markdown (every text escaped)."""
        lines = [
            f"**b12labs batch:** {_md(self._heading())}",
            "",
            "| Status | Rows |",
            "|---|---:|",
        ]
        lines += [
            f"| {_md(status_label(status))} ({_md(status)}) | {count:,} |"
            for status, count in self.statuses.items()
        ]
        lines.append(f"| Rows with errors | {self.error_rows:,} |")
        lines += [f"| error: {_md(reason)} | {count:,} |" for reason, count in self.errors.items()]
        return "\n".join(lines)


def _extras(result: Interpretation) -> list[str]:
    """The computed values shown under the markers: cB12 and eGFR, when known."""
    extras = []
    if result.cb12.value is not None:
        extras.append(f"cB12 {result.cb12.value:.2f} ({result.cb12.band})")
    if result.patient.egfr is not None:
        extras.append(
            f"eGFR {result.patient.egfr:.0f} mL/min/1.73 m2 ({result.patient.egfr_source})"
        )
    return extras
