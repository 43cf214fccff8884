//! CDS Hooks 2.0 (<https://cds-hooks.hl7.org/2.0/>): discovery, the `patient-view` and
//! `order-select` services, and the feedback endpoint.
//!
//! * `GET /cds-services` lists two services with their prefetch templates.
//! * `POST /cds-services/{id}` reads the request's prefetch (resources or searchset Bundles)
//!   into one FHIR collection Bundle, reads it with [`leuko_fhir::read_bundle`], assesses it
//!   as of now (the clock is read here, never in the core) and answers cards.
//!   A prefetch key the client left out (or answered with an OperationOutcome) is read from
//!   the request's `fhirServer` with `fhirAuthorization.access_token` as the bearer token
//!   (ureq in a blocking task; http and https only; 4 s and 4 MiB per read; no redirects, so
//!   the token goes nowhere else; the query, which names the patient, is never logged). A
//!   key sent as `null` means "nothing there" and is not read. When the patient or the counts
//!   cannot be had, the answer is 412 Precondition Failed, as the spec says.
//! * `POST /cds-services/{id}/feedback` validates every item, then stores them in one
//!   transaction (`Store::save_cds_feedback`: service, card, outcome, time, accepted
//!   suggestion ids, override reason coding, whether a comment was given); the same item sent
//!   again is stored once, a changed one is 409. The free-text `userComment` is neither stored
//!   nor logged.
//!
//! **Trusting CDS clients** ([`crate::cds_auth`]): with `leuko serve --cds-issuers FILE` the
//! service call and feedback need `Authorization: Bearer <JWT>` signed by an allow-listed
//! issuer's key (asymmetric `alg` only; `typ`, `kid`, `jku` allow-list, `aud` = the exact URL
//! called, `exp`, `iat`, `jti` replay); `--cds-auth strict` (the default with issuers)
//! answers 401 naming the claim, `tolerant` logs and counts, `off` (the default without
//! issuers, warned at start-up) checks nothing. Discovery is open. Keys come from the
//! configured JWK Set files: a `jku` header is only checked against the allow-list, never
//! fetched.
//!
//! Not done: CORS for browser-based CDS clients (the routes send no CORS headers, so a
//! browser client on another origin cannot call them); fetching a remote `jku` key set;
//! prefetch tokens other than `{{context.X}}` (leuko's templates use only
//! `context.patientId`).
//!
//! The spec's examples are fixtures (`tests/fixtures/cds/`), and the answers are checked
//! against `schema/cds-hooks/cds-hooks.schema.json` (`scripts/cds_schema_check.py`,
//! `scripts/cds-interop.sh` with npm `@medplum/core` as the client).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use leuko_core::{Assessment, Level, Options, Truth, fmt_num};
use leuko_kb::Knowledge;
use leuko_store::{CdsFeedback, Outcome, OverrideReason};
use serde_json::{Map, Value, json};
use sha2::Digest;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{ApiError, AppState};

/// The `patient-view` service's id.
pub const PATIENT_VIEW: &str = "leuko-patient-view";
/// The `order-select` service's id.
pub const ORDER_SELECT: &str = "leuko-order-select";

const LOINC: &str = "http://loinc.org";
const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
const OVERRIDE_SYSTEM: &str = "https://example.invalid/leuko/override";
const SOURCE_SYSTEM: &str = "https://example.invalid/leuko/source";
/// LOINC codes of a CBC order (CBC with differential, CBC panel, WBC).
const CBC_ORDERS: &[&str] = &["58410-2", "57021-8", "6690-2"];
/// Cards' summaries are "<140 characters".
const SUMMARY_MAX: usize = 139;

/// The prefetch keys this service asks for; the first two are required.
const PREFETCH_PATIENT: &str = "patient";
const PREFETCH_COUNTS: &str = "counts";

fn prefetch_templates() -> Value {
    let counts = ["6690-2", "751-8", "731-0", "777-3", "718-7", "770-8"]
        .iter()
        .map(|c| format!("{LOINC}|{c}"))
        .collect::<Vec<_>>()
        .join(",");
    json!({
        PREFETCH_PATIENT: "Patient/{{context.patientId}}",
        PREFETCH_COUNTS: format!("Observation?patient={{{{context.patientId}}}}&code={counts}&_sort=-date&_count=50"),
        "temperature": format!("Observation?patient={{{{context.patientId}}}}&code={LOINC}|8310-5&_sort=-date&_count=10"),
        "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
        "conditions": "Condition?patient={{context.patientId}}",
    })
}

