"""Issue 10, command line: no wrong answer, no lost row, no traceback, on any input.

Contract 2: ``b12labs`` never prints a traceback. Exit 2 for usage, input, environment
(missing extra, unreadable or unwritable file, full disk) and profile errors, one line each,
naming the flag to use; exit 1 only for rows that could not be interpreted.

Contract 3: every input line after the header gives exactly one output row (blank lines are
not rows); a malformed line is an error row of its own, never merged into another; an
interrupted or failed run leaves earlier output untouched and no temporary file behind.

Expectations come from ``b12labs.interpret()`` / ``interpret_frame`` on the same data, or from
the bytes written by the test, never from the command line's own output.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import b12labs
from b12labs import cli

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SCRIPT = Path(sys.executable).parent / "b12labs"
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


# ----------------------------------------------------------------------------- helpers


def run_cli(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_script(*args: Any, cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if "stdout" not in kwargs:
        kwargs["capture_output"] = True
    return subprocess.run(
        [str(SCRIPT), *(str(a) for a in args)],
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
        **kwargs,
    )


def one_line_error(err: str, *needles: str) -> None:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("b12labs: error:"), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def part_files(folder: Path) -> list[str]:
    return [name for name in os.listdir(folder) if name.endswith(".part")]


def read_out(path: Path) -> Any:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def rows_read(err: str) -> int:
    match = re.search(r"([\d,]+) rows read", err)
    assert match, err
    return int(match[1].replace(",", ""))


def expected_results(text: str, **kwargs: Any) -> Any:
    return b12labs.interpret_frame(pd.read_csv(io.StringIO(text), dtype=str), **kwargs)


def statuses(frame: Any) -> list[str]:
    return ["" if pd.isna(v) else str(v) for v in frame["b12labs_status"]]


def errors(frame: Any) -> list[str]:
    return ["" if pd.isna(v) else str(v).split(":", 1)[0] for v in frame["b12labs_error"]]


def data_lines(data: bytes) -> int:
    """Rows a CSV holds by the contract: non-empty lines (\\n, \\r\\n or \\r) after the header."""
    lines = [line for line in re.split(rb"\r\n|\r|\n", data.removeprefix(b"\xef\xbb\xbf")) if line]
    return max(0, len(lines) - 1)


GOOD = """\
patient,Vitamin B12,B12 unit,MMA (umol/L),Age
p1,180,pg/mL,0.52,71
p2,<100,pg/mL,,34
p3, 410 ,pmol/L,0.21,45
p4,"1,250",pg/mL,0.18,62
p5,238,pmol/L,0.44,67
"""


# ---------------------------------------------------------------------- CSV: one row per line


UNCLOSED = {
    # the case: 5 lines, "2 rows read"
    "middle": 'patient,b12\np1,150 pmol/L\np2,"200 pmol/L\np3,300 pmol/L\np4,400 pmol/L\n',
    "first-row": 'patient,b12\np1,"150 pmol/L\np2,200 pmol/L\np3,300 pmol/L\n',
    "two-that-pair-up": (
        'patient,b12\np1,"150 pmol/L\np2,200 pmol/L\np3,"300 pmol/L\np4,400 pmol/L\n'
    ),
    "last-line": 'patient,b12\np1,150 pmol/L\np2,"200 pmol/L',
    "last-line-then-blank": 'patient,b12\np1,150 pmol/L\np2,"200 pmol/L\n\n\n',
    "closing-on-a-later-line": 'patient,b12\np1,"150 pmol/L\np2,200 pmol/L"\np3,300 pmol/L\n',
}


@pytest.mark.parametrize("text", UNCLOSED.values(), ids=UNCLOSED.keys())
def test_unclosed_quote_is_one_malformed_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(text.encode())
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 1, err
    lines = [line for line in text.splitlines()[1:] if line]
    assert rows_read(err) == len(lines) == data_lines(text.encode())
    scored = read_out(out)
    assert len(scored) == len(lines)
    # every line is its own row: the patient ids are all there, once
    assert sorted(scored["patient"]) == sorted(line.split(",")[0] for line in lines)
    for line in lines:
        row = scored[scored["patient"] == line.split(",")[0]].iloc[0]
        if ',"' in line:  # a quote that opens a cell and never closes on its line
            assert row["b12labs_error"].startswith("malformed_row"), line
        else:  # a good line keeps its own value, not text swallowed from another line
            assert row["b12"] == line.split(",")[1]
            # and gets what interpret() gives that cell ('200 pmol/L"': a unit error)
            status, error = _scalar(row["b12"])
            if error is None:
                assert row["b12labs_status"] == status
            else:
                assert row["b12labs_error"].endswith(error.message), line


def _scalar(b12: str) -> tuple[str | None, b12labs.B12LabsError | None]:
    """interpret()'s status for the cell, or the error it raises."""
    try:
        return b12labs.interpret(b12=b12).status.value, None
    except b12labs.B12LabsError as error:
        return None, error


