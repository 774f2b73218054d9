"""Real NHANES laboratory files as an external check of conversion and plausibility.

The files are read in place from the ``nhanes`` fixture folder (never copied into the
repository); every test skips with a printed reason when a file is absent.
Facts checked (shared/data/nhanes/README.md, domain-facts.md "Units and codes"):

* CDC computes ``LBDB12SI`` (pmol/L) from ``LBXB12`` (pg/mL) with the factor 0.738, while
  the exact molar-mass factor is 1/1.35537 = 0.737805...; 2003-2004 rounds to 2 decimals.
* 2003-2004: B12 34 to 34,254 pg/mL, homocysteine 1.79 to 116.21 umol/L, MMA 0.035
  (detection limit) to 10.558 umol/L, all of which must be accepted as plausible.
* 2011-2012: MMA ``LBXMMASI`` is in nmol/L.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pytest

import b12labs

pd = pytest.importorskip("pandas")

CDC_FACTOR = 0.738  # CDC: LBDB12SI = LBXB12 x 0.738 (NHANES README)
EXACT_FACTOR = 1 / 1.35537  # 1 pg/mL = 1/1.35537 pmol/L (molar mass 1355.37 g/mol)
TINY = 1e-9


def _read(folder: Path, name: str):
    path = folder / name
    if not path.is_file():
        pytest.skip(f"{name} not found in {folder}")
    return pd.read_sas(path, format="xport")


def _cdc_rule(pg_ml: float, places: int) -> float:
    """LBXB12 x 0.738 in exact decimal arithmetic, rounded half up (SAS ROUND) to ``places``."""
    product = Decimal(repr(float(pg_ml))) * Decimal("0.738")
    return float(product.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _check_b12_conversion(df, decimals: int, label: str) -> None:
    df = df.dropna(subset=["LBXB12", "LBDB12SI"])
    assert len(df) > 1000, label
    pg_ml = df["LBXB12"].to_numpy(dtype=float)
    cdc_si = df["LBDB12SI"].to_numpy(dtype=float)
    ours = np.array([b12labs.convert(x, "pg/mL", "pmol/L", analyte="b12") for x in pg_ml])

    # Our conversion uses the exact molar mass (1 pg/mL = 0.7378 pmol/L, domain facts).
    assert np.allclose(ours, pg_ml * EXACT_FACTOR, rtol=1e-12, atol=0)
    # CDC's value differs from ours only by its rounded factor and its rounding.
    bound = (
        np.abs(pg_ml) * (CDC_FACTOR - EXACT_FACTOR) + 0.5 * 10.0**-decimals + TINY * (1 + cdc_si)
    )
    diff = np.abs(ours - cdc_si)
    worst = int(np.argmax(diff - bound))
    assert np.all(diff <= bound), (label, pg_ml[worst], ours[worst], cdc_si[worst])
    # The CDC rule itself: LBDB12SI = round(LBXB12 x 0.738, decimals) on every row.
    cdc_rule = np.array([_cdc_rule(x, decimals) for x in pg_ml])
    mismatched = np.flatnonzero(np.abs(cdc_rule - cdc_si) > TINY)
    assert mismatched.size == 0, (label, pg_ml[mismatched[:5]], cdc_si[mismatched[:5]])
    print(
        f"\n{label}: {len(df)} B12 values; max |ours - LBDB12SI| = {diff.max():.4f} pmol/L "
        f"(bound at max B12 {bound.max():.4f}); "
        f"CDC rule round(x*0.738, {decimals}) holds on all rows"
    )


def test_b12_conversion_matches_cdc_2003_2004(nhanes: Path):
    df = _read(nhanes, "L06NB_C.XPT")
    _check_b12_conversion(df, 2, "NHANES 2003-2004 L06NB_C")
    # The exact statement of the README: round(LBXB12 * 0.738, 2) == LBDB12SI on every row.
    df = df.dropna(subset=["LBXB12", "LBDB12SI"])
    assert (np.round(df["LBXB12"] * 0.738, 2) == df["LBDB12SI"]).all()
    # README: 8,267 B12 values from 34 to 34,254 pg/mL.
    assert len(df) == 8267
    assert df["LBXB12"].min() == 34
    assert df["LBXB12"].max() == 34254


def test_b12_conversion_matches_cdc_2011_2012(nhanes: Path):
    """2011-2012 publishes LBDB12SI with ONE decimal (e.g. 425 pg/mL -> 313.7 pmol/L,
    i.e. 313.65 rounded half up), so the CDC rule there is round(x * 0.738, 1)."""
    df = _read(nhanes, "VITB12_G.XPT")
    _check_b12_conversion(df, 1, "NHANES 2011-2012 VITB12_G")


def test_every_2003_2004_value_is_plausible(nhanes: Path):
    b12 = _read(nhanes, "L06NB_C.XPT")["LBXB12"].dropna()
    mh = _read(nhanes, "L06MH_C.XPT")
    mma = mh["LBXMMA"].dropna()
    hcy = mh["LBXHCY"].dropna()
    # README: 7,888 homocysteine values, 7,501 MMA values plus 43 at the detection limit.
    assert len(hcy) == 7888
    assert len(mma) == 7501 + 43
    assert (mma == 0.035).sum() == 43
    for column, analyte, unit in (
        (b12, "b12", "pg/mL"),
        (mma, "mma", "umol/L"),
        (hcy, "hcy", "umol/L"),
    ):
        for value in column.unique().tolist():
            panel = b12labs.Panel(**{analyte: (value, unit)})
            measurement = getattr(panel, analyte)
            assert measurement.value == value
            assert measurement.unit == unit
    # The extremes, also as text, and together in one interpretation.
    result = b12labs.interpret(
        b12=f"{b12.max():g} pg/mL", mma=f"{mma.max():g} umol/L", hcy=f"{hcy.max():g} umol/L"
    )
    assert result.markers["b12"].category == "above_reference"  # > 914 ng/L (NICE row)
    assert result.markers["hcy"].category == "severe"  # > 100 umol/L (common bands)
    low = b12labs.interpret(
        b12=f"{b12.min():g} pg/mL", mma="0.035 umol/L", hcy=f"{hcy.min():g} umol/L"
    )
    assert low.markers["b12"].category == "low"  # 34 pg/mL < 180 ng/L
    print(
        f"\nNHANES 2003-2004 plausibility: {len(b12)} B12 ({b12.nunique()} distinct), "
        f"{len(mma)} MMA ({mma.nunique()} distinct), "
        f"{len(hcy)} Hcy ({hcy.nunique()} distinct) accepted"
    )


def test_2011_2012_mma_in_nmol_per_litre_is_accepted(nhanes: Path):
    mma = _read(nhanes, "MMA_G.XPT")["LBXMMASI"].dropna()
    assert len(mma) > 1000
    for value in mma.unique().tolist():
        panel = b12labs.Panel(mma=(value, "nmol/L"))
        assert panel.mma is not None
        assert panel.mma.value == value
        umol = b12labs.convert(value, "nmol/L", "umol/L", analyte="mma")
        assert umol == pytest.approx(value / 1000, rel=1e-12)
    top = b12labs.interpret(mma=f"{mma.max():g} nmol/L")
    assert top.markers["mma"].value == pytest.approx(mma.max() / 1000)
    assert top.markers["mma"].original_unit == "nmol/L"
    print(
        f"\nNHANES 2011-2012 MMA: {len(mma)} values in nmol/L "
        f"({mma.min():g} to {mma.max():g}) accepted"
    )
