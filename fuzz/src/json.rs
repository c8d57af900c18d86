//! Targets `json:<body>`: every request body type through the edge's own
//! parser ([`seatkeeper_edge::parse_body`], what `Call::json` runs), then
//! the pure checks the service applies to its fields (e-mails, licence
//! types, currencies, dates, time zones, the allocation's target). No
//! store: this is the layer most garbage stops at, run at full speed.
//!
//! Each case checks: no panic; the body parses, or fails as a 400
//! `validation_failed` problem whose JSON has `type`, `title`, `status`,
//! `detail` and `code`.

use seatkeeper_core::dates::parse_date;
use seatkeeper_core::service::{
    AllocationRequest, AssignRequest, CompanyChanges, ConfirmImportRequest, ImportRequest,
    LicenceTypeSettings, MemberChanges, NewCompany, NewMember, NewPlan, OrderRequest,
    PartnerSettings, RepreviewRequest, TransferRequest,
};
use seatkeeper_core::types::{Currency, Email, InvalidField, LicenceType, Quantity};
use seatkeeper_core::ServiceError;
use seatkeeper_edge::routes::RouteName;
use seatkeeper_edge::{parse_body, Problem};
use serde_json::{json, Value};

use crate::{run_target, CaseResult, Config, Gen, Report};

/// A body type, the routes that read it, and valid bodies to mutate.
pub struct Body {
    pub name: &'static str,
    pub routes: &'static [RouteName],
    pub seeds: fn() -> Vec<Value>,
    /// Parses the body and applies the pure checks.
    pub parse: fn(&[u8]) -> Result<(), Problem>,
}

fn field<T>(result: Result<T, InvalidField>) -> Result<T, Problem> {
    result.map_err(|e| Problem::from(ServiceError::from(e)))
}

fn email(raw: &str) -> Result<(), Problem> {
    field(Email::parse(raw)).map(drop)
}

fn licence_type(raw: &str) -> Result<(), Problem> {
    field(LicenceType::parse(raw)).map(drop)
}

fn date(raw: &str) -> Result<(), Problem> {
    parse_date(raw)
        .map(drop)
        .ok_or_else(|| Problem::invalid("date", "must be a date, YYYY-MM-DD"))
}

fn timezone(raw: &str) -> Result<(), Problem> {
    raw.parse::<chrono_tz::Tz>()
        .map(drop)
        .map_err(|_| Problem::invalid("timezone", "must be an IANA time zone"))
}

fn name(raw: &str) -> Result<(), Problem> {
    // The service trims and counts characters: it must not panic on any.
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        return Err(Problem::invalid("name", "must be 1 to 200 characters"));
    }
    Ok(())
}

fn quantity(n: u32) -> Result<(), Problem> {
    field(Quantity::new(n)).map(drop)
}

fn parse_new_company(bytes: &[u8]) -> Result<(), Problem> {
    let body: NewCompany = parse_body(bytes)?;
    name(&body.name)?;
    if let Some(tz) = &body.timezone {
        timezone(tz)?;
    }
    email(&body.account_manager_email)?;
    match &body.plan {
        NewPlan::Trial { ends_on, .. } => date(ends_on)?,
        NewPlan::Premium { term_start, .. } => date(term_start)?,
    }
    for pool in &body.licence_types {
        licence_type(&pool.licence_type)?;
        field(Currency::parse(&pool.currency))?;
        quantity(pool.seats)?;
    }
    for manager in &body.managers {
        email(&manager.email)?;
        name(&manager.name)?;
    }
    Ok(())
}

fn parse_new_member(bytes: &[u8]) -> Result<(), Problem> {
    let body: NewMember = parse_body(bytes)?;
    email(&body.email)?;
    name(&body.name)?;
    body.licence_type.as_deref().map_or(Ok(()), licence_type)
}

