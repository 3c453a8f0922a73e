//! The license the device holds: verification through the provisioned trust (roots,
//! certificates, revocation lists), installation (anti-rollback, verdicts lifted only
//! by something newer), air-gapped requests and imports, and re-reading the stored
//! license another process wrote.

use super::*;

impl Agent {
    pub(super) fn expectations<'a>(
        &'a self,
        p: &Persisted,
        identity: DeviceIdentity,
    ) -> Expectations<'a> {
        let now = self.inner.clock.now();
        Expectations {
            fingerprint: Some(&self.inner.fingerprint.value),
            now: Some(p.high_water.map_or(now, |m| m.max(now))),
            min_sequence: match identity {
                DeviceIdentity::New => None,
                DeviceIdentity::Same => Some(p.max_sequence),
            },
        }
    }

    pub(super) fn verify(
        &self,
        armored: &str,
        identity: DeviceIdentity,
    ) -> Result<VerifiedLicense, LicenseError> {
        self.absorb_revocations(armored);
        let p = lock(&self.inner.persisted);
        license::verify(&p.keyring, armored, &self.expectations(&p, identity))
    }

    /// Takes a newer root-signed revocation list carried by a license or verdict. If it
    /// revokes the key that signed the license in use, that license is dropped: what a
    /// compromised key signed is worth nothing.
    pub(super) fn absorb_revocations(&self, text: &str) {
        let mut p = lock(&self.inner.persisted);
        match p.keyring.accept_revocations(text) {
            Ok(taken) if taken.is_empty() => return,
            Ok(taken) => {
                tracing::info!(serials = ?taken, "took a newer revocation list from the vendor's root")
            }
            Err(error) => {
                tracing::warn!("ignored a revocation list: {error}");
                return;
            }
        }
        let lists: Vec<&str> = p.keyring.revocation_lists().collect();
        let lists = lists.join("");
        if let Err(error) = self.inner.db.set_meta(&[("revocations", Some(&lists))]) {
            tracing::error!("cannot store the revocation lists: {error}");
        }
        let revoked = p
            .license
            .as_ref()
            .is_some_and(|l| p.keyring.is_revoked(l.key_id()));
        if revoked {
            let message = "the license in use was signed by a key the vendor's root revoked; the device runs unlicensed until a license from a valid key arrives".to_owned();
            tracing::error!("{message}");
            p.license = None;
            p.rejection = Some(message);
            drop(p);
            if let Err(error) = self.rebuild() {
                tracing::error!("cannot re-evaluate the license state: {error:#}");
            }
        }
    }

    /// Stores a verified license as the current one. `refreshed`: the server just
    /// confirmed it (resets the lease and clears any verdict).
    pub(super) fn install(
        &self,
        verified: VerifiedLicense,
        credentials: Option<(&str, &str)>,
        origin: Origin,
    ) -> Result<()> {
        let asked_at = match origin {
            Origin::Server { asked_at } => Some(asked_at),
            Origin::Imported => None,
        };
        let refreshed = asked_at.is_some();
        let now = self.inner.clock.now();
        let refreshed_text = asked_at.map(licet_core::time_text);
        let payload = verified.payload();
        let sequence = payload.sequence;
        let device = payload.device.id.to_string();
        {
            let mut p = lock(&self.inner.persisted);
            let new_device = p.device_id.as_ref().map(|d| d.as_str()) != Some(device.as_str());
            let max_sequence = if new_device {
                sequence
            } else {
                p.max_sequence.max(sequence)
            };
            let max_text = max_sequence.to_string();
            // A license the server just issued carries the server's time: a device clock
            // that ran ahead (and dragged the high-water mark with it) is corrected here.
            let corrected_mark = refreshed.then(|| now.max(payload.issued_at));
            let mark_text = corrected_mark.map(licet_core::time_text);
            let mut meta: Vec<(&str, Option<&str>)> = vec![
                ("device_id", Some(&device)),
                ("max_sequence", Some(&max_text)),
            ];
            if let Some((_, token)) = credentials {
                meta.push(("device_token", Some(token)));
            }
            // A verdict is lifted only by a license newer than the one it named: a
            // license the device already held (re-imported, or replayed) never undoes a
            // suspension. An imported license starts its lease from its own issue time,
            // so no refresh time carries over.
            let lifts = p.verdict.as_ref().is_none_or(|v| sequence > v.sequence);
            if lifts {
                meta.push(("verdict", None));
            } else {
                tracing::warn!(
                    sequence,
                    "the license is not newer than the server's verdict; the verdict stays"
                );
            }
            if refreshed {
                meta.push(("last_refresh", refreshed_text.as_deref()));
                meta.push(("high_water", mark_text.as_deref()));
            } else {
                meta.push(("last_refresh", None));
            }
            self.inner
                .db
                .store_license(verified.armored(), sequence, now, &meta)?;
            p.device_id = Some(DeviceId::new(device.clone()));
            if let Some((_, token)) = credentials {
                p.device_token = Some(SecretString::from(token.to_owned()));
            }
            p.max_sequence = max_sequence;
            if lifts {
                p.verdict = None;
            }
            p.last_refresh = asked_at;
            if refreshed {
                p.high_water = corrected_mark;
                p.written_high_water = corrected_mark;
                p.anchor = (now.max(payload.issued_at), self.inner.clock.monotonic());
            }
            p.rejection = None;
            p.seen_on_disk = Some(verified.armored().to_owned());
            p.license = Some(verified);
        }
        self.rebuild()
    }

    /// Picks up a license another process stored (`licet agent import-license` while
    /// the agent runs). The stored inputs are re-read with it.
    pub fn reload(&self) -> Result<()> {
        let Some((armored, _)) = self.inner.db.license()? else {
            return Ok(());
        };
        {
            let mut p = lock(&self.inner.persisted);
            if p.seen_on_disk.as_deref() == Some(armored.as_str()) {
                return Ok(());
            }
            p.seen_on_disk = Some(armored.clone());
            let db = &self.inner.db;
            let max_sequence = db
                .meta("max_sequence")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(p.max_sequence);
            let expect = Expectations {
                min_sequence: None,
                ..self.expectations(&p, DeviceIdentity::New)
            };
            match license::verify(&p.keyring, &armored, &expect) {
                Ok(verified) if verified.payload().sequence >= max_sequence => {
                    tracing::info!(
                        license = %verified.payload().license_id,
                        "picked up a license stored by another process"
                    );
                    p.device_id = db.meta("device_id")?.map(DeviceId::new);
                    p.last_refresh = db.meta_time("last_refresh")?;
                    p.verdict = db
                        .meta("verdict")?
                        .and_then(|t| serde_json::from_str(&t).ok());
                    p.max_sequence = max_sequence;
                    p.rejection = None;
                    p.license = Some(verified);
                }
                Ok(_) => tracing::error!("ignored a stored license older than the one in use"),
                Err(error) => {
                    tracing::error!("ignored a stored license that does not verify: {error}")
                }
            }
        }
        self.rebuild()
    }

    /// What an air-gapped issuer needs to bind a license to this device.
    pub fn activation_request(&self) -> ActivationRequestFile {
        let name = self
            .inner
            .config
            .name
            .clone()
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "edge-device".to_owned());
        ActivationRequestFile {
            format: ACTIVATION_REQUEST_FORMAT.to_owned(),
            fingerprint: self.inner.fingerprint.value.clone(),
            device_public_key: format_public_key(&self.inner.device_key.verifying_key()),
            name,
            hardware: Some(serde_json::json!({
                "arch": std::env::consts::ARCH,
                "os": std::env::consts::OS,
                "ram_mb": self.inner.config.device_ram_mb,
            })),
        }
    }

    /// Imports a license file (air-gapped activation or renewal). It must verify, be
    /// bound to this device and not be older than what the device has. A license for
    /// a different device id than the current one is refused unless `identity` is
    /// [`DeviceIdentity::New`].
    pub fn import_license(
        &self,
        armored: &str,
        identity: DeviceIdentity,
    ) -> Result<LicensePayload, ActivationError> {
        let verified = self.verify(armored, identity).inspect_err(|error| {
            tracing::warn!("refused a license offered for import: {error}");
        })?;
        let payload = verified.payload().clone();
        {
            let p = lock(&self.inner.persisted);
            let current = p.license.as_ref().map(|l| l.payload().device.id.clone());
            if let Some(current) = current {
                if current != payload.device.id && identity == DeviceIdentity::Same {
                    return Err(ActivationError::NotPossible(format!(
                        "the license is for device {} but this agent is device {current}; pass --new-device to replace the device's identity",
                        payload.device.id
                    )));
                }
            }
        }
        // An imported license is the issuer's word at issue time: it starts its lease
        // from its own issue time, as an air-gapped license should.
        self.install(verified, None, Origin::Imported)
            .map_err(|e| ActivationError::Internal(format!("{e:#}")))?;
        tracing::info!(license = %payload.license_id, sequence = payload.sequence, "license imported");
        Ok(payload)
    }
}
