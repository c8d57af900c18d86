//! Running customers day to day, on each store: company, licence-type and
//! member administration, partners on record, the helpdesk queue and its
//! overdue digest, and the audit trail.

use std::sync::Arc;

use seatkeeper_core::model::{MemberRole, OrderKind, Policy};
use seatkeeper_core::ports::{ItemStore, ManualClock};
use seatkeeper_core::service::{
    CompanyChanges, LicenceTypeSettings, MemberChanges, NewMember, PartnerSettings, Settings,
};
use seatkeeper_core::types::CompanyId;
use seatkeeper_core::{repo, Caller, Role, Seatkeeper, ServiceError};
use seatkeeper_test_support::counting::CountingStore;
use seatkeeper_test_support::faults::{Fault, FaultyStore};
use seatkeeper_test_support::fixtures::{
    account_manager, at, caller, date as d, email, new_company, order_request, premium,
    rolling_learner, standard_pool,
};
use seatkeeper_test_support::mail::RecordingMailer;
use seatkeeper_test_support::stores::Fixture;

use crate::services::{manager_of, service, Service};

fn partner_admin(partner: &str) -> Caller {
    caller(
        Role::PartnerAdmin,
        &format!("admin@{partner}.io"),
        None,
        Some(partner),
    )
}

/// A premium company on 20 co-term seats at GBP 120.00, created by
/// `creator` (a partner admin's company gets their partner id).
async fn company(svc: &Service, creator: &Caller, name: &str) -> CompanyId {
    svc.create_company(
        creator,
        new_company(name)
            .plan(premium("2026-04-01"))
            .pool(standard_pool(Policy::CoTerm, 20))
            .manager("lead@acme.io", "Lee Lead")
            .build(),
    )
    .await
    .expect("create")
    .company
    .id
}

fn invalid_field(result: Result<impl std::fmt::Debug, ServiceError>) -> String {
    match result {
        Err(ServiceError::Invalid(field)) => field.field,
        other => panic!("expected a 400, got {other:?}"),
    }
}

/// Settings change with before and after in the audit trail; bad values
/// are refused naming the field; roles and tenants are held to theirs.
async fn company_settings_are_changed_and_audited(f: Fixture) {
    let (svc, _) = service(&f, "2026-11-20");
    let id = company(&svc, &account_manager(), "Acme Ltd").await;
    let am = account_manager();
    let change = |changes: CompanyChanges| svc.update_company(&am, id.as_str(), changes);
    let bad_zone = CompanyChanges {
        timezone: Some("Mars/Olympus".into()),
        ..CompanyChanges::default()
    };
    assert_eq!(invalid_field(change(bad_zone).await), "timezone");
    let too_small = CompanyChanges {
        min_seats_at_renewal: Some(0),
        ..CompanyChanges::default()
    };
    assert_eq!(
        invalid_field(change(too_small).await),
        "min_seats_at_renewal"
    );
    let view = change(CompanyChanges {
        name: Some("Acme Group".into()),
        min_seats_at_renewal: Some(10),
        account_manager_email: Some("Sam@Vendor.io".into()),
        ..CompanyChanges::default()
    })
    .await
    .expect("change");
    assert_eq!(view.company.name, "Acme Group");
    assert_eq!(view.company.min_seats_at_renewal, 10);
    assert_eq!(view.company.account_manager_email, email("sam@vendor.io"));

    let trail = svc
        .list_audit(&manager_of(&id), id.as_str(), None, None)
        .await
        .expect("audit");
    let newest = &trail.items[0];
    assert_eq!(newest.action, "company.update");
    assert_eq!(newest.before["name"], "Acme Ltd");
    assert_eq!(newest.after["name"], "Acme Group");
    assert_eq!(newest.before["min_seats_at_renewal"], 16);
    assert_eq!(newest.after["min_seats_at_renewal"], 10);
    assert!(
        newest.after.get("timezone").is_none(),
        "unchanged fields are not listed"
    );
    assert_eq!(trail.items.last().expect("events").action, "company.create");

    assert!(matches!(
        svc.update_company(&manager_of(&id), id.as_str(), CompanyChanges::default())
            .await,
        Err(ServiceError::Forbidden { .. })
    ));
    assert!(matches!(
        svc.update_company(&partner_admin("p9"), id.as_str(), CompanyChanges::default())
            .await,
        Err(ServiceError::NotFound { .. })
    ));
}

