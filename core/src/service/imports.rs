//! Renewing licences from an uploaded CSV: request an upload, preview the
//! file when it lands (the S3 event) or again with another column, confirm.
//!
//! Nothing half-written: a preview writes its list of members to renew as
//! inert chunk items first, then flips the import to `previewed` in one
//! conditional write naming that list's generation. A confirm reserves all
//! the seats in one transaction with the import (all or nothing against the
//! pool), then renews the members in batches of at most [`CHUNK`], each
//! batch one transaction with the import's progress counter, so a batch that
//! fails part-way, or a confirm that is retried, never counts a seat twice.
//!
//! "Select All" expired members (`service::allocation`) is the same job: a
//! record of kind [`ImportKind::AllExpired`] whose list is the expired
//! members, reserved and renewed by the code here.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::caller::{Action, Caller};
use crate::csv_import::{same_heading, ImportFailure, Limits, Preview, PreviewBuilder, Roster};
use crate::error::ServiceError;
use crate::model::*;
use crate::ports::{
    Clock, ItemStore, Mailer, ObjectError, ObjectReader, StoreError, UploadTarget, Write,
    MAX_TRANSACTION_ITEMS,
};
use crate::repo::{self, import_chunk_key, import_key, Stored};
use crate::rules::{
    ensure_open, free_co_term_seat, holds_co_term_seat, new_licence, recount, shortage, Touched,
};

use super::context::{Seatkeeper, Tenant};
use super::views::PoolView;
use crate::types::{CompanyId, Email, ImportId, InvalidField, LicenceType};

/// Members renewed per transaction, at most. The rest of its 100 items: the
/// job's progress, its audit event, and the pools the batch's licences
/// touch (seats given up, kept counts); a batch whose pools leave no room
/// for all its members stops part-way (`ImportConfirm::chunk_offset`).
pub const CHUNK: usize = MAX_TRANSACTION_ITEMS - 10;
/// How long an upload URL stays valid.
pub const UPLOAD_URL_SECONDS: u64 = 15 * 60;

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

/// Whether a preview's list of members has outlived its TTL at `now`.
fn is_stale(import: &Import, now: DateTime<Utc>) -> bool {
    let written = import.previewed_at.unwrap_or(import.created_at);
    now >= written + Duration::days(IMPORT_TTL_DAYS)
}

fn status_name(status: ImportStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadTicket {
    pub import_id: ImportId,
    pub upload_url: String,
    pub method: &'static str,
    pub expires_at: DateTime<Utc>,
}

/// The seats a confirm would take: `needed` (the members to renew) out of
/// the `available` seats of `licence_type`'s pool, read now. A confirm for
/// that type that finds fewer answers 409 `no_seats_available` with the same
/// two figures, unless members or seats changed in between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatsView {
    pub licence_type: LicenceType,
    pub needed: u32,
    pub available: u32,
}

/// An import as a manager reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportView {
    pub import_id: ImportId,
    /// `expired` when a previewed import is past its TTL.
    pub status: ImportStatus,
    pub columns: Vec<ImportColumn>,
    pub email_column: Option<String>,
    pub counts: ImportCounts,
    /// Once previewed, when a pool could be chosen (see
    /// [`Seatkeeper::get_import`]).
    pub seats: Option<SeatsView>,
    pub problems: Vec<ImportProblem>,
    pub problems_total: u64,
    pub failure: Option<String>,
    pub failure_code: Option<String>,
    pub renewed: Option<u32>,
}

