//! What every use case shares: the service and its ports, the tenant a
//! request acts on, and the writes that go with any change (audit events,
//! notices, helpdesk queue entries) and the retry loop for optimistic races.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;

use crate::caller::Caller;
use crate::error::ServiceError;
use crate::model::{
    ActorRef, AuditEvent, Company, CompanyStatus, Member, Notice, Order, Partner, Plan, Policy,
    QueueEntry, QueueLine, SeatPool,
};
use crate::ports::{
    Clock, Condition, Item, ItemStore, MailError, Mailer, OutgoingEmail, Query, StoreError, Write,
};
use crate::repo::{self, Stored};
use crate::rules::{carry_into_next_term, counts_kept, start_counts, start_due_term, Touched};
use crate::types::{CompanyId, Email, LicenceType};

use super::inputs::page_limit;

/// How long a claim on a notice holds before another sender may take it.
pub const CLAIM_LEASE_MINUTES: i64 = 15;
/// How long a request waits for the mail service to take its e-mail. The
/// change is committed and its notice stored; a slower send is left to the
/// daily run, so a slow mail service never outlasts the function (and its
/// idempotency record) after the change has happened.
pub const REQUEST_MAIL_TIMEOUT: Duration = Duration::from_secs(3);

/// How often a use case re-reads and retries after losing an optimistic race.
const MAX_ATTEMPTS: u32 = 60;

/// What a send of a claimed notice came to.
pub(super) enum Settled {
    Sent,
    Parked,
    Failed,
}

/// Settings the use cases need from the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where links in e-mails point, e.g. `https://app.example.com`.
    pub app_base_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            app_base_url: "http://127.0.0.1:3000".to_string(),
        }
    }
}

/// Seatkeeper's use cases over a store, a clock and a mailer.
pub struct Seatkeeper<S, C, M> {
    store: S,
    clock: C,
    mailer: M,
    settings: Settings,
}

/// A company as read, with its pools and its own today. A term scheduled
/// to start by today has started (see [`Seatkeeper::tenant`]).
pub(super) struct Tenant {
    pub(super) company: Stored<Company>,
    pub(super) pools: Vec<Stored<SeatPool>>,
    pub(super) today: NaiveDate,
    /// A scheduled term started by today, not yet stored.
    term_started: bool,
}

impl Tenant {
    pub(super) fn id(&self) -> &CompanyId {
        &self.company.value.id
    }

    pub(super) fn has_rolling_pool(&self) -> bool {
        self.pools
            .iter()
            .any(|p| p.value.policy == Policy::Rolling12Months)
    }

    pub(super) fn status(&self) -> CompanyStatus {
        self.company
            .value
            .status(self.has_rolling_pool(), self.today)
    }

    /// The pool of `licence_type`, as read with the company.
    pub(super) fn pool(
        &self,
        licence_type: &LicenceType,
    ) -> Result<&Stored<SeatPool>, ServiceError> {
        self.pools
            .iter()
            .find(|p| p.value.licence_type == *licence_type)
            .ok_or(ServiceError::NotFound {
                what: "licence type",
            })
    }

    pub(super) fn pool_values(&self) -> Vec<SeatPool> {
        self.pools.iter().map(|p| p.value.clone()).collect()
    }

    /// The writes that store `company` and those of `pools` that changed
    /// since they were read, each conditional on the version read.
    pub(super) fn changes(
        &self,
        company: &Company,
        pools: &[SeatPool],
    ) -> Result<Vec<Write>, ServiceError> {
        self.changes_touching(company, pools, &Touched::default())
    }

    /// [`Self::changes`], and the items a change of members `touched`
    /// written whether they changed or not (see `rules::counts`).
    pub(super) fn changes_touching(
        &self,
        company: &Company,
        pools: &[SeatPool],
        touched: &Touched,
    ) -> Result<Vec<Write>, ServiceError> {
        let mut writes = Vec::new();
        if touched.company || *company != self.company.value {
            writes.push(repo::update(company, company, self.company.version)?);
        }
        for (read, now) in self.pools.iter().zip(pools) {
            if touched.types.contains(&now.licence_type) || read.value != *now {
                writes.push(repo::update(company, now, read.version)?);
            }
        }
        Ok(writes)
    }

    pub(super) fn counts_kept(&self) -> bool {
        counts_kept(&self.company.value, &self.pool_values())
    }
}

