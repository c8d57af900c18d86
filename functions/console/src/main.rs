//! The `console` Lambda binary: config and clients once, then serve pages.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let console = console::lambda::start().await?;
    lambda_http::run(console).await
}
