//! Opening an agent: the data directory (0700), the database and its schema, the usage
//! outbox, the device key and fingerprint, the provisioned trust, and the stored
//! license verified offline. Never touches the network.

use super::*;

impl Agent {
    /// Opens the agent's data directory (creating it, the device key and the database as
    /// needed) and verifies the stored license offline. Never touches the network.
    pub fn open(config: AgentConfig, clock: Arc<dyn Clock>) -> Result<Agent> {
        config.validate().map_err(anyhow::Error::msg)?;
        create_private_dir(&config.data_dir)?;
        let db = Db::open(&config.data_dir.join("agent.db")).with_context(|| {
            format!(
                "cannot open the agent database in {}",
                config.data_dir.display()
            )
        })?;
        let usage = crate::usage::Recorder::start(
            &config.data_dir.join("agent.db"),
            config.usage_max_backlog,
        )
        .context("cannot open the usage outbox")?;
        let device_key = identity::device_key(&config.data_dir)?;
        let fingerprint = identity::fingerprint(&config.identity_root, &config.data_dir)?;
        let mut http =
            reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(10));
        if config.http_timeout_seconds > 0 {
            // A server that accepts and never answers fails the call, which the caller
            // retries with backoff; it never holds a refresh (or shutdown) forever.
            http = http.timeout(std::time::Duration::from_secs(config.http_timeout_seconds));
        } else {
            tracing::warn!(
                "http_timeout_seconds = 0: calls to the server have no deadline (meant for tests only)"
            );
        }
        let http = http.build().context("cannot build the HTTP client")?;

        let mut keyring = Keyring::new();
        for text in &config.trusted_roots {
            let key = parse_public_key(text)
                .map_err(|e| anyhow::anyhow!("trusted_roots: {text:?} is not a public key: {e}"))?;
            keyring.add_root(key);
        }
        for text in &config.trusted_keys {
            let key = parse_public_key(text)
                .map_err(|e| anyhow::anyhow!("trusted_keys: {text:?} is not a public key: {e}"))?;
            keyring.add(key);
        }
        if let Some(lists) = db.meta("revocations")? {
            if let Err(error) = keyring.accept_revocations(&lists) {
                tracing::error!("ignored the stored revocation lists: {error}");
            }
        }
        // Keys learned from a server count only while trust on first use is configured:
        // turning it off takes them away at the next start.
        let trust_on_first_use = config.dev_trust_on_first_use
            && config.trusted_roots.is_empty()
            && config.trusted_keys.is_empty();
        let learned_keys: Vec<String> = db
            .meta("learned_keys")?
            .map(|v| v.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        if trust_on_first_use {
            tracing::warn!(
                "DEVELOPMENT MODE: dev_trust_on_first_use trusts the signing keys of the first server this agent reaches; \
                 anyone who can point this device at a server of their own can license it. Provision trusted_roots instead"
            );
            for text in &learned_keys {
                if let Ok(key) = parse_public_key(text) {
                    keyring.add(key);
                }
            }
        }
        let verdict = match db.meta("verdict")? {
            Some(text) => Some(
                serde_json::from_str::<StoredVerdict>(&text)
                    .context("the stored verdict is not readable")?,
            ),
            None => None,
        };
        let high_water = db.meta_time("high_water")?;
        let catalog = super::catalog::load(
            &config,
            &db,
            &keyring,
            clock
                .now()
                .max(high_water.unwrap_or(OffsetDateTime::UNIX_EPOCH)),
        )?;
        let mut persisted = Persisted {
            license: None,
            keyring,
            learned_keys,
            trust_on_first_use,
            device_id: db.meta("device_id")?.map(DeviceId::new),
            device_token: db.meta("device_token")?.map(SecretString::from),
            last_refresh: db.meta_time("last_refresh")?,
            verdict,
            high_water,
            written_high_water: high_water,
            max_sequence: db
                .meta("max_sequence")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            rejection: None,
            seen_on_disk: None,
            anchor: (OffsetDateTime::UNIX_EPOCH, std::time::Duration::ZERO),
            generation: 0,
        };
        if let Some((armored, _)) = db.license()? {
            persisted.seen_on_disk = Some(armored.clone());
            let now = clock
                .now()
                .max(high_water.unwrap_or(OffsetDateTime::UNIX_EPOCH));
            match license::verify(
                &persisted.keyring,
                &armored,
                &Expectations {
                    fingerprint: Some(&fingerprint.value),
                    now: Some(now),
                    min_sequence: Some(persisted.max_sequence),
                },
            ) {
                Ok(verified) => persisted.license = Some(verified),
                Err(error) => {
                    let message = format!(
                        "the license stored in {} was refused: {error}; the device runs unlicensed until a valid license is activated or imported",
                        config.data_dir.join("agent.db").display()
                    );
                    tracing::error!("{message}");
                    persisted.rejection = Some(message);
                }
            }
        }

        let placeholder = Current {
            snapshot: Snapshot::empty(),
            report: state::evaluate(&StateInput {
                license: None,
                last_refresh: None,
                verdict: None,
                high_water: None,
                now: clock.now(),
            }),
            license: None,
            device_id: None,
            generation: 0,
            detail: String::new(),
        };
        let (changes, _) = watch::channel(0);
        persisted.anchor = (
            clock
                .now()
                .max(persisted.high_water.unwrap_or(OffsetDateTime::UNIX_EPOCH)),
            clock.monotonic(),
        );
        let agent = Agent {
            inner: Arc::new(Inner {
                config,
                clock,
                db,
                fingerprint,
                device_key,
                catalog: Mutex::new(catalog),
                current: Arc::new(ArcSwap::from_pointee(placeholder)),
                persisted: Mutex::new(persisted),
                sync: Mutex::new(SyncStatus::default()),
                changes,
                wake: Notify::new(),
                http,
                usage,
                syncing: tokio::sync::Mutex::new(()),
            }),
        };
        agent.rebuild()?;
        Ok(agent)
    }
}

fn create_private_dir(path: &std::path::Path) -> Result<()> {
    licet_host::files::create_private_dir(path).with_context(|| {
        format!(
            "cannot create the private data directory {}",
            path.display()
        )
    })
}
