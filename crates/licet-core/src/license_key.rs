//! License keys customers type: `LCT-7KQ2M-PX9TD-3HW8R-ZB5NQ`.
//!
//! Nineteen Crockford base32 symbols (95 random bits) and a check symbol (Luhn mod 32),
//! so a mistyped or swapped character is caught before any lookup. Crockford's alphabet
//! has no I, L, O or U; when reading, `O` is taken as `0` and `I`/`L` as `1`, case and
//! spacing are ignored. The randomness is the caller's: the core has none.
//!
//! Keys a vendor issued before Licet (Foxsight's `FXSGHT-XXXX-XXXX-XXXX-XXXX`, say) are
//! imported as they are ([`ImportedKey`]): a customer types the key they have.
//! [`TypedKey::parse`] reads either kind.

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

/// The shortest imported key accepted: shorter keys are guessable whatever their source.
pub const IMPORTED_MIN_SYMBOLS: usize = 8;
/// The longest imported key accepted.
pub const IMPORTED_MAX_LENGTH: usize = 128;

/// A license key issued by another system and imported into Licet, in its own format.
/// Case and surrounding spaces are ignored; its letters, digits and separators are
/// kept as they are. It has no check symbol, so a mistyped one is only "not found".
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImportedKey(String);

/// Why a text is not an importable key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportedKeyError {
    /// Fewer than [`IMPORTED_MIN_SYMBOLS`] letters and digits.
    #[error(
        "an imported license key needs at least {IMPORTED_MIN_SYMBOLS} letters or digits; this one has {0}"
    )]
    TooShort(usize),
    /// Longer than [`IMPORTED_MAX_LENGTH`].
    #[error("an imported license key is at most {IMPORTED_MAX_LENGTH} characters long")]
    TooLong,
    /// A character other than an ASCII letter, digit, `-`, `_` or `.`.
    #[error("an imported license key cannot contain {0:?}; use letters, digits, '-', '_' or '.'")]
    Character(char),
}

impl ImportedKey {
    /// Parses an imported key: trimmed, letters in upper case.
    pub fn parse(text: &str) -> Result<ImportedKey, ImportedKeyError> {
        let text = text.trim();
        if text.len() > IMPORTED_MAX_LENGTH {
            return Err(ImportedKeyError::TooLong);
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(ImportedKeyError::Character(bad));
        }
        let symbols = text.chars().filter(char::is_ascii_alphanumeric).count();
        if symbols < IMPORTED_MIN_SYMBOLS {
            return Err(ImportedKeyError::TooShort(symbols));
        }
        Ok(ImportedKey(text.to_ascii_uppercase()))
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 (hex) of `imported:` and the canonical text, so that no imported key
    /// hashes like a Licet key.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"imported:");
        hasher.update(self.0.as_bytes());
        to_hex(&hasher.finalize())
    }

    /// The last four characters.
    pub fn hint(&self) -> String {
        let start = self.0.len().saturating_sub(4);
        self.0[start..].to_owned()
    }
}

/// Keys are secrets: debug output shows only the hint.
impl fmt::Debug for ImportedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImportedKey(…{})", self.hint())
    }
}

/// A key as a customer typed it: Licet's own, or one imported from another system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypedKey {
    /// A Licet key (`LCT-…`).
    Licet(LicenseKey),
    /// An imported key.
    Imported(ImportedKey),
}

/// Why a typed text is no key at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TypedKeyError {
    /// It starts like a Licet key but is not a well-formed one.
    #[error(transparent)]
    Licet(#[from] LicenseKeyError),
    /// It cannot be an imported key either.
    #[error(transparent)]
    Imported(#[from] ImportedKeyError),
}

impl TypedKey {
    /// Reads a typed key. A text that starts with `LCT` is a Licet key, held to its
    /// check symbol (so a typo is named, not looked up); anything else is taken as an
    /// imported key.
    pub fn parse(text: &str) -> Result<TypedKey, TypedKeyError> {
        let trimmed = text.trim_start();
        let licet = trimmed
            .get(..PREFIX.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(PREFIX));
        if licet {
            Ok(TypedKey::Licet(LicenseKey::parse(text)?))
        } else {
            Ok(TypedKey::Imported(ImportedKey::parse(text)?))
        }
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        match self {
            TypedKey::Licet(key) => key.as_str(),
            TypedKey::Imported(key) => key.as_str(),
        }
    }

    /// What the server stores and looks up.
    pub fn hash(&self) -> String {
        match self {
            TypedKey::Licet(key) => key.hash(),
            TypedKey::Imported(key) => key.hash(),
        }
    }

    /// The last four characters, for listings.
    pub fn hint(&self) -> String {
        match self {
            TypedKey::Licet(key) => key.hint(),
            TypedKey::Imported(key) => key.hint(),
        }
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

    #[test]
    fn imported_keys_are_read_as_issued_and_hash_apart_from_licet_keys() {
        let typed = TypedKey::parse("  fxsght-ab12-cd34-ef56-gh78 ").unwrap();
        let TypedKey::Imported(key) = &typed else {
            panic!("{typed:?}")
        };
        assert_eq!(key.as_str(), "FXSGHT-AB12-CD34-EF56-GH78");
        assert_eq!(typed.hint(), "GH78");
        assert_eq!(
            typed.hash(),
            TypedKey::parse("FXSGHT-AB12-CD34-EF56-GH78")
                .unwrap()
                .hash()
        );
        // The same text as a Licet key's canonical form would not hash alike.
        let licet = LicenseKey::from_random([9; 12]);
        assert_ne!(ImportedKey(licet.as_str().to_owned()).hash(), licet.hash());
        assert!(matches!(
            TypedKey::parse(licet.as_str()),
            Ok(TypedKey::Licet(_))
        ));
        // A Licet key with a typo is named as one, not looked up as an import.
        assert!(matches!(
            TypedKey::parse("LCT-12345"),
            Err(TypedKeyError::Licet(LicenseKeyError::Length(5)))
        ));
        assert_eq!(
            TypedKey::parse("ab-12"),
            Err(TypedKeyError::Imported(ImportedKeyError::TooShort(4)))
        );
        assert_eq!(
            TypedKey::parse("FXSGHT ABCD 1234"),
            Err(TypedKeyError::Imported(ImportedKeyError::Character(' ')))
        );
        assert_eq!(
            TypedKey::parse(&"A".repeat(129)),
            Err(TypedKeyError::Imported(ImportedKeyError::TooLong))
        );
    }
}
