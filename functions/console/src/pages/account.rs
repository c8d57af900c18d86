//! The account page, Request Licences (with the quote), and the `/upgrade`
//! and `/renew` landing pages `GET /v1/access` sends expired managers to.

use axum::response::Response;
use maud::html;
use seatkeeper_core::access::AccessReason;
use seatkeeper_core::model::{Plan, Policy};
use seatkeeper_core::service::{CompanyView, PoolView};

use super::shared::{columns, company, company_nav, scrolling, CompanyVisit, Params};
use crate::format::{date, money};
use crate::Visitor;

/// When a pool's seats renew: the trial's or the term's end; a rolling
/// pool's seats each last twelve months from their own day.
fn renewal_date(view: &CompanyView, pool: &PoolView) -> String {
    match (&view.company.plan, pool.policy) {
        (_, Policy::Rolling12Months) => "12 months from each allocation".to_string(),
        (Plan::Trial { ends_on, .. }, _) => date(*ends_on),
        (Plan::Premium { renews_on, .. }, _) => renews_on.map(date).unwrap_or_default(),
    }
}

/// The seats of the renewal already ordered for the next term, if any.
fn next_term(view: &CompanyView, pool: &PoolView) -> String {
    let Some(next) = &view.company.next_term else {
        return "None scheduled".to_string();
    };
    next.lines
        .iter()
        .find(|line| line.licence_type == pool.licence_type)
        .map_or_else(
            || "None scheduled".to_string(),
            |line| format!("{} seats from {}", line.seats, date(next.starts_on)),
        )
}

pub async fn account(CompanyVisit { visitor, view, .. }: CompanyVisit) -> Response {
    let company = &view.company;
    let main = html! {
        h1 { (company.name) }
        (company_nav(company, "Account"))
        p { "Status: " (format!("{:?}", view.status).to_lowercase()) ". Today is " (date(view.today)) " (" (company.timezone) ")." }
        @if let Some(trial) = &view.trial {
            p { "Trial licences: " (trial.allocated) " of " (trial.seats) " in use, " (trial.available) " available." }
        }
        (scrolling("Licences", html! { table {
            caption { "Licences" }
            (columns(&["Licence type", "Purchased", "Allocated", "Available", "Renewal date", "Next term"]))
            tbody {
                @for pool in &view.pools {
                    tr {
                        th scope="row" { (pool.licence_type) }
                        td { (pool.purchased) }
                        td { (pool.allocated) }
                        td { (pool.available) }
                        td { (renewal_date(&view, pool)) }
                        td { (next_term(&view, pool)) }
                    }
                }
            }
        }}))
        p {
            "Members: " (view.counts.active) " active, " (view.counts.expired) " expired, "
            (view.counts.unlicensed) " unlicensed."
        }
        p.actions {
            a.button href={ "/companies/" (company.id) "/request" } { "Request Licences" }
            " "
            a href={ "/companies/" (company.id) "/members" } { "Licences" }
        }
    };
    visitor.page(&company.name, Some(company), main)
}

/// Request Licences: a GET form for the quote, then the POST that requests
/// the order once "I agree to pay" is ticked.
pub async fn request(
    CompanyVisit {
        visitor,
        view,
        id: c,
    }: CompanyVisit,
    params: Params,
) -> Response {
    let company = &view.company;
    let chosen = params.get("licence_type").map(String::as_str);
    let seats = params.get("seats").map(|s| s.trim());
    let quote = match (chosen, seats) {
        (Some(licence_type), Some(seats)) => Some(match seats.parse::<u32>() {
            Ok(quantity) => visitor
                .app()
                .service
                .quote(&visitor.caller, &c, licence_type, quantity, None)
                .await
                .map_err(crate::visitor::message),
            Err(_) => Err("Number of seats must be a whole number.".to_string()),
        }),
        _ => None,
    };
    let action = format!("/companies/{}/request", company.id);
    let main = html! {
        h1 { "Request Licences" }
        (company_nav(company, "Request Licences"))
        form method="get" action=(action) {
            p {
                label for="licence_type" { "Licence type" }
                select #licence_type name="licence_type" {
                    @for pool in &view.pools {
                        option value=(pool.licence_type) selected[chosen == Some(pool.licence_type.as_str())] {
                            (pool.licence_type)
                        }
                    }
                }
            }
            p {
                label for="seats" { "Number of seats" }
                input #seats type="number" name="seats" min="1" step="1" required value=[seats];
            }
            button type="submit" { "Get quote" }
        }
        @match &quote {
            Some(Ok(quote)) => {
                section aria-labelledby="quote-heading" {
                    h2 #quote-heading { "Quote" }
                    dl {
                        dt { "Licence type" } dd { (quote.licence_type) }
                        dt { "Seats" } dd { (quote.quantity.get()) }
                        dt { "Price per seat per year" } dd { (money(quote.annual_fee_minor, quote.currency.as_str())) }
                        dt { "Days remaining" } dd { (quote.days_remaining) }
                        dt { "Amount" } dd { (money(quote.amount_minor, quote.currency.as_str())) }
                    }
                    (visitor.form(&format!("/companies/{}/orders", company.id), html! {
                        input type="hidden" name="licence_type" value=(quote.licence_type);
                        input type="hidden" name="seats" value=(quote.quantity.get());
                        p {
                            input #agree type="checkbox" name="agree_to_pay" value="true" required;
                            " "
                            label for="agree" { "I agree to pay" }
                        }
                        button type="submit" { "Submit request" }
                    }))
                }
            }
            Some(Err(problem)) => { p.alert role="alert" { (problem) } }
            None => {}
        }
    };
    visitor.page("Request Licences", Some(company), main)
}

/// `/upgrade` (trial ended) and `/renew` (licence expired): what happened,
/// what a seat costs, and the way to request licences.
pub async fn landing(visitor: Visitor, uri: axum::http::Uri) -> Response {
    let upgrade = uri.path() == seatkeeper_core::access::UPGRADE_PAGE;
    let Some(company_id) = visitor.caller.company_id.clone() else {
        return crate::see_other("/");
    };
    let view = match company(&visitor, company_id.as_str()).await {
        Ok(view) => view,
        Err(page) => return page,
    };
    let reason = visitor
        .app()
        .service
        .access(&visitor.caller)
        .await
        .map(|a| a.reason)
        .ok();
    let (title, what) = if upgrade {
        (
            "Upgrade to premium",
            "Your free trial has ended, so your learners can no longer sign in.",
        )
    } else {
        (
            "Renew licences",
            match reason {
                Some(AccessReason::CompanyExpired) => {
                    "Your company's licences have expired, so your learners can no longer sign in."
                }
                _ => "Your licence has expired.",
            },
        )
    };
    let company = &view.company;
    let main = html! {
        h1 { (title) }
        p { (what) }
        @if !view.pools.is_empty() {
            h2 { "What it costs" }
            ul {
                @for pool in &view.pools {
                    li { (pool.licence_type) ": " (money(pool.annual_fee_minor, pool.currency.as_str())) " per seat per year" }
                }
            }
        }
        p { a.button href={ "/companies/" (company.id) "/request" } { "Request Licences" } }
    };
    visitor.page(title, Some(company), main)
}
