//! `allocate`: Handing out seats: adding members and allocations.

use seatkeeper_core::service::Allocation;
use seatkeeper_edge::routes::{RouteName, ALLOCATE};
use seatkeeper_edge::{App, Call, Outcome, Problem, Reply};
use serde::Deserialize;

seatkeeper_edge::http_function!(ALLOCATE, route);

/// `{licence_type, emails: [...]}` or `{licence_type, all_expired: true}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllocationBody {
    licence_type: String,
    emails: Option<Vec<String>>,
    #[serde(default)]
    all_expired: bool,
}

impl AllocationBody {
    fn target(self) -> Result<(String, Allocation), Problem> {
        match (self.emails, self.all_expired) {
            (Some(emails), false) => Ok((self.licence_type, Allocation::Emails(emails))),
            (None, true) => Ok((self.licence_type, Allocation::AllExpired)),
            _ => Err(Problem::invalid(
                "emails",
                "give either emails or all_expired: true",
            )),
        }
    }
}

async fn route(app: &App, call: &Call) -> Outcome {
    let service = &app.service;
    let company = call.param(0);
    match call.name() {
        RouteName::AddMember => Reply::created(
            service
                .add_member(&call.caller, company, call.json()?)
                .await?,
        ),
        RouteName::Allocate => {
            let (licence_type, target) = call.json::<AllocationBody>()?.target()?;
            Reply::ok(
                service
                    .allocate(&call.caller, company, &licence_type, target)
                    .await?,
            )
        }
        _ => Err(Problem::not_found()),
    }
}
