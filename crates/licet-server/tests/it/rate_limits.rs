//! Rate limits as a service: a parking platform's gateway asks per request whether one
//! of a tenant's API keys may go on. The tenant's plan sets the rate, the answer carries
//! the IETF RateLimit fields, a refusal is 429 `rate_limited` with `Retry-After`, a new
//! window starts from zero and a plan change applies at once. When Redis goes away the
//! decisions go on, counted in the process (fail open to a local limit, never to none).

use crate::support::{TestServer, repo};
use licet_client::wire::{ApiKeyCreate, SubscriptionChange};
use licet_host::clock::ManualClock;
use serde_json::{Value, json};
use std::time::Duration;

struct Answer {
    status: u16,
    policy: String,
    fields: String,
    retry_after: Option<String>,
    body: Value,
}

async fn decide(
    server: &TestServer,
    key: &str,
    tenant: &str,
    limit: &str,
    subject: &str,
) -> Answer {
    let response = server
        .http()
        .post(format!("{}/v1/tenants/{tenant}/rate-limit", server.base))
        .bearer_auth(key)
        .json(&json!({"limit": limit, "subject": subject}))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    Answer {
        status: response.status().as_u16(),
        policy: header("ratelimit-policy").unwrap_or_default(),
        fields: header("ratelimit").unwrap_or_default(),
        retry_after: header("retry-after"),
        body: response.json().await.unwrap(),
    }
}

async fn parking_tenant(server: &TestServer, plan: &str, scope: &str) -> (String, String, String) {
    let (tenant, subscription) = server.tenant_with("smart-parking", plan).await;
    let key = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec![scope.into()],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    (tenant.id, subscription.id, key)
}

