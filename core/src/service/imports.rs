//! Renewing licences from an uploaded CSV: request an upload, preview the
//! file when it lands (the S3 event), confirm.
//!
//! Nothing half-written: a preview writes its list of members to renew as
//! inert chunk items first, then flips the import to `previewed` in one
//! conditional write naming that list's generation. A confirm reserves all
//! the seats in one transaction with the import (all or nothing against the
//! pool), then renews the members in batches of [`CHUNK`], each batch one
//! transaction with the import's progress counter, so a batch that fails
//! part-way, or a confirm that is retried, never counts a seat twice.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::caller::{Action, Caller};
use crate::csv_import::{ImportFailure, Limits, Preview, PreviewBuilder};
use crate::error::ServiceError;
use crate::model::*;
use crate::ports::{
    Clock, ItemStore, Mailer, ObjectError, ObjectReader, Query, StoreError, UploadTarget,
    MAX_TRANSACTION_ITEMS,
};
use crate::repo::{self, import_chunk_key, import_key, Stored};
use crate::rules::{ensure_open, new_licence, shortage};

use super::context::{Seatkeeper, Tenant};
use super::views::PoolView;
use crate::types::{CompanyId, Email, ImportId, LicenceType};

/// Members renewed per transaction (with the import's progress: ≤ 100 items).
pub const CHUNK: usize = MAX_TRANSACTION_ITEMS - 2;
/// How long an upload URL stays valid.
pub const UPLOAD_URL_SECONDS: u64 = 15 * 60;
/// How long a preview's chunk items live (DynamoDB TTL).
const CHUNK_TTL_DAYS: i64 = 14;

/// Where a company's upload for an import goes, and how to read it back.
pub fn object_key(company: &CompanyId, import: &ImportId) -> String {
    format!("imports/{company}/{import}.csv")
}

fn parse_object_key(key: &str) -> Option<(CompanyId, ImportId)> {
    let rest = key.strip_prefix("imports/")?.strip_suffix(".csv")?;
    let (company, import) = rest.split_once('/')?;
    Some((
        CompanyId::parse(company).ok()?,
        ImportId::parse(import).ok()?,
    ))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadTicket {
    pub import_id: ImportId,
    pub upload_url: String,
    pub method: &'static str,
    pub expires_at: DateTime<Utc>,
}

/// An import as a manager reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportView {
    pub import_id: ImportId,
    pub status: ImportStatus,
    pub columns: Vec<String>,
    pub email_column: Option<String>,
    pub counts: ImportCounts,
    pub problems: Vec<ImportProblem>,
    pub problems_total: u64,
    pub failure: Option<String>,
    pub failure_code: Option<String>,
    pub renewed: Option<u32>,
}

impl From<&Import> for ImportView {
    fn from(import: &Import) -> Self {
        Self {
            import_id: import.id.clone(),
            status: import.status,
            columns: import.columns.clone(),
            email_column: import.email_column.clone(),
            counts: import.counts.clone(),
            problems: import.problems.clone(),
            problems_total: import.problems_total,
            failure: import.failure.clone(),
            failure_code: import.failure_code.clone(),
            renewed: import.confirm.as_ref().map(|c| c.renewed),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confirmed {
    pub status: ImportStatus,
    pub renewed: u32,
    pub pool: PoolView,
}

/// What a preview run did with an S3 event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PreviewOutcome {
    Previewed,
    Failed(String),
    /// Already previewed from this very object: a repeated delivery.
    AlreadyDone,
    /// Not an import's key, or an import that no longer takes uploads.
    Ignored(String),
}

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    async fn import(
        &self,
        tenant: &Tenant,
        import_id: &str,
    ) -> Result<Stored<Import>, ServiceError> {
        let not_found = ServiceError::NotFound { what: "import" };
        let id = ImportId::parse(import_id).map_err(|_| not_found.clone())?;
        repo::load(self.store(), &import_key(tenant.id(), &id))
            .await?
            .ok_or(not_found)
    }

    pub async fn create_import(
        &self,
        caller: &Caller,
        company_id: &str,
        email_column: Option<String>,
        uploads: &dyn UploadTarget,
    ) -> Result<UploadTicket, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let email_column = email_column
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        if email_column
            .as_ref()
            .is_some_and(|c| c.chars().count() > 200)
        {
            return Err(ServiceError::invalid(
                "email_column",
                "must be at most 200 characters",
            ));
        }
        let tenant = self.tenant(caller, company_id).await?;
        let now = self.clock().now();
        let import = Import {
            id: ImportId::generate(),
            company_id: tenant.id().clone(),
            status: ImportStatus::AwaitingUpload,
            columns: Vec::new(),
            email_column,
            counts: ImportCounts::default(),
            problems: Vec::new(),
            problems_total: 0,
            failure: None,
            failure_code: None,
            created_by: caller.actor(),
            created_at: now,
            source_etag: None,
            generation: None,
            renew_chunks: 0,
            confirm: None,
        };
        let upload_url = uploads
            .upload_url(&object_key(tenant.id(), &import.id), UPLOAD_URL_SECONDS)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let audit = self.audit(
            caller,
            &tenant.company.value,
            "import.create",
            serde_json::Value::Null,
            serde_json::json!({"import_id": import.id}),
        )?;
        self.store()
            .transact(vec![repo::insert(&tenant.company.value, &import)?, audit])
            .await?;
        Ok(UploadTicket {
            import_id: import.id,
            upload_url,
            method: "PUT",
            expires_at: now + Duration::seconds(UPLOAD_URL_SECONDS as i64),
        })
    }

