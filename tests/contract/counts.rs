//! Kept counts: `get_company` and `access` read the same number of items
//! whatever the company's size, and the counts a company keeps are the full
//! tally's on any day, after any sequence of changes.

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use seatkeeper_core::model::{
    Company, Licence, LicenceStatus, LicenceTerm, Member, MemberRole, OrderKind, Policy, SeatPool,
};
use seatkeeper_core::ports::{ItemStore, ManualClock, Query};
use seatkeeper_core::repo::{self, Stored};
use seatkeeper_core::service::{
    Allocation, CompanyView, MemberCounts, NewMember, NewPlan, NewPool, OrderRequest, ReleaseWhen,
    Settings,
};
use seatkeeper_core::types::{CompanyId, Email, LicenceType};
use seatkeeper_core::{Caller, Role, Seatkeeper};
use seatkeeper_test_support::counting::CountingStore;
use seatkeeper_test_support::fixtures::{
    account_manager, caller, date, new_company, premium, seed_members, standard_pool, trial,
};
use seatkeeper_test_support::mail::RecordingMailer;
use seatkeeper_test_support::stores::Fixture;

type Service = Seatkeeper<Arc<CountingStore>, Arc<ManualClock>, Arc<RecordingMailer>>;

struct World {
    svc: Service,
    clock: Arc<ManualClock>,
    store: Arc<CountingStore>,
}

fn world(f: &Fixture, today: &str) -> World {
    let store = Arc::new(CountingStore::new(f.store.clone()));
    let clock = Arc::new(ManualClock::at(date(today)));
    let svc = Seatkeeper::new(
        store.clone(),
        clock.clone(),
        Arc::new(RecordingMailer::default()),
        Settings::default(),
    );
    World { svc, clock, store }
}

fn lead(company: &CompanyId) -> Caller {
    caller(Role::Manager, "lead@acme.io", Some(company), None)
}

fn pro_pool(seats: u32) -> NewPool {
    NewPool {
        licence_type: "pro".into(),
        ..standard_pool(Policy::Rolling12Months, seats)
    }
}

async fn create(w: &World, plan: NewPlan, pools: Vec<NewPool>) -> CompanyId {
    let input = new_company("Acme Ltd")
        .plan(plan)
        .pools(pools)
        .manager("lead@acme.io", "Lee Lead")
        .build();
    w.svc
        .create_company(&account_manager(), input)
        .await
        .expect("create the company")
        .company
        .id
}

/// The full tally: every member read and judged on the view's day by the
/// plan as the service read it (a scheduled term started included).
async fn tally(store: &dyn ItemStore, view: &CompanyView) -> MemberCounts {
    let members: Vec<Stored<Member>> = repo::load_all(
        store,
        Query::table(repo::company_pk(&view.company.id), repo::MEMBER_PREFIX),
    )
    .await
    .expect("read every member");
    let mut counts = MemberCounts::default();
    for member in members {
        match member.value.status(&view.company.plan, view.today) {
            LicenceStatus::Active => counts.active += 1,
            LicenceStatus::Expired => counts.expired += 1,
            LicenceStatus::Unlicensed => counts.unlicensed += 1,
        }
    }
    counts
}

/// Whether the stored company and every pool keep counts.
async fn kept(store: &dyn ItemStore, id: &CompanyId) -> bool {
    let company: Option<Stored<Company>> = repo::load(store, &repo::company_key(id))
        .await
        .expect("read the company");
    let pools: Vec<Stored<SeatPool>> =
        repo::load_all(store, Query::table(repo::company_pk(id), repo::POOL_PREFIX))
            .await
            .expect("read the pools");
    company.is_some_and(|c| c.value.member_count.is_some())
        && pools.iter().all(|p| p.value.holders.is_some())
}

/// `get_company`'s counts against the full tally on each of `days`; the
/// clock is left on the first.
async fn check_days(w: &World, id: &CompanyId, days: &[NaiveDate], step: &str) {
    for day in days {
        w.clock.set_today(*day);
        let view = w
            .svc
            .get_company(&lead(id), id.as_str())
            .await
            .expect("read the company");
        let full = tally(w.store.as_ref(), &view).await;
        assert_eq!(view.counts, full, "on {day} after {step}");
    }
    if let Some(first) = days.first() {
        w.clock.set_today(*first);
    }
}

fn seeded(i: usize) -> Member {
    // A third unlicensed, a third expired, a third active on 2026-06-01.
    let licence = match i % 3 {
        0 => None,
        n => Some(Licence {
            licence_type: LicenceType::parse("standard").expect("a type"),
            term: LicenceTerm::Rolling {
                ends_on: date(if n == 1 { "2026-05-01" } else { "2027-01-01" }),
            },
            allocated_on: date("2026-01-01"),
        }),
    };
    Member {
        email: Email::parse(&format!("learner{i:05}@acme.io")).expect("an e-mail"),
        name: "Learner".into(),
        role: MemberRole::Learner,
        licence,
        added_at: chrono::Utc::now(),
    }
}