impl ImportView {
    fn new(import: &Import, now: DateTime<Utc>, seats: Option<SeatsView>) -> Self {
        let status = match import.status {
            ImportStatus::Previewed if is_stale(import, now) => ImportStatus::Expired,
            status => status,
        };
        Self {
            import_id: import.id.clone(),
            status,
            columns: import.columns.clone(),
            email_column: import.email_column.clone(),
            counts: import.counts.clone(),
            seats,
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

/// A file read: the preview, or why not with the columns it got to.
type ReadOutcome = Result<Preview, (ImportFailure, Vec<ImportColumn>)>;

/// What the preview matches rows against: the company's roster, and the
/// type of each expired member's licence (to choose a pool).
struct MemberIndex {
    roster: Roster,
    /// By the roster's member number: the expired member's licence type,
    /// an index into `types`; `None` for the others.
    expired_types: Vec<Option<usize>>,
    /// Each licence type held, once.
    types: Vec<LicenceType>,
}

impl MemberIndex {
    fn with_capacity(members: usize) -> Self {
        Self {
            roster: Roster::with_capacity(members),
            expired_types: Vec::with_capacity(members),
            types: Vec::new(),
        }
    }

    fn insert(
        &mut self,
        member: MemberStatusView<'_>,
        plan: &Plan,
        today: NaiveDate,
    ) -> Result<(), ServiceError> {
        let email = Email::parse(&member.email).map_err(corrupt_member)?;
        let (status, expired_type) = match member.licence {
            None => (LicenceStatus::Unlicensed, None),
            Some(licence) => {
                let status = licence.term()?.status(plan, today);
                let held = (status == LicenceStatus::Expired)
                    .then(|| self.type_index(&licence.licence_type))
                    .transpose()?;
                (status, held)
            }
        };
        let number = self.roster.insert(email, status);
        match self.expired_types.get_mut(number) {
            Some(slot) => *slot = expired_type,
            None => self.expired_types.push(expired_type),
        }
        Ok(())
    }

    /// Where `name` is in `types`, added (validated) the first time.
    fn type_index(&mut self, name: &str) -> Result<usize, ServiceError> {
        if let Some(at) = self.types.iter().position(|t| t.as_str() == name) {
            return Ok(at);
        }
        self.types
            .push(LicenceType::parse(name).map_err(corrupt_member)?);
        Ok(self.types.len() - 1)
    }

    /// The type of the licence `email`'s member let expire.
    fn expired_type(&self, email: &Email) -> Option<&LicenceType> {
        let listed = self.roster.find(email.as_str())?;
        let at = (*self.expired_types.get(listed.number)?)?;
        self.types.get(at)
    }
}

/// A stored member whose field does not parse, as decoding a whole
/// [`Member`] would have refused it (without the value: personal data).
fn corrupt_member(invalid: InvalidField) -> ServiceError {
    StoreError::Corrupt(format!(
        "a member item's {}: {}",
        invalid.field, invalid.reason
    ))
    .into()
}

/// The fields of a stored [`Member`] that the index reads, as it names
/// them; the rest of the item is skipped undecoded.
#[derive(Deserialize)]
struct MemberStatusView<'a> {
    #[serde(borrow)]
    email: Cow<'a, str>,
    #[serde(borrow)]
    licence: Option<LicenceView<'a>>,
}

/// A stored [`Licence`]'s type and [`LicenceTerm`], its term read without
/// the buffering that serde's `flatten` and internal tags cost.
#[derive(Deserialize)]
struct LicenceView<'a> {
    #[serde(borrow)]
    licence_type: Cow<'a, str>,
    term: TermKind,
    ends_on: Option<NaiveDate>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TermKind {
    Trial,
    CoTerm,
    Rolling,
}

impl LicenceView<'_> {
    fn term(&self) -> Result<LicenceTerm, ServiceError> {
        let missing = || corrupt_member(InvalidField::new("licence", "has no end date"));
        Ok(match self.term {
            TermKind::Trial => LicenceTerm::Trial {
                ends_on: self.ends_on.ok_or_else(missing)?,
            },
            TermKind::CoTerm => LicenceTerm::CoTerm {
                ends_on: self.ends_on,
            },
            TermKind::Rolling => LicenceTerm::Rolling {
                ends_on: self.ends_on.ok_or_else(missing)?,
            },
        })
    }
}

/// The pool a preview counts seats in:
/// 1. the licence type named when the import was created;
/// 2. else the company's only pool;
/// 3. else the type most of the members to renew held (their expired
///    licences), ties going to the first pool in key order;
/// 4. else none (`seats` is then absent).
fn seats_licence_type(
    import: &Import,
    pools: &[Stored<SeatPool>],
    to_renew: &[Email],
    index: &MemberIndex,
) -> Option<LicenceType> {
    if let Some(named) = &import.licence_type {
        return Some(named.clone());
    }
    if let [only] = pools {
        return Some(only.value.licence_type.clone());
    }
    let mut tally: Vec<(LicenceType, usize)> = pools
        .iter()
        .map(|p| (p.value.licence_type.clone(), 0))
        .collect();
    for held in to_renew.iter().filter_map(|e| index.expired_type(e)) {
        if let Some(entry) = tally.iter_mut().find(|(t, _)| t == held) {
            entry.1 += 1;
        }
    }
    let most = tally.iter().map(|(_, n)| *n).max().filter(|n| *n > 0)?;
    tally.into_iter().find(|(_, n)| *n == most).map(|(t, _)| t)
}

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    /// A job of `kind` by id; any other kind, or none, is `what` not found.
    pub(super) async fn job(
        &self,
        tenant: &Tenant,
        id: &str,
        kind: ImportKind,
        what: &'static str,
    ) -> Result<Stored<Import>, ServiceError> {
        let not_found = ServiceError::NotFound { what };
        let id = ImportId::parse(id).map_err(|_| not_found.clone())?;
        repo::load::<Import, _>(self.store(), &import_key(tenant.id(), &id))
            .await?
            .filter(|i| i.value.kind == kind)
            .ok_or(not_found)
    }

