//! Parties (buyers and sellers) and the lifecycle of API keys: shared SQL text for both backends.
//! A party is created together with its idempotent response in one transaction.

use holdback_domain::party::{PartyCommission, PartyKind};
use holdback_domain::{Currency, Money};

use crate::rows::Get;
use crate::unit::{ApiKeyRow, IdempotencyRecord};
use crate::{Cursor, Store, StoreError, with_pool};

/// A stored party. `metadata` is a JSON object as text (the app encodes and decodes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRow {
    pub kind: PartyKind,
    pub livemode: bool,
    pub id: String,
    pub created_at: i64,
    pub country: String,
    pub region: Option<String>,
    pub phone_verified: bool,
    pub metadata: String,
    /// Sellers only.
    pub ship_by_days: Option<u32>,
    /// Sellers only; `None` is the policy's commission.
    pub commission: Option<PartyCommission>,
    /// Sellers only: accepts cash on delivery.
    pub cash_on_delivery: bool,
}

/// What [`Store::insert_party`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyInsert {
    Created,
    /// A party of this kind, mode and id exists; nothing was written.
    Exists,
    /// The idempotency key was used meanwhile; nothing was written.
    KeyUsed,
}

/// What [`Store::revoke_api_key`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    /// Revoked before, at this time (ms); nothing changed.
    AlreadyRevoked(i64),
    Unknown,
}

/// An API key as listed (never its secret hash), with when it was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListing {
    pub id: String,
    pub principal_kind: String,
    pub party_id: Option<String>,
    pub livemode: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// `SELECT` of a party row's columns from `parties`, without the condition.
macro_rules! select_party_columns {
    () => {
        "SELECT kind, livemode, id, created_at, country, region, phone_verified, metadata, \
         ship_by_days, commission_bps, commission_fixed, commission_currency, cash_on_delivery \
         FROM parties "
    };
}

macro_rules! select_parties {
    ($rest:literal) => {
        concat!(
            select_party_columns!(),
            "WHERE kind = $1 AND livemode = $2 ",
            $rest
        )
    };
}

const SELECT_PARTY: &str = select_parties!("AND id = $3");
const SELECT_PARTIES_AFTER: &str =
    select_parties!("AND ($3 = '' OR id = $3) AND ($4 = '' OR id > $4) ORDER BY id ASC LIMIT $5");
const SELECT_PARTIES_BEFORE: &str =
    select_parties!("AND ($3 = '' OR id = $3) AND id < $4 ORDER BY id DESC LIMIT $5");

const INSERT_PARTY: &str = "INSERT INTO parties (kind, livemode, id, created_at, country, region, \
     phone_verified, metadata, ship_by_days, commission_bps, commission_fixed, commission_currency, \
     cash_on_delivery) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING";

const SELECT_ACTIVE_KEY: &str = "SELECT id, secret_sha256, principal_kind, party_id, livemode, \
     created_at FROM api_keys WHERE id = $1 AND revoked_at IS NULL";

const REVOKE_KEY: &str = "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn party(row: &impl Get) -> Result<PartyRow, StoreError> {
    let kind = row.text("kind")?;
    let kind = PartyKind::from_code(&kind).ok_or_else(|| corrupt(format!("party kind {kind}")))?;
    let ship_by_days = row
        .opt_int("ship_by_days")?
        .map(u32::try_from)
        .transpose()
        .map_err(corrupt)?;
    let commission = match row.opt_int("commission_bps")? {
        None => None,
        Some(bps) => {
            let fixed = match (
                row.opt_int("commission_fixed")?,
                row.opt_text("commission_currency")?,
            ) {
                (Some(amount), Some(code)) => {
                    let currency = Currency::parse(&code).map_err(corrupt)?;
                    Some(Money::from_minor(amount, currency).map_err(corrupt)?)
                }
                _ => None,
            };
            Some(PartyCommission {
                basis_points: u32::try_from(bps).map_err(corrupt)?,
                fixed,
            })
        }
    };
    Ok(PartyRow {
        kind,
        livemode: row.flag("livemode")?,
        id: row.text("id")?,
        created_at: row.int("created_at")?,
        country: row.text("country")?,
        region: row.opt_text("region")?,
        phone_verified: row.flag("phone_verified")?,
        metadata: row.text("metadata")?,
        ship_by_days,
        commission,
        cash_on_delivery: row.flag("cash_on_delivery")?,
    })
}

