//! The OpenAPI 3.1 document, generated from the code: the routes are listed here next to the
//! handlers' request and response types, whose JSON Schemas come from their Rust definitions
//! (schemars, JSON Schema 2020-12 as OpenAPI 3.1 uses it: `null` is a type, not `nullable`).
//! Every answer a route can give is described, errors included: JSON errors follow the `Error`
//! schema. Tests check that every `$ref` resolves and that every route of the router is
//! described; `scripts/api-fuzz.sh` checks the document against the running service.

use std::sync::OnceLock;

use schemars::{JsonSchema, SchemaGenerator, generate::Contract, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use crate::api;
use crate::error::ErrorBody;

/// What an answer carries.
#[derive(Clone, Copy)]
enum Body {
    /// JSON of a component schema.
    Json(&'static str),
    /// Text of a media type (`text/html`, …).
    Text(&'static str),
    /// JSON of a component schema, or a FHIR R4 Bundle when `Accept: application/fhir+json`.
    JsonOrFhir(&'static str),
    /// No body.
    Empty,
}

/// A query parameter.
#[derive(Clone, Copy)]
enum Param {
    AsOf,
    Profile,
    Limit,
}

/// One operation.
struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    /// Needs an API key.
    secured: bool,
    /// The JSON request body's component schema.
    request: Option<&'static str>,
    /// Success answers: status, description, body.
    ok: &'static [(u16, &'static str, Body)],
    query: &'static [Param],
    /// May answer 409 (an id reused for different content).
    conflicts: bool,
}

const OPS: &[Op] = &[
    Op {
        method: "post",
        path: "/v1/assess",
        summary: "Assess a FHIR R4 Bundle or a leuko record; nothing is stored",
        secured: false,
        request: Some("AssessInput"),
        ok: &[(200, "The assessment", Body::JsonOrFhir("AssessmentJson"))],
        query: &[Param::AsOf, Param::Profile],
        conflicts: false,
    },
    Op {
        method: "post",
        path: "/v1/patients",
        summary: "Create a patient (idempotent with a client id)",
        secured: true,
        request: Some("PatientIn"),
        ok: &[
            (201, "Created", Body::Json("Patient")),
            (
                200,
                "Existed already with the same content",
                Body::Json("Patient"),
            ),
        ],
        query: &[],
        conflicts: true,
    },
    Op {
        method: "get",
        path: "/v1/patients/{id}",
        summary: "A patient",
        secured: true,
        request: None,
        ok: &[(200, "The patient", Body::Json("Patient"))],
        query: &[],
        conflicts: false,
    },
    Op {
        method: "post",
        path: "/v1/patients/{id}/entries",
        summary: "Add results, conditions and medicines (a leuko record or a FHIR Bundle); one transaction, idempotent by id",
        secured: true,
        request: Some("AssessInput"),
        ok: &[(200, "What was stored", Body::Json("StoredOut"))],
        query: &[],
        conflicts: true,
    },
    Op {
        method: "get",
        path: "/v1/patients/{id}/timeline",
        summary: "The patient's history and stored assessments",
        secured: true,
        request: None,
        ok: &[(200, "The timeline", Body::Json("TimelineOut"))],
        query: &[],
        conflicts: false,
    },
    Op {
        method: "post",
        path: "/v1/patients/{id}/assess",
        summary: "Assess the stored history as of a moment, and store the assessment",
        secured: true,
        request: None,
        ok: &[(200, "The stored assessment", Body::Json("StoredAssessment"))],
        query: &[Param::AsOf, Param::Profile],
        conflicts: false,
    },
    Op {
        method: "get",
        path: "/v1/patients/{id}/assessments",
        summary: "The patient's stored assessments, newest first",
        secured: true,
        request: None,
        ok: &[(200, "The assessments", Body::Json("AssessmentSummaryList"))],
        query: &[],
        conflicts: false,
    },
    Op {
        method: "get",
        path: "/v1/audit",
        summary: "The audit log, newest first (admin)",
        secured: true,
        request: None,
        ok: &[(200, "The entries", Body::Json("AuditList"))],
        query: &[Param::Limit],
        conflicts: false,
    },
    Op {
        method: "get",
        path: "/cds-services",
        summary: "CDS Hooks 2.0 discovery: the services, their hooks and prefetch templates",
        secured: false,
        request: None,
        ok: &[(200, "The services", Body::Json("CdsDiscoveryResponse"))],
        query: &[],
        conflicts: false,
    },
    Op {
        method: "post",
        path: "/cds-services/{id}",
        summary: "Call a CDS service (patient-view or order-select): cards; a missing prefetch is read from fhirServer, or 412. With --cds-auth, a CDS client JWT is required (Authorization: Bearer)",
        secured: false,
        request: Some("CdsHookRequest"),
        ok: &[(200, "The cards", Body::Json("CdsServiceResponse"))],
        query: &[],
        conflicts: false,
    },
    Op {
        method: "post",
        path: "/cds-services/{id}/feedback",
        summary: "CDS Hooks feedback: what the clinician did with a card; stored once per card, outcome and time. With --cds-auth, a CDS client JWT is required",
        secured: false,
        request: Some("CdsFeedbackRequest"),
        ok: &[(200, "Stored; no body", Body::Empty)],
        query: &[],
        conflicts: true,
    },
    Op {
        method: "get",
        path: "/healthz",
        summary: "Liveness",
        secured: false,
        request: None,
        ok: &[(200, "Alive", Body::Json("Health"))],
        query: &[],
        conflicts: false,
    },
    Op {
        method: "get",
        path: "/metrics",
        summary: "Request counters, Prometheus text format",
        secured: false,
        request: None,
        ok: &[(200, "The counters", Body::Text("text/plain"))],
        query: &[],
        conflicts: false,
    },
    Op {
        method: "get",
        path: "/openapi.json",
        summary: "This document",
        secured: false,
        request: None,
        ok: &[(200, "The OpenAPI document", Body::Json("OpenApi"))],
        query: &[],
        conflicts: false,
    },
    Op {
        method: "get",
        path: "/",
        summary: "The web page",
        secured: false,
        request: None,
        ok: &[(200, "The page", Body::Text("text/html"))],
        query: &[],
        conflicts: false,
    },
    Op {
        method: "get",
        path: "/app.js",
        summary: "The web page's script",
        secured: false,
        request: None,
        ok: &[(200, "The script", Body::Text("text/javascript"))],
        query: &[],
        conflicts: false,
    },
    Op {
        method: "get",
        path: "/app.css",
        summary: "The web page's style sheet",
        secured: false,
        request: None,
        ok: &[(200, "The style sheet", Body::Text("text/css"))],
        query: &[],
        conflicts: false,
    },
];

/// Every (method, path) the router serves; used by the test.
pub fn described() -> Vec<(&'static str, &'static str)> {
    OPS.iter().map(|o| (o.method, o.path)).collect()
}

/// The threshold profiles the knowledge base defines (the values `profile` takes).
fn profiles() -> Vec<String> {
    leuko_kb::Knowledge::embedded()
        .map(|kb| kb.profiles.iter().map(|p| p.id.clone()).collect())
        .unwrap_or_default()
}

fn parameter(p: Param, profiles: &[String]) -> Value {
    let (name, description, schema) = match p {
        Param::AsOf => (
            "asof",
            "The moment of assessment, RFC 3339 (such as 2026-02-17T20:00:00Z); default now. Data after it is ignored.",
            json!({"type": "string", "format": "date-time", "examples": ["2026-04-15T12:00:00Z"]}),
        ),
        Param::Profile => (
            "profile",
            "Threshold profile; default the knowledge base's default (international).",
            if profiles.is_empty() {
                json!({"type": "string"})
            } else {
                json!({"type": "string", "enum": profiles})
            },
        ),
        Param::Limit => (
            "limit",
            "How many entries (default 100).",
            json!({"type": "integer", "minimum": 1, "maximum": 10_000, "default": 100}),
        ),
    };
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

/// Request examples: the repository's own, which the examples phase of `scripts/api-fuzz.sh`
/// sends (so real assessments are checked against the answer's schema too).
fn request_examples(schema: &str) -> Option<Value> {
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    match schema {
        "AssessInput" => Some(json!({
            "record": {
                "summary": "A leuko record: clozapine, week 10, sore throat",
                "value": parse(include_str!("../../../examples/clozapine-week-10.json")),
            },
            "fhir": {
                "summary": "A FHIR R4 Bundle: febrile neutropenia after chemotherapy",
                "value": parse(include_str!("../../../examples/fhir-febrile-neutropenia.json")),
            },
        })),
        "PatientIn" => Some(json!({
            "patient": {
                "summary": "A patient with a client id",
                "value": {"id": "p-0001", "birth_date": "1998-03-02", "sex": "female"},
            },
        })),
        _ => None,
    }
}

fn json_body(schema: &str) -> Value {
    json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}})
}

