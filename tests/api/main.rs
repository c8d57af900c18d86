//! The API end to end: over HTTP against the local server (the journeys, the
//! edge's promises, the authorisation matrix), and each function's handler
//! fed real API Gateway events directly.

mod admin;
mod authz;
mod chaos;
mod console;
mod handlers;
mod helpers;
mod imports;
mod journeys;
mod lifecycle;
