//! Cash on delivery at checkout: the verdict (every rule with its reason and the values it
//! compared), the buyer's phone verified by a one-time code, the order placed to be confirmed
//! by the buyer, and the confirmation.
//!
//! **Phone codes.** A code is 6 random digits, sent through a [`Notifier`]; only its keyed hash
//! is stored. It is good for 10 minutes and 5 tries (policy), and is taken once: the buyer's
//! phone is then verified. In test mode the sandbox notifier writes the code to the event log
//! (`phone_verification.code_sent`), where a test reads it; live mode has no notifier yet and
//! refuses.

use holdback_domain::cod::{CodRequest, Compared, Verdict, eligibility};
use holdback_domain::order;
use holdback_domain::party::PartyKind;
use holdback_domain::payment::{Method, Payment, PaymentCommand, PaymentDecision, PaymentEvent};
use holdback_domain::process::{Effects, Kind};
use holdback_domain::{ErrorCode, Money};
use holdback_store::parcels::CodTermsRow;
use holdback_store::phone::VerificationRow;
use holdback_store::{Conflict, NewEvent, PartyRow, Unit};
use serde_json::{Value, json};

use crate::checkout::{CheckoutRequest, Plan};
use crate::orders::Idem;
use crate::{App, AppError, Principal, Role, process, views};

fn compared(c: &Compared) -> Value {
    match c {
        Compared::Int(n) => json!(n),
        Compared::Text(t) => json!(t),
        Compared::Bool(b) => json!(b),
        Compared::Texts(t) => json!(t),
        Compared::Missing => Value::Null,
    }
}

/// The API object of a verdict: offered or not, the fee and carrier, and every rule.
pub fn verdict_view(v: &Verdict) -> Value {
    json!({
        "object": "cash_on_delivery_eligibility",
        "offered": v.offered,
        "fee": v.fee.map(|f| json!({
            "amount": f.minor(),
            "currency": views::currency(f.currency()),
        })),
        "carrier": v.carrier,
        "rules_effective": v.effective_from.map(|ms| ms.div_euclid(1000)),
        "rules": v.rules.iter().map(|r| json!({
            "rule": r.rule.code(),
            "passed": r.passed,
            "reason": r.reason,
            "compared": r.compared.iter()
                .map(|(k, c)| ((*k).to_string(), compared(c)))
                .collect::<serde_json::Map<String, Value>>(),
        })).collect::<Vec<_>>(),
    })
}

async fn party(app: &App, kind: PartyKind, livemode: bool, id: &str) -> Result<PartyRow, AppError> {
    crate::parties::existing(app, kind, livemode, id, kind.code()).await
}

/// The verdict for `buyer` paying `seller` `amount` at the door for goods of `categories`, by
/// the rules in force now.
pub async fn verdict(
    app: &App,
    buyer: &PartyRow,
    seller: &PartyRow,
    categories: &[String],
    amount: Money,
) -> Result<Verdict, AppError> {
    let now = app.clock.now_ms();
    let policy = &app.policy.cod;
    let since = now - policy.refusal_window_ms;
    let refusals = app.store.refusals(&buyer.id, buyer.livemode, since).await?;
    let previous_orders = app
        .store
        .completed_orders(&buyer.id, buyer.livemode)
        .await?;
    Ok(eligibility(
        &CodRequest {
            seller_opted_in: seller.cash_on_delivery,
            origin_country: &seller.country,
            country: &buyer.country,
            region: buyer.region.as_deref(),
            categories,
            amount,
            previous_orders,
            refusals,
            phone_verified: buyer.phone_verified,
            now,
        },
        policy,
    ))
}

/// Who may ask about a buyer: the platform, or the buyer itself.
fn may_ask(principal: &Principal, buyer: &str) -> Result<(), AppError> {
    match &principal.role {
        Role::Platform => Ok(()),
        Role::Buyer(b) if b == buyer => Ok(()),
        _ => Err(AppError::rejected(
            ErrorCode::NotPermitted,
            "only the platform, or the buyer itself, asks about a buyer's cash on delivery",
        )),
    }
}

