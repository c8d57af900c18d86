//! An [`ItemStore`] that fails on cue: the Nth transaction from when it is
//! armed, or every one from then on, answers `StoreError::Unavailable`.
//! Reads always go through. For tests of what a fault half-way leaves.
//! Beside it, the fault suite's seeded chaos ports ([`ChaosStore`],
//! [`ChaosMailer`], [`ChaosObjects`]) and the process kills they share
//! ([`Kills`]).

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
    /// Refused as `Conflict` with nothing written, as DynamoDB cancels a
    /// transaction that merely overlapped another on the same item.
    Conflict,
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
            Some(Fault::Conflict) => Err(StoreError::Conflict),
            Some(Fault::After) => {
                self.inner.transact(writes).await?;
                Err(injected())
            }
        }
    }
}

/// What a [`ChaosStore`] did to the transactions it was given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ChaosCounts {
    pub transactions: u64,
    /// Refused as a conditional-check race would be; nothing written.
    pub conflicts: u64,
    /// Refused as throttled; nothing written.
    pub throttled: u64,
    /// Refused as unavailable; nothing written.
    pub unavailable: u64,
    /// Written, then reported as failed: the reply lost after the commit.
    pub lost_replies: u64,
}

impl ChaosCounts {
    pub fn faults(&self) -> u64 {
        self.conflicts + self.throttled + self.unavailable + self.lost_replies
    }
}

/// A store whose transactions fail at random, driven by a seed so a run
/// can be replayed: a race lost, throttling, an outage, or a reply lost
/// after the write went through. Reads always go through.
pub struct ChaosStore {
    inner: std::sync::Arc<dyn ItemStore>,
    dice: Dice,
    counts: Mutex<ChaosCounts>,
    kills: Option<std::sync::Arc<Kills>>,
}

/// A seeded chance of a fault, `per_mille` in 1 000 calls, that counts the
/// faults it gave: what each chaos port rolls before passing a call on.
struct Dice {
    rng: Mutex<fastrand::Rng>,
    per_mille: AtomicU64,
    fired: AtomicU64,
}

impl Dice {
    fn new(seed: u64, per_mille: u64) -> Self {
        Self {
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            per_mille: AtomicU64::new(per_mille),
            fired: AtomicU64::new(0),
        }
    }

    fn arm(&self, per_mille: u64) {
        self.per_mille.store(per_mille, Ordering::SeqCst);
    }

    fn fired(&self) -> u64 {
        self.fired.load(Ordering::SeqCst)
    }

    /// `None` when this call goes through; else the fault's kind, drawn
    /// by `kind` from the same generator.
    fn roll<T>(&self, kind: impl FnOnce(&mut fastrand::Rng) -> T) -> Option<T> {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        (rng.u64(0..1000) < self.per_mille.load(Ordering::SeqCst)).then(|| {
            self.fired.fetch_add(1, Ordering::SeqCst);
            kind(&mut rng)
        })
    }
}

impl ChaosStore {
    pub fn new(inner: std::sync::Arc<dyn ItemStore>, seed: u64, per_mille: u64) -> Self {
        Self {
            inner,
            dice: Dice::new(seed, per_mille),
            counts: Mutex::new(ChaosCounts::default()),
            kills: None,
        }
    }

    /// The store also dies with the process at `kills`' draws.
    pub fn killing(mut self, kills: std::sync::Arc<Kills>) -> Self {
        self.kills = Some(kills);
        self
    }

    /// The inner transaction; a commit settles any send before it.
    async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let result = self.inner.transact(writes).await;
        if let (Ok(()), Some(kills)) = (&result, &self.kills) {
            kills.committed();
        }
        result
    }

    /// No more faults from now on.
    pub fn heal(&self) {
        self.arm(0);
    }

    /// Faults from now on, `per_mille` of every 1 000 transactions.
    pub fn arm(&self, per_mille: u64) {
        self.dice.arm(per_mille);
    }

    pub fn counts(&self) -> ChaosCounts {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fault for the next transaction, if any: 0 race, 1 throttled,
    /// 2 outage, 3 lost reply.
    fn draw(&self) -> Option<u32> {
        self.dice.roll(|rng| rng.u32(0..4))
    }
}

