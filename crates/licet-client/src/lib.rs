//! Licet's wire types and a typed async client for the server API.
//!
//! This crate is the only place that defines JSON shapes: the server's handlers convert
//! between these and the core's types, and the agent, the CLI and the tests talk to the
//! server through [`Client`]. Times on the wire are RFC 3339 strings.

pub mod agent;
mod client;
pub mod wire;

pub use client::{Client, ClientError};
