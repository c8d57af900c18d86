//! The function handlers fed real API Gateway HTTP API (payload 2.0) events:
//! the sample `sam local generate-event apigateway http-api-proxy` prints,
//! filled in here, by hand, with the method, path, query, body and the JWT
//! authorizer's claims. This is independent of `local_event` (which the local
//! server uses), so a mistake there cannot hide one here. The events go
//! through `lambda_http`'s own parsing, as on Lambda, and straight into each
//! function's `handle`, on SQLite, a manual clock and a file outbox.

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use chrono::NaiveDate;
use lambda_runtime::{Context, LambdaEvent};
use seatkeeper_adapters::local_files::LocalObjects;
use seatkeeper_adapters::outbox;
use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::imports::PreviewOutcome;
use seatkeeper_core::ports::{ItemStore, Mailer, ManualClock};
use seatkeeper_core::service::Settings;
use seatkeeper_edge::embedded::{Embedded, IMPORTS_BUCKET};
use seatkeeper_edge::lambda_http;
use seatkeeper_edge::routes::{self, RouteName, ROUTES};
use seatkeeper_edge::App;
use serde_json::{json, Value};

use crate::helpers::order_request;

/// The sample event, as SAM generated it.
const SAMPLE: &str = include_str!("../fixtures/events/http-api-proxy.json");
/// The S3 ObjectCreated sample, as SAM generated it.
const S3_PUT: &str = include_str!("../fixtures/events/s3-put.json");

/// The HTTP functions, by SAM name.
const FUNCTIONS: [&str; 5] = [
    routes::ADMIN_API,
    routes::READ_API,
    routes::REQUEST_UPGRADE,
    routes::ASSIGN_ORDER,
    routes::ALLOCATE,
];

/// The functions' shared app on a fresh SQLite file (or a given store),
/// with the outbox beside it.
pub(crate) struct Lambda {
    /// The functions' app; a restarted process puts a fresh one in its place.
    app: std::sync::RwLock<Arc<App>>,
    pub(crate) clock: Arc<ManualClock>,
    /// The uploads bucket, as S3 holds what a client PUT there.
    objects: Arc<LocalObjects>,
    outbox: PathBuf,
    _dir: tempfile::TempDir,
}

/// A function's answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    headers: lambda_http::http::HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// A success: status and `application/json`.
    fn expect_ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type(), "application/json");
        &self.body
    }

    /// An RFC 9457 problem with this status and code.
    fn expect_problem(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        assert_eq!(self.content_type(), "application/problem+json");
        assert_eq!(self.body["status"], status, "{}", self.body);
        for member in ["type", "title", "detail"] {
            assert!(self.body[member].is_string(), "{member}: {}", self.body);
        }
    }
}

impl Lambda {
    fn new(today: &str) -> Self {
        let dir = tempfile::TempDir::new().expect("a temp dir");
        let store = SqliteStore::open(&dir.path().join("seatkeeper.sqlite")).expect("a store");
        Self::in_dir(dir, today, Arc::new(store), |outbox| outbox)
    }

    /// The app on `store`, its outbox mailer seen through `mailer`.
    pub(crate) fn on(
        today: &str,
        store: Arc<dyn ItemStore>,
        mailer: impl FnOnce(Arc<dyn Mailer>) -> Arc<dyn Mailer>,
    ) -> Self {
        let dir = tempfile::TempDir::new().expect("a temp dir");
        Self::in_dir(dir, today, store, mailer)
    }

    fn in_dir(
        dir: tempfile::TempDir,
        today: &str,
        store: Arc<dyn ItemStore>,
        mailer: impl FnOnce(Arc<dyn Mailer>) -> Arc<dyn Mailer>,
    ) -> Self {
        let today = NaiveDate::parse_from_str(today, "%Y-%m-%d").expect("a date");
        let clock = Arc::new(ManualClock::at(today));
        let Embedded {
            app,
            objects,
            outbox,
        } = Embedded::open_mailing(
            dir.path(),
            &Settings::default().app_base_url,
            store,
            clock.clone(),
            mailer,
        );
        Self {
            app: std::sync::RwLock::new(Arc::new(app)),
            clock,
            objects,
            outbox,
            _dir: dir,
        }
    }

