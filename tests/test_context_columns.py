"""Patient context as batch columns: symptoms, risk factors, recent treatment, nitrous oxide,
pregnancy, and header units on age and eGFR.

Every expectation comes from ``b12labs.interpret()`` on the row, or from the issue text. The
reference below turns a row into ``interpret()`` keywords on its own, without b12labs' table
code: yes/no cells by the issue's spellings, code-list cells passed to ``Panel`` as the text
they are, header units by their definitions (1 month = 1/12 year, 1 week = 7 days, 1 year =
365.25 days, 1 mL/s = 60 mL/min).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import b12labs
from b12labs import B12LabsError, ColumnError
from conftest import is_missing

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
bpd = pytest.importorskip("b12labs.pandas")
interpret_frame = bpd.interpret_frame
ERROR_CODES = bpd.ERROR_CODES

PROFILES = b12labs.list_profiles()
SYMPTOM_CODES = [s.value for s in b12labs.Symptom]
RISK_CODES = [r.value for r in b12labs.RiskFactor]

# ----------------------------------------------------------------------------- reference

YES = frozenset({"yes", "y", "true", "1", "1.0"})
NO = frozenset({"no", "n", "false", "0", "0.0"})
#: Header unit -> (multiplier, divisor) to years or mL/min/1.73 m2, from the definitions.
AGE_UNITS = {"": (1.0, 1.0), "years": (1.0, 1.0), "yrs": (1.0, 1.0), "months": (1.0, 12.0)}
AGE_UNITS |= {"mo": (1.0, 12.0), "weeks": (7.0, 365.25), "days": (1.0, 365.25)}
EGFR_UNITS = {"": (1.0, 1.0), "mL/min/1.73m2": (1.0, 1.0), "mL/min/1.73 m²": (1.0, 1.0)}
EGFR_UNITS |= {"mL/s/1.73m2": (60.0, 1.0), "mL/s": (60.0, 1.0), "ml/s/1.73 m^2": (60.0, 1.0)}


def flag(cell: Any) -> Any:
    """A yes/no cell as interpret() takes it (an unreadable cell passes as it is)."""
    if isinstance(cell, list):
        return cell
    if is_missing(cell):
        return None
    if isinstance(cell, bool | np.bool_):
        return bool(cell)
    if isinstance(cell, str):
        text = cell.strip().lower()
        return True if text in YES else False if text in NO else cell
    return True if cell == 1 else False if cell == 0 else cell


def code_list(cell: Any) -> Any:
    """A symptoms / risk-factors cell: Panel reads the text itself; missing is unknown."""
    if isinstance(cell, list | str):
        return cell  # "none" is none reported, blank and "N/A" unknown: Panel's reading
    return None if is_missing(cell) else cell


def number(cell: Any, unit: tuple[float, float]) -> Any:
    if is_missing(cell):
        return None
    try:
        value = float(cell.strip()) if isinstance(cell, str) else float(cell)
    except ValueError:
        return cell
    return value * unit[0] / unit[1]


KEYS = ("nitrous_oxide", "recent_b12_treatment", "pregnant", "symptoms", "risk_factors")


def row_kwargs(df: Any, keys: dict[str, str], pos: int, units: dict[str, Any]) -> dict[str, Any]:
    """interpret() keywords of one row; ``keys`` maps interpret() keywords to column labels."""
    kwargs: dict[str, Any] = {}
    for key, label in keys.items():
        cell = df[label].iat[pos]
        if isinstance(cell, np.generic):
            cell = cell.item()
        if key in ("b12", "holotc", "mma", "hcy", "folate"):
            kwargs[key] = None if is_missing(cell) else cell
        elif key in ("age", "egfr"):
            kwargs[key] = number(cell, units[key])
        elif key == "sex":
            kwargs[key] = None if is_missing(cell) else cell
        elif key in ("symptoms", "risk_factors"):
            kwargs[key] = code_list(cell)
        else:
            kwargs[key] = flag(cell)
    return kwargs


def codes(text: Any) -> tuple[str, ...]:
    return tuple(text.split(";")) if text else ()


def scalar(kwargs: dict[str, Any], profile: str) -> tuple[Any, B12LabsError | None]:
    try:
        return b12labs.interpret(profile=profile, **kwargs), None
    except B12LabsError as error:
        return None, error


def assert_rows_match(
    df: Any,
    out: Any,
    keys: dict[str, str],
    units: dict[str, Any] | None = None,
    profile: str = "nice-ng239",
) -> list[Any]:
    """Each row's status, findings, next steps and error equal interpret() on that row."""
    units = {"age": (1.0, 1.0), "egfr": (1.0, 1.0), **(units or {})}
    assert len(out) == len(df)
    results = []
    for pos in range(len(df)):
        kwargs = row_kwargs(df, keys, pos, units)
        where = (pos, kwargs)
        error = out["b12labs_error"].iat[pos]
        status = out["b12labs_status"].iat[pos]
        expected, scalar_error = scalar(kwargs, profile)
        if scalar_error is not None:
            code, _, message = error.partition(": ")
            assert ERROR_CODES.get(code) is type(scalar_error), (where, error, scalar_error)
            assert message == scalar_error.message, (where, error)
            assert pd.isna(status), where
            results.append(scalar_error)
            continue
        assert error == "", (where, error)
        assert status == expected.status.value, (where, expected.status)
        assert codes(out["b12labs_findings"].iat[pos]) == expected.finding_codes, where
        assert codes(out["b12labs_next_steps"].iat[pos]) == expected.next_step_codes, where
        results.append(expected)
    assert (out["b12labs_rules_version"] == 2).all()
    return results


