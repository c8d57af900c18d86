//! CSV renewals through the services on each store: the preview's column
//! samples, `stay_expired` and `seats`, a re-preview with another column,
//! and a confirm of a preview past its TTL.

use std::sync::Arc;

use seatkeeper_adapters::local_files::LocalObjects;
use seatkeeper_core::csv_import::Limits;
use seatkeeper_core::imports::{object_key, PreviewOutcome, SeatsView};
use seatkeeper_core::model::{Company, ImportStatus, Licence, LicenceTerm, Member, Policy};
use seatkeeper_core::ports::{Condition, ItemStore, Query, StoreError, Write};
use seatkeeper_core::service::{NewPool, Settings};
use seatkeeper_core::types::{ImportId, LicenceType};
use seatkeeper_core::{repo, Caller, Role, Seatkeeper, ServiceError};
use seatkeeper_test_support::faults::{Fault, FaultyStore};
use seatkeeper_test_support::fixtures::{
    account_manager, caller, date, load_company, new_company, premium, rolling_learner,
    seed_members, seed_rolling_learners, standard_pool,
};
use seatkeeper_test_support::mail::RecordingMailer;
use seatkeeper_test_support::stores::Fixture;

use crate::services::{service, Service};

const BUCKET: &str = "imports";

struct World {
    svc: Service,
    clock: Arc<seatkeeper_core::ports::ManualClock>,
    store: Arc<dyn ItemStore>,
    objects: LocalObjects,
    _dir: tempfile::TempDir,
    company: Company,
    lead: Caller,
}

impl World {
    fn id(&self) -> &str {
        self.company.id.as_str()
    }

    /// Creates an import, "uploads" `csv` and delivers the S3 event.
    async fn upload(&self, csv: &str, licence_type: Option<&str>) -> (String, PreviewOutcome) {
        let ticket = self
            .svc
            .create_import(
                &self.lead,
                self.id(),
                None,
                licence_type.map(str::to_string),
                &self.objects,
            )
            .await
            .expect("create the import");
        let key = object_key(&self.company.id, &ticket.import_id);
        self.objects
            .put(BUCKET, &key, csv.as_bytes())
            .await
            .expect("the upload");
        let outcome = self
            .svc
            .preview_upload(
                &key,
                Some("etag-1"),
                &self.objects,
                BUCKET,
                Limits::default(),
            )
            .await
            .expect("the preview");
        (ticket.import_id.to_string(), outcome)
    }

    async fn partition(&self) -> Vec<seatkeeper_core::ports::Item> {
        let mut query = Query::table(repo::company_pk(&self.company.id), "");
        let mut items = Vec::new();
        loop {
            let page = self.store.query(&query).await.expect("a query");
            items.extend(page.items);
            match page.next {
                Some(next) => query.cursor = Some(next),
                None => return items,
            }
        }
    }

    async fn audit_actions(&self) -> Vec<serde_json::Value> {
        let events: Vec<repo::Stored<serde_json::Value>> = repo::load_all(
            self.store.as_ref(),
            Query::table(repo::company_pk(&self.company.id), repo::AUDIT_PREFIX),
        )
        .await
        .expect("audit");
        events.into_iter().map(|e| e.value).collect()
    }
}

/// A premium company on rolling licences with `seats` standard seats (the
/// lead holds one); ann, bob, cy and eve expired, dee active.
async fn world(f: &Fixture, pools: Vec<NewPool>) -> World {
    let (svc, clock) = service(f, "2026-06-15");
    let created = svc
        .create_company(
            &account_manager(),
            new_company("Acme")
                .plan(premium("2026-01-01"))
                .pools(pools)
                .manager("lead@acme.test", "Lead")
                .build(),
        )
        .await
        .expect("create the company");
    let company = load_company(f.store.as_ref(), &created.company.id).await;
    let learners = [
        ("ann@acme.test", "2026-05-01"),
        ("bob@acme.test", "2026-05-01"),
        ("cy@acme.test", "2026-06-15"),
        ("eve@acme.test", "2026-05-01"),
        ("dee@acme.test", "2026-12-01"),
    ]
    .map(|(address, ends_on)| (address, date(ends_on)));
    seed_rolling_learners(f.store.as_ref(), &company, date("2025-05-01"), learners).await;
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let objects = LocalObjects::new(dir.path().join("s3"), BUCKET, "http://127.0.0.1:3000");
    let lead = caller(Role::Manager, "lead@acme.test", Some(&company.id), None);
    World {
        svc,
        clock,
        store: f.store.clone(),
        objects,
        _dir: dir,
        company,
        lead,
    }
}

