//! Licences past the first year, on each store: terms that belong to co-term
//! seats, scheduled renewals, rolling licences by their own dates, releases.

use std::sync::Arc;

use seatkeeper_core::model::{CompanyStatus, LicenceStatus, MemberRole, OrderKind, Policy};
use seatkeeper_core::ports::{Clock, ManualClock};
use seatkeeper_core::service::{
    Allocation, Assignment, NewMember, NewPool, OrderRequest, ReleaseWhen,
};
use seatkeeper_core::types::CompanyId;
use seatkeeper_core::{Role, ServiceError};
use seatkeeper_test_support::fixtures::{account_manager, caller, date as d, new_company, premium};
use seatkeeper_test_support::stores::Fixture;

use crate::services::{manager_of, service, Service};

fn licence_type(name: &str, policy: Policy, fee: i64, seats: u32) -> NewPool {
    NewPool {
        licence_type: name.into(),
        policy,
        annual_fee_minor: fee,
        currency: "GBP".into(),
        seats,
    }
}

/// A company with these licence types, a term from 2026-04-01 for its
/// co-term seats, and the manager lead@acme.io.
async fn company_with(svc: &Service, pools: Vec<NewPool>) -> CompanyId {
    svc.create_company(
        &account_manager(),
        new_company("Acme Ltd")
            .plan(premium("2026-04-01"))
            .pools(pools)
            .manager("lead@acme.io", "Lee Lead")
            .build(),
    )
    .await
    .expect("create")
    .company
    .id
}

/// Acme: `standard` co-term seats (20 at GBP 120.00) on the term
/// 2026-04-01..2027-04-01, and `pro` rolling seats (5 at GBP 240.00).
async fn two_policy_company(svc: &Service) -> CompanyId {
    company_with(
        svc,
        vec![
            licence_type("standard", Policy::CoTerm, 12_000, 20),
            licence_type("pro", Policy::Rolling12Months, 24_000, 5),
        ],
    )
    .await
}

async fn add(svc: &Service, company: &CompanyId, email: &str, licence: Option<&str>) {
    svc.add_member(
        &manager_of(company),
        company.as_str(),
        NewMember {
            email: email.into(),
            name: email.into(),
            role: MemberRole::Learner,
            licence_type: licence.map(str::to_string),
        },
    )
    .await
    .expect("add a member");
}

async fn status_of(svc: &Service, company: &CompanyId, email: &str) -> LicenceStatus {
    let page = svc
        .list_members(&account_manager(), company.as_str(), None, None, Some(200))
        .await
        .expect("members");
    page.items
        .into_iter()
        .find(|m| m.email.as_str() == email)
        .map(|m| m.status)
        .expect("a member")
}

async fn seats(svc: &Service, company: &CompanyId, name: &str) -> (u32, u32) {
    let view = svc
        .get_company(&account_manager(), company.as_str())
        .await
        .expect("read");
    let pool = view
        .pools
        .iter()
        .find(|p| p.licence_type.as_str() == name)
        .expect("a pool");
    (pool.purchased, pool.allocated)
}

/// The lead requests an order and the account manager assigns it, today.
async fn request_and_assign(
    svc: &Service,
    company: &CompanyId,
    order: OrderRequest,
) -> Result<Assignment, ServiceError> {
    let order = svc
        .request_order(&manager_of(company), company.as_str(), order)
        .await?;
    svc.assign_order(
        &account_manager(),
        company.as_str(),
        order.id.as_str(),
        None,
    )
    .await
}

/// Requests and assigns an order on the clock's today; the invoice total.
async fn buy(svc: &Service, company: &CompanyId, order: OrderRequest) -> i64 {
    let assigned = request_and_assign(svc, company, order)
        .await
        .expect("request and assign");
    assert_eq!(
        assigned.invoice.total_minor,
        assigned
            .invoice
            .lines
            .iter()
            .map(|l| l.amount_minor)
            .sum::<i64>(),
        "the money billed is the sum of the invoice lines"
    );
    assigned.invoice.total_minor
}

fn at(clock: &ManualClock, day: &str) {
    clock.set_today(d(day));
}

