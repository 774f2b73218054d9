"""Benchmark of the Spark front against ``interpret_table`` in one process, measured in this run.

The rows are those of bench_frame.py (``make_frame``: B12 as exported text in mixed units,
"<50", "> 2000", junk and no-result cells, MMA, homocysteine, age, sex): 10,000,000 of them
(``--quick``: 1,000,000), written once by pyarrow to a Parquet file in a temporary folder
(100,000-row row groups) that both paths read:

* **Spark**: ``local[2]`` (driver bound to 127.0.0.1, UI off), ``spark.read.parquet`` ->
  ``b12labs.spark.interpret_sdf`` -> the ``noop`` sink (every row of every column is
  produced, then dropped). Spark's own settings are left at their defaults (Arrow batches of
  ``spark.sql.execution.arrow.maxRecordsPerBatch`` = 10,000 rows); ``--arrow-batch`` changes
  that. The session start (JVM launch) and a first job on up to 1,000,000 rows (Python
  workers start and import b12labs, the JVM compiles its Arrow conversions) are timed apart,
  not counted. For scale, Spark alone: the same read and noop write through a ``mapInArrow``
  that returns its input (no scoring);
* **one process**: ``pyarrow.parquet.ParquetFile.iter_batches`` (100,000 rows) as a
  ``RecordBatchReader`` -> ``b12labs.interpret_table`` (scored batch by batch, constant
  memory), every scored batch read and dropped.

The paths are timed in interleaved rounds (so that background load hits them alike); each
figure is the median of the rounds. Beside the time, each path's CPU time (where /proc
exists): this process, plus for Spark its JVM and Python workers. On a shared machine, CPU
seconds move less with other jobs' load than wall time does.

Correctness (asserted, fails the run): one aggregation per path, timed apart, computes the
row count, the count of each status (and of nulls), the count of each error reason code, the
sum of every numeric result column and the total text length of every text and categorical
result column (so every result value is read): Spark's figures must equal those of one
process (sums of floats to 1e-9 relative).

Target: Spark's time <= 3 x one process's (throughput within 3 x), printed as met / MISSED,
never a failure (timings on a shared machine are noisy).

Run:  python benchmarks/bench_spark.py [--quick] [--rows N] [--arrow-batch N]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from b12labs.arrow import ERROR_CODES, categories, interpret_table, output_schema
from bench_scaling import batches, schema

TARGET = 3.0
ROW_GROUP = 100_000


def write_parquet(path: Path, rows: int) -> None:
    """``rows`` rows of make_frame, written batch by batch (constant memory)."""
    with pq.ParquetWriter(path, schema()) as writer:
        for batch in batches(rows, ROW_GROUP):
            writer.write_batch(batch, row_group_size=ROW_GROUP)


class Checksums:
    """The aggregation both paths compute: name -> (Spark column expression, function of a
    scored Arrow batch giving that batch's figure). Built from ``output_schema``."""

    def __init__(self, input_schema: pa.Schema) -> None:
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own spelling)

        out = output_schema(input_schema)
        self.spark: dict[str, Any] = {"rows": F.count(F.lit(1))}
        self.arrow: dict[str, Callable[[pa.RecordBatch], Any]] = {"rows": lambda b: b.num_rows}
        self.floats: set[str] = set()
        for status in categories(out.field("b12labs_status")) or ():
            self._count(
                f"status={status}",
                F.col("b12labs_status") == status,
                lambda b, s=status: pc.equal(_text(b, "b12labs_status"), s),
            )
        self._count(
            "status=null",
            F.col("b12labs_status").isNull(),
            lambda b: pc.is_null(b.column("b12labs_status")),
        )
        for code in ERROR_CODES:
            prefix = f"{code}:"
            self._count(
                f"error={code}",
                F.col("b12labs_error").startswith(prefix),
                lambda b, p=prefix: pc.starts_with(b.column("b12labs_error"), p),
            )
        for field in list(out)[len(input_schema) :]:
            name = field.name
            if pa.types.is_floating(field.type) or pa.types.is_integer(field.type):
                self.spark[f"sum {name}"] = F.sum(F.col(name))
                self.arrow[f"sum {name}"] = lambda b, n=name: pc.sum(b.column(n)).as_py()
                if pa.types.is_floating(field.type):
                    self.floats.add(f"sum {name}")
            else:  # text and categorical columns: their total length forces every value
                self.spark[f"length {name}"] = F.sum(F.length(F.col(name)))
                self.arrow[f"length {name}"] = lambda b, n=name: pc.sum(
                    pc.utf8_length(_text(b, n))
                ).as_py()

    def _count(self, name: str, spark: Any, arrow: Callable[[pa.RecordBatch], Any]) -> None:
        from pyspark.sql import functions as F  # noqa: N812

        self.spark[name] = F.sum(F.when(spark, 1).otherwise(0))
        self.arrow[name] = lambda b: pc.sum(arrow(b).cast(pa.int64())).as_py() or 0

    def of_spark(self, scored: Any) -> dict[str, Any]:
        row = scored.agg(*(expr.alias(f"c{i}") for i, expr in enumerate(self.spark.values())))
        values = row.collect()[0]
        return {name: values[i] or 0 for i, name in enumerate(self.spark)}

    def of_reader(self, reader: pa.RecordBatchReader) -> dict[str, Any]:
        totals: dict[str, Any] = dict.fromkeys(self.arrow, 0)
        for batch in reader:
            for name, figure in self.arrow.items():
                totals[name] += figure(batch) or 0
        return totals

    def differences(self, spark: dict[str, Any], single: dict[str, Any]) -> list[str]:
        return [
            f"{name}: Spark {spark[name]!r}, one process {single[name]!r}"
            for name in self.spark
            if not (
                math.isclose(spark[name], single[name], rel_tol=1e-9)
                if name in self.floats
                else spark[name] == single[name]
            )
        ]


