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
        else:
            print(f"== {label}\n{result.report()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
