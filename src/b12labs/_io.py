"""Reading exports for the command line: CSV/TSV text, Parquet and Excel workbooks.

CSV rules (the command line's contract 3, see docs/cli.md):

* One line is one row. Lines end with ``\\n``, ``\\r\\n`` or ``\\r``; blank lines are not rows;
  the header is the first line that is not blank (or only spaces and tabs). A quoted cell
  cannot span lines: a line whose quote does not close on it, or whose number of fields
  differs from the header's, is a *malformed* row of its own (kept, never merged into
  another line).
* Encodings: a byte-order mark says UTF-8, UTF-16 or UTF-32; UTF-16 without one is recognised
  by its zero bytes. Otherwise the text is UTF-8, and bytes that are not UTF-8, wherever they
  are in the file, are read as Windows-1252 (cp1252), with one note.
* Content that is not text (compressed, Parquet, zip, binary) is refused with a message.

The text is cut into blocks of whole lines, transcoded to UTF-8 with ``\\n`` line ends, and
each block is parsed by pyarrow (fast path). pyarrow lets a quoted cell run over line ends;
that is detected (fewer records than lines, or a quote open on the last line) and such a block
is parsed again line by line in Python (rare path).
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    import pyarrow as pa

    from .hl7 import FeedInput

__all__ = ["CsvInput", "ExcelInput", "InputError", "ParquetInput", "open_input"]

logger = logging.getLogger("b12labs")

_KIB = 1 << 10
_MIB = 1 << 20
_SNIFF_BYTES = 64 * _KIB
#: Blocks parsed ahead at the start (the first block is only the rest of the first 64 KiB
#: read: two keep the reading thread busy while the profile loads); one after that.
_BLOCKS_AHEAD = 2
_DELIMITERS = ",;\t|"


class InputError(Exception):
    """The input cannot be read: exit code 2 with this one-line message."""


# ----------------------------------------------------------------------------- content sniffing

# (leading bytes, what the file is, what to do)
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "a gzip-compressed file: decompress it first (gunzip)"),
    (b"PAR1", "a Parquet file: give it a .parquet name"),
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook is one): give a workbook an .xlsx name"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\xfd7zXZ\x00", "an xz-compressed file: decompress it first (unxz)"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file: decompress it first (unzstd)"),
    (b"%PDF-", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls file: save it as .xlsx or CSV"),
    (b"ARROW1", "an Arrow file"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (  # UTF-32 first: its LE mark starts like UTF-16's
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# C0 control bytes that do not occur in text (tab, line ends, form feed, ^Z, ESC are allowed)
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 26, 27))
_BINARY_SHARE = 0.05


def _not_text(path: Path, head: bytes) -> str | None:
    """Why ``head`` (the first bytes of a file with no byte-order mark) is not CSV text."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"{path}: this is {what}, not CSV text"
    if re.match(rb"BZh[1-9]1AY&SY", head):
        return f"{path}: this is a bzip2-compressed file, not CSV text: decompress it first"
    sample = head[:_SNIFF_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    if controls > max(8, _BINARY_SHARE * len(sample)):
        return (
            f"{path}: this does not look like a text file ({controls:,} control bytes in the "
            f"first {len(sample):,}); give a CSV/TSV text export, .parquet or .xlsx"
        )
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text with no byte-order mark: mostly-ASCII text has a zero in every other byte."""
    sample = head[: 4 * _KIB]
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    half = len(sample) // 2
    if odd.count(0) >= 0.9 * half and even.count(0) <= 0.1 * half:
        return "utf-16-le"
    if even.count(0) >= 0.9 * half and odd.count(0) <= 0.1 * half:
        return "utf-16-be"
    return None


# cp1252 leaves five bytes undefined: they keep their Latin-1 meaning, so decoding never fails
_CP1252 = [bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)]
_ESCAPED = re.compile("[\udc80-\udcff]+")


def _mixed_utf8(block: bytes) -> bytes:
    """``block`` as UTF-8: UTF-8 sequences as they are, every other byte read as cp1252."""
    text = block.decode("utf-8", "surrogateescape")  # a byte that is not UTF-8 -> U+DC80..DCFF
    text = _ESCAPED.sub(lambda m: "".join(_CP1252[ord(c) - 0xDC00] for c in m.group()), text)
    return text.encode("utf-8")


# ----------------------------------------------------------------------------- line blocks


class _Lines:
    """A text file as blocks of whole lines: UTF-8, each line ended by one ``\\n``."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self.handle = handle
        self.consumed = 0  # bytes of the file read so far (for the progress line)
        self.lines_seen = 0  # lines parsed so far (for the cp1252 note; counted by the parser)
        self.note: str | None = None
        head = self._read(_SNIFF_BYTES)
        encoding, bom = "utf-8", 0
        for mark, name in _BOMS:
            if head.startswith(mark):
                encoding, bom = name, len(mark)
                break
        else:
            guess = _utf16_without_bom(head)
            if guess is not None:
                encoding = guess
            elif head.strip():
                problem = _not_text(path, head)
                if problem:
                    raise InputError(problem)
        self.encoding = encoding
        self._decoder = (
            None
            if encoding == "utf-8"
            else codecs.getincrementaldecoder(encoding)(errors="replace")
        )
        self._pending = head[bom:]
        self._carry: list[bytes] = []  # the start of a line, read but not yet given out

    def _read(self, size: int) -> bytes:
        try:
            data = self.handle.read(size)
        except OSError as error:
            raise InputError(f"{self.path}: cannot be read ({error.strerror or error})") from None
        self.consumed += len(data)
        return data

    def blocks(self, size: Callable[[], int]) -> Iterator[bytes]:
        """Blocks of about ``size()`` bytes, each a run of whole lines ending in ``\\n``."""
        eof = False
        while not eof:
            raw = self._pending or self._read(size())
            self._pending = b""
            eof = not raw
            if self._decoder is not None:
                text = self._decoder.decode(raw, final=eof)
                raw = text.encode("utf-8", "replace")
            if eof:
                cut = len(raw)
            else:
                # the last line end; a final "\r" may be the first half of "\r\n": keep it
                end = len(raw) - 1 if raw.endswith(b"\r") else len(raw)
                cut = max(raw.rfind(b"\n", 0, end), raw.rfind(b"\r", 0, end)) + 1
                if cut == 0:  # no line end yet: a long line, read on
                    self._carry.append(raw)
                    continue
            # one copy: the carried start of a line, then this read up to its last line end
            if self._carry:
                block = b"".join((*self._carry, memoryview(raw)[:cut]))
            else:
                block = raw if cut == len(raw) else raw[:cut]
            self._carry = [raw[cut:]] if cut < len(raw) else []
            if block:
                yield self._clean(block)

    def _clean(self, block: bytes) -> bytes:
        if self._decoder is None and not block.isascii():
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as error:
                if self.note is None:
                    line = self.lines_seen + block.count(b"\n", 0, error.start) + 1
                    self.note = (
                        f"{self.path} is not UTF-8 (first at line {line:,}): bytes that are not "
                        "UTF-8 were read as Windows-1252 (cp1252)"
                    )
                    logger.info("input is not UTF-8 from line %d on: cp1252 used", line)
                block = _mixed_utf8(block)
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not block.endswith(b"\n"):
            block += b"\n"
        return block


# ----------------------------------------------------------------------------- CSV


def _open_quote(line: str, delimiter: str) -> bool:
    """Whether ``line`` ends inside a quoted cell (a quote opens a cell only at its start)."""
    if '"' not in line:
        return False
    start, quoted, after_quote = True, False, False
    for char in line:
        if quoted:
            if char == '"':
                quoted, after_quote = False, True
            continue
        if after_quote and char == '"':  # "" inside quotes: a literal quote
            quoted, after_quote = True, False
            continue
        after_quote = False
        if char == delimiter:
            start = True
        elif start and char == '"':
            quoted, start = True, False
        else:
            start = False
    return quoted


def _fields(line: str, delimiter: str) -> list[str]:
    limit = csv.field_size_limit()
    if len(line) < limit:
        return next(csv.reader([line], delimiter=delimiter, strict=False), [])
    csv.field_size_limit(len(line) + 1)  # a huge cell: Python's csv refuses > 128 KiB
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=False), [])
    finally:
        csv.field_size_limit(limit)


