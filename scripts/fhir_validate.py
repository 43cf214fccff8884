#!/usr/bin/env python3
"""Validate leuko's FHIR R4 output with an independent implementation (fhir.resources).

Usage: fhir_validate.py --mode cli|example --bin BIN [--out DIR] CASES_DIR

For every vignette bundle CASES_DIR/<case>.json (the `asof` is read from
<case>.expect.json), runs

  cli:     BIN assess --format fhir --asof ASOF FILE
  example: BIN --asof ASOF FILE        (crates/leuko-fhir/examples/fhir_out.rs)

twice, and checks:

  * the output parses as a FHIR R4 Bundle with fhir.resources (R4 4.0.1 models, the top-level
    package of fhir.resources 6.4.x), and every entry's resource parses as its own type;
  * the bundle is a `collection`; fullUrls are unique `urn:uuid:` URNs matching the
    resource ids; every reference inside the bundle resolves to an entry;
  * no empty string, array or object and no null anywhere (FHIR JSON forbids them);
  * one RiskAssessment with the triage extension; every ICD-10-CM coding is well formed;
  * the two runs give the same bytes (ids are derived from content).

Prints one line per failing case (its name and the error) and a last line
`fhir-validate: N passed, M failed`. Exit 0 only when nothing failed.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

import fhir.resources
from fhir.resources import get_fhir_model_class
from fhir.resources.bundle import Bundle
from pydantic import ValidationError

TRIAGE_EXTENSION = "https://example.invalid/leuko/fhir/StructureDefinition/triage-level"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
UUID_URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# fhir.resources checks types, cardinality, required elements and primitive formats, not
# the value sets of `required` bindings; these are the R4 required bindings of the elements
# leuko writes (https://hl7.org/fhir/R4/valueset-*.html).
REQUIRED_CODES = {
    ("Bundle", "type"): {"document", "message", "transaction", "transaction-response", "batch",
                         "batch-response", "history", "searchset", "collection"},
    ("RiskAssessment", "status"): {"registered", "preliminary", "final", "amended", "corrected",
                                   "cancelled", "entered-in-error", "unknown"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected",
                                "cancelled", "entered-in-error", "unknown"},
    ("ServiceRequest", "status"): {"draft", "active", "on-hold", "revoked", "completed",
                                   "entered-in-error", "unknown"},
    ("ServiceRequest", "intent"): {"proposal", "plan", "directive", "order", "original-order",
                                   "reflex-order", "filler-order", "instance-order", "option"},
    ("ServiceRequest", "priority"): {"routine", "urgent", "asap", "stat"},
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
}
COMPARATORS = {"<", "<=", ">=", ">"}


def check_codes(rt, r, where):
    for (kind, field), allowed in REQUIRED_CODES.items():
        if kind == rt and field in r and r[field] not in allowed:
            raise CaseError(f"{where}.{field} = {r[field]!r} is not in its required value set")
    for path, v in walk(r, where):
        if path.endswith(".comparator") and v not in COMPARATORS:
            raise CaseError(f"{path} = {v!r} is not a Quantity comparator")


class CaseError(Exception):
    pass


def walk(value, path="$"):
    """Yields (path, value) for every node."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}[{i}]")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise CaseError(
            f"exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[:500]}"
        )
    return p.stdout


def check_bundle(data):
    if data.get("resourceType") != "Bundle":
        raise CaseError(f"resourceType is {data.get('resourceType')!r}, not Bundle")
    try:
        Bundle.parse_obj(data)
    except ValidationError as e:
        raise CaseError(f"Bundle does not validate: {e}") from None
    check_codes("Bundle", data, "$")
    if data.get("type") != "collection":
        raise CaseError(f"Bundle.type is {data.get('type')!r}")
    for path, v in walk(data):
        if v is None or v == "" or v == [] or v == {}:
            raise CaseError(f"{path} is empty or null")
        if isinstance(v, float) and v != v:
            raise CaseError(f"{path} is NaN")
    entries = data.get("entry", [])
    urls = {}
    for i, e in enumerate(entries):
        r = e.get("resource") or {}
        rt = r.get("resourceType")
        try:
            get_fhir_model_class(rt).parse_obj(r)
        except (KeyError, LookupError):
            raise CaseError(f"entry[{i}]: unknown resourceType {rt!r}") from None
        except ValidationError as err:
            raise CaseError(f"entry[{i}] ({rt}) does not validate: {err}") from None
        check_codes(rt, r, f"entry[{i}].resource")
        url = e.get("fullUrl", "")
        if not UUID_URN.match(url):
            raise CaseError(f"entry[{i}].fullUrl {url!r} is not a urn:uuid")
        if url != f"urn:uuid:{r.get('id')}":
            raise CaseError(f"entry[{i}].fullUrl {url!r} does not match id {r.get('id')!r}")
        if url in urls:
            raise CaseError(f"entry[{i}].fullUrl {url!r} repeats entry[{urls[url]}]")
        urls[url] = i
    for path, v in walk(data):
        if path.endswith(".reference") and isinstance(v, str):
            if v.startswith("urn:") and v not in urls:
                raise CaseError(f"{path} = {v!r} resolves to no entry")
    risks = [e["resource"] for e in entries if e["resource"]["resourceType"] == "RiskAssessment"]
    if len(risks) != 1:
        raise CaseError(f"{len(risks)} RiskAssessments, expected 1")
    ra = risks[0]
    if not any(x.get("url") == TRIAGE_EXTENSION for x in ra.get("extension", [])):
        raise CaseError("RiskAssessment has no triage-level extension")
    for j, p in enumerate(ra.get("prediction", [])):
        for c in p.get("outcome", {}).get("coding", []):
            if c.get("system") != ICD10CM or not ICD10_SHAPE.match(c.get("code", "")):
                raise CaseError(f"prediction[{j}] coding {c} is not ICD-10-CM")
        if "a ranking aid, not a probability of disease" not in p.get("rationale", ""):
            raise CaseError(f"prediction[{j}].rationale does not say the weight is a ranking aid")
    return len(entries)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["cli", "example"], required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", help="keep each output as DIR/<case>.fhir.json")
    ap.add_argument("cases")
    args = ap.parse_args()
    if fhir.resources.__fhir_version__ != "4.0.1":
        print(
            f"fhir-validate: fhir.resources {fhir.resources.__version__} models FHIR "
            f"{fhir.resources.__fhir_version__}, not R4 4.0.1",
            file=sys.stderr,
        )
        return 3
    out = pathlib.Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    cases = sorted(
        p for p in pathlib.Path(args.cases).glob("*.json") if not p.name.endswith(".expect.json")
    )
    passed = failed = 0
    for path in cases:
        name = path.stem
        try:
            expect = json.loads(path.with_name(f"{name}.expect.json").read_text())
            asof = expect["asof"]
            if args.mode == "cli":
                cmd = [args.bin, "assess", "--format", "fhir", "--asof", asof, str(path)]
            else:
                cmd = [args.bin, "--asof", asof, str(path)]
            first = run(cmd)
            if out:
                (out / f"{name}.fhir.json").write_bytes(first)
            try:
                data = json.loads(first)
            except json.JSONDecodeError as e:
                raise CaseError(f"output is not JSON: {e}") from None
            n = check_bundle(data)
            if run(cmd) != first:
                raise CaseError("two runs on the same input gave different bytes")
            passed += 1
            print(f"ok   {name} ({n} entries)")
        except (CaseError, OSError, KeyError, subprocess.TimeoutExpired) as e:
            failed += 1
            print(f"FAIL {name}: {e}")
    print(f"fhir-validate: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
