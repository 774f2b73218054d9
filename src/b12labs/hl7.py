"""HL7 v2 laboratory feeds in: read ORU^R01 result messages into Panels.

::

    panels = b12labs.hl7.read_oru(message)           # one ORU^R01 message, str or bytes
    panels = b12labs.hl7.read_oru_file("feed.hl7")   # a file of messages (MLLP, batches)
    for item in panels:
        result = b12labs.interpret(item.panel)

Needs the ``hl7`` extra (python-hl7: ``pip install "b12labs[hl7]"``), which parses the
messages: segments, fields, repetitions, components and escape sequences are its work, read
with the encoding characters of each message's MSH. Field numbers are those of HL7 v2.5.1
(chapter 2 for MSH, chapter 3 for PID, chapter 7 for OBR and OBX).

One :class:`Hl7Panel` per patient and order (a PID and an OBR with its OBX), in the order the
orders first appear. What is read (docs/hl7.md has the full rules):

* OBX-3, the observation identifier: a LOINC code (coding system ``LN`` in OBX-3.3, or in
  OBX-3.6 for the alternate identifier OBX-3.4) of b12labs' table (``_data/analytes.toml``
  for the markers and creatinine, :data:`b12labs.fhir.EGFR_LOINC` for eGFR), or a local code
  mapped with ``local_codes={"B12X": "b12"}``; other codes are ignored, and one note per
  order names them;
* OBX-2 and OBX-5, the value: ``NM`` (a number), ``SN`` (structured numeric: ``<^50``,
  ``>=^2000``; ranges and ratios are not single results), ``ST``/``TX``/``FT`` text such as
  ``<50`` or ``150``; a comparator makes a censored Measurement;
* OBX-6, the unit: its identifier (OBX-6.1), else its text (OBX-6.2); a missing or unknown
  unit, an implausible or unreadable value is an error of that OBX, reported in the notes,
  and the result is not used;
* OBX-11, the result status (HL7 table 0085), see :data:`STATUS_RULES`;
* PID-3 (first identifier), PID-7 (date of birth: age in completed years at the date of the
  observation), PID-8 (``F``/``M``; other codes leave sex unknown);
* OBR-2 placer order number (else OBR-3 filler order number), OBR-7 observation date/time
  (else the latest OBX-14 of the results used).

Input that is not a readable ORU^R01 message raises :class:`~b12labs.Hl7Error`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import hl7  # type: ignore[import-untyped]
except ImportError as _error:  # pragma: no cover - the extra is installed for the tests
    raise ImportError(
        'b12labs.hl7 needs the hl7 package (python-hl7): pip install "b12labs[hl7]"', name="hl7"
    ) from _error

from ._analytes import MARKERS, analyte_info
from ._exceptions import B12LabsError, Hl7Error, brief
from ._io import InputError, _InMemoryInput
from ._models import (
    _CENSOR_SPELLINGS,
    CENSOR_PATTERN,
    MISSING_TOKENS,
    NUMBER_PATTERN,
    Measurement,
    Panel,
    coerce_measurement,
)
from .fhir import (
    _EGFR_RANK,
    _EGFR_UNIT,
    _RACE_SPECIFIC,
    EGFR_LOINC,
    _censored_bound,
    _completed_years,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["LOCAL_CODE_KEYS", "STATUS_RULES", "Hl7Panel", "read_oru", "read_oru_file"]

#: The panel fields a local code may be mapped to (``local_codes={"B12X": "b12"}``).
LOCAL_CODE_KEYS = (*(str(m) for m in MARKERS), "creatinine", "egfr")

#: What b12labs does with each OBX-11 result status (HL7 v2.5.1 table 0085; A, B and V were
#: added in v2.8). ``final``: used. ``replaces``: used, and replaces an earlier result of the
#: same analyte in the same order. ``preliminary``: used with a note until a final result
#: comes. ``deletes``: not used, and the earlier result of the same analyte in the same order
#: is removed. ``no result``: not used, with a note. Other codes: not used, with a note.
STATUS_RULES: Mapping[str, tuple[str, str]] = {
    "F": ("final", "final"),
    "U": ("final", "changed to final"),  # without a value: the preliminary result becomes final
    "C": ("replaces", "corrected"),
    "A": ("replaces", "amended"),
    "B": ("replaces", "appended report, values unchanged"),
    "V": ("replaces", "verified"),
    "P": ("preliminary", "preliminary"),
    "R": ("preliminary", "entered, not verified"),
    "S": ("preliminary", "partial"),
    "D": ("deletes", "deleted"),
    "W": ("deletes", "posted as wrong"),
    "X": ("no result", "cannot be obtained"),
    "I": ("no result", "specimen in lab, results pending"),
    "O": ("no result", "order detail only"),
    "N": ("no result", "not asked"),
}
# An OBX without OBX-11 (which HL7 requires) is read as final, with a note.
_NO_STATUS = ("final", "no result status")

# The MLLP envelope (HL7 v2.5.1 appendix C): start block VT, end block FS (then CR).
_MLLP_FRAMING = str.maketrans("", "", "\x0b\x1c")
# HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ] (v2.5.1 section 2.A.22). Checked
# in full before python-hl7 parses it, which reads the longest leading run of digits.
_DTM = re.compile(
    r"\d{4}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,4})?)?)?)?)?)?(?:[+-]\d{4})?"
)
_DAY_PRECISION = re.compile(r"\d{8}")
# NM: an optional sign, digits and an optional decimal point (v2.5.1 section 2.A.47).
_NM = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# A result written as text: "<50", "< 50", "≥2,000", "150".
_TEXT_RESULT = re.compile(
    rf"[ \t]*(?P<censor>{CENSOR_PATTERN})?[ \t]*(?P<number>{NUMBER_PATTERN})[ \t]*"
)
_SN_COMPARATORS = {"": None, "=": None, "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_TEXT_TYPES = frozenset({"ST", "TX", "FT"})
_SEX = {"F": "female", "M": "male"}
_HL7_NULL = '""'  # "present and null" (v2.5.1 section 2.5.3)

# python-hl7 logs an escape sequence it cannot decode, with the field's text, on a logger
# named after its file. A handler here keeps that text off standard error when the
# application has not configured logging (logging's "last resort"); configured handlers
# still receive it.
logging.getLogger(hl7.util.__file__).addHandler(logging.NullHandler())


@dataclass
class Hl7Panel:
    """One patient's order read from HL7 v2: the Panel and where it came from."""

    panel: Panel
    #: PID-3, the first identifier (its ID component).
    patient_id: str | None = None
    #: OBR-2 placer order number, else OBR-3 filler order number.
    order_id: str | None = None
    #: OBR-7 observation date/time, else the latest OBX-14 of the results used.
    observed_at: dt.datetime | None = None
    #: Results not used and why, statuses, replacements, codes not read, age and sex.
    notes: list[str] = field(default_factory=list)


