//! The request pipeline every HTTP function shares. A function's handler is
//!
//! ```ignore
//! let call = match app.begin(FUNCTION, request).await { Ok(c) => c, Err(r) => return r };
//! let result = route(app, &call).await; // calls a core service
//! app.finish(call, result).await
//! ```
//!
//! `begin` matches the route, reads the caller from the JWT authorizer's
//! claims, bounds the body and honours `Idempotency-Key`; `finish` turns the
//! result into JSON or problem+json and records it for replays.

mod claims;
pub mod idempotency;
mod outcome;
pub mod problem;
mod query;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use seatkeeper_core::ports::{Clock, ItemStore, Mailer, ObjectReader, UploadTarget};
use seatkeeper_core::{Caller, Seatkeeper};
use serde::de::DeserializeOwned;

use crate::routes::{lookup, Lookup, Matched, RouteName};
pub use claims::{caller_from, caller_from_claims};
use idempotency::Idempotency;
use outcome::outcome_response;
pub use outcome::{json_response, problem_response, Outcome, Reply};
pub use problem::Problem;
use query::query_of;
pub use query::{percent_decode, percent_decode_path};

/// The core service as the functions hold it: ports behind `Arc<dyn _>`, so
/// one handler type serves DynamoDB and SQLite alike.
pub type Service = Seatkeeper<Arc<dyn ItemStore>, Arc<dyn Clock>, Arc<dyn Mailer>>;

/// The longest a request works before it answers 202 and leaves the rest
/// to a resume (a confirm, a Select All): well inside API Gateway's 30 s
/// integration limit.
pub const WORK_BUDGET: Duration = Duration::from_secs(20);
/// Kept back from the Lambda's own deadline to record the answer for
/// idempotent replays and reply.
pub const FINISH_MARGIN: Duration = Duration::from_secs(3);

/// Largest request body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub struct App {
    pub service: Service,
    /// Where CSV uploads go (presigned S3 PUTs; the local server's store).
    pub uploads: Arc<dyn UploadTarget>,
    /// Where they are read back from.
    pub objects: Arc<dyn ObjectReader>,
}

impl App {
    /// The app on `service`'s ports, its store seen through
    /// [`idempotency::MarkingStore`] so that a request's change carries its
    /// key's mark.
    pub fn new(
        service: Service,
        uploads: Arc<dyn UploadTarget>,
        objects: Arc<dyn ObjectReader>,
    ) -> Self {
        let store = Arc::new(idempotency::MarkingStore::new(service.store().clone()));
        let service = Seatkeeper::new(
            store as Arc<dyn ItemStore>,
            service.clock().clone(),
            service.mailer().clone(),
            service.settings().clone(),
        );
        Self {
            service,
            uploads,
            objects,
        }
    }
}

/// A request that passed the edge's checks.
pub struct Call {
    pub route: Matched,
    pub caller: Caller,
    body: Vec<u8>,
    query: HashMap<String, String>,
    idempotency: Option<Idempotency>,
    deadline: Instant,
}

impl Call {
    pub fn name(&self) -> RouteName {
        self.route.spec.route
    }

    /// The write that marks the request's `Idempotency-Key` as applied,
    /// if it has one.
    pub fn effect_mark(&self) -> Option<seatkeeper_core::ports::Write> {
        self.idempotency.as_ref().and_then(Idempotency::effect_mark)
    }

    /// When long work stops and answers 202: [`WORK_BUDGET`] after the
    /// request came, or [`FINISH_MARGIN`] before the Lambda's own deadline,
    /// whichever is sooner.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The `n`th path parameter, percent-decoded.
    pub fn param(&self, n: usize) -> String {
        query::percent_decode_path(self.route.param(n))
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// A whole-number query parameter.
    pub fn query_u32(&self, name: &str) -> Result<Option<u32>, Problem> {
        self.query(name)
            .map(|raw| {
                raw.parse()
                    .map_err(|_| Problem::invalid(name, "must be a whole number"))
            })
            .transpose()
    }

    pub fn required_query(&self, name: &str) -> Result<&str, Problem> {
        self.query(name)
            .ok_or_else(|| Problem::invalid(name, "is required"))
    }

    /// The body as JSON of type `T`; an empty body reads as `{}`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        parse_body(&self.body)
    }
}

/// What [`Call::json`] does with a body: JSON of type `T`, an empty (or
/// all white space) body read as `{}`, anything else a 400. Public so that
/// the fuzzer (fuzz/) drives exactly this without building a request.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| Problem::invalid("body", e.to_string()))
}

