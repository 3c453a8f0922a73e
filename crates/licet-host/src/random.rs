//! Randomness from the operating system, for new keys and ids.

/// Why randomness could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

/// Fills `buffer` with random bytes.
pub fn fill(buffer: &mut [u8]) -> Result<(), RandomError> {
    getrandom::getrandom(buffer).map_err(|e| RandomError(e.to_string()))
}

/// A random id such as `lic_3f9a0c…`: the prefix, then 16 random bytes in hex.
pub fn id(prefix: &str) -> Result<String, RandomError> {
    let mut bytes = [0u8; 16];
    fill(&mut bytes)?;
    Ok(format!("{prefix}{}", licet_core::signing::to_hex(&bytes)))
}
