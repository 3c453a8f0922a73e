//! `POST /v1/imports`: a vendor's customers and keys from its earlier system, with a
//! dry run that reports every refused row, a real run that writes only the good ones,
//! and the imported `FXSGHT-` keys activating like Licet keys (native and Foxsight
//! routes).

use crate::support::{TestServer, activation};
use licet_client::wire::{ImportReport, ImportRequest, ImportRow, SubscriptionView, TenantView};
use serde_json::{Value, json};

fn row(line: u64, customer: &str, plan: &str, key: &str) -> ImportRow {
    ImportRow {
        line: Some(line),
        customer: Some(customer.into()),
        product_id: "foxsight-vms".into(),
        plan: plan.into(),
        license_key: key.into(),
        ..Default::default()
    }
}

fn file() -> Vec<ImportRow> {
    vec![
        row(
            2,
            "Harbor Cameras",
            "professional",
            "FXSGHT-AB12-CD34-EF56-GH78",
        ),
        row(
            3,
            " Harbor Cameras ",
            "starter",
            "FXSGHT-ZZ99-YY88-XX77-WW66",
        ),
        row(4, "Quay Security", "starter", "fxsght-ab12-cd34-ef56-gh78"),
        row(5, "Quay Security", "platinum", "FXSGHT-PL4T-1NUM-0000-0001"),
        row(6, "Quay Security", "starter", "FX-1"),
        ImportRow {
            customer: None,
            ..row(7, "", "starter", "FXSGHT-NOCU-STOM-ER00-0001")
        },
        ImportRow {
            term_ends_at: Some("2020-01-01T00:00:00Z".into()),
            ..row(8, "Quay Security", "starter", "FXSGHT-OLDT-ERM0-0000-0001")
        },
        ImportRow {
            product_id: "teleporter".into(),
            ..row(9, "Quay Security", "starter", "FXSGHT-TELE-PORT-0000-0001")
        },
        ImportRow {
            term_ends_at: Some("next year".into()),
            ..row(10, "Quay Security", "starter", "FXSGHT-NEXT-YEAR-0000-0001")
        },
    ]
}

async fn import(server: &TestServer, dry_run: bool, rows: Vec<ImportRow>) -> ImportReport {
    server
        .admin
        .import(&ImportRequest { dry_run, rows })
        .await
        .unwrap()
}

fn refusals(report: &ImportReport) -> Vec<(u64, &str)> {
    report
        .refused
        .iter()
        .map(|r| (r.line, r.code.as_str()))
        .collect()
}

async fn tenants_named(server: &TestServer, name: &str) -> Vec<TenantView> {
    let all: Vec<TenantView> = server
        .http()
        .get(format!("{}/v1/tenants", server.base))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all.into_iter().filter(|t| t.name == name).collect()
}

