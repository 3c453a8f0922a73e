//! The rules for plans and add-ons: what each grants (features, limits, quotas, camera
//! classes, components) must exist in the catalog and be of the right kind; meters
//! must be declared once.

use super::{Checker, MAX_DAYS, Scope, find_cycles, kind_name, quote_key};
use crate::amount::LimitValue;
use crate::catalog::{ComponentKind, FeatureKind};
use crate::ids::FeatureKey;
use std::collections::{BTreeMap, BTreeSet};

impl Checker {
    pub(super) fn check_plans(&mut self, scope: &Scope<'_>) {
        let spec = scope.spec;
        for (id, plan) in &spec.plans {
            let path = format!("plans.{}", quote_key(id.as_str()));
            if let Some(parent) = &plan.extends {
                if !spec.plans.contains_key(parent.as_str()) {
                    self.report(
                        format!("{path}.extends"),
                        format!("unknown plan {:?}", parent.as_str()),
                        "name a plan declared in this catalog, or remove `extends`",
                    );
                }
            }
            self.check_grants(scope, &path, plan.grants());
            self.check_classes(scope, &path, plan.classes.as_deref(), &plan.default_classes);
            if plan.max_devices == Some(0) {
                self.report(
                    format!("{path}.max_devices"),
                    "a plan allowing 0 devices can never be activated".into(),
                    "set `max_devices` to 1 or more",
                );
            }
            if let Some(trial) = &plan.trial {
                let trial_path = format!("{path}.trial");
                if trial.days > MAX_DAYS {
                    self.report(
                        format!("{trial_path}.days"),
                        format!("a trial of {} days is beyond 100 years", trial.days),
                        "use at most 36500 days",
                    );
                }
                if trial.days == 0 {
                    self.report(
                        format!("{trial_path}.days"),
                        "a trial of 0 days ends before it starts".into(),
                        "set `days` to the trial length, e.g. 90",
                    );
                }
                self.check_amounts(
                    scope,
                    &format!("{trial_path}.limits"),
                    &trial.limits,
                    FeatureKind::Limit,
                );
                self.check_amounts(
                    scope,
                    &format!("{trial_path}.quotas"),
                    &trial.quotas,
                    FeatureKind::Quota,
                );
                self.check_classes(
                    scope,
                    &trial_path,
                    trial.classes.as_deref(),
                    &trial.default_classes,
                );
                for (index, feature) in trial.without.iter().enumerate() {
                    self.expect_feature(
                        spec,
                        &format!("{trial_path}.without[{index}]"),
                        feature,
                        None,
                    );
                }
                for (index, module) in trial.without_modules.iter().enumerate() {
                    self.expect_module(
                        spec,
                        &format!("{trial_path}.without_modules[{index}]"),
                        module,
                    );
                }
            }
        }
        let edges: BTreeMap<&str, Vec<&str>> = spec
            .plans
            .iter()
            .map(|(id, plan)| {
                (
                    id.as_str(),
                    plan.extends.iter().map(|p| p.as_str()).collect(),
                )
            })
            .collect();
        for cycle in find_cycles(&edges) {
            let first = cycle.first().copied().unwrap_or_default();
            self.report(
                format!("plans.{}.extends", quote_key(first)),
                format!("plan inheritance cycle: {}", cycle.join(" -> ")),
                "remove one `extends` so every plan has a root",
            );
        }
    }

    pub(super) fn check_addons(&mut self, scope: &Scope<'_>) {
        let spec = scope.spec;
        for (id, addon) in &spec.addons {
            let path = format!("addons.{}", quote_key(id.as_str()));
            self.check_grants(scope, &path, addon.grants());
            for (index, plan) in addon.plans.iter().enumerate() {
                if !spec.plans.contains_key(plan.as_str()) {
                    self.report(
                        format!("{path}.plans[{index}]"),
                        format!("unknown plan {:?}", plan.as_str()),
                        "name a plan declared in this catalog",
                    );
                }
            }
            if let Some(class_set) = &addon.classes {
                self.expect_class_set(spec, &format!("{path}.classes"), class_set);
            }
            match addon.min_quantity {
                Some(0) => self.report(
                    format!("{path}.min_quantity"),
                    "minimum quantity 0 means nothing is bought".into(),
                    "set `min_quantity` to 1 or more",
                ),
                Some(n) if n > 1 && !addon.stackable => self.report(
                    format!("{path}.min_quantity"),
                    format!("min_quantity {n} needs a stackable add-on"),
                    "set `stackable = true` or remove `min_quantity`",
                ),
                _ => {}
            }
        }
    }

