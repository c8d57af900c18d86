//! The `daily-expiry-check` Lambda binary: config and clients once, then serve.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = seatkeeper_edge::aws::start().await?;
    run(service_fn(|event: LambdaEvent<Value>| {
        daily_expiry_check::handle(&app.service, event)
    }))
    .await
}
