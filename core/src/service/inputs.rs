//! What the use cases take: request bodies as clients send them, and the
//! validation that turns them into domain values, naming the bad field.

use std::collections::BTreeSet;

use chrono_tz::Tz;
use serde::Deserialize;

use crate::dates::parse_date;
use crate::error::ServiceError;
use crate::model::{
    Company, MemberRole, OrderKind, Plan, Policy, SeatPool, DEFAULT_MIN_SEATS_AT_RENEWAL,
    DEFAULT_TERM_MONTHS,
};
use crate::ports::MAX_TRANSACTION_ITEMS;
use crate::types::{is_invisible, CompanyId, Currency, Email, LicenceType, PartnerId, Quantity};

/// Most members one allocation licenses: with the pool, the audit event and
/// the request's idempotency mark they must fit one transaction, which is
/// what makes it all or nothing.
pub const MAX_EMAILS_PER_ALLOCATION: usize = MAX_TRANSACTION_ITEMS - 3;
/// The largest annual fee a seat may have, in minor units (100 million in
/// major units): with the largest quantity, every invoice line fits an i64
/// with room to spare, so no amount saturates.
pub const MAX_ANNUAL_FEE_MINOR: i64 = 10_000_000_000;
/// Most licence types a company has.
pub const MAX_LICENCE_TYPES: usize = 20;
/// Largest page a list returns.
pub const MAX_PAGE: u32 = 200;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    pub name: String,
    pub timezone: Option<String>,
    pub account_manager_email: String,
    pub min_seats_at_renewal: Option<u32>,
    pub plan: NewPlan,
    pub licence_types: Vec<NewPool>,
    #[serde(default)]
    pub managers: Vec<NewManager>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NewPlan {
    Trial {
        ends_on: String,
        seats: u32,
    },
    Premium {
        term_start: String,
        term_months: Option<u32>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPool {
    #[serde(rename = "type")]
    pub licence_type: String,
    pub policy: Policy,
    pub annual_fee_minor: i64,
    pub currency: String,
    pub seats: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewManager {
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub email: String,
    pub name: String,
    pub role: MemberRole,
    pub licence_type: Option<String>,
}

/// `POST …/orders` and `POST …/quotes`: one licence type and quantity, or
/// (for a co-term renewal) `lines`, one per co-term type kept. `kind`
/// defaults to what the company's state calls for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    #[serde(default)]
    pub licence_type: Option<String>,
    #[serde(default)]
    pub quantity: Option<u32>,
    #[serde(default)]
    pub kind: Option<OrderKind>,
    #[serde(default)]
    pub lines: Option<Vec<LineRequest>>,
    #[serde(default)]
    pub agree_to_pay: bool,
}

/// One line of an order as requested.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    pub licence_type: String,
    pub quantity: u32,
}

impl OrderRequest {
    /// An agreed order of `kind` for one licence type.
    pub fn one(kind: OrderKind, licence_type: &str, quantity: u32) -> Self {
        Self {
            licence_type: Some(licence_type.to_string()),
            quantity: Some(quantity),
            kind: Some(kind),
            lines: None,
            agree_to_pay: true,
        }
    }

    /// An agreed co-term renewal keeping these `(type, seats)`.
    pub fn renewal(lines: &[(&str, u32)]) -> Self {
        Self {
            kind: Some(OrderKind::Renewal),
            lines: Some(
                lines
                    .iter()
                    .map(|(t, q)| LineRequest {
                        licence_type: (*t).to_string(),
                        quantity: *q,
                    })
                    .collect(),
            ),
            agree_to_pay: true,
            ..Self::default()
        }
    }

    /// The lines asked for, each type once, naming the bad field.
    pub(super) fn lines(&self) -> Result<Vec<(LicenceType, Quantity)>, ServiceError> {
        let raw: Vec<(String, String, u32)> = match (&self.lines, &self.licence_type, self.quantity)
        {
            (Some(lines), None, None) => lines
                .iter()
                .enumerate()
                .map(|(i, l)| (format!("lines[{i}]"), l.licence_type.clone(), l.quantity))
                .collect(),
            (None, Some(t), Some(q)) => vec![(String::new(), t.clone(), q)],
            (None, Some(_), None) => return Err(ServiceError::invalid("quantity", "is required")),
            (None, None, _) => {
                return Err(ServiceError::invalid(
                    "licence_type",
                    "is required (or lines, for a renewal)",
                ))
            }
            (Some(_), _, _) => {
                return Err(ServiceError::invalid(
                    "lines",
                    "give either lines or licence_type and quantity",
                ))
            }
        };
        if raw.is_empty() || raw.len() > MAX_LICENCE_TYPES {
            return Err(ServiceError::invalid(
                "lines",
                format!("must list 1 to {MAX_LICENCE_TYPES} licence types"),
            ));
        }
        let mut lines: Vec<(LicenceType, Quantity)> = Vec::with_capacity(raw.len());
        for (at, licence_type, quantity) in raw {
            let field = |name: &str| {
                if at.is_empty() {
                    name.to_string()
                } else {
                    format!("{at}.{name}")
                }
            };
            let licence_type =
                LicenceType::parse(&licence_type).map_err(|e| e.at(field("licence_type")))?;
            if lines.iter().any(|(t, _)| *t == licence_type) {
                return Err(ServiceError::invalid(
                    field("licence_type"),
                    "is listed twice",
                ));
            }
            let quantity = Quantity::new(quantity).map_err(|e| e.at(field("quantity")))?;
            lines.push((licence_type, quantity));
        }
        Ok(lines)
    }
}

/// Whom an allocation licenses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocation {
    Emails(Vec<String>),
    AllExpired,
}