def test_quoted_cell_with_a_line_break_is_not_merged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A cell cannot span lines: both lines of it are kept as malformed rows."""
    text = 'patient,b12,note\np1,150 pmol/L,"first\nsecond"\np2,200 pmol/L,ok\n'
    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 1
    assert rows_read(err) == 3
    scored = read_out(out)
    assert errors(scored).count("malformed_row") == 2
    assert scored[scored["patient"] == "p2"]["b12labs_status"].tolist() == [
        b12labs.interpret(b12="200 pmol/L").status.value
    ]


@pytest.mark.parametrize("chunk", ["7", "100000"])
def test_unclosed_quotes_in_a_long_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, chunk: str
) -> None:
    rng = random.Random(10)
    lines = ["patient,b12,note"]
    bad = {17, 2500, 4999}
    for i in range(5000):
        quote = '"' if i in bad else ""
        lines.append(f"p{i},{quote}{rng.randint(100, 900)} pmol/L,{rng.choice(['x', '', 'y z'])}")
    data = ("\n".join(lines) + "\n").encode()
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    out = tmp_path / "out.parquet"
    code, _, err = run_cli(capsys, "score", source, "-o", out, "--chunk-size", chunk)
    assert code == 1, err
    table = pq.read_table(out).to_pandas()
    assert len(table) == 5000 == rows_read(err)
    assert sorted(table["patient"]) == sorted(f"p{i}" for i in range(5000))
    flagged = table[table["b12labs_error"].fillna("").str.startswith("malformed_row")]
    assert sorted(flagged["patient"]) == sorted(f"p{i}" for i in bad)


def test_unclosed_quote_in_the_header_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text('patient,"b12\np1,150 pmol/L\n', encoding="utf-8")
    code, out, err = run_cli(capsys, "score", source)
    assert code == 2
    assert out == ""
    one_line_error(err, "header")


@pytest.mark.parametrize("ending", ["\r", "\r\n"], ids=["cr", "crlf"])
def test_cr_line_endings(capsys: pytest.CaptureFixture[str], tmp_path: Path, ending: str) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(GOOD.replace("\n", ending).encode())
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 0, err
    scored = read_out(out)
    expected = expected_results(GOOD)
    assert statuses(scored) == statuses(expected)
    assert list(scored["patient"]) == ["p1", "p2", "p3", "p4", "p5"]
    assert list(scored["Age"]) == ["71", "34", "45", "62", "67"]  # no stray \r


def test_huge_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for position, chunk in (("first", "100000"), ("late", "100000"), ("late", "1")):
        head = (
            [] if position == "first" else [f"p{i},{100 + i % 500} pmol/L,x" for i in range(40000)]
        )
        big = "y" * 3_000_000
        text = "\n".join(["patient,b12,note", *head, f"big,150 pmol/L,{big}", "last,2 pmol/L,z"])
        source = tmp_path / "in.csv"
        source.write_text(text + "\n", encoding="utf-8")
        out = tmp_path / "out.parquet"
        code, _, err = run_cli(capsys, "score", source, "-o", out, "--chunk-size", chunk)
        assert code in (0, 1), (position, chunk, err)
        table = pq.read_table(out, columns=["patient", "note"]).to_pydict()
        assert len(table["patient"]) == len(head) + 2
        assert table["note"][table["patient"].index("big")] == big


# ----------------------------------------------------------------------------- encodings


UNICODE = "patient,b12,note\nJosé,≤150 pmol/L,café\np2,400 pmol/L,≥ 5\n"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_bom_encodings(capsys: pytest.CaptureFixture[str], tmp_path: Path, encoding: str) -> None:
    data = UNICODE.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        data = ("\ufeff" + UNICODE).encode(encoding)  # the byte-order mark written explicitly
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out, "--quiet")
    assert code == 0, err
    assert err == ""
    scored = read_out(out)
    assert list(scored.columns[:3]) == ["patient", "b12", "note"]
    assert list(scored["patient"]) == ["José", "p2"]
    assert list(scored["b12"]) == ["≤150 pmol/L", "400 pmol/L"]
    assert list(scored["note"]) == ["café", "≥ 5"]
    assert statuses(scored) == statuses(expected_results(UNICODE))


def test_cp1252_with_euro_sign(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = "patient,b12,cost,note\nJosé,150 pmol/L,5 €,l’été\np2,400 pmol/L,0 €,\n"
    source = tmp_path / "in.csv"
    source.write_bytes(text.encode("cp1252"))
    assert b"\x80" in source.read_bytes()  # the euro sign of cp1252, a C1 control in Latin-1
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out, "--quiet")
    assert code == 0, err
    assert len(err.strip().splitlines()) == 1, err  # the one note that says so
    assert "cp1252" in err
    scored = read_out(out)
    assert list(scored["cost"]) == ["5 €", "0 €"]
    assert list(scored["patient"]) == ["José", "p2"]
    assert scored["note"].iloc[0] == "l’été"


@pytest.mark.parametrize("utf8_first", [False, True], ids=["ascii-first", "utf8-first"])
def test_non_utf8_byte_after_the_first_mib(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, utf8_first: bool
) -> None:
    lines = ["patient,b12"] + [f"p{i},{100 + i % 700} pmol/L" for i in range(80_000)]
    data = ("\n".join(lines) + "\n").encode()
    if utf8_first:
        data = data.replace(b"p5,", "Zoë,".encode(), 1)
    assert len(data) > 1 << 20
    data += "José,200 pmol/L\n".encode("cp1252")
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 0, err
    assert "cp1252" in err
    assert rows_read(err) == 80_001
    scored = read_out(out)
    assert len(scored) == 80_001
    assert scored["patient"].iloc[-1] == "José"
    if utf8_first:
        assert scored["patient"].iloc[5] == "Zoë"


@pytest.mark.parametrize(
    ("name", "make", "needle"),
    [
        ("gz.csv", lambda: gzip.compress(GOOD.encode()), "gzip"),
        ("parquet.csv", None, "Parquet"),
        ("zip.csv", lambda: b"PK\x03\x04" + bytes(range(256)) * 4, "zip"),
        ("random.csv", lambda: random.Random(3).randbytes(20_000), "text"),
        ("nul.csv", lambda: b"\x00" * 5000, "text"),
    ],
)
def test_non_text_input_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, make: Any, needle: str
) -> None:
    source = tmp_path / name
    if make is None:
        pq.write_table(pa.table({"b12": ["150 pmol/L"]}), source)
    else:
        source.write_bytes(make())
    out = tmp_path / "out.csv"
    code, stdout, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 2
    assert stdout == ""
    one_line_error(err, needle)
    assert not out.exists()
    assert part_files(tmp_path) == []


# ----------------------------------------------------------------------------- output safety


def _links(tmp_path: Path, source: Path) -> dict[str, Path]:
    (tmp_path / "sub").mkdir()
    symlink = tmp_path / "link.csv"
    symlink.symlink_to(source)
    hard = tmp_path / "hard.csv"
    os.link(source, hard)
    return {
        "same": source,
        "other-spelling": tmp_path / "sub" / ".." / source.name,
        "symlink": symlink,
        "hard-link": hard,
    }


@pytest.mark.parametrize("how", ["same", "other-spelling", "symlink", "hard-link"])
def test_output_equal_to_input_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, how: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    target = _links(tmp_path, source)[how]
    code, out, err = run_cli(capsys, "score", source, "-o", target)
    assert code == 2
    assert out == ""
    one_line_error(err, "--output")
    assert source.read_text(encoding="utf-8") == GOOD
    assert part_files(tmp_path) == []


def test_output_through_a_symlink_writes_its_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    real = tmp_path / "real.csv"
    real.write_text("earlier\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    code, _, err = run_cli(capsys, "score", source, "-o", link)
    assert code == 0, err
    assert link.is_symlink()
    assert len(read_out(real)) == 5


def _big_input(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("patient,b12,MMA (umol/L),age\n")
        for start in range(0, rows, 100_000):
            handle.write(
                "".join(
                    f"p{i},{100 + i % 900} pmol/L,0.{i % 9 + 1},{20 + i % 70}\n"
                    for i in range(start, min(rows, start + 100_000))
                )
            )


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)]
)
def test_signal_mid_run_leaves_earlier_output_and_no_temporary_file(
    tmp_path: Path, signum: int, code: int
) -> None:
    source = tmp_path / "big.csv"
    _big_input(source, 1_500_000)
    out = tmp_path / "out.csv"
    out.write_text("earlier output\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    process = subprocess.Popen(
        [str(SCRIPT), "score", str(source), "-o", str(out), "--chunk-size", "20000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # mid-run: a chunk is already in the temporary file
            parts = [tmp_path / p for p in part_files(tmp_path)]
            if parts and any(p.exists() and p.stat().st_size > 0 for p in parts):
                break
            assert process.poll() is None, "the run ended before it could be interrupted"
            time.sleep(0.01)
        else:
            pytest.fail("no temporary output file appeared")
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, stderr
    assert b"Traceback" not in stderr
    assert out.read_text(encoding="utf-8") == "earlier output\n"
    assert part_files(tmp_path) == []


def _full_device(tmp_path: Path) -> Path:
    """A private copy of /dev/full (character device 1:7): writes to it fail with ENOSPC."""
    node = tmp_path / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except (OSError, AttributeError):
        if not Path("/dev/full").exists():
            pytest.skip("no /dev/full and no permission to make a device node")
        return Path("/dev/full")
    return node


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_full_disk_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str) -> None:
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    full = _full_device(tmp_path)
    code, _, err = run_cli(capsys, "score", source, "-o", full, "--format", fmt)
    assert code == 2
    one_line_error(err, "--output", "No space left")
    assert stat.S_ISCHR(full.stat().st_mode)  # written to, never replaced
    assert part_files(full.parent) == []


def test_full_standard_output_is_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    full = _full_device(tmp_path)
    with full.open("wb") as stdout:
        result = run_script("score", source, cwd=tmp_path, stdout=stdout, stderr=subprocess.PIPE)
    assert result.returncode == 2
    one_line_error(result.stderr, "standard output", "No space left")


def test_console_script_ends_with_its_output_complete(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The console script ends its process without the interpreter's teardown
    # (cli._end_process): what it wrote must be complete all the same. In-process main()
    # is the reference.
    source = tmp_path / "in.csv"
    _big_input(source, 30_000)
    with source.open("a", encoding="utf-8") as handle:
        handle.write("p-junk,lots,0.2,50\n")  # one row error: exit code 1
    reference = tmp_path / "reference.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", reference)
    assert code == 1, err
    # block-buffered output, as in a pipe without PYTHONUNBUFFERED
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONUNBUFFERED")}
    result = subprocess.run(
        [str(SCRIPT), "score", str(source)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stdout == reference.read_text(encoding="utf-8")
    explained = subprocess.run(
        [str(SCRIPT), "explain", "--b12", "150 pmol/L", "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    code, report, _ = run_cli(capsys, "explain", "--b12", "150 pmol/L", "--json")
    assert code == 0
    assert json.loads(explained.stdout) == json.loads(report)

    # the notes and the summary, to its last line (only the timing and output name differ)
    def lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if " rows read in " not in line]

    assert lines(result.stderr) == lines(err)
    assert len(lines(err)) >= 7
    assert result.stderr.splitlines()[-1].strip().startswith("invalid_value")


@pytest.mark.parametrize(
    ("console", "preset", "searched", "blas"),
    [(True, None, False, "1"), (False, None, True, "-"), (True, "2", False, "2")],
)
def test_console_score_skips_the_pydantic_plugin_search(
    tmp_path: Path, console: bool, preset: str | None, searched: bool, blas: str
) -> None:
    # The console script's score sets PYDANTIC_DISABLE_PLUGINS (13 ms of entry points read
    # at the first validator) and OPENBLAS_NUM_THREADS (a spinning BLAS thread, before numpy
    # loads), keeping a setting the user made; main(), called in-process, leaves the
    # environment alone.
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    code = (
        "import os, sys\nfrom b12labs import cli\nfrom pydantic.plugin import _loader\n"
        "before = 'numpy' in sys.modules\n"
        f"status = cli._main(['score', {str(source)!r}, '-o', {str(tmp_path / 'o.csv')!r}, "
        f"'--quiet', '--no-progress'], console={console})\n"
        "print(status, _loader._plugins is not None, "
        "os.environ.get('OPENBLAS_NUM_THREADS', '-'), before, 'numpy' in sys.modules)\n"
    )
    unset = ("PYDANTIC_DISABLE_PLUGINS", "OPENBLAS_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    # numpy was loaded during the run, after the setting (OpenBLAS reads it when it loads)
    assert result.stdout.split() == ["0", str(searched), blas, "False", "True"]


def test_reader_started_then_closed_stops_its_thread(tmp_path: Path) -> None:
    # score starts parsing before it loads the profile; a failure in between closes the
    # reader, which must stop its thread and release the file
    import threading

    from b12labs._io import open_input

    source = tmp_path / "in.csv"
    _big_input(source, 50_000)
    reader = open_input(source, "csv", None, 10_000)
    reader.start()
    reader.close()
    assert reader._handle.closed
    alive = [t.name for t in threading.enumerate() if t.name.startswith("b12labs-csv-read")]
    assert alive == []


def test_read_only_folder_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if ROOT_USER:
        pytest.skip("running as root: chmod does not stop root from writing (see the /sys test)")
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, _, err = run_cli(capsys, "score", source, "-o", folder / "out.csv")
    finally:
        folder.chmod(0o755)
    assert code == 2
    one_line_error(err, "--output")
    assert os.listdir(folder) == []


def test_unwritable_kernel_folder_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """sysfs refuses new files even to root: a read-only folder whoever runs the tests."""
    target = Path("/sys/b12labs-out.csv")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        pass
    else:
        os.close(fd)
        target.unlink()
        pytest.skip("/sys accepts new files here")
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    code, out, err = run_cli(capsys, "score", source, "-o", target)
    assert code == 2
    assert out == ""
    one_line_error(err, "--output")


def test_unreadable_kernel_file_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """/proc/self/mem exists but cannot be read from its start, even by root."""
    source = Path("/proc/self/mem")
    if not source.exists():
        pytest.skip("no /proc/self/mem here")
    code, out, err = run_cli(capsys, "score", source)
    assert code == 2
    assert out == ""
    one_line_error(err, "/proc/self/mem", "cannot be read")


def test_unreadable_input_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if ROOT_USER:
        pytest.skip("running as root: chmod does not stop root from reading (see /proc test)")
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    source.chmod(0)
    try:
        code, _, err = run_cli(capsys, "score", source)
    finally:
        source.chmod(0o644)
    assert code == 2
    one_line_error(err, "in.csv")


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize("value", ["", "::", '"', "\n", "é"])
def test_bad_delimiter_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    code, out, err = run_cli(capsys, "score", source, "--delimiter", value)
    assert code == 2
    assert out == ""
    one_line_error(err, "--delimiter")


@pytest.mark.parametrize("value", ["\t", "\\t", "tab"])
def test_tab_delimiter_spellings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    source = tmp_path / "in.txt"
    source.write_text(GOOD.replace('"1,250"', "1250").replace(",", "\t"), encoding="utf-8")
    code, out, err = run_cli(capsys, "score", source, "--delimiter", value)
    assert code == 0, err
    assert len(pd.read_csv(io.StringIO(out))) == 5


@pytest.mark.parametrize(
    "argv",
    [["--output=out.jsonl"], ["-oout.jsonl"], ["--out", "out.jsonl"], ["--output", "out.jsonl"]],
)
def test_output_option_spellings_in_the_console_script(tmp_path: Path, argv: list[str]) -> None:
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    result = run_script("score", source, *argv, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["patient"] for r in records] == ["p1", "p2", "p3", "p4", "p5"]


def test_duplicate_column_names_to_json_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("patient,b12,patient\np1,150 pmol/L,x\np2,400 pmol/L,y\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 0, err
    assert "Traceback" not in err
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 2
    assert [r["patient"] for r in records] == ["p1", "p2"]
    assert sorted(v for r in records for v in r.values() if v in ("x", "y")) == ["x", "y"]


def test_invalid_profile_file_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    profile = tmp_path / "mine.toml"
    profile.write_text("x = 1\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "score", source, "--profile", profile)
    assert code == 2
    one_line_error(err, "--profile")
    code, _, err = run_cli(capsys, "score", source, "--profile", tmp_path / "missing.toml")
    assert code == 2
    one_line_error(err, "--profile")


PYTHON_SPELLINGS = re.compile(r"\b(columns|units|profile|errors)=|=\{|accepted_units\(")


@pytest.mark.parametrize(
    ("text", "argv", "flag"),
    [
        ("patient,age\np1,40\n", [], '--column b12="'),
        (GOOD, ["--column", "nonsense=Vitamin B12"], "--column"),
        (GOOD, ["--column", "b12=No such column"], "--column"),
        ("b12,Vitamin B12\n150 pmol/L,150 pmol/L\n", [], '--column b12="'),
        (GOOD, ["--unit", "nonsense=pmol/L"], "--unit"),
    ],
    ids=["no-b12", "unknown-key", "missing-label", "two-b12", "unknown-unit-key"],
)
def test_errors_name_command_line_flags(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, argv: list[str], flag: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    code, _, err = run_cli(capsys, "score", source, *argv)
    assert code == 2
    one_line_error(err, flag)
    assert not PYTHON_SPELLINGS.search(err), err


def test_a_column_of_numbers_without_unit_names_the_unit_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a Parquet column of numbers cannot carry units: a column error decided by the schema
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"patient": ["p1"], "b12": [150.0]}), source)
    code, _, err = run_cli(capsys, "score", source, "-o", tmp_path / "out.parquet")
    assert code == 2
    one_line_error(err, "--unit b12=")
    assert not PYTHON_SPELLINGS.search(err), err
    assert not (tmp_path / "out.parquet").exists()


def test_core_install_without_pyarrow_says_what_to_install(tmp_path: Path) -> None:
    """`pip install b12labs` (no pandas, no pyarrow), then `b12labs score x.csv`."""
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    code = """
import sys

