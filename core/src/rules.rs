//! The licence rules the use cases apply, as pure functions: what a new
//! licence is, when seats may be handed out, what an order may ask and what
//! an assigned order does to the pool and the plan.

use chrono::NaiveDate;

use crate::dates::{add_months, has_ended, rolling_licence_end};
use crate::error::ServiceError;
use crate::model::{
    Company, Licence, LicenceTerm, NextTerm, OrderKind, Plan, Policy, SeatPool, SeatShortage,
    TermLine,
};
use crate::pricing::next_term_start;
use crate::types::{LicenceType, OrderId, Quantity};

/// A new licence from `pool`, starting today. A rolling licence that is
/// still active on that day is renewed early: 12 months from its own end,
/// so no day is lost.
pub fn new_licence(
    pool: &SeatPool,
    plan: &Plan,
    current: Option<&Licence>,
    today: NaiveDate,
) -> Licence {
    let term = match (plan, pool.policy) {
        (Plan::Trial { ends_on, .. }, _) => LicenceTerm::Trial { ends_on: *ends_on },
        (Plan::Premium { .. }, Policy::CoTerm) => LicenceTerm::CoTerm { ends_on: None },
        (Plan::Premium { .. }, Policy::Rolling12Months) => {
            let from = match current {
                Some(Licence {
                    licence_type,
                    term: LicenceTerm::Rolling { ends_on },
                    ..
                }) if *licence_type == pool.licence_type && !has_ended(*ends_on, today) => *ends_on,
                _ => today,
            };
            LicenceTerm::Rolling {
                ends_on: rolling_licence_end(from),
            }
        }
    };
    Licence {
        licence_type: pool.licence_type.clone(),
        term,
        allocated_on: today,
    }
}

/// A trial licence of `licence_type`, ending with the trial.
pub fn trial_licence(licence_type: LicenceType, ends_on: NaiveDate, today: NaiveDate) -> Licence {
    Licence {
        licence_type,
        term: LicenceTerm::Trial { ends_on },
        allocated_on: today,
    }
}

/// The licence a new member gets: in a trial, a trial licence (of
/// `licence_type`, or the first type) while any is free; in premium, a seat
/// of `licence_type`. With no type named, none left is no licence; with
/// one named, it is a refusal.
pub fn first_licence(
    company: &mut Company,
    pools: &mut [SeatPool],
    licence_type: Option<&LicenceType>,
    today: NaiveDate,
) -> Result<Option<Licence>, ServiceError> {
    let not_found = ServiceError::NotFound {
        what: "licence type",
    };
    if let Plan::Trial {
        ends_on,
        seats,
        allocated,
    } = &mut company.plan
    {
        let taken = allocated.get_or_insert(0);
        let licence_type = match licence_type {
            Some(t) if !pools.iter().any(|p| p.licence_type == *t) => return Err(not_found),
            Some(_) if has_ended(*ends_on, today) => {
                return Err(ServiceError::TermEnded {
                    renews_on: *ends_on,
                })
            }
            Some(_) if *taken >= *seats => {
                return Err(shortage(SeatShortage {
                    needed: 1,
                    available: 0,
                }))
            }
            Some(t) => t,
            None if *taken >= *seats || has_ended(*ends_on, today) => return Ok(None),
            None => match pools.first() {
                Some(pool) => &pool.licence_type,
                None => return Ok(None),
            },
        };
        *taken += 1;
        return Ok(Some(trial_licence(licence_type.clone(), *ends_on, today)));
    }
    let Some(licence_type) = licence_type else {
        return Ok(None);
    };
    let pool = pools
        .iter_mut()
        .find(|p| p.licence_type == *licence_type)
        .ok_or(not_found)?;
    ensure_open(company, pool, today)?;
    pool.take(1).map_err(shortage)?;
    Ok(Some(new_licence(pool, &company.plan, None, today)))
}

/// May a member who holds `current` be given a seat of `pool` today? A
/// bought co-term seat of the same type is held already; an active rolling
/// licence is renewed early, and a trial licence is replaced.
pub fn holds_seat_already(
    current: Option<&Licence>,
    pool: &SeatPool,
    plan: &Plan,
    today: NaiveDate,
) -> bool {
    current.is_some_and(|licence| {
        licence.licence_type == pool.licence_type
            && licence.is_co_term()
            && licence
                .expires_on(plan)
                .is_some_and(|ends| !has_ended(ends, today))
    })
}

pub fn shortage(s: SeatShortage) -> ServiceError {
    ServiceError::NoSeatsAvailable {
        needed: s.needed,
        available: s.available,
    }
}

/// Seats of `pool` are handed out while the trial runs, and co-term seats
/// while their term runs. Rolling seats live by their own dates.
pub fn ensure_open(
    company: &Company,
    pool: &SeatPool,
    today: NaiveDate,
) -> Result<(), ServiceError> {
    let ended = match (&company.plan, pool.policy) {
        (Plan::Trial { ends_on, .. }, _) => Some(*ends_on),
        (Plan::Premium { .. }, Policy::CoTerm) => company.plan.term().map(|t| t.renews_on),
        (Plan::Premium { .. }, Policy::Rolling12Months) => None,
    };
    match ended {
        Some(renews_on) if has_ended(renews_on, today) => {
            Err(ServiceError::TermEnded { renews_on })
        }
        _ => Ok(()),
    }
}

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
/// holders who carry over.
fn carry_into_next_term(pool: &mut SeatPool) {
    pool.purchased = pool.next_purchased.take().unwrap_or(0);
    pool.allocated = pool.carrying();
    pool.releasing_at_renewal = 0;
}

