"""The ``b12labs`` command line: score, explain, profiles, schema.

Most cases run in-process through ``b12labs.cli.main([...])`` (fast); a representative subset
drives the installed console script in a subprocess. Expected statuses, categories and
reference intervals come from ``b12labs.interpret()`` / ``b12labs.interpret_frame`` on the
same data, or from the issue text, never from the command line's own output.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import b12labs
from b12labs import cli

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("openpyxl")
bpd = pytest.importorskip("b12labs.pandas")

SCRIPT = Path(sys.executable).parent / "b12labs"
STATUSES = ("deficiency_likely", "borderline", "not_indicated", "insufficient_data")

# The bundled messy export: a unit column, censored values, "1,250", " 410 ", N/A, junk.
MESSY = """\
patient,Vitamin B12,B12 unit,MMA (umol/L),Homocysteine (umol/L),Age,Sex
p01,180,pg/mL,0.52,16.1,71,F
p02,<100,pg/mL,,,34,F
p03, 410 ,pmol/L,0.21,9.8,45,M
p04,"1,250",pg/mL,0.18,8.2,62,M
p05,N/A,,0.81,22.5,80,F
p06,hemolysed,,,,29,M
p07,238,pmol/L,0.44,12.0,67,f
p08,abc,pg/mL,0.30,10.1,50,M
p09,0.3,pg/mL,0.25,11.0,41,F
p10,> 2000,pg/mL,0.15,7.9,38,female
"""
# Every row interpretable (exit 0).
GOOD = """\
patient,Vitamin B12,B12 unit,MMA (umol/L),Age
p01,180,pg/mL,0.52,71
p02,<100,pg/mL,,34
p03, 410 ,pmol/L,0.21,45
p04,"1,250",pg/mL,0.18,62
p05,N/A,,0.81,80
p06,238,pmol/L,0.44,67
"""


# ----------------------------------------------------------------------------- helpers


def run_cli(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    """In-process: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_script(*args: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script, in a subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [str(SCRIPT), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def read_out(path: Path | str) -> Any:
    """A CSV output as text, exactly as written (no NA conversion)."""
    source = io.StringIO(path) if isinstance(path, str) else path
    return pd.read_csv(source, dtype=str, keep_default_na=False)


def texts(series: Any) -> list[str]:
    """A result column as text, missing as ""."""
    return ["" if pd.isna(v) else str(v) for v in series]


def expected_frame(frame: Any, **kwargs: Any) -> Any:
    return b12labs.interpret_frame(frame, **kwargs)


def expected_csv(path: Path, **kwargs: Any) -> Any:
    read = {k: kwargs.pop(k) for k in ("sep", "encoding") if k in kwargs}
    return expected_frame(pd.read_csv(path, dtype=str, **read), **kwargs)


def assert_same_results(out: Any, expected: Any) -> None:
    assert len(out) == len(expected)
    assert texts(out["b12labs_status"]) == texts(expected["b12labs_status"])
    assert texts(out["b12labs_error"]) == texts(expected["b12labs_error"])


def one_line_error(err: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("b12labs: error:"), err


def part_files(folder: Path) -> list[str]:
    return [name for name in os.listdir(folder) if name.endswith(".part")]


def parse_summary(err: str) -> tuple[int, dict[str, int], int, dict[str, int]]:
    """(rows read, rows per status, rows with errors, errors per reason) from the summary."""
    rows = re.search(r"([\d,]+) rows read", err)
    assert rows, err
    statuses = {
        m[1]: int(m[2].replace(",", ""))
        for m in re.finditer(rf"^\s+({'|'.join(STATUSES)})\s+([\d,]+)\s*$", err, re.M)
    }
    errors = re.search(r"^\s+rows with errors\s+([\d,]+)\s*$", err, re.M)
    assert errors, err
    tail = err[errors.end() :]
    reasons = {
        m[1]: int(m[2].replace(",", ""))
        for m in re.finditer(r"^\s+(\w+)\s+([\d,]+)\s*$", tail, re.M)
    }
    return int(rows[1].replace(",", "")), statuses, int(errors[1].replace(",", "")), reasons


def status_counts(frame: Any) -> dict[str, int]:
    counts = Counter(v for v in texts(frame["b12labs_status"]) if v)
    return {s: counts.get(s, 0) for s in STATUSES}


def reason_counts(frame: Any) -> dict[str, int]:
    return dict(Counter(e.split(":", 1)[0] for e in texts(frame["b12labs_error"]) if e))


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    return write(tmp_path / "messy.csv", MESSY)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write(tmp_path / "good.csv", GOOD)


# ----------------------------------------------------------------------------- console script


def test_script_version(tmp_path: Path) -> None:
    assert SCRIPT.exists(), f"console script not installed at {SCRIPT}"
    result = run_script("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"b12labs {b12labs.__version__}"


def test_python_dash_m_version(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "b12labs", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0
    assert b12labs.__version__ in result.stdout


@pytest.mark.parametrize("command", [[], ["score"], ["explain"], ["profiles"], ["schema"]])
def test_script_help(tmp_path: Path, command: list[str]) -> None:
    result = run_script(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: b12labs")
    assert result.stderr == ""


def test_script_score_to_file(tmp_path: Path, good: Path) -> None:
    out = tmp_path / "scored.csv"
    result = run_script("score", good, "-o", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert_same_results(read_out(out), expected_csv(good))
    assert part_files(tmp_path) == []
    rows, statuses, errors, _ = parse_summary(result.stderr)
    assert (rows, errors) == (6, 0)
    assert statuses == status_counts(expected_csv(good))


def test_script_exit_1_on_row_errors(tmp_path: Path, messy: Path) -> None:
    out = tmp_path / "scored.csv"
    result = run_script("score", messy, "-o", out, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "\r" not in result.stderr  # stderr is a pipe: no progress bar
    expected = expected_csv(messy)
    assert_same_results(read_out(out), expected)
    _, _, errors, reasons = parse_summary(result.stderr)
    assert errors == 2
    assert reasons == reason_counts(expected)


def test_script_exit_1_strict(tmp_path: Path, messy: Path) -> None:
    result = run_script("score", messy, "--strict", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_script_exit_2_missing_file(tmp_path: Path) -> None:
    result = run_script("score", tmp_path / "nope.csv", cwd=tmp_path)
    assert result.returncode == 2
    one_line_error(result.stderr)
    assert "nope.csv" in result.stderr


def test_script_exit_2_no_b12_column(tmp_path: Path) -> None:
    source = write(tmp_path / "x.csv", "patient,age\np1,40\n")
    result = run_script("score", source, cwd=tmp_path)
    assert result.returncode == 2
    one_line_error(result.stderr)


def test_script_exit_2_output_folder_missing(tmp_path: Path, good: Path) -> None:
    """An output path in a folder that does not exist is a usage error, not a traceback."""
    result = run_script("score", good, "-o", tmp_path / "no" / "such" / "out.csv", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    one_line_error(result.stderr)


def test_script_explain(tmp_path: Path) -> None:
    args = ["--b12", "150 pmol/L", "--mma", "0.5 umol/L", "--age", "70"]
    expected = b12labs.interpret(b12="150 pmol/L", mma="0.5 umol/L", age=70)
    text = run_script("explain", *args, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert expected.status.value in text.stdout
    for marker in expected.markers.values():
        assert marker.category.value in text.stdout
        assert marker.reference_interval.text in text.stdout
    machine = run_script("explain", *args, "--json", cwd=tmp_path)
    assert machine.returncode == 0
    assert b12labs.Interpretation.model_validate_json(machine.stdout) == expected


def test_script_explain_bad_value(tmp_path: Path) -> None:
    result = run_script("explain", "--b12", "abc", cwd=tmp_path)
    assert result.returncode == 2
    one_line_error(result.stderr)


# ----------------------------------------------------------------------------- argument handling


def test_version_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"b12labs {b12labs.__version__}"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys)
    assert code == 2
    assert "usage: b12labs" in out


def test_unknown_option_is_usage_error(capsys: pytest.CaptureFixture[str], good: Path) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["score", str(good), "--no-such-option"])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_score_help_documents_formula_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["score", "--help"])
    out = capsys.readouterr().out
    for option in ("--allow-formulas", "--strict", "--chunk-size", "--column", "--unit"):
        assert option in out


# ----------------------------------------------------------------------------- profiles, schema


def test_profiles_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "profiles")
    assert code == 0
    for pid in b12labs.list_profiles():
        assert pid in out
        assert b12labs.get_profile(pid).title in out


@pytest.mark.parametrize("pid", b12labs.list_profiles())
def test_profiles_show(capsys: pytest.CaptureFixture[str], pid: str) -> None:
    code, out, _ = run_cli(capsys, "profiles", "--show", pid)
    assert code == 0
    profile = b12labs.get_profile(pid)
    for path, threshold in profile.thresholds().items():
        line = next((ln for ln in out.splitlines() if ln.split() and ln.split()[0] == path), None)
        assert line is not None, path
        assert threshold.source in line
        assert threshold.describe() in line
    for key, source in profile.sources.items():
        assert key in out
        assert source.citation in out


def test_profiles_show_nice_cites_ng239(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "profiles", "--show", "nice-ng239")
    assert code == 0
    assert "nice-ng239" in out
    assert "NG239" in out
    assert "180" in out  # the NICE low threshold (ng/L)
    assert "350" in out


def test_profiles_show_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "profiles", "--show", "no-such-profile")
    assert code == 2
    assert out == ""
    one_line_error(err)


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert "properties" in schema
    assert schema == b12labs.result_json_schema()


# ----------------------------------------------------------------------------- explain

EXPLAIN_CASES = [
    (
        ["--b12", "150 pmol/L", "--mma", "0.5 umol/L", "--age", "70"],
        {"b12": "150 pmol/L", "mma": "0.5 umol/L", "age": 70},
    ),
    (
        [
            *("--b12", "150 pmol/L", "--mma", "0.52 umol/L", "--hcy", "12 umol/L"),
            *("--age", "70", "--sex", "female", "--egfr", "78"),
            *("--symptom", "tremor", "--symptom", "muscle_cramps", "--risk-factor", "metformin"),
        ],
        {
            "b12": "150 pmol/L",
            "mma": "0.52 umol/L",
            "hcy": "12 umol/L",
            "age": 70,
            "sex": "female",
            "egfr": 78,
            "symptoms": ["tremor", "muscle_cramps"],
            "risk_factors": ["metformin"],
        },
    ),
    (
        ["--b12", "<100 pg/mL", "--age", "30", "--sex", "female", "--pregnant"],
        {"b12": "<100 pg/mL", "age": 30, "sex": "female", "pregnant": True},
    ),
    (
        [
            *("--holotc", "32 pmol/L", "--folate", "4.1 ng/mL", "--creatinine", "1.1 mg/dL"),
            *("--age", "60", "--sex", "male", "--no-pregnant", "--nitrous-oxide"),
            "--no-recent-b12-treatment",
        ],
        {
            "holotc": "32 pmol/L",
            "folate": "4.1 ng/mL",
            "creatinine": "1.1 mg/dL",
            "age": 60,
            "sex": "male",
            "pregnant": False,
            "nitrous_oxide": True,
            "recent_b12_treatment": False,
        },
    ),
    (
        [
            *("--b12", "250 pg/mL", "--mma", "0.3 umol/L", "--hcy", "18 umol/L"),
            *("--holotc", "40 pmol/L", "--profile", "mayo-cascade"),
        ],
        {
            "b12": "250 pg/mL",
            "mma": "0.3 umol/L",
            "hcy": "18 umol/L",
            "holotc": "40 pmol/L",
            "profile": "mayo-cascade",
        },
    ),
]


@pytest.mark.parametrize(("argv", "kwargs"), EXPLAIN_CASES)
def test_explain_text(capsys: pytest.CaptureFixture[str], argv: list[str], kwargs: dict) -> None:
    expected = b12labs.interpret(**kwargs)
    code, out, _ = run_cli(capsys, "explain", *argv)
    assert code == 0
    assert expected.status.value in out
    assert expected.summary in out
    assert expected.profile_id in out
    for key, marker in expected.markers.items():
        line = next((ln for ln in out.splitlines() if ln.strip().startswith(key + " ")), None)
        assert line is not None, key
        assert marker.category.value in line
        assert marker.reference_interval.text in line
    for item in (*expected.findings, *expected.next_steps):
        assert item.code in out
        assert item.message in out


@pytest.mark.parametrize(("argv", "kwargs"), EXPLAIN_CASES)
def test_explain_json(capsys: pytest.CaptureFixture[str], argv: list[str], kwargs: dict) -> None:
    code, out, _ = run_cli(capsys, "explain", *argv, "--json")
    assert code == 0
    assert b12labs.Interpretation.model_validate_json(out) == b12labs.interpret(**kwargs)


@pytest.mark.parametrize(
    "argv",
    [
        ["--b12", "abc"],
        ["--b12", "150"],  # a number without a unit
        ["--b12", "0.3 pg/mL"],  # implausible
        ["--b12", "150 pmol/L", "--symptom", "no_such_symptom"],
        ["--b12", "150 pmol/L", "--age", "300"],
        ["--b12", "150 pmol/L", "--sex", "x"],
        ["--b12", "150 pmol/L", "--sex", "male", "--pregnant"],
        ["--b12", "150 pmol/L", "--profile", "no-such-profile"],
    ],
)
def test_explain_bad_input_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run_cli(capsys, "explain", *argv)
    assert code == 2
    assert out == ""
    one_line_error(err)


# ----------------------------------------------------------------------------- score: formats


def _frame_of(text: str) -> Any:
    return pd.read_csv(io.StringIO(text), dtype=str)


def _write_input(tmp_path: Path, kind: str, text: str) -> Path:
    frame = _frame_of(text)
    if kind == "csv":
        return write(tmp_path / "in.csv", text)
    if kind == "tsv":
        path = tmp_path / "in.tsv"
        frame.to_csv(path, sep="\t", index=False)
        return path
    if kind == "parquet":
        path = tmp_path / "in.parquet"
        frame.to_parquet(path, index=False)
        return path
    path = tmp_path / "in.xlsx"
    frame.to_excel(path, index=False)
    return path


@pytest.mark.parametrize("kind", ["csv", "tsv", "parquet", "xlsx"])
@pytest.mark.parametrize("text", [GOOD, MESSY], ids=["good", "messy"])
def test_score_input_formats(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str, text: str
) -> None:
    source = _write_input(tmp_path, kind, text)
    out = tmp_path / "out.csv"
    expected = expected_frame(_frame_of(text))
    code, stdout, err = run_cli(capsys, "score", source, "-o", out)
    assert code == (1 if reason_counts(expected) else 0), err
    assert stdout == ""
    scored = read_out(out)
    assert_same_results(scored, expected)
    assert list(scored["patient"]) == list(_frame_of(text)["patient"])
    assert part_files(tmp_path) == []


def test_score_tsv_with_txt_extension_sniffed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(tmp_path / "in.txt", GOOD.replace('"1,250"', "1250").replace(",", "\t"))
    code, out, err = run_cli(capsys, "score", source)
    assert code == 0, err
    expected = expected_frame(pd.read_csv(source, sep="\t", dtype=str))
    assert_same_results(read_out(out), expected)


def test_score_bom_and_semicolon(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (
        "patient;Vitamin B12;B12 unit;MMA (umol/L);Age\n"
        "p1;150;pmol/L;0.52;70\n"
        "p2;<100;pg/mL;0.30;40\n"
        "p3;1,250;pg/mL;0.20;50\n"
        "p4;238;pmol/L;;67\n"
    )
    source = write(tmp_path / "bom.csv", "\ufeff" + text)
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 0, err
    scored = read_out(out)
    assert scored.columns[0] == "patient"  # the BOM is not part of the first name
    assert list(scored["Vitamin B12"]) == ["150", "<100", "1,250", "238"]
    expected = expected_csv(source, sep=";", encoding="utf-8-sig")
    assert_same_results(scored, expected)
    assert "cp1252" not in err


@pytest.mark.parametrize(
    "text",
    [
        "patient,b12\nJosé,150 pmol/L\np2,400 pmol/L\n",
        "patient,Vitamin B12,B12 unit\nJosé,150,pmol/L\nRenée,400,pmol/L\n",
        # the only non-UTF-8 byte near the end of a small file
        "b12,patient\n150 pmol/L,p1\n400 pmol/L,José\n",
        "b12,patient\n150 pmol/L,José",
    ],
    ids=["start", "two-names", "near-end", "last-byte"],
)
def test_score_latin1(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> None:
    source = write(tmp_path / "latin.csv", text, encoding="latin-1")
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 0, err
    assert "cp1252" in err  # the fallback says so (Latin-1 letters are the same in cp1252)
    scored = read_out(out)  # the output is UTF-8
    assert "José" in list(scored["patient"])
    assert_same_results(scored, expected_csv(source, encoding="latin-1"))


@pytest.mark.parametrize("text", ["", "\n", "  \n\n"], ids=["empty", "newline", "blank"])
def test_score_empty_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> None:
    source = write(tmp_path / "empty.csv", text)
    code, out, err = run_cli(capsys, "score", source)
    assert code == 2
    assert out == ""
    one_line_error(err)


@pytest.mark.parametrize("end", ["\n", "\r\n", ""], ids=["lf", "crlf", "no-newline"])
def test_score_header_only(capsys: pytest.CaptureFixture[str], tmp_path: Path, end: str) -> None:
    source = write(tmp_path / "header.csv", "patient,Vitamin B12,B12 unit" + end)
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 0, err
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    header = next(csv.reader(lines))
    assert header[:3] == ["patient", "Vitamin B12", "B12 unit"]
    assert "b12labs_status" in header
    assert "b12labs_error" in header
    assert header[-1] == "b12labs_rules_version"
    rows, statuses, errors, _ = parse_summary(err)
    assert (rows, errors) == (0, 0)
    assert set(statuses.values()) == {0}


def test_score_header_only_parquet_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "empty.parquet"
    pd.DataFrame({"patient": pd.Series([], dtype=str), "b12": pd.Series([], dtype=str)}).to_parquet(
        source, index=False
    )
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 0, err
    assert list(read_out(out).columns[:2]) == ["patient", "b12"]
    assert len(read_out(out)) == 0


TRUNCATED_HEAD = "patient,Vitamin B12,B12 unit,Age\np1,150,pmol/L,70\np2,<100,pg/mL,40\n"


@pytest.mark.parametrize(
    "last", ["p3,200,pg", "p3,200", "p3"], ids=["cut-in-unit", "cut-before-unit", "cut-after-id"]
)
def test_score_truncated_last_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, last: str
) -> None:
    source = write(tmp_path / "cut.csv", TRUNCATED_HEAD + last)
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 1, err
    scored = read_out(out)
    assert list(scored["patient"]) == ["p1", "p2", "p3"]
    cut = scored[scored["patient"] == "p3"].iloc[0]
    assert cut["b12labs_error"].startswith("malformed_row")
    whole = expected_frame(_frame_of(TRUNCATED_HEAD))
    assert_same_results(scored.iloc[:2], whole)
    rows, _, errors, reasons = parse_summary(err)
    assert (rows, errors) == (3, 1)
    assert reasons == {"malformed_row": 1}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_score_truncated_last_line_other_outputs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    source = write(tmp_path / "cut.csv", TRUNCATED_HEAD + "p3,200,pg")
    out = tmp_path / f"out.{fmt}"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 1, err
    assert "Traceback" not in err
    if fmt == "parquet":
        records = pq.read_table(out).to_pylist()
    else:
        records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["patient"] for r in records] == ["p1", "p2", "p3"]
    assert records[2]["b12labs_error"].startswith("malformed_row")
    # the rules version describes the run: malformed rows carry it too
    assert [r["b12labs_rules_version"] for r in records] == [2, 2, 2]


def test_score_truncated_last_line_strict_is_fatal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--strict makes any bad row fatal at once: a malformed row too (no output is kept)."""
    source = write(tmp_path / "cut.csv", TRUNCATED_HEAD + "p3,200,pg")
    out = write(tmp_path / "out.csv", "earlier output\n")
    code, _, err = run_cli(capsys, "score", source, "-o", out, "--strict")
    assert code == 1
    assert "Traceback" not in err
    assert out.read_text(encoding="utf-8") == "earlier output\n"
    assert part_files(tmp_path) == []


# ----------------------------------------------------------------------------- score: outputs


def test_score_to_stdout(capsys: pytest.CaptureFixture[str], messy: Path) -> None:
    code, out, err = run_cli(capsys, "score", messy)
    assert code == 1
    assert "rows read" in err
    assert "rows read" not in out
    assert_same_results(read_out(out), expected_csv(messy))


@pytest.mark.parametrize(
    ("name", "extra"), [("out.jsonl", []), ("out.ndjson", []), ("out.txt", ["--format", "jsonl"])]
)
def test_score_jsonl(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, messy: Path, name: str, extra: list
) -> None:
    out = tmp_path / name
    code, stdout, _ = run_cli(capsys, "score", messy, "-o", out, *extra)
    assert code == 1
    assert stdout == ""
    lines = out.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in records)
    expected = expected_csv(messy)
    assert len(records) == len(expected)
    assert [r["patient"] for r in records] == list(_frame_of(MESSY)["patient"])
    assert [r["b12labs_status"] or "" for r in records] == texts(expected["b12labs_status"])
    assert [r["b12labs_error"] for r in records] == texts(expected["b12labs_error"])
    assert {r["b12labs_rules_version"] for r in records} == {2}


def test_score_jsonl_to_stdout(capsys: pytest.CaptureFixture[str], messy: Path) -> None:
    code, out, _ = run_cli(capsys, "score", messy, "--format", "jsonl")
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 10


def test_score_parquet_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, messy: Path
) -> None:
    out = tmp_path / "out.parquet"
    code, stdout, _ = run_cli(capsys, "score", messy, "-o", out)
    assert code == 1
    assert stdout == ""
    table = pq.read_table(out)
    expected = expected_csv(messy)
    assert table.num_rows == len(expected)
    assert texts(table.column("b12labs_status").to_pylist()) == texts(expected["b12labs_status"])
    assert table.column("b12labs_rules_version").to_pylist() == [2] * len(expected)
    # provenance in the Arrow schema metadata, as in interpret_frame's attrs
    provenance = json.loads(pq.read_schema(out).metadata[b"b12labs"])
    assert provenance == expected.attrs["b12labs"]
    single = b12labs.interpret(b12="150 pmol/L")
    assert provenance == {
        "rules_version": single.rules_version,
        "profile_id": single.profile_id,
        "profile_version": single.profile_version,
        "library_version": single.library_version,
        "schema_version": single.schema_version,
    }


def test_score_parquet_output_from_xlsx_chunks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A column empty in the first chunk but filled later still gives one Parquet file."""
    source = tmp_path / "in.xlsx"
    frame = pd.DataFrame(
        {"b12": ["150 pmol/L", "200 pmol/L", "300 pmol/L", "400 pmol/L"]},
    )
    frame["note"] = [None, None, "x", "y"]
    frame.to_excel(source, index=False)
    out = tmp_path / "out.parquet"
    code, _, err = run_cli(capsys, "score", source, "-o", out, "--chunk-size", "2")
    assert code == 0, err
    assert pq.read_table(out).num_rows == 4


@pytest.mark.parametrize(
    "argv",
    [
        ["-o", "out.dat"],
        ["-o", "out.xlsx"],
        ["--format", "parquet"],  # Parquet needs a file
        ["--chunk-size", "0"],
        ["--chunk-size", "-3"],
        ["--profile", "no-such-profile"],
        ["--column", "b12=No such column"],
        ["--column", "nonsense=Vitamin B12"],
    ],
)
def test_score_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, good: Path, argv: list[str]
) -> None:
    argv = [str(tmp_path / a) if a.startswith("out.") else a for a in argv]
    code, out, err = run_cli(capsys, "score", good, *argv)
    assert code == 2
    assert out == ""
    one_line_error(err)
    assert part_files(tmp_path) == []


def test_score_missing_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "score", tmp_path / "missing.csv")
    assert code == 2
    assert out == ""
    one_line_error(err)


def test_score_directory_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "score", tmp_path)
    assert code == 2
    one_line_error(err)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.parquet", b"PAR1 this is not a parquet file"),
        ("bad.xlsx", b"not a zip file at all"),
        ("in.jsonl", b'{"b12": "150 pmol/L"}\n'),
    ],
)
def test_score_unreadable_format(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: bytes
) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    code, out, err = run_cli(capsys, "score", source)
    assert code == 2
    assert out == ""
    one_line_error(err)


@pytest.mark.parametrize("kind", ["csv", "parquet", "xlsx"])
def test_score_no_b12_column(capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str) -> None:
    source = _write_input(tmp_path, kind, "patient,age,sex\np1,40,F\np2,50,M\n")
    code, out, err = run_cli(capsys, "score", source)
    assert code == 2
    assert out == ""
    one_line_error(err)
    assert "B12" in err


def test_score_cells_without_unit_are_row_errors_with_a_note(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a CSV column is text: each row without a unit is its own error (row locality), and
    # the note says how to give the unit for the whole column
    source = write(tmp_path / "in.csv", "patient,b12\np1,150\np2,150 pmol/L\n")
    code, out, err = run_cli(capsys, "score", source)
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    assert "has no unit" in rows[0]["b12labs_error"]
    assert rows[1]["b12labs_error"] == ""
    assert "--unit b12=" in err


def test_output_mode_follows_umask(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, good: Path
) -> None:
    """The atomic write must not leave the output readable by its owner only (mkstemp's 0600)."""
    old = os.umask(0o022)
    try:
        out = tmp_path / "out.csv"
        code, _, _ = run_cli(capsys, "score", good, "-o", out)
    finally:
        os.umask(old)
    assert code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


# ----------------------------------------------------------------------------- text and formulas

FORMULAS = """\
patient,b12,note
p1,150 pmol/L,"=HYPERLINK(""http://evil.example"",""click"")"
p2,160 pmol/L,-5
p3,170 pmol/L,+1.5
p4,180 pmol/L,-abc
p5,190 pmol/L,@SUM(A1)
p6,200 pmol/L,+cmd
p7,210 pmol/L,plain text
p8,220 pmol/L,1e5
=p9,230 pmol/L,-0.25
"""


def test_formulas_neutralized(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", FORMULAS)
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 0, err
    scored = read_out(out)
    assert list(scored["note"]) == [
        '\'=HYPERLINK("http://evil.example","click")',
        "-5",
        "+1.5",
        "'-abc",
        "'@SUM(A1)",
        "'+cmd",
        "plain text",
        "1e5",
        "-0.25",
    ]
    assert scored["patient"].iloc[-1] == "'=p9"
    assert list(scored["b12"]) == list(_frame_of(FORMULAS)["b12"])


def test_formulas_neutralized_on_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", FORMULAS)
    code, out, _ = run_cli(capsys, "score", source)
    assert code == 0
    assert read_out(out)["note"].iloc[0] == '\'=HYPERLINK("http://evil.example","click")'


def test_allow_formulas(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", FORMULAS)
    out = tmp_path / "out.csv"
    code, _, _ = run_cli(capsys, "score", source, "-o", out, "--allow-formulas")
    assert code == 0
    scored = read_out(out)
    original = _frame_of(FORMULAS)
    assert list(scored["note"]) == list(original["note"])
    assert list(scored["patient"]) == list(original["patient"])


def test_input_text_written_exactly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, messy: Path
) -> None:
    out = tmp_path / "out.csv"
    code, _, _ = run_cli(capsys, "score", messy, "-o", out)
    assert code == 1
    scored = read_out(out)
    original = pd.read_csv(messy, dtype=str, keep_default_na=False)
    for column in original.columns:
        assert list(scored[column]) == list(original[column]), column
    b12 = list(scored["Vitamin B12"])
    assert "1,250" in b12
    assert " 410 " in b12
    assert "<100" in b12
    assert "> 2000" in b12
    assert list(scored["MMA (umol/L)"])[:3] == ["0.52", "", "0.21"]
    assert list(scored["Homocysteine (umol/L)"])[6] == "12.0"  # not 12


def test_input_text_written_exactly_jsonl(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, messy: Path
) -> None:
    out = tmp_path / "out.jsonl"
    run_cli(capsys, "score", messy, "-o", out)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["Vitamin B12"] for r in records][2:4] == [" 410 ", "1,250"]
    assert records[6]["Homocysteine (umol/L)"] == "12.0"


# ------------------------------------------------------------------- columns, units, profiles


def test_column_mapping(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (
        "id,Cbl result,Cbl unit,MMA result\na,180,pg/mL,520\nb,<100,pg/mL,300\nc,410,pmol/L,210\n"
    )
    source = write(tmp_path / "in.csv", text)
    code, _, err = run_cli(capsys, "score", source)
    assert code == 2  # nothing looks like B12 without the mapping
    one_line_error(err)
    out = tmp_path / "out.csv"
    code, _, err = run_cli(
        capsys,
        "score",
        source,
        "-o",
        out,
        "--column",
        'b12="Cbl result"',
        "--column",
        "b12_unit=Cbl unit",
        "--column",
        "mma=MMA result",
        "--unit",
        "mma=nmol/L",
    )
    assert code == 0, err
    scored = read_out(out)
    for row, (value, unit, mma) in zip(
        scored.itertuples(index=False),
        [("180", "pg/mL", "520"), ("<100", "pg/mL", "300"), ("410", "pmol/L", "210")],
        strict=True,
    ):
        result = b12labs.interpret(b12=f"{value} {unit}", mma=f"{mma} nmol/L")
        assert row.b12labs_status == result.status.value
        assert row.b12labs_b12_category == result.markers["b12"].category.value
        assert row.b12labs_mma_category == result.markers["mma"].category.value
        assert float(row.b12labs_mma_value) == pytest.approx(result.markers["mma"].value)
        assert float(row.b12labs_b12_value) == pytest.approx(result.markers["b12"].value)


def test_unit_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = "patient,b12,mma\np1,150 pmol/L,520\np2,400 pmol/L,300\np3,250 pg/mL,900\n"
    source = write(tmp_path / "in.csv", text)
    code, _, err = run_cli(capsys, "score", source)
    assert code == 1  # each MMA cell has no unit: three row errors
    code, out, err = run_cli(capsys, "score", source, "--unit", "mma=nmol/L")
    assert code == 0, err
    scored = read_out(out)
    for row, (b12, mma) in zip(
        scored.itertuples(index=False),
        [("150 pmol/L", "520"), ("400 pmol/L", "300"), ("250 pg/mL", "900")],
        strict=True,
    ):
        result = b12labs.interpret(b12=b12, mma=f"{mma} nmol/L")
        assert row.b12labs_status == result.status.value
        assert row.b12labs_mma_category == result.markers["mma"].category.value
        assert float(row.b12labs_mma_value) == pytest.approx(result.markers["mma"].value)


def test_unit_overrides_header_unit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "b12\n150\n400\n")
    code, out, err = run_cli(capsys, "score", source, "--unit", "b12=pg/mL")
    assert code == 0, err
    expected = [b12labs.interpret(b12=f"{v} pg/mL").status.value for v in ("150", "400")]
    assert list(read_out(out)["b12labs_status"]) == expected


@pytest.mark.parametrize("bad", ["b12", "b12=", "=pg/mL"])
def test_bad_pair_is_usage_error(capsys: pytest.CaptureFixture[str], good: Path, bad: str) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["score", str(good), "--unit", bad])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("pid", b12labs.list_profiles())
def test_profile_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, messy: Path, pid: str
) -> None:
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", messy, "-o", out, "--profile", pid)
    assert code == 1, err
    assert_same_results(read_out(out), expected_csv(messy, profile=pid))


