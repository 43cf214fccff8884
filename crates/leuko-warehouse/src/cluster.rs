//! Ballista: leuko's scheduler and executor with the UDF registry compiled in, and the client
//! session for `leuko screen --cluster df://host:port`.
//!
//! Plans travel between processes as protobuf and functions are found by name, so every
//! process registers the same functions ([`crate::udf`]).

use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::udf;

/// The function registry for executors: DataFusion's defaults plus leuko's.
pub fn registry() -> BallistaFunctionRegistry {
    let mut r = BallistaFunctionRegistry::default();
    for f in udf::scalar_udfs() {
        r.scalar_functions.insert(f.name().to_owned(), Arc::new(f));
    }
    for f in udf::aggregate_udfs() {
        r.aggregate_functions
            .insert(f.name().to_owned(), Arc::new(f));
    }
    r
}

/// Adds leuko's functions to a session state.
pub fn with_udfs(state: SessionState) -> SessionState {
    let mut scalar: Vec<_> = state.scalar_functions().values().cloned().collect();
    scalar.extend(udf::scalar_udfs().into_iter().map(Arc::new));
    let mut aggregate: Vec<_> = state.aggregate_functions().values().cloned().collect();
    aggregate.extend(udf::aggregate_udfs().into_iter().map(Arc::new));
    SessionStateBuilder::new_from_existing(state)
        .with_scalar_functions(scalar)
        .with_aggregate_functions(aggregate)
        .build()
}

/// The scheduler's session builder: Ballista's default state plus leuko's functions.
///
/// # Errors
/// When the default state cannot be built.
pub fn scheduler_session(config: SessionConfig) -> datafusion::common::Result<SessionState> {
    ballista_core::utils::default_session_builder(config).map(with_udfs)
}

/// A client session on a Ballista scheduler.
///
/// # Errors
/// A URL that is not `df://host:port`, or no scheduler there.
pub async fn client(url: &str) -> Result<SessionContext, String> {
    if !url.starts_with("df://") {
        return Err(format!("--cluster {url:?}: expected df://host:port"));
    }
    use ballista::prelude::SessionConfigExt;
    let state = SessionStateBuilder::new()
        .with_default_features()
        // Ballista 55's adaptive planner re-plans this screen's stages without end (seen
        // here: thousands of "stages to be cancelled" and no result); the static planner runs it.
        .with_config(SessionConfig::new_with_ballista().with_ballista_adaptive_query_planner(false))
        .build();
    let ctx = SessionContext::remote_with_state(url, state)
        .await
        .map_err(|e| format!("--cluster {url}: {e}"))?;
    // Ballista's upgrade of the state resets the functions: register leuko's after it.
    udf::register(&ctx);
    Ok(ctx)
}
