//! Every route against every kind of caller. The routes are not listed here: they are
//! read from the server's own `/openapi.json`, which the router and the document share
//! (one `routes!` declaration), so a route added tomorrow is probed tomorrow. Each
//! operation's `security` says who may call it — `admin_token`, `api_key` with the
//! scopes it needs as roles, `device_token` — and the probes hold the handlers to it:
//!
//! - no token → 401;
//! - a caller kind the operation does not list → 403 (a tenant key, the admin) or
//!   refused (a device token: 403 or 404);
//! - a tenant key lacking the operation's scope → 403, one holding it (or its `write`
//!   form) → 2xx;
//! - another tenant's id → 404, answered exactly like an id that does not exist, and
//!   nothing of the other tenant changes.
//!
//! Positive probes may change what they touch, so each runs in a world of its own.

use crate::support::{TestServer, device_key};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use licet_server::auth::SCOPES;

const PRODUCT: &str = "brinkbyte-vision";

/// One tenant with a subscription, an activated device and API keys.
struct World {
    tenant: String,
    subscription: String,
    device: String,
    device_token: String,
    /// Scope → (key, key id), one key per scope.
    keys: BTreeMap<&'static str, (String, String)>,
    /// A key with every scope.
    all: (String, String),
}

/// The ids an operation's path and body are filled with.
struct Ids<'a> {
    tenant: &'a str,
    subscription: &'a str,
    device: &'a str,
    key_id: &'a str,
}

impl World {
    fn ids<'a>(&'a self, key_id: &'a str) -> Ids<'a> {
        Ids {
            tenant: &self.tenant,
            subscription: &self.subscription,
            device: &self.device,
            key_id,
        }
    }
}

const GHOST: Ids<'static> = Ids {
    tenant: "ten_missing",
    subscription: "sub_missing",
    device: "dev_missing",
    key_id: "ffffffffffffffff",
};

/// A documented operation.
struct Operation {
    method: Method,
    path: String,
    id: String,
    /// Scheme name → roles, for each alternative the document lists.
    security: BTreeMap<String, Vec<String>>,
    body: Option<String>,
}

impl Operation {
    fn allows(&self, scheme: &str) -> bool {
        self.security.contains_key(scheme)
    }

    /// Whether a key holding only `scope` satisfies the operation's `api_key` roles.
    fn satisfied_by(&self, scope: &str) -> bool {
        let roles = &self.security["api_key"];
        roles.is_empty()
            || roles
                .iter()
                .any(|role| role == scope || role.replace(":read", ":write") == scope)
    }
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security = operation["security"]
                .as_array()
                .map(|alternatives| {
                    alternatives
                        .iter()
                        .flat_map(|a| a.as_object().unwrap().clone())
                        .map(|(scheme, roles)| {
                            let roles = roles
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|r| r.as_str().unwrap().to_owned())
                                .collect();
                            (scheme, roles)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body = operation["requestBody"]["content"]
                .as_object()
                .map(|content| content.keys().next().unwrap().clone());
            operations.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                id: operation["operationId"].as_str().unwrap().to_owned(),
                security,
                body,
            });
        }
    }
    operations
}

fn fill(path: &str, ids: &Ids) -> String {
    let filled = path
        .replace("{tenant_id}", ids.tenant)
        .replace("{id}", ids.subscription)
        .replace("{device_id}", ids.device)
        .replace("{key_id}", ids.key_id)
        .replace("{product_id}", PRODUCT)
        .replace("{key}", "analytics.heatmap")
        .replace("{limit}", "max_cameras")
        .replace("{resource}", "probe");
    assert!(
        !filled.contains('{'),
        "{path}: a path parameter this test does not know; teach `fill` what to put there"
    );
    filled
}

