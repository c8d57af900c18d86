//! Data written with the first release's key layout reads with the new
//! code. The items are written raw, as that release wrote them: every key
//! and index entry typed out here (the due-index entry computed by hand, not
//! by `repo::keys`), every body the JSON its model types serialised to. A
//! change to a key string, the due index's format or its shard hash strands
//! stored data, and fails this test.

use std::sync::Arc;

use seatkeeper_core::access::AccessReason;
use seatkeeper_core::model::{
    Company, LicenceStatus, Member, MemberRole, Order, OrderKind, OrderState, Plan, Policy,
    SeatPool,
};
use seatkeeper_core::ports::{Condition, IndexKey, Item, Key, ManualClock, Write};
use seatkeeper_core::service::Settings;
use seatkeeper_core::types::CompanyId;
use seatkeeper_core::{repo, Role, Seatkeeper};
use seatkeeper_test_support::fixtures::{account_manager, at, caller, date, email};
use seatkeeper_test_support::mail::RecordingMailer;
use seatkeeper_test_support::stores::Fixture;

const COMPANY_PK: &str = "C#co-legacy-1";

/// The due-index entry of the item `pk`/`sk` falling due at `instant` (RFC
/// 3339, UTC): partition `DUE#<UTC date>#<shard>`, the shard FNV-1a of
/// `pk|sk` mod 8; sort key `<instant>|pk|sk`.
fn due_entry(instant: &str, pk: &str, sk: &str) -> IndexKey {
    let item = format!("{pk}|{sk}");
    let hash = item.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    IndexKey {
        pk: format!("DUE#{}#{}", &instant[..10], hash % 8),
        sk: format!("{instant}|{item}"),
    }
}

/// An item as a first write leaves it.
fn item(sk: &str, body: &str, due: Option<IndexKey>, partner: Option<IndexKey>) -> Item {
    Item {
        key: Key::new(COMPANY_PK, sk),
        version: 1,
        body: body.to_string(),
        due,
        partner,
        expires_at: None,
    }
}

/// A member, `(email, name, role)`, holding a "standard" rolling licence,
/// `(ends_on, allocated_on, added_at)`, due at the instant `due`.
fn rolling_member(who: (&str, &str, &str), licence: (&str, &str, &str), due: &str) -> Item {
    let ((email, name, role), (ends_on, allocated_on, added_at)) = (who, licence);
    let sk = format!("M#{email}");
    let body = format!(
        concat!(
            r#"{{"email":"{email}","name":"{name}","role":"{role}","#,
            r#""licence":{{"licence_type":"standard","term":"rolling","ends_on":"{ends_on}","#,
            r#""allocated_on":"{allocated_on}"}},"added_at":"{added_at}"}}"#,
        ),
        email = email,
        name = name,
        role = role,
        ends_on = ends_on,
        allocated_on = allocated_on,
        added_at = added_at,
    );
    item(&sk, &body, Some(due_entry(due, COMPANY_PK, &sk)), None)
}

/// The company, its pool, a manager and a learner on rolling licences, and
/// an assigned order, as the first release stored them. The company is due
/// when its term ends and the members when their licences do, each at the
/// start of that day in London (BST in summer, so the day before in UTC).
fn first_release_items() -> Vec<Item> {
    let company = item(
        "COMPANY",
        concat!(
            r#"{"id":"co-legacy-1","name":"Legacy Ltd","partner_id":"msp-legacy","#,
            r#""timezone":"Europe/London","account_manager_email":"am@vendor.io","#,
            r#""min_seats_at_renewal":16,"term_months":12,"#,
            r#""plan":{"kind":"premium","term_start":"2026-04-01","renews_on":"2027-04-01"},"#,
            r#""manager_emails":["lead@acme.io"],"created_at":"2026-03-20T10:00:00Z"}"#,
        ),
        Some(due_entry("2027-03-31T23:00:00Z", COMPANY_PK, "COMPANY")),
        Some(IndexKey {
            pk: "P#msp-legacy".into(),
            sk: COMPANY_PK.into(),
        }),
    );
    let pool = item(
        "POOL#standard",
        concat!(
            r#"{"licence_type":"standard","policy":"rolling_12_months","#,
            r#""annual_fee_minor":12000,"currency":"GBP","purchased":10,"allocated":2}"#,
        ),
        None,
        None,
    );
    let lead = rolling_member(
        ("lead@acme.io", "Lee Lead", "manager"),
        ("2027-03-01", "2026-03-01", "2026-03-20T10:00:00Z"),
        "2027-03-01T00:00:00Z",
    );
    let ann = rolling_member(
        ("ann@acme.io", "Ann", "learner"),
        ("2026-07-10", "2025-07-10", "2025-07-10T08:30:00Z"),
        "2026-07-09T23:00:00Z",
    );
    let order = item(
        "O#ord-legacy-1",
        concat!(
            r#"{"id":"ord-legacy-1","company_id":"co-legacy-1","licence_type":"standard","#,
            r#""quantity":2,"kind":"upgrade","state":"assigned","#,
            r#""quote":{"licence_type":"standard","quantity":2,"annual_fee_minor":12000,"#,
            r#""currency":"GBP","days_remaining":365,"days_in_term":365,"amount_minor":24000,"#,
            r#""as_of":"2026-04-02"},"#,
            r#""requested_by":{"user_id":"sub-lead@acme.io","email":"lead@acme.io","#,
            r#""role":"manager","partner_id":null},"requested_at":"2026-04-02T09:00:00Z","#,
            r#""assigned_by":{"user_id":"sub-admin@msp.io","email":"admin@msp.io","#,
            r#""role":"partner_admin","partner_id":"msp-legacy"},"#,
            r#""assigned_at":"2026-04-03T09:00:00Z","cancelled_by":null,"cancelled_at":null,"#,
            r#""invoice":{"order_id":"ord-legacy-1","licence_type":"standard","quantity":2,"#,
            r#""unit_annual_fee_minor":12000,"days_remaining":365,"days_in_term":365,"#,
            r#""amount_minor":24000,"currency":"GBP","actioned_on":"2026-04-02"}}"#,
        ),
        None,
        None,
    );
    vec![company, pool, lead, ann, order]
}

