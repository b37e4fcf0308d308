//! PostgreSQL-only statements: the batch commit with the head row locked `FOR UPDATE`, prefetch
//! with `= ANY($1)`, and bulk writes with `UNNEST` (one round trip per table per batch).

use std::collections::BTreeSet;

use holdback_domain::ledger::{Book, Changes, PostingRef};
use sqlx::postgres::{PgConnection, PgPool};

use crate::Conflict;
use crate::aggregates::table;
use crate::rows::Get as _;
use crate::unit::{Val, bind_pg};
use crate::writer::{
    Accepted, Attempt, Command, MAX_ATTEMPTS, Prefetched, Reply, Wanted, WriteError, conflict,
    decide,
};
use crate::{StoreError, rows};
use holdback_domain::process::Kind;

pub(crate) const SELECT_TRIGGER_NAMES: &str =
    "SELECT tgname::text FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname";

/// Runs one batch. Its units' rows go in grouped, one statement per table for the whole batch
/// (see [`unnest`]). If the database refuses a grouped statement for its rows, the batch is
/// rolled back and run again with each unit's rows under a savepoint of their own, which finds
/// every unit whose rows are refused; if there are any, the batch is rolled back once more and
/// run again without them, and they alone are refused.
pub(crate) async fn commit_batch(
    pool: &PgPool,
    commands: &[&Command],
    now: i64,
) -> Result<Vec<Result<Reply, WriteError>>, StoreError> {
    let mut refused = BTreeSet::new();
    let mut isolate = false;
    for _ in 0..MAX_ATTEMPTS {
        match try_batch(pool, commands, now, &refused, isolate).await? {
            Attempt::Committed(replies) => return Ok(replies),
            Attempt::Refused(units) => {
                refused.extend(units);
                isolate = true;
            }
        }
    }
    Err(conflict(Conflict::RowsKeptRefused))
}

/// Whether the database refused a statement for the rows it writes (SQLSTATE class 22, a data
/// exception such as a NUL byte in text, or 23, an integrity constraint), so that the failure
/// belongs to the unit that wrote them and not to the batch.
fn refuses_rows(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|c| c.starts_with("22") || c.starts_with("23")),
        _ => false,
    }
}