fn parse_order(bytes: &[u8]) -> Result<(), Problem> {
    let body: OrderRequest = parse_body(bytes)?;
    if let Some(t) = &body.licence_type {
        licence_type(t)?;
    }
    if let Some(q) = body.quantity {
        quantity(q)?;
    }
    for line in body.lines.iter().flatten() {
        licence_type(&line.licence_type)?;
        quantity(line.quantity)?;
    }
    Ok(())
}

fn parse_assign(bytes: &[u8]) -> Result<(), Problem> {
    let body: AssignRequest = parse_body(bytes)?;
    body.actioned_on.as_deref().map_or(Ok(()), date)
}

fn parse_allocation(bytes: &[u8]) -> Result<(), Problem> {
    let body: AllocationRequest = parse_body(bytes)?;
    let (t, _) = body.target().map_err(Problem::from)?;
    licence_type(&t)
}

fn parse_import(bytes: &[u8]) -> Result<(), Problem> {
    let body: ImportRequest = parse_body(bytes)?;
    body.licence_type.as_deref().map_or(Ok(()), licence_type)
}

fn parse_confirm(bytes: &[u8]) -> Result<(), Problem> {
    let body: ConfirmImportRequest = parse_body(bytes)?;
    licence_type(&body.licence_type)
}

fn parse_repreview(bytes: &[u8]) -> Result<(), Problem> {
    parse_body::<RepreviewRequest>(bytes).map(drop)
}

fn parse_transfer(bytes: &[u8]) -> Result<(), Problem> {
    let body: TransferRequest = parse_body(bytes)?;
    email(&body.to_email)
}

fn parse_company_changes(bytes: &[u8]) -> Result<(), Problem> {
    let body: CompanyChanges = parse_body(bytes)?;
    body.name.as_deref().map_or(Ok(()), name)?;
    body.timezone.as_deref().map_or(Ok(()), timezone)?;
    body.account_manager_email.as_deref().map_or(Ok(()), email)
}

fn parse_licence_type(bytes: &[u8]) -> Result<(), Problem> {
    let body: LicenceTypeSettings = parse_body(bytes)?;
    field(Currency::parse(&body.currency)).map(drop)
}

fn parse_member_changes(bytes: &[u8]) -> Result<(), Problem> {
    let body: MemberChanges = parse_body(bytes)?;
    body.name.as_deref().map_or(Ok(()), name)
}

fn parse_partner(bytes: &[u8]) -> Result<(), Problem> {
    let body: PartnerSettings = parse_body(bytes)?;
    name(&body.name)?;
    email(&body.contact_email)
}

