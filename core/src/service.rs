//! The use cases, generic over the ports. Every check of role and tenancy,
//! every rule and every write goes through here, whichever edge called.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::access::{decide, AccessDecision};
use crate::caller::{Action, Caller, Role};
use crate::dates::{parse_date, rolling_licence_end};
use crate::emails;
use crate::error::ServiceError;
use crate::model::*;
use crate::ports::{Clock, ItemStore, Mailer, OutgoingEmail, Query, Write, MAX_TRANSACTION_ITEMS};
use crate::pricing::{next_term_start, price, Quote};
use crate::repo::{self, Stored};
use crate::types::{CompanyId, Currency, Email, LicenceType, OrderId, PartnerId, Quantity};

/// How often a use case re-reads and retries after losing an optimistic race.
const MAX_ATTEMPTS: u32 = 60;
/// Most members one allocation licenses: with the pool and the audit event
/// they must fit one transaction, which is what makes it all or nothing.
pub const MAX_EMAILS_PER_ALLOCATION: usize = MAX_TRANSACTION_ITEMS - 2;
/// Largest page a list returns.
pub const MAX_PAGE: u32 = 200;

// ---------------------------------------------------------------- inputs

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

// ---------------------------------------------------------------- views

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolView {
    #[serde(rename = "type")]
    pub licence_type: LicenceType,
    pub policy: Policy,
    pub annual_fee_minor: i64,
    pub currency: Currency,
    pub purchased: u32,
    pub allocated: u32,
    pub available: u32,
}

