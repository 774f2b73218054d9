"""Fuzzing ``b12labs score`` with hostile CSV bytes (issue 10).

Random encodings (with and without byte-order marks), quotes (closed, doubled, left open),
delimiters, line endings (LF, CRLF, CR, mixed), blank lines, NUL bytes, huge cells, wrong
field counts, stray bytes, and content that is not text at all, run in-process through
``b12labs.cli.main([...])``. For every input:

* contract 2: exit 0, 1 or 2, never a traceback; exit 2 is one line on standard error;
* contract 3: on exit 0 or 1 the output has one row per input line after the header (blank
  lines are not rows), and the summary says so; on failure no file is left behind and an
  earlier output is untouched.

The expected number of rows is counted here from the bytes written (lines split on ``\\n``,
``\\r\\n`` and ``\\r``), never from the command line's code.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from b12labs import cli

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("pandas")


def fuzz(examples: int) -> settings:
    """About a minute for the whole file; no per-example deadline (the machine is noisy)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


EARLIER = b"earlier output\n"
# codecs that write a byte-order mark, or whose text the reader must recognise without one
WIDE = ("utf-16", "utf-16-le", "utf-16-be", "utf-32")
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", *WIDE)
COLUMNS = ("patient", "Age", "Sex", "note", "B12 unit", "MMA (umol/L)", "Homocysteine", "x", "")
VALUES = (
    "150 pmol/L", "<100 pg/mL", "1,250 ng/L", " 410 pmol/L ", "N/A", "", "abc", "0.3",
    "> 2000 pg/mL", "=HYPERLINK(1)", "-5", "José", "≤ 5 pmol/L", "5 €", "\x00", '"', '""',
    'a"b', "x\ty", ";", "|", ",", "\r", "\n", "\r\n", "l’été", "\ufeff", "\u2028", "\x85",
    "pmol/L", "F", "71",
)  # fmt: skip


def _quote(cell: str, how: str) -> str:
    if how == "csv":
        return '"' + cell.replace('"', '""') + '"'
    if how == "open":  # a quote that never closes
        return '"' + cell
    return cell


@st.composite
def csv_files(draw: Any) -> tuple[bytes, str, str]:
    """(the bytes of a hostile CSV file, the codec it was written in, its delimiter)."""
    encoding = draw(st.sampled_from(ENCODINGS))
    ascii_only = encoding in ("utf-16-le", "utf-16-be")  # recognised by its zero bytes
    delimiter = draw(st.sampled_from(",;\t|"))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    extra = draw(st.lists(st.sampled_from(COLUMNS), max_size=4, unique=True))
    if extra and draw(st.integers(0, 9)) == 0:
        extra.append(extra[0])  # a repeated column name
    header = [*extra]
    header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(["b12", "Vitamin B12"])))
    cell = st.one_of(
        st.sampled_from([v for v in VALUES if "/L" in v]),  # mostly usable: rows get scored
        st.sampled_from([v for v in VALUES if "/L" in v]),
        st.sampled_from(VALUES),
        st.text(max_size=10),
        st.text(alphabet='"\r\n,;\t| ab\x00', max_size=8),
    )
    rows = draw(
        st.lists(
            st.lists(
                st.tuples(cell, st.sampled_from(["none", "none", "none", "csv", "open"])),
                min_size=max(0, len(header) - 1),
                max_size=len(header) + 1,
            ),
            max_size=25,
        )
    )
    lines = [delimiter.join(header)]
    for row in rows:
        lines.append(delimiter.join(_quote(text, how) for text, how in row))
        if draw(st.integers(0, 9)) == 0:
            lines.append("")  # a blank line
    if draw(st.integers(0, 14)) == 0:  # one huge cell
        size = draw(st.integers(100_000, 400_000))
        lines.insert(draw(st.integers(1, len(lines))), f"big{delimiter}{'x' * size}")
    if ending == "mixed":
        text = "".join(line + draw(st.sampled_from(["\n", "\r\n", "\r"])) for line in lines)
    else:
        text = ending.join(lines) + (ending if draw(st.booleans()) else "")
    if ascii_only:
        text = text.encode("ascii", "replace").decode("ascii")
    data = text.encode(encoding, "replace")
    if encoding not in WIDE and draw(st.integers(0, 4)) == 0:  # stray bytes somewhere
        stray = draw(st.binary(min_size=1, max_size=6))
        at = draw(st.integers(0, len(data)))
        data = data[:at] + stray + data[at:]
    return data, encoding, delimiter


def _non_text(data: bytes) -> st.SearchStrategy[bytes]:
    return st.sampled_from(
        [gzip.compress(data), b"PAR1" + data, b"PK\x03\x04" + data, b"\x00" * len(data)]
    )


