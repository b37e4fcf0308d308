//! The sandbox file: its tables, and each operation as SQL inside the caller's transaction.
//!
//! `ops` is the statement: one row per charge or refund that moved money, numbered in the order
//! performed, unique by (kind, reference). `cards` keeps what the provider knows of each
//! charge's card (never the number: a SHA-256 fingerprint of it, to refuse a reference reused
//! with another card). `faults` holds the armed faults.

use holdback_domain::calendar::year_month;
use holdback_domain::card::{Brand, CardInput, StoredCard, sandbox_outcome};
use holdback_domain::{Currency, Money};
use rusqlite::{Connection, OptionalExtension as _, Row, Transaction, params};
use sha2::{Digest, Sha256};

use crate::{
    Answer, ChargeRecord, Fault, FaultEffect, FaultOp, REFUNDS_FAIL_CARD, RefundRecord,
    SandboxError, StatementKind, StatementLine,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ops (
    seq       INTEGER PRIMARY KEY,
    kind      TEXT    NOT NULL CHECK (kind IN ('charge', 'refund')),
    id        TEXT    NOT NULL UNIQUE,
    reference TEXT    NOT NULL,
    charge_id TEXT    NOT NULL,
    amount    INTEGER NOT NULL CHECK (amount > 0),
    currency  TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    UNIQUE (kind, reference)
);
CREATE INDEX IF NOT EXISTS ops_by_charge ON ops (charge_id, kind);
CREATE TABLE IF NOT EXISTS cards (
    charge_id    TEXT    PRIMARY KEY,
    brand        TEXT    NOT NULL,
    last4        TEXT    NOT NULL,
    exp_month    INTEGER NOT NULL,
    exp_year     INTEGER NOT NULL,
    fingerprint  TEXT    NOT NULL,
    refunds_fail INTEGER NOT NULL CHECK (refunds_fail IN (0, 1))
);
CREATE TABLE IF NOT EXISTS faults (
    id        INTEGER PRIMARY KEY,
    op        TEXT    NOT NULL CHECK (op IN ('charge', 'refund', 'any')),
    effect    TEXT    NOT NULL CHECK (effect IN ('timeout', 'answer_lost', 'stall', 'fail')),
    stall_ms  INTEGER NOT NULL CHECK (stall_ms >= 0),
    remaining INTEGER NOT NULL CHECK (remaining > 0)
);
";

/// A charge with its card and what has been refunded of it, for one row per charge.
const SELECT_CHARGE: &str = "
SELECT o.id, o.reference, o.amount, o.currency, o.at,
       c.brand, c.last4, c.exp_month, c.exp_year, c.fingerprint, c.refunds_fail,
       (SELECT COALESCE(SUM(r.amount), 0) FROM ops r
         WHERE r.kind = 'refund' AND r.charge_id = o.id)
  FROM ops o JOIN cards c ON c.charge_id = o.id
 WHERE o.kind = 'charge'";

const SELECT_REFUND: &str =
    "SELECT id, reference, charge_id, amount, currency, at FROM ops WHERE kind = 'refund'";

/// The layout this code reads and writes, kept in the file's `user_version`.
const SCHEMA_VERSION: i64 = 1;

/// Creates the tables of a new file; refuses a file written by a newer layout.
pub(crate) fn create_schema(tx: &Transaction<'_>) -> Result<(), SandboxError> {
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        0 => {
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
            Ok(())
        }
        SCHEMA_VERSION => Ok(()),
        other => Err(SandboxError::Storage(format!(
            "the sandbox file has layout {other}; this build reads {SCHEMA_VERSION}"
        ))),
    }
}

/// A charge as stored, with the facts the operations check besides the record.
struct StoredCharge {
    record: ChargeRecord,
    fingerprint: String,
    refunds_fail: bool,
}

