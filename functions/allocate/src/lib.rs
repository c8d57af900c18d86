//! `allocate`: Handing out seats: adding members and allocations.

use seatkeeper_core::model::ImportStatus;
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

/// `POST .../imports` takes the e-mail column's name, if the manager knows it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    email_column: Option<String>,
}

/// `POST .../imports/{i}/confirm` names the licence type to renew.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    licence_type: String,
}

/// A confirm stops this long before API Gateway's 29 s limit and answers
/// 202; confirming again resumes it.
const CONFIRM_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

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
        RouteName::CreateImport => {
            let body: ImportBody = call.json()?;
            Reply::created(
                service
                    .create_import(
                        &call.caller,
                        company,
                        body.email_column,
                        app.uploads.as_ref(),
                    )
                    .await?,
            )
        }
        RouteName::ConfirmImport => {
            let body: ConfirmBody = call.json()?;
            let deadline = std::time::Instant::now() + CONFIRM_BUDGET;
            let confirmed = service
                .confirm_import(
                    &call.caller,
                    company,
                    call.param(1),
                    &body.licence_type,
                    Some(deadline),
                )
                .await?;
            match confirmed.status {
                ImportStatus::Committed => Reply::ok(confirmed),
                _ => Reply::accepted(confirmed),
            }
        }
        _ => Err(Problem::not_found()),
    }
}
