//! Core benchmarks: the in-process entitlement check and license verification, each
//! next to a baseline measured in the same run (a bare `HashMap` lookup; a raw Ed25519
//! verify of the same payload bytes), with the ratio printed at the end.
//!
//! Run: `cargo bench -p licet-core --bench core`

// A benchmark whose setup fails has nothing to measure; stopping loudly is right.
#![allow(clippy::panic)]

use criterion::{BenchmarkId, Criterion, black_box};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};
use licet_core::catalog::Catalog;
use licet_core::ids::{DeviceId, LicenseId, TenantId};
use licet_core::license::{self, Expectations, IssueRequest};
use licet_core::resolve::{AddonGrant, Subscription};
use licet_core::signing::Keyring;
use licet_core::snapshot::Snapshot;
use licet_core::state::LicenseState;
use std::collections::HashMap;
use std::path::PathBuf;
use time::macros::datetime;

fn output_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/criterion")
}

fn main() {
    let mut criterion = Criterion::default()
        .output_directory(&output_dir())
        .configure_from_args();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/catalogs/brinkbyte-vision.toml"
    ))
    .unwrap_or_else(|e| panic!("read catalog: {e}"));
    let catalog =
        Catalog::from_toml(&text, "brinkbyte-vision.toml").unwrap_or_else(|e| panic!("{e}"));
    let subscription = Subscription {
        plan: "base".into(),
        addons: vec![AddonGrant {
            id: "advanced_analytics".into(),
            quantity: 4,
        }],
        trial: false,
        modules: None,
    };
    let key = SigningKey::from_bytes(&[7; 32]);
    let request = |sequence: u64| IssueRequest {
        catalog: &catalog,
        subscription: &subscription,
        license_id: LicenseId::new("lic_bench"),
        subscription_id: None,
        tenant: TenantId::new("tenant"),
        device: DeviceId::new("device"),
        fingerprint: "fp",
        issued_at: datetime!(2026-01-01 00:00 UTC),
        term_ends_at: None,
        trial_started_at: None,
        sequence,
        grace: None,
        refresh: None,
    };
    let signed = license::issue(&request(1), &key).unwrap_or_else(|e| panic!("{e}"));
    let snapshot = Snapshot::from_license(&signed.payload, LicenseState::Active);

    // Baseline for a check: the same number of entries in a plain map, looked up by &str.
    let bare: HashMap<Box<str>, u64> = snapshot
        .features()
        .map(|(k, _)| (Box::from(k), 1))
        .collect();
    let mut group = criterion.benchmark_group("check");
    group.bench_function("feature", |b| {
        b.iter(|| black_box(snapshot.check(black_box("analytics.heatmap")).allowed))
    });
    group.bench_function("limit", |b| {
        b.iter(|| {
            black_box(
                snapshot
                    .check_limit(black_box("max_cameras"), black_box(17))
                    .allowed,
            )
        })
    });
    group.bench_function("unknown_feature", |b| {
        b.iter(|| black_box(snapshot.check(black_box("analytics.teleport")).allowed))
    });
    group.bench_function("bare_hashmap_lookup", |b| {
        b.iter(|| black_box(bare.get(black_box("analytics.heatmap"))))
    });
    group.finish();

    let mut keyring = Keyring::new();
    keyring.add(key.verifying_key());
    let payload = serde_json::to_vec(&signed.payload).unwrap_or_else(|e| panic!("{e}"));
    let signature = key.sign(&payload);
    let public = key.verifying_key();
    let mut group = criterion.benchmark_group("verify");
    group.bench_function("license", |b| {
        b.iter(|| {
            license::verify(
                &keyring,
                black_box(&signed.armored),
                &Expectations::default(),
            )
            .is_ok()
        })
    });
    group.bench_with_input(
        BenchmarkId::new("raw_ed25519", payload.len()),
        &payload,
        |b, payload| b.iter(|| public.verify(black_box(payload), &signature).is_ok()),
    );
    group.finish();

    // Issuance, as a refresh does it: resolve, serialize, sign, armor; next to a raw
    // Ed25519 signature of the same payload bytes.
    let mut group = criterion.benchmark_group("issue");
    let mut sequence = 1;
    group.bench_function("license", |b| {
        b.iter(|| {
            sequence += 1;
            license::issue(&request(black_box(sequence)), &key).is_ok()
        })
    });
    // What a server with the subscription's grant cached signs per refresh.
    let resolution = catalog
        .resolve(&subscription)
        .unwrap_or_else(|e| panic!("{e}"));
    let grant = license::grant(&request(1), &resolution).unwrap_or_else(|e| panic!("{e}"));
    group.bench_function("lease_over_cached_grant", |b| {
        b.iter(|| {
            sequence += 1;
            license::issue_with_grant(&request(black_box(sequence)), &resolution, &grant, &key)
                .is_ok()
        })
    });
    group.bench_function("resolve", |b| {
        b.iter(|| catalog.resolve(black_box(&subscription)).is_ok())
    });
    group.bench_with_input(
        BenchmarkId::new("raw_ed25519_sign", payload.len()),
        &payload,
        |b, payload| b.iter(|| key.sign(black_box(payload))),
    );
    group.finish();
    criterion.final_summary();

    println!("\n== licet-core summary (same run, same machine) ==");
    let check = estimate("check/feature");
    let bare = estimate("check/bare_hashmap_lookup");
    let verify = estimate("verify/license");
    let raw = estimate(&format!("verify/raw_ed25519/{}", payload.len()));
    if let (Some(check), Some(bare)) = (check, bare) {
        println!(
            "feature check   {:>10.1} ns  (target <= 100 ns: {})   bare HashMap lookup {:>8.1} ns   ratio {:.2}x",
            check,
            if check <= 100.0 { "met" } else { "MISSED" },
            bare,
            check / bare
        );
    }
    if let (Some(verify), Some(raw)) = (verify, raw) {
        println!(
            "license verify  {:>10.1} us   raw ed25519 verify of the same {} bytes {:>8.1} us   ratio {:.2}x",
            verify / 1000.0,
            payload.len(),
            raw / 1000.0,
            verify / raw
        );
    }
    let issue = estimate("issue/license");
    let resolve = estimate("issue/resolve");
    let sign = estimate(&format!("issue/raw_ed25519_sign/{}", payload.len()));
    if let (Some(issue), Some(resolve), Some(sign)) = (issue, resolve, sign) {
        println!(
            "license issue   {:>10.1} us   (resolve {:.1} us)   raw ed25519 sign of the same {} bytes {:>8.1} us   ratio {:.2}x",
            issue / 1000.0,
            resolve / 1000.0,
            payload.len(),
            sign / 1000.0,
            issue / sign
        );
    }
    if let (Some(lease), Some(sign)) = (estimate("issue/lease_over_cached_grant"), sign) {
        println!(
            "lease issue     {:>10.1} us   (grant cached, as the server signs a refresh)   ratio to the raw sign above {:.2}x",
            lease / 1000.0,
            lease / sign
        );
    }
}

/// Criterion's mean estimate (ns) for a benchmark of this run, read from its output.
fn estimate(id: &str) -> Option<f64> {
    let path = output_dir().join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}
