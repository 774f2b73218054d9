"""Write examples/synthetic_cohort.csv: a small, fully synthetic export (no patient data).

The file is bundled; this script documents how it was made (fixed seed) and rewrites it.
Run:  python examples/make_synthetic_cohort.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(12)
n = 400
pmol = rng.lognormal(np.log(280), 0.55, n)
in_pg = rng.random(n) < 0.5
b12 = np.where(in_pg, pmol * 1.35537, pmol).round(0).astype(int).astype(str).astype(object)
b12[rng.random(n) < 0.02] = "<100"
b12[rng.random(n) < 0.02] = "N/A"
mma = rng.lognormal(np.log(0.22), 0.55, n).round(2)
frame = pd.DataFrame(
    {
        "patient": [f"s{i:03d}" for i in range(n)],
        "Vitamin B12": b12,
        "B12 unit": np.where(in_pg, "pg/mL", "pmol/L"),
        "MMA (umol/L)": mma,
        "Homocysteine (umol/L)": rng.lognormal(np.log(11), 0.35, n).round(1),
        "Age": rng.integers(18, 90, n),
        "Sex": np.where(rng.random(n) < 0.5, "F", "M"),
    }
)
frame.to_csv(Path(__file__).with_name("synthetic_cohort.csv"), index=False)
