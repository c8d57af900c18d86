//! The `assign-order` Lambda binary: config and clients once, then serve.

seatkeeper_edge::http_lambda_main!(assign_order::respond);
