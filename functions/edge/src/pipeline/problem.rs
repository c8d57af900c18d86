//! Errors at the edge: RFC 9457 `application/problem+json` with a stable
//! `code`, and the one mapping from the core's errors to HTTP statuses.

use http::StatusCode;
use seatkeeper_core::ports::StoreError;
use seatkeeper_core::ServiceError;
use serde_json::{json, Map, Value};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// A problem to answer with.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Extra members, e.g. `needed` and `available`.
    pub extra: Map<String, Value>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            extra: Map::new(),
        }
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(name.to_string(), value.into());
        self
    }

    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "Validation failed",
            format!("{field}: {reason}"),
        )
        .with("field", field)
        .with("reason", reason)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Not signed in",
            detail,
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            "no such resource",
        )
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "type": format!("https://docs.seatkeeper.dev/problems/{}", self.code),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Value::Object(members) = &mut body {
            members.extend(self.extra.clone());
        }
        body
    }
}

fn emails(list: &[seatkeeper_core::types::Email]) -> Value {
    list.iter().map(|e| Value::from(e.as_str())).collect()
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        use StatusCode as S;
        let detail = error.to_string();
        let code = error.code();
        let conflict = |title| Problem::new(S::CONFLICT, code, title, detail.clone());
        match &error {
            ServiceError::Invalid(field) => Problem::invalid(&field.field, field.reason.clone()),
            ServiceError::NotFound { .. } => Problem::new(S::NOT_FOUND, code, "Not found", detail),
            ServiceError::Forbidden { .. } => Problem::new(S::FORBIDDEN, code, "Forbidden", detail),
            ServiceError::NoSeatsAvailable { needed, available } => {
                conflict("Not enough free seats")
                    .with("needed", *needed)
                    .with("available", *available)
            }
            ServiceError::OrderNotRequested { state } => {
                conflict("The order is no longer requested").with("state", state.as_str())
            }
            ServiceError::TermEnded { renews_on } => {
                conflict("The term has ended").with("renews_on", renews_on.to_string())
            }
            ServiceError::BelowMinimumSeats { minimum, requested } => {
                conflict("Below the minimum account size")
                    .with("minimum", *minimum)
                    .with("requested", *requested)
            }
            ServiceError::BelowAllocatedSeats {
                licence_type,
                allocated,
                requested,
                needed,
            } => conflict("Below the seats in use")
                .with("licence_type", licence_type.as_str())
                .with("allocated", *allocated)
                .with("requested", *requested)
                .with("needed", *needed),
            ServiceError::AlreadyRenewed { renews_on } => {
                conflict("Already renewed").with("renews_on", renews_on.map(|d| d.to_string()))
            }
            ServiceError::NoActiveLicence { email, .. } => {
                conflict("No active licence").with("email", email.as_str())
            }
            ServiceError::WrongLicencePolicy { email, policy, .. } => {
                conflict("Not possible for this licence")
                    .with("email", email.as_str())
                    .with("policy", *policy)
            }
            ServiceError::AlreadyReleased { email } => {
                conflict("Already released").with("email", email.as_str())
            }
            ServiceError::LastManager => conflict("The last manager"),
            ServiceError::LicenceTypeConflict {
                licence_type,
                field,
                stored,
            } => conflict("The licence type is set")
                .with("licence_type", licence_type.as_str())
                .with("field", *field)
                .with("stored", stored.as_str()),
            ServiceError::WrongPlan { .. } => conflict("The order does not fit the plan"),
            ServiceError::ImportNotPreviewed { status } => {
                conflict("The import is not previewed").with("import_status", status.as_str())
            }
            ServiceError::ImportNotPreviewable { status } => {
                conflict("The import cannot be previewed again")
                    .with("import_status", status.as_str())
            }
            ServiceError::ImportExpired { days } => {
                conflict("The import has expired").with("ttl_days", *days)
            }
            ServiceError::MemberExists { email } => {
                conflict("Already a member").with("email", email.as_str())
            }
            ServiceError::AlreadyActive { emails: list } => {
                conflict("Already licensed").with("emails", emails(list))
            }
            ServiceError::UnknownMembers { emails: list } => {
                Problem::new(S::BAD_REQUEST, code, "Not members of this company", detail)
                    .with("emails", emails(list))
            }
            ServiceError::Busy => Problem::new(S::SERVICE_UNAVAILABLE, code, "Busy", detail),
            ServiceError::Store(StoreError::Throttled) => {
                Problem::new(S::TOO_MANY_REQUESTS, code, "Throttled", detail)
            }
            ServiceError::Store(StoreError::InvalidCursor) => {
                Problem::invalid("cursor", "is not a cursor this list returned")
            }
            ServiceError::Store(_) => {
                tracing::error!(%error, "storage failed");
                Problem::new(
                    S::SERVICE_UNAVAILABLE,
                    code,
                    "Storage unavailable",
                    "the service could not reach its store; try again",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_seats_carries_needed_and_available() {
        let p = Problem::from(ServiceError::NoSeatsAvailable {
            needed: 5,
            available: 4,
        });
        let body = p.body();
        assert_eq!(p.status, StatusCode::CONFLICT);
        assert_eq!(body["code"], "no_seats_available");
        assert_eq!(
            (body["needed"].as_u64(), body["available"].as_u64()),
            (Some(5), Some(4))
        );
        assert_eq!(body["status"], 409);
    }

    #[test]
    fn validation_names_the_field() {
        let body = Problem::from(ServiceError::invalid(
            "emails[2]",
            "is not an e-mail address",
        ))
        .body();
        assert_eq!(body["field"], "emails[2]");
        assert_eq!(body["code"], "validation_failed");
    }
}
