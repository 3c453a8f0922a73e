//! License keys customers type: `LCT-7KQ2M-PX9TD-3HW8R-ZB5NQ`.
//!
//! Nineteen Crockford base32 symbols (95 random bits) and a check symbol (Luhn mod 32),
//! so a mistyped or swapped character is caught before any lookup. Crockford's alphabet
//! has no I, L, O or U; when reading, `O` is taken as `0` and `I`/`L` as `1`, case and
//! spacing are ignored. The randomness is the caller's: the core has none.

use crate::signing::to_hex;
use sha2::{Digest, Sha256};
use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const PREFIX: &str = "LCT";
const DATA_SYMBOLS: usize = 19;

/// A well-formed license key (check symbol verified).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LicenseKey(String);

/// Why a text is not a license key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LicenseKeyError {
    /// Does not start with `LCT`.
    #[error("a license key starts with LCT-, e.g. LCT-7KQ2M-PX9TD-3HW8R-ZB5NQ")]
    Prefix,
    /// Too many or too few symbols.
    #[error(
        "a license key has 20 characters after LCT- (in four groups of five); this one has {0}"
    )]
    Length(usize),
    /// A character outside the alphabet.
    #[error("a license key cannot contain {0:?}; use digits and letters other than U")]
    Character(char),
    /// The check symbol does not match: a character was mistyped or two were swapped.
    #[error(
        "the license key's check character does not match: a character was mistyped or two were swapped"
    )]
    CheckSymbol,
}

fn value(symbol: u8) -> Option<u32> {
    let symbol = match symbol.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|s| *s == symbol)
        .and_then(|p| u32::try_from(p).ok())
}

/// Luhn mod 32 over the values, rightmost first, doubling every second one starting with
/// the rightmost (the check symbol is appended to the right afterwards).
fn check_value(values: &[u32]) -> u32 {
    let mut sum = 0;
    for (index, value) in values.iter().rev().enumerate() {
        let addend = if index % 2 == 0 { value * 2 } else { *value };
        sum += addend / 32 + addend % 32;
    }
    (32 - sum % 32) % 32
}

impl LicenseKey {
    /// A new key from 12 random bytes (95 of their bits are used).
    pub fn from_random(bytes: [u8; 12]) -> LicenseKey {
        let mut bits: u128 = 0;
        for byte in bytes {
            bits = (bits << 8) | u128::from(byte);
        }
        let values: Vec<u32> = (0..DATA_SYMBOLS)
            .map(|i| ((bits >> (5 * i)) & 31) as u32)
            .collect();
        LicenseKey::from_values(&values)
    }

    fn from_values(data: &[u32]) -> LicenseKey {
        let check = check_value(data);
        let symbols: String = data
            .iter()
            .chain(std::iter::once(&check))
            .map(|v| char::from(ALPHABET[*v as usize]))
            .collect();
        let groups: Vec<&str> = (0..4).map(|g| &symbols[g * 5..g * 5 + 5]).collect();
        LicenseKey(format!("{PREFIX}-{}", groups.join("-")))
    }

    /// Parses a key as typed, tolerating case, spaces and dashes anywhere.
    pub fn parse(text: &str) -> Result<LicenseKey, LicenseKeyError> {
        let compact: Vec<u8> = text
            .bytes()
            .filter(|b| !b.is_ascii_whitespace() && *b != b'-')
            .collect();
        if compact.len() < PREFIX.len()
            || !compact[..PREFIX.len()].eq_ignore_ascii_case(PREFIX.as_bytes())
        {
            return Err(LicenseKeyError::Prefix);
        }
        let body = &compact[PREFIX.len()..];
        if body.len() != DATA_SYMBOLS + 1 {
            return Err(LicenseKeyError::Length(body.len()));
        }
        let mut values = Vec::with_capacity(body.len());
        for byte in body {
            values.push(value(*byte).ok_or(LicenseKeyError::Character(char::from(*byte)))?);
        }
        let (data, check) = values.split_at(DATA_SYMBOLS);
        if check_value(data) != check[0] {
            return Err(LicenseKeyError::CheckSymbol);
        }
        Ok(LicenseKey::from_values(data))
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 (hex) of the canonical text: what the server stores and looks up.
    pub fn hash(&self) -> String {
        to_hex(&Sha256::digest(self.0.as_bytes()))
    }

    /// The last four symbols, to recognise a key in listings without revealing it.
    pub fn hint(&self) -> String {
        self.0[self.0.len() - 4..].to_owned()
    }
}

impl fmt::Display for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keys are secrets: debug output shows only the hint.
impl fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenseKey(…{})", self.hint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_parses_back_in_any_spelling() {
        let key = LicenseKey::from_random([7, 1, 200, 3, 99, 5, 6, 250, 8, 9, 10, 11]);
        assert!(key.as_str().starts_with("LCT-"));
        assert_eq!(key.as_str().len(), 27);
        assert_eq!(LicenseKey::parse(key.as_str()).unwrap(), key);
        let sloppy = key.as_str().to_lowercase().replace('-', " ");
        assert_eq!(LicenseKey::parse(&sloppy).unwrap(), key);
    }

    #[test]
    fn every_single_substitution_and_adjacent_swap_is_caught() {
        let key = LicenseKey::from_random([42; 12]);
        let symbols: Vec<u8> = key
            .as_str()
            .bytes()
            .filter(|b| *b != b'-')
            .skip(3)
            .collect();
        for position in 0..symbols.len() {
            for replacement in ALPHABET {
                if *replacement == symbols[position] {
                    continue;
                }
                let mut typo = symbols.clone();
                typo[position] = *replacement;
                let text = format!("LCT{}", String::from_utf8(typo).unwrap());
                assert_eq!(
                    LicenseKey::parse(&text),
                    Err(LicenseKeyError::CheckSymbol),
                    "{text}"
                );
            }
            if position + 1 < symbols.len() && symbols[position] != symbols[position + 1] {
                let mut swapped = symbols.clone();
                swapped.swap(position, position + 1);
                let text = format!("LCT{}", String::from_utf8(swapped).unwrap());
                assert!(
                    LicenseKey::parse(&text).is_err(),
                    "swap at {position} not caught: {text}"
                );
            }
        }
    }

    #[test]
    fn malformed_keys_say_what_is_wrong() {
        assert_eq!(LicenseKey::parse("ABC-12345"), Err(LicenseKeyError::Prefix));
        assert_eq!(
            LicenseKey::parse("LCT-12345"),
            Err(LicenseKeyError::Length(5))
        );
        assert_eq!(
            LicenseKey::parse("LCT-UUUUU-00000-00000-00000"),
            Err(LicenseKeyError::Character('U'))
        );
    }
}