    /// The app the next invocation runs on.
    pub(crate) fn app(&self) -> Arc<App> {
        self.app.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `app` in place of the app: a new process for what follows.
    pub(crate) fn replace_app(&self, app: App) {
        *self.app.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(app);
    }

    /// Invokes `function` with `event`, as Lambda would.
    pub(crate) async fn invoke(&self, function: &str, event: &Value) -> Answer {
        let request =
            lambda_http::request::from_str(&event.to_string()).expect("lambda_http parses it");
        let app = self.app();
        let app = &*app;
        let response = match function {
            routes::ADMIN_API => admin_api::handle(app, request).await,
            routes::READ_API => read_api::handle(app, request).await,
            routes::REQUEST_UPGRADE => request_upgrade::handle(app, request).await,
            routes::ASSIGN_ORDER => assign_order::handle(app, request).await,
            routes::ALLOCATE => allocate::handle(app, request).await,
            other => panic!("no HTTP function {other}"),
        };
        let (parts, body) = response.into_parts();
        let bytes: &[u8] = body.as_ref();
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: serde_json::from_slice(bytes).expect("a JSON body"),
        }
    }

    /// A client's PUT of `csv` to `key` in the uploads bucket, then
    /// `import-renewals` invoked with the S3 event that AWS would send
    /// (the sample `sam local generate-event s3 put` prints).
    pub(crate) async fn upload(
        &self,
        key: &str,
        csv: &str,
    ) -> Result<Vec<PreviewOutcome>, import_renewals::ImportError> {
        self.objects
            .put(IMPORTS_BUCKET, key, csv.as_bytes())
            .await
            .expect("the upload is stored");
        self.deliver_upload(key, csv).await
    }

    /// One delivery of the S3 event for `key` (S3 delivers at least once,
    /// and Lambda retries a failed one).
    pub(crate) async fn deliver_upload(
        &self,
        key: &str,
        csv: &str,
    ) -> Result<Vec<PreviewOutcome>, import_renewals::ImportError> {
        let mut event: Value = serde_json::from_str(S3_PUT).expect("the sample parses");
        let object = &mut event["Records"][0]["s3"];
        object["bucket"]["name"] = json!(IMPORTS_BUCKET);
        object["object"]["key"] = json!(key);
        object["object"]["size"] = json!(csv.len());
        object["object"]["eTag"] = json!(format!("{:x}", csv.len()));
        let event = serde_json::from_value(event).expect("an S3 event");
        import_renewals::handle(&self.app(), LambdaEvent::new(event, Context::default())).await
    }

