//! The agent's background tasks: license refresh, heartbeats, the deadline ticker, the
//! plan-change hook and the Redis publication.
//!
//! Every task `select!`s on the shutdown signal and on nothing else that could block
//! it, so SIGTERM stops them between steps. Waits are tokio timers, so tests drive them
//! with paused time. Decisions (is the lease over?) are made from the agent's `Clock`,
//! never from how long a task slept.

use crate::agent::{ActivationError, Agent, SyncError};
use licet_core::planning::ModulePlan;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The first retry after a failed refresh; doubled per failure up to [`BACKOFF_MAX`].
pub const BACKOFF_BASE: Duration = Duration::from_secs(30);
/// The longest wait between retries of a failing refresh.
pub const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);
/// How long the deadline ticker sleeps at most, so a changed clock is noticed.
const TICK_MAX: Duration = Duration::from_secs(60);

/// A random fraction in [0, 1), for jitter. Falls back to 0.5 if the OS has no
/// randomness to give (jitter is a courtesy to the server, not a safety property).
fn unit_random() -> f64 {
    let mut bytes = [0u8; 4];
    match licet_host::random::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// The wait before retry number `failures` (1, 2, …): exponential, capped, with "equal
/// jitter" (between half and all of the step) so a fleet that lost the server at the
/// same moment does not come back at the same moment.
pub fn backoff(failures: u32, random: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    let step = BACKOFF_BASE
        .saturating_mul(1u32 << exponent)
        .min(BACKOFF_MAX);
    step.mul_f64(0.5 + random.clamp(0.0, 1.0) * 0.5)
}

/// The wait until the lease's refresh is due, plus up to 5% of the refresh interval
/// (at most five minutes) of jitter.
fn until_refresh(agent: &Agent, random: f64) -> Duration {
    let current = agent.current();
    let Some(due) = current.report.refresh_due_at else {
        return Duration::from_secs(3600);
    };
    let interval = current
        .license
        .as_ref()
        .map(|l| l.refresh_interval())
        .unwrap_or(time::Duration::hours(1));
    let jitter: time::Duration = (interval * 0.05_f64).min(time::Duration::minutes(5)) * random;
    let wait = due - agent.now() + jitter;
    Duration::try_from(wait)
        .unwrap_or(Duration::ZERO)
        .clamp(Duration::from_secs(1), Duration::from_secs(24 * 3600))
}

/// Starts every background task. They stop when `shutdown` turns true.
pub fn spawn(agent: &Agent, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![
        tokio::spawn(refresh_loop(agent.clone(), shutdown.clone())),
        tokio::spawn(upload_loop(agent.clone(), shutdown.clone())),
        tokio::spawn(heartbeat_loop(agent.clone(), shutdown.clone())),
        tokio::spawn(ticker(agent.clone(), shutdown.clone())),
    ];
    if agent.config().server.is_some() {
        tasks.push(tokio::spawn(catalog_loop(agent.clone(), shutdown.clone())));
    }
    if let Some(command) = agent.config().on_plan_change.clone() {
        tasks.push(tokio::spawn(plan_hook(
            agent.clone(),
            command,
            shutdown.clone(),
        )));
    }
    if let Some(url) = agent.config().redis_url.clone() {
        tasks.push(tokio::spawn(crate::publish::publish_loop(
            agent.clone(),
            url,
            shutdown,
        )));
    }
    tasks
}

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // Resolves when shutdown is signalled (or its sender is gone).
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn refresh_loop(agent: Agent, mut shutdown: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        let wait = if failures > 0 {
            backoff(failures, unit_random())
        } else {
            until_refresh(&agent, unit_random())
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = agent.woken() => {}
            () = stopped(&mut shutdown) => return,
        }
        match agent.sync().await {
            Ok(_) | Err(SyncError::Refused(_)) => failures = 0,
            Err(SyncError::NotPossible(_)) => failures = 0,
            Err(SyncError::Failed(_)) => failures = failures.saturating_add(1),
        }
    }
}

/// Activates with the license key, retrying with backoff while the server cannot be
/// reached (a device often boots before its uplink). A definite refusal from the server
/// (unknown key, device limit reached, …) is logged and not retried: retrying cannot
/// change it, a new key or a freed slot and a restart can.
pub async fn activate_until_done(
    agent: Agent,
    key: SecretString,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    loop {
        match agent.activate(key.expose_secret()).await {
            Ok(payload) => {
                tracing::info!(plan = %payload.plan, "activation succeeded");
                return;
            }
            Err(ActivationError::Unreachable(message)) => {
                failures = failures.saturating_add(1);
                let wait = backoff(failures, unit_random());
                tracing::warn!(
                    "activation failed, retrying in {} s: cannot reach the server: {message}",
                    wait.as_secs()
                );
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stopped(&mut shutdown) => return,
                }
            }
            Err(error) => {
                tracing::error!("activation refused: {error}");
                return;
            }
        }
    }
}

/// Events per upload.
pub const UPLOAD_BATCH: usize = 1000;

/// Uploads the usage outbox in order, oldest first, resuming from the server's
/// acknowledgement after any restart (the outbox holds exactly what was not
/// acknowledged). Waits for new events when it is empty; backs off on failure.
async fn upload_loop(agent: Agent, mut shutdown: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        let wait = match agent.upload_usage(UPLOAD_BATCH).await {
            Ok(0) => {
                failures = 0;
                // Nothing waiting: sleep until events are recorded (or a minute passes,
                // for events recorded by another process).
                tokio::select! {
                    () = agent.usage_recorded() => {}
                    () = tokio::time::sleep(Duration::from_secs(60)) => {}
                    () = stopped(&mut shutdown) => return,
                }
                continue;
            }
            Ok(_) => {
                failures = 0;
                Duration::ZERO
            }
            Err(SyncError::NotPossible(_)) => Duration::from_secs(300),
            Err(error) => {
                failures = failures.saturating_add(1);
                let wait = backoff(failures, unit_random());
                tracing::warn!("{error}; retrying in {} s", wait.as_secs());
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stopped(&mut shutdown) => return,
        }
    }
}

