//! Every e-mail the service sends, in one place: subject, text and HTML.

use chrono::NaiveDate;

use crate::dates::NoticeKind;
use crate::model::{Company, Invoice, Order, Plan, SeatPool};
use crate::ports::OutgoingEmail;
use crate::types::Email;

/// Minor units as a decimal amount: 42740 GBP → "GBP 427.40".
pub fn money(amount_minor: i64, currency: &str) -> String {
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    format!("{currency} {sign}{}.{:02}", abs / 100, abs % 100)
}

/// Escapes text for HTML bodies.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Builds both parts from one list of lines, so text and HTML never drift.
fn email(
    to: Vec<String>,
    kind: &str,
    subject: String,
    lines: &[String],
    link: (&str, String),
) -> OutgoingEmail {
    let text = format!("{}\n\n{}: {}\n", lines.join("\n"), link.0, link.1);
    let paragraphs: String = lines
        .iter()
        .map(|line| format!("<p>{}</p>", escape(line)))
        .collect();
    let html = format!(
        "<!doctype html><html><body>{paragraphs}<p><a href=\"{}\">{}</a></p></body></html>",
        escape(&link.1),
        escape(link.0)
    );
    OutgoingEmail {
        to,
        cc: Vec::new(),
        subject,
        text,
        html,
        kind: kind.to_string(),
    }
}

fn company_link(base_url: &str, company: &Company, tail: &str) -> String {
    format!(
        "{}/companies/{}{tail}",
        base_url.trim_end_matches('/'),
        company.id
    )
}

/// To the account manager: a manager asked for seats.
pub fn order_requested(base_url: &str, company: &Company, order: &Order) -> OutgoingEmail {
    let quote = &order.quote;
    let lines = vec![
        format!(
            "{} ({}) requested an order for {}.",
            order.requested_by.email, order.requested_by.role, company.name
        ),
        format!(
            "Kind: {}. Licence type: {}. Seats: {}.",
            order.kind.as_str(),
            order.licence_type,
            order.quantity.get()
        ),
        format!(
            "Quoted on {}: {} ({} of {} days).",
            quote.as_of,
            money(quote.amount_minor, quote.currency.as_str()),
            quote.days_remaining,
            quote.days_in_term
        ),
        "The invoice is computed again from the day you assign the order.".to_string(),
    ];
    email(
        vec![company.account_manager_email.to_string()],
        "order_requested",
        format!(
            "Order requested: {} × {} for {}",
            order.quantity.get(),
            order.licence_type,
            company.name
        ),
        &lines,
        (
            "Review the order",
            company_link(base_url, company, &format!("/orders/{}", order.id)),
        ),
    )
}

/// To the company's managers: the seats are theirs, with the invoice.
pub fn order_assigned(
    base_url: &str,
    company: &Company,
    managers: Vec<String>,
    order: &Order,
    invoice: &Invoice,
    pool: &SeatPool,
) -> OutgoingEmail {
    let lines = vec![
        format!(
            "Your {} order for {} seats of {} has been actioned on {}.",
            order.kind.as_str(),
            invoice.quantity.get(),
            invoice.licence_type,
            invoice.actioned_on
        ),
        format!(
            "You now have {} seats: {} allocated, {} free.",
            pool.purchased,
            pool.allocated,
            pool.available()
        ),
        format!(
            "Invoice: {} × {} a year × {} / {} days = {}.",
            invoice.quantity.get(),
            money(invoice.unit_annual_fee_minor, invoice.currency.as_str()),
            invoice.days_remaining,
            invoice.days_in_term,
            money(invoice.amount_minor, invoice.currency.as_str())
        ),
    ];
    email(
        managers,
        "order_assigned",
        format!(
            "{} seats of {} added for {}",
            invoice.quantity.get(),
            invoice.licence_type,
            company.name
        ),
        &lines,
        (
            "Allocate your seats",
            company_link(base_url, company, "/members"),
        ),
    )
}

/// To the managers (the account manager copied for trials and terms): what
/// ends on or within 72 hours of `due_on`, in one e-mail.
pub fn expiry_digest(
    base_url: &str,
    company: &Company,
    kind: NoticeKind,
    due_on: NaiveDate,
    plan_ends: Option<NaiveDate>,
    licences: &[(Email, NaiveDate)],
) -> OutgoingEmail {
    let trial = matches!(company.plan, Plan::Trial { .. });
    let what = if trial { "free trial" } else { "licence term" };
    let ends = kind.ends_on(due_on);
    let mut lines = Vec::new();
    if let Some(date) = plan_ends {
        lines.push(match kind {
            NoticeKind::Reminder => format!(
                "Your {what} for {} ends on {date}, in 72 hours.",
                company.name
            ),
            NoticeKind::Expiry => format!(
                "Your {what} for {} ended today, {date}. Your users can no longer log in.",
                company.name
            ),
        });
    }
    if !licences.is_empty() {
        lines.push(match kind {
            NoticeKind::Reminder => format!("{} user licence(s) end on {ends}:", licences.len()),
            NoticeKind::Expiry => {
                format!("{} user licence(s) ended today, {ends}:", licences.len())
            }
        });
        lines.extend(licences.iter().map(|(email, _)| format!("- {email}")));
    }
    let (page, action) = if trial {
        ("/upgrade", "Upgrade to premium")
    } else {
        ("/renew", "Renew licences")
    };
    let subject = match kind {
        NoticeKind::Reminder => format!("{}: licences end on {ends}", company.name),
        NoticeKind::Expiry => format!("{}: licences ended on {ends}", company.name),
    };
    let mut email = email(
        company
            .manager_emails
            .iter()
            .map(ToString::to_string)
            .collect(),
        &format!("expiry_{}", kind.as_str()),
        subject,
        &lines,
        (action, format!("{}{page}", base_url.trim_end_matches('/'))),
    );
    if plan_ends.is_some() {
        email.cc.push(company.account_manager_email.to_string());
    }
    email
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats_minor_units() {
        assert_eq!(money(42_740, "GBP"), "GBP 427.40");
        assert_eq!(money(5, "EUR"), "EUR 0.05");
        assert_eq!(money(-120, "USD"), "USD -1.20");
    }

    #[test]
    fn html_is_escaped() {
        let e = email(
            vec!["a@b.io".into()],
            "k",
            "S".into(),
            &["<b>&</b>".into()],
            ("Go", "https://x/?a=1&b=2".into()),
        );
        assert!(e.html.contains("&lt;b&gt;&amp;&lt;/b&gt;"));
        assert!(e.html.contains("href=\"https://x/?a=1&amp;b=2\""));
        assert!(e.text.contains("<b>&</b>"));
    }
}
