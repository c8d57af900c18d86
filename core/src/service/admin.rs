//! Administration after creation: a company's settings and licence types,
//! a member's name and role, partners on record, and the audit trail. Each
//! change is audited with what it was before and after.

use serde_json::{json, Map, Value};

use crate::caller::{Action, Caller, Role};
use crate::error::ServiceError;
use crate::model::{AuditEvent, Company, Member, MemberRole, Partner, SeatPool};
use crate::ports::{Clock, ItemStore, Mailer, Query, StoreError, MAX_TRANSACTION_ITEMS};
use crate::repo::{self, Stored};
use crate::types::{Currency, Email, LicenceType, PartnerId};

use super::context::Seatkeeper;
use super::inputs::{
    page_limit, parse_timezone, validate_fee, validate_name, CompanyChanges, LicenceTypeSettings,
    MemberChanges, PartnerSettings, MAX_LICENCE_TYPES, MIN_SEATS_AT_RENEWAL_RANGE,
};
use super::views::{CompanyView, ListPage, MemberView, PoolView};

/// The fields a change set, as they were and as they are: the audit
/// event's `before` and `after`.
#[derive(Default)]
struct Diff {
    before: Map<String, Value>,
    after: Map<String, Value>,
}

impl Diff {
    fn set<T: PartialEq + serde::Serialize>(&mut self, field: &str, old: &mut T, new: Option<T>) {
        if let Some(new) = new.filter(|new| new != old) {
            self.before.insert(field.into(), json!(old));
            self.after.insert(field.into(), json!(new));
            *old = new;
        }
    }

    fn is_empty(&self) -> bool {
        self.after.is_empty()
    }