pub(crate) enum ChargeKey<'a> {
    Id(&'a str),
    Reference(&'a str),
}

fn find_charge(
    conn: &Connection,
    key: ChargeKey<'_>,
) -> Result<Option<StoredCharge>, SandboxError> {
    let (sql, value) = match key {
        ChargeKey::Id(id) => (format!("{SELECT_CHARGE} AND o.id = ?1"), id),
        ChargeKey::Reference(r) => (format!("{SELECT_CHARGE} AND o.reference = ?1"), r),
    };
    let row = conn
        .prepare_cached(&sql)?
        .query_row([value], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                (
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ),
                (r.get::<_, String>(5)?, r.get::<_, String>(6)?),
                (r.get::<_, u8>(7)?, r.get::<_, u16>(8)?),
                (
                    r.get::<_, String>(9)?,
                    r.get::<_, bool>(10)?,
                    r.get::<_, i64>(11)?,
                ),
            ))
        })
        .optional()?;
    let Some((
        (id, reference),
        (amount, currency, at),
        (brand, last4),
        (exp_month, exp_year),
        (fingerprint, refunds_fail, refunded),
    )) = row
    else {
        return Ok(None);
    };
    let currency = parse_currency(&currency)?;
    Ok(Some(StoredCharge {
        record: ChargeRecord {
            amount: money(amount, currency)?,
            refunded: money(refunded, currency)?,
            card: StoredCard {
                brand: parse_brand(&brand)?,
                last4,
                exp_month,
                exp_year,
                token: id.clone(),
            },
            id,
            reference,
            created_at: at,
        },
        fingerprint,
        refunds_fail,
    }))
}

pub(crate) fn charge_by(
    conn: &Connection,
    key: ChargeKey<'_>,
) -> Result<Option<ChargeRecord>, SandboxError> {
    Ok(find_charge(conn, key)?.map(|c| c.record))
}

pub(crate) fn refund_by_reference(
    conn: &Connection,
    reference: &str,
) -> Result<Option<RefundRecord>, SandboxError> {
    let sql = format!("{SELECT_REFUND} AND reference = ?1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([reference], refund_row)
        .optional()?;
    row.map(RawRefund::into_record).transpose()
}

struct RawRefund {
    id: String,
    reference: String,
    charge_id: String,
    amount: i64,
    currency: String,
    at: i64,
}

impl RawRefund {
    fn into_record(self) -> Result<RefundRecord, SandboxError> {
        Ok(RefundRecord {
            amount: money(self.amount, parse_currency(&self.currency)?)?,
            id: self.id,
            reference: self.reference,
            charge_id: self.charge_id,
            created_at: self.at,
        })
    }
}

fn refund_row(r: &Row<'_>) -> rusqlite::Result<RawRefund> {
    Ok(RawRefund {
        id: r.get(0)?,
        reference: r.get(1)?,
        charge_id: r.get(2)?,
        amount: r.get(3)?,
        currency: r.get(4)?,
        at: r.get(5)?,
    })
}

pub(crate) fn charge(
    tx: &Transaction<'_>,
    card: &CardInput,
    amount: Money,
    reference: &str,
    now_ms: i64,
) -> Result<Answer<ChargeRecord>, SandboxError> {
    let digits = card.number.expose_digits();
    let fingerprint = hex(&Sha256::digest(digits.as_bytes()));
    if let Some(first) = find_charge(tx, ChargeKey::Reference(reference))? {
        let same = first.record.amount == amount
            && first.fingerprint == fingerprint
            && first.record.card.exp_month == card.exp_month
            && first.record.card.exp_year == card.exp_year;
        return Ok(if same {
            Ok(first.record)
        } else {
            Err(SandboxError::ReferenceReused)
        });
    }
    if amount.is_zero() {
        return Ok(Err(SandboxError::InvalidAmount));
    }
    let (year, month) = year_month(now_ms);
    let refunds_fail = digits == REFUNDS_FAIL_CARD;
    let outcome = if refunds_fail {
        // Not in the stateless table: its charges succeed unless the card has expired.
        if card.expired(year, month) {
            Err(holdback_domain::card::CardError::ExpiredCard)
        } else {
            Ok(())
        }
    } else {
        sandbox_outcome(card, year, month)
    };
    if let Err(e) = outcome {
        return Ok(Err(SandboxError::Card(e)));
    }
    let id = new_id(tx, "ch", reference, now_ms)?;
    insert_op(
        tx,
        StatementKind::Charge,
        &id,
        reference,
        &id,
        amount,
        now_ms,
    )?;
    tx.prepare_cached(
        "INSERT INTO cards (charge_id, brand, last4, exp_month, exp_year, fingerprint, refunds_fail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        card.number.brand().code(),
        card.number.last4(),
        card.exp_month,
        card.exp_year,
        fingerprint,
        refunds_fail,
    ])?;
    Ok(Ok(ChargeRecord {
        reference: reference.to_string(),
        amount,
        refunded: Money::zero(amount.currency()),
        card: StoredCard {
            brand: card.number.brand(),
            last4: card.number.last4().to_string(),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            token: id.clone(),
        },
        id,
        created_at: now_ms,
    }))
}

