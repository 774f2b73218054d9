"""Results over time in batch: ``b12labs.pandas.interpret_series_frame`` and
``b12labs.arrow.interpret_series_table`` give every row exactly what
``b12labs.interpret_series`` gives that patient's rows (decision-spec section 8)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import b12labs
from b12labs import ColumnError, InvalidValueError, interpret_series

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

from b12labs.arrow import interpret_series_table  # noqa: E402
from b12labs.pandas import interpret_frame, interpret_series_frame  # noqa: E402

D0 = dt.date(2024, 1, 10)
MARKERS = ("b12", "holotc", "mma", "hcy", "folate")


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def cell(frame: Any, row: int, column: str) -> Any:
    value = frame[column].iloc[row]
    if hasattr(value, "item"):  # numpy scalars (np.True_, np.int64) as Python values
        value = value.item()
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def check_rows_match_the_series(
    frame: Any, out: Any, *, patient: str | None, started: Any = None, route: Any = None
) -> None:
    """Every row of ``out`` holds what interpret_series gives its patient's rows."""
    groups = frame.groupby(patient, sort=False).groups if patient else {None: frame.index}
    for pid, index in groups.items():
        rows = [frame.index.get_loc(i) for i in index]
        points = []
        for row in rows:
            panel = {k: cell(frame, row, k) for k in frame.columns if k in (*MARKERS, "age")}
            if "on_b12" in frame.columns:
                panel["recent_b12_treatment"] = cell(frame, row, "on_b12")
            points.append((cell(frame, row, "date"), panel))
        start = started.get(pid) if isinstance(started, dict) else started
        way = route.get(pid) if isinstance(route, dict) else route
        result = interpret_series(points, treatment_started=start, treatment_route=way)
        by_date = {p.collected: p for p in result.points}
        for row in rows:
            collected = dt.date.fromisoformat(cell(frame, row, "date"))
            point = by_date[collected]
            got = out.iloc[row]
            assert got["b12labs_error"] == "", got["b12labs_error"]
            assert got["b12labs_status"] == point.interpretation.status.value
            assert got["b12labs_findings"] == ";".join(point.interpretation.finding_codes)
            assert got["b12labs_next_steps"] == ";".join(point.interpretation.next_step_codes)
            assert bool(got["b12labs_series_on_treatment"]) is point.on_treatment
            for key in MARKERS:
                ending = [c for c in result.changes_of(key) if c.end == collected]
                if not ending:
                    assert math.isnan(got[f"b12labs_{key}_change_pct"])
                    assert pd.isna(got[f"b12labs_{key}_change_verdict"])
                    continue
                (change,) = ending
                assert got[f"b12labs_{key}_change_pct"] == change.percent_change
                assert got[f"b12labs_{key}_change_direction"] == change.direction.value
                assert got[f"b12labs_{key}_change_verdict"] == change.verdict.value
                significant = got[f"b12labs_{key}_change_significant"]
                if change.significant is None:
                    assert pd.isna(significant)
                else:
                    assert bool(significant) is change.significant
            codes: list[str] = []
            for finding in result.findings:
                if finding.dates[-1] == collected and finding.code not in codes:
                    codes.append(finding.code)
            assert got["b12labs_series_findings"] == ";".join(codes)


# ----------------------------------------------------------------------------- properties

TEXTS = {
    "b12": [None, "80 pmol/L", "<100 pmol/L", "150 pmol/L", "300 pg/mL", "650 pmol/L"],
    "holotc": [None, "20 pmol/L", "45 pmol/L", "90 pmol/L"],
    "mma": [None, "0.2 umol/L", "<0.1 umol/L", "0.45 umol/L", "900 nmol/L"],
    "hcy": [None, "9 umol/L", "16 umol/L", ">50 umol/L"],
    "folate": [None, "5 nmol/L", "20 nmol/L"],
}


