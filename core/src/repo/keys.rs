//! The single table's layout: every key, prefix and index entry is built
//! here and nowhere else.
//!
//! | item          | pk                   | sk                          | due index           | partner index |
//! |---------------|----------------------|-----------------------------|---------------------|---------------|
//! | company       | `C#<company>`        | `COMPANY`                   | plan end date       | `P#<partner>` |
//! | seat pool     | `C#<company>`        | `POOL#<type>`               |                     |               |
//! | member        | `C#<company>`        | `M#<email>`                 | rolling licence end |               |
//! | order         | `C#<company>`        | `O#<order id>`              |                     |               |
//! | import or Select All job | `C#<company>` | `I#<import id>`     |                     |               |
//! | import chunk  | `C#<company>`        | `I#<import id>#R#<generation>#<n, 6 digits>` |    |               |
//! | select all    | `C#<company>`        | `SELECTALL` (the latest)    |                     |               |
//! | notice        | `C#<company>`        | `N#<dedup key>`             | while unsent: retry |               |
//! | audit         | `C#<company>`        | `A#<time-ordered id>`       |                     |               |
//! | order         | (while requested)    |                             | 24 h after request  |               |
//! | partner       | `PARTNER#<partner>`  | `PARTNER`                   |                     |               |
//! | queue entry   | `QUEUE#ALL`, `QUEUE#P#<partner>` | `<requested at>\|<company>\|<order>` |  |        |
//! | idempotency   | `IDEM#<sub>#<key>`   | `IDEM`                      |                     |               |
//! | run state     | `JOB#expiry-check`   | `STATE`                     |                     |               |
//!
//! The due index's partition key is `DUE#<utc date>#<shard>` and its sort key
//! `<instant>|<pk>|<sk>`, the instant being when the item's company-local day
//! begins. Items due on one date are spread over [`DUE_SHARDS`] partitions so
//! one busy date is not one hot partition; the daily job range-reads every
//! shard of the dates its window spans, so it reads what is due and no more.
//!
//! A requested order has one queue entry in `QUEUE#ALL` (the account
//! managers' queue) and, when its company has a partner, one in that
//! partner's `QUEUE#P#<partner>`: each queue is one partition read oldest
//! first, whatever the number of companies.
//!
//! A company's `counts` add no key: they are kept on the company item
//! (`member_count`) and on each pool item (`holders`), see `rules::counts`.
//!
//! These strings are stored data: changing one strands every item written
//! with the old one (`tests` below pin them byte for byte).

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::ports::{Index, IndexKey, Key, Query};
use crate::types::{CompanyId, Email, ImportId, LicenceType, OrderId, PartnerId};

/// How many partitions one due date is spread over.
pub const DUE_SHARDS: u32 = 8;

const COMPANY_PK_PREFIX: &str = "C#";
/// The company item's sort key in its own partition.
pub const COMPANY_SK: &str = "COMPANY";
pub const POOL_PREFIX: &str = "POOL#";
pub const MEMBER_PREFIX: &str = "M#";
pub const ORDER_PREFIX: &str = "O#";
pub const IMPORT_PREFIX: &str = "I#";
pub const AUDIT_PREFIX: &str = "A#";
pub const NOTICE_PREFIX: &str = "N#";

pub fn company_pk(company: &CompanyId) -> String {
    format!("{COMPANY_PK_PREFIX}{company}")
}

/// The company a partition key names, if it is a company's partition.
pub fn company_of_pk(pk: &str) -> Option<CompanyId> {
    CompanyId::parse(pk.strip_prefix(COMPANY_PK_PREFIX)?).ok()
}

pub fn company_key(company: &CompanyId) -> Key {
    Key::new(company_pk(company), COMPANY_SK)
}

pub fn pool_key(company: &CompanyId, licence_type: &LicenceType) -> Key {
    Key::new(company_pk(company), format!("{POOL_PREFIX}{licence_type}"))
}

pub fn member_key(company: &CompanyId, email: &Email) -> Key {
    Key::new(company_pk(company), format!("{MEMBER_PREFIX}{email}"))
}

pub fn order_key(company: &CompanyId, order: &OrderId) -> Key {
    Key::new(company_pk(company), format!("{ORDER_PREFIX}{order}"))
}

pub fn import_key(company: &CompanyId, import: &ImportId) -> Key {
    Key::new(company_pk(company), format!("{IMPORT_PREFIX}{import}"))
}

