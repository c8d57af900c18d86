//! `assign-order`: Actioning orders: assign (invoice, seats) and cancel.

use seatkeeper_core::service::AssignRequest;
use seatkeeper_edge::routes::{RouteName, ASSIGN_ORDER};
use seatkeeper_edge::{App, Call, Outcome, Problem, Reply};

seatkeeper_edge::http_function!(ASSIGN_ORDER, route);

async fn route(app: &App, call: &Call) -> Outcome {
    let service = &app.service;
    let (company, order) = (&call.param(0), &call.param(1));
    match call.name() {
        RouteName::AssignOrder => {
            let body: AssignRequest = call.json()?;
            let assigned = service
                .assign_order(&call.caller, company, order, body.actioned_on.as_deref())
                .await?;
            Reply::ok(assigned)
        }
        RouteName::CancelOrder => {
            let order = service.cancel_order(&call.caller, company, order).await?;
            Reply::ok(serde_json::json!({ "order": order }))
        }
        _ => Err(Problem::not_found()),
    }
}