fn error(description: &str) -> Value {
    json!({"description": description, "content": json_body("Error")})
}

/// The answers of one operation: its successes and every error it can give.
fn responses(op: &Op) -> Map<String, Value> {
    let mut r = Map::new();
    for (status, description, body) in op.ok {
        if matches!(body, Body::Empty) {
            r.insert(status.to_string(), json!({"description": description}));
            continue;
        }
        let content = match body {
            Body::Empty => json!({}),
            Body::Json(schema) => json_body(schema),
            Body::Text(media) => json!({*media: {"schema": {"type": "string"}}}),
            Body::JsonOrFhir(schema) => {
                let mut c = json_body(schema);
                c["application/fhir+json"] = json!({"schema": {
                    "type": "object",
                    "description": "A FHIR R4 Bundle: RiskAssessment, derived Observations, ServiceRequest proposals (with Accept: application/fhir+json).",
                    "required": ["resourceType"],
                    "properties": {"resourceType": {"const": "Bundle"}}
                }});
                c
            }
        };
        r.insert(
            status.to_string(),
            json!({"description": description, "content": content}),
        );
    }
    let has_id = op.path.contains("{id}");
    let cds = op.path.starts_with("/cds-services/");
    let api = op.path.starts_with("/v1/") || cds;
    if cds {
        r.insert(
            "401".into(),
            error("With --cds-auth strict: no CDS client JWT, or one that fails a check (the error's field names the claim)"),
        );
    }
    if cds && op.path.ends_with("{id}") {
        r.insert(
            "412".into(),
            error("A required prefetch (patient, counts) is missing and could not be read from fhirServer"),
        );
    }
    if op.request.is_some() || !op.query.is_empty() || has_id {
        r.insert(
            "400".into(),
            error("Invalid input; the error names the field and the value"),
        );
    }
    if op.secured {
        r.insert("401".into(), error("No API key, or an unknown one"));
        r.insert("403".into(), error("The key lacks the role"));
    }
    if has_id {
        r.insert(
            "404".into(),
            error(if cds {
                "No such CDS service"
            } else {
                "No such patient"
            }),
        );
    }
    if op.conflicts {
        r.insert(
            "409".into(),
            error("An id written before with different content"),
        );
    }
    if op.request.is_some() {
        r.insert(
            "413".into(),
            error("The request body is larger than the limit (4 MiB)"),
        );
    }
    if api {
        r.insert(
            "408".into(),
            json!({"description": "The request took longer than the time limit (15 s); no body"}),
        );
        r.insert(
            "500".into(),
            error("An internal fault; the body says nothing more, the cause is logged"),
        );
    }
    r
}

