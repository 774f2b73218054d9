"""Errors raised by b12labs.

Every error is a :class:`ValueError`, so code that already guards user input with
``except ValueError`` keeps working. Each carries structured fields (``analyte``,
``value``, ``unit``) and a message that names them and says what would be accepted::

    B12LabsError (ValueError)
    ├── UnitError
    │   ├── UnknownUnitError          the unit text is not a unit b12labs or pint knows
    │   └── IncompatibleUnitError     a real unit, but not a concentration of this analyte
    ├── InvalidValueError             not a number, negative, NaN, infinite, no unit, bad text
    │   └── ImplausibleValueError     a number outside the analyte's plausible range
    ├── ProfileError
    │   ├── InvalidProfileError       a profile that fails validation
    │   └── UnknownProfileError       no profile with that id (also a LookupError)
    ├── ColumnError                   a DataFrame whose columns cannot be interpreted
    │                                 (none recognised, ambiguous, or a value column
    │                                 with no unit anywhere)
    ├── FhirError                     FHIR input that is not usable resources (not JSON,
    │                                 no resourceType, several Patients)
    └── Hl7Error                      HL7 v2 input that is not a readable ORU^R01 message
                                      (no MSH, another message type, broken structure)

The public API raises nothing else, except :class:`TypeError` for a wrong call shape (an
unexpected keyword argument, a panel given together with keyword results, a panel that is
neither a Panel nor a mapping), as Python itself does (docs/concepts.md, "Contracts").

The classes are defined here but belong to the public ``b12labs`` namespace: their
``__module__`` is ``"b12labs"``, so tracebacks and reprs show ``b12labs.UnitError``, and
pickling refers to ``b12labs.UnitError``.
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = [
    "B12LabsError",
    "ColumnError",
    "FhirError",
    "Hl7Error",
    "ImplausibleValueError",
    "IncompatibleUnitError",
    "InvalidProfileError",
    "InvalidValueError",
    "ProfileError",
    "UnitError",
    "UnknownProfileError",
    "UnknownUnitError",
]


#: Characters of a text shown in an error message; longer texts are cut and their length given.
SHOWN_CHARACTERS = 40

_REPR = reprlib.Repr()
_REPR.maxstring = SHOWN_CHARACTERS + 2
_REPR.maxother = SHOWN_CHARACTERS
_REPR.maxlong = SHOWN_CHARACTERS


def brief(value: Any) -> str:
    """The repr of ``value`` for an error message, cut to about 40 characters.

    Never raises: an integer too long to print, or an object whose repr fails, is described
    by its type. Messages stay short whatever the input; the error's ``value`` attribute
    keeps the value as given.
    """
    if isinstance(value, str):
        if len(value) <= SHOWN_CHARACTERS:
            return repr(value)
        return f"{value[:SHOWN_CHARACTERS]!r}... ({len(value)} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    try:
        return _REPR.repr(value)
    except Exception:  # a failing __repr__, or an int too long to print inside a container
        return f"<{type(value).__name__} object>"


class B12LabsError(ValueError):
    """Base of every b12labs error.

    Attributes:
        analyte: the analyte or field concerned (``"b12"``, ``"mma"``, ``"age"``...), if any.
        value: the offending value as given, if any.
        unit: the unit as given, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        analyte: str | None = None,
        value: Any = None,
        unit: str | None = None,
    ) -> None:
        if not message.isascii():
            # A lone surrogate copied from the input cannot be encoded (nor printed, nor
            # passed through pydantic): it is written as an escape, the rest unchanged.
            message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(message)
        self.message = message
        self.analyte = analyte
        self.value = value
        self.unit = unit

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the structured fields when errors cross process boundaries (multiprocessing).
        return (_rebuild, (type(self), self.message, self.analyte, self.value, self.unit))


def _rebuild(
    cls: type[B12LabsError], message: str, analyte: str | None, value: Any, unit: str | None
) -> B12LabsError:
    return cls(message, analyte=analyte, value=value, unit=unit)


class UnitError(B12LabsError):
    """A unit that cannot be used for the analyte."""


class UnknownUnitError(UnitError):
    """The unit text is not understood (not in the alias table and not parsable by pint)."""


class IncompatibleUnitError(UnitError):
    """The unit is understood but is not a concentration unit accepted for the analyte."""


class InvalidValueError(B12LabsError):
    """The value is not a usable result: not numeric, negative, NaN, infinite or unitless."""


class ImplausibleValueError(InvalidValueError):
    """The value lies outside the analyte's plausible range: most often a wrong unit."""


class ProfileError(B12LabsError):
    """A problem with a threshold profile."""


class InvalidProfileError(ProfileError):
    """A profile that fails validation (missing threshold, wrong order, unknown source...)."""


class UnknownProfileError(ProfileError, LookupError):
    """No profile is registered under the requested id."""


class ColumnError(B12LabsError):
    """A DataFrame's columns cannot be interpreted (none recognised, ambiguous, no unit).

    ``analyte`` names the analyte concerned and ``value`` the column label, if any.
    """


class FhirError(B12LabsError):
    """FHIR input that is not usable resources (see :mod:`b12labs.fhir`)."""


class Hl7Error(B12LabsError):
    """HL7 v2 input that is not a readable ORU^R01 message (see :mod:`b12labs.hl7`)."""


# Every public class (this module's __all__) reports the public namespace as its module.
for _name in __all__:
    globals()[_name].__module__ = "b12labs"
del _name