def _text(batch: pa.RecordBatch, name: str) -> pa.Array:
    column = batch.column(name)
    return column.dictionary_decode() if pa.types.is_dictionary(column.type) else column


def start_spark(arrow_batch: int | None) -> Any:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers: this interpreter
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2]")
        .appName("b12labs bench_spark")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
    )
    if arrow_batch:
        builder = builder.config("spark.sql.execution.arrow.maxRecordsPerBatch", str(arrow_batch))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def cpu_seconds() -> float:
    """CPU seconds of this process and all its descendants (the JVM, its Python workers and
    their reaped children), from /proc; this process's alone where /proc is missing."""
    own = os.times()
    total = own.user + own.system + own.children_user + own.children_system
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*/stat") if Path("/proc").is_dir() else ():
        try:
            text = entry.read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after the command name
        pid = int(entry.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
    family = {os.getpid()}
    grown = True
    while grown:
        found = {pid for pid, parent in parents.items() if parent in family} - family
        family |= found
        grown = bool(found)
    return total + sum(times[pid] for pid in family - {os.getpid()})


def noop(data: Any) -> None:
    """Run a Spark DataFrame to the noop sink: every row of every column produced, dropped."""
    data.write.format("noop").mode("overwrite").save()


def _identity(batches: Any) -> Any:
    yield from batches


def main() -> None:
    parser = argparse.ArgumentParser(description="Spark front benchmark")
    parser.add_argument("--quick", action="store_true", help="1,000,000 rows (CI)")
    parser.add_argument("--rows", type=int, default=None, help="default 10,000,000 (quick 1M)")
    parser.add_argument(
        "--arrow-batch",
        type=int,
        default=None,
        help="spark.sql.execution.arrow.maxRecordsPerBatch (default: Spark's, 10,000)",
    )
    args = parser.parse_args()
    rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    rounds = 3
    warm_rows = min(rows, 1_000_000)
    began = time.perf_counter()
    # pyspark warns that it does not fully support pandas 3; mapInArrow uses no pandas
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    import b12labs.spark

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.parquet"
        start = time.perf_counter()
        write_parquet(path, rows)
        t_write = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6

        start = time.perf_counter()
        spark = start_spark(args.arrow_batch)
        t_session = time.perf_counter() - start
        try:
            checks = Checksums(pq.read_schema(path))
            frame = spark.read.parquet(str(path))
            partitions = frame.rdd.getNumPartitions()
            arrow_batch = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
            # first job, not counted: Python workers start and import b12labs, the JVM's JIT
            # compiles the Arrow conversions
            start = time.perf_counter()
            noop(b12labs.spark.interpret_sdf(frame.limit(warm_rows)))
            t_first = time.perf_counter() - start

            def one_process() -> None:  # read, score, every scored batch produced and dropped
                parquet = pq.ParquetFile(path)
                reader = pa.RecordBatchReader.from_batches(
                    parquet.schema_arrow, parquet.iter_batches(batch_size=ROW_GROUP)
                )
                for _ in interpret_table(reader):
                    pass

            calls = {
                "spark": lambda: noop(b12labs.spark.interpret_sdf(spark.read.parquet(str(path)))),
                "single": one_process,
                "identity": lambda: noop(
                    spark.read.parquet(str(path)).mapInArrow(_identity, frame.schema)
                ),
            }
            interpret_table(next(batches(1000, 1000)))  # warm-up of this process
            samples: dict[str, list[float]] = {name: [] for name in calls}
            cpu: dict[str, list[float]] = {name: [] for name in calls}
            for _ in range(rounds):  # interleaved: background load hits all alike
                for name, call in calls.items():
                    start, before = time.perf_counter(), cpu_seconds()
                    call()
                    samples[name].append(time.perf_counter() - start)
                    cpu[name].append(cpu_seconds() - before)

            # correctness: the same checksums from both paths (one run each, timed apart)
            start = time.perf_counter()
            on_spark = checks.of_spark(b12labs.spark.interpret_sdf(spark.read.parquet(str(path))))
            t_check_spark = time.perf_counter() - start
            parquet = pq.ParquetFile(path)
            reader = pa.RecordBatchReader.from_batches(
                parquet.schema_arrow, parquet.iter_batches(batch_size=ROW_GROUP)
            )
            start = time.perf_counter()
            single = checks.of_reader(interpret_table(reader))
            t_check_single = time.perf_counter() - start
            version = spark.version
        finally:
            spark.stop()

    assert on_spark["rows"] == rows, on_spark["rows"]
    wrong = checks.differences(on_spark, single)
    if wrong:
        raise AssertionError("Spark and one process differ:\n" + "\n".join(wrong))
    median = {name: statistics.median(values) for name, values in samples.items()}
    median_cpu = {name: statistics.median(values) for name, values in cpu.items()}
    ratio = median["spark"] / median["single"]

    print(
        f"b12labs {b12labs.__version__}, pyspark {version}, pyarrow {pa.__version__}, "
        f"{os.cpu_count()} CPUs; {rows:,} rows; median of {rounds} interleaved rounds"
    )
    print(f"Parquet written by pyarrow            {t_write:7.1f} s   ({size_mb:.0f} MB)")
    print(f"Spark session start (JVM)             {t_session:7.1f} s")
    print(f"first Spark job ({warm_rows:,} rows)    {t_first:7.1f} s   (workers, imports, JIT)")
    print(f"Spark local[2]: {partitions} partitions, Arrow batches of {arrow_batch} rows")
    labels = {
        "spark": "Spark interpret_sdf -> noop sink",
        "single": "one process interpret_table stream",
        "identity": "Spark mapInArrow identity -> noop",
    }
    for name, label in labels.items():
        runs = ", ".join(f"{t:.2f}" for t in samples[name])
        print(
            f"{label:<37} median {median[name]:7.2f} s  {rows / median[name]:11,.0f} rows/s"
            f"  CPU {median_cpu[name]:6.2f} s  ({runs})"
        )
    print(f"Spark / one process                   ratio {ratio:5.2f}  (time; throughput alike)")
    print(
        "Spark / one process, CPU seconds      ratio "
        f"{median_cpu['spark'] / median_cpu['single']:5.2f}  (JVM and workers included)"
    )
    print(
        f"checksums: Spark {t_check_spark:.1f} s, one process {t_check_single:.1f} s; equal on "
        f"{len(checks.spark)} figures:"
    )
    for name in checks.spark:
        if name.startswith(("rows", "status", "error", "sum b12labs_b12")):
            print(f"  {name:<28} {single[name]}")
    print(f"whole run {time.perf_counter() - began:.0f} s")
    print()
    scale = " (quick: fewer rows, the target is for 10,000,000)" if args.quick else ""
    ok = ratio <= TARGET
    print(f"{'met   ' if ok else 'MISSED'}  Spark local[2] within {TARGET} x one process{scale}")


if __name__ == "__main__":
    main()
