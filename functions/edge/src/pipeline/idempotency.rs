//! `Idempotency-Key` on every POST: the same key and body replay the first
//! answer; the same key with another body answers 409. Records live 24 h
//! (a DynamoDB TTL deletes them after that).
//!
//! The effect and the key are bound in one transaction: while a request
//! holding a key runs, [`MarkingStore`] adds to its first change a write
//! that marks the key's record `effect_committed`, conditional on the claim.
//! So if the answer is then lost (a timeout after the commit, a crash), a
//! retry finds the mark and is told the request was applied (409
//! `idempotency_effect_committed`) instead of applying it twice. A request
//! that resumes a job named in its path (a confirm, a resume) is the
//! exception: running it again does its work once, so a 5xx releases its
//! key even when marked, and a marked claim whose request died is taken
//! over like any abandoned one, so the same key finishes the job.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use seatkeeper_core::ports::{
    Condition, Item, ItemStore, Key, Page, Query, StoreError, Write, MAX_TRANSACTION_ITEMS,
};
use seatkeeper_core::{repo, Caller};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::outcome::{Outcome, Reply};
use super::problem::Problem;

/// How long a key is remembered.
pub const RETENTION_HOURS: i64 = 24;
/// After this long an unfinished claim is taken to be abandoned (a crash).
const ABANDONED_AFTER_SECONDS: i64 = 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    request_hash: String,
    started_at: DateTime<Utc>,
    /// Set once the first request finished.
    response: Option<StoredResponse>,
    /// Set, in the same transaction, by the request's first change.
    #[serde(default)]
    effect_committed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredResponse {
    status: u16,
    problem: bool,
    body: serde_json::Value,
}

/// A key this request now holds.
pub struct Idempotency {
    key: Key,
    record: Record,
    version: u64,
    resumable: bool,
}

/// What a request asks to claim.
pub struct Claim<'a> {
    /// The `Idempotency-Key` header as sent.
    pub key: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    /// The request resumes a job named in its path (see the module doc).
    pub resumable: bool,
}

pub enum Begun {
    Fresh(Idempotency),
    Replay(Outcome),
}

fn validate(key: &str) -> Result<(), Problem> {
    let ok = (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Problem::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        ))
    }
}

fn in_progress() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "idempotency_in_progress",
        "Request in progress",
        "a request with this Idempotency-Key is still running; retry shortly",
    )
}

fn store_error(error: StoreError) -> Problem {
    Problem::from(seatkeeper_core::ServiceError::Store(error))
}

