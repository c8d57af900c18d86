//! Seatkeeper's core: the licence domain and its rules as pure functions,
//! the ports the outside world plugs into, and the use-case services
//! generic over those ports. No AWS SDK and no Lambda crate may enter here;
//! adapters live in `infra/adapters`.

pub mod access;
pub mod caller;
pub mod csv_import;
pub mod dates;
pub mod emails;
pub mod error;
pub mod model;
pub mod ports;
pub mod pricing;
pub mod repo;
pub mod rules;
pub mod service;
#[cfg(test)]
mod test_fixtures;
pub mod types;

pub use caller::{Caller, Role};
pub use error::ServiceError;
pub use service::Seatkeeper;
pub use service::{expiry, imports};
