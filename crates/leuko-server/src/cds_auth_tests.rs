//! The CDS client JWT checks: every rejection path names its claim, and good tokens of each
//! accepted algorithm pass. Keys: `tests/fixtures/jwt/` (test-only, see its README).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AuthMode, CdsAuth, Issuer};
use crate::{AppState, app};

const EHR: &str = "https://ehr.example.org";
const OTHER: &str = "https://other.example.org";
const BASE: &str = "https://leuko.example.org";
const PATH: &str = "/cds-services/leuko-patient-view";
const JKU: &str = "https://ehr.example.org/.well-known/jwks.json";

fn pem(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/jwt/{name}.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn signing_key(name: &str) -> (EncodingKey, Algorithm) {
    let bytes = pem(name);
    match name {
        "es384" => (
            EncodingKey::from_ec_pem(&bytes).unwrap_or_else(|e| panic!("{e}")),
            Algorithm::ES384,
        ),
        "es256" => (
            EncodingKey::from_ec_pem(&bytes).unwrap_or_else(|e| panic!("{e}")),
            Algorithm::ES256,
        ),
        _ => (
            EncodingKey::from_rsa_pem(&bytes).unwrap_or_else(|e| panic!("{e}")),
            Algorithm::RS384,
        ),
    }
}

fn public_jwk(name: &str, kid: &str) -> Jwk {
    let (key, alg) = signing_key(name);
    let mut jwk = Jwk::from_encoding_key(&key, alg).unwrap_or_else(|e| panic!("{e}"));
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

fn checker(mode: AuthMode) -> CdsAuth {
    let issuers = vec![
        Issuer {
            iss: EHR.to_owned(),
            keys: JwkSet {
                keys: vec![
                    public_jwk("es384", "ehr-es384"),
                    public_jwk("rs384", "ehr-rs384"),
                ],
            },
            jku: vec![JKU.to_owned()],
        },
        Issuer {
            iss: OTHER.to_owned(),
            keys: JwkSet {
                keys: vec![public_jwk("es256", "other-es256")],
            },
            jku: Vec::new(),
        },
    ];
    CdsAuth::new(mode, BASE, issuers, 3600).unwrap_or_else(|e| panic!("{e}"))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

static JTI: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Good claims for `PATH`, with a fresh jti.
fn claims(iss: &str) -> Value {
    let n = JTI.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    json!({
        "iss": iss,
        "sub": iss,
        "aud": format!("{BASE}{PATH}"),
        "exp": now() + 300,
        "iat": now(),
        "jti": format!("jti-{n}-{}", std::process::id()),
    })
}

fn sign(key: &str, kid: Option<&str>, claims: &Value) -> String {
    let (k, alg) = signing_key(key);
    let mut h = Header::new(alg);
    h.typ = Some("JWT".to_owned());
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&h, claims, &k).unwrap_or_else(|e| panic!("{e}"))
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

/// A token with a hand-made header and signature part.
fn raw(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap_or_else(|e| panic!("{e}")),
    );
    h
}

fn check(auth: &CdsAuth, token: &str) -> Result<String, &'static str> {
    auth.verify(&bearer(token), PATH, now())
        .map_err(|f| f.claim)
}

#[test]
fn good_tokens_of_each_algorithm_are_accepted() {
    let auth = checker(AuthMode::Strict);
    assert_eq!(
        check(&auth, &sign("es384", Some("ehr-es384"), &claims(EHR))),
        Ok(EHR.to_owned())
    );
    assert_eq!(
        check(&auth, &sign("rs384", Some("ehr-rs384"), &claims(EHR))),
        Ok(EHR.to_owned())
    );
    assert_eq!(
        check(&auth, &sign("es256", Some("other-es256"), &claims(OTHER))),
        Ok(OTHER.to_owned())
    );
    // aud as an array holding the URL; an allow-listed jku.
    let mut c = claims(EHR);
    c["aud"] = json!(["https://elsewhere.example.org", format!("{BASE}{PATH}")]);
    assert_eq!(
        check(&auth, &sign("es384", Some("ehr-es384"), &c)),
        Ok(EHR.to_owned())
    );
    let (k, alg) = signing_key("es384");
    let mut h = Header::new(alg);
    h.typ = Some("JWT".to_owned());
    h.kid = Some("ehr-es384".to_owned());
    h.jku = Some(JKU.to_owned());
    let t = jsonwebtoken::encode(&h, &claims(EHR), &k).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check(&auth, &t), Ok(EHR.to_owned()));
}