def test_profile_option_changes_results(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = [f"{v} pg/mL" for v in (150, 190, 210, 250, 300, 340, 400, 500)]
    source = write(tmp_path / "in.csv", "b12\n" + "\n".join(rows) + "\n")
    for pid in b12labs.list_profiles():
        code, out, _ = run_cli(capsys, "score", source, "--profile", pid)
        assert code == 0
        expected = [b12labs.interpret(b12=r, profile=pid).status.value for r in rows]
        assert list(read_out(out)["b12labs_status"]) == expected


# ----------------------------------------------------------------------------- summary, progress


def test_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path, messy: Path) -> None:
    code, _, err = run_cli(capsys, "score", messy, "-o", tmp_path / "out.csv")
    assert code == 1
    expected = expected_csv(messy)
    rows, statuses, errors, reasons = parse_summary(err)
    assert rows == 10
    assert statuses == status_counts(expected)
    assert errors == 2
    assert reasons == reason_counts(expected) == {"invalid_value": 1, "implausible_value": 1}
    assert re.search(r"\d+(\.\d+)? ?s\b", err)  # the time taken


def test_quiet(capsys: pytest.CaptureFixture[str], tmp_path: Path, good: Path) -> None:
    code, _, err = run_cli(capsys, "score", good, "-o", tmp_path / "out.csv", "--quiet")
    assert code == 0
    assert err == ""