/// `GET /cds-services`: the discovery document.
pub async fn discovery() -> Json<Value> {
    Json(json!({"services": [
        {
            "hook": "patient-view",
            "title": "leuko: low white-cell counts",
            "description": "When a chart opens, grades the latest white-cell counts (CTCAE v5), triages them (emergency to routine), and lists possible causes and the work-up. Decision support, not a diagnosis.",
            "id": PATIENT_VIEW,
            "prefetch": prefetch_templates(),
        },
        {
            "hook": "order-select",
            "title": "leuko: counts for myelotoxic drugs and CBC orders",
            "description": "When a myelotoxic drug (clozapine, methotrexate, chemotherapy, …) or a CBC is selected, shows the last counts, their grades and the monitoring rule; also warns about low counts.",
            "id": ORDER_SELECT,
            "prefetch": prefetch_templates(),
        }
    ]}))
}

fn service_hook(id: &str) -> Option<&'static str> {
    match id {
        PATIENT_VIEW => Some("patient-view"),
        ORDER_SELECT => Some("order-select"),
        _ => None,
    }
}

fn service_id(p: Result<Path<String>, PathRejection>) -> Result<(String, &'static str), ApiError> {
    let Path(id) = p.map_err(|r| ApiError::invalid("id", r.body_text()))?;
    let hook = service_hook(&id).ok_or_else(|| {
        ApiError::not_found(format!(
            "no CDS service {id:?} (known: {PATIENT_VIEW}, {ORDER_SELECT})"
        ))
    })?;
    Ok((id, hook))
}

fn json_object(b: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let bytes = b.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large()
        } else {
            ApiError::invalid("body", r.body_text())
        }
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::invalid(
            "body",
            format!(
                "not valid JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::invalid("$", "the body is not a JSON object")),
    }
}

fn required_str<'v>(m: &'v Map<String, Value>, key: &str, path: &str) -> Result<&'v str, ApiError> {
    match m.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(ApiError::invalid(path, format!("{path} is empty"))),
        None | Some(Value::Null) => Err(ApiError::invalid(path, format!("{path} is required"))),
        Some(_) => Err(ApiError::invalid(path, format!("{path} is not a string"))),
    }
}

/// Where to fetch missing prefetch from: the client's FHIR server and its bearer token.
pub(crate) struct FhirSource {
    base: String,
    token: Option<String>,
}

/// Largest FHIR response read for one prefetch key.
const FETCH_LIMIT: u64 = 4 * 1024 * 1024;
/// Time allowed for one FHIR read (connect, send, receive).
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);
/// Time allowed for all the reads of one call (under the request time limit).
const FETCH_BUDGET: std::time::Duration = std::time::Duration::from_secs(8);

/// `fhirServer` and `fhirAuthorization` of a request, checked: an http(s) URL; a `Bearer`
/// access token.
fn fhir_source(req: &Map<String, Value>) -> Result<Option<FhirSource>, ApiError> {
    let Some(base) = req.get("fhirServer").and_then(Value::as_str) else {
        return Ok(None);
    };
    let lower = base.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(ApiError::invalid(
            "fhirServer",
            format!("fhirServer {base:?} is not an http:// or https:// URL"),
        ));
    }
    let token = match req.get("fhirAuthorization") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => {
            let t = required_str(a, "access_token", "fhirAuthorization.access_token")?;
            if let Some(tt) = a.get("token_type").and_then(Value::as_str)
                && !tt.eq_ignore_ascii_case("bearer")
            {
                return Err(ApiError::invalid(
                    "fhirAuthorization.token_type",
                    format!("fhirAuthorization.token_type is {tt:?}, not \"Bearer\""),
                ));
            }
            if !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ApiError::invalid(
                    "fhirAuthorization.access_token",
                    "fhirAuthorization.access_token holds characters a header cannot carry",
                ));
            }
            Some(t.to_owned())
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "fhirAuthorization",
                "fhirAuthorization is not an object",
            ));
        }
    };
    Ok(Some(FhirSource {
        base: base.trim_end_matches('/').to_owned(),
        token,
    }))
}

/// A prefetch template with its `{{context.X}}` tokens replaced by the context's values
/// (URL-encoded).
fn fill_template(template: &str, context: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed token in {template:?}"))?;
        let token = after[..end].trim();
        let name = token
            .strip_prefix("context.")
            .ok_or_else(|| format!("token {{{{{token}}}}} is not a context field"))?;
        let value = context
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("context.{name} is not given"))?;
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads each missing prefetch key's query from the FHIR server (blocking; bounded time and
/// size; no redirects, so the token goes nowhere else). Errors never hold the query (it
/// names the patient): they go to the log.
fn fetch_missing(
    source: &FhirSource,
    context: &Map<String, Value>,
    keys: &[String],
) -> Vec<(String, Result<Value, String>)> {
    let templates = prefetch_templates();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .max_redirects(0)
        .http_status_as_error(true)
        .build()
        .into();
    let deadline = std::time::Instant::now() + FETCH_BUDGET;
    keys.iter()
        .map(|key| {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let result = if left.is_zero() {
                Err("GET: the time for reading from fhirServer is spent".to_owned())
            } else {
                templates
                    .get(key)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("no template for {key:?}"))
                    .and_then(|t| fill_template(t, context))
                    .and_then(|query| fetch_one(&agent, source, &query, left.min(FETCH_TIMEOUT)))
            };
            (key.clone(), result)
        })
        .collect()
}

