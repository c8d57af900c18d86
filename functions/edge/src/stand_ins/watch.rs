//! What a function needs under `cargo lambda watch`, and never on Lambda
//! (the `watch` feature, which no deployed build turns on: see
//! infra/scripts/check-lambda-isolation.sh).
//!
//! - The emulator has no JWT authorizer, so [`with_bearer_claims`] reads the
//!   claims from the bearer token, *unverified*, and puts them in the
//!   request context where API Gateway puts them after verifying it, before
//!   the pipeline runs. `infra/scripts/watch-token.sh` mints such tokens.
//! - The environment picks the store: `SEATKEEPER_STORE=sqlite` (the
//!   default) or `dynamodb` (DynamoDB Local through the SDK's own
//!   `AWS_ENDPOINT_URL_DYNAMODB`; the table is created when missing).
//!   E-mail goes to the outbox file and uploads to files, under
//!   `SEATKEEPER_DATA_DIR` (default `data/watch`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use seatkeeper_adapters::dynamodb::{table, DynamoStore};
use seatkeeper_adapters::sqlite::SqliteStore;
use seatkeeper_core::ports::{ItemStore, SystemClock};

use crate::pipeline::App;
use crate::wiring::embedded::{self, Embedded};

const DEFAULT_DATA_DIR: &str = "data/watch";
const DEFAULT_BASE_URL: &str = "http://localhost:9000";
const DEFAULT_TABLE: &str = "seatkeeper";

#[derive(Debug, thiserror::Error)]
#[error("SEATKEEPER_STORE must be `sqlite` or `dynamodb`, not `{0}`")]
pub struct UnknownStore(String);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The app on the store the environment names.
pub async fn app() -> Result<App, lambda_http::Error> {
    let dir = PathBuf::from(env_or("SEATKEEPER_DATA_DIR", DEFAULT_DATA_DIR));
    embedded::data_dir(&dir)?;
    let store: Arc<dyn ItemStore> = match env_or("SEATKEEPER_STORE", "sqlite").as_str() {
        "sqlite" => Arc::new(SqliteStore::open(&embedded::sqlite_path(&dir))?),
        "dynamodb" => {
            let sdk = seatkeeper_adapters::aws_sdk::load_config().await;
            let client = aws_sdk_dynamodb::Client::new(&sdk);
            let name = env_or("TABLE_NAME", DEFAULT_TABLE);
            // Two functions may start at once: if the other one won the
            // race, the table is there and that is all this needs.
            if client
                .describe_table()
                .table_name(&name)
                .send()
                .await
                .is_err()
            {
                if let Err(e) = table::create_table(&client, &name).await {
                    tracing::warn!(error = %e, table = %name, "create_table failed");
                }
            }
            Arc::new(DynamoStore::new(client, name))
        }
        other => return Err(UnknownStore(other.to_string()).into()),
    };
    let base_url = env_or("APP_BASE_URL", DEFAULT_BASE_URL);
    Ok(Embedded::open(&dir, &base_url, store, Arc::new(SystemClock)).app)
}

/// `request` as API Gateway's JWT authorizer would hand it on: the bearer
/// token's claims in the request context. Without a JWT it is unchanged,
/// and the pipeline answers 401 as it would on AWS.
pub fn with_bearer_claims(request: Request) -> Request {
    let Some(claims) = bearer_claims(&request) else {
        return request;
    };
    let mut context = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.clone(),
        _ => ApiGatewayV2httpRequestContext::default(),
    };
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims = claims;
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    context.authorizer = Some(authorizer);
    request.with_request_context(RequestContext::ApiGatewayV2(context))
}

/// The claims in the request's bearer JWT, read without checking its
/// signature. Claims that are not strings keep their JSON text.
fn bearer_claims(request: &Request) -> Option<HashMap<String, String>> {
    let header = request.headers().get(http::header::AUTHORIZATION)?;
    let token = header.to_str().ok()?.strip_prefix("Bearer ")?.trim();
    let payload = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&json).ok()?;
    Some(
        claims
            .into_iter()
            .map(|(name, value)| match value {
                serde_json::Value::String(s) => (name, s),
                other => (name, other.to_string()),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_bearer(token: &str) -> Request {
        let mut request = Request::default();
        request.headers_mut().insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        request
    }

    fn jwt(payload: &str) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            engine.encode(r#"{"alg":"none"}"#),
            engine.encode(payload)
        )
    }

    #[test]
    fn claims_come_from_the_jwt_payload() {
        let token =
            jwt(r#"{"sub":"u1","email":"a@b.io","custom:role":"manager","email_verified":true}"#);
        let claims = bearer_claims(&with_bearer(&token)).unwrap();
        assert_eq!(claims["custom:role"], "manager");
        assert_eq!(claims["email"], "a@b.io");
        assert_eq!(claims["email_verified"], "true");
    }

    #[test]
    fn the_claims_reach_the_pipeline_as_the_authorizer_s() {
        let token =
            jwt(r#"{"sub":"u1","email":"a@b.io","custom:role":"manager","email_verified":true}"#);
        let caller = crate::caller_from(&with_bearer_claims(with_bearer(&token))).unwrap();
        assert_eq!(caller.user_id, "u1");
        assert_eq!(caller.email.to_string(), "a@b.io");
        let unsigned_in = with_bearer_claims(with_bearer("local-0123"));
        assert_eq!(crate::caller_from(&unsigned_in).unwrap_err().status, 401);
    }

    #[test]
    fn anything_but_a_jwt_gives_no_claims() {
        assert_eq!(bearer_claims(&Request::default()), None);
        assert_eq!(bearer_claims(&with_bearer("local-0123")), None);
        assert_eq!(bearer_claims(&with_bearer("a.!!!.c")), None);
        assert_eq!(bearer_claims(&with_bearer(&jwt("[1,2]"))), None);
    }
}
