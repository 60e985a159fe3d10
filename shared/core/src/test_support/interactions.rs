//! Interactions as Discord sends them, signed as Discord signs them.
//!
//! The local runner's `interact` command, the sample events, the tests and the benchmarks all
//! play Discord's part; they build requests here so they agree on what Discord sends. Behind
//! the `test-support` feature: no Lambda binary carries it.

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use twilight_model::application::command::{Command, CommandOption, CommandOptionType};

/// Who and where an invocation comes from.
#[derive(Debug, Clone)]
pub struct Invoker {
    pub application_id: u64,
    pub guild_id: Option<u64>,
    pub channel_id: u64,
    pub user_id: u64,
    pub username: String,
    /// The member's permissions in the channel, as Discord computes them.
    pub permissions: u64,
}

impl Default for Invoker {
    /// A member with Administrator in a demo guild.
    fn default() -> Self {
        Self {
            application_id: 1_100_000_000_000_000_001,
            guild_id: Some(1_100_000_000_000_000_100),
            channel_id: 1_100_000_000_000_000_200,
            user_id: 1_100_000_000_000_000_300,
            username: "demo-admin".to_owned(),
            permissions: 1 << 3,
        }
    }
}

/// A request body with Discord's signature headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub signature: String,
    pub timestamp: String,
    pub body: Vec<u8>,
}

/// Signs `timestamp || body` the way Discord does.
pub fn sign(key: &SigningKey, timestamp: u64, body: Vec<u8>) -> SignedRequest {
    let timestamp = timestamp.to_string();
    let message = [timestamp.as_bytes(), &body].concat();
    SignedRequest { signature: hex::encode(key.sign(&message).to_bytes()), timestamp, body }
}

/// Seconds since the epoch now, for signing fresh requests.
pub fn unix_now() -> u64 {
    use crate::clock::Clock;
    crate::clock::SystemClock.now()
}

/// A fresh snowflake: milliseconds since Discord's epoch, then sub-millisecond bits, so
/// ids made in quick succession differ.
pub fn new_snowflake() -> u64 {
    const DISCORD_EPOCH_MS: u128 = 1_420_070_400_000;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let millis = now.as_millis().saturating_sub(DISCORD_EPOCH_MS) as u64;
    (millis << 22) | u64::from((now.subsec_nanos() % 1_000_000) >> 8)
}

