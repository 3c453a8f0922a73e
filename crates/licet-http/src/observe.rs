//! Request observation, the same on server and agent: a request id on every request
//! (`x-request-id`: the client's when it sends one, else a new UUID; echoed in the
//! answer), a tracing span per request that carries it (so every log line of the
//! request names it), and request latency histograms per route for Prometheus.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Buckets from 0.5 ms to 10 s: a memory check is well under the first, a month-end
/// aggregate or a slow database well inside the last.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    /// The route template (`/v1/devices/{device_id}/refresh`), never the raw path:
    /// ids would make every device its own series.
    route: String,
    /// `2xx` … `5xx`.
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Latency histograms and the registry that renders them.
#[derive(Debug)]
pub struct Latency {
    registry: Registry,
    requests: Histograms<RouteLabels>,
    operations: Histograms<OperationLabels>,
}

impl Latency {
    /// Histograms named `{prefix}_http_request_duration_seconds` (per route) and
    /// `{prefix}_{operations}_duration_seconds` (per named operation, e.g. a store
    /// method).
    pub fn new(prefix: &str, operations: &str, operations_help: &str) -> Arc<Latency> {
        let mut registry = Registry::default();
        let requests: Histograms<RouteLabels> = Family::new_with_constructor(histogram);
        let timed: Histograms<OperationLabels> = Family::new_with_constructor(histogram);
        registry.register(
            format!("{prefix}_http_request_duration_seconds"),
            "Time from request to response, by method, route template and status class",
            requests.clone(),
        );
        registry.register(
            format!("{prefix}_{operations}_duration_seconds"),
            operations_help.to_owned(),
            timed.clone(),
        );
        Arc::new(Latency {
            registry,
            requests,
            operations: timed,
        })
    }

    /// Records one named operation's duration.
    pub fn operation(&self, name: &str, seconds: f64) {
        self.operations
            .get_or_create(&OperationLabels {
                operation: name.to_owned(),
            })
            .observe(seconds);
    }

    /// The histograms in the Prometheus text format (no `# EOF`, so that the caller's
    /// other metrics may follow in the same exposition).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            return String::new();
        }
        out.trim_end().trim_end_matches("# EOF").to_owned()
    }
}

/// Middleware: records each request's latency by route template (after routing, so
/// `MatchedPath` is known; an unmatched request is `unmatched`).
pub async fn measure(
    State(latency): State<Arc<Latency>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = tokio::time::Instant::now();
    let response = next.run(request).await;
    latency
        .requests
        .get_or_create(&RouteLabels {
            method,
            route,
            status: format!("{}xx", response.status().as_u16() / 100),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The internal detail of a 5xx answer: for the log, never for the client (who gets an
/// opaque message). Error types put it in the response's extensions.
#[derive(Clone, Debug)]
pub struct InternalDetail(pub String);

/// Middleware: logs every 5xx answer once, with its internal detail, inside the
/// request's span (which names the method, the path and the request id).
pub async fn log_failures(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.is_server_error() {
        let detail = response
            .extensions()
            .get::<InternalDetail>()
            .map_or("-", |d| d.0.as_str());
        tracing::error!(status = status.as_u16(), detail, "request failed");
    }
    response
}

/// Wraps `router` with the request id and the request span: outermost, so that every
/// other layer's log lines, and the answer, carry the id.
pub fn traced<S: Clone + Send + Sync + 'static>(router: axum::Router<S>) -> axum::Router<S> {
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %id,
                )
            }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