    pub(crate) fn outbox_kinds(&self) -> Vec<String> {
        outbox::read_all(&self.outbox)
            .expect("the outbox")
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

/// The claims a Cognito JWT authorizer passes: all strings, with the
/// standard ones the handlers ignore.
pub(crate) fn claims(
    email: &str,
    role: &str,
    company: Option<&str>,
    partner: Option<&str>,
) -> Value {
    let mut claims = json!({
        "sub": format!("sub-{email}"),
        "email": email,
        "email_verified": "true",
        "custom:role": role,
        "iss": "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_example",
        "token_use": "id",
        "exp": "1893456000",
    });
    if let Some(company) = company {
        claims["custom:company_id"] = json!(company);
    }
    if let Some(partner) = partner {
        claims["custom:partner_id"] = json!(partner);
    }
    claims
}

pub(crate) fn account_manager() -> Value {
    claims("am@vendor.io", "account_manager", None, None)
}

/// The admin of partner msp1.
pub(crate) fn partner_admin() -> Value {
    claims("admin@msp.io", "partner_admin", None, Some("msp1"))
}

/// The sample event, made a `method` request for `path` with no query and
/// no body, signed in with `claims` (none: no `authorizer` at all).
pub(crate) fn event(method: &str, path: &str, claims: Option<Value>) -> Value {
    let mut event: Value = serde_json::from_str(SAMPLE).expect("the sample parses");
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!("");
    if let Some(object) = event.as_object_mut() {
        // API Gateway leaves it out when there is no query.
        object.remove("queryStringParameters");
    }
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    match claims {
        Some(claims) => event["requestContext"]["authorizer"]["jwt"]["claims"] = claims,
        None => {
            if let Some(context) = event["requestContext"].as_object_mut() {
                context.remove("authorizer");
            }
        }
    }
    event["body"] = Value::Null;
    event["isBase64Encoded"] = json!(false);
    event
}

/// The query as API Gateway sends it: raw, and decoded into a map.
pub(crate) fn with_query(mut event: Value, raw: &str, decoded: &[(&str, &str)]) -> Value {
    event["rawQueryString"] = json!(raw);
    if let Some(object) = event.as_object_mut() {
        if decoded.is_empty() {
            object.remove("queryStringParameters");
        } else {
            let decoded: serde_json::Map<_, _> = decoded
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            object.insert("queryStringParameters".to_string(), decoded.into());
        }
    }
    event
}

pub(crate) fn with_body(mut event: Value, body: &str) -> Value {
    event["body"] = json!(body);
    event["headers"]["content-type"] = json!("application/json");
    event["isBase64Encoded"] = json!(false);
    event
}

/// The body base64-encoded, as API Gateway sends binary or unknown types.
fn with_base64_body(mut event: Value, body: &[u8]) -> Value {
    event["body"] = json!(base64(body));
    event["isBase64Encoded"] = json!(true);
    event
}

pub(crate) fn with_header(mut event: Value, name: &str, value: &str) -> Value {
    // HTTP API payload 2.0 lower-cases header names.
    event["headers"][name.to_ascii_lowercase()] = json!(value);
    event
}

/// Standard base64 with padding (RFC 4648 §4), as API Gateway encodes
/// binary bodies.
fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn company_body(name: &str) -> Value {
    json!({
        "name": name,
        "account_manager_email": "am@vendor.io",
        "plan": {"kind": "premium", "term_start": "2026-04-01"},
        "licence_types": [{"type": "standard", "policy": "co_term", "annual_fee_minor": 12000, "currency": "GBP", "seats": 20}],
        "managers": [{"email": "lead@acme.io", "name": "Lee Lead"}],
    })
}

fn order_body() -> Value {
    order_request("upgrade", 10)
}

/// Creates a company named `name` through `admin-api` as `claims`' holder.
async fn create_company_as(lambda: &Lambda, claims: Value, name: &str) -> Answer {
    let request = with_body(
        event("POST", "/v1/companies", Some(claims)),
        &company_body(name).to_string(),
    );
    lambda.invoke(routes::ADMIN_API, &request).await
}

/// Creates a company through `admin-api` as the account manager; its id.
async fn create_company(lambda: &Lambda) -> String {
    let answer = create_company_as(lambda, account_manager(), "Acme Ltd").await;
    let body = answer.expect_ok(201);
    body["id"].as_str().expect("an id").to_string()
}

pub(crate) fn lead(company: &str) -> Value {
    claims("lead@acme.io", "manager", Some(company), None)
}

#[test]
fn the_base64_helper_matches_the_sample() {
    assert_eq!(base64(br#"{"test":"body"}"#), "eyJ0ZXN0IjoiYm9keSJ9");
    assert_eq!(
        [base64(b""), base64(b"f"), base64(b"fo"), base64(b"foo")],
        ["", "Zg==", "Zm8=", "Zm9v"]
    );
}

#[tokio::test]
async fn admin_api_creates_companies_from_api_gateway_events() {
    let lambda = Lambda::new("2026-11-22");
    let id = create_company(&lambda).await;

    let read = lambda
        .invoke(
            routes::READ_API,
            &event("GET", &format!("/v1/companies/{id}"), Some(lead(&id))),
        )
        .await;
    let company = read.expect_ok(200);
    assert_eq!(company["id"], id.as_str());
    assert_eq!(company["name"], "Acme Ltd");
    assert_eq!(company["partner_id"], Value::Null);
    assert_eq!(company["status"], "active");
    assert_eq!(
        company["pools"],
        json!([{"type": "standard", "policy": "co_term", "annual_fee_minor": 12000, "currency": "GBP", "purchased": 20, "allocated": 1, "available": 19}])
    );
    assert_eq!(
        company["counts"],
        json!({"active": 1, "expired": 0, "unlicensed": 0})
    );

    // A partner admin's company gets their partner id from the claims.
    let partner = partner_admin();
    let created = create_company_as(&lambda, partner.clone(), "Partnered Ltd").await;
    assert_eq!(created.expect_ok(201)["partner_id"], "msp1");
    let listed = lambda
        .invoke(
            routes::READ_API,
            &event("GET", "/v1/partners/msp1/companies", Some(partner)),
        )
        .await;
    let names: Vec<&Value> = listed.expect_ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("Partnered Ltd")]);
}

/// Journey 1's numbers: 10 seats at 12000 from 2026-11-22 to 2027-04-01.
#[tokio::test]
async fn the_quote_reads_the_query_as_api_gateway_sends_it() {
    let lambda = Lambda::new("2026-11-22");
    let id = create_company(&lambda).await;
    let path = format!("/v1/companies/{id}/quote");
    let request = with_query(
        event("GET", &path, Some(lead(&id))),
        "licence_type=standard&quantity=10",
        &[("licence_type", "standard"), ("quantity", "10")],
    );
    let answer = lambda.invoke(routes::REQUEST_UPGRADE, &request).await;
    let quote = answer.expect_ok(200);
    let expected = json!({
        "licence_type": "standard",
        "quantity": 10,
        "annual_fee_minor": 12000,
        "currency": "GBP",
        "days_remaining": 130,
        "days_in_term": 365,
        "amount_minor": 42_740,
        "as_of": "2026-11-22",
    });
    for (field, value) in expected.as_object().expect("an object") {
        assert_eq!(&quote[field], value, "{field}: {quote}");
    }

    // Percent-encoding in the raw query is decoded.
    let encoded = with_query(
        event("GET", &path, Some(lead(&id))),
        "licence_type=st%61ndard&quantity=%31%30",
        &[("licence_type", "standard"), ("quantity", "10")],
    );
    let answer = lambda.invoke(routes::REQUEST_UPGRADE, &encoded).await;
    assert_eq!(answer.expect_ok(200)["amount_minor"], 42_740);

    // A missing parameter is named.
    let missing = with_query(
        event("GET", &path, Some(lead(&id))),
        "licence_type=standard",
        &[("licence_type", "standard")],
    );
    let answer = lambda.invoke(routes::REQUEST_UPGRADE, &missing).await;
    answer.expect_problem(400, "validation_failed");
    assert_eq!(answer.body["field"], "quantity");
}

#[tokio::test]
async fn a_base64_body_is_decoded() {
    let lambda = Lambda::new("2026-11-22");
    // The sample's own body, `{"test":"body"}` in base64, reaches the
    // handler decoded: it is refused for its field, not as unreadable.
    let sample: Value = serde_json::from_str(SAMPLE).expect("the sample");
    assert_eq!(sample["isBase64Encoded"], true);
    let mut as_sampled = event("POST", "/v1/companies", Some(account_manager()));
    as_sampled["body"] = sample["body"].clone();
    as_sampled["isBase64Encoded"] = json!(true);
    let answer = lambda.invoke(routes::ADMIN_API, &as_sampled).await;
    answer.expect_problem(400, "validation_failed");
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown field `test`"),
        "{}",
        answer.body
    );

    let created = lambda
        .invoke(
            routes::ADMIN_API,
            &with_base64_body(
                event("POST", "/v1/companies", Some(account_manager())),
                company_body("Encoded Ltd").to_string().as_bytes(),
            ),
        )
        .await;
    assert_eq!(created.expect_ok(201)["name"], "Encoded Ltd");
    let id = created.body["id"].as_str().expect("an id").to_string();

    let ordered = lambda
        .invoke(
            routes::REQUEST_UPGRADE,
            &with_base64_body(
                event(
                    "POST",
                    &format!("/v1/companies/{id}/orders"),
                    Some(lead(&id)),
                ),
                order_body().to_string().as_bytes(),
            ),
        )
        .await;
    let order = &ordered.expect_ok(201)["order"];
    assert_eq!(
        (
            &order["state"],
            &order["quantity"],
            &order["quote"]["amount_minor"]
        ),
        (&json!("requested"), &json!(10), &json!(42_740))
    );

    let member = json!({"email": "Ann@Acme.io ", "name": "Ann", "role": "learner", "licence_type": "standard"});
    let added = lambda
        .invoke(
            routes::ALLOCATE,
            &with_base64_body(
                event(
                    "POST",
                    &format!("/v1/companies/{id}/members"),
                    Some(lead(&id)),
                ),
                member.to_string().as_bytes(),
            ),
        )
        .await;
    let added = added.expect_ok(201);
    assert_eq!(
        (&added["email"], &added["status"]),
        (&json!("ann@acme.io"), &json!("active"))
    );
}

#[tokio::test]
async fn an_event_without_an_authorizer_is_401() {
    let lambda = Lambda::new("2026-11-22");
    let id = create_company(&lambda).await;
    let path = format!("/v1/companies/{id}");
    let anonymous = event("GET", &path, None);
    assert!(anonymous["requestContext"].get("authorizer").is_none());
    let answer = lambda.invoke(routes::READ_API, &anonymous).await;
    answer.expect_problem(401, "unauthorized");

    // Claims that name no one, or no known role, are no credentials either.
    let mut no_role = claims("lead@acme.io", "manager", Some(&id), None);
    no_role.as_object_mut().map(|c| c.remove("custom:role"));
    let mut no_sub = lead(&id);
    no_sub.as_object_mut().map(|c| c.remove("sub"));
    // An e-mail the user set and never proved is no credential either.
    let mut unverified = lead(&id);
    unverified["email_verified"] = json!("false");
    let mut unproved = lead(&id);
    unproved.as_object_mut().map(|c| c.remove("email_verified"));
    for claims in [
        no_role,
        no_sub,
        unverified,
        unproved,
        claims("lead@acme.io", "superuser", Some(&id), None),
        claims("not-an-email", "manager", Some(&id), None),
    ] {
        let answer = lambda
            .invoke(routes::READ_API, &event("GET", &path, Some(claims.clone())))
            .await;
        assert_eq!(answer.status, 401, "{claims}: {}", answer.body);
        answer.expect_problem(401, "unauthorized");
    }

    // A POST without credentials changes nothing.
    let request = with_body(
        event("POST", &format!("{path}/members"), None),
        &json!({"email": "x@acme.io", "name": "X", "role": "learner"}).to_string(),
    );
    lambda
        .invoke(routes::ALLOCATE, &request)
        .await
        .expect_problem(401, "unauthorized");
    let members = lambda
        .invoke(
            routes::READ_API,
            &event("GET", &format!("{path}/members"), Some(lead(&id))),
        )
        .await;
    assert_eq!(
        members.expect_ok(200)["items"].as_array().map(Vec::len),
        Some(1)
    );
}

/// Each route reaches only its own function; any other answers 404, as if
/// API Gateway had routed it wrongly, and does nothing. The ids are real (the
/// right function answers 200 to each GET), so the 404s come from the
/// routing. Unknown paths are 404 and known paths with another method 405.
#[tokio::test]
async fn a_route_sent_to_the_wrong_function_is_404() {
    let lambda = Lambda::new("2026-11-22");
    // A partner admin may call every route on its own company.
    let admin = partner_admin();
    let created = create_company_as(&lambda, admin.clone(), "Acme Ltd").await;
    let company = created.expect_ok(201)["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let ordered = lambda
        .invoke(
            routes::REQUEST_UPGRADE,
            &with_body(
                event(
                    "POST",
                    &format!("/v1/companies/{company}/orders"),
                    Some(admin.clone()),
                ),
                &order_body().to_string(),
            ),
        )
        .await;
    let order = ordered.expect_ok(201)["order"]["id"]
        .as_str()
        .expect("an id")
        .to_string();

    let imported = lambda
        .invoke(
            routes::ALLOCATE,
            &with_body(
                event(
                    "POST",
                    &format!("/v1/companies/{company}/imports"),
                    Some(admin.clone()),
                ),
                "{}",
            ),
        )
        .await;
    let import = imported.expect_ok(201)["import_id"]
        .as_str()
        .expect("an id")
        .to_string();
    // A Select All (no one is expired: done at once) for `{a}`.
    let selected = lambda
        .invoke(
            routes::ALLOCATE,
            &with_body(
                event(
                    "POST",
                    &format!("/v1/companies/{company}/allocations"),
                    Some(admin.clone()),
                ),
                r#"{"licence_type": "standard", "all_expired": true}"#,
            ),
        )
        .await;
    let allocation = selected.expect_ok(200)["allocation_id"]
        .as_str()
        .expect("an allocation id")
        .to_string();
    // The partner every `{p}` names, on record so that reading it answers 200.
    lambda
        .invoke(
            routes::ADMIN_API,
            &with_body(
                event("PUT", "/v1/partners/msp1", Some(account_manager())),
                r#"{"name": "MSP One", "contact_email": "desk@msp.io"}"#,
            ),
        )
        .await
        .expect_ok(201);

    let mut checked = 0;
    for spec in ROUTES {
        assert!(FUNCTIONS.contains(&spec.function), "{spec:?}");
        let path = spec
            .path
            .replace("{c}", &company)
            .replace("{o}", &order)
            .replace("{i}", &import)
            .replace("{a}", &allocation)
            .replace("{p}", "msp1");
        let (raw, decoded) = if spec.route == RouteName::Quote {
            (
                "licence_type=standard&quantity=1",
                &[("licence_type", "standard"), ("quantity", "1")][..],
            )
        } else {
            ("", &[][..])
        };
        let request = with_query(
            with_body(event(spec.method, &path, Some(admin.clone())), "{}"),
            raw,
            decoded,
        );
        if spec.method == "GET" {
            let right = lambda.invoke(spec.function, &request).await;
            assert_eq!(right.status, 200, "{} {path}: {}", spec.method, right.body);
        }
        for function in FUNCTIONS.iter().filter(|f| **f != spec.function) {
            let answer = lambda.invoke(function, &request).await;
            assert_eq!(
                answer.status, 404,
                "{} {path} sent to {function}: {}",
                spec.method, answer.body
            );
            answer.expect_problem(404, "not_found");
            checked += 1;
        }
    }
    assert_eq!(checked, ROUTES.len() * (FUNCTIONS.len() - 1));

    // Nothing the misrouted POSTs asked for happened.
    let listed = lambda
        .invoke(
            routes::READ_API,
            &event("GET", "/v1/partners/msp1/companies", Some(admin.clone())),
        )
        .await;
    assert_eq!(
        listed.expect_ok(200)["items"].as_array().map(Vec::len),
        Some(1)
    );
    let read = lambda
        .invoke(
            routes::READ_API,
            &event(
                "GET",
                &format!("/v1/companies/{company}/orders/{order}"),
                Some(admin.clone()),
            ),
        )
        .await;
    assert_eq!(read.expect_ok(200)["order"]["state"], "requested");

    let unknown = event("GET", "/v1/nothing", Some(admin.clone()));
    for function in FUNCTIONS {
        lambda
            .invoke(function, &unknown)
            .await
            .expect_problem(404, "not_found");
    }
    let wrong_method = event("DELETE", &format!("/v1/companies/{company}"), Some(admin));
    lambda
        .invoke(routes::READ_API, &wrong_method)
        .await
        .expect_problem(405, "method_not_allowed");
}

#[tokio::test]
async fn a_body_over_256_kib_is_413() {
    const LIMIT: usize = 256 * 1024;
    assert_eq!(seatkeeper_edge::MAX_BODY_BYTES, LIMIT);
    let lambda = Lambda::new("2026-11-22");
    let padded = |len: usize| {
        let mut body = company_body("Padded Ltd").to_string();
        body.push_str(&" ".repeat(len - body.len()));
        body
    };
    let at_limit = with_body(
        event("POST", "/v1/companies", Some(account_manager())),
        &padded(LIMIT),
    );
    let answer = lambda.invoke(routes::ADMIN_API, &at_limit).await;
    assert_eq!(
        answer.expect_ok(201)["name"],
        "Padded Ltd",
        "exactly the limit"
    );

    let over = with_body(
        event("POST", "/v1/companies", Some(account_manager())),
        &padded(LIMIT + 1),
    );
    lambda
        .invoke(routes::ADMIN_API, &over)
        .await
        .expect_problem(413, "payload_too_large");
    // The limit is on the decoded body, however it was sent.
    let over_base64 = with_base64_body(
        event("POST", "/v1/companies", Some(account_manager())),
        padded(LIMIT + 1).as_bytes(),
    );
    lambda
        .invoke(routes::ADMIN_API, &over_base64)
        .await
        .expect_problem(413, "payload_too_large");
}

#[tokio::test]
async fn the_idempotency_key_header_replays_the_first_answer() {
    let lambda = Lambda::new("2026-11-22");
    let id = create_company(&lambda).await;
    let path = format!("/v1/companies/{id}/orders");
    let body = order_body().to_string();
    let keyed = |claims: Value, body: &str| {
        with_header(
            with_body(event("POST", &path, Some(claims)), body),
            "Idempotency-Key",
            "order-2026-11-22",
        )
    };

    let first = lambda
        .invoke(routes::REQUEST_UPGRADE, &keyed(lead(&id), &body))
        .await;
    first.expect_ok(201);
    assert_eq!(first.header("idempotency-replayed"), None);
    let replay = lambda
        .invoke(routes::REQUEST_UPGRADE, &keyed(lead(&id), &body))
        .await;
    assert_eq!(replay.expect_ok(201), &first.body);
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));
    // The same bytes base64-encoded are the same request.
    let encoded = with_header(
        with_base64_body(event("POST", &path, Some(lead(&id))), body.as_bytes()),
        "idempotency-key",
        "order-2026-11-22",
    );
    let replay = lambda.invoke(routes::REQUEST_UPGRADE, &encoded).await;
    assert_eq!(replay.expect_ok(201), &first.body);
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));

    let other_body =
        json!({"licence_type": "standard", "quantity": 3, "kind": "upgrade", "agree_to_pay": true});
    lambda
        .invoke(
            routes::REQUEST_UPGRADE,
            &keyed(lead(&id), &other_body.to_string()),
        )
        .await
        .expect_problem(409, "idempotency_key_reused");

    // Keys belong to their caller: another user's same key is a new request,
    // and never sees the first user's answer.
    let other = lambda
        .invoke(routes::REQUEST_UPGRADE, &keyed(account_manager(), &body))
        .await;
    other.expect_ok(201);
    assert_eq!(other.header("idempotency-replayed"), None);
    assert_ne!(other.body["order"]["id"], first.body["order"]["id"]);

    let orders = lambda
        .invoke(routes::READ_API, &event("GET", &path, Some(lead(&id))))
        .await;
    assert_eq!(
        orders.expect_ok(200)["items"].as_array().map(Vec::len),
        Some(2),
        "one order per caller: {}",
        orders.body
    );
    assert_eq!(
        lambda.outbox_kinds(),
        ["order_requested", "order_requested"],
        "a replay sends no e-mail"
    );
}

