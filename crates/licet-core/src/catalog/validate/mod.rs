//! Catalog loading and validation: every problem at once, each naming the file, the key
//! path and what to do about it.
//!
//! Unknown fields are collected with `serde_ignored` instead of `deny_unknown_fields`,
//! because the latter aborts at the first one and hides every other problem.

use super::{CatalogSpec, FeatureKind, SCHEMA_VERSION, StatePolicySpec};
use crate::ids::{FeatureKey, ModuleId};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

mod plans;
mod prices;

/// One thing wrong with a catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file, as named by the caller.
    pub file: String,
    /// Where in the file: a TOML key path such as `modules."vehicle.make".depends[0]`,
    /// or `line 3, column 7` for syntax errors.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.path, self.message)?;
        if !self.fix.is_empty() {
            write!(f, " (fix: {})", self.fix)?;
        }
        Ok(())
    }
}

/// Every problem found in one catalog.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CatalogErrors {
    /// The problems, in file order where known.
    pub problems: Vec<Problem>,
}

impl fmt::Display for CatalogErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        writeln!(
            f,
            "{count} problem{} in catalog:",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

/// The longest term, trial or grace a catalog may set, in days (100 years).
const MAX_DAYS: u32 = 36_500;

pub(super) fn load(text: &str, file: &str) -> Result<CatalogSpec, CatalogErrors> {
    let mut checker = Checker {
        file: file.to_owned(),
        problems: Vec::new(),
    };
    let mut unknown = Vec::new();
    let deserializer = toml::Deserializer::new(text);
    let parsed: Result<CatalogSpec, _> = serde_ignored::deserialize(deserializer, |path| {
        unknown.push(render_path(&path));
    });
    let spec = match parsed {
        Ok(spec) => spec,
        Err(error) => {
            let position = error
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or_else(|| "file".to_owned());
            checker.report(
                position,
                error.message().trim().to_owned(),
                "correct the TOML at that position; see examples/catalogs/ for the format",
            );
            return Err(checker.finish());
        }
    };
    for path in unknown {
        let fix = format!(
            "remove `{path}` or correct its spelling; see examples/catalogs/ for the known fields"
        );
        checker.report(path, "unknown field".to_owned(), &fix);
    }
    checker.check(&spec);
    if checker.problems.is_empty() {
        Ok(spec)
    } else {
        Err(checker.finish())
    }
}

fn line_column(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("line {line}, column {column}")
}

fn render_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render_path(parent)),
        Path::Map { parent, key } => {
            let parent = render_path(parent);
            if parent.is_empty() {
                quote_key(key)
            } else {
                format!("{parent}.{}", quote_key(key))
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => render_path(parent),
    }
}

/// Quotes a TOML key when it is not a bare key (e.g. contains a dot).
fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

struct Checker {
    file: String,
    problems: Vec<Problem>,
}

/// The kind of thing a grant list refers to, so that messages say what was expected.
struct Scope<'a> {
    spec: &'a CatalogSpec,
}

impl Checker {
    fn report(&mut self, path: String, message: String, fix: &str) {
        self.problems.push(Problem {
            file: self.file.clone(),
            path,
            message,
            fix: fix.to_owned(),
        });
    }

    fn finish(self) -> CatalogErrors {
        CatalogErrors {
            problems: self.problems,
        }
    }

    fn check(&mut self, spec: &CatalogSpec) {
        let scope = Scope { spec };
        self.check_header(spec);
        self.check_features(spec);
        self.check_modules(spec);
        self.check_class_sets(spec);
        self.check_plans(&scope);
        self.check_addons(&scope);
        self.check_components(&scope);
        self.check_meters(&scope);
        self.check_prices(spec);
        self.check_degradation(&scope);
        self.check_aliases(spec);
    }

    fn check_aliases(&mut self, spec: &CatalogSpec) {
        for (alias, feature) in &spec.aliases {
            let path = format!("aliases.{}", quote_key(alias));
            if spec.features.contains_key(alias.as_str()) {
                self.report(
                    path.clone(),
                    format!("{alias:?} is a feature of its own, so it cannot also be an alias"),
                    "remove the alias, or rename the feature",
                );
            }
            self.expect_feature(spec, &path, feature, None);
        }
    }

