//! Authenticating as a GitHub App (`release-gate serve`): a JWT signed with
//! the App's private key (RS256, issued a minute in the past, valid nine
//! minutes, as GitHub asks), exchanged for an installation token, cached
//! until five minutes before it expires. The key and tokens never leave
//! [`Secret`]s; the tokens are registered with the redactor.

use std::collections::HashMap;
use std::sync::Mutex;

use thiserror::Error;

use super::{ApiError, GitHub, RetryPolicy};
use crate::mask::{self, Secret};

/// Why the App could not authenticate.
#[derive(Debug, Error)]
pub enum AppError {
    /// The private key is not an RSA key in PEM.
    #[error("the GitHub App private key is not an RSA private key in PEM ({0}); download it from the App's settings")]
    Key(String),
    /// The JWT could not be made.
    #[error("cannot sign the GitHub App JWT: {0}")]
    Jwt(String),
    /// GitHub refused or failed.
    #[error("{0}")]
    Api(#[from] ApiError),
}

/// A GitHub App: its id and private key.
pub struct App {
    id: u64,
    key: octocrab::auth::EncodingKey,
    api_url: String,
    retry: RetryPolicy,
    /// Installation id → (token, when to renew).
    tokens: Mutex<HashMap<u64, (Secret, jiff::Timestamp)>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "App({})", self.id)
    }
}

impl App {
    /// The App `id` with its private key (PEM).
    pub fn new(id: u64, private_key_pem: &[u8], api_url: &str, retry: RetryPolicy) -> Result<Self, AppError> {
        let key = octocrab::auth::EncodingKey::from_rsa_pem(private_key_pem).map_err(|e| AppError::Key(e.to_string()))?;
        Ok(Self { id, key, api_url: api_url.trim_end_matches('/').to_owned(), retry, tokens: Mutex::new(HashMap::new()) })
    }

    /// The App's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    fn jwt(&self) -> Result<Secret, AppError> {
        let jwt = octocrab::auth::create_jwt(octocrab::models::AppId(self.id), &self.key).map_err(|e| AppError::Jwt(e.to_string()))?;
        mask::register(&jwt);
        Ok(Secret::new(jwt))
    }

    /// A client for `owner/repo` with the installation's token (fetched, or
    /// reused until five minutes before it expires). Must be called inside a Tokio runtime.
    pub async fn installation(&self, installation_id: u64, owner: &str, repo: &str) -> Result<GitHub, AppError> {
        let cached = {
            let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            tokens.get(&installation_id).filter(|(_, renew)| jiff::Timestamp::now() < *renew).map(|(t, _)| t.clone())
        };
        let token = match cached {
            Some(t) => t,
            None => {
                // A token request is safe to repeat (another token is harmless), so a
                // 5xx or a dropped connection is retried, unlike other POSTs.
                let mut attempt = 1u32;
                let t = loop {
                    let as_app = GitHub::new(&self.api_url, &self.jwt()?, owner, repo, self.retry)?;
                    match as_app.installation_token(installation_id).await {
                        Ok(t) => break t,
                        Err(e) if e.is_unreachable() && attempt < self.retry.attempts.max(3) => {
                            eprintln!("release-gate: installation token: {e}; retrying");
                            tokio::time::sleep(self.retry.backoff(attempt)).await;
                            attempt += 1;
                        }
                        Err(e) => return Err(e.into()),
                    }
                };
                mask::register(&t.token);
                let expires: jiff::Timestamp = t.expires_at.parse().map_err(|_| ApiError::Decode {
                    call: "POST /app/installations/{installation_id}/access_tokens".into(),
                    detail: format!("expires_at {:?}", t.expires_at),
                })?;
                let renew = expires.checked_sub(jiff::SignedDuration::from_mins(5)).unwrap_or(expires);
                let secret = Secret::new(t.token);
                self.tokens.lock().unwrap_or_else(|e| e.into_inner()).insert(installation_id, (secret.clone(), renew));
                secret
            }
        };
        Ok(GitHub::new(&self.api_url, &token, owner, repo, self.retry)?)
    }
}
