"""Interpret the bundled example panels and print each result.

Run:  python examples/quickstart.py [panels.json] [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import b12labs


def main(argv: list[str]) -> int:
    as_json = "--json" in argv
    paths = [a for a in argv if not a.startswith("--")]
    path = Path(paths[0]) if paths else Path(__file__).with_name("panels.json")
    for entry in json.loads(path.read_text("utf-8")):
        label = entry.pop("label", "panel")
        result = b12labs.interpret(**entry)
        if as_json:
            print(result.model_dump_json())
            continue
        print(f"== {label}")
        print(f"status: {result.status.value}  ({result.summary})")
        for key, marker in result.markers.items():
            censor = marker.censor.value if marker.censor else ""
            print(
                f"  {key:<6} {censor}{marker.original_value:g} {marker.original_unit}"
                f" = {censor}{marker.value:.4g} {marker.unit}: {marker.category.value}"
                f" [{marker.interpretation_code.value}] (normal {marker.reference_interval.text})"
            )
        if result.cb12.value is not None:
            print(f"  cB12   {result.cb12.value:.2f} ({result.cb12.band})")
        print("  findings:   " + ", ".join(result.finding_codes))
        print("  next steps: " + ", ".join(result.next_step_codes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