/// A PATCH that moved a company's time zone but failed to re-index its
/// rolling licences, sent again with the same `Idempotency-Key`, finishes
/// the move. Keys bind POSTs only: a PATCH names the state it wants, so
/// running it again does nothing twice (its audit entry is written once)
/// and redoes the re-index, which is idempotent.
async fn a_failed_time_zone_move_sent_again_with_its_key_finishes(store: Arc<dyn ItemStore>) {
    use seatkeeper_core::repo;
    use seatkeeper_core::types::{CompanyId, Email};
    use seatkeeper_test_support::faults::{Fault, FaultyStore};

    let faults = Arc::new(FaultyStore::new(store.clone()));
    let lambda = Lambda::on("2026-11-20", faults.clone(), |outbox| outbox);
    // The lead, a manager named at creation, takes a rolling licence.
    let mut company = company_body("Kiwi Ltd");
    company["licence_types"][0]["policy"] = json!("rolling_12_months");
    let create = with_body(
        event("POST", "/v1/companies", Some(account_manager())),
        &company.to_string(),
    );
    let created = lambda.invoke(routes::ADMIN_API, &create).await;
    let id = created.expect_ok(201)["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let lead_key = repo::member_key(
        &CompanyId::parse(&id).expect("an id"),
        &Email::parse("lead@acme.io").expect("an e-mail"),
    );
    // The instant the lead's licence falls due, as its due-index entry has it.
    let due = || async {
        let item = store.get(&lead_key).await.expect("a read");
        let sk = item.and_then(|i| i.due).map(|due| due.sk).expect("indexed");
        let instant = sk.split('|').next().unwrap_or_default().to_string();
        instant
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("an instant")
    };
    let in_london = due().await;

    let path = format!("/v1/companies/{id}");
    let to_auckland = with_header(
        with_body(
            event("PATCH", &path, Some(account_manager())),
            r#"{"timezone":"Pacific/Auckland"}"#,
        ),
        "Idempotency-Key",
        "move-to-auckland",
    );
    // Every write after the company's own overlaps another.
    faults.fail_from(2, Fault::Conflict);
    let failed = lambda.invoke(routes::ADMIN_API, &to_auckland).await;
    failed.expect_problem(503, "store_unavailable");
    assert_eq!(due().await, in_london, "saved, not yet re-indexed");
    faults.heal();
    let again = lambda.invoke(routes::ADMIN_API, &to_auckland).await;
    assert_eq!(again.expect_ok(200)["timezone"], "Pacific/Auckland");
    assert_eq!(again.header("idempotency-replayed"), None);
    // Auckland's day (NZDT, +13) starts 13 hours before London's (GMT).
    assert_eq!(in_london - due().await, chrono::Duration::hours(13));

    let audit = event("GET", &format!("{path}/audit"), Some(account_manager()));
    let trail = lambda.invoke(routes::READ_API, &audit).await;
    let updates = trail.expect_ok(200)["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["action"] == "company.update")
        .count();
    assert_eq!(updates, 1, "{}", trail.body);
}

#[tokio::test]
async fn a_failed_time_zone_move_sent_again_with_its_key_finishes_on_sqlite() {
    let fixture = seatkeeper_test_support::stores::sqlite().await;
    a_failed_time_zone_move_sent_again_with_its_key_finishes(fixture.store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_time_zone_move_sent_again_with_its_key_finishes_on_dynamodb() {
    let fixture = seatkeeper_test_support::stores::dynamodb().await;
    a_failed_time_zone_move_sent_again_with_its_key_finishes(fixture.store.clone()).await;
}
