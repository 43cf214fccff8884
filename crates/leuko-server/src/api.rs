//! The handlers.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use leuko_api::AssessmentJson;
use leuko_core::{Options, Sex};
use leuko_store::{ApiKey, AssessmentRow, AuditEntry, Entry, NewPatient, Role, StoredEntry};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{ApiError, AppState, hash_key};

type Result<T> = std::result::Result<T, ApiError>;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ts(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Runs a store call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, leuko_store::StoreError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// The query string, or a JSON 400 naming it.
type QueryIn = std::result::Result<Query<HashMap<String, String>>, QueryRejection>;
/// The `{id}` of the path, or a JSON 400 naming it.
type PathIn = std::result::Result<Path<String>, PathRejection>;
/// The request body, or a JSON 413 or 400.
type BodyIn = std::result::Result<Bytes, BytesRejection>;

fn query(q: QueryIn) -> Result<HashMap<String, String>> {
    q.map(|Query(q)| q)
        .map_err(|r| ApiError::invalid("query", r.body_text()))
}

fn path_id(p: PathIn) -> Result<String> {
    let Path(id) = p.map_err(|r| ApiError::invalid("id", r.body_text()))?;
    check_id(&id, "id")?;
    Ok(id)
}

fn body(b: BodyIn) -> Result<Bytes> {
    b.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large()
        } else {
            ApiError::invalid("body", r.body_text())
        }
    })
}

/// Refuses a body that is JSON but not of the documented shape where serde would accept it
/// anyway: serde reads a struct from an array as readily as from an object, so `[{}, []]` would
/// pass for a record and `[null]` for its `patient`. The document (and `leuko schema`) say
/// object; this keeps the service to it. Invalid JSON is left to the reader, which names the
/// line and column.
fn check_input_shape(body: &[u8]) -> Result<()> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(());
    };
    let Some(top) = value.as_object() else {
        return Err(ApiError::invalid(
            "$",
            "the body is not a JSON object: send a FHIR resource or a leuko record",
        ));
    };
    if leuko_fhir::is_fhir(&value) {
        return Ok(());
    }
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    };
    if let Some(p) = top.get("patient").filter(|p| !p.is_object()) {
        return Err(ApiError::invalid(
            "patient",
            format!("patient is {}, not an object", kind(p)),
        ));
    }
    for list in ["results", "conditions", "medications"] {
        let Some(items) = top.get(list).and_then(serde_json::Value::as_array) else {
            continue;
        };
        if let Some((i, item)) = items.iter().enumerate().find(|(_, v)| !v.is_object()) {
            return Err(ApiError::invalid(
                format!("{list}[{i}]"),
                format!("{list}[{i}] is {}, not an object", kind(item)),
            ));
        }
    }
    Ok(())
}

fn parse_asof(q: &HashMap<String, String>) -> Result<OffsetDateTime> {
    match q.get("asof") {
        Some(s) => OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
            ApiError::invalid(
                "asof",
                format!("{s:?} is not an RFC 3339 date-time such as 2026-02-17T20:00:00Z"),
            )
        }),
        None => Ok(now()),
    }
}

fn options(q: &HashMap<String, String>) -> Options {
    Options {
        profile: q.get("profile").cloned(),
    }
}

/// The answer of `GET /healthz`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    /// The store's backend: `sqlite` or `postgres`.
    pub store: &'static str,
    /// The knowledge base's version.
    pub knowledge: String,
}

/// `GET /healthz`.
pub async fn healthz(State(s): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        store: s.store.backend(),
        knowledge: s.kb.version.clone(),
    })
}

/// `GET /metrics`.
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

fn assess_record(
    s: &AppState,
    record: &leuko_core::Record,
    as_of: OffsetDateTime,
    opts: &Options,
) -> Result<AssessmentJson> {
    let a = leuko_core::assess(&s.kb, record, as_of, opts)
        .map_err(|e| ApiError::invalid("profile", e.to_string()))?;
    Ok(AssessmentJson::from_assessment(&s.kb, &a))
}

