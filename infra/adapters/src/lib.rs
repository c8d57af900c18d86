//! Adapters.

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
