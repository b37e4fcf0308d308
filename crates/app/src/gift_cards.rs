//! Gift cards: issued in batches by the platform, sold for cash by retailers (activation),
//! checked by anyone, redeemed into a buyer's balance, expired into breakage.
//!
//! A code is shown once, in the answer that issues it; holdback keeps its keyed hash (HMAC-SHA256
//! under the mode's gift-card key) and its last four symbols. Typed codes are looked up by that
//! hash, so a lookup is one index probe whatever the number of cards.
//!
//! Guessing is held off three ways: every wrong code (malformed, a wrong check symbol, or no such
//! card) counts against the caller, and [`GiftCardPolicy::max_failures`] in a row lock it out for
//! [`GiftCardPolicy::lockout_ms`]: a buyer's redemptions and the client's (API key's) checks,
//! activations included. Checks are also limited per client per minute. Every refusal is
//! counted by reason for `/metrics`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use holdback_domain::gift_card::{
    self, GiftCard, GiftCardCommand, GiftCardDecision, GiftCardEvent, GiftCardState,
};
use holdback_domain::party::PartyKind;
use holdback_domain::process::{Kind, Versioned};
use holdback_domain::{ErrorCode, Money, TxId};
use holdback_store::{Conflict, NewEvent, Unit};
use serde_json::{Value, json};

use crate::orders::Idem;
use crate::webhooks::hmac_hex;
use crate::{App, AppError, Principal, Role, parties, process, views};

/// The most cards one batch issues.
pub const MAX_BATCH: u32 = 1_000;

/// How gift cards are issued and guarded.
#[derive(Debug, Clone)]
pub struct GiftCardPolicy {
    /// How long an issued card stays valid (365 days).
    pub valid_ms: i64,
    /// Wrong codes in a row before the caller is locked out (5).
    pub max_failures: i64,
    /// How long a lockout lasts (30 minutes).
    pub lockout_ms: i64,
    /// Checks one client may make per minute (30).
    pub checks_per_minute: u32,
    /// The keys codes are hashed under, per mode. Test mode always has one; live mode issues
    /// and takes cards only when its own is configured.
    pub test_key: String,
    pub live_key: Option<String>,
}

/// The key test-mode codes are hashed under unless another is configured.
pub const TEST_KEY: &str = "holdback_test_gift_card_key";

impl Default for GiftCardPolicy {
    fn default() -> Self {
        GiftCardPolicy {
            valid_ms: 365 * 86_400_000,
            max_failures: 5,
            lockout_ms: 30 * 60_000,
            checks_per_minute: 30,
            test_key: TEST_KEY.into(),
            live_key: None,
        }
    }
}

/// Why a code was refused, as counted for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Malformed,
    CheckDigit,
    NotFound,
    Locked,
    RateLimited,
    Inactive,
    Redeemed,
    Expired,
    AlreadyActive,
    AmountMismatch,
}

impl Failure {
    pub const ALL: [Failure; 10] = [
        Failure::Malformed,
        Failure::CheckDigit,
        Failure::NotFound,
        Failure::Locked,
        Failure::RateLimited,
        Failure::Inactive,
        Failure::Redeemed,
        Failure::Expired,
        Failure::AlreadyActive,
        Failure::AmountMismatch,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Failure::Malformed => "malformed",
            Failure::CheckDigit => "check_digit",
            Failure::NotFound => "not_found",
            Failure::Locked => "locked",
            Failure::RateLimited => "rate_limited",
            Failure::Inactive => "inactive",
            Failure::Redeemed => "redeemed",
            Failure::Expired => "expired",
            Failure::AlreadyActive => "already_active",
            Failure::AmountMismatch => "amount_mismatch",
        }
    }

    fn of(code: ErrorCode) -> Option<Failure> {
        Some(match code {
            ErrorCode::GiftCardCodeMalformed => Failure::Malformed,
            ErrorCode::GiftCardCheckDigit => Failure::CheckDigit,
            ErrorCode::GiftCardNotFound => Failure::NotFound,
            ErrorCode::RedemptionLocked => Failure::Locked,
            ErrorCode::RateLimited => Failure::RateLimited,
            ErrorCode::GiftCardInactive => Failure::Inactive,
            ErrorCode::GiftCardRedeemed => Failure::Redeemed,
            ErrorCode::GiftCardExpired => Failure::Expired,
            ErrorCode::GiftCardAlreadyActive => Failure::AlreadyActive,
            ErrorCode::GiftCardAmountMismatch => Failure::AmountMismatch,
            _ => return None,
        })
    }
}

