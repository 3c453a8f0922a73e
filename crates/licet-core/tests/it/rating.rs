//! Rating: one worked example per example catalog, every number checked by hand in the
//! comments, and the laws that make invoices stable (splitting a month, replaying).

use crate::support::example;
use licet_core::ids::{AddonId, MeterId};
use licet_core::rating::{
    BillingMonth, MeterUsage, RatingInput, camera_charge, late_adjustment, rate,
};
use licet_core::resolve::{AddonGrant, Subscription};
use proptest::prelude::*;
use std::collections::BTreeMap;
use time::macros::date;

fn november() -> BillingMonth {
    BillingMonth::parse("2026-11").unwrap()
}

fn amounts(invoice: &licet_core::rating::Invoice) -> Vec<(&str, u64, i64)> {
    invoice
        .lines
        .iter()
        .map(|l| (l.price_id.as_str(), l.quantity, l.amount))
        .collect()
}

#[test]
fn brinkbyte_three_cameras_for_twenty_days_with_one_analytics_camera_and_api_overage() {
    let catalog = example("brinkbyte-vision");
    let subscription = Subscription {
        addons: vec![AddonGrant {
            id: AddonId::new("advanced_analytics"),
            quantity: 1,
        }],
        ..Subscription::plan("base")
    };
    // Cameras came online on 1 November and were switched off after the 20th.
    let mut cameras = vec![3u32; 20];
    cameras.extend([0; 10]);
    let usage = BTreeMap::from([(
        MeterId::new("api_call"),
        MeterUsage {
            quantity: 61_000,
            pass_through_minor: 0,
        },
    )]);
    let invoice = rate(&RatingInput {
        catalog: &catalog,
        subscription: &subscription,
        month: november(),
        subscribed_on: date!(2026 - 10 - 01),
        cameras_per_day: &cameras,
        assigned_per_day: &BTreeMap::new(),
        devices: 1,
        seats: 0,
        usage: &usage,
    })
    .unwrap();
    // base-camera: 3 cameras × 20 days = 60 camera-days; 6000 × 60 / 30 = 12000.
    // advanced-analytics-camera: 1 camera × 20 days = 20 camera-days;
    //   2000 × 20 / 30 = 1333.33…, rounded down = 1333.
    // api-call-overage: 61000 − 50000 included = 11000 over = 11 blocks of 1000 × 5 = 55.
    // Total: 12000 + 1333 + 55 = 13388.
    assert_eq!(
        amounts(&invoice),
        vec![
            ("base-camera", 60, 12_000),
            ("advanced-analytics-camera", 20, 1_333),
            ("api-call-overage", 11, 55),
        ]
    );
    assert_eq!(invoice.total, 13_388);
    assert!(
        invoice.lines[2]
            .detail
            .contains("61000 used − 50000 included"),
        "{:?}",
        invoice.lines[2]
    );
}

#[test]
fn brinkbyte_growth_packs_seats_one_time_and_pass_through() {
    let catalog = example("brinkbyte-vision");
    let subscription = Subscription {
        addons: vec![
            AddonGrant {
                id: AddonId::new("intelligence"),
                quantity: 8,
            },
            AddonGrant {
                id: AddonId::new("vms_connector"),
                quantity: 2,
            },
        ],
        trial: true,
        ..Subscription::plan("base")
    };
    let usage = BTreeMap::from([(
        MeterId::new("sms_sent"),
        MeterUsage {
            quantity: 40,
            pass_through_minor: 312,
        },
    )]);
    let invoice = rate(&RatingInput {
        catalog: &catalog,
        subscription: &subscription,
        month: november(),
        subscribed_on: date!(2026 - 11 - 10),
        cameras_per_day: &[2; 30],
        assigned_per_day: &BTreeMap::new(),
        devices: 1,
        seats: 0,
        usage: &usage,
    })
    .unwrap();
    // The plan is a trial: no base-camera line.
    // intelligence-tenant: 40000; intelligence-extra-seat: 8 seats bought − 5 included
    //   = 3 × 12000 = 36000.
    // vms-connector-setup (subscribed this month): 2 × 50000 = 100000.
    // vms-connector-annual (anniversary month): 2 × 7500 = 15000.
    // sms-pass-through: 312 as reported.
    assert_eq!(
        amounts(&invoice),
        vec![
            ("intelligence-tenant", 1, 40_000),
            ("intelligence-extra-seat", 3, 36_000),
            ("vms-connector-setup", 2, 100_000),
            ("vms-connector-annual", 2, 15_000),
            ("sms-pass-through", 40, 312),
        ]
    );
    assert_eq!(invoice.total, 191_312);

    // The next month: no one-time fee, no annual fee.
    let december = rate(&RatingInput {
        catalog: &catalog,
        subscription: &subscription,
        month: BillingMonth::parse("2026-12").unwrap(),
        subscribed_on: date!(2026 - 11 - 10),
        cameras_per_day: &[2; 31],
        assigned_per_day: &BTreeMap::new(),
        devices: 1,
        seats: 0,
        usage: &BTreeMap::new(),
    })
    .unwrap();
    assert_eq!(
        december.total, 76_000,
        "40000 + 36000: {:?}",
        december.lines
    );
}

