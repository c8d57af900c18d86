//! The console on AWS: the app the API's functions run on, the session key
//! and the Cognito client from the environment (set by template.yaml).

use std::sync::Arc;

use axum::Router;

use crate::cognito::{self, CognitoConfig, HostedUi, HttpCognito, IdTokenVerifier};
use crate::{router, Console, SessionKey};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleConfigError {
    #[error("environment variable {0} must be set")]
    Missing(&'static str),
    #[error(transparent)]
    Key(#[from] crate::session::KeyError),
}

/// What the console reads beyond the functions' shared config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleConfig {
    pub session_key: String,
    pub cognito: CognitoConfig,
}

impl ConsoleConfig {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConsoleConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConsoleConfigError::Missing(name))
        };
        let base_url = required("APP_BASE_URL")?;
        Ok(Self {
            session_key: required("SESSION_KEY")?,
            cognito: CognitoConfig {
                domain: required("COGNITO_DOMAIN")?,
                client_id: required("COGNITO_CLIENT_ID")?,
                issuer: required("COGNITO_ISSUER")?,
                redirect_uri: format!("{}/auth/callback", base_url.trim_end_matches('/')),
            },
        })
    }
}

/// Everything a cold start does once: the app, the key, the Cognito client
/// (whose cached signing keys then serve every warm invocation).
pub async fn start() -> Result<Router, lambda_http::Error> {
    let app = seatkeeper_edge::aws::start().await?;
    let config = ConsoleConfig::from_lookup(|name| std::env::var(name).ok())?;
    let console = Console::new(
        Arc::new(app),
        SessionKey::new(config.session_key.as_bytes())?,
    );
    let port = Arc::new(HttpCognito::new(config.cognito.clone())?);
    let hosted = Arc::new(HostedUi {
        key: console.key.clone(),
        verifier: IdTokenVerifier::new(
            &config.cognito.issuer,
            &config.cognito.client_id,
            port.clone(),
        ),
        config: config.cognito,
        port,
    });
    Ok(router(console)
        .merge(cognito::routes(hosted))
        .fallback(crate::not_found_page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_what_is_missing() {
        let env = |name: &str| {
            [
                ("APP_BASE_URL", "https://console.example/"),
                ("SESSION_KEY", "k"),
                ("COGNITO_DOMAIN", "https://d"),
                ("COGNITO_CLIENT_ID", "c"),
            ]
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
        };
        assert_eq!(
            ConsoleConfig::from_lookup(env).unwrap_err().to_string(),
            "environment variable COGNITO_ISSUER must be set"
        );
        let with_issuer = |name: &str| match name {
            "COGNITO_ISSUER" => Some("https://i".to_string()),
            other => env(other),
        };
        let config = ConsoleConfig::from_lookup(with_issuer).unwrap();
        assert_eq!(
            config.cognito.redirect_uri,
            "https://console.example/auth/callback"
        );
    }
}
