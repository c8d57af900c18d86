//! The daily expiry check over each store adapter: notices on the right
//! local day, exactly once, a fault mid-run, and the cost as a count.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seatkeeper_core::dates::parse_date;
use seatkeeper_core::model::{Licence, LicenceTerm, Member, MemberRole, Policy};
use seatkeeper_core::ports::{
    Item, ItemStore, Key, MailError, Mailer, ManualClock, OutgoingEmail, Page, Query, StoreError,
    Write,
};
use seatkeeper_core::service::{NewCompany, NewManager, NewPlan, NewPool, Settings};
use seatkeeper_core::types::{CompanyId, Email, LicenceType};
use seatkeeper_core::{repo, Caller, Role, Seatkeeper};

use crate::harness::Fixture;

/// Counts the items every read returns: the cost of a run.
struct CountingStore {
    inner: Arc<dyn ItemStore>,
    items_read: AtomicU64,
}

#[async_trait]
impl ItemStore for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let item = self.inner.get(key).await?;
        self.items_read
            .fetch_add(u64::from(item.is_some()), Ordering::Relaxed);
        Ok(item)
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let items = self.inner.get_many(keys).await?;
        self.items_read
            .fetch_add(items.len() as u64, Ordering::Relaxed);
        Ok(items)
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let page = self.inner.query(query).await?;
        self.items_read
            .fetch_add(page.items.len() as u64, Ordering::Relaxed);
        Ok(page)
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.transact(writes).await
    }
}

/// Records what is sent; fails the sends numbered in `fail` (1-based) with
/// throttling, as SES does under load.
#[derive(Default)]
struct TestMailer {
    sent: Mutex<Vec<OutgoingEmail>>,
    attempts: AtomicUsize,
    fail: Vec<usize>,
}

#[async_trait]
impl Mailer for TestMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail.contains(&attempt) {
            return Err(MailError::Throttled);
        }
        self.sent
            .lock()
            .expect("the mailer lock")
            .push(email.clone());
        Ok(())
    }
}

impl TestMailer {
    fn sent(&self) -> Vec<OutgoingEmail> {
        self.sent.lock().expect("the mailer lock").clone()
    }
    fn kinds(&self) -> Vec<String> {
        self.sent().into_iter().map(|e| e.kind).collect()
    }
}

type Service = Seatkeeper<Arc<CountingStore>, Arc<ManualClock>, Arc<TestMailer>>;

struct World {
    svc: Arc<Service>,
    clock: Arc<ManualClock>,
    store: Arc<CountingStore>,
    mailer: Arc<TestMailer>,
}

fn world(f: &Fixture, mailer: TestMailer) -> World {
    let store = Arc::new(CountingStore {
        inner: f.store.clone(),
        items_read: AtomicU64::new(0),
    });
    let clock = Arc::new(ManualClock::default());
    let mailer = Arc::new(mailer);
    let svc = Arc::new(Seatkeeper::new(
        store.clone(),
        clock.clone(),
        mailer.clone(),
        Settings::default(),
    ));
    World {
        svc,
        clock,
        store,
        mailer,
    }
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("a test instant")
        .with_timezone(&Utc)
}

fn account_manager() -> Caller {
    Caller {
        user_id: "am".into(),
        email: Email::parse("am@vendor.io").expect("an e-mail"),
        role: Role::AccountManager,
        company_id: None,
        partner_id: None,
    }
}

async fn company(
    w: &World,
    timezone: &str,
    plan: NewPlan,
    policy: Policy,
    seats: u32,
) -> CompanyId {
    let input = NewCompany {
        name: format!("Co in {timezone}"),
        timezone: Some(timezone.into()),
        account_manager_email: "am@vendor.io".into(),
        min_seats_at_renewal: None,
        plan,
        licence_types: vec![NewPool {
            licence_type: "standard".into(),
            policy,
            annual_fee_minor: 12_000,
            currency: "GBP".into(),
            seats,
        }],
        managers: vec![NewManager {
            email: "lead@co.io".into(),
            name: "Lead".into(),
        }],
    };
    w.svc
        .create_company(&account_manager(), input)
        .await
        .expect("create")
        .company
        .id
}

