"""Scale out with DuckDB: score rows from SQL, and a relation from Python.

Run:  python examples/scale_out_duckdb.py   (needs: pip install "b12labs[duckdb]")
"""

import duckdb

import b12labs.duckdb

con = duckdb.connect()
con.execute(
    """
    CREATE TABLE patients AS SELECT * FROM (VALUES
        ('p1', '150',     'pmol/L', 0.52, 70),
        ('p2', '<50',     'pmol/L', NULL, 45),
        ('p3', '420',     'pg/mL',  0.21, 38),
        ('p4', 'see lab', 'pmol/L', 0.30, 60),
        ('p5', '250',     'pg/mL',  0.60, 80)
    ) AS t(patient, b12, b12_unit, "MMA (umol/L)", age)
    """
)

# SQL: b12labs_interpret(row) takes the whole row as a STRUCT (p) and returns a STRUCT of
# results; unnest() spreads it into columns after the row's own.
b12labs.duckdb.register(con)
table = con.sql(
    "SELECT p.*, unnest(b12labs_interpret(p)) FROM patients p ORDER BY patient"
).to_arrow_table()  # or .fetchall(), .pl(), .df()
rows = table.select(["patient", "b12labs_status", "b12labs_b12_value", "b12labs_error"])
for row in rows.to_pylist():
    print(row)
assert table["b12labs_status"].to_pylist()[:3] == ["deficiency_likely"] * 2 + ["not_indicated"]
assert table["b12labs_error"][3].as_py().startswith("invalid_value: b12:")  # a row error

# one field of the result, in any SQL
counts = con.sql(
    """
    SELECT b12labs_interpret(p).b12labs_status AS status, count(*) AS n
    FROM patients p GROUP BY ALL ORDER BY ALL
    """
).fetchall()
print(counts)
assert counts == [("deficiency_likely", 3), ("not_indicated", 1), (None, 1)]

# Python: interpret_relation gives a lazy relation with the exact output columns, which
# composes with more SQL; DuckDB scores the rows vector by vector as it reads them.
scored = b12labs.duckdb.interpret_relation(con.table("patients"))
print(scored.columns)
likely = scored.filter("b12labs_status = 'deficiency_likely'").order("patient")
assert [row[0] for row in likely.select("patient").fetchall()] == ["p1", "p2", "p5"]
