"""``b12labs score --columns minimal|standard|all``: which result columns are written.

Statuses and errors never depend on the selection: every selection is compared with
``interpret_frame`` on the same file. Chunks are scored two at a time: small chunks check
that the output keeps the input's order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from b12labs import Analyte
from test_cli import MESSY, assert_same_results, expected_csv, read_out, run_cli

EXPORT = (
    "id,b12,b12_unit,MMA (umol/L),age\n1,150,pmol/L,0.52,70\n2,<50,pg/mL,,45\n3,x,pmol/L,0.2,30\n"
)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")
    return path


def _score(capsys: pytest.CaptureFixture[str], source: Path, out: Path, *extra: str) -> list[str]:
    code, _, err = run_cli(capsys, "score", source, "-o", out, "--quiet", *extra)
    assert code in (0, 1), err
    return list(read_out(out).columns)


def test_minimal_keeps_the_input_then_status_error_and_version(
    capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path
) -> None:
    columns = _score(capsys, export, tmp_path / "out.csv", "--columns", "minimal")
    assert columns == [
        "id",
        "b12",
        "b12_unit",
        "MMA (umol/L)",
        "age",
        "b12labs_status",
        "b12labs_error",
        "b12labs_rules_version",
    ]
    assert_same_results(read_out(tmp_path / "out.csv"), expected_csv(export))


def test_standard_is_the_default(
    capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path
) -> None:
    default = _score(capsys, export, tmp_path / "default.csv")
    standard = _score(capsys, export, tmp_path / "standard.csv", "--columns", "standard")
    assert default == standard
    assert (tmp_path / "default.csv").read_bytes() == (tmp_path / "standard.csv").read_bytes()
    # the markers found, not the absent ones (holoTC, homocysteine, folate)
    assert "b12labs_mma_value" in standard
    assert "b12labs_hcy_value" not in standard


def test_all_is_one_column_set_whatever_the_export_holds(
    capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.csv"
    other.write_text("hcy,hcy_unit\n12,umol/L\n30,umol/L\n", encoding="utf-8")
    first = _score(capsys, export, tmp_path / "a.csv", "--columns", "all")
    second = _score(capsys, other, tmp_path / "b.csv", "--columns", "all")
    results = [c for c in first if c.startswith("b12labs_")]
    assert results == [c for c in second if c.startswith("b12labs_")]
    for marker in Analyte:
        for suffix in ("value", "category", "fhir"):
            assert f"b12labs_{marker.value}_{suffix}" in results
    assert {"b12labs_cb12_band", "b12labs_egfr"} <= set(results)
    out = read_out(tmp_path / "a.csv")
    assert set(out["b12labs_folate_value"]) == {""}  # absent marker: empty cells
    # the columns standard writes hold the same cells under "all"
    _score(capsys, export, tmp_path / "s.csv")
    standard = read_out(tmp_path / "s.csv")
    for name in standard.columns:
        assert list(out[name]) == list(standard[name]), name


def test_selection_keeps_row_order_across_many_chunks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "messy.csv"
    source.write_text(MESSY, encoding="utf-8")
    out = tmp_path / "out.csv"
    _score(capsys, source, out, "--chunk-size", "1", "--columns", "minimal")
    assert_same_results(read_out(out), expected_csv(source))


def test_unknown_selection_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], export: Path
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(capsys, "score", export, "--columns", "everything")
    assert exit_info.value.code == 2
    assert "minimal" in capsys.readouterr().err


def test_parquet_output_follows_the_selection(
    capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "out.parquet"
    code, _, err = run_cli(capsys, "score", export, "-o", out, "--columns", "minimal", "--quiet")
    assert code in (0, 1), err
    names = pq.read_schema(out).names
    assert names[-3:] == ["b12labs_status", "b12labs_error", "b12labs_rules_version"]
    assert names[:-3] == ["id", "b12", "b12_unit", "MMA (umol/L)", "age"]
