//! The HTTP edge every Seatkeeper function shares. A function's handler is
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

pub mod idempotency;
pub mod problem;
pub mod routes;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "local")]
pub mod local_event;
#[cfg(feature = "watch")]
pub mod watch;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use seatkeeper_core::ports::{Clock, ItemStore, Mailer, ObjectReader, UploadTarget};
use seatkeeper_core::types::{CompanyId, Email, PartnerId};
use seatkeeper_core::{Caller, Role, Seatkeeper};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::idempotency::Idempotency;
pub use crate::problem::Problem;
use crate::routes::{lookup, Lookup, Matched, RouteName};

/// The core service as the functions hold it: ports behind `Arc<dyn _>`, so
/// one handler type serves DynamoDB and SQLite alike.
pub type Service = Seatkeeper<Arc<dyn ItemStore>, Arc<dyn Clock>, Arc<dyn Mailer>>;

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
    pub fn new(
        service: Service,
        uploads: Arc<dyn UploadTarget>,
        objects: Arc<dyn ObjectReader>,
    ) -> Self {
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
}

impl Call {
    pub fn name(&self) -> RouteName {
        self.route.spec.route
    }

    /// The `n`th path parameter.
    pub fn param(&self, n: usize) -> &str {
        self.route.param(n)
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
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| Problem::invalid("body", e.to_string()))
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn ok(value: impl Serialize) -> Result<Self, Problem> {
        Self::with_status(StatusCode::OK, value)
    }

    pub fn created(value: impl Serialize) -> Result<Self, Problem> {
        Self::with_status(StatusCode::CREATED, value)
    }

    pub fn accepted(value: impl Serialize) -> Result<Self, Problem> {
        Self::with_status(StatusCode::ACCEPTED, value)
    }

    fn with_status(status: StatusCode, value: impl Serialize) -> Result<Self, Problem> {
        let body = serde_json::to_value(value).map_err(|e| {
            tracing::error!(error = %e, "a response did not serialise");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the response could not be written",
            )
        })?;
        Ok(Self { status, body })
    }
}

pub type Outcome = Result<Reply, Problem>;

/// Builds an HTTP response with a JSON body.
pub fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: &serde_json::Value,
) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub fn problem_response(problem: &Problem) -> Response<Body> {
    json_response(
        problem.status,
        problem::PROBLEM_CONTENT_TYPE,
        &problem.body(),
    )
}

fn outcome_response(outcome: &Outcome) -> Response<Body> {
    match outcome {
        Ok(reply) => json_response(reply.status, "application/json", &reply.body),
        Err(problem) => problem_response(problem),
    }
}

/// The caller, from the claims API Gateway's JWT authorizer put in the
/// request context. Without them the request is not signed in.
pub fn caller_from(request: &Request) -> Result<Caller, Problem> {
    let claims = match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| Cow::Borrowed(&jwt.claims)),
        _ => None,
    };
    // `cargo lambda watch` has no authorizer: the edge stands in for it.
    #[cfg(feature = "watch")]
    let claims = claims.or_else(|| watch::bearer_claims(request).map(Cow::Owned));
    let claims = claims
        .ok_or_else(|| Problem::unauthorized("no credentials: sign in and send a bearer token"))?;
    let claim = |name: &str| claims.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let user_id = claim("sub").ok_or_else(|| Problem::unauthorized("the token has no subject"))?;
    let email = claim("email")
        .and_then(|e| Email::parse(e).ok())
        .ok_or_else(|| Problem::unauthorized("the token has no valid e-mail"))?;
    let role = claim("custom:role")
        .and_then(Role::parse)
        .ok_or_else(|| Problem::unauthorized("the token carries no known role"))?;
    Ok(Caller {
        user_id: user_id.to_string(),
        email,
        role,
        company_id: claim("custom:company_id").and_then(|c| CompanyId::parse(c).ok()),
        partner_id: claim("custom:partner_id").and_then(|p| PartnerId::parse(p).ok()),
    })
}

fn query_of(request: &Request) -> HashMap<String, String> {
    let from_event = request.query_string_parameters();
    let mut query: HashMap<String, String> = from_event
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // Requests built by hand (tests, the local server) may carry the query only in the URI.
    if query.is_empty() {
        if let Some(raw) = request.uri().query() {
            for pair in raw.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                query.insert(percent_decode(k), percent_decode(v));
            }
        }
    }
    query
}

/// Decodes `%XX` and `+` in a query component.
pub fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .map(|hex| u8::from_str_radix(hex, 16))
                {
                    Ok(Ok(byte)) => {
                        out.push(byte);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
                match Idempotency::begin(&self.service, &caller, key, &path, &body).await {
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
            route,
            caller,
            body,
            idempotency,
        })
    }

    /// Everything after the use case: records the outcome for replays and
    /// answers.
    pub async fn finish(&self, call: Call, outcome: Outcome) -> Response<Body> {
        if let Some(claim) = call.idempotency {
            claim.finish(&self.service, &outcome).await;
        }
        outcome_response(&outcome)
    }
}

pub use lambda_http;

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
            let outcome = $route(app, &call).await;
            app.finish(call, outcome).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_are_decoded() {
        assert_eq!(percent_decode("a%40b.io"), "a@b.io");
        assert_eq!(percent_decode("x+y"), "x y");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
