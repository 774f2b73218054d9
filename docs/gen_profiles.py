"""Regenerate the profile tables of docs/profiles.md and the evidence tables of docs/sources.md.

Everything between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers in those files is
written from the shipped profiles (``b12labs.get_profile(id).thresholds()`` and ``.sources``)
and from the FHIR risk-factor code table (``src/b12labs/_data/fhir_risk_codes.toml``), and the
validation messages are produced by running ``b12labs.load_profile`` on bad profiles, so the
documentation cannot drift from the data.

Run from the project root:

    python docs/gen_profiles.py           rewrite the generated regions in place
    python docs/gen_profiles.py --check   change nothing; exit 1 with a diff if a region is stale
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import b12labs
from b12labs import Source, Threshold
from b12labs._fhir_context import SYSTEM_NAMES, SYSTEMS, risk_code_table
from b12labs._profile import DEFAULT_PROFILE, AgeThreshold, _read_data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_codes import DOCS, num, run, table

SCRIPT = "docs/gen_profiles.py"


def _own_paths(profile_id: str) -> set[str]:
    """Dotted paths that the profile's own TOML file sets (the rest come from _common.toml)."""
    raw = _read_data(profile_id)
    paths = set()
    for key, value in raw.items():
        if key in ("applies_from_age", "review_after_treatment"):
            paths.add(key)
        elif isinstance(value, dict) and key != "sources":
            for name, item in value.items():
                if isinstance(item, list):
                    paths.update(f"{key}.{name}[{i}]" for i in range(len(item)))
                else:
                    paths.add(f"{key}.{name}")
    return paths


def _short(threshold: Threshold) -> str:
    text = threshold.describe()
    if isinstance(threshold, AgeThreshold):
        text += f", from age {num(threshold.from_age)}"
    return text


def _all_paths() -> list[str]:
    paths: list[str] = []
    for pid in b12labs.list_profiles():
        for path in b12labs.get_profile(pid).thresholds():
            if path not in paths:
                paths.append(path)
    return paths


def _overview() -> str:
    ids = b12labs.list_profiles()
    rows = []
    for path in _all_paths():
        cells = []
        for pid in ids:
            threshold = b12labs.get_profile(pid).thresholds().get(path)
            cells.append(_short(threshold) if threshold is not None else "none")
        rows.append((f"`{path}`", *cells))
    uses = [f"`{b12labs.get_profile(pid).intended_use}`" for pid in ids]
    rows.insert(0, ("intended use", *uses))
    for path in _all_rcv_paths():
        cells = []
        for pid in ids:
            rcv = b12labs.get_profile(pid).reference_change_values().get(path)
            cells.append(f"RCV {rcv.describe()}" if rcv is not None else "none")
        rows.append((f"`{path}`", *cells))
    return table(("threshold", *(f"`{pid}`" for pid in ids)), rows)


def _all_rcv_paths() -> list[str]:
    """Every marker RCV path (``rcv.b12``...), including markers no shipped profile gives."""
    return [f"rcv.{m.value}" for m in b12labs.Analyte]


def _rcv_table(pid: str, own: set[str], cited: list[str]) -> str:
    """The profile's reference change values (decision-spec section 8), citing sources."""
    profile = b12labs.get_profile(pid)
    given = profile.reference_change_values()
    rows = []
    for path in _all_rcv_paths():
        rcv = given.get(path)
        if rcv is None:
            rows.append((f"`{path}`", "none", "none", "", "", "", "no RCV: changes get no verdict"))
            continue
        if rcv.source not in cited:
            cited.append(rcv.source)
        rows.append(
            (
                f"`{path}`",
                f"{num(rcv.decrease)}%",
                f"{num(rcv.increase)}%",
                rcv.evidence,
                f"`{rcv.source}`",
                "profile" if path in own else "`_common`",
                rcv.note or "",
            )
        )
    return table(
        (
            "reference change value",
            "fall beyond",
            "rise beyond",
            "evidence",
            "source",
            "set in",
            "note",
        ),
        rows,
    )


def _profile_sections() -> str:
    out = []
    for pid in b12labs.list_profiles():
        profile = b12labs.get_profile(pid)
        own = _own_paths(pid)
        default = " The default profile." if pid == DEFAULT_PROFILE else ""
        rows = []
        cited: list[str] = []
        for path, t in profile.thresholds().items():
            rows.append(
                (
                    f"`{path}`",
                    t.edge,
                    num(t.value),
                    t.unit,
                    num(t.from_age) if isinstance(t, AgeThreshold) else "",
                    t.evidence,
                    f"`{t.source}`",
                    "profile" if path in own else "`_common`",
                )
            )
            if t.source not in cited:
                cited.append(t.source)
        rcv_table = _rcv_table(pid, own, cited)
        sources = []
        for key in cited:
            source = profile.sources[key]
            link = f" <{source.url}>" if source.url else ""
            sources.append((f"`{key}`", source.citation + link))
        out.append(
            f"### `{pid}`\n\n"
            f"**{profile.title}**, version {profile.version}, intended use "
            f"`{profile.intended_use}`.{default}\n\n"
            f"{profile.description}\n\n"
            + table(
                (
                    "threshold",
                    "edge",
                    "value",
                    "unit",
                    "from age",
                    "evidence",
                    "source",
                    "set in",
                ),
                rows,
            )
            + "\n\nReference change values (results over time, [series.md](series.md)): a "
            "change between two results is significant when it lies strictly beyond the "
            "value of its direction, in percent of the earlier result.\n\n"
            + rcv_table
            + f"\n\nSources cited by `{pid}`:\n\n"
            + table(("key", "citation"), sources)
        )
    return "\n\n".join(out)


