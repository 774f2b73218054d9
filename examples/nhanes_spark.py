"""Score the real NHANES 2003-2004 B12 files with Spark, and check Spark against pandas.

Run:  python examples/nhanes_spark.py [FOLDER]   (needs: pip install "b12labs[spark]", Java)

FOLDER holds the NHANES 2003-2004 public-use files (``L06NB_C``, ``L06MH_C``, ``L40_C``,
``DEMO_C``; ``.XPT``), read where they are; it defaults to ``$B12LABS_NHANES_DIR``, else
``../shared/data/nhanes`` beside the repository. The files are read and joined by the
single-process example, ``examples/nhanes.py`` (one row per person with a B12, folate, MMA
or homocysteine result; units given explicitly, never guessed).

The joined table goes to a local Spark session (``local[*]``, bound to 127.0.0.1) and is
scored there with every profile by ``b12labs.spark.interpret_sdf``: each Spark partition
is scored as Arrow batches on the executors, with the same core as ``interpret_frame``.
The script prints, per profile, how many people Spark gives each status (or a row error),
next to the counts of the single-process ``b12labs.interpret_frame`` on the same table, and
exits with status 1 if any count differs (2 if files are missing). Counts of people, not
prevalence estimates, and not diagnoses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as sf

import b12labs
from b12labs.spark import interpret_sdf

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/nhanes.py: the loader
import nhanes

#: B12, folate, MMA, homocysteine and creatinine, as examples/nhanes.py reads them.
CYCLE = next(cycle for cycle in nhanes.CYCLES if cycle.name == "2003-2004")
#: Spark partitions of the table: several, so that the check means something.
PARTITIONS = 8


def spark_session() -> SparkSession:
    """A quiet local Spark session on this machine only (no UI, loopback address)."""
    # the Python workers must be this interpreter (the one with b12labs installed)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[*]")
        .appName("b12labs-nhanes")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", str(PARTITIONS))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def main(argv: list[str] | None = None) -> int:
    """Score with Spark and with pandas; return 0 when every count agrees."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "folder",
        nargs="?",
        type=Path,
        help=f"folder of the NHANES .XPT files (default: {nhanes.default_folder()})",
    )
    args = parser.parse_args(argv)
    folder = args.folder or nhanes.default_folder()
    missing = nhanes.missing_files(folder, (CYCLE,))
    if missing:
        print(nhanes.missing_message(folder, missing), file=sys.stderr)
        return 2

    start = time.perf_counter()
    frame = nhanes.load_cycle(folder, CYCLE)
    columns = {**CYCLE.columns, **nhanes.CONTEXT}
    # pyspark warns that it does not yet fully support pandas 3; this script hands Spark an
    # Arrow table and interpret_sdf works on Arrow batches, so no pandas object crosses over
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    spark = spark_session()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sdf = spark.createDataFrame(table).repartition(PARTITIONS).cache()
    print(
        f"NHANES {CYCLE.name}: {sdf.count():,} people in {sdf.rdd.getNumPartitions()} Spark "
        f"partitions (Spark {spark.version}, b12labs {b12labs.__version__})"
    )
    outcome = sf.when(sf.col("b12labs_error") != "", "row_error").otherwise(
        sf.col("b12labs_status")
    )
    failures = []
    for profile in b12labs.list_profiles():
        scored = interpret_sdf(sdf, profile=profile, columns=columns, units=CYCLE.units)
        by_spark = {
            row["outcome"]: row["count"]
            for row in scored.groupBy(outcome.alias("outcome")).count().collect()
        }
        by_pandas = nhanes.outcome(nhanes.score_cycle(frame, CYCLE, profile)).value_counts()
        print(f"\n== profile {profile}\n{'outcome':<20}{'spark':>8}{'pandas':>8}")
        for name in nhanes.OUTCOMES:
            spark_count, pandas_count = by_spark.get(name, 0), int(by_pandas.get(name, 0))
            flag = "" if spark_count == pandas_count else "  <- differs"
            print(f"{name:<20}{spark_count:>8,}{pandas_count:>8,}{flag}")
            if flag:
                failures.append(f"{profile} {name}")
        if set(by_spark) - set(nhanes.OUTCOMES):
            failures.append(f"{profile}: unexpected outcomes {set(by_spark)}")
    spark.stop()
    took = time.perf_counter() - start
    if failures:
        print(f"\nSpark and pandas differ: {'; '.join(failures)}", file=sys.stderr)
        return 1
    print(f"\nSpark counts equal interpret_frame counts for every profile ({took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
