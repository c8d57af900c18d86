//! `admin-api`: Administration: creating companies.

use seatkeeper_edge::routes::{RouteName, ADMIN_API};
use seatkeeper_edge::{App, Call, Outcome, Problem, Reply};

seatkeeper_edge::http_function!(ADMIN_API, route);

async fn route(app: &App, call: &Call) -> Outcome {
    match call.name() {
        RouteName::CreateCompany => Reply::created(
            app.service
                .create_company(&call.caller, call.json()?)
                .await?,
        ),
        _ => Err(Problem::not_found()),
    }
}
