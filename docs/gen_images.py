"""Draw the documentation's pictures from the bundled synthetic export (no patient data).

Run:  python docs/gen_images.py   (writes docs/img/cohort.png and docs/img/panel.png)
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


if __name__ == "__main__":
    main()
