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
use crate::types::{CompanyId, Currency, Email, LicenceType, PartnerId, Quantity};

/// Most members one allocation licenses: with the pool and the audit event
/// they must fit one transaction, which is what makes it all or nothing.
pub const MAX_EMAILS_PER_ALLOCATION: usize = MAX_TRANSACTION_ITEMS - 2;
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    pub licence_type: String,
    pub quantity: u32,
    pub kind: OrderKind,
    #[serde(default)]
    pub agree_to_pay: bool,
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

/// `POST …/imports`: the e-mail column's name, if the manager knows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub email_column: Option<String>,
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

pub(super) type ValidCompany = (Company, Vec<SeatPool>, Vec<(Email, String)>);

pub(super) fn validate_company(
    input: NewCompany,
    partner_id: Option<PartnerId>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ValidCompany, ServiceError> {
    let name = validate_name(&input.name, "name")?;
    let timezone: Tz = match input.timezone.as_deref() {
        None => chrono_tz::Europe::London,
        Some(raw) => raw.parse().map_err(|_| {
            ServiceError::invalid(
                "timezone",
                "must be an IANA time zone such as Europe/London",
            )
        })?,
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
    let max_types = 20;
    if input.licence_types.is_empty() || input.licence_types.len() > max_types {
        return Err(ServiceError::invalid(
            "licence_types",
            format!("must list 1 to {max_types} licence types"),
        ));
    }
    let mut pools: Vec<SeatPool> = Vec::new();
    for (i, raw) in input.licence_types.into_iter().enumerate() {
        let at = |field: &str| format!("licence_types[{i}].{field}");
        let licence_type = LicenceType::parse(&raw.licence_type).map_err(|e| e.at(at("type")))?;
        if pools.iter().any(|p| p.licence_type == licence_type) {
            return Err(ServiceError::invalid(at("type"), "is listed twice"));
        }
        if raw.annual_fee_minor < 0 {
            return Err(ServiceError::invalid(
                at("annual_fee_minor"),
                "must not be negative",
            ));
        }
        if raw.seats > Quantity::MAX {
            return Err(ServiceError::invalid(
                at("seats"),
                format!("must be at most {}", Quantity::MAX),
            ));
        }
        pools.push(SeatPool {
            licence_type,
            policy: raw.policy,
            annual_fee_minor: raw.annual_fee_minor,
            currency: Currency::parse(&raw.currency).map_err(|e| e.at(at("currency")))?,
            purchased: raw.seats,
            allocated: 0,
        });
    }
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
        manager_emails: managers.iter().map(|(email, _)| email.clone()).collect(),
        created_at: now,
    };
    Ok((company, pools, managers))
}
