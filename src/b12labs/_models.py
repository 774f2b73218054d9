"""Typed inputs (Measurement, Panel) and outputs (Interpretation and its parts).

All models are frozen pydantic v2 models. Inputs are checked at the boundary (units,
plausibility, patient fields); errors are b12labs errors that name the analyte, the value,
the unit and what would be accepted, even when raised from inside pydantic validation.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import math
import numbers
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._analytes import Analyte, analyte_info
from ._exceptions import (
    B12LabsError,
    ImplausibleValueError,
    InvalidValueError,
    UnitError,
    brief,
)
from ._units import MAX_UNIT_LENGTH, accepted_units, canonical_factor, check_unit_text
from ._version import SCHEMA_VERSION

__all__ = [
    "Analyte",
    "CB12Band",
    "Category",
    "Censor",
    "CombinedB12",
    "Finding",
    "Interpretation",
    "InterpretationCode",
    "MarkerAssessment",
    "Measurement",
    "NextStep",
    "Panel",
    "PatientContext",
    "ReferenceInterval",
    "RiskFactor",
    "Sex",
    "Status",
    "Symptom",
]


#: Set while pydantic's own validation API (``model_validate``, ``model_validate_json``,
#: ``model_validate_strings``) runs: pydantic calls a model's ``__init__`` from there, and
#: that call keeps pydantic's ValidationError, as pydantic users expect.
PYDANTIC_API: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "b12labs_pydantic_api", default=False
)


@contextlib.contextmanager
def _pydantic_api() -> Iterator[None]:
    """Mark the block as pydantic's own validation API (see :data:`PYDANTIC_API`)."""
    token = PYDANTIC_API.set(True)
    try:
        yield
    finally:
        PYDANTIC_API.reset(token)


class PydanticAPI(BaseModel):
    """Base of models whose constructor raises b12labs errors: marks pydantic's own
    validation API (see :data:`PYDANTIC_API`)."""

    # Validators are built on a model's first use, not at `import b12labs`: a batch run or
    # the command line never builds most of them (pydantic's documented start-up option).
    model_config = ConfigDict(defer_build=True)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        with _pydantic_api():
            return super().model_validate(obj, **kwargs)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        with _pydantic_api():
            return super().model_validate_json(json_data, **kwargs)

    @classmethod
    def model_validate_strings(cls, obj: Any, **kwargs: Any) -> Self:
        with _pydantic_api():
            return super().model_validate_strings(obj, **kwargs)


class _Frozen(PydanticAPI):
    """Frozen model whose constructor raises b12labs errors, never pydantic's.

    pydantic wraps any ValueError raised by a validator in a ValidationError; b12labs errors
    are ValueErrors, so the original (with its structured fields) is dug out and re-raised.
    An unknown keyword is a TypeError, as for any Python call; any other field pydantic
    refuses is an InvalidValueError naming the field. ``model_validate`` and JSON parsing
    keep pydantic's ValidationError, as pydantic users expect.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    def __init__(self, /, **data: Any) -> None:
        if PYDANTIC_API.get():  # called by model_validate: pydantic's errors, unchanged
            token = PYDANTIC_API.set(False)  # constructors that validators call: as usual
            try:
                super().__init__(**data)
            finally:
                PYDANTIC_API.reset(token)
            return
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise library_error(type(self).__name__, exc, tuple(type(self).model_fields)) from None


def unexpected_keyword(call: str, key: Any, accepted: tuple[str, ...], what: str) -> TypeError:
    """The TypeError of a call given a keyword (or mapping key) it does not take."""
    import difflib  # an error path: kept out of `import b12labs`

    close = difflib.get_close_matches(key.lower(), accepted, n=1) if isinstance(key, str) else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return TypeError(
        f"{call} got an unexpected {what} {brief(key)}{hint} (accepted: {', '.join(accepted)})"
    )


def library_error(
    name: str, exc: ValidationError, fields: tuple[str, ...]
) -> B12LabsError | TypeError:
    """The b12labs error (or call-shape TypeError) for a ValidationError of model ``name``."""
    errors = exc.errors()
    for error in errors:
        if error["type"] == "extra_forbidden":
            return unexpected_keyword(f"{name}()", error["loc"][0], fields, "keyword argument")
    for error in errors:
        original = error.get("ctx", {}).get("error")
        if isinstance(original, B12LabsError):
            return original
    error = errors[0]
    field = ".".join(str(p) for p in error["loc"]) or name
    value = error.get("input")
    return InvalidValueError(
        f"{field}: {brief(value)} is not accepted: {error['msg']}",
        analyte=str(error["loc"][0]) if error["loc"] else None,
        value=value,
    )


class _Output(BaseModel):
    """Frozen result model. Built only by b12labs from checked values, so it skips the
    error unwrapping of :class:`_Frozen` (results are built on the hot path)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


