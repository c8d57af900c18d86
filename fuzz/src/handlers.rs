//! Target `handlers`: every POST, PUT and PATCH route through its real
//! function handler, as Lambda calls it (an API Gateway HTTP API event, the
//! sample SAM generated, parsed by `lambda_http`), on SQLite in a temp dir,
//! signed in as a caller who may act there.
//!
//! Each case picks a route, fills its path with the ids of a company, an
//! order, an import and a member made at the start (now and then a garbled
//! id), and sends a body from the route's [`json::BODIES`] entry: mostly
//! mutated valid bodies (so many reach the store), some arbitrary bytes,
//! sometimes base64-encoded, sometimes with an `Idempotency-Key`. It
//! checks: no panic; a 2xx answers `application/json` (or 204, empty); any
//! other answer is a 4xx `application/problem+json` with `type`, `title`,
//! `status`, `detail` and a stable snake_case `code`. Never a 5xx.

use std::sync::Arc;

use base64::Engine;
use chrono::NaiveDate;
use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::caller::Action;
use seatkeeper_core::ports::ManualClock;
use seatkeeper_core::service::Settings;
use seatkeeper_edge::embedded::Embedded;
use seatkeeper_edge::lambda_http::{self, Body as HttpBody, Response};
use seatkeeper_edge::routes::{self, RouteSpec, ROUTES};
use seatkeeper_edge::App;
use serde_json::{json, Value};

use crate::json::{self, Body, BODIES};
use crate::{run_target, CaseResult, Config, Gen, Report};

pub const TARGET: &str = "handlers";

/// The sample event, as SAM generated it (tests/fixtures/events/).
const SAMPLE: &str = include_str!("../../tests/fixtures/events/http-api-proxy.json");

/// The routes that take a body, each with the body it reads.
pub fn body_routes() -> Vec<(&'static RouteSpec, &'static Body)> {
    ROUTES
        .iter()
        .filter(|r| matches!(r.method, "POST" | "PUT" | "PATCH"))
        .filter_map(|r| {
            BODIES
                .iter()
                .find(|b| b.routes.contains(&r.route))
                .map(|b| (r, b))
        })
        .collect()
}

/// The claims a Cognito JWT authorizer passes.
fn claims(email: &str, role: &str, company: Option<&str>) -> Value {
    let mut claims = json!({
        "sub": format!("sub-{email}"),
        "email": email,
        "email_verified": "true",
        "custom:role": role,
        "token_use": "id",
    });
    if let Some(company) = company {
        claims["custom:company_id"] = json!(company);
    }
    claims
}

/// Standard base64 with padding (RFC 4648 §4), as API Gateway encodes
/// binary bodies.
fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The sample event as a `method` request for `path` with `body`.
fn event(
    sample: &Value,
    method: &str,
    path: &str,
    claims: Value,
    body: &[u8],
    gen: &mut Gen,
) -> Value {
    let mut event = sample.clone();
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!("");
    if let Some(object) = event.as_object_mut() {
        object.remove("queryStringParameters");
    }
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["authorizer"]["jwt"]["claims"] = claims;
    event["headers"]["content-type"] = json!("application/json");
    match std::str::from_utf8(body) {
        Ok(text) if gen.chance(85) => {
            event["body"] = json!(text);
            event["isBase64Encoded"] = json!(false);
        }
        _ => {
            event["body"] = json!(base64(body));
            event["isBase64Encoded"] = json!(true);
        }
    }
    if method == "POST" && gen.chance(5) {
        event["headers"]["idempotency-key"] = json!(format!("fuzz-{}", gen.below(50)));
    }
    event
}

/// The world the cases act on: ids made through the handlers themselves.
struct World {
    app: App,
    company: String,
    order: String,
    import: String,
    allocation: String,
    _dir: tempfile::TempDir,
}

async fn invoke(app: &App, function: &str, event: &Value) -> Result<Response<HttpBody>, String> {
    let request = lambda_http::request::from_str(&event.to_string())
        .map_err(|e| format!("lambda_http refused the event: {e}"))?;
    Ok(match function {
        routes::ADMIN_API => admin_api::handle(app, request).await,
        routes::REQUEST_UPGRADE => request_upgrade::handle(app, request).await,
        routes::ASSIGN_ORDER => assign_order::handle(app, request).await,
        routes::ALLOCATE => allocate::handle(app, request).await,
        other => return Err(format!("no HTTP function {other} takes a body")),
    })
}

fn json_of(response: &Response<HttpBody>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null)
}

const MEMBER: &str = "member@acme.io";

fn account_manager() -> Value {
    claims("am@vendor.io", "account_manager", None)
}

fn lead(company: &str) -> Value {
    claims("lead@acme.io", "manager", Some(company))
}

