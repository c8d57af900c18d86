//! Emulator servers on free loopback ports, one of each per test process,
//! run by the scripts in infra/scripts/ (`SCRIPT install`, then
//! `SCRIPT start PORT --watch PID`).

use std::fs::File;
use std::io::{Read, Seek};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// DynamoDB Local, for the contract suite and the AWS tests.
pub static DYNAMODB_LOCAL: Shared = Shared::new(
    "DynamoDB Local",
    "infra/scripts/dynamodb-local.sh",
    Duration::from_secs(90),
);

/// moto's server: SES v2 and S3, for the AWS tests.
pub static MOTO: Shared = Shared::new("moto", "infra/scripts/moto.sh", Duration::from_secs(60));

/// A running emulator.
pub struct Emulator {
    pub address: SocketAddr,
    // Never killed from here: statics are not dropped at exit. The script
    // watches this process and stops the emulator once it is gone.
    _process: Child,
}

impl Emulator {
    /// The endpoint URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// One emulator shared by every test of the process, started on first use.
pub struct Shared {
    name: &'static str,
    script: &'static str,
    startup_timeout: Duration,
    server: OnceLock<Result<Emulator, String>>,
}

impl Shared {
    const fn new(name: &'static str, script: &'static str, startup_timeout: Duration) -> Self {
        Self {
            name,
            script,
            startup_timeout,
            server: OnceLock::new(),
        }
    }

    /// The emulator, starting it on the first call; panics if it cannot
    /// start. A failed start is remembered, so every test reports it quickly.
    pub async fn get(&'static self) -> &'static Emulator {
        // Start-up blocks; and a std OnceLock, unlike a tokio cell, is shared
        // by the runtimes of tests running in parallel.
        let server = tokio::task::spawn_blocking(move || {
            self.server
                .get_or_init(|| start(self.name, self.script, self.startup_timeout))
        })
        .await
        .unwrap_or_else(|e| panic!("the {} start-up task panicked: {e}", self.name));
        match server {
            Ok(server) => server,
            Err(error) => panic!("{} is not available: {error}", self.name),
        }
    }
}

/// Installs and starts the emulator of `script` (a path under
/// infra/scripts/), and waits until it listens; on failure, the error
/// names it `name` and carries the script's output.
fn start(name: &str, script: &str, startup_timeout: Duration) -> Result<Emulator, String> {
    // This crate sits one level below the workspace's root.
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(script);
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
    // An unnamed temporary file: the server's output, shown if it fails to
    // start, and gone with the last process that holds it.
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
    let deadline = Instant::now() + startup_timeout;
    let failure = loop {
        match process.try_wait() {
            Ok(Some(status)) => break format!("it exited during start-up ({status})"),
            Ok(None) => {}
            Err(e) => break format!("cannot watch it: {e}"),
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(Emulator {
                address,
                _process: process,
            });
        }
        if Instant::now() > deadline {
            break format!("it did not listen on {address} within {startup_timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // SIGTERM, not Child::kill's SIGKILL: the script's trap then stops the
    // emulator.
    let _ = Command::new("kill").arg(process.id().to_string()).status();
    let _ = process.wait();
    let mut output = String::new();
    let _ = log.rewind().and_then(|_| log.read_to_string(&mut output));
    Err(format!("{name}: {failure}; its output:\n{output}"))
}
