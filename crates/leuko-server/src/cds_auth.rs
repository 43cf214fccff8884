//! CDS Hooks 2.0 "Trusting CDS Clients": the `Authorization: Bearer <JWT>` a CDS client signs
//! with its private key, checked before a service call or feedback is read.
//!
//! Checked, in this order, each failure naming the header field or claim at fault:
//! `Authorization` (present, `Bearer`, three parts), `alg` (an asymmetric signature algorithm:
//! ES256, ES384, RS256, RS384, RS512, PS256, PS384, PS512; never `none`, never HMAC), `typ`
//! (`JWT`), `kid` (present), `iss` (in the configured allow-list), `jku` (when present, one of
//! that issuer's allow-listed URLs; the keys still come from the issuer's configured JWKS file:
//! leuko fetches no remote key set), `kid` again (a key of that issuer with that id), the
//! `signature`, `aud` (the exact URL of the endpoint called: the configured base URL and the
//! path), `exp` (not past, with [`LEEWAY`]; not more than the configured maximum lifetime
//! ahead), `iat` (present, not in the future beyond the leeway), `jti` (present, and not seen
//! before from that issuer while the token is valid; an in-memory set).
//!
//! Modes: `strict` answers 401 with a JSON error naming the claim; `tolerant` logs a warning
//! and counts the failure (`leuko_cds_auth_total` in `/metrics`), then serves the request;
//! `off` checks nothing. Nothing of the token is logged but the failing claim's name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::http::HeaderMap;
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ApiError;
use crate::metrics::Metrics;

/// Clock skew allowed on `exp` and `iat`, in seconds.
pub const LEEWAY: i64 = 30;
/// The default longest lifetime of a token (`exp` minus now), in seconds.
pub const MAX_LIFETIME: i64 = 3600;

/// How the bearer JWT of a CDS client is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Nothing is checked.
    Off,
    /// Failures are logged and counted; the request is served.
    Tolerant,
    /// Failures are answered 401.
    Strict,
}

impl AuthMode {
    /// Parses `strict`, `tolerant` or `off`.
    ///
    /// # Errors
    /// Any other word, named.
    pub fn parse(s: &str) -> Result<AuthMode, String> {
        match s {
            "strict" => Ok(AuthMode::Strict),
            "tolerant" => Ok(AuthMode::Tolerant),
            "off" => Ok(AuthMode::Off),
            _ => Err(format!(
                "CDS auth mode {s:?}: expected strict, tolerant or off"
            )),
        }
    }

    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Off => "off",
            AuthMode::Tolerant => "tolerant",
            AuthMode::Strict => "strict",
        }
    }
}

/// The issuers file (TOML).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuersFile {
    /// The service's public base URL (`https://cds.example.org`); `aud` must be this plus the
    /// path called.
    base_url: String,
    /// Longest accepted token lifetime in seconds (default [`MAX_LIFETIME`]).
    max_lifetime_seconds: Option<i64>,
    #[serde(default)]
    issuer: Vec<IssuerEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerEntry {
    iss: String,
    /// Path of the issuer's JWK Set (relative paths are relative to the issuers file).
    jwks: PathBuf,
    #[serde(default)]
    jku: Vec<String>,
}

/// One trusted CDS client.
#[derive(Clone)]
pub struct Issuer {
    /// Its `iss`.
    pub iss: String,
    /// Its public keys.
    pub keys: JwkSet,
    /// The `jku` URLs it may name.
    pub jku: Vec<String>,
}

/// The checker: mode, trusted issuers, audience base URL and the `jti`s seen.
pub struct CdsAuth {
    mode: AuthMode,
    base_url: String,
    max_lifetime: i64,
    issuers: HashMap<String, Issuer>,
    /// `iss` NUL `jti` → `exp`.
    seen: Mutex<HashMap<String, i64>>,
}

/// A failed check: the header field or claim, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// `Authorization`, `alg`, `typ`, `kid`, `iss`, `jku`, `signature`, `aud`, `exp`, `iat`,
    /// `jti`.
    pub claim: &'static str,
    /// What is wrong (never the token's content beyond the claim's own value).
    pub message: String,
}

