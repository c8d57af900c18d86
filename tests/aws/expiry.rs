//! The daily expiry check end to end on the AWS adapters: DynamoDB Local for
//! the store, moto's SES v2 for the mail, a real scheduled event's time.

use std::sync::Arc;

use seatkeeper_adapters::ses::SesMailer;
use seatkeeper_core::model::Policy;
use seatkeeper_core::ports::ManualClock;
use seatkeeper_core::service::{NewPool, Settings};
use seatkeeper_core::Seatkeeper;
use seatkeeper_test_support::aws::emulator_config;
use seatkeeper_test_support::fixtures::{account_manager, at, new_company, standard_pool, trial};
use seatkeeper_test_support::stores;

use crate::moto;

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
    let store = stores::dynamodb().await.store;
    let ses = aws_sdk_sesv2::Client::new(&emulator_config(moto::endpoint().await));
    let sender = format!("no-reply-{}@expiry.test", std::process::id());
    moto::verify_identity(&ses, &sender).await;
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
    let input = new_company("Acme")
        .plan(trial("2026-11-26", 3))
        .pool(NewPool {
            annual_fee_minor: 100,
            ..standard_pool(Policy::CoTerm, 0)
        })
        .manager(lead.clone(), "Lead")
        .build();
    svc.create_company(&account_manager(), input)
        .await
        .expect("create");
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
            "Acme: licences end on 26 November 2026".to_string(),
            "Acme: licences ended on 26 November 2026".to_string()
        ]
    );
}
