//! `daily-expiry-check`: run by an EventBridge schedule once a day. It takes
//! nothing but the event's time, and stops before the Lambda deadline so
//! that the next run carries on (see docs/EXPIRY.md).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use seatkeeper_core::expiry::ExpiryReport;
use seatkeeper_core::ServiceError;
use seatkeeper_edge::Service;
use serde_json::Value;

/// Time kept back from the deadline to finish the notice in hand and save.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum ExpiryCheckError {
    #[error("the event's time is not an RFC 3339 timestamp: {0}")]
    BadTime(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Lambda reports a failed run with a stable error type, the error's code.
impl From<ExpiryCheckError> for lambda_runtime::Diagnostic {
    fn from(error: ExpiryCheckError) -> Self {
        let error_type = match &error {
            ExpiryCheckError::BadTime(_) => "bad_event_time",
            ExpiryCheckError::Service(e) => e.code(),
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: error.to_string(),
        }
    }
}

/// The instant the run is for: the scheduled event's `time` (a scheduled
/// rule's, or the `time` a Scheduler target's input carries), else now.
pub fn event_time(event: &Value, now: DateTime<Utc>) -> Result<DateTime<Utc>, ExpiryCheckError> {
    match event.get("time").and_then(Value::as_str) {
        Some(raw) => DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| ExpiryCheckError::BadTime(raw.to_string())),
        None => Ok(now),
    }
}

/// When to stop: the invocation's deadline (epoch milliseconds) less a
/// margin; none when there is no deadline (the local server).
pub fn stop_at(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Some(Instant::now() + left.saturating_sub(DEADLINE_MARGIN))
}

/// Handles one scheduled event.
pub async fn handle(
    service: &Service,
    event: LambdaEvent<Value>,
) -> Result<ExpiryReport, ExpiryCheckError> {
    let now = event_time(&event.payload, service.clock().now())?;
    let report = service
        .run_expiry_check(now, stop_at(event.context.deadline))
        .await?;
    tracing::info!(?report, "expiry check finished");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_time_of_the_sample_event() {
        let sample: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/events/scheduled-event.json"
        ))
        .unwrap();
        let now = Utc::now();
        assert_eq!(
            event_time(&sample, now).unwrap().to_rfc3339(),
            "1970-01-01T00:00:00+00:00"
        );
        assert_eq!(event_time(&serde_json::json!({}), now).unwrap(), now);
        assert!(event_time(&serde_json::json!({"time": "yesterday"}), now).is_err());
    }

    #[test]
    fn stops_short_of_the_deadline() {
        assert_eq!(stop_at(0), None);
        let in_a_minute = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 60_000;
        let stop = stop_at(in_a_minute).unwrap();
        let left = stop.saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(40) && left >= Duration::from_secs(38),
            "{left:?}"
        );
    }
}
