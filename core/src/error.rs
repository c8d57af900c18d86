//! The errors a use case can end in. Each has a stable machine-readable
//! `code`; the HTTP edge maps them to problem+json.

use chrono::NaiveDate;

use crate::model::OrderState;
use crate::ports::StoreError;
use crate::pricing::PricingError;
use crate::types::{Email, InvalidField, LicenceType};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(#[from] InvalidField),
    /// Missing, or belonging to a tenant the caller may not see.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("your role may not {action}")]
    Forbidden { action: &'static str },
    #[error("{needed} seats are needed but {available} are available")]
    NoSeatsAvailable { needed: u32, available: u32 },
    #[error("the order is {}, not requested", state.as_str())]
    OrderNotRequested { state: OrderState },
    #[error("the term ended on {renews_on}; the company must renew")]
    TermEnded { renews_on: NaiveDate },
    #[error("a renewal needs at least {minimum} seats, got {requested}")]
    BelowMinimumSeats { minimum: u32, requested: u32 },
    #[error("{allocated} {licence_type} holders carry into the next term; release {needed} at renewal before renewing for {requested}")]
    BelowAllocatedSeats {
        licence_type: LicenceType,
        allocated: u32,
        requested: u32,
        needed: u32,
    },
    #[error("this term is renewed already")]
    AlreadyRenewed { renews_on: Option<NaiveDate> },
    #[error("{email} holds no active licence to {action}")]
    NoActiveLicence { email: Email, action: &'static str },
    #[error("{email}'s licence is {policy}; {hint}")]
    WrongLicencePolicy {
        email: Email,
        policy: &'static str,
        hint: &'static str,
    },
    #[error("{email}'s seat is released at renewal already")]
    AlreadyReleased { email: Email },
    #[error("a company keeps at least one manager")]
    LastManager,
    #[error(
        "{licence_type} is {stored}; its {field} cannot change (add a new licence type instead)"
    )]
    LicenceTypeConflict {
        licence_type: LicenceType,
        field: &'static str,
        stored: String,
    },
    #[error("a {kind} order does not apply to a company on a {plan} plan")]
    WrongPlan {
        kind: &'static str,
        plan: &'static str,
    },
    #[error("{email} is already a member of this company")]
    MemberExists { email: Email },
    #[error("{} member(s) already hold an active licence of this type", emails.len())]
    AlreadyActive { emails: Vec<Email> },
    #[error("{} e-mail(s) are not members of this company", emails.len())]
    UnknownMembers { emails: Vec<Email> },
    #[error("the import is {status}; only a previewed import can be confirmed")]
    ImportNotPreviewed { status: String },
    #[error(
        "the import is {status}; only an uploaded import not yet confirmed can be previewed again"
    )]
    ImportNotPreviewable { status: String },
    /// Its list of members to renew has outlived its TTL: preview again.
    #[error("the preview is older than {days} days; preview the file again, or upload it again, before confirming")]
    ImportExpired { days: i64 },
    /// Retries on a contended item ran out; the caller may try again.
    #[error("too many concurrent changes; try again")]
    Busy,
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Invalid(_) => "validation_failed",
            ServiceError::NotFound { .. } => "not_found",
            ServiceError::Forbidden { .. } => "forbidden",
            ServiceError::NoSeatsAvailable { .. } => "no_seats_available",
            ServiceError::OrderNotRequested { .. } => "order_not_requested",
            ServiceError::TermEnded { .. } => "term_ended",
            ServiceError::BelowMinimumSeats { .. } => "below_minimum_seats",
            ServiceError::BelowAllocatedSeats { .. } => "below_allocated_seats",
            ServiceError::AlreadyRenewed { .. } => "already_renewed",
            ServiceError::NoActiveLicence { .. } => "no_active_licence",
            ServiceError::WrongLicencePolicy { .. } => "wrong_licence_policy",
            ServiceError::AlreadyReleased { .. } => "already_released",
            ServiceError::LastManager => "last_manager",
            ServiceError::LicenceTypeConflict { .. } => "licence_type_conflict",
            ServiceError::WrongPlan { .. } => "wrong_plan",
            ServiceError::MemberExists { .. } => "member_exists",
            ServiceError::AlreadyActive { .. } => "already_active",
            ServiceError::UnknownMembers { .. } => "unknown_members",
            ServiceError::ImportNotPreviewed { .. } => "import_not_previewed",
            ServiceError::ImportNotPreviewable { .. } => "import_not_previewable",
            ServiceError::ImportExpired { .. } => "import_expired",
            ServiceError::Busy => "busy",
            ServiceError::Store(StoreError::Throttled) => "throttled",
            ServiceError::Store(_) => "store_unavailable",
        }
    }

    /// Worth retrying the whole use case: a lost optimistic race.
    pub fn is_contention(&self) -> bool {
        matches!(
            self,
            ServiceError::Store(StoreError::Conflict | StoreError::Throttled)
        )
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ServiceError::Invalid(InvalidField::new(field, reason))
    }
}

impl From<PricingError> for ServiceError {
    fn from(error: PricingError) -> Self {
        match error {
            PricingError::TermEnded { renews_on } => ServiceError::TermEnded { renews_on },
            PricingError::WrongPlan { kind, plan } => ServiceError::WrongPlan { kind, plan },
        }
    }
}
