//! Orders, their quotes and invoices, and who acted.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::types::{CompanyId, Currency, LicenceType, OrderId, PartnerId, Quantity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Upgrade,
    Renewal,
    TrialConversion,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Upgrade => "upgrade",
            OrderKind::Renewal => "renewal",
            OrderKind::TrialConversion => "trial_conversion",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Requested,
    Assigned,
    Cancelled,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Requested => "requested",
            OrderState::Assigned => "assigned",
            OrderState::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "requested" => Some(Self::Requested),
            "assigned" => Some(Self::Assigned),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }

    /// `requested → assigned` and `requested → cancelled`; nothing else.
    pub fn can_become(self, next: OrderState) -> bool {
        self == OrderState::Requested && next != OrderState::Requested
    }
}

/// A request waits this long before the helpdesk counts it overdue (the
/// seeds promise requests are processed within 24 hours).
pub const OVERDUE_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// Who did something, as the authorizer told us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    pub user_id: String,
    pub email: String,
    pub role: String,
    /// Set when a partner admin acted for a customer company.
    pub partner_id: Option<PartnerId>,
}

/// A price for seats of one licence type, as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub annual_fee_minor: i64,
    pub currency: Currency,
    pub days_remaining: i64,
    pub days_in_term: i64,
    pub amount_minor: i64,
    pub as_of: NaiveDate,
}

/// One licence type of an order: how many seats, and their price when the
/// order was requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub quote: Quote,
}

/// A request for seats, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub company_id: CompanyId,
    /// The first line's type, quantity and quote, for one-line clients.
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub kind: OrderKind,
    pub state: OrderState,
    pub quote: Quote,
    /// Every line: one for upgrades and conversions, one per co-term type
    /// kept for a renewal.
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    /// The lines' quotes added up.
    #[serde(default)]
    pub total_minor: i64,
    /// For a co-term renewal: the renewal date of the term it renews, so a
    /// term is renewed once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renews_term_ending: Option<NaiveDate>,
    pub requested_by: ActorRef,
    pub requested_at: DateTime<Utc>,
    pub assigned_by: Option<ActorRef>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<ActorRef>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub invoice: Option<Invoice>,
}

impl Order {
    /// Orders written before orders had lines hold one, in the first-line
    /// fields: read them as the one line they are.
    pub fn with_lines(mut self) -> Self {
        if self.lines.is_empty() {
            self.lines = vec![OrderLine {
                licence_type: self.licence_type.clone(),
                quantity: self.quantity,
                quote: self.quote.clone(),
            }];
            self.total_minor = self.quote.amount_minor;
        }
        if let Some(invoice) = self.invoice.as_mut() {
            invoice.fill_lines();
        }
        self
    }

    /// When a request still waiting counts as overdue.
    pub fn overdue_at(&self) -> DateTime<Utc> {
        self.requested_at + OVERDUE_AFTER
    }
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub licence_type: LicenceType,
    pub quantity: Quantity,
    pub unit_annual_fee_minor: i64,
    pub days_remaining: i64,
    pub days_in_term: i64,
    pub amount_minor: i64,
}

impl From<&Quote> for InvoiceLine {
    fn from(quote: &Quote) -> Self {
        Self {
            licence_type: quote.licence_type.clone(),
            quantity: quote.quantity,
            unit_annual_fee_minor: quote.annual_fee_minor,
            days_remaining: quote.days_remaining,
            days_in_term: quote.days_in_term,
            amount_minor: quote.amount_minor,
        }
    }
}

/// What an assigned order costs: the quote's function, run on the day it
/// was actioned, once per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub order_id: OrderId,
    /// The first line, for one-line clients (`amount_minor` is that line's).
    #[serde(flatten)]
    pub first_line: InvoiceLine,
    pub currency: Currency,
    pub actioned_on: NaiveDate,
    #[serde(default)]
    pub lines: Vec<InvoiceLine>,
    /// What is owed: the lines added up.
    #[serde(default)]
    pub total_minor: i64,
}

impl Invoice {
    /// The invoice for `quotes`, the order's lines priced on the day it was
    /// actioned (at least one).
    pub fn from_quotes(order_id: OrderId, quotes: &[Quote]) -> Option<Self> {
        let first = quotes.first()?;
        let lines: Vec<InvoiceLine> = quotes.iter().map(InvoiceLine::from).collect();
        Some(Self {
            order_id,
            first_line: InvoiceLine::from(first),
            currency: first.currency.clone(),
            actioned_on: first.as_of,
            total_minor: lines.iter().map(|l| l.amount_minor).sum(),
            lines,
        })
    }

    /// Invoices written before invoices had lines are their own one line.
    fn fill_lines(&mut self) {
        if self.lines.is_empty() {
            self.lines = vec![self.first_line.clone()];
            self.total_minor = self.first_line.amount_minor;
        }
    }
}
