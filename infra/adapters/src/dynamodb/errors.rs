//! DynamoDB's failures as the store port's errors, by error code: what the
//! store and the table set-up both map.

use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use seatkeeper_core::ports::StoreError;

/// A request the SDK refused to build: a bug here, not a state of the store.
pub(super) fn build_error(error: BuildError) -> StoreError {
    StoreError::Unavailable(format!("invalid DynamoDB request: {error}"))
}

/// Maps a failed DynamoDB call by its error code.
pub(super) fn sdk_error<E>(operation: &str, error: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error.code() {
        Some("ConditionalCheckFailedException" | "TransactionConflictException") => {
            StoreError::Conflict
        }
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded",
        ) => StoreError::Throttled,
        _ => StoreError::Unavailable(format!(
            "DynamoDB {operation}: {}",
            DisplayErrorContext(&error)
        )),
    }
}

/// A cancelled transaction says why in one reason per item.
pub(super) fn transaction_error(error: SdkError<TransactWriteItemsError>) -> StoreError {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        error.as_service_error()
    else {
        return sdk_error("TransactWriteItems", error);
    };
    let codes: Vec<&str> = cancelled
        .cancellation_reasons()
        .iter()
        .filter_map(|reason| reason.code())
        .collect();
    let any = |wanted: &[&str]| codes.iter().any(|code| wanted.contains(code));
    if any(&["ConditionalCheckFailed", "TransactionConflict"]) {
        StoreError::Conflict
    } else if any(&[
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    ]) {
        StoreError::Throttled
    } else {
        StoreError::Unavailable(format!(
            "DynamoDB TransactWriteItems cancelled ({}): {}",
            codes.join(", "),
            DisplayErrorContext(&error)
        ))
    }
}
