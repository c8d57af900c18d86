//! `SesMailer` against moto's SES v2.
//!
//! moto keeps one `Message` per `SendEmail`, with the subject and ONE body:
//! the HTML part when there is one, else the text part. So the text part is
//! checked on the wire instead, by an interceptor that keeps each request's
//! JSON body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_sesv2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sesv2::config::retry::RetryConfig;
use aws_sdk_sesv2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sesv2::error::BoxError;
use seatkeeper_adapters::ses::SesMailer;
use seatkeeper_core::ports::{MailError, Mailer, OutgoingEmail};
use seatkeeper_test_support::aws::emulator_config;
use serde_json::{json, Value};

use crate::moto;

/// Keeps the JSON body of every request the client sends.
#[derive(Debug, Clone, Default)]
struct Wire(Arc<Mutex<Vec<Value>>>);

impl Wire {
    fn requests(&self) -> Vec<Value> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "Wire"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(body) = context.request().body().bytes() {
            if let Ok(json) = serde_json::from_slice(body) {
                self.0.lock().unwrap_or_else(|p| p.into_inner()).push(json);
            }
        }
        Ok(())
    }
}

/// An SES v2 client for moto, recording its requests in `wire`.
async fn client(wire: &Wire) -> aws_sdk_sesv2::Client {
    let config = aws_sdk_sesv2::config::Builder::from(&emulator_config(moto::endpoint().await))
        .interceptor(wire.clone())
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
}

/// A name no other test of any run against this server uses.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A sender moto accepts: an e-mail identity "verified" on creation.
async fn verified_sender(client: &aws_sdk_sesv2::Client) -> String {
    let sender = format!("{}@seatkeeper.test", unique("no-reply"));
    moto::verify_identity(client, &sender).await;
    sender
}

fn email(to: &str) -> OutgoingEmail {
    OutgoingEmail {
        to: vec![to.to_owned()],
        cc: vec!["account.manager@vendor.test".into()],
        subject: "Your order for 4 seats — actioned ✓".into(),
        text: "Hello,\n\n4 seats were added to your licence.\n".into(),
        html: "<p>Hello,</p><p>4 seats were added to your <b>licence</b>.</p>".into(),
        kind: "order_assigned".into(),
    }
}

#[tokio::test]
async fn sends_a_simple_message_that_moto_records() {
    let wire = Wire::default();
    let client = client(&wire).await;
    let sender = verified_sender(&client).await;
    let configuration_set = unique("seatkeeper");
    client
        .create_configuration_set()
        .configuration_set_name(&configuration_set)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create the configuration set: {e:?}"));
    let mailer = SesMailer::new(
        client,
        format!("Seatkeeper <{sender}>"),
        Some(configuration_set.clone()),
    );
    let to = format!("{}@customer.test", unique("lead"));
    let email = email(&to);

    mailer.send(&email).await.expect("send through SES");

    let messages = moto::messages_to(&to).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let message = &messages[0];
    assert_eq!(message["source"], format!("Seatkeeper <{sender}>"));
    assert_eq!(message["subject"], email.subject);
    // moto keeps the HTML part only (see the module's comment).
    assert_eq!(message["body"], email.html);
    assert_eq!(message["destinations"]["ToAddresses"], json!([to]));
    assert_eq!(message["destinations"]["CcAddresses"], json!(email.cc));

    // What went over the wire: both parts, UTF-8, the set and the kind tag.
    let sent: Vec<Value> = wire
        .requests()
        .into_iter()
        .filter(|r| r.get("FromEmailAddress").is_some())
        .collect();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let simple = &sent[0]["Content"]["Simple"];
    assert_eq!(
        simple["Subject"],
        json!({"Data": email.subject, "Charset": "UTF-8"})
    );
    assert_eq!(
        simple["Body"]["Text"],
        json!({"Data": email.text, "Charset": "UTF-8"})
    );
    assert_eq!(
        simple["Body"]["Html"],
        json!({"Data": email.html, "Charset": "UTF-8"})
    );
    assert_eq!(sent[0]["ConfigurationSetName"], configuration_set);
    assert_eq!(
        sent[0]["EmailTags"],
        json!([{"Name": "kind", "Value": "order_assigned"}])
    );
}

#[tokio::test]
async fn a_text_only_message_keeps_its_text() {
    let wire = Wire::default();
    let client = client(&wire).await;
    let sender = verified_sender(&client).await;
    let mailer = SesMailer::new(client, sender, None);
    let to = format!("{}@customer.test", unique("lead"));
    let email = OutgoingEmail {
        html: String::new(),
        cc: Vec::new(),
        ..email(&to)
    };

    mailer.send(&email).await.expect("send through SES");

    let messages = moto::messages_to(&to).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["body"], email.text);
    let sent = wire.requests();
    let send = sent
        .iter()
        .find(|r| r.get("FromEmailAddress").is_some())
        .expect("a SendEmail request");
    assert!(send["Content"]["Simple"]["Body"].get("Html").is_none());
    assert!(send["Destination"].get("CcAddresses").is_none());
    assert!(send.get("ConfigurationSetName").is_none());
}

#[tokio::test]
async fn an_unverified_sender_is_rejected() {
    let client = client(&Wire::default()).await;
    let sender = format!("{}@unverified.test", unique("nobody"));
    let mailer = SesMailer::new(client, sender.clone(), None);
    let to = format!("{}@customer.test", unique("lead"));

    // moto answers 400 `MessageRejected` "Email address not verified <from>",
    // as SES does in its sandbox.
    match mailer.send(&email(&to)).await {
        Err(MailError::Rejected(reason)) => {
            assert!(reason.contains("MessageRejected"), "{reason}");
            assert!(reason.contains("not verified"), "{reason}");
            assert!(reason.contains(&sender), "{reason}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(moto::messages_to(&to).await.is_empty());
}

#[tokio::test]
async fn a_domain_identity_verifies_its_addresses() {
    let client = client(&Wire::default()).await;
    let domain = format!("{}.test", unique("vendor"));
    moto::verify_identity(&client, &domain).await;
    let mailer = SesMailer::new(client, format!("no-reply@{domain}"), None);
    let to = format!("{}@customer.test", unique("lead"));

    mailer.send(&email(&to)).await.expect("send through SES");

    assert_eq!(moto::messages_to(&to).await.len(), 1);
}

#[tokio::test]
async fn an_e_mail_without_recipients_is_rejected_before_sending() {
    let wire = Wire::default();
    let client = client(&wire).await;
    let mailer = SesMailer::new(client, "no-reply@seatkeeper.test", None);
    let email = OutgoingEmail {
        to: Vec::new(),
        cc: Vec::new(),
        ..email("unused@customer.test")
    };

    assert!(matches!(
        mailer.send(&email).await,
        Err(MailError::Rejected(_))
    ));
    assert!(wire.requests().is_empty());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let config =
        aws_sdk_sesv2::config::Builder::from(&emulator_config(format!("http://127.0.0.1:{port}")))
            .retry_config(RetryConfig::disabled())
            .build();
    let mailer = SesMailer::new(
        aws_sdk_sesv2::Client::from_conf(config),
        "no-reply@seatkeeper.test",
        None,
    );

    assert!(matches!(
        mailer.send(&email("lead@customer.test")).await,
        Err(MailError::Unavailable(_))
    ));
}
