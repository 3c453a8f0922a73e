//! The agent's conversation with the server: online activation (proving the device
//! key), license refresh and the signed verdicts it may bring, heartbeats with quota
//! reconciliation, and the usage upload. Every call has a timeout; a failure is a failed
//! refresh, never a "no".

use super::*;

impl Agent {
    pub(super) fn client(&self) -> Option<Client> {
        let server = self.inner.config.server.as_ref()?;
        Some(Client::with_http(server.clone(), self.inner.http.clone()))
    }

    pub(super) fn device_client(&self) -> Result<(Client, DeviceId), SyncError> {
        let client = self.client().ok_or_else(|| {
            SyncError::NotPossible(
                "no server is configured (air-gapped): import licenses with `licet agent import-license`".into(),
            )
        })?;
        let p = lock(&self.inner.persisted);
        match (&p.device_id, &p.device_token) {
            (Some(id), Some(token)) => Ok((client.with_token(token.expose_secret()), id.clone())),
            _ => Err(SyncError::NotPossible(
                "this device is not activated with the server: start the agent with --license-key"
                    .into(),
            )),
        }
    }

    /// DEVELOPMENT ONLY (`dev_trust_on_first_use` with no root or key configured): trusts
    /// the server's published keys. Otherwise does nothing: trust comes from the roots
    /// the device was provisioned with, never from the network.
    pub(super) async fn learn_keys(&self, client: &Client) -> Result<bool, ActivationError> {
        if !lock(&self.inner.persisted).trust_on_first_use {
            return Ok(false);
        }
        let keys = client
            .signing_keys()
            .await
            .map_err(|e| ActivationError::Unreachable(e.to_string()))?;
        let mut p = lock(&self.inner.persisted);
        let mut learned = false;
        for view in keys {
            if p.learned_keys.contains(&view.public_key) {
                continue;
            }
            let key = parse_public_key(&view.public_key).map_err(|e| {
                ActivationError::Internal(format!("the server published a bad key: {e}"))
            })?;
            p.keyring.add(key);
            p.learned_keys.push(view.public_key);
            learned = true;
        }
        if learned {
            let text = p.learned_keys.join("\n");
            self.inner
                .db
                .set_meta(&[("learned_keys", Some(&text))])
                .map_err(|e| ActivationError::Internal(e.to_string()))?;
        }
        Ok(learned)
    }

    /// Online activation with a license key.
    pub async fn activate(&self, license_key: &str) -> Result<LicensePayload, ActivationError> {
        let client = self.client().ok_or_else(|| {
            ActivationError::NotPossible(
                "no server is configured: set --server, or activate air-gapped with `licet agent activation-request`".into(),
            )
        })?;
        if lock(&self.inner.persisted).keyring.is_empty() {
            self.learn_keys(&client).await?;
        }
        let request = self.activation_request();
        // Prove the device holds its key, so that re-activating (a lost token, a wiped
        // data directory with the key kept) is possible and a copycat with the same
        // fingerprint is not.
        let challenge = client
            .activation_challenge()
            .await
            .map_err(ActivationError::from_server)?;
        let proof = DeviceProof {
            signature: licet_core::device_proof::prove(
                &self.inner.device_key,
                &challenge.nonce,
                &request.fingerprint,
            ),
            nonce: challenge.nonce,
        };
        let asked_at = self.inner.clock.now();
        let response = client
            .activate(&ActivationRequest {
                license_key: license_key.trim().to_owned(),
                fingerprint: request.fingerprint,
                device_public_key: request.device_public_key,
                name: request.name,
                hardware: request.hardware,
                proof: Some(proof),
            })
            .await
            .map_err(ActivationError::from_server)?;
        let verified = match self.verify(&response.license, DeviceIdentity::New) {
            Err(LicenseError::UnknownKeyId(_)) if self.learn_keys(&client).await? => {
                self.verify(&response.license, DeviceIdentity::New)?
            }
            other => other?,
        };
        let payload = verified.payload().clone();
        self.install(
            verified,
            Some((&response.device_id, &response.device_token)),
            Origin::Server { asked_at },
        )
        .map_err(|e| ActivationError::Internal(format!("{e:#}")))?;
        // What the products' screens show as "the license key": enough to tell keys
        // apart, not enough to use one.
        self.inner
            .db
            .set_meta(&[(KEY_HINT, Some(&key_hint(license_key)))])
            .map_err(|e| ActivationError::Internal(format!("{e:#}")))?;
        {
            // An activation is a successful contact, as a refresh is.
            let mut sync = lock(&self.inner.sync);
            sync.last_success = Some(self.inner.clock.now());
            sync.last_error = None;
            sync.failures = 0;
        }
        tracing::info!(
            device = %response.device_id,
            plan = %payload.plan,
            "activated with the server"
        );
        Ok(payload)
    }

