//! What the company pages share: the company read through the core, the
//! company navigation, and query parameters.

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Response;
use maud::{html, Markup};
use seatkeeper_core::model::Company;
use seatkeeper_core::service::CompanyView;

use crate::Visitor;

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
