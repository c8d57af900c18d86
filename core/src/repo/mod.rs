//! How the domain lives in the single table: typed reads and conditional
//! writes over the [`ItemStore`] port, and which index entries each record
//! carries. The keys themselves, and the layout's table, are in [`keys`].

pub mod keys;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ServiceError;
use crate::model::{Company, Import, LicenceTerm, Member, Notice, Order, OrderState, SeatPool};
use crate::ports::{Condition, IndexKey, Item, ItemStore, Key, Query, StoreError, Write};
use crate::types::CompanyId;

pub use keys::*;

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
    /// Trials and terms fall due when the plan's end date begins; a term
    /// already renewed, when the next one ends. No term, no entry.
    fn due(&self, company: &Company) -> Option<IndexKey> {
        let ends_on = match &self.next_term {
            Some(next) => next.renews_on,
            None => self.plan.ends_on()?,
        };
        let ends = start_of_day(ends_on, company.timezone);
        Some(due_entry(ends, &self.key(&company.id)))
    }
    fn partner(&self) -> Option<IndexKey> {
        self.partner_id
            .as_ref()
            .map(|partner| partner_entry(partner, &self.id))
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
            LicenceTerm::Trial { .. } | LicenceTerm::CoTerm { .. } => None,
        }
    }
}

/// Records keyed by one of their fields, in no index.
macro_rules! keyed_by {
    ($($record:ty => $key:ident($field:ident)),* $(,)?) => {$(
        impl Record for $record {
            fn key(&self, company: &CompanyId) -> Key {
                $key(company, &self.$field)
            }
        }
    )*};
}

keyed_by! {
    SeatPool => pool_key(licence_type),
    Import => import_key(id),
}

/// A requested order falls due when it becomes overdue, so the daily run
/// finds it for the helpdesk digest; assigned or cancelled, it leaves.
impl Record for Order {
    fn key(&self, company: &CompanyId) -> Key {
        order_key(company, &self.id)
    }
    fn due(&self, company: &Company) -> Option<IndexKey> {
        (self.state == OrderState::Requested)
            .then(|| due_entry(self.overdue_at(), &self.key(&company.id)))
    }
}

/// A notice sits in the due index on its due date until it is sent or
/// parked.
impl Record for Notice {
    fn key(&self, company: &CompanyId) -> Key {
        notice_key(company, &self.dedup_key)
    }
    fn due(&self, company: &Company) -> Option<IndexKey> {
        (self.sent_at.is_none() && self.parked.is_none())
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

/// A stored item that does not read, told without the personal data its
/// key or body may hold: serde's message quotes the offending value, so
/// only its kind and place are kept.
pub fn corrupt(key: &Key, error: &serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!(
        "{}: {:?} error at line {} column {}",
        redacted(key),
        error.classify(),
        error.line(),
        error.column()
    ))
}

/// A stored item's body as `T`, which may borrow from it: a view of the
/// few fields a reader needs, the rest skipped undecoded.
pub fn view<'a, T: Deserialize<'a>>(item: &'a Item) -> Result<T, ServiceError> {
    Ok(serde_json::from_str(&item.body).map_err(|e| corrupt(&item.key, &e))?)
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<Stored<T>, ServiceError> {
    let value = view(&item)?;
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

/// Deletes a record, if nobody wrote it since it was read.
pub fn delete<T: Record>(company: &Company, value: &T, read_version: u64) -> Write {
    Write::Delete {
        key: value.key(&company.id),
        condition: Condition::Version(read_version),
    }
}

fn raw_item<T: Serialize>(
    key: Key,
    value: &T,
    expires_at: Option<i64>,
) -> Result<Item, ServiceError> {
    let body = serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Item {
        key,
        version: 1,
        body,
        due: None,
        partner: None,
        expires_at,
    })
}

/// Writes a plain JSON value under a key that must not exist yet.
pub fn insert_raw<T: Serialize>(
    key: Key,
    value: &T,
    expires_at: Option<i64>,
) -> Result<Write, ServiceError> {
    Ok(Write::Put {
        item: raw_item(key, value, expires_at)?,
        condition: Condition::Absent,
    })
}

/// Writes a plain JSON value under a key, whatever is there: for derived
/// items (queue entries) that follow a record written conditionally.
pub fn put_raw<T: Serialize>(key: Key, value: &T) -> Result<Write, ServiceError> {
    Ok(Write::Put {
        item: raw_item(key, value, None)?,
        condition: Condition::None,
    })
}

/// Writes a new plain JSON value under a key, if nobody wrote it since it
/// was read.
pub fn update_raw<T: Serialize>(
    key: Key,
    value: &T,
    read_version: u64,
    expires_at: Option<i64>,
) -> Result<Write, ServiceError> {
    let mut item = raw_item(key, value, expires_at)?;
    item.version = read_version + 1;
    Ok(Write::Put {
        item,
        condition: Condition::Version(read_version),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Email;

    /// Store errors reach the logs: they name no member and quote no body.
    #[test]
    fn an_unreadable_member_is_reported_without_personal_data() {
        let company = CompanyId::parse("c1").unwrap();
        let key = member_key(&company, &Email::parse("ann@acme.io").unwrap());
        let item = Item {
            key,
            version: 1,
            body: r#"{"email":"ann@acme.io","name":7}"#.into(),
            due: None,
            partner: None,
            expires_at: None,
        };
        let error = from_item::<Member>(item).unwrap_err().to_string();
        assert!(!error.contains("ann"), "{error}");
        assert!(error.contains("C#c1/M#~"), "{error}");
    }
}
