//! Usage from vendors' back-ends (CloudEvents, BrinkByte's batch route) in their exact
//! shapes with partial rejection, the usage and quota queries, and invoices: preview,
//! issue, and usage that arrives after its month was invoiced.

use crate::support::{TestServer, activation};
use licet_client::wire::{
    ApiKeyCreate, SubscriptionView, TenantView, UsageUpload, UsageUploadEvent,
};
use licet_host::clock::ManualClock;
use serde_json::{Value, json};
use std::sync::Arc;
use time::macros::datetime;

pub(crate) async fn tenant_key(
    server: &TestServer,
    scopes: &[&str],
) -> (TenantView, SubscriptionView, String) {
    let (tenant, subscription) = server.tenant_with("brinkbyte-vision", "base").await;
    let key = server
        .admin
        .create_api_key(&ApiKeyCreate {
            tenant_id: tenant.id.clone(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_in_days: None,
        })
        .await
        .unwrap()
        .key;
    (tenant, subscription, key)
}

pub(crate) async fn send(
    server: &TestServer,
    token: &str,
    path: &str,
    content_type: &str,
    body: &Value,
) -> (u16, Value) {
    let response = server
        .http()
        .post(format!("{}{path}", server.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let response = server
        .http()
        .get(format!("{}{path}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

pub(crate) fn cloud_event(id: &str, kind: &str, data: Value) -> Value {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": "https://billing.vendor.example/edge",
        "type": kind,
        "time": "2026-10-20T08:00:00Z",
        "subject": "model-a",
        "datacontenttype": "application/json",
        "data": data,
    })
}

async fn cloudevents_are_stored_once_and_bad_ones_refused_alone(
    server: &TestServer,
    _clock: &Arc<ManualClock>,
) {
    let (tenant, _, key) = tenant_key(server, &["usage:write", "usage:read"]).await;
    let path = format!("/v1/tenants/{}/usage/events", tenant.id);
    let batch = json!([
        cloud_event("e-1", "api_call", json!({"quantity": 120})),
        cloud_event("e-2", "sms_sent", json!({"quantity": 2, "cost_minor": 14})),
        cloud_event("e-3", "api_call", json!({"quantity": "-3"})),
        cloud_event("e-4", "teleport", json!({"quantity": 1})),
        {"specversion": "0.3", "id": "e-5", "source": "x", "type": "api_call", "data": {"quantity": 1}},
        {"specversion": "1.0", "id": "e-6", "source": "x", "type": "api_call", "time": "2026-10-22T09:00:00Z", "data": {"quantity": 1}},
        cloud_event("e-7", "sms_sent", json!({"quantity": 1})),
        cloud_event("e-1", "api_call", json!({"quantity": 120})),
    ]);
    let (status, body) = send(
        server,
        &key,
        &path,
        "application/cloudevents-batch+json",
        &batch,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    assert_eq!(body["duplicates"], 1, "e-1 twice in one batch counts once");
    let rejected = body["rejected"].as_array().unwrap();
    let reasons: Vec<(u64, &str, &str)> = rejected
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["id"].as_str().unwrap(),
                r["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        [(2, "e-3"), (3, "e-4"), (4, "e-5"), (5, "e-6"), (6, "e-7")]
    );
    for (fragment, (_, _, reason)) in [
        "whole number",
        "unknown meter \"teleport\"",
        "CloudEvents 1.0",
        "24 h ahead",
        "cost_minor",
    ]
    .iter()
    .zip(&reasons)
    {
        assert!(reason.contains(fragment), "{reason} should say {fragment}");
    }

    // The whole batch again: nothing new is counted.
    let (_, again) = send(
        server,
        &key,
        &path,
        "application/cloudevents-batch+json",
        &batch,
    )
    .await;
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(3))
    );

    // One event in structured mode.
    let (status, single) = send(
        server,
        &key,
        &path,
        "application/cloudevents+json",
        &cloud_event(
            "e-8",
            "api_call",
            json!({"quantity": 30, "camera_id": "lobby"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{single}");
    assert_eq!(single["accepted"], 1);
    let (status, wrong) = send(server, &key, &path, "text/plain", &batch).await;
    assert_eq!(status, 415, "{wrong}");
    assert_eq!(wrong["error"]["code"], "unsupported_media_type");
    assert!(
        wrong["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cloudevents-batch+json")
    );
    let (status, shape) = send(
        server,
        &key,
        &path,
        "application/cloudevents-batch+json",
        &cloud_event("e-9", "api_call", json!({"quantity": 1})),
    )
    .await;
    assert_eq!(status, 400, "{shape}");
    assert!(
        shape["error"]["message"]
            .as_str()
            .unwrap()
            .contains("array")
    );

    // The usage query sees 150 API calls (120 + 30), per meter, and the camera filter.
    let (status, usage) = get(
        server,
        &key,
        &format!(
            "/v1/tenants/{}/usage?window=month&from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z",
            tenant.id
        ),
    )
    .await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(
        usage["buckets"],
        json!([
            {"start": "2026-10-01T00:00:00Z", "meter": "api_call", "quantity": 150, "events": 2},
            {"start": "2026-10-01T00:00:00Z", "meter": "sms_sent", "quantity": 2, "events": 1},
        ])
    );
    let (_, lobby) = get(
        server,
        &key,
        &format!(
            "/v1/tenants/{}/usage?window=hour&camera_id=lobby",
            tenant.id
        ),
    )
    .await;
    assert_eq!(
        lobby["buckets"],
        json!([{"start": "2026-10-20T08:00:00Z", "meter": "api_call", "quantity": 30, "events": 1}])
    );
    let (status, bad) = get(
        server,
        &key,
        &format!("/v1/tenants/{}/usage?window=week", tenant.id),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hour, day or month")
    );

    // Quota status by the server's count: 50,000 API calls a month on base.
    let (status, quotas) = get(server, &key, &format!("/v1/tenants/{}/quotas", tenant.id)).await;
    assert_eq!(status, 200, "{quotas}");
    let api_calls = quotas["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["feature"] == "api_calls")
        .unwrap();
    assert_eq!(api_calls["used"], 150);
    assert_eq!(api_calls["allowance"], 50_000);
    assert_eq!(api_calls["remaining"], 49_850);
    assert_eq!(api_calls["period"], "2026-10");

    // Another tenant's key cannot post to this tenant.
    let (_, _, other_key) = tenant_key(server, &["usage:write"]).await;
    let (status, _) = send(
        server,
        &other_key,
        &path,
        "application/cloudevents-batch+json",
        &batch,
    )
    .await;
    assert_eq!(status, 404);
}

async fn brinkbyte_usage_batches_answer_in_brinkbytes_shape(
    server: &TestServer,
    _clock: &Arc<ManualClock>,
) {
    let (tenant, _, key) = tenant_key(server, &["usage:write", "usage:read"]).await;
    let event = |event_type: &str, quantity: Value, time: &str| {
        json!({
            "tenant_id": tenant.id,
            "event_type": event_type,
            "resource_id": "cam-7",
            "quantity": quantity,
            "unit": "call",
            "event_time": time,
            "metadata": {"route": "/v1/plates"},
        })
    };
    let mut foreign = event("api_call", json!(5), "2026-10-20T08:30:00Z");
    foreign["tenant_id"] = json!("ten_someone_else");
    let batch = json!({"events": [
        event("api_call", json!(40), "2026-10-20T08:30:00Z"),
        foreign,
        event("api_call", json!("2.5"), "2026-10-20T08:30:00Z"),
        event("api_call", json!(7), "last tuesday"),
        event("api_call", json!(60), "2026-10-20T08:31:00Z"),
        {"event_type": "api_call"},
    ]});
    let (status, body) = send(
        server,
        &key,
        "/api/v1/usage/batch",
        "application/json",
        &batch,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["accepted_count", "errors", "rejected_count"]);
    assert_eq!(body["accepted_count"], 2);
    assert_eq!(body["rejected_count"], 4);
    // One string per refused event (BrinkByte's client reads strings), naming it by
    // its position.
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 4, "{body}");
    for ((error, index), fragment) in
        errors
            .iter()
            .zip([1, 2, 3, 5])
            .zip(["tenant", "whole number", "RFC 3339", "malformed"])
    {
        let text = error.as_str().unwrap();
        assert!(text.starts_with(&format!("events[{index}]: ")), "{text}");
        assert!(text.contains(fragment), "{text}");
    }

    // A retried batch (no ids in BrinkByte's shape) is recognised and counts once.
    let (_, retry) = send(
        server,
        &key,
        "/api/v1/usage/batch",
        "application/json",
        &batch,
    )
    .await;
    assert_eq!(retry["accepted_count"], 2);
    let (_, usage) = get(
        server,
        &key,
        &format!("/v1/tenants/{}/usage?window=day&meter=api_call", tenant.id),
    )
    .await;
    assert_eq!(
        usage["buckets"],
        json!([{"start": "2026-10-20T00:00:00Z", "meter": "api_call", "quantity": 100, "events": 2}])
    );

    // Errors keep BrinkByte's shape too.
    let (status, refused) = send(
        server,
        &key,
        "/api/v1/usage/batch",
        "application/json",
        &json!({"events": []}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        refused["detail"].as_str().unwrap().contains("1 to 5000"),
        "{refused}"
    );
    assert_eq!(refused["code"], "invalid_request");
}

fn device_event(
    sequence: u64,
    kind: &str,
    quantity: u64,
    camera: Option<&str>,
    time: &str,
) -> UsageUploadEvent {
    UsageUploadEvent {
        sequence,
        kind: kind.into(),
        quantity: json!(quantity),
        unit: None,
        camera_id: camera.map(Into::into),
        time: time.into(),
        attributes: None,
    }
}

fn line<'a>(invoice: &'a Value, price: &str) -> &'a Value {
    invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["price_id"] == price)
        .unwrap_or_else(|| panic!("no {price} line in {invoice}"))
}

/// October on BrinkByte Vision base: 3 cameras for the last 12 days (36 camera-days of
/// 31) and 61,000 API calls. Checked by hand:
/// - base-camera: 6000 × 36 / 31 = 6967.74 → 6967
/// - api-call-overage: 61,000 − 50,000 included = 11,000 → 11 blocks of 1000 × 5 = 55
async fn invoices_are_issued_once_and_late_usage_lands_on_the_next(
    server: &TestServer,
    clock: &Arc<ManualClock>,
) {
    let (tenant, subscription) = server.tenant_with("brinkbyte-vision", "base").await;
    let device = server
        .anon
        .activate(&activation(
            subscription.license_key.as_ref().unwrap(),
            "inv-1",
        ))
        .await
        .unwrap();
    let agent = server.anon.with_token(&device.device_token);
    // Uploaded at the end of the month (an event more than 24 h ahead is refused).
    clock.set(datetime!(2026-10-31 23:00 UTC));
    let mut events = Vec::new();
    for day in 20..=31 {
        for camera in ["lobby", "door", "yard"] {
            events.push(device_event(
                0,
                "camera_day",
                1,
                Some(camera),
                &format!("2026-10-{day}T00:00:00Z"),
            ));
        }
    }
    events.push(device_event(
        0,
        "api_call",
        60_000,
        None,
        "2026-10-21T10:00:00Z",
    ));
    events.push(device_event(
        0,
        "api_call",
        1_000,
        None,
        "2026-10-30T10:00:00Z",
    ));
    for (n, event) in events.iter_mut().enumerate() {
        event.sequence = n as u64 + 1;
    }
    let last = events.len() as u64;
    let answer = agent
        .upload_usage(&device.device_id, &UsageUpload { events })
        .await
        .unwrap();
    assert_eq!(answer.acknowledged_through, last);

    let preview = server
        .admin
        .invoice_preview(&tenant.id, "2026-10")
        .await
        .unwrap();
    let october = serde_json::to_value(&preview.invoices[0]).unwrap();
    assert_eq!(october["status"], "preview");
    assert_eq!(line(&october, "base-camera")["quantity"], 36);
    assert_eq!(line(&october, "base-camera")["amount"], 6967);
    assert_eq!(line(&october, "api-call-overage")["quantity"], 11);
    assert_eq!(line(&october, "api-call-overage")["amount"], 55);
    assert_eq!(october["total"], 6967 + 55);
    assert_eq!(october["currency"], "USD");

    // October cannot be issued before it ends.
    let early = server
        .admin
        .issue_invoices(&tenant.id, "2026-10")
        .await
        .unwrap_err();
    assert!(
        early.to_string().contains("period_open") || early.to_string().contains("ends at"),
        "{early}"
    );

    // Months are issued in order: November cannot go before October.
    clock.set(datetime!(2026-12-01 00:05 UTC));
    let gap = server
        .admin
        .issue_invoices(&tenant.id, "2026-11")
        .await
        .unwrap_err();
    assert!(gap.to_string().contains("2026-10 first"), "{gap}");
    clock.set(datetime!(2026-11-01 00:05 UTC));
    let issued = server
        .admin
        .issue_invoices(&tenant.id, "2026-10")
        .await
        .unwrap();
    let issued_october = serde_json::to_value(&issued.invoices[0]).unwrap();
    assert_eq!(issued_october["status"], "issued");
    assert_eq!(issued_october["total"], 6967 + 55);
    assert_eq!(issued_october["lines"], october["lines"]);

    // An event from 31 October arrives on 3 November (the device was offline), with
    // November's own usage.
    clock.set(datetime!(2026-11-03 12:00 UTC));
    agent
        .upload_usage(
            &device.device_id,
            &UsageUpload {
                events: vec![
                    device_event(last + 1, "api_call", 2_500, None, "2026-10-31T22:00:00Z"),
                    device_event(last + 2, "api_call", 100, None, "2026-11-02T09:00:00Z"),
                    device_event(
                        last + 3,
                        "camera_day",
                        1,
                        Some("lobby"),
                        "2026-11-02T00:00:00Z",
                    ),
                ],
            },
        )
        .await
        .unwrap();

    // October as issued does not change…
    let again = server
        .admin
        .issue_invoices(&tenant.id, "2026-10")
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&again.invoices[0]).unwrap(),
        issued_october,
        "issuing again answers the invoice as issued"
    );
    let listed = server.admin.invoices(&tenant.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].total, 6967 + 55);
    // …and the late 2,500 calls go on November's: 63,500 − 50,000 = 13,500 → 14 blocks,
    // 3 more than the 11 invoiced: 15.
    let november = server
        .admin
        .invoice_preview(&tenant.id, "2026-11")
        .await
        .unwrap();
    let november = serde_json::to_value(&november.invoices[0]).unwrap();
    assert_eq!(november["late_usage"][0]["period"], "2026-10", "{november}");
    let late = &november["late_usage"][0]["lines"];
    assert_eq!(late.as_array().unwrap().len(), 1, "{late}");
    assert_eq!(late[0]["price_id"], "api-call-overage");
    assert_eq!(late[0]["quantity"], 3);
    assert_eq!(late[0]["amount"], 15);
    // November's own lines: 1 camera-day of 30 days = 6000 / 30 = 200; 100 calls, no overage.
    assert_eq!(line(&november, "base-camera")["amount"], 200);
    assert_eq!(november["total"], 200 + 15);

    clock.set(datetime!(2026-12-01 00:05 UTC));
    let issued_november = server
        .admin
        .issue_invoices(&tenant.id, "2026-11")
        .await
        .unwrap();
    let issued_november = serde_json::to_value(&issued_november.invoices[0]).unwrap();
    assert_eq!(issued_november["late_usage"], november["late_usage"]);
    assert_eq!(issued_november["total"], 215);
    // Nothing is left for December, and October can no longer be issued.
    let december = server
        .admin
        .invoice_preview(&tenant.id, "2026-12")
        .await
        .unwrap();
    let december = serde_json::to_value(&december.invoices[0]).unwrap();
    assert_eq!(december["late_usage"], json!([]));
    let september = server.admin.issue_invoices(&tenant.id, "2026-09").await;
    assert!(
        september.is_ok_and(|s| s.invoices.is_empty()),
        "no subscription existed in September"
    );

    // Bad periods are named.
    let bad = server
        .admin
        .invoice_preview(&tenant.id, "2026-13")
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("YYYY-MM"), "{bad}");
}

async fn a_tenant_key_reads_its_invoices_only(server: &TestServer, _clock: &Arc<ManualClock>) {
    let (tenant, _, key) = tenant_key(server, &["invoices:read"]).await;
    let (status, body) = get(
        server,
        &key,
        &format!("/v1/tenants/{}/invoices/preview?period=2026-10", tenant.id),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["invoices"][0]["status"], "preview");
    let (other, _) = server.tenant_with("brinkbyte-vision", "base").await;
    let (status, _) = get(
        server,
        &key,
        &format!("/v1/tenants/{}/invoices/preview?period=2026-10", other.id),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send(
        server,
        &key,
        &format!("/v1/tenants/{}/invoices", tenant.id),
        "application/json",
        &json!({"period": "2026-09"}),
    )
    .await;
    assert_eq!(status, 403, "issuing is the vendor's");
}

crate::on_both_clocked!(
    cloudevents_are_stored_once_and_bad_ones_refused_alone,
    brinkbyte_usage_batches_answer_in_brinkbytes_shape,
    invoices_are_issued_once_and_late_usage_lands_on_the_next,
    a_tenant_key_reads_its_invoices_only,
);
