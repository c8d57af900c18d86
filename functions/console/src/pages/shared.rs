//! What the company pages share: the company read through the core, the
//! company navigation, and query parameters.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::response::Response;
use maud::{html, Markup};
use seatkeeper_core::model::Company;
use seatkeeper_core::service::CompanyView;
use seatkeeper_core::ServiceError;

use crate::{Console, Visitor};

pub(crate) type Params = Query<HashMap<String, String>>;

/// A company page's company, read through the core (so a foreign one is
/// the core's 404), or the error page.
pub(crate) async fn company(visitor: &Visitor, id: &str) -> Result<CompanyView, Response> {
    visitor
        .app()
        .service
        .get_company(&visitor.caller, id)
        .await
        .map_err(|e| visitor.fail(e))
}

/// A visit to a company's page: the visitor and the company the path's
/// `{c}` names (`id`), read through the core; a foreign one is its 404.
pub(crate) struct CompanyVisit {
    pub visitor: Visitor,
    pub view: CompanyView,
    pub id: String,
}

impl FromRequestParts<Arc<Console>> for CompanyVisit {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, console).await?;
        let params = Path::<HashMap<String, String>>::from_request_parts(parts, console).await;
        let Some(id) = params.ok().and_then(|Path(mut p)| p.remove("c")) else {
            return Err(visitor.fail(ServiceError::NotFound { what: "company" }));
        };
        let view = company(&visitor, &id).await?;
        Ok(Self { visitor, view, id })
    }
}

/// A table that scrolls on its own when wider than the screen (a phone),
/// so the page does not; focusable, so the keyboard can scroll it too.
pub(crate) fn scrolling(label: &str, table: Markup) -> Markup {
    html! {
        div.scroll role="region" aria-label=(label) tabindex="0" { (table) }
    }
}

/// A table's header row: one `<th scope="col">` a column.
pub(crate) fn columns(names: &[&str]) -> Markup {
    html! {
        thead { tr { @for name in names { th scope="col" { (name) } } } }
    }
}

/// The links between a company's pages.
pub(crate) fn company_nav(company: &Company, here: &str) -> Markup {
    let base = format!("/companies/{}", company.id);
    let links = [
        ("Account", base.clone()),
        ("Licences", format!("{base}/members")),
        ("Request Licences", format!("{base}/request")),
        ("Orders", format!("{base}/orders")),
        ("Import Licence Renewal", format!("{base}/import")),
        ("Audit", format!("{base}/audit")),
    ];
    html! {
        nav.sub aria-label="Company" {
            ul {
                @for (label, href) in &links {
                    li {
                        @if *label == here {
                            a href=(href) aria-current="page" { (label) }
                        } @else {
                            a href=(href) { (label) }
                        }
                    }
                }
            }
        }
    }
}
