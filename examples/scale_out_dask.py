"""Scale out with Dask: score a partitioned DataFrame lazily, one pandas partition at a time.

Run:  python examples/scale_out_dask.py   (needs: pip install "b12labs[dask]")
"""

import dask
import dask.dataframe as dd
import pandas as pd

import b12labs
import b12labs.dask

df = pd.DataFrame(
    {
        "patient": ["p1", "p2", "p3", "p4", "p5", "p6"],
        "b12": ["150", "<50", "420", "see lab", "250", "300"],  # text as exported
        "b12_unit": ["pmol/L", "pmol/L", "pg/mL", "pmol/L", "pg/mL", "pmol/L"],
        "MMA (umol/L)": [0.52, None, 0.21, 0.30, 0.60, 0.25],
        "age": [70, 45, 38, 60, 80, 52],
    }
)
ddf = dd.from_pandas(df, npartitions=3)

scored = b12labs.dask.interpret_ddf(ddf)  # lazy: nothing is computed yet
# the dtypes are fixed before any partition runs: all four statuses, whatever a partition holds
print(list(scored.dtypes["b12labs_status"].categories))
assert list(scored.dtypes["b12labs_status"].categories) == [s.value for s in b12labs.Status]

counts = scored["b12labs_status"].value_counts().compute()
print(counts)
with dask.config.set(scheduler="synchronous"):  # any scheduler gives the same rows
    result = scored.compute()

# Row locality: each row gets what interpret_frame gives it on the whole frame at once.
expected = b12labs.interpret_frame(df)
for column in ("b12labs_status", "b12labs_findings", "b12labs_error"):
    assert result[column].astype("string").equals(expected[column].astype("string")), column
assert counts["deficiency_likely"] == 3
