//! A hosted back-end asks about its tenants with no device: the tenant check route
//! and OFREP on the server (single and bulk, ETag and 304), with the stock OpenFeature
//! OFREP provider from PyPI, and a plan change seen at the next evaluation.

use crate::support::TestServer;
use licet_client::wire::{ApiKeyCreate, SubscriptionChange};
use serde_json::{Value, json};

async fn call(
    server: &TestServer,
    token: &str,
    path: &str,
    body: Value,
    etag: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut request = server
        .http()
        .post(format!("{}{path}", server.base))
        .bearer_auth(token)
        .json(&body);
    if let Some(etag) = etag {
        request = request.header("If-None-Match", etag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    (
        status,
        etag,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// The Python with the stock OpenFeature provider (`LICET_TEST_OFREP_PYTHON`);
/// required under CI.
fn python() -> Option<String> {
    match std::env::var("LICET_TEST_OFREP_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but LICET_TEST_OFREP_PYTHON is not set: the server's OFREP must be tested with the stock provider"
            )
        }
        _ => None,
    }
}

/// The `node_modules` with the stock OpenFeature server SDK and OFREP provider from npm
/// (`LICET_TEST_OFREP_NODE_MODULES`, installed from `tests/openfeature/node`'s lock
/// file); required under CI.
fn node_modules() -> Option<String> {
    match std::env::var("LICET_TEST_OFREP_NODE_MODULES") {
        Ok(dir) if !dir.is_empty() => Some(dir),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but LICET_TEST_OFREP_NODE_MODULES is not set: the server's OFREP must be tested with the npm provider too"
            )
        }
        _ => None,
    }
}

/// Runs the npm provider's evaluation of `tenant` (see `tests/openfeature/node`).
async fn evaluate_with_node(base: &str, key: &str, tenant: &str) -> Option<Value> {
    let modules = node_modules()?;
    let script =
        crate::support::repo().join("crates/licet-server/tests/openfeature/node/tenant.cjs");
    let output = tokio::process::Command::new("node")
        .arg(script)
        .args([base, key, tenant])
        .env("NODE_PATH", modules)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_str(stdout.trim()).unwrap())
}