# ----------------------------------------------------------------------------- column names

HEADERS = [
    ("nitrous_oxide", "nitrous_oxide"),
    ("nitrous_oxide", "N2O exposure"),
    ("nitrous_oxide", "N2O"),
    ("nitrous_oxide", "Nitrous oxide"),
    ("nitrous_oxide", "Nitrous oxide exposure (yes/no)"),
    ("recent_b12_treatment", "recent_b12_treatment"),
    ("recent_b12_treatment", "on B12"),
    ("recent_b12_treatment", "Recent B12 treatment"),
    ("recent_b12_treatment", "Recent treatment [y/n]"),
    ("pregnant", "Pregnant"),
    ("pregnant", "pregnancy (yes/no)"),
    ("symptoms", "symptoms"),
    ("symptoms", "Symptoms"),
    ("symptoms", "Symptoms (codes)"),
    ("risk_factors", "risk_factors"),
    ("risk_factors", "Risk factors"),
    ("risk_factors", "Risk-factors (list)"),
]
CELLS = {
    "nitrous_oxide": ["yes", "no", "", None],
    "recent_b12_treatment": ["yes", "no", "", None],
    "pregnant": ["yes", "no", "", None],
    "symptoms": ["tremor; twitching", "none", "", None],
    "risk_factors": ["metformin, ppi", "none", "", "pernicious anaemia"],
}


@pytest.mark.parametrize(("key", "header"), HEADERS)
def test_context_column_names_are_recognised(key: str, header: str):
    """Every spelling of the issue; a bracket text on these columns is a description."""
    cells = CELLS[key]
    df = pd.DataFrame(
        {
            "b12": ["400 ng/L", "1500 ng/L", "250 ng/L", "400 ng/L"],
            "hcy": ["40 umol/L", None, None, "10 umol/L"],
            header: pd.Series(cells, dtype=object),
        }
    )
    out = interpret_frame(df)
    results = assert_rows_match(df, out, {"b12": "b12", "hcy": "hcy", key: header})
    # the column is used: the first row's patient context is what the cell says
    patient = results[0].patient
    first = {"nitrous_oxide": True, "recent_b12_treatment": True, "pregnant": True}
    if key in first:
        assert getattr(patient, key) is True
    else:
        assert getattr(patient, key)  # a non-empty list


