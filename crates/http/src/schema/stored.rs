//! The stored-value objects as the API documents them: a buyer's balance and its history, the
//! platform's adjustments, gift cards (a batch as issued, a card, a code's check) and coupons.

#![allow(dead_code)] // these types describe JSON; they are never built

use utoipa::ToSchema;

/// A buyer's balance in one currency.
#[derive(ToSchema)]
pub struct BalanceAmount {
    currency: String,
    /// In minor units; never below zero.
    amount: i64,
}

/// One line of a balance's history: what one transaction did to it.
#[derive(ToSchema)]
pub struct BalanceTransaction {
    /// `<journal seq>.<posting index>`: the cursor of the next page.
    id: String,
    /// Always "balance_transaction".
    object: String,
    /// The ledger transaction.
    transaction: String,
    created: i64,
    /// Added (positive) or taken (negative), in minor units.
    amount: i64,
    currency: String,
}

/// A page of one currency's history, newest first.
#[derive(ToSchema)]
pub struct BalanceHistory {
    object: String,
    currency: Option<String>,
    has_more: bool,
    data: Vec<BalanceTransaction>,
}

/// A buyer's balance: money the platform holds for the buyer, per currency.
#[derive(ToSchema)]
pub struct Balance {
    /// Always "balance".
    object: String,
    buyer: String,
    livemode: bool,
    balances: Vec<BalanceAmount>,
    history: BalanceHistory,
}

/// An operator's adjustment of a buyer's balance.
#[derive(ToSchema)]
pub struct BalanceAdjustment {
    /// The ledger transaction's id.
    id: String,
    /// Always "balance_adjustment".
    object: String,
    buyer: String,
    livemode: bool,
    /// Added (positive) or taken (negative), in minor units.
    amount: i64,
    currency: String,
    reason: String,
    created: i64,
}

/// A coupon. Times are Unix seconds.
#[derive(ToSchema)]
pub struct Coupon {
    id: String,
    /// Always "coupon".
    object: String,
    code: String,
    livemode: bool,
    /// platform or seller
    funded_by: String,
    /// The seller whose orders it applies to (none: the whole cart).
    seller: Option<String>,
    /// fixed or percent
    r#type: String,
    amount_off: Option<i64>,
    percent_off_bps: Option<u32>,
    currency: String,
    min_spend: i64,
    starts: i64,
    ends: i64,
    per_buyer: u32,
    total_limit: u32,
    /// Uses not given back.
    used: u32,
    created: i64,
}

/// Who sold a gift card, and when.
#[derive(ToSchema)]
pub struct GiftCardActivation {
    retailer: String,
    till_reference: String,
    at: i64,
}

/// Into whose balance a gift card went, and when.
#[derive(ToSchema)]
pub struct GiftCardRedemption {
    buyer: String,
    at: i64,
}

/// A gift card, never with its code.
#[derive(ToSchema)]
pub struct GiftCard {
    id: String,
    /// Always "gift_card".
    object: String,
    batch: String,
    livemode: bool,
    /// Its value, in minor units.
    amount: i64,
    currency: String,
    /// What it holds for its bearer now: its value while active, else 0.
    balance: i64,
    /// The code's last four symbols.
    code_hint: String,
    /// inactive (not sold yet), active, redeemed or expired.
    status: String,
    created: i64,
    expires: i64,
    activation: Option<GiftCardActivation>,
    redemption: Option<GiftCardRedemption>,
}

/// An issued card with its code (shown once).
#[derive(ToSchema)]
pub struct IssuedGiftCard {
    #[serde(flatten)]
    card: GiftCard,
    /// The code, grouped for reading; null in a replay.
    code: Option<String>,
}

/// A batch of issued cards.
#[derive(ToSchema)]
pub struct GiftCardBatch {
    id: String,
    /// Always "gift_card_batch".
    object: String,
    livemode: bool,
    count: u32,
    amount: i64,
    currency: String,
    created: i64,
    expires: i64,
    /// Whether the cards carry their codes (only the first answer does).
    codes_shown: bool,
    cards: Vec<IssuedGiftCard>,
}

/// What a code is, without redeeming it.
#[derive(ToSchema)]
pub struct GiftCardCheck {
    /// Always "gift_card_check".
    object: String,
    /// Always true: an unknown code is refused (`gift_card_not_found`).
    genuine: bool,
    active: bool,
    /// inactive, active, redeemed or expired.
    status: String,
    amount: i64,
    /// What it holds now: its value while active, else 0.
    balance: i64,
    currency: String,
    code_hint: String,
    expires: i64,
}
