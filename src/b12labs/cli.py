"""The ``b12labs`` command line: score exports, explain one panel, list profiles, print the schema.

Exit codes of ``b12labs score``: 0 every row interpreted; 1 some rows could not be interpreted
(``--strict``: the first such row stops the run); 2 usage or input error (missing file,
unreadable format, no B12-related column), always a one-line message, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from ._exceptions import B12LabsError, ColumnError, InvalidValueError
from ._version import __version__

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["main"]

EXIT_OK, EXIT_ROW_ERRORS, EXIT_USAGE = 0, 1, 2
_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".jsonl": "jsonl",
            ".ndjson": "jsonl", ".xlsx": "excel"}  # fmt: skip
_DEFAULT_CHUNK = 100_000
# A text cell starting with one of these runs as a formula in spreadsheet programs (OWASP
# "CSV injection"); numbers such as "-5" or "+1.5" are never altered.
_FORMULA_START = r"^[=+\-@\t\r]"
_NUMBER = (
    r"^\s*[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?|[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[eE][+-]?[0-9]+)?\s*$"
)


class UsageError(Exception):
    """A problem with the command or its input: exit code 2 with a one-line message."""


# ----------------------------------------------------------------------------- argument parsing


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip().strip('"')


def _parser() -> argparse.ArgumentParser:
    from ._profile import DEFAULT_PROFILE, list_profiles

    parser = argparse.ArgumentParser(
        prog="b12labs",
        description="Interpret vitamin B12 status blood tests (decision support, not a diagnosis).",
    )
    parser.add_argument("--version", action="version", version=f"b12labs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    score = commands.add_parser(
        "score",
        help="score every row of a CSV/TSV, Parquet or Excel export",
        description="Score every row of an export. Output: CSV, Parquet or JSON Lines "
        "(by the output's extension or --format); standard output when no output is given. "
        "Exit 0: all rows interpreted; 1: some rows could not be; 2: usage or input error.",
    )
    score.add_argument("input", help="CSV/TSV (delimiter sniffed), .parquet or .xlsx file")
    score.add_argument(
        "-o", "--output", help="output file (.csv, .parquet, .jsonl); default stdout"
    )
    score.add_argument("--format", choices=("csv", "parquet", "jsonl"), help="output format")
    score.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        help=f"profile id ({', '.join(list_profiles())}) or a profile file (.toml/.json)",
    )
    score.add_argument(
        "--column",
        action="append",
        type=_pair,
        default=[],
        metavar='KEY="Label"',
        help='map a column, e.g. --column b12="Vitamin B12" or --column b12_unit=Unit',
    )
    score.add_argument(
        "--unit",
        action="append",
        type=_pair,
        default=[],
        metavar="KEY=UNIT",
        help="fixed unit of an analyte, e.g. --unit mma=nmol/L",
    )
    score.add_argument(
        "--chunk-size",
        type=int,
        default=_DEFAULT_CHUNK,
        metavar="ROWS",
        help="rows per chunk; memory stays constant whatever the file size "
        f"(default {_DEFAULT_CHUNK:,})",
    )
    score.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first row that cannot be interpreted (exit 1)",
    )
    score.add_argument(
        "--allow-formulas",
        action="store_true",
        help="do not neutralize text cells that spreadsheets would run as formulas",
    )
    score.add_argument("--delimiter", help="CSV delimiter (default: sniffed)")
    score.add_argument("--no-progress", action="store_true", help="no progress bar")
    score.add_argument("--quiet", action="store_true", help="no summary on standard error")

    explain = commands.add_parser(
        "explain",
        help="explain the interpretation of one panel",
        description="Interpret one panel and print a readable report (or --json).",
    )
    for marker, example in (("b12", "150 pmol/L"), ("holotc", "32 pmol/L"), ("mma", "0.5 umol/L"),
                            ("hcy", "14 umol/L"), ("folate", "4.1 ng/mL"), ("creatinine", "1.1 mg/dL")):  # fmt: skip  # noqa: E501
        explain.add_argument(
            f"--{marker}", metavar="RESULT", help=f'e.g. "{example}" or "<{example}"'
        )
    explain.add_argument("--age", type=float, help="years")
    explain.add_argument("--sex", help="female or male")
    explain.add_argument("--pregnant", action=argparse.BooleanOptionalAction, default=None)
    explain.add_argument("--egfr", type=float, help="mL/min/1.73 m2")
    explain.add_argument(
        "--symptom",
        action="append",
        dest="symptoms",
        help='repeatable, or several in one: "tremor; twitching"; "none" = none reported',
    )
    explain.add_argument(
        "--risk-factor",
        action="append",
        dest="risk_factors",
        help='repeatable, or several in one: "metformin, ppi"; "none" = none reported',
    )
    explain.add_argument(
        "--recent-b12-treatment", action=argparse.BooleanOptionalAction, default=None
    )
    explain.add_argument("--nitrous-oxide", action=argparse.BooleanOptionalAction, default=None)
    explain.add_argument("--profile", default=DEFAULT_PROFILE, help="profile id or file")
    explain.add_argument("--json", action="store_true", help="print the result as JSON")

    profiles = commands.add_parser("profiles", help="list the profiles, or show one with citations")
    profiles.add_argument("--show", metavar="ID", help="print the thresholds of one profile")
    commands.add_parser("schema", help="print the JSON Schema of a result")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("B12LABS_UNIT_CACHE", ":auto:")  # see b12labs._units._registry
    try:
        if args.command == "score":
            return _score(args)
        if args.command == "explain":
            return _explain(args)
        if args.command == "profiles":
            return _profiles(args)
        if args.command == "schema":
            from ._interpret import result_json_schema

            print(json.dumps(result_json_schema(), indent=2))
            return EXIT_OK
        parser.print_help()
        return EXIT_USAGE
    except (UsageError, ColumnError) as error:
        print(f"b12labs: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except B12LabsError as error:  # a bad explain value, a bad profile, --strict
        print(f"b12labs: error: {error}", file=sys.stderr)
        return EXIT_ROW_ERRORS if args.command == "score" else EXIT_USAGE
    except KeyboardInterrupt:
        print("b12labs: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`: not an error worth a traceback
        with contextlib.suppress(OSError):
            sys.stdout.close()
        return EXIT_OK


def _profile(value: str) -> Any:
    from ._profile import get_profile, list_profiles, load_profile

    if value in list_profiles():
        return get_profile(value)
    if Path(value).suffix.lower() in (".toml", ".json") and Path(value).exists():
        return load_profile(value)
    raise UsageError(
        f"unknown profile {value!r}: use one of {', '.join(list_profiles())} or a .toml/.json file"
    )


# ----------------------------------------------------------------------------- profiles, explain


def _profiles(args: argparse.Namespace) -> int:
    from ._profile import get_profile, list_profiles

    if not args.show:
        for pid in list_profiles():
            profile = get_profile(pid)
            print(f"{pid:<20} {profile.version:<6} {profile.intended_use:<9} {profile.title}")
        return EXIT_OK
    profile = _profile(args.show)
    print(f"{profile.id} {profile.version}: {profile.title}")
    print(f"intended use: {profile.intended_use}")
    if profile.description:
        print(profile.description)
    print()
    for path, threshold in profile.thresholds().items():
        print(f"  {path:<32} {threshold.describe():<22} [{threshold.evidence}] {threshold.source}")
    print("\nsources:")
    for key, source in profile.sources.items():
        print(f"  {key}: {source.citation}" + (f" <{source.url}>" if source.url else ""))
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from ._interpret import interpret

    fields = (
        *("b12", "holotc", "mma", "hcy", "folate", "creatinine", "age", "sex", "pregnant"),
        *("egfr", "symptoms", "risk_factors", "recent_b12_treatment", "nitrous_oxide"),
    )
    given = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    for name in ("symptoms", "risk_factors"):
        if name in given:  # repeated and ';' / ','-separated codes alike: one text for Panel
            given[name] = "; ".join(given[name])
    result = interpret(profile=_profile(args.profile), **given)
    if args.json:
        print(result.model_dump_json(indent=2))
        return EXIT_OK
    print(result.report())
    return EXIT_OK


# ----------------------------------------------------------------------------- reading


def _sniff(path: Path, delimiter: str | None) -> tuple[str, str, bool]:
    """(delimiter, encoding for pyarrow, whether Latin-1 was chosen)."""
    with path.open("rb") as handle:
        sample = handle.read(1 << 20)
    if not sample.strip():
        raise UsageError(f"{path}: the file is empty")
    latin1 = False
    whole_file = len(sample) < (1 << 20)
    try:
        text = sample.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if whole_file or error.start < len(sample) - 4:  # not a character cut by the sample
            latin1 = True
        text = sample[: error.start].decode("utf-8-sig") if not latin1 else sample.decode("latin-1")
    if delimiter is None:
        lines = "\n".join(text.splitlines()[:50])
        try:
            delimiter = csv.Sniffer().sniff(lines, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    return delimiter, ("latin-1" if latin1 else "utf8"), latin1


def _csv_batches(
    path: Path, args: argparse.Namespace, malformed: list[str]
) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa
    import pyarrow.csv as pv

    delimiter, encoding, latin1 = _sniff(path, args.delimiter)
    if latin1:
        print(f"b12labs: note: {path} is not UTF-8; read as Latin-1", file=sys.stderr)
    names = _header(path, delimiter, encoding)
    # Every column is read as text: values are written back exactly as they came, and the
    # scorer parses the B12 columns itself (censored values, junk, units in cells).
    size = path.stat().st_size
    block = max(1 << 20, min(1 << 26, size // max(1, _rows_estimate(path, size)) * args.chunk_size))

    def on_invalid(row: Any) -> str:
        malformed.append(row.text)  # kept, and written at the end as an error row
        return "skip"

    with path.open("rb") as handle:
        handle.readline()
        if not handle.read(1).strip():  # a header and nothing after it
            return
    reader = pv.open_csv(
        path,
        read_options=pv.ReadOptions(encoding=encoding, block_size=block),
        parse_options=pv.ParseOptions(
            delimiter=delimiter, invalid_row_handler=on_invalid, newlines_in_values=True
        ),
        convert_options=pv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
        ),
    )
    for batch in reader:  # blocks are read by size; chunks are cut to --chunk-size rows
        for start in range(0, batch.num_rows, args.chunk_size):
            yield batch.slice(start, args.chunk_size)


def _header(path: Path, delimiter: str, encoding: str) -> list[str]:
    with path.open("rb") as handle:
        line = handle.readline().decode("utf-8-sig" if encoding == "utf8" else "latin-1")
    names = next(csv.reader([line], delimiter=delimiter), [])
    if not names:
        raise UsageError(f"{path}: no header line")
    return names


def _malformed_table(path: Path, args: argparse.Namespace, texts: list[str]) -> pa.Table:
    """Rows with the wrong number of fields, padded (or cut) to the header's width."""
    import pyarrow as pa

    delimiter, encoding, _ = _sniff(path, args.delimiter)
    names = _header(path, delimiter, encoding)
    rows = [
        (fields + [""] * len(names))[: len(names)]
        for fields in csv.reader(texts, delimiter=delimiter)
    ]
    return pa.table(
        {name: pa.array([r[i] for r in rows], type=pa.string()) for i, name in enumerate(names)}
    )


