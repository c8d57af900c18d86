//! `seatkeeper-local`: the whole API on 127.0.0.1:3000, on SQLite.
//! `SEATKEEPER_PORT` and `SEATKEEPER_DATA_DIR` override the port and the
//! data directory (default `./data`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use local_server::{router, Local, LocalConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("SEATKEEPER_PORT") {
        Ok(raw) => raw
            .parse()
            .map_err(|_| format!("SEATKEEPER_PORT must be a port number, got {raw:?}"))?,
        Err(_) => 3000,
    };
    let data_dir = std::env::var_os("SEATKEEPER_DATA_DIR")
        .map_or_else(|| PathBuf::from("data"), PathBuf::from);
    let base_url = format!("http://127.0.0.1:{port}");
    let local = Local::open(&LocalConfig {
        data_dir: data_dir.clone(),
        base_url: base_url.clone(),
    })?;
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!(
        "Seatkeeper listening on {base_url} (data in {})",
        data_dir.display()
    );
    axum::serve(listener, router(local))
        .with_graceful_shutdown(async {
            // Ctrl-C stops the server; in-flight requests finish first.
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