@dataclass
class _Result:
    """One OBX read into a slot of its order."""

    key: str  # the Panel field
    where: str  # "message 1 (MSG1), OBX 2", for notes
    status: str  # OBX-11, upper-cased
    kind: str  # the status' rule: "final", "replaces", "preliminary"
    measurement: Measurement | None = None  # markers and creatinine
    egfr: float | None = None  # mL/min/1.73 m2
    censor: str | None = None  # eGFR's comparator
    code: str = ""  # eGFR's LOINC code ("" when mapped from a local code)
    when: dt.datetime | None = None  # OBX-14


@dataclass
class _Patient:
    patient_id: str | None = None
    birth: dt.date | None = None
    sex: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Order:
    patient: _Patient
    order_id: str | None
    observed_at: dt.datetime | None = None
    slots: dict[str, _Result] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _SkipError(Exception):
    """An OBX that is not used: the note says why."""


# ----------------------------------------------------------------------------- public API


def read_oru(
    message: str | bytes,
    *,
    local_codes: Mapping[str, str] | None = None,
    encoding: str | None = None,
) -> list[Hl7Panel]:
    """Read one ORU^R01 message: one :class:`Hl7Panel` per patient and order.

    ``message`` is the text or bytes of one message; segments end with ``\\r`` (``\\n`` and
    ``\\r\\n`` are read alike) and MLLP framing characters are removed. Bytes are decoded with
    ``encoding``; by default UTF-8, and bytes that are not UTF-8 are read as Windows-1252 with
    a note. ``local_codes`` maps OBX-3 codes of other coding systems to the panel fields of
    :data:`LOCAL_CODE_KEYS`, e.g. ``{"B12X": "b12", "MMA1": "mma"}``.

    Raises:
        Hl7Error: not an HL7 v2 message, more than one message, not ORU^R01, an OBX before
            any OBR, a bad ``local_codes`` value.
    """
    messages, note = _messages(message, encoding)
    if len(messages) != 1:
        raise Hl7Error(
            f"the input holds {len(messages)} messages; read_oru reads one message: use "
            "read_oru_file for a file of several"
        )
    return _read(messages, _local_codes(local_codes), note)


