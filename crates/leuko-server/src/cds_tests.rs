//! CDS Hooks tests: the app called with `oneshot`, request shapes from the CDS Hooks 2.0
//! spec's examples (patient-view and order-select) with leuko's prefetch keys.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower::ServiceExt;

use crate::{AppState, app};

struct Fixture {
    state: AppState,
    path: std::path::PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

fn fixture(name: &str) -> Fixture {
    let path = std::env::temp_dir().join(format!("leuko-cds-{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = leuko_store::open(&path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    let kb = leuko_kb::Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
    Fixture {
        state: AppState::new(kb, store),
        path,
    }
}

async fn call(f: &Fixture, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "leuko.example.org")
        .header("content-type", "application/json");
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let resp = app(f.state.clone())
        .oneshot(req.body(body).unwrap_or_else(|e| panic!("{e}")))
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

/// An hour ago, RFC 3339 (the service assesses as of now).
fn recent() -> String {
    (OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn obs(loinc: &str, value: f64, unit: &str) -> Value {
    json!({
        "resourceType": "Observation", "status": "final",
        "subject": {"reference": "Patient/1288992"},
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": recent(),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    })
}

fn searchset(resources: &[Value]) -> Value {
    json!({
        "resourceType": "Bundle", "type": "searchset",
        "entry": resources.iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()
    })
}

fn patient() -> Value {
    json!({"resourceType": "Patient", "id": "1288992", "gender": "female", "birthDate": "1970-05-01"})
}

/// The spec's patient-view request example, with leuko's prefetch.
fn patient_view(counts: &[Value], temperature: &[Value]) -> Value {
    json!({
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "http://hooks.smarthealthit.org:9080",
        "hook": "patient-view",
        "context": {"userId": "Practitioner/example", "patientId": "1288992"},
        "prefetch": {
            "patient": patient(),
            "counts": searchset(counts),
            "temperature": searchset(temperature),
            "medications": null,
            "conditions": searchset(&[])
        }
    })
}

#[tokio::test]
async fn discovery_lists_both_services_with_prefetch() {
    let f = fixture("discovery");
    let (status, doc) = call(&f, "GET", "/cds-services", None).await;
    assert_eq!(status, StatusCode::OK);
    let services = doc["services"].as_array().cloned().unwrap_or_default();
    assert_eq!(services.len(), 2, "{doc}");
    let hooks: Vec<(&str, &str)> = services
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or(""),
                s["hook"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        hooks,
        [
            ("leuko-patient-view", "patient-view"),
            ("leuko-order-select", "order-select")
        ]
    );
    for s in &services {
        assert!(
            s["title"].is_string() && s["description"].is_string(),
            "{s}"
        );
        assert_eq!(s["prefetch"]["patient"], "Patient/{{context.patientId}}");
        let counts = s["prefetch"]["counts"].as_str().unwrap_or("");
        assert!(
            counts.starts_with("Observation?patient={{context.patientId}}&code=http://loinc.org|6690-2,http://loinc.org|751-8,")
                && counts.ends_with("&_sort=-date&_count=50"),
            "{counts}"
        );
        assert!(
            s["prefetch"]["temperature"]
                .as_str()
                .is_some_and(|t| t.contains("8310-5")),
            "{s}"
        );
        assert_eq!(
            s["prefetch"]["medications"],
            "MedicationRequest?patient={{context.patientId}}&status=active"
        );
        assert_eq!(
            s["prefetch"]["conditions"],
            "Condition?patient={{context.patientId}}"
        );
    }
}

fn cards(doc: &Value) -> Vec<Value> {
    doc["cards"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn fever_with_anc_0_3_is_one_critical_card_with_blood_cultures() {
    let f = fixture("febrile");
    let body = patient_view(
        &[obs("6690-2", 1.9, "10*9/L"), obs("751-8", 0.3, "10*9/L")],
        &[obs("8310-5", 38.9, "Cel")],
    );
    let (status, doc) = call(&f, "POST", "/cds-services/leuko-patient-view", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let cards = cards(&doc);
    assert_eq!(cards.len(), 1, "{doc}");
    let card = &cards[0];
    assert_eq!(card["indicator"], "critical", "{card}");
    let summary = card["summary"].as_str().unwrap_or("");
    assert!(
        !summary.is_empty() && summary.chars().count() < 140,
        "{summary}"
    );
    assert_eq!(card["source"]["label"], "leuko");
    assert!(card["source"]["topic"]["code"].is_string(), "{card}");
    assert_eq!(card["selectionBehavior"], "at-most-one");
    let uuid = card["uuid"].as_str().unwrap_or("");
    assert_eq!(uuid.len(), 36, "{uuid}");
    let suggestions = card["suggestions"].as_array().cloned().unwrap_or_default();
    let culture = suggestions
        .iter()
        .find(|s| s["label"] == "Order blood cultures")
        .unwrap_or_else(|| panic!("no blood-culture suggestion: {card}"));
    assert_eq!(culture["actions"][0]["type"], "create");
    assert_eq!(
        culture["actions"][0]["resource"]["code"]["coding"][0]["code"],
        "600-7"
    );
    assert!(
        suggestions
            .iter()
            .any(|s| s["actions"][0]["resource"]["code"]["coding"][0]["code"] == "57021-8"),
        "{card}"
    );
    assert_eq!(card["links"][0]["url"], "http://leuko.example.org/");
    assert_eq!(card["links"][0]["type"], "absolute");
    assert_eq!(card["overrideReasons"][0]["code"], "patient-known-benign");
    let detail = card["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("not a diagnosis") && detail.contains("Work-up"),
        "{detail}"
    );
    // No null or empty attribute anywhere (CDS Hooks: "SHALL NOT be null or empty").
    fn no_empty(v: &Value, path: &str) {
        match v {
            Value::Null => panic!("null at {path}"),
            Value::String(s) => assert!(!s.is_empty(), "empty string at {path}"),
            Value::Array(a) => {
                assert!(!a.is_empty(), "empty array at {path}");
                for (i, x) in a.iter().enumerate() {
                    no_empty(x, &format!("{path}[{i}]"));
                }
            }
            Value::Object(m) => {
                assert!(!m.is_empty(), "empty object at {path}");
                for (k, x) in m {
                    no_empty(x, &format!("{path}.{k}"));
                }
            }
            _ => {}
        }
    }
    no_empty(card, "card");
    // Same hook instance, same card uuid.
    let (_, again) = call(
        &f,
        "POST",
        "/cds-services/leuko-patient-view",
        Some(patient_view(
            &[obs("751-8", 0.3, "10*9/L")],
            &[obs("8310-5", 38.9, "Cel")],
        )),
    )
    .await;
    assert_eq!(again["cards"][0]["uuid"], card["uuid"]);
}

#[tokio::test]
async fn normal_counts_give_no_cards() {
    let f = fixture("normal");
    let body = patient_view(
        &[
            obs("6690-2", 6.5, "10*9/L"),
            obs("751-8", 3.8, "10*9/L"),
            obs("731-0", 2.0, "10*9/L"),
            obs("718-7", 13.5, "g/dL"),
            obs("777-3", 250.0, "10*9/L"),
        ],
        &[],
    );
    let (status, doc) = call(&f, "POST", "/cds-services/leuko-patient-view", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc, json!({"cards": []}));
}

#[tokio::test]
async fn missing_prefetch_is_412_and_bad_requests_400() {
    let f = fixture("missing");
    let mut body = patient_view(&[obs("751-8", 0.3, "10*9/L")], &[]);
    if let Some(p) = body["prefetch"].as_object_mut() {
        p.remove("counts");
    }
    // A FHIR server that cannot be reached (nothing listens on the discard port).
    body["fhirServer"] = json!("http://127.0.0.1:9");
    let (status, doc) = call(
        &f,
        "POST",
        "/cds-services/leuko-patient-view",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{doc}");
    assert_eq!(doc["error"]["field"], "prefetch.counts");
    if let Some(m) = body.as_object_mut() {
        m.remove("prefetch");
        m.remove("fhirServer");
    }
    let (status, _) = call(
        &f,
        "POST",
        "/cds-services/leuko-patient-view",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);

    body["hook"] = json!("order-sign");
    let (status, doc) = call(&f, "POST", "/cds-services/leuko-patient-view", Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(doc["error"]["field"], "hook");
    let (status, doc) = call(
        &f,
        "POST",
        "/cds-services/leuko-patient-view",
        Some(json!({"hook": "patient-view", "hookInstance": "x", "context": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(doc["error"]["field"], "context.patientId");
    let (status, _) = call(&f, "POST", "/cds-services/nope", Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn order_select_with_clozapine_gives_the_clozapine_card() {
    let f = fixture("clozapine");
    // The spec's order-select example shape, with a clozapine draft order.
    let body = json!({
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2eb",
        "hook": "order-select",
        "context": {
            "userId": "Practitioner/123",
            "patientId": "1288992",
            "encounterId": "89284",
            "selections": ["MedicationRequest/smart-MedicationRequest-103"],
            "draftOrders": {
                "resourceType": "Bundle",
                "entry": [{"resource": {
                    "resourceType": "MedicationRequest",
                    "id": "smart-MedicationRequest-103",
                    "status": "draft",
                    "intent": "order",
                    "medicationCodeableConcept": {
                        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "2626", "display": "clozapine"}],
                        "text": "Clozapine 25 MG Oral Tablet"
                    },
                    "subject": {"reference": "Patient/1288992"}
                }}]
            }
        },
        "prefetch": {
            "patient": patient(),
            "counts": searchset(&[obs("6690-2", 6.0, "10*9/L"), obs("751-8", 3.2, "10*9/L")])
        }
    });
    let (status, doc) = call(&f, "POST", "/cds-services/leuko-order-select", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let found = cards(&doc);
    let card = found
        .iter()
        .find(|c| {
            c["summary"]
                .as_str()
                .is_some_and(|s| s.contains("clozapine"))
        })
        .unwrap_or_else(|| panic!("no clozapine card: {doc}"));
    let detail = card["detail"].as_str().unwrap_or("");
    assert!(detail.contains("Clozapine ANC category"), "{detail}");
    assert!(detail.contains("Monitoring"), "{detail}");
    assert!(detail.contains("anc 3.2"), "{detail}");
    assert!(
        card["summary"]
            .as_str()
            .is_some_and(|s| s.chars().count() < 140)
    );

    // A CBC order is relevant too; an unrelated order gives nothing when the counts are normal.
    let cbc = |code: &str| {
        json!({
            "hookInstance": "e1577c69-dfbe-44ad-ba6d-3e05e953b2eb",
            "hook": "order-select",
            "context": {
                "userId": "Practitioner/123", "patientId": "1288992",
                "selections": ["ServiceRequest/1"],
                "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": {
                    "resourceType": "ServiceRequest", "id": "1", "status": "draft", "intent": "order",
                    "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                    "subject": {"reference": "Patient/1288992"}
                }}]}
            },
            "prefetch": {"patient": patient(), "counts": searchset(&[obs("751-8", 3.2, "10*9/L")])}
        })
    };
    let (_, doc) = call(
        &f,
        "POST",
        "/cds-services/leuko-order-select",
        Some(cbc("58410-2")),
    )
    .await;
    assert_eq!(cards(&doc).len(), 1, "{doc}");
    let (_, doc) = call(
        &f,
        "POST",
        "/cds-services/leuko-order-select",
        Some(cbc("2345-7")),
    )
    .await;
    assert_eq!(doc, json!({"cards": []}));
}

#[tokio::test]
async fn feedback_accepted_and_overridden_is_200_bad_is_400() {
    let f = fixture("feedback");
    let uri = "/cds-services/leuko-patient-view/feedback";
    // The spec's feedback examples.
    let (status, _) = call(
        &f,
        "POST",
        uri,
        Some(json!({"feedback": [{
            "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
            "outcomeTimestamp": "2020-12-11T00:00:00Z"
        }]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &f,
        "POST",
        uri,
        Some(json!({"feedback": [{
            "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
            "outcome": "overridden",
            "overrideReason": {
                "reason": {"code": "patient-known-benign", "system": "https://example.invalid/leuko/override", "display": "Known benign"},
                "userComment": "Known Duffy-null"
            },
            "outcomeTimestamp": "2020-12-11T00:00:00Z"
        }]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for (bad, field) in [
        (json!({}), "feedback"),
        (
            json!({"feedback": [{"outcome": "accepted", "outcomeTimestamp": "2020-12-11T00:00:00Z"}]}),
            "feedback[0].card",
        ),
        (
            json!({"feedback": [{"card": "c", "outcome": "maybe", "outcomeTimestamp": "2020-12-11T00:00:00Z"}]}),
            "feedback[0].outcome",
        ),
        (
            json!({"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "yesterday"}]}),
            "feedback[0].outcomeTimestamp",
        ),
        (
            json!({"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2020-12-11T00:00:00Z", "overrideReason": {}}]}),
            "feedback[0].overrideReason",
        ),
    ] {
        let (status, doc) = call(&f, "POST", uri, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(doc["error"]["field"], field, "{bad}: {doc}");
    }
}

#[tokio::test]
async fn feedback_is_stored_once_and_a_changed_repeat_is_409() {
    let f = fixture("feedback-store");
    let uri = "/cds-services/leuko-order-select/feedback";
    let item = json!({
        "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"code": "already-addressed", "system": "https://example.invalid/leuko/override", "display": "Already being addressed"},
            "userComment": "Spoke to haematology"
        },
        "outcomeTimestamp": "2020-12-11T00:00:00Z"
    });
    for _ in 0..2 {
        let (status, _) = call(&f, "POST", uri, Some(json!({"feedback": [item.clone()]}))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let stored = f
        .state
        .store
        .cds_feedback(10)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.len(), 1, "{stored:?}");
    let row = &stored[0];
    assert_eq!(row.service_id, "leuko-order-select");
    assert_eq!(row.card, "9368d37b-283f-44a0-93ea-547cebab93ed");
    assert_eq!(row.outcome, leuko_store::Outcome::Overridden);
    assert_eq!(
        row.override_reason.as_ref().map(|r| r.code.as_str()),
        Some("already-addressed")
    );
    assert!(row.has_comment);
    assert!(
        !format!("{row:?}").contains("haematology"),
        "the comment is not stored"
    );
    let mut changed = item.clone();
    changed["overrideReason"]["reason"]["code"] = json!("not-relevant");
    let (status, doc) = call(&f, "POST", uri, Some(json!({"feedback": [changed]}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{doc}");
    // Feedback for an unknown service is 404, and stores nothing.
    let (status, _) = call(
        &f,
        "POST",
        "/cds-services/nope/feedback",
        Some(json!({"feedback": [item]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        f.state
            .store
            .cds_feedback(10)
            .map(|v| v.len())
            .unwrap_or_default(),
        1
    );
}

type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A tiny FHIR server on loopback: `Patient/1288992` and the counts search, only for the
/// bearer token `good-token`; records the queries it answered.
async fn fhir_server(counts: Vec<Value>) -> (String, Seen) {
    use axum::extract::{OriginalUri, State};
    use axum::http::HeaderMap;
    let seen: Seen = std::sync::Arc::default();
    let app = axum::Router::new()
        .fallback(
            |State((seen, counts)): State<(Seen, Vec<Value>)>,
             headers: HeaderMap,
             OriginalUri(uri): OriginalUri| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if auth != "Bearer good-token" {
                    return (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"resourceType": "OperationOutcome"})),
                    );
                }
                let pq = uri
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                if let Ok(mut s) = seen.lock() {
                    s.push(pq.clone());
                }
                if pq == "/fhir/Patient/1288992" {
                    (StatusCode::OK, axum::Json(patient()))
                } else if pq
                    .starts_with("/fhir/Observation?patient=1288992&code=http://loinc.org|6690-2")
                {
                    (StatusCode::OK, axum::Json(searchset(&counts)))
                } else {
                    (
                        StatusCode::NOT_FOUND,
                        axum::Json(json!({"resourceType": "OperationOutcome"})),
                    )
                }
            },
        )
        .with_state((seen.clone(), counts));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/fhir"), seen)
}

#[tokio::test]
async fn missing_prefetch_is_fetched_from_fhir_server_with_the_bearer_token() {
    let f = fixture("fetch");
    let (base, seen) = fhir_server(vec![
        obs("6690-2", 1.9, "10*9/L"),
        obs("751-8", 0.3, "10*9/L"),
    ])
    .await;
    let request = |token: &str| {
        json!({
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "fhirServer": base,
            "fhirAuthorization": {
                "access_token": token, "token_type": "Bearer", "expires_in": 300,
                "scope": "user/Patient.read user/Observation.read", "subject": "cds-service4"
            },
            "hook": "patient-view",
            "context": {"userId": "Practitioner/example", "patientId": "1288992"},
            // Temperature, medications and conditions were prefetched empty (null); patient
            // and counts were not sent.
            "prefetch": {"temperature": null, "medications": null, "conditions": null}
        })
    };
    let (status, doc) = call(
        &f,
        "POST",
        "/cds-services/leuko-patient-view",
        Some(request("good-token")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let cards = cards(&doc);
    assert_eq!(cards.len(), 1, "{doc}");
    assert_eq!(cards[0]["indicator"], "critical", "{doc}");
    let queries = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(
        queries.contains(&"/fhir/Patient/1288992".to_owned()),
        "{queries:?}"
    );
    assert!(
        queries
            .iter()
            .any(|q| q.starts_with("/fhir/Observation?patient=1288992&code=")
                && q.ends_with("&_sort=-date&_count=50")),
        "{queries:?}"
    );
    // A token the FHIR server refuses: the data cannot be had, 412.
    let (status, doc) = call(
        &f,
        "POST",
        "/cds-services/leuko-patient-view",
        Some(request("bad-token")),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{doc}");
    assert_eq!(doc["error"]["field"], "prefetch.patient");
    // Only http and https.
    let mut bad = request("good-token");
    bad["fhirServer"] = json!("file:///etc/passwd");
    let (status, doc) = call(&f, "POST", "/cds-services/leuko-patient-view", Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(doc["error"]["field"], "fhirServer");
    let mut bad = request("good-token");
    bad["fhirAuthorization"]["token_type"] = json!("MAC");
    let (status, doc) = call(&f, "POST", "/cds-services/leuko-patient-view", Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(doc["error"]["field"], "fhirAuthorization.token_type");
}

#[test]
fn templates_are_filled_from_the_context() {
    let ctx = json!({"patientId": "12 34/5", "userId": "Practitioner/1"});
    let ctx = ctx.as_object().cloned().unwrap_or_default();
    assert_eq!(
        super::fill_template("Patient/{{context.patientId}}", &ctx),
        Ok("Patient/12%2034%2F5".to_owned())
    );
    assert_eq!(
        super::fill_template("Practitioner?x={{ context.userId }}&y=1", &ctx),
        Ok("Practitioner?x=Practitioner%2F1&y=1".to_owned())
    );
    assert!(super::fill_template("Encounter/{{context.encounterId}}", &ctx).is_err());
    assert!(super::fill_template("Patient/{{userPractitionerId}}", &ctx).is_err());
    assert!(super::fill_template("Patient/{{context.patientId", &ctx).is_err());
}