/// This node's refusals of gift-card codes by reason, and its clients' checks per minute.
#[derive(Debug, Default)]
pub struct Guards {
    failures: [AtomicU64; Failure::ALL.len()],
    /// client → (minute, checks in it)
    checks: Mutex<HashMap<String, (i64, u32)>>,
}

impl Guards {
    /// Refusals so far, by reason.
    pub fn failures(&self) -> Vec<(Failure, u64)> {
        Failure::ALL
            .iter()
            .zip(&self.failures)
            .map(|(f, n)| (*f, n.load(Ordering::Relaxed)))
            .collect()
    }

    fn count(&self, e: &AppError) {
        if let AppError::Rejected { code, .. } = e
            && let Some(f) = Failure::of(*code)
            && let Some(i) = Failure::ALL.iter().position(|x| *x == f)
        {
            self.failures[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes one of `client`'s checks this minute; false when it has none left.
    fn take_check(&self, client: &str, now: i64, per_minute: u32) -> bool {
        let minute = now.div_euclid(60_000);
        let Ok(mut map) = self.checks.lock() else {
            return false;
        };
        if map.len() > 100_000 {
            map.retain(|_, (m, _)| *m == minute);
        }
        let entry = map.entry(client.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= per_minute {
            return false;
        }
        entry.1 += 1;
        true
    }
}

fn key(app: &App, livemode: bool) -> Result<&str, AppError> {
    let p = &app.policy.gift_cards;
    if !livemode {
        return Ok(&p.test_key);
    }
    p.live_key.as_deref().ok_or_else(|| {
        AppError::rejected(
            ErrorCode::LivemodeUnavailable,
            "no live gift-card key is configured: live gift cards are refused",
        )
    })
}

/// The keyed hash a canonical code is stored and looked up by.
pub fn code_hash(key: &str, livemode: bool, canonical: &str) -> String {
    let mode = if livemode { "live" } else { "test" };
    hmac_hex(key, &[mode.as_bytes(), b":", canonical.as_bytes()])
}

/// A new code from the operating system's generator (95 random bits).
#[allow(clippy::disallowed_methods)]
pub fn new_code() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    // bytes 0–5 of each are random (the version and variant bits sit in bytes 6 and 8)
    let mut bytes = [0u8; gift_card::RANDOM_BYTES];
    bytes[..6].copy_from_slice(&a.as_bytes()[..6]);
    bytes[6..].copy_from_slice(&b.as_bytes()[..6]);
    gift_card::code_from_random(&bytes)
}

/// A card as the API shows it: never its code, only the code's last four symbols.
pub fn view(c: &GiftCard) -> Value {
    let activation = c.state.activation().map(|a| {
        json!({
            "retailer": a.retailer,
            "till_reference": a.till,
            "at": a.at.div_euclid(1000),
        })
    });
    let redeemed = match &c.state {
        GiftCardState::Redeemed { buyer, at, .. } => {
            Some(json!({"buyer": buyer, "at": at.div_euclid(1000)}))
        }
        _ => None,
    };
    json!({
        "id": c.id,
        "object": "gift_card",
        "batch": c.batch,
        "livemode": c.livemode,
        "amount": c.value.minor(),
        "currency": views::currency(c.value.currency()),
        "balance": c.balance(),
        "code_hint": c.hint,
        "status": c.state.code(),
        "created": c.created_at.div_euclid(1000),
        "expires": c.expires_at.div_euclid(1000),
        "activation": activation,
        "redemption": redeemed,
    })
}

/// Issues `count` cards worth `value` each (the platform): the answer carries every code, once.
/// A replay of the request (its Idempotency-Key) answers the batch without its codes.
pub async fn issue(
    app: &App,
    principal: &Principal,
    count: u32,
    value: Money,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    if principal.role != Role::Platform {
        return Err(AppError::rejected(
            ErrorCode::NotPermitted,
            "only the platform issues gift cards",
        ));
    }
    if count == 0 || count > MAX_BATCH {
        return Err(AppError::param(
            ErrorCode::ParameterInvalid,
            "count",
            format!("a batch is 1 to {MAX_BATCH} cards"),
        ));
    }
    if value.minor() <= 0 {
        return Err(AppError::param(
            ErrorCode::ZeroAmount,
            "amount",
            "a gift card is worth more than zero",
        ));
    }
    let key = key(app, principal.livemode)?;
    let now = app.clock.now_ms();
    let batch = app.ids.next("gcb");
    let expires_at = now.saturating_add(app.policy.gift_cards.valid_ms);
    let mut cards = Vec::with_capacity(count as usize);
    let mut shown = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let code = new_code();
        let canonical = gift_card::normalize(&code)
            .map_err(|e| AppError::Internal(format!("a new code does not read back: {e}")))?;
        let card = GiftCard {
            id: app.ids.next("gc"),
            batch: batch.clone(),
            livemode: principal.livemode,
            value,
            code_hash: code_hash(key, principal.livemode, &canonical),
            hint: gift_card::hint(&canonical),
            created_at: now,
            expires_at,
            state: GiftCardState::Issued,
        };
        shown.push((view(&card), code));
        cards.push(Versioned {
            value: card,
            expected_version: 0,
        });
    }
    let body = |codes: bool| {
        let data: Vec<Value> = shown
            .iter()
            .map(|(v, code)| {
                let mut v = v.clone();
                v["code"] = if codes { json!(code) } else { Value::Null };
                v
            })
            .collect();
        json!({
            "id": batch,
            "object": "gift_card_batch",
            "livemode": principal.livemode,
            "count": count,
            "amount": value.minor(),
            "currency": views::currency(value.currency()),
            "created": now.div_euclid(1000),
            "expires": expires_at.div_euclid(1000),
            "codes_shown": codes,
            "cards": data,
        })
    };
    let event_id = app.ids.next("evt");
    let mut summary = body(false);
    summary
        .as_object_mut()
        .map(|o| o.remove("cards"))
        .unwrap_or_default();
    let payload = views::new_event(
        &event_id,
        "gift_card_batch.issued",
        now,
        principal.livemode,
        summary,
    );
    let unit = Unit {
        gift_cards: cards,
        events: vec![NewEvent {
            id: event_id,
            kind: "gift_card_batch.issued".into(),
            object_id: batch.clone(),
            payload: payload.to_string(),
            created_at: now,
            livemode: principal.livemode,
        }],
        // the stored answer a retry replays: the codes are not in it
        idempotency: idem.map(|i| i.record(201, &body(false), now)),
        ..Unit::default()
    };
    app.ledger.commit(unit).await?;
    Ok(body(true))
}

/// Whose wrong codes a request counts against: the client always; a buyer's redemption too.
struct Subjects {
    client: String,
    redeemer: Option<String>,
}

impl Subjects {
    fn of(principal: &Principal, redeemer: Option<&str>) -> Subjects {
        let mode = if principal.livemode { "live" } else { "test" };
        Subjects {
            client: format!("client:{}", principal.key_id),
            redeemer: redeemer.map(|b| format!("redeem:{mode}:{b}")),
        }
    }

    fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.client.as_str()).chain(self.redeemer.as_deref())
    }
}

