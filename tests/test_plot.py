"""Figures (``b12labs.plot``): what is drawn, not only that a file is written.

Expected positions are computed here from the sources' numbers (the profile thresholds as
published, the molar mass of cobalamin 1355.37 g/mol), never read back from b12labs.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import b12labs

pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
pytest.importorskip("b12labs.pandas")

from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from b12labs import plot  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
B12_MOLAR_MASS = 1355.37  # g/mol, cyanocobalamin as used by laboratories


def ng_per_l_to_pmol_per_l(value: float) -> float:
    """B12 in ng/L (= pg/mL) to pmol/L: (value ng/L) / (M g/mol) = value / M nmol/L."""
    return value * 1000.0 / B12_MOLAR_MASS


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9)


# ----------------------------------------------------------------------------- helpers


def by_gid(fig: Figure, gid: str) -> Any:
    found = fig.findobj(lambda artist: artist.get_gid() == gid)
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def reference_bars(fig: Figure) -> list[Any]:
    (ax,) = fig.axes
    containers = [c for c in ax.containers if isinstance(c, BarContainer)]
    return [patch for container in containers for patch in container.patches]


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000


QUICKSTART = {
    "b12": "150 pmol/L",
    "mma": "0.52 umol/L",
    "hcy": "12 umol/L",
    "age": 70,
    "sex": "female",
    "egfr": 78,
    "symptoms": ["tremor", "muscle_cramps"],
    "risk_factors": ["metformin"],
}
ALL_FIVE = {
    "b12": "200 pg/mL",
    "holotc": "30 pmol/L",
    "mma": "520 nmol/L",
    "hcy": "12 umol/L",
    "folate": "8 nmol/L",
    "age": 70,
}


# ----------------------------------------------------------------------------- panel


def test_panel_renders_png_with_title_naming_status_and_profile(tmp_path: Path) -> None:
    result = b12labs.interpret(**QUICKSTART)
    assert result.status is b12labs.Status.DEFICIENCY_LIKELY  # the README's example
    fig = plot.panel(result)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_title() == "deficiency_likely — nice-ng239 1.0"
    fig.savefig(tmp_path / "panel.png")
    assert_png(tmp_path / "panel.png")


@pytest.mark.parametrize("profile", b12labs.list_profiles())
def test_panel_title_names_other_profiles(profile: str) -> None:
    result = b12labs.interpret(b12="300 pmol/L", profile=profile)
    title = plot.panel(result).axes[0].get_title()
    assert title.startswith(f"{result.status.value} — ")
    assert title.endswith(f"{profile} {b12labs.get_profile(profile).version}")


@pytest.mark.parametrize(
    "markers",
    [
        {"b12": "150 pmol/L"},
        {"mma": "0.2 umol/L", "hcy": "9 umol/L"},
        {"b12": "150 pmol/L", "mma": "0.52 umol/L", "hcy": "12 umol/L"},
        {k: v for k, v in ALL_FIVE.items() if k != "age"},
    ],
    ids=["b12", "mma+hcy", "three", "all-five"],
)
def test_panel_draws_one_bar_per_marker_present(markers: dict[str, str]) -> None:
    result = b12labs.interpret(**markers)
    fig = plot.panel(result)
    bars = reference_bars(fig)
    assert len(bars) == len(result.markers) == len(markers)
    assert [bar.get_gid() for bar in bars] == [f"b12labs-reference-{k}" for k in result.markers]
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    # one labelled row per marker, top to bottom in result order
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(markers)
    for label, marker in zip(labels, result.markers.values(), strict=True):
        assert f"({marker.unit})" in label
        assert marker.reference_interval.text in label


def test_panel_without_markers_draws_no_bar() -> None:
    result = b12labs.interpret(age=50)
    fig = plot.panel(result)
    assert reference_bars(fig) == []
    assert fig.axes[0].get_title() == "insufficient_data — nice-ng239 1.0"


def test_panel_reference_bars_are_the_intervals_in_canonical_units() -> None:
    result = b12labs.interpret(**ALL_FIVE)
    fig = plot.panel(result)
    (ax,) = fig.axes
    x_min, x_max = ax.get_xlim()
    expected = {
        # NICE: normal B12 is > 350 and <= 914 ng/L, given in ng/L, drawn in pmol/L
        "b12": (ng_per_l_to_pmol_per_l(350), ng_per_l_to_pmol_per_l(914)),
        "holotc": (70.0, x_max),  # > 70 pmol/L, open above
        "mma": (x_min, 0.46),  # <= 0.46 umol/L from age 65, open below
        "hcy": (x_min, 15.0),
        "folate": (6.8, x_max),
    }
    assert result.markers["b12"].reference_interval.unit == "ng/L"  # a unit conversion is due
    for key, (left, right) in expected.items():
        bar = by_gid(fig, f"b12labs-reference-{key}")
        assert bar.get_x() == approx(left), key
        assert bar.get_x() + bar.get_width() == approx(right), key


def test_panel_marks_each_value_at_its_canonical_value_with_its_category() -> None:
    result = b12labs.interpret(**ALL_FIVE)
    fig = plot.panel(result)
    expected = {
        "b12": (ng_per_l_to_pmol_per_l(200), "indeterminate"),  # 200 pg/mL = 147.6 pmol/L
        "holotc": (30.0, "indeterminate"),
        "mma": (0.52, "elevated"),  # 520 nmol/L
        "hcy": (12.0, "normal"),
        "folate": (8.0, "normal"),
    }
    for row, (key, (value, category)) in enumerate(expected.items()):
        point = by_gid(fig, f"b12labs-value-{key}")
        assert isinstance(point, Line2D)
        assert point.get_marker() == "o"
        assert list(point.get_xdata()) == [approx(value)]
        assert list(point.get_ydata()) == [row]
        label = by_gid(fig, f"b12labs-label-{key}")
        assert isinstance(label, Annotation)
        assert label.get_text().endswith(f": {category}")
        assert label.xy[0] == approx(value)  # above the value, on its row
        assert row - 0.5 < label.xy[1] <= row
        assert result.markers[key].category.value == category


@pytest.mark.parametrize(
    ("text", "marker", "value", "category"),
    [
        ("<100 pg/mL", "<", ng_per_l_to_pmol_per_l(100), "low"),
        ("<= 100 pg/mL", "<", ng_per_l_to_pmol_per_l(100), "low"),
        (">2000 pg/mL", ">", ng_per_l_to_pmol_per_l(2000), "above_reference"),
    ],
)
def test_panel_draws_censored_values_distinctly(
    text: str, marker: str, value: float, category: str
) -> None:
    result = b12labs.interpret(b12=text, mma="0.3 umol/L")
    fig = plot.panel(result)
    point = by_gid(fig, "b12labs-value-b12")
    assert point.get_marker() == marker
    assert list(point.get_xdata()) == [approx(value)]
    censor = result.markers["b12"].censor
    assert censor is not None
    label = by_gid(fig, "b12labs-label-b12").get_text()
    assert label.startswith(censor.value)
    assert label.endswith(f": {category}")
    assert point.get_label() == "censored result"
    assert by_gid(fig, "b12labs-value-mma").get_marker() == "o"  # the exact result


def zone(fig: Figure, key: str, category: str) -> tuple[float, float]:
    collection = by_gid(fig, f"b12labs-zone-{key}-{category}")
    (path,) = collection.get_paths()
    xs = path.vertices[:, 0]
    return float(xs.min()), float(xs.max())


def test_panel_shades_the_shipped_profile_zones() -> None:
    result = b12labs.interpret(b12="150 pmol/L", mma="0.52 umol/L", age=40)
    fig = plot.panel(result)
    (ax,) = fig.axes
    x_min, x_max = ax.get_xlim()
    low = ng_per_l_to_pmol_per_l(180)  # NICE: low below 180 ng/L = 132.8 pmol/L
    assert low == pytest.approx(132.8, abs=0.01)
    assert zone(fig, "b12", "low") == (approx(x_min), approx(low))
    assert zone(fig, "b12", "indeterminate") == (approx(low), approx(ng_per_l_to_pmol_per_l(350)))
    assert zone(fig, "b12", "above_reference") == (approx(ng_per_l_to_pmol_per_l(914)), x_max)
    # MMA under 65: elevated above 0.40, markedly elevated above 0.75 umol/L
    assert zone(fig, "mma", "elevated") == (approx(0.40), approx(0.75))
    assert zone(fig, "mma", "markedly_elevated") == (approx(0.75), approx(x_max))
    assert by_gid(fig, "b12labs-reference-mma").get_width() + x_min == approx(0.40)
    # from 65 the Danish interval applies: the zone and the bar move together
    older = plot.panel(b12labs.interpret(mma="0.52 umol/L", age=70))
    assert zone(older, "mma", "elevated") == (approx(0.46), approx(0.75))


def test_panel_converts_profile_thresholds_given_in_other_units() -> None:
    result = b12labs.interpret(b12="150 pmol/L", mma="0.3 umol/L", profile="labcorp-cascade")
    fig = plot.panel(result)
    low = ng_per_l_to_pmol_per_l(200)  # Labcorp: below 200 pg/mL
    assert zone(fig, "b12", "indeterminate") == (approx(low), approx(ng_per_l_to_pmol_per_l(400)))
    assert zone(fig, "mma", "elevated")[0] == approx(0.378)  # above 378 nmol/L


def test_panel_does_not_shade_a_laboratory_profile() -> None:
    own = b12labs.load_profile(
        {
            "id": "my-lab",
            "version": "2",
            "title": "My laboratory",
            "base": "nice-ng239",
            "b12": {"low": {"below": 100, "unit": "pmol/L", "source": "nice-ng239"}},
        }
    )
    result = b12labs.interpret(b12="150 pmol/L", mma="0.2 umol/L", profile=own)
    fig = plot.panel(result)
    assert fig.axes[0].get_title() == f"{result.status.value} — my-lab 2"
    assert len(reference_bars(fig)) == 2
    assert fig.findobj(lambda a: str(a.get_gid()).startswith("b12labs-zone-")) == []


def test_panel_draws_into_a_given_axes_and_returns_its_figure(tmp_path: Path) -> None:
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot.panel(b12labs.interpret(**QUICKSTART), ax=right) is fig
    assert left.get_title() == ""
    assert len(right.containers) == 1
    sub = Figure().subfigures(1, 2)[1]
    ax = sub.add_subplot()
    assert plot.panel(b12labs.interpret(b12="150 pmol/L"), ax=ax) is sub.figure
    fig.savefig(tmp_path / "axes.png")
    assert_png(tmp_path / "axes.png")


# ----------------------------------------------------------------------------- cohort


@pytest.fixture(scope="module")
def cohort_frame() -> Any:
    """A cohort with the statuses B12 and MMA give (deficiency likely, borderline, not
    indicated), a row lacking MMA, one lacking B12, and a row that cannot be interpreted."""
    b12 = [90, 120, 140, 180, 200, 250, 300, 400, 500, 700, 1000, 250, None, 300, 5]
    mma = [0.8, 0.5, 0.2, 0.6, 0.3, 0.45, 0.2, 0.15, 0.9, 0.5, 0.18, None, 0.4, 0.2, 0.2]
    ages = [70, 40, 55, 66, 30, 45, 81, 12, 60, 35, 50, 44, 62, 15, 40]
    df = pd.DataFrame({"b12": b12, "mma": mma, "age": ages})
    df.loc[14, "b12"] = 0.001  # implausible: an error row, no status
    return b12labs.interpret_frame(df, units={"b12": "pmol/L", "mma": "umol/L"})


def plotted_counts(scored: Any) -> dict[str, int]:
    both = scored["b12labs_b12_value"].notna() & scored["b12labs_mma_value"].notna()
    counts = scored.loc[both, "b12labs_status"].value_counts()
    return {str(status): int(n) for status, n in counts.items() if n > 0}


def scatter_collections(fig: Figure) -> dict[str, PathCollection]:
    (ax,) = fig.axes
    out = {}
    for collection in ax.collections:
        assert isinstance(collection, PathCollection)
        gid = collection.get_gid()
        assert gid is not None
        assert gid.startswith("b12labs-status-")
        out[gid.removeprefix("b12labs-status-")] = collection
    return out


def test_cohort_one_collection_per_status_with_its_rows(cohort_frame: Any, tmp_path: Path) -> None:
    scored = cohort_frame
    before = scored.copy()
    fig = plot.cohort(scored)
    pd.testing.assert_frame_equal(scored, before)
    fig.savefig(tmp_path / "cohort.png")
    assert_png(tmp_path / "cohort.png")

    expected = plotted_counts(scored)
    assert set(expected) == {"deficiency_likely", "borderline", "not_indicated"}
    collections = scatter_collections(fig)
    assert {k: len(c.get_offsets()) for k, c in collections.items()} == expected
    # the order of Status, one fixed colour each, points at the frame's values
    assert list(collections) == [s.value for s in b12labs.Status if s.value in expected]
    for status, collection in collections.items():
        (colour,) = collection.get_facecolors()
        assert tuple(colour[:3]) == pytest.approx(to_rgb(plot.STATUS_COLORS[status]))
        rows = scored[(scored["b12labs_status"] == status)].dropna(
            subset=["b12labs_b12_value", "b12labs_mma_value"]
        )
        points = sorted(map(tuple, collection.get_offsets().tolist()))
        assert points == sorted(
            zip(rows["b12labs_b12_value"], rows["b12labs_mma_value"], strict=True)
        )
    assert sum(expected.values()) == 12  # 15 rows: one lacks MMA, one B12, one is an error


def test_cohort_on_the_bundled_messy_export(tmp_path: Path) -> None:
    scored = b12labs.interpret_frame(pd.read_csv(ROOT / "examples" / "messy_export.csv"))
    fig = plot.cohort(scored, profile="nice-ng239")
    counts = {k: len(c.get_offsets()) for k, c in scatter_collections(fig).items()}
    assert counts == plotted_counts(scored)
    assert sum(counts.values()) > 0
    fig.savefig(tmp_path / "messy.png")
    assert_png(tmp_path / "messy.png")


# Thresholds as published: (B12 low, B12 indeterminate) in ng/L (= pg/mL) or pmol/L, and
# (MMA elevated, MMA markedly elevated) in umol/L.
PUBLISHED = {
    "nice-ng239": (ng_per_l_to_pmol_per_l(180), ng_per_l_to_pmol_per_l(350), 0.40, 0.75),
    "mayo-cascade": (ng_per_l_to_pmol_per_l(150), ng_per_l_to_pmol_per_l(400), 0.40, 0.75),
    "labcorp-cascade": (ng_per_l_to_pmol_per_l(200), ng_per_l_to_pmol_per_l(400), 0.378, 0.75),
    "population-survey": (148.0, 258.0, 0.271, 0.75),
}


@pytest.mark.parametrize("profile", sorted(PUBLISHED))
def test_cohort_threshold_lines_at_the_converted_profile_values(
    cohort_frame: Any, profile: str
) -> None:
    fig = plot.cohort(cohort_frame, profile=profile)
    b12_low, b12_indeterminate, mma_elevated, mma_markedly = PUBLISHED[profile]
    for name, at in (("low", b12_low), ("indeterminate", b12_indeterminate)):
        line = by_gid(fig, f"b12labs-b12-{name}")
        assert list(line.get_xdata()) == [approx(at)] * 2  # vertical
        assert list(line.get_ydata()) == [0, 1]
    for name, at in (("elevated", mma_elevated), ("markedly_elevated", mma_markedly)):
        line = by_gid(fig, f"b12labs-mma-{name}")
        assert list(line.get_ydata()) == [approx(at)] * 2  # horizontal
        assert list(line.get_xdata()) == [0, 1]
    (ax,) = fig.axes
    x_low, x_high = ax.get_xlim()
    y_low, y_high = ax.get_ylim()
    assert x_low < b12_low < b12_indeterminate < x_high  # every line in view
    assert y_low < mma_elevated < mma_markedly < y_high
    assert f"{profile} {b12labs.get_profile(profile).version}" in ax.get_title()


def test_cohort_draws_the_age_specific_mma_limit(cohort_frame: Any) -> None:
    # issue 10: only 0.40 umol/L was drawn, but under nice-ng239 the limit is 0.46 umol/L
    # from age 65 (Danish age-specific reference interval), which is how the frame was scored
    fig = plot.cohort(cohort_frame, profile="nice-ng239")
    default = by_gid(fig, "b12labs-mma-elevated")
    older = by_gid(fig, "b12labs-mma-elevated-from-65")
    assert list(default.get_ydata()) == [approx(0.40)] * 2
    assert list(older.get_ydata()) == [approx(0.46)] * 2
    assert list(older.get_xdata()) == [0, 1]  # horizontal, across the plot
    assert "under 65" in default.get_label()
    assert "65 and over" in older.get_label()
    assert "0.46" in older.get_label()
    assert older.get_linestyle() != default.get_linestyle()
    (ax,) = fig.axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert older.get_label() in legend
    assert default.get_label() in legend
    y_low, y_high = ax.get_ylim()
    assert y_low < 0.40 < 0.46 < y_high
    for profile in ("mayo-cascade", "labcorp-cascade", "population-survey"):  # no age limit
        other = plot.cohort(cohort_frame, profile=profile)
        assert (
            other.findobj(lambda a: str(a.get_gid()).startswith("b12labs-mma-elevated-from-")) == []
        )
        assert "under" not in by_gid(other, "b12labs-mma-elevated").get_label()


def test_cohort_nice_b12_low_line_is_132_8_pmol_per_l(cohort_frame: Any) -> None:
    line = by_gid(plot.cohort(cohort_frame), "b12labs-b12-low")
    assert line.get_xdata()[0] == pytest.approx(180 * 1000 / 1355.37)
    assert line.get_xdata()[0] == pytest.approx(132.8, abs=0.01)


def test_cohort_accepts_a_profile_object(cohort_frame: Any) -> None:
    own = b12labs.load_profile(
        {
            "id": "my-lab",
            "version": "1",
            "title": "My laboratory",
            "base": "nice-ng239",
            "mma": {"elevated": {"above": 350, "unit": "nmol/L", "source": "mayo-b12"}},
        }
    )
    fig = plot.cohort(cohort_frame, profile=own)
    assert by_gid(fig, "b12labs-mma-elevated").get_ydata()[0] == approx(0.35)
    assert "my-lab 1" in fig.axes[0].get_title()


@pytest.mark.parametrize("log", [True, False])
def test_cohort_log_axes(cohort_frame: Any, log: bool) -> None:
    (ax,) = plot.cohort(cohort_frame, log=log).axes
    scale = "log" if log else "linear"
    assert (ax.get_xscale(), ax.get_yscale()) == (scale, scale)
    assert ax.get_xlabel() == "B12 (pmol/L)"
    assert ax.get_ylabel() == "MMA (umol/L)"


def test_cohort_legend_names_every_status_present(cohort_frame: Any) -> None:
    (ax,) = plot.cohort(cohort_frame).axes
    legend = ax.get_legend()
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    for status, n in plotted_counts(cohort_frame).items():
        assert f"{status} (n={n})" in texts


def test_cohort_draws_into_a_given_axes(cohort_frame: Any) -> None:
    fig = Figure()
    ax = fig.add_subplot()
    assert plot.cohort(cohort_frame, ax=ax) is fig
    assert len(ax.collections) == len(plotted_counts(cohort_frame))


def test_cohort_without_rows_still_draws_the_thresholds(cohort_frame: Any, tmp_path: Path) -> None:
    fig = plot.cohort(cohort_frame.iloc[:0])
    assert len(fig.axes[0].collections) == 0
    assert by_gid(fig, "b12labs-b12-low").get_xdata()[0] == approx(ng_per_l_to_pmol_per_l(180))
    fig.savefig(tmp_path / "empty.png")
    assert_png(tmp_path / "empty.png")


def test_cohort_needs_the_b12_and_mma_columns() -> None:
    scored = b12labs.interpret_frame(pd.DataFrame({"b12": ["150 pmol/L"]}))
    with pytest.raises(b12labs.ColumnError, match="b12labs_mma_value"):
        plot.cohort(scored)


# ----------------------------------------------------------------------------- imports


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_import_b12labs_does_not_import_matplotlib() -> None:
    done = run_python(
        """
        import sys
        import b12labs
        b12labs.interpret(b12="150 pmol/L", mma="0.52 umol/L")
        assert "matplotlib" not in sys.modules, "import b12labs imported matplotlib"
        assert "b12labs.plot" not in sys.modules
        """
    )
    assert done.returncode == 0, done.stderr


def test_plot_uses_no_pyplot_state() -> None:
    done = run_python(
        """
        import sys
        import pandas as pd
        import b12labs
        import b12labs.plot
        b12labs.plot.panel(b12labs.interpret(b12="150 pmol/L"))
        scored = b12labs.interpret_frame(pd.DataFrame({"b12": [150.0], "mma": [0.5]}),
                                         units={"b12": "pmol/L", "mma": "umol/L"})
        b12labs.plot.cohort(scored)
        assert "matplotlib.pyplot" not in sys.modules
        """
    )
    assert done.returncode == 0, done.stderr


def test_import_without_matplotlib_says_how_to_install() -> None:
    done = run_python(
        """
        import sys
        sys.modules["matplotlib"] = None  # as if it were not installed
        try:
            import b12labs.plot
        except ImportError as error:
            print(error)
        else:
            raise SystemExit("no ImportError")
        """
    )
    assert done.returncode == 0, done.stderr
    assert 'pip install "b12labs[plot]"' in done.stdout


def test_the_independent_conversion_agrees_with_the_readme() -> None:
    # 200 pg/mL is 147.56... pmol/L (README quickstart); NICE's 180 ng/L is 132.805 pmol/L
    assert ng_per_l_to_pmol_per_l(200) == pytest.approx(147.561182555317)
    assert math.isclose(
        b12labs.convert(180, "ng/L", "pmol/L", analyte="b12"), 132.805064, rel_tol=1e-6
    )
