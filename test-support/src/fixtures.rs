//! The values tests and benches build alike: dates, callers, a company as
//! the account manager creates it, orders, and learners on rolling licences
//! written straight into the store.

use chrono::{DateTime, NaiveDate, Utc};
use seatkeeper_core::dates::parse_date;
use seatkeeper_core::model::{
    Company, Licence, LicenceTerm, Member, MemberRole, OrderKind, Policy, SeatPool,
};
use seatkeeper_core::ports::{ItemStore, Query, MAX_TRANSACTION_ITEMS};
use seatkeeper_core::repo::Stored;
use seatkeeper_core::rules::{count_member, Touched};
use seatkeeper_core::service::{NewCompany, NewManager, NewPlan, NewPool, OrderRequest};
use seatkeeper_core::types::{CompanyId, Email, LicenceType, PartnerId};
use seatkeeper_core::{repo, Caller, Role};

/// The account manager every fixture company names.
pub const ACCOUNT_MANAGER_EMAIL: &str = "am@vendor.io";

pub fn date(raw: &str) -> NaiveDate {
    parse_date(raw).expect("a test date")
}

/// An RFC 3339 instant, in UTC.
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("a test instant")
        .with_timezone(&Utc)
}

pub fn email(raw: &str) -> Email {
    Email::parse(raw).expect("a test e-mail")
}

/// A caller as the authorizer's claims give one; the user id is `sub-<email>`.
pub fn caller(
    role: Role,
    email: &str,
    company: Option<&CompanyId>,
    partner: Option<&str>,
) -> Caller {
    Caller {
        user_id: format!("sub-{email}"),
        email: self::email(email),
        role,
        company_id: company.cloned(),
        partner_id: partner.map(|p| PartnerId::parse(p).expect("a test partner id")),
    }
}

/// The vendor's account manager.
pub fn account_manager() -> Caller {
    caller(Role::AccountManager, ACCOUNT_MANAGER_EMAIL, None, None)
}

/// A premium term of the default length.
pub fn premium(term_start: &str) -> NewPlan {
    NewPlan::Premium {
        term_start: term_start.into(),
        term_months: None,
    }
}

pub fn trial(ends_on: &str, seats: u32) -> NewPlan {
    NewPlan::Trial {
        ends_on: ends_on.into(),
        seats,
    }
}

/// `seats` seats of the "standard" licence type at GBP 120.00 a year each.
pub fn standard_pool(policy: Policy, seats: u32) -> NewPool {
    NewPool {
        licence_type: "standard".into(),
        policy,
        annual_fee_minor: 12_000,
        currency: "GBP".into(),
        seats,
    }
}

/// Starts a company named `name` as the account manager creates it: in
/// Europe/London, a premium term from 2026-04-01, 20 co-term "standard"
/// seats and one manager, lead@acme.io ("Lee Lead"), each of which the
/// builder's methods change.
pub fn new_company(name: impl Into<String>) -> CompanyBuilder {
    CompanyBuilder(NewCompany {
        name: name.into(),
        timezone: Some("Europe/London".into()),
        account_manager_email: ACCOUNT_MANAGER_EMAIL.into(),
        min_seats_at_renewal: None,
        plan: premium("2026-04-01"),
        licence_types: vec![standard_pool(Policy::CoTerm, 20)],
        managers: vec![NewManager {
            email: "lead@acme.io".into(),
            name: "Lee Lead".into(),
        }],
    })
}

/// A [`NewCompany`] being built; see [`new_company`].
pub struct CompanyBuilder(NewCompany);

impl CompanyBuilder {
    pub fn timezone(mut self, timezone: Option<&str>) -> Self {
        self.0.timezone = timezone.map(Into::into);
        self
    }

    pub fn plan(mut self, plan: NewPlan) -> Self {
        self.0.plan = plan;
        self
    }

    /// One licence type.
    pub fn pool(self, pool: NewPool) -> Self {
        self.pools(vec![pool])
    }

    pub fn pools(mut self, pools: Vec<NewPool>) -> Self {
        self.0.licence_types = pools;
        self
    }

    /// The one manager named at creation.
    pub fn manager(mut self, email: impl Into<String>, name: &str) -> Self {
        self.0.managers = vec![NewManager {
            email: email.into(),
            name: name.into(),
        }];
        self
    }

    pub fn build(self) -> NewCompany {
        self.0
    }
}

/// An order for `quantity` "standard" seats, agreeing to pay.
pub fn order_request(kind: OrderKind, quantity: u32) -> OrderRequest {
    OrderRequest::one(kind, "standard", quantity)
}

/// The company as stored.
pub async fn load_company(store: &dyn ItemStore, id: &CompanyId) -> Company {
    repo::load(store, &repo::company_key(id))
        .await
        .expect("read the company")
        .expect("the company")
        .value
}

/// A learner holding a "standard" rolling licence.
pub fn rolling_learner(email: &str, ends_on: NaiveDate, allocated_on: NaiveDate) -> Member {
    Member {
        email: self::email(email),
        name: "Learner".into(),
        role: MemberRole::Learner,
        licence: Some(Licence {
            licence_type: LicenceType::parse("standard").expect("a licence type"),
            term: LicenceTerm::Rolling { ends_on },
            allocated_on,
        }),
        added_at: Utc::now(),
    }
}

/// Writes rolling learners, each `(e-mail, licence end)`, straight into
/// the store, skipping the use cases: as many transactions as it takes.
/// The company's kept counts follow, as the use cases would keep them.
pub async fn seed_rolling_learners<E: AsRef<str>>(
    store: &dyn ItemStore,
    company: &Company,
    allocated_on: NaiveDate,
    learners: impl IntoIterator<Item = (E, NaiveDate)>,
) {
    let members = learners
        .into_iter()
        .map(|(email, ends_on)| rolling_learner(email.as_ref(), ends_on, allocated_on));
    seed_members(store, &company.id, members).await;
}

/// Writes members straight into the store, skipping the use cases (so a
/// test can have 10 000 in seconds), and keeps the company's counts for
/// them with the same rules the use cases apply
/// (`rules::count_member`), written after the members.
pub async fn seed_members(
    store: &dyn ItemStore,
    company: &CompanyId,
    members: impl IntoIterator<Item = Member>,
) {
    let stored: Stored<Company> = repo::load(store, &repo::company_key(company))
        .await
        .expect("read the company")
        .expect("the company");
    let pools: Vec<Stored<SeatPool>> = repo::load_all(
        store,
        Query::table(repo::company_pk(company), repo::POOL_PREFIX),
    )
    .await
    .expect("read the pools");
    let mut counted = stored.value.clone();
    let mut values: Vec<SeatPool> = pools.iter().map(|p| p.value.clone()).collect();
    let mut writes = Vec::new();
    let mut touched = Touched::default();
    for member in members {
        count_member(
            &mut counted,
            &mut values,
            member.licence.as_ref(),
            true,
            &mut touched,
        );
        writes.push(repo::insert(&counted, &member).expect("a member's write"));
    }
    for batch in writes.chunks(MAX_TRANSACTION_ITEMS) {
        store
            .transact(batch.to_vec())
            .await
            .expect("seed the members");
    }
    let mut counts = vec![repo::update(&counted, &counted, stored.version).expect("the company")];
    for (read, pool) in pools.iter().zip(&values) {
        counts.push(repo::update(&counted, pool, read.version).expect("a pool"));
    }
    store.transact(counts).await.expect("keep the counts");
}
