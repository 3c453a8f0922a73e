//! The store's error type. Each backend maps its own constraint violations to a
//! [`ConflictKind`], so constraint names never leak upward.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row (or it belongs to another tenant).
    #[error("not found")]
    NotFound,
    /// The change conflicts with what is stored.
    #[error("conflict: {0:?}")]
    Conflict(ConflictKind),
    /// The store could not be opened as configured.
    #[error("store configuration: {0}")]
    Config(String),
    /// Stored data could not be decoded (a bug or a hand-edited database).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database cannot be reached now (connection refused, pool timed out); the
    /// caller should answer "try again" and the pool recovers by itself.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database refused a value (e.g. a NUL character in text on PostgreSQL).
    #[error("the database refused a value: {0}")]
    InvalidInput(String),
    /// The database failed.
    #[error("database error: {0}")]
    Backend(sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Which uniqueness rule a change broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictKind {
    /// The id is taken.
    DuplicateId,
    /// Another activation of the same fingerprint committed first (the store retries
    /// once as a re-activation, so callers do not see this).
    DuplicateFingerprint,
    /// A catalog version with different content exists.
    CatalogVersionExists,
    /// The license key is taken (astronomically unlikely; retry with a new key).
    DuplicateLicenseKey,
    /// An invoice for this month, or a later one, is already issued.
    InvoiceIssued,
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
            // 22021: invalid byte sequence (NUL), 22P05: untranslatable character.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021") | Some("22P05")) =>
            {
                StoreError::InvalidInput(db.message().to_owned())
            }
            _ => StoreError::Backend(error),
        }
    }
}