pub async fn a_basic_tenants_key_gets_100_a_minute_then_429(
    server: &TestServer,
    clock: &ManualClock,
) {
    let (tenant, subscription, key) = parking_tenant(server, "basic", "subscriptions:read").await;
    // 09:00:20: forty seconds are left in the minute's window.
    clock.advance(time::Duration::seconds(20));
    for n in 1..=100u64 {
        let answer = decide(server, &key, &tenant, "api_rate_per_minute", "gw-key-1").await;
        assert_eq!(answer.status, 200, "request {n}: {}", answer.body);
        assert_eq!(answer.policy, "\"api_rate_per_minute\";q=100;w=60");
        assert_eq!(
            answer.fields,
            format!("\"api_rate_per_minute\";r={};t=40", 100 - n)
        );
        assert_eq!(answer.retry_after, None);
        assert_eq!(
            answer.body,
            json!({"allowed": true, "limit": "api_rate_per_minute", "quota": 100,
                   "remaining": 100 - n, "reset_seconds": 40, "window_seconds": 60,
                   "subscription_id": subscription})
        );
    }
    let refused = decide(server, &key, &tenant, "api_rate_per_minute", "gw-key-1").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "rate_limited");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("100 requests per 60 s"),
        "{}",
        refused.body
    );
    assert_eq!(refused.fields, "\"api_rate_per_minute\";r=0;t=40");
    assert_eq!(refused.retry_after.as_deref(), Some("40"));
    // Another API key of the tenant has a count of its own.
    let other = decide(server, &key, &tenant, "api_rate_per_minute", "gw-key-2").await;
    assert_eq!((other.status, &other.body["remaining"]), (200, &json!(99)));

    // The next minute starts from zero.
    clock.advance(time::Duration::seconds(40));
    let next = decide(server, &key, &tenant, "api_rate_per_minute", "gw-key-1").await;
    assert_eq!(next.status, 200);
    assert_eq!(next.fields, "\"api_rate_per_minute\";r=99;t=60");

    // An upgrade applies at once, to the window's count so far.
    let changed = server
        .http()
        .patch(format!("{}/v1/subscriptions/{subscription}", server.base))
        .bearer_auth(&server.admin_token)
        .json(&SubscriptionChange {
            plan: Some("professional".into()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let upgraded = decide(server, &key, &tenant, "api_rate_per_minute", "gw-key-1").await;
    assert_eq!(upgraded.policy, "\"api_rate_per_minute\";q=1000;w=60");
    assert_eq!(upgraded.body["remaining"], 998);

    // A suspended subscription grants no rate at all.
    server
        .admin
        .subscription_action(&subscription, "suspend")
        .await
        .unwrap();
    let suspended = decide(server, &key, &tenant, "api_rate_per_minute", "gw-key-1").await;
    assert_eq!(suspended.status, 403, "{}", suspended.body);
    assert!(
        suspended.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("license_suspended"),
        "{}",
        suspended.body
    );
}

pub async fn bad_decision_requests_are_named(server: &TestServer) {
    let (tenant, _, key) = parking_tenant(server, "basic", "subscriptions:read").await;
    let not_a_rate = decide(server, &key, &tenant, "max_spaces", "k").await;
    assert_eq!(not_a_rate.status, 400);
    assert!(
        not_a_rate.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a rate"),
        "{}",
        not_a_rate.body
    );
    let unknown = decide(server, &key, &tenant, "api_rate_per_hour", "k").await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("its rate limits are: api_rate_per_minute"),
        "{}",
        unknown.body
    );
    let empty = decide(server, &key, &tenant, "api_rate_per_minute", "").await;
    assert_eq!(empty.status, 400);
    assert!(
        empty.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`subject`"),
        "{}",
        empty.body
    );
    // A key without the read scope, and another tenant's key.
    let (_, _, usage_key) = parking_tenant(server, "basic", "usage:read").await;
    assert_eq!(
        decide(server, &usage_key, &tenant, "api_rate_per_minute", "k")
            .await
            .status,
        404,
        "another tenant's key does not see this tenant"
    );
    let (own_tenant, _, _) = parking_tenant(server, "basic", "usage:read").await;
    let own_usage_key = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: own_tenant.clone(),
            scopes: vec!["usage:read".into()],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    assert_eq!(
        decide(
            server,
            &own_usage_key,
            &own_tenant,
            "api_rate_per_minute",
            "k"
        )
        .await
        .status,
        403
    );
}

/// A Redis of this test's own, on a free port, that the test stops.
struct OwnRedis {
    child: std::process::Child,
    url: String,
}

impl OwnRedis {
    fn start() -> Option<OwnRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = match std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but redis-server is not installed")
            }
            Err(_) => return None,
        };
        let url = format!("redis://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(OwnRedis { child, url })
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_redis_goes_away_decisions_fall_back_to_a_local_limit() {
    let Some(mut redis) = OwnRedis::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = licet_server::ServerConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        catalog_dir: Some(repo().join("examples/catalogs")),
        redis_url: Some(secrecy::SecretString::from(redis.url.clone())),
        ..licet_server::ServerConfig::default()
    };
    let server = TestServer::start_with_config(&config, dir).await;
    let (tenant, _, key) = parking_tenant(&server, "basic", "subscriptions:read").await;
    let first = decide(&server, &key, &tenant, "api_rate_per_minute", "gw").await;
    assert_eq!(first.status, 200, "{}", first.body);
    redis.child.kill().unwrap();
    redis.child.wait().unwrap();
    // Redis is gone: every decision is still answered, promptly, and the limit holds in
    // this process (the window is counted afresh here: at most 100 more).
    let started = tokio::time::Instant::now();
    let mut allowed = 0;
    let mut refused = 0;
    for _ in 0..120 {
        match decide(&server, &key, &tenant, "api_rate_per_minute", "gw")
            .await
            .status
        {
            200 => allowed += 1,
            429 => refused += 1,
            other => panic!("status {other} without Redis"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "decisions without Redis took {:?}",
        started.elapsed()
    );
    assert!(
        (99..=100).contains(&allowed) && refused == 120 - allowed,
        "fail open to the local limit, not to no limit: {allowed} allowed, {refused} refused"
    );
    server.stop().await;
}

crate::on_both!(bad_decision_requests_are_named);
crate::on_both_clocked!(a_basic_tenants_key_gets_100_a_minute_then_429);