fn locked(until: i64) -> AppError {
    AppError::rejected(
        ErrorCode::RedemptionLocked,
        format!(
            "too many wrong gift card codes in a row: locked until {} (Unix seconds)",
            until.div_euclid(1000)
        ),
    )
}

/// Refuses a locked subject: a buyer's redemption (when redeeming) or else the client. Returns
/// whether any subject has wrong codes counted (a right code then starts their count again).
async fn refuse_if_locked(app: &App, s: &Subjects, now: i64) -> Result<bool, AppError> {
    let deciding = s.redeemer.as_deref().unwrap_or(&s.client);
    let mut counted = false;
    for subject in s.all() {
        let guard = app.store.code_guard(subject).await?;
        if subject == deciding && guard.locked_until > now {
            return Err(locked(guard.locked_until));
        }
        counted |= guard.failures > 0;
    }
    Ok(counted)
}

/// The card a typed code names, counting a wrong one against the subjects.
async fn find(
    app: &App,
    principal: &Principal,
    s: &Subjects,
    typed: &str,
) -> Result<(GiftCard, i64), AppError> {
    let now = app.clock.now_ms();
    let counted = refuse_if_locked(app, s, now).await?;
    let key = key(app, principal.livemode)?;
    let found = match gift_card::normalize(typed) {
        Err(e) => Err(AppError::param(e.code(), "code", e.to_string())),
        Ok(canonical) => {
            let hash = code_hash(key, principal.livemode, &canonical);
            match app.store.gift_card_by_hash(&hash).await? {
                Some((card, v)) if card.livemode == principal.livemode => Ok((card, v)),
                _ => Err(AppError::param(
                    ErrorCode::GiftCardNotFound,
                    "code",
                    "no gift card has this code",
                )),
            }
        }
    };
    let p = &app.policy.gift_cards;
    match found {
        Ok(card) => {
            if counted {
                for subject in s.all() {
                    app.store.clear_code_guard(subject).await?;
                }
            }
            Ok(card)
        }
        Err(e) => {
            let until = now.saturating_add(p.lockout_ms);
            for subject in s.all() {
                app.store
                    .count_code_failure(subject, now, p.max_failures, until)
                    .await?;
            }
            Err(e)
        }
    }
}

