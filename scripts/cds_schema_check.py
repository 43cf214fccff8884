#!/usr/bin/env python3
"""Checks schema/cds-hooks/cds-hooks.schema.json (JSON Schema draft 2020-12, written from the
CDS Hooks 2.0 tables): the schema is valid; every spec example response and response part in
crates/leuko-server/tests/fixtures/cds validates against it (the System Action example fails
exactly on its missing `description`, as the spec's own table requires it); and each file given
as `DEFINITION=PATH` (a leuko answer saved by scripts/cds-interop.sh) validates against that
definition. Prints one line per check; exits 1 on the first unexpected result.

Usage: scripts/cds_schema_check.py [ServiceResponse=path.json ...]
"""
import json
import pathlib
import sys

import jsonschema

root = pathlib.Path(__file__).resolve().parent.parent
schema = json.loads((root / "schema/cds-hooks/cds-hooks.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
fixtures = root / "crates/leuko-server/tests/fixtures/cds"


def validator(definition):
    s = dict(schema)
    s["$ref"] = f"#/$defs/{definition}"
    return jsonschema.Draft202012Validator(s, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def errors(definition, value):
    return sorted(validator(definition).iter_errors(value), key=lambda e: list(e.absolute_path))


def fixture(name):
    return json.loads((fixtures / name).read_text())


failed = 0


def expect_valid(label, definition, value):
    global failed
    errs = errors(definition, value)
    if errs:
        failed += 1
        for e in errs[:5]:
            print(f"FAIL {label} ({definition}): {'/'.join(map(str, e.absolute_path))}: {e.message}")
    else:
        print(f"ok   {label} ({definition})")


checks = [
    ("discovery-response.json", "DiscoveryResponse", None),
    ("discovery-response-extension.json", "DiscoveryResponse", None),
    ("response-example.json", "ServiceResponse", None),
    ("response-empty.json", "ServiceResponse", None),
    ("source.json", "Source", "source"),
    ("action-create.json", "Action", None),
    ("action-update.json", "Action", None),
    ("action-delete.json", "Action", None),
    ("feedback-accepted.json", "FeedbackRequest", None),
    ("feedback-overridden.json", "FeedbackRequest", None),
    ("feedback-overridden-reason.json", "FeedbackRequest", None),
    ("request-patient-view.json", "HookRequest", None),
    ("request-extension.json", "HookRequest", None),
    ("fhir-authorization.json", "FhirAuthorization", "fhirAuthorization"),
]
for name, definition, key in checks:
    value = fixture(name)
    expect_valid(name, definition, value[key] if key else value)
for i, reason in enumerate(fixture("override-reasons.json")["overrideReasons"]):
    expect_valid(f"override-reasons.json[{i}]", "OverrideReasonCoding", reason)

# The spec's System Action example omits `description`, which its Action table requires.
errs = errors("ServiceResponse", fixture("response-system-actions.json"))
got = [("/".join(map(str, e.absolute_path)), e.validator, e.message) for e in errs]
if len(got) == 1 and got[0][0] == "systemActions/0" and "'description' is a required property" in got[0][2]:
    print("ok   response-system-actions.json (ServiceResponse): fails only on the missing systemActions[0].description, as expected")
else:
    failed += 1
    print(f"FAIL response-system-actions.json: expected only the missing description, got {got}")

# The schema refuses what the tables forbid.
bad = [
    ("ServiceResponse", {"cards": [{"summary": "x" * 140, "indicator": "info", "source": {"label": "s"}}]}, "summary of 140 characters"),
    ("ServiceResponse", {"cards": [{"summary": "s", "indicator": "hard-stop", "source": {"label": "s"}}]}, "1.0's hard-stop indicator"),
    ("ServiceResponse", {"cards": [{"summary": "s", "indicator": "info", "source": {"label": "s"}, "suggestions": [{"label": "l"}]}]}, "suggestions without selectionBehavior"),
    ("ServiceResponse", {"cards": [{"summary": "s", "indicator": "info", "source": {"label": "s"}, "overrideReasons": [{"code": "c", "system": "s"}]}]}, "override reason without display"),
    ("FeedbackRequest", {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2020-12-11T00:00:00Z"}]}, "accepted without acceptedSuggestions"),
    ("FeedbackRequest", {"feedback": [{"card": "c", "outcome": "maybe", "outcomeTimestamp": "2020-12-11T00:00:00Z"}]}, "unknown outcome"),
    ("HookRequest", {"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "1"}, "fhirAuthorization": {"access_token": "t", "token_type": "Bearer", "expires_in": 1, "scope": "s", "subject": "s"}}, "fhirAuthorization without fhirServer"),
]
for definition, value, what in bad:
    if errors(definition, value):
        print(f"ok   refused: {what}")
    else:
        failed += 1
        print(f"FAIL accepted: {what}")

for arg in sys.argv[1:]:
    definition, _, path = arg.partition("=")
    expect_valid(path, definition, json.loads(pathlib.Path(path).read_text()))

print(f"cds-schema: {'FAILED' if failed else 'passed'}, {failed} failures")
sys.exit(1 if failed else 0)
