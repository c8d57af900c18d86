//! The helpdesk queue: every requested order the caller may act on,
//! oldest first, read from queue entries kept with the orders (see
//! [`repo::queue_keys`]), never by visiting companies.

use crate::caller::{Action, Caller, Role};
use crate::error::ServiceError;
use crate::model::{Company, Order, OrderState, QueueEntry};
use crate::ports::{Clock, Condition, ItemStore, Mailer, Query, Write, MAX_TRANSACTION_ITEMS};
use crate::repo::{self, Stored};

use super::context::{queue_writes, Seatkeeper};
use super::inputs::{list_filter, page_limit};
use super::views::{ListPage, QueuedOrder};

impl<S: ItemStore, C: Clock, M: Mailer> Seatkeeper<S, C, M> {
    /// `GET /v1/orders?state=requested`: an account manager's queue holds
    /// every company's requests, a partner admin's their customers'.
    pub async fn list_queue(
        &self,
        caller: &Caller,
        state: Option<&str>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<ListPage<QueuedOrder>, ServiceError> {
        caller.require(Action::ReadQueue)?;
        // Only requests wait in a queue; other states are read per company.
        list_filter(
            state,
            |s| (s == OrderState::Requested.as_str()).then_some(()),
            "state",
            "requested (assigned and cancelled orders are listed per company)",
        )?;
        let scope = match caller.role {
            Role::PartnerAdmin => {
                Some(caller.partner_id.as_ref().ok_or(ServiceError::Forbidden {
                    action: "read a queue without a partner id",
                })?)
            }
            _ => None,
        };
        let query = Query {
            limit: page_limit(limit)?,
            cursor,
            ..Query::table(repo::queue_pk(scope), "")
        };
        let (entries, next_cursor) = repo::load_page::<QueueEntry, _>(self.store(), &query).await?;
        let now = self.clock().now();
        let items = entries
            .into_iter()
            .map(|Stored { value, .. }| QueuedOrder {
                overdue: value.requested_at + crate::model::OVERDUE_AFTER <= now,
                entry: value,
            })
            .collect();
        Ok(ListPage { items, next_cursor })
    }

    /// After a rename: the company's queued orders show the new name. Each
    /// order's entries are written with a check that the order is as read,
    /// so an order assigned meanwhile is not put back in the queue.
    pub(super) async fn requeue_company(&self, company: &Company) -> Result<(), ServiceError> {
        self.retrying(|| async {
            let orders: Vec<Stored<Order>> = repo::load_all(
                self.store(),
                Query::table(repo::company_pk(&company.id), repo::ORDER_PREFIX),
            )
            .await?;
            let mut batch: Vec<Write> = Vec::new();
            for stored in orders
                .into_iter()
                .filter(|o| o.value.state == OrderState::Requested)
            {
                let order = stored.value.with_lines();
                let mut writes = vec![Write::Check {
                    key: repo::order_key(&company.id, &order.id),
                    condition: Condition::Version(stored.version),
                }];
                writes.extend(queue_writes(company, &order, true)?);
                if batch.len() + writes.len() > MAX_TRANSACTION_ITEMS {
                    self.store().transact(std::mem::take(&mut batch)).await?;
                }
                batch.extend(writes);
            }
            self.store().transact(batch).await?;
            Ok(())
        })
        .await
    }
}
