//! Counted amounts: a limit or quota allowance that is either a number or unlimited.
//!
//! `0` is a real value ("disabled"), not a stand-in for "unlimited"; products that used
//! `-1` for unlimited on the wire convert at their own boundary.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A non-negative count, or no bound at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Amount {
    /// At most this many.
    Finite(u64),
    /// No bound.
    Unlimited,
}

impl Amount {
    /// Whether `requested` fits under this bound.
    pub fn admits(self, requested: u64) -> bool {
        match self {
            Amount::Finite(max) => requested <= max,
            Amount::Unlimited => true,
        }
    }

    /// Adds two amounts; unlimited absorbs everything, finite sums saturate.
    pub fn plus(self, other: Amount) -> Amount {
        match (self, other) {
            (Amount::Finite(a), Amount::Finite(b)) => Amount::Finite(a.saturating_add(b)),
            _ => Amount::Unlimited,
        }
    }

    /// Multiplies by a quantity (a stack of add-ons); unlimited stays unlimited.
    pub fn times(self, quantity: u64) -> Amount {
        match self {
            Amount::Finite(a) => Amount::Finite(a.saturating_mul(quantity)),
            Amount::Unlimited => Amount::Unlimited,
        }
    }

    /// The smaller of two bounds.
    pub fn min(self, other: Amount) -> Amount {
        match (self, other) {
            (Amount::Finite(a), Amount::Finite(b)) => Amount::Finite(a.min(b)),
            (Amount::Finite(a), Amount::Unlimited) | (Amount::Unlimited, Amount::Finite(a)) => {
                Amount::Finite(a)
            }
            (Amount::Unlimited, Amount::Unlimited) => Amount::Unlimited,
        }
    }

    /// What is left after `used`, never below zero.
    pub fn remaining_after(self, used: u64) -> Amount {
        match self {
            Amount::Finite(a) => Amount::Finite(a.saturating_sub(used)),
            Amount::Unlimited => Amount::Unlimited,
        }
    }

    /// Whether this bound allows anything at all.
    pub fn is_positive(self) -> bool {
        self != Amount::Finite(0)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Finite(n) => write!(f, "{n}"),
            Amount::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Amount::Finite(n) => serializer.serialize_u64(*n),
            Amount::Unlimited => serializer.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(AmountVisitor)? {
            LimitValue::Count(n) => u64::try_from(n)
                .map(Amount::Finite)
                .map_err(|_| de::Error::custom(format!("amount {n} is negative"))),
            LimitValue::Unlimited => Ok(Amount::Unlimited),
            LimitValue::Invalid(text) => Err(de::Error::custom(format!(
                "amount {text:?} is neither a whole number nor \"unlimited\""
            ))),
        }
    }
}

/// An amount as written in a catalog, before validation.
///
/// Kept separate from [`Amount`] so that a negative number or a misspelt `"unlimted"` is
/// reported as a catalog problem with its key path, alongside every other problem,
/// instead of aborting the parse at the first one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitValue {
    /// A whole number, possibly negative (which validation rejects).
    Count(i64),
    /// The string `"unlimited"`.
    Unlimited,
    /// Anything else that was written as a string.
    Invalid(String),
}

impl LimitValue {
    /// The validated amount, or `None` if validation would reject it.
    pub fn amount(&self) -> Option<Amount> {
        match self {
            LimitValue::Count(n) => u64::try_from(*n).ok().map(Amount::Finite),
            LimitValue::Unlimited => Some(Amount::Unlimited),
            LimitValue::Invalid(_) => None,
        }
    }
}

impl Serialize for LimitValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            LimitValue::Count(n) => serializer.serialize_i64(*n),
            LimitValue::Unlimited => serializer.serialize_str("unlimited"),
            LimitValue::Invalid(text) => serializer.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for LimitValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AmountVisitor)
    }
}

struct AmountVisitor;

impl Visitor<'_> for AmountVisitor {
    type Value = LimitValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number or \"unlimited\"")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<LimitValue, E> {
        Ok(LimitValue::Count(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<LimitValue, E> {
        i64::try_from(v)
            .map(LimitValue::Count)
            .map_err(|_| E::custom(format!("{v} is too large")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<LimitValue, E> {
        Ok(if v == "unlimited" {
            LimitValue::Unlimited
        } else {
            LimitValue::Invalid(v.to_owned())
        })
    }
}

/// The largest quantity, sequence or amount of money Licet takes on any ingestion path:
/// 2^53 − 1, the largest integer every JSON parser (JavaScript's included) reads
/// exactly. Anything larger is refused where it enters, so that no stored value can
/// make a later sum overflow or a client misread it.
pub const MAX_WIRE_INTEGER: u64 = (1 << 53) - 1;

/// Reads a quantity from JSON: an integer from 0 to [`MAX_WIRE_INTEGER`]. A number
/// with no fractional part written as a float (`1.0`, as some clients send counts) is
/// that integer; a fraction, a negative number or anything larger is refused.
pub fn wire_quantity(value: &serde_json::Value) -> Result<u64, String> {
    let refuse = || {
        format!(
            "quantity {value} must be a whole number from 0 to {MAX_WIRE_INTEGER} (count in a smaller unit)"
        )
    };
    let serde_json::Value::Number(number) = value else {
        return Err(refuse());
    };
    let quantity = match (number.as_u64(), number.as_f64()) {
        (Some(integer), _) => integer,
        (None, Some(float))
            if float.fract() == 0.0 && (0.0..=MAX_WIRE_INTEGER as f64).contains(&float) =>
        {
            // Exact: a whole float within 2^53 converts without loss.
            float as u64
        }
        _ => return Err(refuse()),
    };
    if quantity > MAX_WIRE_INTEGER {
        return Err(refuse());
    }
    Ok(quantity)
}

/// Reads a signed amount (e.g. a cost in minor units) from JSON: an integer whose
/// magnitude is at most [`MAX_WIRE_INTEGER`].
pub fn wire_signed(value: &serde_json::Value) -> Result<i64, String> {
    let limit = MAX_WIRE_INTEGER as i64;
    value
        .as_i64()
        .filter(|v| (-limit..=limit).contains(v))
        .ok_or_else(|| format!("{value} must be a whole number from -{limit} to {limit}"))
}
