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
    └── FhirError                     FHIR input that is not usable resources (not JSON,
                                      no resourceType, several Patients)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "B12LabsError",
    "ColumnError",
    "FhirError",
    "ImplausibleValueError",
    "IncompatibleUnitError",
    "InvalidProfileError",
    "InvalidValueError",
    "ProfileError",
    "UnitError",
    "UnknownProfileError",
    "UnknownUnitError",
]


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
