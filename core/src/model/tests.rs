//! The domain types' rules, tried one by one.

use super::*;
use chrono::{NaiveDate, Utc};

use crate::dates::parse_date;
use crate::types::{Currency, Email, LicenceType};

fn d(s: &str) -> NaiveDate {
    parse_date(s).unwrap()
}

#[test]
fn order_transitions() {
    use OrderState::*;
    assert!(Requested.can_become(Assigned));
    assert!(Requested.can_become(Cancelled));
    for (from, to) in [
        (Assigned, Cancelled),
        (Cancelled, Assigned),
        (Assigned, Assigned),
        (Requested, Requested),
    ] {
        assert!(!from.can_become(to), "{from:?} -> {to:?}");
    }
}

fn standard_pool(purchased: u32) -> SeatPool {
    SeatPool::new(
        LicenceType::parse("standard").unwrap(),
        Policy::CoTerm,
        100,
        Currency::parse("GBP").unwrap(),
        purchased,
    )
}

#[test]
fn available_is_never_negative() {
    let mut pool = standard_pool(3);
    assert_eq!(
        pool.take(4),
        Err(SeatShortage {
            needed: 4,
            available: 3
        })
    );
    assert_eq!(pool.allocated, 0, "a refused take changes nothing");
    pool.take(3).unwrap();
    assert_eq!(pool.available(), 0);
    pool.purchased = 1; // a downgrade below allocation still reads as 0
    assert_eq!(pool.available(), 0);
}

#[test]
fn a_scheduled_term_bounds_what_may_be_handed_out_now() {
    let mut pool = standard_pool(20);
    pool.take(16).unwrap();
    pool.releasing_at_renewal = 2;
    pool.next_purchased = Some(16);
    // 4 free today, but 14 carry into a term of 16: only 2 may be added.
    assert_eq!(pool.carrying(), 14);
    assert_eq!(pool.available(), 2);
    assert_eq!(
        pool.take(3),
        Err(SeatShortage {
            needed: 3,
            available: 2
        })
    );
}

#[test]
fn items_of_the_first_release_read_as_they_meant() {
    let licence: Licence = serde_json::from_str(
        r#"{"licence_type":"standard","term":"co_term","allocated_on":"2026-04-01"}"#,
    )
    .unwrap();
    assert_eq!(licence.term, LicenceTerm::CoTerm { ends_on: None });
    let plan: Plan =
        serde_json::from_str(r#"{"kind":"trial","ends_on":"2026-12-01","seats":5}"#).unwrap();
    assert_eq!(
        plan,
        Plan::Trial {
            ends_on: d("2026-12-01"),
            seats: 5,
            allocated: None
        }
    );
    let pool: SeatPool = serde_json::from_str(
        r#"{"licence_type":"standard","policy":"co_term","annual_fee_minor":12000,"currency":"GBP","purchased":20,"allocated":3}"#,
    )
    .unwrap();
    assert_eq!((pool.releasing_at_renewal, pool.next_purchased), (0, None));
    assert_eq!(
        serde_json::to_value(&licence).unwrap()["term"],
        "co_term",
        "an unreleased co-term licence is written as before"
    );
}

#[test]
fn licence_status_follows_the_plan() {
    let plan = Plan::premium(d("2026-04-01"), 12);
    assert_eq!(plan.ends_on(), Some(d("2027-04-01")));
    let member = |term| Member {
        email: Email::parse("a@b.io").unwrap(),
        name: "A".into(),
        role: MemberRole::Learner,
        licence: Some(Licence {
            licence_type: LicenceType::parse("standard").unwrap(),
            term,
            allocated_on: d("2026-04-01"),
        }),
        added_at: Utc::now(),
    };
    let co = member(LicenceTerm::CoTerm { ends_on: None });
    assert_eq!(co.status(&plan, d("2027-03-31")), LicenceStatus::Active);
    assert_eq!(co.status(&plan, d("2027-04-01")), LicenceStatus::Expired);
    let renewed = Plan::premium(d("2027-04-01"), 12);
    assert_eq!(
        co.status(&renewed, d("2027-04-01")),
        LicenceStatus::Active,
        "co-term holders carry into the next term"
    );
    let rolling = member(LicenceTerm::Rolling {
        ends_on: d("2026-12-01"),
    });
    assert_eq!(
        rolling.status(&renewed, d("2026-11-30")),
        LicenceStatus::Active
    );
    assert_eq!(
        rolling.status(&renewed, d("2026-12-01")),
        LicenceStatus::Expired
    );
    let none = Member {
        licence: None,
        ..co.clone()
    };
    assert_eq!(
        none.status(&plan, d("2026-05-01")),
        LicenceStatus::Unlicensed
    );
    let released = member(LicenceTerm::CoTerm {
        ends_on: Some(d("2027-04-01")),
    });
    assert_eq!(
        released.status(&renewed, d("2027-04-01")),
        LicenceStatus::Expired,
        "a seat released at renewal does not carry over"
    );
    assert_eq!(
        co.status(&Plan::premium_without_term(), d("2026-05-01")),
        LicenceStatus::Expired,
        "a co-term licence needs a term"
    );
}

#[test]
fn company_status_is_derived() {
    let mut company = crate::test_fixtures::company(Plan::Trial {
        ends_on: d("2026-12-01"),
        seats: 5,
        allocated: Some(0),
    });
    assert_eq!(company.status(false, d("2026-11-30")), CompanyStatus::Trial);
    assert_eq!(
        company.status(false, d("2026-12-01")),
        CompanyStatus::Expired
    );
    company.plan = Plan::premium(d("2026-12-01"), 12);
    assert_eq!(
        company.status(false, d("2026-12-01")),
        CompanyStatus::Active
    );
    assert_eq!(
        company.status(false, d("2027-12-01")),
        CompanyStatus::Expired
    );
    assert_eq!(
        company.status(true, d("2027-12-01")),
        CompanyStatus::Active,
        "a company with a rolling pool never expires as a company"
    );
    company.plan = Plan::premium_without_term();
    assert_eq!(company.status(true, d("2030-01-01")), CompanyStatus::Active);
}

/// Imports stored before samples listed their columns as plain names.
#[test]
fn import_columns_read_old_and_new_shapes() {
    let old: Vec<ImportColumn> = serde_json::from_str(r#"["Name", "Email"]"#).unwrap();
    assert_eq!(
        old,
        vec![ImportColumn::from("Name"), ImportColumn::from("Email")]
    );
    let new: Vec<ImportColumn> =
        serde_json::from_str(r#"[{"name": "Email", "samples": ["a@x.io"]}, {"name": "Team"}]"#)
            .unwrap();
    assert_eq!(new[0].samples, vec!["a@x.io"]);
    assert!(new[1].samples.is_empty());
    assert_eq!(
        serde_json::to_value(&new[0]).unwrap(),
        serde_json::json!({"name": "Email", "samples": ["a@x.io"]})
    );
    let counts: ImportCounts = serde_json::from_str(
        r#"{"rows":1,"to_renew":1,"not_renewed":0,"already_active":0,"unknown":0,"invalid":0,"duplicate":0}"#,
    )
    .unwrap();
    assert_eq!(counts.stay_expired, 0, "old counts read with none");
}