/// A rolling licence's reminder falls due at the start of its end date in
/// the company's zone: a new zone moves its due-index entry with it.
async fn a_new_time_zone_moves_rolling_licences_in_the_due_index(f: Fixture) {
    let (svc, clock) = service(&f, "2026-11-20");
    let am = account_manager();
    let id = svc
        .create_company(
            &am,
            new_company("Kiwi Ltd")
                .plan(premium("2026-04-01"))
                .pool(standard_pool(Policy::Rolling12Months, 5))
                .manager("lead@kiwi.io", "Lee")
                .build(),
        )
        .await
        .expect("create")
        .company
        .id;
    let company = seatkeeper_test_support::fixtures::load_company(&*f.store, &id).await;
    let learner = rolling_learner("ann@kiwi.io", d("2027-03-01"), d("2026-03-01"));
    f.store
        .transact(vec![repo::insert(&company, &learner).expect("write")])
        .await
        .expect("seed");
    let key = repo::member_key(&id, &learner.email);
    let due_sk = |item: Option<seatkeeper_core::ports::Item>| {
        item.and_then(|i| i.due).map(|due| due.sk).expect("indexed")
    };
    assert!(due_sk(f.store.get(&key).await.expect("read")).starts_with("2027-03-01T00:00:00Z"));
    svc.update_company(
        &am,
        id.as_str(),
        CompanyChanges {
            timezone: Some("Pacific/Auckland".into()),
            ..CompanyChanges::default()
        },
    )
    .await
    .expect("move");
    // Midnight in Auckland on 1 March (NZDT, +13) is 11:00 UTC the day before.
    assert!(due_sk(f.store.get(&key).await.expect("read")).starts_with("2027-02-28T11:00:00Z"));

    // Back to London, on a store where every write after the company's
    // own overlaps another (DynamoDB's TransactionConflict): the move is
    // saved but its re-index fails, and says so rather than leaving the
    // licence indexed for Auckland. Sent again, it finishes.
    let faults = Arc::new(FaultyStore::new(f.store.clone()));
    let store: Arc<dyn ItemStore> = faults.clone();
    let overlapped = Seatkeeper::new(
        store,
        clock,
        Arc::new(RecordingMailer::default()),
        Settings::default(),
    );
    let to_london = || CompanyChanges {
        timezone: Some("Europe/London".into()),
        ..CompanyChanges::default()
    };
    faults.fail_from(2, Fault::Conflict);
    let failed = overlapped
        .update_company(&am, id.as_str(), to_london())
        .await;
    assert!(matches!(failed, Err(ServiceError::Store(_))), "{failed:?}");
    faults.heal();
    overlapped
        .update_company(&am, id.as_str(), to_london())
        .await
        .expect("sent again");
    assert!(due_sk(f.store.get(&key).await.expect("read")).starts_with("2027-03-01T00:00:00Z"));
}

