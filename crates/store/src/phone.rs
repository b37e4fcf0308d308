//! One-time codes that verify a buyer's phone: written with the keyed hash of the code only,
//! each wrong try counted, and a right one taken once, marking the buyer's phone verified in
//! the same transaction.

use crate::rows::Get;
use crate::{Store, StoreError, with_pool};

/// A verification as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRow {
    pub id: String,
    pub buyer: String,
    pub livemode: bool,
    pub phone: String,
    pub code_hash: String,
    pub attempts: i64,
    pub expires_at: i64,
    pub verified_at: Option<i64>,
    pub created_at: i64,
}

const INSERT: &str = "INSERT INTO phone_verifications (id, buyer, livemode, phone, code_hash, \
     attempts, expires_at, verified_at, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6, NULL, $7)";
const SELECT: &str = "SELECT id, buyer, livemode, phone, code_hash, attempts, expires_at, \
     verified_at, created_at FROM phone_verifications WHERE id = $1";
const COUNT_TRY: &str = "UPDATE phone_verifications SET attempts = attempts + 1 \
     WHERE id = $1 AND attempts < $2 AND verified_at IS NULL";
const VERIFY: &str = "UPDATE phone_verifications SET verified_at = $2, attempts = attempts + 1 \
     WHERE id = $1 AND verified_at IS NULL AND attempts < $3";
const MARK_PARTY: &str = "UPDATE parties SET phone_verified = $3 \
     WHERE kind = 'buyer' AND livemode = $2 AND id = $1";

fn row(r: &impl Get) -> Result<VerificationRow, StoreError> {
    Ok(VerificationRow {
        id: r.text("id")?,
        buyer: r.text("buyer")?,
        livemode: r.flag("livemode")?,
        phone: r.text("phone")?,
        code_hash: r.text("code_hash")?,
        attempts: r.int("attempts")?,
        expires_at: r.int("expires_at")?,
        verified_at: r.opt_int("verified_at")?,
        created_at: r.int("created_at")?,
    })
}

impl Store {
    pub async fn insert_verification(&self, v: &VerificationRow) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(INSERT)
                .bind(&v.id)
                .bind(&v.buyer)
                .bind(v.livemode)
                .bind(&v.phone)
                .bind(&v.code_hash)
                .bind(v.expires_at)
                .bind(v.created_at)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn verification(&self, id: &str) -> Result<Option<VerificationRow>, StoreError> {
        with_pool!(self, pool => {
            let r = sqlx::query(SELECT).bind(id).fetch_optional(pool).await?;
            r.as_ref().map(row).transpose()
        })
    }

    /// Counts one wrong try, unless `max` were made already (or the code was taken): whether
    /// it was counted.
    pub async fn count_verification_try(&self, id: &str, max: i64) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let n = sqlx::query(COUNT_TRY)
                .bind(id)
                .bind(max)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// Takes a right code: the verification is done and its buyer's phone verified, together;
    /// `false` (nothing written) when it was taken before or its tries ran out meanwhile.
    pub async fn take_verification(
        &self,
        v: &VerificationRow,
        max: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(VERIFY)
                .bind(&v.id)
                .bind(now)
                .bind(max)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n != 1 {
                return Ok(false);
            }
            sqlx::query(MARK_PARTY)
                .bind(&v.buyer)
                .bind(v.livemode)
                .bind(true)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The buyer's earlier orders that completed (0: the next is a first order).
    pub async fn completed_orders(&self, buyer: &str, livemode: bool) -> Result<u32, StoreError> {
        with_pool!(self, pool => {
            let r = sqlx::query(
                "SELECT COUNT(*) AS n FROM orders WHERE buyer = $1 AND livemode = $2 \
                 AND status = 'completed'",
            )
            .bind(buyer)
            .bind(livemode)
            .fetch_one(pool)
            .await?;
            u32::try_from(r.int("n")?).map_err(|e| StoreError::Corrupt(e.to_string()))
        })
    }
}
