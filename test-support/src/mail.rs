//! Mailers for tests: one that drops every e-mail, one that keeps them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use seatkeeper_core::ports::{MailError, Mailer, OutgoingEmail};

/// For tests that are not about e-mail.
pub struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn send(&self, _: &OutgoingEmail) -> Result<(), MailError> {
        Ok(())
    }
}

/// Keeps what was sent, to assert on.
#[derive(Default)]
pub struct RecordingMailer {
    sent: Mutex<Vec<OutgoingEmail>>,
    attempts: AtomicUsize,
    failing: Vec<usize>,
    stalling: Vec<usize>,
    rejecting: Vec<usize>,
}

impl RecordingMailer {
    /// Fails the sends numbered in `attempts` (from 1) with throttling, as
    /// SES does under load.
    pub fn failing(attempts: Vec<usize>) -> Self {
        Self {
            failing: attempts,
            ..Self::default()
        }
    }

    /// Never answers the sends numbered in `attempts` (from 1), as a mail
    /// service that hangs does; the caller's timeout must end them.
    pub fn stalling(attempts: Vec<usize>) -> Self {
        Self {
            stalling: attempts,
            ..Self::default()
        }
    }

    /// Refuses for good the sends numbered in `attempts` (from 1), as SES
    /// refuses a message it will never take.
    pub fn rejecting(attempts: Vec<usize>) -> Self {
        Self {
            rejecting: attempts,
            ..Self::default()
        }
    }

    /// How many sends were tried, refused ones included.
    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }

    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.sent.lock().expect("the mailer lock").clone()
    }

    /// Each sent e-mail's kind, in order.
    pub fn kinds(&self) -> Vec<String> {
        self.sent().into_iter().map(|e| e.kind).collect()
    }
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if self.failing.contains(&attempt) {
            return Err(MailError::Throttled);
        }
        if self.rejecting.contains(&attempt) {
            return Err(MailError::Rejected(
                "MessageRejected: no valid recipient".into(),
            ));
        }
        if self.stalling.contains(&attempt) {
            std::future::pending::<()>().await;
        }
        self.sent
            .lock()
            .expect("the mailer lock")
            .push(email.clone());
        Ok(())
    }
}
