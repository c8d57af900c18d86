//! `make bench`: the local server's throughput on loopback for the two reads
//! every page makes, `GET /v1/companies/{c}` (a manager) and `GET /v1/access`
//! (a learner), for companies of 1, 10 000 and 100 000 members on SQLite.
//! `wrk` (Debian's, installed by infra/scripts/bench.sh) drives each for
//! `BENCH_SECONDS` (5) on one thread. Prints one `figure` line per reading.
//!
//! Under `cargo test` (no `--bench` argument) it is a short pass: companies
//! of 1 and 100 members, one request each, checked for a 200, and no wrk.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use local_server::{router, Local, LocalConfig};
use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::model::Policy;
use seatkeeper_core::ports::{Clock, ItemStore};
use seatkeeper_core::service::Settings;
use seatkeeper_core::Seatkeeper;
use seatkeeper_edge::embedded;
use seatkeeper_test_support::fixtures::{
    account_manager, date, load_company, new_company, premium, seed_rolling_learners, standard_pool,
};
use seatkeeper_test_support::mail::NoMail;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A seeded company and who reads it.
struct Company {
    members: usize,
    id: String,
    manager: String,
    learner: String,
}

/// Creates one company per size, each with that many rolling learners.
async fn seed(dir: &std::path::Path, sizes: &[usize]) -> Result<Vec<Company>, Error> {
    embedded::data_dir(dir)?;
    let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::open(&embedded::sqlite_path(dir))?);
    let clock: Arc<dyn Clock> = Arc::new(seatkeeper_core::ports::ManualClock::default());
    let svc = Seatkeeper::new(store.clone(), clock, Arc::new(NoMail), Settings::default());
    let mut companies = Vec::new();
    for &members in sizes {
        let domain = format!("size{members}.co");
        let manager = format!("lead@{domain}");
        let input = new_company(format!("Company of {members}"))
            .plan(premium("2026-04-01"))
            .pool(standard_pool(Policy::Rolling12Months, members as u32 + 1))
            .manager(manager.as_str(), "Lead")
            .build();
        let id = svc
            .create_company(&account_manager(), input)
            .await?
            .company
            .id;
        let company = load_company(store.as_ref(), &id).await;
        let learners =
            (0..members).map(|i| (format!("learner{i:06}@{domain}"), date("2027-10-01")));
        seed_rolling_learners(store.as_ref(), &company, date("2026-10-01"), learners).await;
        companies.push(Company {
            members,
            id: id.as_str().to_string(),
            manager,
            learner: format!("learner000000@{domain}"),
        });
    }
    Ok(companies)
}

/// A bearer token from the local server's `POST /local/token`.
async fn token(
    client: &reqwest::Client,
    base: &str,
    role: &str,
    email: &str,
    company: &str,
) -> Result<String, Error> {
    let body = serde_json::json!({ "email": email, "role": role, "company_id": company });
    let answer: serde_json::Value = client
        .post(format!("{base}/local/token"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    answer["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "no token in the answer".into())
}

/// wrk's requests per second and mean latency for one URL.
fn drive(url: &str, token: &str, seconds: u32) -> Result<(f64, String), Error> {
    let output = Command::new("wrk")
        .args(["-t1", "-c16", &format!("-d{seconds}s"), "--latency"])
        .args(["-H", &format!("Authorization: Bearer {token}"), url])
        .output()
        .map_err(|e| format!("cannot run wrk ({e}); `make bench` installs it"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("wrk saw errors for {url}:\n{text}").into());
    }
    let field = |label: &str| {
        text.lines().find_map(|l| {
            l.trim()
                .strip_prefix(label)
                .map(|rest| rest.trim().to_string())
        })
    };
    let rate = field("Requests/sec:")
        .and_then(|r| r.parse::<f64>().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let latency = field("50%").unwrap_or_default();
    Ok((rate, latency))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Error> {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if full {
        &[1, 10_000, 100_000]
    } else {
        &[1, 100]
    };
    let seconds: u32 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::TempDir::new()?;
    let seeding = Instant::now();
    let companies = seed(dir.path(), sizes).await?;
    println!(
        "seeded companies of {sizes:?} members in {:.1?}",
        seeding.elapsed()
    );

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let local = Local::open(&LocalConfig {
        data_dir: dir.path().to_path_buf(),
        base_url: base.clone(),
    })?;
    tokio::spawn(async move { axum::serve(listener, router(local)).await });
    let client = reqwest::Client::new();

    for company in &companies {
        let manager = token(&client, &base, "manager", &company.manager, &company.id).await?;
        let learner = token(&client, &base, "learner", &company.learner, &company.id).await?;
        let reads = [
            (
                "companies",
                format!("{base}/v1/companies/{}", company.id),
                manager,
            ),
            ("access", format!("{base}/v1/access"), learner),
        ];
        for (name, url, token) in reads {
            let answer = client.get(&url).bearer_auth(&token).send().await?;
            if !answer.status().is_success() {
                return Err(format!("{url} answered {}", answer.status()).into());
            }
            if !full {
                continue;
            }
            let (rate, median) =
                tokio::task::spawn_blocking(move || drive(&url, &token, seconds)).await??;
            println!(
                "GET {name} at {} members: {rate:.0} req/s, median {median}",
                company.members
            );
            println!("figure\thttp.{name}.{}\t{rate:.0}", company.members);
        }
    }
    Ok(())
}
