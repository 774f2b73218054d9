"""Scale out with pyarrow: score an Arrow table, and the same rows as a stream of batches.

Run:  python examples/scale_out_pyarrow.py   (needs: pip install "b12labs[arrow]")
"""

import pyarrow as pa

import b12labs

table = pa.table(
    {
        "patient": ["p1", "p2", "p3", "p4", "p5"],
        "b12": ["150", "<50", "420", "see lab", "250"],  # text as exported; unit per row
        "b12_unit": ["pmol/L", "pmol/L", "pg/mL", "pmol/L", "pg/mL"],
        "MMA (umol/L)": [0.52, None, 0.21, 0.30, 0.60],  # unit in the header
        "age": [70, 45, 38, 60, 80],
    }
)

scored = b12labs.interpret_table(table)  # a pyarrow Table: the input columns, then b12labs_*
assert scored.schema == b12labs.output_schema(table.schema)  # known from the schema alone
rows = scored.select(["patient", "b12labs_status", "b12labs_error"]).to_pylist()
for row in rows:
    print(row)
assert [row["b12labs_status"] for row in rows] == [
    "deficiency_likely",
    "deficiency_likely",
    "not_indicated",
    None,  # "see lab" is not a result: a row error, the other rows go on
    "deficiency_likely",
]
assert rows[3]["b12labs_error"].startswith("invalid_value: b12:")

# A RecordBatchReader in gives a RecordBatchReader out, scored batch by batch (constant
# memory). Row locality: however the rows are cut into batches, each row's result is the same.
reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=2))
streamed = b12labs.interpret_table(reader).read_all()
assert streamed.equals(scored)
