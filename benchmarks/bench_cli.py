"""Benchmark of ``b12labs score`` on CSV files (issue #4), every figure measured in this run.

Targets:
* a 1,000,000-row CSV (about 37 MB: B12 with mixed units, MMA, homocysteine, age, sex, some
  censored and junk values) scored to CSV in 3 s wall or less, start-up included, and within
  4 x a minimal polars read-then-write of the same file (also a fresh process);
* a 10,000,000-row CSV streamed with peak resident memory of 400 MB or less (issue #13).

Run:  python benchmarks/bench_cli.py [--quick]   (--quick: 200,000 and 2,000,000 rows)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv

sys.path.insert(0, str(Path(__file__).parent))
from bench_frame import installed_environment, make_frame

SCRIPT = Path(sys.executable).parent / "b12labs"


def write_csv(path: Path, rows: int) -> None:
    """Write ``rows`` messy rows, a million at a time (constant memory)."""
    written = 0
    with pv.CSVWriter(path, schema=_schema()) as writer:
        seed = 0
        while written < rows:
            n = min(1_000_000, rows - written)
            frame = make_frame(n, seed=seed)
            frame.insert(0, "id", np.arange(written, written + n))
            writer.write_table(pa.Table.from_pandas(frame, preserve_index=False, schema=_schema()))
            written += n
            seed += 1


def _schema() -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.int64()),
            ("b12", pa.large_string()),
            ("b12_unit", pa.large_string()),
            ("MMA (umol/L)", pa.float64()),
            ("Homocysteine (umol/L)", pa.float64()),
            ("age", pa.int64()),
            ("sex", pa.large_string()),
        ]
    )


# Commands are started by a small launcher process, not by this one: Linux counts the
# resident memory of the process a child was forked from in the child's peak (ru_maxrss is
# raised to the parent's at exec), so a child of this process, which holds a generated file's
# frames, would report this process's peak instead of its own.
_LAUNCHER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    command = json.loads(line)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    print(json.dumps([elapsed, os.waitstatus_to_exitcode(status), usage.ru_maxrss]), flush=True)
"""
_launcher: subprocess.Popen[str] | None = None
_bytecode = tempfile.TemporaryDirectory(prefix="b12labs-bench-pyc-")
_warmed: set[tuple[str, ...]] = set()


def run(command: list[str], output: Path | None = None) -> tuple[float, int]:
    """Wall seconds and peak resident memory (bytes) of one fresh process.

    Commands run with their bytecode cached, as after ``pip install``
    (``installed_environment``); the first run of each program (a ``python -c`` script, or a
    console script's subcommand), which compiles its bytecode, is not timed. ``output``, the
    file the command writes, is deleted and the page cache written back (``os.sync``) before
    each run, untimed: otherwise a command pays for the previous command's output (freeing
    its dirty pages when the file is replaced, writing them back meanwhile).
    """
    global _launcher
    if _launcher is None:
        _launcher = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=installed_environment(_bytecode.name),
        )  # fmt: skip
    program = tuple(command[:3] if command[1:2] == ["-c"] else command[:2])
    if program not in _warmed:
        _warmed.add(program)
        fresh(output)
        _run(command)
    fresh(output)
    return _run(command)


def fresh(output: Path | None) -> None:
    """Delete ``output`` (when given) and write the page cache back: what a timed command
    writes then costs it alone."""
    if output is not None:
        output.unlink(missing_ok=True)
    os.sync()


def _run(command: list[str]) -> tuple[float, int]:
    assert _launcher is not None
    assert _launcher.stdin is not None
    assert _launcher.stdout is not None
    _launcher.stdin.write(json.dumps(command) + "\n")
    _launcher.stdin.flush()
    elapsed, code, peak_kib = json.loads(_launcher.stdout.readline())
    if code not in (0, 1):  # 1: some rows had errors (junk)
        raise RuntimeError(f"{command[0]} failed: {code}")
    return elapsed, peak_kib * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description="b12labs score benchmark")
    parser.add_argument("--quick", action="store_true", help="smaller files (CI)")
    args = parser.parse_args()
    small, large = (200_000, 2_000_000) if args.quick else (1_000_000, 10_000_000)
    repeats = 3 if args.quick else 5
    with tempfile.TemporaryDirectory() as folder:
        source, out = Path(folder) / "in.csv", Path(folder) / "out.csv"
        write_csv(source, small)
        size_mb = source.stat().st_size / 1e6
        score = [str(SCRIPT), "score", str(source), "-o", str(out), "--quiet", "--no-progress"]
        polars = [
            sys.executable,
            "-c",
            f"import polars as pl; pl.read_csv({str(source)!r}).write_csv({str(out) + '.pl'!r})",
        ]
        ours = statistics.median(run(score, out)[0] for _ in range(repeats))
        try:
            theirs = statistics.median(
                run(polars, Path(str(out) + ".pl"))[0] for _ in range(repeats)
            )
        except RuntimeError:
            theirs = float("nan")
        out_rows = sum(1 for _ in out.open("rb")) - 1
        print(f"{small:,}-row CSV ({size_mb:.1f} MB) -> CSV ({out_rows:,} rows written)")
        print(f"b12labs score              median {ours:6.2f} s wall (start-up included)")
        ratio = ours / theirs
        print(f"polars read_csv+write_csv  median {theirs:6.2f} s wall   ratio {ratio:5.2f}")

        big = Path(folder) / "big.csv"
        write_csv(big, large)
        source.unlink()
        elapsed, peak = run([*score[:2], str(big), "-o", str(out), "--quiet", "--no-progress"], out)
        big_mb = big.stat().st_size / 1e6
        print(f"{large:,}-row CSV ({big_mb:.0f} MB) streamed in {elapsed:.1f} s, "
              f"peak resident memory {peak / 1e6:.0f} MB")  # fmt: skip
    print()
    scale = "" if not args.quick else " (quick: smaller files, targets are for the full sizes)"
    checks = [
        ("1M-row CSV scored in <= 3 s wall" + scale, ours <= 3.0),
        ("<= 4 x polars read-then-write", ours / theirs <= 4),
        ("10M-row CSV streamed with peak RSS <= 400 MB" + scale, peak <= 400e6),
    ]
    for label, ok in checks:
        print(f"{'met   ' if ok else 'MISSED'}  {label}")


if __name__ == "__main__":
    main()
