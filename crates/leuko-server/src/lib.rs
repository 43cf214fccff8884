//! `leuko serve`: the HTTP service, the web page and the patient-history API.
//!
//! [`app`] returns the whole service as an axum `Router` (a value: tests call it with
//! `oneshot`). Assessing without storing needs no key; every history endpoint needs an API key
//! (sent as `Authorization: Bearer KEY` or `X-API-Key: KEY`; only its SHA-256 is stored), and
//! every read or write of patient data is written to the audit log (who, what, when; never the
//! values). Errors are JSON with a stable code and a message naming the field; a 5xx body
//! never holds a stack trace or patient data. Logs (tracing) carry method, route, status and
//! latency, never bodies.

mod api;
mod cds;
pub mod cds_auth;
mod error;
mod metrics;
pub mod mllp;
pub mod openapi;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use leuko_kb::Knowledge;
use leuko_store::{Role, Store};
use sha2::Digest;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;
pub use metrics::Metrics;

/// Largest request body accepted (a FHIR bundle of a long history fits easily).
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Requests taking longer are answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Shared state of the service.
#[derive(Clone)]
pub struct AppState {
    /// The knowledge base.
    pub kb: Arc<Knowledge>,
    /// The history store.
    pub store: Arc<dyn Store>,
    /// Request counters.
    pub metrics: Arc<Metrics>,
    /// How CDS clients' bearer JWTs are checked.
    pub cds_auth: Arc<cds_auth::CdsAuth>,
}

impl AppState {
    /// State over a knowledge base and a store.
    pub fn new(kb: Knowledge, store: Box<dyn Store>) -> AppState {
        AppState {
            kb: Arc::new(kb),
            store: Arc::from(store),
            metrics: Arc::new(Metrics::default()),
            cds_auth: Arc::new(cds_auth::CdsAuth::off()),
        }
    }

    /// The same state with CDS clients' JWTs checked by `auth`.
    #[must_use]
    pub fn with_cds_auth(mut self, auth: cds_auth::CdsAuth) -> AppState {
        self.cds_auth = Arc::new(auth);
        self
    }
}

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// The whole service.
pub fn app(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .route(
            "/",
            get(|| async {
                (
                    [
                        ("content-type", "text/html; charset=utf-8"),
                        ("cache-control", "no-cache"),
                    ],
                    INDEX_HTML,
                )
            }),
        )
        .route(
            "/app.js",
            get(|| async { ([("content-type", "text/javascript; charset=utf-8")], APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { ([("content-type", "text/css; charset=utf-8")], APP_CSS) }),
        )
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route(
            "/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .route("/v1/assess", post(api::assess))
        .route("/v1/patients", post(api::create_patient))
        .route("/v1/patients/{id}", get(api::get_patient))
        .route("/v1/patients/{id}/entries", post(api::add_entries))
        .route("/v1/patients/{id}/timeline", get(api::timeline))
        .route("/v1/patients/{id}/assess", post(api::assess_patient))
        .route("/v1/patients/{id}/assessments", get(api::assessments))
        .route("/v1/audit", get(api::audit_log))
        .route("/cds-services", get(cds::discovery))
        .route("/cds-services/{id}", post(cds::call))
        .route("/cds-services/{id}/feedback", post(cds::feedback))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .route_layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .with_state(state)
}

/// Creates an API key with a role: returns `(key id, secret)`. The secret is shown once; only
/// its hash is stored.
///
/// # Errors
/// A store error, or a failure of the system's random source.
pub fn create_key(
    store: &dyn Store,
    role: Role,
    now: time::OffsetDateTime,
) -> Result<(String, String), String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| format!("random source: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let id = format!("key_{}", hex.get(..8).unwrap_or_default());
    let secret = format!("lk_{}_{}", role.as_str(), hex);
    store
        .create_key(&id, &hash_key(&secret), role, now)
        .map_err(|e| e.to_string())?;
    Ok((id, secret))
}

/// The stored form of a key: SHA-256, hex.
pub fn hash_key(secret: &str) -> String {
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(state: AppState, addr: &str) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, store = state.store.backend(), "leuko listening");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests;
