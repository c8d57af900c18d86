//! Licences past the first year, over HTTP against the local server: the
//! contract's `two_year_story` (tests/contract/lifecycle.rs) driven through
//! the API, with the clock moved by `POST /local/clock`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Answer, TestApp};

/// `…/members/{email}`, the e-mail percent-encoded as a path segment.
fn member_path(company: &str, email: &str) -> String {
    format!(
        "/v1/companies/{company}/members/{}",
        email.replace('@', "%40")
    )
}

fn ok(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

/// A 409 with `code`.
fn conflict(answer: &Answer, code: &str) {
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::CONFLICT, code),
        "{}",
        answer.body
    );
}

/// The company as `GET /v1/companies/{c}` answers it.
async fn company_view(app: &TestApp, token: &str, company: &str) -> Value {
    let read = app.get(&format!("/v1/companies/{company}"), token).await;
    ok(&read);
    read.body
}

/// A pool's `(purchased, allocated, available)`.
async fn seats(app: &TestApp, token: &str, company: &str, licence_type: &str) -> (u64, u64, u64) {
    let view = company_view(app, token, company).await;
    let pool = view["pools"]
        .as_array()
        .expect("pools")
        .iter()
        .find(|p| p["type"] == licence_type)
        .cloned()
        .expect("a pool of the type");
    (
        pool["purchased"].as_u64().expect("purchased"),
        pool["allocated"].as_u64().expect("allocated"),
        pool["available"].as_u64().expect("available"),
    )
}

/// Every member (one page of 200 holds them all), optionally by status.
async fn members(app: &TestApp, token: &str, company: &str, status: Option<&str>) -> Vec<Value> {
    let filter = status.map_or(String::new(), |s| format!("&licence_status={s}"));
    let page = app
        .get(
            &format!("/v1/companies/{company}/members?limit=200{filter}"),
            token,
        )
        .await;
    ok(&page);
    assert_eq!(page.body["next_cursor"], Value::Null, "one page");
    page.body["items"].as_array().expect("items").clone()
}

async fn member(app: &TestApp, token: &str, company: &str, email: &str) -> Value {
    members(app, token, company, None)
        .await
        .into_iter()
        .find(|m| m["email"] == email)
        .unwrap_or_else(|| panic!("{email} is a member"))
}

async fn add(
    app: &TestApp,
    token: &str,
    company: &str,
    email: &str,
    licence: Option<&str>,
) -> Value {
    let mut body = json!({"email": email, "name": email, "role": "learner"});
    if let Some(licence) = licence {
        body["licence_type"] = json!(licence);
    }
    let added = app
        .post(&format!("/v1/companies/{company}/members"), token, body)
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    added.body
}

/// Requests `body` as the lead; the order's id.
async fn request(app: &TestApp, lead: &str, company: &str, body: Value) -> String {
    let order = app.request_order(lead, company, body).await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
    order.body["order"]["id"]
        .as_str()
        .expect("an order id")
        .to_string()
}

/// The invoice's total, checked to be its lines' amounts added up.
fn invoice_total(invoice: &Value) -> i64 {
    let total = invoice["total_minor"].as_i64().expect("total_minor");
    let lines: i64 = invoice["lines"]
        .as_array()
        .expect("invoice lines")
        .iter()
        .map(|l| l["amount_minor"].as_i64().expect("amount_minor"))
        .sum();
    assert_eq!(
        total, lines,
        "the money billed is the sum of the invoice lines: {invoice}"
    );
    total
}

/// Requests `body` as the lead and assigns it as the account manager on
/// today; the assignment.
async fn buy(app: &TestApp, am: &str, lead: &str, company: &str, body: Value) -> Value {
    let order = request(app, lead, company, body).await;
    let assigned = app.assign(am, company, &order, json!({})).await;
    ok(&assigned);
    assigned.body
}

fn renewal(quantity: u32) -> Value {
    json!({"kind": "renewal", "lines": [{"licence_type": "standard", "quantity": quantity}], "agree_to_pay": true})
}

