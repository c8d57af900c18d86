//! `make bench`: a 100 000-row CSV (about 4 MB) against a company of
//! 100 000 members, on SQLite and local files (release build). Prints the
//! time to preview and to confirm, and the process's peak memory before the
//! file is read (the member index) and after (the preview, streaming).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::Utc;
use seatkeeper_adapters::local_files::LocalObjects;
use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::csv_import::Limits;
use seatkeeper_core::dates::parse_date;
use seatkeeper_core::model::{Company, Licence, LicenceTerm, Member, MemberRole, Policy};
use seatkeeper_core::ports::{
    ItemStore, MailError, Mailer, ManualClock, OutgoingEmail, UploadTarget,
};
use seatkeeper_core::service::{NewCompany, NewManager, NewPlan, NewPool, Settings};
use seatkeeper_core::types::{Email, LicenceType};
use seatkeeper_core::{repo, Caller, Role, Seatkeeper};

const MEMBERS: usize = 100_000;

struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn send(&self, _: &OutgoingEmail) -> Result<(), MailError> {
        Ok(())
    }
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::TempDir::new()?;
    let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::open(&dir.path().join("bench.sqlite"))?);
    let clock = Arc::new(ManualClock::at(parse_date("2026-11-22").ok_or("date")?));
    let svc = Seatkeeper::new(store.clone(), clock, Arc::new(NoMail), Settings::default());
    let objects = LocalObjects::new(dir.path().join("s3"), "imports", "http://127.0.0.1:3000");
    let am = Caller {
        user_id: "am".into(),
        email: Email::parse("am@vendor.io")?,
        role: Role::AccountManager,
        company_id: None,
        partner_id: None,
    };
    let input = NewCompany {
        name: "Big Co".into(),
        timezone: None,
        account_manager_email: "am@vendor.io".into(),
        min_seats_at_renewal: None,
        plan: NewPlan::Premium {
            term_start: "2026-04-01".into(),
            term_months: None,
        },
        licence_types: vec![NewPool {
            licence_type: "standard".into(),
            policy: Policy::Rolling12Months,
            annual_fee_minor: 12_000,
            currency: "GBP".into(),
            seats: (MEMBERS + 1) as u32 * 2,
        }],
        managers: vec![NewManager {
            email: "lead@big.co".into(),
            name: "Lead".into(),
        }],
    };
    let id = svc.create_company(&am, input).await?.company.id;
    let company: Company = repo::load(store.as_ref(), &repo::company_key(&id))
        .await?
        .map(|s| s.value)
        .ok_or("no company")?;
    let seeding = Instant::now();
    let mut writes = Vec::with_capacity(MEMBERS);
    for i in 0..MEMBERS {
        let member = Member {
            email: Email::parse(&format!("learner{i:06}@big.co"))?,
            name: "Learner".into(),
            role: MemberRole::Learner,
            licence: Some(Licence {
                licence_type: LicenceType::parse("standard")?,
                term: LicenceTerm::Rolling {
                    ends_on: parse_date("2026-10-01").ok_or("date")?,
                },
                allocated_on: parse_date("2025-10-01").ok_or("date")?,
            }),
            added_at: Utc::now(),
        };
        writes.push(repo::insert(&company, &member)?);
    }
    for chunk in writes.chunks(100) {
        store.transact(chunk.to_vec()).await?;
    }
    drop(writes);
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

    let ticket = svc.create_import(&am, id.as_str(), None, &objects).await?;
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
