//! The `read-api` Lambda binary: config and clients once, then serve.

seatkeeper_edge::http_lambda_main!(read_api::respond);
