"""Validation of batch scoring on the real NHANES files, and of ``examples/nhanes.py``.

The files are read in place from the ``nhanes`` fixture folder (never copied into the
repository); the tests skip with a printed reason when it is absent. The cycles are joined
by the example's own loader (``examples/nhanes.py``), and every figure the library gives is
checked against one computed directly from the raw NHANES columns:

* 2011-2012 MMA (``LBXMMASI``) is in nmol/L: the canonical value must be LBXMMASI / 1000.
* Every row of both cycles gets a status or a row error with every profile.
* The shares of adults (20+) with B12 below 148 pmol/L and with MMA above 0.271 umol/L
  (population-survey profile) equal the shares computed with pandas from the raw columns,
  numerator and denominator alike.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import b12labs

pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "nhanes.py"
PROFILES = b12labs.list_profiles()
STATUSES = {status.value for status in b12labs.Status}
#: Molar mass of cyanocobalamin, 1355.37 g/mol: 1 pg/mL = 1e-9 g/L / 1355.37 g/mol
#: = 1e3 / 1355.37 pmol/L (= 1 / 1.35537 = 0.737805... pmol/L).
B12_MOLAR_MASS = 1355.37
PG_ML_TO_PMOL_L = 1e3 / B12_MOLAR_MASS
B12_LOW_PMOL_L = 148  # population-survey: B12 below 148 pmol/L is "low" (Qi 2014)
MMA_HIGH_UMOL_L = 0.271  # population-survey: MMA above 0.271 umol/L (271 nmol/L) is elevated
MMA_ELEVATED = ("elevated", "markedly_elevated")


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("b12labs_nhanes_example", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


example = _load_example()
CYCLES = {cycle.name: cycle for cycle in example.CYCLES}


@pytest.fixture(scope="module")
def frames(nhanes: Path) -> dict[str, Any]:
    """Each cycle's joined frame (by the example's loader); skips when a file is absent."""
    missing = example.missing_files(nhanes)
    if missing:
        pytest.skip(f"NHANES files {', '.join(missing)} not found in {nhanes}")
    return {name: example.load_cycle(nhanes, cycle) for name, cycle in CYCLES.items()}


@pytest.fixture(scope="module")
def scored(frames: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """Every cycle scored with every profile."""
    return {
        (name, profile): example.score_cycle(frame, CYCLES[name], profile)
        for name, frame in frames.items()
        for profile in PROFILES
    }


# ----------------------------------------------------------------------------- (a) units


def test_2011_2012_mma_in_nmol_per_litre_becomes_umol_per_litre(
    frames: dict[str, Any], scored: dict[tuple[str, str], Any]
) -> None:
    frame = frames["2011-2012"]
    assert CYCLES["2011-2012"].units["mma"] == "nmol/L"
    raw = frame["LBXMMASI"].to_numpy(dtype=float)
    has = ~np.isnan(raw)
    assert has.sum() > 4000
    for profile in PROFILES:
        out = scored["2011-2012", profile]
        ours = out["b12labs_mma_value"].to_numpy(dtype=float)
        # no value lost, none invented, and each equal to nmol/L / 1000
        assert (~np.isnan(ours) == has).all(), profile
        np.testing.assert_allclose(ours[has], raw[has] / 1000, rtol=1e-9, atol=0)
        # B12 in pg/mL alongside, by the exact molar mass
        b12 = frame["LBXB12"].to_numpy(dtype=float)
        np.testing.assert_allclose(
            out["b12labs_b12_value"].to_numpy(dtype=float), b12 * PG_ML_TO_PMOL_L, rtol=1e-9
        )
    print(
        f"\nNHANES 2011-2012: {has.sum()} MMA values, LBXMMASI {raw[has].min():g} to "
        f"{raw[has].max():g} nmol/L read as {raw[has].min() / 1000:g} to "
        f"{raw[has].max() / 1000:g} umol/L with every profile"
    )


# ----------------------------------------------------------------------------- (b) coverage


def test_every_row_gets_a_status_or_a_row_error(
    frames: dict[str, Any], scored: dict[tuple[str, str], Any]
) -> None:
    print()
    for (name, profile), out in scored.items():
        assert len(out) == len(frames[name])
        status = out["b12labs_status"]
        has_status = status.notna().to_numpy()
        has_error = (out["b12labs_error"] != "").to_numpy()
        assert (has_status != has_error).all(), (name, profile)  # exactly one of the two
        assert set(status.dropna().astype(str)) <= STATUSES
        counts = {str(k): int(v) for k, v in status.value_counts().items()}
        print(f"NHANES {name} {profile}: {counts}, row errors {int(has_error.sum())}")


# ----------------------------------------------------------------------------- (c) shares


def _share(numerator: Any, denominator: Any) -> tuple[int, int]:
    return int((numerator & denominator).sum()), int(denominator.sum())


def _line(label: str, ours: tuple[int, int], raw: tuple[int, int]) -> str:
    def pct(pair: tuple[int, int]) -> str:
        return f"{pair[0]}/{pair[1]} = {100 * pair[0] / pair[1]:.2f}%"

    return f"{label:<50} b12labs {pct(ours):<22} pandas {pct(raw)}"


def test_population_survey_shares_equal_the_raw_computation(
    frames: dict[str, Any], scored: dict[tuple[str, str], Any]
) -> None:
    print()
    mma_raw = {"2003-2004": ("LBXMMA", 1.0), "2011-2012": ("LBXMMASI", 1000.0)}
    for name, frame in frames.items():
        out = scored[name, "population-survey"]
        adult = (frame["RIDAGEYR"] >= 20).to_numpy()
        assert adult.sum() > 4000

        # B12 below 148 pmol/L: category "low" vs LBXB12 (pg/mL) x 1e3/1355.37 < 148
        category = out["b12labs_b12_category"]
        ours = _share((category == "low").to_numpy(), adult & category.notna().to_numpy())
        b12 = frame["LBXB12"]
        raw = _share(
            (b12 * PG_ML_TO_PMOL_L < B12_LOW_PMOL_L).to_numpy(), adult & b12.notna().to_numpy()
        )
        print(_line(f"NHANES {name} adults 20+, B12 < 148 pmol/L:", ours, raw))
        assert ours == raw

        # MMA above 0.271 umol/L: elevated or markedly elevated vs LBXMMA > 0.271 (umol/L)
        # or LBXMMASI > 271 (nmol/L)
        category = out["b12labs_mma_category"]
        ours = _share(category.isin(MMA_ELEVATED).to_numpy(), adult & category.notna().to_numpy())
        column, per_umol = mma_raw[name]
        mma = frame[column]
        raw = _share((mma > MMA_HIGH_UMOL_L * per_umol).to_numpy(), adult & mma.notna().to_numpy())
        print(_line(f"NHANES {name} adults 20+, MMA > 0.271 umol/L:", ours, raw))
        assert ours == raw


# ----------------------------------------------------------------------------- (d) script


def _run(*args: str | Path, env_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "B12LABS_NHANES_DIR"}
    if env_dir is not None:
        env["B12LABS_NHANES_DIR"] = str(env_dir)
    return subprocess.run(
        [sys.executable, "-W", "error", str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_example_script_prints_the_tables(nhanes: Path) -> None:
    done = _run(nhanes)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for name in CYCLES:
        for profile in PROFILES:
            assert f"== NHANES {name}, profile {profile}:" in done.stdout
    for label in (*example.AGE_LABELS, example.ALL_ADULTS, *example.OUTCOMES):
        assert label in done.stdout
    assert done.stdout.count("weighted by WTMEC2YR") == len(CYCLES) * len(PROFILES)
    print(f"\nexamples/nhanes.py: {len(done.stdout.splitlines())} lines printed")


def test_example_script_saves_the_plots(nhanes: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    if importlib.util.find_spec("b12labs.plot") is None:
        pytest.skip("b12labs.plot is not available")
    done = _run(nhanes, "--plots", tmp_path / "plots")
    assert done.returncode == 0, done.stderr
    expected = {f"cohort-{c}-{p}.png" for c in CYCLES for p in PROFILES} | {"panel-example.png"}
    assert {path.name for path in (tmp_path / "plots").iterdir()} == expected
    for path in (tmp_path / "plots").iterdir():
        assert path.read_bytes().startswith(b"\x89PNG"), path


def _assert_where_to_get_the_files(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert "https://wwwn.cdc.gov/nchs/nhanes/" in done.stderr
    for cycle in example.CYCLES:
        assert cycle.name in done.stderr
        for name in cycle.files:
            assert f"{name}.XPT" in done.stderr


def test_example_script_without_the_folder_says_where_to_get_the_files(tmp_path: Path) -> None:
    done = _run(tmp_path / "no-such-folder")
    _assert_where_to_get_the_files(done)
    assert f"{tmp_path / 'no-such-folder'} was not found" in done.stderr
    # no argument: the folder comes from $B12LABS_NHANES_DIR
    done = _run(env_dir=tmp_path / "from-env")
    _assert_where_to_get_the_files(done)
    assert f"{tmp_path / 'from-env'} was not found" in done.stderr


def test_example_default_folder_is_the_test_suite_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("B12LABS_NHANES_DIR", raising=False)
    assert example.default_folder() == ROOT.parent / "shared" / "data" / "nhanes"
    monkeypatch.setenv("B12LABS_NHANES_DIR", "/somewhere/nhanes")
    assert example.default_folder() == Path("/somewhere/nhanes")


def test_example_script_with_a_file_missing_names_it(nhanes: Path, tmp_path: Path) -> None:
    # links to all the files but one (links, not copies), in a temporary folder
    kept = [name for cycle in example.CYCLES for name in cycle.files if name != "MMA_G"]
    for name in kept:
        try:
            (tmp_path / f"{name}.XPT").symlink_to(example.xpt_path(nhanes, name))
        except OSError as error:  # e.g. no symlink privilege on Windows
            pytest.skip(f"cannot link the NHANES files: {error}")
    done = _run(tmp_path)
    _assert_where_to_get_the_files(done)
    assert "lacks MMA_G.XPT." in done.stderr


# ----------------------------------------------------------------------------- (e) rules 2

#: Rules version 2, step 1 (decision-spec 7.2), recomputed with pandas from the raw NHANES
#: 2003-2004 columns. Per profile (decision-spec section 2): B12 above the indeterminate
#: upper end (pg/mL = ng/L), MMA elevated limit (umol/L; NICE 0.46 from age 65), the
#: homocysteine limit (umol/L). Common to all: MMA markedly elevated above 0.75 umol/L;
#: folate low below 6.8 nmol/L; renal impairment below eGFR 60 (CKD-EPI 2021).
STEP_1_LIMITS = {
    "nice-ng239": {"b12_pg_ml": 350, "mma": 0.40, "mma_65": 0.46, "hcy": 15},
    "mayo-cascade": {"b12_pg_ml": 400, "mma": 0.40, "mma_65": 0.40, "hcy": 15},
    "labcorp-cascade": {"b12_pg_ml": 400, "mma": 0.378, "mma_65": 0.378, "hcy": 15},
    # 258 pmol/L (Qi 2014) in pg/mL through the molar mass 1355.37 g/mol
    "population-survey": {"b12_pg_ml": 258 / PG_ML_TO_PMOL_L, "mma": 0.271, "mma_65": 0.271,
                          "hcy": 13},
}  # fmt: skip
FOLATE_NG_ML_TO_NMOL_L = 1e3 / 441.40  # folic acid 441.40 g/mol (decision-spec section 1)


def _ckd_epi_2021(creatinine_mg_dl: Any, age: Any, female: Any) -> Any:
    """CKD-EPI 2021 (Inker, NEJM 2021; NKF coefficients), written out independently."""
    kappa = np.where(female, 0.7, 0.9)
    alpha = np.where(female, -0.241, -0.302)
    ratio = creatinine_mg_dl / kappa
    return (
        142
        * np.minimum(ratio, 1) ** alpha
        * np.maximum(ratio, 1) ** -1.200
        * 0.9938**age
        * np.where(female, 1.012, 1.0)
    )


def test_functional_markers_elevated_equals_the_raw_computation(
    frames: dict[str, Any], scored: dict[tuple[str, str], Any]
) -> None:
    frame = frames["2003-2004"]
    age = frame["RIDAGEYR"].to_numpy(dtype=float)
    adult = age >= 20
    b12 = frame["LBXB12"].to_numpy(dtype=float)
    mma = frame["LBXMMA"].to_numpy(dtype=float)
    hcy = frame["LBXHCY"].to_numpy(dtype=float)
    folate_nmol = frame["LBXFOL"].to_numpy(dtype=float) * FOLATE_NG_ML_TO_NMOL_L
    sex = frame["RIAGENDR"].to_numpy(dtype=float)
    creatinine = frame["LBXSCR"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        egfr = _ckd_epi_2021(creatinine, age, sex == 2)
    # eGFR only for adults (18+) of known sex with a creatinine; unknown is not impaired
    egfr[(age < 18) | ~np.isin(sex, (1, 2)) | np.isnan(creatinine)] = np.nan
    renal_impaired = egfr < 60
    folate_low = folate_nmol < 6.8
    print()
    for profile, limit in STEP_1_LIMITS.items():
        mma_limit = np.where(age >= 65, limit["mma_65"], limit["mma"])
        raw = (
            adult
            & (b12 > limit["b12_pg_ml"])
            & (mma > mma_limit)
            & (mma <= 0.75)
            & (hcy > limit["hcy"])
            & ~renal_impaired
            & ~folate_low
        )
        out = scored["2003-2004", profile]
        findings = out["b12labs_findings"].astype(str)
        fired = findings.str.contains("functional_markers_elevated", regex=False).to_numpy()
        ours = adult & fired
        status = out["b12labs_status"].astype(str).to_numpy()
        print(
            f"NHANES 2003-2004 {profile}: functional_markers_elevated in {int(ours.sum())} "
            f"adults (pandas: {int(raw.sum())}); statuses "
            f"{ {str(k): int(v) for k, v in out['b12labs_status'].value_counts().items()} }"
        )
        assert raw.sum() > 0, profile  # the step is exercised by real data
        np.testing.assert_array_equal(ours, raw)
        assert (status[fired] == "deficiency_likely").all()
        # the research finding on every interpreted row of a research profile, only there
        research = findings.str.contains("research_profile", regex=False).to_numpy()
        interpreted = out["b12labs_status"].notna().to_numpy()
        assert (research == (interpreted & (profile == "population-survey"))).all()


def test_status_counts_under_rules_2_equal_interpret_row_by_row(
    frames: dict[str, Any], scored: dict[tuple[str, str], Any]
) -> None:
    """Status counts per profile under rules version 2: the batch answer equals the
    single-panel answer on every row of 2003-2004, built from the raw columns."""
    frame = frames["2003-2004"]
    units = CYCLES["2003-2004"].units
    rows = []
    for record in frame.to_dict("records"):
        panel: dict[str, Any] = {}
        for key, column in CYCLES["2003-2004"].columns.items():
            if not pd.isna(record[column]):
                panel[key] = (float(record[column]), units[key])
        if not pd.isna(record["RIDAGEYR"]):
            panel["age"] = float(record["RIDAGEYR"])
        panel["sex"] = {1.0: "male", 2.0: "female"}.get(record["RIAGENDR"])
        panel["pregnant"] = {1.0: True, 2.0: False}.get(record["RIDEXPRG"])
        rows.append(panel)
    print()
    for profile in PROFILES:
        expected: list[str | None] = []
        for panel in rows:
            try:
                expected.append(b12labs.interpret(panel, profile=profile).status.value)
            except b12labs.B12LabsError:
                expected.append(None)
        got = scored["2003-2004", profile]["b12labs_status"]
        ours = [None if pd.isna(s) else str(s) for s in got]
        assert ours == expected, profile
        counts = {s: expected.count(s) for s in sorted(STATUSES)}
        print(f"NHANES 2003-2004 {profile}, rules version 2: {counts}")
