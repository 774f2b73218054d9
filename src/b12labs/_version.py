"""Single source of the package version (read by hatchling and by results)."""

__version__ = "0.1.0"

#: Version of the shape of results (JSON, JSON Schema, batch columns, FHIR output):
#: "MAJOR.MINOR"; the rules for changing it are in docs/versioning.md.
SCHEMA_VERSION = "1.0"