fn fetch_one(
    agent: &ureq::Agent,
    source: &FhirSource,
    query: &str,
    timeout: std::time::Duration,
) -> Result<Value, String> {
    let url = format!("{}/{query}", source.base);
    let mut request = agent
        .get(&url)
        .config()
        .timeout_global(Some(timeout))
        .build()
        .header("Accept", "application/fhir+json");
    if let Some(t) = &source.token {
        request = request.header("Authorization", format!("Bearer {t}"));
    }
    let mut response = request.call().map_err(|e| format!("GET: {e}"))?;
    let bytes = response
        .body_mut()
        .with_config()
        .limit(FETCH_LIMIT)
        .read_to_vec()
        .map_err(|e| format!("GET: {e}"))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("GET: the answer is not JSON: {e}"))?;
    match value.get("resourceType").and_then(Value::as_str) {
        Some("OperationOutcome") => Err("GET: the answer is an OperationOutcome".to_owned()),
        Some(_) => Ok(value),
        None => Err("GET: the answer is not a FHIR resource".to_owned()),
    }
}

/// The 412 answer: the service cannot get the data it needs.
fn precondition_failed(key: &str) -> Response {
    (
        StatusCode::PRECONDITION_FAILED,
        Json(json!({"error": {
            "code": "precondition_failed",
            "message": format!("prefetch {key:?} is missing and could not be read from fhirServer (none given, or the read failed); leuko needs it"),
            "field": format!("prefetch.{key}"),
        }})),
    )
        .into_response()
}