/// `POST /v1/assess`: a FHIR Bundle or a leuko record in, the assessment out; nothing stored.
/// With `Accept: application/fhir+json` the answer is a FHIR R4 Bundle (RiskAssessment,
/// derived Observations, ServiceRequest proposals) instead of the contract's JSON.
pub async fn assess(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: QueryIn,
    b: BodyIn,
) -> Result<axum::response::Response> {
    let q = query(q)?;
    let body = body(b)?;
    let as_of = parse_asof(&q)?;
    check_input_shape(&body)?;
    let (record, _) = leuko_api::record::read_input(&s.kb, &body, as_of)
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    let wants_fhir = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(leuko_fhir::write::MEDIA_TYPE));
    if wants_fhir {
        let a = leuko_core::assess(&s.kb, &record, as_of, &options(&q))
            .map_err(|e| ApiError::invalid("profile", e.to_string()))?;
        let bundle = leuko_fhir::write::assessment_bundle(&s.kb, &record, &a, None);
        return Ok((
            [("content-type", leuko_fhir::write::MEDIA_TYPE)],
            Json(bundle),
        )
            .into_response());
    }
    Ok(Json(assess_record(&s, &record, as_of, &options(&q))?).into_response())
}

/// Checks the key and its role; returns the key.
async fn authorize(s: &AppState, headers: &HeaderMap, role: Role) -> Result<ApiKey> {
    let secret = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(ApiError::unauthorized)?;
    let hash = hash_key(secret);
    let store = s.store.clone();
    let key = blocking(move || store.key_by_hash(&hash))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if key.role < role {
        return Err(ApiError::forbidden(role.as_str()));
    }
    Ok(key)
}

async fn audit(
    s: &AppState,
    key: &ApiKey,
    action: &str,
    patient: Option<&str>,
    detail: String,
) -> Result<()> {
    let entry = AuditEntry {
        at: now(),
        key_id: key.id.clone(),
        action: action.to_owned(),
        patient_id: patient.map(str::to_owned),
        detail,
    };
    let store = s.store.clone();
    blocking(move || store.audit(&entry)).await
}

/// The pattern of a patient or entry id, as [`check_id`] checks it: letters, digits, `-`, `_`,
/// `.`, 1 to 64, and not `.` or `..` (a path segment of its own).
pub const ID_PATTERN: &str = r"^(?!\.\.?$)[A-Za-z0-9._-]{1,64}$";

/// A patient to create.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientIn {
    /// A client-supplied id (letters, digits, `-`, `_`, `.`; up to 64; not `.` or `..`);
    /// generated when absent.
    #[schemars(regex(pattern = ID_PATTERN))]
    pub id: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    #[schemars(extend("format" = "date"))]
    pub birth_date: Option<String>,
    /// `female`, `male`, `other` or `unknown` (the default).
    #[schemars(extend("enum" = ["female", "male", "other", "unknown", null]))]
    pub sex: Option<String>,
}

/// A stored patient.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Patient")]
pub struct PatientOut {
    /// Id.
    pub id: String,
    /// Date of birth.
    pub birth_date: Option<String>,
    /// Sex.
    pub sex: &'static str,
    /// When created.
    pub created_at: String,
}

fn sex_str(s: Sex) -> &'static str {
    match s {
        Sex::Female => "female",
        Sex::Male => "male",
        Sex::Other => "other",
        Sex::Unknown => "unknown",
    }
}

fn patient_out(p: &leuko_store::PatientRow) -> PatientOut {
    PatientOut {
        id: p.id.clone(),
        birth_date: p.birth_date.map(|d| d.to_string()),
        sex: sex_str(p.sex),
        created_at: ts(p.created_at),
    }
}

