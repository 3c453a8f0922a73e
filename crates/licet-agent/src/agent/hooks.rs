//! Hooks for tests that must put the agent in a state no server would (a device that
//! was registered online, chosen state inputs, a quota counter): hidden from the docs,
//! used only by `tests/`.

use super::*;

impl Agent {
    /// Whether the device has a device token (online activation happened).
    pub fn is_registered_online(&self) -> bool {
        lock(&self.inner.persisted).device_token.is_some()
    }

    /// Test support: sets the persisted state-machine inputs directly, as if they had
    /// been read from disk (last refresh, verdict, high-water mark).
    #[doc(hidden)]
    pub fn set_state_inputs(
        &self,
        last_refresh: Option<OffsetDateTime>,
        verdict: Option<Verdict>,
        high_water: Option<OffsetDateTime>,
    ) -> Result<()> {
        {
            let mut p = lock(&self.inner.persisted);
            p.last_refresh = last_refresh;
            p.verdict = verdict.map(|verdict| StoredVerdict {
                verdict,
                reason: "set by the operator".into(),
                sequence: p.max_sequence,
            });
            p.high_water = high_water;
            p.written_high_water = None;
            let now = self.inner.clock.now();
            p.anchor = (
                high_water.map_or(now, |m| m.max(now)),
                self.inner.clock.monotonic(),
            );
        }
        self.rebuild()
    }

    /// Test support: the quota counter of a feature in the current period.
    #[doc(hidden)]
    pub fn set_quota_used(&self, feature: &str, used: u64) -> Result<()> {
        let current = self.current();
        if let Some(period) = current.snapshot.feature(feature).and_then(|s| s.period) {
            let key = period.key(current.report.effective_now);
            self.inner.db.set_quota_used(feature, &key, used)?;
        }
        Ok(())
    }
}
