//! Carriers' remittances as rows: one per file (by the hash of its bytes, and by the carrier's
//! batch id), its lines as classified, and the parcels a chunk of lines looks up.

use holdback_domain::cod::Parcel;

use crate::rows::Get;
use crate::unit::{Statement, Val};
use crate::{Store, StoreError, with_pool};

/// A remittance file as imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemittanceRow {
    pub id: String,
    pub carrier: String,
    pub batch: String,
    pub file_sha256: String,
    pub livemode: bool,
    pub currency: String,
    /// `importing` (chunks being posted; a crash resumes at `chunks_done`) or `done`.
    pub status: String,
    pub chunks_done: i64,
    pub lines: i64,
    pub posted: i64,
    pub gross: i64,
    pub deductions: i64,
    pub net: i64,
    /// The report (JSON), once done.
    pub report: String,
    pub created_at: i64,
}

/// One line of a remittance as classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemittanceLineRow {
    pub remittance: String,
    pub line_no: i64,
    pub tracking: String,
    pub parcel: Option<String>,
    pub class: String,
    pub expected_net: Option<i64>,
    pub reported_net: i64,
    pub delta: i64,
    /// `kind=amount` pairs joined by `|`.
    pub deductions: String,
    /// Warning codes joined by `|`.
    pub warnings: String,
    /// When an operator accepted the line as the carrier paid it, why, and with which key.
    pub accepted_at: Option<i64>,
    pub accepted_note: Option<String>,
    pub accepted_by: Option<String>,
}

/// An operator's acceptance of one line (written in the unit that posts it; a line is accepted
/// once: the parcel's version, checked with the unit's, moves when it is marked remitted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineAccepted {
    pub remittance: String,
    pub line_no: i64,
    pub at: i64,
    pub note: String,
    /// The key the operator used.
    pub by: String,
}

const COLUMNS: &str = "SELECT id, carrier, batch, file_sha256, livemode, currency, status, \
     chunks_done, lines, posted, gross, deductions, net, report, created_at FROM remittances ";
const INSERT: &str = "INSERT INTO remittances (id, carrier, batch, file_sha256, livemode, \
     currency, status, chunks_done, lines, posted, gross, deductions, net, report, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'importing', 0, 0, 0, 0, 0, 0, '{}', $7) \
     ON CONFLICT DO NOTHING";
// (parameters in order of first appearance: SQLite's writer numbers them so)
const PROGRESS: &str = "UPDATE remittances SET chunks_done = $1, posted = posted + $2 \
     WHERE id = $3 AND chunks_done = $1 - 1";
const FINISH: &str = "UPDATE remittances SET status = 'done', lines = $2, gross = $3, \
     deductions = $4, net = $5, report = $6 WHERE id = $1";
const INSERT_LINE: &str = "INSERT INTO remittance_lines (remittance_id, line_no, tracking, \
     parcel_id, class, expected_net, reported_net, delta, deductions, warnings) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";
macro_rules! line_columns {
    () => {
        "SELECT remittance_id, line_no, tracking, parcel_id, class, expected_net, reported_net, \
         delta, deductions, warnings, accepted_at, accepted_note, accepted_by \
         FROM remittance_lines "
    };
}
const SELECT_LINES: &str = concat!(
    line_columns!(),
    "WHERE remittance_id = $1 AND line_no > $2 ORDER BY line_no LIMIT $3"
);
const SELECT_LINE: &str = concat!(line_columns!(), "WHERE remittance_id = $1 AND line_no = $2");
const ACCEPT_LINE: &str = "UPDATE remittance_lines SET accepted_at = $1, accepted_note = $2, \
     accepted_by = $3 WHERE remittance_id = $4 AND line_no = $5 AND accepted_at IS NULL";

fn row(r: &impl Get) -> Result<RemittanceRow, StoreError> {
    Ok(RemittanceRow {
        id: r.text("id")?,
        carrier: r.text("carrier")?,
        batch: r.text("batch")?,
        file_sha256: r.text("file_sha256")?,
        livemode: r.flag("livemode")?,
        currency: r.text("currency")?,
        status: r.text("status")?,
        chunks_done: r.int("chunks_done")?,
        lines: r.int("lines")?,
        posted: r.int("posted")?,
        gross: r.int("gross")?,
        deductions: r.int("deductions")?,
        net: r.int("net")?,
        report: r.text("report")?,
        created_at: r.int("created_at")?,
    })
}