def _rows_estimate(path: Path, size: int) -> int:
    with path.open("rb") as handle:
        sample = handle.read(1 << 16)
    lines = max(1, sample.count(b"\n"))
    return max(1, int(size / (len(sample) / lines)))


def _batches(path: Path, args: argparse.Namespace, malformed: list[str]) -> Iterator[Any]:
    """The input as a stream of pyarrow record batches or pandas frames."""
    suffix = path.suffix.lower()
    kind = _FORMATS.get(suffix, "csv")
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            yield from pq.ParquetFile(path).iter_batches(batch_size=args.chunk_size)
        except OSError as error:
            raise UsageError(f"{path}: not a readable Parquet file ({error})") from None
    elif kind == "excel":
        try:
            import pandas as pd

            frame = pd.read_excel(path, dtype=str)
        except ImportError:
            raise UsageError("reading .xlsx needs openpyxl: pip install 'b12labs[excel]'") from None
        except (ValueError, OSError) as error:
            raise UsageError(f"{path}: not a readable Excel file ({error})") from None
        import pyarrow as pa

        table = pa.Table.from_pandas(frame, preserve_index=False)
        yield from table.to_batches(max_chunksize=args.chunk_size)
    elif kind == "jsonl":
        raise UsageError(f"{path}: JSON Lines is an output format; give CSV, Parquet or .xlsx")
    else:
        yield from _csv_batches(path, args, malformed)