async fn two_year_story(f: Fixture) {
    let (svc, clock) = service(&f, "2026-04-01");
    let acme = two_policy_company(&svc).await;
    let id = acme.as_str();
    let mut billed = Vec::new();

    // Year one. The lead holds a standard seat from creation; six learners.
    for i in 0..6 {
        add(&svc, &acme, &format!("l{i}@acme.io"), Some("standard")).await;
    }
    assert_eq!(seats(&svc, &acme, "standard").await, (20, 7));

    // 2026-11-22: 10 more standard seats, 130 of 365 days left:
    // 10 × 12 000 × 130 / 365 = 42 739.7 → 42 740.
    at(&clock, "2026-11-22");
    billed.push(
        buy(
            &svc,
            &acme,
            OrderRequest::one(OrderKind::Upgrade, "standard", 10),
        )
        .await,
    );
    assert_eq!(billed[0], 42_740);
    assert_eq!(seats(&svc, &acme, "standard").await, (30, 7));

    // 2026-12-01: 2 more rolling seats, a whole year each, no proration:
    // 2 × 24 000 = 48 000.
    at(&clock, "2026-12-01");
    billed.push(buy(&svc, &acme, OrderRequest::one(OrderKind::Upgrade, "pro", 2)).await);
    assert_eq!(billed[1], 48_000);
    assert_eq!(seats(&svc, &acme, "pro").await, (7, 0));

    // 2027-03-01: a rolling licence for Rosa, to 2028-03-01.
    at(&clock, "2027-03-01");
    add(&svc, &acme, "rosa@acme.io", Some("pro")).await;

    // 2027-03-15: two leavers keep their seats to the renewal date only.
    at(&clock, "2027-03-15");
    for leaver in ["l0@acme.io", "l1@acme.io"] {
        svc.release_licence(&manager_of(&acme), id, leaver, ReleaseWhen::AtRenewal)
            .await
            .expect("release at renewal");
    }
    let again = svc
        .release_licence(&manager_of(&acme), id, "l0@acme.io", ReleaseWhen::AtRenewal)
        .await
        .unwrap_err();
    assert!(matches!(again, ServiceError::AlreadyReleased { .. }));

    // 2027-03-20: the renewal keeps 16 standard seats (the account minimum),
    // a whole term: 16 × 12 000 = 192 000. Five holders carry over.
    at(&clock, "2027-03-20");
    let lead = manager_of(&acme);
    let first = svc
        .request_order(&lead, id, OrderRequest::renewal(&[("standard", 16)]))
        .await
        .expect("request a renewal");
    let second = svc
        .request_order(&lead, id, OrderRequest::renewal(&[("standard", 20)]))
        .await
        .expect("a second request, before either is assigned");
    let assigned = svc
        .assign_order(&account_manager(), id, first.id.as_str(), None)
        .await
        .expect("assign the renewal");
    billed.push(assigned.invoice.total_minor);
    assert_eq!(billed[2], 192_000);
    // Scheduled: today's seats and holders are untouched.
    assert_eq!(seats(&svc, &acme, "standard").await, (30, 7));
    let view = svc.get_company(&lead, id).await.expect("read");
    let next = view.company.next_term.as_ref().expect("a scheduled term");
    assert_eq!(
        (next.starts_on, next.renews_on),
        (d("2027-04-01"), d("2028-04-01"))
    );
    // One renewal per term, however it is asked for.
    let refused = svc
        .assign_order(&account_manager(), id, second.id.as_str(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ServiceError::AlreadyRenewed { .. }),
        "{refused:?}"
    );
    let refused = svc
        .request_order(&lead, id, OrderRequest::renewal(&[("standard", 16)]))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ServiceError::AlreadyRenewed { .. }),
        "{refused:?}"
    );
    let mail = svc.mailer().sent();
    let renewed = mail
        .iter()
        .rev()
        .find(|m| m.kind == "order_assigned")
        .expect("the renewal e-mail");
    assert!(
        renewed
            .text
            .contains("downgraded from 30 to 16 seats from 1 April 2027"),
        "{}",
        renewed.text
    );

    // 2027-03-31: the last day of the term; the leavers still hold seats.
    at(&clock, "2027-03-31");
    assert_eq!(
        status_of(&svc, &acme, "l0@acme.io").await,
        LicenceStatus::Active
    );

    // 2027-04-01: the next term starts, with nothing written on the day.
    at(&clock, "2027-04-01");
    let view = svc.get_company(&lead, id).await.expect("read");
    assert_eq!(view.status, CompanyStatus::Active);
    assert_eq!(view.company.plan.ends_on(), Some(d("2028-04-01")));
    assert_eq!(view.company.next_term, None);
    assert_eq!(seats(&svc, &acme, "standard").await, (16, 5));
    assert_eq!(
        status_of(&svc, &acme, "l0@acme.io").await,
        LicenceStatus::Expired
    );
    assert_eq!(
        status_of(&svc, &acme, "l2@acme.io").await,
        LicenceStatus::Active
    );
    // Rolling licences live by their own dates, past the old renewal date.
    at(&clock, "2027-04-02");
    assert_eq!(
        status_of(&svc, &acme, "rosa@acme.io").await,
        LicenceStatus::Active
    );

    // 2028-02-27: 72 hours before Rosa's licence ends, the reminder; the
    // lead renews it early, from its own end: to 2029-03-01, no day lost.
    at(&clock, "2028-02-27");
    svc.run_expiry_check(
        d("2028-02-27")
            .and_hms_opt(6, 0, 0)
            .expect("a time")
            .and_utc(),
        None,
    )
    .await
    .expect("the daily check");
    let reminder = svc
        .mailer()
        .sent()
        .into_iter()
        .find(|m| m.kind == "expiry_reminder" && m.text.contains("rosa@acme.io"))
        .expect("a reminder naming Rosa");
    assert!(reminder.text.contains("1 March 2028"), "{}", reminder.text);
    let renewed = svc
        .allocate(
            &lead,
            id,
            "pro",
            Allocation::Emails(vec!["rosa@acme.io".into()]),
        )
        .await
        .expect("renew early");
    assert_eq!(renewed.pool.allocated, 2, "an early renewal uses a seat");
    at(&clock, "2028-03-01");
    assert_eq!(
        status_of(&svc, &acme, "rosa@acme.io").await,
        LicenceStatus::Active
    );

    // 2028-03-20: year two's renewal, for the term from 2028-04-01.
    at(&clock, "2028-03-20");
    billed.push(buy(&svc, &acme, OrderRequest::renewal(&[("standard", 16)])).await);

    // 42 740 + 48 000 + 192 000 + 192 000 = 474 740.
    assert_eq!(billed.iter().sum::<i64>(), 474_740);
    let orders = svc
        .list_orders(&account_manager(), id, Some("assigned"), None, Some(200))
        .await
        .expect("orders");
    let invoiced: i64 = orders
        .items
        .iter()
        .filter_map(|o| o.invoice.as_ref())
        .map(|i| i.total_minor)
        .sum();
    assert_eq!(invoiced, 474_740, "every invoice, once");
}

