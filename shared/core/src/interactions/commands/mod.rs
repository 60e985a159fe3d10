//! The command registry: one definition per command, used for dispatch and for registration.

mod channel;
mod events;
mod remind;
mod settings;
mod signup;
mod sync;

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use twilight_model::{
    application::{
        command::{Command, CommandOptionChoice, CommandType},
        interaction::{
            Interaction,
            application_command::{CommandData, CommandDataOption, CommandOptionValue},
        },
    },
    guild::Permissions,
    http::interaction::InteractionResponse,
    id::{Id, marker::GuildMarker},
};
use url::Url;

use super::components::ComponentRegistry;
use crate::{discord::custom_id::StateKey, domain::InteractionReply, queue::JobQueue, store::DomainStore};

pub use channel::ChannelCommand;
pub use events::EventsCommand;
pub use settings::SettingsCommand;
pub use signup::SignupCommand;
pub use sync::SyncCommand;

/// Discord's limit on global chat-input commands per application.
pub const MAX_GLOBAL_COMMANDS: usize = 100;

/// How one slash command answers. Its definition lives beside it in [`COMMANDS`].
#[async_trait]
pub trait SlashCommand: Send + Sync {
    /// Answers an invocation. Must not call Discord's REST API: the answer is due within
    /// Discord's 3 seconds, and anything slow goes to a worker.
    async fn run(&self, invocation: &Invocation<'_>) -> InteractionResponse;

    /// Suggestions for the focused option; commands without autocomplete options keep the default.
    async fn autocomplete(&self, _invocation: &Invocation<'_>) -> Vec<CommandOptionChoice> {
        Vec::new()
    }
}

/// A command interaction with its data, as a handler sees it.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    pub interaction: &'a Interaction,
    pub data: &'a CommandData,
}

impl<'a> Invocation<'a> {
    pub fn guild_id(&self) -> Option<Id<GuildMarker>> {
        self.interaction.guild_id
    }

    /// The invoking member's permissions in this channel, as Discord computed them;
    /// Administrator holds every permission.
    pub fn member_may(&self, permission: Permissions) -> bool {
        member_may(self.interaction, permission)
    }

    /// The subcommand used and its options (`/channel create name:x` -> `("create", [name])`).
    pub fn subcommand(&self) -> Option<(&'a str, &'a [CommandDataOption])> {
        self.data.options.iter().find_map(|option| match &option.value {
            CommandOptionValue::SubCommand(inner) => Some((option.name.as_str(), inner.as_slice())),
            _ => None,
        })
    }

    /// Where Discord wants the worker's answer: this interaction's webhook.
    pub fn reply(&self, received_at: u64) -> InteractionReply {
        reply_to(self.interaction, received_at)
    }

    /// The option the user is typing in, for autocomplete: its name and partial text.
    pub fn focused(&self) -> Option<(&'a str, &'a str)> {
        fn walk(options: &[CommandDataOption]) -> Option<(&str, &str)> {
            options.iter().find_map(|option| match &option.value {
                CommandOptionValue::Focused(text, _) => Some((option.name.as_str(), text.as_str())),
                CommandOptionValue::SubCommand(inner) | CommandOptionValue::SubCommandGroup(inner) => walk(inner),
                _ => None,
            })
        }
        walk(&self.data.options)
    }
}

/// Whether the member behind any interaction (a command or a click) holds `permission` in
/// its channel; Administrator holds every permission.
pub fn member_may(interaction: &Interaction, permission: Permissions) -> bool {
    let granted = interaction.member.as_ref().and_then(|member| member.permissions).unwrap_or(Permissions::empty());
    granted.contains(Permissions::ADMINISTRATOR) || granted.contains(permission)
}

/// The interaction's webhook, where a worker answers (its token lives 15 minutes).
pub fn reply_to(interaction: &Interaction, received_at: u64) -> InteractionReply {
    InteractionReply {
        application_id: interaction.application_id,
        interaction_id: interaction.id,
        token: interaction.token.clone(),
        received_at,
    }
}

/// A string option's value (or the text typed so far, for a focused option).
pub fn string_option<'a>(options: &'a [CommandDataOption], name: &str) -> Option<&'a str> {
    options.iter().find(|option| option.name == name).and_then(|option| match &option.value {
        CommandOptionValue::String(text) | CommandOptionValue::Focused(text, _) => Some(text.as_str()),
        _ => None,
    })
}

/// What every command may depend on. Built once at init.
#[derive(Clone)]
pub struct CommandDeps {
    pub settings_url: Url,
    pub store: Arc<dyn DomainStore>,
    pub queue: Arc<dyn JobQueue>,
    /// Unix seconds now (tests pin it).
    pub clock: crate::clock::SharedClock,
    /// Signs the state carried by the buttons on answers.
    pub state_key: StateKey,
}

