//! The licence rules the use cases apply, as pure functions: what a new
//! licence is, when seats may be handed out, what an order may ask and what
//! an assigned order does to the pool and the plan.

use chrono::NaiveDate;

use crate::dates::rolling_licence_end;
use crate::error::ServiceError;
use crate::model::{
    Company, CompanyStatus, Licence, LicenceTerm, OrderKind, Plan, Policy, SeatPool, SeatShortage,
};
use crate::pricing::next_term_start;
use crate::types::Quantity;

/// A new licence from `pool`, starting today.
pub fn new_licence(pool: &SeatPool, plan: &Plan, today: NaiveDate) -> Licence {
    let term = match (plan, pool.policy) {
        (Plan::Trial { ends_on, .. }, _) => LicenceTerm::Trial { ends_on: *ends_on },
        (Plan::Premium { .. }, Policy::CoTerm) => LicenceTerm::CoTerm,
        (Plan::Premium { .. }, Policy::Rolling12Months) => LicenceTerm::Rolling {
            ends_on: rolling_licence_end(today),
        },
    };
    Licence {
        licence_type: pool.licence_type.clone(),
        term,
        allocated_on: today,
    }
}

pub fn shortage(s: SeatShortage) -> ServiceError {
    ServiceError::NoSeatsAvailable {
        needed: s.needed,
        available: s.available,
    }
}

/// Seats are handed out only while the trial or term runs.
pub fn ensure_term_open(company: &Company, today: NaiveDate) -> Result<(), ServiceError> {
    if company.status(today) == CompanyStatus::Expired {
        return Err(ServiceError::TermEnded {
            renews_on: company.plan.ends_on(),
        });
    }
    Ok(())
}

/// The rules an order must meet when requested and again when assigned.
pub fn check_order_rules(
    company: &Company,
    pool: &SeatPool,
    kind: OrderKind,
    quantity: Quantity,
) -> Result<(), ServiceError> {
    if kind == OrderKind::Renewal && pool.policy == Policy::CoTerm {
        let requested = quantity.get();
        if requested < company.min_seats_at_renewal {
            return Err(ServiceError::BelowMinimumSeats {
                minimum: company.min_seats_at_renewal,
                requested,
            });
        }
        if requested < pool.allocated {
            return Err(ServiceError::BelowAllocatedSeats {
                allocated: pool.allocated,
                requested,
            });
        }
    }
    Ok(())
}

/// What an assigned order does to the pool and the plan. Only a co-term
/// renewal may lower `purchased`, and only to the renewed quantity.
pub fn apply_order(
    company: &mut Company,
    pool: &mut SeatPool,
    kind: OrderKind,
    quantity: Quantity,
    actioned_on: NaiveDate,
) {
    let q = quantity.get();
    match (kind, pool.policy) {
        (OrderKind::Upgrade, _) | (OrderKind::Renewal, Policy::Rolling12Months) => {
            pool.purchased = pool.purchased.saturating_add(q);
        }
        (OrderKind::Renewal, Policy::CoTerm) => {
            pool.purchased = q;
            let start = next_term_start(company.plan.ends_on(), actioned_on);
            company.plan = Plan::premium(start, company.term_months);
        }
        (OrderKind::TrialConversion, _) => {
            // Trial seats end with the trial; the bought seats start empty.
            pool.purchased = q;
            pool.allocated = 0;
            company.plan = Plan::premium(actioned_on, company.term_months);
        }
    }
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
