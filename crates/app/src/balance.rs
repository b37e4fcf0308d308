//! A buyer's balance: money the platform holds for the buyer, per currency, in a bounded ledger
//! account (`<mode>:customer_balance:<buyer>:<CURRENCY>`, a liability that can never go below
//! zero). Read with its history ([`get`]); an operator adjusts it ([`adjust`], the platform only,
//! with a written reason, as one ledger transaction and a `balance.adjusted` event).

use holdback_domain::TxId;
use holdback_domain::ledger::{AccountKind, AccountSpec, TransferRequest};
use holdback_domain::order::mode;
use holdback_domain::party::PartyKind;
use holdback_domain::{AccountId, Currency, ErrorCode, Money};
use holdback_store::{NewEvent, Unit};
use serde_json::{Value, json};

use crate::orders::Idem;
use crate::{App, AppError, Principal, Role, parties, views};

/// The prefix of a buyer's balance accounts in a mode.
fn prefix(livemode: bool, buyer: &str) -> String {
    format!("{}:customer_balance:{buyer}:", mode(livemode))
}

/// A buyer's balance account in `currency`.
fn account(livemode: bool, buyer: &str, currency: Currency) -> Result<AccountId, AppError> {
    Ok(holdback_domain::order::buyer_balance(
        livemode, buyer, currency,
    )?)
}

/// Whether `principal` may see `buyer`'s balance: the platform, or the buyer itself.
fn may_see(principal: &Principal, buyer: &str) -> bool {
    match &principal.role {
        Role::Platform => true,
        Role::Buyer(b) => b == buyer,
        _ => false,
    }
}

/// A history line's id: its place in the journal, `<seq>.<index>`.
fn line_id(seq: i64, idx: i32) -> String {
    format!("{seq}.{idx}")
}

/// The cursor a history line id names.
fn parse_line(id: &str) -> Option<(i64, i32)> {
    let (seq, idx) = id.split_once('.')?;
    Some((seq.parse().ok()?, idx.parse().ok()?))
}

/// `buyer`'s balances, and the history of one currency's (`currency`, or the first), newest
/// first, `limit` lines after the line `starting_after`.
pub async fn get(
    app: &App,
    principal: &Principal,
    buyer: &str,
    currency: Option<Currency>,
    starting_after: Option<&str>,
    limit: u32,
) -> Result<Value, AppError> {
    if !may_see(principal, buyer) {
        return Err(AppError::NotFound);
    }
    parties::existing(app, PartyKind::Buyer, principal.livemode, buyer, "id")
        .await
        .map_err(|_| AppError::NotFound)?;
    let accounts = app
        .store
        .accounts_prefixed(&prefix(principal.livemode, buyer))
        .await?;
    let balances: Vec<Value> = accounts
        .iter()
        .map(|a| {
            json!({
                "currency": views::currency(a.spec.currency),
                "amount": a.posted_balance() as i64,
            })
        })
        .collect();
    let shown = currency.or_else(|| accounts.first().map(|a| a.spec.currency));
    let mut history = Vec::new();
    let mut has_more = false;
    if let Some(c) = shown {
        let id = account(principal.livemode, buyer, c)?;
        let before = match starting_after {
            None => None,
            Some(line) => Some(parse_line(line).ok_or_else(|| {
                AppError::param(
                    ErrorCode::ResourceMissing,
                    "starting_after",
                    "no such line of this balance's history",
                )
            })?),
        };
        let page = app.store.history(&id, before, limit.clamp(1, 100)).await?;
        has_more = page.has_more;
        for l in &page.lines {
            let p = &l.posting;
            let signed = if p.credit == id { p.posted } else { -p.posted };
            history.push(json!({
                "id": line_id(l.seq, l.idx),
                "object": "balance_transaction",
                "transaction": l.tx_id,
                "created": l.committed_at.div_euclid(1000),
                "amount": signed,
                "currency": views::currency(p.currency),
            }));
        }
    }
    Ok(json!({
        "object": "balance",
        "buyer": buyer,
        "livemode": principal.livemode,
        "balances": balances,
        "history": {
            "object": "list",
            "currency": shown.map(views::currency),
            "has_more": has_more,
            "data": history,
        },
    }))
}

/// The platform adjusts `buyer`'s balance by `amount` (added when `credit`, taken otherwise),
/// with a written `reason`: one ledger transaction against the platform's
/// adjustments account, and a `balance.adjusted` event that carries the reason. A debit beyond
/// the balance is refused (`balance_insufficient`) and changes nothing.
pub async fn adjust(
    app: &App,
    principal: &Principal,
    buyer: &str,
    credit: bool,
    amount: Money,
    reason: &str,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    if !matches!(principal.role, Role::Platform) {
        return Err(AppError::rejected(
            ErrorCode::NotPermitted,
            "only the platform adjusts a balance",
        ));
    }
    parties::existing(app, PartyKind::Buyer, principal.livemode, buyer, "id")
        .await
        .map_err(|_| AppError::NotFound)?;
    if amount.is_zero() {
        return Err(AppError::param(
            ErrorCode::ZeroAmount,
            "amount",
            "an adjustment moves more than zero",
        ));
    }
    let c = amount.currency();
    let balance = account(principal.livemode, buyer, c)?;
    let adjustments = AccountId::parse(&format!(
        "{}:balance_adjustments:{}",
        mode(principal.livemode),
        c.code()
    ))?;
    let (debit, credited) = if credit {
        (adjustments.clone(), balance.clone())
    } else {
        (balance.clone(), adjustments.clone())
    };
    let signed = if credit {
        amount.minor()
    } else {
        -amount.minor()
    };
    let now = app.clock.now_ms();
    let tx = app.ids.next("txn");
    let body = json!({
        "object": "balance_adjustment",
        "id": tx,
        "buyer": buyer,
        "livemode": principal.livemode,
        "amount": signed,
        "currency": views::currency(c),
        "reason": reason,
        "created": now.div_euclid(1000),
    });
    let event_id = app.ids.next("evt");
    let payload = views::new_event(
        &event_id,
        "balance.adjusted",
        now,
        principal.livemode,
        body.clone(),
    );
    let unit = Unit {
        accounts: vec![
            AccountSpec {
                id: balance,
                kind: AccountKind::CustomerBalance,
                currency: c,
                bounded: true,
            },
            AccountSpec {
                id: adjustments,
                kind: AccountKind::BalanceAdjustments,
                currency: c,
                bounded: false,
            },
        ],
        ledger: Some(holdback_domain::ledger::TransactionRequest {
            id: TxId::parse(&tx)?,
            transfers: vec![TransferRequest::Posted {
                debit,
                credit: credited,
                amount,
            }],
        }),
        events: vec![NewEvent {
            id: event_id,
            kind: "balance.adjusted".into(),
            object_id: tx.clone(),
            payload: payload.to_string(),
            created_at: now,
            livemode: principal.livemode,
        }],
        idempotency: idem.map(|i| i.record(201, &body, now)),
        ..Unit::default()
    };
    app.ledger.commit(unit).await?;
    Ok(body)
}
