//! Renewals from a CSV end to end on the AWS adapters: moto's S3 for the
//! upload (a presigned PUT sent by a plain HTTP client, then the object read
//! back by the `import-renewals` handler from an S3 event), DynamoDB Local
//! for the store.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{Context, LambdaEvent};
use seatkeeper_adapters::s3::{S3Objects, S3Uploads};
use seatkeeper_core::dates::rolling_licence_end;
use seatkeeper_core::imports::PreviewOutcome;
use seatkeeper_core::model::{
    ImportCounts, ImportStatus, LicenceStatus, LicenceTerm, Member, OrderKind, Policy, SeatPool,
};
use seatkeeper_core::ports::{Clock, Item, ItemStore, Mailer, ManualClock, Query};
use seatkeeper_core::service::Settings;
use seatkeeper_core::types::{CompanyId, LicenceType};
use seatkeeper_core::{repo, Role, Seatkeeper, ServiceError};
use seatkeeper_edge::App;
use seatkeeper_test_support::aws::emulator_config;
use seatkeeper_test_support::fixtures::{
    account_manager, caller, date, email, new_company, order_request, premium,
    seed_rolling_learners, standard_pool,
};
use seatkeeper_test_support::mail::NoMail;
use seatkeeper_test_support::stores;

use crate::moto;

/// An S3 client on moto, addressing buckets by path (`/bucket/key`): moto
/// on a loopback port has no virtual-host names.
async fn s3() -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&emulator_config(moto::endpoint().await))
            .force_path_style(true)
            .build(),
    )
}

/// Encodes a key as S3 does in event notifications: `/` kept, spaces as
/// `+`, everything else outside the unreserved set as `%XX`.
fn s3_event_key(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `sam local generate-event s3 put` sample, naming this object.
fn s3_put_event(bucket: &str, key: &str, etag: &str, size: usize) -> S3Event {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/events/s3-put.json")).expect("the sample");
    let s3 = &mut event["Records"][0]["s3"];
    s3["bucket"]["name"] = bucket.into();
    s3["bucket"]["arn"] = format!("arn:aws:s3:::{bucket}").into();
    s3["object"]["key"] = s3_event_key(key).into();
    s3["object"]["eTag"] = etag.into();
    s3["object"]["size"] = size.into();
    serde_json::from_value(event).expect("an S3Event")
}

async fn deliver(app: &App, event: &S3Event) -> Vec<PreviewOutcome> {
    import_renewals::handle(app, LambdaEvent::new(event.clone(), Context::default()))
        .await
        .expect("the handler")
}

/// Every item of the company's partition: a confirm that "changes nothing"
/// leaves this identical, versions included.
async fn partition(store: &dyn ItemStore, company: &CompanyId) -> Vec<Item> {
    let mut query = Query::table(repo::company_pk(company), "");
    let mut items = Vec::new();
    loop {
        let page = store.query(&query).await.expect("a query");
        items.extend(page.items);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return items,
        }
    }
}

async fn pool(store: &dyn ItemStore, company: &CompanyId) -> SeatPool {
    let standard = LicenceType::parse("standard").expect("a type");
    repo::load::<SeatPool, _>(store, &repo::pool_key(company, &standard))
        .await
        .expect("read the pool")
        .expect("the pool")
        .value
}

async fn member(store: &dyn ItemStore, company: &CompanyId, address: &str) -> Member {
    repo::load::<Member, _>(store, &repo::member_key(company, &email(address)))
        .await
        .expect("read a member")
        .unwrap_or_else(|| panic!("member {address}"))
        .value
}

