"""Refresh the README's example blocks from the example scripts and their real output.

Run:  python docs/gen_readme.py   (tests/test_readme.py fails when the README is stale)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: README region name -> the example script whose code and output fill it.
REGIONS = {
    "quickstart": ROOT / "examples" / "readme_quickstart.py",
    "batch": ROOT / "examples" / "readme_batch.py",
    "series": ROOT / "examples" / "readme_series.py",
}
#: README region name -> shell commands whose output (stdout and stderr) fills it.
COMMANDS = {
    "cli": [
        "b12labs score examples/messy_export.csv -o scored.csv",
        'b12labs explain --b12 "150 pmol/L" --mma "0.52 umol/L" --age 70 --sex female --egfr 78',
        "b12labs profiles",
    ],
    "series-cli": [
        "b12labs explain --series examples/series_results.csv --treatment-started 2024-01-10 "
        "--treatment-route oral",
    ],
}


def block(name: str, script: Path) -> str:
    """The Markdown block: the example's code, then what it prints now."""
    code = script.read_text("utf-8").strip()
    output = subprocess.run(
        [sys.executable, str(script)], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.rstrip()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    return f"{start}\n```python\n{code}\n```\n\nOutput:\n\n```text\n{output}\n```\n{end}"


def command_block(name: str, commands: list[str]) -> str:
    """The Markdown block: each command and what it prints now (run in a scratch folder
    with the example files, so nothing is written into the repository)."""
    import shlex
    import shutil
    import tempfile

    script = Path(sys.executable).parent / "b12labs"
    parts = []
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(ROOT / "examples", Path(scratch) / "examples")
        for command in commands:
            args = shlex.split(command)
            run = subprocess.run(
                [str(script), *args[1:]], capture_output=True, text=True, cwd=scratch
            )
            output = (run.stdout + run.stderr).rstrip()
            output = re.sub(r"read in [0-9.]+ s", "read in 0.05 s", output)  # timing varies
            parts.append(f"$ {command}\n{output}\n(exit code {run.returncode})")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    return f"{start}\n```text\n" + "\n\n".join(parts) + f"\n```\n{end}"


def render(readme: str) -> str:
    """``readme`` (or any page) with every example region it has replaced by its block."""
    names = [n for n in [*REGIONS, *COMMANDS] if f"<!-- {n}:start -->" in readme]
    blocks = {n: block(n, REGIONS[n]) for n in names if n in REGIONS}
    blocks.update({n: command_block(n, COMMANDS[n]) for n in names if n in COMMANDS})
    for name, text in blocks.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, rest = readme.split(start, 1)
        _, tail = rest.split(end, 1)
        readme = head + text + tail
    return readme


FHIR_DOC = ROOT / "docs" / "fhir.md"


def render_fhir(doc: str) -> str:
    """docs/fhir.md with the example Bundle and the real output of examples/fhir_example.py."""
    bundle = (ROOT / "examples" / "fhir_bundle.json").read_text("utf-8").strip()
    regions = {
        "fhir-in": f"```json\n{bundle}\n```",
        "fhir-out": block("fhir-out", ROOT / "examples" / "fhir_example.py")
        .split("\n", 1)[1]
        .rsplit("\n", 1)[0],
    }
    for name, text in regions.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, rest = doc.split(start, 1)
        _, tail = rest.split(end, 1)
        doc = f"{head}{start}\n{text}\n{end}{tail}"
    return doc


def main() -> None:
    path = ROOT / "README.md"
    path.write_text(render(path.read_text("utf-8")), "utf-8")
    FHIR_DOC.write_text(render_fhir(FHIR_DOC.read_text("utf-8")), "utf-8")
    index = ROOT / "docs" / "index.md"
    index.write_text(render(index.read_text("utf-8")), "utf-8")
    series = ROOT / "docs" / "series.md"  # results over time: the example and the command
    series.write_text(render(series.read_text("utf-8")), "utf-8")


if __name__ == "__main__":
    main()