/// Every body the API reads, with the routes that read it. The handlers
/// target sends each route its own body's seeds; a test holds the table
/// to every POST, PUT and PATCH route in ROUTES.
pub const BODIES: &[Body] = &[
    Body {
        name: "new_company",
        routes: &[RouteName::CreateCompany],
        seeds: || {
            vec![
                json!({
                    "name": "Acme Ltd", "account_manager_email": "am@vendor.io",
                    "plan": {"kind": "premium", "term_start": "2026-04-01"},
                    "licence_types": [{"type": "standard", "policy": "co_term", "annual_fee_minor": 12000, "currency": "GBP", "seats": 20}],
                    "managers": [{"email": "lead@acme.io", "name": "Lee Lead"}]
                }),
                json!({
                    "name": "Trial Co", "timezone": "America/New_York", "account_manager_email": "am@vendor.io",
                    "min_seats_at_renewal": 5,
                    "plan": {"kind": "trial", "ends_on": "2026-12-31", "seats": 10},
                    "licence_types": [{"type": "pro", "policy": "rolling_12_months", "annual_fee_minor": 0, "currency": "EUR", "seats": 3}]
                }),
            ]
        },
        parse: parse_new_company,
    },
    Body {
        name: "new_member",
        routes: &[RouteName::AddMember],
        seeds: || {
            vec![
                json!({"email": "new@acme.io", "name": "New Person", "role": "learner"}),
                json!({"email": "boss@acme.io", "name": "Boss", "role": "manager", "licence_type": "standard"}),
            ]
        },
        parse: parse_new_member,
    },
    Body {
        name: "order",
        routes: &[RouteName::RequestOrder, RouteName::QuoteOrder],
        seeds: || {
            vec![
                json!({"kind": "upgrade", "licence_type": "standard", "quantity": 2, "agree_to_pay": true}),
                json!({"kind": "renewal", "lines": [{"licence_type": "standard", "quantity": 20}], "agree_to_pay": true}),
                json!({"kind": "trial_conversion", "licence_type": "standard", "quantity": 1}),
            ]
        },
        parse: parse_order,
    },
    Body {
        name: "assign",
        routes: &[RouteName::AssignOrder],
        seeds: || vec![json!({}), json!({"actioned_on": "2026-11-22"})],
        parse: parse_assign,
    },
    Body {
        name: "allocation",
        routes: &[RouteName::Allocate],
        seeds: || {
            vec![
                json!({"licence_type": "standard", "emails": ["member@acme.io"]}),
                json!({"licence_type": "standard", "all_expired": true}),
            ]
        },
        parse: parse_allocation,
    },
    Body {
        name: "import",
        routes: &[RouteName::CreateImport],
        seeds: || {
            vec![
                json!({}),
                json!({"email_column": "Email", "licence_type": "standard"}),
            ]
        },
        parse: parse_import,
    },
    Body {
        name: "confirm_import",
        routes: &[RouteName::ConfirmImport],
        seeds: || vec![json!({"licence_type": "standard"})],
        parse: parse_confirm,
    },
    Body {
        name: "repreview",
        routes: &[RouteName::PreviewImport],
        seeds: || vec![json!({"email_column": "Email"})],
        parse: parse_repreview,
    },
    Body {
        name: "transfer",
        routes: &[RouteName::TransferLicence],
        seeds: || vec![json!({"to_email": "other@acme.io"})],
        parse: parse_transfer,
    },
    Body {
        name: "company_changes",
        routes: &[RouteName::UpdateCompany],
        seeds: || {
            vec![
                json!({"name": "Acme Group", "timezone": "Europe/Paris"}),
                json!({"account_manager_email": "am2@vendor.io", "min_seats_at_renewal": 3}),
            ]
        },
        parse: parse_company_changes,
    },
    Body {
        name: "licence_type",
        routes: &[RouteName::PutLicenceType],
        seeds: || vec![json!({"policy": "co_term", "annual_fee_minor": 15000, "currency": "GBP"})],
        parse: parse_licence_type,
    },
    Body {
        name: "member_changes",
        routes: &[RouteName::UpdateMember],
        seeds: || vec![json!({"name": "Renamed"}), json!({"role": "manager"})],
        parse: parse_member_changes,
    },
    Body {
        name: "partner",
        routes: &[RouteName::PutPartner],
        seeds: || vec![json!({"name": "MSP One", "contact_email": "ops@msp.io"})],
        parse: parse_partner,
    },
    Body {
        name: "none",
        // Routes that take no body: whatever is sent must not matter.
        routes: &[RouteName::CancelOrder, RouteName::ResumeAllocation],
        seeds: || vec![json!({})],
        parse: |_| Ok(()),
    },
];

/// Tokens that shape JSON or trouble a parser.
const DICTIONARY: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"false",
    b"0",
    b"-1",
    b"4294967296",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1e400",
    b"1.5",
    b"\\u0000",
    b"\\ud800",
    b"\\\"",
    b"\xF0\x9F\x98\x80",
    b"\xFF",
    b"\xC3",
    b" ",
    b"\"kind\":",
    b"\"type\":",
    b"\"email\":",
    b"\"unknown\":",
    b"\"licence_type\":",
    b"\"premium\"",
    b"\"trial\"",
    b"\"co_term\"",
    b"\"learner\"",
    b"\"manager\"",
];

/// The bytes JSON is made of, for random input.
const ALPHABET: &[u8] = b"{}[]\":,0123456789.-eEtrufalsn \\@a";

