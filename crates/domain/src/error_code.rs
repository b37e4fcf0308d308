//! Every error code the API can answer, declared once: its snake_case name, its HTTP status and
//! its error type. The one declaration below generates [`ErrorCode`] and its table, so a code
//! has one meaning, a code that is not declared does not compile, and the API's error catalog
//! (and its OpenAPI enum) is this list.

use std::fmt;

/// The `type` of an error answer: who is to act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The request is wrong, or not allowed in the object's state.
    InvalidRequest,
    /// The card was refused or is malformed.
    Card,
    /// No valid API key.
    Authentication,
    /// The key may not do this.
    Permission,
    /// The idempotency key is in use or was used for another request.
    Idempotency,
    /// Holdback's side: a conflict to retry, or an internal error.
    Api,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::InvalidRequest,
        ErrorKind::Card,
        ErrorKind::Authentication,
        ErrorKind::Permission,
        ErrorKind::Idempotency,
        ErrorKind::Api,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Card => "card_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::Idempotency => "idempotency_error",
            ErrorKind::Api => "api_error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! error_codes {
    ($($variant:ident = $code:literal, $status:literal, $kind:ident;)*) => {
        /// A stable error code of the API. See the module's notes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            /// Every code, in the order of the declaration.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The snake_case code the API answers.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status of an answer with this code.
            pub const fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The error's `type`.
            pub const fn kind(self) -> ErrorKind {
                match self { $(ErrorCode::$variant => ErrorKind::$kind,)* }
            }

            /// The code named `code`, for a code stored as text (a failed payment's code), never
            /// for one in source, which names its variant. A code string declared twice is an
            /// unreachable arm here, refused at compile time.
            #[deny(unreachable_patterns)]
            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code {
                    $($code => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    // the request itself
    InvalidJson = "invalid_json", 400, InvalidRequest;
    RequestTooLarge = "request_too_large", 413, InvalidRequest;
    UnsupportedMediaType = "unsupported_media_type", 415, InvalidRequest;
    RequestHeaderTooLarge = "request_header_too_large", 431, InvalidRequest;
    UnknownParameter = "unknown_parameter", 400, InvalidRequest;
    ParameterMissing = "parameter_missing", 400, InvalidRequest;
    ParameterInvalid = "parameter_invalid", 400, InvalidRequest;
    InvalidId = "invalid_id", 400, InvalidRequest;
    RouteNotFound = "route_not_found", 404, InvalidRequest;
    ResourceMissing = "resource_missing", 404, InvalidRequest;
    // money
    UnknownCurrency = "unknown_currency", 400, InvalidRequest;
    MalformedAmount = "malformed_amount", 400, InvalidRequest;
    ExcessPrecision = "excess_precision", 400, InvalidRequest;
    CurrencyMismatch = "currency_mismatch", 400, InvalidRequest;
    AmountOverflow = "amount_overflow", 400, InvalidRequest;
    NegativeResult = "negative_result", 400, InvalidRequest;
    // checkout
    EmptyCart = "empty_cart", 400, InvalidRequest;
    TooManyItems = "too_many_items", 400, InvalidRequest;
    InvalidItem = "invalid_item", 400, InvalidRequest;
    UnknownProduct = "unknown_product", 400, InvalidRequest;
    UnknownShippingMethod = "unknown_shipping_method", 400, InvalidRequest;
    CurrencyNotSupported = "currency_not_supported", 400, InvalidRequest;
    TooManySellers = "too_many_sellers", 400, InvalidRequest;
    AmountTooLarge = "amount_too_large", 400, InvalidRequest;
    LivemodeUnavailable = "livemode_unavailable", 400, InvalidRequest;
    StoredValueExceedsTotal = "stored_value_exceeds_total", 400, InvalidRequest;
    TooManyPaymentMethods = "too_many_payment_methods", 400, InvalidRequest;
    PaymentMethodMissing = "payment_method_missing", 400, InvalidRequest;
    // payments and refunds
    PaymentProcessing = "payment_processing", 409, Api;
    PaymentFailed = "payment_failed", 402, Card;
    ChargeNotFound = "charge_not_found", 402, Card;
    PaymentNotProcessing = "payment_not_processing", 409, InvalidRequest;
    PaymentNotCaptured = "payment_not_captured", 409, InvalidRequest;
    NoSuchTender = "no_such_tender", 400, InvalidRequest;
    PlansDoNotAddUp = "plans_do_not_add_up", 400, InvalidRequest;
    NotThisPaymentsOrder = "not_this_payments_order", 400, InvalidRequest;
    RefundExceedsPaid = "refund_exceeds_paid", 400, InvalidRequest;
    RefundNotPending = "refund_not_pending", 409, InvalidRequest;
    RefundNotFailed = "refund_not_failed", 409, InvalidRequest;
    // parties
    InvalidPartyId = "invalid_party_id", 400, InvalidRequest;
    InvalidCountry = "invalid_country", 400, InvalidRequest;
    InvalidRegion = "invalid_region", 400, InvalidRequest;
    InvalidMetadata = "invalid_metadata", 400, InvalidRequest;
    ShipByDaysOutOfRange = "ship_by_days_out_of_range", 400, InvalidRequest;
    InvalidCommission = "invalid_commission", 400, InvalidRequest;
    PartyExists = "party_exists", 409, InvalidRequest;
    UnknownParty = "unknown_party", 400, InvalidRequest;
    // webhook endpoints
    EndpointAddressNotAllowed = "endpoint_address_not_allowed", 400, InvalidRequest;
    WebhookEndpointDeleted = "webhook_endpoint_deleted", 409, InvalidRequest;
    // evidence files
    EvidenceTypeNotAllowed = "evidence_type_not_allowed", 400, InvalidRequest;
    EvidenceTooLarge = "evidence_too_large", 413, InvalidRequest;
    EvidenceLimitReached = "evidence_limit_reached", 409, InvalidRequest;
    // cards
    InvalidCardNumber = "invalid_card_number", 400, Card;
    InvalidExpiry = "invalid_expiry", 400, Card;
    InvalidCvc = "invalid_cvc", 400, Card;
    ExpiredCard = "expired_card", 402, Card;
    CardDeclined = "card_declined", 402, Card;
    InsufficientFunds = "insufficient_funds", 402, Card;
    IncorrectCvc = "incorrect_cvc", 402, Card;
    ProcessingError = "processing_error", 402, Card;
    LiveCardInTestMode = "live_card_in_test_mode", 402, Card;
    // who may do what
    InvalidApiKey = "invalid_api_key", 401, Authentication;
    SignatureInvalid = "signature_invalid", 401, Authentication;
    NotPermitted = "not_permitted", 403, Permission;
    // order rules: the order is not in a state that allows this
    OrderNotShipped = "order_not_shipped", 409, InvalidRequest;
    OrderAlreadyShipped = "order_already_shipped", 409, InvalidRequest;
    OrderNotDelivered = "order_not_delivered", 409, InvalidRequest;
    OrderAlreadyDelivered = "order_already_delivered", 409, InvalidRequest;
    HoldAlreadyReleased = "hold_already_released", 409, InvalidRequest;
    OrderCancelled = "order_cancelled", 409, InvalidRequest;
    RefundExceedsHeld = "refund_exceeds_held", 400, InvalidRequest;
    NoCancelRequest = "no_cancel_request", 409, InvalidRequest;
    ShipByPassed = "ship_by_passed", 409, InvalidRequest;
    CancelAnswerLate = "cancel_answer_late", 409, InvalidRequest;
    CancelAlreadyRequested = "cancel_already_requested", 409, InvalidRequest;
    ProtectionEnded = "protection_ended", 409, InvalidRequest;
    ExtensionTooEarly = "extension_too_early", 409, InvalidRequest;
    ExtensionAlreadyUsed = "extension_already_used", 409, InvalidRequest;
    ExtensionOutOfRange = "extension_out_of_range", 400, InvalidRequest;
    NoExtensionRequest = "no_extension_request", 409, InvalidRequest;
    TimerNotDue = "timer_not_due", 409, InvalidRequest;
    // an order's messages
    MessageBodyEmpty = "message_body_empty", 400, InvalidRequest;
    MessageBodyTooLong = "message_body_too_long", 400, InvalidRequest;
    MessageBodyInvalidCharacter = "message_body_invalid_character", 400, InvalidRequest;
    MessageFilesInvalid = "message_files_invalid", 400, InvalidRequest;
    NonDeliveryClaimOpen = "non_delivery_claim_open", 409, InvalidRequest;
    OrderAwaitingPayment = "order_awaiting_payment", 409, InvalidRequest;
    PaymentNotAwaitingMoney = "payment_not_awaiting_money", 409, InvalidRequest;
    OrderNotAwaitingPayment = "order_not_awaiting_payment", 409, InvalidRequest;
    // disputes
    DisputeOpen = "dispute_open", 409, InvalidRequest;
    DisputeAlreadyOpen = "dispute_already_open", 409, InvalidRequest;
    NoOpenDispute = "no_open_dispute", 409, InvalidRequest;
    DisputeTooEarly = "dispute_too_early", 409, InvalidRequest;
    DisputeWindowClosed = "dispute_window_closed", 409, InvalidRequest;
    ReleasedOrderCounterfeitOnly = "released_order_counterfeit_only", 409, InvalidRequest;
    OutcomeExceedsHeld = "outcome_exceeds_held", 400, InvalidRequest;
    CounterfeitExceedsLimit = "counterfeit_exceeds_limit", 400, InvalidRequest;
    DisputeClosed = "dispute_closed", 409, InvalidRequest;
    DisputeNotNegotiating = "dispute_not_negotiating", 409, InvalidRequest;
    DisputeAlreadyAnswered = "dispute_already_answered", 409, InvalidRequest;
    DisputeAnswerLate = "dispute_answer_late", 409, InvalidRequest;
    NoCounterOffer = "no_counter_offer", 409, InvalidRequest;
    EscalationTooEarly = "escalation_too_early", 409, InvalidRequest;
    DisputeNotInMediation = "dispute_not_in_mediation", 409, InvalidRequest;
    DecisionReasonMissing = "decision_reason_missing", 400, InvalidRequest;
    NoReturnExpected = "no_return_expected", 409, InvalidRequest;
    ReturnShipByPassed = "return_ship_by_passed", 409, InvalidRequest;
    ReturnNotShipped = "return_not_shipped", 409, InvalidRequest;
    ReturnAlreadyDelivered = "return_already_delivered", 409, InvalidRequest;
    // coupons
    CouponNotFound = "coupon_not_found", 404, InvalidRequest;
    CouponNotStarted = "coupon_not_started", 400, InvalidRequest;
    CouponExpired = "coupon_expired", 400, InvalidRequest;
    CouponExhausted = "coupon_exhausted", 409, InvalidRequest;
    CouponBuyerLimit = "coupon_buyer_limit", 400, InvalidRequest;
    CouponBelowMinimum = "coupon_below_minimum", 400, InvalidRequest;
    CouponOtherSeller = "coupon_other_seller", 400, InvalidRequest;
    CouponsDoNotStack = "coupons_do_not_stack", 400, InvalidRequest;
    CouponCodeTaken = "coupon_code_taken", 409, InvalidRequest;
    CouponDiscountInvalid = "coupon_discount_invalid", 400, InvalidRequest;
    CouponDatesInvalid = "coupon_dates_invalid", 400, InvalidRequest;
    CouponSellerMissing = "coupon_seller_missing", 400, InvalidRequest;
    // gift cards
    GiftCardCodeMalformed = "gift_card_code_malformed", 400, InvalidRequest;
    GiftCardCheckDigit = "gift_card_check_digit", 400, InvalidRequest;
    GiftCardNotFound = "gift_card_not_found", 404, InvalidRequest;
    GiftCardInactive = "gift_card_inactive", 409, InvalidRequest;
    GiftCardAlreadyActive = "gift_card_already_active", 409, InvalidRequest;
    GiftCardRedeemed = "gift_card_redeemed", 409, InvalidRequest;
    GiftCardExpired = "gift_card_expired", 409, InvalidRequest;
    GiftCardAmountMismatch = "gift_card_amount_mismatch", 400, InvalidRequest;
    RedemptionLocked = "redemption_locked", 429, InvalidRequest;
    RateLimited = "rate_limited", 429, InvalidRequest;
    // cash on delivery
    OrderAwaitingRemittance = "order_awaiting_remittance", 409, InvalidRequest;
    OrderNotAwaitingRemittance = "order_not_awaiting_remittance", 409, InvalidRequest;
    NotCashOnDelivery = "not_cash_on_delivery", 409, InvalidRequest;
    CashNotCollected = "cash_not_collected", 409, InvalidRequest;
    CodNotOffered = "cash_on_delivery_not_offered", 400, InvalidRequest;
    CodOneSeller = "cash_on_delivery_one_seller", 400, InvalidRequest;
    ConfirmationExpired = "confirmation_expired", 409, InvalidRequest;
    CarrierCannotCollect = "carrier_cannot_collect", 400, InvalidRequest;
    CarrierRequired = "carrier_required", 400, InvalidRequest;
    TrackingNumberInUse = "tracking_number_in_use", 409, InvalidRequest;
    ParcelNotFound = "parcel_not_found", 404, InvalidRequest;
    ParcelAlreadyFinal = "parcel_already_final", 409, InvalidRequest;
    CollectionAmountMismatch = "collection_amount_mismatch", 400, InvalidRequest;
    VerificationNotFound = "verification_not_found", 404, InvalidRequest;
    VerificationCodeInvalid = "verification_code_invalid", 400, InvalidRequest;
    VerificationCodeExpired = "verification_code_expired", 409, InvalidRequest;
    VerificationCodeUsed = "verification_code_used", 409, InvalidRequest;
    VerificationAttemptsExceeded = "verification_attempts_exceeded", 429, InvalidRequest;
    FileEncodingInvalid = "file_encoding_invalid", 400, InvalidRequest;
    ReferenceInExponentForm = "reference_in_exponent_form", 400, InvalidRequest;
    DateAmbiguous = "date_ambiguous", 400, InvalidRequest;
    RemittanceFileInvalid = "remittance_file_invalid", 400, InvalidRequest;
    RemittanceBatchConflict = "remittance_batch_conflict", 409, InvalidRequest;
    RemittanceLineNotAcceptable = "remittance_line_not_acceptable", 409, InvalidRequest;
    CarrierProfileNotFound = "carrier_profile_not_found", 404, InvalidRequest;
    // ledger rules that reach the API
    UnknownAccountKind = "unknown_account_kind", 400, InvalidRequest;
    EmptyTransaction = "empty_transaction", 400, InvalidRequest;
    TooManyTransfers = "too_many_transfers", 400, InvalidRequest;
    ZeroAmount = "zero_amount", 400, InvalidRequest;
    SameAccount = "same_account", 400, InvalidRequest;
    Unbalanced = "unbalanced", 400, InvalidRequest;
    UnknownAccount = "unknown_account", 400, InvalidRequest;
    CrossCurrency = "cross_currency", 400, InvalidRequest;
    BalanceInsufficient = "balance_insufficient", 400, InvalidRequest;
    BalanceOverflow = "balance_overflow", 400, InvalidRequest;
    TransactionIdConflict = "transaction_id_conflict", 409, InvalidRequest;
    AccountConflict = "account_conflict", 409, InvalidRequest;
    HoldExists = "hold_exists", 409, InvalidRequest;
    UnknownHold = "unknown_hold", 400, InvalidRequest;
    HoldAlreadyResolved = "hold_already_resolved", 409, InvalidRequest;
    PostExceedsHold = "post_exceeds_hold", 400, InvalidRequest;
    // idempotency and concurrency
    IdempotencyKeyInUse = "idempotency_key_in_use", 409, Idempotency;
    IdempotencyKeyReused = "idempotency_key_reused", 422, Idempotency;
    Conflict = "conflict", 409, Api;
    // the store: a value the request carried cannot be stored (a NUL byte in text, …)
    RowRefused = "row_refused", 422, InvalidRequest;
    InternalError = "internal_error", 500, Api;
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{ErrorCode, ErrorKind};

    #[test]
    fn codes_are_unique_snake_case_with_an_error_status() {
        let mut codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n, "a code is declared twice");
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(
                !s.is_empty()
                    && !s.starts_with('_')
                    && !s.ends_with('_')
                    && !s.contains("__")
                    && s.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{s} is not snake_case"
            );
            assert!((400..600).contains(&code.status()), "{s}");
            assert_eq!(ErrorCode::parse(s), Some(*code));
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn every_type_is_used_and_card_errors_are_4xx() {
        for kind in ErrorKind::ALL {
            assert!(
                ErrorCode::ALL.iter().any(|c| c.kind() == kind),
                "{kind} has no code"
            );
        }
        for code in ErrorCode::ALL
            .iter()
            .filter(|c| c.kind() == ErrorKind::Card)
        {
            assert!((400..500).contains(&code.status()), "{code}");
        }
    }
}
