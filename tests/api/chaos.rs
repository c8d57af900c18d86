//! The fault suite: journeys through the function handlers, on a store
//! whose transactions fail at random (a race lost, throttling, an outage,
//! a reply lost after the write), a mailer that refuses sends at random
//! (throttled, unavailable) and an object reader that fails at random (an
//! outage, a connection dropped mid-file), driven by a seed. The client
//! retries as a careful one would, with one `Idempotency-Key` per intended
//! action; S3 redelivers a failed upload event as Lambda's retries would.
//!
//! Two journeys. **Upgrade and renewal**: a company's members, an upgrade
//! requested and assigned, an allocation, the next term renewed ahead of
//! its date, a seat released at renewal. **Trial season**: a partner's
//! trial company with learners, the daily runs around the trial's end, the
//! trial converted, six learners renewed from a CSV, the rest with
//! "Select All". Afterwards, with the faults healed, the invariants must
//! hold: no seat oversold, no order lost or doubled, the renewal scheduled
//! once, no member doubled, every e-mail sent once, each digest sent once,
//! the import committed whole.
//!
//! Processes are also killed, on the same seed: at a transaction (before or
//! after its write) or right after an e-mail went out, the port never
//! returns and the harness drops the request (or run) being served, so no
//! code after the kill point runs. A fresh app on the same store then goes
//! on, as a restarted Lambda would, with the clock moved past every lease
//! and takeover time the dead process held. Kills add two invariants: no
//! idempotency claim is left held, and an e-mail goes out more than once
//! only where docs/EXPIRY.md says it may (a process killed after the send,
//! before the send was recorded).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use seatkeeper_core::imports::{object_key, PreviewOutcome};
use seatkeeper_core::model::OrderKind;
use seatkeeper_core::model::{ImportStatus, LicenceStatus, Order};
use seatkeeper_core::ports::{Clock, ItemStore, ObjectReader};
use seatkeeper_core::repo;
use seatkeeper_core::service::expiry::CLAIM_LEASE_MINUTES;
use seatkeeper_core::service::{MemberView, PoolView};
use seatkeeper_core::types::{CompanyId, ImportId};
use seatkeeper_core::Seatkeeper;
use seatkeeper_edge::{routes, App};
use seatkeeper_test_support::faults::{
    ChaosCounts, ChaosMailer, ChaosObjects, ChaosStore, Kill, KillCounts, Kills,
};
use seatkeeper_test_support::fixtures::at;
use seatkeeper_test_support::stores;
use serde_json::{json, Value};

use crate::handlers::{
    account_manager, company_body, event, lead, partner_admin, with_body, with_header, with_query,
    Answer, Lambda,
};
use crate::helpers::order_request;

/// Seeds per store and journey, and faults per 1 000 transactions (and
/// sends, and object reads).
const SEEDS: u64 = 12;
const FAULTS_PER_MILLE: u64 = 250;
/// Processes killed per 1 000 transactions and sends.
const KILLS_PER_MILLE: u64 = 30;
/// How hard a journey is hit: faults and kills per 1 000 calls, and a
/// kill planned inside one operation.
#[derive(Clone, Copy)]
struct Chaos {
    faults_per_mille: u64,
    kills_per_mille: u64,
    /// The operation whose first serving dies at its nth transaction.
    planned_kill: Option<(&'static str, u64, Kill)>,
}

/// What the suite runs every journey under.
const SUITE: Chaos = Chaos {
    faults_per_mille: FAULTS_PER_MILLE,
    kills_per_mille: KILLS_PER_MILLE,
    planned_kill: None,
};

/// A careful client gives up after this many tries of one action.
const TRIES: usize = 40;

struct Client<'a> {
    rig: &'a Rig,
    key_seq: u64,
    seed: u64,
    /// Each keyed request sent.
    sent: Vec<Keyed>,
    /// The actions answered 409 `idempotency_effect_committed`, once per try.
    told_applied: Vec<&'static str>,
}

/// A request sent with an `Idempotency-Key`, as its caller would send it
/// again.
struct Keyed {
    function: &'static str,
    /// The caller's `sub`, which scopes the key.
    sub: String,
    key: String,
    request: Value,
}

