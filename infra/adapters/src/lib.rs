//! Adapters.

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "dynamodb")]
pub mod aws_sdk;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;

#[cfg(feature = "outbox")]
pub mod outbox;

#[cfg(feature = "ses")]
pub mod ses;

#[cfg(feature = "s3")]
pub mod s3;

#[cfg(feature = "local-files")]
pub mod local_files;