def test_no_progress_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, good: Path
) -> None:
    monkeypatch.delenv("CI", raising=False)
    code, _, err = run_cli(capsys, "score", good, "-o", tmp_path / "out.csv")
    assert code == 0
    assert "\r" not in err


def _fake_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


def test_progress_on_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, good: Path
) -> None:
    monkeypatch.delenv("CI", raising=False)
    _fake_terminal(monkeypatch)
    code, _, err = run_cli(capsys, "score", good, "-o", tmp_path / "out.csv")
    assert code == 0
    assert "\r" in err


def test_no_progress_under_ci(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, good: Path
) -> None:
    monkeypatch.setenv("CI", "true")
    _fake_terminal(monkeypatch)
    code, _, err = run_cli(capsys, "score", good, "-o", tmp_path / "out.csv")
    assert code == 0
    assert "\r" not in err


def test_no_progress_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, good: Path
) -> None:
    monkeypatch.delenv("CI", raising=False)
    _fake_terminal(monkeypatch)
    code, _, err = run_cli(capsys, "score", good, "-o", tmp_path / "out.csv", "--no-progress")
    assert code == 0
    assert "\r" not in err


# ----------------------------------------------------------------------- strict, atomic output

STRICT_TEXT = "patient,b12\n" + "".join(
    f"p{i},{'abc pmol/L' if i == 5 else f'{150 + 50 * i} pmol/L'}\n" for i in range(1, 8)
)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_strict_bad_row_in_later_chunk_keeps_earlier_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    source = _write_input(tmp_path, kind, STRICT_TEXT)
    out = write(tmp_path / "out.csv", "earlier output\n")
    code, _, err = run_cli(capsys, "score", source, "-o", out, "--strict", "--chunk-size", "2")
    assert code == 1
    one_line_error(err)
    assert out.read_text(encoding="utf-8") == "earlier output\n"
    assert part_files(tmp_path) == []
    # without --strict the same file is scored, with that row flagged
    code, _, _ = run_cli(capsys, "score", source, "-o", out, "--chunk-size", "2")
    assert code == 1
    scored = read_out(out)
    assert len(scored) == 7
    assert scored["b12labs_error"].iloc[4].startswith("invalid_value")


