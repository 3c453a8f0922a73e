//! The example hosted back-end (`examples/hosted-backend`, FastAPI with the stock
//! OpenFeature SDK and OFREP provider) run against a real `licet server`: spaces are
//! claimed against the tenant's `max_spaces`, an API key is rate limited at its tier's
//! rate, and the occupancy report follows the `analytics` flag.

use crate::repo;
use crate::server::{runtime, start, terminate};
use licet_client::Client;
use licet_client::wire::{ApiKeyCreate, SubscriptionCreate};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

/// The Python with the example's requirements (`LICET_TEST_OFREP_PYTHON`, which CI
/// installs them into); required under CI.
fn python() -> Option<String> {
    match std::env::var("LICET_TEST_OFREP_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but LICET_TEST_OFREP_PYTHON is not set: the example back-end must run")
        }
        _ => None,
    }
}

struct Backend(Child);

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_example_backend_claims_spaces_is_rate_limited_and_reads_flags() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (server, lines) = start(&dir.path().join("licet"), None);
    let token = lines[1].clone();
    let rt = runtime();
    let admin = Client::new(&server.base).with_token(&token);
    let tenant_on = |name: &'static str, plan: &'static str| {
        let admin = admin.clone();
        async move {
            let tenant = admin.create_tenant(name).await.unwrap();
            admin
                .create_subscription(
                    &tenant.id,
                    &SubscriptionCreate {
                        product_id: "smart-parking".into(),
                        plan: plan.into(),
                        addons: vec![],
                        trial: false,
                        modules: None,
                        term_days: None,
                    },
                )
                .await
                .unwrap();
            let key = admin
                .create_api_key(&ApiKeyCreate {
                    tenant_id: tenant.id.clone(),
                    scopes: vec!["subscriptions:write".into()],
                    expires_in_days: None,
                })
                .await
                .unwrap()
                .key;
            (tenant.id, key)
        }
    };
    let (harbour, harbour_key) = rt.block_on(tenant_on("Harbour Parking", "basic"));
    let (metro, metro_key) = rt.block_on(tenant_on("Metro Parking", "professional"));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let keys = serde_json::json!({ harbour.clone(): harbour_key, metro.clone(): metro_key });
    let _backend = Backend(
        Command::new(python)
            .args(["-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .current_dir(repo().join("examples/hosted-backend"))
            .env("LICET_URL", &server.base)
            .env("LICET_TENANT_KEYS", keys.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    rt.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "the example back-end did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let spaces = |tenant: &str| format!("{base}/tenants/{tenant}/spaces");

        // Basic: 100 spaces, created through two API keys (each well under its rate).
        for n in 0..100 {
            let response = http
                .post(spaces(&harbour))
                .header("x-api-key", if n % 2 == 0 { "key-a" } else { "key-b" })
                .json(&serde_json::json!({"id": format!("space-{n}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        }
        let refused = http
            .post(spaces(&harbour))
            .header("x-api-key", "key-c")
            .json(&serde_json::json!({"id": "space-100"}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["detail"]["code"], "limit_reached", "{body}");
        assert!(
            body["detail"]["message"]
                .as_str()
                .unwrap()
                .contains("professional"),
            "names the tier that allows more: {body}"
        );
        let deleted = http
            .delete(format!("{}/space-7", spaces(&harbour)))
            .header("x-api-key", "key-c")
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
        let again = http
            .post(spaces(&harbour))
            .header("x-api-key", "key-c")
            .json(&serde_json::json!({"id": "space-100"}))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 201, "a released space makes room");

        // Flags through OpenFeature: Basic has no analytics, Professional has.
        let report = |tenant: &str| {
            http.get(format!("{base}/tenants/{tenant}/analytics/occupancy"))
                .header("x-api-key", "key-c")
                .send()
        };
        assert_eq!(report(&harbour).await.unwrap().status(), 403);
        let metro_report = report(&metro).await.unwrap();
        assert_eq!(metro_report.status(), 200);
        let body: serde_json::Value = metro_report.json().await.unwrap();
        assert_eq!(body["max_spaces"], 500, "{body}");

        // One API key of a Basic tenant: 100 requests a minute, then 429 with the
        // RateLimit fields Licet gave (a burst straddling a minute runs again).
        let minute =
            || licet_host::clock::Clock::now(&licet_host::clock::SystemClock).unix_timestamp() / 60;
        for attempt in 0..3 {
            let key = format!("burst-{attempt}");
            let started = minute();
            let mut statuses = Vec::new();
            let mut last = None;
            for _ in 0..101 {
                let response = http
                    .get(spaces(&harbour))
                    .header("x-api-key", &key)
                    .send()
                    .await
                    .unwrap();
                statuses.push(response.status().as_u16());
                last = Some(response);
            }
            if minute() != started {
                continue;
            }
            assert!(statuses[..100].iter().all(|s| *s == 200), "{statuses:?}");
            assert_eq!(statuses[100], 429);
            let last = last.unwrap();
            let header = |name: &str| last.headers()[name].to_str().unwrap().to_owned();
            assert_eq!(
                header("ratelimit-policy"),
                "\"api_rate_per_minute\";q=100;w=60"
            );
            assert!(header("ratelimit").starts_with("\"api_rate_per_minute\";r=0;t="));
            assert!(header("retry-after").parse::<u64>().unwrap() >= 1);
            return;
        }
        panic!("three bursts in a row straddled a minute boundary");
    });
    assert_eq!(terminate(server), 0);
}
