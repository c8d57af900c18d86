//! [`Mailer`] on Amazon SES v2 (`SendEmail` with a simple message).
//!
//! Throttling (`TooManyRequestsException`, `LimitExceededException`, HTTP
//! 429 and the SDK's throttling codes) is retried here with exponential
//! backoff and jitter, [`MAX_ATTEMPTS`] attempts in all, then reported as
//! [`MailError::Throttled`]. These retries come on top of the SDK client's
//! own retry policy (standard mode: 3 attempts), which also retries
//! throttling and transient failures; build the client with
//! `RetryConfig::standard().with_max_attempts(1)` to leave throttling to
//! this loop alone.
//!
//! A message SES refuses (`MessageRejected`, `MailFromDomainNotVerified`,
//! `BadRequest`, `NotFound`) is [`MailError::Rejected`]: sending it again
//! will not help. Anything else is [`MailError::Unavailable`].

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use aws_sdk_sesv2::Client;
use seatkeeper_core::ports::{MailError, Mailer, OutgoingEmail};

/// How many times one e-mail is tried while SES throttles.
pub const MAX_ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(3);

const CHARSET: &str = "UTF-8";
/// The message tag that carries [`OutgoingEmail::kind`], for the
/// configuration set's event destinations.
const KIND_TAG: &str = "kind";

/// Error codes that mean "slow down". The SDK's throttling codes, plus SES
/// v2's own `TooManyRequestsException` and `LimitExceededException`.
const THROTTLING_CODES: &[&str] = &[
    "TooManyRequestsException",
    "LimitExceededException",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
];

/// A [`Mailer`] that sends through SES v2. Cloning is cheap: the SDK client
/// is shared.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// Sends from `from` (a verified identity, e.g. `Seatkeeper
    /// <no-reply@example.com>`), through `configuration_set` if given.
    pub fn new(client: Client, from: impl Into<String>, configuration_set: Option<String>) -> Self {
        Self {
            client,
            from: from.into(),
            configuration_set,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One `SendEmail` call; its message id on success.
    async fn send_once(&self, email: &OutgoingEmail) -> Result<Option<String>, Failure> {
        let destination = Destination::builder()
            .set_to_addresses(non_empty(&email.to))
            .set_cc_addresses(non_empty(&email.cc))
            .build();
        let text = (!email.text.is_empty())
            .then(|| content(&email.text))
            .transpose()?;
        let html = (!email.html.is_empty())
            .then(|| content(&email.html))
            .transpose()?;
        // SES needs some body: an e-mail with neither part goes out empty.
        let text = match (&text, &html) {
            (None, None) => Some(content("")?),
            _ => text,
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().set_text(text).set_html(html).build())
            .build();
        let mut request = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(destination)
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone());
        if let Some(kind) = tag_value(&email.kind) {
            let tag = MessageTag::builder()
                .name(KIND_TAG)
                .value(kind)
                .build()
                .map_err(build_error)?;
            request = request.email_tags(tag);
        }
        let output = request.send().await.map_err(|e| classify(&e))?;
        Ok(output.message_id().map(str::to_owned))
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        if email.to.is_empty() && email.cc.is_empty() {
            return Err(MailError::Rejected("the e-mail has no recipients".into()));
        }
        for part in by_recipient_limit(email) {
            let message_id = with_retries(&Backoff::default(), || self.send_once(&part)).await?;
            tracing::info!(
                kind = %part.kind,
                message_id = message_id.as_deref().unwrap_or("?"),
                "e-mail sent through SES"
            );
        }
        Ok(())
    }
}

/// SES takes at most this many recipients (To, Cc and Bcc) per message.
pub const MAX_RECIPIENTS: usize = 50;

/// The e-mail as SES will take it: one message, or (more than
/// [`MAX_RECIPIENTS`], as a company with 50 managers and its account
/// manager in copy has) the same message to the `to` list in parts, the
/// copies on the first.
fn by_recipient_limit(email: &OutgoingEmail) -> Vec<OutgoingEmail> {
    if email.to.len() + email.cc.len() <= MAX_RECIPIENTS || email.cc.len() >= MAX_RECIPIENTS {
        return vec![email.clone()];
    }
    let first = MAX_RECIPIENTS - email.cc.len();
    let (head, rest) = email.to.split_at(first.min(email.to.len()));
    std::iter::once((head.to_vec(), email.cc.clone()))
        .chain(
            rest.chunks(MAX_RECIPIENTS)
                .map(|to| (to.to_vec(), Vec::new())),
        )
        .map(|(to, cc)| OutgoingEmail {
            to,
            cc,
            ..email.clone()
        })
        .collect()
}

fn content(data: &str) -> Result<Content, Failure> {
    Content::builder()
        .data(data)
        .charset(CHARSET)
        .build()
        .map_err(build_error)
}

