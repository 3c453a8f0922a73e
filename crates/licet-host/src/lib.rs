//! What Licet reads from the host machine, kept out of the pure core: the wall clock,
//! randomness for new keys and ids, and key files with safe permissions.
//!
//! Everything here is small on purpose. Anything that decides (deadlines, validity,
//! entitlements) belongs in `licet-core` and takes what this crate reads as arguments.

pub mod clock;
pub mod files;
pub mod keyfile;
pub mod random;