def test_interrupted_run_keeps_earlier_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = _write_input(tmp_path, "parquet", STRICT_TEXT.replace("abc", "400"))
    out = tmp_path / "out.csv"
    code, _, _ = run_cli(capsys, "score", source, "-o", out)
    assert code == 0
    earlier = out.read_bytes()

    original = cli._Writer.write
    calls: list[int] = []
    part_seen: list[list[str]] = []

    def interrupted(self: Any, table: Any) -> None:
        calls.append(table.num_rows)
        if len(calls) == 2:
            part_seen.append(part_files(tmp_path))
            raise KeyboardInterrupt
        original(self, table)

    monkeypatch.setattr(cli._Writer, "write", interrupted)
    code, _, err = run_cli(capsys, "score", source, "-o", out, "--chunk-size", "2")
    assert code != 0
    assert "Traceback" not in err
    assert calls == [2, 2]  # the first chunk was written before the interruption
    assert part_seen
    assert part_seen[0]  # ...into a temporary file, not the output
    assert out.read_bytes() == earlier
    assert part_files(tmp_path) == []


def test_usage_error_keeps_earlier_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = write(tmp_path / "out.csv", "earlier output\n")
    source = write(tmp_path / "in.csv", "patient,age\np1,40\n")
    code, _, _ = run_cli(capsys, "score", source, "-o", out)
    assert code == 2
    assert out.read_text(encoding="utf-8") == "earlier output\n"
    assert part_files(tmp_path) == []