fn line(r: &impl Get) -> Result<RemittanceLineRow, StoreError> {
    Ok(RemittanceLineRow {
        remittance: r.text("remittance_id")?,
        line_no: r.int("line_no")?,
        tracking: r.text("tracking")?,
        parcel: r.opt_text("parcel_id")?,
        class: r.text("class")?,
        expected_net: r.opt_int("expected_net")?,
        reported_net: r.int("reported_net")?,
        delta: r.int("delta")?,
        deductions: r.text("deductions")?,
        warnings: r.text("warnings")?,
        accepted_at: r.opt_int("accepted_at")?,
        accepted_note: r.opt_text("accepted_note")?,
        accepted_by: r.opt_text("accepted_by")?,
    })
}

/// How many ids one marking statement takes.
const MARK_IDS: usize = 500;

/// `UPDATE parcels … WHERE id IN (…)` of [`MARK_IDS`] ids (the unused ones padded with ids no
/// parcel has): one statement text per kind of mark, prepared once. A payment marks the parcel
/// remitted by the batch; a reversal takes that mark away and records the batch that did it.
fn mark_sql(reversal: bool) -> &'static str {
    static PAID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static REVERSED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let build = |set: &str| {
        // (by primary key alone: the unit's version check is what makes a parcel remitted once)
        let marks: Vec<String> = (0..MARK_IDS).map(|i| format!("${}", i + 3)).collect();
        format!(
            "UPDATE parcels SET {set}, updated_at = $2, version = version + 1 WHERE id IN ({})",
            marks.join(", ")
        )
    };
    if reversal {
        REVERSED.get_or_init(|| {
            build(
                "remitted_batch = NULL, remitted_at = NULL, reversed_batch = $1, reversed_at = $2",
            )
        })
    } else {
        PAID.get_or_init(|| build("remitted_batch = $1, remitted_at = $2"))
    }
}

/// Parcels a remittance chunk pays, marked remitted by batch `batch` at `at`, and those whose
/// earlier payment it takes back. Their versions are checked with the unit's (each is one the
/// chunk read), so a parcel is remitted, or reversed, once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemitMark {
    pub batch: String,
    pub at: i64,
    /// (parcel id, the version the chunk read)
    pub parcels: Vec<(String, i64)>,
    /// Parcels whose earlier payment a reversal line takes back: (parcel id, version read).
    pub reversed: Vec<(String, i64)>,
}

impl RemitMark {
    /// Every parcel the mark touches, with the version the chunk read.
    pub fn touched(&self) -> impl Iterator<Item = &(String, i64)> {
        self.parcels.iter().chain(self.reversed.iter())
    }
}

/// The statements that mark `m`'s parcels, [`MARK_IDS`] at a time.
pub(crate) fn mark_statements(m: &RemitMark) -> Vec<Statement> {
    [(false, &m.parcels), (true, &m.reversed)]
        .into_iter()
        .flat_map(|(reversal, ids)| {
            ids.chunks(MARK_IDS).map(move |part| {
                let mut values = vec![Val::Text(m.batch.clone()), Val::Int(m.at)];
                values.extend(part.iter().map(|(id, _)| Val::Text(id.clone())));
                values.resize(2 + MARK_IDS, Val::Text(String::new()));
                (mark_sql(reversal), values)
            })
        })
        .collect()
}

/// The record of a line's acceptance (on a line not accepted before).
pub(crate) fn accept_statement(a: &LineAccepted) -> Statement {
    (
        ACCEPT_LINE,
        vec![
            Val::Int(a.at),
            Val::Text(a.note.clone()),
            Val::Text(a.by.clone()),
            Val::Text(a.remittance.clone()),
            Val::Int(a.line_no),
        ],
    )
}

/// The insert of one classified line (a chunk posted again after a crash inserts nothing new).
pub(crate) fn line_statement(l: &RemittanceLineRow) -> Statement {
    (
        INSERT_LINE,
        vec![
            Val::Text(l.remittance.clone()),
            Val::Int(l.line_no),
            Val::Text(l.tracking.clone()),
            Val::OptText(l.parcel.clone()),
            Val::Text(l.class.clone()),
            Val::OptInt(l.expected_net),
            Val::Int(l.reported_net),
            Val::Int(l.delta),
            Val::Text(l.deductions.clone()),
            Val::Text(l.warnings.clone()),
        ],
    )
}

/// A chunk posted: the remittance's progress moves from `chunk - 1` to `chunk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkDone {
    pub remittance: String,
    pub chunk: i64,
    pub posted: i64,
}

pub(crate) fn progress_statement(c: &ChunkDone) -> Statement {
    (
        PROGRESS,
        vec![
            Val::Int(c.chunk),
            Val::Int(c.posted),
            Val::Text(c.remittance.clone()),
        ],
    )
}