    fn into_values(self) -> (Value, Value) {
        (Value::Object(self.before), Value::Object(self.after))
    }
}

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    /// `PATCH /v1/companies/{c}`: name, time zone, account manager or
    /// minimum account size. A new time zone moves every date-keyed index
    /// entry of the company, so each rolling licence is re-indexed.
    pub async fn update_company(
        &self,
        caller: &Caller,
        company_id: &str,
        changes: CompanyChanges,
    ) -> Result<CompanyView, ServiceError> {
        caller.require(Action::AdministerCompany)?;
        let name = changes
            .name
            .as_deref()
            .map(|n| validate_name(n, "name"))
            .transpose()?;
        let timezone = changes
            .timezone
            .as_deref()
            .map(parse_timezone)
            .transpose()?;
        let account_manager_email = changes
            .account_manager_email
            .as_deref()
            .map(|e| Email::parse(e).map_err(|e| e.at("account_manager_email")))
            .transpose()?;
        if let Some(min) = changes.min_seats_at_renewal {
            if !MIN_SEATS_AT_RENEWAL_RANGE.contains(&min) {
                return Err(ServiceError::invalid(
                    "min_seats_at_renewal",
                    format!(
                        "must be between {} and {}",
                        MIN_SEATS_AT_RENEWAL_RANGE.start(),
                        MIN_SEATS_AT_RENEWAL_RANGE.end()
                    ),
                ));
            }
        }
        let (company, renamed, moved) = self
            .retrying(|| async {
                let tenant = self.tenant(caller, company_id).await?;
                let mut next = tenant.company.value.clone();
                let mut diff = Diff::default();
                diff.set("name", &mut next.name, name.clone());
                diff.set("timezone", &mut next.timezone, timezone);
                diff.set(
                    "account_manager_email",
                    &mut next.account_manager_email,
                    account_manager_email.clone(),
                );
                diff.set(
                    "min_seats_at_renewal",
                    &mut next.min_seats_at_renewal,
                    changes.min_seats_at_renewal,
                );
                let renamed = diff.after.contains_key("name");
                let moved = diff.after.contains_key("timezone");
                if diff.is_empty() {
                    return Ok((next, false, false));
                }
                let (before, after) = diff.into_values();
                let mut writes = tenant.changes(&next, &tenant.pool_values())?;
                writes.push(self.audit(caller, &next, "company.update", before, after)?);
                self.store().transact(writes).await?;
                Ok((next, renamed, moved))
            })
            .await?;
        // What follows from the name and the zone is redone whenever a
        // request names them, changed or not: sending a change again
        // finishes one whose follow-up failed after the company was saved.
        if renamed || name.is_some() {
            self.requeue_company(&company).await?;
        }
        if moved || timezone.is_some() {
            self.reindex_members(&company).await?;
        }
        self.get_company(caller, company_id).await
    }

    /// Rewrites one member read at `member.version`. DynamoDB refuses a
    /// write that merely overlapped another with the same `Conflict` a
    /// change gives, so a refusal is checked: a member changed meanwhile
    /// was re-indexed by that change; one unchanged is written again.
    async fn reindex_member(
        &self,
        company: &Company,
        member: &Stored<Member>,
    ) -> Result<(), ServiceError> {
        const TRIES: usize = 3;
        for _ in 0..TRIES {
            let write = repo::update(company, &member.value, member.version)?;
            match self.store().transact(vec![write]).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict) => {
                    let key = repo::Record::key(&member.value, &company.id);
                    let now = repo::load::<Member, _>(self.store(), &key).await?;
                    if now.is_none_or(|m| m.version != member.version) {
                        return Ok(());
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// Rewrites each member whose licence has its own end date, so that its
    /// due-index entry starts the day in the company's time zone as it is.
    async fn reindex_members(&self, company: &Company) -> Result<(), ServiceError> {
        let members: Vec<Stored<Member>> = repo::load_all(
            self.store(),
            Query::table(repo::company_pk(&company.id), repo::MEMBER_PREFIX),
        )
        .await?;
        let due: Vec<&Stored<Member>> = members
            .iter()
            .filter(|m| repo::Record::due(&m.value, company).is_some())
            .collect();
        // Each write is conditional on the version read: a member changed
        // meanwhile was re-indexed by that change, so a conflict in a batch
        // sends its members one by one and skips the ones that changed.
        for batch in due.chunks(MAX_TRANSACTION_ITEMS) {
            let writes = batch
                .iter()
                .map(|m| repo::update(company, &m.value, m.version))
                .collect::<Result<Vec<_>, _>>()?;
            if let Err(StoreError::Conflict) = self.store().transact(writes).await {
                for member in batch {
                    self.reindex_member(company, member).await?;
                }
            }
        }
        Ok(())
    }

    /// `PUT …/licence-types/{t}`: adds a type with no seats, or sets the
    /// annual fee of orders requested from now on. An order already
    /// requested keeps its quoted fee, and an invoice never changes. The
    /// policy and currency of a type are fixed once it exists.
    pub async fn put_licence_type(
        &self,
        caller: &Caller,
        company_id: &str,
        licence_type: &str,
        settings: LicenceTypeSettings,
    ) -> Result<(PoolView, bool), ServiceError> {
        caller.require(Action::AdministerCompany)?;
        let licence_type = LicenceType::parse(licence_type).map_err(|e| e.at("licence_type"))?;
        validate_fee(settings.annual_fee_minor, "annual_fee_minor")?;
        let currency = Currency::parse(&settings.currency).map_err(|e| e.at("currency"))?;
        self.retrying(|| async {
            let tenant = self.tenant(caller, company_id).await?;
            let company = &tenant.company.value;
            let Ok(stored) = tenant.pool(&licence_type) else {
                if tenant.pools.len() >= MAX_LICENCE_TYPES {
                    return Err(ServiceError::invalid(
                        "licence_type",
                        format!("a company has at most {MAX_LICENCE_TYPES} licence types"),
                    ));
                }
                let mut pool = SeatPool::new(
                    licence_type.clone(),
                    settings.policy,
                    settings.annual_fee_minor,
                    currency.clone(),
                    0,
                );
                // A new type has no holders; it keeps counts as its company
                // does, so that counts start for all of them at once.
                if company.member_count.is_none() {
                    pool.holders = None;
                }
                let writes = vec![
                    repo::insert(company, &pool)?,
                    self.audit(
                        caller,
                        company,
                        "licence_type.add",
                        Value::Null,
                        json!({ "pool": pool }),
                    )?,
                ];
                self.store().transact(writes).await?;
                return Ok((PoolView::from(&pool), true));
            };
            let pool = &stored.value;
            let fixed = |field, stored: String| ServiceError::LicenceTypeConflict {
                licence_type: licence_type.clone(),
                field,
                stored,
            };
            if pool.policy != settings.policy {
                let policy = json!(pool.policy);
                return Err(fixed("policy", policy.as_str().unwrap_or_default().to_string()));
            }
            if pool.currency != currency {
                return Err(fixed("currency", pool.currency.to_string()));
            }
            if pool.annual_fee_minor == settings.annual_fee_minor {
                return Ok((PoolView::from(pool), false));
            }
            let mut next = pool.clone();
            next.annual_fee_minor = settings.annual_fee_minor;
            let writes = vec![
                repo::update(company, &next, stored.version)?,
                self.audit(
                    caller,
                    company,
                    "licence_type.update",
                    json!({ "licence_type": licence_type, "annual_fee_minor": pool.annual_fee_minor }),
                    json!({ "licence_type": licence_type, "annual_fee_minor": next.annual_fee_minor }),
                )?,
            ];
            self.store().transact(writes).await?;
            Ok((PoolView::from(&next), false))
        })
        .await
    }

    /// `PATCH …/members/{email}`: a new name or role. A company keeps at
    /// least one manager.
    pub async fn update_member(
        &self,
        caller: &Caller,
        company_id: &str,
        email: &str,
        changes: MemberChanges,
    ) -> Result<MemberView, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let email = Email::parse(email).map_err(|_| ServiceError::NotFound { what: "member" })?;
        let name = changes
            .name
            .as_deref()
            .map(|n| validate_name(n, "name"))
            .transpose()?;
        self.retrying(|| async {
            let tenant = self.tenant(caller, company_id).await?;
            let stored = self.member(&tenant, &email).await?;
            let mut member = stored.value.clone();
            let mut diff = Diff::default();
            diff.set("name", &mut member.name, name.clone());
            diff.set("role", &mut member.role, changes.role);
            let plan = &tenant.company.value.plan;
            if diff.is_empty() {
                return Ok(MemberView::new(&member, plan, tenant.today));
            }
            let mut company = tenant.company.value.clone();
            if diff.after.contains_key("role") {
                company.manager_emails.retain(|e| *e != email);
                if member.role == MemberRole::Manager {
                    company.manager_emails.push(email.clone());
                } else if company.manager_emails.is_empty() {
                    return Err(ServiceError::LastManager);
                }
            }
            let mut writes = tenant.changes(&company, &tenant.pool_values())?;
            writes.push(repo::update(&company, &member, stored.version)?);
            let (mut before, mut after) = diff.into_values();
            for side in [&mut before, &mut after] {
                side["email"] = json!(email);
            }
            writes.push(self.audit(caller, &company, "member.update", before, after)?);
            self.store().transact(writes).await?;
            Ok(MemberView::new(&member, plan, tenant.today))
        })
        .await
    }

    /// `PUT /v1/partners/{p}`: records a partner, or changes its name or
    /// contact. The vendor's account managers only.
    pub async fn put_partner(
        &self,
        caller: &Caller,
        partner_id: &str,
        settings: PartnerSettings,
    ) -> Result<(Partner, bool), ServiceError> {
        caller.require(Action::ManagePartners)?;
        let id = PartnerId::parse(partner_id).map_err(|e| e.at("partner_id"))?;
        let partner = Partner {
            id: id.clone(),
            name: validate_name(&settings.name, "name")?,
            contact_email: Email::parse(&settings.contact_email)
                .map_err(|e| e.at("contact_email"))?,
            updated_at: self.clock().now(),
        };
        self.retrying(|| async {
            let key = repo::partner_key(&id);
            let existing = repo::load::<Partner, _>(self.store(), &key).await?;
            let write = match &existing {
                Some(stored) => repo::update_raw(key, &partner, stored.version, None)?,
                None => repo::insert_raw(key, &partner, None)?,
            };
            self.store().transact(vec![write]).await?;
            Ok((partner.clone(), existing.is_none()))
        })
        .await
    }

    /// `GET /v1/partners/{p}`: account managers read any partner, a partner
    /// admin their own; any other answers 404.
    pub async fn get_partner(
        &self,
        caller: &Caller,
        partner_id: &str,
    ) -> Result<Partner, ServiceError> {
        caller.require(Action::ReadPartner)?;
        let not_found = ServiceError::NotFound { what: "partner" };
        let id = PartnerId::parse(partner_id).map_err(|_| not_found.clone())?;
        if caller.role == Role::PartnerAdmin && caller.partner_id.as_ref() != Some(&id) {
            return Err(not_found);
        }
        repo::load::<Partner, _>(self.store(), &repo::partner_key(&id))
            .await?
            .map(|stored| stored.value)
            .ok_or(not_found)
    }

    /// `GET /v1/companies/{c}/audit`: the audit trail, newest first.
    pub async fn list_audit(
        &self,
        caller: &Caller,
        company_id: &str,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<ListPage<AuditEvent>, ServiceError> {
        caller.require(Action::ReadCompany)?;
        let tenant = self.tenant(caller, company_id).await?;
        let query = Query {
            limit: page_limit(limit)?,
            cursor,
            descending: true,
            ..Query::table(repo::company_pk(tenant.id()), repo::AUDIT_PREFIX)
        };
        let (events, next_cursor) = repo::load_page::<AuditEvent, _>(self.store(), &query).await?;
        Ok(ListPage {
            items: events.into_iter().map(|e| e.value).collect(),
            next_cursor,
        })
    }
}
