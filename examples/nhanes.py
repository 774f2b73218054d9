"""Score the real NHANES vitamin B12 laboratory files with every b12labs profile.

Run:  python examples/nhanes.py [FOLDER] [--plots DIR]

FOLDER holds the public-use NHANES files (SAS transport, ``.XPT``) of two survey cycles:

* 2003-2004: ``L06NB_C`` (serum B12 pg/mL, folate ng/mL), ``L06MH_C`` (MMA umol/L,
  homocysteine umol/L), ``L40_C`` (serum creatinine mg/dL) and ``DEMO_C`` (age, sex,
  pregnancy, exam weight);
* 2011-2012: ``VITB12_G`` (serum B12 pg/mL), ``MMA_G`` (MMA in **nmol/L**) and ``DEMO_G``.

It defaults to ``$B12LABS_NHANES_DIR``, else ``../shared/data/nhanes`` beside the repository.
The files are read where they are, never copied. Download them from the CDC NHANES website
(https://wwwn.cdc.gov/nchs/nhanes/) by name.

For each cycle the laboratory files are joined on ``SEQN`` (one row per person with a result
in any of them), then creatinine and demographics are added. Each cycle is scored with every
profile by ``b12labs.interpret_frame``: units are given explicitly (never guessed), eGFR is
computed by the library from creatinine, age and sex (CKD-EPI 2021). The script prints, for
adults aged 20 and over, the share in each status by age group, unweighted and weighted by
the exam weight ``WTMEC2YR``. The weighted shares are point estimates only (no survey design
variance): illustrations of the profiles, not prevalence estimates, and not diagnoses.

With ``--plots DIR`` it also saves ``cohort-<cycle>-<profile>.png`` for every cycle and
profile, and ``panel-example.png`` for one real person (needs matplotlib).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import b12labs

CDC_URL = "https://wwwn.cdc.gov/nchs/nhanes/"
ENV_VAR = "B12LABS_NHANES_DIR"
#: Outcome columns of the tables: the four statuses, then rows the library rejected.
OUTCOMES = (*(status.value for status in b12labs.Status), "row_error")
#: Adults only (NHANES B12 analyses use 20 and over); labels of the age groups.
ADULT_AGE = 20
AGE_BINS = (ADULT_AGE, 40, 60, np.inf)
AGE_LABELS = ("20 to 39", "40 to 59", "60 and over")
ALL_ADULTS = "all adults"


@dataclass(frozen=True)
class Cycle:
    """One NHANES survey cycle: its files and how their columns map onto b12labs keys."""

    name: str
    labs: tuple[str, ...]  # laboratory files with B12-related markers (outer join)
    demo: str  # demographics file: age, sex, pregnancy, exam weight
    extra: tuple[str, ...] = ()  # further laboratory files (left join), e.g. creatinine
    columns: dict[str, str] = field(default_factory=dict)  # b12labs key -> NHANES variable
    units: dict[str, str] = field(default_factory=dict)  # b12labs key -> unit of that variable

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the cycle needs (names without the ``.XPT`` extension)."""
        return (*self.labs, *self.extra, self.demo)


CYCLES = (
    Cycle(
        name="2003-2004",
        labs=("L06NB_C", "L06MH_C"),
        extra=("L40_C",),
        demo="DEMO_C",
        columns={
            "b12": "LBXB12",
            "mma": "LBXMMA",
            "hcy": "LBXHCY",
            "folate": "LBXFOL",
            "creatinine": "LBXSCR",
        },
        units={
            "b12": "pg/mL",
            "mma": "umol/L",
            "hcy": "umol/L",
            "folate": "ng/mL",
            "creatinine": "mg/dL",
        },
    ),
    Cycle(
        name="2011-2012",
        labs=("VITB12_G", "MMA_G"),
        demo="DEMO_G",
        columns={"b12": "LBXB12", "mma": "LBXMMASI"},
        units={"b12": "pg/mL", "mma": "nmol/L"},  # MMA in nmol/L in this cycle
    ),
)
#: Patient context: b12labs key -> column of the joined frame (sex and pregnancy are recoded).
CONTEXT = {"age": "RIDAGEYR", "sex": "sex", "pregnant": "pregnant"}
DEMO_COLUMNS = ("SEQN", "RIAGENDR", "RIDAGEYR", "RIDEXPRG", "WTMEC2YR")


# ----------------------------------------------------------------------------- files