/// A new type starts with no seats; a new fee prices orders requested
/// from then on, never one already requested; policy and currency stay.
async fn licence_types_are_added_and_fees_apply_from_now_on(f: Fixture) {
    let (svc, _) = service(&f, "2026-10-01");
    let am = account_manager();
    let id = company(&svc, &am, "Acme Ltd").await;
    let settings = |policy, fee: i64, currency: &str| LicenceTypeSettings {
        policy,
        annual_fee_minor: fee,
        currency: currency.into(),
    };
    let (pool, added) = svc
        .put_licence_type(
            &am,
            id.as_str(),
            "pro",
            settings(Policy::Rolling12Months, 30_000, "GBP"),
        )
        .await
        .expect("add");
    assert!(added);
    assert_eq!((pool.purchased, pool.available), (0, 0));
    assert!(matches!(
        svc.put_licence_type(
            &am,
            id.as_str(),
            "pro",
            settings(Policy::CoTerm, 30_000, "GBP")
        )
        .await,
        Err(ServiceError::LicenceTypeConflict {
            field: "policy",
            ..
        })
    ));
    assert!(matches!(
        svc.put_licence_type(
            &am,
            id.as_str(),
            "pro",
            settings(Policy::Rolling12Months, 30_000, "EUR")
        )
        .await,
        Err(ServiceError::LicenceTypeConflict {
            field: "currency",
            ..
        })
    ));
    assert_eq!(
        invalid_field(
            svc.put_licence_type(
                &am,
                id.as_str(),
                "pro",
                settings(Policy::Rolling12Months, -1, "GBP")
            )
            .await
        ),
        "annual_fee_minor"
    );

    // 12 upgrade seats requested at GBP 120.00, then the fee doubles.
    let order = svc
        .request_order(
            &manager_of(&id),
            id.as_str(),
            order_request(OrderKind::Upgrade, 12),
        )
        .await
        .expect("request");
    let (pool, added) = svc
        .put_licence_type(
            &am,
            id.as_str(),
            "standard",
            settings(Policy::CoTerm, 24_000, "GBP"),
        )
        .await
        .expect("new fee");
    assert!(!added);
    assert_eq!(pool.annual_fee_minor, 24_000);
    let assigned = svc
        .assign_order(&am, id.as_str(), order.id.as_str(), None)
        .await
        .expect("assign");
    assert_eq!(assigned.invoice.total_minor, order.total_minor);
    assert_eq!(assigned.invoice.lines[0].unit_annual_fee_minor, 12_000);
    let later = svc
        .request_order(
            &manager_of(&id),
            id.as_str(),
            order_request(OrderKind::Upgrade, 12),
        )
        .await
        .expect("request at the new fee");
    assert_eq!(later.quote.annual_fee_minor, 24_000);
    // Twice the fee, rounded once per line.
    assert!((later.total_minor - 2 * order.total_minor).abs() <= 1);
}

/// A learner renamed, promoted, the first manager demoted; the last
/// manager cannot be; each change is audited.
async fn members_are_renamed_and_a_manager_is_kept(f: Fixture) {
    let (svc, _) = service(&f, "2026-10-01");
    let id = company(&svc, &account_manager(), "Acme Ltd").await;
    let lead = manager_of(&id);
    svc.add_member(
        &lead,
        id.as_str(),
        NewMember {
            email: "ann@acme.io".into(),
            name: "Ann".into(),
            role: MemberRole::Learner,
            licence_type: None,
        },
    )
    .await
    .expect("add");
    let change = |who: &'static str, name: Option<&str>, role| {
        svc.update_member(
            &lead,
            id.as_str(),
            who,
            MemberChanges {
                name: name.map(str::to_string),
                role,
            },
        )
    };
    assert!(matches!(
        change("lead@acme.io", None, Some(MemberRole::Learner)).await,
        Err(ServiceError::LastManager)
    ));
    assert_eq!(
        invalid_field(change("ann@acme.io", Some("Ann\u{200b}"), None).await),
        "name"
    );
    let ann = change("ann@acme.io", Some("Ann Smith"), Some(MemberRole::Manager))
        .await
        .expect("rename and promote");
    assert_eq!(
        (ann.name.as_str(), ann.role),
        ("Ann Smith", MemberRole::Manager)
    );
    let lead_now = change("lead@acme.io", None, Some(MemberRole::Learner))
        .await
        .expect("demote, Ann manages now");
    assert_eq!(lead_now.role, MemberRole::Learner);
    let view = svc
        .get_company(&account_manager(), id.as_str())
        .await
        .expect("read");
    assert_eq!(view.company.manager_emails, vec![email("ann@acme.io")]);
    assert!(matches!(
        change("nobody@acme.io", Some("X"), None).await,
        Err(ServiceError::NotFound { what: "member" })
    ));
    let trail = svc
        .list_audit(&lead, id.as_str(), None, Some(2))
        .await
        .expect("audit");
    assert_eq!(trail.items[0].before["role"], "manager");
    assert_eq!(trail.items[0].after["role"], "learner");
    assert_eq!(trail.items[1].after["name"], "Ann Smith");
    assert!(trail.next_cursor.is_some(), "two per page, more follow");
}