def test_columns_mapping_accepts_the_context_keys():
    df = pd.DataFrame(
        {
            "B12": ["400 ng/L"] * 2,
            "Hcy": ["40 umol/L"] * 2,
            "laughing gas": ["ja", "yes"],
            "complaints": ["tremor", "none"],
            "treated": ["no", "no"],
            "rf": ["n2o", ""],
        }
    )
    mapping = {
        "nitrous_oxide": "laughing gas",
        "symptoms": "complaints",
        "recent_b12_treatment": "treated",
        "risk_factors": "rf",
    }
    out = interpret_frame(df, columns=mapping)
    assert_rows_match(df, out, {"b12": "B12", "hcy": "Hcy", **mapping})
    assert out["b12labs_error"].iat[0].startswith("invalid_value: nitrous_oxide: 'ja'")
    assert out["b12labs_status"].iat[1] == "deficiency_likely"


# ----------------------------------------------------------------------------- yes/no cells

YES_NO_CELLS = ["yes", "no", "Y", "N", "TRUE", "false", "1", "0", "1.0", "", " Yes ", "n/a"]


@pytest.mark.parametrize("header", ["N2O exposure", "on B12", "Pregnant"])
@pytest.mark.parametrize(
    "dtype", ["object", "string[pyarrow]", "bool", "boolean", "float64", "Int64", "numeric-text"]
)
def test_yes_no_spellings_and_dtypes(header: str, dtype: str):
    cells: list[Any]
    if dtype in ("object", "string[pyarrow]"):
        cells = YES_NO_CELLS
    elif dtype == "bool":
        cells = [True, False, True, False]
    elif dtype == "boolean":
        cells = [True, False, None, True]
    elif dtype == "numeric-text":
        cells, dtype = ["1.0", "0.0", "1", "0", None], "object"
    else:
        cells = [1, 0, None, 1] if dtype == "Int64" else [1.0, 0.0, np.nan, 1.0]
    n = len(cells)
    df = pd.DataFrame(
        {
            "b12": (["400 ng/L", "1500 ng/L"] * n)[:n],
            "hcy": ([None, "40 umol/L"] * n)[:n],
            "sex": ["female"] * n,
            header: pd.Series(cells, dtype=dtype),
        }
    )
    key = {"N2O exposure": "nitrous_oxide", "on B12": "recent_b12_treatment"}.get(
        header, "pregnant"
    )
    out = interpret_frame(df)
    assert_rows_match(df, out, {"b12": "b12", "hcy": "hcy", "sex": "sex", key: header})
    assert (out["b12labs_error"] == "").all()


@pytest.mark.parametrize("cell", ["maybe", "2", "ja", 2, 0.5])
def test_an_unreadable_yes_no_cell_is_the_panel_error(cell: Any):
    df = pd.DataFrame(
        {"b12": ["400 ng/L"] * 2, "N2O exposure": pd.Series([cell, "yes"], dtype=object)}
    )
    out = interpret_frame(df)
    with pytest.raises(b12labs.InvalidValueError) as info:
        b12labs.Panel(nitrous_oxide=cell)
    assert out["b12labs_error"].iat[0] == f"invalid_value: {info.value.message}"
    assert out["b12labs_error"].iat[1] == ""
    assert_rows_match(df, out, {"b12": "b12", "nitrous_oxide": "N2O exposure"})


# ----------------------------------------------------------------------------- code lists

LIST_CELLS = [
    "tremor; twitching",
    "metformin, ppi",
    "none",
    "None",
    "",
    None,
    "N/A",
    "fatigue",
    "Pins and needles , sore tongue",
    "tremor;",
]