/// Discord's PING, field for field: it lacks most of what other interactions carry.
pub fn ping(invoker: &Invoker, interaction_id: u64) -> Value {
    json!({
        "id": interaction_id.to_string(),
        "application_id": invoker.application_id.to_string(),
        "type": 1,
        "token": format!("ping-token-{interaction_id}"),
        "version": 1,
        "user": user(invoker),
        "authorizing_integration_owners": {},
        "entitlements": [],
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    #[error("a command line starts with '/', like '/settings'")]
    NoSlash,
    #[error("unknown command /{0}")]
    UnknownCommand(String),
    #[error("/{command} has no subcommand or option {name}")]
    UnknownOption { command: String, name: String },
    #[error("option {name} expects {expected}, got {value:?}")]
    BadValue { name: String, expected: &'static str, value: String },
    #[error("option {0} has no value; write name:value")]
    MissingValue(String),
    #[error("unterminated quote")]
    UnterminatedQuote,
}

/// Builds an APPLICATION_COMMAND interaction from a line such as
/// `/channel create name:"race night"`, typing each option from the command's definition.
pub fn command(
    line: &str,
    manifest: &[Command],
    invoker: &Invoker,
    interaction_id: u64,
) -> Result<Value, InvocationError> {
    let words = split_words(line)?;
    let (first, rest) = words.split_first().ok_or(InvocationError::NoSlash)?;
    let name = first.strip_prefix('/').ok_or(InvocationError::NoSlash)?;
    let definition = manifest
        .iter()
        .find(|command| command.name == name)
        .ok_or_else(|| InvocationError::UnknownCommand(name.to_owned()))?;
    let options = options_json(name, &definition.options, rest)?;

    let data = json!({ "id": "1100000000000000900", "name": name, "type": 1, "options": options });
    Ok(interaction(invoker, interaction_id, 2, data))
}

/// A MESSAGE_COMPONENT interaction: `invoker` clicks the button `custom_id` on `message`
/// (a message as Discord returns it, e.g. the edited `@original`).
pub fn button_click(invoker: &Invoker, interaction_id: u64, custom_id: &str, message: Value) -> Value {
    let mut click = interaction(invoker, interaction_id, 3, json!({ "custom_id": custom_id, "component_type": 2 }));
    click["message"] = message;
    click
}

/// What every interaction but PING carries, around its `data`.
fn interaction(invoker: &Invoker, interaction_id: u64, kind: u8, data: Value) -> Value {
    let mut interaction = json!({
        "id": interaction_id.to_string(),
        "application_id": invoker.application_id.to_string(),
        "type": kind,
        "token": format!("interaction-token-{interaction_id}"),
        "version": 1,
        "locale": "en-US",
        "attachment_size_limit": 10_485_760,
        "entitlements": [],
        "channel_id": invoker.channel_id.to_string(),
        "channel": { "id": invoker.channel_id.to_string(), "type": 0, "name": "general" },
        "app_permissions": "2147483647",
        "data": data,
    });
    match invoker.guild_id {
        Some(guild_id) => {
            interaction["guild_id"] = json!(guild_id.to_string());
            interaction["guild_locale"] = json!("en-US");
            interaction["context"] = json!(0);
            interaction["authorizing_integration_owners"] = json!({ "0": guild_id.to_string() });
            interaction["member"] = json!({
                "user": user(invoker),
                "roles": [],
                "joined_at": "2024-01-01T00:00:00.000000+00:00",
                "deaf": false,
                "mute": false,
                "flags": 0,
                "nick": null,
                "communication_disabled_until": null,
                "permissions": invoker.permissions.to_string(),
            });
        }
        None => {
            interaction["context"] = json!(1);
            interaction["authorizing_integration_owners"] = json!({ "1": invoker.user_id.to_string() });
            interaction["user"] = user(invoker);
        }
    }
    interaction
}

fn user(invoker: &Invoker) -> Value {
    json!({
        "id": invoker.user_id.to_string(),
        "username": invoker.username,
        "global_name": invoker.username,
        "discriminator": "0",
        "avatar": null,
        "public_flags": 0,
    })
}

/// Subcommand groups and subcommands are bare words; options are `name:value`.
fn options_json(command: &str, defined: &[CommandOption], words: &[String]) -> Result<Vec<Value>, InvocationError> {
    let unknown = |name: &str| InvocationError::UnknownOption { command: command.to_owned(), name: name.to_owned() };
    let Some((word, rest)) = words.split_first() else { return Ok(Vec::new()) };
    if !word.contains(':') {
        let sub = defined.iter().find(|option| option.name == *word).ok_or_else(|| unknown(word))?;
        if !matches!(sub.kind, CommandOptionType::SubCommand | CommandOptionType::SubCommandGroup) {
            return Err(InvocationError::MissingValue(word.clone()));
        }
        let inner = options_json(command, sub.options.as_deref().unwrap_or_default(), rest)?;
        return Ok(vec![json!({ "name": sub.name, "type": sub.kind as u8, "options": inner })]);
    }
    option_pairs(defined, words)?
        .into_iter()
        .map(|(name, raw)| {
            let (name, raw) = (name.as_str(), raw.as_str());
            let option = defined.iter().find(|option| option.name == name).ok_or_else(|| unknown(name))?;
            let bad = |expected| InvocationError::BadValue { name: name.to_owned(), expected, value: raw.to_owned() };
            let value = match option.kind {
                CommandOptionType::Integer => json!(raw.parse::<i64>().map_err(|_| bad("a whole number"))?),
                CommandOptionType::Number => json!(raw.parse::<f64>().map_err(|_| bad("a number"))?),
                CommandOptionType::Boolean => json!(raw.parse::<bool>().map_err(|_| bad("true or false"))?),
                CommandOptionType::User
                | CommandOptionType::Channel
                | CommandOptionType::Role
                | CommandOptionType::Mentionable => {
                    let id = raw.trim_start_matches("<@").trim_start_matches(['#', '&', '!']).trim_end_matches('>');
                    json!(id.parse::<u64>().map_err(|_| bad("a snowflake id"))?.to_string())
                }
                _ => json!(raw),
            };
            Ok(json!({ "name": name, "type": option.kind as u8, "value": value }))
        })
        .collect()
}

/// `name:value` pairs as Discord's client reads them: a value runs up to the next word that
/// starts with a defined option's `name:`, so `name:two words slots:3` is `two words` and `3`.
/// The first word must name an option (an unknown `name:` is kept for its own error).
fn option_pairs(defined: &[CommandOption], words: &[String]) -> Result<Vec<(String, String)>, InvocationError> {
    let starts_option =
        |word: &str| word.split_once(':').is_some_and(|(name, _)| defined.iter().any(|option| option.name == name));
    let mut pairs: Vec<(String, String)> = Vec::new();
    for word in words {
        match (pairs.last_mut(), word.split_once(':')) {
            (Some((_, value)), _) if !starts_option(word) => {
                value.push(' ');
                value.push_str(word);
            }
            (_, Some((name, value))) => pairs.push((name.to_owned(), value.to_owned())),
            (_, None) => return Err(InvocationError::MissingValue(word.clone())),
        }
    }
    Ok(pairs)
}

/// Splits on whitespace, keeping `"quoted text"` together (quotes removed).
fn split_words(line: &str) -> Result<Vec<String>, InvocationError> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for ch in line.trim().chars() {
        match ch {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if quoted {
        return Err(InvocationError::UnterminatedQuote);
    }
    if !current.is_empty() {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use twilight_model::application::{
        command::CommandType,
        interaction::{Interaction, InteractionData, application_command::CommandOptionValue},
    };
    use twilight_util::builder::command::{CommandBuilder, IntegerBuilder, StringBuilder, SubCommandBuilder};

    use super::*;

    fn manifest() -> Vec<Command> {
        vec![
            CommandBuilder::new("channel", "d", CommandType::ChatInput)
                .option(
                    SubCommandBuilder::new("create", "d")
                        .option(StringBuilder::new("name", "d").required(true))
                        .option(IntegerBuilder::new("slots", "d")),
                )
                .build(),
        ]
    }

    #[test]
    fn builds_an_interaction_twilight_reads_with_typed_options() {
        let json = command(r#"/channel create name:"race night" slots:12"#, &manifest(), &Invoker::default(), 7)
            .expect("valid line");
        let interaction: Interaction = serde_json::from_value(json).expect("twilight reads it");
        let Some(InteractionData::ApplicationCommand(data)) = interaction.data else { panic!("command data") };
        assert_eq!(data.name, "channel");
        let CommandOptionValue::SubCommand(options) = &data.options[0].value else { panic!("subcommand") };
        assert_eq!(options[0].value, CommandOptionValue::String("race night".to_owned()));
        assert_eq!(options[1].value, CommandOptionValue::Integer(12));
        assert!(interaction.member.is_some());
    }

    #[test]
    fn a_value_runs_up_to_the_next_option_as_in_discord_s_client() {
        let invoker = Invoker::default();
        let strings = |line: &str| {
            let json = command(line, &manifest(), &invoker, 1).expect("valid line");
            let interaction: Interaction = serde_json::from_value(json).expect("twilight reads it");
            let Some(InteractionData::ApplicationCommand(data)) = interaction.data else { panic!("command data") };
            let CommandOptionValue::SubCommand(options) = &data.options[0].value else { panic!("subcommand") };
            options.iter().map(|option| (option.name.clone(), option.value.clone())).collect::<Vec<_>>()
        };
        assert_eq!(
            strings("/channel create name:two words slots:3"),
            [
                ("name".to_owned(), CommandOptionValue::String("two words".to_owned())),
                ("slots".to_owned(), CommandOptionValue::Integer(3)),
            ]
        );
        assert_eq!(
            strings(r#"/channel create slots:3 name:"quoted: slots:9" and more"#),
            [
                ("slots".to_owned(), CommandOptionValue::Integer(3)),
                ("name".to_owned(), CommandOptionValue::String("quoted: slots:9 and more".to_owned())),
            ]
        );
        assert_eq!(
            command("/channel create words", &manifest(), &invoker, 1),
            Err(InvocationError::UnknownOption { command: "channel".into(), name: "words".into() }),
            "a word before any option is not a value"
        );
    }

    #[test]
    fn explains_what_is_wrong_with_a_line() {
        let invoker = Invoker::default();
        assert_eq!(command("settings", &manifest(), &invoker, 1), Err(InvocationError::NoSlash));
        assert_eq!(command("/nope", &manifest(), &invoker, 1), Err(InvocationError::UnknownCommand("nope".into())));
        assert!(matches!(
            command("/channel create slots:many", &manifest(), &invoker, 1),
            Err(InvocationError::BadValue { .. })
        ));
        assert_eq!(
            command(r#"/channel create name:"x"#, &manifest(), &invoker, 1),
            Err(InvocationError::UnterminatedQuote)
        );
    }

    #[test]
    fn signatures_cover_timestamp_and_body() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let signed = sign(&key, 1_700_000_000, b"{}".to_vec());
        let verifier = crate::discord::signature::SignatureVerifier::new(
            key.verifying_key(),
            crate::discord::signature::DEFAULT_MAX_AGE,
        );
        let now = std::time::Duration::from_secs(1_700_000_000);
        let check = |body: &[u8]| {
            verifier.verify_at(Some(signed.signature.as_bytes()), Some(signed.timestamp.as_bytes()), body, now)
        };
        assert_eq!(check(b"{}"), Ok(()));
        assert!(check(b"{ }").is_err());
    }
}
