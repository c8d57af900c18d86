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

/// One licence type of an order: how many seats, and their price when the
/// order was requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub quote: Quote,
}

/// A request for seats, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub company_id: CompanyId,
    /// The first line's type, quantity and quote, for one-line clients.
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub kind: OrderKind,
    pub state: OrderState,
    pub quote: Quote,
    /// Every line: one for upgrades and conversions, one per co-term type
    /// kept for a renewal.
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    /// The lines' quotes added up.
    #[serde(default)]
    pub total_minor: i64,
    /// For a co-term renewal: the renewal date of the term it renews, so a
    /// term is renewed once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renews_term_ending: Option<NaiveDate>,
    pub requested_by: ActorRef,
    pub requested_at: DateTime<Utc>,
    pub assigned_by: Option<ActorRef>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<ActorRef>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub invoice: Option<Invoice>,
}

impl Order {
    /// Orders written before orders had lines hold one, in the first-line
    /// fields: read them as the one line they are.
    pub fn with_lines(mut self) -> Self {
        if self.lines.is_empty() {
            self.lines = vec![OrderLine {
                licence_type: self.licence_type.clone(),
                quantity: self.quantity,
                quote: self.quote.clone(),
            }];
            self.total_minor = self.quote.amount_minor;
        }
        if let Some(invoice) = self.invoice.as_mut() {
            invoice.fill_lines();
        }
        self
    }
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub unit_annual_fee_minor: i64,
    pub days_remaining: i64,
    pub days_in_term: i64,
    pub amount_minor: i64,
}

impl From<&Quote> for InvoiceLine {
    fn from(quote: &Quote) -> Self {
        Self {
            licence_type: quote.licence_type.clone(),
            quantity: quote.quantity,
            unit_annual_fee_minor: quote.annual_fee_minor,
            days_remaining: quote.days_remaining,
            days_in_term: quote.days_in_term,
            amount_minor: quote.amount_minor,
        }
    }
}

/// What an assigned order costs: the quote's function, run on the day it
/// was actioned, once per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub order_id: OrderId,
    /// The first line, for one-line clients (`amount_minor` is that line's).
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub unit_annual_fee_minor: i64,
    pub days_remaining: i64,
    pub days_in_term: i64,
    pub amount_minor: i64,
    pub currency: Currency,
    pub actioned_on: NaiveDate,
    #[serde(default)]
    pub lines: Vec<InvoiceLine>,
    /// What is owed: the lines added up.
    #[serde(default)]
    pub total_minor: i64,
}

impl Invoice {
    /// The invoice for `quotes`, the order's lines priced on the day it was
    /// actioned (at least one).
    pub fn from_quotes(order_id: OrderId, quotes: &[Quote]) -> Option<Self> {
        let first = quotes.first()?;
        let lines: Vec<InvoiceLine> = quotes.iter().map(InvoiceLine::from).collect();
        Some(Self {
            order_id,
            licence_type: first.licence_type.clone(),
            quantity: first.quantity,
            unit_annual_fee_minor: first.annual_fee_minor,
            days_remaining: first.days_remaining,
            days_in_term: first.days_in_term,
            amount_minor: first.amount_minor,
            currency: first.currency.clone(),
            actioned_on: first.as_of,
            total_minor: lines.iter().map(|l| l.amount_minor).sum(),
            lines,
        })
    }

    /// Invoices written before invoices had lines are their own one line.
    fn fill_lines(&mut self) {
        if self.lines.is_empty() {
            self.lines = vec![InvoiceLine {
                licence_type: self.licence_type.clone(),
                quantity: self.quantity,
                unit_annual_fee_minor: self.unit_annual_fee_minor,
                days_remaining: self.days_remaining,
                days_in_term: self.days_in_term,
                amount_minor: self.amount_minor,
            }];
            self.total_minor = self.amount_minor;
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

    fn standard_pool(purchased: u32) -> SeatPool {
        SeatPool::new(
            LicenceType::parse("standard").unwrap(),
            Policy::CoTerm,
            100,
            Currency::parse("GBP").unwrap(),
            purchased,
        )
    }

    #[test]
    fn available_is_never_negative() {
        let mut pool = standard_pool(3);
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
    fn a_scheduled_term_bounds_what_may_be_handed_out_now() {
        let mut pool = standard_pool(20);
        pool.take(16).unwrap();
        pool.releasing_at_renewal = 2;
        pool.next_purchased = Some(16);
        // 4 free today, but 14 carry into a term of 16: only 2 may be added.
        assert_eq!(pool.carrying(), 14);
        assert_eq!(pool.available(), 2);
        assert_eq!(
            pool.take(3),
            Err(SeatShortage {
                needed: 3,
                available: 2
            })
        );
    }

    #[test]
    fn items_of_the_first_release_read_as_they_meant() {
        let licence: Licence = serde_json::from_str(
            r#"{"licence_type":"standard","term":"co_term","allocated_on":"2026-04-01"}"#,
        )
        .unwrap();
        assert_eq!(licence.term, LicenceTerm::CoTerm { ends_on: None });
        let plan: Plan =
            serde_json::from_str(r#"{"kind":"trial","ends_on":"2026-12-01","seats":5}"#).unwrap();
        assert_eq!(
            plan,
            Plan::Trial {
                ends_on: d("2026-12-01"),
                seats: 5,
                allocated: None
            }
        );
        let pool: SeatPool = serde_json::from_str(
            r#"{"licence_type":"standard","policy":"co_term","annual_fee_minor":12000,"currency":"GBP","purchased":20,"allocated":3}"#,
        )
        .unwrap();
        assert_eq!((pool.releasing_at_renewal, pool.next_purchased), (0, None));
        assert_eq!(
            serde_json::to_value(&licence).unwrap()["term"],
            "co_term",
            "an unreleased co-term licence is written as before"
        );
    }

    #[test]
    fn licence_status_follows_the_plan() {
        let plan = Plan::premium(d("2026-04-01"), 12);
        assert_eq!(plan.ends_on(), Some(d("2027-04-01")));
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
        let co = member(LicenceTerm::CoTerm { ends_on: None });
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
            ..co.clone()
        };
        assert_eq!(
            none.status(&plan, d("2026-05-01")),
            LicenceStatus::Unlicensed
        );
        let released = member(LicenceTerm::CoTerm {
            ends_on: Some(d("2027-04-01")),
        });
        assert_eq!(
            released.status(&renewed, d("2027-04-01")),
            LicenceStatus::Expired,
            "a seat released at renewal does not carry over"
        );
        assert_eq!(
            co.status(&Plan::premium_without_term(), d("2026-05-01")),
            LicenceStatus::Expired,
            "a co-term licence needs a term"
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
                allocated: Some(0),
            },
            next_term: None,
            manager_emails: Vec::new(),
            created_at: Utc::now(),
        };
        assert_eq!(company.status(false, d("2026-11-30")), CompanyStatus::Trial);
        assert_eq!(
            company.status(false, d("2026-12-01")),
            CompanyStatus::Expired
        );
        company.plan = Plan::premium(d("2026-12-01"), 12);
        assert_eq!(
            company.status(false, d("2026-12-01")),
            CompanyStatus::Active
        );
        assert_eq!(
            company.status(false, d("2027-12-01")),
            CompanyStatus::Expired
        );
        assert_eq!(
            company.status(true, d("2027-12-01")),
            CompanyStatus::Active,
            "a company with a rolling pool never expires as a company"
        );
        company.plan = Plan::premium_without_term();
        assert_eq!(company.status(true, d("2030-01-01")), CompanyStatus::Active);
    }
}
