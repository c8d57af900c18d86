//! "Select All" expired members at any number, on each store: reserved in
//! one transaction, renewed in batches, resumable, exact after a fault.

use std::sync::Arc;
use std::time::Instant;

use seatkeeper_core::model::{Company, Policy};
use seatkeeper_core::ports::{Item, ItemStore, ManualClock, Query};
use seatkeeper_core::service::{Allocation, AllocationProgress, JobStatus, Settings};
use seatkeeper_core::{repo, Caller, Role, Seatkeeper, ServiceError};
use seatkeeper_test_support::faults::{Fault, FaultyStore};
use seatkeeper_test_support::fixtures::{
    account_manager, caller, date, load_company, new_company, premium, seed_rolling_learners,
    standard_pool,
};
use seatkeeper_test_support::mail::RecordingMailer;
use seatkeeper_test_support::stores::Fixture;

use crate::services::Service;

/// Learners seeded active besides the expired ones.
const ACTIVE: usize = 5;

struct World {
    svc: Service,
    faults: Arc<FaultyStore<Arc<dyn ItemStore>>>,
    company: Company,
    lead: Caller,
}

impl World {
    fn id(&self) -> &str {
        self.company.id.as_str()
    }

    async fn select_all(
        &self,
        deadline: Option<Instant>,
    ) -> Result<AllocationProgress, ServiceError> {
        self.svc
            .allocate_all_expired(&self.lead, self.id(), "standard", deadline)
            .await
            .map(|selected| selected.progress)
    }

    /// (purchased, allocated) of the pool, and (active, expired) members.
    async fn figures(&self) -> ((u32, u32), (u64, u64)) {
        let view = self
            .svc
            .get_company(&self.lead, self.id())
            .await
            .expect("read the company");
        let pool = &view.pools[0];
        (
            (pool.purchased, pool.allocated),
            (view.counts.active, view.counts.expired),
        )
    }

    async fn partition(&self) -> Vec<Item> {
        let mut query = Query::table(repo::company_pk(&self.company.id), "");
        let mut items = Vec::new();
        loop {
            let page = self.faults.query(&query).await.expect("a query");
            items.extend(page.items);
            match page.next {
                Some(next) => query.cursor = Some(next),
                None => return items,
            }
        }
    }

    /// The id of the company's latest Select All.
    async fn latest(&self) -> Option<String> {
        repo::load::<serde_json::Value, _>(
            self.faults.as_ref(),
            &repo::select_all_key(&self.company.id),
        )
        .await
        .expect("read the pointer")
        .and_then(|p| p.value["allocation_id"].as_str().map(str::to_string))
    }
}

/// A premium company with `seats` rolling "standard" seats (the lead holds
/// one), `expired` expired learners and [`ACTIVE`] active ones, on a store
/// that fails on cue.
async fn world(f: &Fixture, seats: u32, expired: usize) -> World {
    let faults = Arc::new(FaultyStore::new(f.store.clone()));
    let store: Arc<dyn ItemStore> = faults.clone();
    let svc = Seatkeeper::new(
        store.clone(),
        Arc::new(ManualClock::at(date("2026-06-15"))),
        Arc::new(RecordingMailer::default()),
        Settings::default(),
    );
    let created = svc
        .create_company(
            &account_manager(),
            new_company("Big Co")
                .plan(premium("2026-01-01"))
                .pool(standard_pool(Policy::Rolling12Months, seats))
                .manager("lead@big.test", "Lead")
                .build(),
        )
        .await
        .expect("create the company");
    let company = load_company(store.as_ref(), &created.company.id).await;
    let learners = (0..expired)
        .map(|i| (format!("expired{i:06}@big.test"), date("2026-05-01")))
        .chain((0..ACTIVE).map(|i| (format!("active{i}@big.test"), date("2026-12-01"))));
    seed_rolling_learners(store.as_ref(), &company, date("2025-05-01"), learners).await;
    let lead = caller(Role::Manager, "lead@big.test", Some(&company.id), None);
    World {
        svc,
        faults,
        company,
        lead,
    }
}