def read_oru_file(
    path: str | os.PathLike[str],
    *,
    local_codes: Mapping[str, str] | None = None,
    encoding: str | None = None,
) -> list[Hl7Panel]:
    """Read a file of ORU^R01 messages: one :class:`Hl7Panel` per patient and order.

    Messages may be MLLP-framed (``\\x0b`` ... ``\\x1c\\r``) and wrapped in batch (BHS/BTS)
    and file (FHS/FTS) segments. Results of one patient's order given in several messages
    (a correction sent later) make one panel, with the status rules of :data:`STATUS_RULES`
    applied in the order of the file. ``local_codes`` and ``encoding``: as for
    :func:`read_oru`.

    Raises:
        Hl7Error: as :func:`read_oru`, naming the message; a file without any message.
        OSError: the file cannot be read.
    """
    data = Path(path).read_bytes()
    messages, note = _messages(data, encoding)
    return _read(messages, _local_codes(local_codes), note)


# ----------------------------------------------------------------------------- messages


def _messages(data: Any, encoding: str | None) -> tuple[list[Any], str | None]:
    """The python-hl7 messages of ``data``, and a note on its encoding."""
    text, note = _decode(data, encoding)
    text = text.translate(_MLLP_FRAMING).replace("\r\n", "\r").replace("\n", "\r")
    text = "\r".join(line for line in text.lstrip("\ufeff").split("\r") if line.strip())
    if not text:
        raise Hl7Error("no HL7 message: the input is empty")
    try:
        parsed = hl7.parse_file(text)
    except Exception as error:  # python-hl7 raises ParseException, ValueError, IndexError...
        raise Hl7Error(f"not an HL7 v2 message ({_one_line(error)})") from None
    messages = [message for batch in parsed for message in batch]
    if not messages:
        raise Hl7Error("no HL7 message: there is no MSH segment")
    return messages, note


def _decode(data: Any, encoding: str | None) -> tuple[str, str | None]:
    if isinstance(data, str):
        return data, None
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"an HL7 message is text or bytes, not {type(data).__name__}")
    raw = bytes(data)
    if encoding is not None:
        try:
            return raw.decode(encoding), None
        except (UnicodeDecodeError, LookupError) as error:
            raise Hl7Error(f"cannot be decoded as {encoding!r} ({error})") from None
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as error:
        return raw.decode("cp1252", errors="replace"), (
            f"the input is not UTF-8 (first at byte {error.start:,}): read as Windows-1252 "
            "(cp1252); give encoding= if that is wrong"
        )


