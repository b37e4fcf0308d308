//! Gift cards as rows (the statement a unit runs for one, and their reads: by id, by the keyed
//! hash of a code, by batch, the ones due to expire), and the guards against guessing codes:
//! wrong codes in a row per subject, and until when a subject is locked out.

use holdback_domain::Money;
use holdback_domain::gift_card::{Activation, GiftCard, GiftCardState};
use holdback_domain::process::Versioned;

use crate::rows::{Get, corrupt, currency};
use crate::unit::{Statement, Val};
use crate::{Store, StoreError, with_pool};

const UPSERT_CARD: &str = "INSERT INTO gift_cards (id, batch, livemode, currency, value, \
     code_hash, hint, status, retailer, till, activated_at, buyer, redeemed_at, expired_at, \
     created_at, expires_at, version, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, retailer = excluded.retailer, \
     till = excluded.till, activated_at = excluded.activated_at, buyer = excluded.buyer, \
     redeemed_at = excluded.redeemed_at, expired_at = excluded.expired_at, \
     version = excluded.version, updated_at = excluded.updated_at";
macro_rules! card_columns {
    () => {
        "SELECT id, batch, livemode, currency, value, code_hash, hint, status, retailer, till, \
         activated_at, buyer, redeemed_at, expired_at, created_at, expires_at, version \
         FROM gift_cards "
    };
}
const SELECT_CARD: &str = concat!(card_columns!(), "WHERE id = $1");
const SELECT_BY_HASH: &str = concat!(card_columns!(), "WHERE code_hash = $1");
const SELECT_BATCH: &str = concat!(
    card_columns!(),
    "WHERE batch = $1 AND id > $2 ORDER BY id LIMIT $3"
);
const SELECT_DUE: &str = concat!(
    card_columns!(),
    "WHERE status IN ('inactive', 'active') AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2"
);
const SELECT_ACTIVE_SUMS: &str = "SELECT livemode, currency, CAST(SUM(value) AS BIGINT) AS total, \
     COUNT(*) AS cards FROM gift_cards WHERE status = 'active' GROUP BY livemode, currency";
const SELECT_GUARD: &str = "SELECT failures, locked_until FROM code_guards WHERE subject = $1";
const COUNT_FAILURE: &str = "INSERT INTO code_guards (subject, failures, locked_until) \
     VALUES ($1, 1, 0) ON CONFLICT (subject) DO UPDATE SET failures = CASE \
       WHEN code_guards.locked_until <> 0 AND code_guards.locked_until <= $2 THEN 1 \
       ELSE code_guards.failures + 1 END, \
     locked_until = CASE WHEN code_guards.locked_until <> 0 AND code_guards.locked_until <= $2 \
       THEN 0 ELSE code_guards.locked_until END \
     RETURNING failures";
const LOCK: &str = "UPDATE code_guards SET locked_until = $2 WHERE subject = $1";
const CLEAR: &str = "DELETE FROM code_guards WHERE subject = $1";

fn text(s: &str) -> Val {
    Val::Text(s.to_string())
}

/// The upsert of one card, at the version after `expected_version`.
pub(crate) fn statement(w: &Versioned<GiftCard>, now: i64) -> Statement {
    let c = &w.value;
    let a = c.state.activation();
    let (buyer, redeemed_at) = match &c.state {
        GiftCardState::Redeemed { buyer, at, .. } => (Some(buyer.clone()), Some(*at)),
        _ => (None, None),
    };
    let expired_at = match &c.state {
        GiftCardState::Expired { at, .. } => Some(*at),
        _ => None,
    };
    (
        UPSERT_CARD,
        vec![
            text(&c.id),
            text(&c.batch),
            Val::Bool(c.livemode),
            text(c.value.currency().code()),
            Val::Int(c.value.minor()),
            text(&c.code_hash),
            text(&c.hint),
            text(c.state.code()),
            Val::OptText(a.map(|a| a.retailer.clone())),
            Val::OptText(a.map(|a| a.till.clone())),
            Val::OptInt(a.map(|a| a.at)),
            Val::OptText(buyer),
            Val::OptInt(redeemed_at),
            Val::OptInt(expired_at),
            Val::Int(c.created_at),
            Val::Int(c.expires_at),
            Val::Int(w.expected_version + 1),
            Val::Int(now),
        ],
    )
}