async fn heartbeat_loop(agent: Agent, mut shutdown: watch::Receiver<bool>) {
    let mut wait = Duration::from_secs(10);
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stopped(&mut shutdown) => return,
        }
        wait = match agent.heartbeat().await {
            Ok(seconds) => Duration::from_secs(seconds.clamp(10, 24 * 3600)),
            Err(SyncError::NotPossible(_)) => Duration::from_secs(300),
            Err(error) => {
                tracing::debug!("{error}");
                Duration::from_secs(300)
            }
        };
    }
}

/// Re-evaluates the state when the next deadline passes (stale, degraded, expired) and
/// at least every minute, and picks up a license imported by another process.
async fn ticker(agent: Agent, mut shutdown: watch::Receiver<bool>) {
    loop {
        let current = agent.current();
        let wait = current
            .next_change_at()
            .and_then(|at| Duration::try_from(at - agent.now()).ok())
            .unwrap_or(TICK_MAX)
            .clamp(Duration::from_millis(100), TICK_MAX);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stopped(&mut shutdown) => return,
        }
        if let Err(error) = agent.reload() {
            tracing::error!("cannot re-read the stored license: {error:#}");
        }
        if let Err(error) = agent.tick() {
            tracing::error!("cannot re-evaluate the license state: {error:#}");
        }
        if let Err(error) = agent.record_camera_days().await {
            tracing::error!("cannot record today's camera-days: {error:#}");
        }
    }
}

/// Fetches the product's signed catalog whenever the device lacks it: at first contact
/// (the configured product, before any license) and when a license names a catalog
/// version the device does not hold. Each want is fetched once the server answers;
/// while it does not, retries back off like refreshes.
async fn catalog_loop(agent: Agent, mut shutdown: watch::Receiver<bool>) {
    let mut changes = agent.changes();
    let mut failures = 0u32;
    let mut fetched = None;
    loop {
        let mut wait = Duration::from_secs(3600);
        if let Some(wanted) = agent.catalog_wanted() {
            if fetched.as_ref() != Some(&wanted) {
                match agent.fetch_catalog(&wanted.product).await {
                    Ok(_) => {
                        failures = 0;
                        fetched = Some(wanted);
                    }
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        wait = backoff(failures, unit_random());
                        tracing::warn!(
                            retry_in_seconds = wait.as_secs(),
                            "cannot fetch the product's signed catalog: {error:#}"
                        );
                    }
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = stopped(&mut shutdown) => return,
        }
    }
}

/// What identifies a plan for the hook: the modules and compose settings, not the
/// memory totals.
fn plan_key(plan: &ModulePlan) -> String {
    let modules: Vec<&str> = plan.enabled.iter().map(|m| m.id.as_str()).collect();
    format!(
        "{}|{}|{}",
        modules.join(","),
        plan.compose_profiles.join(","),
        plan.compose_services.join(",")
    )
}

/// Runs the configured command whenever the module plan changes (and once at start if
/// the plan differs from the last one applied), retrying with backoff on failure until
/// it succeeds or a newer plan replaces it.
async fn plan_hook(agent: Agent, command: String, mut shutdown: watch::Receiver<bool>) {
    let mut changes = agent.changes();
    let mut applied = agent.applied_plan();
    let mut failures = 0u32;
    loop {
        let plan = agent.plan(None, None);
        let key = plan_key(&plan);
        if applied.as_deref() != Some(key.as_str()) {
            match run_hook(&command, &plan).await {
                Ok(()) => {
                    failures = 0;
                    agent.set_applied_plan(&key);
                    applied = Some(key);
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let wait = backoff(failures, unit_random());
                    tracing::warn!(
                        "on-plan-change command failed: {error}; retrying in {} s",
                        wait.as_secs()
                    );
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = changes.changed() => {}
                        () = stopped(&mut shutdown) => return,
                    }
                    continue;
                }
            }
        }
        tokio::select! {
            result = changes.changed() => if result.is_err() { return },
            () = stopped(&mut shutdown) => return,
        }
    }
}

async fn run_hook(command: &str, plan: &ModulePlan) -> Result<(), String> {
    let json = serde_json::to_string(plan).map_err(|e| e.to_string())?;
    let modules: Vec<&str> = plan.enabled.iter().map(|m| m.id.as_str()).collect();
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("LICET_PLAN_JSON", &json)
        .env("LICET_COMPOSE_PROFILES", plan.compose_profiles.join(","))
        .env("LICET_COMPOSE_SERVICES", plan.compose_services.join(","))
        .env("LICET_MODULES", modules.join(","))
        .stdin(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start `sh -c {command}`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin closes the pipe; that is fine.
        let _ = stdin.write_all(json.as_bytes()).await;
        let _ = stdin.shutdown().await;
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("cannot wait for the command: {e}"))?;
    if status.success() {
        tracing::info!(modules = %modules.join(","), "on-plan-change command succeeded");
        Ok(())
    } else {
        Err(format!("exited with {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(30));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(15));
        assert_eq!(backoff(3, 1.0), Duration::from_secs(120));
        assert_eq!(backoff(30, 1.0), BACKOFF_MAX);
        assert!(backoff(30, 0.0) >= BACKOFF_MAX / 2);
    }
}
