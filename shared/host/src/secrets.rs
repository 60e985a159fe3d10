//! Secrets (the bot token, the OAuth2 client secret, the state-signing key) come from the
//! Secrets Manager secrets `SECRETS_ARN` names (comma-separated), read once at init: each
//! function is given, and may read, only the ones it needs. They never appear in the template, in the function's
//! configuration, or in logs; rotating one is a new secret version and a cold start.

use std::collections::HashMap;

use crate::config::{DISCORD_BOT_TOKEN, DISCORD_CLIENT_SECRET, EnvSource, ProcessEnv, STATE_SIGNING_KEY};

/// The variables a secret may hold: a JSON object such as
/// `{"DISCORD_BOT_TOKEN": "...", "STATE_SIGNING_KEY": "...", "DISCORD_CLIENT_SECRET": "..."}`.
pub const SECRET_VARIABLES: [&str; 3] = [DISCORD_BOT_TOKEN, STATE_SIGNING_KEY, DISCORD_CLIENT_SECRET];

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("reading the secret {arn}: {reason}")]
    Unavailable { arn: String, reason: String },
    /// Names keys only: values are secret.
    #[error("the secret {arn} must be a JSON object of strings with keys among {allowed:?}: {problem}")]
    Malformed { arn: String, allowed: [&'static str; 3], problem: String },
}

/// A host's configuration source: the process environment, then the secret's variables.
#[derive(Clone, Default)]
pub struct HostEnv {
    secret: HashMap<String, String>,
}

impl std::fmt::Debug for HostEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&String> = self.secret.keys().collect();
        f.debug_struct("HostEnv").field("from_secret", &names).finish_non_exhaustive()
    }
}

impl EnvSource for HostEnv {
    fn get(&self, name: &str) -> Option<String> {
        ProcessEnv.get(name).or_else(|| self.secret.get(name).cloned())
    }
}

impl HostEnv {
    /// The process environment and, when `SECRETS_ARN` is set, that secret's variables.
    #[cfg(feature = "aws")]
    pub async fn load() -> Result<Self, SecretsError> {
        Ok(Self { secret: read_secret().await? })
    }
}

#[cfg(feature = "aws")]
async fn read_secret() -> Result<HashMap<String, String>, SecretsError> {
    use crate::config::SECRETS_ARN;
    let arns = ProcessEnv.get(SECRETS_ARN).unwrap_or_default();
    let arns: Vec<&str> = arns.split(',').map(str::trim).filter(|arn| !arn.is_empty()).collect();
    let mut variables = HashMap::new();
    if arns.is_empty() {
        return Ok(variables);
    }
    let shared_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_secretsmanager::Client::new(&shared_config);
    for arn in arns {
        let answer =
            client.get_secret_value().secret_id(arn).send().await.map_err(|error| SecretsError::Unavailable {
                arn: arn.to_owned(),
                reason: aws_sdk_secretsmanager::error::DisplayErrorContext(error).to_string(),
            })?;
        let text = answer.secret_string().unwrap_or_default();
        let parsed = parse_secret(text).map_err(|problem| SecretsError::Malformed {
            arn: arn.to_owned(),
            allowed: SECRET_VARIABLES,
            problem,
        })?;
        variables.extend(parsed);
    }
    Ok(variables)
}

#[cfg(feature = "aws")]
fn parse_secret(text: &str) -> Result<HashMap<String, String>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| "not JSON".to_owned())?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let mut variables = HashMap::new();
    for (key, value) in object {
        if !SECRET_VARIABLES.contains(&key.as_str()) {
            return Err(format!("unexpected key {key}"));
        }
        let value = value.as_str().ok_or_else(|| format!("{key} is not a string"))?;
        variables.insert(key.clone(), value.to_owned());
    }
    Ok(variables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_holds_only_the_secret_variables_and_errors_never_echo_values() {
        let parsed = parse_secret(r#"{"DISCORD_BOT_TOKEN": "abc", "STATE_SIGNING_KEY": "def"}"#).expect("valid");
        assert_eq!(parsed.get(DISCORD_BOT_TOKEN).map(String::as_str), Some("abc"));
        assert_eq!(parse_secret(r#"{"TABLE_NAME": "x"}"#), Err("unexpected key TABLE_NAME".to_owned()));
        assert_eq!(parse_secret(r#"{"DISCORD_BOT_TOKEN": 7}"#), Err("DISCORD_BOT_TOKEN is not a string".to_owned()));
        let problem = parse_secret("hunter2").expect_err("not JSON");
        assert!(!problem.contains("hunter2"), "{problem}");
    }
}
