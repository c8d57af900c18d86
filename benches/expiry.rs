//! `make bench`: the daily expiry check over 100 000 members with 1 000
//! due, on the SQLite store (release build). Prints the seed time, the run's
//! time and what it read. Not a test: it asserts nothing but sanity. Under
//! `cargo test` (no `--bench` argument) a short pass: 1 000 members, 100 due.

use std::sync::Arc;
use std::time::Instant;

use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::model::Policy;
use seatkeeper_core::ports::{ItemStore, ManualClock};
use seatkeeper_core::service::Settings;
use seatkeeper_core::Seatkeeper;
use seatkeeper_test_support::fixtures::{
    account_manager, at, date, load_company, new_company, premium, seed_rolling_learners,
    standard_pool,
};
use seatkeeper_test_support::mail::RecordingMailer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (members, due) = if std::env::args().any(|a| a == "--bench") {
        (100_000, 1_000)
    } else {
        (1_000, 100)
    };
    let dir = tempfile::TempDir::new()?;
    let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::open(&dir.path().join("bench.sqlite"))?);
    let clock = Arc::new(ManualClock::default());
    clock.set_now(at("2026-01-01T09:00:00Z"));
    let mailer = Arc::new(RecordingMailer::default());
    let svc = Seatkeeper::new(
        store.clone(),
        clock.clone(),
        mailer.clone(),
        Settings::default(),
    );
    let am = account_manager();
    // 100 companies of 1 000 members: 10 members of each are due on the day.
    let seeding = Instant::now();
    for c in 0..100 {
        let timezone = if c % 2 == 0 {
            "Europe/London"
        } else {
            "America/New_York"
        };
        let input = new_company(format!("Company {c}"))
            .timezone(Some(timezone))
            .plan(premium("2026-01-01"))
            .pool(standard_pool(Policy::Rolling12Months, 1_000))
            .manager(format!("lead{c}@co.io"), "Lead")
            .build();
        let id = svc.create_company(&am, input).await?.company.id;
        let company = load_company(store.as_ref(), &id).await;
        let learners = (0..members / 100).map(|i| {
            let ends_on = if i < due / 100 {
                date("2026-06-10")
            } else {
                date("2026-07-01") + chrono::Days::new((i % 200) as u64)
            };
            (format!("u{i}@c{c}.io"), ends_on)
        });
        seed_rolling_learners(store.as_ref(), &company, date("2025-06-10"), learners).await;
    }
    println!(
        "seeded {members} members in 100 companies ({due} due on 2026-06-10) in {:.1?}",
        seeding.elapsed()
    );
    let warm = at("2026-06-09T12:00:00Z");
    clock.set_now(warm);
    svc.run_expiry_check(warm, None).await?;
    let now = at("2026-06-10T12:00:00Z");
    clock.set_now(now);
    let started = Instant::now();
    let report = svc.run_expiry_check(now, None).await?;
    let took = started.elapsed();
    println!(
        "daily-expiry-check: {:.1?} for {} due-index entries read, {} digests sent ({} e-mails in all), complete: {}",
        took,
        report.entries_read,
        report.sent,
        mailer.sent().len(),
        report.complete
    );
    println!("figure\texpiry.ms\t{:.1}", took.as_secs_f64() * 1e3);
    if report.entries_read != due as u64 {
        return Err(format!("expected {due} entries read, got {}", report.entries_read).into());
    }
    Ok(())
}
