"""Writing scored chunks: CSV, Parquet or JSON Lines, with the formula guard (command line).

The output chunk is the input columns as read, then the result columns, categories decoded
to their text from one cached Arrow array per vocabulary. CSV is formatted on two threads
(Arrow releases the GIL). pyarrow's CSV writer also takes dictionary arrays (the same
bytes), but in pyarrow 26 it formats them more slowly than decoded text, so they are decoded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections import Counter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger("b12labs")

#: The result-column selections of :meth:`b12labs._table.Scored.columns` (``b12labs score
#: --columns``); here, not in the batch core, so that the command line's parser has them
#: without importing pyarrow.
ColumnSelection = Literal["minimal", "standard", "all"]
COLUMN_SELECTIONS: tuple[ColumnSelection, ...] = ("minimal", "standard", "all")

# A text cell starting with one of these runs as a formula in spreadsheet programs (OWASP
# "CSV injection"); numbers such as "-5" or "+1.5" are never altered.
_FORMULA_START = r"^[=+\-@\t\r]"
_NUMBER = (
    r"^\s*[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?|[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[eE][+-]?[0-9]+)?\s*$"
)


class _Writer:
    """Streams scored chunks to CSV, Parquet or JSON Lines.

    Chunks are converted and written on one background thread (Arrow releases the GIL), so
    writing chunk *i* overlaps scoring chunk *i + 1*; at most one chunk waits, which keeps
    memory constant. A failure to write (full disk, closed pipe) is an environment error
    naming the output.
    """

    def __init__(
        self,
        kind: str,
        path: Path | None,
        guard_formulas: bool,
        shown: str,
        columns: ColumnSelection = "standard",
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.kind = kind
        self.columns: ColumnSelection = columns
        self.path = path
        self.guard = guard_formulas
        self.shown = shown
        self.sink: Any = None
        self.handle: IO[bytes] | None = None
        self.notes: list[str] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="b12labs-writer")
        self._format_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="b12labs-csv")
        self._pending: Any = None

    def submit(self, source: Any, scored: Any, malformed: bool = False) -> None:
        """Queue a scored chunk for writing (waits for the previous one first)."""
        self.wait()
        self._pending = self._pool.submit(
            lambda: self.write(_arrow(source, scored, malformed, self.columns))
        )

    def wait(self) -> None:
        """Wait for the queued chunk; re-raise what writing it raised."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _failed(self, error: OSError) -> Exception:
        from .cli import UsageError, _one_line  # the command line's error (exit 2)

        reason = error.strerror or _one_line(str(error)) or type(error).__name__
        if self.path is None:
            return UsageError(f"cannot write to standard output ({reason})")
        return UsageError(f"--output {self.shown}: cannot write ({reason})")

    def write(self, table: pa.Table) -> None:
        try:
            self._write(table)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise self._failed(error) from None

    def _write(self, table: pa.Table) -> None:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            if self.sink is None:
                self.sink = pq.ParquetWriter(str(self.path), table.schema)
            self.sink.write_table(table)
            return
        handle = self._open()
        if self.kind == "jsonl":
            frame = table.to_pandas()
            names = _unique(list(frame.columns))
            if names != list(frame.columns):
                frame.columns = names
                if not self.notes:
                    self.notes.append(
                        "repeated column names were numbered for JSON Lines "
                        "(a second 'x' is written as 'x.1')"
                    )
            text = frame.to_json(
                orient="records", lines=True, force_ascii=False, double_precision=15
            )
            handle.write(text.encode("utf-8"))
            if text and not text.endswith("\n"):
                handle.write(b"\n")
            return
        # Format the two halves of the chunk on two threads (Arrow releases the GIL), then
        # write them in order.
        table = _flat(table)
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
        try:
            if self.kind == "parquet" and self.sink is not None:
                self.sink.close()
            if self.handle is not None:
                self.handle.flush()
                if self.path is not None:
                    self.handle.close()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise self._failed(error) from None

    def abandon(self) -> None:
        """After a failure: stop, release the file; what was written is discarded."""
        try:
            self.close()
        except BaseException as error:  # already failing: the first error is the one reported
            logger.debug("closing the output after a failure: %s", type(error).__name__)
        if self.kind == "parquet" and self.sink is not None:
            with contextlib.suppress(Exception):
                self.sink.close()
        if self.handle is not None and self.path is not None:
            with contextlib.suppress(OSError):
                self.handle.close()