/// A rolling-only company has no term and never expires as a company.
async fn rolling_only_company_has_no_term(f: Fixture) {
    let (svc, clock) = service(&f, "2027-03-01");
    let pro = licence_type("pro", Policy::Rolling12Months, 24_000, 3);
    let acme = company_with(&svc, vec![pro]).await;
    let view = svc
        .get_company(&account_manager(), acme.as_str())
        .await
        .expect("read");
    assert_eq!(view.company.plan.ends_on(), None);
    add(&svc, &acme, "ann@acme.io", Some("pro")).await;
    at(&clock, "2027-04-02");
    let ann = caller(Role::Learner, "ann@acme.io", Some(&acme), None);
    let access = svc.access(&ann).await.expect("access");
    assert!(access.allowed, "{access:?}");
    at(&clock, "2028-03-01");
    let access = svc.access(&ann).await.expect("access");
    assert!(!access.allowed, "expired on its own date");
    let view = svc
        .get_company(&manager_of(&acme), acme.as_str())
        .await
        .expect("read");
    assert_eq!(view.status, CompanyStatus::Active);
    // Rolling orders buy whole years and move no term.
    let quote = svc
        .quote(&manager_of(&acme), acme.as_str(), "pro", 2, None)
        .await
        .expect("quote");
    assert_eq!(quote.amount_minor, 48_000);
}

