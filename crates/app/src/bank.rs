//! Bank transfer: a checkout paid by a transfer the buyer makes afterwards, the bank's signed
//! notifications of money received, and the expiry of payments whose money did not come.
//!
//! - **Checkout** writes the payment `requires_action` (reference: its id) with its orders placed
//!   awaiting it, in one unit, and answers with the transfer instructions.
//! - **A notification** (`POST /v1/connectors/bank/notifications`) is checked before anything
//!   else: its signature (`t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the mode's
//!   secret), its timestamp (within the tolerance), its body. A refused one is recorded as
//!   refused, raw, and changes nothing else. An accepted one is written in the same unit as what
//!   it did, under the bank's notification id: a redelivery finds it and changes nothing. Its
//!   reference names the payment; an unknown reference is kept as unmatched for an operator.
//! - **Expiry**: the scheduler gives `Expire` to every payment whose time ran out; its orders
//!   are cancelled unpaid and any money that came is refunded.

use holdback_domain::ErrorCode;
use holdback_domain::order;
use holdback_domain::payment::{
    self, Method, Payment, PaymentCommand, PaymentDecision, PaymentEvent,
};
use holdback_domain::process::{Effects, Kind};
use holdback_domain::{Currency, Money};
use holdback_store::{Conflict, NotificationOutcome, NotificationRow};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use holdback_domain::reconcile::{OpKind, ProviderOp};

use crate::cards::{BoxFuture, ProviderError};
use crate::checkout::CheckoutRequest;
use crate::orders::Idem;
use crate::{App, AppError, Principal, process, webhooks};

/// How bank transfers work for this platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankPolicy {
    /// How long a payment waits for its money (3 days).
    pub expiry_ms: i64,
    /// The platform's account the buyer pays into.
    pub account_holder: String,
    pub iban: String,
    pub bic: String,
    /// The secrets the bank signs its notifications with, per mode; a mode without one takes
    /// none.
    pub test_secret: Option<String>,
    pub live_secret: Option<String>,
    /// How far a notification's timestamp may be from now.
    pub tolerance_ms: i64,
}

impl Default for BankPolicy {
    fn default() -> Self {
        BankPolicy {
            expiry_ms: 3 * 86_400_000,
            account_holder: "Holdback Marketplace (client money)".into(),
            iban: "DE89370400440532013000".into(),
            bic: "COBADEFFXXX".into(),
            test_secret: None,
            live_secret: None,
            tolerance_ms: 5 * 60_000,
        }
    }
}

/// The transfer instructions of a payment waiting for a bank transfer.
pub fn instructions(app: &App, p: &Payment) -> Value {
    let b = &app.policy.bank;
    json!({
        "type": "bank_transfer_instructions",
        "reference": p.tenders.first().map(|t| t.reference.clone()),
        "amount": p.amount_due(),
        "currency": crate::views::currency(p.amount.currency()),
        "account": {"holder": b.account_holder, "iban": b.iban, "bic": b.bic},
    })
}

/// Live money by `method` only where a live connector can confirm it (its secret is
/// configured); refused as `livemode_unavailable` otherwise, before anything else.
pub fn live_available(app: &App, livemode: bool, method: Method) -> Result<(), AppError> {
    let live_secret = if method.is_wallet() {
        &app.policy.wallets.live_secret
    } else {
        &app.policy.bank.live_secret
    };
    if livemode && live_secret.is_none() {
        return Err(AppError::rejected(
            ErrorCode::LivemodeUnavailable,
            format!("no live {} connector is configured", method.code()),
        ));
    }
    Ok(())
}

/// What the buyer must do for a payment that waits: the transfer's instructions, or the
/// wallet to go to.
pub fn next_action(app: &App, p: &Payment) -> Value {
    match p.tenders.first().map(|t| t.method) {
        Some(m) if m.is_wallet() => crate::wallets::redirect(app, p, m),
        Some(holdback_domain::payment::Method::CashOnDelivery) => crate::cod::next_action(p),
        _ => instructions(app, p),
    }
}

