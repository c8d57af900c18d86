//! The one moto server of this test process, on a free loopback port, and
//! a reader of its state (`GET /moto-api/data.json`).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

struct Server {
    address: SocketAddr,
    endpoint: String,
    // Never killed from here: statics are not dropped at exit. The script
    // watches this process and stops moto once it is gone.
    _process: Child,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// The endpoint URL (`http://127.0.0.1:PORT`), starting the server on
/// first use; panics if moto cannot start.
pub async fn endpoint() -> &'static str {
    &server().await.endpoint
}

/// Every model moto holds, by service and class, e.g.
/// `{"ses": {"Message": [{"id", "source", "subject", "body", "destinations"}]}}`.
pub async fn data() -> serde_json::Value {
    let address = server().await.address;
    tokio::task::spawn_blocking(move || http_get_json(address, "/moto-api/data.json"))
        .await
        .expect("the moto read task panicked")
        .unwrap_or_else(|e| panic!("GET /moto-api/data.json: {e}"))
}

async fn server() -> &'static Server {
    // Start-up blocks; and a std OnceLock, unlike a tokio cell, is shared by
    // the runtimes of tests running in parallel. A failed start is
    // remembered, so that every test reports it quickly.
    let server = tokio::task::spawn_blocking(|| SERVER.get_or_init(start))
        .await
        .expect("the moto start-up task panicked");
    match server {
        Ok(server) => server,
        Err(error) => panic!("moto is not available: {error}"),
    }
}

/// A bare HTTP/1.0 GET: moto answers and closes, so the body is the rest.
fn http_get_json(address: SocketAddr, path: &str) -> Result<serde_json::Value, String> {
    let mut stream = TcpStream::connect_timeout(&address, READ_TIMEOUT)
        .map_err(|e| format!("connect to {address}: {e}"))?;
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nAccept: application/json\r\n\r\n"
    )
    .map_err(|e| format!("send the request: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("read the response: {e}"))?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers in the response")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let status_line = head.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) != Some("200") {
        return Err(format!("unexpected status: {status_line}"));
    }
    serde_json::from_slice(&response[split + 4..]).map_err(|e| format!("not JSON: {e}"))
}

fn start() -> Result<Server, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/scripts/moto.sh");
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
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let failure = loop {
        match process.try_wait() {
            Ok(Some(status)) => break format!("it exited during start-up ({status})"),
            Ok(None) => {}
            Err(e) => break format!("cannot watch it: {e}"),
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(Server {
                address,
                endpoint: format!("http://{address}"),
                _process: process,
            });
        }
        if Instant::now() > deadline {
            break format!("it did not listen on {address} within {STARTUP_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // SIGTERM, not Child::kill's SIGKILL: the script's trap then stops moto.
    let _ = Command::new("kill").arg(process.id().to_string()).status();
    let _ = process.wait();
    let mut output = String::new();
    let _ = log.rewind().and_then(|_| log.read_to_string(&mut output));
    Err(format!("moto: {failure}; its output:\n{output}"))
}