impl Client<'_> {
    /// Sends one intended action (`what`, for the kill counts) until it
    /// gets a final answer: retried on 5xx, 429, "in progress" and a
    /// killed process, with the same key. "Applied, answer lost" counts as
    /// done.
    async fn act(
        &mut self,
        what: &'static str,
        function: &'static str,
        method: &str,
        path: &str,
        claims: Value,
        body: Value,
    ) -> Answer {
        self.key_seq += 1;
        let key = format!("chaos-{}-{}", self.seed, self.key_seq);
        let sub = claims["sub"].as_str().unwrap_or_default().to_string();
        let request = with_header(
            with_body(event(method, path, Some(claims)), &body.to_string()),
            "Idempotency-Key",
            &key,
        );
        self.sent.push(Keyed {
            function,
            sub,
            key: key.clone(),
            request: request.clone(),
        });
        let lambda = &self.rig.lambda;
        let mut answer = None;
        for _ in 0..TRIES {
            answer = self
                .rig
                .survive(what, lambda.invoke(function, &request))
                .await;
            let Some(given) = &answer else { continue };
            if given.code() == "idempotency_effect_committed" {
                self.told_applied.push(what);
            }
            let retry = given.status >= 500
                || given.status == 429
                || given.code() == "idempotency_in_progress";
            if !retry {
                break;
            }
            if given.code() == "idempotency_in_progress" {
                // A careful client backs off past the time after which a
                // claim counts as abandoned (the first try may have died).
                let clock = &lambda.clock;
                clock.set_now(clock.now() + chrono::Duration::seconds(61));
            }
        }
        answer.expect("not every try killed")
    }
}

impl Client<'_> {
    /// The lead requests an order, then `assigner` assigns it. An order
    /// whose answer was lost is found among the requested ones, as the
    /// problem's detail tells a client to.
    async fn request_and_assign(&mut self, company: &str, order: Value, assigner: Value) {
        let base = format!("/v1/companies/{company}");
        let kind = order["kind"].clone();
        let (request, assign) = match kind.as_str() {
            Some("renewal") => ("renewal request", "renewal assign"),
            _ => ("order request", "order assign"),
        };
        let requested = self
            .act(
                request,
                routes::REQUEST_UPGRADE,
                "POST",
                &format!("{base}/orders"),
                lead(company),
                order,
            )
            .await;
        let order_id = match requested.body["order"]["id"].as_str() {
            Some(id) => Some(id.to_string()),
            None if requested.code() == "idempotency_effect_committed" => {
                let list = with_query(
                    event("GET", &format!("{base}/orders"), Some(lead(company))),
                    "state=requested",
                    &[("state", "requested")],
                );
                let listed = self.rig.lambda.invoke(routes::READ_API, &list).await;
                listed.body["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|o| o["kind"] == kind)
                    .and_then(|o| o["id"].as_str())
                    .map(str::to_string)
            }
            None => None,
        };
        if let Some(order_id) = order_id {
            self.act(
                assign,
                routes::ASSIGN_ORDER,
                "POST",
                &format!("{base}/orders/{order_id}/assign"),
                assigner,
                json!({}),
            )
            .await;
        }
    }
}

impl Answer {
    /// Work left to do: a 202, or applied with its answer lost.
    fn unfinished(&self) -> bool {
        self.status == 202 || self.code() == "idempotency_effect_committed"
    }
}

/// What one journey leaves, read with the faults healed.
#[derive(Default)]
struct Outcome {
    counts: ChaosCounts,
    mail_refused: u64,
    reads_failed: u64,
    kills: KillCounts,
    /// Kills by the operation they cut short.
    killed_in: BTreeMap<&'static str, u64>,
    /// Renewals the journey got scheduled (so the check on them bit).
    renewals: u64,
    /// Imports the journey committed.
    imports: u64,
    /// Keys found held at the end, each sent again.
    claims_held: u64,
    violations: Vec<String>,
    checks: u64,
}