@st.composite
def long_frames(draw: st.DrawFn) -> tuple[Any, dict[Any, Any], dict[Any, Any]]:
    rows: list[dict[str, Any]] = []
    started: dict[Any, Any] = {}
    route: dict[Any, Any] = {}
    treatment_column = draw(st.booleans())
    for pid in draw(st.lists(st.sampled_from(["p1", "p2", "p3"]), unique=True, min_size=1)):
        offsets = draw(st.lists(st.integers(0, 300), min_size=1, max_size=5, unique=True))
        for offset in offsets:
            row = {"patient": pid, "date": day(offset).isoformat()}
            row |= {k: draw(st.sampled_from(v)) for k, v in TEXTS.items()}
            row["age"] = draw(st.sampled_from([None, 45, 70]))
            if treatment_column:
                row["on_b12"] = draw(st.sampled_from([None, True, False]))
            rows.append(row)
        if draw(st.booleans()):
            started[pid] = day(draw(st.integers(-20, 320)))
            route[pid] = draw(st.sampled_from([None, "oral", "injection"]))
    order = draw(st.permutations(range(len(rows))))
    frame = pd.DataFrame([rows[i] for i in order])
    frame.index = [f"r{i}" for i in range(len(frame))]
    return frame, started, route


@given(data=long_frames())
def test_each_row_is_interpret_series_of_its_patient(data: Any):
    frame, started, route = data
    before = frame.copy()
    out = interpret_series_frame(
        frame, patient="patient", treatment_started=started, treatment_route=route
    )
    pd.testing.assert_frame_equal(frame, before)  # the input is never modified
    assert list(out.index) == list(frame.index)
    check_rows_match_the_series(frame, out, patient="patient", started=started, route=route)


@given(data=long_frames())
def test_the_arrow_form_gives_the_same_columns(data: Any):
    frame, started, route = data
    frame = frame.reset_index(drop=True)
    from_pandas = interpret_series_frame(
        frame, patient="patient", treatment_started=started, treatment_route=route
    )
    table = interpret_series_table(
        pa.Table.from_pandas(frame, preserve_index=False),
        patient="patient",
        treatment_started=started,
        treatment_route=route,
    )
    assert table.column_names == list(from_pandas.columns)
    for name in table.column_names:
        if not name.startswith("b12labs_"):
            continue
        arrow = table.column(name).to_pylist()
        expected = [None if pd.isna(v) else v for v in from_pandas[name].astype(object)]
        if name.endswith(("_findings", "_next_steps", "_error")) and name != "b12labs_error":
            arrow = [v if v != "" else None for v in arrow]
            expected = [v if v != "" else None for v in expected]
        assert arrow == expected, name


def test_without_a_treatment_start_the_points_are_interpret_frame():
    frame = pd.DataFrame(
        {
            "patient": ["a", "a", "b"],
            "date": ["2024-01-10", "2024-03-10", "2024-01-10"],
            "b12": ["150 pmol/L", "300 pmol/L", "<100 pmol/L"],
            "MMA (umol/L)": [0.52, 0.3, None],
            "age": [70, 70, 50],
        }
    )
    out = interpret_series_frame(frame, patient="patient")
    plain = interpret_frame(frame)
    pd.testing.assert_frame_equal(out[plain.columns], plain, check_like=False)


# ----------------------------------------------------------------------------- arguments


def test_treatment_start_as_a_column_a_mapping_or_a_value():
    frame = pd.DataFrame(
        {
            "patient": ["a", "a", "b", "b"],
            "date": ["2024-01-10", "2024-05-10", "2024-01-10", "2024-05-10"],
            "mma": ["0.6 umol/L", "0.6 umol/L", "0.6 umol/L", "0.6 umol/L"],
            "started": ["2024-01-10", None, None, None],
        }
    )
    by_column = interpret_series_frame(frame, patient="patient", treatment_started="started")
    by_mapping = interpret_series_frame(
        frame, patient="patient", treatment_started={"a": dt.date(2024, 1, 10)}
    )
    assert by_column["b12labs_series_findings"].tolist() == [
        "",
        "no_biochemical_response_at_review",
        "",
        "",
    ]
    cols = [c for c in by_mapping.columns if c.startswith("b12labs_")]
    pd.testing.assert_frame_equal(by_column[cols], by_mapping[cols])
    one = frame[frame["patient"] == "a"].drop(columns="started")
    by_value = interpret_series_frame(one, patient=None, treatment_started="2024-01-10")
    assert by_value["b12labs_series_on_treatment"].tolist() == [False, True]


