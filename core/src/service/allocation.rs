//! Allocating seats to members: named ones, or every expired one.
//!
//! Named members are licensed in one transaction. "Select All" expired
//! members works at any number (100 000 and more) as a job on the CSV
//! import's machinery (`service::imports`): every seat reserved in one
//! transaction with the job's record, then the members in batches, each one
//! transaction with the job's progress, so a retry or a resume never counts
//! a seat twice.

use std::collections::HashMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::caller::{Action, Caller};
use crate::error::ServiceError;
use crate::model::{
    Import, ImportConfirm, ImportCounts, ImportKind, ImportStatus, LicenceStatus, Member, Plan,
    SeatShortage,
};
use crate::ports::{Clock, ItemStore, Mailer, StoreError, MAX_TRANSACTION_ITEMS};
use crate::repo::{self, import_key, Stored};
use crate::rules::{
    ensure_open, free_co_term_seat, holds_seat_already, new_licence, pool_of_type, recount,
    shortage, trial_licence, Touched,
};
use crate::types::{Email, ImportId, LicenceType};

use super::context::{Seatkeeper, Tenant};
use super::inputs::{parse_emails, Allocation, MAX_EMAILS_PER_ALLOCATION};
use super::views::{Allocated, AllocationProgress, JobStatus, PoolView, SelectedAll};

/// The company's latest Select All (`repo::select_all_key`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LatestSelectAll {
    allocation_id: ImportId,
}