/// A JSON value of no particular shape: the wrong type for any field.
fn odd_value(gen: &mut Gen) -> Value {
    match gen.below(14) {
        0 => Value::Null,
        1 => json!(gen.chance(50)),
        2 => json!(gen.u64()),
        3 => json!(-(gen.range(0, i64::MAX as u64) as i64)),
        4 => json!(gen.range(0, 1000) as f64 / 7.0),
        5 => json!(""),
        6 => json!(" \t"),
        7 => json!("x".repeat(gen.below(5000))),
        8 => json!(String::from_utf8_lossy(&gen.bytes(40, b"@.- \n\r\t"))),
        9 => json!(["a@b.io", 1, null]),
        10 => json!({"a": {"b": [1]}}),
        11 => json!("\u{200B}name\u{202E}\u{0000}"),
        12 => json!(*gen.pick(&[
            "2026-02-30",
            "9999-12-31",
            "0000-01-01",
            "Europe/Nowhere",
            "GBP",
            "gbp",
            "XXXX",
            "a@b",
            "A@B.IO "
        ])),
        _ => {
            // Deep nesting: past serde_json's recursion limit (128) and under it.
            let depth = 1 + gen.below(200);
            let mut v = json!(1);
            for _ in 0..depth {
                // Not `json!([v])`: that copies the whole nest each level.
                v = Value::Array(vec![v]);
            }
            v
        }
    }
}

/// Changes one value in `v`, deletes a key, or adds an unknown one.
fn mutate_value(gen: &mut Gen, v: &mut Value) {
    match v {
        Value::Object(map) if !map.is_empty() && gen.chance(70) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = gen.pick(&keys).clone();
            match gen.below(6) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    map.insert(format!("{key}_"), odd_value(gen));
                }
                _ => {
                    if let Some(inner) = map.get_mut(&key) {
                        mutate_value(gen, inner);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() && gen.chance(70) => {
            let i = gen.below(items.len());
            match gen.below(4) {
                0 => {
                    items.remove(i);
                }
                1 => {
                    let copy = items[i].clone();
                    for _ in 0..gen.below(64) {
                        items.push(copy.clone());
                    }
                }
                _ => mutate_value(gen, &mut items[i]),
            }
        }
        _ => *v = odd_value(gen),
    }
}

/// A body for `body`: mostly mutated seeds, some arbitrary bytes.
pub fn input(gen: &mut Gen, body: &Body) -> Vec<u8> {
    let seeds = (body.seeds)();
    let mut seed = gen.pick(&seeds).clone();
    match gen.below(10) {
        0 => gen.bytes(256, ALPHABET),
        1 => Vec::new(),
        2..=5 => {
            for _ in 0..=gen.below(3) {
                mutate_value(gen, &mut seed);
            }
            seed.to_string().into_bytes()
        }
        6 => seed.to_string().into_bytes(),
        _ => {
            let other = gen.pick(&seeds).to_string();
            gen.mutate(seed.to_string().as_bytes(), DICTIONARY, other.as_bytes())
        }
    }
}

/// The shape every problem must have.
pub fn check_problem(problem: &Problem) -> CaseResult {
    let body = problem.body();
    let status = problem.status.as_u16();
    if !(400..500).contains(&status) {
        return Err(format!("status {status}: {body}"));
    }
    let code_ok = !problem.code.is_empty()
        && problem
            .code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_');
    let members_ok = ["type", "title", "detail", "code"]
        .iter()
        .all(|m| body[*m].is_string())
        && body["status"] == status;
    if code_ok && members_ok {
        Ok(format!("{status} {}", problem.code))
    } else {
        Err(format!("malformed problem: {body}"))
    }
}

pub fn run(body: &Body, config: &Config) -> Report {
    let target = format!("json:{}", body.name);
    run_target(&target, config, config.cases, |gen| {
        let bytes = input(gen, body);
        let result = match (body.parse)(&bytes) {
            Ok(()) => Ok("ok".to_string()),
            Err(problem) => check_problem(&problem),
        };
        (bytes, result)
    })
}
