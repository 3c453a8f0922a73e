//! `licet import`: a vendor's customer file (CSV or JSON) into a running server, with a
//! dry run that lists every refused row, then the imported `FXSGHT-` keys activating
//! through Foxsight's route.

use crate::server::{runtime, start};
use crate::{code, licet, path, stdout};

const CSV: &str = "customer,product_id,plan,license_key,addons,trial,term_ends_at
Harbor Cameras,foxsight-vms,professional,FXSGHT-AB12-CD34-EF56-GH78,,,
Quay Security,foxsight-vms,starter,FXSGHT-ZZ99-YY88-XX77-WW66,,no,2099-01-01T00:00:00Z
Quay Security,foxsight-vms,platinum,FXSGHT-PL4T-1NUM-0000-0001,,,
Quay Security,foxsight-vms,starter,FXSGHT-BADA-DD0N-0000-0001,extra_seats:many,,
Quay Security,foxsight-vms,starter,FXSGHT-BADT-RIAL-0000-0001,,maybe,
";

fn refused_lines(json: &serde_json::Value) -> Vec<(u64, String)> {
    json["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_customer_file_is_imported_after_a_dry_run_and_its_keys_activate() {
    let dir = tempfile::tempdir().unwrap();
    let (server, lines) = start(&dir.path().join("server"), None);
    let token = lines[1].clone();
    let file = dir.path().join("customers.csv");
    std::fs::write(&file, CSV).unwrap();
    let import = |extra: &[&str]| {
        let mut args = vec![
            "import",
            path(&file),
            "--server",
            &server.base,
            "--token",
            &token,
        ];
        args.extend_from_slice(extra);
        licet(args)
    };

    // The dry run names every row it would refuse, with its line, and writes nothing.
    let dry = import(&["--dry-run"]);
    assert_eq!(code(&dry), 3, "{}", stdout(&dry));
    let text = stdout(&dry);
    assert!(
        text.starts_with("dry run, nothing written. 5 rows: 2 would be imported, 0 already imported, 3 refused; 2 tenants would be created"),
        "{text}"
    );
    assert!(
        text.contains("line 4      key …0001  subscription_invalid"),
        "{text}"
    );
    assert!(text.contains("platinum"), "{text}");
    assert!(
        text.contains("line 5") && text.contains("`addons`: \"extra_seats:many\""),
        "{text}"
    );
    assert!(
        text.contains("line 6") && text.contains("`trial` is \"maybe\""),
        "{text}"
    );
    let dry_json = import(&["--dry-run", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&dry_json)).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        refused_lines(&report),
        [
            (4, "subscription_invalid".to_owned()),
            (5, "unreadable_row".to_owned()),
            (6, "unreadable_row".to_owned())
        ]
    );
    let foxsight = |key: &str| {
        runtime().block_on(async {
            let response = reqwest::Client::new()
                .post(format!("{}/api/licenses/activate", server.base))
                .json(&serde_json::json!({"licenseKey": key, "hardwareId": "HW-77", "installationId": "vms", "version": "5.2"}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        })
    };
    assert_eq!(foxsight("FXSGHT-AB12-CD34-EF56-GH78").0, 400);

    // The import itself: the same refusals, the good rows in; again, nothing to do.
    let done = import(&["--format", "json"]);
    assert_eq!(code(&done), 3);
    let report: serde_json::Value = serde_json::from_str(&stdout(&done)).unwrap();
    assert_eq!(
        (
            report["imported"].as_u64(),
            report["tenants_created"].as_u64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(refused_lines(&report).len(), 3);
    let again = import(&[]);
    assert!(
        stdout(&again)
            .starts_with("5 rows: 0 imported, 2 already imported, 3 refused; 0 tenants created"),
        "{}",
        stdout(&again)
    );

    // The customer's key, as the customer has it, activates on Foxsight's route.
    let (status, body) = foxsight("FXSGHT-AB12-CD34-EF56-GH78");
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["license"]["tier"], "professional");
    assert_eq!(
        body["data"]["license"]["licenseKey"],
        "FXSGHT-AB12-CD34-EF56-GH78"
    );
}

#[test]
fn an_unreadable_file_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (server, lines) = start(&dir.path().join("server"), None);
    let token = lines[1].clone();
    let import = |name: &str, text: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        licet([
            "import",
            path(&file),
            "--server",
            &server.base,
            "--token",
            &token,
        ])
    };
    let unknown = import(
        "a.csv",
        "customer,product,plan,license_key\nX,foxsight-vms,starter,FXSGHT-0000-0000-0000-0009\n",
    );
    assert_eq!(code(&unknown), 1);
    assert!(
        crate::stderr(&unknown).contains("column \"product\""),
        "{}",
        crate::stderr(&unknown)
    );
    let unnamed = import("customers.txt", "[]");
    assert_eq!(code(&unnamed), 1);
    assert!(crate::stderr(&unnamed).contains("--input csv or --input json"));
    // A JSON row that cannot be read is refused with its position; the others go in.
    let json = import(
        "customers.json",
        r#"[{"customer": "Dock Nine", "product_id": "foxsight-vms", "plan": "starter", "license_key": "FXSGHT-D0CK-9999-0000-0001"},
            {"customer": "Dock Ten", "product_id": "foxsight-vms", "license_key": "FXSGHT-D0CK-1010-0000-0001"}]"#,
    );
    assert_eq!(code(&json), 3, "{}", stdout(&json));
    let text = stdout(&json);
    assert!(text.starts_with("2 rows: 1 imported"), "{text}");
    assert!(
        text.contains("line 2") && text.contains("missing field `plan`"),
        "{text}"
    );
}