@pytest.mark.parametrize("dtype", ["object", "string[pyarrow]", "category"])
def test_symptom_and_risk_lists(dtype: str):
    symptoms = [c if c != "metformin, ppi" else "cramps, numbness" for c in LIST_CELLS]
    risks = [c if c != "tremor; twitching" else "n2o; vegan" for c in LIST_CELLS]
    risks[7:] = ["pernicious anaemia", "Coeliac disease , ppi", "nitrous_oxide;"]
    n = len(LIST_CELLS)
    df = pd.DataFrame(
        {
            "b12": ["400 ng/L"] * n,
            "Symptoms": pd.Series(symptoms, dtype=dtype),
            "Risk factors": pd.Series(risks, dtype=dtype),
        }
    )
    out = interpret_frame(df)
    results = assert_rows_match(
        df, out, {"b12": "b12", "symptoms": "Symptoms", "risk_factors": "Risk factors"}
    )
    # the issue: blank = unknown, 'none' = none reported, codes = some reported
    assert results[0].patient.symptoms == ("tremor", "fasciculations")
    assert results[2].patient.symptoms == ()
    assert results[4].patient.symptoms is None
    assert results[0].patient.risk_factors == ("nitrous_oxide", "vegan_or_vegetarian")
    # NICE: testing is advised with a symptom and a risk factor
    assert "nice_testing_criteria_met" in results[0].finding_codes
    # the risk factor nitrous_oxide counts as exposure (decision-spec 7.0), as the flag does
    assert "nitrous_oxide_b12_not_reassuring" in results[0].finding_codes
    # pernicious anaemia with symptoms and a normal B12: antibody interference (7.2 step 4)
    assert out["b12labs_status"].iat[7] == "borderline"
    assert "normal_b12_antibody_interference" in results[7].finding_codes


def test_an_unknown_code_is_a_row_error_naming_it_and_the_accepted_codes():
    df = pd.DataFrame(
        {
            "b12": ["400 ng/L", "400 ng/L", "150 ng/L", "400 ng/L"],
            "Symptoms": ["tremor; shaking", "tremor", "", "shaking; tremor"],
            "Risk factors": ["", "statins", "ppi", ""],
        }
    )
    out = interpret_frame(df)
    assert_rows_match(
        df, out, {"b12": "b12", "symptoms": "Symptoms", "risk_factors": "Risk factors"}
    )
    first = out["b12labs_error"].iat[0]
    assert first.startswith("invalid_value: symptoms: 'shaking' is not recognised")
    assert all(code in first for code in SYMPTOM_CODES)
    second = out["b12labs_error"].iat[1]
    assert "'statins'" in second
    assert all(code in second for code in RISK_CODES)
    # other rows go on
    assert out["b12labs_error"].iat[2] == ""
    assert out["b12labs_status"].iat[2] == "deficiency_likely"
    assert out["b12labs_error"].iat[3] == first  # same message, same bad code
    with pytest.raises(b12labs.InvalidValueError, match="'shaking'"):
        interpret_frame(df, errors="raise")


def test_python_list_cells_are_read_like_panel():
    cells = [["tremor", "twitching"], [], None, ["shaking"], "fatigue", np.nan]
    df = pd.DataFrame({"b12": ["400 ng/L"] * 6, "symptoms": pd.Series(cells, dtype=object)})
    out = interpret_frame(df)
    results = assert_rows_match(df, out, {"b12": "b12", "symptoms": "symptoms"})
    assert results[0].patient.symptoms == ("tremor", "fasciculations")
    assert results[1].patient.symptoms == ()
    assert isinstance(results[3], b12labs.InvalidValueError)


@pytest.mark.parametrize("cells", [[1.0, np.nan], [True, False]])
def test_numbers_or_booleans_in_a_list_column_are_the_panel_error(cells: list[Any]):
    df = pd.DataFrame({"b12": ["400 ng/L"] * 2, "Risk factors": cells})
    out = interpret_frame(df)
    assert_rows_match(df, out, {"b12": "b12", "risk_factors": "Risk factors"})
    assert out["b12labs_error"].iat[0].startswith("invalid_value: risk_factors: ")


def test_arrow_list_column_through_the_table_core():
    from b12labs._table import score_table

    columns = {
        "b12": pa.array(["400 ng/L", "400 ng/L", "400 ng/L"]),
        "hcy": pa.array(["40 umol/L", None, None]),
        "risk_factors": pa.array([["n2o"], [], None], type=pa.list_(pa.string())),
    }
    from b12labs._vector import STATUSES

    scored = score_table(list(columns), columns.__getitem__, 3)
    expected = [
        b12labs.interpret(b12="400 ng/L", hcy="40 umol/L", risk_factors=["n2o"]).status,
        b12labs.interpret(b12="400 ng/L", risk_factors=[]).status,
        b12labs.interpret(b12="400 ng/L").status,
    ]
    assert [STATUSES[s] for s in scored.result.status] == expected
    assert expected[0] == "deficiency_likely"


