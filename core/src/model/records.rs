//! What the service keeps besides the licences: CSV imports, the notices
//! it owes, and the audit trail.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::orders::{ActorRef, OrderKind};
use crate::ports::OutgoingEmail;
use crate::types::{
    CompanyId, Currency, Email, ImportId, LicenceType, OrderId, PartnerId, Quantity,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    AwaitingUpload,
    Previewed,
    /// Seats reserved, members being renewed in batches; a confirm resumes it.
    Committing,
    Committed,
    Failed,
    /// Previewed too long ago: its list of members to renew is gone (TTL).
    /// Shown, never stored; a new preview makes it current again.
    Expired,
}

/// What a bulk renewal came from: a CSV file, or "Select All" expired
/// members (which reuses the import's reserve-then-batches machinery).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    #[default]
    Csv,
    AllExpired,
}

/// A column of the uploaded file, with a few of its values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportColumn {
    pub name: String,
    pub samples: Vec<String>,
}

impl From<&str> for ImportColumn {
    fn from(name: &str) -> Self {
        Self {
            name: name.to_string(),
            samples: Vec::new(),
        }
    }
}

/// Reads imports stored before samples, whose columns were plain names.
impl<'de> Deserialize<'de> for ImportColumn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Name(String),
            Column {
                name: String,
                #[serde(default)]
                samples: Vec<String>,
            },
        }
        Ok(match Stored::deserialize(deserializer)? {
            Stored::Name(name) => Self {
                name,
                samples: Vec::new(),
            },
            Stored::Column { name, samples } => Self { name, samples },
        })
    }
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
    /// Expired members the file does not name: they stay expired.
    #[serde(default)]
    pub stay_expired: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProblem {
    pub row: u64,
    pub email: String,
    pub reason: String,
}

/// How long a preview's list of members to renew lives (a DynamoDB TTL):
/// past it the import can no longer be confirmed.
pub const IMPORT_TTL_DAYS: i64 = 14;

/// A CSV renewal: uploaded, previewed, then confirmed. A "Select All"
/// allocation is one too (`kind`), created straight into `committing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    pub id: ImportId,
    pub company_id: CompanyId,
    pub status: ImportStatus,
    #[serde(default)]
    pub kind: ImportKind,
    pub columns: Vec<ImportColumn>,
    pub email_column: Option<String>,
    /// The licence type named when the import was created, if any.
    #[serde(default)]
    pub licence_type: Option<LicenceType>,
    /// The pool the preview counted seats in (see `seats_licence_type`).
    #[serde(default)]
    pub seats_licence_type: Option<LicenceType>,
    /// When the list of members to renew was written; it lives
    /// [`IMPORT_TTL_DAYS`] from then.
    #[serde(default)]
    pub previewed_at: Option<DateTime<Utc>>,
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

/// The most an import's stored JSON may take: DynamoDB holds items of at
/// most 400 KB, and the item's other attributes need room too.
pub const MAX_IMPORT_ITEM_BYTES: usize = 300 * 1024;

impl Import {
    /// Keeps the stored record within [`MAX_IMPORT_ITEM_BYTES`], so that a
    /// file of long, non-ASCII bad rows still gets its preview recorded:
    /// the problems listed are cut first (`problems_total` still counts
    /// them all), then the column samples; the counts are never touched.
    pub fn fit_to_item(&mut self) {
        let size = |import: &Import| serde_json::to_vec(import).map_or(usize::MAX, |v| v.len());
        while size(self) > MAX_IMPORT_ITEM_BYTES && !self.problems.is_empty() {
            let keep = self.problems.len() / 2;
            self.problems.truncate(keep);
        }
        if size(self) > MAX_IMPORT_ITEM_BYTES {
            for column in &mut self.columns {
                column.samples.clear();
            }
        }
    }
}

/// A confirm in progress or done: the seats reserved up front, then the
/// batches of members written, each batch in one transaction with this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportConfirm {
    pub licence_type: LicenceType,
    pub reserved: u32,
    pub done_chunks: u32,
    pub renewed: u32,
    /// Where in the next chunk its first batch stopped, when the pools its
    /// members' licences touch left no room in one transaction for them all.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chunk_offset: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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
    /// Why the mail service refused it for good (no recipients, an address
    /// it will not take): kept, audited, and never sent again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked: Option<String>,
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

/// A partner (an MSP) as the vendor records it: who to tell about its
/// customers' order requests and trials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    pub id: PartnerId,
    pub name: String,
    pub contact_email: Email,
    pub updated_at: DateTime<Utc>,
}

/// A requested order as the helpdesk queue lists it. Written with the
/// order's request and deleted with its assign or cancel, in the same
/// transactions, so the queue is read without visiting any company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub company_id: CompanyId,
    pub company_name: String,
    pub partner_id: Option<PartnerId>,
    pub order_id: OrderId,
    pub kind: OrderKind,
    pub lines: Vec<QueueLine>,
    pub total_minor: i64,
    pub currency: Currency,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

/// One line of a queued order: what is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueLine {
    pub licence_type: LicenceType,
    pub quantity: Quantity,
}
