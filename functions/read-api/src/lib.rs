//! `read-api`: Reads: companies, partners, members, orders, the helpdesk
//! queue, the audit trail, and `GET /v1/access`.

use seatkeeper_core::service::JobStatus;
use seatkeeper_edge::routes::{RouteName, READ_API};
use seatkeeper_edge::{App, Call, Outcome, Problem, Reply};

seatkeeper_edge::http_function!(READ_API, route);

async fn route(app: &App, call: &Call) -> Outcome {
    let service = &app.service;
    let caller = &call.caller;
    let (id, cursor, limit) = (
        &call.param(0),
        call.query("cursor").map(str::to_string),
        call.query_u32("limit")?,
    );
    match call.name() {
        RouteName::GetCompany => Reply::ok(service.get_company(caller, id).await?),
        RouteName::ListPartnerCompanies => Reply::ok(
            service
                .list_partner_companies(caller, id, cursor, limit)
                .await?,
        ),
        RouteName::ListMembers => {
            let status = call.query("licence_status");
            Reply::ok(
                service
                    .list_members(caller, id, status, cursor, limit)
                    .await?,
            )
        }
        RouteName::ListOrders => Reply::ok(
            service
                .list_orders(caller, id, call.query("state"), cursor, limit)
                .await?,
        ),
        RouteName::GetOrder => {
            let order = service.get_order(caller, id, &call.param(1)).await?;
            Reply::ok(serde_json::json!({ "order": order }))
        }
        RouteName::GetImport => Reply::ok(service.get_import(caller, id, &call.param(1)).await?),
        RouteName::Access => Reply::ok(service.access(caller).await?),
        RouteName::GetPartner => Reply::ok(service.get_partner(caller, id).await?),
        RouteName::ListQueue => Reply::ok(
            service
                .list_queue(caller, call.query("state"), cursor, limit)
                .await?,
        ),
        RouteName::ListAudit => Reply::ok(service.list_audit(caller, id, cursor, limit).await?),
        RouteName::GetAllocation => {
            let progress = service.get_allocation(caller, id, &call.param(1)).await?;
            Reply::done_or_accepted(progress.status == JobStatus::Completed, progress)
        }
        _ => Err(Problem::not_found()),
    }
}
