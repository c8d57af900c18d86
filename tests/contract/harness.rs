//! Test fixtures: a fresh, empty store per test.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use seatkeeper_adapters::dynamodb::table::create_table;
use seatkeeper_adapters::dynamodb::DynamoStore;
use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::ports::ItemStore;

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

/// A new table in the shared DynamoDB Local process, started on first use.
pub async fn dynamodb() -> Fixture {
    // Start-up blocks; and a std OnceLock, unlike a tokio cell, is shared by
    // the runtimes of tests running in parallel.
    let local = tokio::task::spawn_blocking(dynamodb_local::get)
        .await
        .expect("the DynamoDB Local start-up task panicked");
    let endpoint = match local {
        Ok(endpoint) => endpoint,
        Err(error) => panic!("DynamoDB Local is not available: {error}"),
    };
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        // A hung server fails the test instead of hanging it.
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);

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

/// The one DynamoDB Local of this test process, on a free loopback port.
mod dynamodb_local {
    use std::sync::OnceLock;
    use std::time::Duration;

    use crate::emulator::{self, Emulator};

    const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

    static SERVER: OnceLock<Result<Emulator, String>> = OnceLock::new();

    /// The endpoint URL, starting the server on the first call. A failed
    /// start is remembered, so that every test reports it quickly.
    pub fn get() -> Result<String, &'static str> {
        let server = SERVER.get_or_init(|| {
            emulator::start(
                "DynamoDB Local",
                "infra/scripts/dynamodb-local.sh",
                STARTUP_TIMEOUT,
            )
        });
        match server {
            Ok(server) => Ok(server.endpoint()),
            Err(error) => Err(error),
        }
    }
}
