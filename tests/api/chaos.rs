//! The fault suite: a journey through the function handlers, on a store
//! whose transactions fail at random (a race lost, throttling, an outage,
//! a reply lost after the write) and a mailer that refuses sends at random
//! (throttled, unavailable), driven by a seed. The client retries as
//! a careful one would, with one `Idempotency-Key` per intended action.
//! The journey: a company's members, an upgrade requested and assigned, an
//! allocation, the next term renewed ahead of its date, a seat released at
//! renewal. Afterwards, with the faults healed, the invariants must hold:
//! no seat oversold, no order lost or doubled, the renewal scheduled once,
//! no member doubled, every e-mail sent once.

use std::sync::Arc;

use seatkeeper_core::model::OrderKind;
use seatkeeper_core::ports::ItemStore;
use seatkeeper_edge::routes;
use seatkeeper_test_support::faults::{ChaosCounts, ChaosMailer, ChaosStore};
use seatkeeper_test_support::fixtures::at;
use seatkeeper_test_support::stores;
use serde_json::{json, Value};

use crate::handlers::{
    account_manager, company_body, event, lead, with_body, with_header, with_query, Answer, Lambda,
};
use crate::helpers::order_request;

/// Seeds per store, and faults per 1 000 transactions.
const SEEDS: u64 = 12;
const FAULTS_PER_MILLE: u64 = 250;
/// A careful client gives up after this many tries of one action.
const TRIES: usize = 40;

struct Client<'a> {
    lambda: &'a Lambda,
    key_seq: u64,
    seed: u64,
}

impl Client<'_> {
    /// Sends one intended action until it gets a final answer: retried on
    /// 5xx, 429 and "in progress", with the same key. "Applied, answer
    /// lost" counts as done.
    async fn act(
        &mut self,
        function: &str,
        method: &str,
        path: &str,
        claims: Value,
        body: Value,
    ) -> Answer {
        self.key_seq += 1;
        let key = format!("chaos-{}-{}", self.seed, self.key_seq);
        let request = with_header(
            with_body(event(method, path, Some(claims)), &body.to_string()),
            "Idempotency-Key",
            &key,
        );
        let mut answer = self.lambda.invoke(function, &request).await;
        for _ in 1..TRIES {
            let retry = answer.status >= 500
                || answer.status == 429
                || answer.code() == "idempotency_in_progress";
            if !retry {
                break;
            }
            answer = self.lambda.invoke(function, &request).await;
        }
        answer
    }
}

impl Client<'_> {
    /// The lead requests an order; if its answer names it, the account
    /// manager assigns it.
    async fn request_and_assign(&mut self, company: &str, order: Value) {
        let base = format!("/v1/companies/{company}");
        let requested = self
            .act(
                routes::REQUEST_UPGRADE,
                "POST",
                &format!("{base}/orders"),
                lead(company),
                order,
            )
            .await;
        if let Some(order_id) = requested.body["order"]["id"].as_str() {
            self.act(
                routes::ASSIGN_ORDER,
                "POST",
                &format!("{base}/orders/{order_id}/assign"),
                account_manager(),
                json!({}),
            )
            .await;
        }
    }
}

/// What one journey leaves, read with the faults healed.
struct Outcome {
    counts: ChaosCounts,
    mail_refused: u64,
    /// Renewals the journey got scheduled (so the check on them bit).
    renewals: u64,
    violations: Vec<String>,
    checks: u64,
}

