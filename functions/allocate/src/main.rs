//! The `allocate` Lambda binary: config and clients once, then serve.

use seatkeeper_edge::lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = seatkeeper_edge::aws::start().await?;
    run(service_fn(|request| {
        allocate::respond(&app, seatkeeper_edge::aws::from_gateway(request))
    }))
    .await
}
