"""Run every example script and execute every notebook; exit non-zero if one fails (CI).

Run:  python examples/run_examples.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Scripts that are not examples to run as they are.
SKIP = {"run_examples.py", "make_synthetic_cohort.py"}


def run_scripts(scratch: Path) -> list[str]:
    failures = []
    for script in sorted(HERE.glob("*.py")):
        if script.name in SKIP:
            continue
        args = [sys.executable, str(script)]
        if script.name == "nhanes.py":
            args += ["--plots", str(scratch / "plots")]
        run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
        print(f"{'ok  ' if run.returncode == 0 else 'FAIL'} {script.name} (exit {run.returncode})")
        if run.returncode != 0:
            failures.append(script.name)
            print(run.stdout[-2000:], run.stderr[-4000:], sep="\n")
    return failures


def run_notebooks() -> list[str]:
    import nbformat
    from nbclient import NotebookClient

    failures = []
    for path in sorted(HERE.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        try:
            NotebookClient(
                notebook, timeout=600, resources={"metadata": {"path": str(HERE)}}
            ).execute()
        except Exception as error:  # report every notebook, then fail
            failures.append(path.name)
            print(f"FAIL {path.name}: {type(error).__name__}: {str(error)[-2000:]}")
        else:
            print(f"ok   {path.name}")
    return failures


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        failures = run_scripts(Path(scratch)) + run_notebooks()
    if failures:
        print(f"failed: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
