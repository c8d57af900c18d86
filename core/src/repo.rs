//! How the domain lives in the single table: keys, index entries, and typed
//! reads and conditional writes over the [`ItemStore`] port.
//!
//! | item       | pk             | sk                      | due index          | partner index     |
//! |------------|----------------|-------------------------|--------------------|-------------------|
//! | company    | `C#<company>`  | `COMPANY`               | plan end date      | `P#<partner>`     |
//! | seat pool  | `C#<company>`  | `POOL#<type>`           |                    |                   |
//! | member     | `C#<company>`  | `M#<email>`             | rolling licence end|                   |
//! | order      | `C#<company>`  | `O#<order id>`          |                    |                   |
//! | import     | `C#<company>`  | `I#<import id>`         |                    |                   |
//! | notice     | `C#<company>`  | `N#<dedup key>`         | while unsent: retry|                   |
//! | audit      | `C#<company>`  | `A#<time-ordered id>`   |                    |                   |
//! | idempotency| `IDEM#<sub>#<key>` | `IDEM`              |                    |                   |
//! | run state  | `JOB#expiry-check` | `STATE`             |                    |                   |
//!
//! The due index's partition key is `DUE#<utc date>#<shard>` and its sort key
//! `<instant>|<pk>|<sk>`, the instant being when the item's company-local day
//! begins. Items due on one date are spread over [`DUE_SHARDS`] partitions so
//! one busy date is not one hot partition; the daily job range-reads every
//! shard of the dates its window spans, so it reads what is due and no more.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ServiceError;
use crate::model::{Company, LicenceTerm, Member, Notice, Order, SeatPool};
use crate::ports::{Condition, Index, IndexKey, Item, ItemStore, Key, Query, StoreError, Write};
use crate::types::{CompanyId, Email, LicenceType, OrderId, PartnerId};

/// How many partitions one due date is spread over.
pub const DUE_SHARDS: u32 = 8;

pub fn company_pk(company: &CompanyId) -> String {
    format!("C#{company}")
}

pub fn company_key(company: &CompanyId) -> Key {
    Key::new(company_pk(company), "COMPANY")
}

pub fn pool_key(company: &CompanyId, licence_type: &LicenceType) -> Key {
    Key::new(company_pk(company), format!("POOL#{licence_type}"))
}

pub fn member_key(company: &CompanyId, email: &Email) -> Key {
    Key::new(company_pk(company), format!("M#{email}"))
}

pub fn order_key(company: &CompanyId, order: &OrderId) -> Key {
    Key::new(company_pk(company), format!("O#{order}"))
}

pub fn audit_key(company: &CompanyId) -> Key {
    Key::new(
        company_pk(company),
        format!("A#{}", uuid::Uuid::now_v7().simple()),
    )
}

pub const POOL_PREFIX: &str = "POOL#";
pub const MEMBER_PREFIX: &str = "M#";
pub const ORDER_PREFIX: &str = "O#";
pub const AUDIT_PREFIX: &str = "A#";
pub const NOTICE_PREFIX: &str = "N#";

pub fn partner_pk(partner: &PartnerId) -> String {
    format!("P#{partner}")
}

/// `DUE#<utc date>#<shard>` for one shard of a UTC date.
pub fn due_pk(date: NaiveDate, shard: u32) -> String {
    format!("DUE#{date}#{shard}")
}