    /// Refreshes the license from the server once.
    pub async fn sync(&self) -> Result<LicensePayload, SyncError> {
        let _one_at_a_time = self.inner.syncing.lock().await;
        let (client, device_id) = self.device_client()?;
        let nonce = licet_host::random::id("n-")
            .map_err(|e| SyncError::Failed(format!("cannot draw a nonce: {e}")))?;
        let now = self.inner.clock.now();
        lock(&self.inner.sync).last_attempt = Some(now);
        // What the device holds, verdicts included: the server answers above it, so
        // the answer is never one this device must refuse as a rollback.
        // And the grant of the license it holds: an unchanged grant is not sent again.
        let (held, held_license) = {
            let p = lock(&self.inner.persisted);
            let held = p
                .verdict
                .as_ref()
                .map_or(p.max_sequence, |v| v.sequence.max(p.max_sequence));
            (held, p.license.clone())
        };
        let request = RefreshRequest {
            nonce: Some(nonce.clone()),
            sequence: Some(held),
            grant_sha256: held_license
                .as_ref()
                .and_then(|l| l.grant_sha256())
                .map(str::to_owned),
        };
        let result = client.refresh_with(device_id.as_str(), &request).await;
        let outcome = match result {
            Ok(response) => {
                let text = match &held_license {
                    Some(held) => with_held_grant(&response.license, held),
                    None => response.license,
                };
                let verified = match self.verify(&text, DeviceIdentity::Same) {
                    Err(LicenseError::UnknownKeyId(_))
                        if self.learn_keys(&client).await.unwrap_or(false) =>
                    {
                        self.verify(&text, DeviceIdentity::Same)
                    }
                    other => other,
                };
                match verified {
                    Ok(verified) => {
                        let payload = verified.payload().clone();
                        self.install(verified, None, Origin::Server { asked_at: now })
                            .map_err(|e| SyncError::Failed(format!("{e:#}")))?;
                        Ok(payload)
                    }
                    Err(error) => Err(SyncError::Failed(format!(
                        "the server sent a license this device refuses: {error}"
                    ))),
                }
            }
            Err(ClientError::Api { status, body }) => match &body.verdict {
                Some(text) => {
                    self.absorb_revocations(text);
                    let opened = {
                        let p = lock(&self.inner.persisted);
                        let at = self
                            .expectations(&p, DeviceIdentity::Same)
                            .now
                            .unwrap_or(now);
                        open_verdict(&p.keyring, text, &device_id, Some(&nonce), at)
                    };
                    match opened {
                        Ok((_, verdict)) => {
                            self.apply_verdict(verdict.verdict, &verdict.reason, verdict.sequence)
                                .map_err(|e| SyncError::Failed(format!("{e:#}")))?;
                            Err(SyncError::Refused(verdict.reason))
                        }
                        Err(error) => Err(SyncError::Failed(format!(
                            "ignored a refusal ({status}) whose verdict does not verify: {error}"
                        ))),
                    }
                }
                None => Err(SyncError::Failed(format!(
                    "the server answered {status}: {} ({})",
                    body.error.message, body.error.code
                ))),
            },
            Err(other) => Err(SyncError::Failed(format!(
                "cannot reach the server: {other}"
            ))),
        };
        {
            let mut sync = lock(&self.inner.sync);
            match &outcome {
                Ok(_) => {
                    sync.last_success = Some(now);
                    sync.last_error = None;
                    sync.failures = 0;
                }
                Err(SyncError::Refused(reason)) => {
                    sync.last_success = Some(now);
                    sync.last_error = Some(format!("refused: {reason}"));
                    sync.failures = 0;
                }
                Err(error) => {
                    sync.last_error = Some(error.to_string());
                    sync.failures = sync.failures.saturating_add(1);
                }
            }
        }
        if let Err(SyncError::Failed(message)) = &outcome {
            tracing::warn!("license refresh failed: {message}");
        }
        // The detail text mentions the last error: rebuild it.
        let _ = self.tick();
        outcome
    }

