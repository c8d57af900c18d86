//! Freeing and moving seats: releasing a co-term seat now or at renewal,
//! transferring a rolling licence, removing a member. No refund, ever.

use crate::caller::{Action, Caller};
use crate::error::ServiceError;
use crate::model::{Company, LicenceStatus, LicenceTerm, Member, MemberRole, Plan, SeatPool};
use crate::ports::{Clock, ItemStore, Mailer};
use crate::repo::{self, Stored};
use crate::rules::{count_member, free_co_term_seat, recount, Touched};
use crate::types::Email;

use super::context::{Seatkeeper, Tenant};
use super::views::{MemberView, PoolView};

/// When a released co-term seat is freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseWhen {
    /// Today: the holder loses access and the seat is free at once.
    Now,
    /// At the end of the term: the holder keeps access to `renews_on` and
    /// does not carry into the next term.
    AtRenewal,
}

impl ReleaseWhen {
    pub fn parse(raw: Option<&str>) -> Result<Self, ServiceError> {
        match raw.unwrap_or("now") {
            "now" => Ok(Self::Now),
            "renewal" => Ok(Self::AtRenewal),
            _ => Err(ServiceError::invalid("effective", "must be now or renewal")),
        }
    }
}

/// A member and their pool after a seat changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Released {
    pub member: MemberView,
    pub pool: Option<PoolView>,
}

/// Both members after a rolling licence moved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Transferred {
    pub from: MemberView,
    pub to: MemberView,
}

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    /// Releases a member's co-term (or trial) seat, now or at renewal.
    pub async fn release_licence(
        &self,
        caller: &Caller,
        company_id: &str,
        email: &str,
        when: ReleaseWhen,
    ) -> Result<Released, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let email = Email::parse(email).map_err(|_| ServiceError::NotFound { what: "member" })?;
        self.retrying(|| async {
            let tenant = self.changing(caller, company_id).await?;
            let stored = self.member(&tenant, &email).await?;
            let (member, released) = release(&tenant, &stored.value, when, false)?;
            let mut writes = released.writes(&tenant, |_, pools, touched| {
                let (before, after) = (stored.value.licence.as_ref(), member.licence.as_ref());
                recount(pools, before, after, touched);
            })?;
            writes.push(repo::update(
                &tenant.company.value,
                &member,
                stored.version,
            )?);
            writes.push(self.audit(
                caller,
                &tenant.company.value,
                match when {
                    ReleaseWhen::Now => "seat.release",
                    ReleaseWhen::AtRenewal => "seat.release_at_renewal",
                },
                serde_json::json!({"member": stored.value}),
                serde_json::json!({"member": member, "pool": released.pool}),
            )?);
            self.store().transact(writes).await?;
            Ok(Released {
                member: MemberView::new(&member, &released.plan, tenant.today),
                pool: released.pool.as_ref().map(PoolView::from),
            })
        })
        .await
    }

    /// Moves an active rolling licence, with its end date, to a member who
    /// holds no active licence. The pool's counts do not change.
    pub async fn transfer_licence(
        &self,
        caller: &Caller,
        company_id: &str,
        from: &str,
        to: &str,
    ) -> Result<Transferred, ServiceError> {
        caller.require(Action::ManageSeats)?;
        let from = Email::parse(from).map_err(|_| ServiceError::NotFound { what: "member" })?;
        let to = Email::parse(to).map_err(|e| e.at("to_email"))?;
        if from == to {
            return Err(ServiceError::invalid("to_email", "must be another member"));
        }
        self.retrying(|| async {
            let tenant = self.changing(caller, company_id).await?;
            let plan = &tenant.company.value.plan;
            let giver = self.member(&tenant, &from).await?;
            let taker = match self
                .load_members(&tenant, std::slice::from_ref(&to))
                .await?
                .pop()
            {
                Some(taker) => taker,
                None => {
                    return Err(ServiceError::UnknownMembers {
                        emails: vec![to.clone()],
                    })
                }
            };
            let licence = match &giver.value.licence {
                Some(l) if giver.value.status(plan, tenant.today) == LicenceStatus::Active => l,
                _ => {
                    return Err(ServiceError::NoActiveLicence {
                        email: from.clone(),
                        action: "transfer",
                    })
                }
            };
            if !matches!(licence.term, LicenceTerm::Rolling { .. }) {
                return Err(ServiceError::WrongLicencePolicy {
                    email: from.clone(),
                    policy: "not rolling",
                    hint: "release a co-term seat instead, then allocate it",
                });
            }
            if taker.value.status(plan, tenant.today) == LicenceStatus::Active {
                return Err(ServiceError::AlreadyActive {
                    emails: vec![to.clone()],
                });
            }
            let mut giver_after = giver.value.clone();
            let mut taker_after = taker.value.clone();
            taker_after.licence = giver_after.licence.take();
            let company = &tenant.company.value;
            // The licence moves with its date; what the taker held goes.
            let mut pools = tenant.pool_values();
            let mut touched = Touched::default();
            for (before, after) in [(&giver.value, &giver_after), (&taker.value, &taker_after)] {
                let (held, holds) = (before.licence.as_ref(), after.licence.as_ref());
                recount(&mut pools, held, holds, &mut touched);
            }
            let mut writes = tenant.changes_touching(company, &pools, &touched)?;
            writes.extend([
                repo::update(company, &giver_after, giver.version)?,
                repo::update(company, &taker_after, taker.version)?,
                self.audit(
                    caller,
                    company,
                    "seat.transfer",
                    serde_json::json!({"from": giver.value, "to": taker.value}),
                    serde_json::json!({"from": giver_after, "to": taker_after}),
                )?,
            ]);
            self.store().transact(writes).await?;
            Ok(Transferred {
                from: MemberView::new(&giver_after, plan, tenant.today),
                to: MemberView::new(&taker_after, plan, tenant.today),
            })
        })
        .await
    }

    /// Removes a member, releasing a co-term or trial seat now. Their
    /// history and audit stay; a company keeps at least one manager.
    pub async fn remove_member(
        &self,
        caller: &Caller,
        company_id: &str,
        email: &str,
    ) -> Result<(), ServiceError> {
        caller.require(Action::ManageSeats)?;
        let email = Email::parse(email).map_err(|_| ServiceError::NotFound { what: "member" })?;
        self.retrying(|| async {
            let tenant = self.changing(caller, company_id).await?;
            let stored = self.member(&tenant, &email).await?;
            // Whatever seat the member still holds is freed, even if the
            // licence has lapsed with the term; a rolling seat is used up.
            let (_, released) = release(&tenant, &stored.value, ReleaseWhen::Now, true)?;
            let mut company = released.company.clone();
            if stored.value.role == MemberRole::Manager {
                company.manager_emails.retain(|e| *e != email);
                if company.manager_emails.is_empty() {
                    return Err(ServiceError::LastManager);
                }
            }
            let released = Seat {
                company,
                ..released
            };
            let mut writes = released.writes(&tenant, |company, pools, touched| {
                count_member(
                    company,
                    pools,
                    stored.value.licence.as_ref(),
                    false,
                    touched,
                );
            })?;
            writes.push(repo::delete(
                &tenant.company.value,
                &stored.value,
                stored.version,
            ));
            writes.push(self.audit(
                caller,
                &tenant.company.value,
                "member.remove",
                serde_json::json!({"member": stored.value}),
                serde_json::Value::Null,
            )?);
            self.store().transact(writes).await?;
            Ok(())
        })
        .await
    }

    pub(super) async fn member(
        &self,
        tenant: &Tenant,
        email: &Email,
    ) -> Result<Stored<Member>, ServiceError> {
        repo::load(self.store(), &repo::member_key(tenant.id(), email))
            .await?
            .ok_or(ServiceError::NotFound { what: "member" })
    }
}

