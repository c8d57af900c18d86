//! `make bench`: the daily expiry check over 100 000 members with 1 000
//! due, on the SQLite store (release build). Prints the seed time, the run's
//! time and what it read. Not a test: it asserts nothing but sanity.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::dates::parse_date;
use seatkeeper_core::model::{Company, Licence, LicenceTerm, Member, MemberRole, Policy};
use seatkeeper_core::ports::{ItemStore, MailError, Mailer, ManualClock, OutgoingEmail};
use seatkeeper_core::service::{NewCompany, NewManager, NewPlan, NewPool, Settings};
use seatkeeper_core::types::{Email, LicenceType};
use seatkeeper_core::{repo, Caller, Role, Seatkeeper};

const MEMBERS: usize = 100_000;
const DUE: usize = 1_000;

#[derive(Default)]
struct CountingMailer(AtomicUsize);

#[async_trait]
impl Mailer for CountingMailer {
    async fn send(&self, _: &OutgoingEmail) -> Result<(), MailError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::TempDir::new()?;
    let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::open(&dir.path().join("bench.sqlite"))?);
    let clock = Arc::new(ManualClock::default());
    clock.set_now(at("2026-01-01T09:00:00Z"));
    let mailer = Arc::new(CountingMailer::default());
    let svc = Seatkeeper::new(
        store.clone(),
        clock.clone(),
        mailer.clone(),
        Settings::default(),
    );
    let am = Caller {
        user_id: "am".into(),
        email: Email::parse("am@vendor.io")?,
        role: Role::AccountManager,
        company_id: None,
        partner_id: None,
    };
    // 100 companies of 1 000 members: 10 members of each are due on the day.
    let seeding = Instant::now();
    for c in 0..100 {
        let input = NewCompany {
            name: format!("Company {c}"),
            timezone: Some(
                if c % 2 == 0 {
                    "Europe/London"
                } else {
                    "America/New_York"
                }
                .into(),
            ),
            account_manager_email: "am@vendor.io".into(),
            min_seats_at_renewal: None,
            plan: NewPlan::Premium {
                term_start: "2026-01-01".into(),
                term_months: None,
            },
            licence_types: vec![NewPool {
                licence_type: "standard".into(),
                policy: Policy::Rolling12Months,
                annual_fee_minor: 12_000,
                currency: "GBP".into(),
                seats: 1_000,
            }],
            managers: vec![NewManager {
                email: format!("lead{c}@co.io"),
                name: "Lead".into(),
            }],
        };
        let id = svc.create_company(&am, input).await?.company.id;
        let company: Company = repo::load(store.as_ref(), &repo::company_key(&id))
            .await?
            .map(|s| s.value)
            .ok_or("no company")?;
        let writes = (0..MEMBERS / 100)
            .map(|i| {
                let ends_on = if i < DUE / 100 {
                    parse_date("2026-06-10")
                } else {
                    parse_date("2026-07-01").map(|d| d + chrono::Days::new((i % 200) as u64))
                };
                let member = Member {
                    email: Email::parse(&format!("u{i}@c{c}.io"))?,
                    name: "Learner".into(),
                    role: MemberRole::Learner,
                    licence: Some(Licence {
                        licence_type: LicenceType::parse("standard")?,
                        term: LicenceTerm::Rolling {
                            ends_on: ends_on.ok_or("date")?,
                        },
                        allocated_on: parse_date("2025-06-10").ok_or("date")?,
                    }),
                    added_at: Utc::now(),
                };
                Ok(repo::insert(&company, &member)?)
            })
            .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
        for chunk in writes.chunks(100) {
            store.transact(chunk.to_vec()).await?;
        }
    }
    println!(
        "seeded {MEMBERS} members in 100 companies ({DUE} due on 2026-06-10) in {:.1?}",
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
        mailer.0.load(Ordering::Relaxed),
        report.complete
    );
    if report.entries_read != DUE as u64 {
        return Err(format!("expected {DUE} entries read, got {}", report.entries_read).into());
    }
    Ok(())
}
