"""Draw the documentation's pictures from the bundled synthetic export (no patient data).

Run:  python docs/gen_images.py   (writes docs/img/cohort.png, docs/img/panel.png and
docs/img/series.png)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import b12labs
import b12labs.plot
from b12labs.pandas import interpret_frame

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    out = ROOT / "docs" / "img"
    out.mkdir(exist_ok=True)
    scored = interpret_frame(pd.read_csv(ROOT / "examples" / "synthetic_cohort.csv"))
    b12labs.plot.cohort(scored, profile="nice-ng239").savefig(out / "cohort.png", dpi=110)
    result = b12labs.interpret(
        b12="180 pg/mL", holotc="32 pmol/L", mma="0.52 umol/L", hcy="16.1 umol/L", age=71
    )
    b12labs.plot.panel(result).savefig(out / "panel.png", dpi=110)
    series(out)


def series(out: Path) -> None:
    """docs/img/series.png: results over time (docs/series.md), from the mean results of
    Kuzminski et al. (Blood 1998) after four months of oral B12, with a total B12 and an
    active B12 at each date for illustration."""
    result = b12labs.interpret_series(
        [
            {
                "collected": "2024-01-10",
                "b12": "110 pmol/L",
                "holotc": "22 pmol/L",
                "mma": "3850 nmol/L",
                "hcy": "37.2 umol/L",
                "age": 70,
            },
            {
                "collected": "2024-05-10",
                "b12": "420 pmol/L",
                "holotc": "95 pmol/L",
                "mma": "169 nmol/L",
                "hcy": "10.6 umol/L",
                "age": 70,
            },
        ],
        treatment_started="2024-01-10",
        treatment_route="oral",
    )
    b12labs.plot.series(result).savefig(out / "series.png", dpi=100)


if __name__ == "__main__":
    main()
