//! Request counters and latency in Prometheus text format, and the request log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// Counters by route and status class.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<std::collections::BTreeMap<(String, String, u16), u64>>,
    buckets: [AtomicU64; 10],
    cds_auth: Mutex<std::collections::BTreeMap<(&'static str, &'static str), u64>>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b
                && let Some(c) = self.buckets.get(i)
            {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Counts a CDS client token check: `accepted`, `tolerated` (failed, served in tolerant
    /// mode) or `rejected`, with the claim that failed.
    pub fn cds_auth(&self, result: &'static str, claim: &'static str) {
        if let Ok(mut m) = self.cds_auth.lock() {
            *m.entry((result, claim)).or_default() += 1;
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP leuko_http_requests_total HTTP requests by method, route and status.\n# TYPE leuko_http_requests_total counter\n",
        );
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                out.push_str(&format!("leuko_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}\n"));
            }
        }
        out.push_str("# HELP leuko_cds_auth_total CDS client JWT checks by result and failing claim.\n# TYPE leuko_cds_auth_total counter\n");
        if let Ok(m) = self.cds_auth.lock() {
            for ((result, claim), n) in m.iter() {
                out.push_str(&format!(
                    "leuko_cds_auth_total{{result=\"{result}\",claim=\"{claim}\"}} {n}\n"
                ));
            }
        }
        out.push_str("# HELP leuko_http_request_duration_seconds Request latency.\n# TYPE leuko_http_request_duration_seconds histogram\n");
        for (i, b) in BUCKETS.iter().enumerate() {
            let n = self.buckets.get(i).map_or(0, |c| c.load(Ordering::Relaxed));
            out.push_str(&format!(
                "leuko_http_request_duration_seconds_bucket{{le=\"{b}\"}} {n}\n"
            ));
        }
        let count = self.count.load(Ordering::Relaxed);
        out.push_str(&format!(
            "leuko_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n"
        ));
        out.push_str(&format!(
            "leuko_http_request_duration_seconds_sum {}\nleuko_http_request_duration_seconds_count {count}\n",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        ));
        out
    }
}

/// Middleware: counts and logs each request (method, route template, status, latency; never
/// the path's ids or the body).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let seconds = start.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    metrics.observe(&method, &route, status, seconds);
    tracing::info!(%method, %route, status, micros = (seconds * 1e6) as u64, "request");
    response
}