/// The `n`th list of members a preview of `generation` found to renew.
pub fn import_chunk_key(company: &CompanyId, import: &ImportId, generation: &str, n: u32) -> Key {
    Key::new(
        company_pk(company),
        format!("{IMPORT_PREFIX}{import}#R#{generation}#{n:06}"),
    )
}

/// Names a company's latest "Select All" allocation, so that a second one
/// while it runs resumes it rather than reserving the seats twice.
pub fn select_all_key(company: &CompanyId) -> Key {
    Key::new(company_pk(company), "SELECTALL")
}

pub fn notice_key(company: &CompanyId, dedup_key: &str) -> Key {
    Key::new(company_pk(company), format!("{NOTICE_PREFIX}{dedup_key}"))
}

/// A new audit event's key: time-ordered, so a partition reads in order.
pub fn audit_key(company: &CompanyId) -> Key {
    Key::new(
        company_pk(company),
        format!("{AUDIT_PREFIX}{}", uuid::Uuid::now_v7().simple()),
    )
}

pub fn partner_key(partner: &PartnerId) -> Key {
    Key::new(format!("PARTNER#{partner}"), "PARTNER")
}

/// The helpdesk queue's partition: every requested order, or a partner's.
pub fn queue_pk(partner: Option<&PartnerId>) -> String {
    match partner {
        None => "QUEUE#ALL".to_string(),
        Some(partner) => format!("QUEUE#P#{partner}"),
    }
}

/// The queue entries of a requested order: in the account managers' queue,
/// and in its partner's when the company has one. The sort key starts with
/// the request's instant (microseconds, UTC), so a queue reads oldest first.
pub fn queue_keys(
    partner: Option<&PartnerId>,
    company: &CompanyId,
    order: &OrderId,
    requested_at: DateTime<Utc>,
) -> Vec<Key> {
    let sk = format!(
        "{}|{company}|{order}",
        requested_at.format("%Y-%m-%dT%H:%M:%S%.6fZ")
    );
    std::iter::once(None)
        .chain(partner.map(Some))
        .map(|scope| Key::new(queue_pk(scope), sk.clone()))
        .collect()
}

/// An `Idempotency-Key` as one caller sent it: keys are per caller, so two
/// users can never collide.
pub fn idempotency_key(user_id: &str, key: &str) -> Key {
    Key::new(format!("IDEM#{user_id}#{key}"), "IDEM")
}

/// Where the daily expiry check keeps how far it got.
pub fn expiry_run_state_key() -> Key {
    Key::new("JOB#expiry-check", "STATE")
}

pub fn partner_pk(partner: &PartnerId) -> String {
    format!("P#{partner}")
}

/// `DUE#<utc date>#<shard>` for one shard of a UTC date.
pub fn due_pk(date: NaiveDate, shard: u32) -> String {
    format!("DUE#{date}#{shard}")
}

fn due_instant(at: DateTime<Utc>) -> impl std::fmt::Display {
    at.format("%Y-%m-%dT%H:%M:%SZ")
}