# ----------------------------------------------------------------------------- writing


class _AtomicOutput:
    """Write to a temporary file beside the target and rename it into place at the end, so
    an interrupted run never leaves a half-written file in place of an earlier one."""

    def __init__(self, target: Path | None) -> None:
        self.target = target
        self.temp: Path | None = None
        if target is not None:
            if not target.parent.is_dir():
                raise UsageError(f"{target}: the folder {target.parent} does not exist")
            if target.is_dir():
                raise UsageError(f"{target} is a folder; give a file name for the output")
            fd, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".part", dir=target.parent
            )
            os.close(fd)
            self.temp = Path(name)

    @property
    def path(self) -> Path | None:
        return self.temp

    def commit(self) -> None:
        if self.temp is not None and self.target is not None:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.temp, 0o666 & ~umask)  # as a plain open() would (mkstemp: 0600)
            os.replace(self.temp, self.target)
            self.temp = None

    def discard(self) -> None:
        if self.temp is not None:
            with contextlib.suppress(OSError):
                self.temp.unlink()
            self.temp = None


class _Writer:
    """Streams scored chunks to CSV, Parquet or JSON Lines.

    Chunks are converted and written on one background thread (Arrow releases the GIL), so
    writing chunk *i* overlaps scoring chunk *i + 1*; at most one chunk waits, which keeps
    memory constant.
    """

    def __init__(self, kind: str, path: Path | None, guard_formulas: bool) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.kind = kind
        self.path = path
        self.guard = guard_formulas
        self.sink: Any = None
        self.handle: IO[bytes] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="b12labs-writer")
        self._format_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="b12labs-csv")
        self._pending: Any = None

    def submit(self, source: Any, scored: Any, malformed: bool = False) -> None:
        """Queue a scored chunk for writing (waits for the previous one first)."""
        self.wait()
        self._pending = self._pool.submit(lambda: self.write(_arrow(source, scored, malformed)))

    def wait(self) -> None:
        """Wait for the queued chunk; re-raise what writing it raised."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def write(self, table: pa.Table) -> None:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            if self.sink is None:
                self.sink = pq.ParquetWriter(self._open_path(), table.schema)
            self.sink.write_table(table)
            return
        handle = self._open()
        if self.kind == "jsonl":
            frame = table.to_pandas()
            text = frame.to_json(
                orient="records", lines=True, force_ascii=False, double_precision=15
            )
            handle.write(text.encode("utf-8"))
            if text and not text.endswith("\n"):
                handle.write(b"\n")
            return
        # Format the two halves of the chunk on two threads (Arrow releases the GIL), then
        # write them in order.
        half = (table.num_rows + 1) // 2
        parts = [table.slice(0, half), table.slice(half)] if table.num_rows > 1 else [table]
        header = self.sink is None
        futures = [
            self._format_pool.submit(self._csv_bytes, part, header and i == 0)
            for i, part in enumerate(parts)
        ]
        for future in futures:
            handle.write(future.result())
        self.sink = True

    def _csv_bytes(self, table: pa.Table, header: bool) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pv

        if self.guard:
            table = _neutralize_formulas(table)
        # "needed": text cells are quoted, numbers are not (the text itself is unchanged)
        options = pv.WriteOptions(include_header=header, quoting_style="needed")
        sink = pa.BufferOutputStream()
        pv.write_csv(table, sink, write_options=options)
        return sink.getvalue()

    def _open_path(self) -> Any:
        return self.path if self.path is not None else sys.stdout.buffer

    def _open(self) -> IO[bytes]:
        if self.handle is None:
            self.handle = self.path.open("wb") if self.path is not None else sys.stdout.buffer
        return self.handle

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)
            self._format_pool.shutdown(wait=True)
        if self.kind == "parquet" and self.sink is not None:
            self.sink.close()
        if self.handle is not None:
            self.handle.flush()
            if self.path is not None:
                self.handle.close()


def _neutralize_formulas(table: pa.Table) -> pa.Table:
    """Prefix "'" to text cells a spreadsheet would run as a formula; numbers are untouched."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        # b12labs_* columns hold codes and messages of ours: never a formula
        text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        if text and not name.startswith("b12labs_") and _may_start_formula(column):
            starts = pc.match_substring_regex(column, _FORMULA_START)
            if pc.any(starts).as_py():  # rare: only then look for numbers among them
                risky = pc.and_(starts, pc.invert(pc.match_substring_regex(column, _NUMBER)))
                column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    names = [_neutralize_text(name) for name in table.column_names]  # the header too
    return pa.table(columns, names=names)