def expected_rows(data: bytes, encoding: str) -> int | None:
    """Rows by the contract: non-blank lines after the header (the first line that is not
    blank or only spaces and tabs); None when the bytes do not define a text (mostly zero
    bytes that are not UTF-16/32 with a byte-order mark)."""
    if encoding in WIDE:
        text = data.decode(encoding, "replace").removeprefix("\ufeff")
    else:
        head = data[:4096]
        if head and head.count(0) >= 0.4 * len(head):
            return None
        # one character per byte: the line ends stay where they are, whatever the encoding
        text = data.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    lines = re.split("\r\n|\r|\n", text)
    header = next((i for i, line in enumerate(lines) if line.strip(" \t")), len(lines))
    return sum(1 for line in lines[header + 1 :] if line)


def _output_rows(path: Path | None, stdout: bytes, fmt: str) -> int:
    if fmt == "parquet":
        assert path is not None
        return int(pq.ParquetFile(path).metadata.num_rows)
    data = path.read_bytes() if path is not None else stdout
    if fmt == "jsonl":
        return sum(1 for line in data.split(b"\n") if line)
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        records = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    finally:
        csv.field_size_limit(limit)
    assert records, "no header written"
    return len(records) - 1


def _run(argv: list[str]) -> tuple[int, bytes, str]:
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    stderr = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(argv)
        stdout.flush()
    return code, raw.getvalue(), stderr.getvalue()


def check_contracts(data: bytes, encoding: str, options: dict[str, Any]) -> None:
    fmt = options["fmt"]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / options["name"]
        source.write_bytes(data)
        out = None if options["stdout"] else Path(folder) / f"out.{fmt}"
        argv = ["score", str(source), "--no-progress", "--chunk-size", options["chunk"]]
        if out is not None:
            argv += ["-o", str(out)]
            if options["earlier"]:
                out.write_bytes(EARLIER)
        else:
            argv += ["--format", fmt]
        if options["delimiter"]:
            argv += ["--delimiter", options["delimiter"]]
        if options["strict"]:
            argv.append("--strict")
        code, stdout, err = _run(argv)
        event(f"exit {code}")  # shown by --hypothesis-show-statistics

        # contract 2
        assert "Traceback" not in err, err
        assert code in (0, 1, 2), (code, err)
        leftovers = sorted(set(os.listdir(folder)) - {source.name, f"out.{fmt}"})
        assert leftovers == [], leftovers  # no temporary file, whatever happened
        written = code == 0 or (code == 1 and not options["strict"])
        if not written:
            if code == 2:
                lines = err.strip().splitlines()
                assert len(lines) == 1, err
                assert lines[0].startswith("b12labs: error:"), err
            if out is not None:  # an earlier output is untouched; none is created
                assert (out.read_bytes() == EARLIER) if options["earlier"] else not out.exists()
            return

        # contract 3: one output row per input line
        expected = expected_rows(data, encoding)
        summary = re.search(r"([\d,]+) rows read", err)
        assert summary, err
        if expected is not None:
            assert int(summary[1].replace(",", "")) == expected, (expected, err)
            assert _output_rows(out, stdout, fmt) == expected


OPTIONS = st.fixed_dictionaries(
    {
        "fmt": st.sampled_from(["csv", "csv", "parquet", "jsonl"]),
        "stdout": st.booleans(),
        "earlier": st.booleans(),
        "chunk": st.sampled_from(["1", "3", "100000"]),
        "delimiter": st.sampled_from([None, None, None, ",", ";", "tab"]),
        "strict": st.sampled_from([False, False, False, True]),
        "name": st.sampled_from(["in.csv", "in.tsv", "in.txt", "noext"]),
    }
).map(lambda o: {**o, "stdout": o["stdout"] and o["fmt"] != "parquet"})


@fuzz(1500)
@given(csv_files(), OPTIONS, st.sampled_from([True, True, False]))
def test_fuzz_hostile_csv(
    file: tuple[bytes, str, str], options: dict[str, Any], same: bool
) -> None:
    data, encoding, delimiter = file
    if options["delimiter"] and same:  # mostly the file's own delimiter, sometimes another
        options = {**options, "delimiter": "tab" if delimiter == "\t" else delimiter}
    check_contracts(data, encoding, options)


@fuzz(300)
@given(st.data(), OPTIONS)
def test_fuzz_non_text(data: st.DataObject, options: dict[str, Any]) -> None:
    raw, _, _ = data.draw(csv_files())
    content = data.draw(st.one_of(_non_text(raw or b"b12\n"), st.binary(min_size=1, max_size=3000)))
    check_contracts(content, "binary", options)


@fuzz(300)
@given(st.binary(max_size=2000), OPTIONS)
def test_fuzz_random_bytes_after_a_good_header(tail: bytes, options: dict[str, Any]) -> None:
    check_contracts(b"patient,b12\np1,150 pmol/L\n" + tail, "binary", options)
