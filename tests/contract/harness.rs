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
    use std::fs::File;
    use std::io::{Read, Seek};
    use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

    struct Server {
        endpoint: String,
        // Never killed from here: statics are not dropped at exit. The script
        // watches this process and stops Java once it is gone.
        _process: Child,
    }

    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

    /// The endpoint URL, starting the server on the first call. A failed
    /// start is remembered, so that every test reports it quickly.
    pub fn get() -> Result<&'static str, &'static str> {
        match SERVER.get_or_init(start) {
            Ok(server) => Ok(&server.endpoint),
            Err(error) => Err(error),
        }
    }

    fn start() -> Result<Server, String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/scripts/dynamodb-local.sh");
        // Install first, outside the start-up timeout: the first run downloads.
        let install = Command::new("bash")
            .arg(&script)
            .arg("install")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("run {}: {e}", script.display()))?;
        if !install.status.success() {
            return Err(format!(
                "{} install failed ({}): {}",
                script.display(),
                install.status,
                String::from_utf8_lossy(&install.stderr)
            ));
        }

        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .map_err(|e| format!("find a free port: {e}"))?
            .port();
        // An unnamed temporary file: the server's output, shown if it fails
        // to start, and gone with the last process that holds it.
        let mut log = tempfile::tempfile().map_err(|e| format!("create a log file: {e}"))?;
        let output = |log: &File| {
            log.try_clone()
                .map(Stdio::from)
                .map_err(|e| format!("share the log file: {e}"))
        };
        let mut process = Command::new("bash")
            .arg(&script)
            .args(["start", &port.to_string(), "--watch"])
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(output(&log)?)
            .stderr(output(&log)?)
            .spawn()
            .map_err(|e| format!("start {}: {e}", script.display()))?;

        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let failure = loop {
            match process.try_wait() {
                Ok(Some(status)) => break format!("it exited during start-up ({status})"),
                Ok(None) => {}
                Err(e) => break format!("cannot watch it: {e}"),
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(Server {
                    endpoint: format!("http://{address}"),
                    _process: process,
                });
            }
            if Instant::now() > deadline {
                break format!("it did not listen on {address} within {STARTUP_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        // SIGTERM, not Child::kill's SIGKILL: the script's trap then stops Java.
        let _ = Command::new("kill").arg(process.id().to_string()).status();
        let _ = process.wait();
        let mut output = String::new();
        let _ = log.rewind().and_then(|_| log.read_to_string(&mut output));
        Err(format!("DynamoDB Local: {failure}; its output:\n{output}"))
    }
}
