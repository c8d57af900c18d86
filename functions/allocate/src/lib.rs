//! `allocate`: Handing out seats: adding members and allocations.

use seatkeeper_core::model::ImportStatus;
use seatkeeper_core::service::{
    AllocationRequest, ConfirmImportRequest, ImportRequest, ReleaseWhen, TransferRequest,
};
use seatkeeper_edge::routes::{RouteName, ALLOCATE};
use seatkeeper_edge::{App, Call, Outcome, Problem, Reply};

seatkeeper_edge::http_function!(ALLOCATE, route);

/// A confirm stops this long before API Gateway's 29 s limit and answers
/// 202; confirming again resumes it.
const CONFIRM_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

async fn route(app: &App, call: &Call) -> Outcome {
    let service = &app.service;
    let company = &call.param(0);
    match call.name() {
        RouteName::AddMember => Reply::created(
            service
                .add_member(&call.caller, company, call.json()?)
                .await?,
        ),
        RouteName::Allocate => {
            let (licence_type, target) = call.json::<AllocationRequest>()?.target()?;
            Reply::ok(
                service
                    .allocate(&call.caller, company, &licence_type, target)
                    .await?,
            )
        }
        RouteName::CreateImport => {
            let body: ImportRequest = call.json()?;
            Reply::created(
                service
                    .create_import(
                        &call.caller,
                        company,
                        body.email_column,
                        body.licence_type,
                        app.uploads.as_ref(),
                    )
                    .await?,
            )
        }
        RouteName::ConfirmImport => {
            let body: ConfirmImportRequest = call.json()?;
            let deadline = std::time::Instant::now() + CONFIRM_BUDGET;
            let confirmed = service
                .confirm_import(
                    &call.caller,
                    company,
                    &call.param(1),
                    &body.licence_type,
                    Some(deadline),
                )
                .await?;
            match confirmed.status {
                ImportStatus::Committed => Reply::ok(confirmed),
                _ => Reply::accepted(confirmed),
            }
        }
        RouteName::ReleaseLicence => {
            let when = ReleaseWhen::parse(call.query("effective"))?;
            Reply::ok(
                service
                    .release_licence(&call.caller, company, &call.param(1), when)
                    .await?,
            )
        }
        RouteName::TransferLicence => {
            let body: TransferRequest = call.json()?;
            Reply::ok(
                service
                    .transfer_licence(&call.caller, company, &call.param(1), &body.to_email)
                    .await?,
            )
        }
        RouteName::UpdateMember => Reply::ok(
            service
                .update_member(&call.caller, company, &call.param(1), call.json()?)
                .await?,
        ),
        RouteName::RemoveMember => {
            service
                .remove_member(&call.caller, company, &call.param(1))
                .await?;
            Reply::no_content()
        }
        _ => Err(Problem::not_found()),
    }
}
