//! The AWS wiring shared by every Lambda binary: typed config from the
//! environment, SDK clients built once per cold start, tracing.

use std::sync::Arc;

use seatkeeper_adapters::dynamodb::DynamoStore;
use seatkeeper_core::ports::{
    ItemStore, MailError, Mailer, ObjectError, ObjectReader, OutgoingEmail, SystemClock,
    UploadTarget,
};
use seatkeeper_core::service::Settings;
use seatkeeper_core::Seatkeeper;

use crate::pipeline::App;

/// The roots the functions trust for HTTPS: AWS endpoints, Cognito's among them.
pub use seatkeeper_adapters::aws_sdk::AMAZON_ROOTS;

/// What a function reads from its environment (set by template.yaml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    pub sender_email: String,
    pub configuration_set: Option<String>,
    pub app_base_url: String,
    pub imports_bucket: String,
    /// `WARM_CONNECTION=true`: one read during init, so that the first
    /// request does not pay the TLS handshake and credential lookup (#15).
    pub warm_connection: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} must be set")]
pub struct MissingVar(&'static str);

impl Config {
    pub fn from_env() -> Result<Self, MissingVar> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, MissingVar> {
        let required =
            |name: &'static str| get(name).filter(|v| !v.is_empty()).ok_or(MissingVar(name));
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            sender_email: required("SENDER_EMAIL")?,
            configuration_set: get("SES_CONFIGURATION_SET").filter(|v| !v.is_empty()),
            app_base_url: required("APP_BASE_URL")?,
            imports_bucket: required("IMPORTS_BUCKET")?,
            warm_connection: get("WARM_CONNECTION").is_some_and(|v| v == "true"),
        })
    }
}

/// Tracing, config and clients: everything a cold start does once. Under
/// `cargo lambda watch` (the `watch` feature) the app runs on the local
/// stand-ins instead: see `stand_ins::watch`.
pub async fn start() -> Result<App, lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    #[cfg(feature = "watch")]
    let app = crate::stand_ins::watch::app().await?;
    #[cfg(not(feature = "watch"))]
    let app = on_aws(Config::from_env()?).await;
    Ok(app)
}

/// The request as API Gateway hands it on. On Lambda the authorizer has put
/// the claims in already; under `cargo lambda watch` there is no authorizer,
/// so the stand-in puts them there, before the pipeline runs.
pub fn from_gateway(request: lambda_http::Request) -> lambda_http::Request {
    #[cfg(feature = "watch")]
    let request = crate::stand_ins::watch::with_bearer_claims(request);
    request
}

/// The `main` of an HTTP function's Lambda binary: start once, then serve
/// each request through the function's `respond` (from `http_function!`).
#[macro_export]
macro_rules! http_lambda_main {
    ($respond:path) => {
        #[tokio::main]
        async fn main() -> Result<(), $crate::lambda_http::Error> {
            let app = $crate::aws::start().await?;
            $crate::lambda_http::run($crate::lambda_http::service_fn(|request| {
                $respond(&app, $crate::aws::from_gateway(request))
            }))
            .await
        }
    };
}

/// The app on DynamoDB, plus SES and S3 where the function was built with
/// `aws-ses` or `aws-s3`; without them those ports refuse (see [`Unwired`]),
/// so a function neither links nor builds a client it does not use.
pub async fn on_aws(config: Config) -> App {
    let sdk = seatkeeper_adapters::aws_sdk::load_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name);
    if config.warm_connection {
        warm(&store).await;
    }
    #[cfg(feature = "aws-ses")]
    let mailer: Arc<dyn Mailer> = Arc::new(seatkeeper_adapters::ses::SesMailer::new(
        aws_sdk_sesv2::Client::new(&sdk),
        config.sender_email,
        config.configuration_set,
    ));
    #[cfg(not(feature = "aws-ses"))]
    let mailer: Arc<dyn Mailer> = Arc::new(Unwired);
    #[cfg(feature = "aws-s3")]
    let (uploads, objects): (Arc<dyn UploadTarget>, Arc<dyn ObjectReader>) = {
        let s3 = aws_sdk_s3::Client::new(&sdk);
        (
            Arc::new(seatkeeper_adapters::s3::S3Uploads::new(
                s3.clone(),
                config.imports_bucket,
            )),
            Arc::new(seatkeeper_adapters::s3::S3Objects::new(s3)),
        )
    };
    #[cfg(not(feature = "aws-s3"))]
    let (uploads, objects): (Arc<dyn UploadTarget>, Arc<dyn ObjectReader>) =
        (Arc::new(Unwired), Arc::new(Unwired));
    let settings = Settings {
        app_base_url: config.app_base_url,
    };
    let service = Seatkeeper::new(
        Arc::new(store) as _,
        Arc::new(SystemClock) as _,
        mailer,
        settings,
    );
    App::new(service, uploads, objects)
}

/// How long init waits for the warming read; past it the first request
/// pays the handshake, as it would without warming.
const WARM_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// One read of an item that never exists: it opens the connection (TCP,
/// TLS) and resolves the credentials while Lambda's init runs. Its answer
/// and any failure are of no interest; a real request reports its own.
async fn warm(store: &DynamoStore) {
    let key = seatkeeper_core::ports::Key {
        pk: "WARM".into(),
        sk: "WARM".into(),
    };
    let read = tokio::time::timeout(WARM_LIMIT, store.get(&key)).await;
    tracing::debug!(
        ok = matches!(read, Ok(Ok(_))),
        "warmed the store connection"
    );
}

/// The mailer, upload target and object reader of a function built without
/// that client: each call is refused as unavailable. No use case of such a
/// function reaches them (the features each function builds with are in
/// docs/DEPLOY.md).
#[derive(Debug, Clone, Copy)]
pub struct Unwired;

const UNWIRED: &str = "this function is built without that AWS client";

#[async_trait::async_trait]
impl Mailer for Unwired {
    async fn send(&self, _: &OutgoingEmail) -> Result<(), MailError> {
        Err(MailError::Unavailable(UNWIRED.into()))
    }
}

#[async_trait::async_trait]
impl UploadTarget for Unwired {
    fn bucket(&self) -> &str {
        ""
    }

    async fn upload_url(&self, _: &str, _: u64) -> Result<String, ObjectError> {
        Err(ObjectError::Unavailable(UNWIRED.into()))
    }

    async fn put(&self, _: &str, _: &[u8]) -> Result<(), ObjectError> {
        Err(ObjectError::Unavailable(UNWIRED.into()))
    }
}

#[async_trait::async_trait]
impl ObjectReader for Unwired {
    async fn size(&self, _: &str, _: &str) -> Result<u64, ObjectError> {
        Err(ObjectError::Unavailable(UNWIRED.into()))
    }

    async fn read_chunks(
        &self,
        _: &str,
        _: &str,
        _: &mut (dyn for<'c> FnMut(&'c [u8]) -> bool + Send),
    ) -> Result<(), ObjectError> {
        Err(ObjectError::Unavailable(UNWIRED.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_what_is_missing() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let missing = Config::from_lookup(env(&[("TABLE_NAME", "t")])).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "environment variable SENDER_EMAIL must be set"
        );
        let config = Config::from_lookup(env(&[
            ("TABLE_NAME", "t"),
            ("SENDER_EMAIL", "s@x.io"),
            ("APP_BASE_URL", "https://a"),
            ("IMPORTS_BUCKET", "imports"),
        ]))
        .unwrap();
        assert_eq!(config.configuration_set, None);
        assert!(!config.warm_connection);
    }
}
