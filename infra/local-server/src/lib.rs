//! The local server: the whole `/v1` API in one process, calling the same
//! function handlers Lambda runs, on SQLite, a file outbox and a settable
//! clock, plus the local-only `/local/*` routes. Bearer tokens minted by
//! `POST /local/token` stand in for Cognito; the code that mints and accepts
//! them lives only in this crate, so no Lambda binary can contain it.

mod sign_in;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use seatkeeper_adapters::local_files::LocalObjects;
use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::dates::parse_date;
use seatkeeper_core::ports::{Clock, ManualClock};
use seatkeeper_core::types::Email;
use seatkeeper_core::Role;
use seatkeeper_edge::embedded::{self, DataDirError, Embedded};
use seatkeeper_edge::lambda_http;
use seatkeeper_edge::local_event::{self, HttpCall};
use seatkeeper_edge::routes::{self, Lookup};
use seatkeeper_edge::{App, Problem};
use serde::{Deserialize, Serialize};

/// Where the local server keeps its state.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub data_dir: PathBuf,
    /// The base URL e-mail links point to.
    pub base_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("cannot open the store: {0}")]
    Store(#[from] seatkeeper_core::ports::StoreError),
    #[error("cannot keep the console's session key: {0}")]
    SessionKey(#[from] std::io::Error),
}

type Claims = HashMap<String, String>;

pub use seatkeeper_edge::embedded::IMPORTS_BUCKET;
/// Largest upload the local "S3" accepts; the import itself fails files
/// over its own limit with a reason.
const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// The server's state: the functions' shared app, and the local stand-ins.
pub struct Local {
    app: Arc<App>,
    console: Arc<console::Console>,
    objects: Arc<LocalObjects>,
    clock: Arc<ManualClock>,
    outbox: PathBuf,
    tokens_file: PathBuf,
    clock_file: PathBuf,
    tokens: Mutex<HashMap<String, Claims>>,
}

fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> T {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

impl Local {
    /// Opens (or creates) the data directory; tokens and the clock survive restarts.
    pub fn open(config: &LocalConfig) -> Result<Arc<Self>, LocalError> {
        let dir = &config.data_dir;
        embedded::data_dir(dir)?;
        let store = SqliteStore::open(&embedded::sqlite_path(dir))?;
        let clock_file = dir.join("clock.json");
        let clock = Arc::new(ManualClock::default());
        if let Some(today) = read_json::<Option<NaiveDate>>(&clock_file) {
            clock.set_today(today);
        }
        let Embedded {
            app,
            objects,
            outbox,
        } = Embedded::open(
            dir,
            &config.base_url,
            Arc::new(store),
            clock.clone() as Arc<dyn Clock>,
        );
        let tokens_file = dir.join("tokens.json");
        let app = Arc::new(app);
        let console = console::Console::new(app.clone(), sign_in::session_key(dir)?);
        Ok(Arc::new(Self {
            app,
            console,
            objects,
            clock,
            outbox,
            tokens: Mutex::new(read_json(&tokens_file)),
            tokens_file,
            clock_file,
        }))
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// The console's state: its tests sign in with [`Local::console`]'s key.
    pub fn console(&self) -> &Arc<console::Console> {
        &self.console
    }
}

/// Every route the local server answers: the API under `/v1`, the
/// local-only routes under `/local`, and the console everywhere else.
pub fn router(local: Arc<Local>) -> Router {
    let console = local.console.clone();
    let sign_in = Router::new()
        .route("/sign-in", get(sign_in::page).post(sign_in::submit))
        .with_state(console.clone());
    Router::new()
        .route("/local/token", post(mint_token))
        .route("/local/outbox", get(outbox))
        .route("/local/clock", post(set_clock).get(get_clock))
        .route("/local/run-expiry-check", post(run_expiry_check))
        .route(
            "/local/s3/{bucket}/{*key}",
            put(put_object).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .fallback(api)
        .with_state(local)
        .merge(console::router(console))
        .merge(sign_in)
        .layer(axum::middleware::from_fn(loopback_host_only))
}

/// Refuses a request whose `Host` is not this machine's loopback name: a
/// web page that rebinds its own domain to 127.0.0.1 would otherwise reach
/// the server (and mint tokens) from the user's browser.
async fn loopback_host_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if is_loopback_host(host) {
        next.run(request).await
    } else {
        problem(Problem::new(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            "Not this server's name",
            "the local server answers only to localhost, 127.0.0.1 or [::1]",
        ))
    }
}

/// `localhost`, `127.0.0.1` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1"
    )
}

fn problem(problem: Problem) -> Response {
    let body = problem.body().to_string();
    (
        problem.status,
        [(
            "content-type",
            seatkeeper_edge::problem::PROBLEM_CONTENT_TYPE,
        )],
        body,
    )
        .into_response()
}

/// A 500 problem, for the local server's own failures.
fn internal(detail: String) -> Response {
    problem(Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        detail,
    ))
}

