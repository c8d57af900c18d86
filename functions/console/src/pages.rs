//! The console's pages (docs/CONSOLE.md): each reads or acts through the
//! core services with the visitor's caller, exactly as the API's handlers
//! do, so every rule (tenancy, roles, seats, prices) is the core's.

mod account;
mod companies;
mod imports;
mod members;
mod orders;
mod shared;

use std::sync::Arc;

use axum::extract::Form;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use seatkeeper_core::Role;

use crate::session::{clear_cookie, SESSION_COOKIE};
use crate::visitor::Visitor;
use crate::{see_other, Console, SIGN_IN_PATH, STYLESHEET};

/// The largest CSV the upload form takes; the import itself refuses files
/// over its own limit with a reason.
pub const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;

pub fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/", get(home))
        .route("/assets/console.css", get(stylesheet))
        .route("/sign-out", post(sign_out))
        .route("/upgrade", get(account::landing))
        .route("/renew", get(account::landing))
        .route("/companies", get(companies::list))
        .route("/orders", get(companies::queue))
        .route("/companies/{c}", get(account::account))
        .route("/companies/{c}/request", get(account::request))
        .route(
            "/companies/{c}/orders",
            get(orders::list).post(orders::submit),
        )
        .route("/companies/{c}/orders/{o}", get(orders::show))
        .route("/companies/{c}/orders/{o}/assign", post(orders::assign))
        .route("/companies/{c}/orders/{o}/cancel", post(orders::cancel))
        .route("/companies/{c}/members", get(members::list))
        .route("/companies/{c}/members/allocate", post(members::allocate))
        .route(
            "/companies/{c}/members/select-all",
            post(members::select_all),
        )
        .route("/companies/{c}/members/release", post(members::release))
        .route("/companies/{c}/members/add", post(members::add))
        .route("/companies/{c}/members/transfer", post(members::transfer))
        .route(
            "/companies/{c}/import",
            get(imports::start)
                .post(imports::upload)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/companies/{c}/import/{i}", get(imports::show))
        .route("/companies/{c}/import/{i}/preview", post(imports::preview))
        .route("/companies/{c}/import/{i}/confirm", post(imports::confirm))
        .route("/companies/{c}/audit", get(companies::audit))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Where a visitor starts: staff at the company list; a manager on their
/// company's page, or on `/upgrade` or `/renew` when `GET /v1/access`
/// would send them there.
async fn home(visitor: Result<Visitor, Response>) -> Response {
    let visitor = match visitor {
        Ok(visitor) => visitor,
        Err(_) => return see_other(SIGN_IN_PATH),
    };
    if visitor.is_staff() {
        return see_other("/companies");
    }
    let access = match visitor.app().service.access(&visitor.caller).await {
        Ok(access) => access,
        Err(e) => return visitor.fail(e),
    };
    match (&visitor.caller.company_id, access.redirect_to) {
        (_, Some(to)) => see_other(&to),
        (Some(company), None) if visitor.caller.role == Role::Manager => {
            see_other(&format!("/companies/{company}"))
        }
        _ => visitor.page(
            "Signed in",
            None,
            html! {
                h1 { "Signed in" }
                p { "You are signed in as " (visitor.caller.email) ". There is nothing here for your role to manage." }
            },
        ),
    }
}

/// Clears the session (a POST with the session's token, so another site
/// cannot sign a visitor out).
async fn sign_out(
    visitor: Result<Visitor, Response>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let Ok(visitor) = visitor else {
        return signed_out();
    };
    if !visitor.sent_by_us(&crate::visitor::Fields(fields)) {
        return crate::visitor::refused(Some(&visitor));
    }
    signed_out()
}

fn signed_out() -> Response {
    let mut response = see_other(SIGN_IN_PATH);
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(SESSION_COOKIE));
    response
}