    pub async fn get_import(
        &self,
        caller: &Caller,
        company_id: &str,
        import_id: &str,
    ) -> Result<ImportView, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let tenant = self.tenant(caller, company_id).await?;
        Ok(ImportView::from(
            &self.import(&tenant, import_id).await?.value,
        ))
    }

    /// Handles an uploaded object (the S3 ObjectCreated event): reads it,
    /// streaming, and records the preview or why the file failed.
    pub async fn preview_upload(
        &self,
        key: &str,
        etag: Option<&str>,
        objects: &dyn ObjectReader,
        bucket: &str,
        limits: Limits,
    ) -> Result<PreviewOutcome, ServiceError> {
        let Some((company_id, import_id)) = parse_object_key(key) else {
            return Ok(PreviewOutcome::Ignored(format!(
                "{key} is not an import upload"
            )));
        };
        let Some(company) =
            repo::load::<Company, _>(self.store(), &repo::company_key(&company_id)).await?
        else {
            return Ok(PreviewOutcome::Ignored(format!("no company {company_id}")));
        };
        let company = company.value;
        let Some(stored) =
            repo::load::<Import, _>(self.store(), &import_key(&company_id, &import_id)).await?
        else {
            return Ok(PreviewOutcome::Ignored(format!("no import {import_id}")));
        };
        let import = &stored.value;
        if matches!(
            import.status,
            ImportStatus::Committing | ImportStatus::Committed
        ) {
            return Ok(PreviewOutcome::Ignored(
                "the import is confirmed; upload to a new import".into(),
            ));
        }
        if etag.is_some()
            && import.source_etag.as_deref() == etag
            && import.status != ImportStatus::AwaitingUpload
        {
            return Ok(PreviewOutcome::AlreadyDone);
        }
        let result = self
            .read_preview(&company, import, objects, bucket, key, limits)
            .await?;
        let mut next = import.clone();
        next.source_etag = etag.map(str::to_string);
        let mut writes = Vec::new();
        let outcome = match result {
            Ok(preview) => {
                let generation = uuid::Uuid::now_v7().simple().to_string();
                let expires_at = (self.clock().now() + Duration::days(CHUNK_TTL_DAYS)).timestamp();
                let chunks: Vec<_> = preview.to_renew.chunks(CHUNK).collect();
                for (n, emails) in chunks.iter().enumerate() {
                    let n = u32::try_from(n).unwrap_or(u32::MAX);
                    writes.push(repo::insert_raw(
                        import_chunk_key(&company.id, &import.id, &generation, n),
                        emails,
                        Some(expires_at),
                    )?);
                }
                next.status = ImportStatus::Previewed;
                next.columns = preview.columns;
                next.email_column = Some(preview.email_column);
                next.counts = ImportCounts {
                    unlicensed: preview.unlicensed,
                    ..preview.counts
                };
                next.problems = preview.problems;
                next.problems_total = preview.problems_total;
                next.failure = None;
                next.failure_code = None;
                next.renew_chunks = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
                next.generation = Some(generation);
                PreviewOutcome::Previewed
            }
            Err(failure) => {
                next.status = ImportStatus::Failed;
                next.columns = failure.columns().to_vec();
                next.failure = Some(failure.to_string());
                next.failure_code = Some(failure.code().to_string());
                next.generation = None;
                next.renew_chunks = 0;
                PreviewOutcome::Failed(failure.code().to_string())
            }
        };
        // The chunks are inert until the import names their generation.
        for batch in writes.chunks(MAX_TRANSACTION_ITEMS) {
            self.store().transact(batch.to_vec()).await?;
        }
        match self
            .store()
            .transact(vec![repo::update(&company, &next, stored.version)?])
            .await
        {
            Ok(()) => Ok(outcome),
            // A concurrent delivery of the same upload got there first.
            Err(StoreError::Conflict) => Ok(PreviewOutcome::AlreadyDone),
            Err(e) => Err(e.into()),
        }
    }

    /// The preview, or what is wrong with the file. `Err` only for a
    /// passing fault (S3, the store), so that the event is retried rather
    /// than the import failed for good.
    async fn read_preview(
        &self,
        company: &Company,
        import: &Import,
        objects: &dyn ObjectReader,
        bucket: &str,
        key: &str,
        limits: Limits,
    ) -> Result<Result<Preview, ImportFailure>, ServiceError> {
        let unreadable =
            |e: ObjectError| StoreError::Unavailable(format!("reading the upload: {e}"));
        let size = objects.size(bucket, key).await.map_err(unreadable)?;
        if size > limits.max_bytes {
            return Ok(Err(ImportFailure::TooLarge {
                max_bytes: limits.max_bytes,
            }));
        }
        let members = self.member_statuses(company).await?;
        let mut builder = PreviewBuilder::new(import.email_column.clone(), limits);
        let mut failed = None;
        let mut sink = |chunk: &[u8]| match builder.push(chunk, &members) {
            Ok(()) => true,
            Err(failure) => {
                failed = Some(failure);
                false
            }
        };
        objects
            .read_chunks(bucket, key, &mut sink)
            .await
            .map_err(unreadable)?;
        Ok(match failed {
            Some(failure) => Err(failure),
            None => builder.finish(&members),
        })
    }

    /// Every member's licence status today: the index the preview matches on.
    async fn member_statuses(
        &self,
        company: &Company,
    ) -> Result<HashMap<Email, LicenceStatus>, ServiceError> {
        let today = self.clock().today_in(company.timezone);
        let mut statuses = HashMap::new();
        let mut query = Query::table(repo::company_pk(&company.id), repo::MEMBER_PREFIX);
        loop {
            let (members, next) = repo::load_page::<Member, _>(self.store(), &query).await?;
            statuses.extend(
                members
                    .into_iter()
                    .map(|m| (m.value.email.clone(), m.value.status(&company.plan, today))),
            );
            match next {
                Some(cursor) => query.cursor = Some(cursor),
                None => return Ok(statuses),
            }
        }
    }

    /// Renews exactly the previewed members, all or nothing against the
    /// pool. Idempotent: a confirmed import answers with its result, and one
    /// stopped part-way (a crash, or `deadline`) resumes where it stopped.
    pub async fn confirm_import(
        &self,
        caller: &Caller,
        company_id: &str,
        import_id: &str,
        licence_type: &str,
        deadline: Option<Instant>,
    ) -> Result<Confirmed, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let licence_type = LicenceType::parse(licence_type)?;
        let reserved = self
            .retrying(|| async {
                let tenant = self.tenant(caller, company_id).await?;
                let import = self.import(&tenant, import_id).await?;
                match import.value.status {
                    ImportStatus::Previewed => self
                        .reserve(caller, &tenant, import, &licence_type)
                        .await
                        .map(|i| (tenant, i)),
                    ImportStatus::Committing | ImportStatus::Committed => Ok((tenant, import)),
                    status => Err(ServiceError::ImportNotPreviewed {
                        status: serde_json::to_value(status)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                    }),
                }
            })
            .await?;
        let (tenant, mut import) = reserved;
        let confirm_type = import
            .value
            .confirm
            .as_ref()
            .map(|c| c.licence_type.clone());
        if confirm_type.as_ref() != Some(&licence_type) {
            return Err(ServiceError::invalid(
                "licence_type",
                "this import is being confirmed for another licence type",
            ));
        }
        while import.value.status == ImportStatus::Committing {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            import = self
                .retrying(|| self.renew_next_chunk(&tenant, &licence_type, import_id))
                .await?;
        }
        let pool = self.pool(&tenant, &licence_type).await?;
        Ok(Confirmed {
            status: import.value.status,
            renewed: import.value.confirm.as_ref().map_or(0, |c| c.renewed),
            pool: PoolView::from(&pool.value),
        })
    }

    async fn chunk(
        &self,
        company: &CompanyId,
        import: &Import,
        n: u32,
    ) -> Result<Vec<Email>, ServiceError> {
        let generation = import.generation.as_deref().unwrap_or_default();
        Ok(repo::load::<Vec<Email>, _>(
            self.store(),
            &import_chunk_key(company, &import.id, generation, n),
        )
        .await?
        .map(|c| c.value)
        .unwrap_or_default())
    }

    /// Takes every seat the import needs, in one transaction with the import.
    async fn reserve(
        &self,
        caller: &Caller,
        tenant: &Tenant,
        import: Stored<Import>,
        licence_type: &LicenceType,
    ) -> Result<Stored<Import>, ServiceError> {
        let company = &tenant.company.value;
        let mut pool = self.pool(tenant, licence_type).await?;
        ensure_open(company, &pool.value, tenant.today)?;
        // The previewed members still expired now; seats for exactly them.
        let mut needed = 0u32;
        for n in 0..import.value.renew_chunks {
            needed += self
                .still_expired(tenant, &self.chunk(tenant.id(), &import.value, n).await?)
                .await?
                .len() as u32;
        }
        pool.value.take(needed).map_err(shortage)?;
        let mut next = import.value.clone();
        next.status = ImportStatus::Committing;
        next.confirm = Some(ImportConfirm {
            licence_type: licence_type.clone(),
            reserved: needed,
            done_chunks: 0,
            renewed: 0,
        });
        let audit = self.audit(
            caller,
            company,
            "import.confirm",
            serde_json::json!({"allocated": pool.value.allocated - needed}),
            serde_json::json!({"allocated": pool.value.allocated, "import_id": next.id}),
        )?;
        self.store()
            .transact(vec![
                repo::update(company, &pool.value, pool.version)?,
                repo::update(company, &next, import.version)?,
                audit,
            ])
            .await?;
        Ok(Stored {
            value: next,
            version: import.version + 1,
        })
    }

    async fn still_expired(
        &self,
        tenant: &Tenant,
        emails: &[Email],
    ) -> Result<Vec<Stored<Member>>, ServiceError> {
        let plan = &tenant.company.value.plan;
        Ok(self
            .load_members(tenant, emails)
            .await?
            .into_iter()
            .filter(|m| m.value.status(plan, tenant.today) == LicenceStatus::Expired)
            .collect())
    }

    /// Renews the next batch in one transaction with the import's progress;
    /// after the last, hands back seats reserved for members who stopped
    /// being expired in between, and marks the import committed.
    async fn renew_next_chunk(
        &self,
        tenant: &Tenant,
        licence_type: &LicenceType,
        import_id: &str,
    ) -> Result<Stored<Import>, ServiceError> {
        let import = self.import(tenant, import_id).await?;
        let mut next = import.value.clone();
        let Some(progress) = next.confirm.as_mut() else {
            return Ok(import);
        };
        let company = &tenant.company.value;
        let mut writes = Vec::new();
        if progress.done_chunks < next.renew_chunks {
            let members = self
                .still_expired(
                    tenant,
                    &self
                        .chunk(tenant.id(), &import.value, progress.done_chunks)
                        .await?,
                )
                .await?;
            let pool = self.pool(tenant, licence_type).await?;
            for stored in &members {
                let mut member = stored.value.clone();
                member.licence = Some(new_licence(
                    &pool.value,
                    &company.plan,
                    member.licence.as_ref(),
                    tenant.today,
                ));
                writes.push(repo::update(company, &member, stored.version)?);
            }
            progress.done_chunks += 1;
            progress.renewed += members.len() as u32;
        } else {
            let unused = progress.reserved.saturating_sub(progress.renewed);
            if unused > 0 {
                let mut pool = self.pool(tenant, licence_type).await?;
                pool.value.allocated = pool.value.allocated.saturating_sub(unused);
                writes.push(repo::update(company, &pool.value, pool.version)?);
            }
            next.status = ImportStatus::Committed;
        }
        writes.push(repo::update(company, &next, import.version)?);
        self.store().transact(writes).await?;
        Ok(Stored {
            value: next,
            version: import.version + 1,
        })
    }
}