/// Writes state that survives restarts (tokens, the clock) to the data
/// directory; on failure, the 500 answer naming `what`.
fn save(path: &Path, bytes: serde_json::Result<Vec<u8>>, what: &str) -> Option<Response> {
    bytes
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(path, bytes))
        .err()
        .map(|e| internal(format!("could not save {what}: {e}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    email: String,
    role: String,
    company_id: Option<String>,
    partner_id: Option<String>,
}

async fn mint_token(State(local): State<Arc<Local>>, body: Bytes) -> Response {
    let request: TokenRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return problem(Problem::invalid("body", e.to_string())),
    };
    let Ok(email) = Email::parse(&request.email) else {
        return problem(Problem::invalid("email", "is not an e-mail address"));
    };
    if Role::parse(&request.role).is_none() {
        return problem(Problem::invalid(
            "role",
            "must be learner, manager, account_manager or partner_admin",
        ));
    }
    let claims = local_event::claims(
        &format!("local-{email}"),
        email.as_str(),
        &request.role,
        request.company_id.as_deref(),
        request.partner_id.as_deref(),
    );
    // A bearer token is a secret: from the OS's random source, not a PRNG.
    let mut secret = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut secret) {
        return internal(format!("no random source for a token: {e}"));
    }
    let token: String = std::iter::once("local-".to_string())
        .chain(secret.iter().map(|b| format!("{b:02x}")))
        .collect();
    let saved = {
        let mut tokens = local.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.insert(token.clone(), claims);
        serde_json::to_vec(&*tokens)
    };
    if let Some(response) = save(&local.tokens_file, saved, "the token") {
        return response;
    }
    (
        StatusCode::CREATED,
        Json(serde_json::json!({ "token": token })),
    )
        .into_response()
}

async fn outbox(State(local): State<Arc<Local>>) -> Response {
    match seatkeeper_adapters::outbox::read_all(&local.outbox) {
        Ok(entries) => Json(entries).into_response(),
        Err(e) => internal(format!("could not read the outbox: {e}")),
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    today: String,
}

async fn set_clock(State(local): State<Arc<Local>>, body: Bytes) -> Response {
    let today = serde_json::from_slice::<ClockBody>(&body)
        .ok()
        .and_then(|b| parse_date(&b.today));
    let Some(today) = today else {
        return problem(Problem::invalid("today", "must be a date, YYYY-MM-DD"));
    };
    local.clock.set_today(today);
    if let Some(response) = save(
        &local.clock_file,
        serde_json::to_vec(&Some(today)),
        "the clock",
    ) {
        return response;
    }
    Json(serde_json::json!({ "today": today })).into_response()
}

async fn get_clock(State(local): State<Arc<Local>>) -> Response {
    Json(serde_json::json!({ "today": local.clock.today_in(chrono_tz::UTC) })).into_response()
}

/// The sample scheduled event `sam local generate-event cloudwatch
/// scheduled-event` prints; its time is set to the local clock's now.
const SCHEDULED_EVENT: &str = include_str!("../../../tests/fixtures/events/scheduled-event.json");

/// Runs the real `daily-expiry-check` handler, as its schedule would.
async fn run_expiry_check(State(local): State<Arc<Local>>) -> Response {
    let mut event: serde_json::Value = match serde_json::from_str(SCHEDULED_EVENT) {
        Ok(event) => event,
        Err(e) => return internal(e.to_string()),
    };
    event["time"] = serde_json::json!(local.clock.now().to_rfc3339());
    let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
    match daily_expiry_check::handle(&local.app.service, event).await {
        Ok(report) => Json(report).into_response(),
        Err(daily_expiry_check::ExpiryCheckError::Service(e)) => problem(Problem::from(e)),
        Err(e) => problem(Problem::invalid("time", e.to_string())),
    }
}

/// The sample S3 ObjectCreated event `sam local generate-event s3 put` prints.
const S3_PUT_EVENT: &str = include_str!("../../../tests/fixtures/events/s3-put.json");

/// `PUT` of an upload URL: stores the file, then calls the real
/// `import-renewals` handler with the S3 event AWS would send.
async fn put_object(
    State(local): State<Arc<Local>>,
    axum::extract::Path((bucket, key)): axum::extract::Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(e) = local.objects.put(&bucket, &key, &body).await {
        return problem(Problem::invalid("key", e.to_string()));
    }
    // A content hash as the ETag, as S3's is for a single-part upload.
    let etag = format!(
        "{:016x}",
        body.iter()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b))
                .wrapping_mul(0x0100_0000_01b3))
    );
    let mut event: serde_json::Value = match serde_json::from_str(S3_PUT_EVENT) {
        Ok(event) => event,
        Err(e) => return internal(e.to_string()),
    };
    let record = &mut event["Records"][0]["s3"];
    record["bucket"]["name"] = serde_json::json!(bucket);
    record["bucket"]["arn"] = serde_json::json!(format!("arn:aws:s3:::{bucket}"));
    record["object"]["key"] = serde_json::json!(key);
    record["object"]["size"] = serde_json::json!(body.len());
    record["object"]["eTag"] = serde_json::json!(etag);
    let event = match serde_json::from_value(event) {
        Ok(event) => lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
        Err(e) => return internal(e.to_string()),
    };
    match import_renewals::handle(&local.app, event).await {
        Ok(outcomes) => (
            StatusCode::OK,
            [("etag", format!("\"{etag}\""))],
            Json(serde_json::json!({ "import_renewals": outcomes })),
        )
            .into_response(),
        Err(import_renewals::ImportError::Service(e)) => problem(Problem::from(e)),
        Err(e) => problem(Problem::invalid("key", e.to_string())),
    }
}

