import pandas as pd

import b12labs.pandas  # noqa: F401  (registers the df.b12labs accessor)

df = pd.read_csv("examples/messy_export.csv")
scored = df.b12labs.interpret(profile="nice-ng239")

print(scored[["patient", "b12labs_status", "b12labs_b12_value", "b12labs_b12_category"]])
print(scored["b12labs_status"].value_counts(dropna=False))
print(scored.loc[scored["b12labs_error"] != "", ["patient", "b12labs_error"]].to_string())
