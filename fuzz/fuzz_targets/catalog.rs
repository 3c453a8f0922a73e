//! The catalog loader on arbitrary text: a catalog is accepted or refused with
//! problems, never a panic; an accepted one resolves its plans without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use licet_core::catalog::Catalog;
use licet_core::resolve::Subscription;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(catalog) = Catalog::from_toml(text, "fuzz.toml") {
        let plans: Vec<String> = catalog
            .spec()
            .plans
            .keys()
            .map(ToString::to_string)
            .collect();
        for plan in plans {
            let _ = catalog.resolve(&Subscription::plan(&plan));
        }
    }
});