# ----------------------------------------------------------------------------- error order


def test_a_row_with_several_problems_reports_the_panel_error():
    """Panel's field order: markers, age, sex, pregnant, egfr, creatinine, symptoms,
    risk_factors, recent_b12_treatment, nitrous_oxide; then pregnant-and-male."""
    df = pd.DataFrame(
        {
            "b12": ["400 ng/L", "400 ng/L", "400 ng/L", "400 ng/L", "abc"],
            "sex": ["x", "male", "male", "female", "female"],
            "pregnant": ["no", "yes", "yes", "no", "no"],
            "symptoms": ["shaking", "shaking", "", "", "shaking"],
            "risk_factors": ["statins", "statins", "", "statins", ""],
            "on B12": ["maybe", "", "maybe", "maybe", ""],
            "N2O": ["maybe", "", "", "maybe", ""],
        }
    )
    out = interpret_frame(df)
    keys = {k: k for k in ("b12", "sex", "pregnant", "symptoms", "risk_factors")}
    assert_rows_match(df, out, {**keys, "recent_b12_treatment": "on B12", "nitrous_oxide": "N2O"})
    fields = [e.split(": ")[1] for e in out["b12labs_error"]]
    assert fields == ["sex", "symptoms", "recent_b12_treatment", "risk_factors", "b12"]


# ----------------------------------------------------------------------------- header units


def test_age_in_months_changes_the_mma_limit():
    """780 months = 65 years: nice-ng239's MMA limit is 0.46 umol/L from 65, 0.40 before."""
    df = pd.DataFrame({"mma": ["0.44 umol/L"] * 3, "Age (months)": [780, 779, None]})
    out = interpret_frame(df)
    assert out["b12labs_mma_category"].astype(str).tolist() == ["normal", "elevated", "elevated"]
    assert b12labs.interpret(mma="0.44 umol/L", age=65).markers["mma"].category == "normal"
    assert_rows_match(df, out, {"mma": "mma", "age": "Age (months)"}, {"age": (1.0, 12.0)})


def test_egfr_in_ml_per_s_is_converted():
    """0.9 mL/s/1.73 m2 = 54 mL/min/1.73 m2: renal impairment (below 60)."""
    df = pd.DataFrame({"b12": ["400 ng/L"] * 2, "eGFR (mL/s)": ["0.9", 1.5]})
    out = interpret_frame(df)
    assert out["b12labs_egfr"].tolist() == pytest.approx([54.0, 90.0])
    findings = codes(out["b12labs_findings"].iat[0])
    assert "renal_impairment" in findings
    assert "renal_impairment" not in codes(out["b12labs_findings"].iat[1])
    assert_rows_match(df, out, {"b12": "b12", "egfr": "eGFR (mL/s)"}, {"egfr": (60.0, 1.0)})


@pytest.mark.parametrize(("unit", "factor"), [*AGE_UNITS.items()])
def test_age_header_units(unit: str, factor: tuple[float, float]):
    header = f"Age ({unit})" if unit else "Age"
    cells = [780.0, "3400", 40, None, "old", 1e6, "24"]
    df = pd.DataFrame({"mma": ["0.44 umol/L"] * len(cells), header: pd.Series(cells, dtype=object)})
    out = interpret_frame(df)
    assert_rows_match(df, out, {"mma": "mma", "age": header}, {"age": factor})


@pytest.mark.parametrize(("unit", "factor"), [*EGFR_UNITS.items()])
def test_egfr_header_units(unit: str, factor: tuple[float, float]):
    header = f"eGFR [{unit}]" if unit else "eGFR"
    cells = [0.9, "1.0", 59.9, None, "low", 5.0]
    df = pd.DataFrame({"b12": ["250 ng/L"] * len(cells), header: pd.Series(cells, dtype=object)})
    out = interpret_frame(df)
    assert_rows_match(df, out, {"b12": "b12", "egfr": header}, {"egfr": factor})


