//! Sign-in on AWS: Cognito's Hosted UI with the authorization code flow
//! and PKCE. `/sign-in` sends the browser there with a fresh `state` and
//! code challenge, both kept in a short sealed cookie; `/auth/callback`
//! checks the state, exchanges the code (with the verifier) at the token
//! endpoint, verifies the ID token (RS256 signature against the user pool's
//! JWKS, issuer, audience, expiry, `token_use`) and starts the session with
//! its claims: the same claims API Gateway's JWT authorizer hands the API.
//!
//! The network (token endpoint, JWKS) is behind [`CognitoPort`], so the
//! verifier is tested with locally made keys.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::session::{clear_cookie, cookie, now_seconds, random_hex, set_cookie};
use crate::{bare_page, see_other, start_session, SessionKey};

/// The cookie that carries the sign-in's state and PKCE verifier.
pub const SIGN_IN_COOKIE: &str = "sk_signin";
const SIGN_IN_PURPOSE: &str = "sign-in";
/// Time to sign in at the Hosted UI.
const SIGN_IN_SECONDS: i64 = 600;
/// How long fetched signing keys are trusted before they are read again.
const JWKS_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot reach Cognito: {0}")]
    Unavailable(String),
    #[error("the ID token is not valid: {0}")]
    InvalidToken(String),
    #[error("the sign-in was not started here or took too long")]
    BadState,
}

/// What the console needs from Cognito over the network.
#[async_trait]
pub trait CognitoPort: Send + Sync {
    /// The user pool's signing keys.
    async fn jwks(&self) -> Result<JwkSet, AuthError>;
    /// The ID token for an authorization code and its PKCE verifier.
    async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<String, AuthError>;
}

/// The user pool and app client the console signs in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoConfig {
    /// The Hosted UI's base URL, `https://{prefix}.auth.{region}.amazoncognito.com`.
    pub domain: String,
    pub client_id: String,
    /// `https://cognito-idp.{region}.amazonaws.com/{user_pool_id}`.
    pub issuer: String,
    /// This console's `/auth/callback` URL, as registered on the client.
    pub redirect_uri: String,
}

/// Checks ID tokens, with the pool's keys cached across requests (and so
/// across a warm Lambda's invocations); an unknown key id reads them again,
/// for key rotation.
pub struct IdTokenVerifier {
    issuer: String,
    audience: String,
    port: Arc<dyn CognitoPort>,
    keys: RwLock<Option<(JwkSet, Instant)>>,
}

impl IdTokenVerifier {
    pub fn new(issuer: &str, audience: &str, port: Arc<dyn CognitoPort>) -> Self {
        Self {
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            port,
            keys: RwLock::new(None),
        }
    }

    async fn key_set(&self, refresh: bool) -> Result<JwkSet, AuthError> {
        if !refresh {
            if let Some((keys, at)) = &*self.keys.read().await {
                if at.elapsed() < JWKS_TTL {
                    return Ok(keys.clone());
                }
            }
        }
        let keys = self.port.jwks().await?;
        *self.keys.write().await = Some((keys.clone(), Instant::now()));
        Ok(keys)
    }

    /// The token's claims as strings (`true` for a true boolean), if it is
    /// an ID token this pool signed for this client and it has not expired.
    pub async fn verify(&self, token: &str) -> Result<BTreeMap<String, String>, AuthError> {
        let invalid = |e: jsonwebtoken::errors::Error| AuthError::InvalidToken(e.to_string());
        let header = decode_header(token).map_err(invalid)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::InvalidToken("not signed with RS256".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::InvalidToken("no key id".into()))?;
        let jwk = match self.key_set(false).await?.find(&kid) {
            Some(jwk) => jwk.clone(),
            None => self
                .key_set(true)
                .await?
                .find(&kid)
                .cloned()
                .ok_or_else(|| AuthError::InvalidToken(format!("unknown key {kid}")))?,
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let data = decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map_err(invalid)?;
        if data.claims.get("token_use").and_then(|v| v.as_str()) != Some("id") {
            return Err(AuthError::InvalidToken("not an ID token".into()));
        }
        Ok(data
            .claims
            .into_iter()
            .filter_map(|(name, value)| match value {
                serde_json::Value::String(s) => Some((name, s)),
                serde_json::Value::Bool(b) => Some((name, b.to_string())),
                serde_json::Value::Number(n) => Some((name, n.to_string())),
                _ => None,
            })
            .collect())
    }
}

/// What the sign-in cookie holds between `/sign-in` and the callback.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
}

