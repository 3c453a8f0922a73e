//! The server's integration tests: a real server on 127.0.0.1:0 over real HTTP, on
//! SQLite always and on PostgreSQL when `LICET_TEST_POSTGRES_URL` is set (required
//! when `CI=true`).

// Helpers shared by tests may panic: a panic here is a test failure, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admission;
mod bad_input;
mod brinkbyte_client;
mod claims;
mod cloudevents_sdk;
mod compat;
mod credentials;
mod hosted_trial;
mod imports;
mod isolation;
mod limits;
mod metering;
mod numbers;
mod outage;
mod rate_limits;
mod support;
mod tenant_flags;
mod usage_term;
mod verdicts;
mod walkthrough;

/// Runs a test body once per backend.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let server = crate::support::TestServer::start(crate::support::Backend::Sqlite).await.unwrap();
                    super::$name(&server).await;
                    server.stop().await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(server) = crate::support::TestServer::start(crate::support::Backend::Postgres).await {
                        super::$name(&server).await;
                        server.stop().await;
                    }
                }
            )*
        }
    };
}
pub(crate) use on_both;

/// Runs a test body once per backend, on a server whose clock the test moves; the clock
/// starts at 2026-10-20 09:00 UTC.
macro_rules! on_both_clocked {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite_clocked {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let clock = std::sync::Arc::new(licet_host::clock::ManualClock::new(time::macros::datetime!(2026-10-20 09:00 UTC)));
                    let server = crate::support::TestServer::start_clocked(crate::support::Backend::Sqlite, clock.clone()).await.unwrap();
                    super::$name(&server, &clock).await;
                    server.stop().await;
                }
            )*
        }
        mod on_postgres_clocked {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let clock = std::sync::Arc::new(licet_host::clock::ManualClock::new(time::macros::datetime!(2026-10-20 09:00 UTC)));
                    if let Some(server) = crate::support::TestServer::start_clocked(crate::support::Backend::Postgres, clock.clone()).await {
                        super::$name(&server, &clock).await;
                        server.stop().await;
                    }
                }
            )*
        }
    };
}
pub(crate) use on_both_clocked;