fn fail(claim: &'static str, message: impl Into<String>) -> AuthFailure {
    AuthFailure {
        claim,
        message: message.into(),
    }
}

const ALLOWED: &[(&str, Algorithm)] = &[
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
];

fn b64_json(part: &str, claim: &'static str) -> Result<Map<String, Value>, AuthFailure> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| fail(claim, "the token's part is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(fail(claim, "the token's part is not a JSON object")),
    }
}

fn str_field<'m>(m: &'m Map<String, Value>, key: &str) -> Option<&'m str> {
    m.get(key).and_then(Value::as_str)
}

impl CdsAuth {
    /// No checking.
    pub fn off() -> CdsAuth {
        CdsAuth {
            mode: AuthMode::Off,
            base_url: String::new(),
            max_lifetime: MAX_LIFETIME,
            issuers: HashMap::new(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// A checker over issuers given directly.
    ///
    /// # Errors
    /// A base URL that is not `http(s)://`.
    pub fn new(
        mode: AuthMode,
        base_url: &str,
        issuers: Vec<Issuer>,
        max_lifetime: i64,
    ) -> Result<CdsAuth, String> {
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(format!(
                "base_url {base_url:?}: expected an http:// or https:// URL"
            ));
        }
        Ok(CdsAuth {
            mode,
            base_url: base_url.trim_end_matches('/').to_owned(),
            max_lifetime,
            issuers: issuers.into_iter().map(|i| (i.iss.clone(), i)).collect(),
            seen: Mutex::new(HashMap::new()),
        })
    }

    /// A checker from an issuers file (TOML: `base_url`, optional `max_lifetime_seconds`, and
    /// `[[issuer]]` tables with `iss`, `jwks` (a JWK Set file) and optional `jku` URLs).
    ///
    /// # Errors
    /// The file or a key set unreadable, or invalid, named with the path.
    pub fn from_file(mode: AuthMode, path: &Path) -> Result<CdsAuth, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("CDS issuers file {}: {e}", path.display()))?;
        let file: IssuersFile = toml::from_str(&text)
            .map_err(|e| format!("CDS issuers file {}: {e}", path.display()))?;
        if file.issuer.is_empty() {
            return Err(format!(
                "CDS issuers file {}: no [[issuer]] listed",
                path.display()
            ));
        }
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut issuers = Vec::new();
        for (i, entry) in file.issuer.into_iter().enumerate() {
            let jwks_path = dir.join(&entry.jwks);
            let at = format!("CDS issuers file {}: issuer[{i}]", path.display());
            let keys = read_jwks(&jwks_path).map_err(|e| format!("{at}: {e}"))?;
            for url in &entry.jku {
                if !url.starts_with("https://") {
                    return Err(format!("{at}: jku {url:?} is not an https:// URL"));
                }
            }
            issuers.push(Issuer {
                iss: entry.iss,
                keys,
                jku: entry.jku,
            });
        }
        CdsAuth::new(
            mode,
            &file.base_url,
            issuers,
            file.max_lifetime_seconds.unwrap_or(MAX_LIFETIME),
        )
        .map_err(|e| format!("CDS issuers file {}: {e}", path.display()))
    }

    /// Logs how CDS clients are checked; a warning when they are not.
    pub fn log_startup(&self) {
        if self.mode == AuthMode::Off {
            tracing::warn!(
                "CDS Hooks client authentication is off: /cds-services accepts unsigned requests; use --cds-issuers FILE (and --cds-auth strict) outside a trusted network"
            );
        } else {
            tracing::info!(
                mode = self.mode.as_str(),
                issuers = self.issuers.len(),
                base_url = %self.base_url,
                "CDS Hooks client JWTs are checked"
            );
        }
    }

    /// The mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The number of trusted issuers.
    pub fn issuer_count(&self) -> usize {
        self.issuers.len()
    }