impl Store {
    /// The remittance of `carrier` in one mode with this file hash, or with this batch id.
    pub async fn remittance_of(
        &self,
        carrier: &str,
        livemode: bool,
        sha256: &str,
        batch: &str,
    ) -> Result<Vec<RemittanceRow>, StoreError> {
        let sql = format!(
            "{COLUMNS}WHERE carrier = $1 AND livemode = $2 AND (file_sha256 = $3 OR batch = $4) \
             ORDER BY id"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(carrier)
                .bind(livemode)
                .bind(sha256)
                .bind(batch)
                .fetch_all(pool)
                .await?;
            rows.iter().map(row).collect()
        })
    }

    pub async fn remittance(&self, id: &str) -> Result<Option<RemittanceRow>, StoreError> {
        let sql = format!("{COLUMNS}WHERE id = $1");
        with_pool!(self, pool => {
            let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            r.as_ref().map(row).transpose()
        })
    }

    /// Starts a remittance (`importing`): `false` when the carrier has one of this hash or batch.
    pub async fn start_remittance(&self, r: &RemittanceRow) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let n = sqlx::query(INSERT)
                .bind(&r.id)
                .bind(&r.carrier)
                .bind(&r.batch)
                .bind(&r.file_sha256)
                .bind(r.livemode)
                .bind(&r.currency)
                .bind(r.created_at)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// Marks a remittance done with its totals and report.
    pub async fn finish_remittance(&self, r: &RemittanceRow) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(FINISH)
                .bind(&r.id)
                .bind(r.lines)
                .bind(r.gross)
                .bind(r.deductions)
                .bind(r.net)
                .bind(&r.report)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// One line of a remittance.
    pub async fn remittance_line(
        &self,
        id: &str,
        line_no: i64,
    ) -> Result<Option<RemittanceLineRow>, StoreError> {
        with_pool!(self, pool => {
            let r = sqlx::query(SELECT_LINE)
                .bind(id)
                .bind(line_no)
                .fetch_optional(pool)
                .await?;
            r.as_ref().map(line).transpose()
        })
    }

    /// A page of a remittance's lines, after line `after`.
    pub async fn remittance_lines(
        &self,
        id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<RemittanceLineRow>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_LINES)
                .bind(id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(line).collect()
        })
    }

    /// The carrier's parcels with any of these tracking numbers or order ids, with versions,
    /// each once. Order ids of parcels already found by tracking are not looked up again (an
    /// order has one parcel).
    pub async fn parcels_for_lines(
        &self,
        carrier: &str,
        livemode: bool,
        trackings: &[String],
        orders: &[String],
    ) -> Result<Vec<(Parcel, i64)>, StoreError> {
        let mut out = Vec::new();
        self.parcels_where(carrier, livemode, "tracking", trackings.iter(), &mut out)
            .await?;
        let known: std::collections::HashSet<&str> =
            out.iter().map(|(p, _)| p.order.as_str()).collect();
        let rest: Vec<&String> = orders
            .iter()
            .filter(|o| !known.contains(o.as_str()))
            .collect();
        drop(known);
        self.parcels_where(carrier, livemode, "order_id", rest.into_iter(), &mut out)
            .await?;
        Ok(out)
    }

    /// Adds to `out` the carrier's parcels of one mode whose `column` is one of `keys`, 500
    /// keys a query (by tracking, the `(carrier, livemode, tracking)` key's index).
    async fn parcels_where<'k>(
        &self,
        carrier: &str,
        livemode: bool,
        column: &'static str,
        keys: impl ExactSizeIterator<Item = &'k String>,
        out: &mut Vec<(Parcel, i64)>,
    ) -> Result<(), StoreError> {
        let keys: Vec<&String> = keys.collect();
        for part in keys.chunks(500) {
            let marks: Vec<String> = (0..part.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "SELECT id, carrier, tracking, order_id, payment_id, buyer, seller, livemode, \
                 currency, cash, fee, rto_cost, rto_payer, status, out_for_delivery_at, \
                 final_at, remitted_batch, remitted_at, created_at, last_event_at, version, \
                 reversed_batch, reversed_at FROM parcels \
                 WHERE carrier = $1 AND livemode = $2 AND {column} IN ({})",
                marks.join(", ")
            );
            with_pool!(self, pool => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(carrier).bind(livemode);
                for k in part {
                    q = q.bind((*k).clone());
                }
                for r in q.fetch_all(pool).await? {
                    out.push(crate::parcels::parcel(&r)?);
                }
            });
        }
        Ok(())
    }
}
