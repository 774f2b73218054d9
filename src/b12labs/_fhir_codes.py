"""FHIR code system URIs shared by :mod:`b12labs.fhir` and :mod:`b12labs._fhir_context`
(which import each other, so neither can take them from the other at import time)."""

from __future__ import annotations

__all__ = ["ICD10", "ICD10_CM", "SNOMED"]

SNOMED = "http://snomed.info/sct"
#: ICD-10 (WHO) and ICD-10-CM, as FHIR names them.
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