/// A valid body (and query) for the operation, naming `ids`. An operation with a
/// request body and no sample here fails the test: a new route gets a sample.
fn request(op: &Operation, ids: &Ids) -> (String, Option<(String, String)>) {
    let now = licet_core::time_text(licet_host::clock::Clock::now(
        &licet_host::clock::SystemClock,
    ));
    let query = match op.id.as_str() {
        "preview" => "?period=2026-10",
        _ => "",
    };
    let Some(content_type) = &op.body else {
        return (query.to_owned(), None);
    };
    let body = match op.id.as_str() {
        "put_catalog" => std::fs::read_to_string(
            crate::support::repo().join(format!("examples/catalogs/{PRODUCT}.toml")),
        )
        .unwrap(),
        "create_tenant" => json!({"name": "probe"}).to_string(),
        "create_subscription" => json!({"product_id": PRODUCT, "plan": "base"}).to_string(),
        "change_subscription" | "refresh" | "heartbeat" => json!({}).to_string(),
        "create_api_key" => json!({"tenant_id": ids.tenant, "scopes": ["usage:read"]}).to_string(),
        "issue" => json!({"period": "2026-10"}).to_string(),
        "check" => json!({"feature": "analytics.heatmap"}).to_string(),
        "claim" => json!({"limit": "max_cameras", "resource": "probe"}).to_string(),
        "decide" => json!({"limit": "api_rate_per_minute", "subject": "probe"}).to_string(),
        "evaluate_flag" | "evaluate_all" => {
            json!({"context": {"targetingKey": ids.tenant}}).to_string()
        }
        "import" => json!({"dry_run": true, "rows": [{
            "customer": "probe", "product_id": PRODUCT, "plan": "base",
            "license_key": "PROBE-0000-0001"
        }]})
        .to_string(),
        "upload" => json!({"events": [
            {"sequence": 1, "type": "api_call", "quantity": 1, "time": now}
        ]})
        .to_string(),
        "cloudevents" => json!([{
            "specversion": "1.0", "id": "probe-1", "source": "probe", "type": "api_call",
            "time": now, "data": {"quantity": 1}
        }])
        .to_string(),
        "brinkbyte_validate" => {
            json!({"camera_id": "cam-1", "tenant_id": ids.tenant, "device_id": ids.device})
                .to_string()
        }
        "brinkbyte_entitlement" => json!({
            "tenant_id": ids.tenant, "feature_category": "analytics", "feature_name": "heatmap"
        })
        .to_string(),
        "brinkbyte_heartbeat" => json!({
            "tenant_id": ids.tenant, "device_id": ids.device, "active_camera_ids": ["cam-1"]
        })
        .to_string(),
        "brinkbyte_usage_batch" => json!({"events": [{
            "tenant_id": ids.tenant, "event_type": "api_call", "quantity": 1, "event_time": now
        }]})
        .to_string(),
        // Public routes: well-formed, for a license key that does not exist.
        "activate" => json!({
            "license_key": "LCT-AAAA-AAAA-AAAA-AAAA", "fingerprint": "probe",
            "device_public_key": device_key(), "name": "probe"
        })
        .to_string(),
        "foxsight_activate" | "foxsight_validate" | "foxsight_heartbeat" => {
            json!({"license_key": "LCT-AAAA-AAAA-AAAA-AAAA", "hardware_id": "probe"}).to_string()
        }
        other => panic!("{other} takes a request body; add a sample for it to `request`"),
    };
    (query.to_owned(), Some((content_type.clone(), body)))
}