def _local_codes(local_codes: Mapping[str, str] | None) -> dict[str, str]:
    if local_codes is None:
        return {}
    if not isinstance(local_codes, Mapping):
        raise TypeError(
            "local_codes must be a mapping such as {'B12X': 'b12'}, not "
            f"{type(local_codes).__name__}"
        )
    checked = {}
    for code, key in local_codes.items():
        if not isinstance(code, str) or not code.strip():
            raise Hl7Error(f"local_codes: the code {brief(code)} is not a non-blank text")
        if key not in LOCAL_CODE_KEYS:
            raise Hl7Error(
                f"local_codes: {code!r} maps to {brief(key)}, not one of "
                f"{', '.join(LOCAL_CODE_KEYS)}",
                value=key,
            )
        checked[code.strip()] = str(key)
    return checked


def _loinc_table() -> dict[str, str]:
    """LOINC code -> panel field: the analytes' codes (``_data/analytes.toml``) and eGFR's."""
    table = dict.fromkeys(EGFR_LOINC, "egfr")
    for key in (*(str(m) for m in MARKERS), "creatinine"):
        for code in analyte_info(key).loinc:
            table[code] = key
    return table


def _read(messages: list[Any], local: dict[str, str], note: str | None) -> list[Hl7Panel]:
    loinc = _loinc_table()
    orders: dict[tuple[Any, ...], _Order] = {}
    with warnings.catch_warnings():
        # python-hl7 calls the deprecated Logger.warn for some escape sequences
        warnings.simplefilter("ignore", DeprecationWarning)
        for number, message in enumerate(messages, start=1):
            _read_message(message, number, loinc, local, orders)
    panels = [_panel(order) for order in orders.values()]
    if note:
        for item in panels:
            item.notes.insert(0, note)
    return panels


def _read_message(
    message: Any,
    number: int,
    loinc: Mapping[str, str],
    local: Mapping[str, str],
    orders: dict[tuple[Any, ...], _Order],
) -> None:
    msh = message[0]
    control = _get(msh, 10)
    label = f"message {number}" + (f" ({_cut(control)})" if control else "")
    kind, trigger = _get(msh, 9, component=1), _get(msh, 9, component=2)
    if kind != "ORU" or trigger not in ("R01", ""):
        shown = f"{kind}^{trigger}" if trigger else kind or "no MSH-9"
        raise Hl7Error(
            f"{label}: the message type is {_shown(shown)}, not ORU^R01 (observation result); "
            "b12labs reads result messages only"
        )
    patient = _Patient()
    order: _Order | None = None
    obx_count = 0
    for segment in message[1:]:
        name = str(segment[0])
        if name == "PID":
            patient = _read_pid(segment, label)
            order = None
        elif name == "OBR":
            order = _order(segment, patient, label, orders)
            obx_count = 0
        elif name == "OBX":
            obx_count += 1
            if order is None:
                raise Hl7Error(
                    f"{label}: OBX {obx_count} comes before any OBR; in an ORU^R01 message "
                    "each OBX belongs to the OBR (order) before it"
                )
            _read_obx(segment, order, label, obx_count, loinc, local)


def _read_pid(segment: Any, label: str) -> _Patient:
    patient = _Patient(patient_id=_get(segment, 3, component=1) or None)
    birth_text = _get(segment, 7, component=1)
    if birth_text:
        birth = _datetime(birth_text)
        if birth is None:
            patient.notes.append(
                f"{label}: PID-7 {_shown(birth_text)} is not an HL7 date; age unknown"
            )
        elif not _DAY_PRECISION.match(birth_text):
            patient.notes.append(
                f"{label}: PID-7 {_shown(birth_text)} gives no day of birth; age unknown"
            )
        else:
            patient.birth = birth.date()
    sex = _get(segment, 8, component=1).upper()
    patient.sex = _SEX.get(sex)
    if sex and patient.sex is None:
        patient.notes.append(f"{label}: PID-8 sex {_shown(sex)} is not F or M; sex unknown")
    return patient