/// The payment of `req` by a method that confirms later (`method`: a bank transfer, or a
/// wallet that sends the buyer back to `return_url`): written waiting for its money, its
/// orders placed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn checkout(
    app: &App,
    principal: &Principal,
    req: &CheckoutRequest,
    plan: &crate::checkout::Plan,
    stored: i64,
    method: Method,
    return_url: Option<String>,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    let now = app.clock.now_ms();
    let id = app.ids.next("pay");
    let wait = if method.is_wallet() {
        app.policy.wallets.expiry_ms
    } else {
        app.policy.bank.expiry_ms
    };
    let expires_at = now + wait;
    let (total, plans) = (plan.total, &plan.plans);
    let orders: Vec<String> = plans.iter().map(|p| p.id.clone()).collect();
    let payment = Payment::awaiting(
        &id,
        &req.buyer,
        principal.livemode,
        method,
        total,
        orders,
        expires_at,
        return_url,
        now,
    )
    .with_stored_value(stored)?;
    let (accounts, transfers) = payment.reserve_stored_value()?;
    let mut effects = Effects::default();
    let decision = PaymentDecision {
        payment: payment.clone(),
        events: vec![PaymentEvent::RequiresAction],
        accounts,
        transfers,
    };
    effects.payment(decision, 0);
    for plan in plans {
        let d = order::placed(plan, &req.buyer, &id, principal.livemode, now, expires_at);
        effects.order(d, 0);
    }
    let mut unit = process::unit_of(app, &effects, None, now)?;
    plan.use_coupons(&mut unit, &id, &req.buyer, now);
    let placed: Vec<_> = effects.orders.iter().map(|o| o.value.clone()).collect();
    let mut body = crate::views::payment(&payment, &placed, &[]);
    body["next_action"] = next_action(app, &payment);
    unit.idempotency = idem.map(|i| i.record(201, &body, now));
    app.ledger.commit(unit).await?;
    Ok(body)
}

/// What a connector's notification says happened to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Money came (a bank transfer, a wallet's approved payment).
    Received,
    /// The wallet declined the payment.
    Declined,
    /// The buyer cancelled at the wallet.
    Cancelled,
}

/// A notification's content, whatever connector sent it.
#[derive(Debug)]
pub struct Notice {
    /// The connector's own id of the notification (a redelivery carries the same).
    pub id: String,
    /// The payment it is about: the reference the buyer wrote on the transfer, or the payment
    /// the wallet was asked for.
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    pub report: Report,
    /// The account the money came from, when the connector says (a bank's `payer_account`).
    pub payer: Option<String>,
}

/// A bank notification's body: `{id, reference, amount, currency}` and, optionally, the
/// account the money came from (`payer_account`, 1 to 64 characters), and nothing else.
fn bank_notice(v: &Value) -> Option<Notice> {
    let o = v.as_object()?;
    let payer = match o.get("payer_account") {
        None => None,
        Some(a) => Some(
            a.as_str()
                .filter(|a| (1..=64).contains(&a.len()))?
                .to_string(),
        ),
    };
    let known = 4 + usize::from(payer.is_some());
    if o.len() != known {
        return None;
    }
    Some(Notice {
        id: o.get("id")?.as_str()?.to_string(),
        reference: o.get("reference")?.as_str()?.to_string(),
        amount: o.get("amount")?.as_i64()?,
        currency: o.get("currency")?.as_str()?.to_string(),
        report: Report::Received,
        payer,
    })
}

/// What taking a notification answers the bank.
fn answer(n: &NotificationRow, duplicate: bool) -> Value {
    json!({
        "object": "bank_notification",
        "id": n.notification_id,
        "outcome": n.outcome.code(),
        "payment": n.payment_id,
        "reason": n.reason,
        "duplicate": duplicate,
    })
}

/// The mode whose secret (of `secrets`, per mode) signed `body`, from the
/// `Holdback-Signature` header (`t=<unix s>,v1=<hex>`), or why none did.
fn verify(
    secrets: [(bool, &Option<String>); 2],
    tolerance_ms: i64,
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<bool, &'static str> {
    let header = header.ok_or("the notification is not signed")?;
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1.push(value.to_string()),
            _ => {}
        }
    }
    let t = t.ok_or("the signature has no timestamp")?;
    if (now.div_euclid(1000) - t).abs() * 1000 > tolerance_ms {
        return Err("the signature's timestamp is outside the tolerance");
    }
    for (livemode, secret) in secrets {
        let Some(secret) = secret else { continue };
        let expected = webhooks::hmac_hex(secret, &[format!("{t}.").as_bytes(), body]);
        if v1
            .iter()
            .any(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
        {
            return Ok(livemode);
        }
    }
    Err("the signature does not match")
}

/// A notification as it arrived, before anything is known of it.
fn arrived(connector: &str, body: &str, now: i64, livemode: bool) -> NotificationRow {
    NotificationRow {
        connector: connector.to_string(),
        notification_id: String::new(),
        livemode,
        received_at: now,
        body: body.to_string(),
        reference: None,
        currency: None,
        amount: None,
        outcome: NotificationOutcome::Refused,
        reason: None,
        payment_id: None,
    }
}

/// Records `row` as refused for `reason`, raw, and answers the refusal by `code`.
async fn refuse(app: &App, mut row: NotificationRow, code: ErrorCode, reason: &str) -> AppError {
    row.outcome = NotificationOutcome::Refused;
    row.reason = Some(reason.to_string());
    match app.store.record_notification(&row).await {
        Ok(()) => AppError::rejected(code, reason.to_string()),
        Err(e) => e.into(),
    }
}

