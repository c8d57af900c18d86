//! `admin-api`: Administration: companies, their licence types, partners.

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
        RouteName::UpdateCompany => Reply::ok(
            app.service
                .update_company(&call.caller, &call.param(0), call.json()?)
                .await?,
        ),
        RouteName::PutLicenceType => {
            let (pool, added) = app
                .service
                .put_licence_type(&call.caller, &call.param(0), &call.param(1), call.json()?)
                .await?;
            Reply::created_or_ok(added, pool)
        }
        RouteName::PutPartner => {
            let (partner, added) = app
                .service
                .put_partner(&call.caller, &call.param(0), call.json()?)
                .await?;
            Reply::created_or_ok(added, partner)
        }
        _ => Err(Problem::not_found()),
    }
}