    fn check_header(&mut self, spec: &CatalogSpec) {
        if spec.schema != SCHEMA_VERSION {
            self.report(
                "schema".into(),
                format!("unsupported schema version {}", spec.schema),
                &format!("set `schema = {SCHEMA_VERSION}`"),
            );
        }
        let product = spec.product.as_str();
        if product.is_empty()
            || !product
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            self.report(
                "product".into(),
                format!("product id {product:?} is not lowercase letters, digits and dashes"),
                "use an id such as `gate-control`",
            );
        }
        if spec.version.trim().is_empty() {
            self.report(
                "version".into(),
                "catalog version is empty".into(),
                "set `version`, e.g. `version = \"2026.11.1\"`; licenses name it",
            );
        }
        if spec.currency.len() != 3 || !spec.currency.chars().all(|c| c.is_ascii_uppercase()) {
            self.report(
                "currency".into(),
                format!("currency {:?} is not an ISO 4217 code", spec.currency),
                "use three capital letters, e.g. `currency = \"USD\"`",
            );
        }
        if spec.plans.is_empty() {
            self.report(
                "plans".into(),
                "the catalog declares no plan".into(),
                "add at least one `[plans.<id>]` table",
            );
        }
        let lease = spec.lease;
        if lease.term_days > MAX_DAYS || lease.grace_hours > MAX_DAYS * 24 {
            self.report(
                "lease".into(),
                format!(
                    "a term of {} days or a grace of {} hours is beyond 100 years",
                    lease.term_days, lease.grace_hours
                ),
                "use at most 36500 days and 876000 hours",
            );
        }
        if lease.refresh_hours == 0 || lease.grace_hours < lease.refresh_hours {
            self.report(
                "lease".into(),
                format!(
                    "refresh after {} h with a grace of {} h cannot work",
                    lease.refresh_hours, lease.grace_hours
                ),
                "make refresh_hours at least 1 and grace_hours at least refresh_hours",
            );
        }
    }

    fn check_features(&mut self, spec: &CatalogSpec) {
        for (key, feature) in &spec.features {
            let path = format!("features.{}", quote_key(key.as_str()));
            if key.as_str().trim().is_empty() {
                self.report(path.clone(), "empty feature key".into(), "name the feature");
            }
            match feature.kind {
                FeatureKind::Quota => {
                    if feature.period.is_none() {
                        self.report(
                            format!("{path}.period"),
                            "a quota needs a period".into(),
                            "add `period = \"month\"` (or \"day\", \"year\")",
                        );
                    }
                    if feature.unit.as_deref().is_none_or(str::is_empty) {
                        self.report(
                            format!("{path}.unit"),
                            "a quota needs a unit".into(),
                            "add `unit = \"calls\"` or whatever one unit counts",
                        );
                    }
                }
                kind => {
                    if feature.period.is_some() {
                        self.report(
                            format!("{path}.period"),
                            format!("only quotas have a period, this is a {kind:?} feature"),
                            "remove `period` or set `kind = \"quota\"`",
                        );
                    }
                    if feature.overage.is_some() {
                        self.report(
                            format!("{path}.overage"),
                            format!("only quotas have an overage rule, this is a {kind:?} feature"),
                            "remove `overage` or set `kind = \"quota\"`",
                        );
                    }
                }
            }
            if feature.rate.is_some() && feature.kind != FeatureKind::Limit {
                self.report(
                    format!("{path}.rate"),
                    format!("only limits can be rates, this is a {:?} feature", feature.kind),
                    "remove `rate` or set `kind = \"limit\"` (its value is then requests per window)",
                );
            }
            if feature.kind == FeatureKind::Limit {
                if let Some(default) = &feature.default {
                    let valid = default.as_u64().is_some() || default.as_str() == Some("unlimited");
                    if !valid {
                        self.report(
                            format!("{path}.default"),
                            format!("limit default {default} is not a non-negative whole number or \"unlimited\""),
                            "write a count such as `default = 0`",
                        );
                    }
                }
            }
            if feature.core && feature.kind != FeatureKind::Boolean {
                self.report(
                    format!("{path}.core"),
                    "only boolean features can be core".into(),
                    "remove `core = true`; give limits their value in plans or `default`",
                );
            }
        }
    }

    fn check_modules(&mut self, spec: &CatalogSpec) {
        for (id, module) in &spec.modules {
            let path = format!("modules.{}", quote_key(id.as_str()));
            for (index, dependency) in module.depends.iter().enumerate() {
                if !spec.modules.contains_key(dependency.as_str()) {
                    self.report(
                        format!("{path}.depends[{index}]"),
                        format!("unknown module {:?}", dependency.as_str()),
                        &format!(
                            "declare `[modules.{}]` or remove it from depends",
                            quote_key(dependency.as_str())
                        ),
                    );
                } else if dependency == id {
                    // Reported by the cycle check below.
                }
            }
            for (index, feature) in module.provides.iter().enumerate() {
                self.expect_feature(
                    spec,
                    &format!("{path}.provides[{index}]"),
                    feature,
                    Some(FeatureKind::Boolean),
                );
            }
            for (index, key) in module.requires_config.iter().enumerate() {
                if key.trim().is_empty() {
                    self.report(
                        format!("{path}.requires_config[{index}]"),
                        "empty config key".into(),
                        "name the device configuration key the module needs",
                    );
                }
            }
        }
        let edges: BTreeMap<&str, Vec<&str>> = spec
            .modules
            .iter()
            .map(|(id, module)| {
                (
                    id.as_str(),
                    module.depends.iter().map(ModuleId::as_str).collect(),
                )
            })
            .collect();
        for cycle in find_cycles(&edges) {
            let first = cycle.first().copied().unwrap_or_default();
            self.report(
                format!("modules.{}.depends", quote_key(first)),
                format!("dependency cycle: {}", cycle.join(" -> ")),
                "remove one of these dependencies so the modules can start in order",
            );
        }
    }

    fn check_class_sets(&mut self, spec: &CatalogSpec) {
        for (name, set) in &spec.class_sets {
            let path = format!("class_sets.{}", quote_key(name));
            if set.classes.is_empty() {
                self.report(
                    format!("{path}.classes"),
                    "class set is empty".into(),
                    "list at least one class name",
                );
            }
            let mut seen = HashSet::new();
            for (index, class) in set.classes.iter().enumerate() {
                if !seen.insert(class) {
                    self.report(
                        format!("{path}.classes[{index}]"),
                        format!("class {class:?} is listed twice"),
                        "remove the duplicate",
                    );
                }
            }
        }
    }

    fn check_degradation(&mut self, scope: &Scope<'_>) {
        let spec = scope.spec;
        let states: [(&str, &Option<StatePolicySpec>); 6] = [
            ("stale", &spec.degradation.stale),
            ("degraded", &spec.degradation.degraded),
            ("expired", &spec.degradation.expired),
            ("revoked", &spec.degradation.revoked),
            ("suspended", &spec.degradation.suspended),
            ("unlicensed", &spec.degradation.unlicensed),
        ];
        for (state, policy) in states {
            let Some(policy) = policy else { continue };
            let path = format!("degradation.{state}");
            for (index, feature) in policy.features.iter().enumerate() {
                self.expect_feature(spec, &format!("{path}.features[{index}]"), feature, None);
            }
            for (index, module) in policy.modules.iter().enumerate() {
                self.expect_module(spec, &format!("{path}.modules[{index}]"), module);
            }
            self.check_amounts(
                scope,
                &format!("{path}.limits"),
                &policy.limits,
                FeatureKind::Limit,
            );
        }
    }

    fn expect_feature(
        &mut self,
        spec: &CatalogSpec,
        path: &str,
        key: &FeatureKey,
        kind: Option<FeatureKind>,
    ) {
        match spec.features.get(key.as_str()) {
            None => self.report(
                path.to_owned(),
                format!("feature {:?} is referenced but not declared", key.as_str()),
                &format!(
                    "declare `[features.{}]` with its kind, or correct the spelling",
                    quote_key(key.as_str())
                ),
            ),
            Some(feature) => {
                if let Some(kind) = kind {
                    if feature.kind != kind {
                        self.report(
                            path.to_owned(),
                            format!(
                                "feature {:?} is a {}, but a {} is expected here",
                                key.as_str(),
                                kind_name(feature.kind),
                                kind_name(kind)
                            ),
                            "move it to the list for its kind (features, limits, quotas, config)",
                        );
                    }
                }
            }
        }
    }

    fn expect_module(&mut self, spec: &CatalogSpec, path: &str, module: &ModuleId) {
        if !spec.modules.contains_key(module.as_str()) {
            self.report(
                path.to_owned(),
                format!("unknown module {:?}", module.as_str()),
                &format!(
                    "declare `[modules.{}]` or correct the spelling",
                    quote_key(module.as_str())
                ),
            );
        }
    }

    fn expect_class_set(&mut self, spec: &CatalogSpec, path: &str, name: &str) {
        if !spec.class_sets.contains_key(name) {
            self.report(
                path.to_owned(),
                format!("unknown class set {name:?}"),
                &format!(
                    "declare `[class_sets.{}]` or correct the spelling",
                    quote_key(name)
                ),
            );
        }
    }
}

