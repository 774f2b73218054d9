"""b12labs: typed, explainable interpretation of vitamin B12 status blood tests.

>>> import b12labs
>>> result = b12labs.interpret(b12="150 pmol/L", mma="0.52 umol/L", age=70)
>>> result.status
<Status.DEFICIENCY_LIKELY: 'deficiency_likely'>

Decision support, not a diagnosis. See the README and docs/ for the rules and sources.
"""

import logging
from typing import TYPE_CHECKING, Any

from ._analytes import Analyte
from ._exceptions import (
    B12LabsError,
    ColumnError,
    FhirError,
    Hl7Error,
    ImplausibleValueError,
    IncompatibleUnitError,
    InvalidProfileError,
    InvalidValueError,
    ProfileError,
    UnitError,
    UnknownProfileError,
    UnknownUnitError,
)
from ._interpret import cb12, interpret, panel_json_schema, result_json_schema
from ._models import (
    Category,
    CB12Band,
    Censor,
    CombinedB12,
    Finding,
    Interpretation,
    InterpretationCode,
    MarkerAssessment,
    Measurement,
    NextStep,
    Panel,
    PatientContext,
    ReferenceInterval,
    RiskFactor,
    Sex,
    Status,
    Symptom,
)
from ._profile import (
    Profile,
    ReferenceChangeValue,
    Source,
    Threshold,
    get_profile,
    list_profiles,
    load_profile,
)
from ._units import accepted_units, convert
from ._version import __version__

# The library's logger: silent unless the application configures logging. b12labs logs what
# it would otherwise swallow (an unreadable or invalid unit cache), never a patient's data.
logging.getLogger("b12labs").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from ._series import (
        AppliedRCV,
        ChangeDirection,
        ChangeVerdict,
        DatedPanel,
        SeriesChange,
        SeriesFinding,
        SeriesInterpretation,
        SeriesPoint,
        TreatmentRoute,
        interpret_series,
        series_json_schema,
    )
    from .arrow import interpret_table, output_schema
    from .pandas import interpret_frame

# Batch entry points live in the optional fronts; importing them lazily keeps
# `import b12labs` free of pandas and pyarrow. Results over time (_series) are imported on
# first use too: interpret() does not need them.
_LAZY = {
    "interpret_frame": "pandas",
    "interpret_table": "arrow",
    "output_schema": "arrow",
    **dict.fromkeys(
        (
            "AppliedRCV",
            "ChangeDirection",
            "ChangeVerdict",
            "DatedPanel",
            "SeriesChange",
            "SeriesFinding",
            "SeriesInterpretation",
            "SeriesPoint",
            "TreatmentRoute",
            "interpret_series",
            "series_json_schema",
        ),
        "_series",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'b12labs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Analyte",
    "AppliedRCV",
    "B12LabsError",
    "CB12Band",
    "Category",
    "Censor",
    "ChangeDirection",
    "ChangeVerdict",
    "ColumnError",
    "CombinedB12",
    "DatedPanel",
    "FhirError",
    "Finding",
    "Hl7Error",
    "ImplausibleValueError",
    "IncompatibleUnitError",
    "Interpretation",
    "InterpretationCode",
    "InvalidProfileError",
    "InvalidValueError",
    "MarkerAssessment",
    "Measurement",
    "NextStep",
    "Panel",
    "PatientContext",
    "Profile",
    "ProfileError",
    "ReferenceChangeValue",
    "ReferenceInterval",
    "RiskFactor",
    "SeriesChange",
    "SeriesFinding",
    "SeriesInterpretation",
    "SeriesPoint",
    "Sex",
    "Source",
    "Status",
    "Symptom",
    "Threshold",
    "TreatmentRoute",
    "UnitError",
    "UnknownProfileError",
    "UnknownUnitError",
    "__version__",
    "accepted_units",
    "cb12",
    "convert",
    "get_profile",
    "interpret",
    "interpret_frame",
    "interpret_series",
    "interpret_table",
    "list_profiles",
    "load_profile",
    "output_schema",
    "panel_json_schema",
    "result_json_schema",
    "series_json_schema",
]