# Bad profiles whose real error messages the documentation shows.
_BAD_PROFILES: tuple[tuple[str, str], ...] = (
    (
        "a low threshold above the indeterminate upper bound",
        """\
id = "mylab-2025"
version = "2025.1"
title = "My laboratory"
base = "nice-ng239"

[sources.mylab]
citation = "My laboratory handbook, 2025."

[b12]
low = { below = 300, unit = "pmol/L", source = "mylab" }
indeterminate = { up_to = 250, unit = "pmol/L", source = "mylab" }
""",
    ),
    (
        "a source key that the profile does not define",
        """\
id = "mylab-2025"
version = "2025.1"
title = "My laboratory"
base = "nice-ng239"

[mma]
elevated = { above = 0.35, unit = "umol/L", source = "mylab" }
""",
    ),
    (
        "a unit that is not a concentration of the analyte",
        """\
id = "mylab-2025"
version = "2025.1"
title = "My laboratory"
base = "nice-ng239"

[hcy]
elevated = { above = 15, unit = "%", source = "arup-hcy" }
""",
    ),
    (
        "an edge that does not fit the threshold",
        """\
id = "mylab-2025"
version = "2025.1"
title = "My laboratory"
base = "nice-ng239"

[b12]
low = { above = 180, unit = "ng/L", source = "nice-ng239" }
""",
    ),
    (
        "a misspelt key and a missing block (no base, so b12 is required)",
        """\
id = "mylab-2025"
version = "2025.1"
title = "My laboratory"

[mma]
elevated = { above = 0.40, unit = "umol/L", source = "nice-ng239" }

[hcy]
elevated = { above = 15, unit = "umol/L", source = "nice-ng239", evidnce = "confirmed" }
""",
    ),
    (
        "a shipped profile's id on other thresholds (reserved ids)",
        """\
id = "nice-ng239"
version = "1.0"
title = "NICE NG239, our cut-offs"
base = "nice-ng239"

[sources.mylab]
citation = "My laboratory handbook, 2025."

[b12]
low = { below = 150, unit = "ng/L", source = "mylab" }
""",
    ),
)


def _errors() -> str:
    out = []
    for what, text in _BAD_PROFILES:
        try:
            b12labs.load_profile(tomllib.loads(text))
        except b12labs.InvalidProfileError as exc:
            message = f"{type(exc).__name__}: {exc}"
        else:  # pragma: no cover - a bad example that loads is a documentation bug
            raise SystemExit(f"{SCRIPT}: the bad profile example ({what}) loaded without error")
        out.append(f"**{what.capitalize()}:**\n\n```toml\n{text}```\n\n```text\n{message}\n```")
    return "\n\n".join(out)


def render_profiles() -> dict[str, str]:
    return {"overview": _overview(), "profiles": _profile_sections(), "errors": _errors()}