const MANY: u32 = 20_000;

async fn select_all_renews_twenty_thousand_expired_members(f: Fixture) {
    let w = world(&f, MANY + 10, MANY as usize).await;
    let active_before = 1 + ACTIVE as u64;
    assert_eq!(
        w.figures().await,
        ((MANY + 10, 1), (active_before, u64::from(MANY)))
    );

    // A deadline already passed: the seats are reserved, nobody renewed yet.
    let started = w.select_all(Some(Instant::now())).await.expect("start");
    assert_eq!(started.status, JobStatus::InProgress);
    assert_eq!((started.reserved, started.renewed), (MANY, 0));
    assert_eq!(started.pool.allocated, 1 + MANY);
    let id = started.allocation_id.clone().expect("an id").to_string();
    assert_eq!(
        w.svc
            .get_allocation(&w.lead, w.id(), &id)
            .await
            .expect("read"),
        started
    );

    // Select All again resumes the same job, reserving nothing more.
    let done = w.select_all(None).await.expect("finish");
    assert_eq!(done.allocation_id, started.allocation_id);
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!((done.reserved, done.renewed), (MANY, MANY));
    assert_eq!(
        w.figures().await,
        ((MANY + 10, 1 + MANY), (active_before + u64::from(MANY), 0))
    );
    assert_eq!(
        w.svc
            .resume_allocation(&w.lead, w.id(), &id, None)
            .await
            .expect("resume a finished job"),
        done
    );

    // Every batch was one audited transaction of at most 100 items.
    let audit: Vec<repo::Stored<serde_json::Value>> = repo::load_all(
        w.faults.as_ref(),
        Query::table(repo::company_pk(&w.company.id), repo::AUDIT_PREFIX),
    )
    .await
    .expect("audit");
    let batches = audit
        .iter()
        .filter(|e| e.value["action"] == "seats.allocate_batch")
        .count();
    let per_batch = seatkeeper_core::imports::CHUNK;
    assert_eq!(batches, (MANY as usize).div_ceil(per_batch));
    let reserved: Vec<_> = audit
        .iter()
        .filter(|e| e.value["action"] == "seats.allocate")
        .collect();
    assert_eq!(reserved.len(), 1);
    assert_eq!(reserved[0].value["after"]["reserved"], MANY);

    // Nobody is expired now: a new Select All reserves and renews nobody.
    let again = w.select_all(None).await.expect("again");
    assert_ne!(again.allocation_id, done.allocation_id);
    assert_eq!(
        (again.status, again.reserved, again.renewed),
        (JobStatus::Completed, 0, 0)
    );
    assert_eq!(w.figures().await.0, (MANY + 10, 1 + MANY));
}

async fn select_all_with_too_few_seats_writes_nothing(f: Fixture) {
    let w = world(&f, 200, 300).await;
    let before = w.partition().await;
    let refused = w.select_all(None).await.unwrap_err();
    assert_eq!(
        refused,
        ServiceError::NoSeatsAvailable {
            needed: 300,
            available: 199
        }
    );
    assert_eq!(w.partition().await, before, "not one item written");
    assert_eq!(w.latest().await, None);
}

