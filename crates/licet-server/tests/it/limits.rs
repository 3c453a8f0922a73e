//! Rate limits on Licet's own API: guessing license keys or token secrets is answered
//! 429 with `Retry-After` and the IETF RateLimit fields, per client address (another
//! address is not affected), and the count is shared by replicas through Redis.

use crate::support::{TestServer, activation, repo};
use licet_server::ServerConfig;
use secrecy::SecretString;

/// A server whose activation limit is `per_minute`, sharing `redis` if given.
async fn server(per_minute: u32, redis: Option<&str>) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        catalog_dir: Some(repo().join("examples/catalogs")),
        redis_url: redis.map(|r| SecretString::from(r.to_owned())),
        rate_limits: licet_server::limits::RateLimits {
            activations_per_minute: per_minute,
            failed_auth_per_minute: per_minute,
            requests_per_credential_per_minute: 10_000,
        },
        ..ServerConfig::default()
    };
    TestServer::start_with_config(&config, dir).await
}

/// A client whose requests come from `address` (any 127.0.0.0/8 address is loopback).
fn from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(address))
        .build()
        .unwrap()
}

async fn activate(
    http: &reqwest::Client,
    base: &str,
    body: &licet_client::wire::ActivationRequest,
) -> reqwest::Response {
    http.post(format!("{base}/v1/activations"))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guessing_license_keys_is_throttled_per_address() {
    let server = server(10, None).await;
    let (_, subscription) = server.tenant_with("gate-control", "standard").await;
    let guesser = from([127, 0, 0, 1]);
    let wrong = activation("LCT-7KQ2M-PX9TD-4RW8N-HC3VZ", "guess");
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(activate(&guesser, &server.base, &wrong).await);
    }
    let first_429 = statuses
        .iter()
        .position(|r| r.status().as_u16() == 429)
        .expect("a burst of wrong keys is throttled");
    assert!(
        (10..=12).contains(&first_429),
        "throttled after {first_429}"
    );
    let limited = statuses.remove(first_429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert!(
        limited.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains("q=10")
    );
    assert!(limited.headers().contains_key("ratelimit"));
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");

    // A legitimate device elsewhere is not affected.
    let genuine = activation(subscription.license_key.as_deref().unwrap(), "gate-1");
    let response = activate(&from([127, 0, 0, 2]), &server.base, &genuine).await;
    assert_eq!(response.status().as_u16(), 201);

    // Wrong secrets for a real key id: throttled too, and the real key still works.
    let (tenant, _) = server.tenant_with("brinkbyte-vision", "base").await;
    let key = server
        .admin
        .create_api_key(&licet_client::wire::ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["usage:read".into()],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    let forged = format!("{}{}", &key[..key.len() - 8], "00000000");
    let mut codes = Vec::new();
    for _ in 0..12 {
        let response = from([127, 0, 0, 3])
            .get(format!("{}/v1/tenants/{}/quotas", server.base, tenant.id))
            .bearer_auth(&forged)
            .send()
            .await
            .unwrap();
        codes.push(response.status().as_u16());
    }
    assert_eq!(codes[0], 401);
    assert_eq!(*codes.last().unwrap(), 429, "{codes:?}");
    let response = from([127, 0, 0, 4])
        .get(format!("{}/v1/tenants/{}/quotas", server.base, tenant.id))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "the real key is not locked out"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_limit_holds_across_two_servers_sharing_redis() {
    let redis = match std::env::var("LICET_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but LICET_TEST_REDIS_URL is not set")
        }
        _ => return,
    };
    let a = server(8, Some(&redis)).await;
    let b = server(8, Some(&redis)).await;
    let wrong = activation("LCT-7KQ2M-PX9TD-4RW8N-HC3VZ", "guess");
    let minute =
        || licet_host::clock::Clock::now(&licet_host::clock::SystemClock).unix_timestamp() / 60;
    // The shared count is per minute: a burst that straddles a minute boundary is run
    // again, from another address.
    for attempt in 0..3u32 {
        // A client address of its own, so that earlier runs' windows do not interfere.
        let octet = u8::try_from((std::process::id() + attempt) % 200 + 20).unwrap();
        let http = from([127, 0, 1, octet]);
        let started = minute();
        let mut statuses = Vec::new();
        for i in 0..12 {
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            statuses.push(activate(&http, base, &wrong).await.status().as_u16());
        }
        if minute() != started {
            continue;
        }
        let allowed = statuses.iter().filter(|s| **s != 429).count();
        assert!(
            allowed <= 8,
            "the two servers together allowed {allowed} of 12: {statuses:?}"
        );
        assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
        break;
    }
    a.stop().await;
    b.stop().await;
}
