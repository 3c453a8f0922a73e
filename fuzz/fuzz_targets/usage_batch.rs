//! Usage batch decoding as the server and agent take it: gzip or plain bytes, JSON into
//! the wire types, each quantity through the range check. Never a panic; every
//! accepted quantity is within 2^53 - 1.
#![no_main]

use libfuzzer_sys::fuzz_target;
use licet_client::wire::UsageUpload;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let mut bytes = Vec::new();
    let body: &[u8] = if data.starts_with(&[0x1f, 0x8b]) {
        // A gzip body, inflated with the same bound the server applies (1 MiB).
        let decoder = flate2::read::GzDecoder::new(data);
        if decoder.take(1 << 20).read_to_end(&mut bytes).is_err() {
            return;
        }
        &bytes
    } else {
        data
    };
    if let Ok(upload) = serde_json::from_slice::<UsageUpload>(body) {
        for event in &upload.events {
            if let Ok(quantity) = licet_core::amount::wire_quantity(&event.quantity) {
                assert!(quantity <= licet_core::amount::MAX_WIRE_INTEGER);
            }
        }
    }
    if let Ok(serde_json::Value::Array(events)) = serde_json::from_slice(body) {
        for event in &events {
            if let Some(quantity) = event.pointer("/data/quantity") {
                let _ = licet_core::amount::wire_quantity(quantity);
            }
        }
    }
});
