//! The store port on SQLite: one file, one table, for the local server and
//! tests.
//!
//! The single table mirrors the DynamoDB layout: `(pk, sk)` primary key, and
//! two index key pairs (`gsi1*` for [`Index::Due`], `gsi2*` for
//! [`Index::Partner`]) with a plain SQLite index each. Several processes may
//! open the same file: WAL lets readers run next to the one writer, and every
//! transaction takes the write lock up front (`BEGIN IMMEDIATE`), so its
//! condition checks and its writes see the same state.
//!
//! Reads and writes take different paths. A write may wait up to
//! [`BUSY_TIMEOUT`] for another process's lock, so it runs on the blocking
//! pool on the one write connection. A read never waits for a writer in WAL
//! mode and takes microseconds, so it runs where it is called, on a read
//! connection of its own from a small pool: handing each read to another
//! thread cost more than the read itself (#15: 40 % of the local server's
//! time went to those handoffs).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};
use seatkeeper_core::ports::{
    check_transaction, Condition, Index, IndexKey, Item, ItemStore, Key, Page, Query, StoreError,
    Write, MAX_BATCH_GET_KEYS,
};

/// How long a statement waits for another connection's lock before the
/// store reports [`StoreError::Throttled`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The page size bounds of [`Query::limit`].
const MAX_PAGE: u32 = 1000;
/// Idle read connections kept open; more concurrent reads open more, and
/// those beyond this many are closed when they finish.
const MAX_IDLE_READERS: usize = 8;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk         TEXT    NOT NULL,
    sk         TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    gsi1pk     TEXT,
    gsi1sk     TEXT,
    gsi2pk     TEXT,
    gsi2sk     TEXT,
    expires_at INTEGER,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID, STRICT;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk);
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk);
";

const COLUMNS: &str = "pk, sk, version, body, gsi1pk, gsi1sk, gsi2pk, gsi2sk, expires_at";

/// An [`ItemStore`] in one SQLite database file.
///
/// Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct SqliteStore {
    // rusqlite blocks, so every write runs on the blocking pool; the mutex
    // hands the one write connection to one call at a time. Concurrency
    // between processes is SQLite's file locking.
    conn: Arc<Mutex<Connection>>,
    readers: Arc<Readers>,
}

/// The idle read connections of one database file.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Runs `work` on an idle read connection, or on a new one.
    fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().map(|mut idle| idle.pop()).ok().flatten();
        let mut conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = work(&mut conn);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        result
    }
}

/// A connection that may only read: a bug that wrote through it would
/// bypass the write path's locking.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = connect(path)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(sql_error)?;
    Ok(conn)
}

/// A connection to `path`, set up as both paths want it.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(sql_error)?;
    // Before anything else, so that opening next to a busy writer waits.
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    // One plan per statement, whatever is bound: without this, a statement
    // whose plan looked at a bound value (`LIMIT ?`, a range) is compiled
    // again on every run (#15: a sixth of a read's time).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(sql_error)?;
    Ok(conn)
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database at `path`, creating the file and the schema if
    /// they are missing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = connect(path)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Still correct, only slower: readers then wait for writers.
            tracing::warn!(path = %path.display(), mode, "SQLite store is not in WAL mode");
        }
        // NORMAL is durable against process crashes in WAL mode; only a power
        // loss may drop the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql_error)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        tx.execute_batch(SCHEMA).map_err(sql_error)?;
        tx.commit().map_err(sql_error)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Readers {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `work` on the blocking pool with the write connection.
    async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().map_err(|_| {
                StoreError::Unavailable("the SQLite connection was poisoned by a panic".into())
            })?;
            work(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the SQLite task failed: {e}")))?
    }
}

