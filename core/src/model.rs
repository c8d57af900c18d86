//! The domain: companies, plans, seat pools, members, orders, invoices,
//! imports, notices and audit events.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::dates::{add_months, has_ended};
use crate::ports::OutgoingEmail;
use crate::types::{
    CompanyId, Currency, Email, ImportId, LicenceType, OrderId, PartnerId, Quantity,
};

/// The default minimum account size at renewal.
pub const DEFAULT_MIN_SEATS_AT_RENEWAL: u32 = 16;
/// The default length of a premium term.
pub const DEFAULT_TERM_MONTHS: u32 = 12;

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

/// A company's plan: a free trial, or a paid premium term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Plan {
    Trial {
        ends_on: NaiveDate,
        seats: u32,
    },
    Premium {
        term_start: NaiveDate,
        renews_on: NaiveDate,
    },
}

impl Plan {
    /// The date the plan ends: the trial's end or the term's renewal date.
    pub fn ends_on(&self) -> NaiveDate {
        match self {
            Plan::Trial { ends_on, .. } => *ends_on,
            Plan::Premium { renews_on, .. } => *renews_on,
        }
    }

    pub fn premium(term_start: NaiveDate, term_months: u32) -> Self {
        Plan::Premium {
            term_start,
            renews_on: add_months(term_start, term_months),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Plan::Trial { .. } => "trial",
            Plan::Premium { .. } => "premium",
        }
    }
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
    /// Kept here so that e-mails to managers need no read of every member.
    #[serde(default)]
    pub manager_emails: Vec<Email>,
    pub created_at: DateTime<Utc>,
}

impl Company {
    /// Derived from the plan and the company's today, so expiry needs no write.
    pub fn status(&self, today: NaiveDate) -> CompanyStatus {
        match (&self.plan, has_ended(self.plan.ends_on(), today)) {
            (_, true) => CompanyStatus::Expired,
            (Plan::Trial { .. }, false) => CompanyStatus::Trial,
            (Plan::Premium { .. }, false) => CompanyStatus::Active,
        }
    }
}

/// The seats of one licence type in one company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatPool {
    pub licence_type: LicenceType,
    pub policy: Policy,
    pub annual_fee_minor: i64,
    pub currency: Currency,
    pub purchased: u32,
    pub allocated: u32,
}

impl SeatPool {
    /// `purchased - allocated`, never negative.
    pub fn available(&self) -> u32 {
        self.purchased.saturating_sub(self.allocated)
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
    /// Ends on the company's `renews_on`, whichever term that is.
    CoTerm,
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
    /// The date the licence ends for a company on `plan`.
    pub fn expires_on(&self, plan: &Plan) -> NaiveDate {
        match self.term {
            LicenceTerm::Trial { ends_on } | LicenceTerm::Rolling { ends_on } => ends_on,
            LicenceTerm::CoTerm => plan.ends_on(),
        }
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
            Some(licence) if has_ended(licence.expires_on(plan), today) => LicenceStatus::Expired,
            Some(_) => LicenceStatus::Active,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Upgrade,
    Renewal,
    TrialConversion,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Upgrade => "upgrade",
            OrderKind::Renewal => "renewal",
            OrderKind::TrialConversion => "trial_conversion",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Requested,
    Assigned,
    Cancelled,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Requested => "requested",
            OrderState::Assigned => "assigned",
            OrderState::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "requested" => Some(Self::Requested),
            "assigned" => Some(Self::Assigned),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }

    /// `requested → assigned` and `requested → cancelled`; nothing else.
    pub fn can_become(self, next: OrderState) -> bool {
        self == OrderState::Requested && next != OrderState::Requested
    }
}

/// Who did something, as the authorizer told us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    pub user_id: String,
    pub email: String,
    pub role: String,
    /// Set when a partner admin acted for a customer company.
    pub partner_id: Option<PartnerId>,
}

