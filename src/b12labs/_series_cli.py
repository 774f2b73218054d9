"""``b12labs explain --series FILE``: one patient's dated results, explained over time.

The file (CSV/TSV, Parquet or .xlsx, read as ``b12labs score`` reads it) holds one row per
collection date; its columns are recognised as :func:`b12labs.pandas.interpret_series_frame`
recognises them, with the date column found by name (``date``, ``collected``...) or given with
``--date``. The rows are scored by the series table core and the report lists each point, the
changes of each marker with their verdicts, and the series findings. Every row must be
readable: the first bad row stops the command (exit 2), as a bad ``explain`` value does.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from ._io import InputError, open_input
from ._profile import Profile
from ._rules import RULES_VERSION
from ._series import format_report
from ._version import SCHEMA_VERSION, __version__

__all__ = ["explain_series"]

_KINDS = {".parquet": "parquet", ".xlsx": "excel"}


def explain_series(
    path: Path,
    *,
    profile: str | Profile,
    date: Hashable | None = None,
    treatment_started: str | None = None,
    treatment_route: str | None = None,
    columns: Mapping[str, Hashable] | None = None,
    units: Mapping[str, str] | None = None,
    delimiter: str | None = None,
) -> str:
    """The report of the series in ``path`` (one patient's rows, one per date).

    Raises:
        InputError: the file cannot be read, has no rows, or has malformed lines.
        ColumnError, B12LabsError: as :func:`b12labs.pandas.interpret_series_frame` with
            ``errors="raise"`` (the message names the row, counted from 0 as ``score`` does).
    """
    import pyarrow as pa

    from ._series_table import score_series
    from .arrow import _core_table

    suffix = path.suffix.lower()
    if suffix in (".hl7", ".jsonl", ".ndjson"):
        raise InputError(f"{path}: --series reads CSV/TSV, Parquet or .xlsx files")
    reader = open_input(path, _KINDS.get(suffix, "csv"), delimiter, 100_000)
    try:
        batches = list(reader.batches())
        table = pa.Table.from_batches(batches) if batches else reader.empty_table()
        if reader.malformed:
            raise InputError(
                f"{path}: {len(reader.malformed)} line(s) do not have one field per column, or "
                "have a quote that does not close on them"
            )
    finally:
        reader.close()
    if table.num_rows == 0:
        raise InputError(f"{path}: the file has no rows (a series needs one row per date)")
    scored = score_series(
        *_core_table(table),
        patient=None,
        date=date,
        profile=profile,
        treatment_started=treatment_started,
        treatment_route=treatment_route,
        columns=columns,
        units=units,
        errors="raise",
    )
    analysis = scored.analyses.get(None)
    if analysis is None:  # pragma: no cover - errors="raise" stops at the first bad row
        raise InputError(f"{path}: no row could be read")
    provenance: dict[str, Any] = scored.provenance
    return format_report(
        header=(
            f"b12labs {__version__}, profile {provenance['profile_id']} "
            f"{provenance['profile_version']}, rules version {RULES_VERSION}, schema version "
            f"{SCHEMA_VERSION}; {path.name}, {table.num_rows} row(s)"
        ),
        treatment_started=analysis.started,
        treatment_route=analysis.route,
        points=scored.summaries(None),
        changes=analysis.changes,
        findings=analysis.findings,
    )