def _order(
    segment: Any, patient: _Patient, label: str, orders: dict[tuple[Any, ...], _Order]
) -> _Order:
    """The order of an OBR: the same patient's earlier order with the same number, or new."""
    order_id = _get(segment, 2, component=1) or _get(segment, 3, component=1) or None
    key: tuple[Any, ...] = (
        (patient.patient_id, order_id) if order_id is not None else ("no order number", id(segment))
    )
    order = orders.get(key)
    if order is None:
        order = orders[key] = _Order(patient=patient, order_id=order_id)
    else:  # a later message about the same order: its patient details are the latest
        order.patient = patient
    observed = _get(segment, 7, component=1)
    if observed:
        when = _datetime(observed)
        if when is None:
            order.notes.append(
                f"{label}: OBR-7 {_shown(observed)} is not an HL7 date/time; ignored"
            )
        else:
            order.observed_at = when
    return order


def _read_obx(
    segment: Any,
    order: _Order,
    label: str,
    count: int,
    loinc: Mapping[str, str],
    local: Mapping[str, str],
) -> None:
    where = f"{label}, OBX {_cut(_get(segment, 1)) or count}"
    key, code = _identify(segment, loinc, local)
    if key is None:
        order.unknown.append(code)
        return
    status = _get(segment, 11).upper()
    kind, meaning = STATUS_RULES.get(status, ("unknown", "")) if status else _NO_STATUS
    slot = f"egfr {code}" if key == "egfr" else key
    if kind == "unknown":
        order.notes.append(
            f"{where}: {key} not used: result status (OBX-11) {_shown(status)} is not a code "
            "of HL7 table 0085"
        )
        return
    if kind == "no result":
        order.notes.append(f"{where}: {key} not used: its status is {status} ({meaning})")
        return
    if kind == "deletes":
        earlier = order.slots.pop(slot, None)
        what = f"{earlier.where} removed" if earlier else "no earlier result to remove"
        order.notes.append(f"{where}: {key} status {status} ({meaning}): {what}")
        return
    if status == "U" and not _get(segment, 5):
        _make_final(order, slot, key, where)
        return
    when = None
    stamp = _get(segment, 14, component=1)
    if stamp:
        when = _datetime(stamp)
        if when is None:
            order.notes.append(f"{where}: OBX-14 {_shown(stamp)} is not an HL7 date/time; ignored")
    result = _Result(key=key, where=where, status=status, kind=kind, when=when)
    try:
        number, censor = _value(segment)
        unit = _get(segment, 6, component=1) or _get(segment, 6, component=2)
        if not unit:
            raise _SkipError("no unit (OBX-6); b12labs never guesses a unit")
        if key == "egfr":
            result.egfr, result.censor = _egfr(number, censor, unit), censor
            result.code = code if code in EGFR_LOINC else ""
        else:
            result.measurement = _measurement(key, number, censor, unit, where)
    except _SkipError as skip:
        order.notes.append(f"{where}: {key} not used: {skip}")
        return
    _place(order, slot, result)


def _identify(
    segment: Any, loinc: Mapping[str, str], local: Mapping[str, str]
) -> tuple[str | None, str]:
    """The panel field of an OBX-3 (or None) and its code, as notes name it."""
    pairs = [
        (_get(segment, 3, component=1), _get(segment, 3, component=3).upper()),
        (_get(segment, 3, component=4), _get(segment, 3, component=6).upper()),
    ]
    for code, system in pairs:
        if code and system == "LN" and code in loinc:
            return loinc[code], code
    for code, system in pairs:
        if code and system != "LN" and code in local:
            return local[code], code
    shown = [f"{code} ({system})" if system else code for code, system in pairs if code]
    return None, _cut(" = ".join(shown) or "no OBX-3 code")