impl Outcome {
    /// One invariant checked.
    fn check(&mut self, seed: u64, what: &str, ok: bool, detail: String) {
        self.checks += 1;
        if !ok {
            self.violations
                .push(format!("seed {seed}: {what}: {detail}"));
        }
    }

    fn add(&mut self, other: Outcome) {
        self.counts.transactions += other.counts.transactions;
        self.counts.conflicts += other.counts.conflicts;
        self.counts.throttled += other.counts.throttled;
        self.counts.unavailable += other.counts.unavailable;
        self.counts.lost_replies += other.counts.lost_replies;
        self.mail_refused += other.mail_refused;
        self.reads_failed += other.reads_failed;
        self.kills.before_write += other.kills.before_write;
        self.kills.after_write += other.kills.after_write;
        self.kills.after_send += other.kills.after_send;
        (self.kills.unrecorded_sends).extend(other.kills.unrecorded_sends);
        for (what, n) in other.killed_in {
            *self.killed_in.entry(what).or_default() += n;
        }
        self.renewals += other.renewals;
        self.imports += other.imports;
        self.claims_held += other.claims_held;
        self.violations.extend(other.violations);
        self.checks += other.checks;
    }
}

/// The functions on a store, mailer and object reader that fail on the
/// same seed, armed and healed together.
struct Rig {
    lambda: Lambda,
    store: Arc<ChaosStore>,
    mailer: Arc<ChaosMailer>,
    objects: Arc<ChaosObjects>,
    kills: Arc<Kills>,
    killed_in: Mutex<BTreeMap<&'static str, u64>>,
    chaos: Chaos,
    /// The planned kill, until its operation is served.
    planned_kill: Mutex<Option<(&'static str, u64, Kill)>>,
    seed: u64,
}

impl Rig {
    /// Unarmed, with a first daily run at `first_run` so that the runs
    /// after it read from there.
    async fn new(
        seed: u64,
        store: Arc<dyn ItemStore>,
        chaos: Chaos,
        today: &str,
        first_run: &str,
    ) -> Self {
        let kills = Arc::new(Kills::new(seed, 0));
        let store = Arc::new(ChaosStore::new(store, seed, 0).killing(kills.clone()));
        let mail_chaos = std::sync::OnceLock::new();
        let lambda = Lambda::on(today, store.clone(), |outbox| {
            let mailer = Arc::new(ChaosMailer::new(outbox, seed, 0).killing(kills.clone()));
            mail_chaos.get_or_init(|| mailer.clone());
            mailer
        });
        let mailer = mail_chaos.get().expect("the mailer").clone();
        let objects = Arc::new(ChaosObjects::new(lambda.app().objects.clone(), seed, 0));
        let rig = Self {
            lambda,
            store,
            mailer,
            objects,
            kills,
            killed_in: Mutex::default(),
            chaos,
            planned_kill: Mutex::new(chaos.planned_kill),
            seed,
        };
        rig.start_process(rig.objects.clone());
        assert!(rig.daily_run(first_run).await, "the first daily run");
        rig
    }

    fn client(&self) -> Client<'_> {
        Client {
            rig: self,
            key_seq: 0,
            seed: self.seed,
            sent: Vec::new(),
            told_applied: Vec::new(),
        }
    }

    /// A fresh app on the same store and ports, as a new Lambda process
    /// builds it: nothing of the last one's memory is kept.
    fn start_process(&self, objects: Arc<dyn ObjectReader>) {
        let last = self.lambda.app();
        let service = Seatkeeper::new(
            self.store.clone() as Arc<dyn ItemStore>,
            last.service.clock().clone(),
            last.service.mailer().clone(),
            last.service.settings().clone(),
        );
        self.lambda
            .replace_app(App::new(service, last.uploads.clone(), objects));
    }