def test_a_recent_treatment_column_is_set_after_the_start():
    frame = pd.DataFrame(
        {
            "date": ["2024-01-10", "2024-02-10", "2024-03-10"],
            "b12": ["900 pmol/L", "900 pmol/L", "900 pmol/L"],
            "on B12": ["no", "no", "maybe"],
        }
    )
    out = interpret_series_frame(frame, patient=None, treatment_started="2024-01-20")
    assert out["b12labs_status"].iloc[0] == "not_indicated"
    assert out["b12labs_status"].iloc[1] == "insufficient_data"  # on treatment (rules 2, step 3)
    assert "recent_b12_treatment" in out["b12labs_findings"].iloc[1]
    assert out["b12labs_error"].iloc[2].startswith("invalid_value: recent_b12_treatment")


def test_date_column_is_found_by_name():
    frame = pd.DataFrame({"Collection date": ["2024-01-10"], "b12": ["150 pmol/L"]})
    out = interpret_series_frame(frame, patient=None)
    assert out["b12labs_status"].iloc[0] == "borderline"
    with pytest.raises(ColumnError, match="date"):
        interpret_series_frame(frame.rename(columns={"Collection date": "when"}), patient=None)
    two = frame.assign(collected=["2024-01-10"])
    with pytest.raises(ColumnError, match="choose one"):
        interpret_series_frame(two, patient=None)
    assert interpret_series_frame(two, patient=None, date="collected").shape[0] == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"patient": "who"}, ColumnError),
        ({"patient": "patient", "date": "when"}, ColumnError),
        ({"patient": "patient", "treatment_started": "no such column"}, ColumnError),
        ({"patient": "patient", "treatment_route": "no such column"}, ColumnError),
        ({"patient": None, "treatment_started": {"a": "2024-01-01"}}, TypeError),
        ({"patient": "patient", "treatment_route": {"a": "sublingual"}}, InvalidValueError),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception]):
    frame = pd.DataFrame({"patient": ["a"], "date": ["2024-01-10"], "b12": ["150 pmol/L"]})
    with pytest.raises(error):
        interpret_series_frame(frame, **kwargs)


def test_interpret_series_frame_needs_a_dataframe():
    with pytest.raises(TypeError, match="DataFrame"):
        interpret_series_frame({"date": []}, patient=None)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- row errors


def test_row_errors():
    frame = pd.DataFrame(
        {
            "patient": ["a", "a", "b", "b", "c", None, "d", "d"],
            "date": ["2024-01-10", "2024-01-10", "2024-01-10", "10/02/2024", "2024-01-10",
                     "2024-01-10", "2024-01-10", None],
            "b12": ["150 pmol/L", "160 pmol/L", "150 pmol/L", "150 pmol/L", "3 foo",
                    "150 pmol/L", "150 pmol/L", "150 pmol/L"],
        }
    )  # fmt: skip
    out = interpret_series_frame(frame, patient="patient")
    errors = out["b12labs_error"].tolist()
    # patient a: two rows on one date -> every row of a
    assert errors[0] == errors[1]
    assert "2 rows dated 2024-01-10" in errors[0]
    # patient b: a date that is not ISO -> that row; the other row of b is a series of one
    assert errors[2] == ""
    assert "never guesses the order of day and month" in errors[3]
    # patient c: its own input error (unit), as interpret_frame says
    assert errors[4] == interpret_frame(frame.iloc[[4]])["b12labs_error"].iloc[0]
    assert "no patient id" in errors[5]
    assert errors[6] == ""
    assert "no collection date" in errors[7]
    bad = [i for i, e in enumerate(errors) if e]
    assert out["b12labs_status"].iloc[bad].isna().all()
    assert out["b12labs_series_on_treatment"].iloc[bad].isna().all()
    assert out["b12labs_series_findings"].iloc[bad].isna().all()
    assert out["b12labs_b12_value"].iloc[bad].isna().all()
    with pytest.raises(InvalidValueError, match=r"row 0: date: patient 'a' has 2 rows"):
        interpret_series_frame(frame, patient="patient", errors="raise")


