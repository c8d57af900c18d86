//! `Idempotency-Key` on every POST: the same key and body replay the first
//! answer; the same key with another body answers 409. Records live 24 h
//! (a DynamoDB TTL deletes them after that).

use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use seatkeeper_core::ports::{Condition, ItemStore, Key, StoreError, Write};
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

fn store_error(error: StoreError) -> Problem {
    Problem::from(seatkeeper_core::ServiceError::Store(error))
}

impl Idempotency {
    /// Claims the key for this request, or says what to answer instead.
    pub async fn begin(
        store: &dyn ItemStore,
        now: DateTime<Utc>,
        caller: &Caller,
        key: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Begun, Problem> {
        validate(key)?;
        let item_key = repo::idempotency_key(&caller.user_id, key);
        let mut hash = Sha256::new();
        hash.update(path.as_bytes());
        hash.update([0]);
        hash.update(body);
        let request_hash = format!("{:x}", hash.finalize());
        let record = Record {
            request_hash,
            started_at: now,
            response: None,
        };
        let expires_at = (now + Duration::hours(RETENTION_HOURS)).timestamp();
        let claim =
            repo::insert_raw(item_key.clone(), &record, Some(expires_at)).map_err(Problem::from)?;
        match store.transact(vec![claim]).await {
            Ok(()) => {
                return Ok(Begun::Fresh(Self {
                    key: item_key,
                    record,
                    version: 1,
                }))
            }
            Err(StoreError::Conflict) => {}
            Err(other) => return Err(store_error(other)),
        }
        let existing = repo::load::<Record, _>(store, &item_key)
            .await
            .map_err(Problem::from)?
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::CONFLICT,
                    "idempotency_in_progress",
                    "Try again",
                    "the key is being released; retry",
                )
            })?;
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
            None if now - existing.value.started_at
                > Duration::seconds(ABANDONED_AFTER_SECONDS) =>
            {
                // The first attempt died mid-way; take the claim over.
                let mut taken = existing.value.clone();
                taken.started_at = now;
                let write =
                    repo::update_raw(item_key.clone(), &taken, existing.version, Some(expires_at))
                        .map_err(Problem::from)?;
                store.transact(vec![write]).await.map_err(store_error)?;
                Ok(Begun::Fresh(Self {
                    key: item_key,
                    record: taken,
                    version: existing.version + 1,
                }))
            }
            None => Err(Problem::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "Request in progress",
                "a request with this Idempotency-Key is still running; retry shortly",
            )),
        }
    }

    /// Records the answer for replays; a server-side failure releases the
    /// key instead, so the client's retry runs again.
    pub async fn finish(self, store: &dyn ItemStore, outcome: &Outcome) {
        // A server-side failure, throttling or an unfinished job (202) is
        // not a final answer: release the key so a retry runs again.
        let retryable = match outcome {
            Err(p) => p.status.is_server_error() || p.status == StatusCode::TOO_MANY_REQUESTS,
            Ok(reply) => reply.status == StatusCode::ACCEPTED,
        };
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