    /// Runs `work`, one process's serving of `what`, to its end; `None`
    /// when a port killed the process. Then `work` is dropped where it
    /// stood and a fresh process is started once every lease and takeover
    /// time the dead one held has passed (a notice claim's lease is the
    /// longest; an idempotency claim's 60 s are inside it).
    async fn survive<T>(&self, what: &'static str, work: impl Future<Output = T>) -> Option<T> {
        let planned = (self.planned_kill.lock())
            .unwrap_or_else(|p| p.into_inner())
            .take_if(|(operation, ..)| *operation == what);
        if let Some((_, n, at)) = planned {
            self.kills.kill_at_transaction(n, at);
        }
        tokio::select! {
            done = work => Some(done),
            () = self.kills.killed() => {
                *self
                    .killed_in
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(what)
                    .or_default() += 1;
                let clock = &self.lambda.clock;
                clock.set_now(clock.now() + chrono::Duration::minutes(CLAIM_LEASE_MINUTES + 1));
                self.start_process(self.lambda.app().objects.clone());
                None
            }
        }
    }

    /// Creates a company as `claims`' holder, then arms the faults: the
    /// company is made first because its id is only in the answer, which a
    /// client that lost it could not find again.
    async fn company_then_faults(
        &self,
        client: &mut Client<'_>,
        claims: Value,
        body: Value,
    ) -> String {
        let created = client
            .act(
                "company",
                routes::ADMIN_API,
                "POST",
                "/v1/companies",
                claims,
                body,
            )
            .await;
        self.arm();
        created.body["id"]
            .as_str()
            .expect("made before the faults")
            .to_string()
    }

    fn arm(&self) {
        let faults = self.chaos.faults_per_mille;
        self.store.arm(faults);
        self.mailer.arm(faults);
        self.objects.arm(faults);
        self.kills.arm(self.chaos.kills_per_mille);
    }

    fn heal(&self) {
        self.store.heal();
        self.mailer.arm(0);
        self.objects.arm(0);
        self.kills.arm(0);
    }

    /// The daily check as EventBridge starts it at `when` (or later, if
    /// restarts after kills moved the clock past it); a killed run is
    /// started again on a fresh process, as the Scheduler's retry policy
    /// would. Whether it reached every company due (a failed run, or
    /// company, is covered by the next run).
    async fn daily_run(&self, when: &str) -> bool {
        let clock = &self.lambda.clock;
        clock.set_now(at(when).max(clock.now()));
        for _ in 0..TRIES {
            let app = self.lambda.app();
            let run = app.service.run_expiry_check(clock.now(), None);
            if let Some(finished) = self.survive("daily run", run).await {
                return finished.is_ok_and(|report| report.companies_failed.is_empty());
            }
        }
        false
    }

    /// No key `client` used is stuck: each is answered, marked applied,
    /// released, or held by a request that died (or whose answer could
    /// not be recorded), and then sent again it is taken over and gets a
    /// final answer. Last, as the retry may change what it did not do.
    async fn check_claims(&self, outcome: &mut Outcome, client: &Client<'_>) {
        for sent in &client.sent {
            let item = self
                .store
                .get(&repo::idempotency_key(&sent.sub, &sent.key))
                .await
                .expect("a read");
            let record = item.map(|i| serde_json::from_str::<Value>(&i.body).expect("JSON"));
            let held = record
                .as_ref()
                .is_some_and(|r| r["response"].is_null() && r["effect_committed"] != json!(true));
            let mut detail = format!("{}: {record:?}", sent.key);
            let mut stuck = false;
            if held {
                outcome.claims_held += 1;
                let again = self.lambda.invoke(sent.function, &sent.request).await;
                stuck = again.status >= 500 || again.code() == "idempotency_in_progress";
                detail.push_str(&format!(", sent again: {} {}", again.status, again.body));
            }
            outcome.check(self.seed, "no idempotency claim stuck", !stuck, detail);
        }
    }

    /// The outcome so far: what was injected.
    fn outcome(&self) -> Outcome {
        Outcome {
            counts: self.store.counts(),
            mail_refused: self.mailer.refused(),
            reads_failed: self.objects.failed(),
            kills: self.kills.counts(),
            killed_in: self
                .killed_in
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            ..Outcome::default()
        }
    }