/// Account managers record partners; a partner admin reads its own; the
/// contact hears of its customers' requests.
async fn partners_on_record_hear_of_their_customers(f: Fixture) {
    let (svc, _) = service(&f, "2026-10-01");
    let am = account_manager();
    let contact = PartnerSettings {
        name: "Northwind MSP".into(),
        contact_email: "Desk@Northwind.io".into(),
    };
    assert!(matches!(
        svc.put_partner(&partner_admin("northwind"), "northwind", contact.clone())
            .await,
        Err(ServiceError::Forbidden { .. })
    ));
    let (partner, created) = svc
        .put_partner(&am, "northwind", contact.clone())
        .await
        .expect("record");
    assert!(created);
    assert_eq!(partner.contact_email, email("desk@northwind.io"));
    let (_, created) = svc
        .put_partner(&am, "northwind", contact)
        .await
        .expect("again");
    assert!(!created);
    assert_eq!(
        svc.get_partner(&partner_admin("northwind"), "northwind")
            .await
            .expect("own")
            .name,
        "Northwind MSP"
    );
    assert!(matches!(
        svc.get_partner(&partner_admin("other"), "northwind").await,
        Err(ServiceError::NotFound { .. })
    ));

    let id = company(&svc, &partner_admin("northwind"), "Acme Ltd").await;
    svc.request_order(
        &manager_of(&id),
        id.as_str(),
        order_request(OrderKind::Upgrade, 2),
    )
    .await
    .expect("request");
    let sent = svc.mailer().sent();
    let request = sent
        .iter()
        .find(|m| m.kind == "order_requested")
        .expect("the request e-mail");
    assert_eq!(request.cc, vec!["desk@northwind.io".to_string()]);
}

/// The queue: oldest first, each caller's scope, `overdue` after 24 hours,
/// gone once assigned or cancelled, renamed with its company.
async fn the_queue_lists_requests_oldest_first_in_scope(f: Fixture) {
    let (svc, clock) = service(&f, "2026-10-01");
    let am = account_manager();
    let direct = company(&svc, &am, "Direct Ltd").await;
    let partnered = company(&svc, &partner_admin("northwind"), "Partnered Ltd").await;
    let mut orders = Vec::new();
    for (i, id) in [&direct, &partnered, &direct].into_iter().enumerate() {
        clock.set_now(at(&format!("2026-10-01T0{}:00:00Z", i + 1)));
        let order = svc
            .request_order(
                &manager_of(id),
                id.as_str(),
                order_request(OrderKind::Upgrade, 1),
            )
            .await
            .expect("request");
        orders.push(order.id);
    }
    clock.set_now(at("2026-10-02T02:30:00Z"));
    let queue = svc
        .list_queue(&am, Some("requested"), None, None)
        .await
        .expect("queue");
    let listed: Vec<_> = queue
        .items
        .iter()
        .map(|q| q.entry.order_id.clone())
        .collect();
    assert_eq!(listed, orders, "oldest first");
    let overdue: Vec<bool> = queue.items.iter().map(|q| q.overdue).collect();
    assert_eq!(overdue, [true, true, false], "24 hours after each request");
    assert_eq!(queue.items[1].entry.company_name, "Partnered Ltd");

    let theirs = svc
        .list_queue(&partner_admin("northwind"), None, None, None)
        .await
        .expect("partner queue");
    assert_eq!(theirs.items.len(), 1);
    assert_eq!(theirs.items[0].entry.order_id, orders[1]);
    assert!(svc
        .list_queue(&partner_admin("other"), None, None, None)
        .await
        .expect("empty")
        .items
        .is_empty());
    assert_eq!(
        invalid_field(svc.list_queue(&am, Some("assigned"), None, None).await),
        "state"
    );
    assert!(matches!(
        svc.list_queue(&manager_of(&direct), None, None, None).await,
        Err(ServiceError::Forbidden { .. })
    ));

    svc.update_company(
        &am,
        partnered.as_str(),
        CompanyChanges {
            name: Some("Partnered Group".into()),
            ..CompanyChanges::default()
        },
    )
    .await
    .expect("rename");
    svc.assign_order(&am, direct.as_str(), orders[0].as_str(), None)
        .await
        .expect("assign");
    svc.cancel_order(&manager_of(&direct), direct.as_str(), orders[2].as_str())
        .await
        .expect("cancel");
    let queue = svc.list_queue(&am, None, None, None).await.expect("queue");
    assert_eq!(queue.items.len(), 1);
    assert_eq!(queue.items[0].entry.company_name, "Partnered Group");
}