pub async fn a_hosted_tenant_is_checked_and_evaluated_with_no_device(server: &TestServer) {
    let (tenant, subscription) = server.tenant_with("smart-parking", "basic").await;
    let key = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["subscriptions:read".into()],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    let check_path = format!("/v1/tenants/{}/check", tenant.id);

    // May tenant T add its 100th space? Its 101st?
    let (status, _, answer) = call(
        server,
        &key,
        &check_path,
        json!({"feature": "max_spaces", "amount": 100}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["allowed"], true, "{answer}");
    assert_eq!(answer["value"], 100);
    assert_eq!(answer["subscription_id"], subscription.id.as_str());
    let (_, _, answer) = call(
        server,
        &key,
        &check_path,
        json!({"feature": "max_spaces", "amount": 101}),
        None,
    )
    .await;
    assert_eq!(
        (&answer["allowed"], &answer["reason"]),
        (&json!(false), &json!("limit_reached")),
        "{answer}"
    );
    let (_, _, answer) = call(
        server,
        &key,
        &check_path,
        json!({"feature": "analytics"}),
        None,
    )
    .await;
    assert_eq!(
        (&answer["allowed"], &answer["reason"]),
        (&json!(false), &json!("not_licensed")),
        "{answer}"
    );
    let (_, _, answer) = call(
        server,
        &key,
        &check_path,
        json!({"feature": "teleport"}),
        None,
    )
    .await;
    assert_eq!(
        (&answer["allowed"], &answer["reason"]),
        (&json!(false), &json!("not_in_catalog")),
        "{answer}"
    );
    // Another tenant's check with this key is refused, as if the tenant did not exist.
    let (other, _) = server.tenant_with("smart-parking", "enterprise").await;
    let (status, _, _) = call(
        server,
        &key,
        &format!("/v1/tenants/{}/check", other.id),
        json!({"feature": "analytics"}),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // OFREP, bulk: every flag, an ETag, and 304 while nothing changed.
    let (status, etag, bulk) = call(
        server,
        &key,
        "/ofrep/v1/evaluate/flags",
        json!({"context": {"targetingKey": tenant.id}}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{bulk}");
    let etag = etag.expect("an ETag");
    let flag = |bulk: &Value, key: &str| {
        bulk["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {bulk}"))["value"]
            .clone()
    };
    assert_eq!(flag(&bulk, "max_spaces"), 100);
    assert_eq!(flag(&bulk, "analytics"), false);
    let (status, _, _) = call(
        server,
        &key,
        "/ofrep/v1/evaluate/flags",
        json!({}),
        Some(&etag),
    )
    .await;
    assert_eq!(status, 304, "the key's own tenant, unchanged");
    // Another tenant as the target is refused.
    let (status, _, refused) = call(
        server,
        &key,
        "/ofrep/v1/evaluate/flags",
        json!({"context": {"targetingKey": other.id}}),
        None,
    )
    .await;
    assert_eq!(status, 404, "{refused}");

    // The stock OpenFeature provider, from PyPI.
    let evaluate = |base: String, key: String, tenant: String| async move {
        let python = python()?;
        let script = crate::support::repo().join("crates/licet-server/tests/openfeature/tenant.py");
        let output = tokio::process::Command::new(python)
            .args([script.to_str().unwrap(), &base, &key, &tenant])
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(serde_json::from_str::<Value>(stdout.trim()).unwrap())
    };
    if let Some(results) = evaluate_with_node(&server.base, &key, &tenant.id).await {
        assert_eq!(results["analytics"]["value"], false, "{results}");
        assert_eq!(results["max_spaces"]["value"], 100, "{results}");
        assert_eq!(results["max_spaces"]["reason"], "STATIC", "{results}");
        assert_eq!(results["custom_branding"]["value"], false, "{results}");
        assert_eq!(
            results["teleport"]["error_code"], "FLAG_NOT_FOUND",
            "{results}"
        );
    }
    if let Some(results) = evaluate(server.base.clone(), key.clone(), tenant.id.clone()).await {
        assert_eq!(results["analytics"]["value"], false, "{results}");
        assert_eq!(results["max_spaces"]["value"], 100, "{results}");
        assert_eq!(results["max_spaces"]["reason"], "STATIC", "{results}");
        assert_eq!(
            results["teleport"]["error_code"], "FLAG_NOT_FOUND",
            "{results}"
        );
    }

    // The plan changes: the next evaluation shows it, and the ETag moved.
    let response = server
        .http()
        .patch(format!(
            "{}/v1/subscriptions/{}",
            server.base, subscription.id
        ))
        .bearer_auth(&server.admin_token)
        .json(&SubscriptionChange {
            plan: Some("enterprise".into()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, new_etag, bulk) = call(
        server,
        &key,
        "/ofrep/v1/evaluate/flags",
        json!({}),
        Some(&etag),
    )
    .await;
    assert_eq!(status, 200, "a plan change is not 304: {bulk}");
    assert_ne!(new_etag.as_deref(), Some(etag.as_str()));
    assert_eq!(flag(&bulk, "max_spaces"), 5000);
    assert_eq!(flag(&bulk, "custom_branding"), true);
    if let Some(results) = evaluate_with_node(&server.base, &key, &tenant.id).await {
        assert_eq!(results["max_spaces"]["value"], 5000, "{results}");
        assert_eq!(results["custom_branding"]["value"], true, "{results}");
    }
    if let Some(results) = evaluate(server.base.clone(), key.clone(), tenant.id.clone()).await {
        assert_eq!(results["max_spaces"]["value"], 5000, "{results}");
        assert_eq!(results["custom_branding"]["value"], true, "{results}");
    }
    // The admin token names the tenant; without it there is no one to evaluate.
    let (status, _, single) = call(
        server,
        &server.admin_token,
        "/ofrep/v1/evaluate/flags/max_users",
        json!({"context": {"targetingKey": tenant.id}}),
        None,
    )
    .await;
    assert_eq!((status, &single["value"]), (200, &json!(100)), "{single}");
    let (status, _, missing) = call(
        server,
        &server.admin_token,
        "/ofrep/v1/evaluate/flags/max_users",
        json!({}),
        None,
    )
    .await;
    assert_eq!(status, 400, "{missing}");
    assert_eq!(missing["errorCode"], "TARGETING_KEY_MISSING");
}

/// Quota used through the tenant check is the quota's usage: counted on the server and
/// invoiced. 61,000 API calls on BrinkByte's base plan (50,000 included) bill 11
/// started blocks of overage; LLM tokens (refused past the allowance) stop at it.
pub async fn quota_used_through_the_tenant_check_is_counted_and_invoiced(server: &TestServer) {
    let tenant = server.admin.create_tenant("Cloud Vision").await.unwrap();
    let subscription = server
        .admin
        .create_subscription(
            &tenant.id,
            &licet_client::wire::SubscriptionCreate {
                product_id: "brinkbyte-vision".into(),
                plan: "base".into(),
                addons: vec![licet_client::wire::AddonQuantity {
                    id: "intelligence".into(),
                    quantity: 5,
                }],
                trial: false,
                modules: None,
                term_days: None,
            },
        )
        .await
        .unwrap();
    let key = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: vec!["subscriptions:read".into()],
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    let path = format!("/v1/tenants/{}/check", tenant.id);
    let first_use = json!({"feature": "api_calls", "amount": 40_000, "idempotency_key": "batch-7"});
    let (status, _, first) = call(server, &key, &path, first_use.clone(), None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (
            &first["allowed"],
            &first["reason"],
            &first["remaining"],
            &first["overage"]
        ),
        (
            &json!(true),
            &json!("within_quota"),
            &json!(10_000),
            &json!(0)
        ),
        "{first}"
    );
    // The same use retried (its answer was lost): counted once.
    let (_, _, retried) = call(server, &key, &path, first_use, None).await;
    assert_eq!(
        (
            &retried["allowed"],
            &retried["reason"],
            &retried["remaining"]
        ),
        (&json!(true), &json!("already_counted"), &json!(10_000)),
        "{retried}"
    );
    let (status, _, bad) = call(
        server,
        &key,
        &path,
        json!({"feature": "api_calls", "amount": 1, "idempotency_key": ""}),
        None,
    )
    .await;
    assert_eq!(status, 400, "{bad}");
    let (_, _, second) = call(
        server,
        &key,
        &path,
        json!({"feature": "api_calls", "amount": 21_000}),
        None,
    )
    .await;
    assert_eq!(
        (&second["allowed"], &second["reason"], &second["overage"]),
        (&json!(true), &json!("overage_billed"), &json!(11_000)),
        "{second}"
    );
    assert_eq!(second["subscription_id"], subscription.id);
    let quotas = server.admin.quotas(&tenant.id).await.unwrap();
    let api_calls = quotas
        .quotas
        .iter()
        .find(|q| q.feature == "api_calls")
        .unwrap();
    assert_eq!(api_calls.used, 61_000, "{quotas:?}");

    // A quota refused past its allowance stops there, and records nothing refused.
    let (_, _, tokens) = call(
        server,
        &key,
        &path,
        json!({"feature": "llm_tokens", "amount": 1}),
        None,
    )
    .await;
    let allowance = tokens["value"].as_u64().expect("a finite allowance");
    assert_eq!(tokens["reason"], "within_quota", "{tokens}");
    let (_, _, rest) = call(
        server,
        &key,
        &path,
        json!({"feature": "llm_tokens", "amount": allowance - 1}),
        None,
    )
    .await;
    assert_eq!(
        (&rest["allowed"], &rest["remaining"]),
        (&json!(true), &json!(0)),
        "{rest}"
    );
    let (_, _, over) = call(
        server,
        &key,
        &path,
        json!({"feature": "llm_tokens", "amount": 1}),
        None,
    )
    .await;
    assert_eq!(
        (&over["allowed"], &over["reason"]),
        (&json!(false), &json!("quota_exhausted")),
        "{over}"
    );
    let quotas = server.admin.quotas(&tenant.id).await.unwrap();
    let tokens = quotas
        .quotas
        .iter()
        .find(|q| q.feature == "llm_tokens")
        .unwrap();
    assert_eq!(tokens.used, allowance, "the refused token is not counted");

    let month = licet_host::clock::Clock::now(&licet_host::clock::SystemClock);
    let period = format!("{:04}-{:02}", month.year(), u8::from(month.month()));
    let preview = server
        .admin
        .invoice_preview(&tenant.id, &period)
        .await
        .unwrap();
    let line = preview.invoices[0]
        .lines
        .iter()
        .find(|l| l.price_id == "api-call-overage")
        .unwrap_or_else(|| panic!("{preview:?}"));
    assert_eq!(line.quantity, 11, "11 started blocks of 1000: {line:?}");
}

crate::on_both!(
    a_hosted_tenant_is_checked_and_evaluated_with_no_device,
    quota_used_through_the_tenant_check_is_counted_and_invoiced
);
