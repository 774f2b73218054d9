"""Scale out with polars: score a DataFrame, and a LazyFrame with the streaming engine.

Run:  python examples/scale_out_polars.py   (needs: pip install "b12labs[polars]")
"""

import polars as pl

import b12labs
import b12labs.polars  # registers the .b12labs namespace on polars frames

df = pl.DataFrame(
    {
        "patient": ["p1", "p2", "p3", "p4", "p5"],
        "b12": ["150", "<50", "420", "see lab", "250"],  # text as exported; unit per row
        "b12_unit": ["pmol/L", "pmol/L", "pg/mL", "pmol/L", "pg/mL"],
        "MMA (umol/L)": [0.52, None, 0.21, 0.30, 0.60],  # unit in the header
        "age": [70, 45, 38, 60, 80],
    }
)

scored = df.b12labs.interpret()  # a DataFrame: the input columns, then b12labs_*
print(scored.select("patient", "b12labs_status", "b12labs_findings"))
assert scored["b12labs_status"].dtype == pl.Enum([s.value for s in b12labs.Status])
assert scored["b12labs_status"].to_list() == [
    "deficiency_likely",
    "deficiency_likely",
    "not_indicated",
    None,  # "see lab" is not a result: a row error, the other rows go on
    "deficiency_likely",
]

# A LazyFrame stays lazy: the output schema is known before anything runs, and polars'
# streaming engine scores the rows batch by batch (a row's result depends only on its row).
lazy = df.lazy().filter(pl.col("age") >= 60).b12labs.interpret()
assert lazy.collect_schema()["b12labs_status"] == scored["b12labs_status"].dtype
older = lazy.filter(pl.col("b12labs_status") == "deficiency_likely").collect(engine="streaming")
print(older.select("patient", "age", "b12labs_status"))
assert older["patient"].to_list() == ["p1", "p5"]
