//! Catalog loading and validation.

use crate::support::example;
use licet_core::catalog::Catalog;
use licet_core::resolve::{AddonGrant, ResolveError, Subscription};

fn problems(text: &str) -> Vec<String> {
    match Catalog::from_toml(text, "broken.toml") {
        Ok(_) => panic!("catalog was accepted"),
        Err(errors) => errors.problems.iter().map(ToString::to_string).collect(),
    }
}

const HEADER: &str = r#"
schema = 1
product = "demo"
name = "Demo"
version = "1"
currency = "USD"
"#;

#[test]
fn the_four_example_catalogs_load() {
    for name in [
        "gate-control",
        "brinkbyte-vision",
        "foxsight-vms",
        "smart-parking",
    ] {
        let catalog = example(name);
        assert_eq!(catalog.product().as_str(), name);
    }
}

#[test]
fn every_problem_is_reported_at_once_with_file_path_and_fix() {
    let text = format!(
        r#"{HEADER}
[features.a]
kind = "boolean"
[features.cams]
kind = "limit"

[modules.x]
depends = ["ghost"]
[modules.p]
depends = ["q"]
[modules.q]
depends = ["p"]

[plans.basic]
features = ["a", "undeclared"]
limits = {{ cams = -3 }}
colour = "blue"

[[prices]]
id = "gold"
plan = "gold"
per = "device"
interval = "month"
amount = 100
"#
    );
    let found = problems(&text);
    let all = found.join("\n");
    let expect = [
        r#"broken.toml: modules.x.depends[0]: unknown module "ghost""#,
        "dependency cycle: p -> q -> p",
        r#"broken.toml: prices[0].plan: price "gold" is for unknown plan "gold""#,
        r#"broken.toml: plans.basic.features[1]: feature "undeclared" is referenced but not declared"#,
        "broken.toml: plans.basic.limits.cams: negative limit -3",
        "broken.toml: plans.basic.colour: unknown field",
    ];
    for want in expect {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
    assert!(
        found.iter().all(|p| p.contains("(fix: ")),
        "every problem says what to do:\n{all}"
    );
}

#[test]
fn keys_with_dots_are_quoted_in_paths() {
    let text =
        format!("{HEADER}\n[modules.\"vehicle.make\"]\ndepends = [\"vehicle.paint\"]\n[plans.p]\n");
    let all = problems(&text).join("\n");
    assert!(
        all.contains(r#"modules."vehicle.make".depends[0]: unknown module "vehicle.paint""#),
        "{all}"
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let all = problems("schema = 1\nproduct = \n").join("\n");
    assert!(all.starts_with("broken.toml: line 2"), "{all}");
}

#[test]
fn ambiguous_prices_and_wrong_kinds_are_refused() {
    let text = format!(
        r#"{HEADER}
[features.calls]
kind = "quota"
unit = "calls"
period = "month"
[features.flag]
kind = "boolean"
[meters.api_call]
unit = "call"
quota = "calls"
[plans.p]
features = ["calls"]
limits = {{ flag = 1 }}
[[prices]]
id = "a"
plan = "p"
per = "device"
interval = "month"
amount = 1
[[prices]]
id = "b"
plan = "p"
per = "device"
interval = "month"
amount = 2
[[prices]]
id = "c"
meter = "api_call"
amount = 5
"#
    );
    let all = problems(&text).join("\n");
    assert!(
        all.contains("prices[1]: ambiguous price: prices[0] already charges plan \"p\""),
        "{all}"
    );
    assert!(
        all.contains(
            "plans.p.features[0]: feature \"calls\" is a quota, but a boolean is expected"
        ),
        "{all}"
    );
    assert!(
        all.contains("plans.p.limits.flag: feature \"flag\" is a boolean, but a limit is expected"),
        "{all}"
    );
    assert!(
        all.contains("prices[2]: a meter price needs exactly one of `per_units`"),
        "{all}"
    );
}

#[test]
fn plan_inheritance_cycles_are_refused() {
    let text = format!("{HEADER}\n[plans.a]\nextends = \"b\"\n[plans.b]\nextends = \"a\"\n");
    let all = problems(&text).join("\n");
    assert!(all.contains("plan inheritance cycle: a -> b -> a"), "{all}");
}

#[test]
fn resolution_errors_name_what_is_known() {
    let catalog = example("brinkbyte-vision");
    let err = catalog.resolve(&Subscription::plan("gold")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown plan \"gold\"; the catalog has: base"
    );
    let mut sub = Subscription::plan("base");
    sub.addons.push(AddonGrant {
        id: "intelligence".into(),
        quantity: 2,
    });
    assert!(matches!(
        catalog.resolve(&sub),
        Err(ResolveError::BadQuantity { .. })
    ));
    sub.addons = vec![AddonGrant {
        id: "cloud_export".into(),
        quantity: 2,
    }];
    let err = catalog.resolve(&sub).unwrap_err();
    assert!(err.to_string().contains("not stackable"), "{err}");
    let mut trial = Subscription::plan("starter");
    trial.trial = true;
    assert!(matches!(
        example("foxsight-vms").resolve(&trial),
        Err(ResolveError::NoTrial { .. })
    ));
}

#[test]
fn packs_sold_per_camera_list_the_features_only_they_grant() {
    let catalog = example("brinkbyte-vision");
    let mut bought = Subscription::plan("base");
    bought.addons = vec![
        AddonGrant {
            id: "advanced_analytics".into(),
            quantity: 2,
        },
        AddonGrant {
            id: "intelligence".into(),
            quantity: 5,
        },
    ];
    let resolution = catalog.resolve(&bought).unwrap();
    let packs = &resolution.entitlements.camera_packs;
    let analytics = &packs["advanced_analytics"];
    assert_eq!(analytics.cameras, 2);
    assert!(
        analytics
            .features
            .iter()
            .any(|f| f.as_str() == "analytics.heatmap")
    );
    // Intelligence is sold per seat: device-wide, no camera gate.
    assert!(!packs.keys().any(|p| p.as_str() == "intelligence"));
    let gated: Vec<&str> = resolution
        .entitlements
        .packs_granting("analytics.heatmap")
        .map(|p| p.as_str())
        .collect();
    assert_eq!(gated, ["advanced_analytics"]);
    assert_eq!(
        resolution.entitlements.packs_granting("zones.line").count(),
        0
    );
    // With no pack bought, nothing is gated.
    let plain = catalog.resolve(&Subscription::plan("base")).unwrap();
    assert!(plain.entitlements.camera_packs.is_empty());
}

#[test]
fn an_alias_names_a_declared_feature_and_is_not_one() {
    let text = format!(
        "{HEADER}
[features.\"alerts.sms\"]
kind = \"boolean\"

[features.\"outputs.sms\"]
kind = \"boolean\"

[plans.base]
features = [\"alerts.sms\"]

[aliases]
\"outputs.sms\" = \"alerts.sms\"
\"outputs.fax\" = \"alerts.fax\"
"
    );
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|p| p.contains("aliases.\"outputs.sms\"") && p.contains("feature of its own")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("aliases.\"outputs.fax\"") && p.contains("not declared")),
        "{found:?}"
    );
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn only_limits_can_be_rates() {
    let text = format!(
        "{HEADER}\n[features.calls]\nkind = \"boolean\"\nrate = \"minute\"\n\
         [features.api_rate]\nkind = \"limit\"\nrate = \"minute\"\n[plans.p]\n"
    );
    let all = problems(&text);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(
        all[0].contains("features.calls.rate: only limits can be rates"),
        "{all:?}"
    );
    let catalog = example("smart-parking");
    assert_eq!(
        catalog.spec().features[&licet_core::ids::FeatureKey::new("api_rate_per_minute")].rate,
        Some(licet_core::catalog::RateWindow::Minute)
    );
}
