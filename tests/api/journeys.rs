//! DESIGN.md's journeys, over HTTP against the local server.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{order_request, trial_until, TestApp};

/// Journey 1: 10 seats at 12000 a year, term 2026-04-01..2027-04-01,
/// assigned with actioned_on 2026-11-22: invoice 42740, purchased +10.
#[tokio::test]
async fn pro_rata_upgrade_invoice() {
    let (app, am, company) = TestApp::with_company("2026-11-22", 20).await;
    let lead = app.lead(&company).await;

    let quote = app
        .get(
            &format!("/v1/companies/{company}/quote?licence_type=standard&quantity=10"),
            &lead,
        )
        .await;
    assert_eq!(quote.status, StatusCode::OK, "{}", quote.body);
    assert_eq!(
        (
            quote.body["days_remaining"].as_i64(),
            quote.body["amount_minor"].as_i64()
        ),
        (Some(130), Some(42_740))
    );

    let refused = app
        .post(
            &format!("/v1/companies/{company}/orders"),
            &lead,
            json!({"licence_type": "standard", "quantity": 10, "kind": "upgrade"}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
    assert_eq!(refused.body["field"], "agree_to_pay");

    let order = app
        .request_order(&lead, &company, order_request("upgrade", 10))
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
    assert_eq!(order.body["order"]["quote"]["amount_minor"], 42_740);
    let order_id = order.body["order"]["id"].as_str().expect("an order id");

    let assigned = app
        .assign(
            &am,
            &company,
            order_id,
            json!({"actioned_on": "2026-11-22"}),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    assert_eq!(assigned.body["invoice"]["amount_minor"], 42_740);
    assert_eq!(assigned.body["invoice"]["days_in_term"], 365);
    assert_eq!(assigned.body["pool"]["purchased"], 30);

    let read = app
        .get(&format!("/v1/companies/{company}/orders/{order_id}"), &lead)
        .await;
    assert_eq!(
        read.body["order"]["invoice"]["amount_minor"], 42_740,
        "the invoice can be seen afterwards"
    );
    let again = app.assign(&am, &company, order_id, json!({})).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "order_not_requested")
    );

    // Allocation, then the e-mails: one to the account manager, one to the lead.
    app.add_learners(&lead, &company, &["ann@acme.io".to_string()])
        .await;
    let allocated = app
        .post(
            &format!("/v1/companies/{company}/allocations"),
            &lead,
            json!({"licence_type": "standard", "emails": ["ann@acme.io"]}),
        )
        .await;
    assert_eq!(allocated.status, StatusCode::OK, "{}", allocated.body);
    assert_eq!(allocated.body["pool"]["allocated"], 2);
    let outbox = app.outbox().await;
    let kinds: Vec<_> = outbox
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| (e["kind"].clone(), e["to"][0].clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (json!("order_requested"), json!("am@vendor.io")),
            (json!("order_assigned"), json!("lead@acme.io"))
        ]
    );
}