pub(crate) fn refund(
    tx: &Transaction<'_>,
    charge_id: &str,
    amount: Money,
    reference: &str,
    now_ms: i64,
) -> Result<Answer<RefundRecord>, SandboxError> {
    if let Some(first) = refund_by_reference(tx, reference)? {
        return Ok(if first.charge_id == charge_id && first.amount == amount {
            Ok(first)
        } else {
            Err(SandboxError::ReferenceReused)
        });
    }
    let Some(charge) = find_charge(tx, ChargeKey::Id(charge_id))? else {
        return Ok(Err(SandboxError::NoSuchCharge));
    };
    if charge.record.amount.currency() != amount.currency() {
        return Ok(Err(SandboxError::CurrencyMismatch));
    }
    if amount.is_zero() {
        return Ok(Err(SandboxError::InvalidAmount));
    }
    if charge.refunds_fail {
        return Ok(Err(SandboxError::RefundFailed));
    }
    let fits = charge
        .record
        .refunded
        .checked_add(amount)
        .is_ok_and(|total| total.minor() <= charge.record.amount.minor());
    if !fits {
        return Ok(Err(SandboxError::RefundExceedsCharge));
    }
    let id = new_id(tx, "re", reference, now_ms)?;
    insert_op(
        tx,
        StatementKind::Refund,
        &id,
        reference,
        charge_id,
        amount,
        now_ms,
    )?;
    Ok(Ok(RefundRecord {
        id,
        reference: reference.to_string(),
        charge_id: charge_id.to_string(),
        amount,
        created_at: now_ms,
    }))
}

fn insert_op(
    tx: &Transaction<'_>,
    kind: StatementKind,
    id: &str,
    reference: &str,
    charge_id: &str,
    amount: Money,
    at: i64,
) -> Result<(), SandboxError> {
    tx.prepare_cached(
        "INSERT INTO ops (kind, id, reference, charge_id, amount, currency, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        kind.code(),
        id,
        reference,
        charge_id,
        amount.minor(),
        amount.currency().code(),
        at,
    ])?;
    Ok(())
}

/// A fresh id: the prefix and 24 hex digits of a hash over the reference, the time and the
/// statement's next sequence number, so that ids differ across calls and files reused by tests.
fn new_id(
    tx: &Transaction<'_>,
    prefix: &str,
    reference: &str,
    now_ms: i64,
) -> Result<String, SandboxError> {
    let next: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM ops", [], |r| {
        r.get(0)
    })?;
    let digest = Sha256::digest(format!("{prefix}\n{reference}\n{now_ms}\n{next}").as_bytes());
    Ok(format!("{prefix}_{}", hex(&digest[..12])))
}

pub(crate) fn statement(conn: &Connection) -> Result<Vec<StatementLine>, SandboxError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, id, reference, charge_id, amount, currency, at FROM ops ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, i64>(6)?,
        ))
    })?;
    let mut lines = Vec::new();
    for row in rows {
        let (kind, id, reference, charge_id, amount, currency, at) = row?;
        let kind = match kind.as_str() {
            "charge" => StatementKind::Charge,
            "refund" => StatementKind::Refund,
            other => return Err(corrupt("kind", other)),
        };
        lines.push(StatementLine {
            kind,
            id,
            reference,
            charge_id,
            amount: money(amount, parse_currency(&currency)?)?,
            at,
        });
    }
    Ok(lines)
}

pub(crate) fn heal_refunds(tx: &Transaction<'_>, charge_id: &str) -> Result<(), SandboxError> {
    let changed = tx.execute(
        "UPDATE cards SET refunds_fail = 0 WHERE charge_id = ?1",
        [charge_id],
    )?;
    if changed == 0 {
        return Err(SandboxError::NoSuchCharge);
    }
    Ok(())
}