fn check_id(id: &str, field: &str) -> Result<()> {
    if id.is_empty()
        || id == "."
        || id == ".."
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(ApiError::invalid(
            field,
            format!("{id:?} is not an id (letters, digits, '-', '_', '.'; 1 to 64; not . or ..)"),
        ));
    }
    Ok(())
}

/// `POST /v1/patients`.
pub async fn create_patient(
    State(s): State<AppState>,
    headers: HeaderMap,
    b: BodyIn,
) -> Result<impl IntoResponse> {
    let key = authorize(&s, &headers, Role::Write).await?;
    let body = body(b)?;
    // An object only: serde would read the struct from an array too.
    let p: PatientIn = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)
        .and_then(|m| serde_json::from_value(serde_json::Value::Object(m)))
        .map_err(|e| ApiError::invalid("$", format!("patient: {e}")))?;
    if let Some(id) = &p.id {
        check_id(id, "id")?;
    }
    let birth_date = match &p.birth_date {
        Some(b) => {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            Some(time::Date::parse(b, &fmt).map_err(|_| {
                ApiError::invalid("birth_date", format!("{b:?} is not a YYYY-MM-DD date"))
            })?)
        }
        None => None,
    };
    let sex = match p.sex.as_deref() {
        None | Some("unknown") => Sex::Unknown,
        Some("female") => Sex::Female,
        Some("male") => Sex::Male,
        Some("other") => Sex::Other,
        Some(other) => {
            return Err(ApiError::invalid(
                "sex",
                format!("{other:?} is not one of female, male, other, unknown"),
            ));
        }
    };
    let store = s.store.clone();
    let (row, created) = blocking(move || {
        store.create_patient(
            NewPatient {
                id: p.id,
                birth_date,
                sex,
            },
            now(),
        )
    })
    .await?;
    audit(
        &s,
        &key,
        "create-patient",
        Some(&row.id),
        if created { "created" } else { "existed" }.to_owned(),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(patient_out(&row))))
}

/// `GET /v1/patients/{id}`.
pub async fn get_patient(
    State(s): State<AppState>,
    headers: HeaderMap,
    id: PathIn,
) -> Result<Json<PatientOut>> {
    let key = authorize(&s, &headers, Role::Read).await?;
    let id = path_id(id)?;
    let store = s.store.clone();
    let pid = id.clone();
    let row = blocking(move || store.patient(&pid))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("patient {id:?}")))?;
    audit(&s, &key, "read-patient", Some(&id), String::new()).await?;
    Ok(Json(patient_out(&row)))
}

/// The answer to a write of entries.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StoredOut {
    /// Each entry's id and whether it was newly stored (false: written before, kept once).
    pub stored: Vec<StoredItem>,
}

/// One stored entry.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StoredItem {
    /// Id.
    pub id: String,
    /// Newly stored.
    pub created: bool,
}

fn client_id_of_source(source_ref: &str) -> Option<String> {
    // A FHIR resource id ("Observation/abc") is the entry's id in the store.
    source_ref
        .split_once('/')
        .map(|(kind, id)| format!("{}-{id}", kind.to_ascii_lowercase()))
        .filter(|id| id.len() <= 64)
}

