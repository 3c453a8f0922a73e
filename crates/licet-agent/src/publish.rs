//! Optional publication of the snapshot to Redis, for C/C++ services on the device
//! that already speak Redis (hiredis) and would rather read a hash than call HTTP.
//!
//! Layout: the hash `licet:agent:<device id>` (or `licet:agent:unactivated`) holds
//! `state`, `generation`, `updated_at`, `plan` (JSON, as `GET /v1/plan`) and one field
//! per feature, `feature:<key>`, with `{"allowed", "reason", "value"}` as JSON. After
//! each update the key name is published on the channel `licet:agent:changes`. The
//! hash is written whole in one `MULTI`, so a reader never sees half an update.

use crate::agent::Agent;
use std::time::Duration;
use tokio::sync::watch;

/// The channel every update is announced on.
pub const CHANNEL: &str = "licet:agent:changes";

/// The hash a device's snapshot is published under.
pub fn key_for(device_id: Option<&str>) -> String {
    format!("licet:agent:{}", device_id.unwrap_or("unactivated"))
}

async fn publish_once(
    agent: &Agent,
    connection: &mut redis::aio::ConnectionManager,
) -> redis::RedisResult<()> {
    let current = agent.current();
    let key = key_for(current.device_id.as_deref());
    let plan = serde_json::to_string(&agent.plan(None, None)).unwrap_or_default();
    let mut fields: Vec<(String, String)> = vec![
        ("state".into(), current.report.state.as_str().into()),
        ("generation".into(), current.generation.to_string()),
        (
            "updated_at".into(),
            licet_core::time_text(current.report.effective_now),
        ),
        ("plan".into(), plan),
    ];
    for (feature, status) in current.snapshot.features() {
        let value = serde_json::json!({
            "allowed": status.allowed,
            "reason": status.reason.as_str(),
            "value": status.value,
        });
        fields.push((format!("feature:{feature}"), value.to_string()));
    }
    redis::pipe()
        .atomic()
        .del(&key)
        .hset_multiple(&key, &fields)
        .ignore()
        .publish(CHANNEL, &key)
        .ignore()
        .query_async::<()>(connection)
        .await?;
    Ok(())
}

/// Publishes at start and after every change. A failed publication is retried after
/// 1 s, doubling to 30 s while Redis stays down: one slow answer under load does not
/// leave the published snapshot stale for long.
pub async fn publish_loop(agent: Agent, url: String, mut shutdown: watch::Receiver<bool>) {
    let mut changes = agent.changes();
    let client = match redis::Client::open(url.as_str()) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(
                "redis_url {url:?} is not usable: {error}; the snapshot is not published"
            );
            return;
        }
    };
    let mut connection: Option<redis::aio::ConnectionManager> = None;
    let mut failures = 0u32;
    loop {
        if connection.is_none() {
            match redis::aio::ConnectionManager::new(client.clone()).await {
                Ok(c) => connection = Some(c),
                Err(error) => tracing::warn!("cannot connect to Redis: {error}"),
            }
        }
        let mut published = false;
        if let Some(c) = connection.as_mut() {
            match publish_once(&agent, c).await {
                Ok(()) => published = true,
                Err(error) => tracing::warn!("cannot publish the snapshot to Redis: {error}"),
            }
        }
        let retry = if published {
            failures = 0;
            Duration::from_secs(24 * 3600)
        } else {
            failures = failures.saturating_add(1);
            Duration::from_secs((1u64 << failures.min(6).saturating_sub(1)).min(30))
        };
        tokio::select! {
            result = changes.changed() => if result.is_err() { return },
            () = tokio::time::sleep(retry) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}
