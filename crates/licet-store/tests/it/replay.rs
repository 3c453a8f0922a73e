//! The law behind exactly-once counting: however a device's batches overlap, repeat
//! and arrive out of order (at-least-once transport), the stored total is the sum over
//! distinct sequence numbers, and the acknowledgement is the longest gap-free prefix.

use crate::suite::{NOW, device_event, new_device, subscription, tenant};
use licet_core::ids::DeviceId;
use proptest::prelude::*;
use std::collections::BTreeSet;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn replayed_and_overlapping_batches_count_each_sequence_once(
        quantities in proptest::collection::vec(0u64..1000, 40),
        batches in proptest::collection::vec(proptest::collection::vec(1u64..=40, 1..15), 1..8),
        replays in proptest::collection::vec(any::<proptest::sample::Index>(), 0..8),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (_dir, store) = crate::sqlite().await;
            let t = tenant(&*store, "t").await;
            store.create_subscription(&subscription(&t, "s"), "k").await.unwrap();
            store.activate_device(&new_device(&t, "s", "d", "fp"), 1).await.unwrap();
            let device = DeviceId::new("d");
            let event = |seq: u64| device_event(seq, "api_call", quantities[seq as usize - 1], NOW);
            let mut sent = BTreeSet::new();
            let mut acknowledged = 0;
            // Every batch, then some of them again, as a device retrying lost answers.
            let order = batches.iter().chain(replays.iter().map(|i| i.get(&batches)));
            for batch in order {
                let events: Vec<_> = batch.iter().map(|&seq| event(seq)).collect();
                let answer = store.ingest_device_usage(&device, &events, NOW).await.unwrap();
                sent.extend(batch.iter().copied());
                assert!(answer.acknowledged_through >= acknowledged, "acknowledgements only grow");
                acknowledged = answer.acknowledged_through;
            }
            let expected: u64 = sent.iter().map(|&seq| quantities[seq as usize - 1]).sum();
            assert_eq!(store.usage_total(&t, None, "api_call").await.unwrap(), expected);
            let prefix = (1..=40).take_while(|seq| sent.contains(seq)).count() as u64;
            assert_eq!(acknowledged, prefix);
        });
    }
}
