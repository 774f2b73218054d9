"""``/v1``: one panel in, its interpretation out; batches as NDJSON or CSV streams.

* ``POST /v1/interpret``: a JSON object with the fields of :class:`~b12labs.Panel`
  (``?profile=`` names a profile) gives the :class:`~b12labs.Interpretation` as JSON. A value,
  unit or field that is not accepted is a 422 problem naming the field.
* ``POST /v1/interpret/batch``:

  - a JSON array of panels gives ``application/x-ndjson``: one line per item, in order: the
    Interpretation, or ``{"index", "reason", "detail", "field"}`` for an item that could not
    be interpreted. Items are parsed one at a time as the stream is written; a syntax error
    in the first item is a 400 problem, one further on ends the stream with an error line
    (nothing after it can be read). A stream that reaches the time limit ends with a
    ``time_limit`` error line.
  - a CSV (``text/csv``) or TSV (``text/tab-separated-values``) export gives CSV, scored batch
    by batch by :func:`b12labs.interpret_table` over the command line's CSV reader: the
    columns and rows of ``b12labs score`` (one output row per input line, malformed lines
    last as error rows, formula-like cells neutralized). The body is spooled to a temporary
    file (deleted as soon as it is opened) and memory stays bounded by the batch size.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from .._exceptions import B12LabsError, ColumnError
from .._interpret import interpret
from .._models import Measurement
from .._profile import Profile
from ._body import JsonArrayItems, parse_json, require_media_type, too_deep, utf8_text
from ._errors import ServiceError, log_internal, service_error
from ._limits import deadline_of, run_sync
from ._openapi import MEASURED, PROFILE_PARAMETER, json_body, problems, ref
from ._settings import chosen_profile

__all__ = ["CSV_BATCH_ROWS", "NDJSON_CHUNK", "router"]

router = APIRouter(prefix="/v1", tags=["interpret"])

#: Items interpreted per chunk written to an NDJSON stream.
NDJSON_CHUNK = 256
#: Rows per scored batch of a CSV stream.
CSV_BATCH_ROWS = 10_000
_CSV_TYPES = ("text/csv", "text/tab-separated-values")


@router.post(
    "/interpret",
    summary="Interpret one panel",
    response_model=None,
    openapi_extra=json_body(ref("Panel"), profile=True),
    responses={
        200: {
            "description": "The interpretation.",
            "content": {"application/json": {"schema": ref("Interpretation")}},
        },
        **problems(400, 413, 415, 422, 503),
    },
)
async def interpret_panel(request: Request) -> Response:
    """One panel (the fields of ``b12labs.Panel``) in, its ``Interpretation`` out.
    Decision support, not a diagnosis."""
    chosen = chosen_profile(request, request.query_params.get("profile"))
    require_media_type(request, ("application/json",))
    data = parse_json(await request.body())
    if not isinstance(data, dict):
        raise ServiceError(
            422,
            "invalid_body",
            'the body must be a JSON object with the fields of a panel, e.g. {"b12": '
            '"150 pmol/L", "mma": "0.52 umol/L", "age": 70}',
        )
    try:
        result = interpret(panel_fields(data), profile=chosen)
    except (B12LabsError, TypeError) as error:
        raise service_error(error) from None
    return Response(result.model_dump_json(), media_type="application/json")


def panel_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The panel's fields, with measurements given as JSON objects (``{"value": 150,
    "unit": "pmol/L", "censor": "<"}``, the Measurement schema) made Measurements; the
    other forms (``"150 pmol/L"``, ``[150, "pmol/L"]``) go to the library as they are."""
    if not any(isinstance(v, dict) for v in data.values()):
        return data
    fields = dict(data)
    for name, value in data.items():
        if name in MEASURED and isinstance(value, dict):
            try:
                fields[name] = Measurement(**value)
            except B12LabsError as error:
                raise type(error)(
                    f"{name}: {error.message}", analyte=name, value=error.value, unit=error.unit
                ) from None
            except TypeError as error:
                raise TypeError(f"{name}: {error}") from None
    return fields


