"""``b12labs explain --series FILE``: one patient's dated results explained over time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import b12labs
from b12labs import cli

pytest.importorskip("pyarrow")

KUZMINSKI = """date,MMA (nmol/L),Homocysteine (umol/L)
2024-05-09,169,10.6
2024-01-10,3850,37.2
"""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_series_report_prints_the_changes_and_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.csv"
    path.write_text(KUZMINSKI, "utf-8")
    code, out, err = run(
        ["explain", "--series", str(path), "--treatment-started", "2024-01-10",
         "--treatment-route", "oral"],
        capsys,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "Treatment started 2024-01-10 (oral)." in out
    assert "2024-05-09  insufficient_data [on treatment]" in out
    # (169 - 3850) / 3850 = -95.6%, beyond the MMA RCV of -17.7% (domain-facts)
    assert (
        "mma     2024-01-10 -> 2024-05-09 (120 days): 3.85 umol/L -> 0.169 umol/L, fell by "
        "95.6%: significant; RCV -17.7% / +21% (bv-mma-hcy-2019)"
    ) in out
    assert out.count("[biochemical_response]") == 2


def test_the_report_is_the_python_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.csv"
    path.write_text("collected,b12\n2024-01-10,150 pmol/L\n2024-03-10,<100 pmol/L\n", "utf-8")
    code, out, _ = run(["explain", "--series", str(path)], capsys)
    assert code == 0
    result = b12labs.interpret_series(
        [("2024-01-10", {"b12": "150 pmol/L"}), ("2024-03-10", {"b12": "<100 pmol/L"})]
    )
    expected = result.report().split("\n", 1)[1]  # all but the first line (provenance)
    assert out.rstrip("\n").split("\n", 1)[1] == expected


@pytest.mark.parametrize(
    ("text", "extra", "words"),
    [
        ("date,b12\n2024-01-10,150 pmol/L\n2024-01-10,160 pmol/L\n", [], "2 rows dated"),
        ("date,b12\n2024-01-10,3 foo\n", [], "row 0: b12: unit 'foo'"),
        ("when,b12\n2024-01-10,150 pmol/L\n", [], "no collection date column"),
        ("date,b12\n", [], "no rows"),
        ("date,b12\n2024-01-10,150 pmol/L\n", ["--b12", "150 pmol/L"], "cannot be combined"),
        ("date,b12\n2024-01-10,150 pmol/L\n", ["--json"], "cannot be combined"),
    ],
)
def test_series_errors_are_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, extra: list[str], words: str
) -> None:
    path = tmp_path / "results.csv"
    path.write_text(text, "utf-8")
    code, out, err = run(["explain", "--series", str(path), *extra], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("b12labs: error: ")
    assert words in err
    assert err.count("\n") == 1


def test_series_options_need_series(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["explain", "--treatment-started", "2024-01-10"], capsys)
    assert code == 2
    assert "need --series" in err
    code, _, err = run(["explain", "--series", "no-such-file.csv"], capsys)
    assert code == 2
    assert "no such file" in err


def test_series_runs_as_a_command(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text(KUZMINSKI, "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "b12labs", "explain", "--series", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Series findings:" in done.stdout