_M = TypeVar("_M", bound=BaseModel)
_new_object = object.__new__
_set_attribute = object.__setattr__


def trusted(cls: type[_M], fields: dict[str, Any], given: set[str]) -> _M:
    """An instance of ``cls`` from values b12labs itself produced and checked, unvalidated.

    What pydantic's ``model_construct`` does, without its per-field Python loop (it costs
    more than validating): ``fields`` must hold every field of ``cls``, in definition order,
    each of its declared type (enum members, not their text); ``given`` names the fields a
    validated construction would have been given (``model_fields_set``; copied). Only for values
    already checked: a test compares these objects with validated ones field by field.
    """
    obj = _new_object(cls)
    _set_attribute(obj, "__dict__", fields)
    _set_attribute(obj, "__pydantic_fields_set__", given.copy())
    _set_attribute(obj, "__pydantic_extra__", None)
    _set_attribute(obj, "__pydantic_private__", None)
    return obj


# ----------------------------------------------------------------------------- enums


class Status(StrEnum):
    """Overall answer. The values are part of the public API."""

    DEFICIENCY_LIKELY = "deficiency_likely"
    BORDERLINE = "borderline"
    NOT_INDICATED = "not_indicated"
    INSUFFICIENT_DATA = "insufficient_data"


class Censor(StrEnum):
    """Comparator of a censored result such as ``<50`` or ``>2000``."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


class Category(StrEnum):
    """Category of one marker under a profile."""

    LOW = "low"
    INDETERMINATE = "indeterminate"
    NORMAL = "normal"
    ABOVE_REFERENCE = "above_reference"
    ELEVATED = "elevated"
    MARKEDLY_ELEVATED = "markedly_elevated"
    MODERATE = "moderate"
    INTERMEDIATE = "intermediate"
    SEVERE = "severe"
    UNCLASSIFIABLE = "unclassifiable"


class InterpretationCode(StrEnum):
    """HL7 v3 ObservationInterpretation codes used in results (docs/codes.md)."""

    LOW = "L"
    NORMAL = "N"
    HIGH = "H"
    CRITICAL_HIGH = "HH"
    CRITICAL_LOW = "LL"
    EQUIVOCAL = "E"
    OFF_SCALE_LOW = "<"
    OFF_SCALE_HIGH = ">"


class CB12Band(StrEnum):
    """Bands of the combined indicator cB12 (Fedosov 2015)."""

    PROBABLE_DEFICIENCY = "probable_deficiency"
    POSSIBLE_DEFICIENCY = "possible_deficiency"
    LOW = "low"
    ADEQUATE = "adequate"
    ELEVATED = "elevated"


class Sex(StrEnum):
    """Sex, as used by CKD-EPI 2021 and reference intervals."""

    FEMALE = "female"
    MALE = "male"


class Symptom(StrEnum):
    """Symptoms that prompt B12 testing (NICE NG239; tremor and fasciculations: case reports)."""

    PARAESTHESIA = "paraesthesia"
    NUMBNESS = "numbness"
    TREMOR = "tremor"
    FASCICULATIONS = "fasciculations"
    MUSCLE_CRAMPS = "muscle_cramps"
    MUSCLE_WEAKNESS = "muscle_weakness"
    MUSCLE_TENSION = "muscle_tension"
    ATAXIA = "ataxia"
    COGNITIVE_CHANGE = "cognitive_change"
    FATIGUE = "fatigue"
    GLOSSITIS = "glossitis"
    MOOD_CHANGE = "mood_change"
    VISUAL_DISTURBANCE = "visual_disturbance"


class RiskFactor(StrEnum):
    """Risk factors for B12 deficiency (NICE NG239, as listed in docs/sources.md)."""

    VEGAN_OR_VEGETARIAN = "vegan_or_vegetarian"
    METFORMIN = "metformin"
    PROTON_PUMP_INHIBITOR = "proton_pump_inhibitor"
    H2_BLOCKER = "h2_blocker"
    GASTRIC_OR_BARIATRIC_SURGERY = "gastric_or_bariatric_surgery"
    ILEAL_RESECTION = "ileal_resection"
    AUTOIMMUNE_GASTRITIS = "autoimmune_gastritis"
    COELIAC_OR_CROHNS = "coeliac_or_crohns"
    NITROUS_OXIDE = "nitrous_oxide"
    FAMILY_HISTORY = "family_history"
    TYPE_1_DIABETES = "type_1_diabetes"
    SJOGRENS_SYNDROME = "sjogrens_syndrome"
    PELVIC_OR_ABDOMINAL_RADIOTHERAPY = "pelvic_or_abdominal_radiotherapy"
    OTHER_MEDICATION = "other_medication"


_SYMPTOM_ALIASES: dict[str, Symptom] = {
    "paresthesia": Symptom.PARAESTHESIA,
    "pins_and_needles": Symptom.PARAESTHESIA,
    "tingling": Symptom.PARAESTHESIA,
    "twitching": Symptom.FASCICULATIONS,
    "cramps": Symptom.MUSCLE_CRAMPS,
    "weakness": Symptom.MUSCLE_WEAKNESS,
    "memory_problems": Symptom.COGNITIVE_CHANGE,
    "sore_tongue": Symptom.GLOSSITIS,
}
_RISK_ALIASES: dict[str, RiskFactor] = {
    "vegan": RiskFactor.VEGAN_OR_VEGETARIAN,
    "vegetarian": RiskFactor.VEGAN_OR_VEGETARIAN,
    "ppi": RiskFactor.PROTON_PUMP_INHIBITOR,
    "h2_receptor_antagonist": RiskFactor.H2_BLOCKER,
    "gastrectomy": RiskFactor.GASTRIC_OR_BARIATRIC_SURGERY,
    "bariatric_surgery": RiskFactor.GASTRIC_OR_BARIATRIC_SURGERY,
    "pernicious_anaemia": RiskFactor.AUTOIMMUNE_GASTRITIS,
    "pernicious_anemia": RiskFactor.AUTOIMMUNE_GASTRITIS,
    "coeliac": RiskFactor.COELIAC_OR_CROHNS,
    "coeliac_disease": RiskFactor.COELIAC_OR_CROHNS,
    "celiac": RiskFactor.COELIAC_OR_CROHNS,
    "celiac_disease": RiskFactor.COELIAC_OR_CROHNS,
    "crohns": RiskFactor.COELIAC_OR_CROHNS,
    "crohns_disease": RiskFactor.COELIAC_OR_CROHNS,
    "n2o": RiskFactor.NITROUS_OXIDE,
}
_SEX_ALIASES: dict[str, Sex] = {
    "f": Sex.FEMALE,
    "female": Sex.FEMALE,
    "m": Sex.MALE,
    "male": Sex.MALE,
}
_CENSOR_SPELLINGS: dict[str, Censor] = {
    "<": Censor.LT, "<=": Censor.LE, "≤": Censor.LE, "=<": Censor.LE,
    ">": Censor.GT, ">=": Censor.GE, "≥": Censor.GE, "=>": Censor.GE,
}  # fmt: skip

# "<50 pg/mL", "≤ 0.05 umol/L", "1,234 ng/L", "350", ".5 umol/L", "2e3 pmol/L". Written with
# explicit ASCII classes so that Python's re and RE2 (pyarrow, the batch path) read it alike.
CENSOR_PATTERN = "<=|>=|=<|=>|≤|≥|<|>"
NUMBER_PATTERN = (
    r"[+-]?(?:[1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
    r"|[+-]?\.[0-9]+(?:[eE][+-]?[0-9]+)?"
)
MEASUREMENT_PATTERN = (
    rf"^[ \t\r\n\f\v]*(?P<censor>{CENSOR_PATTERN})?[ \t\r\n\f\v]*(?P<number>{NUMBER_PATTERN})"
    r"[ \t\r\n\f\v]*(?P<unit>.*?)[ \t\r\n\f\v]*$"
)
_MEASUREMENT_TEXT = re.compile(MEASUREMENT_PATTERN, re.DOTALL)
#: The longest measurement text read, in characters (after trimming outer spaces): a number,
#: a comparator and a unit fit in far fewer ("≥ 2,000,000 nanograms per millilitre" has 36).
#: Longer texts are refused with InvalidValueError before any parsing.
MAX_MEASUREMENT_LENGTH = 64
#: The most codes a symptom or risk-factor list may hold (there are 13 symptoms and 14 risk
#: factors; aliases and repeats are folded).
MAX_CODES = 64
#: Cell texts that mean "no result" (compared trimmed and lower-cased): missing, not an error.
MISSING_TOKENS: frozenset[str] = frozenset(
    {
        "", "na", "n/a", "n.a.", "nan", "none", "null", "-", "--", ".", "?",
        "pending", "not done", "not tested", "cancelled", "canceled",
        "hemolysed", "haemolysed", "hemolyzed", "haemolyzed", "qns", "see comment",
    }
)  # fmt: skip
_DECIMAL_COMMA = re.compile(r"^[<>≤≥=]*\s*\d+,\d+(?!\d)")  # matched on the stripped text


def _slug(text: str) -> str:
    # "Crohn's disease" -> "crohns_disease"; "pins-and-needles" -> "pins_and_needles"
    text = text.strip().lower().replace("'", "").replace("\u2019", "")
    return re.sub(r"[\s\-/]+", "_", text).strip("_")


# ----------------------------------------------------------------------------- inputs


class Measurement(_Frozen):
    """One laboratory result: a non-negative number, its unit, and an optional comparator.

    ``Measurement.parse("<50 pg/mL")`` reads the text forms found in laboratory exports.
    The unit is checked against an analyte when the measurement is placed in a
    :class:`Panel` (a Measurement alone does not know its analyte).
    """

    value: float = Field(description="The number as reported (the bound of a censored result).")
    unit: str = Field(description="The unit as reported, e.g. 'pg/mL'.")
    censor: Censor | None = Field(default=None, description="'<', '<=', '>' or '>=' if censored.")
    source: str | None = Field(
        default=None, description="Where the result came from, e.g. 'Observation/123' (FHIR)."
    )

    @field_validator("value", mode="before")
    @classmethod
    def _finite_non_negative(cls, value: Any) -> float:
        return _number(value, None, None, value)

    @field_validator("unit", mode="before")
    @classmethod
    def _unit_given(cls, unit: Any) -> str:
        text = unit.strip() if isinstance(unit, str) else ""
        if not text:
            raise InvalidValueError(
                f"unit: {brief(unit)} is not a unit; give the unit as text, e.g. 'pmol/L' "
                "(b12labs never guesses a unit)",
                unit=unit if isinstance(unit, str) else None,
            )
        if len(text) > MAX_UNIT_LENGTH:
            check_unit_text(None, unit)  # raises UnknownUnitError
        return text

    @classmethod
    def parse(cls, text: str, *, analyte: str | None = None) -> Measurement:
        """Parse ``"150 pmol/L"``, ``"<50 pg/mL"``, ``"≥ 2,000 ng/L"`` into a Measurement.

        Raises:
            InvalidValueError: the text is not a number followed by a unit, or is longer
                than :data:`MAX_MEASUREMENT_LENGTH` characters.
            UnitError: the unit is longer than :data:`~b12labs._units.MAX_UNIT_LENGTH`.
        """
        if not isinstance(text, str):
            raise InvalidValueError(
                f"{analyte or 'value'}: {brief(text)} is not a text; give e.g. '150 pmol/L'",
                analyte=analyte,
                value=text,
            )
        stripped = text.strip()  # str.strip: Unicode spaces too
        if len(stripped) > MAX_MEASUREMENT_LENGTH:
            raise InvalidValueError(
                f"{analyte or 'value'}: {brief(stripped)} is longer than "
                f"{MAX_MEASUREMENT_LENGTH} characters, which no result is; give a number and "
                "a unit, e.g. '150 pmol/L'",
                analyte=analyte,
                value=text,
            )
        match = _MEASUREMENT_TEXT.match(stripped)
        if match is None or not match["unit"].strip():
            if _DECIMAL_COMMA.match(stripped):
                why = "uses a decimal comma; write the number with a decimal point, e.g. '0.45'"
            elif match is not None:
                why = "has no unit"
            else:
                why = "is not a number followed by a unit"
            raise InvalidValueError(
                f"{analyte or 'value'}: {brief(text)} {why}; give e.g. '150 pmol/L', "
                f"'<50 pg/mL' or (150, 'pmol/L'){_accepted_hint(analyte)}",
                analyte=analyte,
                value=text,
            )
        unit = match["unit"].strip()
        if unit.startswith(","):
            raise InvalidValueError(
                f"{analyte or 'value'}: {brief(text)} uses a decimal comma; write the number "
                f"with a decimal point, e.g. '0.45 umol/L'{_accepted_hint(analyte)}",
                analyte=analyte,
                value=text,
            )
        if len(unit) > MAX_UNIT_LENGTH:
            check_unit_text(analyte, unit, text)  # raises UnknownUnitError
        censor = _CENSOR_SPELLINGS[match["censor"]] if match["censor"] else None
        value = _number(float(match["number"].replace(",", "")), analyte, unit, text)
        # value and unit are checked as the validators would (a finite non-negative float; a
        # trimmed, non-empty unit of at most MAX_UNIT_LENGTH): built without re-validation
        fields = {"value": value, "unit": unit, "censor": censor, "source": None}
        return trusted(cls, fields, _PARSED_FIELDS)


#: The fields a parsed Measurement is given (``source`` keeps its default).
_PARSED_FIELDS = {"value", "unit", "censor"}


def _accepted_hint(analyte: str | None) -> str:
    if not isinstance(analyte, str) or analyte not in Analyte.__members__.values():
        return ""
    return f"; accepted units for {analyte}: {', '.join(accepted_units(analyte))}"


#: What counts as a number: float and int first (the common case skips the slower
#: abstract-class check); numpy scalars are numbers.Real; Decimal comes from SQL NUMERIC.
_REAL = (float, int, numbers.Real, Decimal)


def _number(value: Any, analyte: str | None, unit: str | None, shown: Any) -> float:
    """Return ``value`` as a finite, non-negative float or raise InvalidValueError."""
    try:
        if isinstance(value, bool) or not isinstance(value, _REAL):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):  # ValueError: Decimal('sNaN')
        raise InvalidValueError(
            f"{analyte or 'value'}: {brief(shown)} is not a number; give a non-negative "
            "number with a unit",
            analyte=analyte,
            value=shown,
            unit=unit,
        ) from None
    except OverflowError:  # an int or Fraction beyond the float range
        number = math.inf
    if not math.isfinite(number) or number < 0:
        what = analyte or "value"
        raise InvalidValueError(
            f"{what}: {brief(shown)}{_unit_suffix(unit, shown)} is not a usable result; "
            "a finite, non-negative number is required",
            analyte=analyte,
            value=shown,
            unit=unit,
        )
    return number + 0.0  # -0.0 -> 0.0


def _unit_suffix(unit: str | None, shown: Any) -> str:
    if not unit or (isinstance(shown, str) and unit in shown):
        return ""
    plain = unit.isprintable() and len(unit) <= MAX_UNIT_LENGTH
    return f" {unit}" if plain else f" {brief(unit)}"


#: (text, analyte) -> the checked Measurement it gave: repeated texts ("150 pmol/L") are
#: parsed once. Bounded; a text that raised is never kept (it raises again, the same way).
_PARSED: dict[tuple[str, str], Measurement] = {}
_MAX_PARSED = 4096


def coerce_measurement(value: Any, analyte: str) -> Measurement | None:
    """Turn the accepted input forms into a Measurement checked for ``analyte``.

    Accepted: ``"150 pmol/L"``, ``"<50 pg/mL"``, ``(150, "pmol/L")``, a pint Quantity, or a
    :class:`Measurement`. The unit must be a concentration unit of the analyte and the value
    must lie in the analyte's plausible range. A text meaning "no result" (blank, ``"N/A"``,
    ``"pending"``, ``"hemolysed"``: :data:`MISSING_TOKENS`) gives None: missing is missing.
    """
    if isinstance(value, str):
        parsed = _PARSED.get((value, analyte))
        if parsed is not None:  # the same text read before: the same (frozen) Measurement
            return parsed
    if isinstance(value, Measurement):
        measurement = value
    elif isinstance(value, str) and value.strip().lower() in MISSING_TOKENS:
        return None
    elif isinstance(value, str):
        measurement = Measurement.parse(value, analyte=analyte)
        check_plausible(analyte, measurement)
        if len(_PARSED) < _MAX_PARSED:
            _PARSED[value, analyte] = measurement
        return measurement
    elif isinstance(value, tuple | list) and len(value) == 2 and isinstance(value[1], str):
        number = _number(value[0], analyte, value[1], value[0])
        if not value[1].strip():
            raise InvalidValueError(
                f"{analyte}: {number:g} has an empty unit; b12labs never guesses a unit"
                f"{_accepted_hint(analyte)}",
                analyte=analyte,
                value=value[0],
                unit=value[1],
            )
        if len(value[1]) > MAX_UNIT_LENGTH:
            check_unit_text(analyte, value[1], value[0])  # raises if too long once trimmed
        measurement = Measurement(value=number, unit=value[1])
    elif hasattr(value, "magnitude") and hasattr(value, "units"):  # a pint Quantity
        try:
            unit_text = str(value.units)
        except Exception:  # not a pint Quantity after all
            unit_text = None
        if not isinstance(unit_text, str):
            raise InvalidValueError(
                f"{analyte}: {brief(value)} is not a measurement", analyte=analyte, value=value
            )
        check_unit_text(analyte, unit_text, value.magnitude)
        number = _number(value.magnitude, analyte, unit_text, value.magnitude)
        measurement = Measurement(value=number, unit=unit_text)
    else:
        hint = (
            "give e.g. '150 pmol/L', '<50 pg/mL', (150, 'pmol/L'), a pint Quantity or a Measurement"
        )
        if isinstance(value, int | float) and not isinstance(value, bool):
            why = f"{brief(value)} has no unit (b12labs never guesses a unit)"
        else:
            why = f"{brief(value)} is not a measurement"
        raise InvalidValueError(
            f"{analyte}: {why}; {hint}{_accepted_hint(analyte)}", analyte=analyte, value=value
        )
    check_plausible(analyte, measurement)
    return measurement


def check_plausible(analyte: str, measurement: Measurement) -> float:
    """Check the unit and plausible range of ``measurement``; return its canonical value."""
    try:
        factor = canonical_factor(analyte, measurement.unit)
    except UnitError as exc:  # add the value, which the cached unit lookup cannot know
        raise type(exc)(
            f"{exc.message} (value {measurement.value:g})",
            analyte=analyte,
            value=measurement.value,
            unit=measurement.unit,
        ) from None
    canonical = measurement.value * factor
    info = analyte_info(analyte)
    if not info.plausible_min <= canonical <= info.plausible_max:
        shown = f"{measurement.censor or ''}{measurement.value:g} {measurement.unit}"
        raise ImplausibleValueError(
            f"{analyte}: {shown} is {canonical:.6g} {info.canonical_unit}, outside the plausible "
            f"range {info.plausible_min:g} to {info.plausible_max:g} {info.canonical_unit}; "
            "check the unit (for example ng/mL entered as pg/mL, or nmol/L as umol/L)",
            analyte=analyte,
            value=measurement.value,
            unit=measurement.unit,
        )
    return canonical


#: Separators of a code list written as one text ("tremor; twitching", "metformin, ppi").
_LIST_SEPARATORS = re.compile(r"[;,]")
#: A code list text meaning "none reported" (an empty list), as opposed to unknown (blank).
NONE_REPORTED: frozenset[str] = frozenset({"none", "none reported", "nil"})


def _enum_items(
    value: Any, enum: type[Symptom] | type[RiskFactor], aliases: dict[str, Any], field: str
) -> tuple[Any, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        # One text: codes or aliases separated by ';' or ','. "none" means none reported;
        # a blank or a "no result" text (n/a, unknown...) means unknown, as in a batch cell.
        text = value.strip().lower()
        if text in NONE_REPORTED:
            return ()
        if text in MISSING_TOKENS or text == "unknown":
            return None
        items: Iterable[Any] = [p.strip() for p in _LIST_SEPARATORS.split(value) if p.strip()]
    elif isinstance(value, Iterable) and not isinstance(value, bytes | bytearray | Mapping):
        items = value
    else:
        accepted = ", ".join(m.value for m in enum)
        raise InvalidValueError(
            f"{field}: {brief(value)} is not a list of codes; give e.g. "
            f"['{next(iter(enum)).value}'] or a text such as '{next(iter(enum)).value}; ...'; "
            f"accepted values: {accepted}",
            analyte=field,
            value=value,
        )
    out: list[Any] = []
    try:
        first = list(itertools.islice(items, MAX_CODES + 1))
    except Exception:  # an iterable that fails while iterated: not a list of codes
        first = None
    if first is None or len(first) > MAX_CODES:
        why = "is not a list of codes" if first is None else f"has more than {MAX_CODES} codes"
        raise InvalidValueError(
            f"{field}: {brief(value)} {why}; give at most {MAX_CODES} codes",
            analyte=field,
            value=value,
        )
    for item in first:
        if isinstance(item, enum):
            out.append(item)
            continue
        member = None
        if isinstance(item, str) and len(item) <= MAX_MEASUREMENT_LENGTH:
            key = _slug(item)
            member = aliases.get(key)
            if member is None:
                try:
                    member = enum(key)
                except ValueError:
                    member = None
        if member is None:
            accepted = ", ".join(m.value for m in enum)
            raise InvalidValueError(
                f"{field}: {brief(item)} is not recognised; accepted values: {accepted}",
                analyte=field,
                value=item,
            )
        if member not in out:
            out.append(member)
    return tuple(out)


class Panel(_Frozen):
    """One patient's B12-status results and context. Every field is optional.

    Markers accept ``"150 pmol/L"``, ``"<50 pg/mL"``, ``(150, "pmol/L")``, a pint Quantity or
    a :class:`Measurement`. ``symptoms`` and ``risk_factors`` left as None mean "unknown";
    an empty list means "none".
    """

    b12: Measurement | None = None
    holotc: Measurement | None = None
    mma: Measurement | None = None
    hcy: Measurement | None = None
    folate: Measurement | None = None
    age: float | None = Field(default=None, description="Age in years.")
    sex: Sex | None = None
    pregnant: bool | None = None
    egfr: float | None = Field(default=None, description="eGFR in mL/min/1.73 m2.")
    creatinine: Measurement | None = Field(
        default=None, description="Serum creatinine; gives eGFR (CKD-EPI 2021) with age and sex."
    )
    symptoms: tuple[Symptom, ...] | None = None
    risk_factors: tuple[RiskFactor, ...] | None = None
    recent_b12_treatment: bool | None = None
    nitrous_oxide: bool | None = None

    # Each validator calls the field's check in _PANEL_CHECKS: panel_from_fields() calls
    # the same checks directly.
    @field_validator("b12", "holotc", "mma", "hcy", "folate", "creatinine", mode="before")
    @classmethod
    def _measurement(cls, value: Any, info: Any) -> Measurement | None:
        if value is None:
            return None
        return coerce_measurement(value, info.field_name)

    @field_validator("age", "egfr", mode="before")
    @classmethod
    def _bounded_number(cls, value: Any, info: Any) -> float | None:
        return None if value is None else _check_bounded(value, info.field_name)

    @field_validator("sex", mode="before")
    @classmethod
    def _sex(cls, value: Any) -> Sex | None:
        return None if value is None else _check_sex(value, "sex")

    @field_validator("pregnant", "recent_b12_treatment", "nitrous_oxide", mode="before")
    @classmethod
    def _flag(cls, value: Any, info: Any) -> bool | None:
        return None if value is None else _check_flag(value, info.field_name)

    @field_validator("symptoms", mode="before")
    @classmethod
    def _symptoms(cls, value: Any) -> tuple[Symptom, ...] | None:
        return _check_symptoms(value, "symptoms")

    @field_validator("risk_factors", mode="before")
    @classmethod
    def _risk_factors(cls, value: Any) -> tuple[RiskFactor, ...] | None:
        return _check_risk_factors(value, "risk_factors")

    @model_validator(mode="after")
    def _consistent(self) -> Panel:
        _check_consistent(self.__dict__)
        return self


def _check_bounded(value: Any, name: str) -> float:
    number = _number(value, name, None, value)
    info = analyte_info(name)  # plausible range: data, like the markers' ranges
    low, high, unit = info.plausible_min, info.plausible_max, info.canonical_unit
    if not low <= number <= high:
        raise ImplausibleValueError(
            f"{name}: {number:g} {unit} is outside the plausible range {low:g} to {high:g} {unit}",
            analyte=name,
            value=value,
            unit=unit,
        )
    return number


def _check_sex(value: Any, name: str) -> Sex:
    if isinstance(value, Sex):
        return value
    sex = _SEX_ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
    if sex is None:
        raise InvalidValueError(
            f"sex: {brief(value)} is not recognised; accepted values: 'female', 'male' ('f', 'm')",
            analyte="sex",
            value=value,
        )
    return sex


def _check_flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidValueError(
        f"{name}: {brief(value)} is not accepted; give True, False or None (unknown)",
        analyte=name,
        value=value,
    )


def _check_symptoms(value: Any, name: str) -> tuple[Symptom, ...] | None:
    return _enum_items(value, Symptom, _SYMPTOM_ALIASES, name)


def _check_risk_factors(value: Any, name: str) -> tuple[RiskFactor, ...] | None:
    return _enum_items(value, RiskFactor, _RISK_ALIASES, name)


def _check_consistent(fields: dict[str, Any]) -> None:
    if fields["pregnant"] and fields["sex"] is Sex.MALE:
        raise InvalidValueError(
            "pregnant: True contradicts sex 'male'; correct one of them",
            analyte="pregnant",
            value=True,
        )


#: The check of each Panel field, given a value that is not None: (value, field) -> value.
_PANEL_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    **dict.fromkeys(("b12", "holotc", "mma", "hcy", "folate", "creatinine"), coerce_measurement),
    "age": _check_bounded,
    "egfr": _check_bounded,
    "sex": _check_sex,
    "pregnant": _check_flag,
    "recent_b12_treatment": _check_flag,
    "nitrous_oxide": _check_flag,
    "symptoms": _check_symptoms,
    "risk_factors": _check_risk_factors,
}
_PANEL_DEFAULTS: dict[str, None] = dict.fromkeys(Panel.model_fields)


def panel_from_fields(data: Mapping[str, Any]) -> Panel:
    """``Panel(**data)``, faster: the same checks (:data:`_PANEL_CHECKS`) called directly
    and the checked values put in the Panel without pydantic re-validating them.

    On any error the data go through ``Panel(**data)``, so the error raised is the
    constructor's own (pydantic reports the fields in their declared order). A test compares
    the two for many inputs.
    """
    try:
        fields = _PANEL_DEFAULTS.copy()
        for name, value in data.items():
            if value is not None:
                fields[name] = _PANEL_CHECKS[name](value, name)
        _check_consistent(fields)
    except Exception:
        return Panel(**data)
    return trusted(Panel, fields, set(data))


# ----------------------------------------------------------------------------- outputs


def _value_in_interval_unit(marker: MarkerAssessment) -> tuple[float, str] | None:
    """The value in the unit of its normal range and that unit (converted with b12labs' own
    factors), or None when that unit is the canonical unit already, or one b12labs does not
    know (a hand-built result: a profile's units are checked when it is compiled)."""
    unit = marker.reference_interval.unit
    if not unit or unit.replace(" ", "") == marker.unit:
        return None
    try:
        return marker.value / canonical_factor(str(marker.analyte), unit), unit
    except B12LabsError:
        return None


def _in_interval_unit(marker: MarkerAssessment, censor: str) -> str:
    """`` (result 203.3 ng/L)``: the value in the unit of its normal range, when that unit
    is not the canonical unit already shown."""
    converted = _value_in_interval_unit(marker)
    if converted is None:
        return ""
    value, unit = converted
    return f" (result {censor}{value:.4g} {unit})"


class ReferenceInterval(_Output):
    """The interval a profile classifies as normal for one marker, in the source's unit."""

    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True
    unit: str
    text: str = Field(description="Human-readable form, e.g. '> 350 and ≤ 914 ng/L'.")


class MarkerAssessment(_Output):
    """One marker judged against the profile."""

    analyte: Analyte
    value: float = Field(description="Value in the canonical unit (the bound if censored).")
    unit: str = Field(description="Canonical unit of the analyte.")
    censor: Censor | None = None
    original_value: float
    original_unit: str
    category: Category
    interpretation_code: InterpretationCode
    reference_interval: ReferenceInterval
    source: str | None = Field(default=None, description="The input's source, if given.")


class Finding(_Output):
    """A coded reason, caveat or observation, with a plain-language sentence."""

    code: str
    message: str


class NextStep(_Output):
    """A coded suggestion for what to do next, with a plain-language sentence."""

    code: str
    message: str


class CombinedB12(_Output):
    """The combined indicator cB12 (Fedosov). ``value`` is None when it cannot be computed."""

    value: float | None = None
    band: CB12Band | None = None
    reason: str | None = Field(default=None, description="Why the value is None.")


class PatientContext(_Output):
    """The patient context the interpretation used (echoed for traceability)."""

    age: float | None = None
    sex: Sex | None = None
    pregnant: bool | None = None
    egfr: float | None = None
    egfr_source: Literal["given", "ckd-epi-2021"] | None = None
    renal_impairment: bool | None = None
    symptoms: tuple[Symptom, ...] | None = None
    risk_factors: tuple[RiskFactor, ...] | None = None
    recent_b12_treatment: bool | None = None
    nitrous_oxide: bool | None = None


class Interpretation(_Output):
    """The structured, explained answer for one panel. Decision support, not a diagnosis."""

    # schema_version has a default (results saved before it existed still load) and is
    # still listed as required in the serialization JSON Schema: every result written has it.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    status: Status
    summary: str
    markers: dict[Analyte, MarkerAssessment]
    findings: tuple[Finding, ...]
    next_steps: tuple[NextStep, ...]
    cb12: CombinedB12
    patient: PatientContext
    profile_id: str
    profile_version: str
    rules_version: int = Field(
        description="Version of the decision rules (2: decision-spec section 7). A status may "
        "change for the same input only when this changes."
    )
    library_version: str
    schema_version: str = Field(
        default=SCHEMA_VERSION,
        pattern=r"^[0-9]+\.[0-9]+$",
        description="Version of the shape of this result (JSON, JSON Schema, batch columns, "
        "FHIR output), 'MAJOR.MINOR': a minor version only adds, a major version may remove "
        "or change (docs/versioning.md).",
    )

    @property
    def finding_codes(self) -> tuple[str, ...]:
        """The codes of :attr:`findings`, in order."""
        return tuple(f.code for f in self.findings)

    @property
    def next_step_codes(self) -> tuple[str, ...]:
        """The codes of :attr:`next_steps`, in order."""
        return tuple(s.code for s in self.next_steps)

    def report(self) -> str:
        """A readable report: each marker against its reference interval, the status,
        findings and next steps (what ``b12labs explain`` prints)."""
        lines = [
            f"b12labs {self.library_version}, profile {self.profile_id} {self.profile_version}, "
            f"rules version {self.rules_version}, schema version {self.schema_version}",
            "",
            f"Status: {self.status.value}. {self.summary}",
            "",
        ]
        for key, marker in self.markers.items():
            censor = marker.censor.value if marker.censor else ""
            given = f"{censor}{marker.original_value:g} {marker.original_unit}"
            canonical = f"{censor}{marker.value:.4g} {marker.unit}"
            lines.append(
                f"  {key:<7} {given:<13} = {canonical:<13} {marker.category.value:<18}"
                f" [{marker.interpretation_code.value}]  normal: {marker.reference_interval.text}"
                + _in_interval_unit(marker, censor)
            )
        if self.cb12.value is not None:
            lines.append(f"  cB12    {self.cb12.value:.2f} ({self.cb12.band})")
        if self.patient.egfr is not None:
            egfr, source = self.patient.egfr, self.patient.egfr_source
            lines.append(f"  eGFR    {egfr:.0f} mL/min/1.73 m2 ({source})")
        lines += ["", "Findings:", *(f"  - [{f.code}] {f.message}" for f in self.findings)]
        if self.next_steps:
            lines += ["", "Next steps:", *(f"  - [{s.code}] {s.message}" for s in self.next_steps)]
        lines += ["", "Decision support, not a diagnosis."]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """A compact HTML card for notebooks: the status in words and colour, each marker
        with its value, unit, category and normal range in the same unit, the findings, the
        next steps and the versions. Every text is escaped; no external CSS or JavaScript."""
        from ._display import card_html

        return card_html(self)

    def _repr_markdown_(self) -> str:
        """The card of :meth:`_repr_html_` as Markdown (every text escaped)."""
        from ._display import card_markdown

        return card_markdown(self)
