//! An order's message record: how a message becomes a row, the chain heads a batch prefetches
//! (so that the writer appends only after the head the message was decided against), and the
//! reads (a page, a whole chain, every chain for `holdback messages verify`).
//!
//! Appends go through the group-commit writer as part of a [`crate::Unit`], with the event and
//! the idempotent response. Batches are serialised by the journal head, so the head a batch
//! reads cannot move under it; the writer refuses a message whose `seq` is not the head's plus
//! one or whose `prev_hash` is not the head's hash with [`crate::Conflict::ChainMoved`], and the
//! unique key on `(order_id, seq)` backs that up in the database.

use std::collections::{BTreeSet, HashMap};

use holdback_domain::message::{Author, AuthorRole, Message};
use sqlx::postgres::PgConnection;

use crate::rows::Get;
use crate::unit::{Statement, Val};
use crate::{Store, StoreError, with_pool};

pub(crate) const INSERT_MESSAGE: &str = "INSERT INTO order_messages (id, order_id, seq, \
     author_role, author_id, body, files, created_at, livemode, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const COLUMNS: &str = "id, order_id, seq, author_role, author_id, body, files, created_at, \
     livemode, prev_hash, hash";
const SELECT_HEAD: &str =
    "SELECT seq, hash FROM order_messages WHERE order_id = $1 ORDER BY seq DESC LIMIT 1";

/// The row statement of one message.
pub(crate) fn statement(m: &Message) -> Statement {
    (
        INSERT_MESSAGE,
        vec![
            Val::Text(m.id.clone()),
            Val::Text(m.order.clone()),
            Val::Int(m.seq),
            Val::Text(m.author.role.code().to_string()),
            Val::Text(m.author.id.clone()),
            Val::Text(m.body.clone()),
            Val::Text(m.files.join(" ")),
            Val::Int(m.created),
            Val::Bool(m.livemode),
            Val::Text(m.prev_hash.clone()),
            Val::Text(m.hash.clone()),
        ],
    )
}

/// The head of each chain: (seq, hash) of its newest message, by order id.
pub(crate) type Heads = HashMap<String, (i64, String)>;

/// (SQLite writer) Adds the heads of `orders` not in `heads` yet.
pub(crate) fn load_heads_sqlite(
    conn: &rusqlite::Connection,
    heads: &mut Heads,
    orders: &BTreeSet<String>,
) -> Result<(), StoreError> {
    use rusqlite::OptionalExtension as _;
    let mut select = conn.prepare_cached(SELECT_HEAD)?;
    for order in orders {
        if heads.contains_key(order) {
            continue;
        }
        if let Some(head) = select
            .query_row([order], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?
        {
            heads.insert(order.clone(), head);
        }
    }
    Ok(())
}

/// (PostgreSQL writer) The heads of `orders`, in one statement.
pub(crate) async fn load_heads_postgres(
    conn: &mut PgConnection,
    heads: &mut Heads,
    orders: &BTreeSet<String>,
) -> Result<(), StoreError> {
    if orders.is_empty() {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT DISTINCT ON (order_id) order_id, seq, hash FROM order_messages \
         WHERE order_id = ANY($1) ORDER BY order_id, seq DESC",
    )
    .bind(orders.iter().cloned().collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        heads.insert(row.text("order_id")?, (row.int("seq")?, row.text("hash")?));
    }
    Ok(())
}

fn message(row: &impl Get) -> Result<Message, StoreError> {
    let role = row.text("author_role")?;
    let files = row.text("files")?;
    Ok(Message {
        id: row.text("id")?,
        order: row.text("order_id")?,
        seq: row.int("seq")?,
        author: Author {
            role: AuthorRole::parse(&role)
                .ok_or_else(|| StoreError::Corrupt(format!("message author role {role:?}")))?,
            id: row.text("author_id")?,
        },
        body: row.text("body")?,
        files: files.split_whitespace().map(str::to_string).collect(),
        created: row.int("created_at")?,
        livemode: row.flag("livemode")?,
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}

impl Store {
    /// Up to `limit` messages of `order` after sequence number `after_seq`, oldest first.
    pub async fn messages(
        &self,
        order: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM order_messages WHERE order_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(order)
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(message).collect()
        })
    }

    /// Every message of `order`, oldest first.
    pub async fn all_messages(&self, order: &str) -> Result<Vec<Message>, StoreError> {
        self.messages(order, 0, u32::MAX).await
    }

    /// The sequence number of message `id` if it belongs to `order`.
    pub async fn message_seq(&self, order: &str, id: &str) -> Result<Option<i64>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar("SELECT seq FROM order_messages WHERE order_id = $1 AND id = $2")
                .bind(order)
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// The head of `order`'s chain: (seq, hash) of its newest message, if it has any.
    pub async fn message_head(&self, order: &str) -> Result<Option<(i64, String)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_HEAD).bind(order).fetch_optional(pool).await?;
            row.map(|r| Ok((r.int("seq")?, r.text("hash")?))).transpose()
        })
    }

    /// Up to `limit` ids of orders with messages, after `after` in id order.
    pub async fn orders_with_messages(
        &self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT order_id FROM order_messages WHERE order_id > $1 \
                 ORDER BY order_id LIMIT $2",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?)
        })
    }
}