/// Journey 2: a partner admin converts a trial and allocates all expired.
#[tokio::test]
async fn trial_conversion_by_partner() {
    let app = TestApp::on("2026-11-01").await;
    let partner = app.partner_admin().await;
    let company = app
        .create_company(&partner, trial_until("2026-11-15", 4), 0, "co_term")
        .await;
    let learners: Vec<String> = (0..3).map(|i| format!("learner{i}@acme.io")).collect();
    app.add_learners(&partner, &company, &learners).await;
    let lead = app.lead(&company).await;
    let learner = app
        .token("learner0@acme.io", "learner", Some(&company), None)
        .await;
    assert_eq!(app.get("/v1/access", &learner).await.body["allowed"], true);

    app.set_today("2026-11-15").await;
    let access = app.get("/v1/access", &lead).await;
    assert_eq!(
        (
            access.body["allowed"].clone(),
            access.body["reason"].clone(),
            access.body["redirect_to"].clone()
        ),
        (json!(false), json!("trial_expired"), json!("/upgrade"))
    );
    assert_eq!(
        app.get("/v1/access", &learner).await.body["redirect_to"],
        json!(null)
    );

    let order = app
        .request_order(&lead, &company, order_request("trial_conversion", 3))
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
    let order_id = order.body["order"]["id"].as_str().expect("an id");
    let assigned = app.assign(&partner, &company, order_id, json!({})).await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    let read = app.get(&format!("/v1/companies/{company}"), &partner).await;
    assert_eq!(
        read.body["plan"],
        json!({"kind": "premium", "term_start": "2026-11-15", "renews_on": "2027-11-15"})
    );
    assert_eq!(read.body["counts"]["expired"], 4);

    // Four expired members, three seats: 409 with needed/available, nothing changes.
    let short = app
        .post(
            &format!("/v1/companies/{company}/allocations"),
            &partner,
            json!({"licence_type": "standard", "all_expired": true}),
        )
        .await;
    short.expect_no_seats(4, 3);
    let unchanged = app.get(&format!("/v1/companies/{company}"), &partner).await;
    assert_eq!(
        (
            unchanged.body["counts"]["expired"].as_u64(),
            unchanged.body["pools"][0]["allocated"].as_u64()
        ),
        (Some(4), Some(0))
    );

    let more = app
        .request_order(&lead, &company, order_request("upgrade", 1))
        .await;
    let more_id = more.body["order"]["id"].as_str().expect("an id");
    assert_eq!(
        app.post(
            &format!("/v1/companies/{company}/orders/{more_id}/assign"),
            &partner,
            json!({})
        )
        .await
        .status,
        StatusCode::OK
    );
    let done = app
        .post(
            &format!("/v1/companies/{company}/allocations"),
            &partner,
            json!({"licence_type": "standard", "all_expired": true}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["allocated"].as_array().map(Vec::len), Some(4));
    assert_eq!(app.get("/v1/access", &learner).await.body["allowed"], true);
    let expired = app
        .get(
            &format!("/v1/companies/{company}/members?licence_status=expired"),
            &lead,
        )
        .await;
    assert_eq!(expired.body["items"], json!([]));
    let listed = app.get("/v1/partners/msp1/companies", &partner).await;
    assert_eq!(listed.body["items"][0]["id"], company.as_str());
}

#[tokio::test]
async fn renewal_below_minimum_is_refused() {
    let (app, _, company) = TestApp::with_company("2027-03-01", 20).await;
    let lead = app.lead(&company).await;
    let below = app
        .request_order(&lead, &company, order_request("renewal", 15))
        .await;
    assert_eq!(
        (below.status, below.code()),
        (StatusCode::CONFLICT, "below_minimum_seats")
    );
    assert_eq!(
        (
            below.body["minimum"].as_u64(),
            below.body["requested"].as_u64()
        ),
        (Some(16), Some(15))
    );
}

/// 32 concurrent allocation requests over HTTP against 10 free seats.
#[tokio::test]
async fn concurrent_allocations_over_http() {
    let (app, _, company) = TestApp::with_company("2026-11-22", 11).await;
    let app = Arc::new(app);
    let lead = app.lead(&company).await;
    let learners: Vec<String> = (0..32).map(|i| format!("l{i}@acme.io")).collect();
    app.add_learners(&lead, &company, &learners).await;
    let tasks: Vec<_> = learners
        .into_iter()
        .map(|email| {
            let (app, lead, company) = (app.clone(), lead.clone(), company.clone());
            tokio::spawn(async move {
                app.post(
                    &format!("/v1/companies/{company}/allocations"),
                    &lead,
                    json!({"licence_type": "standard", "emails": [email]}),
                )
                .await
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        let answer = task.await.expect("the task ran");
        match (answer.status, answer.code()) {
            (StatusCode::OK, _) => ok += 1,
            (StatusCode::CONFLICT, "no_seats_available") => refused += 1,
            other => panic!("unexpected {other:?}: {}", answer.body),
        }
    }
    assert_eq!((ok, refused), (10, 22));
    let read = app.get(&format!("/v1/companies/{company}"), &lead).await;
    assert_eq!(
        (
            read.body["pools"][0]["allocated"].as_u64(),
            read.body["counts"]["active"].as_u64()
        ),
        (Some(11), Some(11))
    );
}

/// The edge's promises: idempotent POSTs, 413, 401, pagination.
#[tokio::test]
async fn edge_behaviour() {
    let (app, am, company) = TestApp::with_company("2026-11-22", 20).await;
    let path = format!("/v1/companies/{company}/members");
    let body = json!({"email": "x@acme.io", "name": "X", "role": "learner"});
    let first = app.post_keyed(&path, &am, &body, "key-1").await;
    let replay = app.post_keyed(&path, &am, &body, "key-1").await;
    assert_eq!(
        (first.status, replay.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(first.body, replay.body);
    assert_eq!(
        replay
            .headers
            .get("idempotency-replayed")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("true")
    );
    let other = app
        .post_keyed(
            &path,
            &am,
            &json!({"email": "y@acme.io", "name": "Y", "role": "learner"}),
            "key-1",
        )
        .await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::CONFLICT, "idempotency_key_reused")
    );
    // A refusal replays too, code and all.
    let twice = json!({"email": "x@acme.io", "name": "Again", "role": "learner"});
    let refused = app.post_keyed(&path, &am, &twice, "key-2").await;
    let refused_again = app.post_keyed(&path, &am, &twice, "key-2").await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::CONFLICT, "member_exists")
    );
    assert_eq!(
        (refused_again.status, &refused_again.body),
        (StatusCode::CONFLICT, &refused.body)
    );
    let without_key = app
        .send(reqwest::Method::POST, &path, Some(&am), Some(&body), None)
        .await;
    assert_eq!(
        without_key.code(),
        "member_exists",
        "without a key a repeat is a new request"
    );

    let huge = json!({"email": "z@acme.io", "name": "z".repeat(300 * 1024), "role": "learner"});
    let too_large = app
        .send(reqwest::Method::POST, &path, Some(&am), Some(&huge), None)
        .await;
    assert_eq!(
        (too_large.status, too_large.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    let anonymous = app
        .send(
            reqwest::Method::GET,
            &format!("/v1/companies/{company}"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    assert_eq!(
        anonymous
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("application/problem+json")
    );
    let forged = app
        .send(
            reqwest::Method::GET,
            &format!("/v1/companies/{company}"),
            Some("made-up"),
            None,
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    let bad_field = app
        .post(
            &path,
            &am,
            json!({"email": "nope", "name": "N", "role": "learner"}),
        )
        .await;
    assert_eq!(
        (bad_field.status, bad_field.body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("email"))
    );
    let bad_cursor = app.get(&format!("{path}?cursor=zzz"), &am).await;
    assert_eq!(
        (bad_cursor.status, bad_cursor.body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("cursor"))
    );

    let mut seen = 0;
    let mut next = String::new();
    loop {
        let page = app.get(&format!("{path}?limit=1{next}"), &am).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen += page.body["items"].as_array().map_or(0, Vec::len);
        match page.body["next_cursor"].as_str() {
            Some(cursor) => next = format!("&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, 2, "the manager and x@acme.io, each once");
}

/// Journey 2's start, through the local server: the clock moves, the daily
/// check runs, the outbox holds the reminder then the expiry notice, and
/// access is refused with the upgrade page.
#[tokio::test]
async fn trial_expiry_through_the_local_server() {
    let app = TestApp::on("2026-11-20").await;
    let partner = app.partner_admin().await;
    let company = app
        .create_company(&partner, trial_until("2026-12-01", 4), 0, "co_term")
        .await;
    app.add_learners(&partner, &company, &["ann@acme.io".to_string()])
        .await;
    let run = |today: &'static str| {
        let app = &app;
        async move {
            app.set_today(today).await;
            let report = app
                .send(
                    reqwest::Method::POST,
                    "/local/run-expiry-check",
                    None,
                    None,
                    None,
                )
                .await;
            assert_eq!(report.status, StatusCode::OK, "{}", report.body);
            report.body
        }
    };
    let outbox = || app.outbox();
    run("2026-11-27").await;
    assert_eq!(outbox().await, json!([]));
    let report = run("2026-11-28").await;
    assert_eq!(report["sent"], 1);
    let sent = outbox().await;
    assert_eq!(sent[0]["kind"], "expiry_reminder");
    assert_eq!(
        (sent[0]["to"].clone(), sent[0]["cc"].clone()),
        (json!(["lead@acme.io"]), json!(["am@vendor.io"]))
    );
    assert!(sent[0]["text"]
        .as_str()
        .is_some_and(|t| t.contains("ends on 1 December 2026")));
    run("2026-11-28").await; // the same day again: nothing new
    run("2026-12-01").await;
    let sent = outbox().await;
    assert_eq!(sent.as_array().map(Vec::len), Some(2));
    assert_eq!(sent[1]["kind"], "expiry_expiry");
    let lead = app.lead(&company).await;
    let ann = app
        .token("ann@acme.io", "learner", Some(&company), None)
        .await;
    let access = app.get("/v1/access", &lead).await.body;
    assert_eq!(
        (
            access["allowed"].clone(),
            access["reason"].clone(),
            access["redirect_to"].clone()
        ),
        (json!(false), json!("trial_expired"), json!("/upgrade"))
    );
    let access = app.get("/v1/access", &ann).await.body;
    assert_eq!(
        (access["allowed"].clone(), access["redirect_to"].clone()),
        (json!(false), json!(null))
    );
}