    async fn import(
        &self,
        tenant: &Tenant,
        import_id: &str,
    ) -> Result<Stored<Import>, ServiceError> {
        self.job(tenant, import_id, ImportKind::Csv, "import").await
    }

    /// Starts an import. `licence_type`, if given, is the pool the preview
    /// counts seats in (it must be one of the company's licence types).
    pub async fn create_import(
        &self,
        caller: &Caller,
        company_id: &str,
        email_column: Option<String>,
        licence_type: Option<String>,
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
        let licence_type = licence_type.map(|t| LicenceType::parse(&t)).transpose()?;
        let tenant = self.tenant(caller, company_id).await?;
        if let Some(t) = &licence_type {
            tenant.pool(t)?;
        }
        let now = self.clock().now();
        let import = Import {
            id: ImportId::generate(),
            company_id: tenant.id().clone(),
            status: ImportStatus::AwaitingUpload,
            kind: ImportKind::Csv,
            columns: Vec::new(),
            email_column,
            licence_type,
            seats_licence_type: None,
            previewed_at: None,
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

    /// The import with its `seats`: the pool's available seats are read
    /// now; `needed` is the previewed `to_renew`.
    pub async fn get_import(
        &self,
        caller: &Caller,
        company_id: &str,
        import_id: &str,
    ) -> Result<ImportView, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let tenant = self.tenant(caller, company_id).await?;
        let import = self.import(&tenant, import_id).await?;
        self.import_view(&tenant, &import.value).await
    }

    async fn import_view(
        &self,
        tenant: &Tenant,
        import: &Import,
    ) -> Result<ImportView, ServiceError> {
        let seats = match &import.seats_licence_type {
            Some(t) if import.generation.is_some() => match self.pool(tenant, t).await {
                Ok(pool) => Some(SeatsView {
                    licence_type: t.clone(),
                    needed: u32::try_from(import.counts.to_renew).unwrap_or(u32::MAX),
                    available: pool.value.available(),
                }),
                // The type was removed since: no seats to count in.
                Err(ServiceError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            _ => None,
        };
        Ok(ImportView::new(import, self.clock().now(), seats))
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
        let Some(tenant) = self.company(&company_id).await? else {
            return Ok(PreviewOutcome::Ignored(format!("no company {company_id}")));
        };
        let Some(stored) =
            repo::load::<Import, _>(self.store(), &import_key(&company_id, &import_id))
                .await?
                .filter(|i| i.value.kind == ImportKind::Csv)
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
        let mut next = import.clone();
        next.source_etag = etag.map(str::to_string);
        // No request made this: the audit names who created the import.
        let by = (
            import.created_by.clone(),
            (import.created_by.role == "partner_admin").then(|| company_id.clone()),
        );
        match self
            .preview_object(&tenant, &stored, next, by, objects, bucket, limits)
            .await
        {
            Ok(done) => Ok(match done.failure_code {
                Some(code) => PreviewOutcome::Failed(code),
                None => PreviewOutcome::Previewed,
            }),
            // A concurrent delivery of the same upload may have got there
            // first; but DynamoDB also cancels a transaction that merely
            // overlapped another, so the import is read again to tell.
            Err(ServiceError::Store(StoreError::Conflict)) => {
                let key = import_key(&company_id, &import_id);
                let now = repo::load::<Import, _>(self.store(), &key).await?;
                match now.map(|i| i.value) {
                    Some(i)
                        if i.status != ImportStatus::AwaitingUpload
                            && i.source_etag.as_deref() == etag =>
                    {
                        Ok(PreviewOutcome::AlreadyDone)
                    }
                    _ => Err(ServiceError::Store(StoreError::Conflict)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Previews the uploaded file again with `email_column`, without a new
    /// upload: the manager's pick from the columns (and their samples) after
    /// a preview chose none, or the wrong one. Refused (409
    /// `import_not_previewable`) before the upload and once confirming; a
    /// column the file does not have is a 400.
    #[allow(clippy::too_many_arguments)]
    pub async fn repreview_import(
        &self,
        caller: &Caller,
        company_id: &str,
        import_id: &str,
        email_column: &str,
        objects: &dyn ObjectReader,
        bucket: &str,
        limits: Limits,
    ) -> Result<ImportView, ServiceError> {
        caller.require(Action::ManageSeats)?;
        self.retrying(|| async {
            let tenant = self.tenant(caller, company_id).await?;
            let stored = self.import(&tenant, import_id).await?;
            let import = &stored.value;
            if matches!(
                import.status,
                ImportStatus::AwaitingUpload | ImportStatus::Committing | ImportStatus::Committed
            ) {
                return Err(ServiceError::ImportNotPreviewable {
                    status: status_name(import.status),
                });
            }
            let Some(column) = import
                .columns
                .iter()
                .find(|c| same_heading(&c.name, email_column))
            else {
                let names: Vec<&str> = import.columns.iter().map(|c| c.name.as_str()).collect();
                return Err(ServiceError::invalid(
                    "email_column",
                    format!("is not a column of the file (its columns: {names:?})"),
                ));
            };
            let mut next = import.clone();
            next.email_column = Some(column.name.clone());
            let by = (caller.actor(), caller.acting_for(&tenant.company.value));
            let done = self
                .preview_object(&tenant, &stored, next, by, objects, bucket, limits)
                .await?;
            self.import_view(&tenant, &done).await
        })
        .await
    }

    /// Reads the import's object with `next`'s e-mail column and stores the
    /// preview, or why the file failed, in one conditional write with its
    /// audit event. The one path of the S3 event and a re-preview. A lost
    /// race is `Conflict`.
    #[allow(clippy::too_many_arguments)]
    async fn preview_object(
        &self,
        tenant: &Tenant,
        stored: &Stored<Import>,
        mut next: Import,
        by: (ActorRef, Option<CompanyId>),
        objects: &dyn ObjectReader,
        bucket: &str,
        limits: Limits,
    ) -> Result<Import, ServiceError> {
        let company = &tenant.company.value;
        let key = object_key(&company.id, &next.id);
        let index = self.member_index(company).await?;
        let result = self
            .read_preview(&next, &index, objects, bucket, &key, limits)
            .await?;
        match result {
            Ok(preview) => {
                let generation = uuid::Uuid::now_v7().simple().to_string();
                next.renew_chunks = self
                    .write_chunks(&company.id, &next.id, &generation, &preview.to_renew)
                    .await?;
                next.seats_licence_type =
                    seats_licence_type(&next, &tenant.pools, &preview.to_renew, &index);
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
                next.generation = Some(generation);
                next.previewed_at = Some(self.clock().now());
            }
            Err((failure, columns)) => {
                next.status = ImportStatus::Failed;
                next.columns = columns;
                next.counts = ImportCounts::default();
                next.problems = Vec::new();
                next.problems_total = 0;
                next.failure = Some(failure.to_string());
                next.failure_code = Some(failure.code().to_string());
                next.generation = None;
                next.renew_chunks = 0;
                next.seats_licence_type = None;
            }
        }
        let audit = self.audit_by(
            by,
            company,
            "import.preview",
            serde_json::json!({
                "status": stored.value.status,
                "email_column": stored.value.email_column,
                "counts": stored.value.counts,
            }),
            serde_json::json!({
                "import_id": next.id,
                "status": next.status,
                "email_column": next.email_column,
                "counts": next.counts,
                "failure_code": next.failure_code,
            }),
        )?;
        next.fit_to_item();
        // The chunks are inert until the import names their generation.
        self.store()
            .transact(vec![repo::update(company, &next, stored.version)?, audit])
            .await?;
        Ok(next)
    }

    /// Writes a job's list of members as inert chunk items of [`CHUNK`]
    /// e-mails, living [`IMPORT_TTL_DAYS`]; returns how many.
    pub(super) async fn write_chunks(
        &self,
        company: &CompanyId,
        import: &ImportId,
        generation: &str,
        emails: &[Email],
    ) -> Result<u32, ServiceError> {
        let expires_at = (self.clock().now() + Duration::days(IMPORT_TTL_DAYS)).timestamp();
        let writes = emails
            .chunks(CHUNK)
            .enumerate()
            .map(|(n, list)| {
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                repo::insert_raw(
                    import_chunk_key(company, import, generation, n),
                    &list,
                    Some(expires_at),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        for batch in writes.chunks(MAX_TRANSACTION_ITEMS) {
            self.store().transact(batch.to_vec()).await?;
        }
        Ok(u32::try_from(writes.len()).unwrap_or(u32::MAX))
    }

    /// The preview, or what is wrong with the file. `Err` only for a
    /// passing fault (S3, the store), so that the event is retried rather
    /// than the import failed for good.
    async fn read_preview(
        &self,
        import: &Import,
        index: &MemberIndex,
        objects: &dyn ObjectReader,
        bucket: &str,
        key: &str,
        limits: Limits,
    ) -> Result<ReadOutcome, ServiceError> {
        let unreadable =
            |e: ObjectError| StoreError::Unavailable(format!("reading the upload: {e}"));
        let size = objects.size(bucket, key).await.map_err(unreadable)?;
        if size > limits.max_bytes {
            let failure = ImportFailure::TooLarge {
                max_bytes: limits.max_bytes,
            };
            return Ok(Err((failure, Vec::new())));
        }
        let members = &index.roster;
        let mut builder = PreviewBuilder::new(import.email_column.clone(), limits);
        // A failure sticks in the builder: stop reading at the first.
        let mut sink = |chunk: &[u8]| builder.push(chunk, members).is_ok();
        objects
            .read_chunks(bucket, key, &mut sink)
            .await
            .map_err(unreadable)?;
        Ok(builder.finish(members).map_err(|f| (f, builder.columns())))
    }

    /// Every member's licence status today: the index the preview matches
    /// on, read a page at a time, each item only as far as [`MemberStatusView`].
    async fn member_index(&self, company: &Company) -> Result<MemberIndex, ServiceError> {
        let today = self.clock().today_in(company.timezone);
        let members = company.member_count.unwrap_or_default();
        let mut index = MemberIndex::with_capacity(usize::try_from(members).unwrap_or_default());
        self.each_member_item(&company.id, |item| {
            index.insert(repo::view(&item)?, &company.plan, today)
        })
        .await?;
        Ok(index)
    }

    /// Renews exactly the previewed members, all or nothing against the
    /// pool. Idempotent: a confirmed import answers with its result, and one
    /// stopped part-way (a crash, or `deadline`) resumes where it stopped.
    /// A preview older than [`IMPORT_TTL_DAYS`], or whose list is gone,
    /// answers 409 `import_expired`.
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
        let (tenant, import) = self
            .retrying(|| async {
                let tenant = self.tenant(caller, company_id).await?;
                let import = self.import(&tenant, import_id).await?;
                match import.value.status {
                    ImportStatus::Previewed if is_stale(&import.value, self.clock().now()) => {
                        Err(ServiceError::ImportExpired {
                            days: IMPORT_TTL_DAYS,
                        })
                    }
                    ImportStatus::Previewed => {
                        let needed = self.previewed_to_renew(&tenant, &import.value).await?;
                        let mut next = import.value.clone();
                        next.status = ImportStatus::Committing;
                        next.confirm = Some(ImportConfirm {
                            licence_type: licence_type.clone(),
                            reserved: needed,
                            done_chunks: 0,
                            renewed: 0,
                            chunk_offset: 0,
                        });
                        let stored = self
                            .reserve(caller, &tenant, next, Some(import.version), Vec::new())
                            .await?;
                        Ok((tenant, stored))
                    }
                    ImportStatus::Committing | ImportStatus::Committed => Ok((tenant, import)),
                    status => Err(ServiceError::ImportNotPreviewed {
                        status: status_name(status),
                    }),
                }
            })
            .await?;
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
        let (import, _) = self.run_batches(caller, &tenant, import, deadline).await?;
        let pool = self.pool(&tenant, &licence_type).await?;
        Ok(Confirmed {
            status: import.value.status,
            renewed: import.value.confirm.as_ref().map_or(0, |c| c.renewed),
            pool: PoolView::from(&pool.value),
        })
    }

    /// The `n`th list of a job's members; `None` once its TTL took it.
    async fn chunk(
        &self,
        company: &CompanyId,
        import: &Import,
        n: u32,
    ) -> Result<Option<Vec<Email>>, ServiceError> {
        let generation = import.generation.as_deref().unwrap_or_default();
        Ok(repo::load::<Vec<Email>, _>(
            self.store(),
            &import_chunk_key(company, &import.id, generation, n),
        )
        .await?
        .map(|c| c.value))
    }

    /// The seats a confirm takes: every member the preview found to renew.
    /// Read from the preview, not recounted (that would read every list
    /// before the first batch, past any deadline on a large file); a member
    /// renewed some other way since is skipped by their batch and their
    /// seat given back at the end. A list gone past its TTL is
    /// `import_expired`: the lists are written, and expire, together, so
    /// the first and the last stand for them all.
    async fn previewed_to_renew(
        &self,
        tenant: &Tenant,
        import: &Import,
    ) -> Result<u32, ServiceError> {
        let last = import.renew_chunks.checked_sub(1);
        for n in std::iter::once(0)
            .chain(last)
            .take(import.renew_chunks as usize)
        {
            if self.chunk(tenant.id(), import, n).await?.is_none() {
                return Err(ServiceError::ImportExpired {
                    days: IMPORT_TTL_DAYS,
                });
            }
        }
        Ok(u32::try_from(import.counts.to_renew).unwrap_or(u32::MAX))
    }

    /// Takes every seat `job` reserves (`job.confirm`), in one transaction
    /// with the job's record (stored over `version`, or created when
    /// `None`), its audit event and `extra`: all or nothing.
    pub(super) async fn reserve(
        &self,
        caller: &Caller,
        tenant: &Tenant,
        job: Import,
        version: Option<u64>,
        extra: Vec<Write>,
    ) -> Result<Stored<Import>, ServiceError> {
        let company = &tenant.company.value;
        let Some(progress) = &job.confirm else {
            return Err(ServiceError::NotFound { what: "import" });
        };
        let mut pool = self.pool(tenant, &progress.licence_type).await?;
        ensure_open(company, &pool.value, tenant.today)?;
        let before = pool.value.allocated;
        pool.value.take(progress.reserved).map_err(shortage)?;
        let action = match job.kind {
            ImportKind::Csv => "import.confirm",
            ImportKind::AllExpired => "seats.allocate",
        };
        let audit = self.audit(
            caller,
            company,
            action,
            serde_json::json!({"allocated": before}),
            serde_json::json!({
                "allocated": pool.value.allocated,
                "import_id": job.id,
                "licence_type": progress.licence_type,
                "reserved": progress.reserved,
            }),
        )?;
        let record = match version {
            Some(v) => repo::update(company, &job, v)?,
            None => repo::insert(company, &job)?,
        };
        let mut writes = vec![
            repo::update(company, &pool.value, pool.version)?,
            record,
            audit,
        ];
        writes.extend(extra);
        self.store().transact(writes).await?;
        Ok(Stored {
            value: job,
            version: version.map_or(1, |v| v + 1),
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

    /// Runs a job's batches until it is done or `deadline` passes; the
    /// members this call renewed come back with it.
    pub(super) async fn run_batches(
        &self,
        caller: &Caller,
        tenant: &Tenant,
        mut job: Stored<Import>,
        deadline: Option<Instant>,
    ) -> Result<(Stored<Import>, Vec<Email>), ServiceError> {
        let mut renewed = Vec::new();
        while job.value.status == ImportStatus::Committing {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let id = job.value.id.clone();
            let (next, batch) = self
                .retrying(|| self.renew_next_chunk(caller, tenant, &id))
                .await?;
            renewed.extend(batch);
            job = next;
        }
        Ok((job, renewed))
    }

    /// Renews the next batch in one transaction with the job's progress and
    /// its audit event; after the last, hands back seats reserved for
    /// members who stopped being expired in between (or whose list expired
    /// by TTL before its turn), and marks the job committed.
    async fn renew_next_chunk(
        &self,
        caller: &Caller,
        tenant: &Tenant,
        id: &ImportId,
    ) -> Result<(Stored<Import>, Vec<Email>), ServiceError> {
        let company = &tenant.company.value;
        let import: Stored<Import> = repo::load(self.store(), &import_key(tenant.id(), id))
            .await?
            .ok_or(ServiceError::NotFound { what: "import" })?;
        let mut next = import.value.clone();
        let kind = next.kind;
        let renew_chunks = next.renew_chunks;
        let Some(progress) = next
            .confirm
            .as_mut()
            .filter(|_| import.value.status == ImportStatus::Committing)
        else {
            return Ok((import, Vec::new()));
        };
        let licence_type = progress.licence_type.clone();
        let mut writes = Vec::new();
        let mut renewed = Vec::new();
        if progress.done_chunks < renew_chunks {
            let n = progress.done_chunks;
            let list = self
                .chunk(tenant.id(), &import.value, n)
                .await?
                .unwrap_or_default();
            let from = (progress.chunk_offset as usize).min(list.len());
            let batch = self.batch(tenant, &licence_type, &list[from..]).await?;
            writes.extend(batch.writes);
            renewed = batch.renewed;
            if from + batch.consumed < list.len() {
                progress.chunk_offset = u32::try_from(from + batch.consumed).unwrap_or(u32::MAX);
            } else {
                progress.done_chunks += 1;
                progress.chunk_offset = 0;
            }
            progress.renewed += renewed.len() as u32;
            let action = match kind {
                ImportKind::Csv => "import.confirm_batch",
                ImportKind::AllExpired => "seats.allocate_batch",
            };
            writes.push(self.audit(
                caller,
                company,
                action,
                serde_json::json!({"renewed": progress.renewed - renewed.len() as u32}),
                serde_json::json!({
                    "import_id": id,
                    "batch": n,
                    "renewed": progress.renewed,
                    "members": renewed,
                }),
            )?);
        } else {
            let unused = progress.reserved.saturating_sub(progress.renewed);
            if unused > 0 {
                let mut pool = self.pool(tenant, &licence_type).await?;
                pool.value.allocated = pool.value.allocated.saturating_sub(unused);
                writes.push(repo::update(company, &pool.value, pool.version)?);
            }
            next.status = ImportStatus::Committed;
        }
        writes.push(repo::update(company, &next, import.version)?);
        self.store().transact(writes).await?;
        Ok((
            Stored {
                value: next,
                version: import.version + 1,
            },
            renewed,
        ))
    }

    /// The next batch of a job's `list`: its still expired members renewed
    /// with a licence of `licence_type`, the co-term seats of other types
    /// they give up freed (as a named allocation frees them), and the counts
    /// kept in every pool their licences touch, read fresh and written back,
    /// changed or not (`rules::counts`). As many members as fit in one
    /// transaction with those pools, the job and its audit event:
    /// `consumed` says how far along `list` it got.
    async fn batch(
        &self,
        tenant: &Tenant,
        licence_type: &LicenceType,
        list: &[Email],
    ) -> Result<Batch, ServiceError> {
        let company = &tenant.company.value;
        let plan = &company.plan;
        let mut expired: HashMap<Email, Stored<Member>> = self
            .still_expired(tenant, list)
            .await?
            .into_iter()
            .map(|m| (m.value.email.clone(), m))
            .collect();
        let mut read = vec![self.pool(tenant, licence_type).await?];
        let mut taken: Vec<(Stored<Member>, Member)> = Vec::new();
        let mut consumed = 0;
        for email in list {
            let Some(stored) = expired.remove(email) else {
                consumed += 1;
                continue;
            };
            let mut other = None;
            if let Some(held) = &stored.value.licence {
                if !read
                    .iter()
                    .any(|p| p.value.licence_type == held.licence_type)
                {
                    match self.pool(tenant, &held.licence_type).await {
                        Ok(pool) => other = Some(pool),
                        // A type with no pool keeps no counts and holds no seat.
                        Err(ServiceError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            // The pools, this batch's members, the job and its audit event.
            if read.len() + usize::from(other.is_some()) + taken.len() + 3 > MAX_TRANSACTION_ITEMS {
                break;
            }
            read.extend(other);
            let mut member = stored.value.clone();
            member.licence = Some(new_licence(
                &read[0].value,
                plan,
                member.licence.as_ref(),
                tenant.today,
            ));
            taken.push((stored, member));
            consumed += 1;
        }
        let mut pools: Vec<SeatPool> = read.iter().map(|p| p.value.clone()).collect();
        let mut touched = Touched::default();
        for (before, after) in &taken {
            if let Some(held) = &before.value.licence {
                if held.licence_type != *licence_type && holds_co_term_seat(held, plan) {
                    free_co_term_seat(&mut pools, held, plan);
                }
            }
            let (held, holds) = (before.value.licence.as_ref(), after.licence.as_ref());
            recount(&mut pools, held, holds, &mut touched);
        }
        // Every pool read is written: the target's version moves with each
        // batch, so starting to keep counts never misses one.
        let mut writes = read
            .iter()
            .zip(&pools)
            .map(|(before, after)| repo::update(company, after, before.version))
            .collect::<Result<Vec<_>, _>>()?;
        let mut renewed = Vec::with_capacity(taken.len());
        for (before, after) in taken {
            writes.push(repo::update(company, &after, before.version)?);
            renewed.push(after.email);
        }
        Ok(Batch {
            writes,
            renewed,
            consumed,
        })
    }
}

/// One batch of a job, ready to go in a transaction with its progress.
struct Batch {
    writes: Vec<Write>,
    renewed: Vec<Email>,
    consumed: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{day, premium, t};

    /// The index's view of a member item gives the status and expired type
    /// that decoding the whole `Member` gives, for every kind of licence.
    #[test]
    fn the_index_reads_a_member_as_the_whole_member_does() {
        let held = |term| {
            Some(Licence {
                licence_type: t("gold"),
                term,
                allocated_on: day(2026, 1, 1),
            })
        };
        let licences = [
            None,
            held(LicenceTerm::Trial {
                ends_on: day(2026, 6, 1),
            }),
            held(LicenceTerm::Rolling {
                ends_on: day(2026, 6, 1),
            }),
            held(LicenceTerm::CoTerm { ends_on: None }),
            held(LicenceTerm::CoTerm {
                ends_on: Some(day(2026, 6, 1)),
            }),
        ];
        let plans = [
            premium(),
            Plan::Premium {
                term_start: None,
                renews_on: None,
            },
        ];
        for (n, licence) in licences.into_iter().enumerate() {
            let member = Member {
                email: Email::parse(&format!("m{n}@x.io")).unwrap(),
                name: "M\"\\ \u{e9}".into(),
                role: MemberRole::Learner,
                licence,
                added_at: Utc::now(),
            };
            let body = serde_json::to_string(&member).unwrap();
            for plan in &plans {
                for today in [day(2026, 5, 31), day(2026, 6, 1), day(2027, 5, 1)] {
                    let mut index = MemberIndex::with_capacity(1);
                    let view: MemberStatusView = serde_json::from_str(&body).unwrap();
                    index.insert(view, plan, today).unwrap();
                    let status = member.status(plan, today);
                    let listed = index.roster.find(member.email.as_str());
                    assert_eq!(listed.map(|l| l.status), Some(status), "{body} {today}");
                    let expired_type = member
                        .licence
                        .as_ref()
                        .filter(|_| status == LicenceStatus::Expired)
                        .map(|l| &l.licence_type);
                    assert_eq!(index.expired_type(&member.email), expired_type);
                }
            }
        }
    }
}