    /// The e-mails of `kind` went out between `least` and `most` times;
    /// more only by as many as went out with their process killed before
    /// the send was recorded (docs/EXPIRY.md's one "at least once").
    fn check_sent(&self, outcome: &mut Outcome, what: &str, kind: &str, least: usize, most: usize) {
        let sent = self
            .lambda
            .outbox_kinds()
            .iter()
            .filter(|k| *k == kind)
            .count();
        let unrecorded = outcome
            .kills
            .unrecorded_sends
            .iter()
            .filter(|k| *k == kind)
            .count();
        outcome.check(
            self.seed,
            what,
            (least..=most + unrecorded).contains(&sent),
            format!("{kind}: {sent} sent, {least} to {most} owed, {unrecorded} sends unrecorded at a kill"),
        );
    }

    /// Every order's e-mails sent once: requested for each, assigned for
    /// each assigned.
    fn check_order_mail(&self, outcome: &mut Outcome, orders: &[Order]) {
        let assigned = orders.iter().filter(|o| o.invoice.is_some()).count();
        for (kind, owed) in [
            ("order_requested", orders.len()),
            ("order_assigned", assigned),
        ] {
            self.check_sent(outcome, "every e-mail sent once", kind, owed, owed);
        }
    }

    /// The company's one pool, members and orders, read as the account
    /// manager; the seats checked against the members who hold them.
    async fn read_back(
        &self,
        outcome: &mut Outcome,
        company: &str,
    ) -> (PoolView, Vec<MemberView>, Vec<Order>) {
        let app = self.lambda.app();
        let svc = &app.service;
        let am = seatkeeper_test_support::fixtures::account_manager();
        let view = svc.get_company(&am, company).await.expect("the company");
        let pool = view.pools[0].clone();
        let members = svc
            .list_members(&am, company, None, None, Some(200))
            .await
            .expect("members")
            .items;
        let orders = svc
            .list_orders(&am, company, None, None, Some(200))
            .await
            .expect("orders")
            .items;
        let holders = members.iter().filter(|m| m.licence_type.is_some()).count() as u32;
        outcome.check(
            self.seed,
            "no seat oversold",
            pool.allocated <= pool.purchased,
            format!("{pool:?}"),
        );
        outcome.check(
            self.seed,
            "seats counted once",
            pool.allocated == holders,
            format!("{} allocated, {holders} holders", pool.allocated),
        );
        self.check_order_mail(outcome, &orders);
        (pool, members, orders)
    }
}

async fn upgrade_and_renewal(seed: u64, store: Arc<dyn ItemStore>, chaos: Chaos) -> Outcome {
    let rig = Rig::new(seed, store, chaos, "2026-11-22", "2026-11-22T06:00:00Z").await;
    let mut client = rig.client();
    let company = rig
        .company_then_faults(&mut client, account_manager(), company_body("Acme Ltd"))
        .await;
    let base = format!("/v1/companies/{company}");
    for i in 0..6 {
        let licence = (i < 3).then_some("standard");
        let body = json!({"email": format!("l{i}@acme.io"), "name": "L", "role": "learner", "licence_type": licence});
        client
            .act(
                "member add",
                routes::ALLOCATE,
                "POST",
                &format!("{base}/members"),
                lead(&company),
                body,
            )
            .await;
    }
    client
        .request_and_assign(&company, order_request("upgrade", 5), account_manager())
        .await;
    let named = json!({"licence_type": "standard", "emails": ["l3@acme.io", "l4@acme.io"]});
    client
        .act(
            "named allocation",
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
    client
        .request_and_assign(&company, renewal, account_manager())
        .await;
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
        let released = rig.lambda.invoke(routes::ALLOCATE, &release);
        let answer = rig.survive("seat release", released).await;
        if answer.is_some_and(|a| a.status < 500 && a.status != 429) {
            break;
        }
    }

    // The faults stop; what was left pending is sent by the daily run.
    rig.heal();
    assert!(rig.daily_run("2026-11-24T06:00:00Z").await, "the daily run");
    let mut outcome = rig.outcome();
    let (pool, members, orders) = rig.read_back(&mut outcome, &company).await;
    outcome.check(
        seed,
        "no member doubled",
        members.len() <= 7,
        format!("{} members", members.len()),
    );
    let of_kind = |kind: OrderKind| orders.iter().filter(move |o| o.kind == kind);
    for kind in [OrderKind::Upgrade, OrderKind::Renewal] {
        outcome.check(
            seed,
            "no order doubled",
            of_kind(kind).count() <= 1,
            format!("{} {kind:?} orders", of_kind(kind).count()),
        );
    }
    let upgrades = of_kind(OrderKind::Upgrade)
        .filter(|o| o.invoice.is_some())
        .count() as u32;
    outcome.check(
        seed,
        "the upgrade bought its seats once",
        pool.purchased == 20 + 5 * upgrades,
        format!("{} purchased, {upgrades} upgrades assigned", pool.purchased),
    );
    let am = seatkeeper_test_support::fixtures::account_manager();
    let view = rig
        .lambda
        .app()
        .service
        .get_company(&am, &company)
        .await
        .expect("the company");
    let renewed = of_kind(OrderKind::Renewal).any(|o| o.invoice.is_some());
    outcome.check(
        seed,
        "a renewal scheduled once, with its seats",
        view.company.next_term.as_ref().map(|t| t.lines[0].seats) == renewed.then_some(20),
        format!("{:?}, renewal assigned: {renewed}", view.company.next_term),
    );
    outcome.renewals = u64::from(renewed);
    rig.check_claims(&mut outcome, &client).await;
    outcome
}

