//! The use cases, end to end over each store adapter.

use std::sync::Arc;

use seatkeeper_core::model::{LicenceStatus, MemberRole, OrderKind, OrderState, Policy};
use seatkeeper_core::ports::{ItemStore, ManualClock, Query};
use seatkeeper_core::service::{
    Allocation, CompanyView, NewCompany, NewMember, NewPlan, NewPool, OrderRequest, Settings,
};
use seatkeeper_core::types::CompanyId;
use seatkeeper_core::{repo, Caller, Role, Seatkeeper, ServiceError};
use seatkeeper_test_support::fixtures::{
    account_manager, at, caller, date as d, new_company, order_request, premium, standard_pool,
    trial,
};
use seatkeeper_test_support::mail::RecordingMailer;
use seatkeeper_test_support::stores::Fixture;

pub(crate) type Service = Seatkeeper<Arc<dyn ItemStore>, Arc<ManualClock>, Arc<RecordingMailer>>;

pub(crate) fn service(f: &Fixture, today: &str) -> (Service, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at(d(today)));
    let svc = Seatkeeper::new(
        f.store.clone(),
        clock.clone(),
        Arc::new(RecordingMailer::default()),
        Settings::default(),
    );
    (svc, clock)
}

pub(crate) fn manager_of(company: &CompanyId) -> Caller {
    caller(Role::Manager, "lead@acme.io", Some(company), None)
}

fn acme_ltd(plan: NewPlan, pools: Vec<NewPool>) -> NewCompany {
    new_company("Acme Ltd")
        .plan(plan)
        .pools(pools)
        .manager("Lead@Acme.io", "Lee Lead")
        .build()
}

async fn premium_company(svc: &Service, policy: Policy, seats: u32) -> CompanyView {
    svc.create_company(
        &account_manager(),
        acme_ltd(premium("2026-04-01"), vec![standard_pool(policy, seats)]),
    )
    .await
    .expect("create a premium company")
}

async fn add_learners(svc: &Service, company: &CompanyId, n: usize, licensed: bool) -> Vec<String> {
    let mut emails = Vec::new();
    for i in 0..n {
        let email = format!("learner{i}@acme.io");
        svc.add_member(
            &manager_of(company),
            company.as_str(),
            NewMember {
                email: email.clone(),
                name: format!("Learner {i}"),
                role: MemberRole::Learner,
                licence_type: licensed.then(|| "standard".to_string()),
            },
        )
        .await
        .expect("add a learner");
        emails.push(email);
    }
    emails
}

fn upgrade(quantity: u32) -> OrderRequest {
    order_request(OrderKind::Upgrade, quantity)
}

/// DESIGN.md's example through the services: quote and invoice agree.
async fn pro_rata_upgrade_is_invoiced_from_the_actioned_date(f: Fixture) {
    let (svc, _) = service(&f, "2026-11-22");
    let company = premium_company(&svc, Policy::CoTerm, 20).await;
    let id = company.company.id.as_str();
    let lead = manager_of(&company.company.id);
    let quote = svc
        .quote(&lead, id, "standard", 10, None)
        .await
        .expect("quote");
    assert_eq!(
        (quote.days_remaining, quote.days_in_term, quote.amount_minor),
        (130, 365, 42_740)
    );

    let order = svc
        .request_order(&lead, id, upgrade(10))
        .await
        .expect("request");
    assert_eq!(order.state, OrderState::Requested);
    assert_eq!(order.quote, quote);
    let assigned = svc
        .assign_order(
            &account_manager(),
            id,
            order.id.as_str(),
            Some("2026-11-22"),
        )
        .await
        .expect("assign");
    assert_eq!(assigned.invoice.first_line.amount_minor, 42_740);
    assert_eq!(assigned.invoice.first_line.days_remaining, 130);
    assert_eq!(assigned.invoice.actioned_on, d("2026-11-22"));
    // The manager was given a seat at creation: 20 + 10 bought, 1 allocated.
    assert_eq!(
        (
            assigned.pool.purchased,
            assigned.pool.allocated,
            assigned.pool.available
        ),
        (30, 1, 29)
    );
    assert_eq!(assigned.order.state, OrderState::Assigned);

    let again = svc
        .assign_order(&account_manager(), id, order.id.as_str(), None)
        .await;
    assert!(
        matches!(
            again,
            Err(ServiceError::OrderNotRequested {
                state: OrderState::Assigned
            })
        ),
        "{again:?}"
    );
    let view = svc.get_company(&lead, id).await.expect("read");
    assert_eq!(view.pools[0].purchased, 30);

    // The account manager heard of the request; the managers of the invoice.
    let sent = svc.mailer().sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].kind.as_str(), sent[0].to.clone()),
        ("order_requested", vec!["am@vendor.io".to_string()])
    );
    assert_eq!(
        (sent[1].kind.as_str(), sent[1].to.clone()),
        ("order_assigned", vec!["lead@acme.io".to_string()])
    );
    for part in [&sent[1].text, &sent[1].html] {
        assert!(
            part.contains("GBP 427.40") && part.contains("130 / 365"),
            "{part}"
        );
        assert!(
            part.contains("20 seats before, 30 from 22 November 2026"),
            "{part}"
        );
    }
    // Both notices are marked sent, so nothing is left for a retry.
    let notices: Vec<repo::Stored<serde_json::Value>> = repo::load_all(
        f.store.as_ref(),
        Query::table(repo::company_pk(&company.company.id), "N#"),
    )
    .await
    .expect("notices");
    assert_eq!(notices.len(), 2);
    assert!(notices.iter().all(|n| !n.value["sent_at"].is_null()));
}

