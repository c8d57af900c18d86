//! The daily expiry check end to end on the AWS adapters: DynamoDB Local for
//! the store, moto's SES v2 for the mail, a real scheduled event's time.

use std::sync::Arc;

use aws_sdk_sesv2::config::{BehaviorVersion, Credentials, Region};
use chrono::{DateTime, Utc};
use seatkeeper_adapters::ses::SesMailer;
use seatkeeper_core::model::Policy;
use seatkeeper_core::ports::ManualClock;
use seatkeeper_core::service::{NewCompany, NewManager, NewPlan, NewPool, Settings};
use seatkeeper_core::types::Email;
use seatkeeper_core::{Caller, Role, Seatkeeper};

use crate::{harness, moto};

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("an instant")
        .with_timezone(&Utc)
}

/// The subjects of moto's messages to one address.
async fn subjects_to(to: &str) -> Vec<String> {
    moto::messages_to(to)
        .await
        .iter()
        .filter_map(|m| m["subject"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trial_notices_go_out_once_through_ses() {
    let store = harness::dynamodb().await.store;
    let ses = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(moto::endpoint().await)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .build(),
    );
    let sender = format!("no-reply-{}@expiry.test", std::process::id());
    ses.create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("verify the sender");
    let clock = Arc::new(ManualClock::default());
    clock.set_now(at("2026-11-01T09:00:00Z"));
    let svc = Seatkeeper::new(
        store,
        clock.clone(),
        Arc::new(SesMailer::new(ses, sender, None)),
        Settings::default(),
    );
    // A manager address unique to this run, so moto's shared state can't mix runs.
    let lead = format!("lead-{}@acme.test", std::process::id());
    let am = Caller {
        user_id: "am".into(),
        email: Email::parse("am@vendor.io").expect("an e-mail"),
        role: Role::AccountManager,
        company_id: None,
        partner_id: None,
    };
    let input = NewCompany {
        name: "Acme".into(),
        timezone: Some("Europe/London".into()),
        account_manager_email: "am@vendor.io".into(),
        min_seats_at_renewal: None,
        plan: NewPlan::Trial {
            ends_on: "2026-11-26".into(),
            seats: 3,
        },
        licence_types: vec![NewPool {
            licence_type: "standard".into(),
            policy: Policy::CoTerm,
            annual_fee_minor: 100,
            currency: "GBP".into(),
            seats: 3,
        }],
        managers: vec![NewManager {
            email: lead.clone(),
            name: "Lead".into(),
        }],
    };
    svc.create_company(&am, input).await.expect("create");
    // The scheduled event's time, as `sam local generate-event cloudwatch scheduled-event` shapes it.
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/events/scheduled-event.json"))
            .expect("the sample");
    for day in [
        "2026-11-22",
        "2026-11-23",
        "2026-11-23",
        "2026-11-26",
        "2026-11-27",
    ] {
        let mut event = sample.clone();
        event["time"] = serde_json::json!(format!("{day}T06:00:00Z"));
        let now = at(event["time"].as_str().expect("a time"));
        clock.set_now(now);
        svc.run_expiry_check(now, None).await.expect("the run");
    }
    assert_eq!(
        subjects_to(&lead).await,
        vec![
            "Acme: licences end on 2026-11-26".to_string(),
            "Acme: licences ended on 2026-11-26".to_string()
        ]
    );
}
