//! Kept counts: a company's members by licence status, answered from a
//! bounded number of items whatever the company's size.
//!
//! The company item keeps how many members it has (`member_count`); each
//! pool keeps its holders by how their licences end (`holders`). A day's
//! `active` and `expired` are derived from those dates at read time, and
//! `unlicensed` is the members who hold none. Every write that adds or
//! removes a member, or changes a licence, applies the change here in the
//! same transaction, conditional on the versions read like the seats are.
//!
//! Items written before counts were kept have `None`: such a company is
//! "not kept" and answers from a full tally until its first change of a
//! member starts keeping them ([`start_counts`]).
//!
//! Every change of members writes each item its counts live on ([`Touched`]),
//! changed or not. Starting to keep counts reads the company and its pools,
//! then every member (not one snapshot), then writes them all conditional on
//! the versions first read: a change made meanwhile bumped one of them, so
//! the start fails and is retried rather than miss it.

use chrono::NaiveDate;

use crate::model::{Company, Holders, Licence, SeatPool};
use crate::types::LicenceType;

/// The items a change of members touches: the company (a member joined or
/// left) and the pools of the licences before and after.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Touched {
    pub company: bool,
    pub types: Vec<LicenceType>,
}

impl Touched {
    fn licence(&mut self, licence: &Licence) {
        if !self.types.contains(&licence.licence_type) {
            self.types.push(licence.licence_type.clone());
        }
    }
}

/// Counts `licence` in (`add`) or out of its pool's holders; a pool that
/// keeps no counts yet is left alone.
pub fn count_licence(
    pools: &mut [SeatPool],
    licence: Option<&Licence>,
    add: bool,
    touched: &mut Touched,
) {
    let Some(licence) = licence else { return };
    touched.licence(licence);
    let holders = pools
        .iter_mut()
        .find(|p| p.licence_type == licence.licence_type)
        .and_then(|p| p.holders.as_mut());
    if let Some(holders) = holders {
        holders.count(licence.term, add);
    }
}

/// A member's licence changing from `before` to `after`.
pub fn recount(
    pools: &mut [SeatPool],
    before: Option<&Licence>,
    after: Option<&Licence>,
    touched: &mut Touched,
) {
    count_licence(pools, before, false, touched);
    count_licence(pools, after, true, touched);
}

/// A member joining (`joins`) or leaving the company, with `licence`.
pub fn count_member(
    company: &mut Company,
    pools: &mut [SeatPool],
    licence: Option<&Licence>,
    joins: bool,
    touched: &mut Touched,
) {
    touched.company = true;
    if let Some(n) = company.member_count.as_mut() {
        *n = if joins { *n + 1 } else { n.saturating_sub(1) };
    }
    count_licence(pools, licence, joins, touched);
}

/// Whether the company and every pool keep their counts.
pub fn counts_kept(company: &Company, pools: &[SeatPool]) -> bool {
    company.member_count.is_some() && pools.iter().all(|p| p.holders.is_some())
}

/// `(active, expired, unlicensed)` on `today` from the kept counts, or
/// `None` when they are not kept.
pub fn kept_statuses(
    company: &Company,
    pools: &[SeatPool],
    today: NaiveDate,
) -> Option<(u64, u64, u64)> {
    let members = company.member_count?;
    let (mut active, mut expired, mut licensed) = (0, 0, 0);
    for pool in pools {
        let holders = pool.holders.as_ref()?;
        let (a, e) = holders.statuses(&company.plan, today);
        active += a;
        expired += e;
        licensed += holders.total();
    }
    Some((active, expired, members.saturating_sub(licensed)))
}

/// Starts keeping counts from every member's licence (or none), as read. False
/// (and nothing changed) when a licence names a type with no pool: no write
/// makes one, but such a company stays on the full tally rather than
/// answer wrong counts.
pub fn start_counts<'a>(
    company: &mut Company,
    pools: &mut [SeatPool],
    members: impl IntoIterator<Item = Option<&'a Licence>>,
) -> bool {
    let mut holders: Vec<Holders> = vec![Holders::default(); pools.len()];
    let mut count = 0u64;
    for licence in members {
        count += 1;
        let Some(licence) = licence else {
            continue;
        };
        match pools
            .iter()
            .position(|p| p.licence_type == licence.licence_type)
        {
            Some(i) => holders[i].count(licence.term, true),
            None => return false,
        }
    }
    company.member_count = Some(count);
    for (pool, held) in pools.iter_mut().zip(holders) {
        pool.holders = Some(held);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LicenceTerm, Plan, Policy};
    use crate::test_fixtures::{company, day, pool, premium, t};

    fn licence(term: LicenceTerm) -> Licence {
        Licence {
            licence_type: t("standard"),
            term,
            allocated_on: day(2026, 4, 1),
        }
    }

    #[test]
    fn a_day_s_counts_come_from_the_end_dates() {
        let mut c = company(premium());
        let mut pools = vec![pool(Policy::CoTerm, 20, 0)];
        c.member_count = Some(0);
        let following = licence(LicenceTerm::CoTerm { ends_on: None });
        let released = licence(LicenceTerm::CoTerm {
            ends_on: Some(day(2027, 4, 1)),
        });
        let rolling = licence(LicenceTerm::Rolling {
            ends_on: day(2026, 12, 1),
        });
        let mut touched = Touched::default();
        for l in [Some(&following), Some(&released), Some(&rolling), None] {
            count_member(&mut c, &mut pools, l, true, &mut touched);
        }
        assert_eq!(
            touched,
            Touched {
                company: true,
                types: vec![t("standard")]
            }
        );
        let on = |c: &Company, pools: &[SeatPool], d| kept_statuses(c, pools, d);
        assert_eq!(on(&c, &pools, day(2026, 11, 30)), Some((3, 0, 1)));
        assert_eq!(
            on(&c, &pools, day(2026, 12, 1)),
            Some((2, 1, 1)),
            "valid through D-1"
        );
        assert_eq!(
            on(&c, &pools, day(2027, 4, 1)),
            Some((0, 3, 1)),
            "the term ended"
        );
        // A term renewed: its followers carry, the released one does not.
        c.plan = Plan::premium(day(2027, 4, 1), 12);
        assert_eq!(on(&c, &pools, day(2027, 4, 1)), Some((1, 2, 1)));
        recount(&mut pools, Some(&following), None, &mut touched);
        count_member(&mut c, &mut pools, Some(&rolling), false, &mut touched);
        assert_eq!(on(&c, &pools, day(2027, 4, 1)), Some((0, 1, 2)));
        pools[0].holders = None;
        assert_eq!(on(&c, &pools, day(2027, 4, 1)), None, "not kept");
    }

    #[test]
    fn counts_start_from_the_members_unless_a_licence_has_no_pool() {
        let mut c = company(premium());
        let mut pools = vec![pool(Policy::CoTerm, 20, 0)];
        pools[0].holders = None;
        let held = licence(LicenceTerm::CoTerm { ends_on: None });
        assert!(!counts_kept(&c, &pools));
        assert!(start_counts(&mut c, &mut pools, [Some(&held), None]));
        assert!(counts_kept(&c, &pools));
        assert_eq!(kept_statuses(&c, &pools, day(2026, 5, 1)), Some((1, 0, 1)));
        let stray = Licence {
            licence_type: t("gone"),
            ..held
        };
        let (mut c2, mut pools2) = (company(premium()), vec![pool(Policy::CoTerm, 1, 0)]);
        assert!(!start_counts(&mut c2, &mut pools2, [Some(&stray)]));
        assert_eq!(c2.member_count, None);
    }
}
