//! The console's cookies. Each holds a value sealed with an HMAC-SHA256 tag
//! under the console's key, its purpose and its expiry: a browser can read
//! it but cannot forge, alter, extend or reuse it for another purpose.
//!
//! The session cookie holds the caller's claims (the same the API's JWT
//! authorizer hands on) and the session's CSRF token, which every form
//! carries back in a hidden `csrf` field.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sk_session";
/// A one-shot message for the next page (Post/Redirect/Get).
pub const FLASH_COOKIE: &str = "sk_flash";
/// How long a session lasts: a working day.
pub const SESSION_SECONDS: i64 = 8 * 3600;
/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the session key must be at least {MIN_KEY_BYTES} bytes, got {0}")]
    TooShort(usize),
    #[error("no random source for a session key: {0}")]
    Random(String),
}

/// The key that seals the console's cookies.
#[derive(Clone)]
pub struct SessionKey(hmac::Key);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    /// What the value is for: a sign-in state never passes as a session.
    purpose: String,
    /// Unix seconds after which the value is refused.
    expires_at: i64,
    value: T,
}

impl SessionKey {
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(secret.len()));
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// `value` sealed for `purpose` until `expires_at` (Unix seconds), as
    /// cookie-safe text: `payload.tag`, both base64url.
    pub fn seal<T: Serialize>(&self, purpose: &str, value: &T, expires_at: i64) -> String {
        let envelope = Envelope {
            purpose: purpose.to_string(),
            expires_at,
            value,
        };
        // Serialising plain data (strings, maps, numbers) cannot fail.
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&envelope).unwrap_or_default());
        let tag = hmac::sign(&self.0, payload.as_bytes());
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The value sealed for `purpose`, if the tag is this key's and it has
    /// not expired at `now` (Unix seconds).
    pub fn open<T: DeserializeOwned>(&self, purpose: &str, sealed: &str, now: i64) -> Option<T> {
        let (payload, tag) = sealed.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.0, payload.as_bytes(), &tag).ok()?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let envelope: Envelope<T> = serde_json::from_slice(&bytes).ok()?;
        (envelope.purpose == purpose && now < envelope.expires_at).then_some(envelope.value)
    }
}

/// `bytes` random bytes from the OS, as hex.
pub fn random_hex(bytes: usize) -> Result<String, KeyError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A signed-in session: who, and the token its forms carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The identity token's claims, as the API's authorizer passes them.
    pub claims: BTreeMap<String, String>,
    pub csrf: String,
}

impl Session {
    /// A new session for `claims`, with a fresh CSRF token.
    pub fn start(claims: BTreeMap<String, String>) -> Result<Self, KeyError> {
        Ok(Self {
            claims,
            csrf: random_hex(32)?,
        })
    }

    /// Whether a form's `csrf` field is this session's token.
    pub fn csrf_matches(&self, submitted: Option<&str>) -> bool {
        submitted.is_some_and(|s| constant_time_eq(s.as_bytes(), self.csrf.as_bytes()))
    }
}

/// Compares without stopping at the first difference, so the time taken
/// tells nothing of how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A `Set-Cookie` value for a cookie only the server reads: `HttpOnly`,
/// sent only over HTTPS (browsers count http://127.0.0.1 and localhost as
/// secure), and not on cross-site POSTs.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: i64) -> HeaderValue {
    let cookie = format!(
        "{name}={value}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age={max_age_seconds}"
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that removes cookie `name`.
pub fn clear_cookie(name: &str) -> HeaderValue {
    set_cookie(name, "", 0)
}

/// Cookie `name` from a request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Seconds since the Unix epoch.
pub fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SessionKey {
        SessionKey::new(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_with_its_key_purpose_and_time_only() {
        let sealed = key(1).seal("session", &"alice", 100);
        assert_eq!(
            key(1).open::<String>("session", &sealed, 99).as_deref(),
            Some("alice")
        );
        assert_eq!(
            key(1).open::<String>("session", &sealed, 100),
            None,
            "expired"
        );
        assert_eq!(
            key(2).open::<String>("session", &sealed, 99),
            None,
            "other key"
        );
        assert_eq!(
            key(1).open::<String>("sign-in", &sealed, 99),
            None,
            "other purpose"
        );
    }

    #[test]
    fn a_tampered_value_is_refused() {
        let sealed = key(1).seal("session", &"alice", 100);
        let (payload, tag) = sealed.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&serde_json::json!({
                "purpose": "session", "expires_at": 100, "value": "mallory"
            }))
            .unwrap(),
        );
        assert_eq!(
            key(1).open::<String>("session", &format!("{forged}.{tag}"), 1),
            None
        );
        // A later expiry with the old tag.
        let longer = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&serde_json::json!({
                "purpose": "session", "expires_at": 10_000, "value": "alice"
            }))
            .unwrap(),
        );
        assert_eq!(
            key(1).open::<String>("session", &format!("{longer}.{tag}"), 500),
            None
        );
        assert_eq!(key(1).open::<String>("session", payload, 1), None);
        assert_eq!(key(1).open::<String>("session", "", 1), None);
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(
            SessionKey::new(&[0; 16]),
            Err(KeyError::TooShort(16))
        ));
    }

    #[test]
    fn csrf_must_match_the_sessions_token() {
        let session = Session::start(BTreeMap::new()).unwrap();
        assert_eq!(session.csrf.len(), 64);
        assert!(session.csrf_matches(Some(&session.csrf.clone())));
        assert!(!session.csrf_matches(None));
        assert!(!session.csrf_matches(Some("")));
        assert!(!session.csrf_matches(Some(&session.csrf[1..])));
    }

    #[test]
    fn cookies_carry_the_flags_and_are_read_back() {
        let set = set_cookie(SESSION_COOKIE, "v.t", 60);
        assert_eq!(
            set.to_str().unwrap(),
            "sk_session=v.t; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=60"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; sk_session=v.t"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("v.t"));
        assert_eq!(cookie(&headers, "b"), None);
        assert!(clear_cookie(SESSION_COOKIE)
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
    }
}
