//! Values the core's unit tests share.

use chrono::Utc;

use crate::model::{Company, Plan, DEFAULT_MIN_SEATS_AT_RENEWAL};
use crate::types::{CompanyId, Email};

/// A company in London with no partner and no managers, on `plan`.
pub(crate) fn company(plan: Plan) -> Company {
    Company {
        id: CompanyId::parse("c1").unwrap(),
        name: "Acme".into(),
        partner_id: None,
        timezone: chrono_tz::Europe::London,
        account_manager_email: Email::parse("am@v.io").unwrap(),
        min_seats_at_renewal: DEFAULT_MIN_SEATS_AT_RENEWAL,
        term_months: 12,
        plan,
        next_term: None,
        manager_emails: Vec::new(),
        created_at: Utc::now(),
    }
}