async fn foxsight_activate(server: &TestServer, key: &str, hardware: &str) -> (u16, Value) {
    let response = server
        .http()
        .post(format!("{}/api/licenses/activate", server.base))
        .json(&json!({"licenseKey": key, "hardwareId": hardware, "installationId": "vms-main", "version": "5.2"}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

pub async fn existing_keys_are_imported_after_a_dry_run_that_lists_every_refusal(
    server: &TestServer,
) {
    let expected_refusals = vec![
        (4, "duplicate_license_key"),
        (5, "subscription_invalid"),
        (6, "invalid_license_key"),
        (7, "missing_customer"),
        (8, "term_ended"),
        (9, "unknown_product"),
        (10, "invalid_term"),
    ];
    // The dry run: every refusal with its line and why, and nothing written.
    let dry = import(server, true, file()).await;
    assert!(dry.dry_run);
    assert_eq!(
        (dry.imported, dry.already_imported, dry.tenants_created),
        (2, 0, 1)
    );
    assert_eq!(refusals(&dry), expected_refusals);
    let duplicate = &dry.refused[0];
    assert_eq!(duplicate.license_key_hint, "gh78");
    assert!(
        duplicate.message.contains("line 2"),
        "{}",
        duplicate.message
    );
    assert!(
        dry.refused[1].message.contains("platinum"),
        "{}",
        dry.refused[1].message
    );
    assert!(
        dry.refused[2].message.contains("at least 8"),
        "{}",
        dry.refused[2].message
    );
    assert!(tenants_named(server, "Harbor Cameras").await.is_empty());
    let (status, body) = foxsight_activate(server, "FXSGHT-AB12-CD34-EF56-GH78", "HW-1").await;
    assert_eq!(status, 400, "a dry run imports nothing: {body}");

    // The real run writes the good rows, and refuses the same ones.
    let done = import(server, false, file()).await;
    assert!(!done.dry_run);
    assert_eq!(
        (done.imported, done.already_imported, done.tenants_created),
        (2, 0, 1)
    );
    assert_eq!(refusals(&done), expected_refusals);
    let harbor = tenants_named(server, "Harbor Cameras").await;
    assert_eq!(harbor.len(), 1, "one tenant for the customer's two rows");
    let subscriptions: Vec<SubscriptionView> = server
        .http()
        .get(format!(
            "{}/v1/tenants/{}/subscriptions",
            server.base, harbor[0].id
        ))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut plans: Vec<(&str, &str)> = subscriptions
        .iter()
        .map(|s| (s.plan.as_str(), s.license_key_hint.as_str()))
        .collect();
    plans.sort();
    assert_eq!(plans, [("professional", "GH78"), ("starter", "WW66")]);
    assert!(subscriptions.iter().all(|s| s.license_key.is_none()));

    // Again: nothing to do for the rows already in, the same refusals for the rest.
    let again = import(server, false, file()).await;
    assert_eq!(
        (
            again.imported,
            again.already_imported,
            again.tenants_created
        ),
        (0, 2, 0)
    );
    assert_eq!(refusals(&again).len(), expected_refusals.len());

    // The key as the customer types it activates: through Foxsight's route...
    let (status, body) = foxsight_activate(server, " fxsght-ab12-cd34-ef56-gh78", "HW-1").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["license"]["tier"], "professional");
    assert_eq!(
        body["data"]["license"]["licenseKey"],
        "FXSGHT-AB12-CD34-EF56-GH78"
    );
    // ... and Licet's own.
    let activated = server
        .anon
        .activate(&activation("FXSGHT-ZZ99-YY88-XX77-WW66", "fp-import"))
        .await
        .unwrap();
    let (_, license) = licet_core::license::inspect(&activated.license).unwrap();
    assert_eq!(license.plan.as_str(), "starter");
    assert_eq!(license.tenant.as_str(), harbor[0].id);
    // A key nobody imported is refused, and a mistyped Licet key is still named as one.
    let (status, body) = foxsight_activate(server, "FXSGHT-AB12-CD34-EF56-GH79", "HW-2").await;
    assert_eq!(status, 400, "{body}");
    let response = server
        .http()
        .post(format!("{}/v1/activations", server.base))
        .json(&activation("LCT-12345", "fp-typo"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_license_key");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("20 characters"),
        "{body}"
    );

    // The same key for another customer is refused: a key belongs to one subscription.
    let taken = import(
        server,
        false,
        vec![row(
            2,
            "Someone Else",
            "starter",
            "FXSGHT-AB12-CD34-EF56-GH78",
        )],
    )
    .await;
    assert_eq!(refusals(&taken), [(2, "license_key_taken")]);
    assert!(
        tenants_named(server, "Someone Else").await.is_empty(),
        "a refused row creates no tenant"
    );
    // An existing tenant by id, and an unknown one.
    let by_id = import(
        server,
        false,
        vec![
            ImportRow {
                customer: None,
                tenant_id: Some(harbor[0].id.clone()),
                ..row(2, "", "enterprise", "FXSGHT-BYID-0000-0000-0001")
            },
            ImportRow {
                customer: None,
                tenant_id: Some("ten_nobody".into()),
                ..row(3, "", "starter", "FXSGHT-BYID-0000-0000-0002")
            },
        ],
    )
    .await;
    assert_eq!((by_id.imported, by_id.tenants_created), (1, 0));
    assert_eq!(refusals(&by_id), [(3, "unknown_tenant")]);
}

pub async fn an_import_request_is_bounded_and_needs_the_admin_token(server: &TestServer) {
    for rows in [
        json!([]),
        json!(vec![
            json!({"product_id": "foxsight-vms", "plan": "starter", "license_key": "FXSGHT-0000-0000-0000-0001", "customer": "X"});
            501
        ]),
    ] {
        let response = server
            .http()
            .post(format!("{}/v1/imports", server.base))
            .bearer_auth(&server.admin_token)
            .json(&json!({"rows": rows}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("1 to 500"),
            "{body}"
        );
    }
    // Numbers past 2^53 - 1 are refused whole, naming the row.
    let response = server
        .http()
        .post(format!("{}/v1/imports", server.base))
        .bearer_auth(&server.admin_token)
        .json(&json!({"rows": [
            {"product_id": "foxsight-vms", "plan": "starter", "license_key": "FXSGHT-0000-0000-0000-0001", "customer": "X"},
            {"line": 9_223_372_036_854_775_808_u64, "product_id": "foxsight-vms", "plan": "starter", "license_key": "FXSGHT-0000-0000-0000-0002", "customer": "X"}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("row 2:"),
        "{body}"
    );
    let response = server
        .http()
        .post(format!("{}/v1/imports", server.base))
        .json(&json!({"rows": [{"product_id": "foxsight-vms", "plan": "starter", "license_key": "FXSGHT-0000-0000-0000-0001", "customer": "X"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(tenants_named(server, "X").await.is_empty());
}

crate::on_both!(
    existing_keys_are_imported_after_a_dry_run_that_lists_every_refusal,
    an_import_request_is_bounded_and_needs_the_admin_token,
);