#[async_trait]
impl ItemStore for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.readers.with(|conn| read_item(conn, key))
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if keys.len() > MAX_BATCH_GET_KEYS {
            return Err(StoreError::TooManyItems(keys.len()));
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut keys = keys.to_vec();
        // A key asked for twice comes back once.
        keys.sort();
        keys.dedup();
        self.readers.with(|conn| {
            // One read transaction: every item from the same snapshot.
            let tx = conn.transaction().map_err(sql_error)?;
            let mut items = Vec::with_capacity(keys.len());
            for key in &keys {
                if let Some(item) = read_item(&tx, key)? {
                    items.push(item);
                }
            }
            tx.commit().map_err(sql_error)?;
            Ok(items)
        })
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let after = query
            .cursor
            .as_deref()
            .map(|cursor| Cursor::decode(cursor, query.index))
            .transpose()?;
        self.readers.with(|conn| run_query(conn, query, after))
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        check_transaction(&writes)?;
        if writes.is_empty() {
            return Ok(());
        }
        self.run(move |conn| {
            // IMMEDIATE takes the write lock now: no other connection can
            // change an item between its check and our write.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            for write in &writes {
                let (key, condition) = match write {
                    Write::Put { item, condition } => (&item.key, condition),
                    Write::Delete { key, condition } | Write::Check { key, condition } => {
                        (key, condition)
                    }
                };
                if !holds(&tx, key, *condition)? {
                    // Dropping `tx` rolls back; nothing was written yet anyway.
                    return Err(StoreError::Conflict);
                }
            }
            for write in &writes {
                match write {
                    Write::Put { item, .. } => put_item(&tx, item)?,
                    Write::Delete { key, .. } => {
                        tx.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
                            .and_then(|mut stmt| stmt.execute(params![key.pk, key.sk]))
                            .map_err(sql_error)?;
                    }
                    Write::Check { .. } => {}
                }
            }
            tx.commit().map_err(sql_error)
        })
        .await
    }
}

/// Whether `condition` holds for the stored item at `key`.
fn holds(conn: &Connection, key: &Key, condition: Condition) -> Result<bool, StoreError> {
    if condition == Condition::None {
        return Ok(true);
    }
    let stored: Option<i64> = conn
        .prepare_cached("SELECT version FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![key.pk, key.sk], |row| row.get(0))
                .optional()
        })
        .map_err(sql_error)?;
    Ok(match condition {
        Condition::None => true,
        Condition::Absent => stored.is_none(),
        Condition::Version(expected) => stored.map(version_from_sql) == Some(expected),
    })
}

fn put_item(conn: &Connection, item: &Item) -> Result<(), StoreError> {
    let (gsi1pk, gsi1sk) = split_index_key(item.due.as_ref());
    let (gsi2pk, gsi2sk) = split_index_key(item.partner.as_ref());
    conn.prepare_cached(
        "INSERT OR REPLACE INTO items \
         (pk, sk, version, body, gsi1pk, gsi1sk, gsi2pk, gsi2sk, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            item.key.pk,
            item.key.sk,
            version_to_sql(item.version),
            item.body,
            gsi1pk,
            gsi1sk,
            gsi2pk,
            gsi2sk,
            item.expires_at,
        ])
    })
    .map_err(sql_error)?;
    Ok(())
}

fn read_item(conn: &Connection, key: &Key) -> Result<Option<Item>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"
        ))
        .map_err(sql_error)?;
    let mut rows = stmt.query(params![key.pk, key.sk]).map_err(sql_error)?;
    match rows.next().map_err(sql_error)? {
        Some(row) => item_from_row(row).map(Some),
        None => Ok(None),
    }
}