@pytest.mark.parametrize(
    ("header", "unit"),
    [
        ("Age (mins)", "mins"),
        ("Age (m)", "m"),  # minutes, metres or months: never guessed
        ("age [decades]", "decades"),
        ("eGFR (CKD-EPI)", "CKD-EPI"),
        ("eGFR (mL/min/m2)", "mL/min/m2"),
        ("egfr (umol/L)", "umol/L"),
    ],
)
def test_an_unknown_header_unit_is_a_column_error(header: str, unit: str):
    df = pd.DataFrame({"b12": ["400 ng/L"], header: [40]})
    before = df.copy()
    with pytest.raises(ColumnError) as info:
        interpret_frame(df)
    message = str(info.value)
    assert repr(header) in message
    assert repr(unit) in message
    key = "age" if header.lower().startswith("age") else "egfr"
    accepted = ("years", "months", "weeks", "days") if key == "age" else ("mL/min/1.73m2",)
    assert all(a in message for a in accepted), message
    assert info.value.analyte == key
    pd.testing.assert_frame_equal(df, before)
    # the same column mapped explicitly: the header unit still counts
    with pytest.raises(ColumnError):
        interpret_frame(df, columns={key: header})


def test_header_unit_factors_are_pints_definitions():
    """The table's factors are the definitions pint (and UCUM) give these units."""
    import pint

    from b12labs._table import _HEADER_UNITS

    ureg = pint.UnitRegistry()
    age = {"years": "year", "months": "month", "weeks": "week", "days": "day"}
    for name, (multiplier, divisor) in _HEADER_UNITS["age"].items():
        expected = ureg.Quantity(1.0, age[name]).to("year").magnitude
        assert multiplier / divisor == pytest.approx(expected, rel=1e-12), name
    multiplier, divisor = _HEADER_UNITS["egfr"]["mL/s/1.73m2"]
    per_s = ureg.Quantity(1.0, "mL/s").to("mL/min").magnitude
    assert multiplier / divisor == pytest.approx(per_s, rel=1e-12)
    assert _HEADER_UNITS["egfr"]["mL/min/1.73m2"] == (1.0, 1.0)


# ----------------------------------------------------------------------------- properties

N2O_HEADERS = ("N2O exposure", "nitrous_oxide", "Nitrous oxide", "N2O (yes/no)")
TREATMENT_HEADERS = ("on B12", "Recent B12 treatment", "recent_b12_treatment")
SYMPTOM_HEADERS = ("Symptoms", "symptoms")
RISK_HEADERS = ("Risk factors", "risk_factors")
GOOD_FLAGS = ("yes", "no", "Y", "n", "TRUE", "false", "1", "0", "1.0", "", " yes ", None, "N/A")
BAD_FLAGS = ("maybe", "2")
SYMPTOM_WORDS = (*SYMPTOM_CODES, "twitching", "pins and needles", "Tingling", "cramps")
RISK_WORDS = (*RISK_CODES, "ppi", "n2o", "pernicious anaemia", "Vegan", "Crohn's disease")
MARKER_CELLS = {
    "b12": ("120 ng/L", "250 ng/L", "400 ng/L", "1500 ng/L", "<150 ng/L", None),
    "holotc": ("20 pmol/L", "50 pmol/L", "90 pmol/L", None),
    "mma": ("0.3 umol/L", "0.44 umol/L", "0.6 umol/L", "1.2 umol/L", "150 umol/L", None),
    "hcy": ("10 umol/L", "20 umol/L", "40 umol/L", None),
    "folate": ("5 nmol/L", "20 nmol/L", None),
}


@st.composite
def code_text(draw: st.DrawFn, words: tuple[str, ...], clean: bool) -> Any:
    kind = draw(st.sampled_from(("codes", "codes", "none", "blank") + (() if clean else ("bad",))))
    if kind == "none":
        return draw(st.sampled_from(("none", "None", " NONE ")))
    if kind == "blank":
        return draw(st.sampled_from(("", None, "N/A", "unknown")))
    items = draw(st.lists(st.sampled_from(words), min_size=1, max_size=3))
    if kind == "bad":
        items.insert(draw(st.integers(0, len(items))), draw(st.sampled_from(("shaking", "x"))))
    separator = draw(st.sampled_from(("; ", ", ", ";", ",")))
    return separator.join(items)