/// Counts a refusal for `/metrics` on its way out.
fn counted<T>(app: &App, r: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(e) = &r {
        app.guards.count(e);
    }
    r
}

fn event_of(app: &App, card: &GiftCard, event: GiftCardEvent, now: i64) -> NewEvent {
    let id = app.ids.next("evt");
    let payload = views::new_event(&id, event.name(), now, card.livemode, view(card));
    NewEvent {
        id,
        kind: event.name().into(),
        object_id: card.id.clone(),
        payload: payload.to_string(),
        created_at: now,
        livemode: card.livemode,
    }
}

/// Writes a card's decision with its ledger movement and event.
async fn commit(
    app: &App,
    d: GiftCardDecision,
    version: i64,
    idem: Option<&Idem>,
    status: u16,
    now: i64,
) -> Result<Value, AppError> {
    let body = view(&d.card);
    let ledger = if d.transfers.is_empty() {
        None
    } else {
        Some(holdback_domain::ledger::TransactionRequest {
            id: TxId::parse(&app.ids.next("txn"))?,
            transfers: d.transfers,
        })
    };
    let unit = Unit {
        accounts: d.accounts,
        ledger,
        events: vec![event_of(app, &d.card, d.event, now)],
        gift_cards: vec![Versioned {
            value: d.card,
            expected_version: version,
        }],
        idempotency: idem.map(|i| i.record(status, &body, now)),
        ..Unit::default()
    };
    app.ledger.commit(unit).await?;
    Ok(body)
}

