"""A health app's use: one patient's panel in, JSON out (what an API would return).

Run:  python examples/health_app.py
"""

import json

import b12labs

# What a form or a lab import gives: results as text with their units, and context.
submitted = {
    "b12": "212 pg/mL",
    "holotc": "38 pmol/L",
    "mma": "0.31 umol/L",
    "hcy": "11.2 umol/L",
    "age": 58,
    "sex": "female",
    "symptoms": ["muscle_cramps", "tremor"],
    "risk_factors": ["metformin", "proton_pump_inhibitor"],
}

try:
    result = b12labs.interpret(**submitted)
except b12labs.B12LabsError as error:  # bad input: tell the user which value and why
    print(
        json.dumps({"error": type(error).__name__, "field": error.analyte, "message": str(error)})
    )
else:
    payload = result.model_dump(mode="json")
    print(json.dumps(payload, indent=2, ensure_ascii=False))
    # The JSON Schema of this payload, for the app's API documentation:
    schema = b12labs.result_json_schema()
    print(
        f"\n# schema: {len(schema['properties'])} top-level properties",
        sorted(schema["properties"]),
    )