def default_folder() -> Path:
    """``$B12LABS_NHANES_DIR``, else ``../shared/data/nhanes`` beside the repository."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared/data/nhanes"


def xpt_path(folder: Path, name: str) -> Path | None:
    """The file ``name.XPT`` in ``folder`` (any case of the name), or None when absent."""
    wanted = f"{name}.xpt".lower()
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.name.lower() == wanted and path.is_file():
                return path
    return None


def missing_files(folder: Path, cycles: tuple[Cycle, ...] = CYCLES) -> list[str]:
    """Names of the needed files that are not in ``folder`` (all of them if it is absent)."""
    return [
        f"{name}.XPT" for cycle in cycles for name in cycle.files if xpt_path(folder, name) is None
    ]


def missing_message(folder: Path, missing: list[str]) -> str:
    """Explain which files are needed and where to download them."""
    where = "was not found" if not folder.is_dir() else f"lacks {', '.join(missing)}"
    needed = "\n".join(
        f"  {cycle.name}: {', '.join(f'{name}.XPT' for name in cycle.files)}" for cycle in CYCLES
    )
    return (
        f"NHANES data folder {folder} {where}.\n"
        f"This example needs these public-use files (SAS transport) in one folder:\n{needed}\n"
        f"Get them from the CDC NHANES website, {CDC_URL}\n"
        "(choose the survey cycle, then Laboratory Data or Demographics Data, and download\n"
        "each data file by name), then pass the folder as the first argument or set\n"
        f"${ENV_VAR}."
    )


def read_xpt(folder: Path, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """One NHANES file as a DataFrame (only ``columns`` when given)."""
    path = xpt_path(folder, name)
    if path is None:
        raise FileNotFoundError(missing_message(folder, [f"{name}.XPT"]))
    frame = pd.read_sas(path, format="xport")
    return frame if columns is None else frame[columns]


# ----------------------------------------------------------------------------- scoring


def load_cycle(folder: Path, cycle: Cycle) -> pd.DataFrame:
    """The cycle's files joined on SEQN, with ``sex`` and ``pregnant`` recoded for b12labs.

    One row per person with a row in any laboratory file of ``cycle.labs`` (outer join),
    then the other files' columns (left join). NHANES codes: ``RIAGENDR`` 1 male, 2 female;
    ``RIDEXPRG`` 1 pregnant, 2 not pregnant, anything else unknown.
    """
    wanted = set(cycle.columns.values())

    def used(name: str) -> pd.DataFrame:
        data = read_xpt(folder, name)
        return data[["SEQN", *(c for c in data.columns if c in wanted)]]

    first, *others = cycle.labs
    frame = used(first)
    for name in others:
        frame = frame.merge(used(name), on="SEQN", how="outer")
    for name in cycle.extra:
        frame = frame.merge(used(name), on="SEQN", how="left")
    frame = frame.merge(read_xpt(folder, cycle.demo, list(DEMO_COLUMNS)), on="SEQN", how="left")
    frame["sex"] = frame["RIAGENDR"].map({1.0: "male", 2.0: "female"})
    frame["pregnant"] = frame["RIDEXPRG"].map({1.0: True, 2.0: False}).astype("boolean")
    return frame.sort_values("SEQN", ignore_index=True)


def score_cycle(frame: pd.DataFrame, cycle: Cycle, profile: str) -> pd.DataFrame:
    """``frame`` scored with ``profile``: its columns plus the ``b12labs_*`` result columns."""
    return b12labs.interpret_frame(
        frame, profile=profile, columns={**cycle.columns, **CONTEXT}, units=cycle.units
    )


def score_all(folder: Path) -> dict[tuple[str, str], pd.DataFrame]:
    """Every cycle scored with every profile, keyed by (cycle name, profile id)."""
    scored = {}
    for cycle in CYCLES:
        frame = load_cycle(folder, cycle)
        for profile in b12labs.list_profiles():
            scored[cycle.name, profile] = score_cycle(frame, cycle, profile)
    return scored


def outcome(scored: pd.DataFrame) -> pd.Series:
    """Each row's status, or ``row_error`` when b12labs could not interpret the row."""
    status = scored["b12labs_status"].astype(object)
    return status.where(scored["b12labs_error"] == "", "row_error")


