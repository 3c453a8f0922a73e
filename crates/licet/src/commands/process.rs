//! What every long-running command (`licet server`, `licet agent`) needs from the
//! process: logging to stderr and the shutdown signals.

use anyhow::{Context, Result};

/// Logs to stderr, filtered by `LICET_LOG` (default `info`); one JSON object per line
/// when `LICET_LOG_FORMAT=json` (for log shippers), text otherwise. A request's lines
/// carry its span: method, path and `request_id`.
pub(crate) fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("LICET_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("LICET_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled, so a signal sent right after the server announced
/// itself (as systemd or a test may do) is never lost to the default action.
pub(crate) fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::info!("shutting down: finishing in-flight requests");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down: finishing in-flight requests");
        })
    }
}
