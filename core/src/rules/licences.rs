//! Licences and seats: what a new licence is, who holds a seat, when
//! seats may be handed out.

use chrono::NaiveDate;

use crate::dates::{has_ended, rolling_licence_end};
use crate::error::ServiceError;
use crate::model::{Company, Licence, LicenceTerm, Plan, Policy, SeatPool, SeatShortage};
use crate::types::LicenceType;

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

/// Does a member who holds `current` hold what `pool` would give them
/// today? An active co-term seat of the same type, or in a trial an active
/// trial licence, yes; an active rolling licence is renewed early instead,
/// and after a conversion a trial licence is replaced.
pub fn holds_seat_already(
    current: Option<&Licence>,
    pool: &SeatPool,
    plan: &Plan,
    today: NaiveDate,
) -> bool {
    current.is_some_and(|licence| {
        let active = licence
            .expires_on(plan)
            .is_some_and(|ends| !has_ended(ends, today));
        let trial_in_trial =
            matches!(plan, Plan::Trial { .. }) && matches!(licence.term, LicenceTerm::Trial { .. });
        active
            && (trial_in_trial
                || (licence.licence_type == pool.licence_type && licence.is_co_term()))
    })
}

/// Whether `licence` still takes a seat of its co-term pool: until its
/// holder is released, or (released at renewal) until that term has ended.
pub fn holds_co_term_seat(licence: &Licence, plan: &Plan) -> bool {
    match licence.term {
        LicenceTerm::CoTerm { ends_on: None } => true,
        LicenceTerm::CoTerm { ends_on: Some(end) } => plan.term().is_some_and(|t| t.start < end),
        LicenceTerm::Trial { .. } | LicenceTerm::Rolling { .. } => false,
    }
}

/// Gives back the co-term seat `licence` holds, if it holds one.
pub fn free_co_term_seat(pools: &mut [SeatPool], licence: &Licence, plan: &Plan) {
    if !holds_co_term_seat(licence, plan) {
        return;
    }
    if let Some(pool) = pools
        .iter_mut()
        .find(|p| p.licence_type == licence.licence_type)
    {
        pool.allocated = pool.allocated.saturating_sub(1);
        if matches!(licence.term, LicenceTerm::CoTerm { ends_on: Some(_) }) {
            pool.releasing_at_renewal = pool.releasing_at_renewal.saturating_sub(1);
        }
    }
}

/// The pool of `licence_type` among a company's pools.
pub fn pool_of_type<'a>(
    pools: &'a mut [SeatPool],
    licence_type: &LicenceType,
) -> Result<&'a mut SeatPool, ServiceError> {
    pools
        .iter_mut()
        .find(|p| p.licence_type == *licence_type)
        .ok_or(ServiceError::NotFound {
            what: "licence type",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{company, day, pool, premium, t};

    #[test]
    fn a_new_licence_follows_the_plan_and_the_policy() {
        let today = day(2026, 11, 22);
        let trial = Plan::Trial {
            ends_on: day(2026, 12, 1),
            seats: 5,
            allocated: Some(0),
        };
        assert_eq!(
            new_licence(&pool(Policy::CoTerm, 1, 0), &trial, None, today).term,
            LicenceTerm::Trial {
                ends_on: day(2026, 12, 1)
            }
        );
        assert_eq!(
            new_licence(&pool(Policy::CoTerm, 1, 0), &premium(), None, today).term,
            LicenceTerm::CoTerm { ends_on: None }
        );
        let rolling = new_licence(
            &pool(Policy::Rolling12Months, 1, 0),
            &premium(),
            None,
            today,
        );
        assert_eq!(
            rolling.term,
            LicenceTerm::Rolling {
                ends_on: day(2027, 11, 22)
            }
        );
        assert_eq!(rolling.allocated_on, today);
        // Renewed three days early: 12 months from its own end, no day lost.
        let early = Licence {
            term: LicenceTerm::Rolling {
                ends_on: day(2026, 11, 25),
            },
            ..rolling.clone()
        };
        let renewed = new_licence(
            &pool(Policy::Rolling12Months, 1, 0),
            &premium(),
            Some(&early),
            today,
        );
        assert_eq!(
            renewed.term,
            LicenceTerm::Rolling {
                ends_on: day(2027, 11, 25)
            }
        );
    }

    #[test]
    fn seats_are_handed_out_while_their_term_runs() {
        let c = company(premium());
        let co_term = pool(Policy::CoTerm, 1, 0);
        assert_eq!(ensure_open(&c, &co_term, day(2027, 3, 31)), Ok(()));
        assert_eq!(
            ensure_open(&c, &co_term, day(2027, 4, 1)),
            Err(ServiceError::TermEnded {
                renews_on: day(2027, 4, 1)
            })
        );
        // Rolling seats live by their own dates.
        let rolling = pool(Policy::Rolling12Months, 1, 0);
        assert_eq!(ensure_open(&c, &rolling, day(2028, 1, 1)), Ok(()));
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
    fn trial_licences_come_from_the_plan() {
        let mut c = company(Plan::Trial {
            ends_on: day(2026, 12, 1),
            seats: 1,
            allocated: Some(0),
        });
        let mut pools = vec![pool(Policy::CoTerm, 0, 0)];
        let today = day(2026, 11, 22);
        let first = first_licence(&mut c, &mut pools, None, today).unwrap();
        assert!(matches!(
            first.map(|l| l.term),
            Some(LicenceTerm::Trial { .. })
        ));
        assert_eq!(first_licence(&mut c, &mut pools, None, today), Ok(None));
        assert_eq!(
            first_licence(&mut c, &mut pools, Some(&t("standard")), today),
            Err(ServiceError::NoSeatsAvailable {
                needed: 1,
                available: 0
            })
        );
        assert_eq!(pools[0].allocated, 0, "pools play no part in a trial");
    }
}