const CSV: &str = "Name,Email Address,Team\r\n\
    Ann,  ANN@Acme.test ,Sales\r\n\
    \"Bob, Jr.\",bob@acme.test,\r\n\
    Cy,cy@acme.test,Ops\r\n\
    Dee,dee@acme.test,Ops\r\n\
    Stranger,nobody@elsewhere.test,IT\r\n";

async fn preview_shows_samples_stay_expired_and_seats(f: Fixture) {
    let w = world(&f, vec![standard_pool(Policy::Rolling12Months, 3)]).await;
    let (import_id, outcome) = w.upload(CSV, None).await;
    assert_eq!(outcome, PreviewOutcome::Previewed);
    let view = w
        .svc
        .get_import(&w.lead, w.id(), &import_id)
        .await
        .expect("the import");
    assert_eq!(view.status, ImportStatus::Previewed);
    let columns: Vec<(&str, Vec<&str>)> = view
        .columns
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.samples.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        vec![
            ("Name", vec!["Ann", "Bob, Jr.", "Cy"]),
            (
                "Email Address",
                vec!["ANN@Acme.test", "bob@acme.test", "cy@acme.test"]
            ),
            ("Team", vec!["Sales", "Ops", "Ops"]),
        ]
    );
    // ann, bob, cy renewed; eve is expired and not in the file.
    assert_eq!((view.counts.to_renew, view.counts.stay_expired), (3, 1));
    // The only pool; 3 seats, the lead holds one.
    let seats = SeatsView {
        licence_type: LicenceType::parse("standard").unwrap(),
        needed: 3,
        available: 2,
    };
    assert_eq!(view.seats, Some(seats.clone()));

    // The confirm's refusal gives the same two figures, and changes nothing.
    let before = w.partition().await;
    let short = w
        .svc
        .confirm_import(&w.lead, w.id(), &import_id, "standard", None)
        .await
        .unwrap_err();
    assert_eq!(
        short,
        ServiceError::NoSeatsAvailable {
            needed: seats.needed,
            available: seats.available
        }
    );
    assert_eq!(w.partition().await, before);

    let events = w.audit_actions().await;
    let preview = events
        .iter()
        .find(|e| e["action"] == "import.preview")
        .expect("the preview is audited");
    assert_eq!(preview["after"]["email_column"], "Email Address");
    assert_eq!(preview["after"]["counts"]["to_renew"], 3);
    assert_eq!(preview["actor"]["email"], "lead@acme.test");
}

/// With several pools: the type named at creation, else the one most of
/// the members to renew held.
async fn seats_are_counted_in_the_chosen_pool(f: Fixture) {
    let premium_pool = NewPool {
        licence_type: "premium".into(),
        ..standard_pool(Policy::Rolling12Months, 10)
    };
    let w = world(
        &f,
        vec![standard_pool(Policy::Rolling12Months, 3), premium_pool],
    )
    .await;
    // Two of the three to renew held "premium".
    for address in ["ann@acme.test", "bob@acme.test"] {
        let key = repo::member_key(
            &w.company.id,
            &seatkeeper_test_support::fixtures::email(address),
        );
        let stored: repo::Stored<seatkeeper_core::model::Member> =
            repo::load(w.store.as_ref(), &key).await.unwrap().unwrap();
        let mut member = rolling_learner(address, date("2026-05-01"), date("2025-05-01"));
        if let Some(licence) = member.licence.as_mut() {
            licence.licence_type = LicenceType::parse("premium").unwrap();
        }
        w.store
            .transact(vec![
                repo::update(&w.company, &member, stored.version).unwrap()
            ])
            .await
            .unwrap();
    }
    let (most, _) = w.upload(CSV, None).await;
    let view = w.svc.get_import(&w.lead, w.id(), &most).await.unwrap();
    let seats = view.seats.expect("seats");
    assert_eq!(
        (seats.licence_type.as_str(), seats.needed, seats.available),
        ("premium", 3, 10)
    );
    let (named, _) = w.upload(CSV, Some("standard")).await;
    let view = w.svc.get_import(&w.lead, w.id(), &named).await.unwrap();
    let seats = view.seats.expect("seats");
    assert_eq!(
        (seats.licence_type.as_str(), seats.needed, seats.available),
        ("standard", 3, 2)
    );
    let unknown = w
        .svc
        .create_import(&w.lead, w.id(), None, Some("gold".into()), &w.objects)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "not_found");
}

