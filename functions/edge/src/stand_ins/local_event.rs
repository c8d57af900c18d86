//! Builds real API Gateway HTTP API (payload 2.0) events, from the sample
//! `sam local generate-event apigateway http-api-proxy` prints, with the
//! JWT authorizer's claims filled in. The local server and the handler tests
//! feed them through `lambda_http`'s own parsing, just as Lambda does.
//! Compiled only with the `local` feature: never into a Lambda binary.

use std::collections::HashMap;

use lambda_http::Request;
use serde_json::{json, Value};

/// The sample event, committed under tests/fixtures/events/.
pub const SAMPLE: &str = include_str!("../../../../tests/fixtures/events/http-api-proxy.json");

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

fn decoded(raw: &str) -> String {
    crate::pipeline::percent_decode(raw)
}

/// The event API Gateway would send for `call`.
pub fn event(call: &HttpCall<'_>) -> Result<Value, serde_json::Error> {
    let mut event: Value = serde_json::from_str(SAMPLE)?;
    let mut headers = serde_json::Map::new();
    for (name, value) in &call.headers {
        headers.insert(name.to_ascii_lowercase(), Value::from(value.as_str()));
    }
    // API Gateway joins repeated query parameters with commas.
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for pair in call.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query.entry(decoded(k)).or_default().push(decoded(v));
    }
    let query: serde_json::Map<String, Value> = query
        .into_iter()
        .map(|(k, v)| (k, Value::from(v.join(","))))
        .collect();
    event["rawPath"] = json!(call.path);
    event["rawQueryString"] = json!(call.query);
    event["headers"] = Value::Object(headers);
    event["queryStringParameters"] = if query.is_empty() {
        Value::Null
    } else {
        Value::Object(query)
    };
    event["requestContext"]["http"]["method"] = json!(call.method);
    event["requestContext"]["http"]["path"] = json!(call.path);
    event["requestContext"]["http"]["sourceIp"] = json!("127.0.0.1");
    event["requestContext"]["routeKey"] = json!(format!("{} {}", call.method, call.path));
    event["requestContext"]["requestId"] = json!(uuid_like());
    match &call.claims {
        Some(claims) => event["requestContext"]["authorizer"]["jwt"]["claims"] = json!(claims),
        None => {
            if let Some(context) = event["requestContext"].as_object_mut() {
                context.remove("authorizer");
            }
        }
    }
    if let Some(object) = event.as_object_mut() {
        for gone in ["cookies", "pathParameters", "stageVariables"] {
            object.remove(gone);
        }
    }
    event["body"] = call.body.as_deref().map_or(Value::Null, Value::from);
    event["isBase64Encoded"] = json!(false);
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
pub fn request(call: &HttpCall<'_>) -> Result<Request, serde_json::Error> {
    let event = event(call)?;
    lambda_http::request::from_str(&event.to_string())
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
