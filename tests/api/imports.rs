//! The CSV renewal journey through the local server: request an upload, PUT
//! the file to `upload_url` (which fires the real import-renewals handler
//! with an S3 event), read the preview, confirm.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{order_request, TestApp};

/// The names of an import's columns, as the dropdown lists them.
fn column_names(import: &serde_json::Value) -> Vec<serde_json::Value> {
    import["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].clone())
        .collect()
}

#[tokio::test]
async fn renew_expired_learners_from_a_csv() {
    let app = TestApp::on("2025-11-01").await;
    let am = app.account_manager().await;
    let plan = json!({"kind": "premium", "term_start": "2025-11-01", "term_months": 24});
    let company = app.create_company(&am, plan, 5, "rolling_12_months").await;
    let lead = app.lead(&company).await;
    for name in ["ann", "bob", "cy"] {
        let body = json!({"email": format!("{name}@acme.io"), "name": name, "role": "learner", "licence_type": "standard"});
        assert_eq!(
            app.post(&format!("/v1/companies/{company}/members"), &lead, body)
                .await
                .status,
            StatusCode::CREATED
        );
    }
    // A year on, the three learners' licences (and the lead's) have expired.
    app.set_today("2026-11-22").await;

    let ticket = app
        .post(
            &format!("/v1/companies/{company}/imports"),
            &lead,
            json!({}),
        )
        .await;
    assert_eq!(ticket.status, StatusCode::CREATED, "{}", ticket.body);
    assert_eq!(ticket.body["method"], "PUT");
    let import = ticket.body["import_id"]
        .as_str()
        .expect("an import id")
        .to_string();
    let url = ticket.body["upload_url"]
        .as_str()
        .expect("an upload url")
        .to_string();
    assert!(url.starts_with(&app.url("/local/s3/")), "{url}");

    let csv = "Name;E-mail address;Team\r\nAnn;ANN@acme.io ;Blue\r\nBob;bob@acme.io;Red\r\n\r\nCy;cy@acme.io;\r\nZed;zed@elsewhere.io;\r\nBad;not-an-email;\r\nAnn again;ann@acme.io;\r\n";
    let put = app.upload(&url, csv).await;
    assert_eq!(put.status(), StatusCode::OK);

    let preview = app
        .get(&format!("/v1/companies/{company}/imports/{import}"), &lead)
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(preview.body["status"], "previewed");
    assert_eq!(preview.body["email_column"], "E-mail address");
    assert_eq!(
        column_names(&preview.body),
        [json!("Name"), json!("E-mail address"), json!("Team")]
    );
    assert_eq!(preview.body["columns"][1]["samples"][0], "ANN@acme.io");

    // The manager picks another column from the dropdown, then back: the
    // file is previewed again without a new upload.
    let repreview = format!("/v1/companies/{company}/imports/{import}/preview");
    let by_name = app
        .post(&repreview, &lead, json!({"email_column": "Name"}))
        .await;
    assert_eq!(by_name.status, StatusCode::OK, "{}", by_name.body);
    assert_eq!(
        (
            by_name.body["email_column"].clone(),
            by_name.body["counts"]["to_renew"].clone()
        ),
        (json!("Name"), json!(0))
    );
    let missing = app
        .post(&repreview, &lead, json!({"email_column": "Phone"}))
        .await;
    assert_eq!(
        (missing.status, missing.body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("email_column"))
    );
    let preview = app
        .post(&repreview, &lead, json!({"email_column": "E-mail address"}))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let counts = &preview.body["counts"];
    // The lead is expired too and not in the file: they stay expired.
    assert_eq!(counts["stay_expired"], 1);
    assert_eq!(
        preview.body["seats"],
        json!({"licence_type": "standard", "needed": 3, "available": 1})
    );
    assert_eq!(
        (
            counts["rows"].as_u64(),
            counts["to_renew"].as_u64(),
            counts["unknown"].as_u64(),
            counts["invalid"].as_u64(),
            counts["duplicate"].as_u64()
        ),
        (Some(6), Some(3), Some(1), Some(1), Some(1))
    );
    let reasons: Vec<_> = preview.body["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["email"].clone())
        .collect();
    assert_eq!(
        reasons,
        vec![
            json!("zed@elsewhere.io"),
            json!("not-an-email"),
            json!("ann@acme.io")
        ]
    );

    // Four seats used (three learners and the lead), five bought: one free.
    let confirm = format!("/v1/companies/{company}/imports/{import}/confirm");
    let short = app
        .post(&confirm, &lead, json!({"licence_type": "standard"}))
        .await;
    short.expect_no_seats(3, 1);
    let still = app
        .get(
            &format!("/v1/companies/{company}/members?licence_status=expired"),
            &lead,
        )
        .await;
    assert_eq!(
        still.body["items"].as_array().map(Vec::len),
        Some(4),
        "a refused confirm changes nothing"
    );

    let order = app
        .request_order(&lead, &company, order_request("upgrade", 2))
        .await;
    let order_id = order.body["order"]["id"].as_str().expect("an order");
    let assigned = app.assign(&am, &company, order_id, json!({})).await;
    assert_eq!(
        assigned.body["invoice"]["amount_minor"], 24_000,
        "rolling seats are not prorated"
    );

    let done = app
        .post(&confirm, &lead, json!({"licence_type": "standard"}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(
        (done.body["status"].clone(), done.body["renewed"].clone()),
        (json!("committed"), json!(3))
    );
    assert_eq!(
        (
            done.body["pool"]["allocated"].as_u64(),
            done.body["pool"]["available"].as_u64()
        ),
        (Some(7), Some(0))
    );
    let again = app
        .post(&confirm, &lead, json!({"licence_type": "standard"}))
        .await;
    assert_eq!(
        (
            again.status,
            again.body["renewed"].clone(),
            again.body["pool"]["allocated"].clone()
        ),
        (StatusCode::OK, json!(3), json!(7)),
        "confirms once"
    );
    let expired = app
        .get(
            &format!("/v1/companies/{company}/members?licence_status=expired"),
            &lead,
        )
        .await;
    let left: Vec<_> = expired.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["email"].clone())
        .collect();
    assert_eq!(
        left,
        vec![json!("lead@acme.io")],
        "exactly the previewed members were renewed"
    );

    // Uploading to a confirmed import is refused: the import stays as it was.
    let reupload = app.upload(&url, "email\nlead@acme.io\n").await;
    assert_eq!(reupload.status(), StatusCode::OK);
    let after = app
        .get(&format!("/v1/companies/{company}/imports/{import}"), &lead)
        .await;
    assert_eq!(
        (
            after.body["status"].clone(),
            after.body["counts"]["to_renew"].clone()
        ),
        (json!("committed"), json!(3))
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_previewed_says_why() {
    let (app, am, company) = TestApp::with_company("2026-11-22", 20).await;
    let ticket = app
        .post(&format!("/v1/companies/{company}/imports"), &am, json!({}))
        .await;
    let import = ticket.body["import_id"].as_str().expect("an id");
    let url = ticket.body["upload_url"].as_str().expect("a url");
    app.upload(url, "Name,Login\nAnn,ann\n").await;
    let failed = app
        .get(&format!("/v1/companies/{company}/imports/{import}"), &am)
        .await;
    assert_eq!(
        (
            failed.body["status"].clone(),
            failed.body["failure_code"].clone()
        ),
        (json!("failed"), json!("no_email_column"))
    );
    assert_eq!(
        column_names(&failed.body),
        [json!("Name"), json!("Login")],
        "the columns, so the manager can pick one"
    );
    let confirm = app
        .post(
            &format!("/v1/companies/{company}/imports/{import}/confirm"),
            &am,
            json!({"licence_type": "standard"}),
        )
        .await;
    assert_eq!(
        (confirm.status, confirm.code()),
        (StatusCode::CONFLICT, "import_not_previewed")
    );
}