/// `POST /v1/patients/{id}/entries`: results, conditions and medicines as a leuko record
/// (items may carry an `id`) or a FHIR Bundle (resource ids are used); one transaction.
pub async fn add_entries(
    State(s): State<AppState>,
    headers: HeaderMap,
    id: PathIn,
    b: BodyIn,
) -> Result<Json<StoredOut>> {
    let key = authorize(&s, &headers, Role::Write).await?;
    let id = path_id(id)?;
    let body = body(b)?;
    check_input_shape(&body)?;
    let (record, json) = leuko_api::record::read_input(&s.kb, &body, now())
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    let mut entries: Vec<(Option<String>, Entry)> = Vec::new();
    let ids = |i: usize, f: fn(&leuko_api::RecordJson, usize) -> Option<String>, fallback: &str| {
        match &json {
            Some(j) => f(j, i),
            None => client_id_of_source(fallback),
        }
    };
    for (i, o) in record.observations.iter().enumerate() {
        entries.push((
            ids(
                i,
                |j, i| j.results.get(i).and_then(|r| r.id.clone()),
                &o.source_ref,
            ),
            Entry::Observation(o.clone()),
        ));
    }
    for (i, c) in record.conditions.iter().enumerate() {
        entries.push((
            ids(
                i,
                |j, i| j.conditions.get(i).and_then(|r| r.id.clone()),
                &c.source_ref,
            ),
            Entry::Condition(c.clone()),
        ));
    }
    for (i, m) in record.medications.iter().enumerate() {
        entries.push((
            ids(
                i,
                |j, i| j.medications.get(i).and_then(|r| r.id.clone()),
                &m.source_ref,
            ),
            Entry::Medication(m.clone()),
        ));
    }
    for (cid, _) in &entries {
        if let Some(cid) = cid {
            check_id(cid, "id")?;
        }
    }
    let n = entries.len();
    let store = s.store.clone();
    let pid = id.clone();
    let stored = blocking(move || store.add_entries(&pid, &entries, now())).await?;
    let created = stored.iter().filter(|(_, c)| *c).count();
    audit(
        &s,
        &key,
        "add-entries",
        Some(&id),
        format!("{n} entries, {created} new"),
    )
    .await?;
    Ok(Json(StoredOut {
        stored: stored
            .into_iter()
            .map(|(id, created)| StoredItem { id, created })
            .collect(),
    }))
}

/// A patient's timeline.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TimelineOut {
    /// The patient.
    pub patient: PatientOut,
    /// Results, oldest first, canonical units.
    pub observations: Vec<ObservationOut>,
    /// Conditions.
    pub conditions: Vec<ConditionOut>,
    /// Medicines.
    pub medications: Vec<MedicationOut>,
    /// Stored assessments, newest first.
    pub assessments: Vec<AssessmentSummary>,
}

/// A result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ObservationOut {
    /// Id.
    pub id: String,
    /// Analyte id.
    pub analyte: &'static str,
    /// When.
    pub at: String,
    /// Value in `unit`.
    pub value: f64,
    /// Canonical unit.
    pub unit: &'static str,
}

/// A condition.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ConditionOut {
    /// Id.
    pub id: String,
    /// Text.
    pub text: String,
    /// Concept id.
    pub concept: Option<String>,
    /// `active`, `resolved`, `absent`.
    pub status: &'static str,
    /// Onset.
    pub onset: Option<String>,
    /// Abatement.
    pub abatement: Option<String>,
}

/// A medicine.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MedicationOut {
    /// Id.
    pub id: String,
    /// Text.
    pub text: String,
    /// Drug ids.
    pub drugs: Vec<String>,
    /// Start.
    pub start: Option<String>,
    /// End.
    pub end: Option<String>,
    /// Still taken.
    pub active: bool,
}

/// A stored assessment, briefly.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AssessmentSummary {
    /// Id.
    pub id: String,
    /// The moment assessed.
    pub as_of: String,
    /// Level.
    pub level: String,
    /// When made.
    pub created_at: String,
    /// Knowledge version and digest.
    pub knowledge: String,
}

fn summary(a: &AssessmentRow) -> AssessmentSummary {
    AssessmentSummary {
        id: a.id.clone(),
        as_of: ts(a.as_of),
        level: a.level.clone(),
        created_at: ts(a.created_at),
        knowledge: a.knowledge.clone(),
    }
}