impl Idempotency {
    /// Claims the key for this request, or says what to answer instead.
    pub async fn begin(
        store: &dyn ItemStore,
        now: DateTime<Utc>,
        caller: &Caller,
        claim: &Claim<'_>,
    ) -> Result<Begun, Problem> {
        validate(claim.key)?;
        let item_key = repo::idempotency_key(&caller.user_id, claim.key);
        let mut hash = Sha256::new();
        hash.update(claim.path.as_bytes());
        hash.update([0]);
        hash.update(claim.body);
        let request_hash = format!("{:x}", hash.finalize());
        let record = Record {
            request_hash,
            started_at: now,
            response: None,
            effect_committed: false,
        };
        let expires_at = (now + Duration::hours(RETENTION_HOURS)).timestamp();
        let insert =
            repo::insert_raw(item_key.clone(), &record, Some(expires_at)).map_err(Problem::from)?;
        let held = |key, record, version| Self {
            key,
            record,
            version,
            resumable: claim.resumable,
        };
        match store.transact(vec![insert]).await {
            Ok(()) => return Ok(Begun::Fresh(held(item_key, record, 1))),
            Err(StoreError::Conflict) => {}
            Err(other) => return Err(store_error(other)),
        }
        let existing = repo::load::<Record, _>(store, &item_key)
            .await
            .map_err(Problem::from)?
            // Released between our claim and this read: still in play.
            .ok_or_else(in_progress)?;
        // DynamoDB's TTL deletes late (up to days): a record past its
        // retention is gone as far as anyone may tell, so the key is free.
        let expired = now - existing.value.started_at >= Duration::hours(RETENTION_HOURS);
        if expired {
            return Self::take_over(store, held(item_key, record, existing.version), expires_at)
                .await;
        }
        if existing.value.request_hash != record.request_hash {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "Idempotency key reused",
                "this Idempotency-Key was used with a different request",
            ));
        }
        match existing.value.response {
            Some(stored) => Ok(Begun::Replay(stored.into_outcome())),
            // Applied, its answer lost: never applied again, never taken
            // over, unless running it again resumes a job.
            None if existing.value.effect_committed && !claim.resumable => Err(Problem::new(
                StatusCode::CONFLICT,
                "idempotency_effect_committed",
                "Already applied",
                "this request was applied but its answer was lost; read the resource to see the result",
            )),
            None if now - existing.value.started_at
                > Duration::seconds(ABANDONED_AFTER_SECONDS) =>
            {
                // The first attempt died mid-way; take the claim over.
                Self::take_over(store, held(item_key, record, existing.version), expires_at)
                    .await
            }
            None => Err(in_progress()),
        }
    }

    /// Replaces the claim `taker.version` read with `taker`'s. Of two
    /// requests taking over one claim, one wins; the other is told the key
    /// is in use (409), as if it had come second, which it did.
    async fn take_over(
        store: &dyn ItemStore,
        mut taker: Self,
        expires_at: i64,
    ) -> Result<Begun, Problem> {
        let write = repo::update_raw(
            taker.key.clone(),
            &taker.record,
            taker.version,
            Some(expires_at),
        )
        .map_err(Problem::from)?;
        match store.transact(vec![write]).await {
            Ok(()) => {
                taker.version += 1;
                Ok(Begun::Fresh(taker))
            }
            Err(StoreError::Conflict) => Err(in_progress()),
            Err(other) => Err(store_error(other)),
        }
    }

    /// The write that marks this key's effect as committed, for the
    /// request's first change to carry.
    pub fn effect_mark(&self) -> Option<Write> {
        let mut marked = self.record.clone();
        marked.effect_committed = true;
        let expires_at = (marked.started_at + Duration::hours(RETENTION_HOURS)).timestamp();
        repo::update_raw(self.key.clone(), &marked, self.version, Some(expires_at)).ok()
    }

    /// Records the answer for replays; a server-side failure releases the
    /// key instead, so the client's retry runs again. `marked`: the
    /// request's change committed with the key's mark.
    pub async fn finish(mut self, store: &dyn ItemStore, outcome: &Outcome, marked: bool) {
        if marked {
            self.version += 1;
            self.record.effect_committed = true;
        }
        // A server-side failure, throttling or an unfinished job (202) is
        // not a final answer: release the key so a retry runs again, unless
        // the change was made (then the mark stays, and a retry is told so)
        // by a request that does not resume its job when run again.
        let retryable = match outcome {
            Err(p) => p.status.is_server_error() || p.status == StatusCode::TOO_MANY_REQUESTS,
            Ok(reply) => reply.status == StatusCode::ACCEPTED,
        };
        let unfinished = matches!(outcome, Ok(reply) if reply.status == StatusCode::ACCEPTED);
        if retryable && marked && !unfinished && !self.resumable {
            return;
        }
        let write = if retryable {
            Ok(Write::Delete {
                key: self.key.clone(),
                condition: Condition::Version(self.version),
            })
        } else {
            let mut record = self.record;
            record.response = Some(StoredResponse::from_outcome(outcome));
            let expires_at = (record.started_at + Duration::hours(RETENTION_HOURS)).timestamp();
            repo::update_raw(self.key.clone(), &record, self.version, Some(expires_at))
                .map_err(Problem::from)
        };
        let result = match write {
            Ok(write) => store.transact(vec![write]).await.map_err(store_error),
            Err(problem) => Err(problem),
        };
        if let Err(problem) = result {
            tracing::warn!(detail = %problem.detail, "could not record an idempotent response");
        }
    }
}

tokio::task_local! {
    /// The mark the request being served still owes its first change.
    static EFFECT_MARK: RefCell<Option<Write>>;
}

/// Runs a request's use case with its key's mark pending; answers whether
/// a change carried the mark (and so committed with it).
pub async fn with_effect_mark<T>(mark: Option<Write>, work: impl Future<Output = T>) -> (T, bool) {
    let pending = mark.is_some();
    EFFECT_MARK
        .scope(RefCell::new(mark), async move {
            let result = work.await;
            let left = EFFECT_MARK.with(|m| m.borrow().is_some());
            (result, pending && !left)
        })
        .await
}