async fn call(
    server: &TestServer,
    token: Option<&str>,
    op: &Operation,
    ids: &Ids<'_>,
) -> (u16, Value) {
    let (query, body) = request(op, ids);
    let url = format!("{}{}{query}", server.base, fill(&op.path, ids));
    let mut request = server.http().request(op.method.clone(), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some((content_type, body)) = body {
        request = request.header("content-type", content_type).body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post(server: &TestServer, admin: &str, path: &str, body: Value) -> Value {
    let response = server
        .http()
        .post(format!("{}{path}", server.base))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn world(server: &TestServer, admin: &str, fingerprint: &str) -> World {
    let tenant = post(server, admin, "/v1/tenants", json!({"name": fingerprint})).await;
    let tenant = tenant["id"].as_str().unwrap().to_owned();
    let subscription = post(
        server,
        admin,
        &format!("/v1/tenants/{tenant}/subscriptions"),
        json!({"product_id": PRODUCT, "plan": "base"}),
    )
    .await;
    if fingerprint.starts_with("decide-") {
        // Rate-limit decisions need a limit marked as a rate, which smart parking's
        // catalog has and BrinkByte's does not: the tenant holds both.
        post(
            server,
            admin,
            &format!("/v1/tenants/{tenant}/subscriptions"),
            json!({"product_id": "smart-parking", "plan": "basic"}),
        )
        .await;
    }
    let activated = post(
        server,
        admin,
        "/v1/activations",
        json!({
            "license_key": subscription["license_key"], "fingerprint": fingerprint,
            "device_public_key": device_key(), "name": fingerprint
        }),
    )
    .await;
    let mut keys = BTreeMap::new();
    let key = async |scopes: &[&str]| {
        let made = post(
            server,
            admin,
            "/v1/api-keys",
            json!({"tenant_id": tenant, "scopes": scopes}),
        )
        .await;
        (
            made["key"].as_str().unwrap().to_owned(),
            made["id"].as_str().unwrap().to_owned(),
        )
    };
    for scope in SCOPES {
        keys.insert(scope, key(&[scope]).await);
    }
    let all = key(&SCOPES).await;
    World {
        subscription: subscription["id"].as_str().unwrap().to_owned(),
        device: activated["device_id"].as_str().unwrap().to_owned(),
        device_token: activated["device_token"].as_str().unwrap().to_owned(),
        tenant,
        keys,
        all,
    }
}

/// The ids in an answer, replaced, so that two answers can be compared.
fn scrub(answer: &Value, ids: &Ids) -> String {
    answer
        .to_string()
        .replace(ids.tenant, "<tenant>")
        .replace(ids.subscription, "<subscription>")
        .replace(ids.device, "<device>")
        .replace(ids.key_id, "<key>")
}

fn code(answer: &Value) -> &str {
    // Licet's shape, or BrinkByte's on its compatibility routes.
    answer["error"]["code"]
        .as_str()
        .or(answer["code"].as_str())
        .unwrap_or("")
}

/// The operations of the document the server serves.
async fn served_operations(server: &TestServer) -> Vec<Operation> {
    let document: Value = server
        .http()
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    operations(&document)
}

async fn every_route_holds_every_caller_to_its_declared_security(server: &TestServer) {
    let operations = served_operations(server).await;
    assert!(operations.len() >= 40, "{} operations", operations.len());
    let mut admin = server.admin_token.clone();
    let a = world(server, &admin, "fp-a").await;
    let b = world(server, &admin, "fp-b").await;
    let b_subscription_before = server.admin.subscription(&b.subscription).await.unwrap();
    let mut probed = 0;
    for op in operations.iter().filter(|op| !op.security.is_empty()) {
        let what = format!("{} {} ({})", op.method, op.path, op.id);
        let own = a.ids(&a.all.1);

        let (status, answer) = call(server, None, op, &own).await;
        assert_eq!((status, code(&answer)), (401, "unauthorized"), "{what}");

        if !op.allows("admin_token") {
            let (status, answer) = call(server, Some(&admin), op, &own).await;
            assert_eq!(status, 403, "{what}: the admin: {answer}");
        }
        if !op.allows("device_token") {
            let (status, answer) = call(server, Some(&a.device_token), op, &own).await;
            assert!(
                status == 403 || status == 404,
                "{what}: a device token: {status} {answer}"
            );
        }
        if !op.allows("api_key") {
            let (status, answer) = call(server, Some(&a.all.0), op, &own).await;
            assert_eq!(status, 403, "{what}: a tenant key: {answer}");
        } else {
            for scope in SCOPES.into_iter().filter(|s| !op.satisfied_by(s)) {
                let (key, key_id) = &a.keys[scope];
                let (status, answer) = call(server, Some(key), op, &a.ids(key_id)).await;
                assert_eq!(status, 403, "{what}: a key with only {scope}: {answer}");
            }
            // Another tenant's ids, with every scope: exactly like ids that do not exist.
            let theirs = b.ids(&b.all.1);
            let (status, answer) = call(server, Some(&a.all.0), op, &theirs).await;
            let (ghost_status, ghost_answer) = call(server, Some(&a.all.0), op, &GHOST).await;
            // A BrinkByte batch names the tenant per event: each such event is refused
            // on its own, in a 200 that accepted nothing.
            let refused = status == 404 || (status == 200 && answer["accepted_count"] == 0);
            assert!(refused, "{what}: another tenant's ids: {status} {answer}");
            assert_eq!(
                (status, scrub(&answer, &theirs)),
                (ghost_status, scrub(&ghost_answer, &GHOST)),
                "{what}: another tenant's ids are told apart from missing ones"
            );
        }
        if op.allows("device_token") {
            let theirs = b.ids(&b.all.1);
            let (status, answer) = call(server, Some(&a.device_token), op, &theirs).await;
            let (ghost_status, ghost_answer) =
                call(server, Some(&a.device_token), op, &GHOST).await;
            assert_eq!(
                status, 404,
                "{what}: a device token on another device: {answer}"
            );
            assert_eq!(
                scrub(&answer, &theirs),
                scrub(&ghost_answer, &GHOST),
                "{what}"
            );
            assert_eq!(ghost_status, 404, "{what}");
        }

        // Positive probes, each in a world of its own.
        if op.allows("admin_token") {
            let fresh = world(server, &admin, &format!("{}-admin", op.id)).await;
            let (status, answer) = call(server, Some(&admin), op, &fresh.ids(&fresh.all.1)).await;
            assert!(
                (200..300).contains(&status),
                "{what}: the admin: {status} {answer}"
            );
            if let Some(rotated) = answer["token"].as_str() {
                // The admin token was rotated; the old one is gone.
                admin = rotated.to_owned();
            }
        }
        if op.allows("api_key") {
            for scope in SCOPES.into_iter().filter(|s| op.satisfied_by(s)) {
                let fresh = world(server, &admin, &format!("{}-{scope}", op.id)).await;
                let (key, key_id) = &fresh.keys[scope];
                let (status, answer) = call(server, Some(key), op, &fresh.ids(key_id)).await;
                assert!(
                    (200..300).contains(&status),
                    "{what}: a key with {scope}: {status} {answer}"
                );
            }
        }
        if op.allows("device_token") {
            let fresh = world(server, &admin, &format!("{}-device", op.id)).await;
            let (status, answer) = call(
                server,
                Some(&fresh.device_token),
                op,
                &fresh.ids(&fresh.all.1),
            )
            .await;
            assert!(
                (200..300).contains(&status),
                "{what}: its own device: {status} {answer}"
            );
        }
        probed += 1;
    }
    assert!(probed >= 30, "only {probed} operations are secured");

    // Nothing of B's changed on the way.
    let b_subscription_after = server
        .anon
        .with_token(&admin)
        .subscription(&b.subscription)
        .await
        .unwrap();
    assert_eq!(b_subscription_before, b_subscription_after);
    let devices = server
        .anon
        .with_token(&admin)
        .devices(&b.tenant)
        .await
        .unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].status, "active");
    let quotas = server
        .anon
        .with_token(&admin)
        .quotas(&b.tenant)
        .await
        .unwrap();
    assert!(quotas.quotas.iter().all(|q| q.used == 0), "{quotas:?}");
}

/// The document is the router: every documented operation reaches its handler (an
/// unknown path reaches the fallback, which proves the probe can tell).
async fn every_documented_operation_is_served(server: &TestServer) {
    let fallback = |answer: &Value| {
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no such route"))
    };
    for op in served_operations(server).await {
        let (status, answer) = call(server, None, &op, &GHOST).await;
        assert!(
            status != 405 && !fallback(&answer),
            "{} {} is documented but not served: {status} {answer}",
            op.method,
            op.path
        );
    }
    let (status, answer) = call(
        server,
        None,
        &Operation {
            method: Method::GET,
            path: "/v1/nothing-here".into(),
            id: "none".into(),
            security: BTreeMap::new(),
            body: None,
        },
        &GHOST,
    )
    .await;
    assert_eq!(status, 404);
    assert!(fallback(&answer), "{answer}");
}

crate::on_both!(
    every_route_holds_every_caller_to_its_declared_security,
    every_documented_operation_is_served
);