    /// Checks a request to `path` (`/cds-services/{id}` or its `/feedback`) as the mode says:
    /// `Ok` to serve it, or the 401 to answer.
    ///
    /// # Errors
    /// In strict mode, a 401 naming the claim at fault.
    pub fn admit(
        &self,
        headers: &HeaderMap,
        path: &str,
        metrics: &Metrics,
        now: i64,
    ) -> Result<(), ApiError> {
        if self.mode == AuthMode::Off {
            return Ok(());
        }
        match self.verify(headers, path, now) {
            Ok(iss) => {
                metrics.cds_auth("accepted", "");
                tracing::debug!(%iss, "cds client token accepted");
                Ok(())
            }
            Err(f) if self.mode == AuthMode::Tolerant => {
                metrics.cds_auth("tolerated", f.claim);
                tracing::warn!(claim = f.claim, reason = %f.message, "cds client token not valid; served (tolerant mode)");
                Ok(())
            }
            Err(f) => {
                metrics.cds_auth("rejected", f.claim);
                tracing::warn!(claim = f.claim, reason = %f.message, "cds client token rejected");
                Err(ApiError::unauthorized_claim(f.claim, f.message))
            }
        }
    }

    /// Checks the bearer JWT of a request to `path` at `now` (seconds since the epoch);
    /// returns the issuer.
    ///
    /// # Errors
    /// The first check that fails.
    pub fn verify(&self, headers: &HeaderMap, path: &str, now: i64) -> Result<String, AuthFailure> {
        let header = headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                fail(
                    "Authorization",
                    "a CDS client must send `Authorization: Bearer <JWT>`",
                )
            })?
            .to_str()
            .map_err(|_| fail("Authorization", "the header is not text"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| fail("Authorization", "expected `Bearer <JWT>`"))?;
        let parts: Vec<&str> = token.split('.').collect();
        let [head, body, _sig] = parts.as_slice() else {
            return Err(fail(
                "Authorization",
                format!("a JWT has three dot-separated parts, not {}", parts.len()),
            ));
        };
        let h = b64_json(head, "Authorization")?;
        let alg_word = str_field(&h, "alg").ok_or_else(|| fail("alg", "alg is missing"))?;
        let alg = ALLOWED
            .iter()
            .find(|(w, _)| *w == alg_word)
            .map(|(_, a)| *a)
            .ok_or_else(|| {
                fail(
                    "alg",
                    format!(
                        "alg {alg_word:?} is not accepted: expected an asymmetric signature (ES256, ES384, RS256, RS384, RS512, PS256, PS384, PS512); never none or HMAC"
                    ),
                )
            })?;
        match str_field(&h, "typ") {
            Some(t) if t.eq_ignore_ascii_case("JWT") => {}
            Some(t) => return Err(fail("typ", format!("typ {t:?} is not \"JWT\""))),
            None => return Err(fail("typ", "typ is missing (expected \"JWT\")")),
        }
        let kid = str_field(&h, "kid")
            .filter(|k| !k.is_empty())
            .ok_or_else(|| fail("kid", "kid is missing"))?;
        let claims = b64_json(body, "Authorization")?;
        let iss = str_field(&claims, "iss").ok_or_else(|| fail("iss", "iss is missing"))?;
        let issuer = self
            .issuers
            .get(iss)
            .ok_or_else(|| fail("iss", format!("iss {iss:?} is not a trusted CDS client")))?;
        if let Some(jku) = h.get("jku") {
            let url = jku.as_str().unwrap_or_default();
            if !issuer.jku.iter().any(|u| u == url) {
                return Err(fail(
                    "jku",
                    format!("jku {url:?} is not on the allow-list of {iss:?}"),
                ));
            }
        }
        let jwk: &Jwk = issuer
            .keys
            .find(kid)
            .ok_or_else(|| fail("kid", format!("kid {kid:?} is not a key of {iss:?}")))?;
        if let Some(key_alg) = jwk.common.key_algorithm
            && key_alg.to_string() != alg_word
        {
            return Err(fail(
                "alg",
                format!("alg {alg_word:?} is not the algorithm of key {kid:?} ({key_alg})"),
            ));
        }
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| fail("kid", format!("key {kid:?} of {iss:?} is unusable: {e}")))?;
        let audience = format!("{}{path}", self.base_url);
        let mut v = Validation::new(alg);
        v.leeway = u64::try_from(LEEWAY).unwrap_or(0);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.set_audience(&[&audience]);
        v.set_issuer(&[iss]);
        // Times are checked below against `now`, not the library's clock.
        v.validate_exp = false;
        v.validate_nbf = false;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature => fail("signature", "the signature does not verify"),
                K::ExpiredSignature => fail("exp", "the token has expired"),
                K::InvalidAudience => fail(
                    "aud",
                    format!("aud is not this endpoint's URL {audience:?}"),
                ),
                K::InvalidIssuer => fail("iss", "iss does not match"),
                K::ImmatureSignature => fail("nbf", "the token is not valid yet (nbf)"),
                K::MissingRequiredClaim(c) => match c.as_str() {
                    "exp" => fail("exp", "exp is missing"),
                    "aud" => fail("aud", "aud is missing"),
                    _ => fail("iss", "iss is missing"),
                },
                K::InvalidAlgorithm => {
                    fail("alg", format!("alg {alg_word:?} does not fit key {kid:?}"))
                }
                K::InvalidClaimFormat(c) => match c.as_str() {
                    "exp" => fail("exp", "exp is not a number"),
                    "aud" => fail("aud", "aud is not a string or array of strings"),
                    _ => fail("iss", format!("claim {c} is malformed")),
                },
                _ => fail("signature", format!("the token does not verify: {e}")),
            }
        })?;
        let c = data.claims;
        let exp = c
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| fail("exp", "exp is not an integer"))?;
        if exp + LEEWAY < now {
            return Err(fail("exp", "the token has expired"));
        }
        if let Some(nbf) = c.get("nbf").and_then(Value::as_i64)
            && nbf > now + LEEWAY
        {
            return Err(fail("nbf", "the token is not valid yet (nbf)"));
        }
        if exp - now > self.max_lifetime + LEEWAY {
            return Err(fail(
                "exp",
                format!(
                    "exp is {}s ahead; tokens may live at most {}s",
                    exp - now,
                    self.max_lifetime
                ),
            ));
        }
        let iat = c
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or_else(|| fail("iat", "iat is missing or not an integer"))?;
        if iat > now + LEEWAY {
            return Err(fail("iat", format!("iat is {}s in the future", iat - now)));
        }
        let jti = c
            .get("jti")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty())
            .ok_or_else(|| fail("jti", "jti is missing"))?;
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, until| *until + LEEWAY >= now);
        let key = format!("{iss}\0{jti}");
        if seen.contains_key(&key) {
            return Err(fail("jti", "this token (jti) has been used before"));
        }
        seen.insert(key, exp);
        Ok(iss.to_owned())
    }
}

/// Reads a JWK Set file, keeping only the keys with an id.
///
/// # Errors
/// Unreadable, not a JWK Set, or no usable key.
pub fn read_jwks(path: &Path) -> Result<JwkSet, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let set: JwkSet = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a JWK Set: {e}", path.display()))?;
    if set.keys.is_empty() {
        return Err(format!("{}: the JWK Set has no keys", path.display()));
    }
    for (i, k) in set.keys.iter().enumerate() {
        if k.common.key_id.as_deref().is_none_or(str::is_empty) {
            return Err(format!("{}: keys[{i}] has no kid", path.display()));
        }
        if matches!(
            k.algorithm,
            jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
        ) {
            return Err(format!(
                "{}: keys[{i}] is a symmetric (oct) key; only public keys are accepted",
                path.display()
            ));
        }
    }
    Ok(set)
}

#[cfg(test)]
#[path = "cds_auth_tests.rs"]
mod tests;