/// The company and the pool (if any) as a release leaves them.
struct Seat {
    company: Company,
    plan: Plan,
    pool: Option<SeatPool>,
}

impl Seat {
    /// The company and pools written, with `count` (the member's change)
    /// applied to the counts they keep.
    fn writes(
        &self,
        tenant: &Tenant,
        count: impl FnOnce(&mut Company, &mut [SeatPool], &mut Touched),
    ) -> Result<Vec<crate::ports::Write>, ServiceError> {
        let mut pools = tenant.pool_values();
        if let Some(pool) = &self.pool {
            for p in pools
                .iter_mut()
                .filter(|p| p.licence_type == pool.licence_type)
            {
                *p = pool.clone();
            }
        }
        let mut company = self.company.clone();
        let mut touched = Touched::default();
        count(&mut company, &mut pools, &mut touched);
        tenant.changes_touching(&company, &pools, &touched)
    }
}

/// The member and the seat after releasing their licence `when`. For a
/// member being removed, a licence that is not active (or is rolling) is
/// no refusal: whatever seat still counts for it is freed.
fn release(
    tenant: &Tenant,
    member: &Member,
    when: ReleaseWhen,
    removing: bool,
) -> Result<(Member, Seat), ServiceError> {
    let mut company = tenant.company.value.clone();
    let email = member.email.clone();
    let active = member.status(&company.plan, tenant.today) == LicenceStatus::Active;
    let licence = match &member.licence {
        Some(l) if active || removing => l,
        None if removing => {
            let plan = company.plan.clone();
            return Ok((
                member.clone(),
                Seat {
                    company,
                    plan,
                    pool: None,
                },
            ));
        }
        _ => {
            return Err(ServiceError::NoActiveLicence {
                email,
                action: "release",
            })
        }
    };
    let mut after = member.clone();
    let mut pool = None;
    match (licence.term, when) {
        (LicenceTerm::Rolling { .. }, _) if removing => {}
        (LicenceTerm::Rolling { .. }, _) => {
            return Err(ServiceError::WrongLicencePolicy {
                email,
                policy: "rolling",
                hint: "a rolling licence is transferred, not released",
            })
        }
        (LicenceTerm::Trial { .. }, ReleaseWhen::Now) => {
            if let Plan::Trial { allocated, .. } = &mut company.plan {
                *allocated = Some(allocated.unwrap_or(1).saturating_sub(1));
            }
            after.licence = None;
        }
        (LicenceTerm::Trial { .. }, ReleaseWhen::AtRenewal) => {
            return Err(ServiceError::invalid(
                "effective",
                "a trial licence ends with the trial; release it now",
            ))
        }
        (LicenceTerm::CoTerm { ends_on }, when) => {
            let mut pools = vec![tenant.pool(&licence.licence_type)?.value.clone()];
            match when {
                ReleaseWhen::Now => {
                    free_co_term_seat(&mut pools, licence, &company.plan);
                    after.licence = None;
                }
                ReleaseWhen::AtRenewal if ends_on.is_some() => {
                    return Err(ServiceError::AlreadyReleased { email })
                }
                ReleaseWhen::AtRenewal => {
                    pools[0].releasing_at_renewal += 1;
                    if let Some(l) = after.licence.as_mut() {
                        l.term = LicenceTerm::CoTerm {
                            ends_on: company.plan.term().map(|t| t.renews_on),
                        };
                    }
                }
            }
            pool = pools.pop();
        }
    }
    let plan = company.plan.clone();
    Ok((
        after,
        Seat {
            company,
            plan,
            pool,
        },
    ))
}
