//! The ports: what the core needs from the outside world, as traits.
//!
//! The store port is shaped for DynamoDB on purpose: items addressed by
//! partition and sort key, conditional writes grouped in transactions of at
//! most [`MAX_TRANSACTION_ITEMS`], reads by key, by key prefix or through one
//! of two secondary indexes. No scans, no joins. Anything that can implement
//! this (SQLite, DynamoDB) can hold Seatkeeper's state.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// DynamoDB's limit on the items in one `TransactWriteItems`.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// DynamoDB's limit on the keys in one `BatchGetItem`.
pub const MAX_BATCH_GET_KEYS: usize = 100;

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// The secondary indexes of the single table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    /// Items by the date something falls due, sharded: `DUE#<date>#<shard>`.
    Due,
    /// Companies by partner: `P#<partner_id>`.
    Partner,
}

/// The key of an item in a secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKey {
    pub pk: String,
    pub sk: String,
}

/// One stored item. `body` is the entity as JSON; the store does not look
/// inside it. `version` is written as given: the core bumps it and makes
/// the write conditional on the version it read (optimistic locking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: Key,
    pub version: u64,
    pub body: String,
    pub due: Option<IndexKey>,
    pub partner: Option<IndexKey>,
    /// Epoch seconds after which the store may delete the item (DynamoDB TTL).
    pub expires_at: Option<i64>,
}

/// What must be true of the stored item for a write to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Write whatever is there.
    None,
    /// The item must not exist.
    Absent,
    /// The item must exist with exactly this version.
    Version(u64),
}

/// One write in a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    /// Writes nothing; fails the transaction unless the condition holds.
    Check {
        key: Key,
        condition: Condition,
    },
}

impl Write {
    pub fn key(&self) -> &Key {
        match self {
            Write::Put { item, .. } => &item.key,
            Write::Delete { key, .. } | Write::Check { key, .. } => key,
        }
    }
}

/// A query: every item whose partition key is `pk` and whose sort key starts
/// with `sk_prefix`, in ascending sort-key order, in the table or an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub index: Option<Index>,
    pub pk: String,
    pub sk_prefix: String,
    /// When set, only sort keys `>=` this (inclusive). With `sk_max`, a
    /// range read such as "everything that fell due since the last run".
    /// Use ranges with an empty prefix (DynamoDB allows one sort-key condition).
    pub sk_min: Option<String>,
    /// When set, only sort keys `<=` this (inclusive).
    pub sk_max: Option<String>,
    /// At most this many items per page (1..=1000).
    pub limit: u32,
    /// The `next` of the previous page; opaque to the caller.
    pub cursor: Option<String>,
    /// Newest first: descending sort-key order (DynamoDB's
    /// `ScanIndexForward = false`), for lists read from their end.
    pub descending: bool,
}

impl Query {
    pub fn table(pk: impl Into<String>, sk_prefix: impl Into<String>) -> Self {
        Self {
            index: None,
            pk: pk.into(),
            sk_prefix: sk_prefix.into(),
            sk_min: None,
            sk_max: None,
            limit: 1000,
            cursor: None,
            descending: false,
        }
    }

    pub fn index(index: Index, pk: impl Into<String>) -> Self {
        Self {
            index: Some(index),
            ..Self::table(pk, "")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow; pass it back as `Query::cursor`.
    pub next: Option<String>,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A condition of the write (or of any write in the transaction) failed,
    /// or the transaction collided with another one. Safe to re-read and retry.
    #[error("a write condition failed or a concurrent transaction won")]
    Conflict,
    #[error("the store is throttling requests")]
    Throttled,
    #[error("a transaction may hold at most {MAX_TRANSACTION_ITEMS} items, got {0}")]
    TooManyItems(usize),
    // The key is not in the message: a member's key holds an e-mail.
    #[error("a transaction names the same item twice")]
    DuplicateKey(Key),
    #[error("the pagination cursor is not valid")]
    InvalidCursor,
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

/// Item storage, shaped for DynamoDB.
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// A strongly consistent read of one item.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    /// Strongly consistent reads of up to [`MAX_BATCH_GET_KEYS`] items; the
    /// ones that exist come back, in no particular order.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;
    /// One page of a query. Index queries may lag behind writes on DynamoDB.
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
    /// Applies every write or none. At most [`MAX_TRANSACTION_ITEMS`] writes,
    /// each on a different key. A failed condition gives `Conflict`.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;
}

#[async_trait]
impl<T: ItemStore + ?Sized> ItemStore for Arc<T> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        (**self).get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        (**self).get_many(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        (**self).query(query).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        (**self).transact(writes).await
    }
}

/// Checks the rules every adapter must enforce before a transaction.
pub fn check_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.len() > MAX_TRANSACTION_ITEMS {
        return Err(StoreError::TooManyItems(writes.len()));
    }
    let mut seen = std::collections::HashSet::new();
    for write in writes {
        if !seen.insert(write.key()) {
            return Err(StoreError::DuplicateKey(write.key().clone()));
        }
    }
    Ok(())
}

