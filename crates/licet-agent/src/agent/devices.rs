//! What the device does under its license: cameras against the camera limit and their
//! trial timers, quota use, the usage outbox and camera-days, and the module plan.

use super::*;

impl Agent {
    /// The limit feature that counts cameras (`unit = "cameras"`), if the product has one.
    pub fn camera_limit(&self, current: &Current) -> Option<(String, Amount)> {
        current
            .snapshot
            .features()
            .filter(|(_, s)| s.kind == FeatureKind::Limit && s.unit.as_deref() == Some("cameras"))
            .map(|(k, s)| (k.to_owned(), s))
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(key, status)| {
                let limit = match &status.value {
                    licet_core::snapshot::Value::Amount(amount) => *amount,
                    _ => Amount::Finite(0),
                };
                (key, limit)
            })
    }

    /// A limit of the license by feature key (`max_users`): `None` when the license
    /// has no such limit or it is unlimited.
    pub fn finite_limit(&self, current: &Current, feature: &str) -> Option<u64> {
        match current.snapshot.check(feature).value {
            Some(licet_core::snapshot::Value::Amount(Amount::Finite(n))) => Some(*n),
            _ => None,
        }
    }

    /// The masked key the device was last activated with online, for the products'
    /// screens (see [`key_hint`]).
    pub fn license_key_hint(&self) -> Result<Option<String>> {
        Ok(self.inner.db.meta(KEY_HINT)?)
    }

    /// Usage recorded on this device per meter, from `start` to `end` (UTC days).
    pub fn usage_days(
        &self,
        start: time::Date,
        end: time::Date,
    ) -> Result<std::collections::BTreeMap<String, u64>> {
        Ok(self.inner.db.usage_days(start, end)?)
    }

    /// The growth packs assigned to a camera.
    pub fn camera_packs(&self, camera_id: &str) -> Result<Vec<String>> {
        Ok(self.inner.db.camera_packs(camera_id)?)
    }

    /// Assigns growth packs priced per camera to a registered camera, replacing what
    /// it held: each pack must be one the license sells per camera, and on no more
    /// cameras than were bought.
    pub fn assign_camera_packs(&self, camera_id: &str, packs: &[String]) -> Result<PackAnswer> {
        let current = self.current();
        let Some(license) = current.license.as_ref() else {
            return Ok(PackAnswer::NoLicense);
        };
        let bought: std::collections::BTreeMap<String, u64> = license
            .entitlements
            .camera_packs
            .iter()
            .map(|(id, pack)| (id.to_string(), pack.cameras))
            .collect();
        let mut wanted: Vec<String> = packs.to_vec();
        wanted.sort();
        wanted.dedup();
        if let Some(unknown) = wanted.iter().find(|p| !bought.contains_key(*p)) {
            return Ok(PackAnswer::NotPerCamera {
                pack: unknown.clone(),
                per_camera: bought.keys().cloned().collect(),
            });
        }
        let now = current.report.effective_now;
        let answer = match self
            .inner
            .db
            .assign_camera_packs(camera_id, &wanted, &bought, now)?
        {
            crate::db::PackAssignment::Assigned => PackAnswer::Assigned(wanted),
            crate::db::PackAssignment::NotRegistered => PackAnswer::NotRegistered,
            crate::db::PackAssignment::AllTaken {
                pack,
                cameras,
                holders,
            } => PackAnswer::AllTaken {
                pack,
                cameras,
                holders,
            },
        };
        self.inner.changes.send_modify(|n| *n += 1);
        Ok(answer)
    }

    /// Registers a camera against the camera limit, atomically.
    pub fn register_camera(&self, camera_id: &str, name: Option<&str>) -> Result<CameraAnswer> {
        let current = self.current();
        let limit = self.camera_limit(&current).map(|(_, limit)| limit);
        let now = current.report.effective_now;
        let answer = match self.inner.db.register_camera(camera_id, name, limit, now)? {
            Registration::Created(row) => CameraAnswer::Created(row),
            Registration::Existing(row) => return Ok(CameraAnswer::Existing(row)),
            Registration::LimitReached { registered } => {
                return Ok(CameraAnswer::LimitReached {
                    registered,
                    limit: limit.unwrap_or(Amount::Finite(0)),
                });
            }
        };
        self.inner.changes.send_modify(|n| *n += 1);
        Ok(answer)
    }

    /// Records usage events durably (group commit); answers their sequence numbers.
    pub async fn record_usage(
        &self,
        events: Vec<crate::usage::UsageEvent>,
    ) -> Result<(u64, u64), crate::usage::RecordError> {
        self.inner.usage.record(events).await
    }

    /// [`Agent::record_usage`] once per client idempotency key (see
    /// [`crate::usage::Recorder::record_once`]).
    pub async fn record_usage_once(
        &self,
        events: Vec<crate::usage::UsageEvent>,
        key: Option<crate::usage::RequestKey>,
    ) -> Result<(u64, u64), crate::usage::RecordError> {
        self.inner.usage.record_once(events, key).await
    }

    /// Usage events waiting for upload.
    pub fn usage_backlog(&self) -> u64 {
        self.inner.usage.backlog()
    }

    /// Records today's camera-day for every registered camera (once per camera and UTC
    /// day, however often it is called).
    pub async fn record_camera_days(&self) -> Result<usize> {
        // The clock's day, not the snapshot's evaluation time: a snapshot is only
        // re-evaluated at its next deadline, which may be days away.
        let today = self.now().to_offset(time::UtcOffset::UTC).date();
        let mut days = Vec::new();
        for camera in self.inner.db.cameras()? {
            for pack in self.inner.db.camera_packs(&camera.camera_id)? {
                days.push(crate::usage::CameraDay {
                    camera: camera.camera_id.clone(),
                    pack: Some(pack),
                    day: today,
                });
            }
            days.push(crate::usage::CameraDay {
                camera: camera.camera_id,
                pack: None,
                day: today,
            });
        }
        if days.is_empty() {
            return Ok(0);
        }
        Ok(self.inner.usage.record_camera_days(days).await?)
    }

    /// Unregisters a camera (its trial start is kept).
    pub fn remove_camera(&self, camera_id: &str) -> Result<bool> {
        let removed = self
            .inner
            .db
            .remove_camera(camera_id, self.inner.clock.now())?;
        if removed {
            self.inner.changes.send_modify(|n| *n += 1);
        }
        Ok(removed)
    }

    /// Registered cameras.
    pub fn cameras(&self) -> Result<Vec<CameraRow>> {
        Ok(self.inner.db.cameras()?)
    }

    /// One registered camera.
    pub fn camera(&self, camera_id: &str) -> Result<Option<CameraRow>> {
        Ok(self.inner.db.camera(camera_id)?)
    }

    /// A camera's trial under the current license.
    pub fn camera_trial(&self, current: &Current, camera: &CameraRow) -> CameraTrial {
        camera_trial(
            current.license.as_ref().and_then(|l| l.trial.as_ref()),
            camera.first_registered_at,
            self.timer_now(current),
        )
    }

    /// Uses `amount` of a quota, atomically with its counter for the current period.
    pub fn use_quota(
        &self,
        current: &Current,
        feature: &str,
        amount: u64,
    ) -> Result<QuotaDecision> {
        let Some(period) = current.snapshot.feature(feature).and_then(|s| s.period) else {
            return Ok(current.snapshot.check_quota(feature, 0, amount));
        };
        let key = period.key(current.report.effective_now);
        Ok(self.inner.db.consume_quota(feature, &key, |used| {
            let decision = current.snapshot.check_quota(feature, used, amount);
            (if decision.allowed { amount } else { 0 }, decision)
        })?)
    }

    /// Quota counters: (feature, period, used).
    pub fn quota_usage(&self) -> Result<Vec<(String, String, u64)>> {
        Ok(self.inner.db.quota_usage()?)
    }

    /// The module plan for this device now. `cameras` and `ram_mb` override the
    /// device's own facts, to ask "what if".
    pub fn plan(&self, cameras: Option<u32>, ram_mb: Option<u64>) -> ModulePlan {
        let current = self.current();
        let cameras = cameras.unwrap_or_else(|| {
            self.inner
                .db
                .cameras()
                .map(|c| u32::try_from(c.len()).unwrap_or(u32::MAX))
                .unwrap_or(0)
        });
        let keys: BTreeSet<String> = self.inner.config.config_keys.iter().cloned().collect();
        current.snapshot.plan(&DeviceFacts {
            cameras,
            ram_mb: ram_mb.or(self.inner.config.device_ram_mb),
            config_keys: &keys,
        })
    }
}
