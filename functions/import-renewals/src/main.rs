//! The `import-renewals` Lambda binary: config and clients once, then serve.

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = seatkeeper_edge::aws::start().await?;
    run(service_fn(|event: LambdaEvent<S3Event>| {
        import_renewals::handle(&app, event)
    }))
    .await
}
