import b12labs

# Mean results of Kuzminski et al. (Blood 1998): four months of oral B12 2 mg/day.
series = b12labs.interpret_series(
    [
        {"collected": "2024-01-10", "mma": "3850 nmol/L", "hcy": "37.2 umol/L", "age": 70},
        {"collected": "2024-05-10", "mma": "169 nmol/L", "hcy": "10.6 umol/L", "age": 70},
    ],
    treatment_started="2024-01-10",
    treatment_route="oral",
)
for point in series.points:
    print(point.collected, point.interpretation.status.value, point.on_treatment)
for change in series.changes_of("mma") + series.changes_of("hcy"):
    print(
        f"{change.analyte}: {change.start_value:g} -> {change.end_value:g} {change.unit}, "
        f"{change.percent_change:+.1f}% in {change.days} days: {change.verdict.value} "
        f"(RCV {change.rcv.describe()}, {change.rcv.source})"
    )
for finding in series.findings:
    print(f"{finding.code}: {finding.message}")
print(series.profile_id, series.rules_version, series.schema_version)
