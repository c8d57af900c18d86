//! The daily expiry check over each store adapter: notices on the right
//! local day, exactly once, a fault mid-run, and the cost as a count.

use std::sync::Arc;

use seatkeeper_core::model::Policy;
use seatkeeper_core::ports::{ItemStore, ManualClock};
use seatkeeper_core::service::{NewPlan, Settings};
use seatkeeper_core::types::CompanyId;
use seatkeeper_core::{Role, Seatkeeper};
use seatkeeper_test_support::counting::CountingStore;
use seatkeeper_test_support::faults::{Fault, FaultyStore};
use seatkeeper_test_support::fixtures::{
    self, account_manager, at, caller, date, load_company, new_company, premium,
    seed_rolling_learners, standard_pool,
};
use seatkeeper_test_support::mail::RecordingMailer;
use seatkeeper_test_support::stores::Fixture;

type Service = Seatkeeper<Arc<CountingStore>, Arc<ManualClock>, Arc<RecordingMailer>>;

struct World {
    svc: Arc<Service>,
    clock: Arc<ManualClock>,
    store: Arc<CountingStore>,
    mailer: Arc<RecordingMailer>,
}

fn world(f: &Fixture, mailer: RecordingMailer) -> World {
    let store = Arc::new(CountingStore::new(f.store.clone()));
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

async fn company(
    w: &World,
    timezone: &str,
    plan: NewPlan,
    policy: Policy,
    seats: u32,
) -> CompanyId {
    let input = new_company(format!("Co in {timezone}"))
        .timezone(Some(timezone))
        .plan(plan)
        .pool(standard_pool(policy, seats))
        .manager("lead@co.io", "Lead")
        .build();
    w.svc
        .create_company(&account_manager(), input)
        .await
        .expect("create")
        .company
        .id
}

/// A company in London on 10 rolling seats, its term from `term_start`.
async fn rolling_company(w: &World, term_start: &str) -> CompanyId {
    company(
        w,
        "Europe/London",
        premium(term_start),
        Policy::Rolling12Months,
        10,
    )
    .await
}

fn trial(ends_on: &str) -> NewPlan {
    fixtures::trial(ends_on, 5)
}

/// Writes members with rolling licences ending on the given dates straight
/// into the store, 100 to a transaction.
async fn seed_members(w: &World, id: &CompanyId, ends: &[(String, &str)]) {
    let company = load_company(w.store.as_ref(), id).await;
    let learners = ends.iter().map(|(email, ends_on)| (email, date(ends_on)));
    seed_rolling_learners(w.store.as_ref(), &company, date("2025-01-01"), learners).await;
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
    let w = world(&f, RecordingMailer::default());
    w.clock.set_now(at("2026-11-20T09:00:00Z"));
    let id = company(&w, "Europe/London", trial("2026-11-26"), Policy::CoTerm, 0).await;
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
        reminder.text.contains("ends on 26 November 2026"),
        "{}",
        reminder.text
    );
    run(&w, "2026-11-24T06:00:00Z").await;
    run(&w, "2026-11-25T06:00:00Z").await;
    assert_eq!(w.mailer.kinds().len(), 1, "one reminder, however many runs");
    run(&w, "2026-11-26T06:00:00Z").await;
    assert_eq!(w.mailer.kinds(), vec!["expiry_reminder", "expiry_expiry"]);
    let lead = caller(Role::Manager, "lead@co.io", Some(&id), None);
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
    let w = world(&f, RecordingMailer::default());
    w.clock.set_now(at("2026-11-01T09:00:00Z"));
    let id = rolling_company(&w, "2026-06-01").await;
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
        sent[0]
            .text
            .contains("2 user licence(s) end on 10 November 2026")
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
        "Co in Europe/London: licences end on 12 November 2026".into()
    )));
    assert!(kinds.contains(&(
        "expiry_expiry".into(),
        "Co in Europe/London: licences ended on 10 November 2026".into()
    )));
    run(&w, "2026-11-12T06:00:00Z").await;
    assert_eq!(w.mailer.sent().len(), 4);
    assert!(w.mailer.sent()[3].text.contains("c@co.io"));
}

