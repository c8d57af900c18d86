//! Seat pools, members and their licences.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::company::{Plan, Policy};
use crate::dates::has_ended;
use crate::types::{Currency, Email, LicenceType};

/// The seats of one licence type in one company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatPool {
    pub licence_type: LicenceType,
    pub policy: Policy,
    pub annual_fee_minor: i64,
    pub currency: Currency,
    pub purchased: u32,
    pub allocated: u32,
    /// Co-term holders released at renewal: they keep their seat to the end
    /// of the term and do not carry into the next.
    #[serde(default)]
    pub releasing_at_renewal: u32,
    /// The seats of the next term, once a renewal is scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_purchased: Option<u32>,
}

impl SeatPool {
    /// A pool with `purchased` seats and none handed out.
    pub fn new(
        licence_type: LicenceType,
        policy: Policy,
        annual_fee_minor: i64,
        currency: Currency,
        purchased: u32,
    ) -> Self {
        Self {
            licence_type,
            policy,
            annual_fee_minor,
            currency,
            purchased,
            allocated: 0,
            releasing_at_renewal: 0,
            next_purchased: None,
        }
    }

    /// The holders who carry into the next term.
    pub fn carrying(&self) -> u32 {
        self.allocated.saturating_sub(self.releasing_at_renewal)
    }

    /// Seats free now, and (once a renewal is scheduled) in the next term
    /// too, since a co-term seat handed out now carries over: never negative.
    pub fn available(&self) -> u32 {
        let now = self.purchased.saturating_sub(self.allocated);
        match self.next_purchased {
            Some(next) => now.min(next.saturating_sub(self.carrying())),
            None => now,
        }
    }

    /// Takes `needed` seats, or says how many there are.
    pub fn take(&mut self, needed: u32) -> Result<(), SeatShortage> {
        let available = self.available();
        if needed > available {
            return Err(SeatShortage { needed, available });
        }
        self.allocated += needed;
        Ok(())
    }
}

/// Not enough free seats: how many were asked for and how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatShortage {
    pub needed: u32,
    pub available: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Learner,
    Manager,
}

/// When a member's licence ends. Trial and co-term licences follow the
/// company's plan, so ending or renewing a term rewrites no member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "term", rename_all = "snake_case")]
pub enum LicenceTerm {
    /// Ends with the trial, on this date.
    Trial { ends_on: NaiveDate },
    /// Ends on the company's `renews_on`, whichever term that is, unless
    /// released at renewal: then on the `ends_on` of the term it was in.
    CoTerm {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ends_on: Option<NaiveDate>,
    },
    /// Ends on this date (12 months after allocation).
    Rolling { ends_on: NaiveDate },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    pub licence_type: LicenceType,
    #[serde(flatten)]
    pub term: LicenceTerm,
    pub allocated_on: NaiveDate,
}

impl Licence {
    /// The date the licence ends for a company on `plan`; `None` for a
    /// co-term licence in a company whose term is gone (it has ended).
    pub fn expires_on(&self, plan: &Plan) -> Option<NaiveDate> {
        match self.term {
            LicenceTerm::Trial { ends_on } | LicenceTerm::Rolling { ends_on } => Some(ends_on),
            LicenceTerm::CoTerm { ends_on } => {
                let term_end = plan.term().map(|t| t.renews_on);
                match (ends_on, term_end) {
                    (Some(own), Some(term)) => Some(own.min(term)),
                    (own, term) => own.or(term),
                }
            }
        }
    }

    pub fn is_co_term(&self) -> bool {
        matches!(self.term, LicenceTerm::CoTerm { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceStatus {
    Active,
    Expired,
    Unlicensed,
}

impl LicenceStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "expired" => Some(Self::Expired),
            "unlicensed" => Some(Self::Unlicensed),
            _ => None,
        }
    }
}

/// A person in a company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub email: Email,
    pub name: String,
    pub role: MemberRole,
    pub licence: Option<Licence>,
    pub added_at: DateTime<Utc>,
}

impl Member {
    pub fn status(&self, plan: &Plan, today: NaiveDate) -> LicenceStatus {
        match &self.licence {
            None => LicenceStatus::Unlicensed,
            Some(licence) => match licence.expires_on(plan) {
                Some(ends_on) if !has_ended(ends_on, today) => LicenceStatus::Active,
                _ => LicenceStatus::Expired,
            },
        }
    }
}
