//! Values the core's unit tests share.

use chrono::{NaiveDate, Utc};

use crate::model::{Company, Plan, Policy, SeatPool, DEFAULT_MIN_SEATS_AT_RENEWAL};
use crate::types::{CompanyId, Currency, Email, LicenceType, Quantity};

/// A company in London with no partner and no managers, on `plan`.
pub(crate) fn company(plan: Plan) -> Company {
    Company {
        id: CompanyId::parse("c1").unwrap(),
        name: "Acme".into(),
        partner_id: None,
        timezone: chrono_tz::Europe::London,
        account_manager_email: Email::parse("am@v.io").unwrap(),
        min_seats_at_renewal: DEFAULT_MIN_SEATS_AT_RENEWAL,
        term_months: 12,
        plan,
        next_term: None,
        manager_emails: Vec::new(),
        created_at: Utc::now(),
        member_count: None,
    }
}

pub(crate) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A pool of `name` at GBP 120.00 a seat.
pub(crate) fn pool_of(name: &str, policy: Policy, purchased: u32, allocated: u32) -> SeatPool {
    let mut pool = SeatPool::new(
        t(name),
        policy,
        12_000,
        Currency::parse("GBP").unwrap(),
        purchased,
    );
    pool.allocated = allocated;
    pool
}

/// A pool of "standard".
pub(crate) fn pool(policy: Policy, purchased: u32, allocated: u32) -> SeatPool {
    pool_of("standard", policy, purchased, allocated)
}

/// Premium, the term 2026-04-01 to 2027-04-01.
pub(crate) fn premium() -> Plan {
    Plan::premium(day(2026, 4, 1), 12)
}

pub(crate) fn q(n: u32) -> Quantity {
    Quantity::new(n).unwrap()
}

pub(crate) fn t(name: &str) -> LicenceType {
    LicenceType::parse(name).unwrap()
}
