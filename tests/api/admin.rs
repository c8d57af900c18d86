//! Running customers day to day over HTTP, one journey per role: the
//! account manager works the helpdesk queue, a partner admin looks after
//! two customers and hears of them, a manager keeps the member list true.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{order_request, premium_from, Answer, TestApp};

fn ok(answer: &Answer) -> &Value {
    assert!(
        answer.status.is_success(),
        "{} {}",
        answer.status,
        answer.body
    );
    &answer.body
}

fn kinds(outbox: &Value, kind: &str) -> Vec<Value> {
    outbox
        .as_array()
        .expect("a list")
        .iter()
        .filter(|m| m["kind"] == kind)
        .cloned()
        .collect()
}

/// Two customers request seats; the account manager sees both, oldest
/// first, sees them turn overdue and reach the daily digest once, assigns
/// one, renames a company, and reads the audit trail.
#[tokio::test]
async fn the_account_manager_works_the_queue() {
    let app = TestApp::on("2026-11-20").await;
    let am = app.account_manager().await;
    let first = app
        .create_company(&am, premium_from("2026-04-01"), 20, "co_term")
        .await;
    let second = app
        .create_company(&am, premium_from("2026-04-01"), 20, "co_term")
        .await;
    let mut orders = Vec::new();
    for company in [&first, &second] {
        let lead = app.lead(company).await;
        let order = app
            .request_order(&lead, company, order_request("upgrade", 2))
            .await;
        orders.push(ok(&order)["order"]["id"].clone());
    }
    let queue = app.get("/v1/orders?state=requested", &am).await;
    let items = ok(&queue)["items"].as_array().expect("items").clone();
    assert_eq!(
        items
            .iter()
            .map(|i| i["order_id"].clone())
            .collect::<Vec<_>>(),
        orders
    );
    assert!(items.iter().all(|i| i["overdue"] == false));
    assert_eq!(items[0]["company_name"], "Acme Ltd");

    app.set_today("2026-11-22").await;
    let queue = app.get("/v1/orders", &am).await;
    assert!(ok(&queue)["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|i| i["overdue"] == true));
    ok(&app.run_daily_check().await);
    ok(&app.run_daily_check().await);
    assert_eq!(
        kinds(&app.outbox().await, "orders_overdue").len(),
        2,
        "one per company, once"
    );

    let order = orders[0].as_str().expect("an id");
    ok(&app.assign(&am, &first, order, json!({})).await);
    let renamed = app
        .patch(
            &format!("/v1/companies/{second}"),
            &am,
            json!({"name": "Beta Group"}),
        )
        .await;
    assert_eq!(ok(&renamed)["name"], "Beta Group");
    let queue = app.get("/v1/orders", &am).await;
    let items = ok(&queue)["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["company_name"], "Beta Group");

    let audit = app
        .get(&format!("/v1/companies/{second}/audit?limit=1"), &am)
        .await;
    let page = ok(&audit);
    assert_eq!(page["items"][0]["action"], "company.update");
    assert_eq!(page["items"][0]["before"]["name"], "Acme Ltd");
    assert!(page["next_cursor"].is_string());
    let bad = app
        .patch(
            &format!("/v1/companies/{second}"),
            &am,
            json!({"timezone": "Nowhere/Here"}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
    assert_eq!(bad.body["field"], "timezone");
}

/// The vendor records the partner; its admin creates two customers, adds
/// a licence type to one, sees only their requests, and its contact is
/// copied on each request e-mail.
#[tokio::test]
async fn a_partner_admin_looks_after_two_customers() {
    let app = TestApp::on("2026-11-20").await;
    let am = app.account_manager().await;
    let msp = app.partner_admin().await;
    let contact = json!({"name": "MSP One", "contact_email": "desk@msp.io"});
    let refused = app.put("/v1/partners/msp1", &msp, contact.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let recorded = app.put("/v1/partners/msp1", &am, contact).await;
    assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.body);
    assert_eq!(
        ok(&app.get("/v1/partners/msp1", &msp).await)["contact_email"],
        "desk@msp.io"
    );
    assert_eq!(
        app.get("/v1/partners/other", &msp).await.status,
        StatusCode::NOT_FOUND
    );

    let direct = app
        .create_company(&am, premium_from("2026-04-01"), 20, "co_term")
        .await;
    let mut customers = Vec::new();
    for _ in 0..2 {
        customers.push(
            app.create_company(&msp, premium_from("2026-04-01"), 20, "co_term")
                .await,
        );
    }
    let added = app
        .put(
            &format!("/v1/companies/{}/licence-types/pro", customers[0]),
            &msp,
            json!({"policy": "rolling_12_months", "annual_fee_minor": 30000, "currency": "GBP"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["purchased"], 0);
    let clash = app
        .put(
            &format!("/v1/companies/{}/licence-types/pro", customers[0]),
            &msp,
            json!({"policy": "co_term", "annual_fee_minor": 30000, "currency": "GBP"}),
        )
        .await;
    assert_eq!(
        (clash.status, clash.code()),
        (StatusCode::CONFLICT, "licence_type_conflict")
    );

    for company in customers.iter().chain([&direct]) {
        let lead = app.lead(company).await;
        ok(&app
            .request_order(&lead, company, order_request("upgrade", 3))
            .await);
    }
    let queue = app.get("/v1/orders?state=requested", &msp).await;
    let companies: Vec<Value> = ok(&queue)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["company_id"].clone())
        .collect();
    assert_eq!(
        companies,
        customers.iter().map(|c| json!(c)).collect::<Vec<_>>()
    );
    let requests = kinds(&app.outbox().await, "order_requested");
    let copied = requests
        .iter()
        .filter(|m| m["cc"] == json!(["desk@msp.io"]))
        .count();
    assert_eq!(
        (requests.len(), copied),
        (3, 2),
        "the partner hears of its two customers only"
    );
    let foreign = app
        .get(&format!("/v1/companies/{direct}/audit"), &msp)
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}

/// A manager renames a learner, promotes a deputy, removes a leaver, and
/// cannot demote the last manager.
#[tokio::test]
async fn a_manager_keeps_the_member_list_true() {
    let (app, _, company) = TestApp::with_company("2026-11-20", 20).await;
    let lead = app.lead(&company).await;
    let members = format!("/v1/companies/{company}/members");
    for (email, name) in [("ann@acme.io", "Ann"), ("leaver@acme.io", "Lee Ver")] {
        let body =
            json!({"email": email, "name": name, "role": "learner", "licence_type": "standard"});
        ok(&app.post(&members, &lead, body).await);
    }
    let renamed = app
        .patch(
            &format!("{members}/ann@acme.io"),
            &lead,
            json!({"name": "Ann Smith"}),
        )
        .await;
    assert_eq!(ok(&renamed)["name"], "Ann Smith");
    let bad = app
        .patch(
            &format!("{members}/ann@acme.io"),
            &lead,
            json!({"nickname": "A"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let last = app
        .patch(
            &format!("{members}/lead@acme.io"),
            &lead,
            json!({"role": "learner"}),
        )
        .await;
    assert_eq!(
        (last.status, last.code()),
        (StatusCode::CONFLICT, "last_manager")
    );
    let removed = app
        .send(
            Method::DELETE,
            &format!("{members}/leaver@acme.io"),
            Some(&lead),
            None,
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let company_view = app.get(&format!("/v1/companies/{company}"), &lead).await;
    let pool = &ok(&company_view)["pools"][0];
    assert_eq!(
        pool["allocated"], 2,
        "the lead and Ann; the leaver's seat is free"
    );
    let audit = app
        .get(&format!("/v1/companies/{company}/audit"), &lead)
        .await;
    let actions: Vec<Value> = ok(&audit)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].clone())
        .take(2)
        .collect();
    assert_eq!(actions, [json!("member.remove"), json!("member.update")]);
}