_FORMULA_BYTES = b"=+-@\t\r"


def _may_start_formula(column: Any) -> bool:
    """Fast screen: does any cell's first byte start a formula? (reads the Arrow buffers)"""
    import numpy as np
    import pyarrow as pa

    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        if len(chunk) == 0:
            continue
        offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], dtype=offset_type).astype(np.int64)
        offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
        data = np.frombuffer(chunk.buffers()[2] or b"\0", dtype=np.uint8)
        starts = offsets[:-1][offsets[1:] > offsets[:-1]]  # non-empty cells
        if np.isin(data[starts], np.frombuffer(_FORMULA_BYTES, dtype=np.uint8)).any():
            return True
    return False


def _neutralize_text(text: str) -> str:
    if re.match(_FORMULA_START, text) and not re.match(_NUMBER, text):
        return "'" + text
    return text


# ----------------------------------------------------------------------------- score


class _Progress:
    def __init__(self, enabled: bool, total_bytes: int) -> None:
        self.enabled = enabled
        self.total = total_bytes
        self.start = time.perf_counter()

    def update(self, rows: int, fraction: float | None) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        share = f" {fraction:6.1%}" if fraction is not None else ""
        print(f"\r  {rows:>12,} rows{share}  {elapsed:6.1f} s", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


def _score(args: argparse.Namespace) -> int:
    path = Path(args.input)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if args.chunk_size < 1:
        raise UsageError("--chunk-size must be a positive number of rows")
    kind = args.format or (_FORMATS.get(Path(args.output).suffix.lower()) if args.output else "csv")
    if kind not in ("csv", "parquet", "jsonl"):
        raise UsageError(
            f"cannot write {args.output!r}: give a .csv, .parquet or .jsonl output, or --format"
        )
    if kind == "parquet" and args.output is None:
        raise UsageError("Parquet output needs -o FILE.parquet")
    profile = _profile(args.profile)
    options = {
        "profile": profile,
        "columns": dict(args.column),
        "units": dict(args.unit),
        "errors": "raise" if args.strict else "collect",
    }

    output = _AtomicOutput(Path(args.output) if args.output else None)
    writer = _Writer(kind, output.path, guard_formulas=not args.allow_formulas)
    progress = _Progress(
        sys.stderr.isatty() and not args.no_progress and not os.environ.get("CI"),
        path.stat().st_size,
    )
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    malformed: list[str] = []
    rows = 0
    started = time.perf_counter()
    seen_batch = False
    try:
        for batch in _batches(path, args, malformed):
            scored = _score_batch(batch, rows, {**options, "unit_check": not seen_batch})
            seen_batch = True
            rows += batch.num_rows
            statuses.update(scored.status_counts())
            reasons.update(scored.error_counts())
            writer.submit(batch, scored)
            progress.update(rows, None)
        if not seen_batch:  # header only, or an Excel sheet without rows
            empty = _empty_table(path, args)
            writer.submit(empty, _score_batch(empty, 0, {**options, "errors": "collect"}))
        if malformed and args.strict:
            raise InvalidValueError(
                f"row {rows + 1}: the line does not have one field per column: "
                f"{malformed[0][:80]!r}"
            )
        if malformed:  # every input row gets an output row: these come last, as errors
            table = _malformed_table(path, args, malformed)
            scored = _score_batch(
                table, rows, {**options, "errors": "collect", "unit_check": False}
            )
            reasons["malformed_row"] += table.num_rows
            rows += table.num_rows
            writer.submit(table, scored, malformed=True)
        writer.close()
        output.commit()
    except BaseException as error:
        with contextlib.suppress(Exception):
            writer.close()
        output.discard()
        if isinstance(error, (UsageError, B12LabsError, KeyboardInterrupt, BrokenPipeError)):
            raise
        if _is_arrow_error(error):
            what = _FORMATS.get(path.suffix.lower(), "csv")
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise UsageError(f"{path}: cannot be read as {what} ({first_line})") from None
        raise
    finally:
        progress.done()
    if not args.quiet:
        _summary(rows, statuses, reasons, time.perf_counter() - started, args.output)
    return EXIT_ROW_ERRORS if sum(reasons.values()) else EXIT_OK


def _score_batch(batch: Any, offset: int, options: dict[str, Any]) -> Any:
    """Score one Arrow batch or table with the table core (no DataFrame is built)."""
    from ._table import score_table

    names = list(batch.schema.names)
    return score_table(
        names,
        lambda label: batch.column(names.index(label)),
        batch.num_rows,
        row_label=lambda row: offset + row + 1,  # 1-based data row, as in the summary
        **options,
    )


_MALFORMED = (
    "malformed_row: the line does not have one field per column "
    "(written here padded or cut; not interpreted)"
)


def _arrow(source: Any, scored: Any, malformed: bool = False) -> pa.Table:
    """The output chunk: the input columns as read, then the result columns (categories
    as their text). Rows of a malformed line keep only their error."""
    import pyarrow as pa

    arrays, names = list(source.columns), list(source.schema.names)
    for name, values, categories in scored.columns():
        if malformed and name != "b12labs_rules_version":  # the version describes the run
            text = _MALFORMED if name.endswith("_error") else None
            kind = pa.float64() if categories is None else pa.string()
            arrays.append(pa.array([text] * source.num_rows, type=kind))
        elif categories is None:
            arrays.append(pa.array(values, from_pandas=True))  # NaN -> empty cell
        else:
            labels = pa.array([str(c) for c in categories], type=pa.string())
            indices = pa.array(values, mask=values < 0)
            arrays.append(pa.DictionaryArray.from_arrays(indices, labels).dictionary_decode())
        names.append(name)
    table = pa.Table.from_arrays(arrays, names=names)
    # provenance in the schema: Parquet files keep it in their key-value metadata
    metadata = {**(table.schema.metadata or {}), b"b12labs": json.dumps(scored.provenance).encode()}
    return table.replace_schema_metadata(metadata)


def _is_arrow_error(error: BaseException) -> bool:
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError))


