"""Scale out with Spark: score a Spark DataFrame on the executors, batch by batch.

Run:  python examples/scale_out_spark.py   (needs: pip install "b12labs[spark]" and Java 17+)
"""

import os
import sys
import warnings

import pyarrow as pa
from pyspark.sql import SparkSession

import b12labs
import b12labs.spark

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers: this Python, with b12labs
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.driver.bindAddress", "127.0.0.1")
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")

table = pa.table(
    {
        "patient": ["p1", "p2", "p3", "p4", "p5", "p6"],
        "b12": ["150", "<50", "420", "see lab", "250", "300"],  # text as exported
        "b12_unit": ["pmol/L", "pmol/L", "pg/mL", "pmol/L", "pg/mL", "pmol/L"],
        "MMA (umol/L)": [0.52, None, 0.21, 0.30, 0.60, 0.25],  # unit in the header
        "age": [70, 45, 38, 60, 80, 52],
    }
)
sdf = spark.createDataFrame(table)  # or spark.read.parquet(...), spark.table(...)

scored = b12labs.spark.interpret_sdf(sdf)  # lazy; the schema is known now, from sdf's
status = scored.schema["b12labs_status"]
print(status.dataType, status.metadata)  # StringType, its fixed categories in the metadata
assert status.metadata["b12labs_categories"] == [s.value for s in b12labs.Status]

counts = {
    row["b12labs_status"]: row["count"]
    for row in scored.groupBy("b12labs_status").count().collect()
}
print(counts)
assert counts == {"deficiency_likely": 3, "not_indicated": 2, None: 1}

# Row locality: however Spark partitions the rows, each gets what one process gives it.
by_spark = sorted(scored.select("patient", "b12labs_findings", "b12labs_error").collect())
local = b12labs.interpret_table(table).select(["patient", "b12labs_findings", "b12labs_error"])
assert [tuple(row) for row in by_spark] == [tuple(row.values()) for row in local.to_pylist()]
spark.stop()