#[test]
fn alg_none_and_hmac_are_rejected() {
    let auth = checker(AuthMode::Strict);
    let none = raw(
        &json!({"alg": "none", "typ": "JWT", "kid": "ehr-es384"}),
        &claims(EHR),
        b"",
    );
    assert_eq!(check(&auth, &none), Err("alg"));
    // The classic confusion: HS256 "signed" with the issuer's public key as the secret.
    for alg in ["HS256", "HS384", "HS512"] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": "ehr-es384"});
        let t = raw(&header, &claims(EHR), b"public-key-as-hmac-secret");
        assert_eq!(check(&auth, &t), Err("alg"), "{alg}");
    }
    let t = raw(
        &json!({"typ": "JWT", "kid": "ehr-es384"}),
        &claims(EHR),
        b"x",
    );
    assert_eq!(check(&auth, &t), Err("alg"));
}

#[test]
fn each_bad_claim_is_named() {
    let auth = checker(AuthMode::Strict);
    let good = |c: &Value| sign("es384", Some("ehr-es384"), c);

    let mut c = claims(EHR);
    c["iss"] = json!("https://evil.example.org");
    assert_eq!(check(&auth, &good(&c)), Err("iss"), "unknown issuer");

    let mut c = claims(EHR);
    c["aud"] = json!(format!("{BASE}/cds-services/leuko-order-select"));
    assert_eq!(check(&auth, &good(&c)), Err("aud"), "another service's URL");
    let mut c = claims(EHR);
    c["aud"] = json!(format!("http://leuko.example.org{PATH}"));
    assert_eq!(check(&auth, &good(&c)), Err("aud"), "not the exact URL");
    let mut c = claims(EHR);
    c.as_object_mut().map(|m| m.remove("aud"));
    assert_eq!(check(&auth, &good(&c)), Err("aud"), "no aud");

    let mut c = claims(EHR);
    c["exp"] = json!(now() - 120);
    assert_eq!(check(&auth, &good(&c)), Err("exp"), "expired");
    let mut c = claims(EHR);
    c["exp"] = json!(now() + 86_400);
    assert_eq!(check(&auth, &good(&c)), Err("exp"), "lives too long");
    let mut c = claims(EHR);
    c.as_object_mut().map(|m| m.remove("exp"));
    assert_eq!(check(&auth, &good(&c)), Err("exp"), "no exp");

    let mut c = claims(EHR);
    c["iat"] = json!(now() + 600);
    assert_eq!(check(&auth, &good(&c)), Err("iat"), "issued in the future");
    let mut c = claims(EHR);
    c.as_object_mut().map(|m| m.remove("iat"));
    assert_eq!(check(&auth, &good(&c)), Err("iat"), "no iat");

    let mut c = claims(EHR);
    c.as_object_mut().map(|m| m.remove("jti"));
    assert_eq!(check(&auth, &good(&c)), Err("jti"), "no jti");
}

#[test]
fn replayed_jti_is_rejected() {
    let auth = checker(AuthMode::Strict);
    let t = sign("es384", Some("ehr-es384"), &claims(EHR));
    assert_eq!(check(&auth, &t), Ok(EHR.to_owned()));
    assert_eq!(check(&auth, &t), Err("jti"));
    // The same jti from another issuer is another token.
    let mut c = claims(OTHER);
    c["jti"] = json!("shared");
    let mut d = claims(EHR);
    d["jti"] = json!("shared");
    assert!(check(&auth, &sign("es256", Some("other-es256"), &c)).is_ok());
    assert!(check(&auth, &sign("es384", Some("ehr-es384"), &d)).is_ok());
}

#[test]
fn keys_and_signatures() {
    let auth = checker(AuthMode::Strict);
    assert_eq!(
        check(&auth, &sign("es384", Some("nope"), &claims(EHR))),
        Err("kid"),
        "unknown kid"
    );
    assert_eq!(
        check(&auth, &sign("es384", None, &claims(EHR))),
        Err("kid"),
        "no kid"
    );
    // The other issuer's key id is not a key of this issuer.
    assert_eq!(
        check(&auth, &sign("es256", Some("other-es256"), &claims(EHR))),
        Err("kid")
    );
    // Signed by a key that is not the one named (right alg family, wrong key).
    let mut forged = claims(EHR);
    forged["sub"] = json!("x");
    let other_signed = {
        let (k, _) = signing_key("es256");
        let mut h = Header::new(Algorithm::ES256);
        h.typ = Some("JWT".to_owned());
        h.kid = Some("ehr-es384".to_owned());
        jsonwebtoken::encode(&h, &forged, &k).unwrap_or_else(|e| panic!("{e}"))
    };
    assert!(
        matches!(check(&auth, &other_signed), Err("alg" | "signature")),
        "{:?}",
        check(&auth, &other_signed)
    );
    // A good token whose claims were changed after signing.
    let t = sign("es384", Some("ehr-es384"), &claims(EHR));
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = claims(EHR);
    c["sub"] = json!("someone-else");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(c.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(check(&auth, &tampered), Err("signature"));
}

#[test]
fn header_fields() {
    let auth = checker(AuthMode::Strict);
    assert_eq!(
        auth.verify(&HeaderMap::new(), PATH, now())
            .map_err(|f| f.claim),
        Err("Authorization")
    );
    assert_eq!(check(&auth, "not-a-jwt"), Err("Authorization"));
    let (k, alg) = signing_key("es384");
    let mut h = Header::new(alg);
    h.kid = Some("ehr-es384".to_owned());
    h.typ = None;
    let t = jsonwebtoken::encode(&h, &claims(EHR), &k).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check(&auth, &t), Err("typ"));
    h.typ = Some("at+jwt".to_owned());
    let t = jsonwebtoken::encode(&h, &claims(EHR), &k).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check(&auth, &t), Err("typ"));
    h.typ = Some("JWT".to_owned());
    h.jku = Some("https://attacker.example.org/jwks.json".to_owned());
    let t = jsonwebtoken::encode(&h, &claims(EHR), &k).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check(&auth, &t), Err("jku"));
}

