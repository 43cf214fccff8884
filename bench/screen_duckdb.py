#!/usr/bin/env python3
"""Run leuko's screening rules in DuckDB on the same Parquet extract, as the peer of `leuko screen`.

The SQL is leuko's own (`leuko screen --print-sql`, the exact pass over every patient); leuko's
functions become DuckDB macros over the codes, units and drugs that `leuko synth` writes, with
the limits leuko's knowledge base gives for adults (the synthetic patients are 20 to 85 years
old). Writes the worklist as CSV (patient_id,rule,level) and prints the row count.

Usage: screen_duckdb.py SQL_FILE EXTRACT_DIR OUT_CSV [THREADS]
"""
import re
import sys

import duckdb

RULES = [
    "severe_neutropenia", "recurrent_severe_neutropenia", "blasts", "persistent_leukopenia",
    "baseline_fall", "clozapine_interrupt", "clozapine_overdue", "chemo_nadir",
]

MACROS = r"""
CREATE MACRO leuko_analyte(code) AS CASE
  WHEN code IN ('6690-2', '26464-8', '804-5', '33256-9', 'WBC') THEN 'wbc'
  WHEN code IN ('751-8', '26499-4', '753-4', 'NEUT#', 'ANC') THEN 'anc'
  WHEN code = '26446-5' THEN 'blast-pct'
  WHEN code = '30376-8' THEN 'blast-abs'
  WHEN code = '8310-5' THEN 'temperature'
  WHEN code = '731-0' THEN 'alc' WHEN code = '718-7' THEN 'hgb'
  WHEN code = '777-3' THEN 'plt' WHEN code = '787-2' THEN 'mcv'
  ELSE NULL END;
CREATE MACRO leuko_factor(u) AS CASE
  WHEN u IN ('10*9/L', '10^9/L', 'G/L', '10*3/uL', '%', 'Cel', 'g/dL', 'fL') THEN 1.0
  WHEN u IN ('/uL', 'cells/mm3') THEN 0.001
  ELSE NULL END;
CREATE MACRO leuko_canonical(code, value, unit) AS CASE
  WHEN leuko_analyte(code) = 'wbc' AND value * leuko_factor(unit) BETWEEN 0 AND 1000 THEN value * leuko_factor(unit)
  WHEN leuko_analyte(code) = 'anc' AND value * leuko_factor(unit) BETWEEN 0 AND 500 THEN value * leuko_factor(unit)
  WHEN leuko_analyte(code) IN ('blast-pct') AND value BETWEEN 0 AND 100 THEN value
  WHEN leuko_analyte(code) = 'temperature' AND unit = 'Cel' AND value BETWEEN 25 AND 45 THEN value
  ELSE NULL END;
CREATE MACRO leuko_lln(analyte, birth, sex, duffy, day) AS CASE
  WHEN analyte = 'wbc' THEN CASE WHEN coalesce(duffy, false) THEN {wbc_duffy} ELSE {wbc} END
  WHEN analyte = 'anc' THEN CASE WHEN coalesce(duffy, false) THEN {anc_duffy} ELSE {anc} END
  END;
CREATE MACRO leuko_drug(d) AS CASE WHEN lower(d) = 'clozapine' THEN 'clozapine' ELSE lower(d) END;
CREATE MACRO leuko_drug_cause(d) AS CASE
  WHEN lower(d) IN ('cyclophosphamide', 'docetaxel', 'carboplatin') THEN 'chemotherapy'
  WHEN lower(d) IN ('clozapine', 'carbimazole', 'methimazole', 'sulfasalazine') THEN 'drug-induced'
  WHEN lower(d) IN ('metformin', 'atorvastatin', 'lisinopril', 'omeprazole') THEN 'none'
  END;
CREATE MACRO to_timestamp_micros(x) AS make_timestamp(x);
CREATE MACRO to_char(ts, fmt) AS strftime(ts, fmt);
"""


def main():
    sql_file, extract, out = sys.argv[1], sys.argv[2], sys.argv[3]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    sql = open(sql_file).read()
    # DataFusion's ordered last_value aggregate is DuckDB's last(… ORDER BY …).
    sql = re.sub(r"\blast_value\(", "last(", sql)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    # Limits from leuko's knowledge base (international profile, adults): see leuko_lln.
    con.execute(MACROS.format(wbc=4.5, wbc_duffy=3.0, anc=1.5, anc_duffy=1.21))
    con.execute(f"""CREATE VIEW labs AS SELECT patient_id, epoch_us(time) AS t, code, value, unit,
        coalesce(upper(trim(status)) = 'C', false) AS corrected FROM read_parquet('{extract}/labs.parquet')""")
    con.execute(f"""CREATE VIEW medications AS SELECT patient_id, drug, epoch_us(start) AS start,
        epoch_us(stop) AS stop FROM read_parquet('{extract}/medications.parquet')""")
    con.execute(f"""CREATE VIEW patients AS SELECT patient_id, birth_date, sex, duffy_null
        FROM read_parquet('{extract}/patients.parquet')""")
    unions = " UNION ALL ".join(
        f"SELECT patient_id, '{r}' AS rule, {r} AS level FROM screen WHERE {r} IS NOT NULL" for r in RULES
    )
    query = f"WITH screen AS ({sql}) SELECT * FROM ({unions}) ORDER BY patient_id, rule"
    rows = con.execute(query).fetchall()
    with open(out, "w") as f:
        f.write("patient_id,rule,level\n")
        for r in rows:
            f.write(",".join(r) + "\n")
    print(len(rows))


if __name__ == "__main__":
    main()
