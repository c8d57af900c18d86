//! The AWS SDK's configuration for a deployed function: the defaults
//! (credentials and region from the Lambda environment) on one HTTPS
//! client that every service client shares.
//!
//! The client is rustls on `ring`, trusting only Amazon Trust Services'
//! roots, the CAs AWS service endpoints are issued from. The SDK's default
//! client instead links `aws-lc` beside `ring` (another TLS crypto library,
//! megabytes of binary) and reads and parses every root certificate the
//! system has at start, which was most of a cold start's extra time (#15).

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;

/// Amazon Root CA 1 to 4 and Starfield Services Root CA G2, in PEM.
pub const AMAZON_ROOTS: &[u8] = include_bytes!("amazon-trust-services-roots.pem");

/// The HTTPS client every SDK client of a function uses.
pub fn https_client() -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_ROOTS);
    let builder = Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building the context checks nothing today; were it to fail, the
        // default trust store still verifies every endpoint.
        Err(_) => builder.build_https(),
    }
}

/// The SDK's defaults from the environment, on [`https_client`].
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use seatkeeper_test_support::aws::emulator_config;
    use seatkeeper_test_support::emulator::DYNAMODB_LOCAL;

    use super::*;

    /// The functions' client carries a DynamoDB call end to end (DynamoDB
    /// Local speaks plain HTTP, so this is the client without its TLS).
    #[tokio::test]
    async fn the_functions_client_reaches_dynamodb() {
        let endpoint = DYNAMODB_LOCAL.get().await.endpoint();
        let config = aws_sdk_dynamodb::config::Builder::from(&emulator_config(endpoint))
            .http_client(https_client())
            .build();
        let tables = aws_sdk_dynamodb::Client::from_conf(config)
            .list_tables()
            .send()
            .await;
        assert!(tables.is_ok(), "{tables:?}");
    }
}
