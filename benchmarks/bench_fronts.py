"""Benchmark of the batch fronts against ``interpret_frame``, every figure measured in this run.

The rows are those of bench_frame.py (``make_frame``): 1,000,000 messy rows, B12 as exported
text in mixed units through a unit column ("<50", "> 2000", junk text, no-result cells), MMA
and homocysteine with a header unit, age and sex. Each front gets the same rows in its own
format, converted once before timing:

* ``interpret_frame`` (pandas DataFrame in, pandas out): the reference;
* ``interpret_table`` (pyarrow Table in, pyarrow Table out);
* the polars front: ``df.b12labs.interpret()`` on a polars DataFrame, and
  ``lf.b12labs.interpret().collect()`` on a LazyFrame (also with ``engine="streaming"``).

The fronts are run in interleaved rounds (one call of each per round) so that background load
on the shared machine hits every front alike; each figure is the median over the rounds. The
script prints wall time (the target) and the process's CPU time (all threads): a front that
scores batches on several cores shows more CPU than wall time, and gains only while a core
is free.

Target: every front within 1.2 x the time of ``interpret_frame``. Printed as met / MISSED, never
a failure (timings on a shared machine are noisy). Before timing, the script asserts that every
front's ``b12labs_status``, ``b12labs_findings`` and ``b12labs_error`` equal those of
``interpret_frame`` on every row: that is a correctness check and does fail the run.

Run:  python benchmarks/bench_fronts.py [--rows N] [--quick]   (--quick: 200,000 rows)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
import b12labs
from b12labs.arrow import interpret_table
from b12labs.pandas import interpret_frame
from bench_frame import make_frame

#: The result columns compared between fronts (a correctness check, not a timing).
COMPARED = ("b12labs_status", "b12labs_findings", "b12labs_error")
TARGET = 1.2


def as_text(column: Any) -> pa.Array:
    """A result column (pandas Series, Arrow or polars column) as one Arrow string array:
    dictionary, categorical and view types are decoded, missing values are nulls."""
    if isinstance(column, pd.Series):
        column = pa.Array.from_pandas(column)
    elif hasattr(column, "to_arrow"):  # a polars Series
        column = column.to_arrow()
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column.cast(pa.string())


def check_equal(name: str, reference: pd.DataFrame, result: Any) -> None:
    """Assert that ``result``'s compared columns equal ``interpret_frame``'s, row by row."""
    assert len(result) == len(reference), f"{name}: {len(result)} rows, not {len(reference)}"
    for column in COMPARED:
        expected, got = as_text(reference[column]), as_text(result[column])
        if not got.equals(expected):
            differ = [i for i in range(len(expected)) if got[i].as_py() != expected[i].as_py()][:3]
            detail = [(i, expected[i].as_py(), got[i].as_py()) for i in differ]
            raise AssertionError(f"{name}: {column} differs from interpret_frame at {detail}")


def polars_fronts(df: pd.DataFrame) -> dict[str, Callable[[], Any]]:
    """The polars front's calls on ``df``'s rows, or none when polars or b12labs.polars is
    not installed (reported, not an error)."""
    try:
        import polars as pl

        import b12labs.polars  # noqa: F401  (registers the .b12labs namespace)
    except ModuleNotFoundError as error:
        print(f"polars front skipped: {error}")
        return {}
    frame = pl.from_pandas(df)
    lazy = frame.lazy()
    return {
        "polars DataFrame": lambda: frame.b12labs.interpret(),
        "polars LazyFrame.collect": lambda: lazy.b12labs.interpret().collect(),
        "polars LazyFrame streaming": lambda: lazy.b12labs.interpret().collect(engine="streaming"),
    }


def interleaved_medians(
    calls: dict[str, Callable[[], Any]], rounds: int
) -> dict[str, tuple[float, float]]:
    """(median wall seconds, median CPU seconds of the process, all threads) of each call
    over ``rounds`` rounds of one call of each."""
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in calls}


def main() -> None:
    parser = argparse.ArgumentParser(description="batch fronts benchmark")
    parser.add_argument("--rows", type=int, default=None, help="default 1,000,000 (quick 200,000)")
    parser.add_argument("--quick", action="store_true", help="fewer rows and repeats (CI)")
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else 1_000_000)
    rounds = 5 if args.quick else 9

    df = make_frame(rows)
    table = pa.Table.from_pandas(df, preserve_index=False)
    calls: dict[str, Callable[[], Any]] = {
        "interpret_frame (pandas)": lambda: interpret_frame(df),
        "interpret_table (pyarrow)": lambda: interpret_table(table),
        **polars_fronts(df),
    }

    # correctness first (and warm-up: imports, unit cache, profile, rules)
    reference = interpret_frame(df)
    for name, call in list(calls.items())[1:]:
        check_equal(name, reference, call())
    del reference
    print(
        f"results equal interpret_frame's ({', '.join(COMPARED)}) for: {', '.join(list(calls)[1:])}"
    )

    medians = interleaved_medians(calls, rounds)
    base, base_cpu = medians["interpret_frame (pandas)"]
    print(f"b12labs {b12labs.__version__}, {rows:,} rows, {os.cpu_count()} CPUs, median of "
          f"{rounds} interleaved rounds (ratios: to interpret_frame)")  # fmt: skip
    for name, (seconds, cpu) in medians.items():
        print(
            f"{name:<28} median {seconds:6.3f} s {rows / seconds:11,.0f} rows/s  ratio "
            f"{seconds / base:4.2f}   CPU {cpu:6.3f} s  ratio {cpu / base_cpu:4.2f}"
        )
    print("(CPU: all threads of the process; above the wall time, the front used both cores)")
    print()
    scale = " (quick: fewer rows, the target is for 1,000,000)" if args.quick else ""
    for name, (seconds, _) in list(medians.items())[1:]:
        ok = seconds / base <= TARGET
        print(f"{'met   ' if ok else 'MISSED'}  {name} <= {TARGET} x interpret_frame{scale}")


if __name__ == "__main__":
    main()