/// The due index's sort key for an instant: RFC 3339 in UTC, which sorts as
/// time does. Keys of items follow after `|`, so `due_sk_bound(t)` sorts
/// after every entry at `t` and before every later one.
pub fn due_sk_bound(at: DateTime<Utc>) -> String {
    format!("{}|~", due_instant(at))
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

/// FNV-1a: stable across builds and platforms, unlike std's hasher.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A key as logs and error messages may show it: a member's e-mail is
/// personal data, so it stands as a stable hash (the same member, the same
/// text), never as itself.
pub fn redacted(key: &Key) -> String {
    match key.sk.strip_prefix(MEMBER_PREFIX) {
        Some(email) => format!("{}/{MEMBER_PREFIX}~{:016x}", key.pk, fnv1a(email)),
        None => format!("{}/{}", key.pk, key.sk),
    }
}

/// The due-index entry of an item that falls due at `at`: the partition is
/// the UTC date and a stable hash of the item's key (the shard), the sort
/// key the instant then the item's own key.
pub fn due_entry(at: DateTime<Utc>, key: &Key) -> IndexKey {
    let item = format!("{}|{}", key.pk, key.sk);
    let hash = fnv1a(&item);
    let shard = u32::try_from(hash % u64::from(DUE_SHARDS)).unwrap_or(0);
    IndexKey {
        pk: due_pk(at.date_naive(), shard),
        sk: format!("{}|{item}", due_instant(at)),
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

/// The partner index entry of a company with a partner.
pub fn partner_entry(partner: &PartnerId, company: &CompanyId) -> IndexKey {
    IndexKey {
        pk: partner_pk(partner),
        sk: company_pk(company),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn due_entries_spread_over_shards_and_are_stable() {
        let date = utc(2026, 12, 1);
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

    /// Every key as the first release wrote it, byte for byte: these are
    /// stored data, so the layout may grow but never move.
    #[test]
    fn keys_are_the_stored_layout() {
        let c = CompanyId::parse("c1").unwrap();
        let key = |k: Key| format!("{}/{}", k.pk, k.sk);
        assert_eq!(key(company_key(&c)), "C#c1/COMPANY");
        assert_eq!(
            key(pool_key(&c, &LicenceType::parse("standard").unwrap())),
            "C#c1/POOL#standard"
        );
        assert_eq!(
            key(member_key(&c, &Email::parse("Ann@Acme.io").unwrap())),
            "C#c1/M#ann@acme.io"
        );
        assert_eq!(
            key(order_key(&c, &OrderId::parse("o1").unwrap())),
            "C#c1/O#o1"
        );
        let import = ImportId::parse("i1").unwrap();
        assert_eq!(key(import_key(&c, &import)), "C#c1/I#i1");
        assert_eq!(
            key(import_chunk_key(&c, &import, "g7", 3)),
            "C#c1/I#i1#R#g7#000003"
        );
        assert_eq!(key(select_all_key(&c)), "C#c1/SELECTALL");
        assert_eq!(
            key(notice_key(&c, "order_requested#o1")),
            "C#c1/N#order_requested#o1"
        );
        assert!(key(audit_key(&c)).starts_with("C#c1/A#"));
        assert_eq!(key(idempotency_key("u1", "k-1")), "IDEM#u1#k-1/IDEM");
        assert_eq!(key(expiry_run_state_key()), "JOB#expiry-check/STATE");
        let p = PartnerId::parse("p1").unwrap();
        assert_eq!(key(partner_key(&p)), "PARTNER#p1/PARTNER");
        let o1 = OrderId::parse("o1").unwrap();
        let requested_at = utc(2026, 12, 1) + chrono::Duration::microseconds(1_500_000);
        let queued: Vec<String> = queue_keys(Some(&p), &c, &o1, requested_at)
            .into_iter()
            .map(key)
            .collect();
        assert_eq!(
            queued,
            [
                "QUEUE#ALL/2026-12-01T00:00:01.500000Z|c1|o1",
                "QUEUE#P#p1/2026-12-01T00:00:01.500000Z|c1|o1"
            ]
        );
        assert_eq!(queue_keys(None, &c, &o1, requested_at).len(), 1);
        assert_eq!(
            partner_entry(&p, &c),
            IndexKey {
                pk: "P#p1".into(),
                sk: "C#c1".into()
            }
        );
        assert_eq!(company_of_pk("C#c1"), Some(c));
        assert_eq!(company_of_pk("IDEM#u1#k"), None);
    }

    #[test]
    fn a_redacted_key_holds_no_e_mail() {
        let c = CompanyId::parse("c1").unwrap();
        let ann = member_key(&c, &Email::parse("ann@acme.io").unwrap());
        let shown = redacted(&ann);
        assert!(!shown.contains("ann"), "{shown}");
        assert!(shown.starts_with("C#c1/M#~"), "{shown}");
        assert_eq!(shown, redacted(&ann), "stable");
        assert_eq!(redacted(&company_key(&c)), "C#c1/COMPANY");
    }

    /// The shard hash as the first release computed it (FNV-1a of
    /// `pk|sk`, mod 8): moving it would hide due items from the daily run.
    #[test]
    fn due_shards_are_the_stored_hash() {
        let at = utc(2027, 4, 1);
        let c = CompanyId::parse("c1").unwrap();
        let shard = |k: &Key| due_entry(at, k).pk;
        assert_eq!(shard(&company_key(&c)), "DUE#2027-04-01#4");
        assert_eq!(
            shard(&member_key(&c, &Email::parse("ann@acme.io").unwrap())),
            "DUE#2027-04-01#0"
        );
        assert_eq!(
            due_entry(at, &company_key(&c)).sk,
            "2027-04-01T00:00:00Z|C#c1|COMPANY"
        );
    }
}
