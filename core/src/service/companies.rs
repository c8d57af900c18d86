//! Creating companies and reading them, one or a partner's list.

use crate::caller::{Action, Caller, Role};
use crate::error::ServiceError;
use crate::model::{Company, Member, MemberRole, SeatPool};
use crate::ports::{Clock, Index, ItemStore, Mailer, Query};
use crate::repo::{self, Stored};
use crate::rules::new_licence;
use crate::types::PartnerId;

use super::context::Seatkeeper;
use super::inputs::{page_limit, validate_company, NewCompany};
use super::views::{CompanyView, ListPage, MemberCounts, PoolView};

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
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
        let (company, pools, managers) = validate_company(input, partner_id, self.clock().now())?;
        let today = self.clock().today_in(company.timezone);
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
        self.store().transact(writes).await?;
        let counts = MemberCounts::tally(members.iter(), &company.plan, today);
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
            repo::load_all(self.store(), Query::table(pk.clone(), repo::POOL_PREFIX)).await?;
        let members: Vec<Stored<Member>> =
            repo::load_all(self.store(), Query::table(pk, repo::MEMBER_PREFIX)).await?;
        let company = tenant.company.value;
        Ok(CompanyView {
            status: company.status(tenant.today),
            today: tenant.today,
            pools: pools.iter().map(|p| PoolView::from(&p.value)).collect(),
            counts: MemberCounts::tally(
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
            ..Query::index(Index::Partner, repo::partner_pk(&partner))
        };
        let (companies, next_cursor) = repo::load_page::<Company, _>(self.store(), &query).await?;
        Ok(ListPage {
            items: companies.into_iter().map(|c| c.value).collect(),
            next_cursor,
        })
    }
}
