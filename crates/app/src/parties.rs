//! Buyers and sellers as objects. The platform creates them with ids of its choosing; each
//! belongs to the mode of the key that created it. The platform sees every party of its mode, a
//! buyer's key only its own buyer, a seller's key only its own seller, a mediator's key none;
//! anything else answers as missing.

use std::collections::BTreeMap;

use holdback_domain::ErrorCode;
use holdback_domain::Money;
use holdback_domain::party::{Party, PartyError, PartyInput, PartyKind};
use holdback_store::{Conflict, Cursor, PartyInsert, PartyRow};
use serde_json::{Value, json};

use crate::orders::Idem;
use crate::{App, AppError, Principal, Role};

/// What checkout needs to know about a seller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerTerms {
    /// `None`: the policy's.
    pub ship_by_days: Option<u32>,
    /// (basis points, fixed part); `None` is the policy's commission.
    pub commission: Option<(u32, Option<Money>)>,
}

impl From<PartyError> for AppError {
    fn from(e: PartyError) -> Self {
        AppError::param(e.code(), e.param(), e.to_string())
    }
}

fn to_row(p: &Party) -> Result<PartyRow, AppError> {
    Ok(PartyRow {
        kind: p.kind,
        livemode: p.livemode,
        id: p.id.clone(),
        created_at: p.created_at,
        country: p.country.clone(),
        region: p.region.clone(),
        phone_verified: p.phone_verified,
        metadata: serde_json::to_string(&p.metadata)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        ship_by_days: p.seller.as_ref().map(|s| s.ship_by_days),
        commission: p.seller.as_ref().and_then(|s| s.commission),
        cash_on_delivery: p.seller.as_ref().is_some_and(|s| s.cash_on_delivery),
    })
}

/// The API object of a party.
pub fn view(p: &PartyRow) -> Value {
    let metadata: BTreeMap<String, String> = serde_json::from_str(&p.metadata).unwrap_or_default();
    let mut v = json!({
        "id": p.id,
        "object": p.kind.code(),
        "created": p.created_at / 1000,
        "livemode": p.livemode,
        "country": p.country,
        "region": p.region,
        "phone_verified": p.phone_verified,
        "metadata": metadata,
    });
    if p.kind == PartyKind::Seller {
        v["ship_by_days"] = json!(p.ship_by_days);
        v["cash_on_delivery"] = json!(p.cash_on_delivery);
        v["commission"] = match p.commission {
            None => Value::Null,
            Some(c) => json!({
                "basis_points": c.basis_points,
                "fixed": c.fixed.map(|f| json!({
                    "amount": f.minor(),
                    "currency": f.currency().code().to_ascii_lowercase(),
                })),
            }),
        };
    }
    v
}

/// Creates a buyer or a seller (platform only). With an idempotency key, the response is
/// stored with the party, so a retry replays it.
pub async fn create(
    app: &App,
    principal: &Principal,
    kind: PartyKind,
    input: PartyInput,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    if principal.role != Role::Platform {
        return Err(AppError::rejected(
            ErrorCode::NotPermitted,
            format!("only the platform creates {}s", kind.code()),
        ));
    }
    let now = app.clock.now_ms();
    let party = Party::new(kind, input, principal.livemode, now)?;
    let row = to_row(&party)?;
    let body = view(&row);
    let record = idem.map(|i| i.record(201, &body, now));
    match app.store.insert_party(&row, record.as_ref()).await? {
        PartyInsert::Created => Ok(body),
        PartyInsert::Exists => Err(AppError::param(
            ErrorCode::PartyExists,
            "id",
            format!("a {} {} exists", kind.code(), row.id),
        )),
        PartyInsert::KeyUsed => Err(AppError::Conflict(Conflict::KeyUsed)),
    }
}

/// Creates a party of the given mode unless one with its id exists (the demo's seeding).
/// Returns whether it was created.
pub async fn ensure(
    app: &App,
    kind: PartyKind,
    input: PartyInput,
    livemode: bool,
) -> Result<bool, AppError> {
    let party = Party::new(kind, input, livemode, app.clock.now_ms())?;
    let row = to_row(&party)?;
    Ok(app.store.insert_party(&row, None).await? == PartyInsert::Created)
}

