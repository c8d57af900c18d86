//! The edge every Seatkeeper function shares, split by job:
//!
//! - [`pipeline`]: the HTTP request pipeline (route match, caller from the
//!   authorizer's claims, limits, idempotency, problem+json). It has no
//!   local branch: whatever runs it puts claims where API Gateway does.
//! - [`routes`]: the one route table the handlers, the local server, the
//!   template and OpenAPI tests and the watch router all read.
//! - `wiring`: the app on AWS (feature `aws`) or on the embedded stores
//!   (feature `embedded`).
//! - `stand_ins`: what stands in for API Gateway off AWS — events built from
//!   plain HTTP (feature `local`) and claims from a bearer token under
//!   `cargo lambda watch` (feature `watch`). Never in a deployed binary.

pub mod pipeline;
pub mod routes;
mod stand_ins;
mod wiring;

pub use lambda_http;
pub use pipeline::{
    caller_from, caller_from_claims, idempotency, json_response, parse_body, percent_decode,
    problem, problem_response, App, Call, Outcome, Problem, Reply, Service, FINISH_MARGIN,
    MAX_BODY_BYTES, WORK_BUDGET,
};
#[cfg(feature = "local")]
pub use stand_ins::local_event;
#[cfg(feature = "watch")]
pub use stand_ins::watch;
#[cfg(feature = "aws")]
pub use wiring::aws;
#[cfg(feature = "embedded")]
pub use wiring::embedded;
