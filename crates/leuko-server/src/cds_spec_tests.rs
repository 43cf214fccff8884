//! The CDS Hooks 2.0 spec's own examples (`tests/fixtures/cds/`, see its README) against the
//! service: its requests and feedback are read, and its example JWT verifies with its key set.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::cds_auth::{AuthMode, CdsAuth, Issuer, read_jwks};
use crate::{AppState, app};

fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cds")
        .join(name)
}

fn fixture(name: &str) -> Value {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn state() -> AppState {
    let store = leuko_store::open(":memory:").unwrap_or_else(|e| panic!("{e}"));
    let kb = leuko_kb::Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
    AppState::new(kb, store)
}

async fn post(state: &AppState, uri: &str, body: &Value) -> (StatusCode, Value) {
    let req = Request::builder()
        .method("POST")
        .uri(uri)
        .header("host", "leuko.example.org")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let resp = app(state.clone())
        .oneshot(req)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A count an hour old, for the spec's patient.
fn anc(value: f64) -> Value {
    let at = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
        "resourceType": "Observation", "status": "final",
        "subject": {"reference": "Patient/1288992"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
        "effectiveDateTime": at,
        "valueQuantity": {"value": value, "unit": "10*9/L", "system": "http://unitsofmeasure.org", "code": "10*9/L"}
    }}]})
}

#[tokio::test]
async fn the_spec_patient_view_request_is_read() {
    let s = state();
    let uri = "/cds-services/leuko-patient-view";
    // As the spec sends it (its prefetch key is another service's), with the FHIR server on
    // a closed loopback port so that the test stays off the network: a well-formed request
    // whose data cannot be had is a 412, not a 400.
    let mut req = fixture("request-patient-view.json");
    req["fhirServer"] = json!("http://127.0.0.1:9");
    let (status, doc) = post(&s, uri, &req).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{doc}");
    assert_eq!(doc["error"]["field"], "prefetch.patient");
    // The same request with leuko's prefetch keys filled by the spec's patient.
    let patient = req["prefetch"]["patientToGreet"].clone();
    req["prefetch"] = json!({
        "patient": patient, "counts": anc(0.3), "temperature": null,
        "medications": null, "conditions": null
    });
    let (status, doc) = post(&s, uri, &req).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let card = &doc["cards"][0];
    assert!(
        card["indicator"] == "critical" || card["indicator"] == "warning",
        "{doc}"
    );
    assert!(
        card["summary"]
            .as_str()
            .is_some_and(|t| t.chars().count() < 140)
    );
    // The spec's extension example: its `extension` is read, and a patient-view call without
    // a patient is refused naming the field.
    let (status, doc) = post(&s, uri, &fixture("request-extension.json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(doc["error"]["field"], "context.patientId");
}

#[tokio::test]
async fn the_spec_order_context_is_read() {
    let s = state();
    let context = fixture("context-draft-orders-with-id.json")["context"].clone();
    let mut context = context.as_object().cloned().unwrap_or_default();
    context.insert("patientId".into(), json!("1288992"));
    context.insert("userId".into(), json!("Practitioner/example"));
    context.insert("selections".into(), json!(["MedicationRequest/123"]));
    let req = json!({
        "hook": "order-select",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": context,
        "prefetch": {
            "patient": fixture("request-patient-view.json")["prefetch"]["patientToGreet"],
            "counts": anc(2.5), "temperature": null, "medications": null, "conditions": null
        }
    });
    let (status, doc) = post(&s, "/cds-services/leuko-order-select", &req).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    // Amoxicillin (RxNorm 617993, found by name) is on the knowledge base's list of drugs
    // that can cause neutropenia: one order card with the last count; informational, as the
    // ANC is normal.
    let cards = doc["cards"].as_array().cloned().unwrap_or_default();
    assert_eq!(cards.len(), 1, "{doc}");
    assert_eq!(cards[0]["indicator"], "info", "{doc}");
    assert_eq!(
        cards[0]["summary"], "amoxicillin ordered: last ANC 2.5",
        "{doc}"
    );
}

#[tokio::test]
async fn the_spec_feedback_is_stored() {
    let s = state();
    for name in [
        "feedback-accepted.json",
        "feedback-overridden.json",
        "feedback-overridden-reason.json",
    ] {
        let (status, doc) = post(
            &s,
            "/cds-services/leuko-patient-view/feedback",
            &fixture(name),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {doc}");
    }
    let stored = s.store.cds_feedback(10).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert!(
        stored
            .iter()
            .any(|f| f.accepted_suggestions
                == vec!["e56e1945-20b3-4393-8503-a1a20fd73152".to_owned()])
    );
    assert!(stored.iter().any(|f| f.has_comment
        && f.override_reason.as_ref().map(|r| r.code.as_str()) == Some("d7ecf885")));
}

#[test]
fn the_spec_jwt_verifies_with_the_spec_key_set() {
    let keys = read_jwks(&fixture_path("jwks.json")).unwrap_or_else(|e| panic!("{e}"));
    let auth = CdsAuth::new(
        AuthMode::Strict,
        "https://cds.example.org",
        vec![Issuer {
            iss: "https://fhir-ehr.example.com/".to_owned(),
            keys,
            jku: vec!["https://fhir-ehr.example.com/jwk_uri".to_owned()],
        }],
        // The example lives from 2011 to 2015.
        200_000_000,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let token =
        std::fs::read_to_string(fixture_path("jwt-example.txt")).unwrap_or_else(|e| panic!("{e}"));
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let path = "/cds-services/some-service";
    // At its issue time it is valid; its header and payload are the spec's.
    assert_eq!(
        auth.verify(&headers, path, 1_311_280_970 + 60),
        Ok("https://fhir-ehr.example.com/".to_owned())
    );
    // Replayed: refused.
    assert_eq!(
        auth.verify(&headers, path, 1_311_280_970 + 61)
            .map_err(|f| f.claim),
        Err("jti")
    );
    // Today it has long expired; for another service it is the wrong audience.
    let auth2 = CdsAuth::new(
        AuthMode::Strict,
        "https://cds.example.org",
        vec![Issuer {
            iss: "https://fhir-ehr.example.com/".to_owned(),
            keys: read_jwks(&fixture_path("jwks.json")).unwrap_or_else(|e| panic!("{e}")),
            jku: vec!["https://fhir-ehr.example.com/jwk_uri".to_owned()],
        }],
        200_000_000,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(
        auth2.verify(&headers, path, now).map_err(|f| f.claim),
        Err("exp")
    );
    assert_eq!(
        auth2
            .verify(&headers, "/cds-services/other", 1_311_280_970 + 60)
            .map_err(|f| f.claim),
        Err("aud")
    );
}