/// The id the caller may see of this kind: `None` for all (the platform), or its own.
fn visible(principal: &Principal, kind: PartyKind) -> Option<Option<&str>> {
    match (&principal.role, kind) {
        (Role::Platform, _) => Some(None),
        (Role::Buyer(me), PartyKind::Buyer) | (Role::Seller(me), PartyKind::Seller) => {
            Some(Some(me.as_str()))
        }
        (Role::Buyer(_), PartyKind::Seller)
        | (Role::Seller(_), PartyKind::Buyer)
        | (Role::Mediator(_) | Role::Retailer(_) | Role::Carrier(_), _) => None,
    }
}

/// One party. One the caller may not see answers as missing.
pub async fn get(
    app: &App,
    principal: &Principal,
    kind: PartyKind,
    id: &str,
) -> Result<Value, AppError> {
    match visible(principal, kind) {
        Some(only) if only.is_none_or(|me| me == id) => {}
        _ => return Err(AppError::NotFound),
    }
    match app.store.party(kind, principal.livemode, id).await? {
        Some(p) => Ok(view(&p)),
        None => Err(AppError::NotFound),
    }
}

/// A page of the parties of one kind the caller may see, in id order.
pub async fn list(
    app: &App,
    principal: &Principal,
    kind: PartyKind,
    cursor: Cursor<'_>,
    limit: u32,
) -> Result<(Vec<Value>, bool), AppError> {
    let Some(only) = visible(principal, kind) else {
        return Ok((Vec::new(), false));
    };
    let limit = limit.clamp(1, 100);
    let mut rows = app
        .store
        .list_parties(kind, principal.livemode, only, cursor, limit + 1)
        .await?;
    let has_more = rows.len() > limit as usize;
    if has_more {
        match cursor {
            Cursor::After(_) => rows.truncate(limit as usize),
            Cursor::Before(_) => {
                rows.remove(0);
            }
        }
    }
    Ok((rows.iter().map(view).collect(), has_more))
}

/// The party a request names, which must exist in the caller's mode: `unknown_party`, naming
/// `param`, otherwise (a buyer or seller is created first, `POST /v1/buyers` or
/// `POST /v1/sellers`).
pub async fn existing(
    app: &App,
    kind: PartyKind,
    livemode: bool,
    id: &str,
    param: &'static str,
) -> Result<PartyRow, AppError> {
    app.store
        .party(kind, livemode, id)
        .await?
        .ok_or_else(|| unknown(kind, id, livemode, param))
}

/// `unknown_party`: no `kind` `id` in this mode, naming `param`.
fn unknown(kind: PartyKind, id: &str, livemode: bool, param: &'static str) -> AppError {
    let mode = if livemode { "live" } else { "test" };
    AppError::param(
        ErrorCode::UnknownParty,
        param,
        format!("no {} {id:?} in {mode} mode: create it first", kind.code()),
    )
}

/// A cart's buyer and its sellers' terms, read in one query: the buyer and every seller must
/// exist in the mode (`unknown_party` naming `buyer` or `items` otherwise).
pub async fn cart_parties(
    app: &App,
    livemode: bool,
    buyer: &str,
    sellers: &[&str],
) -> Result<(PartyRow, BTreeMap<String, SellerTerms>), AppError> {
    let mut names = Vec::with_capacity(sellers.len() + 1);
    names.push((PartyKind::Buyer, buyer));
    names.extend(sellers.iter().map(|s| (PartyKind::Seller, *s)));
    let rows = app.store.parties_named(livemode, &names).await?;
    let Some(buyer_row) = rows
        .iter()
        .find(|p| p.kind == PartyKind::Buyer && p.id == buyer)
        .cloned()
    else {
        return Err(unknown(PartyKind::Buyer, buyer, livemode, "buyer"));
    };
    let mut terms = BTreeMap::new();
    for p in rows.iter().filter(|p| p.kind == PartyKind::Seller) {
        terms.insert(
            p.id.clone(),
            SellerTerms {
                ship_by_days: p.ship_by_days,
                commission: p.commission.map(|c| (c.basis_points, c.fixed)),
            },
        );
    }
    match sellers.iter().find(|s| !terms.contains_key(**s)) {
        Some(s) => Err(unknown(PartyKind::Seller, s, livemode, "items")),
        None => Ok((buyer_row, terms)),
    }
}