/// Reads items written before the current shapes the way they meant: a
/// trial's licences counted in the pools, and a premium company with no
/// co-term pool has no term.
fn upgrade_legacy(company: &mut Company, pools: &[Stored<SeatPool>]) {
    let has_co_term = pools.iter().any(|p| p.value.policy == Policy::CoTerm);
    match &mut company.plan {
        Plan::Trial { allocated, .. } if allocated.is_none() => {
            *allocated = Some(pools.iter().map(|p| p.value.allocated).sum());
        }
        Plan::Premium {
            term_start,
            renews_on,
        } if !has_co_term => {
            *term_start = None;
            *renews_on = None;
        }
        _ => {}
    }
}

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    pub fn new(store: S, clock: C, mailer: M, settings: Settings) -> Self {
        Self {
            store,
            clock,
            mailer,
            settings,
        }
    }

    pub fn mailer(&self) -> &M {
        &self.mailer
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The write that records an e-mail owed, to go in the same transaction
    /// as the change that causes it.
    pub(super) fn notice(
        &self,
        company: &Company,
        dedup_key: String,
        email: OutgoingEmail,
    ) -> Result<(Write, Notice), ServiceError> {
        // Claimed by this request from the start, so a daily run at the same
        // moment leaves it alone; if the request's send fails, the claim
        // lapses and the next run sends it.
        let lease_end = self.clock.now() + chrono::Duration::minutes(CLAIM_LEASE_MINUTES);
        let notice = Notice {
            dedup_key,
            company_id: company.id.clone(),
            kind: email.kind.clone(),
            due_on: self.clock.today_in(company.timezone),
            retry_at: lease_end,
            email,
            claimed_until: Some(lease_end),
            sent_at: None,
            parked: None,
        };
        Ok((repo::insert(company, &notice)?, notice))
    }

    /// Sends a committed notice and marks it sent. A failure, or a send
    /// slower than [`REQUEST_MAIL_TIMEOUT`], leaves it pending in the due
    /// index for the daily run to retry once its claim lapses; the change
    /// that caused it has happened either way, so the caller is not failed.
    pub async fn deliver(&self, company: &Company, mut notice: Notice, version: u64) -> bool {
        let result = tokio::time::timeout(REQUEST_MAIL_TIMEOUT, self.mailer.send(&notice.email))
            .await
            .unwrap_or_else(|_| Err(MailError::Unavailable("no answer in time".into())));
        // A failure for now leaves the request's claim to lapse.
        matches!(
            self.settle(company, &mut notice, version, result, None)
                .await,
            Ok(Settled::Sent)
        )
    }

    /// Records what a send of a claimed notice came to: sent; refused for
    /// good (parked with the reason and audited, so an account manager can
    /// see it, and never sent again); or failed for now, when it is due
    /// again at `retry_at` (`None`: left as it is, to its claim's end).
    pub(super) async fn settle(
        &self,
        company: &Company,
        notice: &mut Notice,
        version: u64,
        result: Result<(), MailError>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<Settled, ServiceError> {
        let mut writes = Vec::new();
        let settled = match result {
            Ok(()) => {
                notice.sent_at = Some(self.clock.now());
                Settled::Sent
            }
            Err(MailError::Rejected(reason)) => {
                notice.parked = Some(reason.clone());
                writes.push(self.system_audit(
                    company,
                    "notice.parked",
                    serde_json::json!({"notice": notice.dedup_key, "kind": notice.kind}),
                    serde_json::json!({"reason": reason, "to": notice.email.to, "cc": notice.email.cc}),
                )?);
                Settled::Parked
            }
            Err(_) => match retry_at {
                Some(at) => {
                    notice.retry_at = at;
                    Settled::Failed
                }
                None => return Ok(Settled::Failed),
            },
        };
        notice.claimed_until = None;
        self.record_settled(company, notice, version, writes)
            .await?;
        Ok(settled)
    }

    /// Stores a settled notice (with `extra` writes), trying again while
    /// the store fails with the notice untouched: a send that went out but
    /// was never recorded would go out again. Finding the notice already as
    /// written (the first write landed, its reply lost) is success.
    async fn record_settled(
        &self,
        company: &Company,
        notice: &Notice,
        version: u64,
        extra: Vec<Write>,
    ) -> Result<(), ServiceError> {
        const TRIES: u32 = 4;
        let key = repo::notice_key(&company.id, &notice.dedup_key);
        let mut failure = StoreError::Conflict;
        for _ in 0..TRIES {
            let mut writes = extra.clone();
            writes.push(repo::update(company, notice, version)?);
            match self.store.transact(writes).await {
                Ok(()) => return Ok(()),
                Err(error) => failure = error,
            }
            match repo::load::<Notice, _>(&self.store, &key).await? {
                Some(stored) if stored.value == *notice => return Ok(()),
                Some(stored) if stored.version == version => continue,
                _ => break, // changed by another sender meanwhile
            }
        }
        Err(failure.into())
    }

    /// Where a partner company's notices are copied: its partner's contact,
    /// when the partner is on record.
    pub(super) async fn partner_contact(
        &self,
        company: &Company,
    ) -> Result<Option<Email>, ServiceError> {
        let Some(partner) = &company.partner_id else {
            return Ok(None);
        };
        let record = repo::load::<Partner, _>(&self.store, &repo::partner_key(partner)).await?;
        Ok(record.map(|r| r.value.contact_email))
    }

    /// Loads a company the caller may act on; any other answers 404.
    pub(super) async fn tenant(
        &self,
        caller: &Caller,
        company_id: &str,
    ) -> Result<Tenant, ServiceError> {
        let not_found = ServiceError::NotFound { what: "company" };
        let id = CompanyId::parse(company_id).map_err(|_| not_found.clone())?;
        let tenant = self.company(&id).await?.ok_or(not_found.clone())?;
        if !caller.can_act_on(&tenant.company.value) {
            return Err(not_found);
        }
        Ok(tenant)
    }

    /// [`Self::tenant`], for a change of members: a company that keeps no
    /// counts yet starts keeping them first (`rules::counts`), so the
    /// change keeps them too. The start costs one read of every member,
    /// once per company.
    pub(super) async fn changing(
        &self,
        caller: &Caller,
        company_id: &str,
    ) -> Result<Tenant, ServiceError> {
        let tenant = self.tenant(caller, company_id).await?;
        if tenant.counts_kept() {
            return Ok(tenant);
        }
        let mut company = tenant.company.value.clone();
        let mut pools = tenant.pool_values();
        // Only the licences are kept: memory holds no whole company.
        let mut licences = Vec::new();
        self.each_member(tenant.id(), |m| licences.push(m.value.licence))
            .await?;
        if !start_counts(
            &mut company,
            &mut pools,
            licences.iter().map(Option::as_ref),
        ) {
            return Ok(tenant);
        }
        // Every item written, conditional on the versions read before the
        // members: a change made meanwhile fails this and it is retried.
        let touched = Touched {
            company: true,
            types: pools.iter().map(|p| p.licence_type.clone()).collect(),
        };
        let writes = tenant.changes_touching(&company, &pools, &touched)?;
        self.store().transact(writes).await?;
        self.tenant(caller, company_id).await
    }

    /// A company with its pools, as of its today. A scheduled term whose
    /// day has come has started in what this returns, though nothing is
    /// written for it: the daily run and every read agree, and the next
    /// write of the company or a pool stores it.
    pub(super) async fn company(&self, id: &CompanyId) -> Result<Option<Tenant>, ServiceError> {
        let Some(mut company) =
            repo::load::<Company, _>(&self.store, &repo::company_key(id)).await?
        else {
            return Ok(None);
        };
        let mut pools: Vec<Stored<SeatPool>> = repo::load_all(
            &self.store,
            Query::table(repo::company_pk(id), repo::POOL_PREFIX),
        )
        .await?;
        upgrade_legacy(&mut company.value, &pools);
        let today = self.clock.today_in(company.value.timezone);
        let mut values: Vec<SeatPool> = pools.iter().map(|p| p.value.clone()).collect();
        let term_started = start_due_term(&mut company.value, &mut values, today);
        for (pool, value) in pools.iter_mut().zip(values) {
            pool.value = value;
        }
        Ok(Some(Tenant {
            company,
            pools,
            today,
            term_started,
        }))
    }

    /// The pool of `licence_type` as stored now: a fresh read, for steps
    /// that run after the tenant was read.
    pub(super) async fn pool(
        &self,
        tenant: &Tenant,
        licence_type: &LicenceType,
    ) -> Result<Stored<SeatPool>, ServiceError> {
        let mut pool: Stored<SeatPool> =
            repo::load(&self.store, &repo::pool_key(tenant.id(), licence_type))
                .await?
                .ok_or(ServiceError::NotFound {
                    what: "licence type",
                })?;
        if tenant.term_started {
            carry_into_next_term(&mut pool.value);
        }
        Ok(pool)
    }

    /// The members with these e-mails that exist, in one batched read.
    pub(super) async fn load_members(
        &self,
        tenant: &Tenant,
        emails: &[Email],
    ) -> Result<Vec<Stored<Member>>, ServiceError> {
        let keys: Vec<_> = emails
            .iter()
            .map(|e| repo::member_key(tenant.id(), e))
            .collect();
        repo::load_many::<Member, _>(&self.store, &keys).await
    }

    /// Visits every member of a company, a page at a time: memory holds a
    /// page and what `visit` keeps, not the whole company.
    pub(super) async fn each_member(
        &self,
        company: &CompanyId,
        mut visit: impl FnMut(Stored<Member>),
    ) -> Result<(), ServiceError> {
        self.each_member_item(company, |item| {
            visit(repo::from_item(item)?);
            Ok(())
        })
        .await
    }

    /// Visits every member item of a company undecoded, a page at a time,
    /// for a reader that needs only a few of its fields ([`repo::view`]).
    pub(super) async fn each_member_item(
        &self,
        company: &CompanyId,
        mut visit: impl FnMut(Item) -> Result<(), ServiceError>,
    ) -> Result<(), ServiceError> {
        let mut query = Query::table(repo::company_pk(company), repo::MEMBER_PREFIX);
        loop {
            let page = self.store.query(&query).await?;
            page.items.into_iter().try_for_each(&mut visit)?;
            match page.next {
                Some(cursor) => query.cursor = Some(cursor),
                None => return Ok(()),
            }
        }
    }

    /// One page of a company's items of one kind (`prefix`, a sort-key
    /// prefix from `repo::keys`).
    pub(super) async fn company_page<T: DeserializeOwned>(
        &self,
        tenant: &Tenant,
        prefix: &str,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<(Vec<T>, Option<String>), ServiceError> {
        let query = Query {
            limit: page_limit(limit)?,
            cursor,
            ..Query::table(repo::company_pk(tenant.id()), prefix)
        };
        let (items, next) = repo::load_page::<T, _>(&self.store, &query).await?;
        Ok((items.into_iter().map(|s| s.value).collect(), next))
    }

    /// The audit event of a change, to go in the change's transaction.
    pub(super) fn audit(
        &self,
        caller: &Caller,
        tenant: &Company,
        action: &str,
        before: serde_json::Value,
        after: serde_json::Value,
    ) -> Result<Write, ServiceError> {
        let by = (caller.actor(), caller.acting_for(tenant));
        self.audit_by(by, tenant, action, before, after)
    }

    /// The audit event of something the service did by itself (a send the
    /// mail service refused), with the service as the actor.
    pub(super) fn system_audit(
        &self,
        tenant: &Company,
        action: &str,
        before: serde_json::Value,
        after: serde_json::Value,
    ) -> Result<Write, ServiceError> {
        let service = ActorRef {
            user_id: "seatkeeper".into(),
            email: String::new(),
            role: "system".into(),
            partner_id: None,
        };
        self.audit_by((service, None), tenant, action, before, after)
    }

    /// An audit event of a change no request made (an S3 event), told as
    /// the work of `by`: the actor and the company they acted for.
    pub(super) fn audit_by(
        &self,
        by: (ActorRef, Option<CompanyId>),
        tenant: &Company,
        action: &str,
        before: serde_json::Value,
        after: serde_json::Value,
    ) -> Result<Write, ServiceError> {
        let (actor, acting_for) = by;
        let event = AuditEvent {
            company_id: tenant.id.clone(),
            at: self.clock.now(),
            actor,
            acting_for,
            action: action.to_string(),
            before,
            after,
        };
        repo::insert_raw(repo::audit_key(&tenant.id), &event, None)
    }

    /// Runs `attempt` until it stops losing optimistic races, sleeping a
    /// random, growing while between tries ("full jitter").
    pub(super) async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, ServiceError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        for n in 0..MAX_ATTEMPTS {
            match attempt().await {
                Err(e) if e.is_contention() => {
                    let cap_ms = (2u64 << n.min(6)).min(100);
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=cap_ms))).await;
                }
                other => return other,
            }
        }
        Err(ServiceError::Busy)
    }
}