/// A deterministic UUID-shaped id from the hook instance and a label.
fn uuid_from(hook_instance: &str, what: &str) -> String {
    let d = sha2::Sha256::digest(format!("{hook_instance}:{what}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
    // Version 5-like (name-based, SHA) and the RFC 4122 variant.
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Cuts to fewer than 140 characters on a char boundary, with an ellipsis when cut.
fn summary(text: &str) -> String {
    if text.chars().count() <= SUMMARY_MAX {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(SUMMARY_MAX - 1).collect();
    s = s.trim_end().to_owned();
    s.push('…');
    s
}

fn indicator(level: Level) -> &'static str {
    match level {
        Level::Emergency | Level::Urgent => "critical",
        Level::Soon => "warning",
        Level::Routine | Level::None => "info",
    }
}

/// Resources of the prefetch as one collection Bundle, and where each entry came from.
fn prefetch_bundle(prefetch: &Map<String, Value>) -> Result<(Value, Vec<String>), ApiError> {
    let mut entries = Vec::new();
    let mut origins = Vec::new();
    for (key, value) in prefetch {
        let path = format!("prefetch.{key}");
        match value {
            Value::Null => {}
            Value::Object(r) => match r.get("resourceType").and_then(Value::as_str) {
                Some("Bundle") => {
                    let list = match r.get("entry") {
                        None => &[][..],
                        Some(Value::Array(a)) => a.as_slice(),
                        Some(_) => {
                            return Err(ApiError::invalid(
                                format!("{path}.entry"),
                                "expected an array",
                            ));
                        }
                    };
                    for (i, e) in list.iter().enumerate() {
                        if let Some(res) = e.get("resource") {
                            entries.push(json!({"resource": res}));
                            origins.push(format!("{path}.entry[{i}].resource"));
                        }
                    }
                }
                Some("OperationOutcome") => {}
                Some(_) => {
                    entries.push(json!({"resource": value}));
                    origins.push(path);
                }
                None => {
                    return Err(ApiError::invalid(
                        format!("{path}.resourceType"),
                        "a prefetch value must be a FHIR resource or Bundle",
                    ));
                }
            },
            _ => {
                return Err(ApiError::invalid(
                    path,
                    "a prefetch value must be a FHIR resource, a Bundle or null",
                ));
            }
        }
    }
    Ok((
        json!({"resourceType": "Bundle", "type": "collection", "entry": entries}),
        origins,
    ))
}

/// A reader error's path, in terms of the request.
fn request_path(path: &str, origins: &[String]) -> String {
    if let Some(rest) = path.strip_prefix("entry[")
        && let Some((i, tail)) = rest.split_once("].resource")
        && let Ok(i) = i.parse::<usize>()
        && let Some(origin) = origins.get(i)
    {
        return format!("{origin}{tail}");
    }
    format!("prefetch ({path})")
}

fn is_unusable(v: Option<&Value>) -> bool {
    match v {
        None => true,
        Some(Value::Object(r)) => {
            r.get("resourceType").and_then(Value::as_str) == Some("OperationOutcome")
        }
        Some(_) => false,
    }
}

/// A draft order that matters: a myelotoxic drug or a CBC.
enum Relevant<'k> {
    Drug(&'k leuko_kb::Drug),
    Cbc(String),
}

fn codings(cc: &Value) -> Vec<(&str, &str, &str)> {
    cc.get("coding")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
                    (s("system"), s("code"), s("display"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn relevant_orders<'k>(kb: &'k Knowledge, draft: &Value) -> Vec<Relevant<'k>> {
    let mut out: Vec<Relevant<'k>> = Vec::new();
    let entries = draft
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for r in entries.iter().filter_map(|e| e.get("resource")) {
        match r.get("resourceType").and_then(Value::as_str) {
            Some("MedicationRequest") => {
                let Some(cc) = r.get("medicationCodeableConcept") else {
                    continue;
                };
                let codes = codings(cc);
                let mut drugs: Vec<&leuko_kb::Drug> = codes
                    .iter()
                    .filter(|(s, _, _)| *s == RXNORM)
                    .filter_map(|(_, c, _)| kb.drug_by_rxnorm(c))
                    .collect();
                if drugs.is_empty() {
                    let text = cc.get("text").and_then(Value::as_str);
                    for name in text.into_iter().chain(codes.iter().map(|(_, _, d)| *d)) {
                        drugs.extend(kb.drugs_in_text(name));
                        if !drugs.is_empty() {
                            break;
                        }
                    }
                }
                for d in drugs {
                    let myelotoxic = d.cause == "drug-induced" || d.cause == "chemotherapy";
                    let seen = out
                        .iter()
                        .any(|o| matches!(o, Relevant::Drug(x) if x.id == d.id));
                    if myelotoxic && !seen {
                        out.push(Relevant::Drug(d));
                    }
                }
            }
            Some("ServiceRequest") => {
                if let Some(cc) = r.get("code")
                    && let Some((_, code, display)) = codings(cc)
                        .into_iter()
                        .find(|(s, c, _)| *s == LOINC && CBC_ORDERS.contains(c))
                {
                    let name = if display.is_empty() {
                        format!("LOINC {code}")
                    } else {
                        display.to_owned()
                    };
                    out.push(Relevant::Cbc(name));
                }
            }
            _ => {}
        }
    }
    out
}

/// A draft ServiceRequest for a LOINC-coded test.
fn service_request(loinc: &str, display: &str, patient_id: &str) -> Value {
    json!({
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": display},
        "subject": {"reference": format!("Patient/{patient_id}")},
    })
}

fn override_reasons() -> Value {
    json!([
        {"code": "patient-known-benign", "system": OVERRIDE_SYSTEM, "display": "Known benign low count (e.g. Duffy-null or constitutional)"},
        {"code": "already-addressed", "system": OVERRIDE_SYSTEM, "display": "Already being addressed"},
        {"code": "not-relevant", "system": OVERRIDE_SYSTEM, "display": "Not relevant to this patient"},
    ])
}

/// The card's `source`: leuko, citing the first source of the first fired rule.
fn card_source(kb: &Knowledge, a: &Assessment) -> Value {
    let mut source = json!({"label": "leuko"});
    let cited = a
        .fired
        .first()
        .and_then(|f| kb.rule(&f.rule))
        .and_then(|r| r.sources.first())
        .and_then(|id| kb.source(id));
    if let Some(s) = cited {
        source["topic"] = json!({"system": SOURCE_SYSTEM, "code": s.id, "display": s.citation});
        if !s.url.is_empty() {
            source["url"] = json!(s.url);
        }
    }
    source
}

fn links(headers: &HeaderMap) -> Option<Value> {
    let host = headers.get("host")?.to_str().ok()?;
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !ok {
        return None;
    }
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let scheme = if https { "https" } else { "http" };
    Some(json!([{"label": "Open leuko", "url": format!("{scheme}://{host}/"), "type": "absolute"}]))
}

fn counts_lines(a: &Assessment) -> Vec<String> {
    let mut out = Vec::new();
    for c in &a.counts {
        let grade = a
            .grades
            .iter()
            .find(|g| {
                g.key == c.analyte.as_str() || (g.key == "anemia" && c.analyte.as_str() == "hgb")
            })
            .filter(|g| g.grade > 0)
            .map(|g| format!(", CTCAE grade {} ({})", g.grade, g.term))
            .unwrap_or_default();
        let low = if c.low == Truth::True { " — low" } else { "" };
        out.push(format!(
            "- {} {} {} ({}){low}{grade}",
            c.analyte.as_str(),
            fmt_num(c.value),
            c.unit,
            c.at.date()
        ));
    }
    out
}

/// The low-count card, when anything is low.
fn assessment_card(
    kb: &Knowledge,
    a: &Assessment,
    hook_instance: &str,
    patient_id: &str,
    headers: &HeaderMap,
    index: usize,
) -> Option<Value> {
    if a.level == Level::None {
        return None;
    }
    let headline = a
        .fired
        .first()
        .and_then(|f| kb.rule(&f.rule))
        .map_or("low white-cell count", |r| r.text.as_str());
    let anc = a
        .neutropenia
        .as_ref()
        .map(|n| format!(" (ANC {})", fmt_num(n.anc)))
        .unwrap_or_default();
    let level = a.level.as_str();
    let mut first = level.chars();
    let level_word: String = first
        .next()
        .map(|c| c.to_uppercase().chain(first).collect())
        .unwrap_or_default();
    let text = format!("{level_word}{anc}: {headline}");

    // The rules at the overall level (the lower-level rules that also fired add nothing to
    // what to do now).
    let mut detail = String::from("**Why**\n\n");
    for f in a.fired.iter().filter(|f| f.level == a.level) {
        let words = kb
            .rule(&f.rule)
            .map_or(f.rule.as_str(), |r| r.text.as_str());
        if f.detail.is_empty() {
            detail.push_str(&format!("- {words}\n"));
        } else {
            detail.push_str(&format!("- {words} ({})\n", f.detail));
        }
    }
    let counts = counts_lines(a);
    if !counts.is_empty() {
        detail.push_str("\n**Latest counts**\n\n");
        detail.push_str(&counts.join("\n"));
        detail.push('\n');
    }
    if !a.differential.is_empty() {
        detail.push_str("\n**Possible causes** (a ranking aid, not a diagnosis)\n\n");
        for c in a.differential.iter().take(3) {
            detail.push_str(&format!("- {} ({:.0}%)\n", c.name(), c.weight * 100.0));
        }
    }
    if !a.workup.is_empty() {
        detail.push_str("\n**Work-up**\n\n");
        for w in a.workup.iter().take(6) {
            detail.push_str(&format!(
                "- {} ({}): {}\n",
                w.name(),
                w.priority.as_str(),
                w.reason()
            ));
        }
    }

    let mut suggestions = vec![json!({
        "label": "Order a repeat CBC with differential",
        "uuid": uuid_from(hook_instance, &format!("card-{index}-cbc")),
        "actions": [{
            "type": "create",
            "description": "Draft order: CBC with differential (LOINC 57021-8)",
            "resource": service_request("57021-8", "CBC W Auto Differential panel - Blood", patient_id),
        }]
    })];
    if a.workup.iter().any(|w| w.loinc() == Some("600-7")) {
        suggestions.insert(
            0,
            json!({
                "label": "Order blood cultures",
                "uuid": uuid_from(hook_instance, &format!("card-{index}-blood-culture")),
                "isRecommended": true,
                "actions": [{
                    "type": "create",
                    "description": "Draft order: blood cultures before antibiotics (LOINC 600-7)",
                    "resource": service_request("600-7", "Bacteria identified in Blood by Culture", patient_id),
                }]
            }),
        );
    }
    let mut card = json!({
        "uuid": uuid_from(hook_instance, &format!("card-{index}")),
        "summary": summary(&text),
        "indicator": indicator(a.level),
        "detail": detail,
        "source": card_source(kb, a),
        "suggestions": suggestions,
        "selectionBehavior": "at-most-one",
        "overrideReasons": override_reasons(),
    });
    if let Some(l) = links(headers) {
        card["links"] = l;
    }
    Some(card)
}

/// The order-select card: the last counts, grades and monitoring for the relevant orders.
fn order_card(
    kb: &Knowledge,
    a: &Assessment,
    clozapine: Option<&leuko_core::Clozapine>,
    orders: &[Relevant<'_>],
    hook_instance: &str,
    headers: &HeaderMap,
    index: usize,
) -> Value {
    let names: Vec<String> = orders
        .iter()
        .map(|o| match o {
            Relevant::Drug(d) => d.name.clone(),
            Relevant::Cbc(n) => n.clone(),
        })
        .collect();
    let last = a
        .neutropenia
        .as_ref()
        .map(|n| format!("last ANC {}", fmt_num(n.anc)))
        .or_else(|| {
            a.counts
                .first()
                .map(|c| format!("last {} {}", c.analyte.as_str(), fmt_num(c.value)))
        })
        .unwrap_or_else(|| "no recent counts".to_owned());
    let text = format!("{} ordered: {last}", names.join(", "));
    let mut detail = String::from("**Last counts**\n\n");
    let counts = counts_lines(a);
    if counts.is_empty() {
        detail.push_str("- none in the prefetch: obtain a CBC with differential before starting\n");
    } else {
        detail.push_str(&counts.join("\n"));
        detail.push('\n');
    }
    for o in orders {
        if let Relevant::Drug(d) = o {
            detail.push_str(&format!("\n**{}** ({})\n\n", d.name, d.cause));
            if d.id == "clozapine"
                && let Some(c) = clozapine
            {
                detail.push_str(&format!(
                    "- Clozapine ANC category ({} table): {} (ANC {})\n- Action: {}\n- Monitoring: {}\n",
                    c.table,
                    c.category,
                    fmt_num(c.anc),
                    c.action,
                    c.monitoring
                ));
                if !c.confirm.is_empty() {
                    detail.push_str(&format!("- Confirm: {}\n", c.confirm));
                }
            }
            if !d.monitoring.is_empty() {
                detail.push_str(&format!("- Monitoring rule: {}\n", d.monitoring));
            }
        }
    }
    let level = if clozapine.is_some_and(|c| c.interrupt) {
        Level::Urgent.max(a.level)
    } else {
        a.level
    };
    let cited = orders
        .iter()
        .find_map(|o| match o {
            Relevant::Drug(d) => d.sources.first(),
            Relevant::Cbc(_) => None,
        })
        .and_then(|id| kb.source(id));
    let mut source = json!({"label": "leuko"});
    if let Some(s) = cited {
        source["topic"] = json!({"system": SOURCE_SYSTEM, "code": s.id, "display": s.citation});
        if !s.url.is_empty() {
            source["url"] = json!(s.url);
        }
    } else {
        source = card_source(kb, a);
    }
    let mut card = json!({
        "uuid": uuid_from(hook_instance, &format!("card-{index}")),
        "summary": summary(&text),
        "indicator": indicator(level),
        "detail": detail,
        "source": source,
        "overrideReasons": override_reasons(),
    });
    if let Some(l) = links(headers) {
        card["links"] = l;
    }
    card
}

/// The CDS client's JWT checked as configured, before the body is read.
fn admit(s: &AppState, headers: &HeaderMap, path: &str) -> Result<(), ApiError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    s.cds_auth.admit(headers, path, &s.metrics, now)
}

/// `POST /cds-services/{id}`: cards for a hook call.
pub async fn call(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Result<Path<String>, PathRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (id, hook) = service_id(p)?;
    admit(&s, &headers, &format!("/cds-services/{id}"))?;
    let req = json_object(b)?;
    let got_hook = required_str(&req, "hook", "hook")?;
    if got_hook != hook {
        return Err(ApiError::invalid(
            "hook",
            format!("this service answers the {hook} hook, not {got_hook:?}"),
        ));
    }
    let hook_instance = required_str(&req, "hookInstance", "hookInstance")?.to_owned();
    let context = match req.get("context") {
        Some(Value::Object(c)) => c,
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("context", "context is required"));
        }
        Some(_) => return Err(ApiError::invalid("context", "context is not an object")),
    };
    let patient_id = required_str(context, "patientId", "context.patientId")?.to_owned();
    if let Some(v) = req.get("fhirServer")
        && !v.is_string()
    {
        return Err(ApiError::invalid(
            "fhirServer",
            "fhirServer is not a string",
        ));
    }
    if req.get("fhirAuthorization").is_some_and(|v| !v.is_null()) && req.get("fhirServer").is_none()
    {
        return Err(ApiError::invalid(
            "fhirServer",
            "fhirServer is required when fhirAuthorization is given",
        ));
    }
    let draft = if hook == "order-select" {
        let selections_ok = context
            .get("selections")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string));
        if !selections_ok {
            return Err(ApiError::invalid(
                "context.selections",
                "context.selections (a non-empty array of ids such as \"MedicationRequest/103\") is required for order-select",
            ));
        }
        match context.get("draftOrders") {
            Some(d @ Value::Object(_)) => Some(d.clone()),
            _ => {
                return Err(ApiError::invalid(
                    "context.draftOrders",
                    "context.draftOrders (a Bundle) is required for order-select",
                ));
            }
        }
    } else {
        None
    };
    let empty = Map::new();
    let prefetch = match req.get("prefetch") {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => &empty,
        Some(_) => return Err(ApiError::invalid("prefetch", "prefetch is not an object")),
    };
    // A prefetch key the client left out (or answered with an OperationOutcome) is fetched
    // from `fhirServer` with the given bearer token; a required one that cannot be had is a
    // 412 Precondition Failed. A key sent as null means "nothing there" and is not fetched.
    let missing: Vec<String> = prefetch_templates()
        .as_object()
        .map(|t| {
            t.keys()
                .filter(|k| is_unusable(prefetch.get(k.as_str())))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut prefetch = prefetch.clone();
    let source = fhir_source(&req)?;
    if !missing.is_empty()
        && let Some(source) = source
    {
        let context = context.clone();
        let fetched =
            tokio::task::spawn_blocking(move || fetch_missing(&source, &context, &missing))
                .await
                .map_err(ApiError::internal)?;
        for (key, result) in fetched {
            match result {
                Ok(v) => {
                    prefetch.insert(key, v);
                }
                Err(e) => {
                    tracing::warn!(key = %key, reason = %e, "prefetch from fhirServer failed");
                }
            }
        }
    }
    for key in [PREFETCH_PATIENT, PREFETCH_COUNTS] {
        if is_unusable(prefetch.get(key)) {
            return Ok(precondition_failed(key));
        }
    }
    let (bundle, origins) = prefetch_bundle(&prefetch)?;
    let kb = &s.kb;
    let record = leuko_fhir::read_bundle(kb, &bundle)
        .map_err(|e| ApiError::invalid(request_path(&e.path, &origins), e.message))?;
    let now = OffsetDateTime::now_utc();
    let a = leuko_core::assess(kb, &record, now, &Options::default())
        .map_err(|e| ApiError::invalid("profile", e.to_string()))?;

    let mut cards = Vec::new();
    if let Some(card) = assessment_card(kb, &a, &hook_instance, &patient_id, &headers, cards.len())
    {
        cards.push(card);
    }
    if let Some(draft) = draft {
        let orders = relevant_orders(kb, &draft);
        if !orders.is_empty() {
            let wants_clozapine = orders
                .iter()
                .any(|o| matches!(o, Relevant::Drug(d) if d.id == "clozapine"));
            // The clozapine table needs clozapine among the medicines: when only the draft
            // order names it, assess once more with it as a current medicine, for that table
            // only (the main assessment is not changed by an order not yet signed).
            let extra;
            let clozapine = if a.clozapine.is_some() || !wants_clozapine {
                a.clozapine.as_ref()
            } else {
                let mut r = record.clone();
                r.medications.push(leuko_core::MedicationEntry {
                    drugs: vec!["clozapine".to_owned()],
                    text: "clozapine (draft order)".to_owned(),
                    start: Some(now),
                    end: None,
                    active: true,
                    source_ref: "context.draftOrders".to_owned(),
                });
                extra = leuko_core::assess(kb, &r, now, &Options::default()).ok();
                extra.as_ref().and_then(|x| x.clozapine.as_ref())
            };
            cards.push(order_card(
                kb,
                &a,
                clozapine,
                &orders,
                &hook_instance,
                &headers,
                cards.len(),
            ));
        }
    }
    Ok(Json(json!({"cards": cards})).into_response())
}

fn check_coding(c: &Value, path: &str) -> Result<(), ApiError> {
    let Some(m) = c.as_object() else {
        return Err(ApiError::invalid(
            path,
            format!("{path} is not a Coding object"),
        ));
    };
    required_str(m, "code", &format!("{path}.code"))?;
    for key in ["system", "display"] {
        if let Some(v) = m.get(key)
            && !v.is_string()
        {
            return Err(ApiError::invalid(
                format!("{path}.{key}"),
                format!("{path}.{key} is not a string"),
            ));
        }
    }
    Ok(())
}

/// `POST /cds-services/{id}/feedback`: validates every item, then stores them in one
/// transaction (the same item sent again is stored once). The free-text `userComment` is
/// neither stored nor logged: only whether one was given.
pub async fn feedback(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Result<Path<String>, PathRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (id, _) = service_id(p)?;
    admit(&s, &headers, &format!("/cds-services/{id}/feedback"))?;
    let body = json_object(b)?;
    let items = match body.get("feedback") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid("feedback", "feedback is empty"));
        }
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("feedback", "feedback is required"));
        }
        Some(_) => return Err(ApiError::invalid("feedback", "feedback is not an array")),
    };
    let received_at = OffsetDateTime::now_utc();
    // Everything is validated before anything is stored.
    let mut valid = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        valid.push(feedback_item(
            &id,
            item,
            &format!("feedback[{i}]"),
            received_at,
        )?);
    }
    let store = s.store.clone();
    let rows = valid.clone();
    let stored = crate::api::blocking(move || store.save_cds_feedback(&rows)).await?;
    for (f, new) in valid.iter().zip(stored) {
        tracing::info!(
            service = %id,
            card = %f.card,
            outcome = f.outcome.as_str(),
            override_reason = f.override_reason.as_ref().map_or("", |r| r.code.as_str()),
            accepted_suggestions = f.accepted_suggestions.len(),
            new,
            "cds feedback"
        );
    }
    Ok(StatusCode::OK.into_response())
}

