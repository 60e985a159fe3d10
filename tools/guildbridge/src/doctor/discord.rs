//! What Discord knows of the application, and of each connected guild: the endpoint it
//! calls, the redirect URIs it allows, the privileged intents, the registered commands, and
//! the bot's permissions against what each guild's settings need.

use std::time::Duration;

use guildbridge_core::{
    discord::{
        intents,
        permissions::{bot_permissions, labels},
        rest::{DiscordClient, DiscordError, PermanentKind},
    },
    domain::error::Report,
    interactions::commands::manifest,
    store::DomainStore,
};
use serde_json::Value;
use tokio::time::Instant;
use twilight_model::{
    application::command::Command,
    id::{Id, marker::ApplicationMarker},
    oauth::Application,
};

use super::{Deployment, Finding};

/// The paths under the web function's base URL that Discord sends people back to.
pub const REDIRECT_PATHS: [&str; 2] = ["/connect/callback", "/settings/login/callback"];

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

/// Every Discord-side check. `application_id` is the one the functions are configured with.
pub async fn check(
    client: &DiscordClient,
    store: &dyn DomainStore,
    application_id: Id<ApplicationMarker>,
    expect: &Deployment,
) -> Vec<Finding> {
    let application = match client.current_application(deadline()).await {
        Ok(application) => application,
        Err(error) => {
            let fix =
                "put the bot's token in the secret (Developer Portal > Bot > Reset Token; infra/README.md, step 2)";
            return vec![Finding::problem(
                "Discord application",
                format!("Discord refused the bot token: {}", Report(&error)),
                fix,
            )];
        }
    };
    if application.id != application_id {
        let what = format!(
            "the bot token is application {}'s, the functions are configured for {application_id}",
            application.id
        );
        let fix = "set DiscordApplicationId to the application whose bot token is in the secret, or put that application's token in";
        return vec![Finding::problem("Discord application", what, fix)];
    }
    let mut findings = vec![Finding::ok("Discord application", format!("{} ({})", application.name, application.id))];
    findings.push(endpoint(&application, expect));
    findings.push(redirects(&application, expect));
    findings.extend(intents(&application));
    findings.push(commands(client, application.id).await);
    findings.extend(guilds(client, store, application.id).await);
    findings
}

fn endpoint(application: &Application, expect: &Deployment) -> Finding {
    let check = "interactions endpoint";
    let Some(expected) = &expect.interactions_url else {
        return Finding::skipped(check, "give --interactions-url (the InteractionsEndpointUrl output) to compare");
    };
    match application.interactions_endpoint_url.as_deref() {
        Some(found) if found.trim_end_matches('/') == expected.trim_end_matches('/') => {
            Finding::ok(check, format!("Discord calls {found}"))
        }
        found => Finding::problem(
            check,
            format!("Discord calls {}, but this stack answers at {expected}", found.unwrap_or("nothing")),
            format!("Developer Portal > General Information > Interactions Endpoint URL: set {expected}"),
        ),
    }
}

fn redirects(application: &Application, expect: &Deployment) -> Finding {
    let check = "OAuth2 redirects";
    let Some(base) = &expect.web_url else {
        return Finding::skipped(check, "give --web-url (the web function's address) to compare");
    };
    let allowed = application.redirect_uris.clone().unwrap_or_default();
    let base = base.trim_end_matches('/');
    let missing: Vec<String> =
        REDIRECT_PATHS.iter().map(|path| format!("{base}{path}")).filter(|uri| !allowed.contains(uri)).collect();
    if missing.is_empty() {
        return Finding::ok(check, "the connect flow's and the settings login's are allowed");
    }
    Finding::problem(
        check,
        format!(
            "Discord does not allow {}: adding the bot or logging in to the settings page fails there",
            missing.join(" and ")
        ),
        format!("Developer Portal > OAuth2 > Redirects: add {}", missing.join(" and ")),
    )
}

fn intents(application: &Application) -> Vec<Finding> {
    let fix = |name: &str| format!("Developer Portal > Bot > Privileged Gateway Intents: turn on {name}");
    vec![
        match intents::server_members(application.flags) {
            true => Finding::ok("Server Members intent", "on: member sync can read the member list"),
            false => Finding::problem(
                "Server Members intent",
                "off: Discord refuses the member list, so every member sync fails",
                fix("Server Members Intent"),
            ),
        },
        match intents::message_content(application.flags) {
            true => Finding::ok("Message Content intent", "on: relayed lead messages carry their text"),
            false => Finding::problem(
                "Message Content intent",
                "off: relayed lead messages arrive without their text, and the gateway ingest cannot connect",
                fix("Message Content Intent"),
            ),
        },
    ]
}