/// 16 releases and 16 allocations at once on one pool: exact counts.
async fn concurrent_releases_and_allocations_keep_exact_counts(f: Fixture) {
    let (svc, _) = service(&f, "2026-11-22");
    // The lead and 16 holders take 17 of 33 seats; 16 are free.
    let standard = licence_type("standard", Policy::CoTerm, 12_000, 33);
    let acme = company_with(&svc, vec![standard]).await;
    for i in 0..16 {
        add(&svc, &acme, &format!("holder{i}@acme.io"), Some("standard")).await;
        add(&svc, &acme, &format!("joiner{i}@acme.io"), None).await;
    }
    let shared = Arc::new(svc);
    let manager = manager_of(&acme);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (svc, lead, id) = (shared.clone(), manager.clone(), acme.clone());
        tasks.push(tokio::spawn(async move {
            svc.release_licence(
                &lead,
                id.as_str(),
                &format!("holder{i}@acme.io"),
                ReleaseWhen::Now,
            )
            .await
            .map(|_| ())
        }));
        let (svc, lead, id) = (shared.clone(), manager.clone(), acme.clone());
        tasks.push(tokio::spawn(async move {
            let who = Allocation::Emails(vec![format!("joiner{i}@acme.io")]);
            svc.allocate(&lead, id.as_str(), "standard", who)
                .await
                .map(|_| ())
        }));
    }
    for task in tasks {
        task.await
            .expect("a task")
            .expect("every release and allocation succeeds");
    }
    let svc = shared;
    assert_eq!(seats(&svc, &acme, "standard").await, (33, 17));
    for i in 0..16 {
        assert_eq!(
            status_of(&svc, &acme, &format!("holder{i}@acme.io")).await,
            LicenceStatus::Unlicensed
        );
        assert_eq!(
            status_of(&svc, &acme, &format!("joiner{i}@acme.io")).await,
            LicenceStatus::Active
        );
    }
}