def test_different_treatment_starts_for_one_patient_are_an_error():
    frame = pd.DataFrame(
        {
            "patient": ["a", "a"],
            "date": ["2024-01-10", "2024-05-10"],
            "mma": ["0.6 umol/L", "0.3 umol/L"],
            "started": ["2024-01-10", "2024-02-01"],
        }
    )
    out = interpret_series_frame(frame, patient="patient", treatment_started="started")
    assert out["b12labs_error"].str.contains("different values").all()


def test_error_rows_take_no_part_in_the_series():
    frame = pd.DataFrame(
        {
            "date": ["2024-01-10", "2024-02-10", "2024-03-10"],
            "b12": ["100 pmol/L", "3 foo", "130 pmol/L"],
        }
    )
    out = interpret_series_frame(frame, patient=None)
    # the third row is compared with the first: +30%, beyond the B12 RCV of 23.4%
    assert out["b12labs_b12_change_pct"].iloc[2] == pytest.approx(30.0)
    assert bool(out["b12labs_b12_change_significant"].iloc[2]) is True


# ----------------------------------------------------------------------------- arrow


def test_arrow_schema_and_reader():
    table = pa.table(
        {
            "patient": ["a", "a"],
            "date": pa.array([dt.date(2024, 1, 10), dt.date(2024, 5, 10)], pa.date32()),
            "mma": ["3850 nmol/L", "169 nmol/L"],
            "hcy": ["37.2 umol/L", "10.6 umol/L"],
        }
    )
    out = interpret_series_table(table, patient="patient", treatment_started={"a": D0})
    schema = out.schema
    assert schema.field("b12labs_series_on_treatment").type == pa.bool_()
    assert schema.field("b12labs_mma_change_pct").type == pa.float64()
    assert schema.field("b12labs_mma_change_significant").type == pa.bool_()
    assert schema.field("b12labs_series_findings").type == pa.string()
    verdict = schema.field("b12labs_mma_change_verdict")
    assert b12labs.arrow.categories(verdict) == (
        "significant",
        "not_significant",
        "not_proven",
        "rcv_not_available",
    )
    assert out.column("b12labs_series_findings").to_pylist() == ["", "biochemical_response"]
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))
    again = interpret_series_table(reader, patient="patient", treatment_started={"a": D0})
    assert again.equals(out)
    timestamps = table.set_column(
        1, "date", pa.array([dt.datetime(2024, 1, 10, 9), dt.datetime(2024, 5, 10, 23, 59)])
    )
    assert (
        interpret_series_table(timestamps, patient="patient", treatment_started={"a": D0})
        .column("b12labs_series_findings")
        .equals(out.column("b12labs_series_findings"))
    )


def test_dates_of_any_column_type_and_unusable_patient_ids():
    frame = pd.DataFrame(
        {
            "patient": ["a", "a", ["x"]],
            "collected": pd.to_datetime(
                ["2024-01-10 08:00", "2024-03-10 23:59", "2024-01-10 00:00"]
            ),
            "b12": ["100 pmol/L", "130 pmol/L", "100 pmol/L"],
        }
    )
    out = interpret_series_frame(frame, patient="patient")
    assert out["b12labs_b12_change_pct"].iloc[1] == pytest.approx(30.0)
    assert "cannot be a patient id" in out["b12labs_error"].iloc[2]