fn non_empty(addresses: &[String]) -> Option<Vec<String>> {
    (!addresses.is_empty()).then(|| addresses.to_vec())
}

/// `kind` as a message tag value: SES allows only ASCII letters, digits,
/// `_` and `-`, at most 256 of them.
fn tag_value(kind: &str) -> Option<String> {
    let value: String = kind
        .chars()
        .take(256)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (!value.is_empty()).then_some(value)
}

/// A request the SDK refused to build: a bug here, not a state of SES.
fn build_error(error: BuildError) -> Failure {
    Failure::Unavailable(format!("invalid SES request: {error}"))
}

/// What a failed attempt means for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// Worth another try after a pause.
    Throttled(String),
    /// Final: SES refuses this message.
    Rejected(String),
    /// Final: anything else.
    Unavailable(String),
}

/// Maps a failed `SendEmail` by its error variant, code and HTTP status.
fn classify(error: &SdkError<SendEmailError, HttpResponse>) -> Failure {
    let detail = || DisplayErrorContext(error).to_string();
    let status = error.raw_response().map(|r| r.status().as_u16());
    if status == Some(429) || error.code().is_some_and(|c| THROTTLING_CODES.contains(&c)) {
        return Failure::Throttled(detail());
    }
    match error.as_service_error() {
        Some(
            SendEmailError::TooManyRequestsException(_) | SendEmailError::LimitExceededException(_),
        ) => Failure::Throttled(detail()),
        Some(
            e @ (SendEmailError::MessageRejected(_)
            | SendEmailError::MailFromDomainNotVerifiedException(_)
            | SendEmailError::BadRequestException(_)
            | SendEmailError::NotFoundException(_)),
            // e.g. "MessageRejected: Email address not verified a@example.com"
        ) => Failure::Rejected(e.to_string()),
        _ => Failure::Unavailable(format!("SES SendEmail: {}", detail())),
    }
}

/// Exponential backoff with jitter between throttled attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    max_attempts: u32,
    first: Duration,
    max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            max_attempts: MAX_ATTEMPTS,
            first: FIRST_BACKOFF,
            max: MAX_BACKOFF,
        }
    }
}

