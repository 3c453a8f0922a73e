//! What `/metrics` exposes, in the Prometheus text format: a handful of process-local
//! counters (each replica reports its own and Prometheus sums them), and request
//! latency histograms per route from [`licet_http::observe`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The server's counters.
#[derive(Debug)]
pub struct Metrics {
    /// Latency histograms (per route, and per store operation).
    pub latency: std::sync::Arc<licet_http::observe::Latency>,
    /// Responses by status class (1xx..5xx → index 0..4).
    pub responses: [AtomicU64; 5],
    /// Devices activated (new or re-activated).
    pub activations: AtomicU64,
    /// Activations refused for the device limit.
    pub activations_refused: AtomicU64,
    /// Licenses signed.
    pub licenses_issued: AtomicU64,
    /// Signed verdicts sent.
    pub verdicts: AtomicU64,
    /// Heartbeats received.
    pub heartbeats: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            latency: licet_http::observe::Latency::new(
                "licet",
                "store_operation",
                "Time spent in each store method (one use-case transaction each)",
            ),
            responses: Default::default(),
            activations: Default::default(),
            activations_refused: Default::default(),
            licenses_issued: Default::default(),
            verdicts: Default::default(),
            heartbeats: Default::default(),
        }
    }
}

/// Increments a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts a response by status.
    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        bump(&self.responses[class]);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP licet_http_responses_total HTTP responses by status class."
        );
        let _ = writeln!(out, "# TYPE licet_http_responses_total counter");
        for (index, counter) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "licet_http_responses_total{{class=\"{}xx\"}} {}",
                index + 1,
                counter.load(Ordering::Relaxed)
            );
        }
        for (name, help, counter) in [
            (
                "licet_activations_total",
                "Devices activated.",
                &self.activations,
            ),
            (
                "licet_activations_refused_total",
                "Activations refused by the device limit.",
                &self.activations_refused,
            ),
            (
                "licet_licenses_issued_total",
                "License documents signed.",
                &self.licenses_issued,
            ),
            (
                "licet_verdicts_total",
                "Signed verdicts sent to devices.",
                &self.verdicts,
            ),
            (
                "licet_heartbeats_total",
                "Device heartbeats received.",
                &self.heartbeats,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str(&self.latency.render());
        out.push('\n');
        out
    }
}
