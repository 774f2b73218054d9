"""``b12labs.plot.series``: what is drawn for results over time.

RCV bands are computed here from domain-facts.md (MMA -17.7% / +21.0%, total B12 ±23.4%),
never read back from b12labs.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import b12labs

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure

from b12labs import plot

D0 = dt.date(2024, 1, 10)
D1 = dt.date(2024, 5, 10)


def by_gid(fig: Figure, gid: str) -> Any:
    found = fig.findobj(lambda artist: artist.get_gid() == gid)
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def kuzminski(**kwargs: Any) -> b12labs.SeriesInterpretation:
    return b12labs.interpret_series(
        [
            (D0, {"b12": "150 pmol/L", "mma": "3850 nmol/L", "holotc": "30 pmol/L"}),
            (D1, {"b12": "400 pmol/L", "mma": "169 nmol/L", "holotc": "80 pmol/L"}),
        ],
        **kwargs,
    )


def test_one_axes_per_marker_with_the_results_at_their_dates(tmp_path: Path) -> None:
    fig = plot.series(kuzminski(treatment_started=D0, treatment_route="oral"))
    assert isinstance(fig, Figure)
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "B12 (pmol/L)",
        "holoTC (pmol/L)",
        "MMA (umol/L)",
    ]
    value = by_gid(fig, "b12labs-value-mma-2024-05-10")
    x, y = value.get_data()
    assert x[0] == D1
    assert y[0] == pytest.approx(0.169)
    fig.savefig(tmp_path / "series.png")
    assert (tmp_path / "series.png").stat().st_size > 0


def test_rcv_band_around_each_result() -> None:
    fig = plot.series(kuzminski())
    band = by_gid(fig, "b12labs-rcv-mma")
    segments = band.get_segments()
    lows = sorted(float(s[0][1]) for s in segments)
    highs = sorted(float(s[1][1]) for s in segments)
    # MMA RCV -17.7% / +21.0% around 0.169 and 3.85 umol/L
    assert lows == pytest.approx([0.169 * (1 - 0.177), 3.85 * (1 - 0.177)])
    assert highs == pytest.approx([0.169 * 1.21, 3.85 * 1.21])
    b12 = by_gid(fig, "b12labs-rcv-b12").get_segments()
    assert sorted(float(s[1][1]) for s in b12) == pytest.approx([150 * 1.234, 400 * 1.234])
    # holoTC has no RCV: no band
    assert not fig.findobj(lambda a: a.get_gid() == "b12labs-rcv-holotc")


def test_reference_interval_and_significant_changes() -> None:
    fig = plot.series(kuzminski())
    band = by_gid(fig, "b12labs-reference-mma")  # a span from the axis bottom to the limit
    top = band.get_y() + band.get_height()
    assert top == pytest.approx(0.40)  # NICE profile, age unknown: MMA normal up to 0.40
    significant = by_gid(fig, "b12labs-significant-mma-2024-01-10-2024-05-10")
    assert list(significant.get_ydata()) == pytest.approx([3.85, 0.169])
    assert not fig.findobj(lambda a: str(a.get_gid()).startswith("b12labs-significant-holotc"))


def test_treatment_start_is_marked_on_every_row() -> None:
    fig = plot.series(kuzminski(treatment_started=dt.date(2024, 1, 11), treatment_route="oral"))
    for key in ("b12", "holotc", "mma"):
        line = by_gid(fig, f"b12labs-treatment-{key}")
        assert line.get_xdata()[0] == dt.date(2024, 1, 11)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "treatment started (oral)" in labels
    untreated = plot.series(kuzminski())
    assert not untreated.findobj(lambda a: str(a.get_gid()).startswith("b12labs-treatment"))


def test_chosen_markers_and_errors() -> None:
    fig = plot.series(kuzminski(), analytes=["mma"])
    assert len(fig.axes) == 1
    with pytest.raises(b12labs.InvalidValueError, match="not a marker"):
        plot.series(kuzminski(), analytes=["creatinine"])
    empty = plot.series(b12labs.interpret_series([]))
    assert len(empty.axes) == 1


def test_series_plot_uses_no_pyplot_state() -> None:
    code = textwrap.dedent(
        """
        import sys
        import b12labs, b12labs.plot
        result = b12labs.interpret_series(
            [("2024-01-10", {"mma": "0.6 umol/L"}), ("2024-05-10", {"mma": "0.3 umol/L"})],
            treatment_started="2024-01-10",
        )
        b12labs.plot.series(result)
        assert "matplotlib.pyplot" not in sys.modules
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
