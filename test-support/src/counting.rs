//! A store that counts the items its reads return: the cost of a use case
//! as a number a test can bound ("items read ≤ items due"), not a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use seatkeeper_core::ports::{Item, ItemStore, Key, Page, Query, StoreError, Write};

pub struct CountingStore {
    inner: Arc<dyn ItemStore>,
    items_read: AtomicU64,
    queries: AtomicU64,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn ItemStore>) -> Self {
        Self {
            inner,
            items_read: AtomicU64::new(0),
            queries: AtomicU64::new(0),
        }
    }

    /// Items returned by every read so far.
    pub fn items_read(&self) -> u64 {
        self.items_read.load(Ordering::Relaxed)
    }

    /// Queries (pages) run so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    fn count(&self, n: usize) {
        self.items_read.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[async_trait]
impl ItemStore for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let item = self.inner.get(key).await?;
        self.count(usize::from(item.is_some()));
        Ok(item)
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let items = self.inner.get_many(keys).await?;
        self.count(items.len());
        Ok(items)
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let page = self.inner.query(query).await?;
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.count(page.items.len());
        Ok(page)
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.transact(writes).await
    }
}
