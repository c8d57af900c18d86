//! The daily expiry check: what fell due since the last run, found through
//! the due index (never a scan), turned into one reminder digest and one
//! expiry digest per company and due date, and one digest of the order
//! requests that became overdue, each sent exactly once.
//!
//! How a run reads only what is due: every due-index entry is keyed by the
//! instant its company-local day begins (`repo::due_entry`), so a run reads
//! the entries in `(last run, now]` for expiries and `(last run + 72 h,
//! now + 72 h]` for reminders, an hour wider each side for DST, and nothing
//! else. Pending e-mails (a failed send, an abandoned claim) sit in the same
//! index at the instant they may be retried.
//!
//! Exactly once: a digest is a `Notice` claimed with a conditional insert
//! before it is sent and marked sent after. A run that finds a live claim
//! leaves it; a claim left by a crashed run falls due again when its lease
//! ends. A failed send releases the claim for the next run.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::dates::NoticeKind;
use crate::emails;
use crate::error::ServiceError;
use crate::model::{Company, Member, Notice, Order, OrderState};
use crate::ports::{Clock, Item, ItemStore, Mailer, StoreError};
use crate::repo::{self, Stored, DUE_SHARDS};
use crate::types::Email;

pub use super::context::CLAIM_LEASE_MINUTES;
use super::context::{Seatkeeper, Settled};

