//! `console`: Seatkeeper's web pages (docs/CONSOLE.md), rendered on the
//! server over the same core services the API's handlers call, with the
//! same caller (read from the session's claims as the API reads the JWT
//! authorizer's). Every action is a plain form POST, checked against the
//! session's CSRF token, answered 303 to the page to show next.
//!
//! - [`session`]: the sealed cookies (session, sign-in state, flash).
//! - [`cognito`]: sign-in on AWS (Hosted UI, code + PKCE, ID token check).
//! - `visitor`: who is asking, and the page chrome around every answer.
//! - `pages`: the routes and what each page shows.
//!
//! The local server's sign-in (a role picker) lives in the local server's
//! crate: no Lambda binary contains a way to sign in without Cognito.

pub mod cognito;
mod format;
#[cfg(feature = "aws")]
pub mod lambda;
mod pages;
pub mod session;
mod visitor;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use seatkeeper_edge::App;

pub use session::{Session, SessionKey};
pub use visitor::Visitor;

/// Where a visitor without a session is sent.
pub const SIGN_IN_PATH: &str = "/sign-in";
/// The console's one stylesheet, in the binary.
pub const STYLESHEET: &str = include_str!("../assets/console.css");

/// What every page handler reads: the app the API's functions run on, and
/// the key that seals the console's cookies.
pub struct Console {
    pub app: Arc<App>,
    pub key: SessionKey,
}

impl Console {
    pub fn new(app: Arc<App>, key: SessionKey) -> Arc<Self> {
        Arc::new(Self { app, key })
    }

    /// Signs `claims` in: a new session cookie, then home.
    pub fn start_session(&self, claims: BTreeMap<String, String>) -> Response {
        start_session(&self.key, claims)
    }
}

/// A new session for `claims`, sealed with `key`: its cookie, then home.
pub fn start_session(key: &SessionKey, claims: BTreeMap<String, String>) -> Response {
    let session = match Session::start(claims) {
        Ok(session) => session,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let sealed = key.seal(
        visitor::SESSION_PURPOSE,
        &session,
        session::now_seconds() + session::SESSION_SECONDS,
    );
    let mut response = see_other("/");
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::SESSION_COOKIE, &sealed, session::SESSION_SECONDS),
    );
    response
}

/// The console's routes (every page but sign-in, which its host adds).
pub fn router(console: Arc<Console>) -> Router {
    pages::routes().with_state(console)
}

/// `303 See Other` to `path`: the answer to every POST.
pub fn see_other(path: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(path) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The 404 page for a path the console does not have.
pub async fn not_found_page() -> Response {
    let page = bare_page(
        "Not found",
        maud::html! {
            h1 { "Not found" }
            p { "There is no page here. " a href="/" { "Go to the start" } "." }
        },
    );
    (
        StatusCode::NOT_FOUND,
        axum::response::Html(page.into_string()),
    )
        .into_response()
}

/// The 403 "Request refused" page, for a form without a valid token.
pub fn refused_page() -> Response {
    visitor::refused(None)
}

/// The `<head>` and skip link every page shares, around `body`: for pages
/// drawn before anyone is signed in (the hosts' sign-in pages).
pub fn bare_page(title: &str, body: maud::Markup) -> maud::Markup {
    visitor::document(title, None, body)
}
