import b12labs

result = b12labs.interpret(
    b12="150 pmol/L",
    mma="0.52 umol/L",
    hcy="12 umol/L",
    age=70,
    sex="female",
    egfr=78,
    symptoms=["tremor", "muscle_cramps"],
    risk_factors=["metformin"],
)
print(result.status.value, "-", result.summary)
for key, m in result.markers.items():
    print(
        f"{key}: {m.value:g} {m.unit} {m.category.value} [{m.interpretation_code.value}]"
        f" normal {m.reference_interval.text}"
    )
for finding in result.findings:
    print(f"{finding.code}: {finding.message}")
print("next:", [step.code for step in result.next_steps])
print(result.profile_id, result.profile_version, result.rules_version, result.library_version)

# Units convert through molar masses; censored results are first-class.
print(b12labs.convert(200, "pg/mL", "pmol/L", analyte="b12"))
print(b12labs.interpret(b12="<100 PG/ML").markers["b12"].category.value)
try:
    b12labs.interpret(b12="0.3 pg/mL")
except b12labs.ImplausibleValueError as error:
    print(type(error).__name__, error.analyte, error.value, error.unit)