/// The PKCE S256 challenge for `verifier`.
pub fn code_challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// The console's sign-in through Cognito.
pub struct HostedUi {
    /// The console's key: the sign-in cookie and then the session.
    pub key: SessionKey,
    pub config: CognitoConfig,
    pub verifier: IdTokenVerifier,
    pub port: Arc<dyn CognitoPort>,
}

/// `/sign-in` and `/auth/callback`.
pub fn routes(hosted: Arc<HostedUi>) -> Router {
    Router::new()
        .route("/sign-in", get(sign_in))
        .route("/auth/callback", get(callback))
        .with_state(hosted)
}

/// Percent-encodes a query value.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn sign_in(State(hosted): State<Arc<HostedUi>>) -> Response {
    let (Ok(state), Ok(verifier)) = (random_hex(16), random_hex(32)) else {
        return failed("No random source is available.");
    };
    let config = &hosted.config;
    let location = format!(
        "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid+email+profile&state={}&code_challenge={}&code_challenge_method=S256",
        config.domain.trim_end_matches('/'),
        percent_encode(&config.client_id),
        percent_encode(&config.redirect_uri),
        state,
        code_challenge(&verifier),
    );
    let sealed = hosted.key.seal(
        SIGN_IN_PURPOSE,
        &Pending { state, verifier },
        now_seconds() + SIGN_IN_SECONDS,
    );
    let mut response = see_other(&location);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, &sealed, SIGN_IN_SECONDS),
    );
    response
}

#[derive(Debug, Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
}

async fn callback(
    State(hosted): State<Arc<HostedUi>>,
    headers: HeaderMap,
    Query(answer): Query<Callback>,
) -> Response {
    let pending: Option<Pending> = cookie(&headers, SIGN_IN_COOKIE)
        .and_then(|sealed| hosted.key.open(SIGN_IN_PURPOSE, sealed, now_seconds()));
    let result = async {
        let pending = pending.ok_or(AuthError::BadState)?;
        let (Some(code), Some(state)) = (answer.code, answer.state) else {
            return Err(AuthError::BadState);
        };
        if state != pending.state {
            return Err(AuthError::BadState);
        }
        let token = hosted
            .port
            .exchange_code(&code, &pending.verifier, &hosted.config.redirect_uri)
            .await?;
        hosted.verifier.verify(&token).await
    }
    .await;
    let mut response = match result {
        Ok(claims) => start_session(&hosted.key, claims),
        Err(e) => {
            tracing::warn!(error = %e, "sign-in failed");
            failed("The sign-in could not be completed. Please try again.")
        }
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(SIGN_IN_COOKIE));
    response
}

fn failed(why: &str) -> Response {
    let page = bare_page(
        "Sign-in failed",
        maud::html! {
            h1 { "Sign-in failed" }
            p role="alert" { (why) }
            p { a href="/sign-in" { "Sign in again" } }
        },
    );
    (
        axum::http::StatusCode::UNAUTHORIZED,
        axum::response::Html(page.into_string()),
    )
        .into_response()
}

/// [`CognitoPort`] over HTTPS.
#[cfg(feature = "aws")]
pub struct HttpCognito {
    client: reqwest::Client,
    config: CognitoConfig,
}

#[cfg(feature = "aws")]
impl HttpCognito {
    /// Trusts Amazon's roots only, as the SDK clients do: Cognito's
    /// endpoints and hosted UI domains are issued from them, and reading the
    /// system's whole store would slow every cold start (#15).
    pub fn new(config: CognitoConfig) -> Result<Self, reqwest::Error> {
        let roots = reqwest::Certificate::from_pem_bundle(seatkeeper_edge::aws::AMAZON_ROOTS)?;
        let client = roots
            .into_iter()
            .fold(
                reqwest::Client::builder().tls_built_in_root_certs(false),
                |builder, root| builder.add_root_certificate(root),
            )
            .build()?;
        Ok(Self { client, config })
    }
}