async fn upgrade_on_or_after_renewal_is_refused(f: Fixture) {
    let (svc, clock) = service(&f, "2026-11-22");
    let company = premium_company(&svc, Policy::CoTerm, 20).await;
    let id = company.company.id.as_str();
    let order = svc
        .request_order(&manager_of(&company.company.id), id, upgrade(1))
        .await
        .expect("request");
    // Nobody bills a day that has not come, nor one before the request.
    for day in ["2027-04-01", "2026-11-21"] {
        let refused = svc
            .assign_order(&account_manager(), id, order.id.as_str(), Some(day))
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, ServiceError::Invalid(f) if f.field == "actioned_on"),
            "{day}: {refused:?}"
        );
    }
    clock.set_today(d("2027-04-01"));
    let late = svc
        .assign_order(&account_manager(), id, order.id.as_str(), None)
        .await;
    assert_eq!(late.unwrap_err().code(), "term_ended");
    let view = svc.get_company(&account_manager(), id).await.expect("read");
    assert_eq!(
        view.pools[0].purchased, 20,
        "a refused assignment changes nothing"
    );
}

/// 32 concurrent one-seat allocations against 10 free seats.
async fn concurrent_allocations_never_oversell(f: Fixture) {
    let (svc, _) = service(&f, "2026-11-22");
    let company = premium_company(&svc, Policy::CoTerm, 11).await; // the manager takes 1
    let id = company.company.id.clone();
    let emails = add_learners(&svc, &id, 32, false).await;
    let svc = Arc::new(svc);
    let tasks: Vec<_> = emails
        .iter()
        .map(|email| {
            let (svc, id, email) = (svc.clone(), id.clone(), email.clone());
            tokio::spawn(async move {
                svc.allocate(
                    &manager_of(&id),
                    id.as_str(),
                    "standard",
                    Allocation::Emails(vec![email]),
                )
                .await
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("the task ran") {
            Ok(_) => ok += 1,
            Err(ServiceError::NoSeatsAvailable {
                needed: 1,
                available: 0,
            }) => refused += 1,
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!((ok, refused), (10, 22));
    let view = svc
        .get_company(&account_manager(), id.as_str())
        .await
        .expect("read");
    assert_eq!((view.pools[0].allocated, view.pools[0].available), (11, 0));
    let holders = svc
        .list_members(
            &account_manager(),
            id.as_str(),
            Some("active"),
            None,
            Some(200),
        )
        .await
        .expect("list");
    assert_eq!(
        holders
            .items
            .iter()
            .filter(|m| m.role == MemberRole::Learner)
            .count(),
        10
    );
}

/// One order assigned twice at once grows `purchased` once.
async fn concurrent_assigns_apply_once(f: Fixture) {
    let (svc, _) = service(&f, "2026-11-22");
    let company = premium_company(&svc, Policy::CoTerm, 20).await;
    let id = company.company.id.clone();
    let order = svc
        .request_order(&manager_of(&id), id.as_str(), upgrade(5))
        .await
        .expect("request");
    let svc = Arc::new(svc);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (svc, id, order) = (svc.clone(), id.clone(), order.id.clone());
            tokio::spawn(async move {
                svc.assign_order(&account_manager(), id.as_str(), order.as_str(), None)
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.expect("the task ran") {
            Ok(_) => ok += 1,
            Err(ServiceError::OrderNotRequested { .. }) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    let view = svc
        .get_company(&account_manager(), id.as_str())
        .await
        .expect("read");
    assert_eq!(view.pools[0].purchased, 25);
}

async fn renewal_rules(f: Fixture) {
    let (svc, clock) = service(&f, "2027-03-20");
    let company = premium_company(&svc, Policy::CoTerm, 20).await;
    let id = company.company.id.as_str();
    let lead = manager_of(&company.company.id);
    let renew = |quantity| order_request(OrderKind::Renewal, quantity);
    let below = svc.request_order(&lead, id, renew(15)).await.unwrap_err();
    assert_eq!(
        below,
        ServiceError::BelowMinimumSeats {
            minimum: 16,
            requested: 15
        }
    );
    let order = svc
        .request_order(&lead, id, renew(16))
        .await
        .expect("renew at the minimum");
    assert_eq!(order.quote.amount_minor, 16 * 12_000);
    let done = svc
        .assign_order(&account_manager(), id, order.id.as_str(), None)
        .await
        .expect("assign");
    assert_eq!(
        done.pool.purchased, 20,
        "assigned before the renewal date, it is scheduled: no paid seat is lost mid-term"
    );
    let view = svc.get_company(&lead, id).await.expect("read");
    assert_eq!(view.company.plan.ends_on(), Some(d("2027-04-01")));
    clock.set_today(d("2027-04-01"));
    let view = svc.get_company(&lead, id).await.expect("read");
    assert_eq!(
        view.company.plan.ends_on(),
        Some(d("2028-04-01")),
        "the next term starts on the old renewal date"
    );
    assert_eq!(
        view.pools[0].purchased, 16,
        "a renewal may lower the seat count, from the next term"
    );
    // The manager's co-term seat carries into the new term.
    clock.set_today(d("2027-05-01"));
    assert_eq!(
        svc.get_company(&lead, id)
            .await
            .expect("read")
            .counts
            .active,
        1
    );
}

async fn trial_conversion_then_allocate_all_expired(f: Fixture) {
    let (svc, clock) = service(&f, "2026-11-01");
    let partner = caller(Role::PartnerAdmin, "admin@msp.io", None, Some("msp1"));
    let company = svc
        .create_company(
            &partner,
            acme_ltd(
                trial("2026-11-15", 5),
                vec![standard_pool(Policy::CoTerm, 0)],
            ),
        )
        .await
        .expect("create");
    assert_eq!(
        company.company.partner_id.as_ref().map(|p| p.as_str()),
        Some("msp1")
    );
    let id = company.company.id.clone();
    // In a trial each member gets a trial seat without asking, up to the
    // plan's seats; the pools play no part.
    add_learners(&svc, &id, 4, false).await;
    let view = svc.get_company(&partner, id.as_str()).await.expect("read");
    let trial_seats = view.trial.expect("trial seats");
    assert_eq!((view.counts.active, trial_seats.available), (5, 0));
    assert_eq!(view.pools[0].allocated, 0);

    clock.set_today(d("2026-11-20"));
    let lead = manager_of(&id);
    let access = svc.access(&lead).await.expect("access");
    assert_eq!(
        (access.allowed, access.redirect_to.as_deref()),
        (false, Some("/upgrade"))
    );
    let order = svc
        .request_order(
            &lead,
            id.as_str(),
            order_request(OrderKind::TrialConversion, 4),
        )
        .await
        .expect("request licences");
    let assigned = svc
        .assign_order(&partner, id.as_str(), order.id.as_str(), None)
        .await
        .expect("assign");
    assert_eq!((assigned.pool.purchased, assigned.pool.allocated), (4, 0));
    assert_eq!(assigned.invoice.first_line.amount_minor, 4 * 12_000);
    let view = svc.get_company(&partner, id.as_str()).await.expect("read");
    assert_eq!(view.company.plan.ends_on(), Some(d("2027-11-20")));
    assert_eq!(view.counts.expired, 5);

    // Five expired, four seats: refused, and nothing changes.
    let short = svc
        .allocate(&partner, id.as_str(), "standard", Allocation::AllExpired)
        .await
        .unwrap_err();
    assert_eq!(
        short,
        ServiceError::NoSeatsAvailable {
            needed: 5,
            available: 4
        }
    );
    assert_eq!(
        svc.get_company(&partner, id.as_str())
            .await
            .expect("read")
            .counts
            .expired,
        5
    );

    let more = svc
        .request_order(&lead, id.as_str(), upgrade(1))
        .await
        .expect("request");
    svc.assign_order(&partner, id.as_str(), more.id.as_str(), None)
        .await
        .expect("assign");
    let done = svc
        .allocate(&partner, id.as_str(), "standard", Allocation::AllExpired)
        .await
        .expect("allocate");
    assert_eq!(done.allocated.len(), 5);
    assert_eq!(done.pool.available, 0);
    assert!(svc.access(&lead).await.expect("access").allowed);

    // The partner's action is audited as acting for the company.
    let audit: Vec<repo::Stored<serde_json::Value>> = repo::load_all(
        f.store.as_ref(),
        Query::table(repo::company_pk(&id), repo::AUDIT_PREFIX),
    )
    .await
    .expect("audit");
    let allocation = audit
        .iter()
        .rev()
        .find(|e| e.value["action"] == "seats.allocate")
        .expect("an allocation event");
    assert_eq!(allocation.value["acting_for"], id.as_str());
    assert_eq!(allocation.value["actor"]["role"], "partner_admin");
}

async fn tenancy_and_roles(f: Fixture) {
    let (svc, _) = service(&f, "2026-11-22");
    let acme = premium_company(&svc, Policy::CoTerm, 20).await.company.id;
    let other = premium_company(&svc, Policy::CoTerm, 20).await.company.id;
    let foreign_manager = manager_of(&other);
    let not_found = svc
        .get_company(&foreign_manager, acme.as_str())
        .await
        .unwrap_err();
    assert_eq!(not_found.code(), "not_found");
    assert_eq!(
        svc.get_company(&foreign_manager, "no-such-company")
            .await
            .unwrap_err(),
        not_found,
        "a foreign company looks exactly like a missing one"
    );
    let order = svc
        .request_order(&manager_of(&acme), acme.as_str(), upgrade(1))
        .await
        .expect("request");
    let learner = caller(Role::Learner, "l@acme.io", Some(&acme), None);
    assert_eq!(
        svc.get_company(&learner, acme.as_str())
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(
        svc.assign_order(&manager_of(&acme), acme.as_str(), order.id.as_str(), None)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    let stranger_partner = caller(Role::PartnerAdmin, "p@other.io", None, Some("msp9"));
    assert_eq!(
        svc.assign_order(&stranger_partner, acme.as_str(), order.id.as_str(), None)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        svc.cancel_order(&foreign_manager, acme.as_str(), order.id.as_str())
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    let other_lead = caller(Role::Manager, "other@acme.io", Some(&acme), None);
    assert_eq!(
        svc.cancel_order(&other_lead, acme.as_str(), order.id.as_str())
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    let cancelled = svc
        .cancel_order(&manager_of(&acme), acme.as_str(), order.id.as_str())
        .await
        .expect("the requester cancels");
    assert_eq!(cancelled.state, OrderState::Cancelled);
    let after = svc
        .assign_order(&account_manager(), acme.as_str(), order.id.as_str(), None)
        .await
        .unwrap_err();
    assert_eq!(after.code(), "order_not_requested");
}

async fn members_and_validation(f: Fixture) {
    let (svc, clock) = service(&f, "2026-11-22");
    // A term that outlasts the rolling licences given today.
    let plan = premium("2027-01-01");
    let company = svc
        .create_company(
            &account_manager(),
            acme_ltd(plan, vec![standard_pool(Policy::Rolling12Months, 3)]),
        )
        .await
        .expect("create");
    let id = company.company.id.clone();
    let lead = manager_of(&id);
    add_learners(&svc, &id, 2, true).await;
    let dup = svc
        .add_member(
            &lead,
            id.as_str(),
            NewMember {
                email: " LEARNER0@acme.io ".into(),
                name: "X".into(),
                role: MemberRole::Learner,
                licence_type: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(dup.code(), "member_exists");
    let full = svc
        .add_member(
            &lead,
            id.as_str(),
            NewMember {
                email: "x@acme.io".into(),
                name: "X".into(),
                role: MemberRole::Learner,
                licence_type: Some("standard".into()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        full,
        ServiceError::NoSeatsAvailable {
            needed: 1,
            available: 0
        }
    );
    let bad = svc
        .allocate(
            &lead,
            id.as_str(),
            "standard",
            Allocation::Emails(vec!["ok@acme.io".into(), "not-an-email".into()]),
        )
        .await
        .unwrap_err();
    match bad {
        ServiceError::Invalid(field) => assert_eq!(field.field, "emails[1]"),
        other => panic!("unexpected {other:?}"),
    }
    let unknown = svc
        .allocate(
            &lead,
            id.as_str(),
            "standard",
            Allocation::Emails(vec!["ghost@acme.io".into()]),
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "unknown_members");
    // Rolling licences last 12 months from the day they were given.
    let members = svc
        .list_members(&lead, id.as_str(), None, None, None)
        .await
        .expect("list");
    let learner = members
        .items
        .iter()
        .find(|m| m.email.as_str() == "learner0@acme.io")
        .expect("learner0");
    assert_eq!(learner.expires_on, Some(d("2027-11-22")));
    clock.set_today(d("2027-11-22"));
    let expired = svc
        .list_members(&lead, id.as_str(), Some("expired"), None, None)
        .await
        .expect("list");
    assert_eq!(expired.items.len(), 3, "two learners and the manager");
    assert!(expired
        .items
        .iter()
        .all(|m| m.status == LicenceStatus::Expired));
    let active = svc
        .allocate(&lead, id.as_str(), "standard", Allocation::AllExpired)
        .await
        .unwrap_err();
    assert_eq!(
        active,
        ServiceError::NoSeatsAvailable {
            needed: 3,
            available: 0
        },
        "an expired rolling licence does not return its seat"
    );
}

async fn paging_visits_every_member_once(f: Fixture) {
    let (svc, _) = service(&f, "2026-11-22");
    let id = premium_company(&svc, Policy::CoTerm, 20).await.company.id;
    add_learners(&svc, &id, 7, false).await;
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = svc
            .list_members(&account_manager(), id.as_str(), None, cursor, Some(3))
            .await
            .expect("page");
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|m| m.email));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (8, 8));
}

/// A mail service that hangs: the request still answers (its change is
/// committed), the e-mail is left claimed by the request, a daily run in
/// the same moment does not send it, and the first run after the claim
/// lapses sends it once.
async fn a_hung_mail_service_does_not_hold_the_request(f: Fixture) {
    let clock = Arc::new(ManualClock::default());
    clock.set_now(at("2026-10-01T09:00:00Z"));
    let svc = Seatkeeper::new(
        f.store.clone(),
        clock.clone(),
        Arc::new(RecordingMailer::stalling(vec![1])),
        Settings::default(),
    );
    let company = premium_company(&svc, Policy::CoTerm, 20).await;
    let id = &company.company.id;
    let order = svc
        .request_order(&manager_of(id), id.as_str(), upgrade(2))
        .await
        .expect("the request answers though its e-mail hangs");
    let requested = |svc: &Service| {
        svc.mailer()
            .sent()
            .into_iter()
            .filter(|m| m.kind == "order_requested")
            .count()
    };
    assert_eq!(requested(&svc), 0);
    svc.run_expiry_check(at("2026-10-01T09:01:00Z"), None)
        .await
        .expect("a run while the request holds it");
    assert_eq!(requested(&svc), 0, "the request's claim is respected");
    clock.set_now(at("2026-10-02T09:00:00Z"));
    svc.run_expiry_check(at("2026-10-02T09:00:00Z"), None)
        .await
        .expect("the next day's run");
    svc.run_expiry_check(at("2026-10-03T09:00:00Z"), None)
        .await
        .expect("and the next");
    assert_eq!(requested(&svc), 1, "sent once, by the run");
    let sent = svc.mailer().sent();
    let request = sent
        .iter()
        .find(|m| m.kind == "order_requested")
        .expect("the request e-mail");
    assert!(request.text.contains(order.id.as_str()), "{}", request.text);
}

on_both_stores!(
    a_hung_mail_service_does_not_hold_the_request,
    pro_rata_upgrade_is_invoiced_from_the_actioned_date,
    upgrade_on_or_after_renewal_is_refused,
    concurrent_allocations_never_oversell,
    concurrent_assigns_apply_once,
    renewal_rules,
    trial_conversion_then_allocate_all_expired,
    tenancy_and_roles,
    members_and_validation,
    paging_visits_every_member_once,
);