/// A price for seats of one licence type, as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub annual_fee_minor: i64,
    pub currency: Currency,
    pub days_remaining: i64,
    pub days_in_term: i64,
    pub amount_minor: i64,
    pub as_of: NaiveDate,
}

/// A request for seats, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub company_id: CompanyId,
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub kind: OrderKind,
    pub state: OrderState,
    pub quote: Quote,
    pub requested_by: ActorRef,
    pub requested_at: DateTime<Utc>,
    pub assigned_by: Option<ActorRef>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<ActorRef>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub invoice: Option<Invoice>,
}

/// What an assigned order costs: the quote's function, run on the day it
/// was actioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub order_id: OrderId,
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub unit_annual_fee_minor: i64,
    pub days_remaining: i64,
    pub days_in_term: i64,
    pub amount_minor: i64,
    pub currency: Currency,
    pub actioned_on: NaiveDate,
}

impl Invoice {
    pub fn from_quote(order_id: OrderId, quote: Quote) -> Self {
        Self {
            order_id,
            licence_type: quote.licence_type,
            quantity: quote.quantity,
            unit_annual_fee_minor: quote.annual_fee_minor,
            days_remaining: quote.days_remaining,
            days_in_term: quote.days_in_term,
            amount_minor: quote.amount_minor,
            currency: quote.currency,
            actioned_on: quote.as_of,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    AwaitingUpload,
    Previewed,
    /// Seats reserved, members being renewed in batches; a confirm resumes it.
    Committing,
    Committed,
    Failed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    pub rows: u64,
    pub to_renew: u64,
    pub not_renewed: u64,
    pub already_active: u64,
    pub unknown: u64,
    pub invalid: u64,
    pub duplicate: u64,
    /// Members with no licence to renew: not renewed, like the rest.
    #[serde(default)]
    pub unlicensed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProblem {
    pub row: u64,
    pub email: String,
    pub reason: String,
}

/// A CSV renewal: uploaded, previewed, then confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    pub id: ImportId,
    pub company_id: CompanyId,
    pub status: ImportStatus,
    pub columns: Vec<String>,
    pub email_column: Option<String>,
    pub counts: ImportCounts,
    pub problems: Vec<ImportProblem>,
    /// Every row not renewed; `problems` keeps the first of them.
    #[serde(default)]
    pub problems_total: u64,
    /// Why the file could not be previewed, and its stable code.
    pub failure: Option<String>,
    #[serde(default)]
    pub failure_code: Option<String>,
    pub created_by: ActorRef,
    pub created_at: DateTime<Utc>,
    /// The uploaded object previewed (its ETag), so a repeated S3 event
    /// does no work twice.
    #[serde(default)]
    pub source_etag: Option<String>,
    /// Which preview's list of members to renew the chunks belong to.
    #[serde(default)]
    pub generation: Option<String>,
    #[serde(default)]
    pub renew_chunks: u32,
    /// Set once a confirm has reserved the seats; tracks the batches done.
    #[serde(default)]
    pub confirm: Option<ImportConfirm>,
}

/// A confirm in progress or done: the seats reserved up front, then the
/// batches of members written, each batch in one transaction with this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportConfirm {
    pub licence_type: LicenceType,
    pub reserved: u32,
    pub done_chunks: u32,
    pub renewed: u32,
}

/// An e-mail the service owes somebody, sent at most once per `dedup_key`.
/// It is written with the change that causes it, so a failed send leaves
/// it pending (in the due index) for a later run, never lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub dedup_key: String,
    pub company_id: CompanyId,
    pub kind: String,
    pub due_on: NaiveDate,
    /// While unsent, the notice sits in the due index at this instant, so the
    /// next daily run after it picks it up.
    pub retry_at: DateTime<Utc>,
    pub email: OutgoingEmail,
    pub claimed_until: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Who did what, for whom, when, and what it was before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub company_id: CompanyId,
    pub at: DateTime<Utc>,
    pub actor: ActorRef,
    /// The company a partner admin acted for, when one did.
    pub acting_for: Option<CompanyId>,
    pub action: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::parse_date;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn order_transitions() {
        use OrderState::*;
        assert!(Requested.can_become(Assigned));
        assert!(Requested.can_become(Cancelled));
        for (from, to) in [
            (Assigned, Cancelled),
            (Cancelled, Assigned),
            (Assigned, Assigned),
            (Requested, Requested),
        ] {
            assert!(!from.can_become(to), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn available_is_never_negative() {
        let mut pool = SeatPool {
            licence_type: LicenceType::parse("standard").unwrap(),
            policy: Policy::CoTerm,
            annual_fee_minor: 100,
            currency: Currency::parse("GBP").unwrap(),
            purchased: 3,
            allocated: 0,
        };
        assert_eq!(
            pool.take(4),
            Err(SeatShortage {
                needed: 4,
                available: 3
            })
        );
        assert_eq!(pool.allocated, 0, "a refused take changes nothing");
        pool.take(3).unwrap();
        assert_eq!(pool.available(), 0);
        pool.purchased = 1; // a downgrade below allocation still reads as 0
        assert_eq!(pool.available(), 0);
    }

    #[test]
    fn licence_status_follows_the_plan() {
        let plan = Plan::premium(d("2026-04-01"), 12);
        assert_eq!(plan.ends_on(), d("2027-04-01"));
        let member = |term| Member {
            email: Email::parse("a@b.io").unwrap(),
            name: "A".into(),
            role: MemberRole::Learner,
            licence: Some(Licence {
                licence_type: LicenceType::parse("standard").unwrap(),
                term,
                allocated_on: d("2026-04-01"),
            }),
            added_at: Utc::now(),
        };
        let co = member(LicenceTerm::CoTerm);
        assert_eq!(co.status(&plan, d("2027-03-31")), LicenceStatus::Active);
        assert_eq!(co.status(&plan, d("2027-04-01")), LicenceStatus::Expired);
        let renewed = Plan::premium(d("2027-04-01"), 12);
        assert_eq!(
            co.status(&renewed, d("2027-04-01")),
            LicenceStatus::Active,
            "co-term holders carry into the next term"
        );
        let rolling = member(LicenceTerm::Rolling {
            ends_on: d("2026-12-01"),
        });
        assert_eq!(
            rolling.status(&renewed, d("2026-11-30")),
            LicenceStatus::Active
        );
        assert_eq!(
            rolling.status(&renewed, d("2026-12-01")),
            LicenceStatus::Expired
        );
        let none = Member {
            licence: None,
            ..co
        };
        assert_eq!(
            none.status(&plan, d("2026-05-01")),
            LicenceStatus::Unlicensed
        );
    }

    #[test]
    fn company_status_is_derived() {
        let mut company = Company {
            id: CompanyId::parse("c1").unwrap(),
            name: "Acme".into(),
            partner_id: None,
            timezone: chrono_tz::Europe::London,
            account_manager_email: Email::parse("am@vendor.io").unwrap(),
            min_seats_at_renewal: DEFAULT_MIN_SEATS_AT_RENEWAL,
            term_months: DEFAULT_TERM_MONTHS,
            plan: Plan::Trial {
                ends_on: d("2026-12-01"),
                seats: 5,
            },
            manager_emails: Vec::new(),
            created_at: Utc::now(),
        };
        assert_eq!(company.status(d("2026-11-30")), CompanyStatus::Trial);
        assert_eq!(company.status(d("2026-12-01")), CompanyStatus::Expired);
        company.plan = Plan::premium(d("2026-12-01"), 12);
        assert_eq!(company.status(d("2026-12-01")), CompanyStatus::Active);
        assert_eq!(company.status(d("2027-12-01")), CompanyStatus::Expired);
    }
}