/// A command as it matters to a member: ids, versions and whatever Discord leaves unset
/// (null, false, empty) taken out, so the manifest and Discord's copy compare equal when
/// they say the same.
fn comparable(command: &Command) -> Value {
    fn prune(value: Value) -> Option<Value> {
        match value {
            Value::Null | Value::Bool(false) => None,
            Value::Array(items) => {
                let items: Vec<Value> = items.into_iter().filter_map(prune).collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
            Value::Object(fields) => {
                let fields: serde_json::Map<String, Value> = fields
                    .into_iter()
                    .filter(|(key, _)| !matches!(key.as_str(), "id" | "application_id" | "version" | "guild_id"))
                    .filter_map(|(key, value)| prune(value).map(|value| (key, value)))
                    .collect();
                (!fields.is_empty()).then_some(Value::Object(fields))
            }
            other => Some(other),
        }
    }
    serde_json::to_value(command).ok().and_then(prune).unwrap_or(Value::Null)
}

async fn commands(client: &DiscordClient, application_id: Id<ApplicationMarker>) -> Finding {
    let check = "slash commands";
    let fix = "run `guildbridge register-commands` with the bot token (infra/README.md, step 4)";
    let registered = match client.registered_commands(application_id, None, deadline()).await {
        Ok(registered) => registered,
        Err(error) => return Finding::problem(check, format!("Discord did not list them: {}", Report(&error)), fix),
    };
    let wanted = manifest();
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|command| !registered.iter().any(|r| r.name == command.name))
        .map(|command| command.name.as_str())
        .collect();
    let stale: Vec<&str> = wanted
        .iter()
        .filter(|command| registered.iter().any(|r| r.name == command.name && comparable(r) != comparable(command)))
        .map(|command| command.name.as_str())
        .collect();
    let extra: Vec<&str> = registered
        .iter()
        .filter(|r| !wanted.iter().any(|command| command.name == r.name))
        .map(|r| r.name.as_str())
        .collect();
    if missing.is_empty() && stale.is_empty() && extra.is_empty() {
        return Finding::ok(check, format!("{} registered, as the manifest defines them", registered.len()));
    }
    let mut what = Vec::new();
    if !missing.is_empty() {
        what.push(format!("not registered: /{}", missing.join(", /")));
    }
    if !stale.is_empty() {
        what.push(format!("registered from an older manifest: /{}", stale.join(", /")));
    }
    if !extra.is_empty() {
        what.push(format!("registered but no longer Guildbridge's: /{}", extra.join(", /")));
    }
    Finding::problem(check, what.join("; "), fix)
}

/// The bot's permissions in every connected guild against what its settings need.
async fn guilds(
    client: &DiscordClient,
    store: &dyn DomainStore,
    application_id: Id<ApplicationMarker>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (page, next) = match store.connected_guilds(after.as_deref(), 100).await {
            Ok(page) => page,
            Err(error) => {
                let fix = "check the table and the credentials' access to it (the table check above)";
                findings.push(Finding::problem(
                    "connected guilds",
                    format!("the store did not list them: {}", Report(&error)),
                    fix,
                ));
                return findings;
            }
        };
        for guild_id in page {
            findings.push(guild(client, store, application_id, guild_id).await);
        }
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if findings.is_empty() {
        findings.push(Finding::skipped("guild permissions", "no guild is connected yet"));
    }
    findings
}

async fn guild(
    client: &DiscordClient,
    store: &dyn DomainStore,
    application_id: Id<ApplicationMarker>,
    guild_id: Id<twilight_model::id::marker::GuildMarker>,
) -> Finding {
    let check = format!("guild {guild_id}");
    let needed = match store.settings(guild_id).await {
        Ok(versioned) => versioned.settings.bot_permissions(),
        Err(error) => {
            return Finding::problem(
                check,
                format!("its settings could not be read: {}", Report(&error)),
                "check the table",
            );
        }
    };
    let roles = match client.guild_roles(guild_id, deadline()).await {
        Ok(roles) => roles,
        Err(DiscordError::Permanent { kind: PermanentKind::UnknownGuild | PermanentKind::MissingAccess, .. }) => {
            return Finding::problem(
                check,
                "the bot is not in this guild any more, though a tenant is connected to it",
                "add the bot again through the connect flow, or the tenant disconnects it (DELETE /v1/guild)",
            );
        }
        Err(error) => {
            return Finding::problem(
                check,
                format!("Discord did not list its roles: {}", error.explain()),
                "try again",
            );
        }
    };
    let missing = needed - bot_permissions(&roles, guild_id, application_id);
    if missing.is_empty() {
        return Finding::ok(check, "the bot holds every permission its settings need");
    }
    Finding::problem(
        check,
        format!("the bot lacks {}", labels(missing).join(", ")),
        "Server Settings > Roles > the bot's role: grant them (or re-add the bot from the settings page's connect link)",
    )
}