/// A store failure half-way through the batches: every seat is already
/// reserved (so nothing is oversold), the renewed count matches the members
/// renewed, and Select All again finishes exactly. Both a refused write and
/// one written whose reply was lost.
async fn a_fault_half_way_through_select_all_is_resumed_exactly(f: Fixture) {
    const EXPIRED: u32 = 2_000;
    let baseline = 1 + ACTIVE as u64;
    for fault in [Fault::Before, Fault::After] {
        let w = world(&f, EXPIRED + 3, EXPIRED as usize).await;
        // 1: the member lists, 2: the reservation, 3…: the batches.
        w.faults.fail_nth(8, fault);
        let failed = w.select_all(None).await.unwrap_err();
        assert_eq!(failed.code(), "store_unavailable", "{fault:?}");
        let id = w.latest().await.expect("the job is recorded");
        let progress = w
            .svc
            .get_allocation(&w.lead, w.id(), &id)
            .await
            .expect("its progress");
        assert_eq!(progress.status, JobStatus::InProgress);
        let ((purchased, allocated), (active, expired)) = w.figures().await;
        assert_eq!(allocated, 1 + EXPIRED, "{fault:?}: all reserved, no more");
        assert!(allocated <= purchased);
        assert_eq!(active - baseline, u64::from(progress.renewed), "{fault:?}");
        assert_eq!(active + expired, baseline + u64::from(EXPIRED));
        let done_batches = match fault {
            Fault::Before | Fault::Conflict => 5,
            Fault::After => 6,
        };
        assert_eq!(
            progress.renewed as usize,
            done_batches * seatkeeper_core::imports::CHUNK,
            "{fault:?}"
        );

        let done = w.select_all(None).await.expect("finish");
        assert_eq!(done.allocation_id.map(|i| i.to_string()), Some(id));
        assert_eq!((done.status, done.renewed), (JobStatus::Completed, EXPIRED));
        assert_eq!(
            w.figures().await,
            (
                (EXPIRED + 3, 1 + EXPIRED),
                (baseline + u64::from(EXPIRED), 0)
            ),
            "{fault:?}"
        );
    }
}

/// A failure of the reservation itself leaves nothing reserved and nobody
/// renewed; the next Select All starts afresh.
async fn a_failed_reservation_leaves_nothing_reserved(f: Fixture) {
    let w = world(&f, 400, 300).await;
    w.faults.fail_nth(2, Fault::Before);
    assert_eq!(
        w.select_all(None).await.unwrap_err().code(),
        "store_unavailable"
    );
    assert_eq!(w.figures().await, ((400, 1), (1 + ACTIVE as u64, 300)));
    assert_eq!(w.latest().await, None);
    let done = w.select_all(None).await.expect("select all");
    assert_eq!((done.status, done.renewed), (JobStatus::Completed, 300));
    assert_eq!(w.figures().await, ((400, 301), (301 + ACTIVE as u64, 0)));
}

/// Select Alls at once renew each member once and take one seat each:
/// the later ones resume the first rather than reserving again.
async fn concurrent_select_alls_count_once(f: Fixture) {
    let w = world(&f, 600, 500).await;
    let (a, b, c, d) = tokio::join!(
        w.select_all(None),
        w.select_all(None),
        w.select_all(None),
        w.select_all(None)
    );
    for done in [a, b, c, d] {
        assert_eq!(done.expect("a Select All").status, JobStatus::Completed);
    }
    assert_eq!(w.figures().await, ((600, 501), (501 + ACTIVE as u64, 0)));
}

/// A member renewed by hand while the job waits is skipped by it, and the
/// seat reserved for them goes back: one seat each, exactly.
async fn a_member_renewed_meanwhile_gives_back_their_reserved_seat(f: Fixture) {
    let w = world(&f, 400, 300).await;
    let started = w.select_all(Some(Instant::now())).await.expect("start");
    assert_eq!((started.reserved, started.pool.allocated), (300, 301));
    w.svc
        .allocate(
            &w.lead,
            w.id(),
            "standard",
            Allocation::Emails(vec!["expired000042@big.test".into()]),
        )
        .await
        .expect("renew one by hand");
    let id = started.allocation_id.expect("an id").to_string();
    let done = w
        .svc
        .resume_allocation(&w.lead, w.id(), &id, None)
        .await
        .expect("resume");
    assert_eq!((done.status, done.renewed), (JobStatus::Completed, 299));
    assert_eq!(w.figures().await, ((400, 301), (301 + ACTIVE as u64, 0)));
}

on_both_stores!(
    a_member_renewed_meanwhile_gives_back_their_reserved_seat,
    select_all_renews_twenty_thousand_expired_members,
    select_all_with_too_few_seats_writes_nothing,
    a_fault_half_way_through_select_all_is_resumed_exactly,
    a_failed_reservation_leaves_nothing_reserved,
    concurrent_select_alls_count_once,
);