impl From<&SeatPool> for PoolView {
    fn from(pool: &SeatPool) -> Self {
        Self {
            licence_type: pool.licence_type.clone(),
            policy: pool.policy,
            annual_fee_minor: pool.annual_fee_minor,
            currency: pool.currency.clone(),
            purchased: pool.purchased,
            allocated: pool.allocated,
            available: pool.available(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemberCounts {
    pub active: u64,
    pub expired: u64,
    pub unlicensed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompanyView {
    #[serde(flatten)]
    pub company: Company,
    pub status: CompanyStatus,
    pub today: NaiveDate,
    pub pools: Vec<PoolView>,
    pub counts: MemberCounts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    pub email: Email,
    pub name: String,
    pub role: MemberRole,
    pub licence_type: Option<LicenceType>,
    pub expires_on: Option<NaiveDate>,
    pub status: LicenceStatus,
}

impl MemberView {
    fn new(member: &Member, plan: &Plan, today: NaiveDate) -> Self {
        Self {
            email: member.email.clone(),
            name: member.name.clone(),
            role: member.role,
            licence_type: member.licence.as_ref().map(|l| l.licence_type.clone()),
            expires_on: member.licence.as_ref().map(|l| l.expires_on(plan)),
            status: member.status(plan, today),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub order: Order,
    pub invoice: Invoice,
    pub pool: PoolView,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allocated {
    pub allocated: Vec<Email>,
    pub pool: PoolView,
}

// ---------------------------------------------------------------- service

/// Settings the use cases need from the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where links in e-mails point, e.g. `https://app.example.com`.
    pub app_base_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            app_base_url: "http://127.0.0.1:3000".to_string(),
        }
    }
}

/// Seatkeeper's use cases over a store, a clock and a mailer.
pub struct Seatkeeper<S, C, M> {
    store: S,
    clock: C,
    mailer: M,
    settings: Settings,
}

/// A company as read, with its own today.
pub(crate) struct Tenant {
    pub(crate) company: Stored<Company>,
    pub(crate) today: NaiveDate,
}

impl Tenant {
    pub(crate) fn id(&self) -> &CompanyId {
        &self.company.value.id
    }
}

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    pub fn new(store: S, clock: C, mailer: M, settings: Settings) -> Self {
        Self {
            store,
            clock,
            mailer,
            settings,
        }
    }

    pub fn mailer(&self) -> &M {
        &self.mailer
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The write that records an e-mail owed, to go in the same transaction
    /// as the change that causes it.
    fn notice(
        &self,
        company: &Company,
        dedup_key: String,
        email: OutgoingEmail,
    ) -> Result<(Write, Notice), ServiceError> {
        let notice = Notice {
            dedup_key,
            company_id: company.id.clone(),
            kind: email.kind.clone(),
            due_on: self.clock.today_in(company.timezone),
            retry_at: self.clock.now(),
            email,
            claimed_until: None,
            sent_at: None,
        };
        Ok((repo::insert(company, &notice)?, notice))
    }

    /// Sends a committed notice and marks it sent. A failure leaves it
    /// pending in the due index for the daily run to retry; the change that
    /// caused it has happened either way, so the caller is not failed.
    pub async fn deliver(&self, company: &Company, mut notice: Notice, version: u64) -> bool {
        if self.mailer.send(&notice.email).await.is_err() {
            return false;
        }
        notice.sent_at = Some(self.clock.now());
        match repo::update(company, &notice, version) {
            Ok(write) => self.store.transact(vec![write]).await.is_ok(),
            Err(_) => false,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Loads a company the caller may act on; any other answers 404.
    pub(crate) async fn tenant(
        &self,
        caller: &Caller,
        company_id: &str,
    ) -> Result<Tenant, ServiceError> {
        let not_found = ServiceError::NotFound { what: "company" };
        let id = CompanyId::parse(company_id).map_err(|_| not_found.clone())?;
        let company: Stored<Company> = repo::load(&self.store, &repo::company_key(&id))
            .await?
            .ok_or(not_found.clone())?;
        if !caller.can_act_on(&company.value) {
            return Err(not_found);
        }
        let today = self.clock.today_in(company.value.timezone);
        Ok(Tenant { company, today })
    }

    pub(crate) async fn pool(
        &self,
        tenant: &Tenant,
        licence_type: &LicenceType,
    ) -> Result<Stored<SeatPool>, ServiceError> {
        repo::load(&self.store, &repo::pool_key(tenant.id(), licence_type))
            .await?
            .ok_or(ServiceError::NotFound {
                what: "licence type",
            })
    }

    pub(crate) fn audit(
        &self,
        caller: &Caller,
        tenant: &Company,
        action: &str,
        before: serde_json::Value,
        after: serde_json::Value,
    ) -> Result<Write, ServiceError> {
        let event = AuditEvent {
            company_id: tenant.id.clone(),
            at: self.clock.now(),
            actor: caller.actor(),
            acting_for: caller.acting_for(tenant),
            action: action.to_string(),
            before,
            after,
        };
        repo::insert_raw(repo::audit_key(&tenant.id), &event, None)
    }

    /// Runs `attempt` until it stops losing optimistic races, sleeping a
    /// random, growing while between tries ("full jitter").
    pub(crate) async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, ServiceError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        for n in 0..MAX_ATTEMPTS {
            match attempt().await {
                Err(e) if e.is_contention() => {
                    let cap_ms = (2u64 << n.min(6)).min(100);
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=cap_ms))).await;
                }
                other => return other,
            }
        }
        Err(ServiceError::Busy)
    }

    // ------------------------------------------------------------ companies

    pub async fn create_company(
        &self,
        caller: &Caller,
        input: NewCompany,
    ) -> Result<CompanyView, ServiceError> {
        caller.require(Action::CreateCompany)?;
        let partner_id = match caller.role {
            Role::PartnerAdmin => {
                Some(caller.partner_id.clone().ok_or(ServiceError::Forbidden {
                    action: "create companies without a partner id",
                })?)
            }
            _ => None,
        };
        let (company, pools, managers) = validate_company(input, partner_id, self.clock.now())?;
        let today = self.clock.today_in(company.timezone);
        let mut pools = pools;
        let members = managers
            .into_iter()
            .map(|(email, name)| {
                // Each manager takes a seat of the first licence type while any are free.
                let licence = pools.first_mut().and_then(|pool| {
                    pool.take(1).ok()?;
                    Some(new_licence(pool, &company.plan, today))
                });
                Member {
                    email,
                    name,
                    role: MemberRole::Manager,
                    licence,
                    added_at: company.created_at,
                }
            })
            .collect::<Vec<_>>();
        let mut writes = vec![repo::insert(&company, &company)?];
        for pool in &pools {
            writes.push(repo::insert(&company, pool)?);
        }
        for member in &members {
            writes.push(repo::insert(&company, member)?);
        }
        writes.push(self.audit(
            caller,
            &company,
            "company.create",
            serde_json::Value::Null,
            serde_json::to_value(&company).unwrap_or_default(),
        )?);
        self.store.transact(writes).await?;
        let counts = count_members(members.iter(), &company.plan, today);
        Ok(CompanyView {
            status: company.status(today),
            today,
            pools: pools.iter().map(PoolView::from).collect(),
            counts,
            company,
        })
    }

    pub async fn get_company(
        &self,
        caller: &Caller,
        company_id: &str,
    ) -> Result<CompanyView, ServiceError> {
        caller.require(Action::ReadCompany)?;
        let tenant = self.tenant(caller, company_id).await?;
        let pk = repo::company_pk(tenant.id());
        let pools: Vec<Stored<SeatPool>> =
            repo::load_all(&self.store, Query::table(pk.clone(), repo::POOL_PREFIX)).await?;
        let members: Vec<Stored<Member>> =
            repo::load_all(&self.store, Query::table(pk, repo::MEMBER_PREFIX)).await?;
        let company = tenant.company.value;
        Ok(CompanyView {
            status: company.status(tenant.today),
            today: tenant.today,
            pools: pools.iter().map(|p| PoolView::from(&p.value)).collect(),
            counts: count_members(
                members.iter().map(|m| &m.value),
                &company.plan,
                tenant.today,
            ),
            company,
        })
    }

    pub async fn list_partner_companies(
        &self,
        caller: &Caller,
        partner_id: &str,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<ListPage<Company>, ServiceError> {
        caller.require(Action::CreateCompany)?;
        let not_found = ServiceError::NotFound { what: "partner" };
        let partner = PartnerId::parse(partner_id).map_err(|_| not_found.clone())?;
        if caller.role == Role::PartnerAdmin && caller.partner_id.as_ref() != Some(&partner) {
            return Err(not_found);
        }
        let query = Query {
            limit: page_limit(limit)?,
            cursor,
            ..Query::index(crate::ports::Index::Partner, repo::partner_pk(&partner))
        };
        let (companies, next_cursor) = repo::load_page::<Company, _>(&self.store, &query).await?;
        Ok(ListPage {
            items: companies.into_iter().map(|c| c.value).collect(),
            next_cursor,
        })
    }

    // ------------------------------------------------------------ members

    pub async fn add_member(
        &self,
        caller: &Caller,
        company_id: &str,
        input: NewMember,
    ) -> Result<MemberView, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let email = Email::parse(&input.email)?;
        let name = validate_name(&input.name, "name")?;
        let requested_type = input
            .licence_type
            .as_deref()
            .map(LicenceType::parse)
            .transpose()?;
        self.retrying(|| async {
            let tenant = self.tenant(caller, company_id).await?;
            let company = &tenant.company.value;
            if repo::load::<Member, _>(&self.store, &repo::member_key(tenant.id(), &email))
                .await?
                .is_some()
            {
                return Err(ServiceError::MemberExists {
                    email: email.clone(),
                });
            }
            let mut member = Member {
                email: email.clone(),
                name: name.clone(),
                role: input.role,
                licence: None,
                added_at: self.clock.now(),
            };
            let mut writes = Vec::new();
            // In a trial every new member gets a trial seat while any are free.
            let licence_type = match (&requested_type, &company.plan) {
                (Some(t), _) => Some(t.clone()),
                (None, Plan::Trial { .. }) => self.first_pool_with_seats(&tenant).await?,
                (None, Plan::Premium { .. }) => None,
            };
            let mut pool_after = None;
            if let Some(licence_type) = licence_type {
                let mut pool = self.pool(&tenant, &licence_type).await?;
                ensure_term_open(company, tenant.today)?;
                pool.value.take(1).map_err(shortage)?;
                member.licence = Some(new_licence(&pool.value, &company.plan, tenant.today));
                writes.push(repo::update(
                    &tenant.company.value,
                    &pool.value,
                    pool.version,
                )?);
                pool_after = Some(pool.value);
            }
            writes.push(repo::insert(&tenant.company.value, &member)?);
            if member.role == MemberRole::Manager {
                let mut with_manager = company.clone();
                with_manager.manager_emails.push(member.email.clone());
                writes.push(repo::update(
                    &tenant.company.value,
                    &with_manager,
                    tenant.company.version,
                )?);
            }
            writes.push(self.audit(
                caller,
                company,
                "member.add",
                serde_json::Value::Null,
                serde_json::json!({"member": member, "pool": pool_after}),
            )?);
            self.store.transact(writes).await?;
            Ok(MemberView::new(&member, &company.plan, tenant.today))
        })
        .await
    }

    async fn first_pool_with_seats(
        &self,
        tenant: &Tenant,
    ) -> Result<Option<LicenceType>, ServiceError> {
        let pools: Vec<Stored<SeatPool>> = repo::load_all(
            &self.store,
            Query::table(repo::company_pk(tenant.id()), repo::POOL_PREFIX),
        )
        .await?;
        Ok(pools
            .into_iter()
            .find(|p| p.value.available() > 0)
            .map(|p| p.value.licence_type))
    }

    pub async fn list_members(
        &self,
        caller: &Caller,
        company_id: &str,
        status: Option<&str>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<ListPage<MemberView>, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let wanted = status
            .map(|s| {
                LicenceStatus::parse(s).ok_or_else(|| {
                    ServiceError::invalid("licence_status", "must be active, expired or unlicensed")
                })
            })
            .transpose()?;
        let tenant = self.tenant(caller, company_id).await?;
        let query = Query {
            limit: page_limit(limit)?,
            cursor,
            ..Query::table(repo::company_pk(tenant.id()), repo::MEMBER_PREFIX)
        };
        let (members, next_cursor) = repo::load_page::<Member, _>(&self.store, &query).await?;
        let plan = &tenant.company.value.plan;
        // The filter runs on each page, so a page may hold fewer than `limit`.
        let items = members
            .iter()
            .map(|m| MemberView::new(&m.value, plan, tenant.today))
            .filter(|view| wanted.is_none_or(|s| view.status == s))
            .collect();
        Ok(ListPage { items, next_cursor })
    }

    // ------------------------------------------------------------ orders

    /// The price of `quantity` more seats today. `kind` defaults to what the
    /// company's plan calls for: a conversion in a trial, else an upgrade.
    pub async fn quote(
        &self,
        caller: &Caller,
        company_id: &str,
        licence_type: &str,
        quantity: u32,
        kind: Option<OrderKind>,
    ) -> Result<Quote, ServiceError> {
        caller.require(Action::RequestOrder)?;
        let tenant = self.tenant(caller, company_id).await?;
        self.quote_for(&tenant, licence_type, quantity, kind).await
    }

    async fn quote_for(
        &self,
        tenant: &Tenant,
        licence_type: &str,
        quantity: u32,
        kind: Option<OrderKind>,
    ) -> Result<Quote, ServiceError> {
        let licence_type = LicenceType::parse(licence_type)?;
        let quantity = Quantity::new(quantity)?;
        let pool = self.pool(tenant, &licence_type).await?;
        let company = &tenant.company.value;
        let kind = kind.unwrap_or(match company.plan {
            Plan::Trial { .. } => OrderKind::TrialConversion,
            Plan::Premium { .. } => OrderKind::Upgrade,
        });
        check_order_rules(company, &pool.value, kind, quantity)?;
        Ok(price(
            &pool.value,
            &company.plan,
            kind,
            company.term_months,
            quantity,
            tenant.today,
        )?)
    }

    pub async fn request_order(
        &self,
        caller: &Caller,
        company_id: &str,
        input: OrderRequest,
    ) -> Result<Order, ServiceError> {
        caller.require(Action::RequestOrder)?;
        if !input.agree_to_pay {
            return Err(ServiceError::invalid(
                "agree_to_pay",
                "must be true: tick that you agree to pay",
            ));
        }
        let tenant = self.tenant(caller, company_id).await?;
        let quote = self
            .quote_for(
                &tenant,
                &input.licence_type,
                input.quantity,
                Some(input.kind),
            )
            .await?;
        let order = Order {
            id: OrderId::generate(),
            company_id: tenant.id().clone(),
            licence_type: quote.licence_type.clone(),
            quantity: quote.quantity,
            kind: input.kind,
            state: OrderState::Requested,
            quote,
            requested_by: caller.actor(),
            requested_at: self.clock.now(),
            assigned_by: None,
            assigned_at: None,
            cancelled_by: None,
            cancelled_at: None,
            invoice: None,
        };
        let company = &tenant.company.value;
        let email = emails::order_requested(&self.settings.app_base_url, company, &order);
        let (notice_write, notice) =
            self.notice(company, format!("order_requested#{}", order.id), email)?;
        let writes = vec![
            repo::insert(&tenant.company.value, &order)?,
            notice_write,
            self.audit(
                caller,
                company,
                "order.request",
                serde_json::Value::Null,
                serde_json::to_value(&order).unwrap_or_default(),
            )?,
        ];
        self.store.transact(writes).await?;
        self.deliver(company, notice, 1).await;
        Ok(order)
    }

    pub async fn get_order(
        &self,
        caller: &Caller,
        company_id: &str,
        order_id: &str,
    ) -> Result<Order, ServiceError> {
        caller.require(Action::ReadCompany)?;
        let tenant = self.tenant(caller, company_id).await?;
        Ok(self.order(&tenant, order_id).await?.value)
    }

    async fn order(&self, tenant: &Tenant, order_id: &str) -> Result<Stored<Order>, ServiceError> {
        let not_found = ServiceError::NotFound { what: "order" };
        let id = OrderId::parse(order_id).map_err(|_| not_found.clone())?;
        repo::load(&self.store, &repo::order_key(tenant.id(), &id))
            .await?
            .ok_or(not_found)
    }

    pub async fn list_orders(
        &self,
        caller: &Caller,
        company_id: &str,
        state: Option<&str>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<ListPage<Order>, ServiceError> {
        caller.require(Action::ReadCompany)?;
        let wanted = state
            .map(|s| {
                OrderState::parse(s).ok_or_else(|| {
                    ServiceError::invalid("state", "must be requested, assigned or cancelled")
                })
            })
            .transpose()?;
        let tenant = self.tenant(caller, company_id).await?;
        let query = Query {
            limit: page_limit(limit)?,
            cursor,
            ..Query::table(repo::company_pk(tenant.id()), repo::ORDER_PREFIX)
        };
        let (orders, next_cursor) = repo::load_page::<Order, _>(&self.store, &query).await?;
        let items = orders
            .into_iter()
            .map(|o| o.value)
            .filter(|o| wanted.is_none_or(|s| o.state == s))
            .collect();
        Ok(ListPage { items, next_cursor })
    }

    /// Actions a requested order: the invoice, the pool and (for renewals
    /// and conversions) the company change in one conditional transaction.
    pub async fn assign_order(
        &self,
        caller: &Caller,
        company_id: &str,
        order_id: &str,
        actioned_on: Option<&str>,
    ) -> Result<Assignment, ServiceError> {
        caller.require(Action::AssignOrder)?;
        let actioned_on = actioned_on
            .map(|raw| {
                parse_date(raw).ok_or_else(|| {
                    ServiceError::invalid("actioned_on", "must be a date, YYYY-MM-DD")
                })
            })
            .transpose()?;
        let assigned = self.retrying(|| async {
            let tenant = self.tenant(caller, company_id).await?;
            let mut order = self.order(&tenant, order_id).await?;
            if !order.value.state.can_become(OrderState::Assigned) {
                return Err(ServiceError::OrderNotRequested {
                    state: order.value.state,
                });
            }
            let mut pool = self.pool(&tenant, &order.value.licence_type).await?;
            let mut company = tenant.company.value.clone();
            let (kind, quantity) = (order.value.kind, order.value.quantity);
            check_order_rules(&company, &pool.value, kind, quantity)?;
            let actioned_on = actioned_on.unwrap_or(tenant.today);
            let quote = price(
                &pool.value,
                &company.plan,
                kind,
                company.term_months,
                quantity,
                actioned_on,
            )?;
            let before =
                serde_json::json!({"order": order.value, "pool": pool.value, "plan": company.plan});
            apply_order(&mut company, &mut pool.value, kind, quantity, actioned_on);
            let invoice = Invoice::from_quote(order.value.id.clone(), quote);
            order.value.state = OrderState::Assigned;
            order.value.assigned_by = Some(caller.actor());
            order.value.assigned_at = Some(self.clock.now());
            order.value.invoice = Some(invoice.clone());
            let mut writes = vec![
                repo::update(&tenant.company.value, &order.value, order.version)?,
                repo::update(&tenant.company.value, &pool.value, pool.version)?,
            ];
            if company != tenant.company.value {
                writes.push(repo::update(&tenant.company.value, &company, tenant.company.version)?);
            }
            let after =
                serde_json::json!({"order": order.value, "pool": pool.value, "plan": company.plan});
            writes.push(self.audit(caller, &company, "order.assign", before, after)?);
            let pool_view = PoolView::from(&pool.value);
            let managers = company.manager_emails.iter().map(ToString::to_string).collect();
            let email = emails::order_assigned(&self.settings.app_base_url, &company, managers, &order.value, &invoice, &pool_view);
            let (notice_write, notice) = self.notice(&company, format!("order_assigned#{}", order.value.id), email)?;
            writes.push(notice_write);
            self.store.transact(writes).await?;
            let assignment = Assignment {
                order: order.value,
                invoice,
                pool: pool_view,
            };
            Ok((assignment, notice, company))
        })
        .await?;
        let (assignment, notice, company) = assigned;
        if !notice.email.to.is_empty() {
            self.deliver(&company, notice, 1).await;
        }
        Ok(assignment)
    }

    pub async fn cancel_order(
        &self,
        caller: &Caller,
        company_id: &str,
        order_id: &str,
    ) -> Result<Order, ServiceError> {
        caller.require(Action::CancelOrder)?;
        self.retrying(|| async {
            let tenant = self.tenant(caller, company_id).await?;
            let mut order = self.order(&tenant, order_id).await?;
            let is_staff = matches!(caller.role, Role::AccountManager | Role::PartnerAdmin);
            if !is_staff && order.value.requested_by.user_id != caller.user_id {
                return Err(ServiceError::Forbidden {
                    action: "cancel an order someone else requested",
                });
            }
            if !order.value.state.can_become(OrderState::Cancelled) {
                return Err(ServiceError::OrderNotRequested {
                    state: order.value.state,
                });
            }
            let before = serde_json::to_value(&order.value).unwrap_or_default();
            order.value.state = OrderState::Cancelled;
            order.value.cancelled_by = Some(caller.actor());
            order.value.cancelled_at = Some(self.clock.now());
            let writes = vec![
                repo::update(&tenant.company.value, &order.value, order.version)?,
                self.audit(
                    caller,
                    &tenant.company.value,
                    "order.cancel",
                    before,
                    serde_json::to_value(&order.value).unwrap_or_default(),
                )?,
            ];
            self.store.transact(writes).await?;
            Ok(order.value)
        })
        .await
    }

    // ------------------------------------------------------------ allocation

    /// Licenses the named members, or every expired member, all or nothing.
    pub async fn allocate(
        &self,
        caller: &Caller,
        company_id: &str,
        licence_type: &str,
        who: Allocation,
    ) -> Result<Allocated, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let licence_type = LicenceType::parse(licence_type)?;
        let emails = match &who {
            Allocation::Emails(raw) => Some(parse_emails(raw)?),
            Allocation::AllExpired => None,
        };
        self.retrying(|| async {
            let tenant = self.tenant(caller, company_id).await?;
            let members = match &emails {
                Some(emails) => self.named_members(&tenant, emails).await?,
                None => self.expired_members(&tenant).await?,
            };
            self.license(caller, &tenant, &licence_type, members).await
        })
        .await
    }

    /// The members with these e-mails that exist, in one batched read.
    pub(crate) async fn load_members(
        &self,
        tenant: &Tenant,
        emails: &[Email],
    ) -> Result<Vec<Stored<Member>>, ServiceError> {
        let keys: Vec<_> = emails
            .iter()
            .map(|e| repo::member_key(tenant.id(), e))
            .collect();
        repo::load_many::<Member, _>(&self.store, &keys).await
    }

    async fn named_members(
        &self,
        tenant: &Tenant,
        emails: &[Email],
    ) -> Result<Vec<Stored<Member>>, ServiceError> {
        let mut found: HashMap<Email, Stored<Member>> = self
            .load_members(tenant, emails)
            .await?
            .into_iter()
            .map(|m| (m.value.email.clone(), m))
            .collect();
        let unknown: Vec<Email> = emails
            .iter()
            .filter(|e| !found.contains_key(e))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(ServiceError::UnknownMembers { emails: unknown });
        }
        Ok(emails.iter().filter_map(|e| found.remove(e)).collect())
    }

    async fn expired_members(&self, tenant: &Tenant) -> Result<Vec<Stored<Member>>, ServiceError> {
        let all: Vec<Stored<Member>> = repo::load_all(
            &self.store,
            Query::table(repo::company_pk(tenant.id()), repo::MEMBER_PREFIX),
        )
        .await?;
        let plan = &tenant.company.value.plan;
        Ok(all
            .into_iter()
            .filter(|m| m.value.status(plan, tenant.today) == LicenceStatus::Expired)
            .collect())
    }

    /// Gives each member a licence of `licence_type` in one transaction with
    /// the pool, so the count and the members never disagree.
    async fn license(
        &self,
        caller: &Caller,
        tenant: &Tenant,
        licence_type: &LicenceType,
        members: Vec<Stored<Member>>,
    ) -> Result<Allocated, ServiceError> {
        let company = &tenant.company.value;
        let mut pool = self.pool(tenant, licence_type).await?;
        ensure_term_open(company, tenant.today)?;
        let already: Vec<Email> = members
            .iter()
            .filter(|m| {
                m.value.status(&company.plan, tenant.today) == LicenceStatus::Active
                    && m.value
                        .licence
                        .as_ref()
                        .is_some_and(|l| &l.licence_type == licence_type)
            })
            .map(|m| m.value.email.clone())
            .collect();
        if !already.is_empty() {
            return Err(ServiceError::AlreadyActive { emails: already });
        }
        if members.len() > MAX_EMAILS_PER_ALLOCATION {
            return Err(ServiceError::invalid(
                "emails",
                format!("at most {MAX_EMAILS_PER_ALLOCATION} members can be licensed in one allocation; use a CSV import for more"),
            ));
        }
        let needed = u32::try_from(members.len()).unwrap_or(u32::MAX);
        pool.value.take(needed).map_err(shortage)?;
        let licence = new_licence(&pool.value, &company.plan, tenant.today);
        let mut writes = vec![repo::update(
            &tenant.company.value,
            &pool.value,
            pool.version,
        )?];
        let mut allocated = Vec::with_capacity(members.len());
        for stored in members {
            let mut member = stored.value;
            member.licence = Some(licence.clone());
            writes.push(repo::update(
                &tenant.company.value,
                &member,
                stored.version,
            )?);
            allocated.push(member.email);
        }
        writes.push(self.audit(
            caller,
            company,
            "seats.allocate",
            serde_json::json!({"allocated": pool.value.allocated - needed}),
            serde_json::json!({"allocated": pool.value.allocated, "members": allocated}),
        )?);
        self.store.transact(writes).await?;
        Ok(Allocated {
            allocated,
            pool: PoolView::from(&pool.value),
        })
    }

    // ------------------------------------------------------------ access

    /// May the caller use the product today?
    pub async fn access(&self, caller: &Caller) -> Result<AccessDecision, ServiceError> {
        if matches!(caller.role, Role::AccountManager | Role::PartnerAdmin) {
            return Ok(AccessDecision::staff());
        }
        let not_found = ServiceError::NotFound { what: "company" };
        let company_id = caller.company_id.clone().ok_or(not_found.clone())?;
        let company: Stored<Company> = repo::load(&self.store, &repo::company_key(&company_id))
            .await?
            .ok_or(not_found)?;
        let member: Option<Stored<Member>> =
            repo::load(&self.store, &repo::member_key(&company_id, &caller.email)).await?;
        let today = self.clock.today_in(company.value.timezone);
        Ok(decide(
            &company.value,
            member.as_ref().map(|m| &m.value),
            today,
        ))
    }
}

// ---------------------------------------------------------------- rules

/// A new licence from `pool`, starting today.
pub(crate) fn new_licence(pool: &SeatPool, plan: &Plan, today: NaiveDate) -> Licence {
    let term = match (plan, pool.policy) {
        (Plan::Trial { ends_on, .. }, _) => LicenceTerm::Trial { ends_on: *ends_on },
        (Plan::Premium { .. }, Policy::CoTerm) => LicenceTerm::CoTerm,
        (Plan::Premium { .. }, Policy::Rolling12Months) => LicenceTerm::Rolling {
            ends_on: rolling_licence_end(today),
        },
    };
    Licence {
        licence_type: pool.licence_type.clone(),
        term,
        allocated_on: today,
    }
}

pub(crate) fn shortage(s: SeatShortage) -> ServiceError {
    ServiceError::NoSeatsAvailable {
        needed: s.needed,
        available: s.available,
    }
}

/// Seats are handed out only while the trial or term runs.
pub(crate) fn ensure_term_open(company: &Company, today: NaiveDate) -> Result<(), ServiceError> {
    if company.status(today) == CompanyStatus::Expired {
        return Err(ServiceError::TermEnded {
            renews_on: company.plan.ends_on(),
        });
    }
    Ok(())
}

/// The rules an order must meet when requested and again when assigned.
fn check_order_rules(
    company: &Company,
    pool: &SeatPool,
    kind: OrderKind,
    quantity: Quantity,
) -> Result<(), ServiceError> {
    if kind == OrderKind::Renewal && pool.policy == Policy::CoTerm {
        let requested = quantity.get();
        if requested < company.min_seats_at_renewal {
            return Err(ServiceError::BelowMinimumSeats {
                minimum: company.min_seats_at_renewal,
                requested,
            });
        }
        if requested < pool.allocated {
            return Err(ServiceError::BelowAllocatedSeats {
                allocated: pool.allocated,
                requested,
            });
        }
    }
    Ok(())
}

/// What an assigned order does to the pool and the plan. Only a co-term
/// renewal may lower `purchased`, and only to the renewed quantity.
fn apply_order(
    company: &mut Company,
    pool: &mut SeatPool,
    kind: OrderKind,
    quantity: Quantity,
    actioned_on: NaiveDate,
) {
    let q = quantity.get();
    match (kind, pool.policy) {
        (OrderKind::Upgrade, _) | (OrderKind::Renewal, Policy::Rolling12Months) => {
            pool.purchased = pool.purchased.saturating_add(q);
        }
        (OrderKind::Renewal, Policy::CoTerm) => {
            pool.purchased = q;
            let start = next_term_start(company.plan.ends_on(), actioned_on);
            company.plan = Plan::premium(start, company.term_months);
        }
        (OrderKind::TrialConversion, _) => {
            // Trial seats end with the trial; the bought seats start empty.
            pool.purchased = q;
            pool.allocated = 0;
            company.plan = Plan::premium(actioned_on, company.term_months);
        }
    }
}

fn count_members<'a>(
    members: impl Iterator<Item = &'a Member>,
    plan: &Plan,
    today: NaiveDate,
) -> MemberCounts {
    members.fold(MemberCounts::default(), |mut counts, member| {
        match member.status(plan, today) {
            LicenceStatus::Active => counts.active += 1,
            LicenceStatus::Expired => counts.expired += 1,
            LicenceStatus::Unlicensed => counts.unlicensed += 1,
        }
        counts
    })
}

fn page_limit(limit: Option<u32>) -> Result<u32, ServiceError> {
    match limit.unwrap_or(50) {
        n @ 1..=MAX_PAGE => Ok(n),
        _ => Err(ServiceError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        )),
    }
}

fn validate_name(raw: &str, field: &str) -> Result<String, ServiceError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ServiceError::invalid(field, "must be 1 to 200 characters"));
    }
    Ok(name.to_string())
}

/// Parses and de-duplicates e-mails, naming the first bad one by index.
fn parse_emails(raw: &[String]) -> Result<Vec<Email>, ServiceError> {
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

type ValidCompany = (Company, Vec<SeatPool>, Vec<(Email, String)>);

fn validate_company(
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
