//! `import-renewals`: S3 calls it when a CSV lands at
//! `imports/{company}/{import}.csv`. It reads the file, streaming, checks
//! every row and records the preview the manager reviews before confirming.
//! S3 delivers at least once: a repeat of an event previewed already, or
//! two deliveries at once, end in one preview (see core/src/imports.rs).

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::LambdaEvent;
use seatkeeper_core::csv_import::Limits;
use seatkeeper_core::imports::PreviewOutcome;
use seatkeeper_core::ServiceError;
use seatkeeper_edge::App;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("record {0} of the S3 event names no bucket or key")]
    MissingObject(usize),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<ImportError> for lambda_runtime::Diagnostic {
    fn from(error: ImportError) -> Self {
        let error_type = match &error {
            ImportError::MissingObject(_) => "missing_object",
            ImportError::Service(e) => e.code(),
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: error.to_string(),
        }
    }
}

/// Previews each object the event names. A store failure fails the
/// invocation, so Lambda retries it and, past its retries, the on-failure
/// destination keeps the event.
pub async fn handle(
    app: &App,
    event: LambdaEvent<S3Event>,
) -> Result<Vec<PreviewOutcome>, ImportError> {
    let mut outcomes = Vec::with_capacity(event.payload.records.len());
    for (n, record) in event.payload.records.iter().enumerate() {
        let bucket = record
            .s3
            .bucket
            .name
            .as_deref()
            .ok_or(ImportError::MissingObject(n))?;
        // Keys arrive URL-encoded, spaces as `+`.
        let key = record
            .s3
            .object
            .key
            .as_deref()
            .map(seatkeeper_edge::percent_decode)
            .ok_or(ImportError::MissingObject(n))?;
        let etag = record.s3.object.e_tag.as_deref();
        let outcome = app
            .service
            .preview_upload(&key, etag, app.objects.as_ref(), bucket, Limits::default())
            .await?;
        tracing::info!(%key, ?outcome, "import preview");
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