fn kind_name(kind: FeatureKind) -> &'static str {
    match kind {
        FeatureKind::Boolean => "boolean",
        FeatureKind::Limit => "limit",
        FeatureKind::Quota => "quota",
        FeatureKind::Config => "config value",
    }
}

/// Every elementary cycle reachable in a small dependency graph, each reported once,
/// as a path that starts and ends at the same node (`a -> b -> a`).
fn find_cycles<'a>(edges: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
        cycles: &mut Vec<Vec<&'a str>>,
        reported: &mut BTreeSet<BTreeSet<&'a str>>,
    ) {
        marks.insert(node, Mark::Visiting);
        stack.push(node);
        for &next in edges.get(node).map(Vec::as_slice).unwrap_or_default() {
            match marks.get(next) {
                Some(Mark::Visiting) => {
                    if let Some(start) = stack.iter().position(|n| *n == next) {
                        let mut cycle: Vec<&str> = stack[start..].to_vec();
                        let members: BTreeSet<&str> = cycle.iter().copied().collect();
                        if reported.insert(members) {
                            cycle.push(next);
                            cycles.push(cycle);
                        }
                    }
                }
                Some(Mark::Done) => {}
                None if edges.contains_key(next) => {
                    visit(next, edges, marks, stack, cycles, reported);
                }
                None => {}
            }
        }
        stack.pop();
        marks.insert(node, Mark::Done);
    }

    let mut marks = BTreeMap::new();
    let mut cycles = Vec::new();
    let mut reported = BTreeSet::new();
    for &node in edges.keys() {
        if !marks.contains_key(node) {
            let mut stack = Vec::new();
            visit(
                node,
                edges,
                &mut marks,
                &mut stack,
                &mut cycles,
                &mut reported,
            );
        }
    }
    cycles
}