/// What the new code writes for the value stored at `raw`: the same key and
/// the same index entries.
async fn assert_written_alike<T: repo::Record>(f: &Fixture, company: &Company, raw: &Item) {
    let value: T = repo::load(f.store.as_ref(), &raw.key)
        .await
        .expect("read")
        .unwrap_or_else(|| panic!("{}/{}", raw.key.pk, raw.key.sk))
        .value;
    let Write::Put { item, .. } = repo::insert(company, &value).expect("a write") else {
        panic!("an insert is a put");
    };
    assert_eq!(
        (&item.key, &item.due, &item.partner),
        (&raw.key, &raw.due, &raw.partner),
        "{}/{}",
        raw.key.pk,
        raw.key.sk
    );
}

async fn first_release_data_reads_with_the_new_code(f: Fixture) {
    let items = first_release_items();
    let writes = items
        .iter()
        .map(|item| Write::Put {
            item: item.clone(),
            condition: Condition::Absent,
        })
        .collect();
    f.store.transact(writes).await.expect("write the items");

    let clock = Arc::new(ManualClock::default());
    clock.set_now(at("2026-07-01T09:00:00Z"));
    let mailer = Arc::new(RecordingMailer::default());
    let svc = Seatkeeper::new(
        f.store.clone(),
        clock.clone(),
        mailer.clone(),
        Settings::default(),
    );
    let id = CompanyId::parse("co-legacy-1").expect("an id");
    let am = account_manager();

    // The company and its pool.
    let view = svc.get_company(&am, "co-legacy-1").await.expect("read");
    let company = &view.company;
    assert_eq!(
        (
            company.id.as_str(),
            company.name.as_str(),
            company.partner_id.as_ref().map(|p| p.as_str()),
            company.timezone,
            company.account_manager_email.as_str(),
            company.min_seats_at_renewal,
            company.term_months,
            company.created_at,
        ),
        (
            "co-legacy-1",
            "Legacy Ltd",
            Some("msp-legacy"),
            chrono_tz::Europe::London,
            "am@vendor.io",
            16,
            12,
            at("2026-03-20T10:00:00Z"),
        )
    );
    // Its pools are all rolling, so it reads with no term: the term belongs
    // to co-term seats, and rolling licences live by their own dates.
    assert!(
        matches!(
            company.plan,
            Plan::Premium {
                term_start: None,
                renews_on: None
            }
        ),
        "{:?}",
        company.plan
    );
    assert_eq!(company.manager_emails, vec![email("lead@acme.io")]);
    assert_eq!(view.pools.len(), 1);
    let pool = &view.pools[0];
    assert_eq!(
        (pool.licence_type.as_str(), pool.policy),
        ("standard", Policy::Rolling12Months)
    );
    assert_eq!(
        (pool.annual_fee_minor, pool.currency.as_str()),
        (12_000, "GBP")
    );
    assert_eq!((pool.purchased, pool.allocated, pool.available), (10, 2, 8));
    assert_eq!((view.counts.active, view.counts.expired), (2, 0));

    // The members, in key order.
    let members = svc
        .list_members(&am, "co-legacy-1", None, None, None)
        .await
        .expect("list");
    let members: Vec<_> = members
        .items
        .iter()
        .map(|m| {
            (
                m.email.as_str(),
                m.name.as_str(),
                m.role,
                m.licence_type.as_ref().map(|t| t.as_str()),
                m.expires_on,
                m.status,
            )
        })
        .collect();
    assert_eq!(
        members,
        vec![
            (
                "ann@acme.io",
                "Ann",
                MemberRole::Learner,
                Some("standard"),
                Some(date("2026-07-10")),
                LicenceStatus::Active
            ),
            (
                "lead@acme.io",
                "Lee Lead",
                MemberRole::Manager,
                Some("standard"),
                Some(date("2027-03-01")),
                LicenceStatus::Active
            ),
        ]
    );

    // The order, with its quote, who asked and who assigned, and its invoice.
    let order = svc
        .get_order(&am, "co-legacy-1", "ord-legacy-1")
        .await
        .expect("the order");
    assert_eq!(
        (
            order.id.as_str(),
            order.company_id.as_str(),
            order.licence_type.as_str(),
            order.quantity.get(),
            order.kind,
            order.state,
        ),
        (
            "ord-legacy-1",
            "co-legacy-1",
            "standard",
            2,
            OrderKind::Upgrade,
            OrderState::Assigned
        )
    );
    assert_eq!(
        (
            order.quote.amount_minor,
            order.quote.days_remaining,
            order.quote.as_of
        ),
        (24_000, 365, date("2026-04-02"))
    );
    assert_eq!(
        (
            order.requested_by.email.as_str(),
            order.requested_at,
            order.assigned_by.as_ref().map(|a| a.role.as_str()),
            order
                .assigned_by
                .as_ref()
                .and_then(|a| a.partner_id.as_ref())
                .map(|p| p.as_str()),
            order.assigned_at,
            order.cancelled_at,
        ),
        (
            "lead@acme.io",
            at("2026-04-02T09:00:00Z"),
            Some("partner_admin"),
            Some("msp-legacy"),
            Some(at("2026-04-03T09:00:00Z")),
            None
        )
    );
    let invoice = order.invoice.as_ref().expect("an invoice");
    assert_eq!(
        (
            invoice.order_id.as_str(),
            invoice.first_line.quantity.get(),
            invoice.first_line.unit_annual_fee_minor,
            invoice.first_line.amount_minor,
            invoice.currency.as_str(),
            invoice.actioned_on,
        ),
        ("ord-legacy-1", 2, 12_000, 24_000, "GBP", date("2026-04-02"))
    );
    // Written before orders had lines: read as the one line they are.
    assert_eq!(
        (
            order.lines.len(),
            order.total_minor,
            invoice.lines.len(),
            invoice.total_minor
        ),
        (1, order.quote.amount_minor, 1, 24_000)
    );

    // The learner's own login, read by key.
    let ann = caller(Role::Learner, "ann@acme.io", Some(&id), None);
    let access = svc.access(&ann).await.expect("access");
    assert_eq!(
        (access.allowed, access.reason),
        (true, AccessReason::LicenceActive)
    );

    // The partner's companies, through the partner index.
    let partner = caller(Role::PartnerAdmin, "admin@msp.io", None, Some("msp-legacy"));
    let listed = svc
        .list_partner_companies(&partner, "msp-legacy", None, None)
        .await
        .expect("the partner's companies");
    let listed: Vec<_> = listed.items.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(listed, vec!["co-legacy-1"]);

    // The daily run on the day Ann's licence ends finds her through the due
    // index, and only her; the managers hear of it.
    let now = at("2026-07-10T06:00:00Z");
    clock.set_now(now);
    let report = svc.run_expiry_check(now, None).await.expect("the run");
    assert_eq!((report.entries_read, report.sent, report.failed), (1, 1, 0));
    let sent = mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].kind.as_str(),
            sent[0].to.clone(),
            sent[0].subject.as_str()
        ),
        (
            "expiry_expiry",
            vec!["lead@acme.io".to_string()],
            "Legacy Ltd: licences ended on 10 July 2026"
        )
    );
    assert!(sent[0].text.contains("ann@acme.io"), "{}", sent[0].text);
    let access = svc.access(&ann).await.expect("access");
    assert_eq!(
        (access.allowed, access.reason),
        (false, AccessReason::LicenceExpired)
    );

    // What the new code writes for the same values lands on the same keys
    // and index entries, the due index's shard included.
    let stored: Company = repo::load(f.store.as_ref(), &items[0].key)
        .await
        .expect("read")
        .expect("the company")
        .value;
    assert_written_alike::<Company>(&f, &stored, &items[0]).await;
    assert_written_alike::<SeatPool>(&f, &stored, &items[1]).await;
    assert_written_alike::<Member>(&f, &stored, &items[2]).await;
    assert_written_alike::<Member>(&f, &stored, &items[3]).await;
    assert_written_alike::<Order>(&f, &stored, &items[4]).await;
}

on_both_stores!(first_release_data_reads_with_the_new_code);
