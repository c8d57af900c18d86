//! Builds real API Gateway HTTP API (payload 2.0) events, from the sample
//! `sam local generate-event apigateway http-api-proxy` prints, with the
//! JWT authorizer's claims filled in, and turns them into the request a
//! function receives through `lambda_http`'s own conversion, as Lambda does.
//! The sample is decoded once; each call fills in a copy, so the local
//! server does not pay a JSON round trip per request (#15).
//! Compiled only with the `local` feature: never into a Lambda binary.

use std::collections::HashMap;
use std::sync::LazyLock;

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequest,
};
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method};
use lambda_http::request::LambdaRequest;
use lambda_http::Request;

/// The sample event, committed under tests/fixtures/events/.
pub const SAMPLE: &str = include_str!("../../../../tests/fixtures/events/http-api-proxy.json");

/// [`SAMPLE`] decoded, once.
static SAMPLE_EVENT: LazyLock<Result<ApiGatewayV2httpRequest, String>> =
    LazyLock::new(|| serde_json::from_str(SAMPLE).map_err(|e| e.to_string()));

/// An HTTP request as the local server or a test sees it.
#[derive(Debug, Clone, Default)]
pub struct HttpCall<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The authorizer's claims; `None` for an unauthenticated request.
    pub claims: Option<HashMap<String, String>>,
}

/// Why a call cannot be an API Gateway event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the sample event does not decode: {0}")]
    Sample(String),
    #[error("{0} is not an HTTP method")]
    Method(String),
    #[error("header {0} is not a valid HTTP header")]
    Header(String),
}

fn decoded(raw: &str) -> String {
    crate::pipeline::percent_decode(raw)
}

/// The event API Gateway would send for `call`.
pub fn event(call: &HttpCall<'_>) -> Result<ApiGatewayV2httpRequest, EventError> {
    let mut event = SAMPLE_EVENT
        .as_ref()
        .map_err(|e| EventError::Sample(e.clone()))?
        .clone();
    let method = Method::from_bytes(call.method.as_bytes())
        .map_err(|_| EventError::Method(call.method.into()))?;
    let mut headers = HeaderMap::with_capacity(call.headers.len());
    for (name, value) in &call.headers {
        let invalid = || EventError::Header(name.clone());
        headers.append(
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| invalid())?,
            HeaderValue::from_str(value).map_err(|_| invalid())?,
        );
    }
    // API Gateway joins repeated query parameters with commas.
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for pair in call.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query.entry(decoded(k)).or_default().push(decoded(v));
    }
    let query: HashMap<String, String> = query.into_iter().map(|(k, v)| (k, v.join(","))).collect();
    event.raw_path = Some(call.path.to_string());
    event.raw_query_string = Some(call.query.to_string());
    event.headers = headers;
    event.query_string_parameters = query.into();
    event.cookies = None;
    event.path_parameters = HashMap::new();
    event.stage_variables = HashMap::new();
    let context = &mut event.request_context;
    context.http.method = method;
    context.http.path = Some(call.path.to_string());
    context.http.source_ip = Some("127.0.0.1".to_string());
    context.route_key = Some(format!("{} {}", call.method, call.path));
    context.request_id = Some(uuid_like());
    context.authorizer = call.claims.as_ref().map(|claims| {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims.clone();
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        authorizer
    });
    event.body = call.body.clone();
    event.is_base64_encoded = false;
    Ok(event)
}

fn uuid_like() -> String {
    format!(
        "local-{:016x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    )
}

/// `call` as the `lambda_http::Request` a function receives.
pub fn request(call: &HttpCall<'_>) -> Result<Request, EventError> {
    Ok(Request::from(LambdaRequest::ApiGatewayV2(event(call)?)))
}

/// Claims as Cognito would put them in the token.
pub fn claims(
    sub: &str,
    email: &str,
    role: &str,
    company_id: Option<&str>,
    partner_id: Option<&str>,
) -> HashMap<String, String> {
    let mut claims = HashMap::from([
        ("sub".to_string(), sub.to_string()),
        ("email".to_string(), email.to_string()),
        ("custom:role".to_string(), role.to_string()),
        ("email_verified".to_string(), "true".to_string()),
    ]);
    if let Some(company) = company_id {
        claims.insert("custom:company_id".to_string(), company.to_string());
    }
    if let Some(partner) = partner_id {
        claims.insert("custom:partner_id".to_string(), partner.to_string());
    }
    claims
}
