//! Evidence files' records (`evidence_files`): shared SQL text for both backends. The content
//! itself lives in the app's file store, by SHA-256; a row names it.
//!
//! A dispute's limits (count and total size) hold under concurrent uploads because the check
//! and the insert run in one transaction that excludes every other insert for the same dispute:
//! on SQLite `BEGIN IMMEDIATE` takes the database's write lock before the sums are read; on
//! PostgreSQL a transaction-scoped advisory lock on the dispute's id does (two uploads to one
//! dispute wait for each other, uploads to different disputes do not).

use holdback_domain::evidence::{EvidenceKind, EvidenceLimits, EvidenceRole, EvidenceUsage};

use crate::rows::Get;
use crate::{Store, StoreError, with_pool};

/// One evidence file of a dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRow {
    pub id: String,
    pub livemode: bool,
    pub dispute_id: String,
    pub uploader_role: EvidenceRole,
    /// The uploader's party id (or mediator id; `platform` for the platform).
    pub uploader_id: String,
    /// Lower-case hex SHA-256 of the content: its name in the file store.
    pub sha256: String,
    pub kind: EvidenceKind,
    pub size: u64,
    /// The cleaned name it is served under.
    pub file_name: String,
    pub created_at: i64,
}

/// What [`Store::insert_evidence`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceInsert {
    Created,
    /// The same uploader added the same content to this dispute before: that file, unchanged.
    Exists(EvidenceRow),
    /// Adding it would pass the dispute's limits; nothing was written. What the dispute takes.
    LimitReached(EvidenceUsage),
}

macro_rules! select_evidence {
    ($rest:literal) => {
        concat!(
            "SELECT id, livemode, dispute_id, uploader_role, uploader_id, sha256, kind, size, \
             file_name, created_at FROM evidence_files WHERE ",
            $rest
        )
    };
}

const SELECT_SAME: &str =
    select_evidence!("dispute_id = $1 AND uploader_role = $2 AND uploader_id = $3 AND sha256 = $4");
const SELECT_ONE: &str = select_evidence!("id = $1 AND livemode = $2");
const SELECT_OF_DISPUTE: &str =
    select_evidence!("dispute_id = $1 AND livemode = $2 ORDER BY created_at, id");

const INSERT: &str = "INSERT INTO evidence_files (id, livemode, dispute_id, uploader_role, \
     uploader_id, sha256, kind, size, file_name, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

const USAGE: &str = "SELECT COUNT(*) AS files, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes \
     FROM evidence_files WHERE dispute_id = $1";

/// The advisory lock's first key on PostgreSQL (the second is the dispute id's hash).
const PG_LOCK_SPACE: i32 = 7_246_811;

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("evidence file: {what}"))
}

fn row(r: &impl Get) -> Result<EvidenceRow, StoreError> {
    let role = r.text("uploader_role")?;
    let kind = r.text("kind")?;
    Ok(EvidenceRow {
        id: r.text("id")?,
        livemode: r.flag("livemode")?,
        dispute_id: r.text("dispute_id")?,
        uploader_role: EvidenceRole::from_code(&role)
            .ok_or_else(|| corrupt(format!("role {role}")))?,
        uploader_id: r.text("uploader_id")?,
        sha256: r.text("sha256")?,
        kind: EvidenceKind::from_code(&kind).ok_or_else(|| corrupt(format!("kind {kind}")))?,
        size: u64::try_from(r.int("size")?).map_err(corrupt)?,
        file_name: r.text("file_name")?,
        created_at: r.int("created_at")?,
    })
}

fn usage(r: &impl Get) -> Result<EvidenceUsage, StoreError> {
    Ok(EvidenceUsage {
        files: u64::try_from(r.int("files")?).map_err(corrupt)?,
        bytes: u64::try_from(r.int("bytes")?).map_err(corrupt)?,
    })
}

/// In the open transaction `$tx`, which already excludes other inserts for the dispute: the
/// existing file of the same uploader and content, else the limit check, else the insert.
/// Commits only a `Created`.
macro_rules! insert_in {
    ($tx:ident, $e:expr, $limits:expr) => {{
        let e: &EvidenceRow = $e;
        let limits: &EvidenceLimits = $limits;
        let same = sqlx::query(SELECT_SAME)
        .bind(&e.dispute_id)
        .bind(e.uploader_role.code())
        .bind(&e.uploader_id)
        .bind(&e.sha256)
        .fetch_optional(&mut *$tx)
        .await?;
        let outcome = if let Some(same) = same {
            EvidenceInsert::Exists(row(&same)?)
        } else {
            let now = usage(
                &sqlx::query(USAGE)
                    .bind(&e.dispute_id)
                    .fetch_one(&mut *$tx)
                    .await?,
            )?;
            if limits.check_dispute(now, e.size).is_err() {
                EvidenceInsert::LimitReached(now)
            } else {
                sqlx::query(INSERT)
                    .bind(&e.id)
                    .bind(e.livemode)
                    .bind(&e.dispute_id)
                    .bind(e.uploader_role.code())
                    .bind(&e.uploader_id)
                    .bind(&e.sha256)
                    .bind(e.kind.code())
                    .bind(i64::try_from(e.size).map_err(corrupt)?)
                    .bind(&e.file_name)
                    .bind(e.created_at)
                    .execute(&mut *$tx)
                    .await?;
                EvidenceInsert::Created
            }
        };
        if outcome == EvidenceInsert::Created {
            $tx.commit().await?;
        } else {
            $tx.rollback().await?;
        }
        outcome
    }};
}

impl Store {
    /// Adds an evidence file to its dispute if the dispute's `limits` (count and total size,
    /// its other files included) allow it; the check and the insert are one transaction that no
    /// other insert for the same dispute runs beside (see the module's notes).
    pub async fn insert_evidence(
        &self,
        evidence: &EvidenceRow,
        limits: &EvidenceLimits,
    ) -> Result<EvidenceInsert, StoreError> {
        Ok(match self {
            Store::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                insert_in!(tx, evidence, limits)
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                    .bind(PG_LOCK_SPACE)
                    .bind(&evidence.dispute_id)
                    .execute(&mut *tx)
                    .await?;
                insert_in!(tx, evidence, limits)
            }
        })
    }

    /// One evidence file of a mode, by id.
    pub async fn evidence_file(
        &self,
        livemode: bool,
        id: &str,
    ) -> Result<Option<EvidenceRow>, StoreError> {
        with_pool!(self, pool => {
            let found = sqlx::query(SELECT_ONE)
                .bind(id)
                .bind(livemode)
                .fetch_optional(pool)
                .await?;
            found.as_ref().map(row).transpose()
        })
    }

    /// A dispute's evidence files of a mode, in the order they came.
    pub async fn list_evidence(
        &self,
        livemode: bool,
        dispute_id: &str,
    ) -> Result<Vec<EvidenceRow>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_OF_DISPUTE)
                .bind(dispute_id)
                .bind(livemode)
                .fetch_all(pool)
                .await?;
            rows.iter().map(row).collect()
        })
    }

    /// How many files a dispute has and their total size.
    pub async fn evidence_usage(&self, dispute_id: &str) -> Result<EvidenceUsage, StoreError> {
        with_pool!(self, pool => {
            usage(&sqlx::query(USAGE).bind(dispute_id).fetch_one(pool).await?)
        })
    }
}