def _unique(names: list[Any]) -> list[Any]:
    """Names made unique as pandas does: a repeated "x" becomes "x.1", "x.2"..."""
    seen: set[Any] = set(names)
    counts: Counter[Any] = Counter()
    out = []
    for name in names:
        counts[name] += 1
        if counts[name] == 1:
            out.append(name)
            continue
        number = counts[name] - 1
        while f"{name}.{number}" in seen:
            number += 1
        new = f"{name}.{number}"
        seen.add(new)
        out.append(new)
    return out


def _flat(table: pa.Table) -> pa.Table:
    """Nested columns (lists, structs, maps: Parquet input) as JSON text, for CSV output."""
    import pyarrow as pa

    nested = [
        i
        for i, field in enumerate(table.schema)
        if pa.types.is_nested(field.type) or pa.types.is_union(field.type)
    ]
    for i in nested:
        cells = [
            None if cell is None else json.dumps(cell, default=str, ensure_ascii=False)
            for cell in table.column(i).to_pylist()
        ]
        table = table.set_column(i, table.schema[i].name, pa.array(cells, type=pa.string()))
    return table


def _neutralize_formulas(table: pa.Table) -> pa.Table:
    """Prefix "'" to text cells a spreadsheet would run as a formula; numbers are untouched."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._arrow_numpy import scalar

    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        # b12labs_* columns hold codes and messages of ours: never a formula
        text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        if text and not name.startswith("b12labs_") and _may_start_formula(column):
            starts = pc.match_substring_regex(column, _FORMULA_START)
            if pc.any(starts).as_py():  # rare: only then look for numbers among them
                risky = pc.and_(starts, pc.invert(pc.match_substring_regex(column, _NUMBER)))
                quoted = pc.binary_join_element_wise(scalar("'"), column, scalar(""))
                column = pc.if_else(risky, quoted, column)
        columns.append(column)
    names = [_neutralize_text(name) for name in table.column_names]  # the header too
    return pa.table(columns, names=names)


#: The first bytes of a formula, as a lookup table indexed by byte value.
_FORMULA_FIRST_BYTE = bytes(b in b"=+-@\t\r" for b in range(256))


def _may_start_formula(column: Any) -> bool:
    """Fast screen: does any cell's first byte start a formula? (reads the Arrow buffers)"""
    import numpy as np
    import pyarrow as pa

    table = np.frombuffer(_FORMULA_FIRST_BYTE, dtype=np.bool_)
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        if len(chunk) == 0:
            continue
        offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets: Any = np.frombuffer(chunk.buffers()[1], dtype=offset_type)
        offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
        data = np.frombuffer(chunk.buffers()[2] or b"\0", dtype=np.uint8)
        starts = offsets[:-1][offsets[1:] > offsets[:-1]]  # non-empty cells
        if table[data[starts]].any():
            return True
    return False


def _neutralize_text(text: str) -> str:
    if re.match(_FORMULA_START, text) and not re.match(_NUMBER, text):
        return "'" + text
    return text


_MALFORMED = (
    "malformed_row: the line does not have one field per column, or has a quote that does "
    "not close on it (written here padded or cut; not interpreted)"
)


def _arrow(
    source: Any, scored: Any, malformed: bool = False, columns: ColumnSelection = "standard"
) -> pa.Table:
    """The output chunk: the input columns as read, then the result columns of the
    ``columns`` selection (categories as their text). Rows of a malformed line keep only
    their error."""
    import numpy as np
    import pyarrow as pa

    from ._arrow_numpy import arrow_of, strings
    from .arrow import _doubles, _text, _vocabulary  # the Arrow front's decoding, cached

    arrays, names = list(source.columns), list(source.schema.names)
    for name, values, categories in scored.columns(columns):
        if malformed and name != "b12labs_rules_version":  # the version describes the run
            text = _MALFORMED if name.endswith("_error") else None
            rows = source.num_rows
            empty = _doubles(np.full(rows, np.nan))
            arrays.append(empty if categories is None else strings([text] * rows))
        elif categories is None:
            # NaN -> empty cell; the rules version stays an integer
            arrays.append(_doubles(values) if values.dtype.kind == "f" else arrow_of(values))
        else:
            labels, _ = _vocabulary(tuple(str(c) for c in categories))
            arrays.append(_text(values, values < 0, labels))
        names.append(name)
    table = pa.Table.from_arrays(arrays, names=names)
    # provenance in the schema: Parquet files keep it in their key-value metadata
    metadata = {**(table.schema.metadata or {}), b"b12labs": json.dumps(scored.provenance).encode()}
    return table.replace_schema_metadata(metadata)


#: Text arrays of the category vocabularies seen (a few per run: statuses, categories, codes;
#: findings and errors vary with the data, hence the bound).
