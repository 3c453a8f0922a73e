//! License and verdict sequence numbers without a commit per refresh.
//!
//! A device refuses any license whose sequence is not above the highest it has held,
//! and a verdict is lifted only by a license above the verdict's own: that is the
//! anti-rollback guarantee, and it needs every number a device is given to be above
//! every number it was given before, whichever replica gives it.
//!
//! The numbers come from one counter in the store, reserved in blocks
//! ([`BLOCK`] at a time, one committed write). Each replica hands out its block in
//! order from memory. Every reservation is above every earlier one by any replica,
//! before or after a crash, so:
//!
//! - a number is never handed out twice (blocks are disjoint and committed before
//!   use; a crash loses the rest of its block, never reuses it);
//! - when the device says what it holds ([`Floor::Held`]), the replica answers from its
//!   block if the next number is above it, and otherwise reserves a new block, whose
//!   first number is above anything any replica has issued — so above what the device
//!   holds. A claim above every reservation cannot be something this server issued and
//!   is refused (it would otherwise drag the counter for everyone);
//! - when the device does not say ([`Floor::Unknown`]: older clients, activations,
//!   compatibility routes), the number is reserved on its own, above everything issued.

use crate::error::ApiError;
use licet_store::Store;
use tokio::sync::Mutex;

/// Numbers reserved per block. At a refresh an hour per device, 100,000 devices use a
/// block about every 36 seconds.
pub const BLOCK: u64 = 1000;

/// What the device holds, as far as the request says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Floor {
    /// The highest license or verdict sequence the device holds.
    Held(u64),
    /// The request does not say.
    Unknown,
}

/// This replica's block: `next ..= last` are still to hand out.
#[derive(Debug, Default)]
pub struct Sequences {
    block: Mutex<Block>,
}

#[derive(Debug, Default)]
struct Block {
    next: u64,
    last: u64,
}

impl Sequences {
    /// A number above `floor`, never handed out before by any replica.
    pub async fn above(&self, store: &dyn Store, floor: Floor) -> Result<u64, ApiError> {
        let held = match floor {
            Floor::Unknown => return Ok(store.reserve_license_sequences(1).await?),
            Floor::Held(held) => held,
        };
        let mut block = self.block.lock().await;
        if block.next > held && block.next <= block.last {
            let number = block.next;
            block.next += 1;
            return Ok(number);
        }
        let last = store.reserve_license_sequences(BLOCK).await?;
        let first = last - (BLOCK - 1);
        if first <= held {
            // Nothing was issued above `first - 1`: the device cannot hold `held`.
            // The reserved block is kept; it is as good as any other.
            *block = Block { next: first, last };
            return Err(ApiError::InvalidRequest(format!(
                "`sequence`: {held} is above every license sequence this server issued; \
                 send the sequence of the license the device holds"
            )));
        }
        *block = Block {
            next: first + 1,
            last,
        };
        Ok(first)
    }
}