fn fault_op_code(op: FaultOp) -> &'static str {
    match op {
        FaultOp::Charge => "charge",
        FaultOp::Refund => "refund",
        FaultOp::Any => "any",
    }
}

pub(crate) fn add_fault(tx: &Transaction<'_>, fault: Fault) -> Result<(), SandboxError> {
    let (effect, stall_ms) = match fault.effect {
        FaultEffect::Timeout => ("timeout", 0),
        FaultEffect::AnswerLost => ("answer_lost", 0),
        FaultEffect::Stall { ms } => ("stall", i64::try_from(ms).unwrap_or(i64::MAX)),
        FaultEffect::Fail => ("fail", 0),
    };
    tx.execute(
        "INSERT INTO faults (op, effect, stall_ms, remaining) VALUES (?1, ?2, ?3, ?4)",
        params![fault_op_code(fault.op), effect, stall_ms, fault.times],
    )?;
    Ok(())
}

pub(crate) fn clear_faults(tx: &Transaction<'_>) -> Result<(), SandboxError> {
    tx.execute("DELETE FROM faults", [])?;
    Ok(())
}

fn fault_row(r: &Row<'_>) -> rusqlite::Result<(i64, String, String, i64, u32)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn decode_fault(op: &str, effect: &str, stall_ms: i64, times: u32) -> Result<Fault, SandboxError> {
    let op = match op {
        "charge" => FaultOp::Charge,
        "refund" => FaultOp::Refund,
        "any" => FaultOp::Any,
        other => return Err(corrupt("fault op", other)),
    };
    let effect = match effect {
        "timeout" => FaultEffect::Timeout,
        "answer_lost" => FaultEffect::AnswerLost,
        "stall" => FaultEffect::Stall {
            ms: u64::try_from(stall_ms).unwrap_or(0),
        },
        "fail" => FaultEffect::Fail,
        other => return Err(corrupt("fault effect", other)),
    };
    Ok(Fault { op, effect, times })
}

pub(crate) fn faults(conn: &Connection) -> Result<Vec<Fault>, SandboxError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, op, effect, stall_ms, remaining FROM faults ORDER BY id")?;
    let rows = stmt.query_map([], fault_row)?;
    let mut out = Vec::new();
    for row in rows {
        let (_, op, effect, stall_ms, remaining) = row?;
        out.push(decode_fault(&op, &effect, stall_ms, remaining)?);
    }
    Ok(out)
}

/// Spends one use of the oldest fault that matches `op`, and answers its effect.
pub(crate) fn take_fault(
    tx: &Transaction<'_>,
    op: FaultOp,
) -> Result<Option<FaultEffect>, SandboxError> {
    let row = tx
        .prepare_cached(
            "SELECT id, op, effect, stall_ms, remaining FROM faults
              WHERE op IN (?1, 'any') ORDER BY id LIMIT 1",
        )?
        .query_row([fault_op_code(op)], fault_row)
        .optional()?;
    let Some((id, op, effect, stall_ms, remaining)) = row else {
        return Ok(None);
    };
    if remaining > 1 {
        tx.execute(
            "UPDATE faults SET remaining = remaining - 1 WHERE id = ?1",
            [id],
        )?;
    } else {
        tx.execute("DELETE FROM faults WHERE id = ?1", [id])?;
    }
    Ok(Some(
        decode_fault(&op, &effect, stall_ms, remaining)?.effect,
    ))
}

fn money(minor: i64, currency: Currency) -> Result<Money, SandboxError> {
    Money::from_minor(minor, currency).map_err(|e| corrupt("amount", &e.to_string()))
}

fn parse_currency(code: &str) -> Result<Currency, SandboxError> {
    Currency::parse(code).map_err(|_| corrupt("currency", code))
}

fn parse_brand(code: &str) -> Result<Brand, SandboxError> {
    Brand::parse(code).ok_or_else(|| corrupt("brand", code))
}

fn corrupt(what: &str, value: &str) -> SandboxError {
    SandboxError::Storage(format!("unreadable {what} {value:?} in the sandbox file"))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