/// Items read by `get_company` and by a learner's `access`, and the counts,
/// in a company of `n` seeded members (and its manager).
async fn reads_with(f: &Fixture, n: usize) -> (u64, u64, MemberCounts) {
    let w = world(f, "2026-06-01");
    let id = create(
        &w,
        premium("2026-04-01"),
        vec![
            standard_pool(Policy::Rolling12Months, 0),
            NewPool {
                licence_type: "team".into(),
                ..standard_pool(Policy::CoTerm, 5)
            },
        ],
    )
    .await;
    seed_members(f.store.as_ref(), &id, (0..n).map(seeded)).await;
    assert!(kept(f.store.as_ref(), &id).await);

    let before = w.store.items_read();
    let view = w
        .svc
        .get_company(&lead(&id), id.as_str())
        .await
        .expect("read the company");
    let company_reads = w.store.items_read() - before;
    assert_eq!(view.counts, tally(f.store.as_ref(), &view).await);

    let learner = caller(Role::Learner, "learner00002@acme.io", Some(&id), None);
    let before = w.store.items_read();
    let decision = w.svc.access(&learner).await.expect("access");
    let access_reads = w.store.items_read() - before;
    assert!(decision.allowed, "{decision:?}");
    (company_reads, access_reads, view.counts)
}

/// A company of 10 members and one of 10 000 cost `get_company` and
/// `access` the same reads: the company, its pools, (access) the caller.
async fn company_and_access_reads_do_not_grow_with_the_company(f: Fixture) {
    let (small_company, small_access, small) = reads_with(&f, 10).await;
    let (big_company, big_access, big) = reads_with(&f, 10_000).await;
    assert_eq!(
        (small.active, small.expired, small.unlicensed),
        (3, 3, 4 + 1),
        "the manager took the first type's seat; there was none"
    );
    assert_eq!(
        (big.active, big.expired, big.unlicensed),
        (3333, 3333, 3335)
    );
    println!("items read: get_company {small_company} vs {big_company}, access {small_access} vs {big_access}");
    assert_eq!(small_company, big_company, "get_company");
    assert_eq!(small_access, big_access, "access");
    assert_eq!(small_company, 3, "the company and its two pools");
    assert_eq!(small_access, 4, "the company, its two pools and the caller");
}

/// A small deterministic generator: the same steps on every run.
struct Steps(u64);

impl Steps {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

const PEOPLE: usize = 12;

fn person(i: usize) -> String {
    format!("p{i}@acme.io")
}

/// One random change; failures (no seats, not active, …) are part of the
/// sequence, and must change no counts either.
async fn random_step(
    w: &World,
    id: &CompanyId,
    steps: &mut Steps,
    members: &mut Vec<String>,
) -> String {
    let lead = lead(id);
    let c = id.as_str();
    // Mostly members, so that most changes go through.
    let pick = |steps: &mut Steps| match steps.below(5) {
        0 => person(steps.below(PEOPLE)),
        _ if members.is_empty() => person(steps.below(PEOPLE)),
        _ => members[steps.below(members.len())].clone(),
    };
    let who = pick(steps);
    let kind = ["standard", "pro"][steps.below(2)];
    match steps.below(12) {
        0 | 1 => {
            let licence_type = [None, Some("standard"), Some("pro")][steps.below(3)];
            let input = NewMember {
                email: who.clone(),
                name: "P".into(),
                role: MemberRole::Learner,
                licence_type: licence_type.map(str::to_string),
            };
            let result = w.svc.add_member(&lead, c, input).await;
            if result.is_ok() {
                members.push(who.clone());
            }
            format!("add {who} {licence_type:?}: {:?}", result.is_ok())
        }
        2 => {
            let emails: Vec<String> = (0..=steps.below(3)).map(|_| pick(steps)).collect();
            let mut unique = emails.clone();
            unique.sort();
            unique.dedup();
            let result = w
                .svc
                .allocate(&lead, c, kind, Allocation::Emails(unique.clone()))
                .await;
            format!("allocate {kind} {unique:?}: {:?}", result.is_ok())
        }
        3 | 4 => {
            let when = [ReleaseWhen::Now, ReleaseWhen::AtRenewal][steps.below(2)];
            let result = w.svc.release_licence(&lead, c, &who, when).await;
            format!("release {who} {when:?}: {:?}", result.is_ok())
        }
        5 => {
            // From an active rolling holder when there is one, so that
            // transfers happen; to anyone (most are refused).
            let page = w
                .svc
                .list_members(&lead, c, Some("active"), None, None)
                .await;
            let holders: Vec<String> = page
                .map(|p| p.items)
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.licence_type.as_ref().is_some_and(|t| t.as_str() == "pro"))
                .map(|m| m.email.to_string())
                .collect();
            let from = match holders.len() {
                0 => who,
                n => holders[steps.below(n)].clone(),
            };
            let to = pick(steps);
            let result = w.svc.transfer_licence(&lead, c, &from, &to).await;
            format!("transfer {from} → {to}: {:?}", result.is_ok())
        }
        6 => {
            let result = w.svc.remove_member(&lead, c, &who).await;
            if result.is_ok() {
                members.retain(|m| *m != who);
            }
            format!("remove {who}: {:?}", result.is_ok())
        }
        7 | 10 => {
            let result = w.svc.allocate_all_expired(&lead, c, kind, None).await;
            format!("select all {kind}: {:?}", result.map(|s| s.allocated.len()))
        }
        8 | 9 => {
            let days = [1, 10, 30, 90][steps.below(4)];
            let view = w.svc.get_company(&lead, c).await.expect("read");
            let today = view.today + Duration::days(days);
            w.clock.set_today(today);
            format!("to {today}")
        }
        _ => {
            // A renewal (scheduled before the date, or starting the day
            // it is actioned once lapsed), or in a trial the conversion.
            let view = w.svc.get_company(&lead, c).await.expect("read");
            let order = match view.company.plan.kind() {
                "trial" => OrderRequest::one(OrderKind::TrialConversion, "standard", 8),
                _ => OrderRequest::one(OrderKind::Renewal, "standard", 16),
            };
            let result = match w.svc.request_order(&lead, c, order).await {
                Ok(order) => w
                    .svc
                    .assign_order(&account_manager(), c, order.id.as_str(), None)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            };
            format!("order: {result:?}")
        }
    }
}

