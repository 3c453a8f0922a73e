//! The agent database's schema, as numbered migrations (`migrations/*.sql`, applied in
//! order by `rusqlite_migration`, which records the version in SQLite's
//! `user_version`). A device upgraded in the field opens the data directory the
//! previous release wrote and moves it forward; nothing is ever edited in place.
//!
//! Migration 1 is the first release's schema, written with `IF NOT EXISTS`, because
//! that release kept no version: its databases (version 0 with every table present)
//! are adopted as they are. A new migration is a new file at the end of `MIGRATIONS`;
//! an agent refuses a database whose version is newer than it knows (a downgrade),
//! rather than guess.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

const MIGRATIONS: [&str; 6] = [
    include_str!("../migrations/01-initial.sql"),
    include_str!("../migrations/02-usage-by-kind.sql"),
    include_str!("../migrations/03-usage-requests.sql"),
    include_str!("../migrations/04-camera-packs.sql"),
    include_str!("../migrations/05-usage-days.sql"),
    include_str!("../migrations/06-camera-pack-days.sql"),
];

/// The version a database has after [`migrate`].
pub fn latest() -> usize {
    MIGRATIONS.len()
}

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A newer agent wrote this database.
    #[error(
        "the agent database is at schema version {found}, newer than this agent's {latest}: \
         a newer agent wrote it; run that version of the agent (or a newer one)"
    )]
    Newer {
        /// The database's version.
        found: usize,
        /// This agent's latest.
        latest: usize,
    },
    /// A migration failed; the database is left at the last version that succeeded.
    #[error("cannot upgrade the agent database: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// The version could not be read.
    #[error("cannot read the agent database's schema version: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Brings the database to the latest schema, in one transaction per migration.
pub fn migrate(conn: &mut Connection) -> Result<(), SchemaError> {
    let found: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > latest() {
        return Err(SchemaError::Newer {
            found,
            latest: latest(),
        });
    }
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect()).to_latest(conn)?;
    Ok(())
}
