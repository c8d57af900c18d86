//! What the use cases answer: the shapes clients read.

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::{
    Company, CompanyStatus, Invoice, LicenceStatus, Member, MemberRole, Order, OrderKind, Plan,
    Policy, QueueEntry, Quote, SeatPool,
};
use crate::rules::kept_statuses;
use crate::types::{Currency, Email, LicenceType};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolView {
    #[serde(rename = "type")]
    pub licence_type: LicenceType,
    pub policy: Policy,
    pub annual_fee_minor: i64,
    pub currency: Currency,
    pub purchased: u32,
    pub allocated: u32,
    pub available: u32,
}

impl From<&SeatPool> for PoolView {
    fn from(pool: &SeatPool) -> Self {
        Self {
            licence_type: pool.licence_type.clone(),
            policy: pool.policy,
            annual_fee_minor: pool.annual_fee_minor,
            currency: pool.currency.clone(),
            purchased: pool.purchased,
            allocated: pool.allocated,
            available: pool.available(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemberCounts {
    pub active: u64,
    pub expired: u64,
    pub unlicensed: u64,
}

impl MemberCounts {
    /// The members by their licence status on `today`.
    pub(super) fn tally<'a>(
        members: impl Iterator<Item = &'a Member>,
        plan: &Plan,
        today: NaiveDate,
    ) -> Self {
        members.fold(Self::default(), |mut counts, member| {
            counts.add(member.status(plan, today));
            counts
        })
    }

    /// Counts one member of `status`.
    pub(super) fn add(&mut self, status: LicenceStatus) {
        match status {
            LicenceStatus::Active => self.active += 1,
            LicenceStatus::Expired => self.expired += 1,
            LicenceStatus::Unlicensed => self.unlicensed += 1,
        }
    }

    /// The counts on `today` from the counts the company keeps (see
    /// `rules::counts`), or `None` when they are not kept.
    pub(super) fn kept(company: &Company, pools: &[SeatPool], today: NaiveDate) -> Option<Self> {
        kept_statuses(company, pools, today).map(|(active, expired, unlicensed)| Self {
            active,
            expired,
            unlicensed,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompanyView {
    #[serde(flatten)]
    pub company: Company,
    pub status: CompanyStatus,
    pub today: NaiveDate,
    pub pools: Vec<PoolView>,
    pub counts: MemberCounts,
    /// During a trial: its licences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial: Option<TrialSeats>,
}

/// A trial's licences: how many, handed out, free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrialSeats {
    pub seats: u32,
    pub allocated: u32,
    pub available: u32,
}

impl TrialSeats {
    pub fn of(plan: &Plan) -> Option<Self> {
        match plan {
            Plan::Trial {
                seats, allocated, ..
            } => {
                let allocated = allocated.unwrap_or(0);
                Some(Self {
                    seats: *seats,
                    allocated,
                    available: seats.saturating_sub(allocated),
                })
            }
            Plan::Premium { .. } => None,
        }
    }
}

impl CompanyView {
    pub(super) fn new(
        mut company: Company,
        pools: &[SeatPool],
        counts: MemberCounts,
        today: NaiveDate,
    ) -> Self {
        let has_rolling = pools.iter().any(|p| p.policy == Policy::Rolling12Months);
        // Bookkeeping for `counts`, not part of the contract.
        company.member_count = None;
        Self {
            status: company.status(has_rolling, today),
            today,
            pools: pools.iter().map(PoolView::from).collect(),
            counts,
            trial: TrialSeats::of(&company.plan),
            company,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    pub email: Email,
    pub name: String,
    pub role: MemberRole,
    pub licence_type: Option<LicenceType>,
    pub expires_on: Option<NaiveDate>,
    pub status: LicenceStatus,
}

impl MemberView {
    pub(super) fn new(member: &Member, plan: &Plan, today: NaiveDate) -> Self {
        Self {
            email: member.email.clone(),
            name: member.name.clone(),
            role: member.role,
            licence_type: member.licence.as_ref().map(|l| l.licence_type.clone()),
            expires_on: member.licence.as_ref().and_then(|l| l.expires_on(plan)),
            status: member.status(plan, today),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub order: Order,
    pub invoice: Invoice,
    /// The first line's pool, for one-line clients.
    pub pool: PoolView,
    /// Every pool, after the order.
    pub pools: Vec<PoolView>,
}

/// The price of an order's lines on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderQuote {
    pub kind: OrderKind,
    pub lines: Vec<Quote>,
    pub total_minor: i64,
    pub currency: Option<Currency>,
    pub as_of: NaiveDate,
}

impl OrderQuote {
    pub(super) fn new(kind: OrderKind, lines: Vec<Quote>, as_of: NaiveDate) -> Self {
        Self {
            kind,
            total_minor: lines.iter().map(|q| q.amount_minor).sum(),
            currency: lines.first().map(|q| q.currency.clone()),
            lines,
            as_of,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allocated {
    pub allocated: Vec<Email>,
    pub pool: PoolView,
}

/// A requested order in the helpdesk queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuedOrder {
    #[serde(flatten)]
    pub entry: QueueEntry,
    /// Requested more than 24 hours ago.
    pub overdue: bool,
}

/// Where a Select All job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Seats reserved, members being renewed: resume it to finish.
    InProgress,
    Completed,
}

/// A "Select All" allocation: done, or stopped at a deadline (answered
/// 202) and resumable by its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllocationProgress {
    /// `None` only for a trial's, done at once in one transaction.
    pub allocation_id: Option<crate::types::ImportId>,
    pub status: JobStatus,
    pub licence_type: LicenceType,
    /// Seats reserved: the members expired when it started.
    pub reserved: u32,
    /// Members renewed so far. Once completed, the seats reserved for
    /// members who stopped being expired first are back in the pool.
    pub renewed: u32,
    pub pool: PoolView,
}

/// What a Select All call answers: the job's progress, and the members this
/// call renewed (a resumed job's earlier calls listed theirs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelectedAll {
    #[serde(flatten)]
    pub progress: AllocationProgress,
    pub allocated: Vec<Email>,
}