fn trial(ends_on: &str) -> NewPlan {
    NewPlan::Trial {
        ends_on: ends_on.into(),
        seats: 5,
    }
}

/// Writes members with rolling licences ending on the given dates straight
/// into the store, 100 to a transaction.
async fn seed_members(w: &World, id: &CompanyId, ends: &[(String, &str)]) {
    let company =
        repo::load::<seatkeeper_core::model::Company, _>(w.store.as_ref(), &repo::company_key(id))
            .await
            .expect("read")
            .expect("the company")
            .value;
    let writes: Vec<Write> = ends
        .iter()
        .map(|(email, ends_on)| {
            let member = Member {
                email: Email::parse(email).expect("an e-mail"),
                name: "Learner".into(),
                role: MemberRole::Learner,
                licence: Some(Licence {
                    licence_type: LicenceType::parse("standard").expect("a type"),
                    term: LicenceTerm::Rolling {
                        ends_on: parse_date(ends_on).expect("a date"),
                    },
                    allocated_on: parse_date("2025-01-01").expect("a date"),
                }),
                added_at: Utc::now(),
            };
            repo::insert(&company, &member).expect("a write")
        })
        .collect();
    for chunk in writes.chunks(100) {
        w.store.transact(chunk.to_vec()).await.expect("seed");
    }
}

async fn run(w: &World, now: &str) -> seatkeeper_core::expiry::ExpiryReport {
    w.clock.set_now(at(now));
    w.svc
        .run_expiry_check(at(now), None)
        .await
        .expect("the run")
}

/// A trial ending in 3 days: one reminder; on its day, one expiry notice
/// and access refused with /upgrade. Repeats send nothing more.
async fn trial_reminder_then_expiry(f: Fixture) {
    let w = world(&f, TestMailer::default());
    w.clock.set_now(at("2026-11-20T09:00:00Z"));
    let id = company(&w, "Europe/London", trial("2026-11-26"), Policy::CoTerm, 5).await;
    run(&w, "2026-11-22T06:00:00Z").await;
    assert!(w.mailer.sent().is_empty(), "4 days before: nothing");
    run(&w, "2026-11-23T06:00:00Z").await;
    assert_eq!(w.mailer.kinds(), vec!["expiry_reminder"]);
    let reminder = &w.mailer.sent()[0];
    assert_eq!(
        (reminder.to.clone(), reminder.cc.clone()),
        (
            vec!["lead@co.io".to_string()],
            vec!["am@vendor.io".to_string()]
        )
    );
    assert!(
        reminder.text.contains("ends on 2026-11-26"),
        "{}",
        reminder.text
    );
    run(&w, "2026-11-24T06:00:00Z").await;
    run(&w, "2026-11-25T06:00:00Z").await;
    assert_eq!(w.mailer.kinds().len(), 1, "one reminder, however many runs");
    run(&w, "2026-11-26T06:00:00Z").await;
    assert_eq!(w.mailer.kinds(), vec!["expiry_reminder", "expiry_expiry"]);
    let lead = Caller {
        user_id: "lead".into(),
        email: Email::parse("lead@co.io").expect("an e-mail"),
        role: Role::Manager,
        company_id: Some(id),
        partner_id: None,
    };
    let access = w.svc.access(&lead).await.expect("access");
    assert_eq!(
        (access.allowed, access.redirect_to.as_deref()),
        (false, Some("/upgrade"))
    );
    // The same event again, and a later run: nothing more.
    w.svc
        .run_expiry_check(at("2026-11-26T06:00:00Z"), None)
        .await
        .expect("a repeat");
    run(&w, "2026-11-27T06:00:00Z").await;
    assert_eq!(w.mailer.kinds().len(), 2);
}