/// `GET /v1/cod/eligibility`: the verdict for an order of `amount` from `seller` to `buyer`.
pub async fn check(
    app: &App,
    principal: &Principal,
    buyer: &str,
    seller: &str,
    amount: Money,
    categories: &[String],
) -> Result<Value, AppError> {
    may_ask(principal, buyer)?;
    let b = party(app, PartyKind::Buyer, principal.livemode, buyer).await?;
    let s = party(app, PartyKind::Seller, principal.livemode, seller).await?;
    Ok(verdict_view(
        &verdict(app, &b, &s, categories, amount).await?,
    ))
}

/// Places a cash-on-delivery order: one seller, no stored value, every rule passing. The order
/// waits for the buyer's confirmation (`confirm_within`), then runs as a paid order.
pub(crate) async fn checkout(
    app: &App,
    principal: &Principal,
    req: &CheckoutRequest,
    plan: &Plan,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    if req.balance.is_some() || req.gift_card.is_some() {
        return Err(AppError::param(
            ErrorCode::TooManyPaymentMethods,
            "balance",
            "cash on delivery is paid whole at the door: no balance or gift card with it",
        ));
    }
    let [order_plan] = plan.plans.as_slice() else {
        return Err(AppError::param(
            ErrorCode::CodOneSeller,
            "items",
            "a cash-on-delivery checkout buys from one seller (one parcel, one collection)",
        ));
    };
    let buyer = party(app, PartyKind::Buyer, principal.livemode, &req.buyer).await?;
    let seller = party(
        app,
        PartyKind::Seller,
        principal.livemode,
        &order_plan.seller,
    )
    .await?;
    let v = verdict(app, &buyer, &seller, &plan.categories, order_plan.amount).await?;
    let (Some(fee), Some(carrier), true) = (v.fee, v.carrier.clone(), v.offered) else {
        let failed: Vec<String> = v
            .failed()
            .map(|r| format!("{} ({})", r.rule.code(), r.reason))
            .collect();
        return Err(AppError::Explained {
            code: ErrorCode::CodNotOffered,
            message: format!(
                "cash on delivery is not offered: {}; every rule is in detail",
                failed.join(", ")
            ),
            param: "payment_method",
            detail: Box::new(verdict_view(&v)),
        });
    };
    let now = app.clock.now_ms();
    let rules = app
        .policy
        .cod
        .rules_on(&buyer.country, now)
        .ok_or_else(|| AppError::Internal("a verdict offered without rules".into()))?;
    let id = app.ids.next("pay");
    let expires_at = now + app.policy.cod.confirm_within_ms;
    let mut cod_plan = order_plan.clone();
    cod_plan.cash_on_delivery = true;
    let payment = Payment::awaiting(
        &id,
        &req.buyer,
        principal.livemode,
        Method::CashOnDelivery,
        plan.total,
        vec![cod_plan.id.clone()],
        expires_at,
        None,
        now,
    );
    let mut effects = Effects::default();
    effects.payment(
        PaymentDecision {
            payment: payment.clone(),
            events: vec![PaymentEvent::RequiresAction],
            accounts: vec![],
            transfers: vec![],
        },
        0,
    );
    let d = order::placed(
        &cod_plan,
        &req.buyer,
        &id,
        principal.livemode,
        now,
        expires_at,
    );
    effects.order(d, 0);
    let mut unit = process::unit_of(app, &effects, None, now)?;
    plan.use_coupons(&mut unit, &id, &req.buyer, now);
    unit.cod_terms.push(CodTermsRow {
        order: cod_plan.id.clone(),
        carrier,
        country: buyer.country.clone(),
        fee: fee.minor(),
        rto_cost: rules.rto_cost,
        rto_payer: app.policy.cod.rto_payer,
        created_at: now,
    });
    let placed: Vec<_> = effects.orders.iter().map(|o| o.value.clone()).collect();
    let mut body = views::payment(&payment, &placed, &[]);
    body["cash_on_delivery"] = json!({
        "fee": fee.minor(),
        "amount_at_door": plan.total.minor() + fee.minor(),
        "confirm_by": expires_at.div_euclid(1000),
        "eligibility": verdict_view(&v),
    });
    body["next_action"] = next_action(&payment);
    unit.idempotency = idem.map(|i| i.record(201, &body, now));
    app.ledger.commit(unit).await?;
    Ok(body)
}

