//! The snapshot published to a real Redis for C/C++ services.

use crate::support::{Device, LocalApi, START, offline_agent};
use licet_core::resolve::Subscription;
use licet_host::clock::ManualClock;
use std::sync::Arc;

fn redis_url() -> Option<String> {
    match std::env::var("LICET_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but LICET_TEST_REDIS_URL is not set: Redis publication must be tested in CI"
            )
        }
        _ => None,
    }
}

async fn field(
    connection: &mut redis::aio::MultiplexedConnection,
    key: &str,
    name: &str,
) -> Option<String> {
    redis::cmd("HGET")
        .arg(key)
        .arg(name)
        .query_async(connection)
        .await
        .unwrap()
}

/// Polls until the published state is `state` (publication is asynchronous).
async fn wait_for(connection: &mut redis::aio::MultiplexedConnection, key: &str, state: &str) {
    for _ in 0..400 {
        if field(connection, key, "state").await.as_deref() == Some(state) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{key} never showed state {state}");
}

#[tokio::test]
async fn the_snapshot_is_published_as_a_hash_and_follows_state_changes() {
    let Some(url) = redis_url() else {
        eprintln!("LICET_TEST_REDIS_URL unset: skipping the Redis publication test");
        return;
    };
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("redis-box");
    let agent = offline_agent(
        &device,
        "gate-control",
        Subscription::plan("standard"),
        clock.clone(),
        |c| {
            c.redis_url = Some(url.clone());
        },
    );
    let key = licet_agent::publish::key_for(Some("device-1"));
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();

    let api = LocalApi::start(agent.clone()).await;
    wait_for(&mut connection, &key, "active").await;
    let colour: serde_json::Value = serde_json::from_str(
        &field(&mut connection, &key, "feature:vehicle.color")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(colour["allowed"], true);
    assert_eq!(colour["reason"], "licensed");
    let plan: serde_json::Value =
        serde_json::from_str(&field(&mut connection, &key, "plan").await.unwrap()).unwrap();
    assert!(
        plan["enabled"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "vehicle.color")
    );

    // Past the grace period the published snapshot degrades with the agent.
    clock.advance(time::Duration::hours(80));
    agent.tick().unwrap();
    wait_for(&mut connection, &key, "degraded").await;
    let colour: serde_json::Value = serde_json::from_str(
        &field(&mut connection, &key, "feature:vehicle.color")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(colour["allowed"], false);
    api.stop().await;
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
}