/// The days each check looks at: today, tomorrow, a month on, the day
/// before and the day of the plan's end, and a year and more on.
async fn days_around(w: &World, id: &CompanyId) -> Vec<NaiveDate> {
    let view = w
        .svc
        .get_company(&lead(id), id.as_str())
        .await
        .expect("read");
    let today = view.today;
    let mut days = vec![today, today + Duration::days(1), today + Duration::days(30)];
    if let Some(end) = view.company.plan.ends_on() {
        days.extend([end - Duration::days(1), end]);
    }
    days.push(today + Duration::days(400));
    days
}

async fn random_changes_keep_counts_equal_to_the_tally(f: &Fixture, plan: NewPlan, seed: u64) {
    let w = world(f, "2026-05-01");
    // A trial's types start with no seats; its conversion buys them.
    let seats = if matches!(plan, NewPlan::Trial { .. }) {
        0
    } else {
        10
    };
    let pools = vec![standard_pool(Policy::CoTerm, seats), pro_pool(seats)];
    let id = create(&w, plan, pools).await;
    let mut steps = Steps(seed);
    let mut members = Vec::new();
    for i in 0..8 {
        let input = NewMember {
            email: person(i),
            name: "P".into(),
            role: MemberRole::Learner,
            licence_type: [None, Some("standard"), Some("pro")][i % 3].map(str::to_string),
        };
        if w.svc
            .add_member(&lead(&id), id.as_str(), input)
            .await
            .is_ok()
        {
            members.push(person(i));
        }
    }
    check_days(&w, &id, &days_around(&w, &id).await, "the first members").await;
    for n in 0..60 {
        let step = random_step(&w, &id, &mut steps, &mut members).await;
        println!("step {n}: {step}");
        let days = days_around(&w, &id).await;
        check_days(&w, &id, &days, &format!("step {n}: {step}")).await;
    }
    assert!(kept(f.store.as_ref(), &id).await, "kept throughout");
}

/// Add with and without a licence, allocate, release now and at renewal,
/// transfer, remove, Select All, time passing across expiries and the
/// renewal date, renewals: after each, the kept counts equal the full
/// tally on several days.
async fn kept_counts_equal_the_tally_after_random_changes(f: Fixture) {
    for seed in [0x5eed_c0de, 0xfeed_beef] {
        random_changes_keep_counts_equal_to_the_tally(&f, premium("2026-04-01"), seed).await;
    }
}

/// The same from a trial: trial licences, the trial ending, a conversion.
async fn kept_counts_equal_the_tally_from_a_trial(f: Fixture) {
    for seed in [0x07e5_71a1, 0xc0ff_ee11] {
        random_changes_keep_counts_equal_to_the_tally(&f, trial("2026-06-01", 6), seed).await;
    }
}