/// `GET /v1/patients/{id}/timeline`.
pub async fn timeline(
    State(s): State<AppState>,
    headers: HeaderMap,
    id: PathIn,
) -> Result<Json<TimelineOut>> {
    let key = authorize(&s, &headers, Role::Read).await?;
    let id = path_id(id)?;
    let store = s.store.clone();
    let pid = id.clone();
    let (patient, entries, assessments) = blocking(move || {
        let p = store
            .patient(&pid)?
            .ok_or_else(|| leuko_store::StoreError::NotFound(format!("patient {pid:?}")))?;
        Ok((p, store.entries(&pid)?, store.assessments(&pid)?))
    })
    .await?;
    let mut out = TimelineOut {
        patient: patient_out(&patient),
        observations: Vec::new(),
        conditions: Vec::new(),
        medications: Vec::new(),
        assessments: assessments.iter().map(summary).collect(),
    };
    for StoredEntry { id, entry, .. } in entries {
        match entry {
            Entry::Observation(o) => {
                let unit =
                    s.kb.analyte(o.analyte)
                        .map_or("", |a| leuko_core::units::canonical_unit(a.dimension));
                out.observations.push(ObservationOut {
                    id,
                    analyte: o.analyte.as_str(),
                    at: ts(o.at),
                    value: o.value,
                    unit,
                });
            }
            Entry::Condition(c) => out.conditions.push(ConditionOut {
                id,
                text: c.text,
                concept: c.concept,
                status: match c.status {
                    leuko_core::ConditionStatus::Active => "active",
                    leuko_core::ConditionStatus::Resolved => "resolved",
                    leuko_core::ConditionStatus::Absent => "absent",
                },
                onset: c.onset.map(ts),
                abatement: c.abatement.map(ts),
            }),
            Entry::Medication(m) => {
                out.medications.push(MedicationOut {
                    id,
                    text: m.text,
                    drugs: m.drugs,
                    start: m.start.map(ts),
                    end: m.end.map(ts),
                    active: m.active,
                });
            }
        }
    }
    audit(
        &s,
        &key,
        "read-timeline",
        Some(&id),
        format!("{} results", out.observations.len()),
    )
    .await?;
    Ok(Json(out))
}

/// An assessment of a stored patient.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StoredAssessment {
    /// Id of the stored assessment.
    pub assessment_id: String,
    /// The assessment.
    #[serde(flatten)]
    pub assessment: AssessmentJson,
}

/// `POST /v1/patients/{id}/assess`: assesses the stored history as of a moment and stores the
/// assessment with the knowledge version and a digest of its input.
pub async fn assess_patient(
    State(s): State<AppState>,
    headers: HeaderMap,
    id: PathIn,
    q: QueryIn,
) -> Result<Json<StoredAssessment>> {
    let key = authorize(&s, &headers, Role::Write).await?;
    let id = path_id(id)?;
    let q = query(q)?;
    let as_of = parse_asof(&q)?;
    let store = s.store.clone();
    let pid = id.clone();
    let record = blocking(move || store.record(&pid)).await?;
    let out = assess_record(&s, &record, as_of, &options(&q))?;
    let digest: String = sha2::Sha256::digest(format!("{record:?}").as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let json = serde_json::to_string(&out).map_err(ApiError::internal)?;
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(ApiError::internal)?;
    let row = AssessmentRow {
        id: format!(
            "asmt_{}",
            rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
        patient_id: id.clone(),
        as_of,
        created_at: now(),
        knowledge: format!("{}+{}", s.kb.version, s.kb.digest),
        input_digest: digest,
        level: out.triage.level.to_owned(),
        json,
    };
    let assessment_id = row.id.clone();
    let store = s.store.clone();
    blocking(move || store.save_assessment(&row)).await?;
    audit(&s, &key, "assess", Some(&id), assessment_id.clone()).await?;
    Ok(Json(StoredAssessment {
        assessment_id,
        assessment: out,
    }))
}

/// `GET /v1/patients/{id}/assessments`.
pub async fn assessments(
    State(s): State<AppState>,
    headers: HeaderMap,
    id: PathIn,
) -> Result<Json<Vec<AssessmentSummary>>> {
    let key = authorize(&s, &headers, Role::Read).await?;
    let id = path_id(id)?;
    let store = s.store.clone();
    let pid = id.clone();
    let rows = blocking(move || {
        store
            .patient(&pid)?
            .ok_or_else(|| leuko_store::StoreError::NotFound(format!("patient {pid:?}")))?;
        store.assessments(&pid)
    })
    .await?;
    audit(
        &s,
        &key,
        "read-assessments",
        Some(&id),
        format!("{} assessments", rows.len()),
    )
    .await?;
    Ok(Json(rows.iter().map(summary).collect()))
}

/// An audit entry.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AuditOut {
    /// When.
    pub at: String,
    /// Key id.
    pub key_id: String,
    /// Action.
    pub action: String,
    /// Patient.
    pub patient_id: Option<String>,
    /// Detail (never values).
    pub detail: String,
}

/// `GET /v1/audit` (admin).
pub async fn audit_log(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: QueryIn,
) -> Result<Json<Vec<AuditOut>>> {
    authorize(&s, &headers, Role::Admin).await?;
    let q = query(q)?;
    let limit = match q.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("limit", format!("{l:?} is not a number from 1 to 10000"))
            })?,
        None => 100,
    };
    let store = s.store.clone();
    let rows = blocking(move || store.audit_log(limit)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|a| AuditOut {
                at: ts(a.at),
                key_id: a.key_id,
                action: a.action,
                patient_id: a.patient_id,
                detail: a.detail,
            })
            .collect(),
    ))
}

