//! The rules for prices: each names a plan or add-on that exists, a basis that fits
//! what it charges, and no two prices charge the same thing.

use super::Checker;
use crate::catalog::{CatalogSpec, PriceBasis};
use std::collections::{BTreeMap, HashSet};

impl Checker {
    pub(super) fn check_prices(&mut self, spec: &CatalogSpec) {
        let mut ids = HashSet::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (index, price) in spec.prices.iter().enumerate() {
            let path = format!("prices[{index}]");
            if price.id.trim().is_empty() {
                self.report(
                    format!("{path}.id"),
                    "price has no id".into(),
                    "give every price a stable `id`; invoice lines use it",
                );
            } else if !ids.insert(price.id.as_str()) {
                self.report(
                    format!("{path}.id"),
                    format!("price id {:?} is used twice", price.id),
                    "give each price its own id",
                );
            }
            if price.amount < 0 {
                self.report(
                    format!("{path}.amount"),
                    format!("negative price {}", price.amount),
                    "prices are charges in minor units (cents); write 0 or more",
                );
            }
            let targets = [
                price.plan.is_some(),
                price.addon.is_some(),
                price.meter.is_some(),
            ]
            .iter()
            .filter(|set| **set)
            .count();
            if targets != 1 {
                self.report(
                    path.clone(),
                    format!("a price must name exactly one of plan, addon or meter; this one names {targets}"),
                    "set exactly one of `plan`, `addon`, `meter`",
                );
                continue;
            }
            let target = if let Some(plan) = &price.plan {
                if !spec.plans.contains_key(plan.as_str()) {
                    self.report(
                        format!("{path}.plan"),
                        format!(
                            "price {:?} is for unknown plan {:?}",
                            price.id,
                            plan.as_str()
                        ),
                        "name a plan declared under [plans], or remove the price",
                    );
                }
                format!("plan {:?}", plan.as_str())
            } else if let Some(addon) = &price.addon {
                if !spec.addons.contains_key(addon.as_str()) {
                    self.report(
                        format!("{path}.addon"),
                        format!(
                            "price {:?} is for unknown add-on {:?}",
                            price.id,
                            addon.as_str()
                        ),
                        "name an add-on declared under [addons], or remove the price",
                    );
                }
                format!("add-on {:?}", addon.as_str())
            } else if let Some(meter) = &price.meter {
                match spec.meters.get(meter.as_str()) {
                    None => self.report(
                        format!("{path}.meter"),
                        format!(
                            "price {:?} is for unknown meter {:?}",
                            price.id,
                            meter.as_str()
                        ),
                        "name a meter declared under [meters], or remove the price",
                    ),
                    Some(spec_meter) => {
                        if price.per_units.is_some() && spec_meter.quota.is_none() {
                            self.report(
                                format!("{path}.per_units"),
                                format!(
                                    "overage price on meter {:?}, which consumes no quota",
                                    meter.as_str()
                                ),
                                "set `quota` on the meter, or price it as pass-through",
                            );
                        }
                    }
                }
                format!("meter {:?}", meter.as_str())
            } else {
                continue;
            };
            let key = if price.meter.is_some() {
                match (price.per_units, price.pass_through) {
                    (Some(0), _) => {
                        self.report(format!("{path}.per_units"), "overage per 0 units".into(), "set `per_units` to 1 or more, e.g. 1000");
                    }
                    (Some(_), false) | (None, true) => {}
                    _ => self.report(
                        path.clone(),
                        "a meter price needs exactly one of `per_units` (overage) or `pass_through = true`".into(),
                        "set one of them",
                    ),
                }
                if price.per.is_some() || price.interval.is_some() {
                    self.report(
                        path.clone(),
                        "a meter price has no `per`/`interval`; it is charged by usage".into(),
                        "remove `per` and `interval`",
                    );
                }
                target
            } else {
                if price.per_units.is_some() || price.pass_through {
                    self.report(
                        path.clone(),
                        "`per_units` and `pass_through` belong to meter prices".into(),
                        "remove them, or put the price on a meter",
                    );
                }
                let (Some(per), Some(interval)) = (price.per, price.interval) else {
                    self.report(
                        path.clone(),
                        format!("price {:?} for {target} needs `per` and `interval`", price.id),
                        "set `per` (camera, device, tenant, seat) and `interval` (month, year, once)",
                    );
                    continue;
                };
                if price.included_quantity > 0 && per != PriceBasis::Seat {
                    self.report(
                        format!("{path}.included_quantity"),
                        "only per-seat prices include a quantity".into(),
                        "remove `included_quantity` or set `per = \"seat\"`",
                    );
                }
                format!("{target} per {per:?} per {interval:?}")
            };
            if let Some(first) = seen.insert(key.clone(), index) {
                self.report(
                    path,
                    format!("ambiguous price: prices[{first}] already charges {key}"),
                    "keep one price per plan/add-on, basis and interval",
                );
            }
        }
    }
}
