//! Orders: the quote, the request, and the account manager's assign or
//! cancel, which is the only way seats are bought.

use crate::caller::{Action, Caller, Role};
use chrono::NaiveDate;

use crate::dates::parse_date;
use crate::emails;
use crate::error::ServiceError;
use crate::model::{Invoice, Order, OrderKind, OrderLine, OrderState, Policy};
use crate::ports::{Clock, ItemStore, Mailer};
use crate::pricing::{price, Quote};
use crate::repo::{self, Stored};
use crate::rules::{apply_order, check_order, default_kind, ensure_renews_open_term};
use crate::types::{LicenceType, OrderId, Quantity};

use super::context::{queue_writes, Seatkeeper, Tenant};
use super::inputs::{list_filter, OrderRequest};
use super::views::{Assignment, ListPage, OrderQuote, PoolView};

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    /// The price of `quantity` more seats of one type today. `kind`
    /// defaults to what the company's state calls for (see
    /// [`default_kind`]).
    pub async fn quote(
        &self,
        caller: &Caller,
        company_id: &str,
        licence_type: &str,
        quantity: u32,
        kind: Option<OrderKind>,
    ) -> Result<Quote, ServiceError> {
        let request = OrderRequest {
            licence_type: Some(licence_type.to_string()),
            quantity: Some(quantity),
            kind,
            ..OrderRequest::default()
        };
        let quoted = self.quote_order(caller, company_id, &request).await?;
        quoted
            .lines
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound {
                what: "licence type",
            })
    }

    /// The price today of an order's lines (`POST …/quotes`).
    pub async fn quote_order(
        &self,
        caller: &Caller,
        company_id: &str,
        request: &OrderRequest,
    ) -> Result<OrderQuote, ServiceError> {
        caller.require(Action::RequestOrder)?;
        let lines = request.lines()?;
        let tenant = self.tenant(caller, company_id).await?;
        let (kind, quotes) = price_lines(&tenant, request.kind, &lines, tenant.today, &[])?;
        Ok(OrderQuote::new(kind, quotes, tenant.today))
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
        let lines = input.lines()?;
        let tenant = self.tenant(caller, company_id).await?;
        let (kind, quotes) = price_lines(&tenant, input.kind, &lines, tenant.today, &[])?;
        let company = &tenant.company.value;
        let co_term_renewal =
            kind == OrderKind::Renewal && tenant.pool(&lines[0].0)?.value.policy == Policy::CoTerm;
        let first = quotes[0].clone();
        let order = Order {
            id: OrderId::generate(),
            company_id: tenant.id().clone(),
            licence_type: first.licence_type.clone(),
            quantity: first.quantity,
            kind,
            state: OrderState::Requested,
            total_minor: quotes.iter().map(|q| q.amount_minor).sum(),
            lines: quotes
                .into_iter()
                .map(|quote| OrderLine {
                    licence_type: quote.licence_type.clone(),
                    quantity: quote.quantity,
                    quote,
                })
                .collect(),
            quote: first,
            renews_term_ending: co_term_renewal
                .then(|| company.plan.term().map(|t| t.renews_on))
                .flatten(),
            requested_by: caller.actor(),
            requested_at: self.clock().now(),
            assigned_by: None,
            assigned_at: None,
            cancelled_by: None,
            cancelled_at: None,
            invoice: None,
        };
        let company = &tenant.company.value;
        let partner_contact = self.partner_contact(company).await?;
        let email = emails::order_requested(
            &self.settings().app_base_url,
            company,
            &order,
            partner_contact.as_ref(),
        );
        let (notice_write, notice) =
            self.notice(company, format!("order_requested#{}", order.id), email)?;
        let mut writes = queue_writes(company, &order, true)?;
        writes.extend([
            repo::insert(&tenant.company.value, &order)?,
            notice_write,
            self.audit(
                caller,
                company,
                "order.request",
                serde_json::Value::Null,
                serde_json::to_value(&order).unwrap_or_default(),
            )?,
        ]);
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
        let order: Stored<Order> = repo::load(self.store(), &repo::order_key(tenant.id(), &id))
            .await?
            .ok_or(not_found)?;
        Ok(Stored {
            value: order.value.with_lines(),
            version: order.version,
        })
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
            .map(Order::with_lines)
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
            let company = &tenant.company.value;
            let requested_on = order
                .value
                .requested_at
                .with_timezone(&company.timezone)
                .date_naive();
            let actioned_on = actioned_on.unwrap_or(tenant.today);
            if actioned_on < requested_on || actioned_on > tenant.today {
                return Err(ServiceError::invalid(
                    "actioned_on",
                    format!(
                        "must be between the day it was requested ({requested_on}) and today ({})",
                        tenant.today
                    ),
                ));
            }
            ensure_renews_open_term(company, order.value.renews_term_ending)?;
            let lines: Vec<_> = order
                .value
                .lines
                .iter()
                .map(|l| (l.licence_type.clone(), l.quantity))
                .collect();
            // Billed at the fees quoted when it was requested: a fee set
            // since applies to orders requested from then on.
            let fees: Vec<_> = order
                .value
                .lines
                .iter()
                .map(|l| (l.licence_type.clone(), l.quote.annual_fee_minor))
                .collect();
            let (kind, quotes) = price_lines(
                &tenant,
                Some(order.value.kind),
                &lines,
                actioned_on,
                &fees,
            )?;
            let mut next = company.clone();
            let mut pools = tenant.pool_values();
            apply_order(&mut next, &mut pools, kind, &lines, actioned_on, &order.value.id);
            let invoice = Invoice::from_quotes(order.value.id.clone(), &quotes).ok_or(
                ServiceError::invalid("lines", "an order has at least one line"),
            )?;
            let before = serde_json::json!({"order": order.value, "pools": tenant.pool_values(), "plan": company.plan, "next_term": company.next_term});
            order.value.state = OrderState::Assigned;
            order.value.assigned_by = Some(caller.actor());
            order.value.assigned_at = Some(self.clock().now());
            order.value.invoice = Some(invoice.clone());
            let mut writes = vec![repo::update(company, &order.value, order.version)?];
            writes.extend(queue_writes(company, &order.value, false)?);
            writes.extend(tenant.changes(&next, &pools)?);
            let after = serde_json::json!({"order": order.value, "pools": pools, "plan": next.plan, "next_term": next.next_term});
            writes.push(self.audit(caller, &next, "order.assign", before, after)?);
            let first_pool = pools
                .iter()
                .find(|p| p.licence_type == order.value.licence_type)
                .cloned()
                .ok_or(ServiceError::NotFound { what: "licence type" })?;
            let managers = next.manager_emails.iter().map(ToString::to_string).collect();
            let email = emails::order_assigned(
                &self.settings().app_base_url,
                &next,
                managers,
                &order.value,
                &invoice,
                (&tenant.pool_values(), &pools),
            );
            let (notice_write, notice) = self.notice(&next, format!("order_assigned#{}", order.value.id), email)?;
            writes.push(notice_write);
            self.store().transact(writes).await?;
            let assignment = Assignment {
                order: order.value,
                invoice,
                pool: PoolView::from(&first_pool),
                pools: pools.iter().map(PoolView::from).collect(),
            };
            Ok((assignment, notice, next))
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
            let company = &tenant.company.value;
            let mut writes = queue_writes(company, &order.value, false)?;
            writes.extend([
                repo::update(company, &order.value, order.version)?,
                self.audit(
                    caller,
                    company,
                    "order.cancel",
                    before,
                    serde_json::to_value(&order.value).unwrap_or_default(),
                )?,
            ]);
            self.store().transact(writes).await?;
            Ok(order.value)
        })
        .await
    }
}