@router.post(
    "/interpret/batch",
    summary="Interpret many panels (JSON array or CSV)",
    response_model=None,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": ref("Panel")}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        "parameters": [PROFILE_PARAMETER],
    },
    responses={
        200: {
            "description": "One NDJSON line per item (an Interpretation or a BatchError), or "
            "the CSV export with the b12labs_* columns of `b12labs score`.",
            "content": {
                "application/x-ndjson": {
                    "schema": {"anyOf": [ref("Interpretation"), ref("BatchError")]}
                },
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **problems(400, 413, 415, 422, 503),
    },
)
async def interpret_batch(request: Request) -> Response:
    """A JSON array of panels (NDJSON out) or a CSV export (CSV out), streamed."""
    chosen = chosen_profile(request, request.query_params.get("profile"))
    kind = require_media_type(request, ("application/json", *_CSV_TYPES))
    if kind == "application/json":
        limit = deadline_of(request.scope)
        seconds = max(0.0, limit - time.monotonic())
        deadline = limit - min(1.0, 0.25 * seconds)  # end the stream before the hard limit
        items = JsonArrayItems(utf8_text(await request.body()))
        items.start()
        first: Any = _END
        if not items.done:
            first = items.next()  # a syntax error here is still a 400
        return StreamingResponse(
            _ndjson(items, first, chosen, deadline), media_type="application/x-ndjson"
        )
    path = await _spool(request)
    try:
        opened = await run_sync(_open_csv, path, "\t" if kind == _CSV_TYPES[1] else None, chosen)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # the reader holds it open: the data lives until it is closed
    return StreamingResponse(_csv(*opened, chosen), media_type="text/csv; charset=utf-8")


_END = object()


def _ndjson(
    items: JsonArrayItems, first: Any, profile: Profile, deadline: float
) -> Iterator[bytes]:
    """NDJSON lines, NDJSON_CHUNK items per chunk (each chunk is one thread hop)."""
    lines: list[bytes] = []
    index = 0
    item = first
    while item is not _END:
        lines.append(_line(index, item, profile))
        index += 1
        if len(lines) >= NDJSON_CHUNK:
            yield b"".join(lines)
            lines = []
            if time.monotonic() > deadline:
                yield _error_line(
                    index, "time_limit", "the time limit was reached: the items from this "
                    "index on were not interpreted; send fewer at a time",
                )  # fmt: skip
                return
        try:
            item = items.next()
        except StopIteration:
            item = _END
        except ServiceError as error:  # the text cannot be read further
            lines.append(_error_line(items.index, error.reason, error.detail))
            item = _END
    if lines:
        yield b"".join(lines)


def _line(index: int, item: Any, profile: Profile) -> bytes:
    if too_deep(item):
        return _error_line(index, "too_deep", "the item is nested too deeply to be a panel")
    if not isinstance(item, dict):
        return _error_line(index, "invalid_body", "the item is not a JSON object (a panel)")
    try:
        result = interpret(panel_fields(item), profile=profile)
    except (B12LabsError, TypeError) as error:
        problem = service_error(error)
        return _error_line(index, problem.reason, problem.detail, problem.field)
    except Exception as error:  # a bug of ours: this item only, never the whole stream
        log_internal(error, "batch item")
        return _error_line(index, "internal_error", "an internal error of b12labs")
    return result.model_dump_json().encode() + b"\n"


def _error_line(index: int, reason: str, detail: str, field: str | None = None) -> bytes:
    line: dict[str, Any] = {"index": index, "reason": reason, "detail": detail}
    if field:
        line["field"] = field
    return json.dumps(line, ensure_ascii=False).encode() + b"\n"


async def _spool(request: Request) -> Path:
    """The request body in a temporary file (bounded by the middleware's size limit)."""
    handle = tempfile.NamedTemporaryFile(prefix="b12labs-", suffix=".csv", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        with handle:
            async for chunk in request.stream():
                handle.write(chunk)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return path


def _open_csv(path: Path, delimiter: str | None, profile: Profile) -> tuple[Any, Any, Any]:
    """(the CSV reader, its batches, the scored RecordBatchReader); schema-level problems
    are raised here, before the response starts."""
    try:
        import pyarrow as pa

        from .._io import CsvInput, InputError
        from ..arrow import interpret_table
    except ModuleNotFoundError:
        raise ServiceError(
            415,
            "unsupported_media_type",
            'CSV needs pyarrow on the server (pip install "b12labs[service,arrow]"); send '
            "a JSON array of panels instead",
        ) from None
    try:
        reader = CsvInput(path, delimiter, CSV_BATCH_ROWS)
    except InputError as error:
        message = str(error).replace(str(path), "the CSV body")
        raise ServiceError(400, "invalid_csv", message) from None
    try:
        batches = reader.batches()
        schema = pa.schema([pa.field(name, pa.string()) for name in reader.names])
        source = pa.RecordBatchReader.from_batches(schema, batches)
        scored = interpret_table(source, profile=profile)
    except ColumnError as error:
        reader.close()
        raise ServiceError(422, "column_error", error.message) from None
    except BaseException:
        reader.close()
        raise
    return reader, batches, scored


def _csv(reader: Any, batches: Any, scored: Any, profile: Profile) -> Iterator[bytes]:
    """The scored CSV, batch by batch: the header first, malformed lines last."""
    from ..arrow import interpret_table

    header = True
    try:
        for batch in scored:
            yield _csv_bytes(batch, header)
            header = False
        if reader.malformed:
            table = interpret_table(reader.malformed_table(reader.malformed), profile=profile)
            yield _csv_bytes(_as_malformed(table), header)
            header = False
        if header:  # a header line and no rows: the header of the output
            yield _csv_bytes(scored.schema.empty_table(), True)
    finally:
        batches.close()
        reader.close()


def _as_malformed(table: Any) -> Any:
    """Rows of malformed lines: every result empty but the error (as ``b12labs score``)."""
    import pyarrow as pa

    from .._writer import _MALFORMED

    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name.startswith("b12labs_") and name != "b12labs_rules_version":
            text = _MALFORMED if name == "b12labs_error" else None
            kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
            column = pa.array([text] * table.num_rows, type=kind)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _csv_bytes(data: Any, header: bool) -> bytes:
    import pyarrow as pa
    import pyarrow.csv as pv

    from .._writer import _neutralize_formulas

    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    columns = [
        column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in table.columns
    ]
    table = _neutralize_formulas(pa.Table.from_arrays(columns, names=table.column_names))
    sink = pa.BufferOutputStream()
    options = pv.WriteOptions(include_header=header, quoting_style="needed")
    pv.write_csv(table, sink, write_options=options)
    result: bytes = sink.getvalue().to_pybytes()
    return result
