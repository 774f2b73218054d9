"""Scaling of ``interpret_table`` with the number of rows, every figure measured in this run.

The rows are those of bench_frame.py (``make_frame``: B12 as exported text in mixed units,
"<50", "> 2000", junk and no-result cells, MMA, homocysteine, age, sex), generated in batches
of ``--batch-rows`` rows (100,000; one seed per batch): the in-memory table of a size is those
batches concatenated, and the stream of that size is the very same batches.

For each size (10,000, 100,000, 1,000,000, 10,000,000 rows; ``--quick``: up to 1,000,000):

* **time per row**: ``interpret_table`` on an in-memory pyarrow Table, median of repeated
  calls (more repeats for small sizes). Flat means no superlinear step: the script prints the
  ratio of the largest to the smallest time per row, that of the largest size to the smallest
  size, and the largest rise from one size to the next;
* **streaming peak memory**: a fresh process per size builds the same rows batch by batch
  as a ``RecordBatchReader`` (each batch generated when the reader asks for it, never all
  rows at once), scores it through ``interpret_table(reader)`` (a reader out, scored batch
  by batch), reads every output batch, and reports its peak resident memory (``VmHWM``;
  ``ru_maxrss`` would also count the forking parent's memory) and its resident memory
  before streaming (imports and warm-up). Bounded means roughly the
  same peak at every size.

Targets, printed as met / MISSED (never a failure: timings on a shared machine are noisy):
time per row never rises more than 1.5 x from one size to the next (the smallest size is the
slowest per row: a call's fixed cost is spread over few rows); streaming peak memory at the
largest size <= 1.5 x that at the smallest size that fills one whole batch (a smaller size
streams one smaller batch, so its peak is lower).

Run:  python benchmarks/bench_scaling.py [--quick] [--plot docs/img/scaling.png]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
import b12labs
from b12labs.arrow import interpret_table
from bench_frame import make_frame


def batches(rows: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """``rows`` rows of make_frame as Arrow record batches, each generated on demand."""
    for seed, start in enumerate(range(0, rows, batch_rows)):
        frame = make_frame(min(batch_rows, rows - start), seed=seed)
        yield from pa.Table.from_pandas(frame, preserve_index=False).to_batches()


def schema() -> pa.Schema:
    return pa.Table.from_pandas(make_frame(10), preserve_index=False).schema


def time_per_row(rows: int, batch_rows: int, quick: bool) -> dict[str, float]:
    """Median seconds per row of ``interpret_table`` on an in-memory table of ``rows`` rows
    (``seconds``), and of those the median kernel seconds per row (``kernel``: mostly page
    faults on freshly allocated output buffers)."""
    table = pa.Table.from_batches(batches(rows, batch_rows), schema=schema())
    interpret_table(table.slice(0, 1000))  # warm-up: imports, unit cache, profile, rules
    # more calls for small tables (their calls are short and noisier)
    repeats = max(3 if quick else 5, min(21 if quick else 41, 2_000_000 // rows))
    wall, kernel = [], []
    for _ in range(repeats):
        start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_stime
        interpret_table(table)
        wall.append(time.perf_counter() - start)
        kernel.append(resource.getrusage(resource.RUSAGE_SELF).ru_stime - before)
    return {"seconds": statistics.median(wall) / rows, "kernel": statistics.median(kernel) / rows}


STREAM_CHILD = """
import json, sys, time
sys.path.insert(0, {bench_dir!r})
import pyarrow as pa
from bench_frame import proc_status as status
from bench_scaling import batches, schema
from b12labs.arrow import interpret_table

interpret_table(pa.Table.from_batches(batches(1000, 1000)))  # warm-up before measuring
before = status("VmRSS")
start = time.perf_counter()
reader = interpret_table(pa.RecordBatchReader.from_batches(schema(), batches({rows}, {batch})))
rows = 0
for batch in reader:  # read and drop every scored batch
    rows += batch.num_rows
