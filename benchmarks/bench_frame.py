"""Benchmark of batch scoring (issue #3), every figure measured in this one run.

Frame: 1,000,000 rows with B12 as exported text (half pg/mL, half pmol/L through a unit
column; about 2% censored strings such as "<50" and "> 2000", 1% junk text, a few
no-result cells), MMA and homocysteine in umol/L, age and sex.

Targets:
* ``interpret_frame``: >= 2,000,000 rows/s, and <= 10 x a bare numpy implementation of the
  same NICE thresholds (``numpy_baseline`` below, run on the same frame);
* >= 100 x faster per row than looping ``interpret()`` (loop measured on 10,000 rows);
* peak memory added while scoring <= 4 x the input frame's memory (measured in a fresh
  subprocess as the rise of peak resident memory).

Run:  python benchmarks/bench_frame.py [--rows N] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd

import b12labs
from b12labs.pandas import interpret_frame

# NICE NG239 thresholds as plain numbers, for the baseline only (the library reads them
# from its profile data): B12 < 180 ng/L low, <= 350 ng/L indeterminate; MMA > 0.40
# (65+: 0.46) umol/L elevated, > 0.75 markedly; 1 pg/mL = 1/1.35537 pmol/L.
PG_ML_TO_PMOL_L = 1 / 1.35537
B12_LOW, B12_INDET = 180 * PG_ML_TO_PMOL_L, 350 * PG_ML_TO_PMOL_L


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pmol = rng.lognormal(np.log(300), 0.5, n)
    in_pg = rng.random(n) < 0.5
    shown = np.where(in_pg, pmol / PG_ML_TO_PMOL_L, pmol).round(1)
    b12 = shown.astype(str).astype(object)
    kind = rng.random(n)
    b12[kind < 0.01] = "<50"
    b12[(kind >= 0.01) & (kind < 0.02)] = "> 2000"
    junk = (kind >= 0.02) & (kind < 0.03)
    b12[junk] = rng.choice(["abc", "12..5", "see lab", "x"], junk.sum())
    b12[(kind >= 0.03) & (kind < 0.035)] = rng.choice(
        ["", "N/A", "pending", "hemolysed"], ((kind >= 0.03) & (kind < 0.035)).sum()
    )
    mma = rng.lognormal(np.log(0.2), 0.5, n).round(3)
    mma[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "b12": pd.array(b12, dtype="str"),
            "b12_unit": pd.array(np.where(in_pg, "pg/mL", "pmol/L"), dtype="str"),
            "MMA (umol/L)": mma,
            "Homocysteine (umol/L)": rng.lognormal(np.log(10), 0.3, n).round(1),
            "age": rng.integers(18, 90, n),
            "sex": pd.array(np.where(rng.random(n) < 0.5, "F", "M"), dtype="str"),
        }
    )


def numpy_baseline(df: pd.DataFrame) -> np.ndarray:
    """A bare implementation of the same NICE thresholds: text to numbers, unit factor,
    categories, status. No censoring, no errors, no findings."""
    b12 = pd.to_numeric(df["b12"], errors="coerce").to_numpy(dtype=float)
    b12 = b12 * np.where(df["b12_unit"].to_numpy() == "pg/mL", PG_ML_TO_PMOL_L, 1.0)
    mma = df["MMA (umol/L)"].to_numpy()
    age = df["age"].to_numpy()
    low = b12 < B12_LOW
    indet = (b12 >= B12_LOW) & (b12 <= B12_INDET)
    elevated = mma > np.where(age >= 65, 0.46, 0.40)
    marked = mma > 0.75
    return np.select(
        [low, indet & elevated, indet & np.isnan(mma), indet, marked, elevated],
        [2, 2, 1, 0, 2, 1],
        0,
    )


def timed(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def loop_kwargs(df: pd.DataFrame) -> list[dict[str, object]]:
    rows = []
    for b12, unit, mma, hcy, age, sex in df.itertuples(index=False):
        text = b12 if any(c.isalpha() for c in b12.strip(" <>.")) else f"{b12} {unit}"
        rows.append(
            {
                "b12": text,
                "mma": None if np.isnan(mma) else (mma, "umol/L"),
                "hcy": (hcy, "umol/L"),
                "age": float(age),
                "sex": sex,
            }
        )
    return rows


def loop_interpret(rows: list[dict[str, object]]) -> None:
    for kwargs in rows:
        with contextlib.suppress(b12labs.B12LabsError):
            b12labs.interpret(**kwargs)


def installed_environment(cache: str) -> dict[str, str]:
    """The environment of timed child processes: bytecode cached, as after ``pip install``.

    pip compiles a package's bytecode when it installs it; an editable install or a
    ``PYTHONDONTWRITEBYTECODE`` environment (this machine's) would make every run compile
    b12labs' sources again while the peers' bytecode (pandas, polars, DuckDB) is cached.
    Every command reads and writes its bytecode under ``cache`` (one temporary folder), after
    an untimed first run.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def proc_status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes (``VmRSS``: now,
    ``VmHWM``: peak); the benchmarks' child processes import it."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


MEMORY_CHILD = """
import sys
sys.path.insert(0, {bench_dir!r})
from bench_frame import make_frame, proc_status as status
from b12labs.pandas import interpret_frame

df = make_frame({rows})
interpret_frame(df.head(1000))  # warm caches and imports before measuring
frame_bytes = int(df.memory_usage(deep=True).sum())
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak resident set size (VmHWM) to the current one
before = status("VmRSS")
out = interpret_frame(df)
print(frame_bytes, before, status("VmHWM"))
"""


def memory_figures(rows: int) -> tuple[int, int]:
    """(input frame bytes, rise of peak resident memory while scoring) in a fresh process."""
    import pathlib

    code = MEMORY_CHILD.format(bench_dir=str(pathlib.Path(__file__).parent), rows=rows)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    frame_bytes, before, peak = map(int, out.stdout.split())
    return frame_bytes, peak - before


def main() -> None:
    parser = argparse.ArgumentParser(description="batch scoring benchmark")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (CI)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    df = make_frame(args.rows)
    interpret_frame(df.head(1000))  # warm-up: imports, unit cache, profile, rules

    t_frame = timed(lambda: interpret_frame(df), repeats)
    t_numpy = timed(lambda: numpy_baseline(df), repeats)
    rows = loop_kwargs(df.head(10_000))
    t_loop = timed(lambda: loop_interpret(rows), 1 if args.quick else 3) / len(rows)
    frame_bytes, added = memory_figures(args.rows)

    per_row = t_frame / args.rows
    print(f"b12labs {b12labs.__version__}, pandas {pd.__version__}, {args.rows:,} rows")
    print(
        f"interpret_frame           median {t_frame:8.3f} s   {args.rows / t_frame:12,.0f} rows/s"
    )
    print(f"numpy baseline            median {t_numpy:8.3f} s   ratio {t_frame / t_numpy:6.2f}")
    loop_ratio = t_loop / per_row
    print(f"interpret() loop (10,000) median {t_loop * 1e6:8.2f} µs/row   ratio {loop_ratio:8.1f}")
    print(f"input frame memory        {frame_bytes / 1e6:8.1f} MB")
    print(f"peak memory added         {added / 1e6:8.1f} MB   ratio {added / frame_bytes:6.2f}")
    print()
    checks = [
        (">= 2,000,000 rows/s", args.rows / t_frame >= 2_000_000),
        ("<= 10 x numpy baseline", t_frame / t_numpy <= 10),
        (">= 100 x faster per row than the interpret() loop", t_loop / per_row >= 100),
        ("peak memory added <= 4 x input frame", added / frame_bytes <= 4),
    ]
    for label, ok in checks:
        print(f"{'met   ' if ok else 'MISSED'}  {label}")


if __name__ == "__main__":
    main()