/// Starts a scheduled term once its day has come. Nothing is written for
/// it on the day: every read applies it, and the next write stores it.
/// True if it started.
pub fn start_due_term(company: &mut Company, pools: &mut [SeatPool], today: NaiveDate) -> bool {
    if !company
        .next_term
        .as_ref()
        .is_some_and(|next| next.starts_on <= today)
    {
        return false;
    }
    let Some(next) = company.next_term.take() else {
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
    use crate::test_fixtures::company;
    use crate::types::{Currency, LicenceType};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn pool(policy: Policy, purchased: u32, allocated: u32) -> SeatPool {
        SeatPool {
            licence_type: LicenceType::parse("standard").unwrap(),
            policy,
            annual_fee_minor: 12_000,
            currency: Currency::parse("GBP").unwrap(),
            purchased,
            allocated,
        }
    }

    fn premium() -> Plan {
        Plan::premium(day(2026, 4, 1), 12)
    }

    #[test]
    fn a_new_licence_follows_the_plan_and_the_policy() {
        let today = day(2026, 11, 22);
        let trial = Plan::Trial {
            ends_on: day(2026, 12, 1),
            seats: 5,
        };
        assert_eq!(
            new_licence(&pool(Policy::CoTerm, 1, 0), &trial, today).term,
            LicenceTerm::Trial {
                ends_on: day(2026, 12, 1)
            }
        );
        assert_eq!(
            new_licence(&pool(Policy::CoTerm, 1, 0), &premium(), today).term,
            LicenceTerm::CoTerm
        );
        let rolling = new_licence(&pool(Policy::Rolling12Months, 1, 0), &premium(), today);
        assert_eq!(
            rolling.term,
            LicenceTerm::Rolling {
                ends_on: day(2027, 11, 22)
            }
        );
        assert_eq!(rolling.allocated_on, today);
    }

    #[test]
    fn seats_are_handed_out_only_while_the_term_runs() {
        let c = company(premium());
        assert_eq!(ensure_term_open(&c, day(2027, 3, 31)), Ok(()));
        assert_eq!(
            ensure_term_open(&c, day(2027, 4, 1)),
            Err(ServiceError::TermEnded {
                renews_on: day(2027, 4, 1)
            })
        );
    }

    #[test]
    fn a_shortage_names_what_is_needed_and_free() {
        assert_eq!(
            shortage(SeatShortage {
                needed: 4,
                available: 3
            }),
            ServiceError::NoSeatsAvailable {
                needed: 4,
                available: 3
            }
        );
    }

    #[test]
    fn a_co_term_renewal_keeps_the_minimum_and_the_holders() {
        let c = company(premium());
        let q = |n| Quantity::new(n).unwrap();
        let renewal = OrderKind::Renewal;
        assert_eq!(
            check_order_rules(&c, &pool(Policy::CoTerm, 20, 10), renewal, q(15)),
            Err(ServiceError::BelowMinimumSeats {
                minimum: 16,
                requested: 15
            })
        );
        assert_eq!(
            check_order_rules(&c, &pool(Policy::CoTerm, 20, 18), renewal, q(17)),
            Err(ServiceError::BelowAllocatedSeats {
                allocated: 18,
                requested: 17
            })
        );
        assert_eq!(
            check_order_rules(&c, &pool(Policy::CoTerm, 20, 10), renewal, q(16)),
            Ok(())
        );
        // Neither rule binds an upgrade or a rolling pool.
        assert_eq!(
            check_order_rules(&c, &pool(Policy::CoTerm, 20, 18), OrderKind::Upgrade, q(1)),
            Ok(())
        );
        assert_eq!(
            check_order_rules(&c, &pool(Policy::Rolling12Months, 20, 18), renewal, q(1)),
            Ok(())
        );
    }

    #[test]
    fn an_assigned_order_moves_seats_and_terms() {
        let q = |n| Quantity::new(n).unwrap();
        let on = day(2026, 11, 22);

        let (mut c, mut p) = (company(premium()), pool(Policy::CoTerm, 20, 5));
        apply_order(&mut c, &mut p, OrderKind::Upgrade, q(10), on);
        assert_eq!((p.purchased, p.allocated, &c.plan), (30, 5, &premium()));

        // A renewal sets the seats and starts the next term on the old end.
        let (mut c, mut p) = (company(premium()), pool(Policy::CoTerm, 20, 5));
        apply_order(&mut c, &mut p, OrderKind::Renewal, q(16), day(2027, 3, 20));
        assert_eq!(p.purchased, 16);
        assert_eq!(c.plan, Plan::premium(day(2027, 4, 1), 12));

        // A conversion starts the term the day it is actioned, seats empty.
        let trial = Plan::Trial {
            ends_on: day(2026, 12, 1),
            seats: 5,
        };
        let (mut c, mut p) = (company(trial), pool(Policy::CoTerm, 0, 3));
        apply_order(&mut c, &mut p, OrderKind::TrialConversion, q(20), on);
        assert_eq!((p.purchased, p.allocated), (20, 0));
        assert_eq!(c.plan, Plan::premium(on, 12));
    }
}