#[test]
fn issuers_file_is_read_with_its_key_sets() {
    let dir = std::env::temp_dir().join(format!("leuko-issuers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let set = JwkSet {
        keys: vec![public_jwk("es384", "ehr-es384")],
    };
    std::fs::write(
        dir.join("ehr.jwks.json"),
        serde_json::to_string(&set).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("issuers.toml");
    std::fs::write(
        &file,
        format!(
            "base_url = \"{BASE}\"\n[[issuer]]\niss = \"{EHR}\"\njwks = \"ehr.jwks.json\"\njku = [\"{JKU}\"]\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let auth = CdsAuth::from_file(AuthMode::Strict, &file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(auth.issuer_count(), 1);
    assert_eq!(
        check(&auth, &sign("es384", Some("ehr-es384"), &claims(EHR))),
        Ok(EHR.to_owned())
    );
    // A symmetric key in a key set is refused at start-up.
    std::fs::write(
        dir.join("ehr.jwks.json"),
        r#"{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = CdsAuth::from_file(AuthMode::Strict, &file)
        .err()
        .unwrap_or_default();
    assert!(err.contains("symmetric"), "{err}");
    std::fs::write(&file, "base_url = \"x\"\nissuer = []\n").unwrap_or_else(|e| panic!("{e}"));
    let err = CdsAuth::from_file(AuthMode::Strict, &file)
        .err()
        .unwrap_or_default();
    assert!(err.contains("no [[issuer]]"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn post(state: &AppState, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri("/cds-services/leuko-patient-view/feedback")
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = json!({"feedback": [{"card": "c-1", "outcome": "accepted", "outcomeTimestamp": "2026-03-01T08:00:00Z"}]});
    let resp = app(state.clone())
        .oneshot(
            req.body(Body::from(body.to_string()))
                .unwrap_or_else(|e| panic!("{e}")),
        )
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

fn state(mode: AuthMode) -> AppState {
    let store = leuko_store::open(":memory:").unwrap_or_else(|e| panic!("{e}"));
    let kb = leuko_kb::Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
    AppState::new(kb, store).with_cds_auth(checker(mode))
}

async fn metrics(state: &AppState) -> String {
    state.metrics.render()
}

#[tokio::test]
async fn strict_answers_401_naming_the_claim_tolerant_serves_and_counts() {
    let strict = state(AuthMode::Strict);
    let (status, doc) = post(&strict, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(doc["error"]["code"], "unauthorized");
    assert_eq!(doc["error"]["field"], "Authorization");
    let mut c = claims(EHR);
    c["aud"] = json!(format!("{BASE}/cds-services/leuko-patient-view/feedback"));
    c["exp"] = json!(now() - 300);
    let (status, doc) = post(&strict, Some(&sign("es384", Some("ehr-es384"), &c))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(doc["error"]["field"], "exp", "{doc}");
    let mut c = claims(EHR);
    c["aud"] = json!(format!("{BASE}/cds-services/leuko-patient-view/feedback"));
    let (status, doc) = post(&strict, Some(&sign("es384", Some("ehr-es384"), &c))).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let m = metrics(&strict).await;
    assert!(
        m.contains("leuko_cds_auth_total{result=\"rejected\",claim=\"exp\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("leuko_cds_auth_total{result=\"accepted\",claim=\"\"} 1"),
        "{m}"
    );

    let tolerant = state(AuthMode::Tolerant);
    let (status, _) = post(&tolerant, None).await;
    assert_eq!(status, StatusCode::OK);
    let m = metrics(&tolerant).await;
    assert!(
        m.contains("leuko_cds_auth_total{result=\"tolerated\",claim=\"Authorization\"} 1"),
        "{m}"
    );

    let off = AppState::new(
        leuko_kb::Knowledge::embedded().unwrap_or_else(|e| panic!("{e}")),
        leuko_store::open(":memory:").unwrap_or_else(|e| panic!("{e}")),
    );
    let (status, _) = post(&off, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!metrics(&off).await.contains("leuko_cds_auth_total{"));
}