fn run_query(conn: &Connection, query: &Query, after: Option<Cursor>) -> Result<Page, StoreError> {
    let limit = query.limit.clamp(1, MAX_PAGE);
    let upper = prefix_successor(&query.sk_prefix);
    // SQLite seeks on one bound a side and tests any other row by row, so a
    // page after a cursor names only the tighter of the cursor and the
    // prefix's bound on the cursor's side: not every earlier page re-read.
    let cursor_is_tighter = match &after {
        Some(Cursor::Table { sk }) if query.descending => {
            upper.as_deref().is_none_or(|upper| sk.as_str() < upper)
        }
        Some(Cursor::Table { sk }) => sk.as_str() >= query.sk_prefix.as_str(),
        _ => false,
    };
    let sql = query_sql(
        query.index,
        upper.is_some(),
        (query.sk_min.is_some(), query.sk_max.is_some()),
        after.as_ref().map(|cursor| (cursor, cursor_is_tighter)),
        query.descending,
    );
    let (after_sk, after_pk, after_item_sk) = match &after {
        None => (None, None, None),
        Some(Cursor::Table { sk }) => (Some(sk.as_str()), None, None),
        Some(Cursor::Index { index_sk, pk, sk }) => (
            Some(index_sk.as_str()),
            Some(pk.as_str()),
            Some(sk.as_str()),
        ),
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
    let mut rows = stmt
        .query(params![
            query.pk,
            query.sk_prefix,
            upper,
            after_sk,
            after_pk,
            after_item_sk,
            // One more than a page tells whether another page follows.
            i64::from(limit) + 1,
            query.sk_max,
            query.sk_min,
        ])
        .map_err(sql_error)?;
    let mut items = Vec::new();
    let mut more = false;
    while let Some(row) = rows.next().map_err(sql_error)? {
        if items.len() == limit as usize {
            more = true;
            break;
        }
        items.push(item_from_row(row)?);
    }
    let next = match items.last() {
        Some(last) if more => Some(Cursor::after(last, query.index)?.encode()),
        _ => None,
    };
    Ok(Page { items, next })
}

/// The statement of one query page. Parameters keep their numbers whether
/// or not their clause is there (SQLite counts up to the highest, `?7`):
/// `?1` partition key, `?2` prefix, `?3` its successor, `?4..?6` the cursor,
/// `?7` the row limit, `?8` and `?9` the inclusive upper and lower bounds of
/// the sort key. A table cursor comes with whether it is the tighter bound
/// on its side: then the prefix's bound there is left out, else the cursor.
fn query_sql(
    index: Option<Index>,
    bounded: bool,
    range: (bool, bool),
    after: Option<(&Cursor, bool)>,
    descending: bool,
) -> String {
    // The primary key is always the last tie-breaker, so that index entries
    // with equal sort keys still have one order to resume in.
    let (pk_col, sk_col, columns): (_, _, &[&str]) = match index {
        None => ("pk", "sk", &["sk"]),
        Some(Index::Due) => ("gsi1pk", "gsi1sk", &["gsi1sk", "pk", "sk"]),
        Some(Index::Partner) => ("gsi2pk", "gsi2sk", &["gsi2sk", "pk", "sk"]),
    };
    let (direction, past) = if descending {
        (" DESC", "<")
    } else {
        ("", ">")
    };
    let tuple = columns.join(", ");
    let order = columns
        .iter()
        .map(|c| format!("{c}{direction}"))
        .collect::<Vec<_>>()
        .join(", ");
    // Which of the prefix's bounds stay: a tighter cursor replaces its side's.
    let (prefix_lower, prefix_upper) = match after {
        Some((Cursor::Table { .. }, true)) => (descending, !descending),
        _ => (true, true),
    };
    // A prefix is a range, [prefix, successor), so the index serves it.
    let mut sql = format!("SELECT {COLUMNS} FROM items WHERE {pk_col} = ?1");
    if prefix_lower {
        sql.push_str(&format!(" AND {sk_col} >= ?2"));
    }
    if bounded && prefix_upper {
        sql.push_str(&format!(" AND {sk_col} < ?3"));
    }
    // SQLite wants every numbered parameter used; an unused bound is NULL.
    let (has_min, has_max) = range;
    sql.push_str(&if has_max {
        format!(" AND {sk_col} <= ?8")
    } else {
        " AND ?8 IS NULL".to_string()
    });
    sql.push_str(&if has_min {
        format!(" AND {sk_col} >= ?9")
    } else {
        " AND ?9 IS NULL".to_string()
    });
    match after {
        // A looser cursor is implied by the prefix's bound.
        None | Some((Cursor::Table { .. }, false)) => {}
        Some((Cursor::Table { .. }, true)) => sql.push_str(&format!(" AND sk {past} ?4")),
        Some((Cursor::Index { .. }, _)) => {
            sql.push_str(&format!(" AND ({tuple}) {past} (?4, ?5, ?6)"))
        }
    }
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?7"));
    sql
}

fn item_from_row(row: &Row<'_>) -> Result<Item, StoreError> {
    let pk: String = row.get(0).map_err(corrupt)?;
    let sk: String = row.get(1).map_err(corrupt)?;
    let version: i64 = row.get(2).map_err(corrupt)?;
    let body: String = row.get(3).map_err(corrupt)?;
    let due = join_index_key(row.get(4).map_err(corrupt)?, row.get(5).map_err(corrupt)?)?;
    let partner = join_index_key(row.get(6).map_err(corrupt)?, row.get(7).map_err(corrupt)?)?;
    let expires_at: Option<i64> = row.get(8).map_err(corrupt)?;
    Ok(Item {
        key: Key { pk, sk },
        version: version_from_sql(version),
        body,
        due,
        partner,
        expires_at,
    })
}

fn split_index_key(key: Option<&IndexKey>) -> (Option<&str>, Option<&str>) {
    match key {
        Some(key) => (Some(key.pk.as_str()), Some(key.sk.as_str())),
        None => (None, None),
    }
}

fn join_index_key(pk: Option<String>, sk: Option<String>) -> Result<Option<IndexKey>, StoreError> {
    match (pk, sk) {
        (Some(pk), Some(sk)) => Ok(Some(IndexKey { pk, sk })),
        (None, None) => Ok(None),
        _ => Err(StoreError::Corrupt(
            "an item has half an index key".to_string(),
        )),
    }
}

// SQLite integers are i64; the bit pattern round-trips every u64, and the
// store only ever compares versions for equality.
fn version_to_sql(version: u64) -> i64 {
    version as i64
}

fn version_from_sql(version: i64) -> u64 {
    version as u64
}

/// The least string greater than every string that starts with `prefix`,
/// or `None` when there is none (empty prefix, or only `char::MAX`).
/// UTF-8 byte order (SQLite's BINARY collation) is code point order, so
/// bumping the last code point that can be bumped is enough.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let bumped = match last {
            // Skip the surrogate gap, which holds no chars.
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = bumped {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Where the previous page stopped. Encoded as hex of a JSON array, tagged
/// with the table or index so that a cursor is not reused across them.
#[derive(Debug, PartialEq, Eq)]
enum Cursor {
    Table {
        sk: String,
    },
    Index {
        index_sk: String,
        pk: String,
        sk: String,
    },
}

impl Cursor {
    fn after(item: &Item, index: Option<Index>) -> Result<Self, StoreError> {
        let index_key = match index {
            None => {
                return Ok(Cursor::Table {
                    sk: item.key.sk.clone(),
                })
            }
            Some(Index::Due) => item.due.as_ref(),
            Some(Index::Partner) => item.partner.as_ref(),
        };
        let index_key = index_key.ok_or_else(|| {
            StoreError::Corrupt("an index query returned an item without its index key".into())
        })?;
        Ok(Cursor::Index {
            index_sk: index_key.sk.clone(),
            pk: item.key.pk.clone(),
            sk: item.key.sk.clone(),
        })
    }

    fn encode(&self) -> String {
        let parts: Vec<&str> = match self {
            Cursor::Table { sk } => vec!["t", sk],
            Cursor::Index { index_sk, pk, sk } => vec!["i", index_sk, pk, sk],
        };
        // Serialising a list of strings cannot fail.
        let json = serde_json::to_string(&parts).unwrap_or_default();
        json.bytes().map(|b| format!("{b:02x}")).collect()
    }

    fn decode(cursor: &str, index: Option<Index>) -> Result<Self, StoreError> {
        let bytes = hex_decode(cursor).ok_or(StoreError::InvalidCursor)?;
        let parts: Vec<String> =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        let mut parts = parts.into_iter();
        let tag = parts.next();
        let cursor = match (tag.as_deref(), index) {
            (Some("t"), None) => Cursor::Table {
                sk: parts.next().ok_or(StoreError::InvalidCursor)?,
            },
            (Some("i"), Some(_)) => Cursor::Index {
                index_sk: parts.next().ok_or(StoreError::InvalidCursor)?,
                pk: parts.next().ok_or(StoreError::InvalidCursor)?,
                sk: parts.next().ok_or(StoreError::InvalidCursor)?,
            },
            _ => return Err(StoreError::InvalidCursor),
        };
        if parts.next().is_some() {
            return Err(StoreError::InvalidCursor);
        }
        Ok(cursor)
    }
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

/// Lock waits that outlast the busy timeout are retryable; the rest means
/// the database cannot be used.
fn sql_error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Throttled,
        _ => StoreError::Unavailable(error.to_string()),
    }
}

fn corrupt(error: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(version: u64, writer: usize) -> Item {
        Item {
            key: Key::new("C#1", "COUNTER"),
            version,
            body: format!(r#"{{"writer":{writer}}}"#),
            due: None,
            partner: None,
            expires_at: Some(1_800_000_000),
        }
    }

    // Separate connections on one file stand in for separate processes: the
    // mutex does not serialise them, only SQLite's locking does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn connections_on_one_file_have_one_winner_per_version() {
        let dir = tempfile::TempDir::new().expect("temporary directory");
        let path = dir.path().join("shared.sqlite");
        let stores: Vec<SqliteStore> = (0..8)
            .map(|_| SqliteStore::open(&path).expect("open"))
            .collect();
        stores[0]
            .transact(vec![Write::Put {
                item: counter(1, 0),
                condition: Condition::Absent,
            }])
            .await
            .expect("seed");

        let tasks: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(writer, store)| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .transact(vec![Write::Put {
                            item: counter(2, writer),
                            condition: Condition::Version(1),
                        }])
                        .await
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(()) => wins += 1,
                Err(error) => assert_eq!(error, StoreError::Conflict),
            }
        }
        assert_eq!(wins, 1);

        // A store opened later sees what the others committed.
        drop(stores);
        let reopened = SqliteStore::open(&path).expect("reopen");
        let stored = reopened
            .get(&Key::new("C#1", "COUNTER"))
            .await
            .expect("get")
            .expect("the counter exists");
        assert_eq!(stored.version, 2);
        assert_eq!(stored.expires_at, Some(1_800_000_000));
    }

    #[tokio::test]
    async fn versions_round_trip_beyond_i64() {
        let dir = tempfile::TempDir::new().expect("temporary directory");
        let store = SqliteStore::open(&dir.path().join("v.sqlite")).expect("open");
        let item = counter(u64::MAX, 1);
        store
            .transact(vec![Write::Put {
                item: item.clone(),
                condition: Condition::None,
            }])
            .await
            .expect("put");
        assert_eq!(store.get(&item.key).await, Ok(Some(item.clone())));
        let next = counter(0, 2);
        store
            .transact(vec![Write::Put {
                item: next.clone(),
                condition: Condition::Version(u64::MAX),
            }])
            .await
            .expect("conditional put on u64::MAX");
        assert_eq!(store.get(&item.key).await, Ok(Some(next)));
    }

    // No query may scan the table or sort in a temporary B-tree: its cost
    // must grow with the page, not with the table.
    #[test]
    fn every_query_shape_is_served_by_an_index() {
        let dir = tempfile::TempDir::new().expect("temporary directory");
        let store = SqliteStore::open(&dir.path().join("plan.sqlite")).expect("open");
        let conn = store.conn.lock().expect("connection");
        let index_cursor = Cursor::Index {
            index_sk: String::new(),
            pk: String::new(),
            sk: String::new(),
        };
        let table_cursor = Cursor::Table { sk: String::new() };
        for index in [None, Some(Index::Due), Some(Index::Partner)] {
            let cursor = if index.is_some() {
                &index_cursor
            } else {
                &table_cursor
            };
            for (bounded, range) in [
                (false, (false, false)),
                (true, (false, false)),
                (false, (true, true)),
            ] {
                for (after, descending) in [
                    (None, false),
                    (Some((cursor, true)), false),
                    (Some((cursor, false)), false),
                    (None, true),
                    (Some((cursor, true)), true),
                    (Some((cursor, false)), true),
                ] {
                    let sql = query_sql(index, bounded, range, after, descending);
                    let mut stmt = conn
                        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                        .expect("prepare");
                    let plan: Vec<String> = stmt
                        .query_map(params!["", "", "", "", "", "", 1, "", ""], |row| {
                            row.get::<_, String>(3)
                        })
                        .expect("plan")
                        .collect::<Result<_, _>>()
                        .expect("plan rows");
                    let plan = plan.join("; ");
                    assert!(
                        plan.starts_with("SEARCH items USING")
                            && !plan.contains("SCAN")
                            && !plan.contains("TEMP B-TREE"),
                        "{sql}: {plan}"
                    );
                }
            }
        }
    }

    /// A page deep into a prefix steps through about as many rows as the
    /// first page: the cursor is where the index seek starts.
    #[test]
    fn a_page_after_a_cursor_does_not_reread_the_earlier_pages() {
        let dir = tempfile::TempDir::new().expect("temporary directory");
        let store = SqliteStore::open(&dir.path().join("pages.sqlite")).expect("open");
        let conn = store.conn.lock().expect("connection");
        for n in 0..2000 {
            conn.execute(
                "INSERT INTO items (pk, sk, version, body) VALUES ('C#c', ?1, 1, '{}')",
                params![format!("M#{n:05}")],
            )
            .expect("insert");
        }
        let steps = |descending: bool, cursor: Option<&str>| {
            let after = cursor.map(|sk| Cursor::Table { sk: sk.to_string() });
            let sql = query_sql(
                None,
                true,
                (false, false),
                after.as_ref().map(|c| (c, true)),
                descending,
            );
            let mut stmt = conn.prepare(&sql).expect("prepare");
            let rows = stmt
                .query_map(
                    params![
                        "C#c",
                        "M#",
                        "M$",
                        cursor,
                        None::<&str>,
                        None::<&str>,
                        11,
                        None::<&str>,
                        None::<&str>
                    ],
                    |row| row.get::<_, String>(1),
                )
                .expect("query")
                .count();
            assert_eq!(rows, 11);
            stmt.get_status(rusqlite::StatementStatus::VmStep)
        };
        for (descending, deep) in [(false, "M#01500"), (true, "M#00500")] {
            let first = steps(descending, None);
            assert!(
                steps(descending, Some(deep)) <= 2 * first,
                "descending: {descending}"
            );
        }
    }

    #[test]
    fn prefix_successor_bounds_the_prefix() {
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("ab"), Some("ac".to_string()));
        assert_eq!(prefix_successor("a#"), Some("a$".to_string()));
        assert_eq!(prefix_successor("a\u{D7FF}"), Some("a\u{E000}".to_string()));
        assert_eq!(prefix_successor("a\u{10FFFF}"), Some("b".to_string()));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let table = Cursor::Table {
            sk: "ORDER#ü\"x".into(),
        };
        assert_eq!(Cursor::decode(&table.encode(), None), Ok(table));
        let index = Cursor::Index {
            index_sk: "2025-01-01".into(),
            pk: "C#1".into(),
            sk: "SUB#2".into(),
        };
        let encoded = index.encode();
        assert_eq!(Cursor::decode(&encoded, Some(Index::Due)), Ok(index));
        // A cursor from an index query is not one for the table.
        assert_eq!(
            Cursor::decode(&encoded, None),
            Err(StoreError::InvalidCursor)
        );
        for garbage in ["", "zz", "abc", "5b5d", "5b2274225d", "ünï"] {
            assert_eq!(
                Cursor::decode(garbage, None),
                Err(StoreError::InvalidCursor),
                "{garbage}"
            );
        }
    }
}
