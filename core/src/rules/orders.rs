//! Orders: the kind they default to, what they may ask, and what an
//! assigned one does to the pools and the plan, scheduled terms included.

use chrono::NaiveDate;

use crate::dates::{add_months, has_ended};
use crate::error::ServiceError;
use crate::model::{Company, NextTerm, OrderKind, Plan, Policy, SeatPool, TermLine};
use crate::pricing::next_term_start;
use crate::types::{LicenceType, OrderId, Quantity};

/// An order's line as the rules see it: a pool and how many seats.
pub type Line<'a> = (&'a SeatPool, Quantity);

/// The kind an order or quote takes when the client names none: a
/// conversion in a trial, a renewal once the term has ended, else an upgrade.
pub fn default_kind(company: &Company, today: NaiveDate) -> OrderKind {
    match company.plan {
        Plan::Trial { .. } => OrderKind::TrialConversion,
        Plan::Premium { .. } => match company.plan.term() {
            Some(term) if has_ended(term.renews_on, today) => OrderKind::Renewal,
            _ => OrderKind::Upgrade,
        },
    }
}

/// The rules an order must meet when requested and again when assigned.
/// `pools` are all the company's pools; `lines` name some of them.
pub fn check_order(
    company: &Company,
    pools: &[SeatPool],
    kind: OrderKind,
    lines: &[Line<'_>],
) -> Result<(), ServiceError> {
    let co_term = lines.iter().any(|(pool, _)| pool.policy == Policy::CoTerm);
    if lines.len() > 1 && !(kind == OrderKind::Renewal && co_term) {
        return Err(ServiceError::invalid(
            "lines",
            "only a co-term renewal may name more than one licence type",
        ));
    }
    if kind != OrderKind::Renewal || !co_term {
        return Ok(());
    }
    if lines.iter().any(|(pool, _)| pool.policy != Policy::CoTerm) {
        return Err(ServiceError::invalid(
            "lines",
            "a co-term renewal names co-term licence types only",
        ));
    }
    if company.next_term.is_some() {
        return Err(ServiceError::AlreadyRenewed {
            renews_on: company.plan.term().map(|t| t.renews_on),
        });
    }
    let requested: u32 = lines.iter().map(|(_, q)| q.get()).sum();
    if requested < company.min_seats_at_renewal {
        return Err(ServiceError::BelowMinimumSeats {
            minimum: company.min_seats_at_renewal,
            requested,
        });
    }
    // Every co-term pool's holders carry over unless released at renewal; a
    // type the renewal does not name keeps no seats.
    for pool in pools.iter().filter(|p| p.policy == Policy::CoTerm) {
        let requested = renewed_seats(lines, &pool.licence_type);
        let carrying = pool.carrying();
        if requested < carrying {
            return Err(ServiceError::BelowAllocatedSeats {
                licence_type: pool.licence_type.clone(),
                allocated: carrying,
                requested,
                needed: carrying - requested,
            });
        }
    }
    Ok(())
}

fn renewed_seats(lines: &[Line<'_>], licence_type: &LicenceType) -> u32 {
    lines
        .iter()
        .find(|(pool, _)| pool.licence_type == *licence_type)
        .map_or(0, |(_, q)| q.get())
}

/// A co-term renewal renews the term that ran when it was requested, once:
/// refused when that term has been renewed since (a renewal scheduled, or
/// a later term started).
pub fn ensure_renews_open_term(
    company: &Company,
    renews_term_ending: Option<NaiveDate>,
) -> Result<(), ServiceError> {
    let Some(renewed) = renews_term_ending else {
        return Ok(());
    };
    let term = company.plan.term();
    if company.next_term.is_some() || term.is_some_and(|t| t.start >= renewed) {
        return Err(ServiceError::AlreadyRenewed {
            renews_on: term.map(|t| t.renews_on),
        });
    }
    Ok(())
}

/// What an assigned order does to the pools and the plan. `lines` are
/// `(licence type, quantity)`; `pools` are all the company's pools.
pub fn apply_order(
    company: &mut Company,
    pools: &mut [SeatPool],
    kind: OrderKind,
    lines: &[(LicenceType, Quantity)],
    actioned_on: NaiveDate,
    order_id: &OrderId,
) {
    let months = company.term_months;
    let seats_of = |t: &LicenceType| {
        lines
            .iter()
            .find(|(lt, _)| lt == t)
            .map_or(0, |(_, q)| q.get())
    };
    let co_term = pools
        .iter()
        .any(|p| p.policy == Policy::CoTerm && seats_of(&p.licence_type) > 0);
    match (kind, co_term) {
        (OrderKind::TrialConversion, _) => {
            // Trial seats end with the trial; the bought seats start empty.
            for pool in pools.iter_mut().filter(|p| seats_of(&p.licence_type) > 0) {
                pool.purchased = seats_of(&pool.licence_type);
                pool.allocated = 0;
            }
            company.plan = if co_term {
                Plan::premium(actioned_on, months)
            } else {
                Plan::premium_without_term()
            };
        }
        (OrderKind::Renewal, true) => match company.plan.term() {
            // Before the renewal date: scheduled, today's seats untouched.
            Some(term) if actioned_on < term.renews_on => {
                for pool in pools.iter_mut().filter(|p| p.policy == Policy::CoTerm) {
                    pool.next_purchased = Some(seats_of(&pool.licence_type));
                }
                company.next_term = Some(NextTerm {
                    starts_on: term.renews_on,
                    renews_on: add_months(term.renews_on, months),
                    lines: lines
                        .iter()
                        .map(|(licence_type, q)| TermLine {
                            licence_type: licence_type.clone(),
                            seats: q.get(),
                        })
                        .collect(),
                    order_id: order_id.clone(),
                });
            }
            // Lapsed (or no term yet): the next term starts the day it is actioned.
            term => {
                let start = term.map_or(actioned_on, |t| next_term_start(t.renews_on, actioned_on));
                for pool in pools.iter_mut().filter(|p| p.policy == Policy::CoTerm) {
                    pool.next_purchased = Some(seats_of(&pool.licence_type));
                    carry_into_next_term(pool);
                }
                company.plan = Plan::premium(start, months);
            }
        },
        // Upgrades, and orders for rolling seats: more seats now.
        (_, _) => {
            for pool in pools.iter_mut() {
                pool.purchased = pool.purchased.saturating_add(seats_of(&pool.licence_type));
            }
            if co_term && company.plan.term().is_none() {
                company.plan = Plan::premium(actioned_on, months);
            }
        }
    }
}

/// A pool as the next term starts: its scheduled seats, and only the
/// holders who carry over. Once only: a pool already carried (or never
/// scheduled) is left as it is, so a pool stored before or after its
/// company's term started reads the same.
pub fn carry_into_next_term(pool: &mut SeatPool) {
    if let Some(next) = pool.next_purchased.take() {
        pool.purchased = next;
        pool.allocated = pool.carrying();
        pool.releasing_at_renewal = 0;
    }
}

/// Starts a scheduled term once its day has come. Nothing is written for
/// it on the day: every read applies it, and whatever is written next
/// stores it (company and pools each carry over once). True if it started.
pub fn start_due_term(company: &mut Company, pools: &mut [SeatPool], today: NaiveDate) -> bool {
    let Some(next) = company.next_term.take_if(|next| next.starts_on <= today) else {
        return false;
    };
    for pool in pools.iter_mut().filter(|p| p.policy == Policy::CoTerm) {
        carry_into_next_term(pool);
    }
    company.plan = Plan::Premium {
        term_start: Some(next.starts_on),
        renews_on: Some(next.renews_on),
    };
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{company, day, pool, pool_of, premium, q, t};

    #[test]
    fn the_kind_follows_the_company_state() {
        let trial = company(Plan::Trial {
            ends_on: day(2026, 12, 1),
            seats: 5,
            allocated: Some(0),
        });
        assert_eq!(
            default_kind(&trial, day(2026, 12, 5)),
            OrderKind::TrialConversion
        );
        let c = company(premium());
        assert_eq!(default_kind(&c, day(2027, 3, 31)), OrderKind::Upgrade);
        assert_eq!(default_kind(&c, day(2027, 4, 1)), OrderKind::Renewal);
    }

    #[test]
    fn a_co_term_renewal_keeps_the_account_minimum_and_the_holders() {
        let c = company(premium());
        let renewal = OrderKind::Renewal;
        let standard = pool(Policy::CoTerm, 20, 10);
        let pro = pool_of("pro", Policy::CoTerm, 5, 2);
        let pools = [standard.clone(), pro.clone()];
        // The minimum is over the account: 14 + 2 = 16 passes.
        assert_eq!(
            check_order(&c, &pools, renewal, &[(&standard, q(14)), (&pro, q(2))]),
            Ok(())
        );
        assert_eq!(
            check_order(&c, &pools, renewal, &[(&standard, q(13)), (&pro, q(2))]),
            Err(ServiceError::BelowMinimumSeats {
                minimum: 16,
                requested: 15
            })
        );
        // Leaving `pro` out lapses it, but its 2 holders would carry over.
        assert_eq!(
            check_order(&c, &pools, renewal, &[(&standard, q(16))]),
            Err(ServiceError::BelowAllocatedSeats {
                licence_type: t("pro"),
                allocated: 2,
                requested: 0,
                needed: 2
            })
        );
        let mut released = pro.clone();
        released.releasing_at_renewal = 2;
        let pools = [standard.clone(), released];
        assert_eq!(
            check_order(&c, &pools, renewal, &[(&standard, q(16))]),
            Ok(()),
            "holders released at renewal do not carry"
        );
        let mut scheduled = c.clone();
        scheduled.next_term = Some(NextTerm {
            starts_on: day(2027, 4, 1),
            renews_on: day(2028, 4, 1),
            lines: Vec::new(),
            order_id: OrderId::parse("o1").unwrap(),
        });
        assert!(matches!(
            check_order(&scheduled, &pools, renewal, &[(&standard, q(16))]),
            Err(ServiceError::AlreadyRenewed { .. })
        ));
        // Neither rule binds an upgrade or a rolling pool.
        let rolling = pool(Policy::Rolling12Months, 20, 18);
        assert_eq!(
            check_order(&c, &pools, OrderKind::Upgrade, &[(&standard, q(1))]),
            Ok(())
        );
        assert_eq!(
            check_order(
                &c,
                std::slice::from_ref(&rolling),
                renewal,
                &[(&rolling, q(1))]
            ),
            Ok(())
        );
    }

    /// A renewal of `seats` standard seats, assigned on `on`.
    fn renew(c: &mut Company, pools: &mut [SeatPool], seats: u32, on: NaiveDate) {
        let order = OrderId::parse("o1").unwrap();
        apply_order(
            c,
            pools,
            OrderKind::Renewal,
            &[(t("standard"), q(seats))],
            on,
            &order,
        );
    }

    #[test]
    fn a_renewal_before_the_date_is_scheduled_and_starts_on_the_day() {
        let mut c = company(premium());
        let mut pools = vec![pool(Policy::CoTerm, 20, 18)];
        pools[0].releasing_at_renewal = 2;
        renew(&mut c, &mut pools, 16, day(2027, 3, 20));
        // Today's seats are untouched.
        assert_eq!((pools[0].purchased, pools[0].allocated), (20, 18));
        assert_eq!(c.plan, premium());
        assert_eq!(
            c.next_term.as_ref().map(|n| n.starts_on),
            Some(day(2027, 4, 1))
        );
        assert!(!start_due_term(&mut c, &mut pools, day(2027, 3, 31)));
        assert!(start_due_term(&mut c, &mut pools, day(2027, 4, 1)));
        assert_eq!(c.plan, Plan::premium(day(2027, 4, 1), 12));
        assert_eq!(c.next_term, None);
        assert_eq!(
            (
                pools[0].purchased,
                pools[0].allocated,
                pools[0].releasing_at_renewal
            ),
            (16, 16, 0)
        );
        assert!(!start_due_term(&mut c, &mut pools, day(2027, 4, 2)), "once");
    }

    #[test]
    fn a_lapsed_renewal_starts_the_term_the_day_it_is_actioned() {
        let mut c = company(premium());
        let mut pools = vec![pool(Policy::CoTerm, 20, 5)];
        renew(&mut c, &mut pools, 16, day(2027, 4, 10));
        assert_eq!(c.plan, Plan::premium(day(2027, 4, 10), 12));
        assert_eq!((pools[0].purchased, pools[0].allocated), (16, 5));
        assert_eq!(
            ensure_renews_open_term(&c, Some(day(2027, 4, 1))),
            Err(ServiceError::AlreadyRenewed {
                renews_on: Some(day(2028, 4, 10))
            }),
            "a second renewal of the same term"
        );
    }

    #[test]
    fn upgrades_and_conversions_move_seats_and_terms() {
        let on = day(2026, 11, 22);
        let order = OrderId::parse("o1").unwrap();
        let (mut c, mut pools) = (company(premium()), vec![pool(Policy::CoTerm, 20, 5)]);
        apply_order(
            &mut c,
            &mut pools,
            OrderKind::Upgrade,
            &[(t("standard"), q(10))],
            on,
            &order,
        );
        assert_eq!(
            (pools[0].purchased, pools[0].allocated, &c.plan),
            (30, 5, &premium())
        );

        // A conversion to co-term starts the term the day it is actioned;
        // other pools are untouched.
        let trial = Plan::Trial {
            ends_on: day(2026, 12, 1),
            seats: 5,
            allocated: Some(3),
        };
        let mut c = company(trial.clone());
        let mut pools = vec![
            pool(Policy::CoTerm, 0, 0),
            pool_of("pro", Policy::Rolling12Months, 0, 0),
        ];
        apply_order(
            &mut c,
            &mut pools,
            OrderKind::TrialConversion,
            &[(t("standard"), q(20))],
            on,
            &order,
        );
        assert_eq!((pools[0].purchased, pools[1].purchased), (20, 0));
        assert_eq!(c.plan, Plan::premium(on, 12));

        // A conversion to rolling seats gives no term.
        let mut c = company(trial);
        apply_order(
            &mut c,
            &mut pools,
            OrderKind::TrialConversion,
            &[(t("pro"), q(7))],
            on,
            &order,
        );
        assert_eq!(pools[1].purchased, 7);
        assert_eq!(c.plan, Plan::premium_without_term());
    }
}
