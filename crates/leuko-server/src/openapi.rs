//! The OpenAPI 3.1 document, generated from the code: the routes are listed here next to the
//! handlers' request and response types, whose JSON Schemas come from their Rust definitions
//! (schemars). A test checks that every route of the router is described.

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Value, json};

use crate::api;
use crate::error::ErrorBody;

/// One operation.
struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    secured: bool,
    request: Option<(&'static str, &'static str)>,
    response: (u16, &'static str),
    query: &'static [(&'static str, &'static str)],
}

const ASOF: (&str, &str) = (
    "asof",
    "The moment of assessment, RFC 3339; default now. Data after it is ignored.",
);
const PROFILE: (&str, &str) = (
    "profile",
    "Threshold profile: international (default) or seeds.",
);

const OPS: &[Op] = &[
    Op {
        method: "post",
        path: "/v1/assess",
        summary: "Assess a FHIR R4 Bundle or a leuko record; nothing is stored",
        secured: false,
        request: Some(("AssessInput", "application/json")),
        response: (200, "AssessmentJson"),
        query: &[ASOF, PROFILE],
    },
    Op {
        method: "post",
        path: "/v1/patients",
        summary: "Create a patient (idempotent with a client id)",
        secured: true,
        request: Some(("PatientIn", "application/json")),
        response: (201, "PatientOut"),
        query: &[],
    },
    Op {
        method: "get",
        path: "/v1/patients/{id}",
        summary: "A patient",
        secured: true,
        request: None,
        response: (200, "PatientOut"),
        query: &[],
    },
    Op {
        method: "post",
        path: "/v1/patients/{id}/entries",
        summary: "Add results, conditions and medicines (a leuko record or a FHIR Bundle); one transaction, idempotent by id",
        secured: true,
        request: Some(("AssessInput", "application/json")),
        response: (200, "StoredOut"),
        query: &[],
    },
    Op {
        method: "get",
        path: "/v1/patients/{id}/timeline",
        summary: "The patient's history and stored assessments",
        secured: true,
        request: None,
        response: (200, "TimelineOut"),
        query: &[],
    },
    Op {
        method: "post",
        path: "/v1/patients/{id}/assess",
        summary: "Assess the stored history as of a moment, and store the assessment",
        secured: true,
        request: None,
        response: (200, "StoredAssessment"),
        query: &[ASOF, PROFILE],
    },
    Op {
        method: "get",
        path: "/v1/patients/{id}/assessments",
        summary: "The patient's stored assessments, newest first",
        secured: true,
        request: None,
        response: (200, "AssessmentSummaryList"),
        query: &[],
    },
    Op {
        method: "get",
        path: "/v1/audit",
        summary: "The audit log (admin)",
        secured: true,
        request: None,
        response: (200, "AuditList"),
        query: &[("limit", "How many entries, 1 to 10000 (default 100).")],
    },
    Op {
        method: "get",
        path: "/healthz",
        summary: "Liveness",
        secured: false,
        request: None,
        response: (200, "Health"),
        query: &[],
    },
];

/// Every (method, path) the router serves under `/v1`, `/healthz`; used by the test.
pub fn described() -> Vec<(&'static str, &'static str)> {
    OPS.iter().map(|o| (o.method, o.path)).collect()
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    serde_json::to_value(generator.subschema_for::<T>()).unwrap_or(Value::Null)
}

/// The document.
pub fn document() -> Value {
    let mut generator = SchemaGenerator::new(
        SchemaSettings::openapi3().with(|s| s.definitions_path = "#/components/schemas/".into()),
    );
    let mut schemas = serde_json::Map::new();
    schemas.insert("AssessInput".into(), json!({
        "description": "A FHIR R4 resource (a Bundle of Patient, Observation, Condition, MedicationStatement/MedicationRequest) or leuko's own record.",
        "oneOf": [
            {"type": "object", "required": ["resourceType"], "properties": {"resourceType": {"type": "string"}}, "additionalProperties": true},
            schema_of::<leuko_api::RecordJson>(&mut generator)
        ]
    }));
    schemas.insert(
        "AssessmentJson".into(),
        schema_of::<leuko_api::AssessmentJson>(&mut generator),
    );
    schemas.insert(
        "PatientIn".into(),
        schema_of::<api::PatientIn>(&mut generator),
    );
    schemas.insert(
        "PatientOut".into(),
        schema_of::<api::PatientOut>(&mut generator),
    );
    schemas.insert(
        "StoredOut".into(),
        schema_of::<api::StoredOut>(&mut generator),
    );
    schemas.insert(
        "TimelineOut".into(),
        schema_of::<api::TimelineOut>(&mut generator),
    );
    schemas.insert(
        "StoredAssessment".into(),
        schema_of::<api::StoredAssessment>(&mut generator),
    );
    schemas.insert(
        "AssessmentSummaryList".into(),
        schema_of::<Vec<api::AssessmentSummary>>(&mut generator),
    );
    schemas.insert(
        "AuditList".into(),
        schema_of::<Vec<api::AuditOut>>(&mut generator),
    );
    schemas.insert("Error".into(), schema_of::<ErrorBody>(&mut generator));
    schemas.insert("Health".into(), json!({"type": "object", "properties": {"status": {"type": "string"}, "store": {"type": "string"}, "knowledge": {"type": "string"}}}));
    for (name, schema) in generator.take_definitions(true) {
        schemas.entry(name).or_insert(schema);
    }

    let mut paths = serde_json::Map::new();
    for op in OPS {
        let mut params: Vec<Value> = op.query.iter().map(|(n, d)| json!({"name": n, "in": "query", "required": false, "description": d, "schema": {"type": "string"}})).collect();
        if op.path.contains("{id}") {
            params.push(json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}}));
        }
        let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let mut responses = serde_json::Map::new();
        responses.insert(op.response.0.to_string(), json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", op.response.1)}}}}));
        if op.response.0 == 201 {
            responses.insert("200".into(), json!({"description": "Existed already", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", op.response.1)}}}}));
        }
        responses.insert(
            "400".into(),
            err("Invalid input; the error names the field"),
        );
        if op.secured {
            responses.insert("401".into(), err("No or unknown API key"));
            responses.insert("403".into(), err("The key lacks the role"));
            responses.insert("404".into(), err("No such patient"));
            responses.insert("409".into(), err("An id reused for different content"));
        }
        responses.insert("413".into(), json!({"description": "Body too large"}));
        let mut operation =
            json!({"summary": op.summary, "parameters": params, "responses": responses});
        if let Some((schema, media)) = op.request {
            operation["requestBody"] = json!({"required": true, "content": {media: {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
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
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            }
        }
    })
}
