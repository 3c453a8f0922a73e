//! The agent's integration tests: a real server on loopback, real agents in temporary
//! data directories, and the agent's local API over real HTTP.

// Helpers shared by tests may panic: a panic here is a test failure, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod browser;
mod cameras;
mod conformance;
mod foxsight;
mod growth_packs;
mod migrations;
mod offline;
mod openfeature;
mod plan_hook;
mod product_catalog;
mod quota_checks;
mod redis_publication;
mod slow_answer;
mod support;
mod trust;
mod usage;