def test_successful_run_replaces_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, good: Path
) -> None:
    out = write(tmp_path / "out.csv", "earlier output\n")
    code, _, _ = run_cli(capsys, "score", good, "-o", out)
    assert code == 0
    assert_same_results(read_out(out), expected_csv(good))
    assert part_files(tmp_path) == []


# ----------------------------------------------------------------------------- streaming


def _big_text(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    b12 = ["180", "<100", " 410 ", "1,250", "N/A", "abc", "0.3", "> 2000", "238", "", "90", "700"]
    mma = ["0.52", "", "0.21", "0.81", "0.44", "x", "0.30"]
    lines = ["patient,Vitamin B12,B12 unit,MMA (umol/L),Homocysteine (umol/L),Age,Sex"]
    for i in range(n):
        value = rng.choice(b12)
        cell = f'"{value}"' if "," in value else value
        lines.append(
            f"p{i},{cell},{rng.choice(['pg/mL', 'pmol/L'])},{rng.choice(mma)},"
            f"{rng.choice(['9.8', '16.1', '', '31'])},{rng.randint(18, 95)},{rng.choice('FMfm')}"
        )
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_streamed_equals_in_memory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    text = _big_text(300)
    source = _write_input(tmp_path, kind, text)
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out, "--chunk-size", "7")
    expected = expected_frame(pd.read_csv(io.StringIO(text), dtype=str))
    assert code == (1 if reason_counts(expected) else 0)
    scored = read_out(out)
    assert len(scored) == 300
    assert status_counts(scored) == status_counts(expected)
    assert_same_results(scored, expected)
    assert list(scored["patient"]) == [f"p{i}" for i in range(300)]
    rows, statuses, errors, reasons = parse_summary(err)
    assert rows == 300
    assert statuses == status_counts(expected)
    assert errors == sum(reason_counts(expected).values())
    assert reasons == reason_counts(expected)


