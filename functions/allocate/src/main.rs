//! The `allocate` Lambda binary: config and clients once, then serve.

seatkeeper_edge::http_lambda_main!(allocate::respond);