def _empty_table(path: Path, args: argparse.Namespace) -> pa.Table:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_schema(path).empty_table()
    if path.suffix.lower() == ".xlsx":
        import pandas as pd
        import pyarrow as pa

        return pa.Table.from_pandas(pd.read_excel(path, dtype=str).iloc[:0], preserve_index=False)
    return _malformed_table(path, args, [])


def _summary(
    rows: int, statuses: Counter[str], reasons: Counter[str], seconds: float, output: str | None
) -> None:
    lines = [
        f"b12labs: {rows:,} rows read in {seconds:.2f} s"
        + (f", written to {output}" if output else "")
    ]
    for status in ("deficiency_likely", "borderline", "not_indicated", "insufficient_data"):
        lines.append(f"  {status:<20} {statuses.get(status, 0):>12,}")
    errors = sum(reasons.values())
    lines.append(f"  {'rows with errors':<20} {errors:>12,}")
    for reason, count in reasons.most_common():
        lines.append(f"    {reason:<18} {count:>12,}")
    print("\n".join(lines), file=sys.stderr)


def run() -> NoReturn:
    """Console-script entry point."""
    argv = sys.argv[1:]
    if _arrow_only(argv) and "pandas" not in sys.modules:
        # pyarrow imports pandas, when installed, on its first array conversion, only to
        # check whether objects are pandas objects. Scoring CSV or Parquet into CSV or Parquet
        # never hands it one, so this process tells pyarrow that pandas is absent: 0.14 s of
        # start-up saved. Only the console script does this (its process ends with the run);
        # main(), called in-process, leaves the interpreter alone.
        sys.meta_path.insert(0, _WithoutPandas())
    sys.exit(main(argv))


class _WithoutPandas:
    """Import hook that reports pandas as not installed (see :func:`run`)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def _arrow_only(argv: Sequence[str]) -> bool:
    """A ``score`` run whose input and output are both CSV/TSV or Parquet."""
    if not argv or argv[0] != "score":
        return False
    args = list(argv[1:])
    paths = [a for a in args if not a.startswith("-")]
    output = None
    for flag in ("-o", "--output"):
        if flag in args and args.index(flag) + 1 < len(args):
            output = args[args.index(flag) + 1]
    formats = {_FORMATS.get(Path(p).suffix.lower(), "csv") for p in paths[:1]}
    if output is not None:
        formats.add(_FORMATS.get(Path(output).suffix.lower(), "?"))
    if "--format" in args and args.index("--format") + 1 < len(args):
        formats.add(args[args.index("--format") + 1])
    return formats <= {"csv", "parquet"}