/// 200 companies, 5 of them with a request waiting: the queue reads the
/// requests, not the companies.
async fn the_queue_reads_an_index_not_every_company(f: Fixture) {
    let store = Arc::new(CountingStore::new(f.store.clone()));
    let clock = Arc::new(ManualClock::at(d("2026-10-01")));
    let svc = Seatkeeper::new(
        store.clone() as Arc<dyn ItemStore>,
        clock.clone(),
        Arc::new(RecordingMailer::default()),
        Settings::default(),
    );
    let am = account_manager();
    for i in 0..200 {
        let id = company(&svc, &am, &format!("Company {i}")).await;
        if i % 40 == 0 {
            svc.request_order(
                &manager_of(&id),
                id.as_str(),
                order_request(OrderKind::Upgrade, 1),
            )
            .await
            .expect("request");
        }
    }
    let before = store.items_read();
    let queue = svc
        .list_queue(&am, Some("requested"), None, Some(200))
        .await
        .expect("queue");
    let read = store.items_read() - before;
    assert_eq!(queue.items.len(), 5);
    assert!(
        read as f64 <= 1.1 * 5.0 + 1.0,
        "read {read} items for 5 requests"
    );
}

/// An overdue request is listed in the account manager's digest, copied
/// to the partner's contact, once.
async fn overdue_requests_are_digested_once(f: Fixture) {
    let (svc, clock) = service(&f, "2026-10-01");
    let am = account_manager();
    svc.put_partner(
        &am,
        "northwind",
        PartnerSettings {
            name: "Northwind".into(),
            contact_email: "desk@northwind.io".into(),
        },
    )
    .await
    .expect("partner");
    let id = company(&svc, &partner_admin("northwind"), "Acme Ltd").await;
    let lead = manager_of(&id);
    let request = |quantity| {
        svc.request_order(
            &lead,
            id.as_str(),
            order_request(OrderKind::Upgrade, quantity),
        )
    };
    let waiting = request(3).await.expect("request");
    let handled = request(4).await.expect("request");
    svc.assign_order(&am, id.as_str(), handled.id.as_str(), None)
        .await
        .expect("assigned in time");
    let run = |now: &str| {
        clock.set_now(at(now));
        svc.run_expiry_check(at(now), None)
    };
    run("2026-10-02T06:00:00Z").await.expect("run");
    let digests = |svc: &Service| {
        svc.mailer()
            .sent()
            .into_iter()
            .filter(|m| m.kind == "orders_overdue")
            .collect::<Vec<_>>()
    };
    assert!(digests(&svc).is_empty(), "not 24 hours yet");
    run("2026-10-03T06:00:00Z").await.expect("run");
    let sent = digests(&svc);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, vec![am.email.to_string()]);
    assert_eq!(sent[0].cc, vec!["desk@northwind.io".to_string()]);
    assert!(sent[0].text.contains("1 order request(s) from Acme Ltd"));
    assert!(
        sent[0].text.contains("3 seats of standard"),
        "{}",
        sent[0].text
    );
    run("2026-10-04T06:00:00Z").await.expect("run");
    run("2026-10-05T06:00:00Z").await.expect("run");
    assert_eq!(digests(&svc).len(), 1, "once per order");
    assert_eq!(
        svc.get_order(&am, id.as_str(), waiting.id.as_str())
            .await
            .expect("still waiting")
            .state
            .as_str(),
        "requested"
    );
}

on_both_stores!(
    company_settings_are_changed_and_audited,
    a_new_time_zone_moves_rolling_licences_in_the_due_index,
    licence_types_are_added_and_fees_apply_from_now_on,
    members_are_renamed_and_a_manager_is_kept,
    partners_on_record_hear_of_their_customers,
    the_queue_lists_requests_oldest_first_in_scope,
    the_queue_reads_an_index_not_every_company,
    overdue_requests_are_digested_once,
);
