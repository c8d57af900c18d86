//! What a use case answers, as the HTTP response: JSON, or problem+json.

use http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::problem::{self, Problem};

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn ok(value: impl Serialize) -> Result<Self, Problem> {
        Self::with_status(StatusCode::OK, value)
    }

    pub fn created(value: impl Serialize) -> Result<Self, Problem> {
        Self::with_status(StatusCode::CREATED, value)
    }

    /// A `PUT`'s answer: 201 when it made the resource, 200 when it changed it.
    pub fn created_or_ok(created: bool, value: impl Serialize) -> Result<Self, Problem> {
        if created {
            Self::created(value)
        } else {
            Self::ok(value)
        }
    }

    /// Long work's answer: 200 once `done`, 202 while it goes on (the
    /// body says how to follow or resume it).
    pub fn done_or_accepted(done: bool, value: impl Serialize) -> Result<Self, Problem> {
        if done {
            Self::ok(value)
        } else {
            Self::accepted(value)
        }
    }

    /// 204: done, nothing to say.
    pub fn no_content() -> Result<Self, Problem> {
        Ok(Self {
            status: StatusCode::NO_CONTENT,
            body: serde_json::Value::Null,
        })
    }

    pub fn accepted(value: impl Serialize) -> Result<Self, Problem> {
        Self::with_status(StatusCode::ACCEPTED, value)
    }

    fn with_status(status: StatusCode, value: impl Serialize) -> Result<Self, Problem> {
        let body = serde_json::to_value(value).map_err(|e| {
            tracing::error!(error = %e, "a response did not serialise");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the response could not be written",
            )
        })?;
        Ok(Self { status, body })
    }
}

pub type Outcome = Result<Reply, Problem>;

/// Builds an HTTP response with a JSON body.
pub fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: &serde_json::Value,
) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub fn problem_response(problem: &Problem) -> Response<Body> {
    json_response(
        problem.status,
        problem::PROBLEM_CONTENT_TYPE,
        &problem.body(),
    )
}

pub(super) fn outcome_response(outcome: &Outcome) -> Response<Body> {
    match outcome {
        Ok(reply) if reply.status == StatusCode::NO_CONTENT => {
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        Ok(reply) => json_response(reply.status, "application/json", &reply.body),
        Err(problem) => problem_response(problem),
    }
}
