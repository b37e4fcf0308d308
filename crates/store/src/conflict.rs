//! Why a write or a use case met another request's change: one name per meaning, matched by
//! variant, never compared as text. Each is retryable; [`Conflict::message`] is what a caller
//! reads.

use std::fmt;

use holdback_domain::process::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// A unit's order, payment or refund moved on since it was decided (its version): reload
    /// and decide again.
    VersionMoved,
    /// A unit's idempotency key another request has used or claimed (a key is usable only
    /// unused, or claimed by the unit's own request): replay that one.
    KeyUsed,
    /// A unit's ledger transaction id was used before, by another decision.
    LedgerIdUsed,
    /// (SQLite) a transaction id of an optimistic batch was committed before: the writer runs
    /// the batch again, looking every id up first.
    IdCommittedBefore,
    /// A transaction id looked up as new was in the journal after all.
    IdNotNew,
    /// The database kept refusing rows of the batch, attempt after attempt.
    RowsKeptRefused,
    /// A hold resolved by the batch was not open in the database.
    HoldNotOpen,
    /// The journal head moved during the batch.
    HeadMoved,
    /// An idempotency key kept changing while it was claimed.
    KeyKeptChanging,
    /// A use case decided again and again, and another request moved the aggregate each time.
    KeepsChanging(Kind),
    /// A webhook endpoint's status changed between its read and its write.
    EndpointChanged,
    /// The same checkout is running in another request, which has not written its payment yet.
    CheckoutRetried,
    /// A message was appended to the order's message record after the head a unit's message
    /// was decided against: read the head again and decide again.
    ChainMoved,
    /// Messages kept arriving on the same order, attempt after attempt.
    ChainKeepsMoving,
}

impl Conflict {
    /// What the caller reads (the API's `conflict` message).
    pub fn message(self) -> &'static str {
        match self {
            Conflict::VersionMoved => "the object changed; reload and retry",
            Conflict::KeyUsed => "the idempotency key was already used",
            Conflict::LedgerIdUsed => "the ledger transaction id was already used",
            Conflict::IdCommittedBefore => "a transaction id of the batch was committed before",
            Conflict::IdNotNew => "a transaction id looked up as new was in the journal",
            Conflict::RowsKeptRefused => "the database kept refusing rows of the batch",
            Conflict::HoldNotOpen => "a hold resolved by this batch was not open",
            Conflict::HeadMoved => "the journal head moved during the batch",
            Conflict::KeyKeptChanging => "an idempotency key kept changing while it was claimed",
            Conflict::KeepsChanging(Kind::Order) => "the order keeps changing; retry",
            Conflict::KeepsChanging(Kind::Payment) => "the payment keeps changing; retry",
            Conflict::KeepsChanging(Kind::Refund) => "the refund keeps changing; retry",
            Conflict::KeepsChanging(Kind::Dispute) => "the dispute keeps changing; retry",
            Conflict::KeepsChanging(Kind::GiftCard) => "the gift card keeps changing; retry",
            Conflict::KeepsChanging(Kind::Coupon) => "the coupon keeps changing; retry",
            Conflict::KeepsChanging(Kind::Parcel) => "the parcel keeps changing; retry",
            Conflict::EndpointChanged => "the endpoint changed meanwhile; retry",
            Conflict::CheckoutRetried => "the checkout is being retried concurrently; retry",
            Conflict::ChainMoved => "another message was added to the order first; retry",
            Conflict::ChainKeepsMoving => "messages keep arriving on the order; retry",
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}