/// Decides `command` on the card `typed` names and writes it, deciding again if the card moved
/// meanwhile.
async fn act(
    app: &App,
    principal: &Principal,
    s: &Subjects,
    typed: &str,
    command: GiftCardCommand,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    for attempt in 0..process::ATTEMPTS {
        process::before_attempt(attempt).await;
        let (card, version) = find(app, principal, s, typed).await?;
        let now = app.clock.now_ms();
        let d = gift_card::decide(&card, &command, now)
            .map_err(|e| AppError::param(e.code(), "code", e.to_string()))?;
        match commit(app, d, version, idem, 200, now).await {
            Err(AppError::Conflict(Conflict::VersionMoved)) => continue,
            other => return other,
        }
    }
    Err(AppError::Conflict(Conflict::KeepsChanging(Kind::GiftCard)))
}

/// A retailer records its sale of the card for `amount` in cash, under its till reference:
/// the card becomes spendable and the retailer owes the platform its value.
pub async fn activate(
    app: &App,
    principal: &Principal,
    code: &str,
    amount: Money,
    till: &str,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    let Role::Retailer(retailer) = &principal.role else {
        return Err(AppError::rejected(
            ErrorCode::NotPermitted,
            "only a retailer records the sale of a gift card",
        ));
    };
    let s = Subjects::of(principal, None);
    let command = GiftCardCommand::Activate {
        retailer: retailer.clone(),
        till: till.to_string(),
        amount,
    };
    counted(app, act(app, principal, &s, code, command, idem).await)
}

/// Whether a code is genuine, and if so the card's state and what it holds. Anyone may ask;
/// each client a limited number of times a minute, and not while it is locked out.
pub async fn check(app: &App, principal: &Principal, code: &str) -> Result<Value, AppError> {
    let now = app.clock.now_ms();
    let per_minute = app.policy.gift_cards.checks_per_minute;
    if !app.guards.take_check(&principal.key_id, now, per_minute) {
        return counted(
            app,
            Err(AppError::rejected(
                ErrorCode::RateLimited,
                format!("at most {per_minute} gift card checks a minute; wait for the next"),
            )),
        );
    }
    let s = Subjects::of(principal, None);
    let (card, _) = counted(app, find(app, principal, &s, code).await)?;
    let expired = matches!(card.state, GiftCardState::Expired { .. }) || now >= card.expires_at;
    let status = if expired {
        "expired"
    } else {
        card.state.code()
    };
    Ok(json!({
        "object": "gift_card_check",
        "genuine": true,
        "active": status == "active",
        "status": status,
        "amount": card.value.minor(),
        "balance": if status == "active" { card.balance() } else { 0 },
        "currency": views::currency(card.value.currency()),
        "code_hint": card.hint,
        "expires": card.expires_at.div_euclid(1000),
    }))
}

/// Moves the card's value into `buyer`'s balance, once (the buyer itself, or the platform for
/// a buyer).
pub async fn redeem(
    app: &App,
    principal: &Principal,
    code: &str,
    buyer: &str,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    match &principal.role {
        Role::Platform => {}
        Role::Buyer(b) if b == buyer => {}
        _ => {
            return Err(AppError::rejected(
                ErrorCode::NotPermitted,
                "only the buyer itself, or the platform, redeems a card into a balance",
            ));
        }
    }
    parties::existing(app, PartyKind::Buyer, principal.livemode, buyer, "buyer").await?;
    let s = Subjects::of(principal, Some(buyer));
    let command = GiftCardCommand::Redeem {
        buyer: buyer.to_string(),
    };
    counted(app, act(app, principal, &s, code, command, idem).await)
}

/// One card: the platform sees every card of its mode, a retailer those it sold, a buyer those
/// it redeemed. Anyone else is told it does not exist.
pub async fn get(app: &App, principal: &Principal, id: &str) -> Result<Value, AppError> {
    let (card, _) = app.store.gift_card(id).await?.ok_or(AppError::NotFound)?;
    let activation = card.state.activation();
    let mine = card.livemode == principal.livemode
        && match &principal.role {
            Role::Platform => true,
            Role::Retailer(r) => activation.is_some_and(|a| a.retailer == *r),
            Role::Buyer(b) => {
                matches!(&card.state, GiftCardState::Redeemed { buyer, .. } if buyer == b)
            }
            Role::Seller(_) | Role::Mediator(_) | Role::Carrier(_) => false,
        };
    if !mine {
        return Err(AppError::NotFound);
    }
    Ok(view(&card))
}

