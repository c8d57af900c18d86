//! Companies and their plans: trials, premium terms, scheduled terms.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::dates::{add_months, has_ended};
use crate::types::{CompanyId, Email, LicenceType, OrderId, PartnerId};

/// How a pool's seats end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Every seat ends on the company's `renews_on`; upgrades are pro rata.
    CoTerm,
    /// Each allocation lasts 12 months from its day; orders are not prorated.
    #[serde(rename = "rolling_12_months")]
    Rolling12Months,
}

/// A company's plan: a free trial, or premium. A premium company has a term
/// only while it has co-term seats: the term belongs to them, and rolling
/// licences live by their own dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Plan {
    Trial {
        ends_on: NaiveDate,
        /// How many trial licences there are; pools play no part in a trial.
        seats: u32,
        /// Trial licences handed out. `None` in items written before trial
        /// seats were counted here: those trials counted them in the pools.
        #[serde(default)]
        allocated: Option<u32>,
    },
    Premium {
        #[serde(default)]
        term_start: Option<NaiveDate>,
        #[serde(default)]
        renews_on: Option<NaiveDate>,
    },
}

/// A co-term term: from its start to the renewal date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub start: NaiveDate,
    pub renews_on: NaiveDate,
}

impl Plan {
    /// The date the plan ends: the trial's end or the term's renewal date;
    /// `None` for a premium company with no term (only rolling seats).
    pub fn ends_on(&self) -> Option<NaiveDate> {
        match self {
            Plan::Trial { ends_on, .. } => Some(*ends_on),
            Plan::Premium { renews_on, .. } => *renews_on,
        }
    }

    /// The co-term term, if the company has one.
    pub fn term(&self) -> Option<Term> {
        match self {
            Plan::Premium {
                term_start: Some(start),
                renews_on: Some(renews_on),
            } => Some(Term {
                start: *start,
                renews_on: *renews_on,
            }),
            _ => None,
        }
    }

    /// A premium plan with a term of `term_months` from `term_start`.
    pub fn premium(term_start: NaiveDate, term_months: u32) -> Self {
        Plan::Premium {
            term_start: Some(term_start),
            renews_on: Some(add_months(term_start, term_months)),
        }
    }

    /// A premium plan with no term: every seat is rolling.
    pub fn premium_without_term() -> Self {
        Plan::Premium {
            term_start: None,
            renews_on: None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Plan::Trial { .. } => "trial",
            Plan::Premium { .. } => "premium",
        }
    }
}

/// A renewal assigned before the renewal date: the next term, which starts
/// on its own on `starts_on` with each co-term type's seats as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextTerm {
    pub starts_on: NaiveDate,
    pub renews_on: NaiveDate,
    pub lines: Vec<TermLine>,
    pub order_id: OrderId,
}

/// The seats of one licence type in a scheduled term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermLine {
    pub licence_type: LicenceType,
    pub seats: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanyStatus {
    Trial,
    Active,
    Expired,
}

/// A customer organisation: the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Company {
    pub id: CompanyId,
    pub name: String,
    pub partner_id: Option<PartnerId>,
    pub timezone: Tz,
    pub account_manager_email: Email,
    pub min_seats_at_renewal: u32,
    pub term_months: u32,
    pub plan: Plan,
    /// A renewal scheduled for the end of the current term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_term: Option<NextTerm>,
    /// Kept here so that e-mails to managers need no read of every member.
    #[serde(default)]
    pub manager_emails: Vec<Email>,
    pub created_at: DateTime<Utc>,
    /// How many members the company has, kept by every write that adds or
    /// removes one; with the pools' `holders`, the company's counts. `None`
    /// in companies written before counts were kept (see `rules::counts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u64>,
}

impl Company {
    /// Derived from the plan and the company's today, so expiry needs no
    /// write: a trial while it runs; active while the term runs or while the
    /// company has a rolling pool, whose licences live by their own dates.
    pub fn status(&self, has_rolling_pool: bool, today: NaiveDate) -> CompanyStatus {
        match &self.plan {
            Plan::Trial { ends_on, .. } if has_ended(*ends_on, today) => CompanyStatus::Expired,
            Plan::Trial { .. } => CompanyStatus::Trial,
            Plan::Premium { .. } => {
                let term_runs = self
                    .plan
                    .term()
                    .is_some_and(|t| !has_ended(t.renews_on, today));
                if term_runs || has_rolling_pool {
                    CompanyStatus::Active
                } else {
                    CompanyStatus::Expired
                }
            }
        }
    }
}
