//! Who is calling, and what their role lets them do to which tenant.

use serde::{Deserialize, Serialize};

use crate::error::ServiceError;
use crate::model::{ActorRef, Company};
use crate::types::{CompanyId, Email, PartnerId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Learner,
    Manager,
    AccountManager,
    PartnerAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Learner,
        Role::Manager,
        Role::AccountManager,
        Role::PartnerAdmin,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "learner" => Some(Role::Learner),
            "manager" => Some(Role::Manager),
            "account_manager" => Some(Role::AccountManager),
            "partner_admin" => Some(Role::PartnerAdmin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Learner => "learner",
            Role::Manager => "manager",
            Role::AccountManager => "account_manager",
            Role::PartnerAdmin => "partner_admin",
        }
    }
}

/// The authenticated caller, from the JWT authorizer's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub email: Email,
    pub role: Role,
    pub company_id: Option<CompanyId>,
    pub partner_id: Option<PartnerId>,
}

/// What a caller is trying to do; each names the roles that may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateCompany,
    ReadCompany,
    ManageSeats,
    RequestOrder,
    AssignOrder,
    CancelOrder,
    /// Change a company's settings and licence types.
    AdministerCompany,
    /// Work the helpdesk queue of requested orders.
    ReadQueue,
    /// Read a partner's record.
    ReadPartner,
    /// Record partners: the vendor's side only.
    ManagePartners,
}

impl Action {
    fn allowed(self, role: Role) -> bool {
        use Role::*;
        match self {
            Action::CreateCompany
            | Action::AssignOrder
            | Action::AdministerCompany
            | Action::ReadQueue
            | Action::ReadPartner => matches!(role, AccountManager | PartnerAdmin),
            Action::ManagePartners => role == AccountManager,
            Action::ReadCompany
            | Action::ManageSeats
            | Action::RequestOrder
            | Action::CancelOrder => {
                matches!(role, Manager | AccountManager | PartnerAdmin)
            }
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Action::CreateCompany => "create companies",
            Action::ReadCompany => "read this company",
            Action::ManageSeats => "manage members and seats",
            Action::RequestOrder => "request orders",
            Action::AssignOrder => "assign orders",
            Action::CancelOrder => "cancel orders",
            Action::AdministerCompany => "change a company's settings",
            Action::ReadQueue => "read the helpdesk queue",
            Action::ReadPartner => "read partners",
            Action::ManagePartners => "record partners",
        }
    }
}

impl Caller {
    /// 403 when the role may never do this, whatever the tenant.
    pub fn require(&self, action: Action) -> Result<(), ServiceError> {
        if action.allowed(self.role) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden {
                action: action.describe(),
            })
        }
    }

    /// Whether this caller may act on `company` at all.
    pub fn can_act_on(&self, company: &Company) -> bool {
        match self.role {
            Role::AccountManager => true,
            Role::PartnerAdmin => {
                self.partner_id.is_some() && company.partner_id == self.partner_id
            }
            Role::Manager | Role::Learner => self.company_id.as_ref() == Some(&company.id),
        }
    }

    /// The company a partner admin is acting for, for the audit trail.
    pub fn acting_for(&self, company: &Company) -> Option<CompanyId> {
        (self.role == Role::PartnerAdmin).then(|| company.id.clone())
    }

    pub fn actor(&self) -> ActorRef {
        ActorRef {
            user_id: self.user_id.clone(),
            email: self.email.to_string(),
            role: self.role.as_str().to_string(),
            partner_id: self.partner_id.clone(),
        }
    }
}