/// Takes one notification from the bank: checks it, then applies it to the payment its
/// reference names, exactly once (see the module's notes).
pub async fn notify(app: &App, signature: Option<&str>, raw: &[u8]) -> Result<Value, AppError> {
    let bank = &app.policy.bank;
    let secrets = [(false, &bank.test_secret), (true, &bank.live_secret)];
    take(app, "bank", secrets, signature, raw, bank_notice).await
}

/// Takes one connector's notification: verified with `secrets`, read by `parse`, logged under
/// `connector` and its id, and applied to its payment exactly once.
pub(crate) async fn take(
    app: &App,
    connector: &str,
    secrets: [(bool, &Option<String>); 2],
    signature: Option<&str>,
    raw: &[u8],
    parse: fn(&Value) -> Option<Notice>,
) -> Result<Value, AppError> {
    let now = app.clock.now_ms();
    let body = String::from_utf8_lossy(raw).into_owned();
    let tolerance = app.policy.bank.tolerance_ms;
    let livemode = match verify(secrets, tolerance, signature, raw, now) {
        Ok(livemode) => livemode,
        Err(reason) => {
            let row = arrived(connector, &body, now, false);
            return Err(refuse(app, row, ErrorCode::SignatureInvalid, reason).await);
        }
    };
    let notice = serde_json::from_slice::<Value>(raw)
        .ok()
        .and_then(|v| parse(&v));
    let notice = match notice {
        Some(n) => n,
        None => {
            let reason = "the body is not a notification of this connector";
            let row = arrived(connector, &body, now, livemode);
            return Err(refuse(app, row, ErrorCode::ParameterInvalid, reason).await);
        }
    };
    let id_ok = !notice.id.is_empty() && notice.id.len() <= 64;
    let currency = Currency::parse(&notice.currency.to_ascii_uppercase()).ok();
    let (Some(currency), true) = (currency, id_ok && notice.amount > 0) else {
        let reason = "a notification has an id (1 to 64), a positive amount and a currency";
        let row = arrived(connector, &body, now, livemode);
        return Err(refuse(app, row, ErrorCode::ParameterInvalid, reason).await);
    };
    let amount = Money::from_minor(notice.amount, currency)?;
    let mut row = NotificationRow {
        connector: connector.to_string(),
        notification_id: notice.id.clone(),
        livemode,
        received_at: now,
        body,
        reference: Some(notice.reference.clone()),
        currency: Some(currency.code().to_string()),
        amount: Some(notice.amount),
        outcome: NotificationOutcome::Applied,
        reason: None,
        payment_id: None,
    };
    for attempt in 0..process::ATTEMPTS {
        process::before_attempt(attempt).await;
        if let Some(first) = app
            .store
            .notification(livemode, connector, &row.notification_id)
            .await?
        {
            return Ok(answer(&first, true));
        }
        let found = app
            .store
            .payment(&notice.reference)
            .await?
            .filter(|(p, _)| p.livemode == livemode);
        let Some((payment, version)) = found else {
            row.outcome = NotificationOutcome::Unmatched;
            row.reason = Some("no payment has this reference".into());
            let unit = holdback_store::Unit {
                notifications: vec![row.clone()],
                ..holdback_store::Unit::default()
            };
            match app.ledger.commit(unit).await {
                Ok(_) => return Ok(answer(&row, false)),
                Err(_) if attempt + 1 < process::ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if currency != payment.amount.currency() {
            let reason = format!(
                "the payment is in {}, the notification in {}",
                payment.amount.currency().code(),
                currency.code()
            );
            let mut refused = arrived(connector, &row.body, now, livemode);
            refused.reference = row.reference.clone();
            refused.payment_id = Some(payment.id.clone());
            return Err(refuse(app, refused, ErrorCode::CurrencyMismatch, &reason).await);
        }
        let command = match notice.report {
            Report::Received => PaymentCommand::Receive {
                amount,
                refund_id: app.ids.next("re"),
                payer: notice.payer.clone(),
            },
            Report::Declined => PaymentCommand::Decline {
                code: ErrorCode::PaymentFailed,
            },
            Report::Cancelled => PaymentCommand::Cancel,
        };
        let d = payment::decide(&payment, &command, now)?;
        let mut effects = Effects::default();
        let reactions = effects.payment(d, version);
        process::settle(app, &mut effects, reactions, now).await?;
        let mut unit = process::unit_of(app, &effects, None, now)?;
        row.payment_id = Some(payment.id.clone());
        unit.notifications = vec![row.clone()];
        match app.ledger.commit(unit).await {
            Ok(_) => return Ok(answer(&row, false)),
            // a redelivery taken meanwhile, or the payment moved on: look again
            Err(_) if attempt + 1 < process::ATTEMPTS => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(Conflict::KeepsChanging(Kind::Payment)))
}

/// Expires every payment (up to `limit`) whose time to be paid ran out: its orders are
/// cancelled unpaid and what came is refunded. Returns how many expired.
pub async fn expire_due(app: &App, limit: u32) -> Result<usize, AppError> {
    let now = app.clock.now_ms();
    let mut expired = 0;
    for id in app.store.payments_expiring(now, limit).await? {
        let Some((p, version)) = app.store.payment(&id).await? else {
            continue;
        };
        let command = PaymentCommand::Expire {
            refund_id: app.ids.next("re"),
        };
        let Ok(d) = payment::decide(&p, &command, now) else {
            continue; // paid or expired meanwhile
        };
        let mut effects = Effects::default();
        let reactions = effects.payment(d, version);
        process::settle(app, &mut effects, reactions, now).await?;
        let unit = process::unit_of(app, &effects, None, now)?;
        if app.ledger.commit(unit).await.is_ok() {
            expired += 1;
        }
    }
    Ok(expired)
}

/// A bank that pays money back to whoever sent a transfer.
pub trait BankConnector: Send + Sync {
    /// Pays `amount` back for the payment `payment` (its reference) made `via` a bank transfer
    /// (to `account`, the one it came from, when the bank reported it) or a wallet (the
    /// wallet's refund), under `reference` (the refund's id): the same reference pays once.
    /// Returns the connector's id.
    fn payout<'a>(
        &'a self,
        via: Method,
        payment: &'a str,
        account: Option<&'a str>,
        amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;

    /// Every payout the bank made, for reconciliation (as refunds, by reference).
    fn payouts(&self) -> BoxFuture<'_, Result<Vec<ProviderOp>, ProviderError>>;
}

/// A bank that keeps nothing and pays every payout (benchmarks and tests that need no bank
/// state; `serve` uses the sandbox bank).
pub struct StatelessBank;

impl BankConnector for StatelessBank {
    fn payout<'a>(
        &'a self,
        _via: Method,
        _payment: &'a str,
        _account: Option<&'a str>,
        _amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move { Ok(format!("po_stateless_{reference}")) })
    }

    fn payouts(&self) -> BoxFuture<'_, Result<Vec<ProviderOp>, ProviderError>> {
        Box::pin(async { Ok(vec![]) })
    }
}

