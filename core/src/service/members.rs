//! Adding and listing members, and the login decision.

use crate::access::{decide, AccessDecision};
use crate::caller::{Action, Caller, Role};
use crate::error::ServiceError;
use crate::model::{LicenceStatus, Member, MemberRole};
use crate::ports::{Clock, ItemStore, Mailer};
use crate::repo::{self, Stored};
use crate::rules::{count_member, first_licence, Touched};
use crate::types::{Email, LicenceType};

use super::context::Seatkeeper;
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
            let tenant = self.changing(caller, company_id).await?;
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
            let mut next = company.clone();
            let mut pools = tenant.pool_values();
            member.licence =
                first_licence(&mut next, &mut pools, requested_type.as_ref(), tenant.today)?;
            if member.role == MemberRole::Manager {
                next.manager_emails.push(member.email.clone());
            }
            let mut touched = Touched::default();
            count_member(
                &mut next,
                &mut pools,
                member.licence.as_ref(),
                true,
                &mut touched,
            );
            let mut writes = tenant.changes_touching(&next, &pools, &touched)?;
            writes.push(repo::insert(&next, &member)?);
            writes.push(self.audit(
                caller,
                company,
                "member.add",
                serde_json::Value::Null,
                serde_json::json!({"member": member}),
            )?);
            self.store().transact(writes).await?;
            Ok(MemberView::new(&member, &next.plan, tenant.today))
        })
        .await
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
        let tenant = self.company(&company_id).await?.ok_or(not_found)?;
        let member: Option<Stored<Member>> =
            repo::load(self.store(), &repo::member_key(&company_id, &caller.email)).await?;
        Ok(decide(
            &tenant.company.value,
            tenant.status(),
            member.as_ref().map(|m| &m.value),
            tenant.today,
        ))
    }
}
