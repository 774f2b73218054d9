"""Refresh the README's example blocks from the example scripts and their real output.

Run:  python docs/gen_readme.py   (tests/test_readme.py fails when the README is stale)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: README region name -> the example script whose code and output fill it.
REGIONS = {
    "quickstart": ROOT / "examples" / "readme_quickstart.py",
    "batch": ROOT / "examples" / "readme_batch.py",
}


def block(name: str, script: Path) -> str:
    """The Markdown block: the example's code, then what it prints now."""
    code = script.read_text("utf-8").strip()
    output = subprocess.run(
        [sys.executable, str(script)], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.rstrip()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    return f"{start}\n```python\n{code}\n```\n\nOutput:\n\n```text\n{output}\n```\n{end}"


def render(readme: str) -> str:
    """``readme`` with every example region replaced by its current block."""
    for name, script in REGIONS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, rest = readme.split(start, 1)
        _, tail = rest.split(end, 1)
        readme = head + block(name, script) + tail
    return readme


def main() -> None:
    path = ROOT / "README.md"
    path.write_text(render(path.read_text("utf-8")), "utf-8")


if __name__ == "__main__":
    main()
