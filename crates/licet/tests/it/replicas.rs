//! Two `licet server` processes on one PostgreSQL behaving as one server: one signing
//! key, rate limits shared through Redis, a "no" given through one heard by the other,
//! and license sequences that never repeat or go back, a SIGKILL of one included.

use crate::server::{runtime, start_with, terminate};
use crate::{licet, path, stderr, stdout};
use licet_client::Client;
use licet_client::wire::SubscriptionCreate;
use std::process::{Command, Stdio};

/// The PostgreSQL URL in a fresh schema, or `None` outside CI when unset.
fn postgres() -> Option<String> {
    use sqlx::Connection as _;
    let url = match std::env::var("LICET_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but LICET_TEST_POSTGRES_URL is not set")
        }
        _ => return None,
    };
    let schema = format!("licet_test_procs_{}", std::process::id());
    runtime().block_on(async {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let separator = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{separator}options[search_path]={schema}"))
}

#[test]
fn two_server_processes_on_one_postgres_behave_as_one() {
    let Some(url) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shared");
    // On PostgreSQL a replica never invents a signing key of its own.
    let refused = Command::new(env!("CARGO_BIN_EXE_licet"))
        .args(["server", "init", "--data-dir", path(&data)])
        .env("LICET_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("does not invent one on PostgreSQL")
            && stderr(&refused).contains("licet keys certify"),
        "{}",
        stderr(&refused)
    );
    // The operator's way: an offline root certifies the key every replica signs with.
    let root_dir = dir.path().join("offline-root");
    for args in [
        vec!["keys", "new-root", "--out", path(&root_dir)],
        vec!["keys", "new", "--out", path(&data)],
    ] {
        let made = licet(args);
        assert!(made.status.success(), "{}", stderr(&made));
    }
    let certified = licet([
        "keys",
        "certify",
        "--root",
        path(&root_dir.join("root.key")),
        "--key",
        path(&data.join("signing.pub")),
        "--days",
        "30",
        "--out",
        path(&data.join("signing.cert")),
    ]);
    assert!(certified.status.success(), "{}", stderr(&certified));
    let mut pinned = licet_core::signing::Keyring::new();
    pinned.add_root(
        licet_core::signing::parse_public_key(
            &std::fs::read_to_string(root_dir.join("root.pub")).unwrap(),
        )
        .unwrap(),
    );
    let init = Command::new(env!("CARGO_BIN_EXE_licet"))
        .args(["server", "init", "--data-dir", path(&data)])
        .env("LICET_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", stderr(&init));
    let token = stdout(&init).lines().last().unwrap().to_owned();
    // Both processes start at once over the same database and catalogs, and share
    // their rate limits through Redis.
    let redis = redis_url();
    let env: Vec<(&str, &str)> = redis
        .iter()
        .map(|r| ("LICET_REDIS_URL", r.as_str()))
        .collect();
    let (mut a, _) = start_with(&data, Some(&url), &env, Stdio::null());
    let (b, _) = start_with(&data, Some(&url), &env, Stdio::null());
    let rt = runtime();
    let activated = rt.block_on(async {
        let admin_a = Client::new(&a.base).with_token(&token);
        let tenant = admin_a.create_tenant("Fleet").await.unwrap();
        let subscription = admin_a
            .create_subscription(
                &tenant.id,
                &SubscriptionCreate {
                    product_id: "gate-control".into(),
                    plan: "professional".into(),
                    addons: vec![],
                    trial: false,
                    modules: None,
                    term_days: None,
                },
            )
            .await
            .unwrap();
        // Created through A, activated through B.
        let activated = Client::new(&b.base)
            .activate(&licet_client::wire::ActivationRequest {
                license_key: subscription.license_key.unwrap(),
                fingerprint: "fleet-box-1".into(),
                device_public_key: "ed25519:wQ6+ER6BpydbBaQLhyGJ2dlqsr25JBeuOZBfwr2EFt0=".into(),
                name: "box 1".into(),
                hardware: None,
                proof: None,
            })
            .await
            .unwrap();
        let expect = licet_core::license::Expectations {
            fingerprint: Some("fleet-box-1"),
            now: Some(licet_host::clock::Clock::now(
                &licet_host::clock::SystemClock,
            )),
            min_sequence: None,
        };
        let mut last = licet_core::license::verify(&pinned, &activated.license, &expect)
            .expect("a device pinned to the root accepts B's license")
            .payload()
            .sequence;
        // Alternating replicas, each answering from its own block: the device says
        // what it holds (as the agent does), or does not (older clients).
        for round in 0..8 {
            let base = if round % 2 == 0 { &a.base } else { &b.base };
            let held = (round % 4 != 3).then_some(last);
            let refreshed = Client::new(base)
                .with_token(&activated.device_token)
                .refresh(&activated.device_id, None, held)
                .await
                .unwrap();
            assert!(
                refreshed.sequence > last,
                "sequence {} after {last}",
                refreshed.sequence
            );
            licet_core::license::verify(&pinned, &refreshed.license, &expect)
                .expect("a device pinned to the root accepts both replicas' licenses");
            last = refreshed.sequence;
        }
        // Both processes sign with the same key and list it once.
        let keys_a = Client::new(&a.base).signing_keys().await.unwrap();
        assert_eq!(keys_a, Client::new(&b.base).signing_keys().await.unwrap());
        assert_eq!(keys_a.len(), 1);
        if redis.is_some() {
            guesses_are_limited_across(&a.base, &b.base).await;
            a_tenants_rate_is_shared_by_both_replicas(&admin_a, &a.base, &b.base).await;
        }
        let device_b = Client::new(&b.base).with_token(&activated.device_token);
        last = a_no_through_one_replica_is_heard_by_the_other(
            &pinned,
            &admin_a,
            &device_b,
            &subscription.id,
            &activated.device_id,
            last,
        )
        .await;
        assert!(last > 0);
        activated
    });
    // Anti-rollback across replicas and a crash: the device refreshes through both at
    // once while A is killed (SIGKILL, mid-request); every license it was given has its
    // own sequence, and after A restarts each new one is above all of them.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Refreshes until told to stop or the replica fails; says which.
    let refreshes = |base: String| {
        let (token, id) = (activated.device_token.clone(), activated.device_id.clone());
        let stop = stop.clone();
        async move {
            let client = Client::new(&base).with_token(&token);
            let mut sequences: Vec<u64> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match client.refresh(&id, None, sequences.last().copied()).await {
                    Ok(refreshed) => sequences.push(refreshed.sequence),
                    Err(_) => return (sequences, true),
                }
            }
            (sequences, false)
        }
    };
    let mut seen = rt.block_on(async {
        let on_a = tokio::spawn(refreshes(a.base.clone()));
        let on_b = tokio::spawn(refreshes(b.base.clone()));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        a.child.kill().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut seen, a_failed) = on_a.await.unwrap();
        let (from_b, b_failed) = on_b.await.unwrap();
        assert!(a_failed, "A was killed while refreshing");
        assert!(!b_failed, "B kept answering");
        assert!(
            !seen.is_empty() && !from_b.is_empty(),
            "both replicas answered"
        );
        seen.extend(from_b);
        seen
    });
    drop(a);
    let before_crash = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), before_crash, "a sequence was handed out twice");
    let highest = *seen.last().unwrap();
    let (a, _) = start_with(&data, Some(&url), &env, Stdio::null());
    rt.block_on(async {
        let mut last = highest;
        for round in 0..4 {
            let base = if round % 2 == 0 { &a.base } else { &b.base };
            let refreshed = Client::new(base)
                .with_token(&activated.device_token)
                .refresh(&activated.device_id, None, Some(last))
                .await
                .unwrap();
            assert!(
                refreshed.sequence > last,
                "after the crash: sequence {} after {last}",
                refreshed.sequence
            );
            last = refreshed.sequence;
        }
    });
    assert_eq!(terminate(a), 0);
    assert_eq!(terminate(b), 0);
    drop_schema(&url);
}

