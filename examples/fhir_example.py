"""Read a FHIR Bundle of laboratory Observations, interpret it, write FHIR back.

Run:  python examples/fhir_example.py
"""

import json
from pathlib import Path

import b12labs
import b12labs.fhir

bundle = json.loads(Path(__file__).with_name("fhir_bundle.json").read_text("utf-8"))
read = b12labs.fhir.read_fhir(bundle)
print("used:", read.used)
print("ignored:", read.ignored)
for note in read.notes:
    print("note:", note)

result = b12labs.interpret(read.panel)
print("status:", result.status.value, result.finding_codes)

out = b12labs.fhir.to_fhir(result, subject="Patient/p1")
print(json.dumps(out, indent=1, ensure_ascii=False))
