//! The store port on DynamoDB: one table (see [`table`]) holding every
//! item, with two global secondary indexes for [`Index::Due`] and
//! [`Index::Partner`].
//!
//! [`Index::Due`]: seatkeeper_core::ports::Index::Due
//! [`Index::Partner`]: seatkeeper_core::ports::Index::Partner

mod errors;
mod store;
pub mod table;

pub use store::DynamoStore;