/// `POST …/allocations`: `{licence_type, emails: [...]}` or
/// `{licence_type, all_expired: true}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationRequest {
    pub licence_type: String,
    pub emails: Option<Vec<String>>,
    #[serde(default)]
    pub all_expired: bool,
}

impl AllocationRequest {
    /// The licence type and whom to license; exactly one of the two ways.
    pub fn target(self) -> Result<(String, Allocation), ServiceError> {
        match (self.emails, self.all_expired) {
            (Some(emails), false) => Ok((self.licence_type, Allocation::Emails(emails))),
            (None, true) => Ok((self.licence_type, Allocation::AllExpired)),
            _ => Err(ServiceError::invalid(
                "emails",
                "give either emails or all_expired: true",
            )),
        }
    }
}

/// `POST …/orders/{o}/assign`: the day it was actioned, today if absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub actioned_on: Option<String>,
}

/// `POST …/members/{email}/licence/transfer`: who takes the licence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    pub to_email: String,
}

/// `POST …/imports`: the e-mail column's name, if the manager knows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub email_column: Option<String>,
    /// The licence type the import will renew into, if the manager knows:
    /// the preview counts seats in that pool.
    #[serde(default)]
    pub licence_type: Option<String>,
}

/// `POST …/imports/{i}/preview`: the column that holds the e-mails.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepreviewRequest {
    pub email_column: String,
}

/// `POST …/imports/{i}/confirm`: the licence type to renew.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmImportRequest {
    pub licence_type: String,
}

/// A list's optional filter, or a 400 naming the field and its choices.
pub(super) fn list_filter<T>(
    raw: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    field: &str,
    choices: &str,
) -> Result<Option<T>, ServiceError> {
    raw.map(|s| parse(s).ok_or_else(|| ServiceError::invalid(field, format!("must be {choices}"))))
        .transpose()
}

pub(super) fn page_limit(limit: Option<u32>) -> Result<u32, ServiceError> {
    match limit.unwrap_or(50) {
        n @ 1..=MAX_PAGE => Ok(n),
        _ => Err(ServiceError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        )),
    }
}

pub(super) fn validate_name(raw: &str, field: &str) -> Result<String, ServiceError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ServiceError::invalid(field, "must be 1 to 200 characters"));
    }
    // Names reach e-mail subjects and logs: no line breaks, nothing hidden.
    if name.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(ServiceError::invalid(
            field,
            "must not contain control or invisible characters",
        ));
    }
    Ok(name.to_string())
}

