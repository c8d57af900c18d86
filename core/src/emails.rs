//! Every e-mail the service sends, in one place: subject, text and HTML.

use chrono::NaiveDate;

use crate::dates::NoticeKind;
use crate::model::{Company, Invoice, Order, OrderKind, OrderLine, Plan, Policy, SeatPool};
use crate::ports::OutgoingEmail;
use crate::types::{Email, LicenceType};

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

/// A date as people write it: "25 November 2026".
pub fn human_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// What an order asks for, in words: "a renewal", "an upgrade".
fn order_words(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::Upgrade => "an upgrade",
        OrderKind::Renewal => "a renewal",
        OrderKind::TrialConversion => "a conversion from the trial to premium",
    }
}

/// A role as people say it: "partner admin", not `partner_admin`.
fn role_words(role: &str) -> String {
    role.replace('_', " ")
}

/// "10 seats of standard, 5 seats of pro".
fn seats_listed(lines: &[OrderLine]) -> String {
    lines
        .iter()
        .map(|l| format!("{} seats of {}", l.quantity.get(), l.licence_type))
        .collect::<Vec<_>>()
        .join(", ")
}

/// To the account manager, copied to the partner's contact: a manager
/// asked for seats.
pub fn order_requested(
    base_url: &str,
    company: &Company,
    order: &Order,
    partner_contact: Option<&Email>,
) -> OutgoingEmail {
    let currency = order.quote.currency.as_str();
    let mut lines = vec![
        format!(
            "{} ({}) requested {} for {}: {}.",
            order.requested_by.email,
            role_words(&order.requested_by.role),
            order_words(order.kind),
            company.name,
            seats_listed(&order.lines)
        ),
        format!(
            "Quoted on {}: {}.",
            human_date(order.quote.as_of),
            money(order.total_minor, currency)
        ),
    ];
    lines.extend(order.lines.iter().map(|l| {
        format!(
            "- {}: {} ({} of {} days)",
            l.licence_type,
            money(l.quote.amount_minor, currency),
            l.quote.days_remaining,
            l.quote.days_in_term
        )
    }));
    lines.push("The invoice is computed again from the day you assign the order.".to_string());
    let mut email = email(
        vec![company.account_manager_email.to_string()],
        "order_requested",
        format!(
            "Order requested for {}: {}",
            company.name,
            seats_listed(&order.lines)
        ),
        &lines,
        (
            "Review the order",
            company_link(base_url, company, &format!("/orders/{}", order.id)),
        ),
    );
    email.cc.extend(partner_contact.map(ToString::to_string));
    email
}

/// To the account manager, copied to the partner's contact: requests
/// waiting more than 24 hours. Each order is listed in one such e-mail.
pub fn orders_overdue(
    base_url: &str,
    company: &Company,
    orders: &[Order],
    partner_contact: Option<&Email>,
) -> OutgoingEmail {
    let mut lines = vec![format!(
        "{} order request(s) from {} have waited more than 24 hours:",
        orders.len(),
        company.name
    )];
    lines.extend(orders.iter().map(|order| {
        format!(
            "- {} ({}), requested on {} by {}",
            order_words(order.kind),
            seats_listed(&order.lines),
            human_date(
                order
                    .requested_at
                    .with_timezone(&company.timezone)
                    .date_naive()
            ),
            order.requested_by.email
        )
    }));
    let mut email = email(
        vec![company.account_manager_email.to_string()],
        "orders_overdue",
        format!("Overdue order requests: {}", company.name),
        &lines,
        (
            "Open the queue",
            format!("{}/orders?state=requested", base_url.trim_end_matches('/')),
        ),
    );
    email.cc.extend(partner_contact.map(ToString::to_string));
    email
}