def _evidence() -> str:
    """Each distinct threshold that is not confirmed, with the profiles that use it."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for pid in b12labs.list_profiles():
        for path, t in b12labs.get_profile(pid).thresholds().items():
            if t.evidence != "confirmed":
                groups.setdefault((path, _short(t), t.evidence, t.source), []).append(pid)
        for path, rcv in b12labs.get_profile(pid).reference_change_values().items():
            if rcv.evidence != "confirmed":
                key = (path, f"RCV {rcv.describe()}", rcv.evidence, rcv.source)
                groups.setdefault(key, []).append(pid)
    rows = [
        (f"`{path}`", text, evidence, f"`{source}`", _profiles_text(pids))
        for (path, text, evidence, source), pids in groups.items()
    ]
    return table(("threshold", "value", "evidence", "source", "profiles"), rows)


def _profiles_text(pids: list[str]) -> str:
    if len(pids) == len(b12labs.list_profiles()):
        return "all shipped profiles"
    return ", ".join(f"`{p}`" for p in pids)


@dataclass
class _SourceUse:
    source: Source
    uses: dict[str, list[str]] = field(default_factory=dict)
    evidence: set[str] = field(default_factory=set)


def _source_index() -> str:
    """Every source key cited by a shipped profile, with its citation and its thresholds."""
    index: dict[str, _SourceUse] = {}
    for pid in b12labs.list_profiles():
        profile = b12labs.get_profile(pid)
        for path, t in profile.thresholds().items():
            entry = index.setdefault(t.source, _SourceUse(profile.sources[t.source]))
            if entry.source != profile.sources[t.source]:
                raise SystemExit(f"{SCRIPT}: source {t.source!r} differs between profiles")
            entry.uses.setdefault(path, []).append(pid)
            entry.evidence.add(t.evidence)
        for path, rcv in profile.reference_change_values().items():
            entry = index.setdefault(rcv.source, _SourceUse(profile.sources[rcv.source]))
            if entry.source != profile.sources[rcv.source]:
                raise SystemExit(f"{SCRIPT}: source {rcv.source!r} differs between profiles")
            entry.uses.setdefault(path, []).append(pid)
            entry.evidence.add(rcv.evidence)
    rows = []
    for key, entry in index.items():
        used = "; ".join(f"`{path}` ({_profiles_text(pids)})" for path, pids in entry.uses.items())
        link = f" <{entry.source.url}>" if entry.source.url else ""
        rows.append(
            (f"`{key}`", entry.source.citation + link, used, ", ".join(sorted(entry.evidence)))
        )
    return table(("key", "citation", "thresholds citing it", "evidence"), rows)


# ICD-10 and ICD-10-CM codes match their subdivisions (b12labs._fhir_context).
_WITH_SUBDIVISIONS = ("icd10", "icd10cm")


def _fhir_risk_codes() -> str:
    """Every code read for a risk factor from FHIR resources, in risk-factor order."""
    codes = risk_code_table().codes
    risk_order = list(b12labs.RiskFactor)
    system_order = list(SYSTEMS)
    rows = []
    for entry in sorted(
        codes, key=lambda e: (risk_order.index(e.risk_factor), system_order.index(e.system))
    ):
        code = f"`{entry.code}`"
        if entry.system in _WITH_SUBDIVISIONS:
            code += " and subdivisions"
        meaning = entry.display + (f" ({entry.note})" if entry.note else "")
        rows.append(
            (f"`{entry.risk_factor}`", SYSTEM_NAMES[entry.uri], code, meaning, f"`{entry.source}`")
        )
    return table(("risk factor", "system", "code", "meaning", "source"), rows)


def _fhir_risk_sources() -> str:
    """The sources the risk-factor codes cite, with how many codes each gives."""
    data = risk_code_table()
    rows = []
    for key, source in data.sources.items():
        count = sum(entry.source == key for entry in data.codes)
        rows.append((f"`{key}`", f"{source.citation} <{source.url}>", source.evidence, count))
    return table(("key", "citation", "evidence", "codes"), rows)


def _fhir_risk_not_shipped() -> str:
    """Codes looked for and not shipped, with the reason."""
    rows = [
        (
            f"`{item.risk_factor}`",
            SYSTEM_NAMES[SYSTEMS[item.system]],
            f"`{item.code}`" if item.code else "(none)",
            item.name,
            item.reason,
        )
        for item in risk_code_table().not_shipped
    ]
    return table(("risk factor", "system", "code", "what", "why not shipped"), rows)


def _fhir_risk_counts() -> str:
    """How many codes are shipped per code system."""
    codes = risk_code_table().codes
    rows = [
        (SYSTEM_NAMES[uri], f"`{uri}`", sum(entry.uri == uri for entry in codes))
        for uri in SYSTEMS.values()
    ]
    rows.append(("all", "", len(codes)))
    return table(("system", "FHIR system URI", "codes"), rows)


def render_sources() -> dict[str, str]:
    return {
        "source-index": _source_index(),
        "evidence": _evidence(),
        "fhir-risk-counts": _fhir_risk_counts(),
        "fhir-risk-codes": _fhir_risk_codes(),
        "fhir-risk-sources": _fhir_risk_sources(),
        "fhir-risk-not-shipped": _fhir_risk_not_shipped(),
    }


def _series_rcv() -> str:
    """The reference change values of the shipped profiles, with their sources (series.md)."""
    rows = []
    for path in _all_rcv_paths():
        found: dict[Any, list[str]] = {}
        for pid in b12labs.list_profiles():
            profile = b12labs.get_profile(pid)
            rcv = profile.reference_change_values().get(path)
            key = None if rcv is None else (rcv, profile.sources[rcv.source].citation)
            found.setdefault(key, []).append(pid)
        for key, pids in found.items():
            marker = f"`{path.removeprefix('rcv.')}`"
            if key is None:
                rows.append((marker, "none", "none", "", "", _profiles_text(pids)))
                continue
            rcv, citation = key
            rows.append(
                (
                    marker,
                    f"-{num(rcv.decrease)}%",
                    f"+{num(rcv.increase)}%",
                    rcv.evidence + (f" ({rcv.note})" if rcv.note else ""),
                    f"`{rcv.source}`: {citation}",
                    _profiles_text(pids),
                )
            )
    return table(("marker", "fall beyond", "rise beyond", "evidence", "source", "profiles"), rows)


def render_series() -> dict[str, str]:
    return {"series-rcv": _series_rcv()}


RENDERERS: dict[Path, Callable[[], dict[str, str]]] = {
    DOCS / "profiles.md": render_profiles,
    DOCS / "sources.md": render_sources,
    DOCS / "series.md": render_series,
}


def main(argv: list[str]) -> int:
    return run(RENDERERS, argv, SCRIPT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