/// The seed's "select the column from the dropdown" after the file is in.
async fn a_column_chosen_after_the_upload_previews_again(f: Fixture) {
    let w = world(&f, vec![standard_pool(Policy::Rolling12Months, 10)]).await;
    let csv =
        "Name,Login,Team\nAnn,ann@acme.test,Sales\nEve,EVE@acme.test,IT\nDee,dee@acme.test,\n";
    let (import_id, outcome) = w.upload(csv, None).await;
    assert_eq!(outcome, PreviewOutcome::Failed("no_email_column".into()));
    let failed = w.svc.get_import(&w.lead, w.id(), &import_id).await.unwrap();
    assert_eq!(failed.status, ImportStatus::Failed);
    assert_eq!(
        failed.columns[1].samples,
        vec!["ann@acme.test", "EVE@acme.test", "dee@acme.test"],
        "samples to choose the column by"
    );

    let wrong = w
        .svc
        .repreview_import(
            &w.lead,
            w.id(),
            &import_id,
            "Mail",
            &w.objects,
            BUCKET,
            Limits::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, ServiceError::Invalid(e) if e.field == "email_column"),
        "{wrong:?}"
    );
    let view = w
        .svc
        .repreview_import(
            &w.lead,
            w.id(),
            &import_id,
            " login ",
            &w.objects,
            BUCKET,
            Limits::default(),
        )
        .await
        .expect("preview again");
    assert_eq!(view.status, ImportStatus::Previewed);
    assert_eq!(view.email_column.as_deref(), Some("Login"));
    assert_eq!(
        (
            view.counts.rows,
            view.counts.to_renew,
            view.counts.already_active,
            view.counts.stay_expired
        ),
        (3, 2, 1, 2),
        "ann and eve renewed; bob and cy stay expired"
    );
    assert_eq!(view.seats.as_ref().map(|s| s.needed), Some(2));
    assert_eq!(
        w.svc.get_import(&w.lead, w.id(), &import_id).await.unwrap(),
        view
    );
    let previews: Vec<serde_json::Value> = w
        .audit_actions()
        .await
        .into_iter()
        .filter(|e| e["action"] == "import.preview")
        .collect();
    assert_eq!(previews.len(), 2, "the S3 preview and the re-preview");
    assert_eq!(previews[1]["after"]["email_column"], "Login");
    assert_eq!(previews[1]["before"]["status"], "failed");

    let confirmed = w
        .svc
        .confirm_import(&w.lead, w.id(), &import_id, "standard", None)
        .await
        .expect("confirm");
    assert_eq!(
        (confirmed.status, confirmed.renewed),
        (ImportStatus::Committed, 2)
    );
    let batches = w
        .audit_actions()
        .await
        .into_iter()
        .filter(|e| e["action"] == "import.confirm_batch")
        .count();
    assert_eq!(batches, 1);
    let late = w
        .svc
        .repreview_import(
            &w.lead,
            w.id(),
            &import_id,
            "Login",
            &w.objects,
            BUCKET,
            Limits::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(late.code(), "import_not_previewable");

    let waiting = w
        .svc
        .create_import(&w.lead, w.id(), None, None, &w.objects)
        .await
        .unwrap();
    let early = w
        .svc
        .repreview_import(
            &w.lead,
            w.id(),
            waiting.import_id.as_str(),
            "Login",
            &w.objects,
            BUCKET,
            Limits::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(early.code(), "import_not_previewable");
}

/// Past the chunks' TTL, or with them gone, a confirm is `import_expired`
/// and renews nobody; a fresh preview makes the import current again.
async fn a_confirm_after_the_ttl_is_import_expired(f: Fixture) {
    let w = world(&f, vec![standard_pool(Policy::Rolling12Months, 10)]).await;
    let (import_id, _) = w.upload(CSV, None).await;
    w.clock.set_today(date("2026-06-29"));
    let view = w.svc.get_import(&w.lead, w.id(), &import_id).await.unwrap();
    assert_eq!(view.status, ImportStatus::Expired);
    let before = w.partition().await;
    let expired = w
        .svc
        .confirm_import(&w.lead, w.id(), &import_id, "standard", None)
        .await
        .unwrap_err();
    assert_eq!(expired.code(), "import_expired");
    assert_eq!(w.partition().await, before, "nothing reserved or renewed");

    // Previewed again today: current, and its list can then vanish (as a
    // TTL would take it) before the confirm.
    let view = w
        .svc
        .repreview_import(
            &w.lead,
            w.id(),
            &import_id,
            "Email Address",
            &w.objects,
            BUCKET,
            Limits::default(),
        )
        .await
        .unwrap();
    assert_eq!(view.status, ImportStatus::Previewed);
    let id = ImportId::parse(&import_id).unwrap();
    let chunks: Vec<_> = w
        .partition()
        .await
        .into_iter()
        .filter(|i| i.key.sk.starts_with(&format!("I#{id}#R#")))
        .map(|i| Write::Delete {
            key: i.key,
            condition: Condition::None,
        })
        .collect();
    assert!(!chunks.is_empty());
    w.store.transact(chunks).await.unwrap();
    let before = w.partition().await;
    let gone = w
        .svc
        .confirm_import(&w.lead, w.id(), &import_id, "standard", None)
        .await
        .unwrap_err();
    assert_eq!(gone, ServiceError::ImportExpired { days: 14 });
    assert_eq!(w.partition().await, before);
}

/// 1 000 bad rows of long non-ASCII cells would make the import item pass
/// DynamoDB's 400 KB: the preview is still recorded, its listed problems
/// cut to fit and `problems_total` counting them all.
async fn a_preview_of_long_bad_rows_fits_its_item(f: Fixture) {
    let w = world(&f, vec![standard_pool(Policy::Rolling12Months, 10)]).await;
    let long = "ü".repeat(250);
    let csv: String = std::iter::once("Email\r\n".to_string())
        .chain((0..1000).map(|i| format!("{long}{i}\r\n")))
        .collect();
    let (import, outcome) = w.upload(&csv, None).await;
    assert_eq!(outcome, PreviewOutcome::Previewed);
    let view = w
        .svc
        .get_import(&w.lead, w.id(), &import)
        .await
        .expect("the import");
    assert_eq!(view.status, ImportStatus::Previewed);
    assert_eq!((view.counts.invalid, view.problems_total), (1000, 1000));
    assert!(!view.problems.is_empty() && view.problems.len() < 1000);
}

/// DynamoDB cancels a transaction that overlapped another with the same
/// `Conflict` a lost race gives. A delivery whose preview write is so
/// refused must fail (S3 and Lambda retry it), not report the upload
/// handled by another delivery while nothing was previewed.
async fn a_conflict_on_the_preview_write_is_retried_not_taken_as_done(f: Fixture) {
    let w = world(&f, vec![standard_pool(Policy::Rolling12Months, 10)]).await;
    let ticket = w
        .svc
        .create_import(&w.lead, w.id(), None, None, &w.objects)
        .await
        .expect("create the import");
    let key = object_key(&w.company.id, &ticket.import_id);
    w.objects
        .put(BUCKET, &key, CSV.as_bytes())
        .await
        .expect("the upload");
    let faults = Arc::new(FaultyStore::new(w.store.clone()));
    let store: Arc<dyn ItemStore> = faults.clone();
    let overlapped = Seatkeeper::new(
        store,
        w.clock.clone(),
        Arc::new(RecordingMailer::default()),
        Settings::default(),
    );
    let deliver =
        || overlapped.preview_upload(&key, Some("etag-1"), &w.objects, BUCKET, Limits::default());
    faults.fail_from(1, Fault::Conflict);
    let refused = deliver().await;
    assert!(
        matches!(refused, Err(ServiceError::Store(StoreError::Conflict))),
        "{refused:?}"
    );
    let view = w
        .svc
        .get_import(&w.lead, w.id(), ticket.import_id.as_str())
        .await
        .expect("the import");
    assert_eq!(view.status, ImportStatus::AwaitingUpload);
    faults.heal();
    let retried = deliver().await.expect("the retry");
    assert_eq!(retried, PreviewOutcome::Previewed);
    // A repeat of the delivery now finds it done.
    let again = deliver().await.expect("a repeat");
    assert_eq!(again, PreviewOutcome::AlreadyDone);
}

/// The member index reads only a member item's e-mail and licence: each
/// kind of licence gets its status, a member with none is not renewed, and
/// a stored non-ASCII address matches the file's other spellings of it.
async fn every_licence_kind_and_spelling_matches_its_member(f: Fixture) {
    // A co-term pool, so that the company has a term for co-term licences.
    let w = world(&f, vec![standard_pool(Policy::CoTerm, 20)]).await;
    let held = |term| {
        Some(Licence {
            licence_type: LicenceType::parse("standard").unwrap(),
            term,
            allocated_on: date("2025-05-01"),
        })
    };
    let member = |address: &str, licence| Member {
        licence,
        ..rolling_learner(address, date("2026-05-01"), date("2025-05-01"))
    };
    // Today is 2026-06-15; the premium term runs to 2027-01-01.
    let members = [
        member(
            "ren\u{e9}@acme.test",
            held(LicenceTerm::Rolling {
                ends_on: date("2026-05-01"),
            }),
        ),
        member("una@acme.test", None),
        member(
            "tia@acme.test",
            held(LicenceTerm::Trial {
                ends_on: date("2026-06-01"),
            }),
        ),
        member("col@acme.test", held(LicenceTerm::CoTerm { ends_on: None })),
        member(
            "rel@acme.test",
            held(LicenceTerm::CoTerm {
                ends_on: Some(date("2026-03-01")),
            }),
        ),
    ];
    seed_members(f.store.as_ref(), &w.company.id, members).await;
    let csv = "Email\n\
        RENE\u{301}@ACME.TEST\n\
        Ren\u{e9}@acme.test\n\
        una@acme.test\n\
        tia@acme.test\n\
        col@acme.test\n\
        rel@acme.test\n\
        UNA@acme.test\n";
    let (import_id, outcome) = w.upload(csv, None).await;
    assert_eq!(outcome, PreviewOutcome::Previewed);
    let view = w.svc.get_import(&w.lead, w.id(), &import_id).await.unwrap();
    let counts = &view.counts;
    assert_eq!(
        (
            counts.rows,
            counts.to_renew,
            counts.already_active,
            counts.duplicate
        ),
        (7, 3, 1, 2)
    );
    assert_eq!(
        (counts.unlicensed, counts.unknown, counts.invalid),
        (1, 0, 0)
    );
    // ann, bob, cy and eve of the world are expired and not in the file.
    assert_eq!(counts.stay_expired, 4);
    let problems: Vec<(u64, &str)> = view
        .problems
        .iter()
        .map(|p| (p.row, p.reason.as_str()))
        .collect();
    assert_eq!(
        problems,
        vec![
            (3, "duplicate: the same e-mail address is in row 2"),
            (
                4,
                "has no licence to renew: allocate them a seat from the members page"
            ),
            (6, "licence is still active: nothing to renew"),
            (8, "duplicate: the same e-mail address is in row 4"),
        ]
    );
}

on_both_stores!(
    every_licence_kind_and_spelling_matches_its_member,
    a_conflict_on_the_preview_write_is_retried_not_taken_as_done,
    a_preview_of_long_bad_rows_fits_its_item,
    preview_shows_samples_stay_expired_and_seats,
    seats_are_counted_in_the_chosen_pool,
    a_column_chosen_after_the_upload_previews_again,
    a_confirm_after_the_ttl_is_import_expired,
);

/// `make test-large`: a 100 000-row renewal on DynamoDB Local confirms
/// through repeated 202 answers, each call stopping at the work budget
/// the HTTP functions give it, and ends exact. Ignored in `make test` (it
/// takes minutes); it prints each call's time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "minutes on DynamoDB Local: make test-large"]
async fn a_hundred_thousand_row_confirm_resumes_through_202s() {
    const ROWS: usize = 100_000;
    let f = seatkeeper_test_support::stores::dynamodb().await;
    let w = world(&f, vec![standard_pool(Policy::Rolling12Months, 110_000)]).await;
    let seeded = std::time::Instant::now();
    let learners = (0..ROWS).map(|i| (format!("r{i:06}@acme.test"), date("2026-05-01")));
    seed_rolling_learners(w.store.as_ref(), &w.company, date("2025-05-01"), learners).await;
    let csv: String = std::iter::once("Email\r\n".to_string())
        .chain((0..ROWS).map(|i| format!("r{i:06}@acme.test\r\n")))
        .collect();
    println!("seeded {ROWS} expired members in {:.1?}", seeded.elapsed());
    let previewed = std::time::Instant::now();
    let (import_id, outcome) = w.upload(&csv, None).await;
    assert_eq!(outcome, PreviewOutcome::Previewed);
    println!(
        "previewed {} bytes in {:.1?}",
        csv.len(),
        previewed.elapsed()
    );
    let mut calls = Vec::new();
    let renewed = loop {
        let started = std::time::Instant::now();
        let confirmed = w
            .svc
            .confirm_import(
                &w.lead,
                w.id(),
                &import_id,
                "standard",
                Some(started + seatkeeper_edge::WORK_BUDGET),
            )
            .await
            .expect("a confirm call");
        calls.push(started.elapsed());
        if confirmed.status == ImportStatus::Committed {
            break confirmed.renewed;
        }
        assert!(calls.len() < 200, "the confirm makes no progress");
    };
    println!(
        "confirmed in {} calls (202 until the last); each call: {:.1?}",
        calls.len(),
        calls
    );
    assert_eq!(renewed as usize, ROWS);
    assert!(
        calls.len() > 1,
        "a 100 000-row confirm needs more than one call"
    );
}