/// One attempt: with `isolate`, each unit's rows under a savepoint; otherwise grouped, and a
/// refusal names no unit (an empty [`Attempt::Refused`]).
async fn try_batch(
    pool: &PgPool,
    commands: &[&Command],
    now: i64,
    refused: &BTreeSet<usize>,
    isolate: bool,
) -> Result<Attempt, StoreError> {
    let mut tx = pool.begin().await?;
    let wanted = Wanted::of(commands);
    let mut book = prefetch(&mut tx, &wanted).await?;
    let mut prefetched = Prefetched::default();
    for kind in Kind::ALL {
        let ids: Vec<String> = wanted
            .versions
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, id)| id.clone())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let sql = format!("SELECT id, version FROM {} WHERE id = ANY($1)", table(kind));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ids)
            .fetch_all(&mut *tx)
            .await?;
        for row in &rows {
            prefetched
                .versions
                .insert((kind, row.text("id")?), row.int("version")?);
        }
    }
    if !wanted.keys.is_empty() {
        let (principals, keys): (Vec<String>, Vec<String>) = wanted.keys.iter().cloned().unzip();
        // Locked until the batch commits: a claim cannot be taken over (its lease passed) or
        // released between this check and the write of the response that replaces it.
        let rows = sqlx::query(
            "SELECT k.principal, k.key, \
             CASE WHEN k.state = 'in_flight' THEN k.claim_token END AS holder \
             FROM idempotency_keys k \
             JOIN UNNEST($1::text[], $2::text[]) AS u(principal, key) \
             ON k.principal = u.principal AND k.key = u.key FOR UPDATE OF k",
        )
        .bind(principals)
        .bind(keys)
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            prefetched.keys.insert(
                (row.text("principal")?, row.text("key")?),
                row.opt_text("holder")?,
            );
        }
    }
    crate::messages::load_heads_postgres(&mut tx, &mut prefetched.heads, &wanted.chains).await?;
    let (replies, changes, accepted) = decide(&mut book, &mut prefetched, commands, now, refused);
    if !changes.is_empty() {
        persist(&mut tx, &changes).await?;
    }
    if isolate {
        let bad = write_isolated(&mut tx, &accepted).await?;
        if !bad.is_empty() {
            // The refused units' ledger postings went in with the batch's: none of it may commit.
            tx.rollback().await?;
            return Ok(Attempt::Refused(bad));
        }
    } else {
        match write_grouped(&mut tx, &accepted).await {
            Ok(()) => {}
            Err(e) if refuses_rows(&e) => {
                eprintln!("holdback: rows of a batch were refused; finding whose: {e}");
                tx.rollback().await?;
                return Ok(Attempt::Refused(Vec::new()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    tx.commit().await?;
    Ok(Attempt::Committed(replies))
}

/// Writes the units' rows, those of the same statement from all units in one statement where
/// they can be.
async fn write_grouped(conn: &mut PgConnection, accepted: &[Accepted]) -> Result<(), sqlx::Error> {
    let mut groups: Vec<(&'static str, Vec<&[Val]>)> = Vec::new();
    for unit in accepted {
        for (sql, values) in &unit.statements {
            match groups.iter_mut().find(|(s, _)| s == sql) {
                Some((_, rows)) => rows.push(values),
                None => groups.push((sql, vec![values])),
            }
        }
    }
    for (sql, rows) in &groups {
        match (rows.len(), unnest(sql, rows)) {
            (2.., Some((text, query_rows))) => {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(text));
                for column in query_rows {
                    query = match column {
                        Column::Int(v) => query.bind(v),
                        Column::Text(v) => query.bind(v),
                        Column::Bool(v) => query.bind(v),
                    };
                }
                query.execute(&mut *conn).await?;
            }
            _ => {
                for values in rows {
                    bind_pg(sqlx::query(*sql), values)
                        .execute(&mut *conn)
                        .await?;
                }
            }
        }
    }
    Ok(())
}

/// Writes each unit's rows under a savepoint of its own, statement by statement; a unit whose
/// rows the database refuses is rolled back to its savepoint and the others go on. Returns the
/// positions of the refused units.
async fn write_isolated(
    conn: &mut PgConnection,
    accepted: &[Accepted],
) -> Result<Vec<usize>, StoreError> {
    let mut bad = Vec::new();
    for unit in accepted {
        sqlx::query("SAVEPOINT unit").execute(&mut *conn).await?;
        let mut written = Ok(());
        for (sql, values) in &unit.statements {
            written = bind_pg(sqlx::query(*sql), values)
                .execute(&mut *conn)
                .await
                .map(drop);
            if written.is_err() {
                break;
            }
        }
        match written {
            Ok(()) => {}
            Err(e) if refuses_rows(&e) => {
                eprintln!("holdback: the rows of a unit were refused: {e}");
                sqlx::query("ROLLBACK TO SAVEPOINT unit")
                    .execute(&mut *conn)
                    .await?;
                bad.push(unit.position);
            }
            Err(e) => return Err(e.into()),
        }
        sqlx::query("RELEASE SAVEPOINT unit")
            .execute(&mut *conn)
            .await?;
    }
    Ok(bad)
}

/// One column of rows, as a PostgreSQL array.
enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Bool(Vec<bool>),
}

/// Rewrites a statement for many rows as one statement over column arrays:
/// `INSERT INTO t (cols) VALUES ($1, …, $n) [tail]` as
/// `INSERT INTO t (cols) SELECT * FROM UNNEST($1::type[], …) [tail]`, and
/// `DELETE FROM t WHERE a = $1 AND b = $2 …` as
/// `DELETE FROM t USING UNNEST($1::type[], …) AS u (a, b, …) WHERE t.a = u.a AND t.b = u.b …`.
/// `None` for any other statement (those run row by row). The SQL text is one of the store's
/// own constants; no value is ever spliced into it.
fn unnest(sql: &str, rows: &[impl AsRef<[Val]>]) -> Option<(String, Vec<Column>)> {
    let columns = column_arrays(rows)?;
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let kind = match c {
                Column::Int(_) => "bigint",
                Column::Text(_) => "text",
                Column::Bool(_) => "boolean",
            };
            format!("${}::{kind}[]", i + 1)
        })
        .collect();
    let arrays = arrays.join(", ");
    if sql.starts_with("INSERT INTO") {
        const VALUES: &str = " VALUES (";
        let start = sql.find(VALUES)?;
        let after = &sql[start + VALUES.len()..];
        let tail = &after[after.find(')')? + 1..];
        let text = format!("{} SELECT * FROM UNNEST({arrays}){tail}", &sql[..start]);
        return Some((text, columns));
    }
    let (table, conditions) = sql.strip_prefix("DELETE FROM ")?.split_once(" WHERE ")?;
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain(table) {
        return None;
    }
    let mut names = Vec::new();
    for (i, condition) in conditions.split(" AND ").enumerate() {
        let (name, param) = condition.split_once(" = ")?;
        if !plain(name) || param != format!("${}", i + 1) {
            return None;
        }
        names.push(name);
    }
    if names.len() != columns.len() {
        return None;
    }
    let matches: Vec<String> = names
        .iter()
        .map(|n| format!("{table}.{n} = u.{n}"))
        .collect();
    let text = format!(
        "DELETE FROM {table} USING UNNEST({arrays}) AS u ({}) WHERE {}",
        names.join(", "),
        matches.join(" AND ")
    );
    Some((text, columns))
}

/// The rows as column arrays; `None` if the rows differ in shape.
fn column_arrays(rows: &[impl AsRef<[Val]>]) -> Option<Vec<Column>> {
    let first = rows.first()?.as_ref();
    let mut columns: Vec<Column> = first
        .iter()
        .map(|v| match v {
            Val::Int(_) | Val::OptInt(_) => Column::Int(Vec::with_capacity(rows.len())),
            Val::Text(_) | Val::OptText(_) => Column::Text(Vec::with_capacity(rows.len())),
            Val::Bool(_) => Column::Bool(Vec::with_capacity(rows.len())),
        })
        .collect();
    for row in rows {
        let row = row.as_ref();
        if row.len() != columns.len() {
            return None;
        }
        for (column, value) in columns.iter_mut().zip(row) {
            match (column, value) {
                (Column::Int(c), Val::Int(v)) => c.push(Some(*v)),
                (Column::Int(c), Val::OptInt(v)) => c.push(*v),
                (Column::Text(c), Val::Text(v)) => c.push(Some(v.clone())),
                (Column::Text(c), Val::OptText(v)) => c.push(v.clone()),
                (Column::Bool(c), Val::Bool(v)) => c.push(*v),
                _ => return None,
            }
        }
    }
    Some(columns)
}

/// The `(seq, idx)` column pair of posting references, for an `UNNEST` statement.
fn ref_columns(
    refs: impl Iterator<Item = Option<PostingRef>>,
) -> (Vec<Option<i64>>, Vec<Option<i64>>) {
    refs.map(rows::posting_ref_columns).unzip()
}

fn strings<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    ids.map(str::to_string).collect()
}