fn opt_str(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(
            format!("{path}.{key}"),
            format!("{path}.{key} is not a string"),
        )),
    }
}

/// One feedback item, checked against the spec's table.
fn feedback_item(
    service: &str,
    item: &Value,
    path: &str,
    received_at: OffsetDateTime,
) -> Result<CdsFeedback, ApiError> {
    let Some(m) = item.as_object() else {
        return Err(ApiError::invalid(path, format!("{path} is not an object")));
    };
    let card = required_str(m, "card", &format!("{path}.card"))?;
    let outcome_word = required_str(m, "outcome", &format!("{path}.outcome"))?;
    let Some(outcome) = Outcome::parse(outcome_word) else {
        return Err(ApiError::invalid(
            format!("{path}.outcome"),
            format!("{path}.outcome is {outcome_word:?}: expected \"accepted\" or \"overridden\""),
        ));
    };
    let ts_path = format!("{path}.outcomeTimestamp");
    let ts = required_str(m, "outcomeTimestamp", &ts_path)?;
    let outcome_at = OffsetDateTime::parse(ts, &Rfc3339).map_err(|_| {
        ApiError::invalid(
            &ts_path,
            format!("{ts_path} is {ts:?}, not an RFC 3339 date-time"),
        )
    })?;
    let mut accepted = Vec::new();
    match m.get("acceptedSuggestions") {
        None => {}
        Some(Value::Array(list)) => {
            for (j, s) in list.iter().enumerate() {
                let sp = format!("{path}.acceptedSuggestions[{j}]");
                let Some(sm) = s.as_object() else {
                    return Err(ApiError::invalid(&sp, format!("{sp} is not an object")));
                };
                accepted.push(required_str(sm, "id", &format!("{sp}.id"))?.to_owned());
            }
        }
        Some(_) => {
            return Err(ApiError::invalid(
                format!("{path}.acceptedSuggestions"),
                "acceptedSuggestions is not an array",
            ));
        }
    }
    if !accepted.is_empty() && outcome != Outcome::Accepted {
        return Err(ApiError::invalid(
            format!("{path}.acceptedSuggestions"),
            "acceptedSuggestions is only allowed with outcome \"accepted\"",
        ));
    }
    let mut override_reason = None;
    let mut has_comment = false;
    if let Some(r) = m.get("overrideReason") {
        let rp = format!("{path}.overrideReason");
        if outcome != Outcome::Overridden {
            return Err(ApiError::invalid(
                &rp,
                "overrideReason is only allowed with outcome \"overridden\"",
            ));
        }
        let Some(rm) = r.as_object() else {
            return Err(ApiError::invalid(&rp, format!("{rp} is not an object")));
        };
        if let Some(reason) = rm.get("reason") {
            let reason_path = format!("{rp}.reason");
            check_coding(reason, &reason_path)?;
            if let Some(c) = reason.as_object() {
                override_reason = Some(OverrideReason {
                    code: required_str(c, "code", &format!("{reason_path}.code"))?.to_owned(),
                    system: opt_str(c, "system", &reason_path)?,
                    display: opt_str(c, "display", &reason_path)?,
                });
            }
        }
        match rm.get("userComment") {
            None | Some(Value::Null) => {}
            Some(Value::String(c)) => has_comment = !c.trim().is_empty(),
            Some(_) => {
                return Err(ApiError::invalid(
                    format!("{rp}.userComment"),
                    "userComment is not a string",
                ));
            }
        }
    }
    Ok(CdsFeedback {
        service_id: service.to_owned(),
        card: card.to_owned(),
        outcome,
        outcome_at,
        accepted_suggestions: accepted,
        override_reason,
        has_comment,
        received_at,
    })
}

#[cfg(test)]
#[path = "cds_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "cds_spec_tests.rs"]
mod spec_tests;
