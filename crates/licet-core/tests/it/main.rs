//! licet-core's integration tests: one binary, one module per behaviour.

mod catalog;
mod conformance;
mod license;
mod properties;
mod support;