/// A company written before counts were kept answers the full tally, and
/// its next change of a member starts keeping them.
async fn a_company_without_kept_counts_is_tallied_until_its_next_change(f: Fixture) {
    let w = world(&f, "2026-06-01");
    let id = create(
        &w,
        premium("2026-04-01"),
        vec![standard_pool(Policy::CoTerm, 10)],
    )
    .await;
    let lead = lead(&id);
    for (i, licensed) in [true, false, true].into_iter().enumerate() {
        let input = NewMember {
            email: person(i),
            name: "P".into(),
            role: MemberRole::Learner,
            licence_type: licensed.then(|| "standard".to_string()),
        };
        w.svc
            .add_member(&lead, id.as_str(), input)
            .await
            .expect("add");
    }
    w.svc
        .release_licence(&lead, id.as_str(), &person(2), ReleaseWhen::AtRenewal)
        .await
        .expect("release at renewal");
    // Forget the counts, as items written before this release have none.
    let store = f.store.as_ref();
    let company: Stored<Company> = repo::load(store, &repo::company_key(&id))
        .await
        .expect("read")
        .expect("the company");
    let pools: Vec<Stored<SeatPool>> = repo::load_all(
        store,
        Query::table(repo::company_pk(&id), repo::POOL_PREFIX),
    )
    .await
    .expect("read the pools");
    let legacy = Company {
        member_count: None,
        ..company.value.clone()
    };
    let mut writes = vec![repo::update(&legacy, &legacy, company.version).expect("write")];
    for pool in &pools {
        let legacy_pool = SeatPool {
            holders: None,
            ..pool.value.clone()
        };
        writes.push(repo::update(&legacy, &legacy_pool, pool.version).expect("write"));
    }
    store.transact(writes).await.expect("forget the counts");
    assert!(!kept(store, &id).await);

    let days = [date("2026-06-01"), date("2027-04-01")];
    check_days(&w, &id, &days, "forgetting").await;
    let before = w.store.items_read();
    w.svc.get_company(&lead, id.as_str()).await.expect("read");
    assert!(
        w.store.items_read() - before >= 4,
        "a company without kept counts reads its members"
    );
    assert!(!kept(store, &id).await, "reads never write");

    w.svc
        .remove_member(&lead, id.as_str(), &person(1))
        .await
        .expect("remove");
    assert!(kept(store, &id).await, "the change started keeping them");
    check_days(&w, &id, &days, "the next change").await;
    let before = w.store.items_read();
    w.svc.get_company(&lead, id.as_str()).await.expect("read");
    assert_eq!(w.store.items_read() - before, 2, "the company and its pool");
}

/// A Select All whose 90 expired members held licences of eleven other
/// types: their pools' counts change too, so the first batch stops short
/// of the 100 items a transaction holds and the next goes on from there.
async fn a_select_all_from_many_types_keeps_its_batches_in_one_transaction(f: Fixture) {
    let w = world(&f, "2026-06-01");
    let others: Vec<String> = (0..11).map(|i| format!("old{i}")).collect();
    let mut pools = vec![standard_pool(Policy::Rolling12Months, 100)];
    pools.extend(others.iter().map(|t| NewPool {
        licence_type: t.clone(),
        ..standard_pool(Policy::Rolling12Months, 0)
    }));
    let id = create(&w, premium("2026-04-01"), pools).await;
    let members = (0..90).map(|i| Member {
        licence: Some(Licence {
            licence_type: LicenceType::parse(&others[i % others.len()]).expect("a type"),
            term: LicenceTerm::Rolling {
                ends_on: date("2026-05-01"),
            },
            allocated_on: date("2025-05-01"),
        }),
        ..seeded(i)
    });
    seed_members(f.store.as_ref(), &id, members).await;
    let done = w
        .svc
        .allocate_all_expired(&lead(&id), id.as_str(), "standard", None)
        .await
        .expect("select all");
    assert_eq!(
        (
            done.progress.reserved,
            done.progress.renewed,
            done.allocated.len()
        ),
        (90, 90, 90)
    );
    check_days(
        &w,
        &id,
        &[date("2026-06-01"), date("2027-06-01")],
        "select all",
    )
    .await;
    let view = w
        .svc
        .get_company(&lead(&id), id.as_str())
        .await
        .expect("read");
    // The manager holds the first type's seat too.
    assert_eq!(
        (
            view.counts.active,
            view.counts.expired,
            view.counts.unlicensed
        ),
        (91, 0, 0)
    );
}

on_both_stores!(
    a_select_all_from_many_types_keeps_its_batches_in_one_transaction,
    company_and_access_reads_do_not_grow_with_the_company,
    kept_counts_equal_the_tally_after_random_changes,
    kept_counts_equal_the_tally_from_a_trial,
    a_company_without_kept_counts_is_tallied_until_its_next_change,
);
