//! `make bench`: a 100 000-row CSV (about 4 MB) against a company of
//! 100 000 members, on SQLite and local files (release build). Prints the
//! time to preview and to confirm, the preview's throughput, and the peak
//! memory of a fresh process that does only the preview (this binary again,
//! with `preview DIR KEY`), as the import function's process would.
//!
//! Under `cargo test` (no `--bench` argument) it is a short pass of 1 000 rows.

use std::path::Path;
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

type Service = Seatkeeper<Arc<dyn ItemStore>, Arc<ManualClock>, Arc<NoMail>>;
type Error = Box<dyn std::error::Error>;

/// The service, its store and the local "S3" on the benchmark's directory.
struct Bench {
    svc: Service,
    store: Arc<dyn ItemStore>,
    objects: LocalObjects,
}

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

fn open(dir: &Path) -> Result<Bench, Error> {
    let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::open(&dir.join("bench.sqlite"))?);
    let clock = Arc::new(ManualClock::at(date("2026-11-22")));
    let svc = Seatkeeper::new(store.clone(), clock, Arc::new(NoMail), Settings::default());
    let objects = LocalObjects::new(dir.join("s3"), "imports", "http://127.0.0.1:3000");
    Ok(Bench {
        svc,
        store,
        objects,
    })
}

/// The child process: previews the uploaded `key` and prints its time and
/// this process's peak memory, one `figure` line each.
async fn preview_only(dir: &Path, key: &str) -> Result<(), Error> {
    let Bench { svc, objects, .. } = open(dir)?;
    let bytes = std::fs::read_to_string(dir.join("csv-bytes"))
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    let before = peak_mib();
    let started = Instant::now();
    let outcome = svc
        .preview_upload(key, Some("etag-1"), &objects, "imports", Limits::default())
        .await?;
    let took = started.elapsed();
    let after = peak_mib();
    println!(
        "preview: {took:.1?} ({outcome:?}), {:.1} MB/s; peak memory {before:.1} MiB before reading the file, {after:.1} MiB after",
        bytes / 1e6 / took.as_secs_f64()
    );
    println!("figure\timport.preview_s\t{:.3}", took.as_secs_f64());
    println!(
        "figure\timport.preview_mbps\t{:.1}",
        bytes / 1e6 / took.as_secs_f64()
    );
    println!("figure\timport.peak_mib\t{after:.1}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, dir, key] = args.as_slice() {
        if mode == "preview" {
            return preview_only(Path::new(dir), key).await;
        }
    }
    let members: usize = if args.iter().any(|a| a == "--bench") {
        100_000
    } else {
        1_000
    };
    let dir = tempfile::TempDir::new()?;
    let Bench {
        svc,
        store,
        objects,
    } = open(dir.path())?;
    let am = account_manager();
    let input = new_company("Big Co")
        .timezone(None)
        .plan(premium("2026-04-01"))
        .pool(standard_pool(
            Policy::Rolling12Months,
            (members + 1) as u32 * 2,
        ))
        .manager("lead@big.co", "Lead")
        .build();
    let id = svc.create_company(&am, input).await?.company.id;
    let company = load_company(store.as_ref(), &id).await;
    let seeding = Instant::now();
    let learners = (0..members).map(|i| (format!("learner{i:06}@big.co"), date("2026-10-01")));
    seed_rolling_learners(store.as_ref(), &company, date("2025-10-01"), learners).await;
    let mut csv = String::from("Name,Email,Team\n");
    for i in 0..members {
        csv.push_str(&format!(
            "Learner {i},learner{i:06}@big.co,Team {}\n",
            i % 40
        ));
    }
    println!(
        "seeded {members} expired members in {:.1?}; CSV of {members} rows is {:.1} MB",
        seeding.elapsed(),
        csv.len() as f64 / 1e6
    );

    let ticket = svc
        .create_import(&am, id.as_str(), None, None, &objects)
        .await?;
    let key = seatkeeper_core::imports::object_key(&id, &ticket.import_id);
    objects.put(objects.bucket(), &key, csv.as_bytes()).await?;
    std::fs::write(dir.path().join("csv-bytes"), csv.len().to_string())?;
    drop(csv);
    let child = std::process::Command::new(std::env::current_exe()?)
        .arg("preview")
        .arg(dir.path())
        .arg(&key)
        .output()?;
    print!("{}", String::from_utf8_lossy(&child.stdout));
    if !child.status.success() {
        return Err(format!(
            "the preview failed: {}",
            String::from_utf8_lossy(&child.stderr)
        )
        .into());
    }
    let view = svc
        .get_import(&am, id.as_str(), ticket.import_id.as_str())
        .await?;
    println!(
        "previewed rows {}, to_renew {}",
        view.counts.rows, view.counts.to_renew
    );
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
    let took = started.elapsed();
    println!(
        "confirm: {took:.1?} ({} renewed, {:?}; pool allocated {})",
        confirmed.renewed, confirmed.status, confirmed.pool.allocated
    );
    println!("figure\timport.confirm_s\t{:.3}", took.as_secs_f64());
    if view.counts.to_renew != members as u64 || confirmed.renewed as usize != members {
        return Err("the counts are off".into());
    }
    Ok(())
}
