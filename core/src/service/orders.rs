//! Orders: the quote, the request, and the account manager's assign or
//! cancel, which is the only way seats are bought.

use crate::caller::{Action, Caller, Role};
use crate::dates::parse_date;
use crate::emails;
use crate::error::ServiceError;
use crate::model::{Invoice, Order, OrderKind, OrderState, Plan};
use crate::ports::{Clock, ItemStore, Mailer};
use crate::pricing::{price, Quote};
use crate::repo::{self, Stored};
use crate::rules::{apply_order, check_order_rules};
use crate::types::{LicenceType, OrderId, Quantity};

use super::context::{Seatkeeper, Tenant};
use super::inputs::{list_filter, OrderRequest};
use super::views::{Assignment, ListPage, PoolView};

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    /// The price of `quantity` more seats today. `kind` defaults to what the
    /// company's plan calls for: a conversion in a trial, else an upgrade.
    pub async fn quote(
        &self,
        caller: &Caller,
        company_id: &str,
        licence_type: &str,
        quantity: u32,
        kind: Option<OrderKind>,
    ) -> Result<Quote, ServiceError> {
        caller.require(Action::RequestOrder)?;
        let tenant = self.tenant(caller, company_id).await?;
        self.quote_for(&tenant, licence_type, quantity, kind).await
    }

    async fn quote_for(
        &self,
        tenant: &Tenant,
        licence_type: &str,
        quantity: u32,
        kind: Option<OrderKind>,
    ) -> Result<Quote, ServiceError> {
        let licence_type = LicenceType::parse(licence_type)?;
        let quantity = Quantity::new(quantity)?;
        let pool = self.pool(tenant, &licence_type).await?;
        let company = &tenant.company.value;
        let kind = kind.unwrap_or(match company.plan {
            Plan::Trial { .. } => OrderKind::TrialConversion,
            Plan::Premium { .. } => OrderKind::Upgrade,
        });
        check_order_rules(company, &pool.value, kind, quantity)?;
        Ok(price(
            &pool.value,
            &company.plan,
            kind,
            company.term_months,
            quantity,
            tenant.today,
        )?)
    }

    pub async fn request_order(
        &self,
        caller: &Caller,
        company_id: &str,
        input: OrderRequest,
    ) -> Result<Order, ServiceError> {
        caller.require(Action::RequestOrder)?;
        if !input.agree_to_pay {
            return Err(ServiceError::invalid(
                "agree_to_pay",
                "must be true: tick that you agree to pay",
            ));
        }
        let tenant = self.tenant(caller, company_id).await?;
        let quote = self
            .quote_for(
                &tenant,
                &input.licence_type,
                input.quantity,
                Some(input.kind),
            )
            .await?;
        let order = Order {
            id: OrderId::generate(),
            company_id: tenant.id().clone(),
            licence_type: quote.licence_type.clone(),
            quantity: quote.quantity,
            kind: input.kind,
            state: OrderState::Requested,
            quote,
            requested_by: caller.actor(),
            requested_at: self.clock().now(),
            assigned_by: None,
            assigned_at: None,
            cancelled_by: None,
            cancelled_at: None,
            invoice: None,
        };
        let company = &tenant.company.value;
        let email = emails::order_requested(&self.settings().app_base_url, company, &order);
        let (notice_write, notice) =
            self.notice(company, format!("order_requested#{}", order.id), email)?;
        let writes = vec![
            repo::insert(&tenant.company.value, &order)?,
            notice_write,
            self.audit(
                caller,
                company,
                "order.request",
                serde_json::Value::Null,
                serde_json::to_value(&order).unwrap_or_default(),
            )?,
        ];
        self.store().transact(writes).await?;
        self.deliver(company, notice, 1).await;
        Ok(order)
    }

    pub async fn get_order(
        &self,
        caller: &Caller,
        company_id: &str,
        order_id: &str,
    ) -> Result<Order, ServiceError> {
        caller.require(Action::ReadCompany)?;
        let tenant = self.tenant(caller, company_id).await?;
        Ok(self.order(&tenant, order_id).await?.value)
    }

    async fn order(&self, tenant: &Tenant, order_id: &str) -> Result<Stored<Order>, ServiceError> {
        let not_found = ServiceError::NotFound { what: "order" };
        let id = OrderId::parse(order_id).map_err(|_| not_found.clone())?;
        repo::load(self.store(), &repo::order_key(tenant.id(), &id))
            .await?
            .ok_or(not_found)
    }

    pub async fn list_orders(
        &self,
        caller: &Caller,
        company_id: &str,
        state: Option<&str>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<ListPage<Order>, ServiceError> {
        caller.require(Action::ReadCompany)?;
        let wanted = list_filter(
            state,
            OrderState::parse,
            "state",
            "requested, assigned or cancelled",
        )?;
        let tenant = self.tenant(caller, company_id).await?;
        let (orders, next_cursor) = self
            .company_page::<Order>(&tenant, repo::ORDER_PREFIX, cursor, limit)
            .await?;
        let items = orders
            .into_iter()
            .filter(|o| wanted.is_none_or(|s| o.state == s))
            .collect();
        Ok(ListPage { items, next_cursor })
    }

    /// Actions a requested order: the invoice, the pool and (for renewals
    /// and conversions) the company change in one conditional transaction.
    pub async fn assign_order(
        &self,
        caller: &Caller,
        company_id: &str,
        order_id: &str,
        actioned_on: Option<&str>,
    ) -> Result<Assignment, ServiceError> {
        caller.require(Action::AssignOrder)?;
        let actioned_on = actioned_on
            .map(|raw| {
                parse_date(raw).ok_or_else(|| {
                    ServiceError::invalid("actioned_on", "must be a date, YYYY-MM-DD")
                })
            })
            .transpose()?;
        let assigned = self.retrying(|| async {
            let tenant = self.tenant(caller, company_id).await?;
            let mut order = self.order(&tenant, order_id).await?;
            if !order.value.state.can_become(OrderState::Assigned) {
                return Err(ServiceError::OrderNotRequested {
                    state: order.value.state,
                });
            }
            let mut pool = self.pool(&tenant, &order.value.licence_type).await?;
            let mut company = tenant.company.value.clone();
            let (kind, quantity) = (order.value.kind, order.value.quantity);
            check_order_rules(&company, &pool.value, kind, quantity)?;
            let actioned_on = actioned_on.unwrap_or(tenant.today);
            let quote = price(
                &pool.value,
                &company.plan,
                kind,
                company.term_months,
                quantity,
                actioned_on,
            )?;
            let before =
                serde_json::json!({"order": order.value, "pool": pool.value, "plan": company.plan});
            apply_order(&mut company, &mut pool.value, kind, quantity, actioned_on);
            let invoice = Invoice::from_quote(order.value.id.clone(), quote);
            order.value.state = OrderState::Assigned;
            order.value.assigned_by = Some(caller.actor());
            order.value.assigned_at = Some(self.clock().now());
            order.value.invoice = Some(invoice.clone());
            let mut writes = vec![
                repo::update(&tenant.company.value, &order.value, order.version)?,
                repo::update(&tenant.company.value, &pool.value, pool.version)?,
            ];
            if company != tenant.company.value {
                writes.push(repo::update(&tenant.company.value, &company, tenant.company.version)?);
            }
            let after =
                serde_json::json!({"order": order.value, "pool": pool.value, "plan": company.plan});
            writes.push(self.audit(caller, &company, "order.assign", before, after)?);
            let pool_view = PoolView::from(&pool.value);
            let managers = company.manager_emails.iter().map(ToString::to_string).collect();
            let email = emails::order_assigned(&self.settings().app_base_url, &company, managers, &order.value, &invoice, &pool.value);
            let (notice_write, notice) = self.notice(&company, format!("order_assigned#{}", order.value.id), email)?;
            writes.push(notice_write);
            self.store().transact(writes).await?;
            let assignment = Assignment {
                order: order.value,
                invoice,
                pool: pool_view,
            };
            Ok((assignment, notice, company))
        })
        .await?;
        let (assignment, notice, company) = assigned;
        if !notice.email.to.is_empty() {
            self.deliver(&company, notice, 1).await;
        }
        Ok(assignment)
    }

    pub async fn cancel_order(
        &self,
        caller: &Caller,
        company_id: &str,
        order_id: &str,
    ) -> Result<Order, ServiceError> {
        caller.require(Action::CancelOrder)?;
        self.retrying(|| async {
            let tenant = self.tenant(caller, company_id).await?;
            let mut order = self.order(&tenant, order_id).await?;
            let is_staff = matches!(caller.role, Role::AccountManager | Role::PartnerAdmin);
            if !is_staff && order.value.requested_by.user_id != caller.user_id {
                return Err(ServiceError::Forbidden {
                    action: "cancel an order someone else requested",
                });
            }
            if !order.value.state.can_become(OrderState::Cancelled) {
                return Err(ServiceError::OrderNotRequested {
                    state: order.value.state,
                });
            }
            let before = serde_json::to_value(&order.value).unwrap_or_default();
            order.value.state = OrderState::Cancelled;
            order.value.cancelled_by = Some(caller.actor());
            order.value.cancelled_at = Some(self.clock().now());
            let writes = vec![
                repo::update(&tenant.company.value, &order.value, order.version)?,
                self.audit(
                    caller,
                    &tenant.company.value,
                    "order.cancel",
                    before,
                    serde_json::to_value(&order.value).unwrap_or_default(),
                )?,
            ];
            self.store().transact(writes).await?;
            Ok(order.value)
        })
        .await
    }
}
