//! The `admin-api` Lambda binary: config and clients once, then serve.

seatkeeper_edge::http_lambda_main!(admin_api::respond);
