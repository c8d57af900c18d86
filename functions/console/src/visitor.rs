//! Who is asking (from the session cookie), and the chrome every page has:
//! `lang`, a skip link, the navigation, "Sign out", the acting banner, the
//! one-shot message of the last action, and one `<main>` with one `<h1>`.

use std::sync::Arc;

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use seatkeeper_core::model::Company;
use seatkeeper_core::{Caller, Role, ServiceError};
use seatkeeper_edge::{caller_from_claims, Problem};
use serde::{Deserialize, Serialize};

use crate::session::{
    clear_cookie, cookie, now_seconds, set_cookie, Session, FLASH_COOKIE, SESSION_COOKIE,
};
use crate::{see_other, Console, SIGN_IN_PATH};

pub(crate) const SESSION_PURPOSE: &str = "session";
const FLASH_PURPOSE: &str = "flash";
/// A flash lives long enough for the redirect it rides on.
const FLASH_SECONDS: i64 = 120;

/// The outcome of the last action, shown once on the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub error: bool,
    pub text: String,
}

/// A signed-in visitor.
pub struct Visitor {
    pub caller: Caller,
    pub session: Session,
    console: Arc<Console>,
    flash: Option<Flash>,
}

impl FromRequestParts<Arc<Console>> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        let now = now_seconds();
        let session: Option<Session> = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|sealed| console.key.open(SESSION_PURPOSE, sealed, now));
        let Some(session) = session else {
            return Err(see_other(SIGN_IN_PATH));
        };
        let caller = caller_from_claims(|name| session.claims.get(name).map(String::as_str))
            .map_err(|_| see_other(SIGN_IN_PATH))?;
        let flash = cookie(&parts.headers, FLASH_COOKIE)
            .and_then(|sealed| console.key.open(FLASH_PURPOSE, sealed, now));
        Ok(Self {
            caller,
            session,
            console: console.clone(),
            flash,
        })
    }
}

/// A form POST from a signed-in visitor whose `csrf` field is the
/// session's token; anything else is the 403 "Request refused" page.
/// Must be a handler's last argument (it reads the body).
pub struct Submission {
    pub visitor: Visitor,
    pub fields: Fields,
}

impl FromRequest<Arc<Console>> for Submission {
    type Rejection = Response;

    async fn from_request(request: Request, console: &Arc<Console>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, console)
            .await
            .map_err(|_| refused(None))?;
        let request = Request::from_parts(parts, body);
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(request, console)
            .await
            .map_err(|_| refused(Some(&visitor)))?;
        let fields = Fields(fields);
        if !visitor.sent_by_us(&fields) {
            return Err(refused(Some(&visitor)));
        }
        Ok(Self { visitor, fields })
    }
}

/// A form's fields, repeated names kept (the Licences table's `email`).
#[derive(Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The field, trimmed, or "" when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().trim().to_string()
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// The whole document around `main`: for every page, signed in or not.
pub(crate) fn document(title: &str, nav: Option<Markup>, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Seatkeeper" }
                link rel="stylesheet" href="/assets/console.css";
            }
            body {
                a.skip href="#main" { "Skip to main content" }
                header.top {
                    span.brand { "Seatkeeper" }
                    @if let Some(nav) = nav { (nav) }
                }
                main #main tabindex="-1" { (main) }
            }
        }
    }
}

impl Visitor {
    pub fn app(&self) -> &seatkeeper_edge::App {
        &self.console.app
    }

    pub fn is_staff(&self) -> bool {
        matches!(self.caller.role, Role::AccountManager | Role::PartnerAdmin)
    }