/// The sandbox file's bank: its payouts are kept beside the card provider's operations.
pub struct SandboxBank {
    pub sandbox: holdback_sandbox::Sandbox,
    pub clock: std::sync::Arc<dyn holdback_store::clock::Clock>,
}

impl BankConnector for SandboxBank {
    fn payout<'a>(
        &'a self,
        via: Method,
        payment: &'a str,
        account: Option<&'a str>,
        amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        let (sandbox, now) = (self.sandbox.clone(), self.clock.now_ms());
        // a wallet's refund call, or the bank's payout
        let via = if via.is_wallet() { via.code() } else { "bank" };
        let (payment, reference) = (payment.to_string(), reference.to_string());
        let account = account.map(str::to_string);
        Box::pin(async move {
            let done = tokio::task::spawn_blocking(move || {
                sandbox.payout(via, &payment, account.as_deref(), amount, &reference, now)
            })
            .await
            .map_err(|e| ProviderError::Unknown(format!("sandbox bank: {e}")))?;
            match done {
                Ok(record) => Ok(record.id),
                Err(e) if e.is_unknown_outcome() => Err(ProviderError::Unknown(e.to_string())),
                Err(e) => Err(ProviderError::Refused {
                    code: ErrorCode::PaymentFailed,
                    reason: e.code(),
                    message: e.to_string(),
                }),
            }
        })
    }

    fn payouts(&self) -> BoxFuture<'_, Result<Vec<ProviderOp>, ProviderError>> {
        let sandbox = self.sandbox.clone();
        Box::pin(async move {
            let records = tokio::task::spawn_blocking(move || sandbox.payouts())
                .await
                .map_err(|e| ProviderError::Unknown(format!("sandbox bank: {e}")))?
                .map_err(|e| ProviderError::Unknown(e.to_string()))?;
            records
                .into_iter()
                .map(|p| {
                    let currency = Currency::parse(&p.currency)
                        .map_err(|e| ProviderError::Unknown(e.to_string()))?;
                    let amount = Money::from_minor(p.amount, currency)
                        .map_err(|e| ProviderError::Unknown(e.to_string()))?;
                    Ok(ProviderOp {
                        kind: OpKind::Refund,
                        reference: p.reference,
                        amount,
                    })
                })
                .collect()
        })
    }
}