async fn journey(seed: u64, store: Arc<dyn ItemStore>) -> Outcome {
    // The company is made before the faults start: its id is only in the
    // answer, which a client that lost it could not find again.
    let chaos = Arc::new(ChaosStore::new(store, seed, 0));
    let mail_chaos = std::sync::OnceLock::new();
    let lambda = Lambda::on("2026-11-22", chaos.clone(), |outbox| {
        let mailer = Arc::new(ChaosMailer::new(outbox, seed, 0));
        mail_chaos.get_or_init(|| mailer.clone());
        mailer
    });
    let mailer = mail_chaos.get().expect("the mailer").clone();
    // A first daily run, so the one after the journey reads from here.
    let morning = at("2026-11-22T06:00:00Z");
    lambda
        .app
        .service
        .run_expiry_check(morning, None)
        .await
        .expect("the morning's run");
    let mut client = Client {
        lambda: &lambda,
        key_seq: 0,
        seed,
    };
    let mut violations = Vec::new();
    let mut expect = |what: &str, ok: bool, detail: String| {
        if !ok {
            violations.push(format!("seed {seed}: {what}: {detail}"));
        }
    };
    let created = client
        .act(
            routes::ADMIN_API,
            "POST",
            "/v1/companies",
            account_manager(),
            company_body("Acme Ltd"),
        )
        .await;
    chaos.arm(FAULTS_PER_MILLE);
    mailer.arm(FAULTS_PER_MILLE);
    let company = created.body["id"]
        .as_str()
        .expect("made before the faults")
        .to_string();
    let base = format!("/v1/companies/{company}");
    for i in 0..6 {
        let licence = (i < 3).then_some("standard");
        let body = json!({"email": format!("l{i}@acme.io"), "name": "L", "role": "learner", "licence_type": licence});
        client
            .act(
                routes::ALLOCATE,
                "POST",
                &format!("{base}/members"),
                lead(&company),
                body,
            )
            .await;
    }
    client
        .request_and_assign(&company, order_request("upgrade", 5))
        .await;
    let named = json!({"licence_type": "standard", "emails": ["l3@acme.io", "l4@acme.io"]});
    client
        .act(
            routes::ALLOCATE,
            "POST",
            &format!("{base}/allocations"),
            lead(&company),
            named,
        )
        .await;
    // The next term, renewed ahead of its date (scheduled), and a seat
    // released at renewal.
    let renewal = json!({"kind": "renewal", "lines": [{"licence_type": "standard", "quantity": 20}], "agree_to_pay": true});
    client.request_and_assign(&company, renewal).await;
    let release = with_query(
        event(
            "DELETE",
            &format!("{base}/members/l0%40acme.io/licence"),
            Some(lead(&company)),
        ),
        "effective=renewal",
        &[("effective", "renewal")],
    );
    // No key on a DELETE: a retry after a lost answer meets `already_released`.
    for _ in 0..TRIES {
        let answer = lambda.invoke(routes::ALLOCATE, &release).await;
        if answer.status < 500 && answer.status != 429 {
            break;
        }
    }

    // The faults stop; what was left pending is sent by the daily run.
    chaos.heal();
    mailer.arm(0);
    let svc = &lambda.app.service;
    let later = at("2026-11-24T06:00:00Z");
    lambda.clock.set_now(later);
    svc.run_expiry_check(later, None)
        .await
        .expect("the daily run, healed");
    let am = seatkeeper_test_support::fixtures::account_manager();
    let view = svc.get_company(&am, &company).await.expect("the company");
    let pool = &view.pools[0];
    let members = svc
        .list_members(&am, &company, None, None, Some(200))
        .await
        .expect("members")
        .items;
    let orders = svc
        .list_orders(&am, &company, None, None, Some(200))
        .await
        .expect("orders")
        .items;
    let holders = members.iter().filter(|m| m.licence_type.is_some()).count() as u32;
    let mut checks = 0;
    let mut check = |what: &str, ok: bool, detail: String| {
        checks += 1;
        expect(what, ok, detail);
    };
    check(
        "no seat oversold",
        pool.allocated <= pool.purchased,
        format!("{pool:?}"),
    );
    check(
        "seats counted once",
        pool.allocated == holders,
        format!("{} allocated, {holders} holders", pool.allocated),
    );
    check(
        "no member doubled",
        members.len() <= 7,
        format!("{} members", members.len()),
    );
    let of_kind = |kind: OrderKind| orders.iter().filter(move |o| o.kind == kind);
    for kind in [OrderKind::Upgrade, OrderKind::Renewal] {
        check(
            "no order doubled",
            of_kind(kind).count() <= 1,
            format!("{} {kind:?} orders", of_kind(kind).count()),
        );
    }
    let upgrades = of_kind(OrderKind::Upgrade)
        .filter(|o| o.invoice.is_some())
        .count() as u32;
    check(
        "the upgrade bought its seats once",
        pool.purchased == 20 + 5 * upgrades,
        format!("{} purchased, {upgrades} upgrades assigned", pool.purchased),
    );
    let renewed = of_kind(OrderKind::Renewal).any(|o| o.invoice.is_some());
    check(
        "a renewal scheduled once, with its seats",
        view.company.next_term.as_ref().map(|t| t.lines[0].seats) == renewed.then_some(20),
        format!("{:?}, renewal assigned: {renewed}", view.company.next_term),
    );
    let assigned = orders.iter().filter(|o| o.invoice.is_some()).count();
    let kinds = lambda.outbox_kinds();
    for kind in ["order_requested", "order_assigned"] {
        let sent = kinds.iter().filter(|k| *k == kind).count();
        let owed = match kind {
            "order_requested" => orders.len(),
            _ => assigned,
        };
        check(
            "every e-mail sent once",
            sent == owed,
            format!("{kind}: {sent} sent, {owed} owed"),
        );
    }
    Outcome {
        counts: chaos.counts(),
        mail_refused: mailer.refused(),
        renewals: u64::from(renewed),
        violations,
        checks,
    }
}

/// Where a journey's store comes from.
#[derive(Clone, Copy)]
enum Adapter {
    Sqlite,
    DynamoDb,
}

async fn suite(adapter: Adapter) {
    let (mut faults, mut refused, mut transactions, mut checks, mut renewals) = (0, 0, 0, 0, 0);
    let mut violations = Vec::new();
    for seed in 0..SEEDS {
        let fixture = match adapter {
            Adapter::Sqlite => stores::sqlite().await,
            Adapter::DynamoDb => stores::dynamodb().await,
        };
        let outcome = journey(seed, fixture.store.clone()).await;
        faults += outcome.counts.faults();
        refused += outcome.mail_refused;
        renewals += outcome.renewals;
        transactions += outcome.counts.transactions;
        checks += outcome.checks;
        violations.extend(outcome.violations);
    }
    let name = match adapter {
        Adapter::Sqlite => "SQLite",
        Adapter::DynamoDb => "DynamoDB Local",
    };
    println!(
        "fault suite on {name}: {SEEDS} journeys ({renewals} renewals scheduled), {transactions} transactions, {faults} store faults and {refused} refused sends injected, {checks} invariants checked, {} violations",
        violations.len()
    );
    assert!(faults > 0, "the suite injected no fault");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[tokio::test]
async fn journeys_under_faults_keep_every_invariant_on_sqlite() {
    suite(Adapter::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn journeys_under_faults_keep_every_invariant_on_dynamodb() {
    suite(Adapter::DynamoDb).await;
}