/// The service's clock. Tests and the local server set it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Today's calendar date in the given time zone.
    fn today_in(&self, tz: Tz) -> NaiveDate {
        self.now().with_timezone(&tz).date_naive()
    }
}

impl<T: Clock + ?Sized> Clock for Arc<T> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
    fn today_in(&self, tz: Tz) -> NaiveDate {
        (**self).today_in(tz)
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// An e-mail the service sends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutgoingEmail {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// What the e-mail is about, e.g. `order_requested`; for logs and the outbox.
    pub kind: String,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MailError {
    #[error("the mail service is throttling")]
    Throttled,
    #[error("the mail service refused the message: {0}")]
    Rejected(String),
    #[error("the mail service is unavailable: {0}")]
    Unavailable(String),
}

/// Sends e-mail (SES v2 on AWS, a file outbox locally).
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError>;
}

#[async_trait]
impl<T: Mailer + ?Sized> Mailer for Arc<T> {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        (**self).send(email).await
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ObjectError {
    #[error("no such object: {0}")]
    NotFound(String),
    #[error("the object store is unavailable: {0}")]
    Unavailable(String),
}

/// Hands out the URL a client uploads a file to (a presigned S3 PUT on AWS,
/// the local server's `/local/s3/...` locally).
#[async_trait]
pub trait UploadTarget: Send + Sync {
    /// The bucket uploads go to.
    fn bucket(&self) -> &str;
    /// A URL for one `PUT` of `key`, valid for `expires_in_seconds`.
    async fn upload_url(&self, key: &str, expires_in_seconds: u64) -> Result<String, ObjectError>;
    /// Stores `bytes` at `key` in [`Self::bucket`]: what a `PUT` of the
    /// upload URL does, for a file that came through the server itself
    /// (the console's upload form).
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), ObjectError>;
}

/// Reads uploaded objects (S3 on AWS, a directory locally), as a stream of
/// chunks so that a large upload is never held whole in memory.
#[async_trait]
pub trait ObjectReader: Send + Sync {
    /// The object's size in bytes, or `NotFound`.
    async fn size(&self, bucket: &str, key: &str) -> Result<u64, ObjectError>;
    /// Calls `sink` with each chunk in order; stops early if it returns false.
    async fn read_chunks(
        &self,
        bucket: &str,
        key: &str,
        sink: &mut (dyn for<'c> FnMut(&'c [u8]) -> bool + Send),
    ) -> Result<(), ObjectError>;
}

/// A clock that can be set: for tests and the local server's
/// `POST /local/clock`. Until it is set it is the system clock.
#[derive(Debug, Default)]
pub struct ManualClock {
    fixed: std::sync::RwLock<Option<Fixed>>,
}

#[derive(Debug, Clone, Copy)]
enum Fixed {
    /// The same date in every time zone (the local server's "today").
    Today(NaiveDate),
    /// One instant, seen in each time zone as its own local date.
    Instant(DateTime<Utc>),
}

impl ManualClock {
    pub fn at(today: NaiveDate) -> Self {
        let clock = Self::default();
        clock.set_today(today);
        clock
    }

    /// Makes `today` the date in every time zone.
    pub fn set_today(&self, today: NaiveDate) {
        self.set(Fixed::Today(today));
    }

    /// Stops the clock at `now`; each time zone sees its own date.
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.set(Fixed::Instant(now));
    }

    fn set(&self, fixed: Fixed) {
        // A poisoned lock only means a panic elsewhere mid-write of a Copy value.
        let mut guard = self.fixed.write().unwrap_or_else(|p| p.into_inner());
        *guard = Some(fixed);
    }

    fn fixed(&self) -> Option<Fixed> {
        *self.fixed.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for ManualClock {
    /// A set date reads as its midday UTC, so timestamps agree with it.
    fn now(&self) -> DateTime<Utc> {
        match self.fixed() {
            Some(Fixed::Instant(now)) => now,
            Some(Fixed::Today(day)) => day
                .and_hms_opt(12, 0, 0)
                .map_or_else(Utc::now, |noon| noon.and_utc()),
            None => Utc::now(),
        }
    }

    fn today_in(&self, tz: Tz) -> NaiveDate {
        match self.fixed() {
            Some(Fixed::Today(day)) => day,
            _ => self.now().with_timezone(&tz).date_naive(),
        }
    }
}