#[test]
fn gate_control_charges_per_device_per_month() {
    let catalog = example("gate-control");
    let invoice = rate(&RatingInput {
        catalog: &catalog,
        subscription: &Subscription::plan("professional"),
        month: november(),
        subscribed_on: date!(2026 - 01 - 15),
        cameras_per_day: &[],
        assigned_per_day: &BTreeMap::new(),
        devices: 3,
        seats: 0,
        usage: &BTreeMap::new(),
    })
    .unwrap();
    // professional-device: 3 devices × $100 = $300 (the other tiers' prices do not apply;
    // the setup fee was charged in January).
    assert_eq!(amounts(&invoice), vec![("professional-device", 3, 30_000)]);

    // In the month the subscription began, each device also pays the $800 setup fee once.
    let first = rate(&RatingInput {
        catalog: &catalog,
        subscription: &Subscription::plan("professional"),
        month: november(),
        subscribed_on: date!(2026 - 11 - 03),
        cameras_per_day: &[],
        assigned_per_day: &BTreeMap::new(),
        devices: 3,
        seats: 0,
        usage: &BTreeMap::new(),
    })
    .unwrap();
    let mut lines = amounts(&first);
    lines.sort();
    assert_eq!(
        lines,
        vec![
            ("professional-device", 3, 30_000),
            ("professional-setup", 3, 240_000)
        ]
    );
}

#[test]
fn foxsight_charges_per_server_once_a_year_in_the_anniversary_month() {
    let catalog = example("foxsight-vms");
    let subscription = Subscription::plan("professional");
    let usage = BTreeMap::new();
    let assigned = BTreeMap::new();
    let input = |month: &str| RatingInput {
        catalog: &catalog,
        subscription: &subscription,
        month: BillingMonth::parse(month).unwrap(),
        subscribed_on: date!(2025 - 11 - 20),
        cameras_per_day: &[],
        assigned_per_day: &assigned,
        devices: 2,
        seats: 0,
        usage: &usage,
    };
    // professional-site: 2 servers × 149000 = 298000 in November, nothing in December.
    assert_eq!(rate(&input("2026-11")).unwrap().total, 298_000);
    assert_eq!(rate(&input("2026-12")).unwrap().total, 0);
}

#[test]
fn smart_parking_charges_per_tenant_per_month() {
    let catalog = example("smart-parking");
    let invoice = rate(&RatingInput {
        catalog: &catalog,
        subscription: &Subscription::plan("basic"),
        month: november(),
        subscribed_on: date!(2026 - 03 - 01),
        cameras_per_day: &[],
        assigned_per_day: &BTreeMap::new(),
        devices: 4,
        seats: 0,
        usage: &BTreeMap::new(),
    })
    .unwrap();
    // basic-tenant: 4900 once for the tenant, however many devices.
    assert_eq!(amounts(&invoice), vec![("basic-tenant", 1, 4_900)]);
}

