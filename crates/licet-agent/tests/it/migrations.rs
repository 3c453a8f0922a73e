//! A device upgraded in the field: the data directory the first release wrote (no
//! schema version) is opened by this agent and moved forward without losing the
//! license, the cameras, the quota counters or the usage outbox.

use crate::support::{Device, START, license_for, offline_agent};
use licet_core::resolve::Subscription;
use licet_host::clock::ManualClock;
use std::sync::Arc;

/// The first release's schema, as it created it (kept here verbatim: it is history).
const FIRST_RELEASE: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS license (
    id INTEGER PRIMARY KEY CHECK (id = 1), armored TEXT NOT NULL,
    sequence INTEGER NOT NULL, stored_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cameras (
    camera_id TEXT PRIMARY KEY, name TEXT, first_registered_at TEXT NOT NULL,
    registered INTEGER NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quota_usage (
    feature TEXT NOT NULL, period TEXT NOT NULL, used INTEGER NOT NULL,
    PRIMARY KEY (feature, period));
CREATE TABLE IF NOT EXISTS usage_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, quantity INTEGER NOT NULL,
    unit TEXT, camera_id TEXT, occurred_at TEXT NOT NULL, attributes TEXT);
CREATE TABLE IF NOT EXISTS camera_days (
    camera_id TEXT NOT NULL, day TEXT NOT NULL, PRIMARY KEY (camera_id, day));
";

#[tokio::test]
async fn a_data_directory_from_the_first_release_is_upgraded_without_losing_anything() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("upgrade");
    let plan = Subscription::plan("standard");
    // The device's key and fingerprint, and a license signed for them.
    let armored = {
        let agent = offline_agent(&device, "gate-control", plan.clone(), clock.clone(), |_| {});
        license_for(&agent, "gate-control", &plan, 3, START)
    };
    let db = device.data_dir().join("agent.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    {
        let old = rusqlite::Connection::open(&db).unwrap();
        old.execute_batch(FIRST_RELEASE).unwrap();
        old.execute(
            "INSERT INTO license VALUES (1, ?1, 3, '2026-11-02T09:00:00Z')",
            [&armored],
        )
        .unwrap();
        old.execute_batch(
            "INSERT INTO cameras VALUES ('cam-1', 'Gate', '2026-11-01T08:00:00Z', 1, '2026-11-01T08:00:00Z');
             INSERT INTO cameras VALUES ('cam-2', NULL, '2026-11-01T08:05:00Z', 1, '2026-11-01T08:05:00Z');
             INSERT INTO quota_usage VALUES ('api_calls', '2026-11', 1234);
             INSERT INTO usage_events (kind, quantity, unit, camera_id, occurred_at, attributes)
                 VALUES ('api_call', 5, 'call', NULL, '2026-11-01T10:00:00Z', NULL),
                        ('api_call', 7, 'call', 'cam-1', '2026-11-01T11:00:00Z', '{\"route\":\"/x\"}'),
                        ('camera_day', 1, 'camera-day', 'cam-2', '2026-11-01T12:00:00Z', NULL);
             INSERT INTO camera_days VALUES ('cam-1', '2026-11-01');",
        )
        .unwrap();
        let version: i64 = old
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 0, "the first release kept no schema version");
    }

    let agent = offline_agent(&device, "gate-control", plan, clock, |_| {});
    let license = agent
        .current()
        .license
        .clone()
        .expect("the license survived");
    assert_eq!(license.sequence, 3);
    let cameras: Vec<_> = agent
        .cameras()
        .unwrap()
        .into_iter()
        .map(|c| (c.camera_id, c.name))
        .collect();
    assert_eq!(
        cameras,
        [
            ("cam-1".to_owned(), Some("Gate".to_owned())),
            ("cam-2".to_owned(), None)
        ]
    );
    assert_eq!(agent.usage_backlog(), 3, "the outbox survived");
    drop(agent);

    let upgraded = rusqlite::Connection::open(&db).unwrap();
    let version: usize = upgraded
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, licet_agent::schema::latest());
    let used: i64 = upgraded
        .query_row(
            "SELECT used FROM quota_usage WHERE feature = 'api_calls' AND period = '2026-11'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(used, 1234, "the quota counter survived");
    let outbox: Vec<(String, i64, Option<String>)> = upgraded
        .prepare("SELECT kind, quantity, attributes FROM usage_events ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        outbox[1],
        ("api_call".into(), 7, Some("{\"route\":\"/x\"}".into()))
    );
    assert_eq!(outbox.len(), 3);
    let days: i64 = upgraded
        .query_row("SELECT count(*) FROM camera_days", [], |r| r.get(0))
        .unwrap();
    assert_eq!(days, 1);
}

/// A database a newer agent wrote is refused with a clear error, not guessed at.
#[tokio::test]
async fn a_database_from_a_newer_agent_is_refused() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("downgrade");
    drop(offline_agent(
        &device,
        "gate-control",
        Subscription::plan("standard"),
        clock.clone(),
        |_| {},
    ));
    let db = device.data_dir().join("agent.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let mut config = device.config(None);
    config.trusted_keys = vec![crate::support::signing_key().1];
    let error = licet_agent::Agent::open(config, clock)
        .err()
        .expect("refused");
    let text = format!("{error:#}");
    assert!(text.contains("newer"), "{text}");
}