impl std::fmt::Debug for CommandDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandDeps").field("settings_url", &self.settings_url).finish_non_exhaustive()
    }
}

/// One entry of the command manifest: the definition Discord registers and how to build the
/// handler that answers it.
#[derive(Debug, Clone, Copy)]
pub struct CommandEntry {
    pub definition: fn() -> Command,
    pub handler: fn(&CommandDeps) -> Arc<dyn SlashCommand>,
}

/// The single list of Guildbridge's commands. Registration ([`manifest`]) and dispatch
/// ([`guildbridge_commands`]) both come from here, so a registered command always has a
/// handler and a handler is always registered. A command joins this list once it works.
pub const COMMANDS: &[CommandEntry] = &[
    // By name, as the registry orders them.
    CommandEntry { definition: channel::definition, handler: |deps| Arc::new(ChannelCommand::new(deps.clone())) },
    CommandEntry { definition: events::definition, handler: |deps| Arc::new(EventsCommand::new(deps.clone())) },
    CommandEntry {
        definition: settings::definition,
        handler: |deps| Arc::new(SettingsCommand::new(deps.settings_url.clone())),
    },
    CommandEntry { definition: signup::definition, handler: |deps| Arc::new(SignupCommand::new(deps.clone())) },
    CommandEntry { definition: sync::definition, handler: |deps| Arc::new(SyncCommand::new(deps.clone())) },
];

/// The definitions to register, needing no runtime dependencies.
pub fn manifest() -> Vec<Command> {
    COMMANDS.iter().map(|entry| (entry.definition)()).collect()
}

/// The dispatch table for the production endpoint.
pub fn guildbridge_commands(deps: &CommandDeps) -> Result<CommandRegistry, RegistryError> {
    CommandRegistry::new(COMMANDS.iter().map(|entry| ((entry.definition)(), (entry.handler)(deps))).collect())
}

/// The buttons Guildbridge's answers carry: "Retry" on a failed `/channel create`, "Show
/// run" on a `/sync` that found another run going, "Remind me" on reminders.
pub fn guildbridge_components(deps: &CommandDeps) -> ComponentRegistry {
    ComponentRegistry::new(vec![
        Arc::new(channel::RetryButton::new(deps.clone())),
        Arc::new(sync::ShowRunButton::new(deps.clone())),
        Arc::new(remind::RemindButton::new(deps.clone())),
    ])
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("command /{0} is defined twice")]
    Duplicate(String),
    #[error("command /{name} breaks Discord's rules: {problem}")]
    Invalid { name: String, problem: String },
    #[error("{0} commands exceed Discord's limit of {MAX_GLOBAL_COMMANDS}")]
    TooMany(usize),
}

/// Commands by name, each with its definition.
#[derive(Clone)]
pub struct CommandRegistry {
    commands: BTreeMap<String, (Command, Arc<dyn SlashCommand>)>,
}

impl std::fmt::Debug for CommandRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.commands.keys()).finish()
    }
}

impl CommandRegistry {
    /// Builds a registry, refusing duplicates and any definition Discord would reject.
    pub fn new(commands: Vec<(Command, Arc<dyn SlashCommand>)>) -> Result<Self, RegistryError> {
        if commands.len() > MAX_GLOBAL_COMMANDS {
            return Err(RegistryError::TooMany(commands.len()));
        }
        let mut by_name = BTreeMap::new();
        for (definition, handler) in commands {
            validate_definition(&definition)
                .map_err(|problem| RegistryError::Invalid { name: definition.name.clone(), problem })?;
            let name = definition.name.clone();
            if by_name.insert(name.clone(), (definition, handler)).is_some() {
                return Err(RegistryError::Duplicate(name));
            }
        }
        Ok(Self { commands: by_name })
    }

    pub fn get(&self, name: &str) -> Option<&dyn SlashCommand> {
        self.commands.get(name).map(|(_, handler)| handler.as_ref())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.commands.keys().map(String::as_str)
    }

    /// The body of Discord's bulk-overwrite request (`PUT /applications/{id}/commands`).
    pub fn definitions(&self) -> Vec<Command> {
        self.commands.values().map(|(definition, _)| definition.clone()).collect()
    }
}