/// The JSON a successful answer to `request` carries.
#[cfg(feature = "aws")]
async fn json_of<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, AuthError> {
    let unavailable = |e: reqwest::Error| AuthError::Unavailable(e.to_string());
    request
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(unavailable)?
        .json()
        .await
        .map_err(unavailable)
}

#[cfg(feature = "aws")]
#[async_trait]
impl CognitoPort for HttpCognito {
    async fn jwks(&self) -> Result<JwkSet, AuthError> {
        let url = format!(
            "{}/.well-known/jwks.json",
            self.config.issuer.trim_end_matches('/')
        );
        json_of(self.client.get(url)).await
    }

    async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<String, AuthError> {
        #[derive(Deserialize)]
        struct Tokens {
            id_token: String,
        }
        let url = format!("{}/oauth2/token", self.config.domain.trim_end_matches('/'));
        let tokens: Tokens = json_of(self.client.post(url).form(&[
            ("grant_type", "authorization_code"),
            ("client_id", self.config.client_id.as_str()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ]))
        .await?;
        Ok(tokens.id_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ISSUER: &str = "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_test";
    const CLIENT: &str = "console-client";

    struct Keys {
        fetched: AtomicUsize,
    }

    #[async_trait]
    impl CognitoPort for Keys {
        async fn jwks(&self) -> Result<JwkSet, AuthError> {
            self.fetched.fetch_add(1, Ordering::SeqCst);
            serde_json::from_str(include_str!("../testdata/jwks.json"))
                .map_err(|e| AuthError::Unavailable(e.to_string()))
        }
        async fn exchange_code(&self, _: &str, _: &str, _: &str) -> Result<String, AuthError> {
            Err(AuthError::Unavailable("not in these tests".into()))
        }
    }

    fn verifier() -> (IdTokenVerifier, Arc<Keys>) {
        let keys = Arc::new(Keys {
            fetched: AtomicUsize::new(0),
        });
        (IdTokenVerifier::new(ISSUER, CLIENT, keys.clone()), keys)
    }

    fn token(pem: &str, kid: &str, changes: serde_json::Value) -> String {
        let mut claims = serde_json::json!({
            "sub": "u-1",
            "email": "ann@acme.test",
            "email_verified": true,
            "custom:role": "manager",
            "custom:company_id": "acme",
            "token_use": "id",
            "iss": ISSUER,
            "aud": CLIENT,
            "exp": now_seconds() + 300,
            "iat": now_seconds(),
        });
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        encode(
            &header,
            &claims,
            &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    const SIGNER: &str = include_str!("../testdata/signer.pem");
    const STRANGER: &str = include_str!("../testdata/stranger.pem");

    #[tokio::test]
    async fn a_good_token_gives_its_claims_and_the_keys_are_cached() {
        let (verifier, keys) = verifier();
        let claims = verifier
            .verify(&token(SIGNER, "test-signer", serde_json::json!({})))
            .await
            .unwrap();
        assert_eq!(claims["email"], "ann@acme.test");
        assert_eq!(claims["email_verified"], "true");
        assert_eq!(claims["custom:role"], "manager");
        verifier
            .verify(&token(SIGNER, "test-signer", serde_json::json!({})))
            .await
            .unwrap();
        assert_eq!(keys.fetched.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn bad_tokens_are_refused() {
        let (verifier, _) = verifier();
        let cases = [
            (
                "wrong audience",
                token(SIGNER, "test-signer", serde_json::json!({"aud": "other"})),
            ),
            (
                "wrong issuer",
                token(
                    SIGNER,
                    "test-signer",
                    serde_json::json!({"iss": "https://evil"}),
                ),
            ),
            (
                "expired",
                token(
                    SIGNER,
                    "test-signer",
                    serde_json::json!({"exp": now_seconds() - 120}),
                ),
            ),
            (
                "access token",
                token(
                    SIGNER,
                    "test-signer",
                    serde_json::json!({"token_use": "access"}),
                ),
            ),
            (
                "wrong key",
                token(STRANGER, "test-signer", serde_json::json!({})),
            ),
            (
                "unknown key id",
                token(STRANGER, "other", serde_json::json!({})),
            ),
        ];
        for (what, token) in cases {
            assert!(
                matches!(
                    verifier.verify(&token).await,
                    Err(AuthError::InvalidToken(_))
                ),
                "{what}"
            );
        }
        assert!(verifier.verify("not.a.token").await.is_err());
    }

    /// Cognito for the callback: the test key's JWKS, and `token` for any code.
    struct Issuing {
        token: String,
    }

    #[async_trait]
    impl CognitoPort for Issuing {
        async fn jwks(&self) -> Result<JwkSet, AuthError> {
            Keys {
                fetched: AtomicUsize::new(0),
            }
            .jwks()
            .await
        }
        async fn exchange_code(
            &self,
            code: &str,
            verifier: &str,
            _: &str,
        ) -> Result<String, AuthError> {
            assert_eq!(code, "the-code");
            assert_eq!(verifier.len(), 64);
            Ok(self.token.clone())
        }
    }

    #[tokio::test]
    async fn the_callback_checks_the_state_then_starts_the_session() {
        use axum::body::Body;
        use axum::http::{Request, StatusCode};
        use tower::ServiceExt;

        let port = Arc::new(Issuing {
            token: token(SIGNER, "test-signer", serde_json::json!({})),
        });
        let hosted = Arc::new(HostedUi {
            key: SessionKey::new(&[7; 32]).unwrap(),
            config: CognitoConfig {
                domain: "https://auth.test".into(),
                client_id: CLIENT.into(),
                issuer: ISSUER.into(),
                redirect_uri: "https://console.test/auth/callback".into(),
            },
            verifier: IdTokenVerifier::new(ISSUER, CLIENT, port.clone()),
            port,
        });
        let app = routes(hosted);
        let get = |uri: String, cookie: Option<String>| {
            let mut request = Request::get(uri);
            if let Some(cookie) = cookie {
                request = request.header(header::COOKIE, cookie);
            }
            app.clone().oneshot(request.body(Body::empty()).unwrap())
        };
        let cookie_of = |response: &Response, name: &str| {
            response
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with(&format!("{name}=")) && !v.contains("Max-Age=0"))
                .and_then(|v| v.split(';').next())
                .map(str::to_string)
        };

        let started = get("/sign-in".into(), None).await.unwrap();
        assert_eq!(started.status(), StatusCode::SEE_OTHER);
        let location = started.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
        assert!(location.starts_with("https://auth.test/oauth2/authorize?response_type=code&client_id=console-client&redirect_uri=https%3A%2F%2Fconsole.test%2Fauth%2Fcallback"), "{location}");
        assert!(location.contains("&code_challenge_method=S256"));
        let state = location
            .split("&state=")
            .nth(1)
            .and_then(|rest| rest.split('&').next())
            .unwrap()
            .to_string();
        let pending = cookie_of(&started, SIGN_IN_COOKIE).expect("the sign-in cookie");

        for (uri, cookie) in [
            (format!("/auth/callback?code=the-code&state={state}"), None),
            (
                "/auth/callback?code=the-code&state=forged".to_string(),
                Some(pending.clone()),
            ),
            ("/auth/callback?state=x".to_string(), Some(pending.clone())),
        ] {
            let refused = get(uri.clone(), cookie).await.unwrap();
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{uri}");
            assert_eq!(cookie_of(&refused, crate::session::SESSION_COOKIE), None);
        }
        let done = get(
            format!("/auth/callback?code=the-code&state={state}"),
            Some(pending),
        )
        .await
        .unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(done.headers()[header::LOCATION], "/");
        assert!(cookie_of(&done, crate::session::SESSION_COOKIE).is_some());
    }

    #[test]
    fn the_challenge_is_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(
            percent_encode("https://a.b/auth/callback"),
            "https%3A%2F%2Fa.b%2Fauth%2Fcallback"
        );
    }
}