fn upgrade(licence_type: &str, quantity: u32) -> Value {
    json!({"kind": "upgrade", "licence_type": licence_type, "quantity": quantity, "agree_to_pay": true})
}

/// An e-mail from the outbox whose text says `words`.
fn says(mail: &Value, words: &str) {
    assert!(
        mail["text"].as_str().is_some_and(|t| t.contains(words)),
        "{words:?} not in {}",
        mail["text"]
    );
}

/// Removes a member: 204, with no body.
async fn remove(app: &TestApp, token: &str, company: &str, email: &str) {
    let removed = app
        .send(
            Method::DELETE,
            &member_path(company, email),
            Some(token),
            None,
            None,
        )
        .await;
    assert_eq!(
        (removed.status, &removed.body),
        (StatusCode::NO_CONTENT, &Value::Null),
        "remove {email}"
    );
}

#[tokio::test]
async fn two_year_story_over_http() {
    let app = TestApp::on("2026-04-01").await;
    let am = app.account_manager().await;

    // Acme: `standard` co-term seats (20 at GBP 120.00) on the term
    // 2026-04-01..2027-04-01, and `pro` rolling seats (5 at GBP 240.00).
    let created = app
        .post(
            "/v1/companies",
            &am,
            json!({
                "name": "Acme Ltd",
                "account_manager_email": "am@vendor.io",
                "plan": {"kind": "premium", "term_start": "2026-04-01"},
                "licence_types": [
                    {"type": "standard", "policy": "co_term", "annual_fee_minor": 12000, "currency": "GBP", "seats": 20},
                    {"type": "pro", "policy": "rolling_12_months", "annual_fee_minor": 24000, "currency": "GBP", "seats": 5},
                ],
                "managers": [{"email": "lead@acme.io", "name": "Lee Lead"}],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["plan"],
        json!({"kind": "premium", "term_start": "2026-04-01", "renews_on": "2027-04-01"})
    );
    let acme = created.body["id"].as_str().expect("an id").to_string();
    let id = acme.as_str();
    let lead = app.lead(id).await;
    let mut billed = Vec::new();

    // Year one. The lead holds a standard seat from creation; six learners.
    for i in 0..6 {
        let added = add(&app, &lead, id, &format!("l{i}@acme.io"), Some("standard")).await;
        assert_eq!(
            (
                &added["licence_type"],
                &added["expires_on"],
                &added["status"]
            ),
            (&json!("standard"), &json!("2027-04-01"), &json!("active"))
        );
    }
    assert_eq!(seats(&app, &lead, id, "standard").await, (20, 7, 13));

    // 2026-11-22: 10 more standard seats, 130 of 365 days left:
    // 10 × 12 000 × 130 / 365 = 42 739.7 → 42 740.
    app.set_today("2026-11-22").await;
    let assigned = buy(&app, &am, &lead, id, upgrade("standard", 10)).await;
    billed.push(invoice_total(&assigned["invoice"]));
    assert_eq!(billed[0], 42_740);
    assert_eq!(
        (
            assigned["invoice"]["days_remaining"].as_i64(),
            assigned["invoice"]["days_in_term"].as_i64()
        ),
        (Some(130), Some(365))
    );
    assert_eq!(assigned["pool"]["purchased"], 30);
    assert_eq!(seats(&app, &lead, id, "standard").await, (30, 7, 23));

    // 2026-12-01: 2 more rolling seats, a whole year each, no proration:
    // 2 × 24 000 = 48 000.
    app.set_today("2026-12-01").await;
    let assigned = buy(&app, &am, &lead, id, upgrade("pro", 2)).await;
    billed.push(invoice_total(&assigned["invoice"]));
    assert_eq!(billed[1], 48_000);
    assert_eq!(seats(&app, &lead, id, "pro").await, (7, 0, 7));

    // 2027-03-01: a rolling licence for Rosa, to 2028-03-01.
    app.set_today("2027-03-01").await;
    let rosa = add(&app, &lead, id, "rosa@acme.io", Some("pro")).await;
    assert_eq!(
        (&rosa["licence_type"], &rosa["expires_on"]),
        (&json!("pro"), &json!("2028-03-01"))
    );

    // 2027-03-15: two leavers keep their seats to the renewal date only.
    app.set_today("2027-03-15").await;
    for leaver in ["l0@acme.io", "l1@acme.io"] {
        let released = app
            .send(
                Method::DELETE,
                &format!("{}/licence?effective=renewal", member_path(id, leaver)),
                Some(&lead),
                None,
                None,
            )
            .await;
        ok(&released);
        assert_eq!(
            (
                &released.body["member"]["email"],
                &released.body["member"]["expires_on"],
                &released.body["member"]["status"]
            ),
            (&json!(leaver), &json!("2027-04-01"), &json!("active"))
        );
        assert_eq!(
            released.body["pool"]["allocated"], 7,
            "a seat released at renewal stays allocated until then"
        );
    }
    let again = app
        .send(
            Method::DELETE,
            &format!(
                "{}/licence?effective=renewal",
                member_path(id, "l0@acme.io")
            ),
            Some(&lead),
            None,
            None,
        )
        .await;
    conflict(&again, "already_released");
    assert_eq!(again.body["email"], "l0@acme.io");

    // 2027-03-20: the renewal keeps 16 standard seats (the account minimum),
    // a whole term, 2027-04-01..2028-04-01 (366 days, 29 February 2028):
    // 16 × 12 000 = 192 000. Five holders carry over.
    app.set_today("2027-03-20").await;
    let quote = app
        .post(
            &format!("/v1/companies/{id}/quotes"),
            &lead,
            json!({"kind": "renewal", "lines": [{"licence_type": "standard", "quantity": 16}]}),
        )
        .await;
    ok(&quote);
    assert_eq!(
        (
            quote.body["kind"].clone(),
            quote.body["total_minor"].as_i64(),
            quote.body["lines"][0]["days_remaining"].as_i64(),
            quote.body["lines"][0]["days_in_term"].as_i64()
        ),
        (json!("renewal"), Some(192_000), Some(366), Some(366))
    );
    // Below the account minimum: refused with the minimum and the request.
    let below = app.request_order(&lead, id, renewal(10)).await;
    conflict(&below, "below_minimum_seats");
    assert_eq!(
        (
            below.body["minimum"].as_u64(),
            below.body["requested"].as_u64()
        ),
        (Some(16), Some(10))
    );
    let first = request(&app, &lead, id, renewal(16)).await;
    let second = request(&app, &lead, id, renewal(20)).await;
    let assigned = app.assign(&am, id, &first, json!({})).await;
    ok(&assigned);
    billed.push(invoice_total(&assigned.body["invoice"]));
    assert_eq!(billed[2], 192_000);
    // Scheduled: today's seats and holders are untouched, but a seat handed
    // out now carries over, so no more are free than in the next term
    // (16 seats less 5 holders carrying over).
    assert_eq!(seats(&app, &lead, id, "standard").await, (30, 7, 11));
    let view = company_view(&app, &lead, id).await;
    assert_eq!(
        (
            &view["next_term"]["starts_on"],
            &view["next_term"]["renews_on"],
            &view["next_term"]["lines"],
            &view["next_term"]["order_id"]
        ),
        (
            &json!("2027-04-01"),
            &json!("2028-04-01"),
            &json!([{"licence_type": "standard", "seats": 16}]),
            &json!(first)
        ),
        "{view}"
    );
    assert_eq!(view["plan"]["renews_on"], "2027-04-01", "not yet");
    // One renewal per term, however it is asked for.
    let refused = app.assign(&am, id, &second, json!({})).await;
    conflict(&refused, "already_renewed");
    assert_eq!(refused.body["renews_on"], "2027-04-01");
    let refused = app.request_order(&lead, id, renewal(16)).await;
    conflict(&refused, "already_renewed");
    // The managers hear of it in words.
    let outbox = app.outbox().await;
    let renewed = outbox
        .as_array()
        .expect("a list")
        .iter()
        .rev()
        .find(|m| m["kind"] == "order_assigned")
        .cloned()
        .expect("the renewal e-mail");
    assert_eq!(renewed["to"], json!(["lead@acme.io"]));
    says(&renewed, "downgraded from 30 to 16 seats from 1 April 2027");

    // Refusals, with their fields. An order is actioned no later than today.
    let order = request(&app, &lead, id, upgrade("pro", 1)).await;
    let future = app
        .assign(&am, id, &order, json!({"actioned_on": "2027-03-21"}))
        .await;
    assert_eq!(
        (future.status, future.code(), future.body["field"].clone()),
        (
            StatusCode::BAD_REQUEST,
            "validation_failed",
            json!("actioned_on")
        ),
        "{}",
        future.body
    );
    let cancel = format!("/v1/companies/{id}/orders/{order}/cancel");
    let cancelled = app.post(&cancel, &lead, json!({})).await;
    ok(&cancelled);
    assert_eq!(cancelled.body["order"]["state"], "cancelled");
    // Twelve newcomers, eleven standard seats free: all or nothing.
    let newcomers: Vec<String> = (0..12).map(|i| format!("new{i}@acme.io")).collect();
    for email in &newcomers {
        add(&app, &lead, id, email, None).await;
    }
    let short = app
        .post(
            &format!("/v1/companies/{id}/allocations"),
            &lead,
            json!({"licence_type": "standard", "emails": newcomers}),
        )
        .await;
    short.expect_no_seats(12, 11);
    assert_eq!(seats(&app, &lead, id, "standard").await, (30, 7, 11));

    // 2027-03-31: the last day of the term; the leavers still hold seats.
    app.set_today("2027-03-31").await;
    assert_eq!(
        member(&app, &lead, id, "l0@acme.io").await["status"],
        "active"
    );

    // 2027-04-01: the next term starts, with nothing written on the day.
    app.set_today("2027-04-01").await;
    let view = company_view(&app, &lead, id).await;
    assert_eq!(view["status"], "active");
    assert_eq!(
        (&view["plan"]["term_start"], &view["plan"]["renews_on"]),
        (&json!("2027-04-01"), &json!("2028-04-01"))
    );
    assert!(
        matches!(view.get("next_term"), None | Some(Value::Null)),
        "the scheduled term has started: {view}"
    );
    assert_eq!(seats(&app, &lead, id, "standard").await, (16, 5, 11));
    let mut expired: Vec<Value> = members(&app, &lead, id, Some("expired"))
        .await
        .into_iter()
        .map(|m| m["email"].clone())
        .collect();
    expired.sort_by_key(ToString::to_string);
    assert_eq!(expired, vec![json!("l0@acme.io"), json!("l1@acme.io")]);
    assert_eq!(
        member(&app, &lead, id, "l2@acme.io").await["status"],
        "active"
    );

    // 2027-04-02: rolling licences live by their own dates, past the old
    // renewal date.
    app.set_today("2027-04-02").await;
    let rosa = app.token("rosa@acme.io", "learner", Some(id), None).await;
    let access = app.get("/v1/access", &rosa).await;
    ok(&access);
    assert_eq!(
        (&access.body["allowed"], &access.body["reason"]),
        (&json!(true), &json!("licence_active"))
    );

    // 2028-02-27: 72 hours before Rosa's licence ends, the reminder; the
    // lead renews it early, from its own end: to 2029-03-01, no day lost.
    app.set_today("2028-02-27").await;
    let report = app
        .send(Method::POST, "/local/run-expiry-check", None, None, None)
        .await;
    ok(&report);
    let outbox = app.outbox().await;
    let reminder = outbox
        .as_array()
        .expect("a list")
        .iter()
        .find(|m| {
            m["kind"] == "expiry_reminder"
                && m["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("rosa@acme.io"))
        })
        .cloned()
        .unwrap_or_else(|| panic!("a reminder naming Rosa in {outbox}"));
    says(&reminder, "1 March 2028");
    let renewed = app
        .post(
            &format!("/v1/companies/{id}/allocations"),
            &lead,
            json!({"licence_type": "pro", "emails": ["rosa@acme.io"]}),
        )
        .await;
    ok(&renewed);
    assert_eq!(renewed.body["allocated"], json!(["rosa@acme.io"]));
    assert_eq!(
        renewed.body["pool"]["allocated"], 2,
        "an early renewal uses a seat"
    );
    assert_eq!(
        member(&app, &lead, id, "rosa@acme.io").await["expires_on"],
        "2029-03-01"
    );
    app.set_today("2028-03-01").await;
    assert_eq!(app.get("/v1/access", &rosa).await.body["allowed"], true);

    // 2028-03-20: year two's renewal, for the term from 2028-04-01.
    app.set_today("2028-03-20").await;
    let assigned = buy(&app, &am, &lead, id, renewal(16)).await;
    billed.push(invoice_total(&assigned["invoice"]));
    assert_eq!(billed[3], 192_000);

    // 42 740 + 48 000 + 192 000 + 192 000 = 474 740.
    assert_eq!(billed.iter().sum::<i64>(), 474_740);
    let orders = app
        .get(
            &format!("/v1/companies/{id}/orders?state=assigned&limit=200"),
            &am,
        )
        .await;
    ok(&orders);
    let orders = orders.body["items"].as_array().expect("items").clone();
    assert_eq!(orders.len(), 4, "the four assigned orders, once each");
    let invoiced: i64 = orders.iter().map(|o| invoice_total(&o["invoice"])).sum();
    assert_eq!(invoiced, 474_740, "every invoice, once");

    // Transfer: a rolling licence moves, with its end date, to a member
    // holding none; the pool's counts do not change.
    add(&app, &lead, id, "t0@acme.io", Some("pro")).await;
    let t1 = add(&app, &lead, id, "t1@acme.io", Some("pro")).await;
    assert_eq!(t1["expires_on"], "2029-03-20");
    add(&app, &lead, id, "taker@acme.io", None).await;
    let pro_before = seats(&app, &lead, id, "pro").await;
    assert_eq!(pro_before, (7, 4, 3));
    let given = member(&app, &lead, id, "t0@acme.io").await;
    let moved = app
        .post(
            &format!("{}/licence/transfer", member_path(id, "t0@acme.io")),
            &lead,
            json!({"to_email": "taker@acme.io"}),
        )
        .await;
    ok(&moved);
    let view = |side: &str| {
        let m = &moved.body[side];
        (
            m["email"].clone(),
            m["licence_type"].clone(),
            m["expires_on"].clone(),
            m["status"].clone(),
        )
    };
    assert_eq!(
        view("from"),
        (
            json!("t0@acme.io"),
            Value::Null,
            Value::Null,
            json!("unlicensed")
        )
    );
    assert_eq!(
        view("to"),
        (
            json!("taker@acme.io"),
            json!("pro"),
            given["expires_on"].clone(),
            json!("active")
        )
    );
    assert_eq!(seats(&app, &lead, id, "pro").await, pro_before);

    // Remove: 204 with no body, and the member is gone from the list. A
    // rolling seat stays used up; a co-term seat is freed at once.
    remove(&app, &lead, id, "t1@acme.io").await;
    let listed = members(&app, &lead, id, None).await;
    assert!(
        !listed.iter().any(|m| m["email"] == "t1@acme.io"),
        "t1 is removed"
    );
    assert_eq!(seats(&app, &lead, id, "pro").await, pro_before);
    let (_, standard_allocated, _) = seats(&app, &lead, id, "standard").await;
    remove(&app, &lead, id, "l2@acme.io").await;
    assert_eq!(
        seats(&app, &lead, id, "standard").await.1,
        standard_allocated - 1
    );
    // The company keeps a manager.
    let last = app
        .send(
            Method::DELETE,
            &member_path(id, "lead@acme.io"),
            Some(&am),
            None,
            None,
        )
        .await;
    conflict(&last, "last_manager");
    assert_eq!(
        member(&app, &lead, id, "lead@acme.io").await["role"],
        "manager"
    );
}