/// The due index's sort key for an instant: RFC 3339 in UTC, which sorts as
/// time does. Keys of items follow after `|`, so `due_sk_bound(t)` sorts
/// after every entry at `t` and before every later one.
pub fn due_sk_bound(at: DateTime<Utc>) -> String {
    format!("{}|~", at.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// The first instant of `date` in `tz`: midnight, or the end of a DST gap
/// that swallows midnight.
pub fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    (0..24)
        .filter_map(|hour| date.and_hms_opt(hour, 0, 0))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map_or_else(
            || date.and_time(NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// The due-index entry of an item that falls due at `at`: the partition is
/// the UTC date and a stable hash of the item's key (the shard), the sort
/// key the instant then the item's own key.
pub fn due_entry(at: DateTime<Utc>, key: &Key) -> IndexKey {
    let item = format!("{}|{}", key.pk, key.sk);
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = item.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let shard = u32::try_from(hash % u64::from(DUE_SHARDS)).unwrap_or(0);
    IndexKey {
        pk: due_pk(at.date_naive(), shard),
        sk: format!("{}|{item}", at.format("%Y-%m-%dT%H:%M:%SZ")),
    }
}

/// An entity that lives in the table, in a company's partition.
pub trait Record: Serialize + DeserializeOwned {
    fn key(&self, company: &CompanyId) -> Key;
    /// Where the item sits in the due index, if anywhere; the company gives
    /// the time zone its dates are in.
    fn due(&self, _company: &Company) -> Option<IndexKey> {
        None
    }
    fn partner(&self) -> Option<IndexKey> {
        None
    }
}

impl Record for Company {
    fn key(&self, _company: &CompanyId) -> Key {
        company_key(&self.id)
    }
    /// Trials and terms fall due when the plan's end date begins.
    fn due(&self, company: &Company) -> Option<IndexKey> {
        let ends = start_of_day(self.plan.ends_on(), company.timezone);
        Some(due_entry(ends, &self.key(&company.id)))
    }
    fn partner(&self) -> Option<IndexKey> {
        self.partner_id.as_ref().map(|partner| IndexKey {
            pk: partner_pk(partner),
            sk: company_pk(&self.id),
        })
    }
}

impl Record for Member {
    fn key(&self, company: &CompanyId) -> Key {
        member_key(company, &self.email)
    }
    /// Only rolling licences have their own end date; trial and co-term ones
    /// fall due with the company's plan.
    fn due(&self, company: &Company) -> Option<IndexKey> {
        match self.licence.as_ref()?.term {
            LicenceTerm::Rolling { ends_on } => Some(due_entry(
                start_of_day(ends_on, company.timezone),
                &self.key(&company.id),
            )),
            LicenceTerm::Trial { .. } | LicenceTerm::CoTerm => None,
        }
    }
}

impl Record for SeatPool {
    fn key(&self, company: &CompanyId) -> Key {
        pool_key(company, &self.licence_type)
    }
}

impl Record for Order {
    fn key(&self, company: &CompanyId) -> Key {
        order_key(company, &self.id)
    }
}

pub fn notice_key(company: &CompanyId, dedup_key: &str) -> Key {
    Key::new(company_pk(company), format!("{NOTICE_PREFIX}{dedup_key}"))
}

/// A notice sits in the due index on its due date until it is sent.
impl Record for Notice {
    fn key(&self, company: &CompanyId) -> Key {
        notice_key(company, &self.dedup_key)
    }
    fn due(&self, company: &Company) -> Option<IndexKey> {
        self.sent_at
            .is_none()
            .then(|| due_entry(self.retry_at, &self.key(&company.id)))
    }
}

/// A record as read, with the version a write must be conditional on.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<T> {
    pub value: T,
    pub version: u64,
}

fn to_item<T: Record>(company: &Company, value: &T, version: u64) -> Result<Item, ServiceError> {
    let body = serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Item {
        key: value.key(&company.id),
        version,
        body,
        due: value.due(company),
        partner: value.partner(),
        expires_at: None,
    })
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<Stored<T>, ServiceError> {
    let value = serde_json::from_str(&item.body)
        .map_err(|e| StoreError::Corrupt(format!("{}/{}: {e}", item.key.pk, item.key.sk)))?;
    Ok(Stored {
        value,
        version: item.version,
    })
}

/// Writes a record that must not exist yet.
pub fn insert<T: Record>(company: &Company, value: &T) -> Result<Write, ServiceError> {
    Ok(Write::Put {
        item: to_item(company, value, 1)?,
        condition: Condition::Absent,
    })
}

/// Writes a new value of a record, if nobody wrote it since it was read.
pub fn update<T: Record>(
    company: &Company,
    value: &T,
    read_version: u64,
) -> Result<Write, ServiceError> {
    Ok(Write::Put {
        item: to_item(company, value, read_version + 1)?,
        condition: Condition::Version(read_version),
    })
}

/// Writes a plain JSON value under a key that must not exist yet.
pub fn insert_raw<T: Serialize>(
    key: Key,
    value: &T,
    expires_at: Option<i64>,
) -> Result<Write, ServiceError> {
    let body = serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Write::Put {
        item: Item {
            key,
            version: 1,
            body,
            due: None,
            partner: None,
            expires_at,
        },
        condition: Condition::Absent,
    })
}

/// Writes a new plain JSON value under a key, if nobody wrote it since it
/// was read.
pub fn update_raw<T: Serialize>(
    key: Key,
    value: &T,
    read_version: u64,
) -> Result<Write, ServiceError> {
    match insert_raw(key, value, None)? {
        Write::Put { mut item, .. } => {
            item.version = read_version + 1;
            Ok(Write::Put {
                item,
                condition: Condition::Version(read_version),
            })
        }
        other => Ok(other),
    }
}

/// Typed reads over the store.
pub async fn load<T: DeserializeOwned, S: ItemStore + ?Sized>(
    store: &S,
    key: &Key,
) -> Result<Option<Stored<T>>, ServiceError> {
    store.get(key).await?.map(from_item).transpose()
}

pub async fn load_many<T: DeserializeOwned, S: ItemStore + ?Sized>(
    store: &S,
    keys: &[Key],
) -> Result<Vec<Stored<T>>, ServiceError> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(crate::ports::MAX_BATCH_GET_KEYS) {
        for item in store.get_many(chunk).await? {
            found.push(from_item(item)?);
        }
    }
    Ok(found)
}

/// One page of a query, decoded.
pub async fn load_page<T: DeserializeOwned, S: ItemStore + ?Sized>(
    store: &S,
    query: &Query,
) -> Result<(Vec<Stored<T>>, Option<String>), ServiceError> {
    let page = store.query(query).await?;
    let values = page
        .items
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    Ok((values, page.next))
}

/// Every item of a query, following the pages.
pub async fn load_all<T: DeserializeOwned, S: ItemStore + ?Sized>(
    store: &S,
    mut query: Query,
) -> Result<Vec<Stored<T>>, ServiceError> {
    let mut all = Vec::new();
    loop {
        let (mut values, next) = load_page(store, &query).await?;
        all.append(&mut values);
        match next {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(all),
        }
    }
}

/// One shard of one UTC date of the due index, limited to the entries due
/// in `(after, until]`.
pub fn due_query(date: NaiveDate, shard: u32, after: DateTime<Utc>, until: DateTime<Utc>) -> Query {
    Query {
        sk_min: Some(due_sk_bound(after)),
        sk_max: Some(due_sk_bound(until)),
        ..Query::index(Index::Due, due_pk(date, shard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_entries_spread_over_shards_and_are_stable() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let company = CompanyId::parse("c1").unwrap();
        let mut shards = std::collections::HashSet::new();
        for i in 0..200 {
            let key = member_key(&company, &Email::parse(&format!("u{i}@x.io")).unwrap());
            let entry = due_entry(date, &key);
            assert_eq!(entry, due_entry(date, &key), "stable");
            assert!(entry.pk.starts_with("DUE#2026-12-01#"));
            assert!(entry.sk.starts_with("2026-12-01T00:00:00Z|C#c1|M#u"));
            assert!(
                entry.sk < due_sk_bound(date)
                    && due_sk_bound(date).as_str() < "2026-12-01T00:00:01Z"
            );
            shards.insert(entry.pk);
        }
        assert_eq!(
            shards.len(),
            DUE_SHARDS as usize,
            "200 keys reach every shard"
        );
    }
}