/// The reminder is due 72 hours before the day something ends.
const REMINDER_LEAD: Duration = Duration::hours(72);
/// Local midnights move by up to an hour with DST; read that much wider.
const DST_SLACK: Duration = Duration::hours(1);
/// Most licences one digest lists: a notice is one store item, and
/// DynamoDB's items hold at most 400 KB, so a day on which thousands of
/// licences end is told in as many e-mails as it takes.
pub const MAX_LICENCES_PER_DIGEST: usize = 500;
/// A first run, with no record of a previous one, looks back this far.
const FIRST_RUN_LOOKBACK: Duration = Duration::days(1);

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExpiryReport {
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    /// Due-index entries read: the cost of the run, which grows with what
    /// is due, not with the table.
    pub entries_read: u64,
    pub sent: u64,
    /// Notices another run had already sent or is sending.
    pub skipped: u64,
    /// Sends that failed; left for the next run.
    pub failed: u64,
    /// Notices the mail service refused for good: parked with the reason
    /// (in the company's audit trail), never retried.
    pub parked: u64,
    /// Companies whose notices could not be worked out or claimed, each
    /// with why (the function logs the report); the others were served,
    /// and the next run tries these again.
    pub companies_failed: Vec<String>,
    /// False when the run stopped for its deadline; the next run goes on.
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunState {
    last_until: DateTime<Utc>,
}

/// What falls due for one company on one due date, for one kind of notice.
#[derive(Debug, Default)]
struct Digest {
    plan_ends: Option<NaiveDate>,
    licences: Vec<(Email, NaiveDate)>,
}

/// The items a run found, per company.
#[derive(Default)]
struct Found {
    company_due: bool,
    members: Vec<Member>,
    /// Requests whose 24 hours ran out in the window.
    orders: Vec<Order>,
    pending: Vec<Stored<Notice>>,
}

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    /// Runs the check as of `now` (the schedule's event time). Stops before
    /// `deadline`, leaving the rest to the next run.
    pub async fn run_expiry_check(
        &self,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<ExpiryReport, ServiceError> {
        let state = repo::load::<RunState, _>(self.store(), &repo::expiry_run_state_key()).await?;
        let after = state
            .as_ref()
            .map_or(now - FIRST_RUN_LOOKBACK, |s| s.value.last_until);
        let mut report = ExpiryReport {
            window_start: Some(after),
            window_end: Some(now),
            complete: true,
            ..ExpiryReport::default()
        };
        if after >= now {
            return Ok(report); // a repeat delivery of an event already handled
        }
        let mut found: BTreeMap<String, Found> = BTreeMap::new();
        let windows = [
            (after - DST_SLACK, now + DST_SLACK),
            (
                after + REMINDER_LEAD - DST_SLACK,
                now + REMINDER_LEAD + DST_SLACK,
            ),
        ];
        let mut seen = std::collections::HashSet::new();
        for (from, until) in windows {
            for item in self.due_between(from, until, &mut report).await? {
                if seen.insert(item.key.clone()) {
                    classify(item, &mut found)?;
                }
            }
        }
        for (pk, due) in found {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                report.complete = false;
                break;
            }
            // One company's failure must not starve the rest: the run goes
            // on, and does not move its mark, so the next run retries it.
            if let Err(error) = self.handle_company(&pk, due, &mut report).await {
                report.companies_failed.push(format!("{pk}: {error}"));
                report.complete = false;
            }
        }
        if report.complete {
            self.save_state(state, now).await?;
        }
        Ok(report)
    }

    /// Every due-index entry in `(from, until]`, across the UTC dates and
    /// shards it spans.
    async fn due_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        report: &mut ExpiryReport,
    ) -> Result<Vec<Item>, ServiceError> {
        let mut items = Vec::new();
        let mut date = from.date_naive();
        while date <= until.date_naive() {
            for shard in 0..DUE_SHARDS {
                let mut query = repo::due_query(date, shard, from, until);
                loop {
                    let page = self.store().query(&query).await?;
                    report.entries_read += page.items.len() as u64;
                    items.extend(page.items);
                    match page.next {
                        Some(cursor) => query.cursor = Some(cursor),
                        None => break,
                    }
                }
            }
            date = date.succ_opt().unwrap_or(NaiveDate::MAX);
            if date == NaiveDate::MAX {
                break;
            }
        }
        Ok(items)
    }

    async fn handle_company(
        &self,
        pk: &str,
        found: Found,
        report: &mut ExpiryReport,
    ) -> Result<(), ServiceError> {
        let id = repo::company_of_pk(pk)
            .ok_or_else(|| StoreError::Corrupt(format!("{pk} is not a company's partition")))?;
        // Read as every read is: a renewal scheduled for today has started.
        let Some(tenant) = self.company(&id).await? else {
            return Ok(());
        };
        let (company, today) = (tenant.company.value, tenant.today);
        for pending in found.pending {
            self.retry_notice(&company, pending, report).await?;
        }
        // (kind, due date) → what the digest lists.
        let mut digests: BTreeMap<(NoticeKind, NaiveDate), Digest> = BTreeMap::new();
        // An ended thing gets its expiry notice, never a stale reminder.
        let due = |ends_on: NaiveDate| {
            let kind = if today >= ends_on {
                NoticeKind::Expiry
            } else if today >= NoticeKind::Reminder.due_on(ends_on) {
                NoticeKind::Reminder
            } else {
                return None;
            };
            Some((kind, kind.due_on(ends_on)))
        };
        // A term already renewed owes no notice of its end.
        let plan_ends = company
            .plan
            .ends_on()
            .filter(|_| company.next_term.is_none());
        if let Some(ends_on) = plan_ends.filter(|_| found.company_due) {
            if let Some(key) = due(ends_on) {
                digests.entry(key).or_default().plan_ends = Some(ends_on);
            }
        }
        for member in found.members {
            let Some(ends_on) = member
                .licence
                .as_ref()
                .and_then(|l| l.expires_on(&company.plan))
            else {
                continue;
            };
            if let Some(key) = due(ends_on) {
                digests
                    .entry(key)
                    .or_default()
                    .licences
                    .push((member.email, ends_on));
            }
        }
        let now = self.clock().now();
        // Still waiting: an order assigned since it was indexed owes nothing.
        let mut overdue: Vec<Order> = found
            .orders
            .into_iter()
            .filter(|o| o.state == OrderState::Requested && o.overdue_at() <= now)
            .collect();
        overdue.sort_by(|a, b| (a.requested_at, &a.id).cmp(&(b.requested_at, &b.id)));
        let needs_partner = !overdue.is_empty() || digests.values().any(|d| d.plan_ends.is_some());
        let partner_contact = if needs_partner {
            self.partner_contact(&company).await?
        } else {
            None
        };
        let base_url = &self.settings().app_base_url;
        let mut owed = Vec::new();
        for ((kind, due_on), digest) in digests {
            let parts: Vec<&[(Email, NaiveDate)]> = if digest.licences.is_empty() {
                vec![&[]]
            } else {
                digest.licences.chunks(MAX_LICENCES_PER_DIGEST).collect()
            };
            let count = parts.len();
            for (n, licences) in parts.into_iter().enumerate() {
                let part = emails::ExpiryDigest {
                    kind,
                    due_on,
                    // The plan's end is told once, in the first part.
                    plan_ends: digest.plan_ends.filter(|_| n == 0),
                    licences,
                    part: (n + 1, count),
                };
                let email =
                    emails::expiry_digest(base_url, &company, &part, partner_contact.as_ref());
                // The first part keeps the key a single digest always had.
                let dedup_key = match n {
                    0 => format!("{}#{due_on}", kind.as_str()),
                    n => format!("{}#{due_on}#{}", kind.as_str(), n + 1),
                };
                owed.push((dedup_key, due_on, email));
            }
        }
        // An order falls due once, in one run's window: keyed by its oldest
        // order, a repeated run of that window sends the digest once.
        if let Some(oldest) = overdue.first() {
            let email =
                emails::orders_overdue(base_url, &company, &overdue, partner_contact.as_ref());
            owed.push((format!("orders_overdue#{}", oldest.id), today, email));
        }
        for (dedup_key, due_on, email) in owed {
            let notice = Notice {
                dedup_key,
                company_id: company.id.clone(),
                kind: email.kind.clone(),
                due_on,
                retry_at: now,
                email,
                claimed_until: None,
                sent_at: None,
                parked: None,
            };
            self.claim_and_send(&company, notice, report).await?;
        }
        Ok(())
    }

    /// Claims a new notice and sends it, unless another run has it.
    async fn claim_and_send(
        &self,
        company: &Company,
        mut notice: Notice,
        report: &mut ExpiryReport,
    ) -> Result<(), ServiceError> {
        let lease_end = self.clock().now() + Duration::minutes(CLAIM_LEASE_MINUTES);
        notice.claimed_until = Some(lease_end);
        // Until it is marked sent it sits in the due index at its lease's
        // end, so a run after a crash finds it.
        notice.retry_at = lease_end;
        match self
            .store()
            .transact(vec![repo::insert(company, &notice)?])
            .await
        {
            Ok(()) => self.send_claimed(company, notice, 1, report).await,
            Err(StoreError::Conflict) => {
                let existing = repo::load::<Notice, _>(
                    self.store(),
                    &repo::notice_key(&company.id, &notice.dedup_key),
                )
                .await?;
                match existing {
                    Some(existing) => self.retry_notice(company, existing, report).await,
                    // No claim there: DynamoDB cancelled an insert that
                    // merely overlapped another write. Fail this company
                    // so the run keeps its mark and the next one retries.
                    None => Err(StoreError::Conflict.into()),
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Sends a notice found pending, if it is not sent and not held.
    async fn retry_notice(
        &self,
        company: &Company,
        stored: Stored<Notice>,
        report: &mut ExpiryReport,
    ) -> Result<(), ServiceError> {
        let now = self.clock().now();
        let mut notice = stored.value;
        let held = notice.claimed_until.is_some_and(|until| until > now);
        if notice.sent_at.is_some() || held {
            report.skipped += 1;
            return Ok(());
        }
        let lease_end = now + Duration::minutes(CLAIM_LEASE_MINUTES);
        notice.claimed_until = Some(lease_end);
        notice.retry_at = lease_end;
        match self
            .store()
            .transact(vec![repo::update(company, &notice, stored.version)?])
            .await
        {
            Ok(()) => {
                self.send_claimed(company, notice, stored.version + 1, report)
                    .await
            }
            Err(StoreError::Conflict) => {
                let key = repo::notice_key(&company.id, &notice.dedup_key);
                let now = repo::load::<Notice, _>(self.store(), &key).await?;
                if now.is_some_and(|n| n.version != stored.version) {
                    report.skipped += 1; // another run claimed it first
                    Ok(())
                } else {
                    // Only overlapped another write: retried next run.
                    Err(StoreError::Conflict.into())
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Sends a notice this run holds; marks it sent, or releases it.
    async fn send_claimed(
        &self,
        company: &Company,
        mut notice: Notice,
        version: u64,
        report: &mut ExpiryReport,
    ) -> Result<(), ServiceError> {
        let result = self.mailer().send(&notice.email).await;
        // A failure for now is due again at once: the next run retries it.
        let retry_at = Some(self.clock().now());
        match self
            .settle(company, &mut notice, version, result, retry_at)
            .await?
        {
            Settled::Sent => report.sent += 1,
            Settled::Parked => report.parked += 1,
            Settled::Failed => report.failed += 1,
        }
        Ok(())
    }

    async fn save_state(
        &self,
        state: Option<Stored<RunState>>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let write = match state {
            Some(stored) if stored.value.last_until >= now => return Ok(()),
            Some(stored) => repo::update_raw(
                repo::expiry_run_state_key(),
                &RunState { last_until: now },
                stored.version,
                None,
            )?,
            None => repo::insert_raw(
                repo::expiry_run_state_key(),
                &RunState { last_until: now },
                None,
            )?,
        };
        match self.store().transact(vec![write]).await {
            // A concurrent run moved the mark; either mark is safe.
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}

/// Sorts a due-index item into its company's findings by what it is.
fn classify(item: Item, found: &mut BTreeMap<String, Found>) -> Result<(), ServiceError> {
    let corrupt = |e: serde_json::Error| repo::corrupt(&item.key, &e);
    let entry = found.entry(item.key.pk.clone()).or_default();
    if item.key.sk == repo::COMPANY_SK {
        entry.company_due = true;
    } else if item.key.sk.starts_with(repo::MEMBER_PREFIX) {
        entry
            .members
            .push(serde_json::from_str(&item.body).map_err(corrupt)?);
    } else if item.key.sk.starts_with(repo::ORDER_PREFIX) {
        let order: Order = serde_json::from_str(&item.body).map_err(corrupt)?;
        entry.orders.push(order.with_lines());
    } else if item.key.sk.starts_with(repo::NOTICE_PREFIX) {
        let value = serde_json::from_str(&item.body).map_err(corrupt)?;
        entry.pending.push(Stored {
            value,
            version: item.version,
        });
    }
    Ok(())
}