/// Learners in the trial company; the CSV names the first [`IN_CSV`].
const LEARNERS: usize = 10;
const IN_CSV: usize = 6;
/// S3's delivery and Lambda's two retries of one upload event.
const DELIVERIES: usize = 3;

async fn trial_season(seed: u64, store: Arc<dyn ItemStore>, chaos: Chaos) -> Outcome {
    let rig = Rig::new(seed, store, chaos, "2026-11-01", "2026-11-01T06:00:00Z").await;
    let mut client = rig.client();
    let mut trial = company_body("Trial Co");
    // Trial seats for the lead and every learner.
    trial["plan"] = json!({"kind": "trial", "ends_on": "2026-11-15", "seats": LEARNERS + 1});
    trial["licence_types"][0]["seats"] = json!(0);
    let company = rig
        .company_then_faults(&mut client, partner_admin(), trial)
        .await;
    let base = format!("/v1/companies/{company}");
    let learner = |i: usize| format!("learner{i}@trial.io");
    for i in 0..LEARNERS {
        let body = json!({"email": learner(i), "name": "L", "role": "learner"});
        client
            .act(
                "member add",
                routes::ALLOCATE,
                "POST",
                &format!("{base}/members"),
                partner_admin(),
                body,
            )
            .await;
    }
    // The daily runs around the trial's end (the 15th), some of them
    // failing part-way.
    let mut reached_after_the_end = false;
    for day in 10..=16 {
        let reached = rig.daily_run(&format!("2026-11-{day}T06:00:00Z")).await;
        reached_after_the_end |= reached && day >= 15;
    }
    // A seat for each learner and one for the lead.
    let conversion = order_request("trial_conversion", LEARNERS as u32 + 1);
    client
        .request_and_assign(&company, conversion, partner_admin())
        .await;

    // Six learners renewed from a CSV whose e-mail column is the third. An
    // import whose answer was lost is left; the client asks for another.
    let mut import = String::new();
    for _ in 0..TRIES {
        let ticket = client
            .act(
                "import create",
                routes::ALLOCATE,
                "POST",
                &format!("{base}/imports"),
                partner_admin(),
                json!({}),
            )
            .await;
        if let Some(id) = ticket.body["import_id"].as_str() {
            import = id.to_string();
            break;
        }
    }
    let mut csv = String::from("Name,Team,Email\n");
    for i in 0..IN_CSV {
        csv.push_str(&format!("L{i},Blue,{}\n", learner(i)));
    }
    csv.push_str("Ghost,Red,ghost@trial.io\n");
    let key = object_key(
        &CompanyId::parse(&company).expect("an id"),
        &ImportId::parse(&import).expect("an import id"),
    );
    // Each upload is delivered until it is handled; a client whose upload
    // was never previewed uploads again.
    'uploads: for _ in 0..TRIES {
        let uploaded = rig.lambda.upload(&key, &csv);
        let mut delivered = rig.survive("import preview", uploaded).await;
        for _ in 1..DELIVERIES {
            if delivered.as_ref().is_some_and(Result::is_ok) {
                break;
            }
            let redelivered = rig.lambda.deliver_upload(&key, &csv);
            delivered = rig.survive("import preview", redelivered).await;
        }
        if let Some(Ok(outcomes)) = delivered {
            if outcomes
                .iter()
                .all(|o| matches!(o, PreviewOutcome::Previewed | PreviewOutcome::AlreadyDone))
            {
                break 'uploads;
            }
        }
    }
    let confirm = format!("{base}/imports/{import}/confirm");
    for _ in 0..TRIES {
        let body = json!({"licence_type": "standard"});
        let answer = client
            .act(
                "import confirm",
                routes::ALLOCATE,
                "POST",
                &confirm,
                partner_admin(),
                body,
            )
            .await;
        if !answer.unfinished() {
            break;
        }
    }
    // The rest with "Select All": asked again when its answer was lost (it
    // finds its job), resumed while it answers 202.
    let all = json!({"licence_type": "standard", "all_expired": true});
    let mut next = ("select all", format!("{base}/allocations"), all);
    for _ in 0..TRIES {
        let (what, path, body) = &next;
        let answer = client
            .act(
                what,
                routes::ALLOCATE,
                "POST",
                path,
                partner_admin(),
                body.clone(),
            )
            .await;
        if answer.code() == "idempotency_effect_committed" {
            continue;
        }
        let Some(job) = answer.body["allocation_id"]
            .as_str()
            .filter(|_| answer.status == 202)
        else {
            break;
        };
        next = (
            "select all resume",
            format!("{base}/allocations/{job}/resume"),
            json!({}),
        );
    }

    rig.heal();
    assert!(rig.daily_run("2026-11-17T06:00:00Z").await, "the daily run");
    let mut outcome = rig.outcome();
    let (pool, members, orders) = rig.read_back(&mut outcome, &company).await;
    let conversions = orders
        .iter()
        .filter(|o| o.kind == OrderKind::TrialConversion)
        .collect::<Vec<_>>();
    outcome.check(
        seed,
        "the conversion ordered and assigned once",
        conversions.len() == 1 && conversions[0].invoice.is_some(),
        format!("{conversions:?}"),
    );
    outcome.check(
        seed,
        "the conversion bought its seats once",
        pool.purchased == LEARNERS as u32 + 1,
        format!("{pool:?}"),
    );
    outcome.check(
        seed,
        "no member doubled",
        members.len() == LEARNERS + 1,
        format!("{} members", members.len()),
    );
    let am = seatkeeper_test_support::fixtures::account_manager();
    let app = rig.lambda.app();
    let svc = &app.service;
    let committed = svc.get_import(&am, &company, &import).await;
    let committed = committed.as_ref().ok();
    outcome.check(
        seed,
        "the import committed whole",
        committed.map(|i| (i.status, i.renewed))
            == Some((ImportStatus::Committed, Some(IN_CSV as u32))),
        format!("{:?}", committed.map(|i| (i.status, i.renewed, &i.failure))),
    );
    let active = members
        .iter()
        .filter(|m| m.status == LicenceStatus::Active && m.email.as_str().starts_with("learner"))
        .count();
    outcome.check(
        seed,
        "every learner renewed, by the CSV or Select All",
        active == LEARNERS,
        format!(
            "{active} of {LEARNERS} learners active: {:?}",
            members
                .iter()
                .map(|m| (m.email.as_str(), m.status))
                .collect::<Vec<_>>()
        ),
    );
    // Owed once a run reached the company after the trial's end; a
    // conversion before any did leaves nothing ended to announce.
    let owed = usize::from(reached_after_the_end);
    rig.check_sent(
        &mut outcome,
        "the trial's end announced once",
        "expiry_expiry",
        owed,
        1,
    );
    rig.check_sent(
        &mut outcome,
        "its reminder at most once",
        "expiry_reminder",
        0,
        1,
    );
    for resumable in ["import confirm", "select all resume"] {
        let told = client
            .told_applied
            .iter()
            .filter(|w| **w == resumable)
            .count();
        outcome.check(
            seed,
            "a confirm or resume sent again with its key resumes",
            told == 0,
            format!("{resumable} answered idempotency_effect_committed {told} times"),
        );
    }
    rig.check_claims(&mut outcome, &client).await;
    outcome.imports = u64::from(committed.is_some_and(|i| i.status == ImportStatus::Committed));
    outcome
}

