//! `request-upgrade`: quotes and order requests: `GET /quote`, `POST /quotes`, `POST /orders`.

use seatkeeper_core::model::OrderKind;
use seatkeeper_edge::routes::{RouteName, REQUEST_UPGRADE};
use seatkeeper_edge::{App, Call, Outcome, Problem, Reply};

seatkeeper_edge::http_function!(REQUEST_UPGRADE, route);

async fn route(app: &App, call: &Call) -> Outcome {
    let service = &app.service;
    let company = &call.param(0);
    match call.name() {
        RouteName::Quote => {
            let licence_type = call.required_query("licence_type")?;
            let quantity = call
                .query_u32("quantity")?
                .ok_or_else(|| Problem::invalid("quantity", "is required"))?;
            let kind = call
                .query("kind")
                .map(|raw| {
                    serde_json::from_value::<OrderKind>(raw.into()).map_err(|_| {
                        Problem::invalid("kind", "must be upgrade, renewal or trial_conversion")
                    })
                })
                .transpose()?;
            Reply::ok(
                service
                    .quote(&call.caller, company, licence_type, quantity, kind)
                    .await?,
            )
        }
        RouteName::RequestOrder => {
            let order = service
                .request_order(&call.caller, company, call.json()?)
                .await?;
            Reply::created(serde_json::json!({ "order": order }))
        }
        RouteName::QuoteOrder => Reply::ok(
            service
                .quote_order(&call.caller, company, &call.json()?)
                .await?,
        ),
        _ => Err(Problem::not_found()),
    }
}
