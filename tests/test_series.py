"""Results over time (``b12labs.interpret_series``): decision-spec section 8.

Expected values are written out from the sources, never read back from b12labs. The reference
change values (RCV, 95%, two-sided) are those of domain-facts.md, "Follow-up and change over
time": total B12 ±23.4% and folate ±31.4% (Cokluk, Clin Lab 2021); MMA -17.7% / +21.0% and
homocysteine -16.2% / +19.4% (Scand J Clin Lab Invest 2019;79:247); holoTC: none. The
treatment review is at 3 months, read as 90 days (decision-spec 8; NASGP 2024, secondary).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import b12labs
from b12labs import (
    ChangeDirection,
    ChangeVerdict,
    DatedPanel,
    InvalidValueError,
    Panel,
    SeriesInterpretation,
    interpret_series,
)
from b12labs._series import series_catalog
from conftest import ROOT

D0 = dt.date(2024, 1, 10)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def pair(analyte: str, first: str, second: str, days: int = 30, **kwargs: Any) -> Any:
    return interpret_series([(day(0), {analyte: first}), (day(days), {analyte: second})], **kwargs)


def only_change(result: SeriesInterpretation, analyte: str) -> b12labs.SeriesChange:
    (change,) = result.changes_of(analyte)
    return change


# ----------------------------------------------------------------------------- RCV boundaries

# (analyte, first, second, significant): a change strictly beyond the RCV of its direction is
# significant; one just inside it is not (domain-facts: B12 ±23.4%, folate ±31.4%, MMA -17.7% /
# +21.0%, homocysteine -16.2% / +19.4%).
RCV_CASES = [
    ("b12", "100 pmol/L", "123.3 pmol/L", False),  # +23.3%
    ("b12", "100 pmol/L", "123.5 pmol/L", True),  # +23.5%
    ("b12", "100 pmol/L", "123.4 pmol/L", False),  # +23.4%: equal to the RCV, not beyond it
    ("b12", "100 pmol/L", "76.7 pmol/L", False),  # -23.3%
    ("b12", "100 pmol/L", "76.5 pmol/L", True),  # -23.5%
    ("b12", "400 pg/mL", "493.6 pg/mL", False),  # +23.4% in pg/mL: the unit changes nothing
    ("mma", "1.000 umol/L", "0.824 umol/L", False),  # -17.6%
    ("mma", "1.000 umol/L", "0.822 umol/L", True),  # -17.8%
    ("mma", "1000 nmol/L", "822 nmol/L", True),  # -17.8% in nmol/L
    ("mma", "1.000 umol/L", "1.209 umol/L", False),  # +20.9%
    ("mma", "1.000 umol/L", "1.211 umol/L", True),  # +21.1%
    ("hcy", "10.00 umol/L", "11.93 umol/L", False),  # +19.3%
    ("hcy", "10.00 umol/L", "11.95 umol/L", True),  # +19.5%
    ("hcy", "10.00 umol/L", "8.39 umol/L", False),  # -16.1%
    ("hcy", "10.00 umol/L", "8.37 umol/L", True),  # -16.3%
    ("folate", "10.00 nmol/L", "13.13 nmol/L", False),  # +31.3%
    ("folate", "10.00 nmol/L", "13.15 nmol/L", True),  # +31.5%
    ("folate", "10.00 nmol/L", "6.87 nmol/L", False),  # -31.3%
    ("folate", "10.00 nmol/L", "6.85 nmol/L", True),  # -31.5%
]


@pytest.mark.parametrize(
    ("analyte", "first", "second", "significant"),
    [pytest.param(*c, id=f"{c[0]}:{c[1]}->{c[2]}") for c in RCV_CASES],
)
def test_change_against_the_rcv(analyte: str, first: str, second: str, significant: bool):
    change = only_change(pair(analyte, first, second), analyte)
    assert change.significant is significant
    assert change.verdict is (
        ChangeVerdict.SIGNIFICANT if significant else ChangeVerdict.NOT_SIGNIFICANT
    )
    assert change.bound is False
    assert change.rcv is not None


@pytest.mark.parametrize(
    ("analyte", "decrease", "increase", "source"),
    [
        ("b12", 23.4, 23.4, "cokluk-2021"),
        ("folate", 31.4, 31.4, "cokluk-2021"),
        ("mma", 17.7, 21.0, "bv-mma-hcy-2019"),
        ("hcy", 16.2, 19.4, "bv-mma-hcy-2019"),
    ],
)
@pytest.mark.parametrize("profile", b12labs.list_profiles())
def test_shipped_rcvs_are_the_cited_numbers(
    profile: str, analyte: str, decrease: float, increase: float, source: str
):
    rcv = getattr(b12labs.get_profile(profile).rcv, analyte)
    assert (rcv.decrease, rcv.increase, rcv.source) == (decrease, increase, source)
    citation = b12labs.get_profile(profile).sources[source].citation
    assert "abstract" in citation
    assert b12labs.get_profile(profile).rcv.holotc is None  # no published RCV


def test_change_fields_are_computed_from_the_values():
    change = only_change(pair("mma", "0.50 umol/L", "400 nmol/L", days=45), "mma")
    assert (change.start, change.end, change.days) == (day(0), day(45), 45)
    assert change.unit == "umol/L"
    assert (change.start_value, change.end_value) == (0.5, pytest.approx(0.4))
    assert change.absolute_change == pytest.approx(-0.1)
    assert change.percent_change == pytest.approx(-20.0)
    assert change.direction is ChangeDirection.DECREASE
    assert change.significant is True  # -20% is beyond -17.7%
    assert change.rcv is not None
    assert (change.rcv.decrease, change.rcv.increase) == (17.7, 21.0)
    assert change.rcv.source == "bv-mma-hcy-2019"
    assert "Scand J Clin Lab Invest 2019;79:247" in change.rcv.citation


def test_equal_results_are_unchanged_and_not_significant():
    change = only_change(pair("b12", "200 pg/mL", "200 ng/L"), "b12")  # the same value
    assert change.direction is ChangeDirection.UNCHANGED
    assert change.percent_change == pytest.approx(0.0)
    assert change.significant is False


# ----------------------------------------------------------------------------- censored pairs

# (analyte, first, second, direction or None when no change is given, verdict)
CENSORED = [
    # B12 400 then <100: every value below 100 is a fall of more than 75% (RCV 23.4%)
    ("b12", "400 pmol/L", "<100 pmol/L", ChangeDirection.DECREASE, ChangeVerdict.SIGNIFICANT),
    # 120 then <100: a fall of at least 16.7%, which may or may not pass 23.4%
    ("b12", "120 pmol/L", "<100 pmol/L", ChangeDirection.DECREASE, ChangeVerdict.NOT_PROVEN),
    # both below a bound: the direction is not proven, so no change at all
    ("b12", "<100 pmol/L", "<80 pmol/L", None, None),
    ("b12", "<100 pmol/L", "90 pmol/L", None, None),
    # <=100 then 100: may be equal; <100 then 100: a rise, of at least 0%
    ("b12", "<=100 pmol/L", "100 pmol/L", None, None),
    ("b12", "<100 pmol/L", "100 pmol/L", ChangeDirection.INCREASE, ChangeVerdict.NOT_PROVEN),
    # >2000 then 1500 pmol/L: a fall of more than 25% (beyond 23.4%)
    ("b12", ">2000 pmol/L", "1500 pmol/L", ChangeDirection.DECREASE, ChangeVerdict.SIGNIFICANT),
    ("b12", ">2000 pmol/L", ">3000 pmol/L", None, None),
    ("b12", ">2000 pmol/L", ">1000 pmol/L", None, None),
    # MMA <0.10 then 0.50: a rise of more than 400% (RCV +21.0%)
    ("mma", "<0.10 umol/L", "0.50 umol/L", ChangeDirection.INCREASE, ChangeVerdict.SIGNIFICANT),
    # homocysteine >50 then <10: a fall of more than 80%
    ("hcy", ">50 umol/L", "<10 umol/L", ChangeDirection.DECREASE, ChangeVerdict.SIGNIFICANT),
]


@pytest.mark.parametrize(
    ("analyte", "first", "second", "direction", "verdict"),
    [pytest.param(*c, id=f"{c[0]}:{c[1]}->{c[2]}") for c in CENSORED],
)
def test_censored_values_give_a_change_only_when_the_bound_proves_the_direction(
    analyte: str,
    first: str,
    second: str,
    direction: ChangeDirection | None,
    verdict: ChangeVerdict | None,
):
    result = pair(analyte, first, second)
    changes = result.changes_of(analyte)
    if direction is None:
        assert changes == ()
        assert "significant_change" not in result.finding_codes
        return
    (change,) = changes
    assert change.direction is direction
    assert change.verdict is verdict
    assert change.bound is True
    assert change.significant is (True if verdict is ChangeVerdict.SIGNIFICANT else None)


def test_a_censored_change_is_computed_from_its_bound():
    change = only_change(pair("b12", "400 pmol/L", "<100 pmol/L"), "b12")
    assert (change.start_value, change.end_value) == (400, 100)
    assert change.end_censor == "<"
    assert change.percent_change == pytest.approx(-75.0)  # the real fall is larger


def test_flagged_mma_takes_no_part_in_changes():
    # MMA above 100 umol/L is flagged (decision-spec 7.0: likely a unit slip), so not compared
    result = pair("mma", "0.30 umol/L", "300 umol/L")
    assert result.changes_of("mma") == ()


# ----------------------------------------------------------------------------- input forms


def test_point_forms_are_equivalent():
    forms: list[list[Any]] = [
        [DatedPanel(collected=day(0), panel=Panel(b12="150 pmol/L")),
         DatedPanel(collected=day(30), panel=Panel(b12="250 pmol/L"))],
        [(day(0), Panel(b12="150 pmol/L")), (day(30), {"b12": "250 pmol/L"})],
        [{"collected": "2024-01-10", "b12": "150 pmol/L"},
         {"collected": dt.datetime(2024, 2, 9, 8, 30), "b12": "250 pmol/L"}],
        [{"collected": day(0), "panel": {"b12": "150 pmol/L"}},
         {"collected": day(30), "panel": Panel(b12="250 pmol/L")}],
    ]  # fmt: skip
    results = [interpret_series(points) for points in forms]
    assert all(r == results[0] for r in results)
    assert [p.collected for p in results[0].points] == [day(0), day(30)]


def test_unsorted_input_is_sorted():
    points = [
        (day(60), {"b12": "300 pmol/L"}),
        (day(0), {"b12": "150 pmol/L"}),
        (day(30), {"b12": "200 pmol/L"}),
    ]
    result = interpret_series(points)
    assert [p.collected for p in result.points] == [day(0), day(30), day(60)]
    consecutive = result.changes_of("b12")
    assert [(c.start, c.end) for c in consecutive] == [(day(0), day(30)), (day(30), day(60))]
    (overall,) = result.changes_of("b12", "first_to_last")
    assert (overall.start, overall.end) == (day(0), day(60))
    assert overall.percent_change == pytest.approx(100.0)


def test_two_results_of_one_analyte_on_one_date_are_an_error_naming_them():
    points = [
        (day(0), {"b12": "150 pmol/L"}),
        (day(30), {"mma": "0.3 umol/L"}),
        (day(0), {"b12": "180 pmol/L", "mma": "0.4 umol/L"}),
    ]
    with pytest.raises(InvalidValueError) as info:
        interpret_series(points)
    message = str(info.value)
    assert info.value.analyte == "b12"
    assert "2024-01-10" in message
    assert "positions 0 and 2" in message
    assert "'150 pmol/L'" in message
    assert "'180 pmol/L'" in message


def test_panels_of_one_date_with_different_markers_are_one_point():
    result = interpret_series(
        [(day(0), {"b12": "150 pmol/L", "age": 70}), (day(0), {"mma": "0.52 umol/L"})]
    )
    (point,) = result.points
    assert point.interpretation == b12labs.interpret(b12="150 pmol/L", mma="0.52 umol/L", age=70)


def test_two_different_context_values_on_one_date_are_an_error():
    with pytest.raises(InvalidValueError, match="age"):
        interpret_series([(day(0), {"b12": "150 pmol/L", "age": 70}), (day(0), {"age": 71})])


@pytest.mark.parametrize(
    ("points", "error"),
    [
        ([{"b12": "150 pmol/L"}], InvalidValueError),  # no collection date
        ([(day(0), {"b12": "150 pmol/L"}, "extra")], TypeError),
        ([("01/02/2024", {"b12": "150 pmol/L"})], InvalidValueError),  # not ISO: never guessed
        ([(day(0), 42)], InvalidValueError),
        ("2024-01-10", TypeError),
        (DatedPanel(collected=D0, panel=Panel()), TypeError),
    ],
)
def test_bad_points_are_refused(points: Any, error: type[Exception]):
    with pytest.raises(error):
        interpret_series(points)


def test_bad_treatment_arguments_are_refused():
    with pytest.raises(InvalidValueError, match="treatment_route"):
        interpret_series([(day(0), {"b12": "150 pmol/L"})], treatment_route="sublingual")
    with pytest.raises(InvalidValueError, match="treatment_started"):
        interpret_series([(day(0), {"b12": "150 pmol/L"})], treatment_started="yesterday")


def test_an_empty_series_has_no_points():
    result = interpret_series([])
    assert (result.points, result.changes, result.findings) == ((), (), ())


# ----------------------------------------------------------------------------- treatment


SERIES = [
    (day(0), {"b12": "150 pmol/L", "mma": "0.60 umol/L"}),
    (day(60), {"b12": "400 pmol/L", "mma": "0.30 umol/L"}),
    (day(120), {"b12": "450 pmol/L", "mma": "0.25 umol/L"}),
]


@pytest.mark.parametrize(
    ("started", "on_treatment"),
    [
        pytest.param(day(-10), [True, True, True], id="before every point"),
        pytest.param(day(0), [False, True, True], id="on the day of the first (baseline)"),
        pytest.param(day(30), [False, True, True], id="between the first two"),
        pytest.param(day(90), [False, False, True], id="between the last two"),
        pytest.param(day(150), [False, False, False], id="after every point"),
    ],
)
def test_a_point_after_the_treatment_start_counts_as_recent_treatment(
    started: dt.date, on_treatment: list[bool]
):
    result = interpret_series(SERIES, treatment_started=started)
    assert [p.on_treatment for p in result.points] == on_treatment
    for point, on in zip(result.points, on_treatment, strict=True):
        assert point.interpretation.patient.recent_b12_treatment is (True if on else None)
        codes = point.interpretation.finding_codes
        assert ("recent_b12_treatment" in codes) is on


def test_an_explicit_recent_treatment_before_the_start_is_kept():
    points = [(day(0), {"b12": "900 pmol/L", "recent_b12_treatment": True})]
    result = interpret_series(points, treatment_started=day(10))
    assert result.points[0].on_treatment is False
    assert result.points[0].interpretation.patient.recent_b12_treatment is True


@pytest.mark.parametrize(
    ("started", "response"),
    [
        (day(-10), False),  # no result before treatment: no baseline
        (day(0), True),  # the first result is the baseline
        (day(30), True),
        (day(90), False),  # the only later result is 0.25 after 0.30: -16.7%, not beyond 17.7%
        (day(150), False),  # no result after treatment
    ],
)
def test_biochemical_response_needs_treatment_started_between_two_points(
    started: dt.date, response: bool
):
    result = interpret_series(SERIES, treatment_started=started)
    assert ("biochemical_response" in result.finding_codes) is response


def test_kuzminski_1998_means_give_a_biochemical_response():
    # Kuzminski, Blood 1998;92:1191 (domain-facts): after four months of oral B12 2 mg/day,
    # MMA fell from 3850 to 169 nmol/L and homocysteine from 37.2 to 10.6 umol/L.
    result = interpret_series(
        [
            (day(0), {"mma": "3850 nmol/L", "hcy": "37.2 umol/L"}),
            (day(122), {"mma": "169 nmol/L", "hcy": "10.6 umol/L"}),
        ],
        treatment_started=day(0),
        treatment_route="oral",
    )
    response = [f for f in result.findings if f.code == "biochemical_response"]
    assert [f.analyte for f in response] == ["mma", "hcy"]
    assert all(f.dates == (day(0), day(122)) for f in response)
    # (169 - 3850) / 3850 = -95.6%; (10.6 - 37.2) / 37.2 = -71.5%
    assert only_change(result, "mma").percent_change == pytest.approx(-95.61, abs=0.01)
    assert only_change(result, "hcy").percent_change == pytest.approx(-71.51, abs=0.01)
    assert "fell by 95.6%" in response[0].message
    assert "went from markedly elevated to normal" in response[0].message
    # the falls are the response, not "other" significant changes
    assert "significant_change" not in result.finding_codes
    assert "no_biochemical_response_at_review" not in result.finding_codes


def test_elevated_to_normal_without_a_significant_fall_is_a_response():
    # MMA 0.45 -> 0.39 umol/L is -13.3% (within -17.7%) but elevated (> 0.40) -> normal
    result = pair("mma", "0.45 umol/L", "0.39 umol/L", days=60, treatment_started=day(0))
    assert only_change(result, "mma").significant is False
    (finding,) = result.findings
    assert finding.code == "biochemical_response"
    assert "went from elevated to normal" in finding.message


@pytest.mark.parametrize("route", ["injection", "oral", None])
def test_unchanged_mma_120_days_after_treatment_is_no_response_at_review(route: str | None):
    result = pair("mma", "0.60 umol/L", "0.60 umol/L", days=120, treatment_started=day(0),
                  treatment_route=route)  # fmt: skip
    (finding,) = result.findings
    assert finding.code == "no_biochemical_response_at_review"
    assert finding.analyte == "mma"
    assert finding.dates == (day(0), day(120))
    assert "120 days into treatment" in finding.message
    assert "adherence" in finding.message


@pytest.mark.parametrize(("days", "expected"), [(89, False), (90, True), (91, True)])
def test_the_review_is_from_90_days_after_the_start(days: int, expected: bool):
    result = pair("hcy", "30 umol/L", "29 umol/L", days=days, treatment_started=day(0))
    assert ("no_biochemical_response_at_review" in result.finding_codes) is expected


def test_no_response_needs_a_raised_baseline():
    result = pair("mma", "0.30 umol/L", "0.30 umol/L", days=120, treatment_started=day(0))
    assert result.findings == ()


def test_a_response_at_review_is_not_a_failure():
    result = pair("mma", "0.60 umol/L", "0.30 umol/L", days=120, treatment_started=day(0))
    assert result.finding_codes == ("biochemical_response",)


def test_b12_retested_on_injections():
    points = [
        (day(0), {"b12": "120 pmol/L"}),
        (day(30), {"b12": "900 pmol/L"}),
        (day(90), {"b12": "1100 pmol/L"}),
    ]
    injections = interpret_series(points, treatment_started=day(0), treatment_route="injection")
    retests = [f for f in injections.findings if f.code == "b12_retested_on_injections"]
    assert [f.dates for f in retests] == [(day(30),), (day(90),)]
    assert "of little use" in retests[0].message
    oral = interpret_series(points, treatment_started=day(0), treatment_route="oral")
    assert "b12_retested_on_injections" not in oral.finding_codes
    unknown = interpret_series(points, treatment_started=day(0))
    assert "b12_retested_on_injections" not in unknown.finding_codes


# ----------------------------------------------------------------------------- other findings


def test_significant_change_names_the_analyte_and_direction():
    result = pair("folate", "20 nmol/L", "8 nmol/L")
    (finding,) = result.findings
    assert finding.code == "significant_change"
    assert finding.analyte == "folate"
    assert finding.message.startswith("Folate fell by 60.0% between 2024-01-10 and 2024-02-09")
    assert "±31.4%" in finding.message
    rise = pair("hcy", "10 umol/L", "15 umol/L").findings[0]
    assert rise.message.startswith("Homocysteine rose by 50.0%")


def test_holotc_changes_have_no_verdict():
    result = pair("holotc", "30 pmol/L", "90 pmol/L")  # +200%
    change = only_change(result, "holotc")
    assert change.verdict is ChangeVerdict.RCV_NOT_AVAILABLE
    assert change.significant is None
    assert change.rcv is None
    assert result.finding_codes == ("rcv_not_available",)
    assert result.findings[0].analyte == "holotc"


def test_first_to_last_is_judged_too():
    # B12 100 -> 115 -> 130: +15% and +13% each (not significant), +30% overall (significant)
    result = interpret_series(
        [(day(0), {"b12": "100 pmol/L"}), (day(30), {"b12": "115 pmol/L"}),
         (day(60), {"b12": "130 pmol/L"})]
    )  # fmt: skip
    assert [c.significant for c in result.changes_of("b12")] == [False, False]
    (overall,) = result.changes_of("b12", "first_to_last")
    assert overall.significant is True
    (finding,) = result.findings
    assert (finding.code, finding.dates) == ("significant_change", (day(0), day(60)))


def test_a_laboratory_profile_replaces_the_rcvs():
    lab = b12labs.load_profile(
        {
            "id": "mylab-series",
            "version": "1",
            "title": "My laboratory",
            "base": "nice-ng239",
            "sources": {"mylab": {"citation": "My laboratory's own biological variation data."}},
            "rcv": {
                "b12": {"decrease": 10, "increase": 10, "source": "mylab"},
                "holotc": {"decrease": 20, "increase": 25, "source": "mylab"},
            },
        }
    )
    assert lab.rcv.mma == b12labs.get_profile("nice-ng239").rcv.mma  # inherited
    b12 = only_change(pair("b12", "100 pmol/L", "115 pmol/L", profile=lab), "b12")
    assert b12.significant is True  # +15% is beyond the laboratory's 10%
    assert b12.rcv is not None
    assert b12.rcv.source == "mylab"
    holotc = only_change(pair("holotc", "40 pmol/L", "52 pmol/L", profile=lab), "holotc")
    assert holotc.significant is True  # +30% beyond +25%
    assert (
        "rcv_not_available"
        not in pair("holotc", "40 pmol/L", "52 pmol/L", profile=lab).finding_codes
    )


@pytest.mark.parametrize(
    ("rcv", "words"),
    [
        ({"decrease": 100, "increase": 20, "source": "mylab"}, "decrease"),
        ({"decrease": -5, "increase": 20, "source": "mylab"}, "decrease"),
        ({"decrease": 5, "increase": float("inf"), "source": "mylab"}, "increase"),
        ({"decrease": 5, "increase": 20, "source": "nowhere"}, "nowhere"),
        ({"decrease": 5, "increase": 20, "source": "mylab", "evidnce": "x"}, "evidnce"),
    ],
)
def test_invalid_rcvs_are_refused(rcv: dict[str, Any], words: str):
    data = {
        "id": "mylab-series",
        "version": "1",
        "title": "My laboratory",
        "base": "nice-ng239",
        "sources": {"mylab": {"citation": "My laboratory."}},
        "rcv": {"mma": rcv},
    }
    with pytest.raises(b12labs.InvalidProfileError, match=words):
        b12labs.load_profile(data)


def test_a_shipped_id_with_other_rcvs_is_refused():
    data = {
        "id": "nice-ng239",
        "version": "1.0",
        "title": "NICE, our RCVs",
        "base": "nice-ng239",
        "sources": {"mylab": {"citation": "My laboratory."}},
        "rcv": {"b12": {"decrease": 10, "increase": 10, "source": "mylab"}},
    }
    with pytest.raises(b12labs.InvalidProfileError, match=r"rcv\.b12"):
        b12labs.load_profile(data)


# ----------------------------------------------------------------------------- results


def test_result_records_versions_and_round_trips_through_json():
    result = pair("mma", "0.6 umol/L", "0.3 umol/L", days=100, treatment_started=day(0),
                  treatment_route="oral")  # fmt: skip
    assert result.rules_version == 2
    assert result.schema_version == b12labs._version.SCHEMA_VERSION
    assert result.library_version == b12labs.__version__
    assert (result.profile_id, result.profile_version) == ("nice-ng239", "1.0")
    text = result.model_dump_json()
    assert SeriesInterpretation.model_validate_json(text) == result
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(json.loads(text), b12labs.series_json_schema())
    assert b12labs.series_json_schema()["$id"].endswith("/series.json")


def test_report_shows_changes_and_verdicts():
    text = pair("b12", "100 pmol/L", "130 pmol/L").report()
    assert "rose by 30.0%: significant; RCV ±23.4% (cokluk-2021)" in text
    assert "[significant_change]" in text
    assert text.endswith("Decision support, not a diagnosis.")


def test_series_codes_have_sentences_in_the_docs():
    codes = series_catalog()
    assert set(codes) == {
        "biochemical_response",
        "no_biochemical_response_at_review",
        "b12_retested_on_injections",
        "significant_change",
        "rcv_not_available",
    }
    doc = (ROOT / "docs" / "codes.md").read_text("utf-8")
    for code, message in codes.items():
        assert f"| `{code}` | {message} |" in doc, code


# ----------------------------------------------------------------------------- properties

MARKER_TEXTS = {
    "b12": st.sampled_from(["80 pmol/L", "<100 pmol/L", "150 pmol/L", "300 pg/mL", "650 pmol/L",
                            ">1500 pmol/L"]),
    "holotc": st.sampled_from(["20 pmol/L", "45 pmol/L", "90 pmol/L"]),
    "mma": st.sampled_from(["0.2 umol/L", "<0.1 umol/L", "0.45 umol/L", "900 nmol/L"]),
    "hcy": st.sampled_from(["9 umol/L", "16 umol/L", ">50 umol/L"]),
    "folate": st.sampled_from(["5 nmol/L", "20 nmol/L"]),
}  # fmt: skip


@st.composite
def panels(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(MARKER_TEXTS)), unique=True, max_size=4))
    panel: dict[str, Any] = {k: draw(MARKER_TEXTS[k]) for k in keys}
    if draw(st.booleans()):
        panel["age"] = draw(st.integers(18, 90))
    if draw(st.booleans()):
        panel["recent_b12_treatment"] = draw(st.booleans())
    return panel


@st.composite
def series_points(draw: st.DrawFn) -> list[tuple[dt.date, dict[str, Any]]]:
    offsets = draw(st.lists(st.integers(0, 400), min_size=1, max_size=6, unique=True))
    return [(day(o), draw(panels())) for o in offsets]


treatments = st.one_of(st.none(), st.integers(-30, 430).map(day))
routes = st.sampled_from([None, "oral", "injection"])


@given(points=series_points(), started=treatments, route=routes)
def test_input_order_changes_nothing(points: list[Any], started: Any, route: Any):
    forward = interpret_series(points, treatment_started=started, treatment_route=route)
    backward = interpret_series(points[::-1], treatment_started=started, treatment_route=route)
    assert forward == backward


@given(panel=panels(), profile=st.sampled_from(b12labs.list_profiles()))
def test_a_one_point_series_is_interpret(panel: dict[str, Any], profile: str):
    result = interpret_series([(D0, panel)], profile=profile)
    (point,) = result.points
    assert point.interpretation == b12labs.interpret(panel, profile=profile)
    assert result.changes == ()
    assert result.findings == ()


@given(points=series_points(), started=treatments, route=routes)
def test_every_change_and_finding_is_consistent(points: list[Any], started: Any, route: Any):
    result = interpret_series(points, treatment_started=started, treatment_route=route)
    dates = [p.collected for p in result.points]
    assert dates == sorted(dates)
    for change in result.changes:
        assert change.start < change.end
        assert change.days == (change.end - change.start).days
        assert (change.significant is None) == (
            change.verdict in (ChangeVerdict.NOT_PROVEN, ChangeVerdict.RCV_NOT_AVAILABLE)
        )
        if change.direction is ChangeDirection.INCREASE:
            assert change.percent_change >= 0
        elif change.direction is ChangeDirection.DECREASE:
            assert change.percent_change <= 0
    for finding in result.findings:
        assert finding.message
        assert "{" not in finding.message
        assert set(finding.dates) <= set(dates)