#[async_trait]
impl ItemStore for ChaosStore {
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
        if let Some(kills) = &self.kills {
            match kills.draw_for_transaction() {
                Some(Kill::BeforeWrite) => kills.die(Kill::BeforeWrite).await,
                Some(Kill::AfterWrite) => {
                    // Whether it committed or not, no one hears of it.
                    let _ = self.commit(writes).await;
                    kills.die(Kill::AfterWrite).await
                }
                Some(Kill::AfterSend) | None => {}
            }
        }
        let fault = self.draw();
        let count = |f: fn(&mut ChaosCounts)| {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            counts.transactions += 1;
            f(&mut counts);
        };
        match fault {
            None => {
                count(|_| {});
                self.commit(writes).await
            }
            Some(0) => {
                count(|c| c.conflicts += 1);
                Err(StoreError::Conflict)
            }
            Some(1) => {
                count(|c| c.throttled += 1);
                Err(StoreError::Throttled)
            }
            Some(2) => {
                count(|c| c.unavailable += 1);
                Err(StoreError::Unavailable("injected outage".into()))
            }
            Some(_) => {
                count(|c| c.lost_replies += 1);
                self.commit(writes).await?;
                Err(StoreError::Unavailable(
                    "injected: reply lost after the write".into(),
                ))
            }
        }
    }
}

/// A mailer that refuses sends at random, driven by a seed: throttled, or
/// the service unavailable. Nothing is sent when it refuses (a send whose
/// reply is lost cannot be told from one that failed, so it is left out:
/// SES offers no way to send exactly once then).
pub struct ChaosMailer {
    inner: std::sync::Arc<dyn seatkeeper_core::ports::Mailer>,
    dice: Dice,
    kills: Option<std::sync::Arc<Kills>>,
}

impl ChaosMailer {
    pub fn new(
        inner: std::sync::Arc<dyn seatkeeper_core::ports::Mailer>,
        seed: u64,
        per_mille: u64,
    ) -> Self {
        Self {
            inner,
            dice: Dice::new(seed ^ 0x6d61_696c, per_mille),
            kills: None,
        }
    }

    /// The mailer also dies with the process at `kills`' draws: the
    /// e-mail goes out, and its reply is never heard.
    pub fn killing(mut self, kills: std::sync::Arc<Kills>) -> Self {
        self.kills = Some(kills);
        self
    }

    pub fn arm(&self, per_mille: u64) {
        self.dice.arm(per_mille);
    }

    /// Sends refused so far.
    pub fn refused(&self) -> u64 {
        self.dice.fired()
    }
}

#[async_trait]
impl seatkeeper_core::ports::Mailer for ChaosMailer {
    async fn send(
        &self,
        email: &seatkeeper_core::ports::OutgoingEmail,
    ) -> Result<(), seatkeeper_core::ports::MailError> {
        use seatkeeper_core::ports::MailError;
        match self.dice.roll(|rng| rng.bool()) {
            None => {
                let sent = self.inner.send(email).await;
                if let (Ok(()), Some(kills)) = (&sent, &self.kills) {
                    kills.sent(&email.kind);
                    if kills.draw().is_some() {
                        kills.die(Kill::AfterSend).await;
                    }
                }
                sent
            }
            Some(true) => Err(MailError::Throttled),
            Some(false) => Err(MailError::Unavailable("injected outage".into())),
        }
    }
}

/// An object reader that fails at random, driven by a seed: the object
/// store unavailable when asked for the size, or the connection dropped
/// half-way through the file, after part of it was read.
pub struct ChaosObjects {
    inner: std::sync::Arc<dyn seatkeeper_core::ports::ObjectReader>,
    dice: Dice,
}

impl ChaosObjects {
    pub fn new(
        inner: std::sync::Arc<dyn seatkeeper_core::ports::ObjectReader>,
        seed: u64,
        per_mille: u64,
    ) -> Self {
        Self {
            inner,
            dice: Dice::new(seed ^ 0x6f62_6a73, per_mille),
        }
    }

    pub fn arm(&self, per_mille: u64) {
        self.dice.arm(per_mille);
    }

    /// Reads failed so far.
    pub fn failed(&self) -> u64 {
        self.dice.fired()
    }

    /// Whether the next read fails; counted when it does.
    fn fails(&self) -> bool {
        self.dice.roll(|_| ()).is_some()
    }
}

