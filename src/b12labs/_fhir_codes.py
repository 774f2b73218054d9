"""FHIR code system URIs and the FHIR ``id`` pattern, shared by :mod:`b12labs.fhir`,
:mod:`b12labs._fhir_context` (which import each other, so neither can take them from the other
at import time) and the service's FHIR and CDS Hooks modules."""

from __future__ import annotations

__all__ = ["FHIR_ID", "ICD10", "ICD10_CM", "SNOMED"]

SNOMED = "http://snomed.info/sct"
#: ICD-10 (WHO) and ICD-10-CM, as FHIR names them.
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
#: The FHIR ``id`` datatype (R4 and R5): 1 to 64 letters, digits, ``-`` and ``.``; a regular
#: expression without anchors, for building the patterns of ids and references.
FHIR_ID = r"[A-Za-z0-9\-.]{1,64}"