/// Licences ending on two dates: each date's digests on the right days,
/// listing the right users; a run that missed days still sends what is due.
async fn member_digests_by_date(f: Fixture) {
    let w = world(&f, TestMailer::default());
    w.clock.set_now(at("2026-11-01T09:00:00Z"));
    let id = company(
        &w,
        "Europe/London",
        NewPlan::Premium {
            term_start: "2026-06-01".into(),
            term_months: None,
        },
        Policy::Rolling12Months,
        10,
    )
    .await;
    seed_members(
        &w,
        &id,
        &[
            ("a@co.io".into(), "2026-11-10"),
            ("b@co.io".into(), "2026-11-10"),
            ("c@co.io".into(), "2026-11-12"),
        ],
    )
    .await;
    run(&w, "2026-11-06T06:00:00Z").await;
    assert!(w.mailer.sent().is_empty());
    run(&w, "2026-11-07T06:00:00Z").await; // D-3 for the 10th
    let sent = w.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].text.contains("2 user licence(s) end on 2026-11-10")
            && sent[0].text.contains("a@co.io")
            && !sent[0].text.contains("c@co.io"),
        "{}",
        sent[0].text
    );
    assert!(sent[0].cc.is_empty(), "licence digests go to managers only");
    // The daily job does not run on the 8th and 9th; on the 10th it catches up.
    run(&w, "2026-11-10T06:00:00Z").await;
    let kinds: Vec<_> = w
        .mailer
        .sent()
        .iter()
        .map(|e| (e.kind.clone(), e.subject.clone()))
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(kinds.contains(&(
        "expiry_reminder".into(),
        "Co in Europe/London: licences end on 2026-11-12".into()
    )));
    assert!(kinds.contains(&(
        "expiry_expiry".into(),
        "Co in Europe/London: licences ended on 2026-11-10".into()
    )));
    run(&w, "2026-11-12T06:00:00Z").await;
    assert_eq!(w.mailer.sent().len(), 4);
    assert!(w.mailer.sent()[3].text.contains("c@co.io"));
}

