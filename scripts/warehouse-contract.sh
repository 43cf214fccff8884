#!/usr/bin/env bash
# The warehouse commands' contract, checked from outside by Python: `leuko synth` writes the
# documented files and columns; `leuko screen` writes `patient_id,rule,level,reason`, lists
# every patient truth.csv marks `flag` and none it marks `quiet`, writes the HTML summary, and
# refuses a bad --out with exit code 2 naming the flag.
# Usage: scripts/warehouse-contract.sh BIN   (a leuko built with --features warehouse)
set -euo pipefail
bin="${1:?usage: scripts/warehouse-contract.sh BIN}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

"$bin" synth --rows 100000 --seed 7 --out "$dir/w" --format csv
"$bin" screen --labs "$dir/w/labs.csv" --medications "$dir/w/medications.csv" \
  --patients "$dir/w/patients.csv" --out "$dir/worklist.csv" --quiet
"$bin" synth --rows 100000 --seed 7 --out "$dir/p" --format parquet
"$bin" screen --labs "$dir/p/labs.parquet" --medications "$dir/p/medications.parquet" \
  --patients "$dir/p/patients.parquet" --out "$dir/worklist.parquet" --quiet

set +e
"$bin" screen --labs "$dir/w/labs.csv" --out "$dir/worklist.txt" 2> "$dir/err.txt"
code=$?
set -e

python3 - "$dir" "$code" <<'PY'
import csv, os, sys
d, code = sys.argv[1], int(sys.argv[2])
failures = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)

w = os.path.join(d, "w")
heads = {
    "labs.csv": "patient_id,time,code,value,unit,status",
    "medications.csv": "patient_id,drug,start,stop",
    "patients.csv": "patient_id,birth_date,sex,duffy_null",
    "truth.csv": "patient_id,label,expected",
}
for name, head in heads.items():
    with open(os.path.join(w, name)) as f:
        check(f.readline().strip() == head, f"synth {name} header is {head}")
with open(os.path.join(w, "labs.csv")) as f:
    check(sum(1 for _ in f) - 1 >= 100000, "synth wrote at least --rows lab rows")
for name in ["labs.parquet", "medications.parquet", "patients.parquet", "truth.csv"]:
    check(os.path.getsize(os.path.join(d, "p", name)) > 0, f"synth --format parquet wrote {name}")

truth = {r["patient_id"]: r for r in csv.DictReader(open(os.path.join(w, "truth.csv")))}
with open(os.path.join(d, "worklist.csv")) as f:
    check(f.readline().strip() == "patient_id,rule,level,reason", "worklist columns")
rows = list(csv.DictReader(open(os.path.join(d, "worklist.csv"))))
listed = {r["patient_id"] for r in rows}
levels = {"none", "routine", "soon", "urgent", "emergency"}
check(all(r["level"] in levels for r in rows), "every level is a triage level")
check(all(r["reason"] for r in rows), "every row has a reason")
missed = [p for p, t in truth.items() if t["expected"] == "flag" and p not in listed]
alarms = [p for p, t in truth.items() if t["expected"] == "quiet" and p in listed]
flags = sum(1 for t in truth.values() if t["expected"] == "flag")
check(not missed, f"all {flags} planted cases listed (missed: {missed[:5]})")
check(not alarms, f"no quiet control listed (listed: {alarms[:5]})")
check(os.path.getsize(os.path.join(d, "worklist.parquet")) > 0, "worklist.parquet written")
html = open(os.path.join(d, "worklist.html")).read()
check("<svg" in html and "Latest ANC" in html, "HTML summary with charts")
err = open(os.path.join(d, "err.txt")).read()
check(code == 2 and "--out" in err, f"bad --out: exit {code}, {err.strip()}")
print(f"warehouse-contract: {len(failures)} failed")
sys.exit(1 if failures else 0)
PY