/// The store the use cases see: it adds the pending mark of the request it
/// serves (if any) to that request's first change.
pub struct MarkingStore {
    inner: Arc<dyn ItemStore>,
}

impl MarkingStore {
    pub fn new(inner: Arc<dyn ItemStore>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl ItemStore for MarkingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, mut writes: Vec<Write>) -> Result<(), StoreError> {
        // A transaction already full cannot carry it; the next change will.
        let changes = writes.iter().any(|w| !matches!(w, Write::Check { .. }))
            && writes.len() < MAX_TRANSACTION_ITEMS;
        let mark = changes
            .then(|| {
                EFFECT_MARK
                    .try_with(|m| m.borrow_mut().take())
                    .ok()
                    .flatten()
            })
            .flatten();
        let Some(mark) = mark else {
            return self.inner.transact(writes).await;
        };
        writes.push(mark.clone());
        let result = self.inner.transact(writes).await;
        // Refused or throttled, nothing was written: the next try carries
        // the mark again. Any other failure may have committed (a lost
        // reply): the mark is spent, and the key's record tells a retry.
        if matches!(result, Err(StoreError::Conflict | StoreError::Throttled)) {
            let _ = EFFECT_MARK.try_with(|m| *m.borrow_mut() = Some(mark));
        }
        result
    }
}

impl StoredResponse {
    fn from_outcome(outcome: &Outcome) -> Self {
        match outcome {
            Ok(reply) => Self {
                status: reply.status.as_u16(),
                problem: false,
                body: reply.body.clone(),
            },
            Err(problem) => Self {
                status: problem.status.as_u16(),
                problem: true,
                body: problem.body(),
            },
        }
    }

    fn into_outcome(self) -> Outcome {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        if self.problem {
            let detail = self.body["detail"].as_str().unwrap_or_default().to_string();
            // The stored body's members (its code and title among them) are
            // laid over these when the problem is written, so the replay is
            // the first answer to the byte.
            let mut problem = Problem::new(status, "replayed", "Replayed", detail);
            if let serde_json::Value::Object(members) = self.body {
                problem.extra = members;
            }
            Err(problem)
        } else {
            Ok(Reply {
                status,
                body: self.body,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatkeeper_adapters::sqlite::SqliteStore;
    use seatkeeper_core::types::Email;
    use seatkeeper_core::Role;

    struct Fixture {
        store: SqliteStore,
        _dir: tempfile::TempDir,
        caller: Caller,
        t0: DateTime<Utc>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::TempDir::new().unwrap();
        let store = SqliteStore::open(&dir.path().join("idem.sqlite")).unwrap();
        let caller = Caller {
            user_id: "sub-1".into(),
            email: Email::parse("lead@acme.io").unwrap(),
            role: Role::Manager,
            company_id: None,
            partner_id: None,
        };
        let t0 = "2026-12-01T12:00:00Z".parse().unwrap();
        Fixture {
            store,
            _dir: dir,
            caller,
            t0,
        }
    }

    impl Fixture {
        async fn begin(&self, seconds_later: i64, body: &str) -> Result<Begun, Problem> {
            self.begin_as(seconds_later, body, false).await
        }

        /// [`Self::begin`] by a request that resumes its job or not.
        async fn begin_as(
            &self,
            seconds_later: i64,
            body: &str,
            resumable: bool,
        ) -> Result<Begun, Problem> {
            let now = self.t0 + Duration::seconds(seconds_later);
            let claim = Claim {
                key: "k-1",
                path: "/v1/x",
                body: body.as_bytes(),
                resumable,
            };
            Idempotency::begin(&self.store, now, &self.caller, &claim).await
        }
    }

    fn fresh(begun: Result<Begun, Problem>) -> Idempotency {
        match begun {
            Ok(Begun::Fresh(held)) => held,
            Ok(Begun::Replay(_)) => panic!("a replay, not a fresh claim"),
            Err(problem) => panic!("refused: {}", problem.body()),
        }
    }

    fn code(begun: Result<Begun, Problem>) -> String {
        match begun {
            Err(problem) => problem.code.to_string(),
            Ok(_) => panic!("not refused"),
        }
    }

    fn reply(status: StatusCode) -> Outcome {
        Ok(Reply {
            status,
            body: serde_json::json!({"n": 1}),
        })
    }

    #[tokio::test]
    async fn a_running_claim_is_in_progress_until_abandoned() {
        let f = fixture();
        let _first = fresh(f.begin(0, "{}").await);
        assert_eq!(code(f.begin(30, "{}").await), "idempotency_in_progress");
        assert_eq!(
            code(f.begin(30, "{\"other\":1}").await),
            "idempotency_key_reused"
        );
        // After 60 s the first is taken to have crashed: the retry runs.
        fresh(f.begin(61, "{}").await);
    }

    #[tokio::test]
    async fn of_two_takers_of_an_abandoned_claim_one_runs_and_one_is_told_409() {
        let f = fixture();
        let _first = fresh(f.begin(0, "{}").await);
        let key = repo::idempotency_key("sub-1", "k-1");
        let read = repo::load::<Record, _>(&f.store, &key)
            .await
            .unwrap()
            .unwrap();
        let later = f.t0 + Duration::seconds(90);
        let taker = || Idempotency {
            key: key.clone(),
            record: Record {
                request_hash: read.value.request_hash.clone(),
                started_at: later,
                response: None,
                effect_committed: false,
            },
            version: read.version,
            resumable: false,
        };
        let expires = (later + Duration::hours(RETENTION_HOURS)).timestamp();
        let won = Idempotency::take_over(&f.store, taker(), expires).await;
        assert!(matches!(won, Ok(Begun::Fresh(_))));
        let lost = Idempotency::take_over(&f.store, taker(), expires).await;
        assert_eq!(code(lost), "idempotency_in_progress");
    }

    #[tokio::test]
    async fn a_final_answer_replays_and_a_retryable_one_releases_the_key() {
        let f = fixture();
        fresh(f.begin(0, "{}").await)
            .finish(&f.store, &reply(StatusCode::CREATED), false)
            .await;
        match f.begin(5, "{}").await {
            Ok(Begun::Replay(Ok(answer))) => assert_eq!(answer.status, StatusCode::CREATED),
            _ => panic!("expected the first answer replayed"),
        }
        for retryable in [
            reply(StatusCode::ACCEPTED),
            Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Busy",
                "x",
            )),
            Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "Throttled",
                "x",
            )),
        ] {
            let f = fixture();
            fresh(f.begin(0, "{}").await)
                .finish(&f.store, &retryable, false)
                .await;
            // Released: the retry runs again at once.
            fresh(f.begin(1, "{}").await);
        }
    }

