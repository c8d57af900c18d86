//! The use cases, generic over the ports, one file per area. Every check of
//! role and tenancy, every rule and every write goes through here, whichever
//! edge called.
//!
//! - `context`: the service, the tenant a request acts on, audit, notices,
//!   retries — what every use case shares;
//! - `inputs` and `views`: what the use cases take and answer;
//! - `companies`, `admin`, `members`, `seats`, `orders`, `queue`,
//!   `allocation`, `imports`, `expiry`: the use cases themselves, each an
//!   `impl Seatkeeper` block.
//!
//! The rules they apply are pure functions in [`crate::rules`].

mod admin;
mod allocation;
mod companies;
mod context;
pub mod expiry;
pub mod imports;
mod inputs;
mod members;
mod orders;
mod queue;
mod seats;
mod views;

pub use context::{Seatkeeper, Settings};
pub use inputs::{
    Allocation, AllocationRequest, AssignRequest, CompanyChanges, ConfirmImportRequest,
    ImportRequest, LicenceTypeSettings, LineRequest, MemberChanges, NewCompany, NewManager,
    NewMember, NewPlan, NewPool, OrderRequest, PartnerSettings, RepreviewRequest, TransferRequest,
    MAX_EMAILS_PER_ALLOCATION, MAX_PAGE, MIN_SEATS_AT_RENEWAL_RANGE,
};
pub use seats::{ReleaseWhen, Released, Transferred};
pub use views::{
    Allocated, AllocationProgress, Assignment, CompanyView, JobStatus, ListPage, MemberCounts,
    MemberView, PoolView, QueuedOrder, SelectedAll,
};
