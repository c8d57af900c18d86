//! For partner admins and account managers: the companies they manage, the
//! helpdesk queue of requested orders, and a company's audit trail.

use std::collections::BTreeSet;

use axum::response::Response;
use maud::html;
use seatkeeper_core::Role;

use super::shared::{columns, company_nav, scrolling, CompanyVisit, Params};
use crate::format::{local_time, money};
use crate::Visitor;

/// A partner admin's companies; an account manager picks a partner (or
/// opens a company by its ID), since the vendor's list has no one index.
pub async fn list(visitor: Visitor, params: Params) -> Response {
    if let Some(id) = params
        .get("company")
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
    {
        return crate::see_other(&format!("/companies/{id}"));
    }
    let partner = match visitor.caller.role {
        Role::PartnerAdmin => visitor.caller.partner_id.as_ref().map(|p| p.to_string()),
        _ => params
            .get("partner")
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
    };
    let companies = match &partner {
        Some(partner) => match visitor
            .app()
            .service
            .list_partner_companies(
                &visitor.caller,
                partner,
                params.get("cursor").cloned(),
                None,
            )
            .await
        {
            Ok(page) => Some(page),
            Err(e) => return visitor.fail(e),
        },
        None => None,
    };
    let main = html! {
        h1 { "Companies" }
        p { a href="/orders?state=requested" { "Helpdesk queue" } }
        @if visitor.caller.role == Role::AccountManager {
            form method="get" action="/companies" {
                p {
                    label for="partner" { "Partner ID" }
                    input #partner name="partner" value=[partner.as_deref()];
                    button type="submit" { "List companies" }
                }
            }
            form method="get" action="/companies" {
                p {
                    label for="company" { "Company ID" }
                    input #company name="company";
                    button type="submit" { "Open" }
                }
            }
        }
        @if let Some(page) = &companies {
            @if page.items.is_empty() {
                p { "No companies." }
            } @else {
                (scrolling("Companies", html! { table {
                    caption { "Companies" }
                    (columns(&["Company", "Time zone", "Action"]))
                    tbody {
                        @for company in &page.items {
                            tr {
                                th scope="row" { (company.name) }
                                td { (company.timezone) }
                                td { a href={ "/companies/" (company.id) } aria-label={ "Manage Company " (company.name) } { "Manage Company" } }
                            }
                        }
                    }
                }}))
                @if let (Some(next), Some(partner)) = (&page.next_cursor, &partner) {
                    p { a href={ "/companies?partner=" (partner) "&cursor=" (next) } { "Next page" } }
                }
            }
        }
    };
    visitor.page("Companies", None, main)
}

/// The helpdesk queue: requested orders, oldest first, each with Assign.
pub async fn queue(visitor: Visitor, params: Params) -> Response {
    let state = params
        .get("state")
        .map(String::as_str)
        .unwrap_or("requested");
    let page = match visitor
        .app()
        .service
        .list_queue(
            &visitor.caller,
            Some(state),
            params.get("cursor").cloned(),
            None,
        )
        .await
    {
        Ok(page) => page,
        Err(e) => return visitor.fail(e),
    };
    let main = html! {
        h1 { "Helpdesk queue" }
        @if page.items.is_empty() {
            p { "No requested orders." }
        } @else {
            (scrolling("Requested orders, oldest first (times in UTC)", html! { table {
                caption { "Requested orders, oldest first (times in UTC)" }
                (columns(&["Company", "Licence type", "Seats", "Amount", "Requested at", "Action"]))
                tbody {
                    @for queued in &page.items {
                        @let entry = &queued.entry;
                        tr {
                            th scope="row" { a href={ "/companies/" (entry.company_id) } { (entry.company_name) } }
                            td { @for line in &entry.lines { (line.licence_type) " " } }
                            td { @for line in &entry.lines { (line.quantity.get()) " " } }
                            td { (money(entry.total_minor, entry.currency.as_str())) }
                            td {
                                (local_time(entry.requested_at, chrono_tz::UTC)) " by " (entry.requested_by)
                                @if queued.overdue { " " strong.overdue { "Overdue" } }
                            }
                            td {
                                (visitor.form(&format!("/companies/{}/orders/{}/assign", entry.company_id, entry.order_id), html! {
                                    button type="submit" { "Assign" }
                                }))
                            }
                        }
                    }
                }
            }}))
            @if let Some(next) = &page.next_cursor {
                p { a href={ "/orders?state=" (state) "&cursor=" (next) } { "Next page" } }
            }
        }
    };
    visitor.page("Helpdesk queue", None, main)
}

/// Who the event was about: the e-mails it names, at the top of its
/// `after` or `before` or in their `member`, and the lists `emails` and
/// `members`.
fn subject(after: &serde_json::Value, before: &serde_json::Value) -> String {
    let mut found = BTreeSet::new();
    for value in [after, before] {
        for holder in [value, &value["member"]] {
            for key in ["email", "to_email", "from_email"] {
                found.extend(holder.get(key).and_then(|v| v.as_str()).map(str::to_string));
            }
        }
        for key in ["emails", "members"] {
            let list = value.get(key).and_then(|v| v.as_array());
            found.extend(
                list.into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .map(str::to_string),
            );
        }
    }
    found.into_iter().collect::<Vec<_>>().join(", ")
}

pub async fn audit(
    CompanyVisit {
        visitor,
        view,
        id: c,
    }: CompanyVisit,
    params: Params,
) -> Response {
    let company = &view.company;
    let page = match visitor
        .app()
        .service
        .list_audit(&visitor.caller, &c, params.get("cursor").cloned(), None)
        .await
    {
        Ok(page) => page,
        Err(e) => return visitor.fail(e),
    };
    let main = html! {
        h1 { "Audit" }
        (company_nav(company, "Audit"))
        (scrolling("What was done, newest first", html! { table {
            caption { "What was done, newest first" }
            (columns(&["When", "Who", "What", "For whom"]))
            tbody {
                @for event in &page.items {
                    tr {
                        th scope="row" { (local_time(event.at, company.timezone)) }
                        td {
                            (event.actor.email) " (" (event.actor.role) ")"
                            @if let Some(acting) = &event.acting_for { " for " (acting) }
                        }
                        td { (event.action) }
                        td { (subject(&event.after, &event.before)) }
                    }
                }
            }
        }}))
        @if let Some(next) = &page.next_cursor {
            p { a href={ "/companies/" (company.id) "/audit?cursor=" (next) } { "Next page" } }
        }
    };
    visitor.page("Audit", Some(company), main)
}

#[cfg(test)]
mod tests {
    use super::subject;
    use serde_json::json;

    #[test]
    fn the_subject_is_every_email_the_event_names() {
        let added = json!({"member": {"email": "ann@acme.io", "name": "Ann"}});
        assert_eq!(subject(&added, &json!(null)), "ann@acme.io");
        let allocated = json!({"members": ["b@acme.io", "a@acme.io"], "pool": {}});
        assert_eq!(subject(&allocated, &json!({})), "a@acme.io, b@acme.io");
        let moved = json!({"from_email": "a@acme.io", "to_email": "c@acme.io"});
        assert_eq!(
            subject(&moved, &json!({"member": {"email": "a@acme.io"}})),
            "a@acme.io, c@acme.io"
        );
    }
}