/// Where a journey's store comes from.
#[derive(Clone, Copy)]
enum Adapter {
    Sqlite,
    DynamoDb,
}

async fn suite(adapter: Adapter) {
    let mut total = Outcome::default();
    let mut journeys = 0;
    for seed in 0..SEEDS {
        for trial in [false, true] {
            let fixture = match adapter {
                Adapter::Sqlite => stores::sqlite().await,
                Adapter::DynamoDb => stores::dynamodb().await,
            };
            let store = fixture.store.clone();
            total.add(match trial {
                false => upgrade_and_renewal(seed, store, SUITE).await,
                true => trial_season(seed, store, SUITE).await,
            });
            journeys += 1;
        }
    }
    let name = match adapter {
        Adapter::Sqlite => "SQLite",
        Adapter::DynamoDb => "DynamoDB Local",
    };
    let Outcome {
        counts,
        mail_refused,
        reads_failed,
        kills,
        killed_in,
        renewals,
        imports,
        claims_held,
        violations,
        checks,
    } = total;
    println!(
        "fault suite on {name}: {journeys} journeys ({renewals} renewals scheduled, {imports} imports committed), {} transactions, {} store faults ({} races, {} throttled, {} outages, {} lost replies), {mail_refused} refused sends and {reads_failed} failed object reads injected, {} processes killed ({} before a write, {} after a write, {} after a send; {} sends unrecorded at a kill) in {killed_in:?}, {claims_held} idempotency claims found held at the end and sent again, {checks} invariants checked, {} violations",
        counts.transactions,
        counts.faults(),
        counts.conflicts,
        counts.throttled,
        counts.unavailable,
        counts.lost_replies,
        kills.total(),
        kills.before_write,
        kills.after_write,
        kills.after_send,
        kills.unrecorded_sends.len(),
        violations.len()
    );
    assert!(counts.faults() > 0, "the suite injected no store fault");
    assert!(reads_failed > 0, "the suite failed no object read");
    // Kills inside each multi-step operation the issue names.
    for operation in [
        "import confirm",
        "select all",
        "daily run",
        "renewal request",
        "renewal assign",
        "order request",
    ] {
        assert!(
            killed_in.contains_key(operation),
            "no process killed in {operation}: {killed_in:?}"
        );
    }
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

/// A confirm whose process dies right after its first change (the seats
/// reserved, the key marked applied) is resumed by the same request sent
/// again with its key, as a 202 would be, not refused as applied.
async fn a_confirm_killed_after_its_first_change_resumes_with_its_key(store: Arc<dyn ItemStore>) {
    // The confirm's first transaction claims its key; the second is its
    // first change.
    let chaos = Chaos {
        faults_per_mille: 0,
        kills_per_mille: 0,
        planned_kill: Some(("import confirm", 2, Kill::AfterWrite)),
    };
    let outcome = trial_season(0, store, chaos).await;
    assert_eq!(outcome.killed_in.get("import confirm"), Some(&1));
    assert!(
        outcome.violations.is_empty(),
        "{}",
        outcome.violations.join("\n")
    );
}

#[tokio::test]
async fn a_confirm_killed_after_its_first_change_resumes_with_its_key_on_sqlite() {
    let fixture = stores::sqlite().await;
    a_confirm_killed_after_its_first_change_resumes_with_its_key(fixture.store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_confirm_killed_after_its_first_change_resumes_with_its_key_on_dynamodb() {
    let fixture = stores::dynamodb().await;
    a_confirm_killed_after_its_first_change_resumes_with_its_key(fixture.store.clone()).await;
}