    pub(super) fn check_grants(
        &mut self,
        scope: &Scope<'_>,
        path: &str,
        grants: crate::catalog::GrantsRef<'_>,
    ) {
        let spec = scope.spec;
        for (index, feature) in grants.features.iter().enumerate() {
            self.expect_feature(
                spec,
                &format!("{path}.features[{index}]"),
                feature,
                Some(FeatureKind::Boolean),
            );
        }
        self.check_amounts(
            scope,
            &format!("{path}.limits"),
            grants.limits,
            FeatureKind::Limit,
        );
        self.check_amounts(
            scope,
            &format!("{path}.quotas"),
            grants.quotas,
            FeatureKind::Quota,
        );
        for key in grants.config.keys() {
            self.expect_feature(
                spec,
                &format!("{path}.config.{}", quote_key(key.as_str())),
                key,
                Some(FeatureKind::Config),
            );
        }
        for (index, module) in grants.modules.iter().enumerate() {
            self.expect_module(spec, &format!("{path}.modules[{index}]"), module);
        }
    }

    pub(super) fn check_amounts(
        &mut self,
        scope: &Scope<'_>,
        path: &str,
        amounts: &BTreeMap<FeatureKey, LimitValue>,
        kind: FeatureKind,
    ) {
        for (key, value) in amounts {
            let key_path = format!("{path}.{}", quote_key(key.as_str()));
            self.expect_feature(scope.spec, &key_path, key, Some(kind));
            match value {
                LimitValue::Count(n) if *n < 0 => self.report(
                    key_path,
                    format!("negative {} {n}", kind_name(kind)),
                    "use 0 for \"none\" or \"unlimited\" for no bound",
                ),
                LimitValue::Invalid(text) => self.report(
                    key_path,
                    format!("{text:?} is neither a whole number nor \"unlimited\""),
                    "write a count such as 5, or \"unlimited\"",
                ),
                _ => {}
            }
        }
    }

    pub(super) fn check_classes(
        &mut self,
        scope: &Scope<'_>,
        path: &str,
        class_set: Option<&str>,
        defaults: &[String],
    ) {
        let spec = scope.spec;
        if let Some(set) = class_set {
            self.expect_class_set(spec, &format!("{path}.classes"), set);
        }
        let known: BTreeSet<&str> = class_set
            .and_then(|set| spec.class_sets.get(set))
            .map(|set| set.classes.iter().map(String::as_str).collect())
            .unwrap_or_default();
        for (index, class) in defaults.iter().enumerate() {
            if class_set.is_none() {
                self.report(
                    format!("{path}.default_classes[{index}]"),
                    "default classes without a class set".into(),
                    "set `classes` to the class set the defaults come from",
                );
                break;
            }
            if !known.is_empty() && !known.contains(class.as_str()) {
                self.report(
                    format!("{path}.default_classes[{index}]"),
                    format!(
                        "default class {class:?} is not in class set {:?}",
                        class_set.unwrap_or_default()
                    ),
                    "add it to the class set or remove it from default_classes",
                );
            }
        }
    }

    pub(super) fn check_components(&mut self, scope: &Scope<'_>) {
        let spec = scope.spec;
        for kind in ComponentKind::ALL {
            let Some(types) = spec.components.get(&kind) else {
                continue;
            };
            for (name, feature) in types {
                self.expect_feature(
                    spec,
                    &format!("components.{}.{}", kind.as_str(), quote_key(name)),
                    feature,
                    Some(FeatureKind::Boolean),
                );
            }
        }
    }

    pub(super) fn check_meters(&mut self, scope: &Scope<'_>) {
        let spec = scope.spec;
        for (id, meter) in &spec.meters {
            let path = format!("meters.{}", quote_key(id.as_str()));
            if meter.unit.trim().is_empty() {
                self.report(
                    format!("{path}.unit"),
                    "meter has no unit".into(),
                    "set `unit`, e.g. \"call\"",
                );
            }
            if let Some(quota) = &meter.quota {
                self.expect_feature(
                    spec,
                    &format!("{path}.quota"),
                    quota,
                    Some(FeatureKind::Quota),
                );
            }
        }
    }
}
