//! The pro-rata engine. The quote shown when an order is requested and the
//! invoice made when it is actioned both come from [`price`]; only the date
//! differs.

use chrono::NaiveDate;

use crate::dates::{add_months, days_between};
pub use crate::model::Quote;
use crate::model::{OrderKind, Plan, Policy, SeatPool};
use crate::types::Quantity;

/// Why a price cannot be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("the term ended on {renews_on}; renew before buying more seats")]
    TermEnded { renews_on: NaiveDate },
    #[error("a {kind} order does not apply to a company on a {plan} plan")]
    WrongPlan {
        kind: &'static str,
        plan: &'static str,
    },
}

/// `round_half_up(quantity × annual_fee_minor × days_remaining / days_in_term)`
/// in i128, so no product of realistic inputs can overflow. Amounts and fees
/// are non-negative, so half-up is `(2n + d) / 2d`.
pub fn pro_rata_amount(
    quantity: u32,
    annual_fee_minor: i64,
    days_remaining: i64,
    days_in_term: i64,
) -> i64 {
    if days_in_term <= 0 || days_remaining <= 0 || annual_fee_minor <= 0 {
        return 0;
    }
    let days_remaining = days_remaining.min(days_in_term);
    let numerator =
        i128::from(quantity) * i128::from(annual_fee_minor) * i128::from(days_remaining);
    let denominator = i128::from(days_in_term);
    let rounded = (2 * numerator + denominator) / (2 * denominator);
    // Bounded by quantity × fee, which fits: u32 × i64 ≤ 2^95 only in theory;
    // Quantity::MAX × i64::MAX would not, so saturate rather than wrap.
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// For an order actioned on `as_of`: the day billing starts, and the start
/// and end of the term it is billed against.
fn billing_window(
    policy: Policy,
    plan: &Plan,
    kind: OrderKind,
    term_months: u32,
    as_of: NaiveDate,
) -> Result<(NaiveDate, NaiveDate, NaiveDate), PricingError> {
    let term_from = |start: NaiveDate| (start, start, add_months(start, term_months));
    match (kind, plan, policy) {
        // The new premium term starts the day the conversion is actioned.
        (OrderKind::TrialConversion, Plan::Trial { .. }, _) => Ok(term_from(as_of)),
        (OrderKind::TrialConversion, Plan::Premium { .. }, _) => Err(PricingError::WrongPlan {
            kind: "trial_conversion",
            plan: "premium",
        }),
        (_, Plan::Trial { .. }, _) => Err(PricingError::WrongPlan {
            kind: kind.as_str(),
            plan: "trial",
        }),
        // Rolling seats last 12 months from allocation: full price, no proration.
        (_, Plan::Premium { .. }, Policy::Rolling12Months) => {
            Ok((as_of, as_of, add_months(as_of, 12)))
        }
        (_, Plan::Premium { .. }, Policy::CoTerm) => match (kind, plan.term()) {
            // The first co-term seats of a company with no term start one.
            (_, None) => Ok(term_from(as_of)),
            (OrderKind::Renewal, Some(term)) => {
                Ok(term_from(next_term_start(term.renews_on, as_of)))
            }
            (_, Some(term)) if as_of >= term.renews_on => Err(PricingError::TermEnded {
                renews_on: term.renews_on,
            }),
            // Bought before the term starts: billed from the term's start.
            (_, Some(term)) => Ok((term.start.max(as_of), term.start, term.renews_on)),
        },
    }
}

/// A renewal starts the next term on the old renewal date; one actioned
/// after a lapse starts it on the day it is actioned.
pub fn next_term_start(renews_on: NaiveDate, actioned_on: NaiveDate) -> NaiveDate {
    renews_on.max(actioned_on)
}

/// The price of `quantity` seats of `pool` for an order of `kind` actioned
/// on `as_of`. The one function behind every quote and every invoice.
pub fn price(
    pool: &SeatPool,
    plan: &Plan,
    kind: OrderKind,
    term_months: u32,
    quantity: Quantity,
    as_of: NaiveDate,
) -> Result<Quote, PricingError> {
    let (billed_from, term_start, term_end) =
        billing_window(pool.policy, plan, kind, term_months, as_of)?;
    let days_remaining = days_between(billed_from, term_end);
    let days_in_term = days_between(term_start, term_end);
    Ok(Quote {
        licence_type: pool.licence_type.clone(),
        quantity,
        annual_fee_minor: pool.annual_fee_minor,
        currency: pool.currency.clone(),
        days_remaining,
        days_in_term,
        amount_minor: pro_rata_amount(
            quantity.get(),
            pool.annual_fee_minor,
            days_remaining,
            days_in_term,
        ),
        as_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::parse_date;
    use crate::types::{Currency, LicenceType};
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn pool(policy: Policy) -> SeatPool {
        SeatPool {
            releasing_at_renewal: 0,
            next_purchased: None,
            holders: None,
            licence_type: LicenceType::parse("standard").unwrap(),
            policy,
            annual_fee_minor: 12_000,
            currency: Currency::parse("GBP").unwrap(),
            purchased: 20,
            allocated: 0,
        }
    }

    fn premium(start: &str, end: &str) -> Plan {
        Plan::Premium {
            term_start: Some(d(start)),
            renews_on: Some(d(end)),
        }
    }

    fn ten() -> Quantity {
        Quantity::new(10).unwrap()
    }

    /// DESIGN.md's example: 10 seats at 12000, term 2026-04-01..2027-04-01,
    /// actioned 2026-11-22: 130 of 365 days, 120000 × 130 / 365 = 42739.7 → 42740.
    #[test]
    fn design_example() {
        let plan = premium("2026-04-01", "2027-04-01");
        let quote = price(
            &pool(Policy::CoTerm),
            &plan,
            OrderKind::Upgrade,
            12,
            ten(),
            d("2026-11-22"),
        )
        .unwrap();
        assert_eq!(quote.days_remaining, 130);
        assert_eq!(quote.days_in_term, 365);
        assert_eq!(quote.amount_minor, 42_740);
    }

    /// The same upgrade in a term holding 29 Feb 2028 divides by 366:
    /// 120000 × 130 / 366 = 42622.95 → 42623.
    #[test]
    fn leap_term_divides_by_366() {
        let plan = premium("2027-04-01", "2028-04-01");
        let quote = price(
            &pool(Policy::CoTerm),
            &plan,
            OrderKind::Upgrade,
            12,
            ten(),
            d("2027-11-23"),
        )
        .unwrap();
        assert_eq!(quote.days_in_term, 366);
        assert_eq!(quote.days_remaining, 130);
        assert_eq!(quote.amount_minor, 42_623);
    }

    #[test]
    fn on_or_after_the_renewal_date_is_refused() {
        let plan = premium("2026-04-01", "2027-04-01");
        for day in ["2027-04-01", "2027-05-01"] {
            let err = price(
                &pool(Policy::CoTerm),
                &plan,
                OrderKind::Upgrade,
                12,
                ten(),
                d(day),
            )
            .unwrap_err();
            assert_eq!(
                err,
                PricingError::TermEnded {
                    renews_on: d("2027-04-01")
                }
            );
        }
        // The day before still bills one day: 120000 / 365 = 328.77 → 329.
        let last = price(
            &pool(Policy::CoTerm),
            &plan,
            OrderKind::Upgrade,
            12,
            ten(),
            d("2027-03-31"),
        )
        .unwrap();
        assert_eq!((last.days_remaining, last.amount_minor), (1, 329));
    }

    #[test]
    fn rolling_and_conversion_and_renewal_bill_a_full_year() {
        let plan = premium("2026-04-01", "2027-04-01");
        let rolling = price(
            &pool(Policy::Rolling12Months),
            &plan,
            OrderKind::Upgrade,
            12,
            ten(),
            d("2026-11-22"),
        )
        .unwrap();
        assert_eq!(rolling.amount_minor, 120_000);
        let renewal = price(
            &pool(Policy::CoTerm),
            &plan,
            OrderKind::Renewal,
            12,
            ten(),
            d("2027-03-20"),
        )
        .unwrap();
        assert_eq!((renewal.days_remaining, renewal.days_in_term), (366, 366));
        assert_eq!(renewal.amount_minor, 120_000);
        let trial = Plan::Trial {
            ends_on: d("2026-12-01"),
            seats: 5,
            allocated: Some(0),
        };
        let conversion = price(
            &pool(Policy::CoTerm),
            &trial,
            OrderKind::TrialConversion,
            12,
            ten(),
            d("2026-11-22"),
        )
        .unwrap();
        assert_eq!(
            (conversion.days_remaining, conversion.days_in_term),
            (365, 365)
        );
        assert_eq!(conversion.amount_minor, 120_000);
    }

    #[test]
    fn orders_that_do_not_fit_the_plan_are_refused() {
        let trial = Plan::Trial {
            ends_on: d("2026-12-01"),
            seats: 5,
            allocated: Some(0),
        };
        assert!(matches!(
            price(
                &pool(Policy::CoTerm),
                &trial,
                OrderKind::Upgrade,
                12,
                ten(),
                d("2026-11-22")
            ),
            Err(PricingError::WrongPlan { .. })
        ));
        let plan = premium("2026-04-01", "2027-04-01");
        assert!(matches!(
            price(
                &pool(Policy::CoTerm),
                &plan,
                OrderKind::TrialConversion,
                12,
                ten(),
                d("2026-11-22")
            ),
            Err(PricingError::WrongPlan { .. })
        ));
    }

    #[test]
    fn rounds_half_up_once() {
        // 1 × 1 × 1 / 2 = 0.5 → 1; 1 × 1 × 1 / 3 = 0.33 → 0; 2/3 = 0.67 → 1.
        assert_eq!(pro_rata_amount(1, 1, 1, 2), 1);
        assert_eq!(pro_rata_amount(1, 1, 1, 3), 0);
        assert_eq!(pro_rata_amount(1, 2, 1, 3), 1);
        assert_eq!(pro_rata_amount(3, 5, 1, 2), 8); // 7.5 → 8
    }

    proptest! {
        #[test]
        fn zero_days_cost_nothing(q in 1u32..=1_000_000, fee in 0i64..=10_000_000_000, term in 1i64..=366) {
            prop_assert_eq!(pro_rata_amount(q, fee, 0, term), 0);
        }

        #[test]
        fn never_above_the_full_price(q in 1u32..=1_000_000, fee in 0i64..=10_000_000_000, term in 365i64..=366, rem in 0i64..=366) {
            let amount = pro_rata_amount(q, fee, rem.min(term), term);
            prop_assert!(amount >= 0);
            prop_assert!(i128::from(amount) <= i128::from(q) * i128::from(fee));
        }

        #[test]
        fn never_decreases_as_days_grow(q in 1u32..=100_000, fee in 0i64..=100_000_000, term in 365i64..=366, rem in 0i64..366) {
            prop_assert!(pro_rata_amount(q, fee, rem, term) <= pro_rata_amount(q, fee, rem + 1, term));
        }

        #[test]
        fn a_whole_term_costs_exactly_quantity_times_fee(q in 1u32..=1_000_000, fee in 0i64..=10_000_000_000, term in 365i64..=366) {
            prop_assert_eq!(i128::from(pro_rata_amount(q, fee, term, term)), i128::from(q) * i128::from(fee));
        }

        /// Every day of a real 366-day term (2027-04-01..2028-04-01) prices
        /// within a minor unit per seat of the exact fraction.
        #[test]
        fn leap_terms_are_exact(offset in 0u64..366, q in 1u32..=1000) {
            let plan = premium("2027-04-01", "2028-04-01");
            let day = d("2027-04-01") + chrono::Days::new(offset);
            let quote = price(&pool(Policy::CoTerm), &plan, OrderKind::Upgrade, 12, Quantity::new(q).unwrap(), day).unwrap();
            prop_assert_eq!(quote.days_in_term, 366);
            prop_assert_eq!(quote.days_remaining, 366 - offset as i64);
            let exact = i128::from(q) * 12_000 * i128::from(quote.days_remaining);
            let amount = i128::from(quote.amount_minor) * 366;
            prop_assert!((amount - exact).abs() <= 183, "half-up is within half a unit");
        }
    }
}
