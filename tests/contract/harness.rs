//! Test fixtures: a fresh, empty store per test.

use std::any::Any;
use std::sync::Arc;

use seatkeeper_core::ports::ItemStore;

/// A store for one test, and whatever must live as long as it does.
pub struct Fixture {
    pub store: Arc<dyn ItemStore>,
    _keep_alive: Box<dyn Any + Send + Sync>,
}

/// A new SQLite database file in a temporary directory.
pub async fn sqlite() -> Fixture {
    todo!("sqlite fixture")
}

/// A new table in the shared DynamoDB Local process, started on first use.
pub async fn dynamodb() -> Fixture {
    todo!("dynamodb fixture")
}