/// B has the device's session cached (it just refreshed there); a suspension through A
/// is heard by B within the time a notification takes, and B's verdict is above what
/// the device holds; the resumption through A lifts it at B with a license above the
/// verdict. Returns the highest sequence the device holds at the end.
async fn a_no_through_one_replica_is_heard_by_the_other(
    pinned: &licet_core::signing::Keyring,
    admin_a: &Client,
    device_b: &Client,
    subscription: &str,
    device: &str,
    held: u64,
) -> u64 {
    let held = device_b
        .refresh(device, None, Some(held))
        .await
        .unwrap()
        .sequence;
    admin_a
        .subscription_action(subscription, "suspend")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    let refusal = loop {
        match device_b.refresh(device, Some("n-1"), Some(held)).await {
            Err(error) => break error,
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Ok(_) => panic!("B still issues licenses 2 s after the suspension through A"),
        }
    };
    let licet_client::ClientError::Api { status, body } = refusal else {
        panic!("not a refusal: {refusal}");
    };
    assert_eq!(
        (status, body.error.code.as_str()),
        (403, "subscription_suspended")
    );
    let verdict = body.verdict.expect("a signed verdict");
    let (_, verdict) = licet_core::verdict::open_verdict(
        pinned,
        &verdict,
        &licet_core::ids::DeviceId::new(device),
        Some("n-1"),
        licet_host::clock::Clock::now(&licet_host::clock::SystemClock),
    )
    .expect("B's verdict opens under the root");
    let verdict_sequence = verdict.sequence;
    assert!(
        verdict_sequence > held,
        "the verdict ({verdict_sequence}) is above the license held ({held})"
    );
    admin_a
        .subscription_action(subscription, "resume")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match device_b
            .refresh(device, None, Some(held.max(verdict_sequence)))
            .await
        {
            Ok(lifted) => {
                assert!(
                    lifted.sequence > verdict_sequence,
                    "a license above the verdict lifts it"
                );
                return lifted.sequence;
            }
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(error) => panic!("B still refuses 2 s after the resumption through A: {error}"),
        }
    }
}