/// What a spreadsheet export looks like: CRLF, a quoted field with a comma,
/// capitals and spaces around an address, and one row of each problem.
const CSV: &str = "Name,Email Address,Team\r\n\
    Ann,  ANN@Acme.test ,Sales\r\n\
    \"Bob, Jr.\",bob@acme.test,Ops\r\n\
    Cy,cy@acme.test,\r\n\
    Dee,dee@acme.test,Ops\r\n\
    Ann again,ann@acme.test,Sales\r\n\
    Stranger,nobody@elsewhere.test,\r\n\
    Typo,not-an-email,\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_renewal_through_s3_and_dynamodb() {
    let fixture = stores::dynamodb().await;
    let store = fixture.store.clone();
    let s3 = s3().await;
    // moto's state is shared by every test of the process and kept between
    // runs of the same server: a bucket of this test's own.
    let bucket = format!("seatkeeper-imports-{}", std::process::id());
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the bucket");

    let clock = Arc::new(ManualClock::at(date("2026-06-15")));
    let today = date("2026-06-15");
    let service: seatkeeper_edge::Service = Seatkeeper::new(
        store.clone(),
        clock.clone() as Arc<dyn Clock>,
        Arc::new(NoMail) as Arc<dyn Mailer>,
        Settings::default(),
    );
    let app = Arc::new(App::new(
        service,
        Arc::new(S3Uploads::new(s3.clone(), &bucket)),
        Arc::new(S3Objects::new(s3.clone())),
    ));
    let svc = &app.service;

    // A premium company on rolling licences: 3 seats, the lead holds one.
    let am = account_manager();
    let created = svc
        .create_company(
            &am,
            new_company("Acme")
                .plan(premium("2026-01-01"))
                .pool(standard_pool(Policy::Rolling12Months, 3))
                .manager("lead@acme.test", "Lead")
                .build(),
        )
        .await
        .expect("create the company");
    let company = created.company;
    let id = company.id.clone();
    // Learners written straight into the store, as tests/contract/expiry.rs seeds them.
    let learners = [
        ("ann@acme.test", "2026-05-01"),
        ("bob@acme.test", "2026-05-01"),
        ("cy@acme.test", "2026-06-15"),
        ("eve@acme.test", "2026-05-01"),
        ("dee@acme.test", "2026-12-01"),
    ];
    let learners = learners.map(|(address, ends_on)| (address, date(ends_on)));
    seed_rolling_learners(store.as_ref(), &company, date("2025-05-01"), learners).await;
    let lead = caller(Role::Manager, "lead@acme.test", Some(&id), None);

    // 1. Request the upload; PUT the file to the presigned URL, as a browser would.
    let ticket = svc
        .create_import(&lead, id.as_str(), None, None, app.uploads.as_ref())
        .await
        .expect("create the import");
    let import_id = ticket.import_id.to_string();
    let key = format!("imports/{id}/{import_id}.csv");
    assert!(
        ticket
            .upload_url
            .starts_with(&format!("{}/{bucket}/{key}?", moto::endpoint().await)),
        "{}",
        ticket.upload_url
    );
    assert!(
        ticket.upload_url.contains("X-Amz-Expires=900"),
        "{}",
        ticket.upload_url
    );
    // moto 5 does not check presigned signatures or expiry, so this proves
    // the URL's shape, not its signature (infra/adapters/src/s3.rs tests
    // that). It also drops the body of a PUT sent as a form
    // (`application/x-www-form-urlencoded`, what `curl -d` sends): name the type.
    let put = reqwest::Client::new()
        .put(&ticket.upload_url)
        .header("content-type", "text/csv")
        .body(CSV)
        .send()
        .await
        .expect("the PUT");
    assert!(put.status().is_success(), "{:?}", put.text().await);
    // S3 quotes the ETag header; the event carries it bare.
    let etag = put
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("an ETag")
        .trim_matches('"')
        .to_string();
    let stored = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .expect("the object");
    let body = stored.body.collect().await.expect("its body").into_bytes();
    assert_eq!(&body[..], CSV.as_bytes(), "moto holds exactly the upload");

    // 2. The ObjectCreated event: twice at once, then three more times.
    let event = s3_put_event(&bucket, &key, &etag, CSV.len());
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let (app, event) = (app.clone(), event.clone());
            tokio::spawn(async move { deliver(&app, &event).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.extend(racer.await.expect("a delivery"));
    }
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        vec![PreviewOutcome::AlreadyDone, PreviewOutcome::Previewed],
        "two deliveries at once: one preview"
    );
    let after_preview = partition(store.as_ref(), &id).await;
    // Created, then previewed once. (The losing racer's list of members may
    // stay behind as inert items the import never names; they expire by TTL.)
    let import_item = after_preview
        .iter()
        .find(|i| i.key.sk == format!("I#{import_id}"))
        .expect("the import item");
    assert_eq!(import_item.version, 2, "one preview write");
    for _ in 0..3 {
        assert_eq!(
            deliver(&app, &event).await,
            vec![PreviewOutcome::AlreadyDone]
        );
    }
    assert_eq!(
        partition(store.as_ref(), &id).await,
        after_preview,
        "a repeated delivery writes nothing"
    );

    // 3. The preview, as the manager reads it.
    let view = svc
        .get_import(&lead, id.as_str(), &import_id)
        .await
        .expect("the import");
    assert_eq!(view.status, ImportStatus::Previewed);
    assert_eq!(view.email_column.as_deref(), Some("Email Address"));
    let names: Vec<&str> = view.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["Name", "Email Address", "Team"]);
    assert_eq!(
        view.columns[1].samples[0], "ANN@Acme.test",
        "trimmed, as written"
    );
    assert_eq!(
        view.counts,
        ImportCounts {
            rows: 7,
            to_renew: 3,
            not_renewed: 4,
            already_active: 1,
            unlicensed: 0,
            unknown: 1,
            invalid: 1,
            duplicate: 1,
            // eve is expired and not in the file.
            stay_expired: 1,
        }
    );
    assert_eq!(view.problems_total, 4);

    // 4. Too few seats: 3 to renew, 2 free. A 409 with the numbers; nothing changes.
    let before = partition(store.as_ref(), &id).await;
    let short = svc
        .confirm_import(&lead, id.as_str(), &import_id, "standard", None)
        .await;
    assert_eq!(
        short.map(|c| c.renewed),
        Err(ServiceError::NoSeatsAvailable {
            needed: 3,
            available: 2
        })
    );
    assert_eq!(partition(store.as_ref(), &id).await, before);

    // The manager buys the missing seat; the account manager actions it.
    let order = svc
        .request_order(&lead, id.as_str(), order_request(OrderKind::Renewal, 1))
        .await
        .expect("request a seat");
    svc.assign_order(&am, id.as_str(), order.id.as_str(), None)
        .await
        .expect("assign it");
    let pool_before = pool(store.as_ref(), &id).await;
    assert_eq!((pool_before.purchased, pool_before.allocated), (4, 1));

    // 5. Confirm: exactly the previewed members, one seat each.
    let confirmed = svc
        .confirm_import(&lead, id.as_str(), &import_id, "standard", None)
        .await
        .expect("confirm");
    assert_eq!(
        (confirmed.status, confirmed.renewed),
        (ImportStatus::Committed, 3)
    );
    let pool_after = pool(store.as_ref(), &id).await;
    assert_eq!(pool_after.purchased, pool_before.purchased);
    assert_eq!(pool_after.allocated, pool_before.allocated + 3);
    assert_eq!(confirmed.pool.allocated, pool_after.allocated);
    let plan = &company.plan;
    for renewed in ["ann@acme.test", "bob@acme.test", "cy@acme.test"] {
        let m = member(store.as_ref(), &id, renewed).await;
        assert_eq!(m.status(plan, today), LicenceStatus::Active, "{renewed}");
        let licence = m.licence.expect("a licence");
        assert_eq!(
            (licence.term, licence.allocated_on),
            (
                LicenceTerm::Rolling {
                    ends_on: rolling_licence_end(today)
                },
                today
            ),
            "{renewed}"
        );
    }
    // Not in the file, or not expired: untouched.
    let eve = member(store.as_ref(), &id, "eve@acme.test").await;
    assert_eq!(eve.status(plan, today), LicenceStatus::Expired);
    let dee = member(store.as_ref(), &id, "dee@acme.test").await;
    assert_eq!(
        dee.licence.map(|l| l.term),
        Some(LicenceTerm::Rolling {
            ends_on: date("2026-12-01")
        })
    );

    // 6. A confirm again answers the same; the event again is turned away.
    let after_confirm = partition(store.as_ref(), &id).await;
    let again = svc
        .confirm_import(&lead, id.as_str(), &import_id, "standard", None)
        .await
        .expect("confirm again");
    assert_eq!((again.status, again.renewed), (ImportStatus::Committed, 3));
    let reupload = s3_put_event(&bucket, &key, "ffffffffffffffffffffffffffffffff", 10);
    assert!(
        matches!(
            deliver(&app, &reupload).await.as_slice(),
            [PreviewOutcome::Ignored(_)]
        ),
        "a confirmed import takes no new upload"
    );
    assert_eq!(partition(store.as_ref(), &id).await, after_confirm);
}

/// The handler decodes the key as S3 encodes it in the event (`+` for a
/// space, `%XX`): a key that is not an import's is named, decoded, and left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_keys_are_url_decoded() {
    let fixture = stores::dynamodb().await;
    let s3 = s3().await;
    let service: seatkeeper_edge::Service = Seatkeeper::new(
        fixture.store.clone(),
        Arc::new(ManualClock::default()) as Arc<dyn Clock>,
        Arc::new(NoMail) as Arc<dyn Mailer>,
        Settings::default(),
    );
    let app = App::new(
        service,
        Arc::new(S3Uploads::new(s3.clone(), "unused")),
        Arc::new(S3Objects::new(s3)),
    );
    let key = "imports/Team A/renewals (June)+1.csv";
    let event = s3_put_event("unused", key, "0123456789abcdef0123456789abcdef", 10);
    assert_eq!(
        event.records[0].s3.object.key.as_deref(),
        Some("imports/Team+A/renewals+%28June%29%2B1.csv")
    );
    assert_eq!(
        deliver(&app, &event).await,
        vec![PreviewOutcome::Ignored(format!(
            "{key} is not an import upload"
        ))]
    );
}