class CoreInstall:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pyarrow", "pandas"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, CoreInstall())
sys.argv = ["b12labs", *sys.argv[1:]]
from b12labs.cli import run
run()
"""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    for argv, expected in (
        (["score", str(source)], 2),
        (["score", str(source), "-o", str(tmp_path / "o.jsonl")], 2),
        (["explain", "--b12", "150 pmol/L"], 0),
    ):
        result = subprocess.run(
            [sys.executable, "-c", code, *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == expected, result.stderr
        if expected == 2:
            one_line_error(result.stderr, 'pip install "b12labs[pandas]"')
    assert part_files(tmp_path) == []


def test_xlsx_is_read_with_calamine(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("python_calamine")
    pytest.importorskip("openpyxl")  # to write the workbook
    source = tmp_path / "in.xlsx"
    pd.read_csv(io.StringIO(GOOD), dtype=str).to_excel(source, index=False)
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # reading must not need it
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 0, err
    scored = read_out(out)
    assert statuses(scored) == statuses(expected_results(GOOD))
    assert list(scored["Vitamin B12"]) == ["180", "<100", " 410 ", "1,250", "238"]


def test_xlsx_without_a_reader_is_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("openpyxl")
    source = tmp_path / "in.xlsx"
    pd.read_csv(io.StringIO(GOOD), dtype=str).to_excel(source, index=False)
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    monkeypatch.setitem(sys.modules, "python_calamine", None)
    code, out, err = run_cli(capsys, "score", source)
    assert code == 2
    assert out == ""
    one_line_error(err, 'pip install "b12labs[excel]"')


# ----------------------------------------------------------------------------- other commands


def test_profiles_positional_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, shown, err = run_cli(capsys, "profiles", "--show", "nice-ng239")
    assert code == 0, err
    code, positional, err = run_cli(capsys, "profiles", "nice-ng239")
    assert code == 0, err
    assert positional == shown
    code, out, err = run_cli(capsys, "profiles", "no-such-profile")
    assert code == 2
    assert out == ""
    one_line_error(err)
    code, out, err = run_cli(capsys, "profiles", "nice-ng239", "--show", "bsh-2014")
    assert code == 2
    one_line_error(err, "--show")


@pytest.mark.parametrize("argv", [[], ["--age", "70", "--sex", "female"], ["--b12", " "]])
def test_explain_without_results_is_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run_cli(capsys, "explain", *argv)
    assert code == 2
    assert out == ""
    one_line_error(err, "--b12")


def test_explain_bad_value_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "explain", "--b12", "150 furlongs")
    assert code == 2
    one_line_error(err, "--b12")


def test_progress_text() -> None:
    text = cli._progress_text(1_234_567, 0.25, 30.0)
    assert "1,234,567 rows" in text
    assert "25.0%" in text
    assert "1:30 left" in text  # 30 s for a quarter: 90 s for the rest
    assert "1:30 left" not in cli._progress_text(10, 0.25, 0.2)  # no guess in the first second
    unknown = cli._progress_text(500, None, 12.0)
    assert "500 rows" in unknown
    assert "%" not in unknown
    assert "left" not in unknown
    assert "1:00:00 left" in cli._progress_text(10, 0.5, 3600.0)
    assert "left" not in cli._progress_text(10, 1.0, 5.0)


def test_progress_on_a_terminal_shows_percent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    code, _, err = run_cli(capsys, "score", source, "-o", tmp_path / "out.csv")
    assert code == 0
    assert re.search(r"\r\s*5 rows\s+100\.0%", err), err


# ----------------------------------------------------------------------------- no traceback, ever


def test_internal_error_is_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(GOOD, encoding="utf-8")
    out = tmp_path / "out.csv"
    out.write_text("earlier\n", encoding="utf-8")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret cell 180 pg/mL")

    monkeypatch.setattr(cli, "_score_batch", broken)
    with caplog.at_level(logging.DEBUG, logger="b12labs"):
        code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 2
    one_line_error(err, "internal error", "RuntimeError")
    assert out.read_text(encoding="utf-8") == "earlier\n"
    assert part_files(tmp_path) == []
    assert any("RuntimeError" in r.getMessage() for r in caplog.records)
    assert not any("secret" in r.getMessage() for r in caplog.records)  # never a cell value


def test_swallowed_problems_are_logged_without_cell_values(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"  # one column: no delimiter to sniff
    source.write_bytes("b12\n150 pmol/L\nSECRET\nJosé\n".encode("cp1252"))
    with caplog.at_level(logging.DEBUG, logger="b12labs"):
        code, _, _ = run_cli(capsys, "score", source, "-o", tmp_path / "out.csv")
    assert code in (0, 1)
    assert caplog.records
    for record in caplog.records:
        assert "SECRET" not in record.getMessage()
        assert "Jos" not in record.getMessage()


def test_blank_lines_are_not_rows(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    text = "\n \n\t\npatient,b12\n\np1,150 pmol/L\n\n\np2,400 pmol/L\n\n"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 0, err
    assert list(read_out(out)["patient"]) == ["p1", "p2"]


def test_malformed_row_text_is_kept_per_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Each malformed line is padded or cut on its own (an unclosed quote in one must not
    pull the next malformed line into it)."""
    source = tmp_path / "in.csv"
    source.write_text('a,b12,c\np1,"150 pmol/L\np2,x\np3,1 pmol/L,z\n', encoding="utf-8")
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "score", source, "-o", out)
    assert code == 1, err
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["a"] for r in rows] == ["p3", "p1", "p2"]  # good rows first, malformed at the end
    assert rows[1]["b12"] == "150 pmol/L"
    assert rows[2]["b12"] == "x"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "cp1252"])
def test_line_blocks_do_not_depend_on_read_size(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, encoding: str
) -> None:
    """Reads cut anywhere (inside a "\\r\\n", a UTF-16 code unit, a long line) give the same
    lines: each ending in one "\\n", whatever the line ends were."""
    from b12labs import _io

    monkeypatch.setattr(_io, "_SNIFF_BYTES", 4)  # the first read: the byte-order mark only

    text = "h1,h2\r\np1,é\rp2,€ x\n\np3," + "y" * 50 + "\r\n\r\np4,z\r"
    source = tmp_path / "in.csv"
    source.write_bytes(text.encode(encoding))
    expected = "h1,h2\np1,é\np2,€ x\n\np3," + "y" * 50 + "\n\np4,z\n"
    for size in (1, 2, 3, 5, 7, 64, 1 << 20):
        with source.open("rb") as handle:
            lines = _io._Lines(source, handle)
            text_read = b"".join(lines.blocks(lambda size=size: size)).decode("utf-8")
        assert text_read == expected, size