def _value(segment: Any) -> tuple[str, str | None]:
    """The number (as written) and comparator of OBX-5, read by its value type (OBX-2)."""
    vtype = _get(segment, 2).upper()
    repetitions = segment[5] if len(segment) > 5 else []
    if sum(1 for rep in repetitions if str(rep) not in ("", _HL7_NULL)) > 1:
        raise _SkipError("OBX-5 holds several values; one result is needed")
    if vtype == "SN":
        comparator = _get(segment, 5, component=1)
        number = _get(segment, 5, component=2)
        separator, second = _get(segment, 5, component=3), _get(segment, 5, component=4)
        text = "^".join(p for p in (comparator, number, separator, second) if p)
        if separator or second:
            raise _SkipError(f"SN value {text!r} is a range or ratio, not one result")
        if comparator not in _SN_COMPARATORS:
            raise _SkipError(f"SN comparator {_shown(comparator)} is not <, <=, >, >= or =")
        if not _NM.fullmatch(number):
            raise _SkipError(f"SN value {_shown(text)} has no number")
        return number, _SN_COMPARATORS[comparator]
    text = _get(segment, 5, component=1)
    if not text:
        raise _SkipError("no value (OBX-5)")
    if vtype not in ("NM", "", *_TEXT_TYPES):
        raise _SkipError(f"value type (OBX-2) {_shown(vtype)} is not numeric (NM, SN) or text")
    if text.strip().lower() in MISSING_TOKENS:
        raise _SkipError(f"OBX-5 {_shown(text)} is not a result")
    match = _TEXT_RESULT.fullmatch(text)
    if match is None:
        given = vtype or "not given"
        raise _SkipError(f"OBX-5 {_shown(text)} is not a number (value type {given})")
    censor = match["censor"]
    return match["number"].replace(",", ""), _CENSOR_SPELLINGS[censor] if censor else None


def _measurement(key: str, number: str, censor: str | None, unit: str, where: str) -> Measurement:
    try:
        given = Measurement(value=float(number), unit=unit, censor=censor, source=where)
        checked = coerce_measurement(given, key)
    except B12LabsError as error:
        raise _SkipError(error.message) from None
    assert checked is not None
    return checked


def _egfr(number: str, censor: str | None, unit: str) -> float:
    """eGFR in mL/min/1.73 m2, with the units b12labs.fhir reads (mL/s is x 60)."""
    folded = re.sub(r"\s+", "", unit).lower().replace("²", "2")
    match = _EGFR_UNIT.match(folded)
    if match is None:
        raise _SkipError(
            f"eGFR unit {_shown(unit)} is not per 1.73 m2 of body surface; give "
            "mL/min/{1.73_m2} (or mL/s/{1.73_m2})"
        )
    value = float(number) * (60.0 if match["per"] == "s" else 1.0)
    try:
        Panel(egfr=value)  # the range Panel accepts
    except B12LabsError as error:
        raise _SkipError(error.message) from None
    return value


def _place(order: _Order, slot: str, result: _Result) -> None:
    """Put ``result`` in its slot, following :data:`STATUS_RULES`."""
    earlier = order.slots.get(slot)
    key, where = result.key, result.where
    if earlier is None:
        order.slots[slot] = result
    elif result.kind == "replaces" or earlier.kind == "preliminary":
        meaning = STATUS_RULES[result.status][1] if result.status else "no status"
        order.slots[slot] = result
        order.notes.append(
            f"{where}: {key} ({meaning}) replaces {earlier.where} (status {earlier.status})"
        )
    elif result.kind == "preliminary":
        order.notes.append(
            f"{where}: {key} not used: a preliminary result (status {result.status}) does not "
            f"replace the final result of {earlier.where}"
        )
    elif _same(result, earlier):  # a retransmission
        order.notes.append(f"{where}: {key} repeats the final result of {earlier.where}")
    else:  # a second final result: HL7 says a final result changes only by a correction
        order.notes.append(
            f"{where}: {key} not used: {earlier.where} already gave a final result, which only "
            "a corrected (C) result replaces"
        )