/// A Select All under way, or one a trial did at once.
enum Started {
    Job(Box<(Tenant, Stored<Import>)>),
    Done(Allocated),
}

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    /// Licenses the named members, all or nothing, in one transaction; or
    /// every expired member, as [`Self::allocate_all_expired`] with no
    /// deadline (`allocated` then lists the members this call renewed).
    pub async fn allocate(
        &self,
        caller: &Caller,
        company_id: &str,
        licence_type: &str,
        who: Allocation,
    ) -> Result<Allocated, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let licence_type = LicenceType::parse(licence_type)?;
        let emails = match &who {
            Allocation::Emails(raw) => parse_emails(raw)?,
            Allocation::AllExpired => {
                let (progress, allocated) = self
                    .select_all(caller, company_id, &licence_type, None)
                    .await?;
                return Ok(Allocated {
                    allocated,
                    pool: progress.pool,
                });
            }
        };
        self.retrying(|| async {
            let tenant = self.changing(caller, company_id).await?;
            let members = self.named_members(&tenant, &emails).await?;
            self.license(caller, &tenant, &licence_type, members).await
        })
        .await
    }

    /// "Select All": licenses every expired member, however many.
    ///
    /// All or nothing against the seats: too few for every expired member
    /// is 409 `no_seats_available` (`needed`, `available`) and writes
    /// nothing. Otherwise every seat is reserved in one transaction with the
    /// job's record, then the members are renewed in batches of at most
    /// `imports::CHUNK`, each one transaction with the job's progress.
    ///
    /// Past `deadline` it stops between batches and answers `in_progress`
    /// with its `allocation_id`; [`Self::resume_allocation`], or this again,
    /// finishes it (while one runs, a new Select All resumes it rather than
    /// reserving again). A member who stopped being expired before their
    /// batch is skipped and their seat handed back at the end.
    ///
    /// During a trial, whose licences are counted on the company and whose
    /// members cannot be expired while it runs, it is one transaction, as a
    /// named allocation, and has no id.
    pub async fn allocate_all_expired(
        &self,
        caller: &Caller,
        company_id: &str,
        licence_type: &str,
        deadline: Option<Instant>,
    ) -> Result<SelectedAll, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let licence_type = LicenceType::parse(licence_type)?;
        let (progress, allocated) = self
            .select_all(caller, company_id, &licence_type, deadline)
            .await?;
        Ok(SelectedAll {
            progress,
            allocated,
        })
    }

    /// Goes on with a Select All stopped at a deadline (or by a fault)
    /// until it is done or `deadline` passes again.
    pub async fn resume_allocation(
        &self,
        caller: &Caller,
        company_id: &str,
        allocation_id: &str,
        deadline: Option<Instant>,
    ) -> Result<AllocationProgress, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let tenant = self.tenant(caller, company_id).await?;
        let job = self
            .job(&tenant, allocation_id, ImportKind::AllExpired, "allocation")
            .await?;
        let (job, _) = self.run_batches(caller, &tenant, job, deadline).await?;
        self.progress(&tenant, &job.value).await
    }

    /// A Select All's progress, for `GET …/allocations/{id}`.
    pub async fn get_allocation(
        &self,
        caller: &Caller,
        company_id: &str,
        allocation_id: &str,
    ) -> Result<AllocationProgress, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let tenant = self.tenant(caller, company_id).await?;
        let job = self
            .job(&tenant, allocation_id, ImportKind::AllExpired, "allocation")
            .await?;
        self.progress(&tenant, &job.value).await
    }

    async fn progress(
        &self,
        tenant: &Tenant,
        job: &Import,
    ) -> Result<AllocationProgress, ServiceError> {
        let Some(confirm) = &job.confirm else {
            return Err(ServiceError::NotFound { what: "allocation" });
        };
        let pool = self.pool(tenant, &confirm.licence_type).await?;
        Ok(AllocationProgress {
            allocation_id: Some(job.id.clone()),
            status: match job.status {
                ImportStatus::Committing => JobStatus::InProgress,
                _ => JobStatus::Completed,
            },
            licence_type: confirm.licence_type.clone(),
            reserved: confirm.reserved,
            renewed: confirm.renewed,
            pool: PoolView::from(&pool.value),
        })
    }

    /// Starts or resumes the company's Select All, then runs its batches.
    async fn select_all(
        &self,
        caller: &Caller,
        company_id: &str,
        licence_type: &LicenceType,
        deadline: Option<Instant>,
    ) -> Result<(AllocationProgress, Vec<Email>), ServiceError> {
        let started = self
            .retrying(|| self.start_select_all(caller, company_id, licence_type))
            .await?;
        match started {
            Started::Done(done) => {
                let count = u32::try_from(done.allocated.len()).unwrap_or(u32::MAX);
                let progress = AllocationProgress {
                    allocation_id: None,
                    status: JobStatus::Completed,
                    licence_type: licence_type.clone(),
                    reserved: count,
                    renewed: count,
                    pool: done.pool,
                };
                Ok((progress, done.allocated))
            }
            Started::Job(started) => {
                let (tenant, job) = *started;
                let (job, renewed) = self.run_batches(caller, &tenant, job, deadline).await?;
                Ok((self.progress(&tenant, &job.value).await?, renewed))
            }
        }
    }

    /// The Select All running for the company, or a new one.
    async fn start_select_all(
        &self,
        caller: &Caller,
        company_id: &str,
        licence_type: &LicenceType,
    ) -> Result<Started, ServiceError> {
        let tenant = self.changing(caller, company_id).await?;
        if matches!(tenant.company.value.plan, Plan::Trial { .. }) {
            let members = self.expired_members(&tenant).await?;
            let done = self.license(caller, &tenant, licence_type, members).await?;
            return Ok(Started::Done(done));
        }
        let latest_key = repo::select_all_key(tenant.id());
        let latest: Option<Stored<LatestSelectAll>> = repo::load(self.store(), &latest_key).await?;
        if let Some(latest) = &latest {
            let running = repo::load::<Import, _>(
                self.store(),
                &import_key(tenant.id(), &latest.value.allocation_id),
            )
            .await?
            .filter(|job| job.value.status == ImportStatus::Committing);
            if let Some(job) = running {
                if job.value.confirm.as_ref().map(|c| &c.licence_type) != Some(licence_type) {
                    return Err(ServiceError::invalid(
                        "licence_type",
                        "a Select All of another licence type is in progress; resume it first",
                    ));
                }
                return Ok(Started::Job(Box::new((tenant, job))));
            }
        }
        match self
            .new_select_all(caller, &tenant, licence_type, latest.as_ref())
            .await
        {
            Ok(job) => Ok(Started::Job(Box::new((tenant, job)))),
            // Another Select All took the seats since the pointer was read:
            // start over, which resumes it.
            Err(short @ ServiceError::NoSeatsAvailable { .. }) => {
                let now: Option<Stored<LatestSelectAll>> =
                    repo::load(self.store(), &latest_key).await?;
                if now.map(|p| p.version) != latest.map(|p| p.version) {
                    Err(StoreError::Conflict.into())
                } else {
                    Err(short)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// A new Select All of the members expired now: refused before anything
    /// is written when the seats cannot cover them; else its list written as
    /// inert chunks, then its seats reserved with its record and the
    /// company's pointer (`latest`, as read) in one transaction.
    async fn new_select_all(
        &self,
        caller: &Caller,
        tenant: &Tenant,
        licence_type: &LicenceType,
        latest: Option<&Stored<LatestSelectAll>>,
    ) -> Result<Stored<Import>, ServiceError> {
        let latest_key = repo::select_all_key(tenant.id());
        let pool = self.pool(tenant, licence_type).await?;
        ensure_open(&tenant.company.value, &pool.value, tenant.today)?;
        let mut emails = Vec::new();
        let plan = &tenant.company.value.plan;
        self.each_member(tenant.id(), |m| {
            if m.value.status(plan, tenant.today) == LicenceStatus::Expired {
                emails.push(m.value.email);
            }
        })
        .await?;
        let needed = u32::try_from(emails.len()).unwrap_or(u32::MAX);
        // Refused before anything is written; `reserve` checks again.
        pool.value.clone().take(needed).map_err(shortage)?;
        let now = self.clock().now();
        let id = ImportId::generate();
        let generation = uuid::Uuid::now_v7().simple().to_string();
        let renew_chunks = self
            .write_chunks(tenant.id(), &id, &generation, &emails)
            .await?;
        let job = Import {
            id: id.clone(),
            company_id: tenant.id().clone(),
            status: ImportStatus::Committing,
            kind: ImportKind::AllExpired,
            columns: Vec::new(),
            email_column: None,
            licence_type: Some(licence_type.clone()),
            seats_licence_type: Some(licence_type.clone()),
            previewed_at: Some(now),
            counts: ImportCounts {
                rows: u64::from(needed),
                to_renew: u64::from(needed),
                ..ImportCounts::default()
            },
            problems: Vec::new(),
            problems_total: 0,
            failure: None,
            failure_code: None,
            created_by: caller.actor(),
            created_at: now,
            source_etag: None,
            generation: Some(generation),
            renew_chunks,
            confirm: Some(ImportConfirm {
                licence_type: licence_type.clone(),
                reserved: needed,
                done_chunks: 0,
                renewed: 0,
                chunk_offset: 0,
            }),
        };
        let pointer = LatestSelectAll { allocation_id: id };
        let pointer = match latest {
            None => repo::insert_raw(latest_key, &pointer, None)?,
            Some(read) => repo::update_raw(latest_key, &pointer, read.version, None)?,
        };
        self.reserve(caller, tenant, job, None, vec![pointer]).await
    }

    async fn named_members(
        &self,
        tenant: &Tenant,
        emails: &[Email],
    ) -> Result<Vec<Stored<Member>>, ServiceError> {
        let mut found: HashMap<Email, Stored<Member>> = self
            .load_members(tenant, emails)
            .await?
            .into_iter()
            .map(|m| (m.value.email.clone(), m))
            .collect();
        let unknown: Vec<Email> = emails
            .iter()
            .filter(|e| !found.contains_key(*e))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(ServiceError::UnknownMembers { emails: unknown });
        }
        Ok(emails.iter().filter_map(|e| found.remove(e)).collect())
    }

    async fn expired_members(&self, tenant: &Tenant) -> Result<Vec<Stored<Member>>, ServiceError> {
        let plan = &tenant.company.value.plan;
        let mut expired = Vec::new();
        self.each_member(tenant.id(), |m| {
            if m.value.status(plan, tenant.today) == LicenceStatus::Expired {
                expired.push(m);
            }
        })
        .await?;
        Ok(expired)
    }

    /// Gives each member a licence of `licence_type` in one transaction with
    /// the pool, so the count and the members never disagree.
    async fn license(
        &self,
        caller: &Caller,
        tenant: &Tenant,
        licence_type: &LicenceType,
        members: Vec<Stored<Member>>,
    ) -> Result<Allocated, ServiceError> {
        let mut company = tenant.company.value.clone();
        let mut pools = tenant.pool_values();
        let pool = tenant.pool(licence_type)?;
        ensure_open(&company, &pool.value, tenant.today)?;
        let already: Vec<Email> = members
            .iter()
            .filter(|m| {
                holds_seat_already(
                    m.value.licence.as_ref(),
                    &pool.value,
                    &company.plan,
                    tenant.today,
                )
            })
            .map(|m| m.value.email.clone())
            .collect();
        if !already.is_empty() {
            return Err(ServiceError::AlreadyActive { emails: already });
        }
        if members.len() > MAX_EMAILS_PER_ALLOCATION {
            return Err(ServiceError::invalid(
                "emails",
                format!("at most {MAX_EMAILS_PER_ALLOCATION} members can be licensed in one allocation; use a CSV import for more"),
            ));
        }
        let needed = u32::try_from(members.len()).unwrap_or(u32::MAX);
        // A trial hands out its own licences; premium takes pool seats.
        let before = serde_json::json!({"allocated": pool.value.allocated, "plan": company.plan});
        let trial_ends = match &mut company.plan {
            Plan::Trial {
                ends_on,
                seats,
                allocated,
            } => {
                let taken = allocated.get_or_insert(0);
                if *taken + needed > *seats {
                    return Err(shortage(SeatShortage {
                        needed,
                        available: seats.saturating_sub(*taken),
                    }));
                }
                *taken += needed;
                Some(*ends_on)
            }
            Plan::Premium { .. } => {
                // A co-term seat of another type that a member gives up is free.
                for member in &members {
                    if let Some(held) = member.value.licence.as_ref() {
                        if held.licence_type != *licence_type {
                            free_co_term_seat(&mut pools, held, &company.plan);
                        }
                    }
                }
                pool_of_type(&mut pools, licence_type)?
                    .take(needed)
                    .map_err(shortage)?;
                None
            }
        };
        let pool_after = pools
            .iter()
            .find(|p| p.licence_type == *licence_type)
            .cloned()
            .unwrap_or_else(|| pool.value.clone());
        let mut touched = Touched::default();
        let mut renewed = Vec::with_capacity(members.len());
        for stored in members {
            let mut member = stored.value.clone();
            member.licence = Some(match trial_ends {
                Some(ends_on) => trial_licence(licence_type.clone(), ends_on, tenant.today),
                None => new_licence(
                    &pool_after,
                    &company.plan,
                    member.licence.as_ref(),
                    tenant.today,
                ),
            });
            let (held, holds) = (stored.value.licence.as_ref(), member.licence.as_ref());
            recount(&mut pools, held, holds, &mut touched);
            renewed.push((member, stored.version));
        }
        let mut writes = tenant.changes_touching(&company, &pools, &touched)?;
        // The pools (and a trial's company) take the rest of the 100 items;
        // members moving from many other types may not all fit at once.
        if writes.len() + renewed.len() + 1 > MAX_TRANSACTION_ITEMS {
            return Err(ServiceError::invalid(
                "emails",
                format!(
                    "at most {} of these members can be licensed in one allocation; allocate the rest in another",
                    MAX_TRANSACTION_ITEMS.saturating_sub(writes.len() + 1)
                ),
            ));
        }
        let mut allocated = Vec::with_capacity(renewed.len());
        for (member, version) in renewed {
            writes.push(repo::update(&company, &member, version)?);
            allocated.push(member.email);
        }
        writes.push(self.audit(
            caller,
            &company,
            "seats.allocate",
            before,
            serde_json::json!({"allocated": pool_after.allocated, "plan": company.plan, "members": allocated}),
        )?);
        self.store().transact(writes).await?;
        Ok(Allocated {
            allocated,
            pool: PoolView::from(&pool_after),
        })
    }
}