/// Discord's limits on one command definition (names, descriptions, option counts and order,
/// choices, total size). twilight-validate knows most of them; the rest are checked here.
pub fn validate_definition(command: &Command) -> Result<(), String> {
    use twilight_validate::command::CHOICES_LIMIT;
    twilight_validate::command::command(command).map_err(|e| e.to_string())?;
    twilight_validate::command::options(&command.options).map_err(|e| e.to_string())?;
    if command.kind != CommandType::ChatInput {
        return Err("only chat-input (slash) commands are supported".to_owned());
    }
    let mut pending: Vec<_> = command.options.iter().collect();
    while let Some(option) = pending.pop() {
        twilight_validate::command::option(option).map_err(|e| format!("option {}: {e}", option.name))?;
        let choices = option.choices.as_ref().map_or(0, Vec::len);
        if choices > CHOICES_LIMIT {
            return Err(format!("option {} has {choices} choices; Discord allows {CHOICES_LIMIT}", option.name));
        }
        if choices > 0 && option.autocomplete == Some(true) {
            return Err(format!("option {} has both choices and autocomplete", option.name));
        }
        pending.extend(option.options.iter().flatten());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use twilight_model::guild::Permissions;
    use twilight_util::builder::command::{CommandBuilder, StringBuilder};

    use super::*;

    fn deps() -> CommandDeps {
        let items = crate::store::embedded::EmbeddedItems::in_memory().expect("store");
        CommandDeps {
            settings_url: Url::parse("https://guildbridge.example").expect("url"),
            store: Arc::new(crate::store::Store::new(items)),
            queue: Arc::new(crate::queue::embedded::EmbeddedQueue::in_memory().expect("queue")),
            clock: crate::clock::system(),
            state_key: StateKey::new(&[7; 32]).expect("key"),
        }
    }

    struct Fixed;

    #[async_trait]
    impl SlashCommand for Fixed {
        async fn run(&self, _: &Invocation<'_>) -> InteractionResponse {
            crate::discord::responses::ephemeral("fixed")
        }
    }

    fn fixed(command: Command) -> (Command, Arc<dyn SlashCommand>) {
        (command, Arc::new(Fixed))
    }

    #[test]
    fn every_shipped_definition_fits_discords_limits() {
        let registry = guildbridge_commands(&deps()).expect("valid manifest");
        for definition in registry.definitions() {
            assert_eq!(validate_definition(&definition), Ok(()), "/{}", definition.name);
        }
        assert_eq!(registry.names().collect::<Vec<_>>(), ["channel", "events", "settings", "signup", "sync"]);
        assert_eq!(registry.definitions(), manifest(), "dispatch and registration share one list");
    }

    #[test]
    fn registration_body_is_what_discord_expects() {
        let registry = guildbridge_commands(&deps()).expect("valid manifest");
        let body = serde_json::to_value(registry.definitions()).expect("serialises");
        let settings = body.as_array().and_then(|all| all.iter().find(|c| c["name"] == "settings")).expect("settings");
        assert_eq!(settings["name"], "settings");
        assert_eq!(settings["type"], 1);
        assert_eq!(settings["default_member_permissions"], Permissions::MANAGE_GUILD.bits().to_string());
        assert_eq!(settings["contexts"], serde_json::json!([0]));
        let channel = body.as_array().and_then(|all| all.iter().find(|c| c["name"] == "channel")).expect("channel");
        assert_eq!(channel["default_member_permissions"], Permissions::MANAGE_CHANNELS.bits().to_string());
        let create = &channel["options"][0];
        assert_eq!((create["name"].as_str(), create["type"].as_u64()), (Some("create"), Some(1)));
        assert_eq!(create["options"][0]["autocomplete"], true);
    }

    #[test]
    fn refuses_definitions_discord_would_reject() {
        let upper = CommandBuilder::new("Settings", "desc", CommandType::ChatInput).build();
        assert!(matches!(CommandRegistry::new(vec![fixed(upper)]), Err(RegistryError::Invalid { .. })));

        let long_description = CommandBuilder::new("x", "d".repeat(101), CommandType::ChatInput).build();
        assert!(matches!(CommandRegistry::new(vec![fixed(long_description)]), Err(RegistryError::Invalid { .. })));

        let mut too_many_options = CommandBuilder::new("x", "d", CommandType::ChatInput).build();
        too_many_options.options = (0..26).map(|i| StringBuilder::new(format!("o{i}"), "d").build()).collect();
        assert!(matches!(CommandRegistry::new(vec![fixed(too_many_options)]), Err(RegistryError::Invalid { .. })));

        let too_many_choices = CommandBuilder::new("x", "d", CommandType::ChatInput)
            .option(StringBuilder::new("o", "d").choices((0..26).map(|i| (format!("c{i}"), format!("{i}")))))
            .build();
        assert!(matches!(CommandRegistry::new(vec![fixed(too_many_choices)]), Err(RegistryError::Invalid { .. })));

        let optional_first = CommandBuilder::new("x", "d", CommandType::ChatInput)
            .option(StringBuilder::new("a", "d"))
            .option(StringBuilder::new("b", "d").required(true))
            .build();
        assert!(matches!(CommandRegistry::new(vec![fixed(optional_first)]), Err(RegistryError::Invalid { .. })));

        let a = CommandBuilder::new("same", "d", CommandType::ChatInput).build();
        assert_eq!(
            CommandRegistry::new(vec![fixed(a.clone()), fixed(a)]).err(),
            Some(RegistryError::Duplicate("same".to_owned()))
        );
    }
}