elapsed = time.perf_counter() - start
assert rows == {rows}, rows
# VmHWM, not ru_maxrss: after fork and exec, ru_maxrss also counts the forking parent's
# resident memory (its big in-memory tables), VmHWM only this process's own peak
peak = status("VmHWM")
print(json.dumps({{"before": before, "peak": peak, "seconds": elapsed}}))
"""


def streaming(rows: int, batch_rows: int) -> dict[str, float]:
    """Peak and starting resident memory (bytes) and wall seconds (generation included) of
    streaming ``rows`` rows through ``interpret_table`` in a fresh process."""
    code = STREAM_CHILD.format(bench_dir=str(Path(__file__).parent), rows=rows, batch=batch_rows)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def plot(
    path: Path, sizes: list[int], per_row: list[float], streams: list[dict[str, float]]
) -> None:
    """Time per row and streaming peak memory against rows (log x), written to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.2), layout="constrained")
    FigureCanvasAgg(figure)  # Agg, without pyplot's global state
    left, right = figure.subplots(1, 2)
    left.plot(sizes, [t * 1e9 for t in per_row], marker="o")
    left.set(xscale="log", xlabel="rows", ylabel="ns per row", ylim=(0, None))
    left.set_title("interpret_table, in-memory Table", fontsize=10)
    right.plot(
        sizes, [s["peak"] / 1e6 for s in streams], marker="o", color="tab:orange", label="peak"
    )
    right.plot(
        sizes,
        [s["before"] / 1e6 for s in streams],
        linestyle="--",
        color="grey",
        label="before streaming (imports)",
    )
    right.legend(fontsize=8, loc="lower right")
    right.set(xscale="log", xlabel="rows", ylabel="peak RSS (MB)", ylim=(0, None))
    right.set_title("streaming RecordBatchReader, peak memory", fontsize=10)
    for axes in (left, right):
        axes.grid(True, which="major", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description="interpret_table scaling benchmark")
    parser.add_argument("--quick", action="store_true", help="up to 1,000,000 rows (CI)")
    parser.add_argument("--batch-rows", type=int, default=100_000, help="rows per batch")
    parser.add_argument("--plot", type=Path, help="write the figure (PNG) to this path")
    args = parser.parse_args()
    sizes = [10_000, 100_000, 1_000_000] + ([] if args.quick else [10_000_000])

    timings = [time_per_row(rows, args.batch_rows, args.quick) for rows in sizes]
    per_row = [t["seconds"] for t in timings]
    streams = [streaming(rows, args.batch_rows) for rows in sizes]  # one process at a time

    print(f"b12labs {b12labs.__version__}, pyarrow {pa.__version__}, {os.cpu_count()} CPUs, "
          f"batches of {args.batch_rows:,} rows")  # fmt: skip
    print(f"{'rows':>12}  {'ns/row':>7}  {'kernel':>6}  {'rows/s':>10}  {'stream peak RSS':>15}  "
          f"{'RSS before':>10}  {'peak - before':>13}  {'stream wall':>11}")  # fmt: skip
    for rows, timing, stream in zip(sizes, timings, streams, strict=True):
        added = stream["peak"] - stream["before"]
        print(
            f"{rows:>12,}  {timing['seconds'] * 1e9:7.1f}  {timing['kernel'] * 1e9:6.1f}  "
            f"{1 / timing['seconds']:10,.0f}  {stream['peak'] / 1e6:12.0f} MB  "
            f"{stream['before'] / 1e6:7.0f} MB  {added / 1e6:10.0f} MB  {stream['seconds']:9.1f} s"
        )
    spread = max(per_row) / min(per_row)
    end_ratio = per_row[-1] / per_row[0]
    # a superlinear step shows as time per row rising from one size to the next
    step, step_at = max((per_row[i + 1] / per_row[i], i) for i in range(len(sizes) - 1))
    # the first size that fills a whole batch: smaller sizes stream a smaller batch
    full = next((i for i, rows in enumerate(sizes) if rows >= args.batch_rows), 0)
    peak_ratio = streams[-1]["peak"] / streams[full]["peak"]
    print(f"time per row, largest / smallest over the sizes: ratio {spread:.2f}")
    print(f"time per row, {sizes[-1]:,} / {sizes[0]:,} rows: ratio {end_ratio:.2f}")
    print(f"time per row, largest rise between consecutive sizes: ratio {step:.2f} "
          f"({sizes[step_at]:,} -> {sizes[step_at + 1]:,} rows)")  # fmt: skip
    print(f"streaming peak RSS, {sizes[-1]:,} / {sizes[full]:,} rows: ratio {peak_ratio:.2f}")
    print("(ns/row: scoring an in-memory table, of which kernel: system time, mostly page faults;")
    print(" stream wall: streaming in a fresh process, generating the rows included)")
    if args.plot:
        plot(args.plot, sizes, per_row, streams)
        print(f"figure written to {args.plot}")
    print()
    checks = [
        ("time per row flat: no rise above 1.5 x between consecutive sizes", step <= 1.5),
        (f"streaming peak RSS bounded: {sizes[-1]:,} rows <= 1.5 x {sizes[full]:,} rows",
         peak_ratio <= 1.5),
    ]  # fmt: skip
    for label, ok in checks:
        print(f"{'met   ' if ok else 'MISSED'}  {label}")


if __name__ == "__main__":
    main()