/// Two renewals of one term assigned at once: one wins, one is refused.
async fn concurrent_renewals_of_one_term_bill_once(f: Fixture) {
    let (svc, _) = service(&f, "2027-03-20");
    let acme = two_policy_company(&svc).await;
    let lead = manager_of(&acme);
    let mut orders = Vec::new();
    for seats in [16, 18] {
        let order = svc
            .request_order(
                &lead,
                acme.as_str(),
                OrderRequest::renewal(&[("standard", seats)]),
            )
            .await
            .expect("request a renewal");
        orders.push(order.id);
    }
    let svc = Arc::new(svc);
    let tasks: Vec<_> = orders
        .into_iter()
        .map(|order| {
            let (svc, id) = (svc.clone(), acme.clone());
            tokio::spawn(async move {
                svc.assign_order(&account_manager(), id.as_str(), order.as_str(), None)
                    .await
            })
        })
        .collect();
    let (mut won, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("a task") {
            Ok(_) => won += 1,
            Err(ServiceError::AlreadyRenewed { .. }) => refused += 1,
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!((won, refused), (1, 1));
}

on_both_stores!(
    two_year_story,
    rolling_only_company_has_no_term,
    concurrent_releases_and_allocations_keep_exact_counts,
    concurrent_renewals_of_one_term_bill_once,
);

/// Random sequences of upgrades, renewals, releases, transfers and
/// allocations on random days, on SQLite: the invariants hold after every
/// step, whichever steps are refused.
mod random_sequences {
    use proptest::prelude::*;

    use super::*;

    const LEARNERS: usize = 8;

    #[derive(Debug, Clone)]
    enum Step {
        Wait(u32),
        Upgrade(&'static str, u32),
        Renew(u32),
        ReleaseNow(usize),
        ReleaseAtRenewal(usize),
        Transfer(usize, usize),
        Allocate(&'static str, usize),
        Remove(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        let kind = prop_oneof![Just("standard"), Just("pro")];
        let who = 0..LEARNERS;
        prop_oneof![
            (1u32..120).prop_map(Step::Wait),
            (kind.clone(), 1u32..4).prop_map(|(k, q)| Step::Upgrade(k, q)),
            (14u32..24).prop_map(Step::Renew),
            who.clone().prop_map(Step::ReleaseNow),
            who.clone().prop_map(Step::ReleaseAtRenewal),
            (who.clone(), who.clone()).prop_map(|(a, b)| Step::Transfer(a, b)),
            (kind, who.clone()).prop_map(|(k, i)| Step::Allocate(k, i)),
            who.prop_map(Step::Remove),
        ]
    }

    fn learner(i: usize) -> String {
        format!("l{i}@acme.io")
    }

    async fn apply(svc: &Service, clock: &ManualClock, acme: &CompanyId, step: &Step) {
        let (id, lead) = (acme.as_str(), manager_of(acme));
        // Refusals are part of the game; only the invariants are checked.
        let _ = match step {
            Step::Wait(days) => {
                let today = clock.today_in(chrono_tz::Europe::London);
                clock.set_today(today + chrono::Days::new(u64::from(*days)));
                Ok(())
            }
            Step::Upgrade(kind, quantity) => {
                let order = OrderRequest::one(OrderKind::Upgrade, kind, *quantity);
                request_and_assign(svc, acme, order).await.map(|_| ())
            }
            Step::Renew(quantity) => {
                let order = OrderRequest::renewal(&[("standard", *quantity)]);
                request_and_assign(svc, acme, order).await.map(|_| ())
            }
            Step::ReleaseNow(i) => svc
                .release_licence(&lead, id, &learner(*i), ReleaseWhen::Now)
                .await
                .map(|_| ()),
            Step::ReleaseAtRenewal(i) => svc
                .release_licence(&lead, id, &learner(*i), ReleaseWhen::AtRenewal)
                .await
                .map(|_| ()),
            Step::Transfer(a, b) => svc
                .transfer_licence(&lead, id, &learner(*a), &learner(*b))
                .await
                .map(|_| ()),
            Step::Allocate(kind, i) => svc
                .allocate(&lead, id, kind, Allocation::Emails(vec![learner(*i)]))
                .await
                .map(|_| ()),
            Step::Remove(i) => {
                let removed = svc.remove_member(&lead, id, &learner(*i)).await;
                // Keep the cast: a removed learner comes back unlicensed.
                if removed.is_ok() {
                    add(svc, acme, &learner(*i), None).await;
                }
                removed
            }
        };
    }

    async fn check_invariants(svc: &Service, acme: &CompanyId, history: &[Step]) {
        let am = account_manager();
        let view = svc.get_company(&am, acme.as_str()).await.expect("read");
        let members = svc
            .list_members(&am, acme.as_str(), None, None, Some(200))
            .await
            .expect("members")
            .items;
        for pool in &view.pools {
            assert!(
                pool.allocated <= pool.purchased,
                "allocated over purchased: {pool:?} after {history:?}"
            );
            let active = members
                .iter()
                .filter(|m| {
                    m.status == LicenceStatus::Active
                        && m.licence_type.as_ref() == Some(&pool.licence_type)
                })
                .count() as u32;
            assert!(
                active <= pool.allocated,
                "{active} active {} holders but {} seats allocated after {history:?}",
                pool.licence_type,
                pool.allocated
            );
        }
        let orders = svc
            .list_orders(&am, acme.as_str(), Some("assigned"), None, Some(200))
            .await
            .expect("orders")
            .items;
        let mut renewed_terms = std::collections::BTreeSet::new();
        for order in &orders {
            let invoice = order.invoice.as_ref().expect("an assigned order's invoice");
            assert_eq!(
                invoice.total_minor,
                invoice.lines.iter().map(|l| l.amount_minor).sum::<i64>(),
                "billed = the invoice's lines"
            );
            if let Some(term) = order.renews_term_ending {
                assert!(
                    renewed_terms.insert(term),
                    "the term ending {term} billed twice: {history:?}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn invariants_hold_over_random_sequences(steps in prop::collection::vec(step(), 1..40)) {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let f = seatkeeper_test_support::stores::sqlite().await;
                let (svc, clock) = service(&f, "2026-04-01");
                let acme = two_policy_company(&svc).await;
                for i in 0..LEARNERS {
                    add(&svc, &acme, &learner(i), None).await;
                }
                for (n, step) in steps.iter().enumerate() {
                    apply(&svc, &clock, &acme, step).await;
                    check_invariants(&svc, &acme, &steps[..=n]).await;
                }
            });
        }
    }
}
