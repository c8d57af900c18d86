//! `make bench`: a 100 000-row CSV (about 4 MB) against a company of
//! 100 000 members, on SQLite and local files (release build). Prints the
//! time to preview and to confirm, and the process's peak memory before the
//! file is read (the member index) and after (the preview, streaming).

use std::sync::Arc;
use std::time::Instant;

use seatkeeper_adapters::local_files::LocalObjects;
use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::csv_import::Limits;
use seatkeeper_core::model::Policy;
use seatkeeper_core::ports::{ItemStore, ManualClock, UploadTarget};
use seatkeeper_core::service::Settings;
use seatkeeper_core::Seatkeeper;
use seatkeeper_test_support::fixtures::{
    account_manager, date, load_company, new_company, premium, seed_rolling_learners, standard_pool,
};
use seatkeeper_test_support::mail::NoMail;

const MEMBERS: usize = 100_000;

/// The process's peak resident memory so far (Linux `VmHWM`), in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::TempDir::new()?;
    let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::open(&dir.path().join("bench.sqlite"))?);
    let clock = Arc::new(ManualClock::at(date("2026-11-22")));
    let svc = Seatkeeper::new(store.clone(), clock, Arc::new(NoMail), Settings::default());
    let objects = LocalObjects::new(dir.path().join("s3"), "imports", "http://127.0.0.1:3000");
    let am = account_manager();
    let input = new_company("Big Co")
        .timezone(None)
        .plan(premium("2026-04-01"))
        .pool(standard_pool(
            Policy::Rolling12Months,
            (MEMBERS + 1) as u32 * 2,
        ))
        .manager("lead@big.co", "Lead")
        .build();
    let id = svc.create_company(&am, input).await?.company.id;
    let company = load_company(store.as_ref(), &id).await;
    let seeding = Instant::now();
    let learners = (0..MEMBERS).map(|i| (format!("learner{i:06}@big.co"), date("2026-10-01")));
    seed_rolling_learners(store.as_ref(), &company, date("2025-10-01"), learners).await;
    let mut csv = String::from("Name,Email,Team\n");
    for i in 0..MEMBERS {
        csv.push_str(&format!(
            "Learner {i},learner{i:06}@big.co,Team {}\n",
            i % 40
        ));
    }
    println!(
        "seeded {MEMBERS} expired members in {:.1?}; CSV of {MEMBERS} rows is {:.1} MB",
        seeding.elapsed(),
        csv.len() as f64 / 1e6
    );

    let ticket = svc
        .create_import(&am, id.as_str(), None, None, &objects)
        .await?;
    let key = seatkeeper_core::imports::object_key(&id, &ticket.import_id);
    objects.put(objects.bucket(), &key, csv.as_bytes()).await?;
    drop(csv);
    let before = peak_mib();
    let started = Instant::now();
    let outcome = svc
        .preview_upload(&key, Some("etag-1"), &objects, "imports", Limits::default())
        .await?;
    let preview_time = started.elapsed();
    let after = peak_mib();
    let view = svc
        .get_import(&am, id.as_str(), ticket.import_id.as_str())
        .await?;
    println!("preview: {preview_time:.1?} ({outcome:?}; rows {}, to_renew {}); peak memory {before:.0} MiB before reading the file, {after:.0} MiB after", view.counts.rows, view.counts.to_renew);
    let started = Instant::now();
    let confirmed = svc
        .confirm_import(
            &am,
            id.as_str(),
            ticket.import_id.as_str(),
            "standard",
            None,
        )
        .await?;
    println!(
        "confirm: {:.1?} ({} renewed, {:?}; pool allocated {})",
        started.elapsed(),
        confirmed.renewed,
        confirmed.status,
        confirmed.pool.allocated
    );
    if view.counts.to_renew != MEMBERS as u64 || confirmed.renewed as usize != MEMBERS {
        return Err("the counts are off".into());
    }
    Ok(())
}
