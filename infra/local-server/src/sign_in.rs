//! The local stand-in for Cognito's Hosted UI: a role picker that signs the
//! browser in with the claims `POST /local/token` would give. It lives only
//! in this crate, so no Lambda binary has a way in without Cognito.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use console::session::{clear_cookie, cookie, now_seconds, random_hex, set_cookie, SessionKey};
use console::Console;
use maud::html;
use seatkeeper_core::types::Email;
use seatkeeper_core::Role;
use seatkeeper_edge::local_event;

/// Holds the sign-in form's token: no other site can sign a browser in.
const FORM_COOKIE: &str = "sk_local_signin";
const FORM_PURPOSE: &str = "local-sign-in";
const FORM_SECONDS: i64 = 3600;
/// The local session key, in the data directory: sessions survive restarts.
const KEY_FILE: &str = "console-key";

/// The console's key kept in `dir`, made on first use.
pub fn session_key(dir: &Path) -> std::io::Result<SessionKey> {
    let path = dir.join(KEY_FILE);
    let secret = match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 64 => secret.trim().to_string(),
        _ => {
            let secret = random_hex(32).map_err(std::io::Error::other)?;
            std::fs::write(&path, &secret)?;
            secret
        }
    };
    SessionKey::new(secret.as_bytes()).map_err(std::io::Error::other)
}

const ROLES: [Role; 4] = [
    Role::Manager,
    Role::PartnerAdmin,
    Role::AccountManager,
    Role::Learner,
];

/// `GET /sign-in`: the role picker.
pub async fn page(State(console): State<Arc<Console>>) -> Response {
    form_page(&console, StatusCode::OK, None)
}

fn form_page(console: &Console, status: StatusCode, error: Option<&str>) -> Response {
    let Ok(token) = random_hex(32) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no random source").into_response();
    };
    let sealed = console
        .key
        .seal(FORM_PURPOSE, &token, now_seconds() + FORM_SECONDS);
    let body = console::bare_page(
        "Sign in",
        html! {
            h1 { "Sign in" }
            p { "The local server stands in for the sign-in page: pick who to be." }
            @if let Some(error) = error { p.alert role="alert" { (error) } }
            form method="post" action="/sign-in" {
                input type="hidden" name="csrf" value=(token);
                p { label for="email" { "E-mail" } input #email type="email" name="email" required autocomplete="email"; }
                p {
                    label for="role" { "Role" }
                    select #role name="role" {
                        @for role in ROLES { option value=(role.as_str()) { (role.as_str()) } }
                    }
                }
                p { label for="company_id" { "Company ID" } input #company_id name="company_id"; " (optional)" }
                p { label for="partner_id" { "Partner ID" } input #partner_id name="partner_id"; " (optional)" }
                button type="submit" { "Sign in" }
            }
        },
    );
    let mut response = (status, Html(body.into_string())).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(FORM_COOKIE, &sealed, FORM_SECONDS),
    );
    response
}

#[derive(Debug, serde::Deserialize)]
pub struct SignInForm {
    csrf: Option<String>,
    email: String,
    role: String,
    company_id: Option<String>,
    partner_id: Option<String>,
}

/// `POST /sign-in`: the session for the picked identity, with the claims
/// `/local/token` mints for the same fields.
pub async fn submit(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let expected: Option<String> = cookie(&headers, FORM_COOKIE)
        .and_then(|sealed| console.key.open(FORM_PURPOSE, sealed, now_seconds()));
    if expected.is_none() || expected != form.csrf {
        return console::refused_page();
    }
    let Ok(email) = Email::parse(&form.email) else {
        return form_page(
            &console,
            StatusCode::BAD_REQUEST,
            Some("Enter an e-mail address."),
        );
    };
    let Some(role) = Role::parse(&form.role) else {
        return form_page(&console, StatusCode::BAD_REQUEST, Some("Pick a role."));
    };
    let optional = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let claims: BTreeMap<String, String> = local_event::claims(
        &format!("local-{email}"),
        email.as_str(),
        role.as_str(),
        optional(&form.company_id).as_deref(),
        optional(&form.partner_id).as_deref(),
    )
    .into_iter()
    .collect();
    let mut response = console.start_session(claims);
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(FORM_COOKIE));
    response
}
