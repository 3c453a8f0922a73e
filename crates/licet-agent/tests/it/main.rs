//! The agent's integration tests: a real server on loopback, real agents in temporary
//! data directories, and the agent's local API over real HTTP.

mod api;
mod cameras;
mod conformance;
mod offline;
mod openfeature;
mod plan_hook;
mod redis_publication;
mod support;