#[test]
fn a_month_with_more_days_of_counts_than_it_has_is_refused() {
    let catalog = example("brinkbyte-vision");
    let error = rate(&RatingInput {
        catalog: &catalog,
        subscription: &Subscription::plan("base"),
        month: november(),
        subscribed_on: date!(2026 - 11 - 01),
        cameras_per_day: &[1; 31],
        assigned_per_day: &BTreeMap::new(),
        devices: 1,
        seats: 0,
        usage: &BTreeMap::new(),
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "31 days of camera counts for 2026-11, which has 30"
    );
}

proptest! {
    /// Splitting a month anywhere and charging each part as the difference of the
    /// cumulative charge gives exactly the whole month's charge, and never more than
    /// the undivided price.
    #[test]
    fn splitting_a_month_never_changes_the_camera_total(
        counts in proptest::collection::vec(0u32..50, 30),
        split in 0usize..=30,
        amount in 0i64..1_000_000,
    ) {
        let whole: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        let first: u64 = counts[..split].iter().map(|&c| u64::from(c)).sum();
        let before = camera_charge(amount, first, 30).unwrap();
        let after = camera_charge(amount, whole, 30).unwrap() - before;
        prop_assert!(after >= 0);
        prop_assert_eq!(before + after, camera_charge(amount, whole, 30).unwrap());
        // Per-part rounding (the mistake this rule prevents) can lose a cent:
        let naive = camera_charge(amount, first, 30).unwrap()
            + camera_charge(amount, whole - first, 30).unwrap();
        prop_assert!(naive <= before + after);
    }

    /// Late usage: a month invoiced with part of its usage, then the rest arriving
    /// later and booked as the difference it makes, bills exactly what the month with
    /// all its usage bills, line by line never negative.
    #[test]
    fn invoiced_plus_late_usage_is_the_whole_month(
        on_time in proptest::collection::vec(0u32..6, 30),
        late in proptest::collection::vec(0u32..3, 30),
        calls in 0u64..120_000,
        late_calls in 0u64..60_000,
        covered in 1u64..4,
    ) {
        let catalog = example("brinkbyte-vision");
        let subscription = Subscription {
            addons: vec![AddonGrant { id: AddonId::new("advanced_analytics"), quantity: covered }],
            ..Subscription::plan("base")
        };
        let invoice = |counts: &[u32], calls: u64| {
            let usage = BTreeMap::from([(MeterId::new("api_call"), MeterUsage { quantity: calls, pass_through_minor: 0 })]);
            rate(&RatingInput {
                catalog: &catalog,
                subscription: &subscription,
                month: november(),
                subscribed_on: date!(2026 - 01 - 01),
                cameras_per_day: counts,
                assigned_per_day: &BTreeMap::new(),
                devices: 1,
                seats: 0,
                usage: &usage,
            })
            .unwrap()
        };
        let all: Vec<u32> = on_time.iter().zip(&late).map(|(a, b)| a + b).collect();
        let issued = invoice(&on_time, calls);
        let whole = invoice(&all, calls + late_calls);
        let adjustment = late_adjustment(&issued, &whole);
        prop_assert!(adjustment.iter().all(|l| l.amount >= 0), "{:?}", adjustment);
        prop_assert_eq!(issued.total + adjustment.iter().map(|l| l.amount).sum::<i64>(), whole.total);
        // Replayed usage is not usage: rating the same quantities again changes nothing.
        prop_assert!(late_adjustment(&whole, &invoice(&all, calls + late_calls)).is_empty());
    }

    /// Days can be listed in any order: the invoice depends on the counts, not on which
    /// day had which (add-on coverage is per day, so this is not trivially true).
    #[test]
    fn the_order_of_days_does_not_change_the_invoice(
        mut counts in proptest::collection::vec(0u32..6, 30),
        covered in 1u64..4,
        calls in 0u64..120_000,
    ) {
        let catalog = example("brinkbyte-vision");
        let subscription = Subscription {
            addons: vec![AddonGrant { id: AddonId::new("advanced_analytics"), quantity: covered }],
            ..Subscription::plan("base")
        };
        let usage = BTreeMap::from([(MeterId::new("api_call"), MeterUsage { quantity: calls, pass_through_minor: 0 })]);
        let input = |counts: &[u32]| {
            rate(&RatingInput {
                catalog: &catalog,
                subscription: &subscription,
                month: november(),
                subscribed_on: date!(2026 - 01 - 01),
                cameras_per_day: counts,
                assigned_per_day: &BTreeMap::new(),
                devices: 1,
                seats: 0,
                usage: &usage,
            })
            .unwrap()
        };
        let forwards = input(&counts);
        counts.reverse();
        prop_assert_eq!(forwards, input(&counts));
    }
}

#[test]
fn a_per_camera_pack_assigned_to_cameras_bills_the_camera_days_it_was_assigned() {
    let catalog = example("brinkbyte-vision");
    let subscription = Subscription {
        addons: vec![AddonGrant {
            id: AddonId::new("advanced_analytics"),
            quantity: 3,
        }],
        ..Subscription::plan("base")
    };
    // Bought for 3 cameras, 4 cameras online all month; the tenant assigned the pack to
    // one camera for the first 10 days and to two for the next 5, then to none.
    let mut assigned = vec![1u32; 10];
    assigned.extend([2; 5]);
    let none = BTreeMap::new();
    let usage = BTreeMap::new();
    let cameras = [4u32; 30];
    let input = |assigned_per_day| RatingInput {
        catalog: &catalog,
        subscription: &subscription,
        month: november(),
        subscribed_on: date!(2026 - 10 - 01),
        cameras_per_day: &cameras,
        assigned_per_day,
        devices: 1,
        seats: 0,
        usage: &usage,
    };
    let by_assignment = BTreeMap::from([("advanced_analytics".to_owned(), assigned)]);
    let line = |invoice: &licet_core::rating::Invoice| {
        amounts(invoice)
            .into_iter()
            .find(|(id, _, _)| *id == "advanced-analytics-camera")
            .map(|(_, quantity, amount)| (quantity, amount))
    };
    // 10 × 1 + 5 × 2 = 20 camera-days; 2000 × 20 / 30 = 1333.
    assert_eq!(
        line(&rate(&input(&by_assignment)).unwrap()),
        Some((20, 1_333))
    );
    // Never assigned to a camera, the pack applies device-wide: the 3 cameras it covers
    // of the 4, every day: 90 camera-days, a full month.
    assert_eq!(line(&rate(&input(&none)).unwrap()), Some((90, 6_000)));
    // More cameras than bought reported as holding it (an old agent, a race) are
    // still billed at most the cameras bought.
    let over = BTreeMap::from([("advanced_analytics".to_owned(), vec![5u32; 30])]);
    assert_eq!(line(&rate(&input(&over)).unwrap()), Some((90, 6_000)));
    // A month of 30 days cannot carry 31 days of assignments.
    let long = BTreeMap::from([("advanced_analytics".to_owned(), vec![1u32; 31])]);
    assert!(rate(&input(&long)).is_err());
}