/// Inserts a party and, when given, its idempotent response, in the open transaction `$tx`;
/// evaluates to the [`PartyInsert`] and commits only on `Created`.
macro_rules! insert_in {
    ($tx:ident, $p:expr, $idem:expr) => {{
        let p: &PartyRow = $p;
        let mut outcome = PartyInsert::Created;
        if let Some(k) = $idem
            && !crate::insert_key!($tx, k)
        {
            outcome = PartyInsert::KeyUsed;
        }
        if outcome == PartyInsert::Created {
            let commission = p.commission.as_ref();
            let fixed = commission.and_then(|c| c.fixed);
            let n = sqlx::query(INSERT_PARTY)
                .bind(p.kind.code())
                .bind(p.livemode)
                .bind(&p.id)
                .bind(p.created_at)
                .bind(&p.country)
                .bind(&p.region)
                .bind(p.phone_verified)
                .bind(&p.metadata)
                .bind(p.ship_by_days.map(i64::from))
                .bind(commission.map(|c| i64::from(c.basis_points)))
                .bind(fixed.map(Money::minor))
                .bind(fixed.map(|f| f.currency().code()))
                .bind(p.cash_on_delivery)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
            if n == 0 {
                outcome = PartyInsert::Exists;
            }
        }
        if outcome == PartyInsert::Created {
            $tx.commit().await?;
        } else {
            $tx.rollback().await?;
        }
        outcome
    }};
}

impl Store {
    /// Creates a party, with the first response to its idempotency key if there is one: both
    /// or neither.
    pub async fn insert_party(
        &self,
        party: &PartyRow,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<PartyInsert, StoreError> {
        Ok(match self {
            Store::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                insert_in!(tx, party, idempotency)
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                insert_in!(tx, party, idempotency)
            }
        })
    }

    /// A party of one kind and mode, by id.
    pub async fn party(
        &self,
        kind: PartyKind,
        livemode: bool,
        id: &str,
    ) -> Result<Option<PartyRow>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_PARTY)
                .bind(kind.code())
                .bind(livemode)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(party).transpose()
        })
    }

    /// The parties of a mode named in `names` (kind and id) that exist, in one read (a
    /// checkout's buyer and sellers).
    pub async fn parties_named(
        &self,
        livemode: bool,
        names: &[(PartyKind, &str)],
    ) -> Result<Vec<PartyRow>, StoreError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = String::from(concat!(
            select_party_columns!(),
            "WHERE livemode = $1 AND ("
        ));
        for i in 0..names.len() {
            if i > 0 {
                sql.push_str(" OR ");
            }
            sql.push_str(&format!("(kind = ${} AND id = ${})", 2 * i + 2, 2 * i + 3));
        }
        sql.push(')');
        with_pool!(self, pool => {
            // Only placeholders are formatted into the text; every value is bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(livemode);
            for (kind, id) in names {
                query = query.bind(kind.code()).bind(*id);
            }
            query.fetch_all(pool).await?.iter().map(party).collect()
        })
    }

    /// Parties of one kind and mode by id (ascending), optionally only the one with id `only`:
    /// those after the cursor, or with `Cursor::Before`, those just before it.
    pub async fn list_parties(
        &self,
        kind: PartyKind,
        livemode: bool,
        only: Option<&str>,
        cursor: Cursor<'_>,
        limit: u32,
    ) -> Result<Vec<PartyRow>, StoreError> {
        let (sql, at, reverse) = match cursor {
            Cursor::After(id) => (SELECT_PARTIES_AFTER, id, false),
            Cursor::Before(id) => (SELECT_PARTIES_BEFORE, id, true),
        };
        let mut parties = with_pool!(self, pool => {
            let rows = sqlx::query(sql)
                .bind(kind.code())
                .bind(livemode)
                .bind(only.unwrap_or(""))
                .bind(at)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(party).collect::<Result<Vec<_>, _>>()?
        });
        if reverse {
            parties.reverse();
        }
        Ok(parties)
    }

    /// An API key that has not been revoked.
    pub async fn active_api_key(&self, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_ACTIVE_KEY).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(crate::rows::api_key).transpose()
        })
    }

    /// Revokes an API key as of `now`; a key revoked before keeps its first revocation time.
    pub async fn revoke_api_key(&self, id: &str, now: i64) -> Result<Revocation, StoreError> {
        with_pool!(self, pool => {
            let n = sqlx::query(REVOKE_KEY)
                .bind(id)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            if n > 0 {
                return Ok(Revocation::Revoked);
            }
            let before: Option<Option<i64>> =
                sqlx::query_scalar("SELECT revoked_at FROM api_keys WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?;
            Ok(match before {
                Some(at) => Revocation::AlreadyRevoked(at.unwrap_or(now)),
                None => Revocation::Unknown,
            })
        })
    }

    /// Every API key, oldest first, without secrets.
    pub async fn list_api_keys(&self) -> Result<Vec<KeyListing>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, principal_kind, party_id, livemode, created_at, revoked_at \
                 FROM api_keys ORDER BY created_at, id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(KeyListing {
                        id: r.text("id")?,
                        principal_kind: r.text("principal_kind")?,
                        party_id: r.opt_text("party_id")?,
                        livemode: r.flag("livemode")?,
                        created_at: r.int("created_at")?,
                        revoked_at: r.opt_int("revoked_at")?,
                    })
                })
                .collect()
        })
    }
}
