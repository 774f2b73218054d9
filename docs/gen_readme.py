"""Refresh the README quickstart from examples/readme_quickstart.py and its real output.

Run:  python docs/gen_readme.py   (tests/test_readme.py fails when the README is stale)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "readme_quickstart.py"
START, END = "<!-- quickstart:start -->", "<!-- quickstart:end -->"


def quickstart_block() -> str:
    """The Markdown block: the example's code, then what it prints now."""
    code = SCRIPT.read_text("utf-8").strip()
    output = subprocess.run(
        [sys.executable, str(SCRIPT)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return f"{START}\n```python\n{code}\n```\n\nOutput:\n\n```text\n{output}\n```\n{END}"


def render(readme: str) -> str:
    """``readme`` with its quickstart region replaced by the current block."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + quickstart_block() + tail


def main() -> None:
    path = ROOT / "README.md"
    path.write_text(render(path.read_text("utf-8")), "utf-8")


if __name__ == "__main__":
    main()
