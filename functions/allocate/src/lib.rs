//! `allocate`: Handing out seats: adding members and allocations.

use seatkeeper_core::csv_import::Limits;
use seatkeeper_core::model::ImportStatus;
use seatkeeper_core::service::{
    Allocation, AllocationRequest, ConfirmImportRequest, ImportRequest, JobStatus, ReleaseWhen,
    RepreviewRequest, TransferRequest,
};
use seatkeeper_edge::routes::{RouteName, ALLOCATE};
use seatkeeper_edge::{App, Call, Outcome, Problem, Reply};

seatkeeper_edge::http_function!(ALLOCATE, route);

async fn route(app: &App, call: &Call) -> Outcome {
    let service = &app.service;
    let company = &call.param(0);
    match call.name() {
        RouteName::AddMember => Reply::created(
            service
                .add_member(&call.caller, company, call.json()?)
                .await?,
        ),
        RouteName::Allocate => match call.json::<AllocationRequest>()?.target()? {
            (licence_type, Allocation::AllExpired) => {
                let selected = service
                    .allocate_all_expired(
                        &call.caller,
                        company,
                        &licence_type,
                        Some(call.deadline()),
                    )
                    .await?;
                let done = selected.progress.status == JobStatus::Completed;
                Reply::done_or_accepted(done, selected)
            }
            (licence_type, named) => Reply::ok(
                service
                    .allocate(&call.caller, company, &licence_type, named)
                    .await?,
            ),
        },
        RouteName::ResumeAllocation => {
            let progress = service
                .resume_allocation(&call.caller, company, &call.param(1), Some(call.deadline()))
                .await?;
            Reply::done_or_accepted(progress.status == JobStatus::Completed, progress)
        }
        RouteName::PreviewImport => {
            let body: RepreviewRequest = call.json()?;
            Reply::ok(
                service
                    .repreview_import(
                        &call.caller,
                        company,
                        &call.param(1),
                        &body.email_column,
                        app.objects.as_ref(),
                        app.uploads.bucket(),
                        Limits::default(),
                    )
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
            let confirmed = service
                .confirm_import(
                    &call.caller,
                    company,
                    &call.param(1),
                    &body.licence_type,
                    Some(call.deadline()),
                )
                .await?;
            Reply::done_or_accepted(confirmed.status == ImportStatus::Committed, confirmed)
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