impl Backoff {
    /// The pause after failed attempt `attempt` (1-based). The ceiling
    /// doubles each time up to `max`; the pause is half the ceiling plus a
    /// random part of the other half (`unit` in 0..1), so that senders
    /// throttled together spread out yet always wait.
    fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        let ceiling = self.first.saturating_mul(1u32 << doublings).min(self.max);
        let half = ceiling / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// Runs `attempt` until it succeeds, fails for good, or has been throttled
/// `max_attempts` times.
async fn with_retries<T, F, Fut>(backoff: &Backoff, mut attempt: F) -> Result<T, MailError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(Failure::Rejected(reason)) => return Err(MailError::Rejected(reason)),
            Err(Failure::Unavailable(reason)) => return Err(MailError::Unavailable(reason)),
            Err(Failure::Throttled(reason)) => {
                if tries >= backoff.max_attempts {
                    tracing::warn!(attempts = tries, %reason, "SES is still throttling; giving up");
                    return Err(MailError::Throttled);
                }
                let pause = backoff.delay(tries, fastrand::f64());
                tracing::debug!(attempt = tries, ?pause, %reason, "SES throttled; retrying");
                tokio::time::sleep(pause).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use aws_sdk_sesv2::error::ErrorMetadata;
    use aws_sdk_sesv2::types::error::{
        AccountSuspendedException, BadRequestException, LimitExceededException,
        MailFromDomainNotVerifiedException, MessageRejected, NotFoundException,
        TooManyRequestsException,
    };

    use super::*;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), "".into())
    }

    fn service(error: SendEmailError, status: u16) -> SdkError<SendEmailError, HttpResponse> {
        SdkError::service_error(error, response(status))
    }

    fn generic(code: &str, status: u16) -> SdkError<SendEmailError, HttpResponse> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("from the test")
            .build();
        service(SendEmailError::generic(meta), status)
    }

    fn is_throttled(failure: &Failure) -> bool {
        matches!(failure, Failure::Throttled(_))
    }

    #[test]
    fn throttling_errors_are_throttled() {
        let cases = [
            service(
                SendEmailError::TooManyRequestsException(
                    TooManyRequestsException::builder().message("slow").build(),
                ),
                429,
            ),
            service(
                SendEmailError::LimitExceededException(
                    LimitExceededException::builder().message("quota").build(),
                ),
                400,
            ),
            generic("Throttling", 400),
            generic("ThrottlingException", 400),
            // Any 429, whatever its code.
            generic("SomethingNew", 429),
        ];
        for error in &cases {
            assert!(is_throttled(&classify(error)), "{error:?}");
        }
    }

    #[test]
    fn refused_messages_are_rejected() {
        let cases = [
            SendEmailError::MessageRejected(
                MessageRejected::builder()
                    .message("Email address not verified")
                    .build(),
            ),
            SendEmailError::MailFromDomainNotVerifiedException(
                MailFromDomainNotVerifiedException::builder().build(),
            ),
            SendEmailError::BadRequestException(BadRequestException::builder().build()),
            SendEmailError::NotFoundException(NotFoundException::builder().build()),
        ];
        for error in cases {
            match classify(&service(error, 400)) {
                Failure::Rejected(reason) => assert!(!reason.is_empty()),
                other => panic!("expected Rejected, got {other:?}"),
            }
        }
        let rejected = classify(&service(
            SendEmailError::MessageRejected(
                MessageRejected::builder()
                    .message("Email address not verified x@example.com")
                    .build(),
            ),
            400,
        ));
        assert_eq!(
            rejected,
            Failure::Rejected("MessageRejected: Email address not verified x@example.com".into())
        );
    }

    #[test]
    fn everything_else_is_unavailable() {
        let cases = [
            service(
                SendEmailError::AccountSuspendedException(
                    AccountSuspendedException::builder().build(),
                ),
                400,
            ),
            generic("InternalFailure", 500),
            SdkError::timeout_error("timed out"),
        ];
        for error in &cases {
            assert!(
                matches!(classify(error), Failure::Unavailable(_)),
                "{error:?}"
            );
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling_with_jitter() {
        let backoff = Backoff {
            max_attempts: 5,
            first: Duration::from_millis(200),
            max: Duration::from_secs(1),
        };
        let ms = |attempt, unit| backoff.delay(attempt, unit).as_millis();
        assert_eq!((ms(1, 0.0), ms(1, 1.0)), (100, 200));
        assert_eq!((ms(2, 0.0), ms(2, 1.0)), (200, 400));
        assert_eq!((ms(3, 0.0), ms(3, 1.0)), (400, 800));
        assert_eq!((ms(4, 0.0), ms(4, 1.0)), (500, 1000));
        assert_eq!((ms(40, 0.5)), 750);
        for _ in 0..100 {
            let pause = backoff.delay(2, fastrand::f64());
            assert!(pause >= Duration::from_millis(200) && pause <= Duration::from_millis(400));
        }
    }

    fn quick() -> Backoff {
        Backoff {
            max_attempts: 5,
            first: Duration::from_millis(2),
            max: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn throttling_is_retried_until_it_passes() {
        let calls = AtomicU32::new(0);
        let result = with_retries(&quick(), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err(Failure::Throttled("slow down".into())),
                _ => Ok("message-id"),
            }
        })
        .await;
        assert_eq!(result, Ok("message-id"));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn throttling_gives_up_after_max_attempts() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(&quick(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Failure::Throttled("slow down".into()))
        })
        .await;
        assert_eq!(result, Err(MailError::Throttled));
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn final_failures_are_not_retried() {
        for (failure, expected) in [
            (
                Failure::Rejected("no".into()),
                MailError::Rejected("no".into()),
            ),
            (
                Failure::Unavailable("down".into()),
                MailError::Unavailable("down".into()),
            ),
        ] {
            let calls = AtomicU32::new(0);
            let result: Result<(), _> = with_retries(&quick(), || {
                calls.fetch_add(1, Ordering::SeqCst);
                let failure = failure.clone();
                async move { Err(failure) }
            })
            .await;
            assert_eq!(result, Err(expected));
            assert_eq!(calls.load(Ordering::SeqCst), 1);
        }
    }

    #[test]
    fn kinds_become_valid_tag_values() {
        assert_eq!(
            tag_value("order_requested").as_deref(),
            Some("order_requested")
        );
        assert_eq!(
            tag_value("trial.ends-72h").as_deref(),
            Some("trial_ends-72h")
        );
        assert_eq!(tag_value(""), None);
        assert_eq!(tag_value(&"k".repeat(300)).map(|v| v.len()), Some(256));
    }

    #[test]
    fn more_than_fifty_recipients_go_in_parts_each_named_once() {
        let email = |to: usize, cc: usize| OutgoingEmail {
            to: (0..to).map(|i| format!("m{i}@co.io")).collect(),
            cc: (0..cc).map(|i| format!("c{i}@vendor.io")).collect(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            kind: "k".into(),
        };
        assert_eq!(by_recipient_limit(&email(48, 2)).len(), 1);
        let parts = by_recipient_limit(&email(120, 2));
        assert!(parts
            .iter()
            .all(|p| !p.to.is_empty() && p.to.len() + p.cc.len() <= MAX_RECIPIENTS));
        let named: Vec<String> = parts.iter().flat_map(|p| p.to.clone()).collect();
        assert_eq!(named, email(120, 2).to, "each manager once, in order");
        assert_eq!(parts[0].cc.len(), 2);
        assert!(parts[1..].iter().all(|p| p.cc.is_empty()));
    }
}