fn card(row: &impl Get) -> Result<(GiftCard, i64), StoreError> {
    let c = currency(row.text("currency")?)?;
    let activation = match (
        row.opt_text("retailer")?,
        row.opt_text("till")?,
        row.opt_int("activated_at")?,
    ) {
        (Some(retailer), Some(till), Some(at)) => Some(Activation { retailer, till, at }),
        _ => None,
    };
    let status = row.text("status")?;
    let missing = || corrupt(format!("a {status} gift card without its activation"));
    let state = match status.as_str() {
        "inactive" => GiftCardState::Issued,
        "active" => GiftCardState::Active(activation.clone().ok_or_else(missing)?),
        "redeemed" => GiftCardState::Redeemed {
            activation: activation.clone().ok_or_else(missing)?,
            buyer: row
                .opt_text("buyer")?
                .ok_or_else(|| corrupt("a redeemed gift card without its buyer"))?,
            at: row
                .opt_int("redeemed_at")?
                .ok_or_else(|| corrupt("a redeemed gift card without its time"))?,
        },
        "expired" => GiftCardState::Expired {
            activation,
            at: row
                .opt_int("expired_at")?
                .ok_or_else(|| corrupt("an expired gift card without its time"))?,
        },
        other => return Err(corrupt(format!("gift card status {other:?}"))),
    };
    Ok((
        GiftCard {
            id: row.text("id")?,
            batch: row.text("batch")?,
            livemode: row.flag("livemode")?,
            value: Money::from_minor(row.int("value")?, c).map_err(corrupt)?,
            code_hash: row.text("code_hash")?,
            hint: row.text("hint")?,
            created_at: row.int("created_at")?,
            expires_at: row.int("expires_at")?,
            state,
        },
        row.int("version")?,
    ))
}

/// A subject's wrong codes in a row and the end of its lockout (0: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guard {
    pub failures: i64,
    pub locked_until: i64,
}

/// What the active cards of one mode and currency are worth together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCards {
    pub livemode: bool,
    pub currency: holdback_domain::Currency,
    pub total: i64,
    pub cards: i64,
}

impl Store {
    /// A gift card and its version.
    pub async fn gift_card(&self, id: &str) -> Result<Option<(GiftCard, i64)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_CARD).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(card).transpose()
        })
    }

    /// The gift card whose code has this keyed hash, and its version.
    pub async fn gift_card_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<(GiftCard, i64)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_BY_HASH).bind(hash).fetch_optional(pool).await?;
            row.as_ref().map(card).transpose()
        })
    }

    /// A batch's cards by id, after `after` ("" for the first page).
    pub async fn gift_card_batch(
        &self,
        batch: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<GiftCard>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_BATCH)
                .bind(batch)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| card(r).map(|(c, _)| c)).collect()
        })
    }

    /// Cards neither redeemed nor expired whose expiry is at or before `now`, soonest first.
    pub async fn gift_cards_due(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<(GiftCard, i64)>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_DUE)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(card).collect()
        })
    }

    /// The active cards' worth per mode and currency (what the gift-card liability must be).
    pub async fn active_gift_cards(&self) -> Result<Vec<ActiveCards>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_ACTIVE_SUMS).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(ActiveCards {
                        livemode: r.flag("livemode")?,
                        currency: currency(r.text("currency")?)?,
                        total: r.int("total")?,
                        cards: r.int("cards")?,
                    })
                })
                .collect()
        })
    }

    /// A subject's guard (all zero when it has none).
    pub async fn code_guard(&self, subject: &str) -> Result<Guard, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_GUARD).bind(subject).fetch_optional(pool).await?;
            match row {
                None => Ok(Guard::default()),
                Some(r) => Ok(Guard {
                    failures: r.int("failures")?,
                    locked_until: r.int("locked_until")?,
                }),
            }
        })
    }

    /// Counts one wrong code against `subject` (a lockout that ended at or before `now` starts
    /// the count again); at `limit` in a row the subject is locked until `lock_until`. Returns
    /// the count.
    pub async fn count_code_failure(
        &self,
        subject: &str,
        now: i64,
        limit: i64,
        lock_until: i64,
    ) -> Result<i64, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(COUNT_FAILURE)
                .bind(subject)
                .bind(now)
                .fetch_one(pool)
                .await?;
            let failures = row.int("failures")?;
            if failures >= limit {
                sqlx::query(LOCK).bind(subject).bind(lock_until).execute(pool).await?;
            }
            Ok(failures)
        })
    }

    /// A right code: the subject's count starts again.
    pub async fn clear_code_guard(&self, subject: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(CLEAR).bind(subject).execute(pool).await?;
            Ok(())
        })
    }
}