/// One instant, two local days: Auckland's trial has ended, Los Angeles's
/// is one day off.
async fn each_company_by_its_own_day(f: Fixture) {
    let w = world(&f, TestMailer::default());
    w.clock.set_now(at("2026-11-01T00:00:00Z"));
    let auckland = company(
        &w,
        "Pacific/Auckland",
        trial("2026-11-23"),
        Policy::CoTerm,
        5,
    )
    .await;
    let la = company(
        &w,
        "America/Los_Angeles",
        trial("2026-11-23"),
        Policy::CoTerm,
        5,
    )
    .await;
    for day in 18..=21 {
        run(&w, &format!("2026-11-{day}T12:00:00Z")).await;
    }
    // Both reminders went out, each on its own D-3.
    assert_eq!(w.mailer.kinds(), vec!["expiry_reminder", "expiry_reminder"]);
    run(&w, "2026-11-22T12:00:00Z").await; // Auckland 23rd 01:00, LA 22nd 04:00
    let sent = w.mailer.sent();
    let subject_for = |id: &CompanyId| {
        let tz = if *id == auckland {
            "Pacific/Auckland"
        } else {
            "America/Los_Angeles"
        };
        sent.iter()
            .filter(|e| e.subject.starts_with(&format!("Co in {tz}")))
            .map(|e| e.kind.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        subject_for(&auckland),
        vec!["expiry_reminder", "expiry_expiry"]
    );
    assert_eq!(
        subject_for(&la),
        vec!["expiry_reminder"],
        "in Los Angeles the trial still has a day"
    );
}

/// The same event three times, and two runs at once: each notice once.
async fn repeated_and_concurrent_runs_send_once(f: Fixture) {
    let w = world(&f, TestMailer::default());
    w.clock.set_now(at("2026-11-01T09:00:00Z"));
    for i in 0..4 {
        let id = company(&w, "Europe/London", trial("2026-11-20"), Policy::CoTerm, 5).await;
        seed_members(&w, &id, &[(format!("m{i}@co.io"), "2026-11-20")]).await;
    }
    w.clock.set_now(at("2026-11-20T06:00:00Z"));
    let now = at("2026-11-20T06:00:00Z");
    let (a, b) = tokio::join!(
        w.svc.run_expiry_check(now, None),
        w.svc.run_expiry_check(now, None)
    );
    a.expect("run a");
    b.expect("run b");
    for _ in 0..3 {
        w.svc.run_expiry_check(now, None).await.expect("a repeat");
    }
    // Each company: one expiry digest (trial and licence together). The
    // reminders were never sent: on the day they would be stale.
    assert_eq!(w.mailer.kinds(), vec!["expiry_expiry"; 4]);
}

/// SES throttles part of a run: the next run sends the rest, none twice.
async fn a_throttled_send_is_retried_next_run(f: Fixture) {
    let w = world(
        &f,
        TestMailer {
            fail: vec![2, 3],
            ..TestMailer::default()
        },
    );
    w.clock.set_now(at("2026-11-01T09:00:00Z"));
    for _ in 0..4 {
        company(&w, "Europe/London", trial("2026-11-20"), Policy::CoTerm, 5).await;
    }
    let first = run(&w, "2026-11-20T06:00:00Z").await;
    assert_eq!((first.sent, first.failed), (2, 2));
    let second = run(&w, "2026-11-21T06:00:00Z").await;
    assert_eq!((second.sent, second.failed), (2, 0));
    assert_eq!(
        w.mailer.sent().len(),
        4,
        "four companies, four e-mails, none twice"
    );
    run(&w, "2026-11-22T06:00:00Z").await;
    assert_eq!(w.mailer.sent().len(), 4);
}

/// 20 000 members, 200 due: the run reads at most 1.1 × the items due.
async fn reads_grow_with_what_is_due(f: Fixture) {
    let w = world(&f, TestMailer::default());
    w.clock.set_now(at("2026-01-01T09:00:00Z"));
    let id = company(
        &w,
        "Europe/London",
        NewPlan::Premium {
            term_start: "2026-01-01".into(),
            term_months: None,
        },
        Policy::Rolling12Months,
        10,
    )
    .await;
    // 19 800 licences end on other days of the year, 200 today.
    let mut ends: Vec<(String, String)> = (0..19_800)
        .map(|i| {
            let day = parse_date("2026-03-01").expect("a date") + chrono::Days::new(i % 300);
            (format!("u{i}@co.io"), day.to_string())
        })
        .collect();
    ends.extend((0..200).map(|i| (format!("due{i}@co.io"), "2026-02-10".to_string())));
    let ends: Vec<(String, &str)> = ends.iter().map(|(e, d)| (e.clone(), d.as_str())).collect();
    seed_members(&w, &id, &ends).await;
    run(&w, "2026-02-09T06:00:00Z").await; // the window starts a day before
    let before = w.store.items_read.load(Ordering::Relaxed);
    let report = run(&w, "2026-02-10T06:00:00Z").await;
    let read = w.store.items_read.load(Ordering::Relaxed) - before;
    assert_eq!(w.mailer.sent().len(), 1, "one expiry digest");
    assert!(w.mailer.sent()[0]
        .text
        .contains("200 user licence(s) ended today"));
    assert_eq!(report.entries_read, 200);
    assert!(read as f64 <= 1.1 * 200.0, "read {read} items for 200 due");
}

on_both_stores!(
    trial_reminder_then_expiry,
    member_digests_by_date,
    each_company_by_its_own_day,
    repeated_and_concurrent_runs_send_once,
    a_throttled_send_is_retried_next_run,
    reads_grow_with_what_is_due,
);