/// What the buyer of a cash-on-delivery payment waiting for it must do: confirm.
pub fn next_action(p: &Payment) -> Value {
    json!({
        "type": "confirm_cash_on_delivery",
        "confirm_url": format!("/v1/payments/{}/confirm_cash_on_delivery", p.id),
    })
}

/// The buyer confirms a cash-on-delivery order: its payment is confirmed from the cash
/// expected, and the order is paid (the ship-by clock starts).
pub async fn confirm(
    app: &App,
    principal: &Principal,
    payment_id: &str,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    for attempt in 0..process::ATTEMPTS {
        process::before_attempt(attempt).await;
        let Some((p, version)) = app.store.payment(payment_id).await? else {
            return Err(AppError::NotFound);
        };
        let mine = p.livemode == principal.livemode
            && match &principal.role {
                Role::Platform => true,
                Role::Buyer(b) => *b == p.buyer,
                _ => false,
            };
        if !mine {
            return Err(AppError::NotFound);
        }
        let now = app.clock.now_ms();
        let d = holdback_domain::payment::decide(&p, &PaymentCommand::ConfirmCash, now)?;
        let mut effects = Effects::default();
        let reactions = effects.payment(d, version);
        process::settle(app, &mut effects, reactions, now).await?;
        let mut unit = process::unit_of(app, &effects, None, now)?;
        let after = effects
            .payments
            .iter()
            .find(|x| x.value.id == p.id)
            .map_or(p.clone(), |x| x.value.clone());
        let orders: Vec<_> = effects.orders.iter().map(|o| o.value.clone()).collect();
        let body = views::payment(&after, &orders, &[]);
        unit.idempotency = idem.map(|i| i.record(200, &body, now));
        match app.ledger.commit(unit).await {
            Ok(_) => return Ok(body),
            Err(e) if process::changed(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(Conflict::KeepsChanging(Kind::Payment)))
}

/// Sends a one-time code to verify a buyer's phone; answers the verification (never the code).
pub async fn start_verification(
    app: &App,
    principal: &Principal,
    buyer: &str,
    phone: &str,
) -> Result<Value, AppError> {
    may_ask(principal, buyer)?;
    party(app, PartyKind::Buyer, principal.livemode, buyer).await?;
    let key = code_key(app, principal.livemode)?;
    let now = app.clock.now_ms();
    let id = app.ids.next("pv");
    let code = new_code();
    let row = VerificationRow {
        id: id.clone(),
        buyer: buyer.to_string(),
        livemode: principal.livemode,
        phone: phone.to_string(),
        code_hash: code_hash(&key, &id, &code),
        attempts: 0,
        expires_at: now + app.policy.cod.code_ttl_ms,
        verified_at: None,
        created_at: now,
    };
    app.store.insert_verification(&row).await?;
    SandboxNotifier.send(app, &row, &code).await?;
    Ok(verification_view(&row))
}

/// Checks a code against a verification: a right one, within its time and tries, is taken
/// once and verifies the buyer's phone; a wrong one counts a try.
pub async fn confirm_verification(
    app: &App,
    principal: &Principal,
    id: &str,
    code: &str,
) -> Result<Value, AppError> {
    let v = app
        .store
        .verification(id)
        .await?
        .ok_or(AppError::NotFound)?;
    if v.livemode != principal.livemode || may_ask(principal, &v.buyer).is_err() {
        return Err(AppError::NotFound);
    }
    let now = app.clock.now_ms();
    let max = i64::from(app.policy.cod.code_attempts);
    let refuse = |code: ErrorCode, message: &str| Err(AppError::param(code, "code", message));
    if v.verified_at.is_some() {
        return refuse(
            ErrorCode::VerificationCodeUsed,
            "this code was already taken",
        );
    }
    if now >= v.expires_at {
        return refuse(
            ErrorCode::VerificationCodeExpired,
            "the code has expired: ask again",
        );
    }
    if v.attempts >= max {
        return refuse(
            ErrorCode::VerificationAttemptsExceeded,
            "too many wrong codes: ask for a new one",
        );
    }
    let key = code_key(app, v.livemode)?;
    let given = code_hash(&key, &v.id, code.trim());
    let right: bool =
        subtle::ConstantTimeEq::ct_eq(given.as_bytes(), v.code_hash.as_bytes()).into();
    if !right {
        if !app.store.count_verification_try(&v.id, max).await? {
            return refuse(
                ErrorCode::VerificationAttemptsExceeded,
                "too many wrong codes: ask for a new one",
            );
        }
        return refuse(ErrorCode::VerificationCodeInvalid, "the code is not right");
    }
    if !app.store.take_verification(&v, max, now).await? {
        return refuse(
            ErrorCode::VerificationCodeUsed,
            "this code was already taken",
        );
    }
    let after = app
        .store
        .verification(id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(verification_view(&after))
}

fn verification_view(v: &VerificationRow) -> Value {
    json!({
        "id": v.id,
        "object": "phone_verification",
        "created": v.created_at.div_euclid(1000),
        "livemode": v.livemode,
        "buyer": v.buyer,
        "phone": v.phone,
        "status": if v.verified_at.is_some() { "verified" } else { "pending" },
        "expires_at": v.expires_at.div_euclid(1000),
        "attempts": v.attempts,
    })
}

/// The key codes are hashed under: the mode's code key (the gift cards' key).
fn code_key(app: &App, livemode: bool) -> Result<String, AppError> {
    let p = &app.policy.gift_cards;
    if !livemode {
        return Ok(p.test_key.clone());
    }
    p.live_key.clone().ok_or_else(|| {
        AppError::rejected(
            ErrorCode::LivemodeUnavailable,
            "no live code key is configured: live phone verification is refused",
        )
    })
}

fn code_hash(key: &str, id: &str, code: &str) -> String {
    crate::webhooks::hmac_hex(key, &[b"phone:", id.as_bytes(), b":", code.as_bytes()])
}

/// Six digits from the operating system's generator.
#[allow(clippy::disallowed_methods)]
fn new_code() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut n = 0u64;
    for b in &bytes[..8] {
        n = (n << 8) | u64::from(*b);
    }
    format!("{:06}", n % 1_000_000)
}

/// Where one-time codes go.
trait Notifier {
    async fn send(&self, app: &App, v: &VerificationRow, code: &str) -> Result<(), AppError>;
}

/// Test mode's notifier: the code is written to the event log, for tests and the demo to
/// read. Live mode has no notifier yet: it refuses.
struct SandboxNotifier;

impl Notifier for SandboxNotifier {
    async fn send(&self, app: &App, v: &VerificationRow, code: &str) -> Result<(), AppError> {
        if v.livemode {
            return Err(AppError::rejected(
                ErrorCode::LivemodeUnavailable,
                "no live notifier is configured: live phone verification is refused",
            ));
        }
        let id = app.ids.next("evt");
        let object = json!({
            "id": v.id,
            "object": "phone_verification",
            "buyer": v.buyer,
            "phone": v.phone,
            "code": code,
        });
        let payload = views::new_event(
            &id,
            "phone_verification.code_sent",
            v.created_at,
            false,
            object,
        );
        let unit = Unit {
            events: vec![NewEvent {
                id,
                kind: "phone_verification.code_sent".into(),
                object_id: v.id.clone(),
                payload: payload.to_string(),
                created_at: v.created_at,
                livemode: false,
            }],
            ..Unit::default()
        };
        app.ledger.commit(unit).await?;
        Ok(())
    }
}