/// The kind an order takes, and the price of each line as of `as_of`,
/// after the order rules. `fees` names the annual fee of a type where it is
/// not the pool's current one (an order requested before a fee change).
fn price_lines(
    tenant: &Tenant,
    kind: Option<OrderKind>,
    lines: &[(LicenceType, Quantity)],
    as_of: NaiveDate,
    fees: &[(LicenceType, i64)],
) -> Result<(OrderKind, Vec<Quote>), ServiceError> {
    let company = &tenant.company.value;
    let kind = kind.unwrap_or_else(|| default_kind(company, tenant.today));
    let pools = tenant.pool_values();
    let mut at_fee = Vec::with_capacity(lines.len());
    for (licence_type, quantity) in lines {
        let mut pool = tenant.pool(licence_type)?.value.clone();
        if let Some((_, fee)) = fees.iter().find(|(t, _)| t == licence_type) {
            pool.annual_fee_minor = *fee;
        }
        at_fee.push((pool, *quantity));
    }
    let priced: Vec<_> = at_fee.iter().map(|(pool, q)| (pool, *q)).collect();
    check_order(company, &pools, kind, &priced)?;
    let quotes = priced
        .iter()
        .map(|(pool, quantity)| {
            price(
                pool,
                &company.plan,
                kind,
                company.term_months,
                *quantity,
                as_of,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((kind, quotes))
}