/// The writes that put a requested order in the queue, or (`queued`
/// false) take it out: to go in the transaction that changes its state.
pub(super) fn queue_writes(
    company: &Company,
    order: &Order,
    queued: bool,
) -> Result<Vec<Write>, ServiceError> {
    let keys = repo::queue_keys(
        company.partner_id.as_ref(),
        &company.id,
        &order.id,
        order.requested_at,
    );
    if !queued {
        return Ok(keys
            .into_iter()
            .map(|key| Write::Delete {
                key,
                condition: Condition::None,
            })
            .collect());
    }
    let entry = QueueEntry {
        company_id: company.id.clone(),
        company_name: company.name.clone(),
        partner_id: company.partner_id.clone(),
        order_id: order.id.clone(),
        kind: order.kind,
        lines: order
            .lines
            .iter()
            .map(|l| QueueLine {
                licence_type: l.licence_type.clone(),
                quantity: l.quantity,
            })
            .collect(),
        total_minor: order.total_minor,
        currency: order.quote.currency.clone(),
        requested_by: order.requested_by.email.clone(),
        requested_at: order.requested_at,
    };
    // Unconditional: a rename rewrites entries in place, and the order's own
    // conditional write is what serialises changes to it.
    keys.into_iter()
        .map(|key| repo::put_raw(key, &entry))
        .collect()
}