    pub(super) fn apply_verdict(
        &self,
        verdict: Verdict,
        reason: &str,
        sequence: u64,
    ) -> Result<()> {
        let stored = StoredVerdict {
            verdict,
            reason: reason.to_owned(),
            sequence,
        };
        let text = serde_json::to_string(&stored)?;
        self.inner.db.set_meta(&[("verdict", Some(&text))])?;
        lock(&self.inner.persisted).verdict = Some(stored);
        tracing::warn!(
            ?verdict,
            reason,
            "the server definitively refused this device"
        );
        self.rebuild()
    }

    /// Sends one heartbeat; returns the interval the server asks for.
    pub async fn heartbeat(&self) -> Result<u64, SyncError> {
        let (client, device_id) = self.device_client()?;
        let cameras = self
            .inner
            .db
            .cameras()
            .map_err(|e| SyncError::Failed(e.to_string()))?;
        let plan = self.plan(None, None);
        let license_sequence = lock(&self.inner.persisted)
            .license
            .as_ref()
            .map(|l| l.payload().sequence);
        let response = client
            .heartbeat(
                device_id.as_str(),
                &HeartbeatRequest {
                    agent_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
                    metrics: Some(serde_json::json!({ "cameras": cameras.len() })),
                    active_cameras: cameras.into_iter().map(|c| c.camera_id).collect(),
                    running_modules: plan.enabled.iter().map(|m| m.id.to_string()).collect(),
                    license_sequence,
                },
            )
            .await
            .map_err(|e| SyncError::Failed(format!("heartbeat failed: {e}")))?;
        self.reconcile_quotas(&response.quotas).await?;
        let mut sync = lock(&self.inner.sync);
        sync.heartbeat_interval_seconds = Some(response.next_heartbeat_in_seconds);
        sync.last_heartbeat = Some(self.inner.clock.now());
        Ok(response.next_heartbeat_in_seconds)
    }

    /// Reconciles local quota counters with the server's count: the server counts every
    /// device's uploaded usage; this device adds what it recorded and has not uploaded
    /// yet. A counter only ever rises: what this device spent offline stays spent.
    pub(super) async fn reconcile_quotas(
        &self,
        quotas: &[licet_client::wire::QuotaUsage],
    ) -> Result<(), SyncError> {
        for quota in quotas {
            let waiting = self
                .inner
                .usage
                .waiting(&quota.meter, &quota.period)
                .await
                .map_err(|e| SyncError::Failed(e.to_string()))?;
            self.inner
                .db
                .raise_quota_used(
                    &quota.feature,
                    &quota.period,
                    quota.used.saturating_add(waiting),
                )
                .map_err(|e| SyncError::Failed(e.to_string()))?;
        }
        Ok(())
    }

    /// Uploads the oldest waiting usage events (at most `batch`) and drops what the
    /// server acknowledged. Answers how many the server acknowledged; 0 when nothing
    /// was waiting.
    pub async fn upload_usage(&self, batch: usize) -> Result<u64, SyncError> {
        let pending = self
            .inner
            .usage
            .pending(batch)
            .await
            .map_err(|e| SyncError::Failed(e.to_string()))?;
        let Some(&(first, _)) = pending.first() else {
            return Ok(0);
        };
        let (client, device_id) = self.device_client()?;
        let events = pending
            .into_iter()
            .map(|(sequence, e)| licet_client::wire::UsageUploadEvent {
                sequence,
                kind: e.kind,
                quantity: serde_json::Value::from(e.quantity),
                unit: e.unit,
                camera_id: e.camera_id,
                time: licet_core::time_text(e.time),
                attributes: e.attributes,
            })
            .collect();
        let result = client
            .upload_usage(
                device_id.as_str(),
                &licet_client::wire::UsageUpload { events },
            )
            .await
            .map_err(|e| SyncError::Failed(format!("usage upload failed: {e}")))?;
        for rejected in &result.rejected {
            tracing::warn!(
                sequence = rejected.sequence,
                "the server refused a usage event: {}",
                rejected.reason
            );
        }
        if result.acknowledged_through < first {
            return Err(SyncError::Failed(format!(
                "the server acknowledged usage only through {} but this device's oldest waiting event is {first}",
                result.acknowledged_through
            )));
        }
        self.inner
            .usage
            .prune(result.acknowledged_through)
            .await
            .map_err(|e| SyncError::Failed(e.to_string()))?;
        Ok(result.acknowledged_through - first + 1)
    }
}