/// Expires every card (up to `limit`) whose time ran out unredeemed: an active card's value
/// goes to breakage. Returns how many expired.
pub async fn expire_due(app: &App, limit: u32) -> Result<usize, AppError> {
    let now = app.clock.now_ms();
    let mut expired = 0;
    for (card, version) in app.store.gift_cards_due(now, limit).await? {
        let Ok(d) = gift_card::decide(&card, &GiftCardCommand::Expire, now) else {
            continue; // redeemed meanwhile
        };
        match commit(app, d, version, None, 200, now).await {
            Ok(_) => expired += 1,
            Err(AppError::Conflict(_)) => {} // moved meanwhile: the next pass sees it
            Err(e) => return Err(e),
        }
    }
    Ok(expired)
}

/// A refusal of a checkout's gift card names the checkout's field.
fn as_checkout_field(e: AppError) -> AppError {
    match e {
        AppError::Rejected { code, message, .. } => AppError::Rejected {
            code,
            message,
            param: Some("gift_card"),
        },
        other => other,
    }
}

/// For a checkout that redeems a card on the spot: the card's value, and whether it is still to
/// be redeemed (false: it is already in this buyer's balance, from an earlier try of the same
/// checkout). A card of another currency, not sold, expired, or redeemed by someone else is
/// refused, and a wrong code counts against the buyer as any redemption's does.
pub async fn for_checkout(
    app: &App,
    principal: &Principal,
    code: &str,
    buyer: &str,
    currency: holdback_domain::Currency,
) -> Result<(Money, bool), AppError> {
    let s = Subjects::of(principal, Some(buyer));
    let found = counted(app, find(app, principal, &s, code).await);
    let (card, _) = found.map_err(as_checkout_field)?;
    if card.value.currency() != currency {
        return Err(AppError::param(
            ErrorCode::CurrencyMismatch,
            "gift_card",
            format!("the gift card is in {}", card.value.currency()),
        ));
    }
    let now = app.clock.now_ms();
    let refused = match &card.state {
        GiftCardState::Redeemed { buyer: b, .. } if b == buyer => return Ok((card.value, false)),
        _ if now >= card.expires_at => gift_card::GiftCardError::Expired,
        GiftCardState::Active(_) => return Ok((card.value, true)),
        GiftCardState::Issued => gift_card::GiftCardError::Inactive,
        GiftCardState::Redeemed { .. } => gift_card::GiftCardError::Redeemed,
        GiftCardState::Expired { .. } => gift_card::GiftCardError::Expired,
    };
    let e = AppError::param(refused.code(), "gift_card", refused.to_string());
    app.guards.count(&e);
    Err(e)
}

/// Redeems a checkout's card into the buyer's balance; one that an earlier try of the same
/// checkout redeemed already is left as it is.
pub async fn redeem_for_checkout(
    app: &App,
    principal: &Principal,
    code: &str,
    buyer: &str,
) -> Result<(), AppError> {
    match redeem(app, principal, code, buyer, None).await {
        Ok(_) => Ok(()),
        Err(AppError::Rejected {
            code: ErrorCode::GiftCardRedeemed,
            ..
        }) => {
            let s = Subjects::of(principal, Some(buyer));
            let (card, _) = find(app, principal, &s, code).await?;
            match card.state {
                GiftCardState::Redeemed { buyer: b, .. } if b == buyer => Ok(()),
                _ => Err(AppError::param(
                    ErrorCode::GiftCardRedeemed,
                    "gift_card",
                    "the card was already redeemed",
                )),
            }
        }
        Err(e) => Err(as_checkout_field(e)),
    }
}
