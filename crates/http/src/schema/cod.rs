//! The cash-on-delivery objects as the API documents them: the eligibility verdict, the terms
//! a checkout fixed, parcels and their carriers' events, and phone verifications.

#![allow(dead_code)] // these types describe JSON; they are never built

use utoipa::ToSchema;

/// An amount of money.
#[derive(ToSchema)]
pub struct CodFee {
    amount: i64,
    currency: String,
}

/// One rule's answer.
#[derive(ToSchema)]
pub struct CodRuleResult {
    /// seller_opted_in, country_supported, region_supported, carrier_available,
    /// category_allowed, value_in_band, first_order_cap, refusal_history or phone_verified.
    rule: String,
    passed: bool,
    /// Why it passed or failed, e.g. below_minimum, too_many_refusals, phone_not_verified.
    reason: String,
    /// The values the rule compared, by name (numbers in minor units).
    #[schema(value_type = Object)]
    compared: serde_json::Value,
}

/// Whether cash on delivery is offered, and every rule's result: never a bare no.
#[derive(ToSchema)]
pub struct CodEligibility {
    /// Always "cash_on_delivery_eligibility".
    object: String,
    offered: bool,
    /// The fee the buyer pays at the door, when offered.
    fee: Option<CodFee>,
    /// The carrier that would collect, when offered.
    carrier: Option<String>,
    /// When the country's rules in force took effect (Unix seconds).
    rules_effective: Option<i64>,
    rules: Vec<CodRuleResult>,
}

/// What a cash-on-delivery checkout fixed.
#[derive(ToSchema)]
pub struct CodTerms {
    fee: i64,
    /// What the carrier collects at the door: the order and the fee.
    amount_at_door: i64,
    /// The buyer confirms by then (Unix seconds), or the order is cancelled.
    confirm_by: i64,
    eligibility: CodEligibility,
}

/// A remittance that paid a parcel.
#[derive(ToSchema)]
pub struct ParcelRemittance {
    batch: String,
    remitted: i64,
}

/// A cash-on-delivery parcel. Times are Unix seconds.
#[derive(ToSchema)]
pub struct Parcel {
    id: String,
    /// Always "parcel".
    object: String,
    created: i64,
    livemode: bool,
    metadata: serde_json::Value,
    /// in_transit, out_for_delivery, collected, refused or undeliverable.
    status: String,
    carrier: String,
    tracking_number: String,
    order: String,
    payment: String,
    /// What the carrier collects at the door (the fee included), in minor units.
    amount_to_collect: i64,
    fee: i64,
    currency: String,
    /// What a return to origin costs, and who pays it (buyer, seller or platform).
    return_cost: i64,
    return_cost_payer: String,
    out_for_delivery: Option<i64>,
    /// When it was collected or came back.
    ended: Option<i64>,
    remittance: Option<ParcelRemittance>,
    /// The latest remittance that took back an earlier payment for the parcel (`remitted` is
    /// when): its cash is owed by the carrier again.
    reversal: Option<ParcelRemittance>,
}

/// A carrier's event as taken.
#[derive(ToSchema)]
pub struct ParcelEvent {
    /// The carrier's own id of the event.
    id: String,
    /// Always "parcel_event".
    object: String,
    livemode: bool,
    event: String,
    occurred: i64,
    /// applied; ignored (already known, or older than what is known); or duplicate_of_applied
    /// / duplicate_of_ignored for an id taken before (nothing changed).
    outcome: String,
    parcel: Parcel,
}

/// A one-time code sent to verify a buyer's phone (never the code itself).
#[derive(ToSchema)]
pub struct PhoneVerification {
    id: String,
    /// Always "phone_verification".
    object: String,
    created: i64,
    livemode: bool,
    buyer: String,
    phone: String,
    /// pending or verified.
    status: String,
    expires_at: i64,
    attempts: i64,
}

/// A remittance: the carrier's batch as imported, with its report.
#[derive(ToSchema)]
pub struct Remittance {
    id: String,
    /// Always "remittance".
    object: String,
    livemode: bool,
    created: i64,
    /// importing or done.
    status: Option<String>,
    carrier: String,
    batch: Option<String>,
    file_sha256: String,
    currency: Option<String>,
    bank_reference: Option<String>,
    /// Lines, gross, deductions (by kind), net, the bank credit and the file's own total row.
    #[schema(value_type = Object)]
    totals: Option<serde_json::Value>,
    /// Per class (matched, short_paid, over_paid, duplicate, unknown_parcel, remitted_but_rto,
    /// summary_row, not_paid, reversal, piece): lines, reported net and summed delta.
    #[schema(value_type = Object)]
    classes: Option<serde_json::Value>,
    /// Whether gross − deductions = net = the file's stated net (and the bank credit), with
    /// each difference.
    #[schema(value_type = Object)]
    identity: Option<serde_json::Value>,
    /// The carrier's collections by class, with the parcels (at most 1000): those not in the
    /// file, missing_from_file (past the cycle) or pending_next_cycle; those it names without
    /// paying, already_settled (an earlier batch paid them) or reversed (it takes that payment
    /// back, and the carrier owes the cash again).
    #[schema(value_type = Object)]
    collections: Option<serde_json::Value>,
    /// The same file was imported before: nothing was posted now.
    already_imported: Option<bool>,
    /// Lines posted by this import.
    posted_now: Option<i64>,
    chunks_done: Option<i64>,
    #[schema(value_type = Vec<Object>)]
    lines: Option<Vec<serde_json::Value>>,
}

/// One line of a remittance as classified.
#[derive(ToSchema)]
pub struct RemittanceLine {
    /// Always "remittance_line".
    object: String,
    line: i64,
    tracking: String,
    parcel: Option<String>,
    class: String,
    expected_net: Option<i64>,
    reported_net: i64,
    /// reported − expected, signed.
    delta: i64,
    /// Itemised by kind: freight, cod_fee, early_cod_fee, rto_charge, weight_discrepancy,
    /// tax_on_fees, withholding_tax.
    #[schema(value_type = Object)]
    deductions: serde_json::Value,
    /// awb_mangled, leading_zero_lost, excess_precision, duplicate_in_file,
    /// duplicate_across_batches, deduction_above_rate_card, nothing_to_reverse,
    /// reversal_amount_mismatch.
    warnings: Vec<String>,
    /// When the platform accepted the line as the carrier paid it (Unix seconds); its note and
    /// the key it used are shown to the platform only.
    accepted: Option<i64>,
    accepted_note: Option<String>,
    accepted_by: Option<String>,
}

#[derive(ToSchema)]
pub struct RemittanceLineList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<RemittanceLine>,
}