/// One instant, two local days: Auckland's trial has ended, Los Angeles's
/// is one day off.
async fn each_company_by_its_own_day(f: Fixture) {
    let w = world(&f, RecordingMailer::default());
    w.clock.set_now(at("2026-11-01T00:00:00Z"));
    let auckland = company(
        &w,
        "Pacific/Auckland",
        trial("2026-11-23"),
        Policy::CoTerm,
        0,
    )
    .await;
    let la = company(
        &w,
        "America/Los_Angeles",
        trial("2026-11-23"),
        Policy::CoTerm,
        0,
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
    let w = world(&f, RecordingMailer::default());
    w.clock.set_now(at("2026-11-01T09:00:00Z"));
    for i in 0..4 {
        let id = company(&w, "Europe/London", trial("2026-11-20"), Policy::CoTerm, 0).await;
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
    let w = world(&f, RecordingMailer::failing(vec![2, 3]));
    w.clock.set_now(at("2026-11-01T09:00:00Z"));
    for _ in 0..4 {
        company(&w, "Europe/London", trial("2026-11-20"), Policy::CoTerm, 0).await;
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
    let w = world(&f, RecordingMailer::default());
    w.clock.set_now(at("2026-01-01T09:00:00Z"));
    let id = rolling_company(&w, "2026-01-01").await;
    // 19 800 licences end on the days around it, 200 today; three days on
    // (the reminders this run owes) nothing ends. So a window read a day
    // (or an hour past its DST slack) too wide reads hundreds more.
    let near = [
        "2026-02-08",
        "2026-02-09",
        "2026-02-11",
        "2026-02-12",
        "2026-02-14",
    ];
    let mut ends: Vec<(String, String)> = (0..19_800)
        .map(|i| (format!("u{i}@co.io"), near[i % near.len()].to_string()))
        .collect();
    ends.extend((0..200).map(|i| (format!("due{i}@co.io"), "2026-02-10".to_string())));
    let ends: Vec<(String, &str)> = ends.iter().map(|(e, d)| (e.clone(), d.as_str())).collect();
    seed_members(&w, &id, &ends).await;
    run(&w, "2026-02-09T06:00:00Z").await; // the window starts a day before
    let before = w.store.items_read();
    let queries_before = w.store.queries();
    let sent_before = w.mailer.sent().len();
    let report = run(&w, "2026-02-10T06:00:00Z").await;
    let read = w.store.items_read() - before;
    let sent = w.mailer.sent();
    assert_eq!(sent.len() - sent_before, 1, "one expiry digest");
    assert!(sent[sent_before]
        .text
        .contains("200 user licence(s) ended on 10 February 2026"));
    assert_eq!(report.entries_read, 200);
    assert!(read as f64 <= 1.1 * 200.0, "read {read} items for 200 due");
    // The reads are range reads: one query per shard of each date the two
    // windows span (2 + 2 dates × 8 shards), not one per item.
    let queries = w.store.queries() - queries_before;
    assert!(queries <= 4 * 8 + 2, "{queries} queries");
}

/// 10 000 rolling licences end on one day (what a big CSV renewal makes):
/// the reminder comes in parts small enough for one store item each, and
/// a second company due that day gets its own.
async fn a_day_of_thousands_of_licences_is_told_in_parts(f: Fixture) {
    let w = world(&f, RecordingMailer::default());
    w.clock.set_now(at("2026-01-01T09:00:00Z"));
    let big = rolling_company(&w, "2026-01-01").await;
    let small = rolling_company(&w, "2026-01-01").await;
    let many: Vec<(String, &str)> = (0..10_000)
        .map(|i| (format!("learner{i:05}@big.io"), "2026-02-10"))
        .collect();
    seed_members(&w, &big, &many).await;
    let few: Vec<(String, &str)> = (0..3)
        .map(|i| (format!("learner{i}@small.io"), "2026-02-10"))
        .collect();
    seed_members(&w, &small, &few).await;
    run(&w, "2026-02-06T06:00:00Z").await;
    let report = run(&w, "2026-02-07T06:00:00Z").await;
    assert!(
        report.complete && report.companies_failed.is_empty(),
        "{report:?}"
    );
    let sent = w.mailer.sent();
    let big_parts: Vec<_> = sent.iter().filter(|m| m.text.contains("@big.io")).collect();
    assert_eq!(big_parts.len(), 20, "500 licences to an e-mail");
    let listed: usize = big_parts
        .iter()
        .map(|m| {
            m.text
                .lines()
                .filter(|l| l.starts_with("- learner"))
                .count()
        })
        .sum();
    assert_eq!(listed, 10_000, "each licence listed once");
    assert!(
        big_parts[0].subject.ends_with("(1 of 20)"),
        "{}",
        big_parts[0].subject
    );
    assert!(big_parts
        .iter()
        .all(|m| m.text.len() + m.html.len() < 100_000));
    let small_parts: Vec<_> = sent
        .iter()
        .filter(|m| m.text.contains("@small.io"))
        .collect();
    assert_eq!(small_parts.len(), 1);
    assert!(small_parts[0]
        .text
        .contains("3 user licence(s) end on 10 February 2026"));
    run(&w, "2026-02-07T18:00:00Z").await;
    assert_eq!(w.mailer.sent().len(), 21, "none twice");
}

/// A run that reaches its deadline stops, owes nothing lost: it keeps its
/// mark, and the next run sends what it did not.
async fn a_run_past_its_deadline_leaves_the_rest_to_the_next(f: Fixture) {
    let w = world(&f, RecordingMailer::default());
    w.clock.set_now(at("2026-11-01T09:00:00Z"));
    for _ in 0..3 {
        company(&w, "Europe/London", trial("2026-11-20"), Policy::CoTerm, 0).await;
    }
    run(&w, "2026-11-19T06:00:00Z").await;
    w.clock.set_now(at("2026-11-20T06:00:00Z"));
    let spent = std::time::Instant::now();
    let report = w
        .svc
        .run_expiry_check(at("2026-11-20T06:00:00Z"), Some(spent))
        .await
        .expect("a run out of time");
    assert!(!report.complete);
    assert_eq!(report.sent, 0);
    let next = run(&w, "2026-11-20T07:00:00Z").await;
    assert!(next.complete);
    assert_eq!(w.mailer.kinds(), vec!["expiry_expiry"; 3]);
    assert_eq!(
        next.window_start,
        Some(at("2026-11-19T06:00:00Z")),
        "the stopped run did not move the mark"
    );
}

/// A run that crashed after claiming a digest: the claim holds for its
/// lease, then the next run takes it over and sends it, once.
async fn a_crashed_runs_claim_is_taken_over_after_its_lease(f: Fixture) {
    let w = world(&f, RecordingMailer::default());
    w.clock.set_now(at("2026-11-01T09:00:00Z"));
    // A trial far from its end: the claimed notice is all that is due.
    let id = company(&w, "Europe/London", trial("2027-06-30"), Policy::CoTerm, 0).await;
    let company = load_company(w.store.as_ref(), &id).await;
    // What a run leaves when it dies between the claim and the send.
    let claimed_until = at("2026-11-20T06:15:00Z");
    let notice = seatkeeper_core::model::Notice {
        dedup_key: "expiry_expiry#2026-11-20".into(),
        company_id: id.clone(),
        kind: "expiry_expiry".into(),
        due_on: date("2026-11-20"),
        retry_at: claimed_until,
        email: seatkeeper_core::ports::OutgoingEmail {
            to: vec!["lead@co.io".into()],
            cc: vec![],
            subject: "Trial ended".into(),
            text: "ended".into(),
            html: "<p>ended</p>".into(),
            kind: "expiry_expiry".into(),
        },
        claimed_until: Some(claimed_until),
        sent_at: None,
        parked: None,
    };
    w.store
        .transact(vec![
            seatkeeper_core::repo::insert(&company, &notice).expect("a write")
        ])
        .await
        .expect("the crashed run's claim");
    let held = run(&w, "2026-11-20T06:05:00Z").await;
    assert_eq!((held.sent, held.skipped), (0, 1), "the lease holds");
    run(&w, "2026-11-20T06:30:00Z").await;
    run(&w, "2026-11-21T06:30:00Z").await;
    assert_eq!(
        w.mailer.kinds(),
        vec!["expiry_expiry"],
        "taken over, sent once"
    );
}

/// Britain's clocks go forward on 29 March 2026. A licence ending on 1
/// April begins its day at 23:00 UTC on 31 March; runs at 23:30 UTC see
/// the 72-hour mark an hour early on 28 March (not yet due locally) and
/// must read it again the next night: the reminder comes once.
async fn a_reminder_across_the_dst_change_is_sent_once(f: Fixture) {
    let w = world(&f, RecordingMailer::default());
    w.clock.set_now(at("2026-01-01T09:00:00Z"));
    let id = rolling_company(&w, "2026-01-01").await;
    seed_members(&w, &id, &[("ann@co.io".to_string(), "2026-04-01")]).await;
    for night in [
        "2026-03-26",
        "2026-03-27",
        "2026-03-28",
        "2026-03-29",
        "2026-03-30",
    ] {
        run(&w, &format!("{night}T23:30:00Z")).await;
    }
    let sent = w.mailer.sent();
    assert_eq!(w.mailer.kinds(), vec!["expiry_reminder"], "{sent:?}");
    assert!(
        sent[0].text.contains("end on 1 April 2026"),
        "{}",
        sent[0].text
    );
}

/// A digest the mail service refuses for good is parked with the reason,
/// shown in the company's audit trail, and never tried again.
async fn a_refused_digest_is_parked_not_retried(f: Fixture) {
    let w = world(&f, RecordingMailer::rejecting(vec![1]));
    w.clock.set_now(at("2026-11-01T09:00:00Z"));
    let id = company(&w, "Europe/London", trial("2026-11-20"), Policy::CoTerm, 0).await;
    let first = run(&w, "2026-11-20T06:00:00Z").await;
    assert_eq!((first.sent, first.parked, first.failed), (0, 1, 0));
    for day in ["2026-11-21", "2026-11-22"] {
        run(&w, &format!("{day}T06:00:00Z")).await;
    }
    assert_eq!(w.mailer.attempts(), 1, "never retried");
    let trail = w
        .svc
        .list_audit(&account_manager(), id.as_str(), None, None)
        .await
        .expect("the audit trail");
    let parked = &trail.items[0];
    assert_eq!(parked.action, "notice.parked");
    assert_eq!(parked.actor.role, "system");
    assert!(parked.after["reason"]
        .as_str()
        .is_some_and(|r| r.contains("no valid recipient")));
}

/// DynamoDB cancels a transaction that overlapped another with the same
/// `Conflict` that a lost race gives. A notice whose claim (or whose
/// takeover) is so refused, with no other run holding it, is sent by the
/// next run, once: the run that met it fails that company and keeps its
/// mark.
async fn a_claim_refused_by_an_overlap_is_sent_next_run(f: Fixture) {
    // The store is shared, and so is the run's mark: each case is a month
    // after the last.
    for nth in 1..=3_u32 {
        let month = |day: u32, hour: u32| {
            let start = date("2026-10-01") + chrono::Months::new(nth);
            let at_day = start + chrono::Days::new(u64::from(day - 1));
            at_day.and_hms_opt(hour, 0, 0).expect("a time").and_utc()
        };
        let w = world(&f, RecordingMailer::default());
        let daily = |day: u32| {
            let now = month(day, 6);
            w.clock.set_now(now);
            w.svc.run_expiry_check(now, None)
        };
        // What the cases before still owe is sent first.
        daily(19).await.expect("the run");
        let before = w.mailer.kinds().len();
        w.clock.set_now(month(20, 9));
        let ends_on = month(26, 0).date_naive();
        let plan = trial(&ends_on.to_string());
        company(&w, "Europe/London", plan, Policy::CoTerm, 0).await;
        daily(22).await.expect("the run");
        let faults = Arc::new(FaultyStore::new(f.store.clone()));
        let store: Arc<dyn ItemStore> = faults.clone();
        let overlapped = Seatkeeper::new(
            store,
            w.clock.clone(),
            w.mailer.clone(),
            Settings::default(),
        );
        // Every transaction of the run before the `nth` goes through.
        faults.fail_nth(nth.into(), Fault::Conflict);
        w.clock.set_now(month(23, 6));
        let met = overlapped
            .run_expiry_check(month(23, 6), None)
            .await
            .expect("the run");
        for day in [24, 25] {
            daily(day).await.expect("the run");
        }
        assert_eq!(
            w.mailer.kinds()[before..],
            ["expiry_reminder"],
            "conflict on transaction {nth}: {met:?}"
        );
    }
}

on_both_stores!(
    a_claim_refused_by_an_overlap_is_sent_next_run,
    a_refused_digest_is_parked_not_retried,
    a_run_past_its_deadline_leaves_the_rest_to_the_next,
    a_crashed_runs_claim_is_taken_over_after_its_lease,
    a_reminder_across_the_dst_change_is_sent_once,
    trial_reminder_then_expiry,
    member_digests_by_date,
    each_company_by_its_own_day,
    repeated_and_concurrent_runs_send_once,
    a_throttled_send_is_retried_next_run,
    reads_grow_with_what_is_due,
    a_day_of_thousands_of_licences_is_told_in_parts,
);