#[cfg(test)]
mod wire_tests {
    //! What the API fuzzer (`scripts/api-fuzz.sh`) found: every refusal is a JSON error.

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    use crate::{AppState, app, create_key};

    async fn call(
        name: &str,
        method: &str,
        uri: &str,
        body: Vec<u8>,
    ) -> (StatusCode, String, Value) {
        let path =
            std::env::temp_dir().join(format!("leuko-wire-{name}-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store =
            leuko_store::open(&path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        let key = create_key(
            store.as_ref(),
            leuko_store::Role::Admin,
            time::OffsetDateTime::now_utc(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .1;
        let kb = leuko_kb::Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::from(body))
            .unwrap_or_else(|e| panic!("{e}"));
        let resp = app(AppState::new(kb, store))
            .oneshot(req)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn an_oversized_body_is_a_json_413() {
        let big = vec![b' '; crate::BODY_LIMIT + 1];
        for uri in ["/v1/assess", "/v1/patients", "/v1/patients/p1/entries"] {
            let (status, content_type, body) = call("big", "POST", uri, big.clone()).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{uri}");
            assert_eq!(content_type, "application/json", "{uri}");
            assert_eq!(body["error"]["code"], "payload_too_large", "{uri}");
        }
    }

    #[tokio::test]
    async fn a_bad_path_id_is_a_json_400() {
        for uri in [
            "/v1/patients/%FF",
            "/v1/patients/..",
            "/v1/patients/./timeline",
            "/v1/patients/has%20space/assessments",
        ] {
            let (status, content_type, body) = call("path", "GET", uri, Vec::new()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(content_type, "application/json", "{uri}");
            assert_eq!(body["error"]["field"], "id", "{uri}");
        }
    }

    #[tokio::test]
    async fn a_record_of_arrays_is_refused_naming_the_field() {
        for (body, field) in [
            (r"[{}, [], [], []]", "$"),
            (r#"{"patient": [null, null]}"#, "patient"),
            (
                r#"{"results": [{"analyte": "anc", "value": 1, "unit": "10^9/L", "at": "2026-01-01"}, ["wbc", 1, "10^9/L", "2026-01-01"]]}"#,
                "results[1]",
            ),
            (r#"{"medications": [null]}"#, "medications[0]"),
        ] {
            let (status, _, answer) =
                call("shape", "POST", "/v1/assess", body.as_bytes().to_vec()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(answer["error"]["field"], field, "{body}");
        }
        let (status, _, answer) = call(
            "shape-patient",
            "POST",
            "/v1/patients",
            b"[null, null, null]".to_vec(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["error"]["code"], "invalid_input");
    }
}
