//! Creating companies and reading them, one or a partner's list.

use crate::caller::{Action, Caller, Role};
use crate::error::ServiceError;
use crate::model::{Company, Member, MemberRole};
use crate::ports::{Clock, Index, ItemStore, Mailer, Query};
use crate::repo;
use crate::rules::{count_member, first_licence, Touched};
use crate::types::PartnerId;

use super::context::Seatkeeper;
use super::inputs::{page_limit, validate_company, NewCompany};
use super::views::{CompanyView, ListPage, MemberCounts};

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
        let (mut company, mut pools) = (company, pools);
        // Each manager takes a seat of the first licence type while any are free.
        let first_type = pools.first().map(|p| p.licence_type.clone());
        let members = managers
            .into_iter()
            .map(|(email, name)| {
                let licence = first_licence(&mut company, &mut pools, first_type.as_ref(), today)
                    .ok()
                    .flatten();
                count_member(
                    &mut company,
                    &mut pools,
                    licence.as_ref(),
                    true,
                    &mut Touched::default(),
                );
                Member {
                    licence,
                    email,
                    name,
                    role: MemberRole::Manager,
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
        Ok(CompanyView::new(company, &pools, counts, today))
    }

    pub async fn get_company(
        &self,
        caller: &Caller,
        company_id: &str,
    ) -> Result<CompanyView, ServiceError> {
        caller.require(Action::ReadCompany)?;
        let tenant = self.tenant(caller, company_id).await?;
        let pools = tenant.pool_values();
        let company = &tenant.company.value;
        // Kept counts read no member; a company written before they were
        // kept is tallied until its next change of a member keeps them.
        let counts = match MemberCounts::kept(company, &pools, tenant.today) {
            Some(counts) => counts,
            None => {
                let mut counts = MemberCounts::default();
                self.each_member(tenant.id(), |m| {
                    counts.add(m.value.status(&company.plan, tenant.today));
                })
                .await?;
                counts
            }
        };
        Ok(CompanyView::new(
            tenant.company.value,
            &pools,
            counts,
            tenant.today,
        ))
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
            items: companies
                .into_iter()
                .map(|c| Company {
                    // Bookkeeping for a company's `counts`, not its record.
                    member_count: None,
                    ..c.value
                })
                .collect(),
            next_cursor,
        })
    }
}
