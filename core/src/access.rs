//! The login decision: may this user into the product, and if not, where
//! should a manager go instead.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::{Company, CompanyStatus, LicenceStatus, Member, MemberRole, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessReason {
    LicenceActive,
    LicenceExpired,
    Unlicensed,
    TrialExpired,
    CompanyExpired,
    /// Vendor and partner staff are not seat holders.
    Staff,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDecision {
    pub allowed: bool,
    pub reason: AccessReason,
    pub redirect_to: Option<String>,
}

pub const UPGRADE_PAGE: &str = "/upgrade";
pub const RENEW_PAGE: &str = "/renew";

impl AccessDecision {
    pub fn staff() -> Self {
        Self {
            allowed: true,
            reason: AccessReason::Staff,
            redirect_to: None,
        }
    }
}

/// Decides for a company member (`None` if the caller is not one), given
/// the company's status today.
pub fn decide(
    company: &Company,
    status: CompanyStatus,
    member: Option<&Member>,
    today: NaiveDate,
) -> AccessDecision {
    let is_manager = member.is_some_and(|m| m.role == MemberRole::Manager);
    let refuse = |reason: AccessReason, page: &str| AccessDecision {
        allowed: false,
        reason,
        redirect_to: is_manager.then(|| page.to_string()),
    };
    if status == CompanyStatus::Expired {
        return match company.plan {
            Plan::Trial { .. } => refuse(AccessReason::TrialExpired, UPGRADE_PAGE),
            Plan::Premium { .. } => refuse(AccessReason::CompanyExpired, RENEW_PAGE),
        };
    }
    let Some(member) = member else {
        return refuse(AccessReason::Unlicensed, RENEW_PAGE);
    };
    match member.status(&company.plan, today) {
        LicenceStatus::Active => AccessDecision {
            allowed: true,
            reason: AccessReason::LicenceActive,
            redirect_to: None,
        },
        LicenceStatus::Expired => refuse(AccessReason::LicenceExpired, RENEW_PAGE),
        LicenceStatus::Unlicensed => refuse(AccessReason::Unlicensed, RENEW_PAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::parse_date;
    use crate::model::{Licence, LicenceTerm};
    use crate::test_fixtures::company;
    use crate::types::{Email, LicenceType};
    use chrono::Utc;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn member(role: MemberRole, term: Option<LicenceTerm>) -> Member {
        Member {
            email: Email::parse("m@c.io").unwrap(),
            name: "M".into(),
            role,
            licence: term.map(|term| Licence {
                licence_type: LicenceType::parse("standard").unwrap(),
                term,
                allocated_on: d("2026-01-01"),
            }),
            added_at: Utc::now(),
        }
    }

    #[test]
    fn decisions() {
        let trial = company(Plan::Trial {
            ends_on: d("2026-12-01"),
            seats: 5,
            allocated: Some(1),
        });
        let premium = company(Plan::premium(d("2026-04-01"), 12));
        let trial_licence = Some(LicenceTerm::Trial {
            ends_on: d("2026-12-01"),
        });
        let expired = Some(LicenceTerm::Rolling {
            ends_on: d("2026-10-01"),
        });
        let cases = [
            // (company, member role, licence, today, allowed, reason, redirect)
            (
                &trial,
                MemberRole::Learner,
                trial_licence,
                "2026-11-30",
                true,
                AccessReason::LicenceActive,
                None,
            ),
            (
                &trial,
                MemberRole::Learner,
                trial_licence,
                "2026-12-01",
                false,
                AccessReason::TrialExpired,
                None,
            ),
            (
                &trial,
                MemberRole::Manager,
                trial_licence,
                "2026-12-01",
                false,
                AccessReason::TrialExpired,
                Some(UPGRADE_PAGE),
            ),
            (
                &premium,
                MemberRole::Manager,
                Some(LicenceTerm::CoTerm { ends_on: None }),
                "2027-04-01",
                false,
                AccessReason::CompanyExpired,
                Some(RENEW_PAGE),
            ),
            (
                &premium,
                MemberRole::Manager,
                expired,
                "2026-11-22",
                false,
                AccessReason::LicenceExpired,
                Some(RENEW_PAGE),
            ),
            (
                &premium,
                MemberRole::Learner,
                expired,
                "2026-11-22",
                false,
                AccessReason::LicenceExpired,
                None,
            ),
            (
                &premium,
                MemberRole::Learner,
                None,
                "2026-11-22",
                false,
                AccessReason::Unlicensed,
                None,
            ),
            (
                &premium,
                MemberRole::Learner,
                Some(LicenceTerm::CoTerm { ends_on: None }),
                "2027-03-31",
                true,
                AccessReason::LicenceActive,
                None,
            ),
        ];
        for (company, role, term, today, allowed, reason, redirect) in cases {
            let m = member(role, term);
            let status = company.status(false, d(today));
            let decision = decide(company, status, Some(&m), d(today));
            assert_eq!(decision.allowed, allowed, "{role:?} {term:?} {today}");
            assert_eq!(decision.reason, reason, "{role:?} {term:?} {today}");
            assert_eq!(
                decision.redirect_to.as_deref(),
                redirect,
                "{role:?} {term:?} {today}"
            );
        }

        // A company with a rolling pool never expires as a company: its
        // rolling licences live by their own dates past the old renewal date.
        let rolling = member(
            MemberRole::Learner,
            Some(LicenceTerm::Rolling {
                ends_on: d("2028-03-01"),
            }),
        );
        let status = premium.status(true, d("2027-04-02"));
        assert_eq!(status, CompanyStatus::Active);
        let decision = decide(&premium, status, Some(&rolling), d("2027-04-02"));
        assert_eq!(
            (decision.allowed, decision.reason),
            (true, AccessReason::LicenceActive)
        );
    }
}