/// Parses and de-duplicates e-mails, naming the first bad one by index.
pub(super) fn parse_emails(raw: &[String]) -> Result<Vec<Email>, ServiceError> {
    if raw.is_empty() || raw.len() > MAX_EMAILS_PER_ALLOCATION {
        return Err(ServiceError::invalid(
            "emails",
            format!("must list 1 to {MAX_EMAILS_PER_ALLOCATION} e-mails"),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut emails = Vec::with_capacity(raw.len());
    for (i, value) in raw.iter().enumerate() {
        let email = Email::parse(value).map_err(|e| e.at(format!("emails[{i}]")))?;
        if seen.insert(email.clone()) {
            emails.push(email);
        }
    }
    Ok(emails)
}

pub(super) fn parse_timezone(raw: &str) -> Result<Tz, ServiceError> {
    raw.parse().map_err(|_| {
        ServiceError::invalid(
            "timezone",
            "must be an IANA time zone such as Europe/London",
        )
    })
}

pub(super) fn validate_fee(annual_fee_minor: i64, field: &str) -> Result<(), ServiceError> {
    if (0..=MAX_ANNUAL_FEE_MINOR).contains(&annual_fee_minor) {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            field,
            format!("must be between 0 and {MAX_ANNUAL_FEE_MINOR}"),
        ))
    }
}

/// The smallest and largest minimum account size a company may be given.
pub const MIN_SEATS_AT_RENEWAL_RANGE: std::ops::RangeInclusive<u32> = 1..=Quantity::MAX;

/// `PATCH /v1/companies/{c}`: the settings to change; absent ones stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyChanges {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub account_manager_email: Option<String>,
    pub min_seats_at_renewal: Option<u32>,
}

/// `PUT …/licence-types/{t}`: a new type, or the fee of orders from now on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceTypeSettings {
    pub policy: Policy,
    pub annual_fee_minor: i64,
    pub currency: String,
}

/// `PATCH …/members/{email}`: a new name or role; absent ones stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberChanges {
    pub name: Option<String>,
    pub role: Option<MemberRole>,
}

/// `PUT /v1/partners/{p}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerSettings {
    pub name: String,
    pub contact_email: String,
}

pub(super) type ValidCompany = (Company, Vec<SeatPool>, Vec<(Email, String)>);

