//! Licences: the members by licence status, search, and the seat actions
//! (Allocate, Select All, Release, Transfer, Add learners).

use axum::extract::Path;
use axum::response::Response;
use maud::html;
use seatkeeper_core::model::MemberRole;
use seatkeeper_core::service::{Allocation, NewMember, ReleaseWhen, MAX_PAGE};

use super::shared::{columns, company_nav, scrolling, CompanyVisit, Params};
use crate::format::date;
use crate::visitor::{message, Submission};

const TABS: [(&str, &str); 3] = [
    ("active", "Active"),
    ("expired", "Expired"),
    ("unlicensed", "Unlicensed"),
];

fn members_page(c: &str) -> String {
    format!("/companies/{c}/members")
}

pub async fn list(
    CompanyVisit {
        visitor,
        view,
        id: c,
    }: CompanyVisit,
    params: Params,
) -> Response {
    let company = &view.company;
    let tab = params
        .get("tab")
        .map(String::as_str)
        .filter(|t| TABS.iter().any(|(value, _)| value == t))
        .unwrap_or("active");
    let search = params
        .get("q")
        .map(|q| q.trim().to_lowercase())
        .unwrap_or_default();
    let page = match visitor
        .app()
        .service
        .list_members(
            &visitor.caller,
            &c,
            Some(tab),
            params.get("cursor").cloned(),
            Some(MAX_PAGE),
        )
        .await
    {
        Ok(page) => page,
        Err(e) => return visitor.fail(e),
    };
    let members: Vec<_> = page
        .items
        .iter()
        .filter(|m| {
            search.is_empty()
                || m.email.as_str().contains(&search)
                || m.name.to_lowercase().contains(&search)
        })
        .collect();
    let base = members_page(company.id.as_str());
    let main = html! {
        h1 { "Licences" }
        (company_nav(company, "Licences"))
        nav.tabs aria-label="Licence status" {
            ul {
                @for (value, label) in TABS {
                    li {
                        a href={ (base) "?tab=" (value) } aria-current=[(value == tab).then_some("page")] { (label) }
                    }
                }
            }
        }
        form method="get" action=(base) role="search" {
            input type="hidden" name="tab" value=(tab);
            label for="q" { "Search" }
            input #q type="search" name="q" value=(search);
            button type="submit" { "Search" }
        }
        (visitor.form(&format!("{base}/allocate"), html! {
            input type="hidden" name="tab" value=(tab);
            (scrolling("Members", html! { table {
                caption { "Members" }
                (columns(&["Select", "Name", "Role", "Licence type", "Expires"]))
                tbody {
                    @for (n, member) in members.iter().enumerate() {
                        tr {
                            td {
                                input id={ "member-" (n) } type="checkbox" name="email" value=(member.email);
                                " "
                                label for={ "member-" (n) } { (member.email) }
                            }
                            td { (member.name) }
                            td { (if member.role == MemberRole::Manager { "manager" } else { "learner" }) }
                            td { (member.licence_type.as_ref().map(|t| t.as_str()).unwrap_or("None")) }
                            td { (member.expires_on.map(date).unwrap_or_default()) }
                        }
                    }
                }
            }}))
            @if members.is_empty() { p { "No members here." } }
            p {
                label for="licence_type" { "Licence type" }
                select #licence_type name="licence_type" {
                    @for pool in &view.pools {
                        option value=(pool.licence_type) { (pool.licence_type) " (" (pool.available) " available)" }
                    }
                }
            }
            p {
                label for="effective" { "Release takes effect" }
                select #effective name="effective" {
                    option value="now" selected { "now" }
                    option value="renewal" { "at renewal" }
                }
            }
            p.actions {
                button type="submit" { "Allocate" }
                @if tab == "expired" {
                    " "
                    button type="submit" formaction={ (base) "/select-all" } { "Select All" }
                }
                " "
                button.secondary type="submit" formaction={ (base) "/release" } { "Release" }
            }
        }))
        @if let Some(next) = &page.next_cursor {
            p { a href={ (base) "?tab=" (tab) "&cursor=" (next) } { "Next page" } }
        }
        section aria-labelledby="transfer-heading" {
            h2 #transfer-heading { "Transfer" }
            p { "Moves a rolling licence from one member to another." }
            (visitor.form(&format!("{base}/transfer"), html! {
                p { label for="from_email" { "From e-mail" } input #from_email type="email" name="from_email" required; }
                p { label for="to_email" { "To e-mail" } input #to_email type="email" name="to_email" required; }
                button type="submit" { "Transfer" }
            }))
        }
        section aria-labelledby="add-heading" {
            h2 #add-heading { "Add learners" }
            (visitor.form(&format!("{base}/add"), html! {
                p {
                    label for="emails" { "E-mails" }
                    span.hint #emails-hint { "One e-mail a line." }
                    textarea #emails name="emails" rows="5" aria-describedby="emails-hint" required {}
                }
                button type="submit" { "Add learners" }
            }))
        }
    };
    visitor.page("Licences", Some(company), main)
}