impl App {
    /// Everything before the use case. `Err` is the response to send now.
    pub async fn begin(&self, function: &str, request: Request) -> Result<Call, Response<Body>> {
        let route = match lookup(request.method(), request.uri().path()) {
            Lookup::Found(route) if route.spec.function == function => route,
            Lookup::Found(_) | Lookup::NotFound => {
                return Err(problem_response(&Problem::not_found()))
            }
            Lookup::MethodNotAllowed => {
                return Err(problem_response(&Problem::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "Method not allowed",
                    format!("{} is not served on this path", request.method()),
                )))
            }
        };
        let caller = caller_from(&request).map_err(|p| problem_response(&p))?;
        // A role that may never act here learns nothing of the body's shape.
        if let Some(action) = route.spec.action {
            caller
                .require(action)
                .map_err(|e| problem_response(&Problem::from(e)))?;
        }
        let body = request.body().as_ref().to_vec();
        if body.len() > MAX_BODY_BYTES {
            return Err(problem_response(&Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Body too large",
                format!("bodies are limited to {MAX_BODY_BYTES} bytes"),
            )));
        }
        let idempotency = match request.headers().get("idempotency-key") {
            Some(key) if request.method() == http::Method::POST => {
                let key = key.to_str().unwrap_or_default();
                let path = request.uri().path().to_string();
                let claim = idempotency::Claim {
                    key,
                    path: &path,
                    body: &body,
                    resumable: crate::routes::resumes_its_job(route.spec.route),
                };
                match Idempotency::begin(
                    &**self.service.store(),
                    self.service.clock().now(),
                    &caller,
                    &claim,
                )
                .await
                {
                    Ok(idempotency::Begun::Fresh(claim)) => Some(claim),
                    Ok(idempotency::Begun::Replay(outcome)) => {
                        let mut response = outcome_response(&outcome);
                        response
                            .headers_mut()
                            .insert("idempotency-replayed", HeaderValue::from_static("true"));
                        return Err(response);
                    }
                    Err(problem) => return Err(problem_response(&problem)),
                }
            }
            _ => None,
        };
        Ok(Call {
            query: query_of(&request),
            deadline: deadline_of(&request, Instant::now()),
            route,
            caller,
            body,
            idempotency,
        })
    }

    /// Everything after the use case: records the outcome for replays and
    /// answers. `marked`: the use case's change carried the key's mark.
    pub async fn finish(&self, call: Call, outcome: Outcome, marked: bool) -> Response<Body> {
        if let Some(claim) = call.idempotency {
            claim
                .finish(&**self.service.store(), &outcome, marked)
                .await;
        }
        outcome_response(&outcome)
    }
}

/// The work deadline of a request that came at `now`: the budget, cut
/// short by the Lambda context's deadline (epoch milliseconds) if sooner.
fn deadline_of(request: &Request, now: Instant) -> Instant {
    let budget = now + WORK_BUDGET;
    let Some(context) = request.lambda_context_ref() else {
        return budget; // the local server: no Lambda, no other limit
    };
    let epoch_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(context.deadline.saturating_sub(epoch_ms));
    budget.min(now + left.saturating_sub(FINISH_MARGIN))
}

/// Defines a function's `handle` (for tests and the local server) and
/// `respond` (for `lambda_http::run`) around its `route` function, so every
/// function shares one request pipeline.
#[macro_export]
macro_rules! http_function {
    ($function:expr, $route:path) => {
        /// Handles one API Gateway (HTTP API, payload 2.0) request.
        pub async fn handle(
            app: &$crate::App,
            request: $crate::lambda_http::Request,
        ) -> $crate::lambda_http::Response<$crate::lambda_http::Body> {
            let call = match app.begin($function, request).await {
                Ok(call) => call,
                Err(response) => return response,
            };
            // The use case's first change is bound to the request's key.
            let (outcome, marked) =
                $crate::idempotency::with_effect_mark(call.effect_mark(), $route(app, &call)).await;
            app.finish(call, outcome, marked).await
        }

        /// `handle` as `lambda_http::run` wants it: it never fails.
        pub async fn respond(
            app: &$crate::App,
            request: $crate::lambda_http::Request,
        ) -> Result<
            $crate::lambda_http::Response<$crate::lambda_http::Body>,
            std::convert::Infallible,
        > {
            Ok(handle(app, request).await)
        }
    };
}
