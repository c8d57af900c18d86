//! moto's server (one per test process, started on first use), SES
//! identities on it, and a reader of its state (`GET /moto-api/data.json`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use seatkeeper_test_support::emulator::MOTO;
use serde_json::Value;

const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The endpoint URL (`http://127.0.0.1:PORT`), starting the server on
/// first use; panics if moto cannot start.
pub async fn endpoint() -> String {
    MOTO.get().await.endpoint()
}

/// Every model moto holds, by service and class, e.g.
/// `{"ses": {"Message": [{"id", "source", "subject", "body", "destinations"}]}}`.
pub async fn data() -> Value {
    let address = MOTO.get().await.address;
    tokio::task::spawn_blocking(move || http_get_json(address, "/moto-api/data.json"))
        .await
        .expect("the moto read task panicked")
        .unwrap_or_else(|e| panic!("GET /moto-api/data.json: {e}"))
}

/// moto's SES messages sent to `to`.
pub async fn messages_to(to: &str) -> Vec<Value> {
    let data = data().await;
    data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|to_addresses| to_addresses.iter().any(|a| a == to))
        })
        .cloned()
        .collect()
}

/// Creates an SES identity, an address or a domain: moto verifies it at once.
pub async fn verify_identity(ses: &aws_sdk_sesv2::Client, identity: &str) {
    ses.create_email_identity()
        .email_identity(identity)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create the identity {identity}: {e:?}"));
}

/// A bare HTTP/1.0 GET: moto answers and closes, so the body is the rest.
fn http_get_json(address: SocketAddr, path: &str) -> Result<Value, String> {
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