pub(super) fn validate_company(
    input: NewCompany,
    partner_id: Option<PartnerId>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ValidCompany, ServiceError> {
    let name = validate_name(&input.name, "name")?;
    let timezone: Tz = match input.timezone.as_deref() {
        None => chrono_tz::Europe::London,
        Some(raw) => parse_timezone(raw)?,
    };
    let account_manager_email =
        Email::parse(&input.account_manager_email).map_err(|e| e.at("account_manager_email"))?;
    let min_seats_at_renewal = input
        .min_seats_at_renewal
        .unwrap_or(DEFAULT_MIN_SEATS_AT_RENEWAL);
    let date = |raw: &str, field: &str| {
        parse_date(raw).ok_or_else(|| ServiceError::invalid(field, "must be a date, YYYY-MM-DD"))
    };
    let (plan, term_months) = match input.plan {
        NewPlan::Trial { ends_on, seats } => {
            if seats == 0 {
                return Err(ServiceError::invalid("plan.seats", "must be at least 1"));
            }
            (
                Plan::Trial {
                    ends_on: date(&ends_on, "plan.ends_on")?,
                    seats,
                    allocated: Some(0),
                },
                DEFAULT_TERM_MONTHS,
            )
        }
        NewPlan::Premium {
            term_start,
            term_months,
        } => {
            let months = term_months.unwrap_or(DEFAULT_TERM_MONTHS);
            if !(1..=60).contains(&months) {
                return Err(ServiceError::invalid(
                    "plan.term_months",
                    "must be between 1 and 60",
                ));
            }
            (
                Plan::premium(date(&term_start, "plan.term_start")?, months),
                months,
            )
        }
    };
    if input.licence_types.is_empty() || input.licence_types.len() > MAX_LICENCE_TYPES {
        return Err(ServiceError::invalid(
            "licence_types",
            format!("must list 1 to {MAX_LICENCE_TYPES} licence types"),
        ));
    }
    let mut pools: Vec<SeatPool> = Vec::new();
    for (i, raw) in input.licence_types.into_iter().enumerate() {
        let at = |field: &str| format!("licence_types[{i}].{field}");
        let licence_type = LicenceType::parse(&raw.licence_type).map_err(|e| e.at(at("type")))?;
        if pools.iter().any(|p| p.licence_type == licence_type) {
            return Err(ServiceError::invalid(at("type"), "is listed twice"));
        }
        validate_fee(raw.annual_fee_minor, &at("annual_fee_minor"))?;
        if matches!(plan, Plan::Trial { .. }) && raw.seats > 0 {
            return Err(ServiceError::invalid(
                at("seats"),
                "must be 0 in a trial: trial licences come from plan.seats, and seats are bought when it converts",
            ));
        }
        if raw.seats > Quantity::MAX {
            return Err(ServiceError::invalid(
                at("seats"),
                format!("must be at most {}", Quantity::MAX),
            ));
        }
        pools.push(SeatPool::new(
            licence_type,
            raw.policy,
            raw.annual_fee_minor,
            Currency::parse(&raw.currency).map_err(|e| e.at(at("currency")))?,
            raw.seats,
        ));
    }
    // The term belongs to co-term seats: with none, there is no term.
    let plan = match plan {
        Plan::Premium { .. } if !pools.iter().any(|p| p.policy == Policy::CoTerm) => {
            Plan::premium_without_term()
        }
        plan => plan,
    };
    let max_managers = 50;
    if input.managers.len() > max_managers {
        return Err(ServiceError::invalid(
            "managers",
            format!("must list at most {max_managers} managers"),
        ));
    }
    let mut managers: Vec<(Email, String)> = Vec::new();
    for (i, raw) in input.managers.into_iter().enumerate() {
        let email = Email::parse(&raw.email).map_err(|e| e.at(format!("managers[{i}].email")))?;
        if managers.iter().any(|(e, _)| *e == email) {
            return Err(ServiceError::invalid(
                format!("managers[{i}].email"),
                "is listed twice",
            ));
        }
        managers.push((
            email,
            validate_name(&raw.name, &format!("managers[{i}].name"))?,
        ));
    }
    let company = Company {
        id: CompanyId::generate(),
        name,
        partner_id,
        timezone,
        account_manager_email,
        min_seats_at_renewal,
        term_months,
        plan,
        next_term: None,
        manager_emails: managers.iter().map(|(email, _)| email.clone()).collect(),
        created_at: now,
        // No members yet; `create_company` counts its managers in.
        member_count: Some(0),
    };
    Ok((company, pools, managers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hold_no_line_breaks_and_nothing_hidden() {
        assert_eq!(validate_name(" Ann Lee ", "name").unwrap(), "Ann Lee");
        for bad in ["Ann\r\nBcc: x@y.io", "Ann\u{200B}", "\u{202E}eeL nnA"] {
            assert!(validate_name(bad, "name").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_fee_too_large_to_invoice_is_refused() {
        let company = |fee: i64| NewCompany {
            name: "Acme".into(),
            timezone: None,
            account_manager_email: "am@vendor.io".into(),
            min_seats_at_renewal: None,
            plan: NewPlan::Premium {
                term_start: "2026-04-01".into(),
                term_months: None,
            },
            licence_types: vec![NewPool {
                licence_type: "standard".into(),
                policy: Policy::CoTerm,
                annual_fee_minor: fee,
                currency: "GBP".into(),
                seats: 1,
            }],
            managers: Vec::new(),
        };
        let now = chrono::DateTime::UNIX_EPOCH;
        assert!(validate_company(company(MAX_ANNUAL_FEE_MINOR), None, now).is_ok());
        let refused = validate_company(company(i64::MAX), None, now).unwrap_err();
        assert!(
            matches!(&refused, ServiceError::Invalid(f) if f.field == "licence_types[0].annual_fee_minor"),
            "{refused:?}"
        );
    }
}
