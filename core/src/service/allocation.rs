//! Allocating seats to members: named ones, or every expired one.

use std::collections::HashMap;

use crate::caller::{Action, Caller};
use crate::error::ServiceError;
use crate::model::{LicenceStatus, Member, Plan, SeatShortage};
use crate::ports::{Clock, ItemStore, Mailer, Query};
use crate::repo::{self, Stored};
use crate::rules::{
    ensure_open, free_co_term_seat, holds_seat_already, new_licence, pool_of_type, shortage,
    trial_licence,
};
use crate::types::{Email, LicenceType};

use super::context::{Seatkeeper, Tenant};
use super::inputs::{parse_emails, Allocation, MAX_EMAILS_PER_ALLOCATION};
use super::views::{Allocated, PoolView};

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
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
            self.store(),
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
        let mut company = tenant.company.value.clone();
        let mut pools = tenant.pool_values();
        let pool = tenant.pool(licence_type)?;
        ensure_open(&company, &pool.value, tenant.today)?;
        let already: Vec<Email> = members
            .iter()
            .filter(|m| {
                holds_seat_already(
                    m.value.licence.as_ref(),
                    &pool.value,
                    &company.plan,
                    tenant.today,
                )
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
        // A trial hands out its own licences; premium takes pool seats.
        let before = serde_json::json!({"allocated": pool.value.allocated, "plan": company.plan});
        let trial_ends = match &mut company.plan {
            Plan::Trial {
                ends_on,
                seats,
                allocated,
            } => {
                let taken = allocated.get_or_insert(0);
                if *taken + needed > *seats {
                    return Err(shortage(SeatShortage {
                        needed,
                        available: seats.saturating_sub(*taken),
                    }));
                }
                *taken += needed;
                Some(*ends_on)
            }
            Plan::Premium { .. } => {
                // A co-term seat of another type that a member gives up is free.
                for member in &members {
                    if let Some(held) = member.value.licence.as_ref() {
                        if held.licence_type != *licence_type {
                            free_co_term_seat(&mut pools, held, &company.plan);
                        }
                    }
                }
                pool_of_type(&mut pools, licence_type)?
                    .take(needed)
                    .map_err(shortage)?;
                None
            }
        };
        let mut writes = tenant.changes(&company, &pools)?;
        let pool_after = pools
            .iter()
            .find(|p| p.licence_type == *licence_type)
            .cloned()
            .unwrap_or_else(|| pool.value.clone());
        let mut allocated = Vec::with_capacity(members.len());
        for stored in members {
            let mut member = stored.value;
            member.licence = Some(match trial_ends {
                Some(ends_on) => trial_licence(licence_type.clone(), ends_on, tenant.today),
                None => new_licence(
                    &pool_after,
                    &company.plan,
                    member.licence.as_ref(),
                    tenant.today,
                ),
            });
            writes.push(repo::update(&company, &member, stored.version)?);
            allocated.push(member.email);
        }
        writes.push(self.audit(
            caller,
            &company,
            "seats.allocate",
            before,
            serde_json::json!({"allocated": pool_after.allocated, "plan": company.plan, "members": allocated}),
        )?);
        self.store().transact(writes).await?;
        Ok(Allocated {
            allocated,
            pool: PoolView::from(&pool_after),
        })
    }
}