def share_table(scored: pd.DataFrame, weight: str | None = None) -> pd.DataFrame:
    """Share (%) of adults in each outcome by age group, plus an ``all adults`` row.

    Unweighted (``n``: people) or weighted by the column ``weight`` (``population``: the sum
    of the weights, in millions).
    """
    adults = scored[scored["RIDAGEYR"] >= ADULT_AGE]
    weights = pd.Series(1.0, index=adults.index) if weight is None else adults[weight].astype(float)
    group = pd.cut(adults["RIDAGEYR"], AGE_BINS, right=False, labels=list(AGE_LABELS))
    data = pd.DataFrame({"group": group.astype(str), "outcome": outcome(adults), "weight": weights})
    totals = data.groupby(["group", "outcome"])["weight"].sum().unstack(fill_value=0)
    totals.loc[ALL_ADULTS] = totals.sum()
    totals = totals.reindex(index=[*AGE_LABELS, ALL_ADULTS], columns=list(OUTCOMES))
    totals = totals.fillna(0.0)
    size = totals.sum(axis=1)
    table = totals.div(size, axis=0) * 100
    if weight is None:
        table.insert(0, "n", size.astype(int))
    else:
        table.insert(0, "population", size / 1e6)
    table.index.name = "age group"
    table.columns.name = None
    return table


def format_tables(cycle: str, profile: str, scored: pd.DataFrame) -> str:
    """The unweighted and the weighted table of one cycle and profile, as text."""
    adults = int((scored["RIDAGEYR"] >= ADULT_AGE).sum())
    unweighted, weighted = (
        table.reset_index().to_string(index=False, float_format="{:.1f}".format)
        for table in (share_table(scored), share_table(scored, "WTMEC2YR"))
    )
    return (
        f"== NHANES {cycle}, profile {profile}: {len(scored):,} people, {adults:,} aged "
        f"{ADULT_AGE}+\n"
        f"-- share of adults by status, %, unweighted (n = people)\n{unweighted}\n"
        f"-- weighted by WTMEC2YR, % (population in millions)\n{weighted}\n"
    )


# ----------------------------------------------------------------------------- plots


def example_row(scored: pd.DataFrame, cycle: Cycle) -> pd.Series:
    """One real adult with every marker of the cycle measured, preferably one whose status
    is ``deficiency_likely`` (the first by SEQN)."""
    markers = [cycle.columns[key] for key in cycle.columns]
    complete = scored[scored[markers].notna().all(axis=1) & (scored["RIDAGEYR"] >= ADULT_AGE)]
    likely = complete[complete["b12labs_status"] == "deficiency_likely"]
    return (likely if len(likely) else complete).iloc[0]


def panel_keywords(row: pd.Series, cycle: Cycle) -> dict[str, Any]:
    """The ``b12labs.interpret`` keywords for one row of a joined cycle frame."""
    keywords: dict[str, Any] = {
        key: (float(row[column]), cycle.units[key])
        for key, column in cycle.columns.items()
        if pd.notna(row[column])
    }
    keywords["age"] = float(row["RIDAGEYR"])
    if pd.notna(row["sex"]):
        keywords["sex"] = row["sex"]
    keywords["pregnant"] = None if pd.isna(row["pregnant"]) else bool(row["pregnant"])
    return keywords


def save_plots(scored: dict[tuple[str, str], pd.DataFrame], folder: Path) -> list[Path]:
    """Save a cohort plot per cycle and profile and one example panel plot; return the paths."""
    import b12labs.plot  # needs matplotlib; imported only when plots are asked for

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (name, profile), frame in scored.items():
        figure = b12labs.plot.cohort(frame, profile=profile)
        written.append(folder / f"cohort-{name}-{profile}.png")
        figure.savefig(written[-1])
    # one real person from the first cycle (the one with every marker), default profile
    cycle = CYCLES[0]
    row = example_row(scored[cycle.name, "nice-ng239"], cycle)
    result = b12labs.interpret(**panel_keywords(row, cycle))
    figure = b12labs.plot.panel(result)
    written.append(folder / "panel-example.png")
    figure.savefig(written[-1])
    print(
        f"panel-example.png: NHANES {cycle.name} SEQN {int(row['SEQN'])}, "
        f"{result.profile_id}: {result.status.value}"
    )
    return written


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run the analysis; return the exit code (2 when files are missing)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "folder",
        nargs="?",
        type=Path,
        help=f"folder of the NHANES .XPT files (default: ${ENV_VAR}, else {default_folder()})",
    )
    parser.add_argument("--plots", type=Path, metavar="DIR", help="save PNG plots into DIR")
    args = parser.parse_args(argv)
    folder = args.folder or default_folder()
    missing = missing_files(folder)
    if missing:
        print(missing_message(folder, missing), file=sys.stderr)
        return 2

    scored = score_all(folder)
    for (cycle, profile), frame in scored.items():
        print(format_tables(cycle, profile, frame))
    if args.plots is not None:
        try:
            written = save_plots(scored, args.plots)
        except ImportError as error:
            print(f"--plots needs matplotlib and b12labs.plot: {error}", file=sys.stderr)
            return 2
        print(f"{len(written)} plots saved in {args.plots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