/// The component schemas: every request and response type, from its Rust definition.
fn components() -> Map<String, Value> {
    let settings = |contract| {
        SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.contract = contract;
        })
    };
    // Requests are described as they are read, answers as they are written.
    let mut input = SchemaGenerator::new(settings(Contract::Deserialize));
    let mut output = SchemaGenerator::new(settings(Contract::Serialize));
    fn of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
        serde_json::to_value(generator.subschema_for::<T>()).unwrap_or(Value::Null)
    }
    // Named types become components of their own name (their subschema is a `$ref` to it);
    // these are the other names the operations use.
    let mut schemas = Map::new();
    schemas.insert("AssessInput".into(), json!({
        "description": "A FHIR R4 resource (a Bundle of Patient, Observation, Condition, MedicationStatement/MedicationRequest) or leuko's own record.",
        "oneOf": [
            {"type": "object", "required": ["resourceType"], "properties": {"resourceType": {"type": "string"}}, "additionalProperties": true},
            of::<leuko_api::RecordJson>(&mut input)
        ]
    }));
    of::<api::PatientIn>(&mut input);
    for named in [
        of::<leuko_api::AssessmentJson>(&mut output),
        of::<api::PatientOut>(&mut output),
        of::<api::StoredOut>(&mut output),
        of::<api::TimelineOut>(&mut output),
        of::<api::StoredAssessment>(&mut output),
        of::<api::Health>(&mut output),
        of::<ErrorBody>(&mut output),
    ] {
        debug_assert!(named.get("$ref").is_some(), "{named}");
    }
    schemas.insert(
        "AssessmentSummaryList".into(),
        of::<Vec<api::AssessmentSummary>>(&mut output),
    );
    schemas.insert("AuditList".into(), of::<Vec<api::AuditOut>>(&mut output));
    schemas.insert(
        "OpenApi".into(),
        json!({"type": "object", "required": ["openapi", "info", "paths"]}),
    );
    // CDS Hooks 2.0: the hand-written schema of the spec's tables, its definitions prefixed
    // with `Cds`.
    for (name, schema) in cds_schemas() {
        schemas.insert(name, schema);
    }
    for generator in [&mut input, &mut output] {
        for (name, schema) in generator.take_definitions(true) {
            debug_assert!(
                !schemas.contains_key(&name),
                "two schemas named {name}: rename one"
            );
            schemas.entry(name).or_insert(schema);
        }
    }
    schemas
}