/// The tab the visitor acted from, to go back to.
fn back(c: &str, submission: &Submission) -> String {
    match submission.fields.get("tab") {
        Some(tab) if TABS.iter().any(|(value, _)| *value == tab) => {
            format!("{}?tab={tab}", members_page(c))
        }
        _ => members_page(c),
    }
}

pub async fn allocate(Path(c): Path<String>, form: Submission) -> Response {
    let emails = form.fields.all("email");
    let licence_type = form.fields.text("licence_type");
    let result = form
        .visitor
        .app()
        .service
        .allocate(
            &form.visitor.caller,
            &c,
            &licence_type,
            Allocation::Emails(emails),
        )
        .await;
    form.visitor.after(result, &back(&c, &form), |done| {
        format!("Allocated {} licences.", done.allocated.len())
    })
}

pub async fn select_all(Path(c): Path<String>, form: Submission) -> Response {
    let licence_type = form.fields.text("licence_type");
    let result = form
        .visitor
        .app()
        .service
        .allocate_all_expired(&form.visitor.caller, &c, &licence_type, None)
        .await;
    form.visitor.after(result, &back(&c, &form), |done| {
        format!("Renewed {} expired members.", done.progress.renewed)
    })
}

/// Each selected member's seat, released now or at renewal (a co-term
/// seat, the API's `effective`); stops at the first refusal.
pub async fn release(Path(c): Path<String>, form: Submission) -> Response {
    let service = &form.visitor.app().service;
    let when = match ReleaseWhen::parse(form.fields.get("effective")) {
        Ok(when) => when,
        Err(e) => {
            return form
                .visitor
                .after::<()>(Err(e), &back(&c, &form), |()| String::new())
        }
    };
    let mut released = 0;
    let mut result = Ok(());
    for email in form.fields.all("email") {
        match service
            .release_licence(&form.visitor.caller, &c, &email, when)
            .await
        {
            Ok(_) => released += 1,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    form.visitor.after(result, &back(&c, &form), |()| {
        format!("Released {released} licences.")
    })
}

pub async fn transfer(Path(c): Path<String>, form: Submission) -> Response {
    let result = form
        .visitor
        .app()
        .service
        .transfer_licence(
            &form.visitor.caller,
            &c,
            &form.fields.text("from_email"),
            &form.fields.text("to_email"),
        )
        .await;
    form.visitor.after(result, &back(&c, &form), |moved| {
        format!(
            "Licence moved from {} to {}.",
            moved.from.email, moved.to.email
        )
    })
}

/// One learner per line (named after the e-mail's local part); reports
/// how many were added and why any were not.
pub async fn add(Path(c): Path<String>, form: Submission) -> Response {
    let service = &form.visitor.app().service;
    let lines = form.fields.text("emails");
    let mut added = 0;
    let mut refused = Vec::new();
    for email in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let input = NewMember {
            email: email.to_string(),
            name: email.split('@').next().unwrap_or(email).to_string(),
            role: MemberRole::Learner,
            licence_type: None,
        };
        match service.add_member(&form.visitor.caller, &c, input).await {
            Ok(_) => added += 1,
            Err(e @ seatkeeper_core::ServiceError::NotFound { what: "company" }) => {
                return form.visitor.fail(e)
            }
            Err(e) => refused.push(format!("{email}: {}", message(e))),
        }
    }
    let flash = crate::visitor::Flash {
        error: !refused.is_empty(),
        text: std::iter::once(format!("Added {added} learners."))
            .chain(refused)
            .collect::<Vec<_>>()
            .join(" "),
    };
    form.visitor.redirect_with(&members_page(&c), &flash)
}
