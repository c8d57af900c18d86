//! An [`ItemStore`] that fails on cue: the Nth transaction from when it is
//! armed, or every one from then on, answers `StoreError::Unavailable`.
//! Reads always go through. For tests of what a fault half-way leaves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use seatkeeper_core::ports::{Item, ItemStore, Key, Page, Query, StoreError, Write};

/// How an armed transaction fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Refused before anything is written.
    Before,
    /// Written, then reported as failed: a lost reply, the ambiguous case.
    After,
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    /// The first failing transaction, counted from 1 since arming.
    from: u64,
    /// Whether every transaction from `from` on fails, or only that one.
    sticky: bool,
    fault: Fault,
}

/// Wraps a store; unarmed, it only counts transactions.
pub struct FaultyStore<S> {
    inner: S,
    transactions: AtomicU64,
    armed_at: AtomicU64,
    plan: Mutex<Option<Plan>>,
}

impl<S: ItemStore> FaultyStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            transactions: AtomicU64::new(0),
            armed_at: AtomicU64::new(0),
            plan: Mutex::new(None),
        }
    }

    /// The `n`th transaction from now (1 = the next) fails, once.
    pub fn fail_nth(&self, n: u64, fault: Fault) {
        self.arm(n, false, fault);
    }

    /// Every transaction from the `n`th from now on fails, until healed.
    pub fn fail_from(&self, n: u64, fault: Fault) {
        self.arm(n, true, fault);
    }

    pub fn heal(&self) {
        *self.plan.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Transactions attempted so far, failed ones included.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::SeqCst)
    }

    fn arm(&self, n: u64, sticky: bool, fault: Fault) {
        let mut plan = self.plan.lock().unwrap_or_else(|p| p.into_inner());
        self.armed_at.store(self.transactions(), Ordering::SeqCst);
        *plan = Some(Plan {
            from: n.max(1),
            sticky,
            fault,
        });
    }

    /// The fault for the transaction numbered `number` since arming, if any.
    fn fault_for(&self, number: u64) -> Option<Fault> {
        let plan = *self.plan.lock().unwrap_or_else(|p| p.into_inner());
        plan.filter(|p| number == p.from || (p.sticky && number > p.from))
            .map(|p| p.fault)
    }
}

#[async_trait]
impl<S: ItemStore> ItemStore for FaultyStore<S> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.get_many(keys).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let total = self.transactions.fetch_add(1, Ordering::SeqCst) + 1;
        let number = total - self.armed_at.load(Ordering::SeqCst);
        let injected = || StoreError::Unavailable(format!("injected fault on transaction {total}"));
        match self.fault_for(number) {
            None => self.inner.transact(writes).await,
            Some(Fault::Before) => Err(injected()),
            Some(Fault::After) => {
                self.inner.transact(writes).await?;
                Err(injected())
            }
        }
    }
}