def _same(result: _Result, earlier: _Result) -> bool:
    def value(r: _Result) -> Any:
        m = r.measurement
        return (m.value, m.unit, m.censor) if m is not None else (r.egfr, r.censor)

    return bool(value(result) == value(earlier))


def _make_final(order: _Order, slot: str, key: str, where: str) -> None:
    earlier = order.slots.get(slot)
    if earlier is not None and earlier.kind == "preliminary":
        earlier.kind, earlier.status = "final", "U"
        order.notes.append(f"{where}: {key} of {earlier.where} changed to final (status U)")
    else:
        order.notes.append(f"{where}: {key} status U without a value: no preliminary result")


# ----------------------------------------------------------------------------- the Panel


def _panel(order: _Order) -> Hl7Panel:
    patient = order.patient
    notes = [*patient.notes, *order.notes]
    fields: dict[str, Any] = {}
    for slot, result in order.slots.items():
        if result.measurement is not None:
            fields[slot] = result.measurement
        if result.kind == "preliminary" or not result.status:
            meaning = STATUS_RULES[result.status][1] if result.status else _NO_STATUS[1]
            notes.append(
                f"{result.where}: {result.key} used, status {result.status or 'not given'} "
                f"({meaning}{'' if result.status else ', read as final'})"
            )
    egfr = _choose_egfr(order, notes)
    if egfr is not None:
        fields["egfr"] = egfr
    used = [r.when for r in order.slots.values() if r.when is not None]
    observed = order.observed_at or (max(used, key=_wall_clock) if used else None)
    if patient.sex is not None:
        fields["sex"] = patient.sex
    if patient.birth is not None and observed is not None:
        age = _age(patient.birth, observed.date(), notes)
        if age is not None:
            fields["age"] = age
    if order.unknown:
        notes.append("codes not read: " + ", ".join(dict.fromkeys(order.unknown)))
    return Hl7Panel(
        panel=Panel(**fields),
        patient_id=patient.patient_id,
        order_id=order.order_id,
        observed_at=observed,
        notes=notes,
    )


def _choose_egfr(order: _Order, notes: list[str]) -> float | None:
    """The eGFR of the most preferred code (:data:`b12labs.fhir.EGFR_LOINC` order; a local
    code last), as :mod:`b12labs.fhir` chooses; two race-specific estimates: none."""
    given = sorted(
        (r for r in order.slots.values() if r.egfr is not None),
        key=lambda r: _EGFR_RANK[r.code] if r.code else len(_EGFR_RANK),
    )
    if not given:
        return None
    best = given[0]
    rivals = [r for r in given[1:] if r.code in _RACE_SPECIFIC and r.code != best.code]
    if best.code in _RACE_SPECIFIC and rivals:
        notes.append(
            f"eGFR not used: {best.where} and {', '.join(r.where for r in rivals)} are "
            "race-specific estimates and b12labs does not choose by race; give a CKD-EPI 2021 "
            "eGFR (LOINC 98979-8) or the creatinine"
        )
        return None
    if len(given) > 1:
        name = f"LOINC {best.code}, {EGFR_LOINC[best.code]}" if best.code else "a local code"
        notes.append(f"eGFR given {len(given)} times: used {best.where} ({name})")
    assert best.egfr is not None
    if best.censor is None:
        return best.egfr
    # as b12labs.fhir reads a censored eGFR: the bound, and "<" just below it
    return _censored_bound(best.where, "egfr", best.egfr, best.censor, notes)


