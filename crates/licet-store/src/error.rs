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
    /// The database failed.
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Which uniqueness rule a change broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictKind {
    /// The id is taken.
    DuplicateId,
    /// A catalog version with different content exists.
    CatalogVersionExists,
    /// The license key is taken (astronomically unlikely; retry with a new key).
    DuplicateLicenseKey,
    /// An invoice for this month, or a later one, is already issued.
    InvoiceIssued,
}