def _blank_lines(block: bytes) -> int:
    """Blank lines in a block of whole lines (pyarrow skips them)."""
    if b"\n\n" not in block and not block.startswith(b"\n"):
        return 0
    return sum(1 for line in block.split(b"\n")[:-1] if not line)


def _batch(table: pa.Table) -> pa.RecordBatch:
    """``table`` as one record batch (a copy only when it is in several pieces)."""
    if any(column.num_chunks != 1 for column in table.columns):
        table = table.combine_chunks()
    return table.to_batches()[0]


def _sniff_delimiter(path: Path, text: str) -> str:
    lines = [line for line in text.split("\n")[:50] if line]
    header = lines[0] if lines else ""
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except (csv.Error, ValueError, IndexError) as error:
        logger.debug("delimiter not sniffed (%s)", type(error).__name__)
        delimiter = ""
    if not delimiter or delimiter not in header:  # it must cut the header: count there instead
        counts = {d: header.count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        default = "\t" if path.suffix.lower() == ".tsv" else ","
        delimiter = best if counts[best] else default
        logger.debug("delimiter taken from the header line: %r", delimiter)
    return delimiter


class CsvInput:
    """A CSV/TSV file read as Arrow batches of text columns, one row per line."""

    def __init__(self, path: Path, delimiter: str | None, chunk_size: int) -> None:
        self.path = path
        self.chunk_size = chunk_size
        self.malformed: list[str] = []
        self._pool: ThreadPoolExecutor | None = None  # the reading thread (see start)
        self._ahead: deque[Future[pa.Table | None]] = deque()
        self._source: Iterator[bytes] = iter(())
        try:
            self._handle: IO[bytes] = path.open("rb")
        except OSError as error:
            raise InputError(f"{path}: cannot be read ({error.strerror or error})") from None
        try:
            self.size = path.stat().st_size if path.is_file() else None
            self._lines = _Lines(path, self._handle)
            self._bytes_per_line = 64.0
            self._blocks = self._lines.blocks(self._block_size)
            found = self._header_line()
            if found is None:
                raise InputError(f"{path}: the file is empty (no header line)")
            header, rest = found
            header_text = header.decode("utf-8")
            sample = header + b"\n" + rest[:_SNIFF_BYTES]
            self.delimiter = delimiter or _sniff_delimiter(path, sample.decode("utf-8", "ignore"))
            if _open_quote(header_text, self.delimiter):
                raise InputError(f"{path}: the header line has a quote that does not close on it")
            self.names = _fields(header_text, self.delimiter)
            self._first = rest
            self._bytes_per_line = max(8.0, len(sample) / max(1, sample.count(b"\n")))
        except BaseException:
            self._handle.close()
            raise

    def _header_line(self) -> tuple[bytes, bytes] | None:
        """(the header: the first line that is not blank or only spaces and tabs, the rest
        of its block)."""
        for block in self._blocks:
            start = 0
            while start < len(block):
                end = block.index(b"\n", start)  # a block ends with a line end
                if block[start:end].strip(b" \t"):
                    self._lines.lines_seen += block.count(b"\n", 0, end + 1)
                    return block[start:end], block[end + 1 :]
                start = end + 1
            self._lines.lines_seen += block.count(b"\n")
        return None

    @property
    def note(self) -> str | None:
        return self._lines.note

    @property
    def fraction(self) -> float | None:
        """Share of the file read so far (None for a pipe)."""
        if not self.size:
            return None
        return min(1.0, self._lines.consumed / self.size)

    def _block_size(self) -> int:
        # two chunks per block: only a chunk that spans two blocks is copied; more would
        # hold more of the file in memory at once (issue 13: 10M rows under 400 MB)
        wanted = int(self._bytes_per_line * self.chunk_size * 2)
        return max(_MIB, min(64 * _MIB, wanted))

    def close(self) -> None:
        """Stop the reading thread (after the block it is parsing), then close the file."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._handle.close()

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows as Arrow batches of ``chunk_size`` rows (the last one: the rest), as
        though the file were cut by rows; malformed lines are kept in :attr:`malformed`. Only
        a batch that spans two blocks is copied."""
        import pyarrow as pa

        size = self.chunk_size
        carry: pa.Table | None = None
        for table in self._tables():
            start = 0
            if carry is not None:
                start = size - carry.num_rows
                carry = pa.concat_tables([carry, table.slice(0, start)])
                if carry.num_rows < size:
                    continue
                yield _batch(carry)
                carry = None
            while table.num_rows - start >= size:
                yield _batch(table.slice(start, size))
                start += size
            if start < table.num_rows:
                carry = table.slice(start)
        if carry is not None and carry.num_rows:
            yield _batch(carry)

    def start(self) -> None:
        """Begin parsing the first blocks on the reading thread. The command line calls this
        before it loads the profile, so the two overlap (pyarrow parses without the GIL)."""
        if self._pool is not None:
            return
        from concurrent.futures import ThreadPoolExecutor

        def blocks() -> Iterator[bytes]:
            if self._first.strip(b"\n"):
                yield self._first
            for block in self._blocks:
                if block.strip(b"\n"):
                    yield block

        self._source = blocks()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="b12labs-csv-read")
        for _ in range(_BLOCKS_AHEAD):
            self._ahead.append(self._pool.submit(self._next_table, self._source))

    def _tables(self) -> Iterator[pa.Table]:
        """One table per block; the next block is parsed while the caller scores this one."""
        self.start()
        assert self._pool is not None
        while True:
            table = self._ahead.popleft().result()
            if table is None:
                return
            if not self._ahead:  # one block ahead from here on (memory: the 10M-row stream)
                self._ahead.append(self._pool.submit(self._next_table, self._source))
            yield table

    def _next_table(self, source: Iterator[bytes]) -> pa.Table | None:
        block = next(source, None)
        if block is None:
            return None
        table, malformed = self.parse(block)
        self.malformed.extend(malformed)
        return table

    def empty_table(self) -> pa.Table:
        return self.table_of([])

    def table_of(self, rows: list[list[str]]) -> pa.Table:
        import pyarrow as pa

        from ._arrow_numpy import strings

        arrays = [strings([r[i] for r in rows]) for i in range(len(self.names))]
        return pa.Table.from_arrays(arrays, names=self.names)

    def parse(self, block: bytes) -> tuple[pa.Table, list[str]]:
        """One block of whole lines: (the rows, the malformed lines)."""
        import pyarrow as pa
        import pyarrow.csv as pv

        invalid: list[str] = []

        def on_invalid(row: Any) -> str:
            invalid.append(row.text)
            return "skip"

        lines = block.count(b"\n")
        self._lines.lines_seen += lines
        try:
            table = pv.read_csv(
                pa.BufferReader(block),
                read_options=pv.ReadOptions(
                    column_names=self.names, block_size=len(block) + 1, use_threads=False
                ),
                parse_options=pv.ParseOptions(
                    delimiter=self.delimiter,
                    invalid_row_handler=on_invalid,
                    newlines_in_values=True,
                ),
                convert_options=pv.ConvertOptions(
                    column_types=dict.fromkeys(self.names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    check_utf8=False,  # every block is valid UTF-8 already (_Lines._clean)
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            logger.debug("block parsed line by line (%s)", type(error).__name__)
            return self._parse_lines(block)
        records = table.num_rows + len(invalid)
        if records != lines and records != lines - _blank_lines(block):
            return self._parse_lines(block)  # a quote ran over a line end: fewer records
        end = len(block) - 1  # the last line that is not blank, without its line end
        while end > 0 and block[end - 1] == 10:
            end -= 1
        last = block[block.rfind(b"\n", 0, end) + 1 : end]
        if b'"' in last and _open_quote(last.decode("utf-8"), self.delimiter):
            return self._parse_lines(block)  # at the end of the block: no fewer records
        return table, invalid

    def _parse_lines(self, block: bytes) -> tuple[pa.Table, list[str]]:
        """The rare path: each line on its own (a quote left open, a cell over two lines)."""
        rows: list[list[str]] = []
        malformed: list[str] = []
        width = len(self.names)
        for line in block.decode("utf-8").split("\n"):
            if not line:
                continue
            fields = None if _open_quote(line, self.delimiter) else _fields(line, self.delimiter)
            if fields is None or len(fields) != width:
                malformed.append(line)
            else:
                rows.append(fields)
        return self.table_of(rows), malformed

    def malformed_table(self, texts: list[str]) -> pa.Table:
        """Malformed lines, each read on its own, padded (or cut) to the header's width."""
        width = len(self.names)
        rows = [(_fields(text, self.delimiter) + [""] * width)[:width] for text in texts]
        return self.table_of(rows)


# ----------------------------------------------------------------------------- Parquet, Excel


class _TableInput:
    """Parquet or Excel input: whole rows only (no malformed lines, no text note)."""

    malformed: list[str]
    note: str | None = None

    def __init__(self) -> None:
        self.malformed = []
        self.rows_done = 0
        self.total_rows: int | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total_rows:
            return None
        return min(1.0, self.rows_done / self.total_rows)

    def start(self) -> None:
        """Nothing to start: batches are read when asked for."""

    def close(self) -> None:
        """Nothing to release."""

    def malformed_table(self, texts: list[str]) -> pa.Table:  # pragma: no cover - never called
        raise AssertionError("no malformed rows in a table input")


class ParquetInput(_TableInput):
    """A Parquet file read by row batches."""

    def __init__(self, path: Path, chunk_size: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__()
        self.path = path
        self.chunk_size = chunk_size
        try:
            self.file = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as error:
            raise InputError(
                f"{path}: not a readable Parquet file ({_first_line(error)})"
            ) from None
        self.total_rows = self.file.metadata.num_rows

    def batches(self) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        try:
            for batch in self.file.iter_batches(batch_size=self.chunk_size):
                self.rows_done += batch.num_rows
                yield batch
        except (OSError, pa.ArrowException) as error:
            raise InputError(
                f"{self.path}: not a readable Parquet file ({_first_line(error)})"
            ) from None

    def empty_table(self) -> pa.Table:
        return self.file.schema_arrow.empty_table()


class _InMemoryInput(_TableInput):
    """An input read whole into ``self.table`` (set by the subclass), served in chunks."""

    table: pa.Table
    chunk_size: int

    def batches(self) -> Iterator[pa.RecordBatch]:
        for batch in self.table.to_batches(max_chunksize=self.chunk_size):
            self.rows_done += batch.num_rows
            yield batch

    def empty_table(self) -> pa.Table:
        return self.table.slice(0, 0)


class ExcelInput(_InMemoryInput):
    """The first sheet of a workbook, every cell as text (python-calamine, else openpyxl)."""

    def __init__(self, path: Path, chunk_size: int) -> None:
        super().__init__()
        self.chunk_size = chunk_size
        self.table = _excel_table(path)
        self.total_rows = self.table.num_rows


_EXCEL_EXTRA = 'reading .xlsx needs python-calamine: pip install "b12labs[excel]"'


def _excel_table(path: Path) -> pa.Table:
    try:
        import pandas as pd
    except ImportError:
        raise InputError(_EXCEL_EXTRA) from None
    engine: Literal["calamine", "openpyxl"]
    if _importable("python_calamine"):
        engine = "calamine"
    elif _importable("openpyxl"):  # the engine before python-calamine was
        engine = "openpyxl"
    else:
        raise InputError(_EXCEL_EXTRA)
    try:
        frame = pd.read_excel(path, dtype=str, engine=engine)
    except ImportError:
        raise InputError(_EXCEL_EXTRA) from None
    except Exception as error:  # each engine has its own errors for a damaged workbook
        raise InputError(f"{path}: not a readable Excel file ({_first_line(error)})") from None
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def open_input(
    path: Path, kind: str, delimiter: str | None, chunk_size: int
) -> CsvInput | ParquetInput | ExcelInput | FeedInput:
    """The reader for ``kind`` ("csv", "parquet", "excel" or "hl7")."""
    if kind == "hl7":  # HL7 v2 ORU^R01 messages: one row per patient-order (b12labs.hl7)
        try:
            from .hl7 import FeedInput
        except ImportError as error:
            if error.name != "hl7":
                raise
            raise InputError(
                'reading .hl7 files needs python-hl7: pip install "b12labs[hl7]"'
            ) from None
        return FeedInput(path, chunk_size)
    if kind == "parquet":
        return ParquetInput(path, chunk_size)
    if kind == "excel":
        return ExcelInput(path, chunk_size)
    return CsvInput(path, delimiter, chunk_size)


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
