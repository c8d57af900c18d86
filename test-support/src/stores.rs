//! A fresh, empty store per test, on either adapter.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use seatkeeper_adapters::dynamodb::table::create_table;
use seatkeeper_adapters::dynamodb::DynamoStore;
use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::ports::ItemStore;

use crate::aws::emulator_config;
use crate::emulator::DYNAMODB_LOCAL;

/// A store for one test, and whatever must live as long as it does.
pub struct Fixture {
    pub store: Arc<dyn ItemStore>,
    _keep_alive: Box<dyn Any + Send + Sync>,
}

/// A new SQLite database file in a temporary directory.
pub async fn sqlite() -> Fixture {
    let dir = tempfile::TempDir::new().expect("create a temporary directory");
    let store = SqliteStore::open(&dir.path().join("store.sqlite")).expect("open the SQLite store");
    Fixture {
        store: Arc::new(store),
        // The directory, and so the database file, lives as long as the store.
        _keep_alive: Box::new(dir),
    }
}

/// A new table in the process's DynamoDB Local, started on first use.
pub async fn dynamodb() -> Fixture {
    let endpoint = DYNAMODB_LOCAL.get().await.endpoint();
    let client = aws_sdk_dynamodb::Client::new(&emulator_config(endpoint));

    static NEXT_TABLE: AtomicU64 = AtomicU64::new(0);
    let table = format!(
        "seatkeeper-{}-{}",
        std::process::id(),
        NEXT_TABLE.fetch_add(1, Ordering::Relaxed)
    );
    create_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("create the DynamoDB table {table}: {e}"));
    Fixture {
        store: Arc::new(DynamoStore::new(client, table)),
        // The server outlives every test; an in-memory table needs no cleanup.
        _keep_alive: Box::new(()),
    }
}
