//! Adding and listing members, and the login decision.

use crate::access::{decide, AccessDecision};
use crate::caller::{Action, Caller, Role};
use crate::error::ServiceError;
use crate::model::{Company, LicenceStatus, Member, MemberRole, Plan, SeatPool};
use crate::ports::{Clock, ItemStore, Mailer, Query};
use crate::repo::{self, Stored};
use crate::rules::{ensure_term_open, new_licence, shortage};
use crate::types::{Email, LicenceType};

use super::context::{Seatkeeper, Tenant};
use super::inputs::{list_filter, validate_name, NewMember};
use super::views::{ListPage, MemberView};

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
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
            if repo::load::<Member, _>(self.store(), &repo::member_key(tenant.id(), &email))
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
                added_at: self.clock().now(),
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
            self.store().transact(writes).await?;
            Ok(MemberView::new(&member, &company.plan, tenant.today))
        })
        .await
    }

    async fn first_pool_with_seats(
        &self,
        tenant: &Tenant,
    ) -> Result<Option<LicenceType>, ServiceError> {
        let pools: Vec<Stored<SeatPool>> = repo::load_all(
            self.store(),
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
        let wanted = list_filter(
            status,
            LicenceStatus::parse,
            "licence_status",
            "active, expired or unlicensed",
        )?;
        let tenant = self.tenant(caller, company_id).await?;
        let (members, next_cursor) = self
            .company_page::<Member>(&tenant, repo::MEMBER_PREFIX, cursor, limit)
            .await?;
        let plan = &tenant.company.value.plan;
        // The filter runs on each page, so a page may hold fewer than `limit`.
        let items = members
            .iter()
            .map(|m| MemberView::new(m, plan, tenant.today))
            .filter(|view| wanted.is_none_or(|s| view.status == s))
            .collect();
        Ok(ListPage { items, next_cursor })
    }

    // ------------------------------------------------------------ access

    /// May the caller use the product today?
    pub async fn access(&self, caller: &Caller) -> Result<AccessDecision, ServiceError> {
        if matches!(caller.role, Role::AccountManager | Role::PartnerAdmin) {
            return Ok(AccessDecision::staff());
        }
        let not_found = ServiceError::NotFound { what: "company" };
        let company_id = caller.company_id.clone().ok_or(not_found.clone())?;
        let company: Stored<Company> = repo::load(self.store(), &repo::company_key(&company_id))
            .await?
            .ok_or(not_found)?;
        let member: Option<Stored<Member>> =
            repo::load(self.store(), &repo::member_key(&company_id, &caller.email)).await?;
        let today = self.clock().today_in(company.value.timezone);
        Ok(decide(
            &company.value,
            member.as_ref().map(|m| &m.value),
            today,
        ))
    }
}