/// `/v1/*`: builds the API Gateway event Lambda would get and calls the
/// function that serves the route.
async fn api(
    State(local): State<Arc<Local>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Everything outside the API is the console's; it has no such page.
    if !uri.path().starts_with("/v1/") {
        return console::not_found_page().await;
    }
    let claims = match headers
        .get("authorization")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None => None,
        Some(value) => {
            let token = value.strip_prefix("Bearer ").unwrap_or_default().trim();
            let tokens = local.tokens.lock().unwrap_or_else(|p| p.into_inner());
            match tokens.get(token) {
                Some(claims) => Some(claims.clone()),
                None => {
                    return problem(Problem::unauthorized(
                        "the bearer token is not one /local/token issued",
                    ))
                }
            }
        }
    };
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return problem(Problem::invalid("body", "must be UTF-8 JSON"));
    };
    let call = HttpCall {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or_default(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body: (!body.is_empty()).then_some(body),
        claims,
    };
    let request = match local_event::request(&call) {
        Ok(request) => request,
        Err(e) => return problem(Problem::invalid("request", e.to_string())),
    };
    let response = dispatch(local.app(), &method, uri.path(), request).await;
    let (parts, body) = response.into_parts();
    let mut out = Response::new(AxumBody::from(body.to_vec()));
    *out.status_mut() = parts.status;
    *out.headers_mut() = parts.headers;
    out
}

/// Calls the function that serves `path`, as API Gateway's routes would.
pub async fn dispatch(
    app: &App,
    method: &Method,
    path: &str,
    request: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    // A path no function serves goes to any function: its edge answers 404 or 405.
    let function = match routes::lookup(method, path) {
        Lookup::Found(matched) => matched.spec.function,
        Lookup::MethodNotAllowed | Lookup::NotFound => routes::READ_API,
    };
    match function {
        routes::REQUEST_UPGRADE => request_upgrade::handle(app, request).await,
        routes::ASSIGN_ORDER => assign_order::handle(app, request).await,
        routes::ALLOCATE => allocate::handle(app, request).await,
        routes::ADMIN_API => admin_api::handle(app, request).await,
        _ => read_api::handle(app, request).await,
    }
}

#[cfg(test)]
mod host_tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_are_served() {
        for host in [
            "127.0.0.1:3000",
            "localhost",
            "LOCALHOST:80",
            "[::1]:3000",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "evil.example",
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "10.0.0.5:3000",
            "[::2]:80",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