/// `schema/cds-hooks/cds-hooks.schema.json`'s definitions as components named `Cds…`.
fn cds_schemas() -> Vec<(String, Value)> {
    let text = include_str!("../../../schema/cds-hooks/cds-hooks.schema.json")
        .replace("\"#/$defs/", "\"#/components/schemas/Cds");
    let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    doc.get("$defs")
        .and_then(Value::as_object)
        .map(|defs| {
            defs.iter()
                .map(|(k, v)| (format!("Cds{k}"), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn build() -> Value {
    let profiles = profiles();
    let mut paths = Map::new();
    for op in OPS {
        let mut params: Vec<Value> = op.query.iter().map(|p| parameter(*p, &profiles)).collect();
        if op.path.starts_with("/cds-services/") {
            params.push(json!({
                "name": "id", "in": "path", "required": true,
                "description": "The CDS service's id.",
                "schema": {"type": "string", "enum": [crate::cds::PATIENT_VIEW, crate::cds::ORDER_SELECT]}
            }));
        } else if op.path.contains("{id}") {
            params.push(json!({
                "name": "id", "in": "path", "required": true,
                "description": "The patient's id.",
                "schema": {"type": "string", "pattern": api::ID_PATTERN}
            }));
        }
        let mut operation = json!({
            "summary": op.summary,
            "operationId": operation_id(op),
            "parameters": params,
            "responses": responses(op),
        });
        if let Some(schema) = op.request {
            let mut content = json_body(schema);
            if let Some(examples) = request_examples(schema) {
                content["application/json"]["examples"] = examples;
            }
            operation["requestBody"] = json!({"required": true, "content": content});
        }
        if op.secured {
            operation["security"] = json!([{"bearer": []}, {"apiKey": []}]);
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "leuko", "version": env!("CARGO_PKG_VERSION"), "description": "Assess a low white blood cell count; patient history. Decision support, not a diagnosis."},
        "paths": paths,
        "components": {
            "schemas": components(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            }
        }
    })
}

/// `post /v1/patients/{id}/entries` → `post_v1_patients_id_entries`.
fn operation_id(op: &Op) -> String {
    let mut id = op.method.to_owned();
    for part in op.path.split('/').filter(|p| !p.is_empty()) {
        id.push('_');
        id.extend(
            part.chars()
                .filter(|c| *c != '{' && *c != '}')
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    if op.path == "/" {
        id.push_str("_index");
    }
    id
}

/// The document (built once).
pub fn document() -> Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_ref_resolves_to_a_real_schema() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{r} is not a component"));
            let target = &schemas[name];
            assert!(target.is_object(), "{r} resolves to nothing");
            assert_ne!(target.get("$ref"), Some(&json!(r)), "{r} refers to itself");
        }
    }

    #[test]
    fn is_openapi_3_1_without_3_0_keywords() {
        let text = document().to_string();
        assert!(!text.contains("\"nullable\""), "nullable is OpenAPI 3.0");
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        // An optional field is a union with null.
        assert_eq!(
            doc["components"]["schemas"]["Patient"]["properties"]["birth_date"]["type"],
            json!(["string", "null"])
        );
        // The stored patient and the assessment's patient are two schemas.
        assert!(
            doc["components"]["schemas"]["PatientOut"]["properties"]
                .get("duffy_null")
                .is_some()
        );
        let profile = &doc["paths"]["/v1/assess"]["post"]["parameters"][1];
        assert_eq!(profile["name"], "profile");
        assert!(
            profile["schema"]["enum"]
                .as_array()
                .is_some_and(|e| e.iter().any(|p| p == "international"))
        );
    }

    #[test]
    fn json_errors_follow_the_error_schema() {
        let doc = document();
        let error = &doc["components"]["schemas"]["Error"];
        assert_eq!(error["required"], json!(["error"]));
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                for (status, r) in op["responses"].as_object().into_iter().flatten() {
                    if status.starts_with('4') && r.get("content").is_some() {
                        assert_eq!(
                            r["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/Error",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }
}
