//! Adapters.

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;

#[cfg(feature = "outbox")]
pub mod outbox;

#[cfg(feature = "ses")]
pub mod ses;
