//! licet-core's integration tests: one binary, one module per behaviour.

// Helpers shared by tests may panic: a panic here is a test failure, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod catalog;
mod conformance;
mod license;
mod properties;
mod rating;
mod support;
mod trust;