#[async_trait]
impl seatkeeper_core::ports::ObjectReader for ChaosObjects {
    async fn size(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<u64, seatkeeper_core::ports::ObjectError> {
        if self.fails() {
            return Err(seatkeeper_core::ports::ObjectError::Unavailable(
                "injected outage".into(),
            ));
        }
        self.inner.size(bucket, key).await
    }

    async fn read_chunks(
        &self,
        bucket: &str,
        key: &str,
        sink: &mut (dyn for<'c> FnMut(&'c [u8]) -> bool + Send),
    ) -> Result<(), seatkeeper_core::ports::ObjectError> {
        if !self.fails() {
            return self.inner.read_chunks(bucket, key, sink).await;
        }
        // Half of the first chunk arrives, then the connection drops.
        let mut half_of_first = |chunk: &[u8]| {
            sink(&chunk[..chunk.len() / 2]);
            false
        };
        self.inner
            .read_chunks(bucket, key, &mut half_of_first)
            .await?;
        Err(seatkeeper_core::ports::ObjectError::Unavailable(
            "injected: connection reset mid-stream".into(),
        ))
    }
}

/// Where a process was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    /// At a transaction, before it was sent.
    BeforeWrite,
    /// Right after a transaction was sent (committed or not).
    AfterWrite,
    /// Right after an e-mail went out.
    AfterSend,
}

/// What [`Kills`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KillCounts {
    pub before_write: u64,
    pub after_write: u64,
    pub after_send: u64,
    /// The kinds of the e-mails that went out with the process killed
    /// before their send was recorded: each may go out once more.
    pub unrecorded_sends: Vec<String>,
}

impl KillCounts {
    pub fn total(&self) -> u64 {
        self.before_write + self.after_write + self.after_send
    }
}

/// A process kill, shared by the chaos ports of one process and driven by
/// a seed: the port that draws it signals [`Kills::killed`] and never
/// returns, so no code after the kill point runs (no error path, no
/// release, no cleanup). The harness drops the request's future when
/// signalled, as Lambda ends a function that timed out or crashed.
pub struct Kills {
    dice: Dice,
    signal: tokio::sync::Notify,
    counts: Mutex<KillCounts>,
    /// The kind of the last e-mail sent since the last commit.
    unrecorded_send: Mutex<Option<String>>,
    /// A kill planned at the nth transaction from when it was planned.
    planned: Mutex<Option<(u64, Kill)>>,
}

impl Kills {
    pub fn new(seed: u64, per_mille: u64) -> Self {
        Self {
            dice: Dice::new(seed ^ 0x6b69_6c6c, per_mille),
            signal: tokio::sync::Notify::new(),
            counts: Mutex::new(KillCounts::default()),
            unrecorded_send: Mutex::new(None),
            planned: Mutex::new(None),
        }
    }

    /// Kills at the `n`th transaction from now (1 = the next), `at` its
    /// write, besides any the seed draws.
    pub fn kill_at_transaction(&self, n: u64, at: Kill) {
        *self.planned.lock().unwrap_or_else(|p| p.into_inner()) = Some((n.max(1), at));
    }

    /// [`Self::draw`] for a transaction, a planned kill first.
    fn draw_for_transaction(&self) -> Option<Kill> {
        let drawn = self.draw();
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        match *planned {
            Some((1, at)) => {
                *planned = None;
                Some(at)
            }
            Some((n, at)) => {
                *planned = Some((n - 1, at));
                drawn
            }
            None => drawn,
        }
    }

    /// Kills from now on, `per_mille` of every 1 000 transactions and sends.
    pub fn arm(&self, per_mille: u64) {
        self.dice.arm(per_mille);
    }

    pub fn counts(&self) -> KillCounts {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Resolves when a port has killed the process.
    pub async fn killed(&self) {
        self.signal.notified().await;
    }

    /// Whether this call dies, and where: a transaction before or after
    /// its write (half each).
    fn draw(&self) -> Option<Kill> {
        self.dice.roll(|rng| match rng.bool() {
            true => Kill::BeforeWrite,
            false => Kill::AfterWrite,
        })
    }

    fn sent(&self, kind: &str) {
        *self
            .unrecorded_send
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(kind.to_string());
    }

    /// A write went through: it recorded the send before it (its mark),
    /// or came after it.
    fn committed(&self) {
        *self
            .unrecorded_send
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Counts the kill, signals it and never returns.
    async fn die(&self, at: Kill) -> ! {
        {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            match at {
                Kill::BeforeWrite => counts.before_write += 1,
                Kill::AfterWrite => counts.after_write += 1,
                Kill::AfterSend => counts.after_send += 1,
            }
            let unrecorded = self
                .unrecorded_send
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            counts.unrecorded_sends.extend(unrecorded);
        }
        self.signal.notify_one();
        std::future::pending().await
    }
}
