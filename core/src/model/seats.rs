//! Seat pools, members and their licences.

use std::collections::BTreeMap;

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
    /// Every member holding a licence of this type (active or not), by how
    /// it ends: kept by each write that changes one, so a company's counts
    /// need no read of its members. `None` in pools written before counts
    /// were kept (see `rules::counts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holders: Option<Holders>,
}

/// Licence holders by how their licences end. Status comes from dates, so
/// a plain active/expired counter would go stale with no write; this
/// answers for any day (see [`Holders::statuses`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holders {
    /// Trial and rolling licences, by their own end date.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ends_on: BTreeMap<NaiveDate, u32>,
    /// Co-term licences following the company's term: they have no date of
    /// their own, and carry into the next term with no write.
    #[serde(default)]
    pub co_term: u32,
    /// Co-term licences released at renewal, by the end of the term they
    /// were released in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub co_term_until: BTreeMap<NaiveDate, u32>,
}

impl Holders {
    /// Counts one licence in (`add`) or out.
    pub fn count(&mut self, term: LicenceTerm, add: bool) {
        let bump = |n: &mut u32| *n = if add { *n + 1 } else { n.saturating_sub(1) };
        let dated = |map: &mut BTreeMap<NaiveDate, u32>, date| {
            let n = map.entry(date).or_default();
            bump(n);
            if *n == 0 {
                map.remove(&date);
            }
        };
        match term {
            LicenceTerm::Trial { ends_on } | LicenceTerm::Rolling { ends_on } => {
                dated(&mut self.ends_on, ends_on)
            }
            LicenceTerm::CoTerm { ends_on: None } => bump(&mut self.co_term),
            LicenceTerm::CoTerm { ends_on: Some(end) } => dated(&mut self.co_term_until, end),
        }
    }

    /// How many hold a licence of the type.
    pub fn total(&self) -> u64 {
        self.terms().map(|(_, n)| u64::from(n)).sum()
    }

    /// `(active, expired)` on `today` for a company on `plan`: each group is
    /// judged by [`LicenceTerm::expires_on`], the rule a member's own status
    /// uses, so the two always agree.
    pub fn statuses(&self, plan: &Plan, today: NaiveDate) -> (u64, u64) {
        self.terms().fold((0, 0), |(active, expired), (term, n)| {
            match term.expires_on(plan) {
                Some(end) if !has_ended(end, today) => (active + u64::from(n), expired),
                _ => (active, expired + u64::from(n)),
            }
        })
    }

    fn terms(&self) -> impl Iterator<Item = (LicenceTerm, u32)> + '_ {
        let own = self
            .ends_on
            .iter()
            .map(|(d, n)| (LicenceTerm::Rolling { ends_on: *d }, *n));
        let until = self
            .co_term_until
            .iter()
            .map(|(d, n)| (LicenceTerm::CoTerm { ends_on: Some(*d) }, *n));
        own.chain(until)
            .chain(std::iter::once((
                LicenceTerm::CoTerm { ends_on: None },
                self.co_term,
            )))
            .filter(|(_, n)| *n > 0)
    }
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
            holders: Some(Holders::default()),
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

impl LicenceTerm {
    /// The date a licence so ending ends for a company on `plan`; `None`
    /// for a co-term licence in a company whose term is gone (it has ended).
    pub fn expires_on(&self, plan: &Plan) -> Option<NaiveDate> {
        match *self {
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
}

impl LicenceTerm {
    /// The status on `today` of a member holding a licence so ending.
    pub fn status(&self, plan: &Plan, today: NaiveDate) -> LicenceStatus {
        match self.expires_on(plan) {
            Some(ends_on) if !has_ended(ends_on, today) => LicenceStatus::Active,
            _ => LicenceStatus::Expired,
        }
    }
}

impl Licence {
    /// The date the licence ends for a company on `plan` (see
    /// [`LicenceTerm::expires_on`]).
    pub fn expires_on(&self, plan: &Plan) -> Option<NaiveDate> {
        self.term.expires_on(plan)
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
            Some(licence) => licence.term.status(plan, today),
        }
    }
}