async fn prefetch(conn: &mut PgConnection, wanted: &Wanted) -> Result<Book, StoreError> {
    // The head lock serialises every ledger batch across all nodes, so what follows is read
    // and written by this batch alone.
    let head =
        sqlx::query("SELECT seq, hash, committed_at FROM ledger_head WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *conn)
            .await?;
    let mut book = Book::new(rows::head(&head)?);
    let mut account_ids = wanted.accounts.clone();
    if !wanted.holds.is_empty() {
        let held = sqlx::query(
            "SELECT id, debit_account, credit_account, currency, amount, status, posted_amount, \
             created_seq, resolved_seq FROM holds WHERE id = ANY($1)",
        )
        .bind(strings(wanted.holds.iter().map(|h| h.as_str())))
        .fetch_all(&mut *conn)
        .await?;
        for row in &held {
            let hold = rows::hold(row)?;
            account_ids.insert(hold.debit.clone());
            account_ids.insert(hold.credit.clone());
            book.load_hold(hold);
        }
    }
    if !wanted.transactions.is_empty() {
        let known = sqlx::query(
            "SELECT seq, tx_id, fingerprint, committed_at, hash FROM journal WHERE tx_id = ANY($1)",
        )
        .bind(strings(wanted.transactions.iter().map(|t| t.as_str())))
        .fetch_all(&mut *conn)
        .await?;
        for row in &known {
            let (fingerprint, receipt) = rows::committed(row)?;
            book.load_transaction(fingerprint, receipt);
        }
    }
    if !account_ids.is_empty() {
        let accounts = sqlx::query(rows::SELECT_ACCOUNTS_BY_IDS)
            .bind(strings(account_ids.iter().map(|a| a.as_str())))
            .fetch_all(&mut *conn)
            .await?;
        for row in &accounts {
            book.load_account(rows::account(row)?);
        }
    }
    Ok(book)
}

async fn persist(conn: &mut PgConnection, changes: &Changes) -> Result<(), StoreError> {
    if !changes.opened_accounts.is_empty() {
        let a = &changes.opened_accounts;
        sqlx::query(
            "INSERT INTO accounts (id, kind, currency, bounded, created_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::boolean[], $5::bigint[])",
        )
        .bind(a.iter().map(|a| a.spec.id.to_string()).collect::<Vec<_>>())
        .bind(a.iter().map(|a| a.spec.kind.code()).collect::<Vec<_>>())
        .bind(a.iter().map(|a| a.spec.currency.code()).collect::<Vec<_>>())
        .bind(a.iter().map(|a| a.spec.bounded).collect::<Vec<_>>())
        .bind(a.iter().map(|a| a.created_at).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    if !changes.entries.is_empty() {
        let e = &changes.entries;
        sqlx::query(
            "INSERT INTO journal (seq, tx_id, fingerprint, committed_at, prev_hash, hash) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], \
             $5::text[], $6::text[])",
        )
        .bind(e.iter().map(|e| e.seq).collect::<Vec<_>>())
        .bind(e.iter().map(|e| e.tx_id.to_string()).collect::<Vec<_>>())
        .bind(e.iter().map(|e| e.fingerprint.to_hex()).collect::<Vec<_>>())
        .bind(e.iter().map(|e| e.committed_at).collect::<Vec<_>>())
        .bind(e.iter().map(|e| e.prev_hash.to_hex()).collect::<Vec<_>>())
        .bind(e.iter().map(|e| e.hash.to_hex()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
        let postings: Vec<_> = e
            .iter()
            .flat_map(|e| {
                e.postings
                    .iter()
                    .enumerate()
                    .map(move |(i, p)| (e.seq, i as i64, p))
            })
            .collect();
        let (debit_prev_seq, debit_prev_idx) =
            ref_columns(postings.iter().map(|(_, _, p)| p.debit_prev));
        let (credit_prev_seq, credit_prev_idx) =
            ref_columns(postings.iter().map(|(_, _, p)| p.credit_prev));
        sqlx::query(
            "INSERT INTO postings (seq, idx, kind, hold_id, debit_account, credit_account, \
             currency, posted, pending_delta, debit_prev_seq, debit_prev_idx, credit_prev_seq, \
             credit_prev_idx) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], \
             $12::bigint[], $13::bigint[])",
        )
        .bind(postings.iter().map(|(s, _, _)| *s).collect::<Vec<_>>())
        .bind(postings.iter().map(|(_, i, _)| *i).collect::<Vec<_>>())
        .bind(
            postings
                .iter()
                .map(|(_, _, p)| p.kind.code())
                .collect::<Vec<_>>(),
        )
        .bind(
            postings
                .iter()
                .map(|(_, _, p)| p.hold.as_ref().map(|h| h.to_string()))
                .collect::<Vec<_>>(),
        )
        .bind(
            postings
                .iter()
                .map(|(_, _, p)| p.debit.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(
            postings
                .iter()
                .map(|(_, _, p)| p.credit.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(
            postings
                .iter()
                .map(|(_, _, p)| p.currency.code())
                .collect::<Vec<_>>(),
        )
        .bind(
            postings
                .iter()
                .map(|(_, _, p)| p.posted)
                .collect::<Vec<_>>(),
        )
        .bind(
            postings
                .iter()
                .map(|(_, _, p)| p.pending_delta)
                .collect::<Vec<_>>(),
        )
        .bind(debit_prev_seq)
        .bind(debit_prev_idx)
        .bind(credit_prev_seq)
        .bind(credit_prev_idx)
        .execute(&mut *conn)
        .await?;
    }
    let moved: Vec<_> = changes
        .opened_accounts
        .iter()
        .chain(&changes.updated_accounts)
        // An account a posting touched has a newest posting; one only opened has nothing to
        // update.
        .filter(|a| a.last_posting.is_some())
        .collect();
    if !moved.is_empty() {
        let (last_seq, last_idx) = ref_columns(moved.iter().map(|a| a.last_posting));
        sqlx::query(
            "UPDATE accounts AS a SET debits_posted = u.dp, credits_posted = u.cp, \
             debits_pending = u.dq, credits_pending = u.cq, last_seq = u.ls, last_idx = u.li \
             FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], \
             $6::bigint[], $7::bigint[]) AS u(id, dp, cp, dq, cq, ls, li) WHERE a.id = u.id",
        )
        .bind(
            moved
                .iter()
                .map(|a| a.spec.id.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(moved.iter().map(|a| a.debits_posted).collect::<Vec<_>>())
        .bind(moved.iter().map(|a| a.credits_posted).collect::<Vec<_>>())
        .bind(moved.iter().map(|a| a.debits_pending).collect::<Vec<_>>())
        .bind(moved.iter().map(|a| a.credits_pending).collect::<Vec<_>>())
        .bind(last_seq)
        .bind(last_idx)
        .execute(&mut *conn)
        .await?;
    }
    if !changes.opened_holds.is_empty() {
        let h = &changes.opened_holds;
        let cols: Vec<_> = h
            .iter()
            .map(|h| rows::hold_status_columns(h.status))
            .collect();
        sqlx::query(
            "INSERT INTO holds (id, debit_account, credit_account, currency, amount, status, \
             posted_amount, created_seq, resolved_seq) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
             $6::text[], $7::bigint[], $8::bigint[], $9::bigint[])",
        )
        .bind(h.iter().map(|h| h.id.to_string()).collect::<Vec<_>>())
        .bind(h.iter().map(|h| h.debit.to_string()).collect::<Vec<_>>())
        .bind(h.iter().map(|h| h.credit.to_string()).collect::<Vec<_>>())
        .bind(
            h.iter()
                .map(|h| h.amount.currency().code())
                .collect::<Vec<_>>(),
        )
        .bind(h.iter().map(|h| h.amount.minor()).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.0).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.1).collect::<Vec<_>>())
        .bind(h.iter().map(|h| h.created_seq).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.2).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    if !changes.resolved_holds.is_empty() {
        let h = &changes.resolved_holds;
        let cols: Vec<_> = h
            .iter()
            .map(|h| rows::hold_status_columns(h.status))
            .collect();
        let done = sqlx::query(
            "UPDATE holds AS h SET status = u.status, posted_amount = u.posted, \
             resolved_seq = u.resolved \
             FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[]) \
             AS u(id, status, posted, resolved) WHERE h.id = u.id AND h.status = 'open'",
        )
        .bind(h.iter().map(|h| h.id.to_string()).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.0).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.1).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.2).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != h.len() as u64 {
            return Err(conflict(Conflict::HoldNotOpen));
        }
    }
    if let Some(head) = changes.head {
        let first = changes.entries.first().map_or(head.seq, |e| e.seq);
        let done = sqlx::query(rows::UPDATE_HEAD)
            .bind(head.seq)
            .bind(head.hash.to_hex())
            .bind(head.committed_at)
            .bind(first - 1)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() != 1 {
            return Err(conflict(Conflict::HeadMoved));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Column, unnest};
    use crate::unit::Val;

    #[test]
    fn inserts_become_one_unnest_over_column_arrays() {
        let sql = "INSERT INTO t (a, b, c) VALUES ($1, $2, $3) ON CONFLICT (a) DO NOTHING";
        let rows = vec![
            vec![Val::Int(1), Val::OptText(None), Val::Bool(true)],
            vec![
                Val::Int(2),
                Val::OptText(Some("x".into())),
                Val::Bool(false),
            ],
        ];
        let (text, columns) = unnest(sql, &rows).unwrap();
        assert_eq!(
            text,
            "INSERT INTO t (a, b, c) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::boolean[]) \
             ON CONFLICT (a) DO NOTHING"
        );
        assert!(matches!(&columns[0], Column::Int(v) if *v == vec![Some(1), Some(2)]));
        assert!(matches!(&columns[1], Column::Text(v) if *v == vec![None, Some("x".to_string())]));
        assert!(matches!(&columns[2], Column::Bool(v) if *v == vec![true, false]));
        // deletes by equal columns become one delete joined to the arrays
        let rows = vec![
            vec![Val::Text("o1".into()), Val::Int(5)],
            vec![Val::Text("o2".into()), Val::Int(6)],
        ];
        let (text, columns) = unnest("DELETE FROM t WHERE a = $1 AND b = $2", &rows).unwrap();
        assert_eq!(
            text,
            "DELETE FROM t USING UNNEST($1::text[], $2::bigint[]) AS u (a, b) \
             WHERE t.a = u.a AND t.b = u.b"
        );
        assert!(matches!(&columns[1], Column::Int(v) if *v == vec![Some(5), Some(6)]));
        // anything else runs row by row
        let one = [vec![Val::Int(1)]];
        assert!(unnest("DELETE FROM t WHERE a > $1", &one).is_none());
        assert!(unnest("DELETE FROM t WHERE a = $2", &one).is_none());
        assert!(unnest("UPDATE t SET a = $1", &one).is_none());
        let mixed = vec![vec![Val::Int(1)], vec![Val::Text("x".into())]];
        assert!(unnest("INSERT INTO t (a) VALUES ($1)", &mixed).is_none());
    }
}