@st.composite
def context_frames(draw: st.DrawFn) -> tuple[Any, dict[str, str], dict[str, Any]]:
    n = draw(st.integers(1, 12))
    clean = draw(st.booleans())
    markers = draw(st.lists(st.sampled_from(sorted(MARKER_CELLS)), min_size=1, unique=True))
    columns: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for key in markers:
        columns[key] = [draw(st.sampled_from(MARKER_CELLS[key])) for _ in range(n)]
        keys[key] = key
    age_unit = draw(st.sampled_from(sorted(AGE_UNITS)))
    age_header = f"Age ({age_unit})" if age_unit else "age"
    multiplier, divisor = AGE_UNITS[age_unit]
    # clean frames: no junk, nothing out of range, no pregnant man (every row interpreted)
    years = st.floats(0, 130 if clean else 135).map(lambda y: y * divisor / multiplier)
    age_cells = st.one_of(years, st.sampled_from((None, "65") if clean else (None, "old")))
    columns[age_header] = [draw(age_cells) for _ in range(n)]
    keys["age"] = age_header
    egfr_unit = draw(st.sampled_from(sorted(EGFR_UNITS)))
    egfr_header = f"eGFR ({egfr_unit})" if egfr_unit else "egfr"
    multiplier, divisor = EGFR_UNITS[egfr_unit]
    per_min = st.floats(0, 250 if clean else 260).map(lambda e: e * divisor / multiplier)
    egfr_cells = st.one_of(per_min, st.sampled_from((None, "0.9", "55") + ("low",) * (not clean)))
    columns[egfr_header] = [draw(egfr_cells) for _ in range(n)]
    keys["egfr"] = egfr_header
    sexes = ("female", None) if clean else ("female", "male", None)
    columns["sex"] = [draw(st.sampled_from(sexes)) for _ in range(n)]
    keys["sex"] = "sex"
    flag_cells = GOOD_FLAGS if clean else GOOD_FLAGS + BAD_FLAGS
    for key, headers in (
        ("nitrous_oxide", N2O_HEADERS),
        ("recent_b12_treatment", TREATMENT_HEADERS),
        ("pregnant", ("Pregnant", "pregnant")),
    ):
        header = draw(st.sampled_from(headers))
        mode = draw(st.sampled_from(("text", "bool", "number")))
        if mode == "text":
            columns[header] = [draw(st.sampled_from(flag_cells)) for _ in range(n)]
        elif mode == "bool":
            columns[header] = pd.Series([draw(st.booleans()) for _ in range(n)], dtype=bool)
        else:
            values = st.sampled_from((0.0, 1.0, np.nan) if clean else (0.0, 1.0, np.nan, 2.0))
            columns[header] = pd.Series([draw(values) for _ in range(n)], dtype=float)
        keys[key] = header
    for key, headers, words in (
        ("symptoms", SYMPTOM_HEADERS, SYMPTOM_WORDS),
        ("risk_factors", RISK_HEADERS, RISK_WORDS),
    ):
        header = draw(st.sampled_from(headers))
        columns[header] = [draw(code_text(words, clean)) for _ in range(n)]
        keys[key] = header
    order = draw(st.permutations(list(columns)))
    df = pd.DataFrame({name: columns[name] for name in order})
    for name in order:
        cells = columns[name]
        text = isinstance(cells, list) and all(c is None or isinstance(c, str) for c in cells)
        if text and draw(st.booleans()):
            df[name] = pd.Series(cells, dtype="string[pyarrow]")
    units = {"age": AGE_UNITS[age_unit], "egfr": EGFR_UNITS[egfr_unit]}
    return df, keys, units


@settings(max_examples=150)
@given(case=context_frames(), profile=st.sampled_from(PROFILES))
def test_every_row_with_context_columns_equals_interpret(case: Any, profile: str):
    df, keys, units = case
    before = df.copy(deep=True)
    out = interpret_frame(df, profile=profile)
    pd.testing.assert_frame_equal(df, before)
    assert list(out.columns[: df.shape[1]]) == list(df.columns)
    assert_rows_match(df, out, keys, units, profile)


# ----------------------------------------------------------------------------- rules version