impl World {
    async fn new() -> Result<Self, String> {
        let dir = tempfile::TempDir::new().map_err(|e| e.to_string())?;
        let store =
            SqliteStore::open(&dir.path().join("seatkeeper.sqlite")).map_err(|e| e.to_string())?;
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).ok_or("a date")?;
        let Embedded { app, .. } = Embedded::open(
            dir.path(),
            &Settings::default().app_base_url,
            Arc::new(store),
            Arc::new(ManualClock::at(today)),
        );
        let sample: Value = serde_json::from_str(SAMPLE).map_err(|e| e.to_string())?;
        let mut gen = Gen::for_case(0, "setup", 0);
        let mut call = |method: &str, path: String, claims: Value, body: Value| {
            let bytes = body.to_string().into_bytes();
            let mut e = event(&sample, method, &path, claims, &bytes, &mut gen);
            e["isBase64Encoded"] = json!(false);
            e["body"] = json!(body.to_string());
            if let Some(headers) = e["headers"].as_object_mut() {
                headers.remove("idempotency-key");
            }
            e
        };
        let seeds = |name: &str| {
            BODIES
                .iter()
                .find(|b| b.name == name)
                .map(|b| (b.seeds)()[0].clone())
                .unwrap_or(Value::Null)
        };
        let created = invoke(
            &app,
            routes::ADMIN_API,
            &call(
                "POST",
                "/v1/companies".into(),
                account_manager(),
                seeds("new_company"),
            ),
        )
        .await?;
        let company = json_of(&created)["id"]
            .as_str()
            .ok_or("no company id")?
            .to_string();
        let base = format!("/v1/companies/{company}");
        invoke(
            &app,
            routes::ALLOCATE,
            &call(
                "POST",
                format!("{base}/members"),
                lead(&company),
                json!({"email": MEMBER, "name": "Member", "role": "learner", "licence_type": "standard"}),
            ),
        )
        .await?;
        let ordered = invoke(
            &app,
            routes::REQUEST_UPGRADE,
            &call(
                "POST",
                format!("{base}/orders"),
                lead(&company),
                seeds("order"),
            ),
        )
        .await?;
        let order = json_of(&ordered)["order"]["id"]
            .as_str()
            .ok_or("no order id")?
            .to_string();
        let imported = invoke(
            &app,
            routes::ALLOCATE,
            &call("POST", format!("{base}/imports"), lead(&company), json!({})),
        )
        .await?;
        // Created, never uploaded: preview and confirm meet it unpreviewed.
        let import = json_of(&imported)["import_id"]
            .as_str()
            .ok_or("no import id")?
            .to_string();
        Ok(Self {
            app,
            company,
            order,
            import,
            // No Select All is started: resume meets an unknown job (404).
            allocation: "a1".to_string(),
            _dir: dir,
        })
    }

    /// `template` with this world's ids; now and then one garbled.
    fn path(&self, template: &str, gen: &mut Gen) -> String {
        let garble = gen.chance(8);
        template
            .split('/')
            .map(|part| {
                let value = match part {
                    "{c}" => self.company.clone(),
                    "{o}" => self.order.clone(),
                    "{i}" => self.import.clone(),
                    "{a}" => self.allocation.clone(),
                    "{email}" => MEMBER.to_string(),
                    "{t}" => (*gen.pick(&["standard", "pro", "Standard"])).to_string(),
                    "{p}" => "msp1".to_string(),
                    other => return other.to_string(),
                };
                if garble && gen.chance(50) {
                    (*gen.pick(&[
                        "x",
                        "%00",
                        "%FF%FE",
                        "%2F",
                        "a%20b",
                        "ANN%40X.IO",
                        "..",
                        "-",
                    ]))
                    .to_string()
                } else {
                    value
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// A caller who may act on `route`.
    fn caller(&self, route: &RouteSpec) -> Value {
        match route.action {
            Some(Action::ManageSeats | Action::RequestOrder | Action::CancelOrder) => {
                lead(&self.company)
            }
            _ => account_manager(),
        }
    }
}

/// Checks an answer: JSON on success, a 4xx problem otherwise.
fn check(response: &Response<HttpBody>) -> CaseResult {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let bytes: &[u8] = response.body().as_ref();
    if (200..300).contains(&status) {
        if status == 204 && bytes.is_empty() {
            return Ok("204".to_string());
        }
        return match (content_type, serde_json::from_slice::<Value>(bytes)) {
            ("application/json", Ok(_)) => Ok(status.to_string()),
            _ => Err(format!("{status} without a JSON body ({content_type})")),
        };
    }
    let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let code = body["code"].as_str().unwrap_or_default();
    let shaped = content_type == "application/problem+json"
        && ["type", "title", "detail"]
            .iter()
            .all(|m| body[*m].is_string())
        && body["status"] == status
        && !code.is_empty()
        && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    match (status, shaped) {
        (400..=499, true) => Ok(format!("{status} {code}")),
        (_, true) => Err(format!("{status} {code}: {body}")),
        _ => Err(format!("{status} is not a problem+json: {body}")),
    }
}

pub fn run(config: &Config) -> Report {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return setup_failed(format!("no runtime: {e}")),
    };
    let world = match runtime.block_on(World::new()) {
        Ok(world) => world,
        Err(e) => return setup_failed(e),
    };
    let sample: Value = serde_json::from_str(SAMPLE).unwrap_or(Value::Null);
    let targets = body_routes();
    run_target(TARGET, config, config.handler_cases, |gen| {
        let (route, body) = *gen.pick(&targets);
        let bytes = json::input(gen, body);
        let path = world.path(route.path, gen);
        let event = event(
            &sample,
            route.method,
            &path,
            world.caller(route),
            &bytes,
            gen,
        );
        let result = runtime
            .block_on(invoke(&world.app, route.function, &event))
            .and_then(|response| check(&response))
            .map_err(|e| format!("{} {path}: {e}", route.method));
        (bytes, result)
    })
}

fn setup_failed(why: String) -> Report {
    Report {
        target: TARGET.to_string(),
        violations: 1,
        failures: vec![format!("setup failed: {why}")],
        ..Report::default()
    }
}