    /// A claim marked applied by its request's first change, then left
    /// (the process died, or answered a 5xx): a request that resumes its
    /// job runs again, once abandoned or at once after a 5xx; any other is
    /// told it was applied.
    #[tokio::test]
    async fn a_marked_claim_runs_again_only_for_a_request_that_resumes_its_job() {
        async fn marked(f: &Fixture, resumable: bool) -> Idempotency {
            let held = fresh(f.begin_as(0, "{}", resumable).await);
            let mark = held.effect_mark().expect("a mark");
            f.store.transact(vec![mark]).await.expect("the change");
            held
        }
        let unavailable = Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "Storage unavailable",
            "x",
        ));
        let applied = "idempotency_effect_committed";

        let f = fixture();
        drop(marked(&f, false).await);
        assert_eq!(code(f.begin_as(61, "{}", false).await), applied);
        let f = fixture();
        drop(marked(&f, true).await);
        assert_eq!(
            code(f.begin_as(30, "{}", true).await),
            "idempotency_in_progress"
        );
        fresh(f.begin_as(61, "{}", true).await);

        let f = fixture();
        marked(&f, false)
            .await
            .finish(&f.store, &unavailable, true)
            .await;
        assert_eq!(code(f.begin_as(1, "{}", false).await), applied);
        let f = fixture();
        marked(&f, true)
            .await
            .finish(&f.store, &unavailable, true)
            .await;
        fresh(f.begin_as(1, "{}", true).await);
    }

    #[tokio::test]
    async fn a_key_past_its_24_hours_is_free_even_before_the_ttl_deletes_it() {
        let f = fixture();
        fresh(f.begin(0, "{}").await)
            .finish(&f.store, &reply(StatusCode::CREATED), false)
            .await;
        let day = 24 * 3600;
        assert_eq!(
            code(f.begin(day - 1, "{\"b\":2}").await),
            "idempotency_key_reused"
        );
        // The record is still stored (SQLite has no TTL; DynamoDB's lags).
        fresh(f.begin(day, "{\"b\":2}").await);
    }
}