@pytest.mark.parametrize("kind", ["csv", "tsv", "parquet", "xlsx"])
def test_chunk_size_is_honoured(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    """--chunk-size ROWS bounds the rows read and scored at once, whatever the input format.

    Seen from outside through the progress bar (fake terminal): the first progress report
    comes after the first chunk, so it counts at most ROWS rows, and there are several.
    """
    source = _write_input(tmp_path, kind, _big_text(60, seed=1))
    monkeypatch.delenv("CI", raising=False)
    _fake_terminal(monkeypatch)
    code, _, err = run_cli(capsys, "score", source, "-o", tmp_path / "out.csv", "--chunk-size", "7")
    assert code in (0, 1)
    reported = [int(n.replace(",", "")) for n in re.findall(r"\r\s*([\d,]+) rows", err)]
    assert reported, err
    assert reported[-1] == 60
    assert reported[0] <= 7, reported
    assert len(reported) >= 60 // 7, reported


def test_streamed_result_does_not_depend_on_chunk_boundaries(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Rows with a unit in the cell and rows without one: in memory the unit-less rows are
    row errors (exit 1); a chunk holding only unit-less rows must not turn that into exit 2."""
    text = "patient,b12\n" + "".join(f"p{i},{'150 pmol/L' if i < 4 else '160'}\n" for i in range(8))
    expected = expected_frame(_frame_of(text))
    assert reason_counts(expected)  # in memory: per-row errors, no ColumnError
    source = _write_input(tmp_path, "parquet", text)
    for chunk in ("100", "2"):
        out = tmp_path / f"out-{chunk}.csv"
        code, _, err = run_cli(capsys, "score", source, "-o", out, "--chunk-size", chunk)
        assert code == 1, (chunk, err)
        assert_same_results(read_out(out), expected)


# ----------------------------------------------------------------------------- patient context

CONTEXT = """\
patient,B12,Homocysteine,N2O exposure,on B12,Symptoms,Risk factors,Pregnant,Age (months),eGFR (mL/s)
p1,400 ng/L,40 umol/L,yes,,tremor; twitching,,,,
p2,1500 ng/L,,,yes,,,,,
p3,400 ng/L,,N,no,fatigue,pernicious anaemia,,780,0.9
p4,400 ng/L,,,,shaking,metformin,,,
p5,150 ng/L,,false,0,none,"metformin, ppi",yes,360,
p6,400 ng/L,,TRUE,,,n2o,,,
"""


def _context_expected(path: Path) -> Any:
    return expected_frame(pd.read_csv(path, dtype=str, keep_default_na=False))


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_score_context_columns(capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str):
    source = _write_input(tmp_path, kind, CONTEXT)
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 1, err  # p4 names an unknown symptom
    scored = read_out(out)
    assert_same_results(scored, _context_expected(write(tmp_path / "c.csv", CONTEXT)))
    by_patient = {row.patient: row for row in scored.itertuples()}
    # the rules-v2 cases, read from context columns
    p1 = by_patient["p1"]
    assert p1.b12labs_status == "deficiency_likely"
    assert "nitrous_oxide_functional_deficiency" in p1.b12labs_findings.split(";")
    p2 = by_patient["p2"]
    assert p2.b12labs_status == "insufficient_data"
    assert "results_unreliable_after_treatment" in p2.b12labs_findings.split(";")
    # 0.9 mL/s/1.73 m2 = 54 mL/min/1.73 m2; pernicious anaemia, a symptom, normal B12
    p3 = by_patient["p3"]
    assert float(p3.b12labs_egfr) == pytest.approx(54.0)
    expected = b12labs.interpret(
        b12="400 ng/L",
        nitrous_oxide=False,
        recent_b12_treatment=False,
        symptoms="fatigue",
        risk_factors="pernicious anaemia",
        age=65,
        egfr=54,
    )
    assert p3.b12labs_status == expected.status.value == "borderline"
    assert p3.b12labs_findings.split(";") == list(expected.finding_codes)
    p4 = by_patient["p4"]
    assert p4.b12labs_error.startswith("invalid_value: symptoms: 'shaking' is not recognised")
    assert all(s.value in p4.b12labs_error for s in b12labs.Symptom)
    p5 = by_patient["p5"]
    assert p5.b12labs_status == "borderline"  # pregnant, total B12 only, low: rule 3.1
    p6 = by_patient["p6"]
    assert "nitrous_oxide_b12_not_reassuring" in p6.b12labs_findings.split(";")
    assert set(scored["b12labs_rules_version"]) == {"2"}


def test_script_scores_context_columns_without_pandas(tmp_path: Path) -> None:
    """The console script's CSV fast path (pandas reported absent) reads context columns."""
    source = write(tmp_path / "context.csv", CONTEXT)
    out = tmp_path / "out.parquet"
    result = run_script("score", source, "-o", out, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    table = pq.read_table(out)
    expected = _context_expected(source)
    assert texts(table.column("b12labs_status").to_pylist()) == texts(expected["b12labs_status"])
    assert texts(table.column("b12labs_error").to_pylist()) == texts(expected["b12labs_error"])


@pytest.mark.parametrize("header", ["Age (mins)", "eGFR (CKD-EPI)"])
def test_score_unknown_header_unit_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, header: str
) -> None:
    source = write(tmp_path / "in.csv", f"b12,{header}\n150 pmol/L,40\n")
    code, out, err = run_cli(capsys, "score", source, "-o", tmp_path / "out.csv")
    assert code == 2
    assert out == ""
    one_line_error(err)
    assert repr(header) in err
    assert "accepted" in err
    assert not (tmp_path / "out.csv").exists()


def test_score_column_option_maps_context_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", "b12,hcy,Lachgas\n400 ng/L,40 umol/L,yes\n")
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out, "--column", "nitrous_oxide=Lachgas")
    assert code == 0, err
    expected = b12labs.interpret(b12="400 ng/L", hcy="40 umol/L", nitrous_oxide=True)
    assert read_out(out)["b12labs_status"].tolist() == [expected.status.value]


@pytest.mark.parametrize(
    ("argv", "symptoms"),
    [
        (["--symptom", "tremor; twitching"], ("tremor", "fasciculations")),
        (
            ["--symptom", "tremor, cramps", "--symptom", "fatigue"],
            ("tremor", "muscle_cramps", "fatigue"),
        ),
        (["--symptom", "none"], ()),
    ],
)
def test_explain_symptom_lists_in_one_text(
    capsys: pytest.CaptureFixture[str], argv: list[str], symptoms: tuple[str, ...]
) -> None:
    args = ["--b12", "400 ng/L", *argv, "--risk-factor", "metformin, ppi", "--json"]
    code, out, err = run_cli(capsys, "explain", *args)
    assert code == 0, err
    result = b12labs.Interpretation.model_validate_json(out)
    assert result.patient.symptoms == symptoms
    assert result.patient.risk_factors == ("metformin", "proton_pump_inhibitor")
    assert result == b12labs.interpret(
        b12="400 ng/L", symptoms=list(symptoms), risk_factors=["metformin", "ppi"]
    )


def test_explain_unknown_symptom_in_a_list_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "explain", "--b12", "400 ng/L", "--symptom", "tremor; shaking")
    assert code == 2
    assert out == ""
    one_line_error(err)
    assert "'shaking'" in err
    assert "fasciculations" in err  # the accepted codes are listed
