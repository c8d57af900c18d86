//! Orders: requested, assigned and cancelled; an order with its invoice;
//! the request (from Request Licences), Assign and Cancel.

use axum::extract::Path;
use axum::response::Response;
use maud::{html, Markup};
use seatkeeper_core::model::{Invoice, Order, OrderState};
use seatkeeper_core::service::OrderRequest;

use super::shared::{columns, company_nav, scrolling, CompanyVisit, Params};
use crate::format::{date, local_time, money};
use crate::visitor::{Flash, Submission};
use crate::Visitor;

const TABS: [(&str, &str); 3] = [
    ("requested", "Requested"),
    ("assigned", "Assigned"),
    ("cancelled", "Cancelled"),
];

fn invoice_table(invoice: &Invoice) -> Markup {
    let currency = invoice.currency.as_str();
    html! {
        (scrolling("Invoice", html! { table {
            caption { "Invoice, actioned on " (date(invoice.actioned_on)) }
            (columns(&["Licence type", "Seats", "Price per seat per year", "Days charged", "Amount"]))
            tbody {
                @for line in &invoice.lines {
                    tr {
                        th scope="row" { (line.licence_type) }
                        td { (line.quantity.get()) }
                        td { (money(line.unit_annual_fee_minor, currency)) }
                        td { (line.days_remaining) " of " (line.days_in_term) }
                        td { (money(line.amount_minor, currency)) }
                    }
                }
            }
            tfoot { tr {
                th scope="row" colspan="4" { "Total" }
                td { (money(invoice.total_minor, currency)) }
            } }
        }}))
    }
}

/// The Assign button staff see on a requested order.
fn assign_form(visitor: &Visitor, order: &Order) -> Markup {
    html! {
        @if visitor.is_staff() && order.state == OrderState::Requested {
            (visitor.form(&format!("/companies/{}/orders/{}/assign", order.company_id, order.id), html! {
                button type="submit" { "Assign" }
            }))
        }
    }
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
    let state = params
        .get("state")
        .map(String::as_str)
        .unwrap_or("requested");
    let orders = match visitor
        .app()
        .service
        .list_orders(&visitor.caller, &c, Some(state), None, None)
        .await
    {
        Ok(page) => page.items,
        Err(e) => return visitor.fail(e),
    };
    let base = format!("/companies/{}/orders", company.id);
    let main = html! {
        h1 { "Orders" }
        (company_nav(company, "Orders"))
        nav.tabs aria-label="Order state" {
            ul {
                @for (value, label) in TABS {
                    li {
                        a href={ (base) "?state=" (value) } aria-current=[(value == state).then_some("page")] { (label) }
                    }
                }
            }
        }
        @if orders.is_empty() {
            p { "No orders." }
        } @else {
            (scrolling("Orders", html! { table {
                caption { "Orders" }
                (columns(&["Order", "Licences", "Requested", "Amount", "Action"]))
                tbody {
                    @for order in orders.into_iter().map(Order::with_lines) {
                        tr {
                            th scope="row" { a href={ (base) "/" (order.id) } { (order.kind.as_str()) " " (order.id) } }
                            td {
                                @for line in &order.lines { (line.quantity.get()) " × " (line.licence_type) " " }
                            }
                            td { (local_time(order.requested_at, company.timezone)) " by " (order.requested_by.email) }
                            td {
                                @if let Some(invoice) = &order.invoice {
                                    "Invoiced " (money(invoice.total_minor, invoice.currency.as_str()))
                                } @else {
                                    (money(order.total_minor, order.quote.currency.as_str()))
                                }
                            }
                            td { (assign_form(&visitor, &order)) }
                        }
                    }
                }
            }}))
        }
    };
    visitor.page("Orders", Some(company), main)
}

pub async fn show(
    CompanyVisit {
        visitor,
        view,
        id: c,
    }: CompanyVisit,
    Path((_, o)): Path<(String, String)>,
) -> Response {
    let company = &view.company;
    let order = match visitor
        .app()
        .service
        .get_order(&visitor.caller, &c, &o)
        .await
    {
        Ok(order) => order.with_lines(),
        Err(e) => return visitor.fail(e),
    };
    let zone = company.timezone;
    let main = html! {
        h1 { "Order " (order.id) }
        (company_nav(company, "Orders"))
        dl {
            dt { "State" } dd { (order.state.as_str()) }
            dt { "Kind" } dd { (order.kind.as_str()) }
            dt { "Requested" } dd { (local_time(order.requested_at, zone)) " by " (order.requested_by.email) }
            @if let (Some(at), Some(by)) = (order.assigned_at, &order.assigned_by) {
                dt { "Assigned" } dd { (local_time(at, zone)) " by " (by.email) }
            }
            @if let (Some(at), Some(by)) = (order.cancelled_at, &order.cancelled_by) {
                dt { "Cancelled" } dd { (local_time(at, zone)) " by " (by.email) }
            }
            dt { "Quoted" } dd { (money(order.total_minor, order.quote.currency.as_str())) }
        }
        @if let Some(invoice) = &order.invoice {
            h2 { "Invoice" }
            (invoice_table(invoice))
        }
        (assign_form(&visitor, &order))
        @if order.state == OrderState::Requested {
            (visitor.form(&format!("/companies/{}/orders/{}/cancel", order.company_id, order.id), html! {
                button.secondary type="submit" { "Cancel order" }
            }))
        }
    };
    visitor.page("Order", Some(company), main)
}

/// From Request Licences: the order, requested only with "I agree to pay".
pub async fn submit(Path(c): Path<String>, Submission { visitor, fields }: Submission) -> Response {
    let licence_type = fields.text("licence_type");
    let seats = fields.text("seats");
    let Ok(quantity) = seats.parse::<u32>() else {
        let flash = Flash {
            error: true,
            text: "Number of seats must be a whole number.".to_string(),
        };
        return visitor.redirect_with(&format!("/companies/{c}/request"), &flash);
    };
    let input = OrderRequest {
        licence_type: Some(licence_type.clone()),
        quantity: Some(quantity),
        agree_to_pay: fields.get("agree_to_pay") == Some("true"),
        ..OrderRequest::default()
    };
    let result = visitor
        .app()
        .service
        .request_order(&visitor.caller, &c, input)
        .await;
    match result {
        Ok(order) => visitor.after(Ok(order), &format!("/companies/{c}/orders"), |order| {
            format!("Order {} requested: the helpdesk will assign it.", order.id)
        }),
        Err(e) => visitor.after::<()>(
            Err(e),
            &format!("/companies/{c}/request?licence_type={licence_type}&seats={quantity}"),
            |()| String::new(),
        ),
    }
}

pub async fn assign(
    Path((c, o)): Path<(String, String)>,
    Submission { visitor, .. }: Submission,
) -> Response {
    let result = visitor
        .app()
        .service
        .assign_order(&visitor.caller, &c, &o, None)
        .await;
    visitor.after(result, &format!("/companies/{c}/orders/{o}"), |assigned| {
        format!(
            "Order assigned: invoice {}.",
            money(
                assigned.invoice.total_minor,
                assigned.invoice.currency.as_str()
            )
        )
    })
}

pub async fn cancel(
    Path((c, o)): Path<(String, String)>,
    Submission { visitor, .. }: Submission,
) -> Response {
    let result = visitor
        .app()
        .service
        .cancel_order(&visitor.caller, &c, &o)
        .await;
    visitor.after(result, &format!("/companies/{c}/orders/{o}"), |_| {
        "Order cancelled.".to_string()
    })
}