    /// The hidden CSRF field every form carries.
    pub fn csrf(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf); }
    }

    /// A POST form to `action` with the CSRF field and `body`.
    pub fn form(&self, action: &str, body: Markup) -> Markup {
        html! { form method="post" action=(action) { (self.csrf()) (body) } }
    }

    fn nav(&self) -> Markup {
        html! {
            nav aria-label="Main" {
                ul {
                    @if self.is_staff() {
                        li { a href="/companies" { "Companies" } }
                        li { a href="/orders?state=requested" { "Helpdesk queue" } }
                    } @else if let Some(company) = &self.caller.company_id {
                        li { a href={ "/companies/" (company) } { "Account" } }
                    }
                }
            }
            span.who { (self.caller.email) " (" (self.caller.role.as_str()) ")" }
            (self.form("/sign-out", html! { button type="submit" { "Sign out" } }))
        }
    }

    /// A page: `main` in the chrome, with the acting banner when staff are
    /// on a company's page, and the last action's message once.
    pub fn page(&self, title: &str, acting: Option<&Company>, main: Markup) -> Response {
        self.page_with_status(StatusCode::OK, title, acting, main)
    }

    pub fn page_with_status(
        &self,
        status: StatusCode,
        title: &str,
        acting: Option<&Company>,
        main: Markup,
    ) -> Response {
        let main = html! {
            @if let (true, Some(company)) = (self.is_staff(), acting) {
                div.banner role="status" {
                    "Managing " (company.name) " "
                    a href="/companies" { "All companies" }
                }
            }
            @if let Some(flash) = &self.flash {
                @if flash.error {
                    p.alert role="alert" { (flash.text) }
                } @else {
                    p.done role="status" { (flash.text) }
                }
            }
            (main)
        };
        let mut response = (
            status,
            axum::response::Html(document(title, Some(self.nav()), main).into_string()),
        )
            .into_response();
        if self.flash.is_some() {
            response
                .headers_mut()
                .append(header::SET_COOKIE, clear_cookie(FLASH_COOKIE));
        }
        response
    }

    /// The page for a core error on a GET: a foreign or missing company is
    /// "Not found" (404), never a 403 that says it exists.
    pub fn fail(&self, error: ServiceError) -> Response {
        let problem = Problem::from(error);
        let title = if problem.status == StatusCode::NOT_FOUND {
            "Not found"
        } else {
            problem.title
        };
        self.page_with_status(
            problem.status,
            title,
            None,
            html! {
                h1 { (title) }
                p role="alert" { (problem.detail) }
                p { a href="/" { "Back to the start" } }
            },
        )
    }

    /// Whether the form's `csrf` field is this session's token.
    pub fn sent_by_us(&self, fields: &Fields) -> bool {
        self.session.csrf_matches(fields.get("csrf"))
    }

    /// After an action: 303 to `next` with its outcome as a message, except
    /// that a company the caller may not see is a 404 page.
    pub fn after<T>(
        &self,
        result: Result<T, ServiceError>,
        next: &str,
        done: impl FnOnce(T) -> String,
    ) -> Response {
        let flash = match result {
            Ok(value) => Flash {
                error: false,
                text: done(value),
            },
            Err(e @ ServiceError::NotFound { what: "company" }) => return self.fail(e),
            Err(e) => Flash {
                error: true,
                text: message(e),
            },
        };
        self.redirect_with(next, &flash)
    }

    pub fn redirect_with(&self, next: &str, flash: &Flash) -> Response {
        let sealed = self
            .console
            .key
            .seal(FLASH_PURPOSE, flash, now_seconds() + FLASH_SECONDS);
        let mut response = see_other(next);
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(FLASH_COOKIE, &sealed, FLASH_SECONDS),
        );
        response
    }
}

/// A core error as a sentence for the page.
pub fn message(error: ServiceError) -> String {
    let problem = Problem::from(error);
    format!("{}: {}", problem.title, problem.detail)
}

/// The 403 answer to a POST without this session's CSRF token.
pub fn refused(visitor: Option<&Visitor>) -> Response {
    let main = html! {
        h1 { "Request refused" }
        p role="alert" {
            "The form was out of date or did not come from this site. Go back, reload the page and try again."
        }
    };
    match visitor {
        Some(visitor) => {
            visitor.page_with_status(StatusCode::FORBIDDEN, "Request refused", None, main)
        }
        None => (
            StatusCode::FORBIDDEN,
            axum::response::Html(document("Request refused", None, main).into_string()),
        )
            .into_response(),
    }
}