def _age(birth: dt.date, on: dt.date, notes: list[str]) -> float | None:
    years = _completed_years(birth, on)
    info = analyte_info("age")
    if not info.plausible_min <= years <= info.plausible_max:
        notes.append(
            f"date of birth {birth.isoformat()} and observation date {on.isoformat()} give an "
            f"age of {years}, outside {info.plausible_min:g} to {info.plausible_max:g}; age "
            "unknown"
        )
        return None
    notes.append(f"age {years} at {on.isoformat()} from the date of birth (PID-7)")
    return float(years)


# ----------------------------------------------------------------------------- fields


def _get(segment: Any, number: int, *, component: int = 1) -> str:
    """Field ``number``, first repetition, ``component`` (unescaped by python-hl7); "" when
    absent or the HL7 null ``""``."""
    try:
        value = segment.extract_field(field_num=number, repeat_num=1, component_num=component)
    except IndexError:  # python-hl7: the path goes beyond the field's parts
        return ""
    text = str(value).strip()
    return "" if text == _HL7_NULL else text


def _datetime(text: str) -> dt.datetime | None:
    if not _DTM.fullmatch(text):
        return None
    try:
        when = hl7.parse_datetime(text)
    except (ValueError, OverflowError):
        return None
    if not isinstance(when, dt.datetime):  # pragma: no cover - parse_datetime returns one
        return None
    offset = when.utcoffset()
    return when if offset is None else when.replace(tzinfo=dt.timezone(offset))


def _wall_clock(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=None)


def _cut(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:40]}..."


def _shown(text: str) -> str:
    return repr(_cut(text))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return _cut(text) if text else type(error).__name__


# ----------------------------------------------------------------------------- command line

_TEXT_COLUMNS = ("patient_id", "order_id", "observed_at")
_MEASURED = (*(str(m) for m in MARKERS), "creatinine")


def _measurement_text(measurement: Measurement | None) -> str | None:
    """A Measurement as the text the table core reads back to the same value and unit."""
    if measurement is None:
        return None
    number = repr(measurement.value).removesuffix(".0")
    censor = measurement.censor.value if measurement.censor else ""
    return f"{censor}{number} {measurement.unit}"


def _table(panels: list[Hl7Panel]) -> pa.Table:
    """One row per panel: who and when, the panel's inputs, and the notes."""
    import pyarrow as pa

    columns: dict[str, pa.Array] = {
        "patient_id": pa.array([p.patient_id for p in panels], pa.string()),
        "order_id": pa.array([p.order_id for p in panels], pa.string()),
        "observed_at": pa.array(
            [p.observed_at.isoformat() if p.observed_at else None for p in panels], pa.string()
        ),
    }
    for key in _MEASURED:
        columns[key] = pa.array(
            [_measurement_text(getattr(p.panel, key)) for p in panels], pa.string()
        )
    columns["age"] = pa.array([p.panel.age for p in panels], pa.float64())
    columns["sex"] = pa.array(
        [p.panel.sex.value if p.panel.sex else None for p in panels], pa.string()
    )
    columns["egfr"] = pa.array([p.panel.egfr for p in panels], pa.float64())
    columns["hl7_notes"] = pa.array(["; ".join(p.notes) or None for p in panels], pa.string())
    return pa.table(columns)


class FeedInput(_InMemoryInput):
    """A file of HL7 v2 ORU^R01 messages for ``b12labs score``: one row per patient-order."""

    def __init__(self, path: Path, chunk_size: int) -> None:
        super().__init__()
        self.chunk_size = chunk_size
        try:
            panels = read_oru_file(path)
        except Hl7Error as error:
            raise InputError(f"{path}: {error.message}") from None
        except OSError as error:
            raise InputError(f"{path}: cannot be read ({error.strerror or error})") from None
        self.table = _table(panels)
        self.total_rows = self.table.num_rows
        noted = sum(1 for p in panels if p.notes)
        if noted:
            self.note = (
                f"{path}: {noted:,} of {len(panels):,} patient-orders have notes (results not "
                "used, statuses, codes not read): see the hl7_notes column"
            )