def test_rules_version_column_and_attrs():
    df = pd.DataFrame({"b12": ["400 ng/L", "abc"], "Symptoms": ["tremor", "shaking"]})
    df.attrs["source"] = "lab export"
    out = interpret_frame(df, profile="mayo-cascade")
    assert out["b12labs_rules_version"].tolist() == [2, 2]  # error rows too: it is the run's
    assert out["b12labs_rules_version"].dtype.kind == "i"
    provenance = out.attrs["b12labs"]
    single = b12labs.interpret(b12="400 ng/L", profile="mayo-cascade")
    assert provenance == {
        "rules_version": single.rules_version,
        "profile_id": single.profile_id,
        "profile_version": single.profile_version,
        "library_version": single.library_version,
        "schema_version": single.schema_version,
    }
    assert out.attrs["source"] == "lab export"
    assert df.attrs == {"source": "lab export"}  # the input's attrs are untouched


# ----------------------------------------------------------------------------- hardening
# Issue 10: a context cell interpret() refuses is refused in a batch, with interpret()'s error.


def panel_error(**kwargs: Any) -> str:
    """``b12labs_error`` of a row whose scalar call raises: "<reason>: <message>"."""
    with pytest.raises(B12LabsError) as info:
        b12labs.interpret(**kwargs)
    code = next(c for c, cls in ERROR_CODES.items() if cls is type(info.value))
    return f"{code}: {info.value.message}"


def test_a_boolean_sex_column_is_refused_not_read_as_male_and_female():
    # it used to read True as male and False as female, and compute an eGFR with them
    df = pd.DataFrame(
        {"b12": ["150 pmol/L"] * 2, "creatinine": ["1 mg/dL"] * 2, "age": [50, 50],
         "sex": [True, False]}
    )  # fmt: skip
    out = interpret_frame(df)
    assert out["b12labs_error"].tolist() == [panel_error(sex=True), panel_error(sex=False)]
    assert out["b12labs_egfr"].isna().all()


@pytest.mark.parametrize(
    ("key", "cells"),
    [
        ("sex", [b"f", "m"]),
        ("pregnant", [b"yes", "no"]),
        ("nitrous_oxide", [bytearray(b"1"), "0"]),
        ("age", [b"50", "50"]),
        ("egfr", [complex(50, 0), 50]),
        ("pregnant", [complex(1, 0), True]),
        ("symptoms", [b"tremor", "tremor"]),
        ("risk_factors", [{"vegan": True}, "vegan"]),
    ],
)
@pytest.mark.parametrize("whole", [False, True], ids=["mixed", "whole-column"])
def test_context_cells_interpret_refuses(key: str, cells: list[Any], whole: bool):
    if whole:
        cells = [cells[0], cells[0]]
    df = pd.DataFrame({"b12": ["150 pmol/L"] * 2, key: pd.Series(cells, dtype=object)})
    out = interpret_frame(df)
    assert out["b12labs_error"].iloc[0] == panel_error(b12="150 pmol/L", **{key: cells[0]})
    if not whole:
        assert out["b12labs_error"].iloc[1] == ""


@pytest.mark.parametrize("key", ["sex", "pregnant", "symptoms"])
def test_arrow_binary_context_columns_are_refused(key: str):
    from b12labs._table import score_table

    table = pa.table({"b12": pa.array(["150 pmol/L"] * 2), key: pa.array([b"f", None])})
    names = table.schema.names
    scored = score_table(names, lambda label: table.column(names.index(label)), 2)
    errors = {name: (values, cats) for name, values, cats in scored.columns()}
    values, categories = errors["b12labs_error"]
    assert categories[values[0]] == panel_error(b12="150 pmol/L", **{key: b"f"})
    assert categories[values[1]] == ""


def test_text_that_is_not_valid_unicode_in_a_code_list_is_a_row_error():
    df = pd.DataFrame({"b12": ["150 pmol/L"] * 2})
    df["symptoms"] = pd.Series(["tremor", "\ud800"], dtype=object)
    out = interpret_frame(df)
    assert out["b12labs_error"].tolist() == ["", panel_error(symptoms="\ud800")]