/// To the company's managers: what the assigned order did, with the
/// invoice. `pools` are before and after.
pub fn order_assigned(
    base_url: &str,
    company: &Company,
    managers: Vec<String>,
    order: &Order,
    invoice: &Invoice,
    pools: (&[SeatPool], &[SeatPool]),
) -> OutgoingEmail {
    let (before, after) = pools;
    let on = human_date(invoice.actioned_on);
    let was = |t: &LicenceType| before.iter().find(|p| p.licence_type == *t);
    let mut lines = Vec::new();
    let subject = match (&company.next_term, order.kind) {
        (Some(next), OrderKind::Renewal) if next.order_id == order.id => {
            let seats: u32 = next.lines.iter().map(|l| l.seats).sum();
            lines.push(format!(
                "{} is renewed for the term from {} to {} with {seats} seats.",
                company.name,
                human_date(next.starts_on),
                human_date(next.renews_on)
            ));
            for pool in before.iter().filter(|p| p.policy == Policy::CoTerm) {
                let next_seats = next
                    .lines
                    .iter()
                    .find(|l| l.licence_type == pool.licence_type)
                    .map_or(0, |l| l.seats);
                let from = human_date(next.starts_on);
                lines.push(match next_seats.cmp(&pool.purchased) {
                    std::cmp::Ordering::Less if next_seats == 0 => {
                        format!("{} lapses on {from}.", pool.licence_type)
                    }
                    std::cmp::Ordering::Less => format!(
                        "{}: downgraded from {} to {next_seats} seats from {from}.",
                        pool.licence_type, pool.purchased
                    ),
                    std::cmp::Ordering::Greater => format!(
                        "{}: upgraded from {} to {next_seats} seats from {from}.",
                        pool.licence_type, pool.purchased
                    ),
                    std::cmp::Ordering::Equal => {
                        format!("{}: {next_seats} seats, as now.", pool.licence_type)
                    }
                });
            }
            lines.push("Your users keep their seats until then.".to_string());
            format!(
                "{} renewed from {}",
                company.name,
                human_date(next.starts_on)
            )
        }
        (_, OrderKind::TrialConversion) => {
            lines.push(format!(
                "{} is converted to premium from {on}: {}.",
                company.name,
                seats_listed(&order.lines)
            ));
            if let Some(term) = company.plan.term() {
                lines.push(format!("The term runs to {}.", human_date(term.renews_on)));
            }
            format!("{} converted to premium", company.name)
        }
        (_, kind) => {
            let started = kind == OrderKind::Renewal
                && company
                    .plan
                    .term()
                    .is_some_and(|t| t.start == invoice.actioned_on);
            if started {
                lines.push(format!(
                    "{} is renewed from {on}: {}.",
                    company.name,
                    seats_listed(&order.lines)
                ));
            }
            for pool in after
                .iter()
                .filter(|p| order.lines.iter().any(|l| l.licence_type == p.licence_type))
            {
                let purchased_before = was(&pool.licence_type).map_or(0, |p| p.purchased);
                lines.push(format!(
                    "{}: {} seats before, {} from {on}: {} allocated, {} free.",
                    pool.licence_type,
                    purchased_before,
                    pool.purchased,
                    pool.allocated,
                    pool.available()
                ));
            }
            format!("{}: {} from {on}", company.name, seats_listed(&order.lines))
        }
    };
    let currency = invoice.currency.as_str();
    lines.push(format!(
        "Invoice, dated {on}: {}.",
        money(invoice.total_minor, currency)
    ));
    lines.extend(invoice.lines.iter().map(|l| {
        format!(
            "- {} × {} a year × {} / {} days = {} ({})",
            l.quantity.get(),
            money(l.unit_annual_fee_minor, currency),
            l.days_remaining,
            l.days_in_term,
            money(l.amount_minor, currency),
            l.licence_type
        )
    }));
    email(
        managers,
        "order_assigned",
        subject,
        &lines,
        (
            "Allocate your seats",
            company_link(base_url, company, "/members"),
        ),
    )
}

/// One e-mail of an expiry digest: what ends (or ended) for a company on
/// one day. A long list of licences is told in `parts` e-mails.
pub struct ExpiryDigest<'a> {
    pub kind: NoticeKind,
    pub due_on: NaiveDate,
    /// The trial's or term's end, when it is what ends.
    pub plan_ends: Option<NaiveDate>,
    pub licences: &'a [(Email, NaiveDate)],
    /// This e-mail's number and how many the digest takes, from 1.
    pub part: (usize, usize),
}

/// To the managers (the account manager and the partner's contact copied
/// for trials and terms): what ends on or within 72 hours of `due_on`.
pub fn expiry_digest(
    base_url: &str,
    company: &Company,
    digest: &ExpiryDigest<'_>,
    partner_contact: Option<&Email>,
) -> OutgoingEmail {
    let ExpiryDigest {
        kind,
        due_on,
        plan_ends,
        licences,
        part: (part, parts),
    } = *digest;
    let trial = matches!(company.plan, Plan::Trial { .. });
    let what = if trial { "free trial" } else { "licence term" };
    let ends = kind.ends_on(due_on);
    let mut lines = Vec::new();
    if let Some(date) = plan_ends {
        lines.push(match kind {
            NoticeKind::Reminder => format!(
                "Your {what} for {} ends on {}.",
                company.name,
                human_date(date)
            ),
            NoticeKind::Expiry => format!(
                "Your {what} for {} ended on {}. Its users can no longer log in.",
                company.name,
                human_date(date)
            ),
        });
    }
    if !licences.is_empty() {
        lines.push(match kind {
            NoticeKind::Reminder => format!(
                "{} user licence(s) end on {}:",
                licences.len(),
                human_date(ends)
            ),
            NoticeKind::Expiry => format!(
                "{} user licence(s) ended on {}:",
                licences.len(),
                human_date(ends)
            ),
        });
        lines.extend(licences.iter().map(|(email, _)| format!("- {email}")));
    }
    let (page, action) = if trial {
        ("/upgrade", "Upgrade to premium")
    } else {
        ("/renew", "Renew licences")
    };
    let mut subject = match kind {
        NoticeKind::Reminder => format!("{}: licences end on {}", company.name, human_date(ends)),
        NoticeKind::Expiry => format!("{}: licences ended on {}", company.name, human_date(ends)),
    };
    if parts > 1 {
        subject.push_str(&format!(" ({part} of {parts})"));
    }
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
        email.cc.extend(partner_contact.map(ToString::to_string));
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
    fn dates_and_roles_read_as_words() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(human_date(d), "25 November 2026");
        assert_eq!(role_words("partner_admin"), "partner admin");
        assert_eq!(
            order_words(OrderKind::TrialConversion),
            "a conversion from the trial to premium"
        );
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