/// The Redis URL the tests share, or `None` outside CI when unset.
fn redis_url() -> Option<String> {
    match std::env::var("LICET_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but LICET_TEST_REDIS_URL is not set")
        }
        _ => None,
    }
}

/// Wrong license keys from one address, sent to the two processes in turn: together
/// they allow the default 30 a minute, not 30 each.
/// Smart parking's gateway asks for a decision per request of one of its API keys: a
/// Basic tenant's 100 requests a minute are allowed, through A and B in turn, and the
/// 101st is refused with 429, with the IETF RateLimit fields on every answer. Another
/// subject of the tenant has its own count.
async fn a_tenants_rate_is_shared_by_both_replicas(admin: &Client, a: &str, b: &str) {
    let tenant = admin.create_tenant("Parking Co").await.unwrap();
    admin
        .create_subscription(
            &tenant.id,
            &SubscriptionCreate {
                product_id: "smart-parking".into(),
                plan: "basic".into(),
                addons: vec![],
                trial: false,
                modules: None,
                term_days: None,
            },
        )
        .await
        .unwrap();
    let key = admin
        .create_api_key(&licet_client::wire::ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["subscriptions:read".into()],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    let http = reqwest::Client::new();
    let decide = |base: &str, subject: &str| {
        http.post(format!("{base}/v1/tenants/{}/rate-limit", tenant.id))
            .bearer_auth(&key)
            .json(&serde_json::json!({"limit": "api_rate_per_minute", "subject": subject}))
            .send()
    };
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let minute =
        || licet_host::clock::Clock::now(&licet_host::clock::SystemClock).unix_timestamp() / 60;
    // The window is a minute aligned to :00; a burst that straddles its end is run again
    // with a fresh subject.
    for attempt in 0..3 {
        let subject = format!("gateway-key-{attempt}");
        let started = minute();
        let mut allowed = 0;
        let mut first_refusal = None;
        for i in 0..150 {
            let response = decide(if i % 2 == 0 { a } else { b }, &subject)
                .await
                .unwrap();
            let policy = header(&response, "ratelimit-policy");
            assert_eq!(policy, "\"api_rate_per_minute\";q=100;w=60");
            let fields = header(&response, "ratelimit");
            let reset: u64 = fields.rsplit_once(";t=").unwrap().1.parse().unwrap();
            assert!((1..=60).contains(&reset), "{fields}");
            match response.status().as_u16() {
                200 => {
                    allowed += 1;
                    assert!(first_refusal.is_none(), "allowed after a refusal");
                    assert!(
                        fields
                            .starts_with(&format!("\"api_rate_per_minute\";r={};", 100 - allowed)),
                        "{fields}"
                    );
                    let body: serde_json::Value = response.json().await.unwrap();
                    assert_eq!(body["allowed"], true);
                    assert_eq!(body["quota"], 100);
                }
                429 => {
                    assert_eq!(header(&response, "retry-after"), reset.to_string());
                    assert!(fields.contains(";r=0;"), "{fields}");
                    let body: serde_json::Value = response.json().await.unwrap();
                    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
                    first_refusal.get_or_insert(i);
                }
                other => panic!("status {other}"),
            }
        }
        if minute() != started {
            continue;
        }
        assert_eq!(allowed, 100, "a Basic tenant's rate is 100 a minute");
        assert_eq!(first_refusal, Some(100));
        // Another of the tenant's API keys is counted apart.
        let other = decide(b, &format!("other-key-{attempt}")).await.unwrap();
        assert_eq!(other.status(), 200);
        return;
    }
    panic!("three bursts in a row straddled a minute boundary");
}

async fn guesses_are_limited_across(a: &str, b: &str) {
    let wrong = serde_json::json!({
        "license_key": "LCT-7KQ2M-PX9TD-4RW8N-HC3VZ", "fingerprint": "guess",
        "device_public_key": "ed25519:wQ6+ER6BpydbBaQLhyGJ2dlqsr25JBeuOZBfwr2EFt0=", "name": "guess"
    });
    let minute =
        || licet_host::clock::Clock::now(&licet_host::clock::SystemClock).unix_timestamp() / 60;
    // The shared count is per minute: a burst that straddles a minute boundary is run
    // again, from another address (one of its own, so no other run's window counts).
    for attempt in 0..3u32 {
        let octet = u8::try_from((std::process::id() + attempt) % 200 + 30).unwrap();
        let http = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 2, octet]))
            .build()
            .unwrap();
        let started = minute();
        let mut statuses = Vec::new();
        for i in 0..40 {
            let base = if i % 2 == 0 { a } else { b };
            let response = http
                .post(format!("{base}/v1/activations"))
                .json(&wrong)
                .send()
                .await
                .unwrap();
            if response.status() == 429 {
                assert!(response.headers().contains_key("retry-after"));
            }
            statuses.push(response.status().as_u16());
        }
        if minute() != started {
            continue;
        }
        let allowed = statuses.iter().filter(|s| **s != 429).count();
        assert_eq!(
            allowed, 30,
            "the two processes together allowed {allowed} of 40: {statuses:?}"
        );
        assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
        return;
    }
    panic!("three bursts in a row straddled a minute boundary");
}

fn drop_schema(url: &str) {
    use sqlx::Connection as _;
    let (base, schema) = url.split_once("options[search_path]=").unwrap();
    let base = base.trim_end_matches(['?', '&']);
    runtime().block_on(async {
        let mut conn = sqlx::PgConnection::connect(base).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
    });
}
