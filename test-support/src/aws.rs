//! The AWS SDK's configuration for an emulator, shared by every service's
//! client: `aws_sdk_x::Client::new(&emulator_config(url))`, or
//! `aws_sdk_x::config::Builder::from(&emulator_config(url))` to add to it.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

/// Static test credentials in us-east-1, at `endpoint`.
pub fn emulator_config(endpoint: impl Into<String>) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "static",
        )))
        // A hung server fails the test instead of hanging it.
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build()
}
