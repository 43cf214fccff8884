//! Service tests: the app as a value, called with `oneshot` over a temporary SQLite store.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use leuko_store::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{AppState, app, create_key};

struct Fixture {
    state: AppState,
    path: std::path::PathBuf,
    read: String,
    write: String,
    admin: String,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

fn fixture(name: &str) -> Fixture {
    let path = std::env::temp_dir().join(format!("leuko-server-{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = leuko_store::open(&path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    let kb = leuko_kb::Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
    let now = time::OffsetDateTime::now_utc();
    let key = |r| {
        create_key(store.as_ref(), r, now)
            .unwrap_or_else(|e| panic!("{e}"))
            .1
    };
    let (read, write, admin) = (key(Role::Read), key(Role::Write), key(Role::Admin));
    Fixture {
        state: AppState::new(kb, store),
        path,
        read,
        write,
        admin,
    }
}

async fn call(
    f: &Fixture,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
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

fn febrile() -> Value {
    json!({
        "patient": {"age_years": 52, "sex": "female"},
        "results": [
            {"id": "r1", "analyte": "wbc", "value": 1.1, "unit": "10^9/L", "at": "2026-02-17T19:00:00Z"},
            {"id": "r2", "analyte": "anc", "value": "400 cells/mm3", "at": "2026-02-17T19:00:00Z"},
            {"id": "r3", "analyte": "temperature", "value": 38.6, "unit": "Cel", "at": "2026-02-17T19:00:00Z"}
        ],
        "medications": [{"id": "m1", "name": "paclitaxel", "start": "2026-02-08", "end": "2026-02-08"}]
    })
}

#[tokio::test]
async fn assess_needs_no_key_and_follows_the_contract() {
    let f = fixture("assess");
    let (status, body) = call(
        &f,
        "POST",
        "/v1/assess?asof=2026-02-17T20:00:00Z",
        None,
        Some(febrile()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["triage"]["level"], "emergency");
    assert_eq!(body["grades"]["ctcae_v5"]["anc"], 4);
    assert!(
        body["differential"][0]["icd10"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x == "D70.1"))
    );
    assert!(
        body["workup"]
            .as_array()
            .is_some_and(|w| w.iter().any(|x| x["loinc"] == "600-7"))
    );
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let f = fixture("bad");
    let (status, body) = call(&f, "POST", "/v1/assess", None, Some(json!({"results": [{"analyte": "wbc", "value": 4000, "unit": "10^9/L", "at": "2026-01-01"}]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_input");
    assert_eq!(body["error"]["field"], "results[0].value");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("4000"))
    );
    let (status, body) = call(
        &f,
        "POST",
        "/v1/assess?asof=yesterday",
        None,
        Some(febrile()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "asof");
    let (status, _) = call(&f, "GET", "/no/such/route", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let f = fixture("big");
    let big = json!({"results": [], "conditions": [{"name": "x".repeat(crate::BODY_LIMIT + 10)}]});
    let (status, _) = call(&f, "POST", "/v1/assess", None, Some(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn history_needs_a_key_with_the_right_role() {
    let f = fixture("auth");
    let (status, body) = call(&f, "POST", "/v1/patients", None, Some(json!({"id": "p1"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = call(
        &f,
        "POST",
        "/v1/patients",
        Some("lk_write_bogus"),
        Some(json!({"id": "p1"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        &f,
        "POST",
        "/v1/patients",
        Some(&f.read),
        Some(json!({"id": "p1"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&f, "GET", "/v1/audit", Some(&f.write), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn patient_history_round_trip_is_idempotent_and_audited() {
    let f = fixture("history");
    let (status, _) = call(
        &f,
        "POST",
        "/v1/patients",
        Some(&f.write),
        Some(json!({"id": "p1", "birth_date": "1974-02-17", "sex": "female"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = call(
        &f,
        "POST",
        "/v1/patients",
        Some(&f.write),
        Some(json!({"id": "p1", "birth_date": "1974-02-17", "sex": "female"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same patient written twice is stored once"
    );
    for round in 0..2 {
        let (status, body) = call(
            &f,
            "POST",
            "/v1/patients/p1/entries",
            Some(&f.write),
            Some(febrile()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let created: Vec<bool> = body["stored"]
            .as_array()
            .map(|a| a.iter().map(|x| x["created"] == true).collect())
            .unwrap_or_default();
        assert_eq!(created, vec![round == 0; 4], "round {round}: {body}");
    }
    let (status, t) = call(&f, "GET", "/v1/patients/p1/timeline", Some(&f.read), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["observations"].as_array().map(Vec::len), Some(3));
    assert_eq!(t["medications"][0]["drugs"][0], "paclitaxel");
    let (status, a) = call(
        &f,
        "POST",
        "/v1/patients/p1/assess?asof=2026-02-17T20:00:00Z",
        Some(&f.write),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["triage"]["level"], "emergency");
    assert!(
        a["assessment_id"]
            .as_str()
            .is_some_and(|s| s.starts_with("asmt_"))
    );
    let (_, list) = call(
        &f,
        "GET",
        "/v1/patients/p1/assessments",
        Some(&f.read),
        None,
    )
    .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let (status, _) = call(
        &f,
        "GET",
        "/v1/patients/nobody/timeline",
        Some(&f.read),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, log) = call(&f, "GET", "/v1/audit?limit=50", Some(&f.admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let text = log.to_string();
    for action in ["create-patient", "add-entries", "read-timeline", "assess"] {
        assert!(text.contains(action), "audit lacks {action}: {text}");
    }
    assert!(
        !text.contains("38.6") && !text.contains("cells/mm3"),
        "the audit log never holds values"
    );
}

#[tokio::test]
async fn reusing_an_id_for_different_content_is_a_conflict() {
    let f = fixture("conflict");
    call(
        &f,
        "POST",
        "/v1/patients",
        Some(&f.write),
        Some(json!({"id": "p2"})),
    )
    .await;
    let one = json!({"results": [{"id": "x", "analyte": "anc", "value": 1.0, "unit": "10^9/L", "at": "2026-01-01T00:00:00Z"}]});
    let two = json!({"results": [{"id": "x", "analyte": "anc", "value": 2.0, "unit": "10^9/L", "at": "2026-01-01T00:00:00Z"}]});
    assert_eq!(
        call(
            &f,
            "POST",
            "/v1/patients/p2/entries",
            Some(&f.write),
            Some(one)
        )
        .await
        .0,
        StatusCode::OK
    );
    let (status, body) = call(
        &f,
        "POST",
        "/v1/patients/p2/entries",
        Some(&f.write),
        Some(two),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn operations_endpoints() {
    let f = fixture("ops");
    let (status, h) = call(&f, "GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["store"], "sqlite");
    let _ = call(&f, "POST", "/v1/assess", None, Some(febrile())).await;
    let resp = app(f.state.clone())
        .oneshot(
            Request::builder()
                .uri("/metrics")
                .body(Body::empty())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert!(
        text.contains(
            "leuko_http_requests_total{method=\"POST\",route=\"/v1/assess\",status=\"200\"} 1"
        ),
        "{text}"
    );
    let (status, doc) = call(&f, "GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in crate::openapi::described() {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    let (status, _) = call(&f, "GET", "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn assess_answers_fhir_when_asked() {
    let f = fixture("fhir");
    let req = Request::builder()
        .method("POST")
        .uri("/v1/assess?asof=2026-02-17T20:00:00Z")
        .header("content-type", "application/json")
        .header("accept", "application/fhir+json")
        .body(Body::from(febrile().to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let resp = app(f.state.clone())
        .oneshot(req)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/fhir+json")
    );
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let bundle: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert_eq!(bundle["resourceType"], "Bundle");
    let kinds: Vec<&str> = bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|x| x["resource"]["resourceType"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        kinds.contains(&"RiskAssessment") && kinds.contains(&"ServiceRequest"),
        "{kinds:?}"
    );
}

fn oru(control: &str, anc: &str) -> String {
    [
        &format!(
            "MSH|^~\\&|LAB|HOSP|LEUKO|HOSP|20260301080000+0000||ORU^R01^ORU_R01|{control}|P|2.5.1"
        ),
        "PID|1||MRN-7^^^HOSP^MR||Doe^Jane||19700517|F",
        "OBR|1||ORD1|57021-8^CBC W Auto Differential panel^LN|||20260301073000+0000",
        "OBX|1|NM|6690-2^Leukocytes^LN||2.1|x10\\S\\9/L|4.0-11.0|L|||F|||20260301073000+0000",
        &format!("OBX|2|NM|751-8^Neutrophils^LN||{anc}|10*9/L|1.5-7.0|L|||F|||20260301073000+0000"),
    ]
    .join("\r")
}

async fn exchange(addr: std::net::SocketAddr, bytes: &[u8], n_acks: usize) -> Vec<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(bytes)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut decoder = leuko_hl7::MllpDecoder::default();
    let mut acks = Vec::new();
    let mut buf = [0u8; 4096];
    while acks.len() < n_acks {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no ACK within 10 s"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(n > 0, "connection closed before the ACKs");
        for frame in decoder.push(buf.get(..n).unwrap_or_default()) {
            acks.push(
                String::from_utf8_lossy(&frame.unwrap_or_else(|e| panic!("{e}"))).into_owned(),
            );
        }
    }
    acks
}

#[tokio::test]
async fn mllp_correction_in_a_later_message_supersedes_the_stored_result() {
    let f = fixture("mllp-correction");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(crate::mllp::run(
        listener,
        f.state.clone(),
        leuko_hl7::LocalCodes::new(),
    ));
    // Message F1: the final results (ANC 0.4, grade 4). Message K2, later: the ANC corrected
    // to 1.4 (grade 2), OBX-11 C, same code and time.
    let corrected = [
        "MSH|^~\\&|LAB|HOSP|LEUKO|HOSP|20260301120000+0000||ORU^R01^ORU_R01|K2|P|2.5.1",
        "PID|1||MRN-7^^^HOSP^MR||Doe^Jane||19700517|F",
        "OBR|1||ORD1|57021-8^CBC W Auto Differential panel^LN|||20260301073000+0000",
        "OBX|1|NM|751-8^Neutrophils^LN||1.4|10*9/L|1.5-7.0|L|||C|||20260301073000+0000",
    ]
    .join("\r");
    for (bytes, control) in [(oru("F1", "0.4"), "F1"), (corrected.clone(), "K2")] {
        let acks = exchange(addr, &leuko_hl7::frame(bytes), 1).await;
        assert!(
            acks.first()
                .is_some_and(|a| a.contains(&format!("MSA|AA|{control}"))),
            "{acks:?}"
        );
    }
    // Both messages again (a sender's retry): nothing changes.
    for bytes in [oru("F1", "0.4"), corrected] {
        let acks = exchange(addr, &leuko_hl7::frame(bytes), 1).await;
        assert!(
            acks.first().is_some_and(|a| a.contains("MSA|AA|")),
            "{acks:?}"
        );
    }

    let (status, t) = call(
        &f,
        "GET",
        "/v1/patients/MRN-7/timeline",
        Some(&f.read),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let anc: Vec<&Value> = t["observations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["analyte"] == "anc")
        .collect();
    assert_eq!(anc.len(), 1, "the corrected ANC replaces the final: {t}");
    assert_eq!(
        anc.first().map(|o| o["value"].clone()),
        Some(json!(1.4)),
        "{t}"
    );
    assert_eq!(
        t["observations"].as_array().map(Vec::len),
        Some(2),
        "the WBC of F1 is untouched: {t}"
    );
    let superseded = f
        .state
        .store
        .superseded("MRN-7")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        superseded
            .iter()
            .map(|(e, by)| (e.id.as_str(), by.as_str()))
            .collect::<Vec<_>>(),
        vec![("F1-2", "K2-1")],
        "the final stays stored, naming its correction"
    );

    let (status, a) = call(
        &f,
        "POST",
        "/v1/patients/MRN-7/assess?asof=2026-03-02T00:00:00Z",
        Some(&f.write),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(
        a["grades"]["ctcae_v5"]["anc"], 2,
        "graded on the corrected 1.4: {a}"
    );
    let counts: Vec<f64> = a["counts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["analyte"] == "anc")
        .filter_map(|c| c["value"].as_f64())
        .collect();
    assert_eq!(counts, vec![1.4], "{a}");
}

#[tokio::test]
async fn mllp_final_in_a_later_message_supersedes_the_stored_preliminary_result() {
    let f = fixture("mllp-preliminary");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(crate::mllp::run(
        listener,
        f.state.clone(),
        leuko_hl7::LocalCodes::new(),
    ));
    let message = |control: &str, at: &str, anc: &str, status: &str| {
        [
            format!(
                "MSH|^~\\&|LAB|HOSP|LEUKO|HOSP|{at}||ORU^R01^ORU_R01|{control}|P|2.5.1"
            ),
            "PID|1||MRN-8^^^HOSP^MR||Doe^Jane||19700517|F".to_owned(),
            "OBR|1||ORD1|57021-8^CBC W Auto Differential panel^LN|||20260301073000+0000"
                .to_owned(),
            "OBX|1|NM|6690-2^Leukocytes^LN||2.1|x10\\S\\9/L|4.0-11.0|L|||F|||20260301073000+0000"
                .to_owned(),
            format!(
                "OBX|2|NM|751-8^Neutrophils^LN||{anc}|10*9/L|1.5-7.0|L|||{status}|||20260301073000+0000"
            ),
        ]
        .join("\r")
    };
    // P1: the ANC preliminary (0.4, grade 4). F2, later: the same ANC final (0.9, grade 3),
    // OBX-11 F, same code and time. P3, later still: a stale preliminary (0.2) for that time.
    let p1 = message("P1", "20260301080000+0000", "0.4", "P");
    let f2 = message("F2", "20260301120000+0000", "0.9", "F");
    let p3 = message("P3", "20260301130000+0000", "0.2", "P");
    for (bytes, control) in [
        (&p1, "P1"),
        (&f2, "F2"),
        (&p3, "P3"),
        (&p1, "P1"),
        (&f2, "F2"),
    ] {
        let acks = exchange(addr, &leuko_hl7::frame(bytes.clone()), 1).await;
        assert!(
            acks.first()
                .is_some_and(|a| a.contains(&format!("MSA|AA|{control}"))),
            "{acks:?}"
        );
    }

    let (status, t) = call(
        &f,
        "GET",
        "/v1/patients/MRN-8/timeline",
        Some(&f.read),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let anc: Vec<&Value> = t["observations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["analyte"] == "anc")
        .collect();
    assert_eq!(anc.len(), 1, "the final ANC replaces the preliminary: {t}");
    assert_eq!(
        anc.first().map(|o| o["value"].clone()),
        Some(json!(0.9)),
        "{t}"
    );
    let superseded = f
        .state
        .store
        .superseded("MRN-8")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut pairs: Vec<(&str, &str)> = superseded
        .iter()
        .map(|(e, by)| (e.id.as_str(), by.as_str()))
        .collect();
    pairs.sort_unstable();
    assert_eq!(
        pairs,
        vec![("P1-2", "F2-2"), ("P3-2", "F2-2")],
        "the preliminaries stay stored, naming the final; the WBCs (all final) are kept"
    );

    let (status, a) = call(
        &f,
        "POST",
        "/v1/patients/MRN-8/assess?asof=2026-03-02T00:00:00Z",
        Some(&f.write),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(
        a["grades"]["ctcae_v5"]["anc"], 3,
        "graded on the final 0.9: {a}"
    );
}

#[tokio::test]
async fn mllp_listener_stores_results_and_acknowledges() {
    let f = fixture("mllp");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(crate::mllp::run(
        listener,
        f.state.clone(),
        leuko_hl7::LocalCodes::new(),
    ));

    // Two frames in one write, then one frame split across writes, then garbage.
    let mut bytes = leuko_hl7::frame(oru("C1", "0.4"));
    bytes.extend(leuko_hl7::frame(oru("C2", "0.6")));
    let acks = exchange(addr, &bytes, 2).await;
    assert!(acks.iter().all(|a| a.contains("MSA|AA|")), "{acks:?}");
    assert!(acks.first().is_some_and(|a| a.contains("|C1")));

    // The same message again is stored once.
    let again = exchange(addr, &leuko_hl7::frame(oru("C1", "0.4")), 1).await;
    assert!(again.first().is_some_and(|a| a.contains("MSA|AA|C1")));

    // An implausible value is AE with an ERR naming OBX-5; the listener keeps going.
    let bad = exchange(addr, &leuko_hl7::frame(oru("C3", "4000")), 1).await;
    assert!(
        bad.first()
            .is_some_and(|a| a.contains("MSA|AE|C3") && a.contains("ERR|")),
        "{bad:?}"
    );
    let junk = exchange(addr, &leuko_hl7::frame("not hl7 at all"), 1).await;
    assert!(
        junk.first().is_some_and(|a| a.contains("MSA|AR")),
        "{junk:?}"
    );

    let (status, t) = call(
        &f,
        "GET",
        "/v1/patients/MRN-7/timeline",
        Some(&f.read),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["patient"]["sex"], "female");
    assert_eq!(
        t["observations"].as_array().map(Vec::len),
        Some(4),
        "two messages of two results, the repeat stored once: {t}"
    );
}
