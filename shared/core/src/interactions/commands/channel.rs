//! `/channel create|info|archive`: ask for a subject's channel, see what a channel is for,
//! archive it. The answer is deferred: the channel worker does the Discord work and edits it.

use crate::domain::error::Report;
use async_trait::async_trait;
use twilight_model::{
    application::{
        command::{Command, CommandOptionChoice, CommandOptionChoiceValue, CommandType},
        interaction::{Interaction, InteractionContextType},
    },
    guild::Permissions,
    http::interaction::InteractionResponse,
    id::{Id, marker::GuildMarker},
};
use twilight_util::builder::command::{CommandBuilder, StringBuilder, SubCommandBuilder};

use super::{CommandDeps, Invocation, SlashCommand, member_may, reply_to, string_option};
use crate::{
    channels::{self, RequestError},
    discord::responses,
    domain::{ChannelMapping, Job, MappingStatus, Subject, SubjectRef, naming::MAX_CHANNEL_NAME_CHARS},
    interactions::components::ComponentHandler,
    store::StoreError,
};

/// Discord's limit on an autocomplete choice's name.
const MAX_CHOICE_NAME_CHARS: usize = 100;
/// Discord's limit on a string choice's value: one longer value and the whole answer is refused.
const MAX_CHOICE_VALUE_CHARS: usize = 100;
/// What an archive reason may hold (it also goes into the audit log, which takes 512).
const MAX_REASON_CHARS: u16 = crate::domain::ArchiveReason::MAX_CHARS as u16;

pub fn definition() -> Command {
    CommandBuilder::new("channel", "Guildbridge channels for events, leads and more", CommandType::ChatInput)
        .default_member_permissions(Permissions::MANAGE_CHANNELS)
        .contexts([InteractionContextType::Guild])
        .option(
            SubCommandBuilder::new("create", "Create a channel (or find the one that exists)").option(
                StringBuilder::new("name", "A name for a new channel, or pick an event or lead")
                    .required(true)
                    .min_length(1)
                    .max_length(MAX_CHANNEL_NAME_CHARS as u16)
                    .autocomplete(true),
            ),
        )
        .option(SubCommandBuilder::new("info", "What this channel is for"))
        .option(
            SubCommandBuilder::new("archive", "Archive this channel as the server's settings say")
                .option(StringBuilder::new("reason", "Why (kept with the record)").max_length(MAX_REASON_CHARS)),
        )
        .build()
}

#[derive(Debug, Clone)]
pub struct ChannelCommand {
    deps: CommandDeps,
}

/// A store or queue failure, told plainly (the user may retry; nothing was half-done).
fn unavailable(error: impl std::error::Error) -> InteractionResponse {
    tracing::warn!(error = %Report(&error), "command could not reach storage or the queue");
    responses::ephemeral("Guildbridge couldn't reach its storage just now; nothing was changed. Try again in a moment.")
}

impl ChannelCommand {
    pub fn new(deps: CommandDeps) -> Self {
        Self { deps }
    }

    async fn create(&self, invocation: &Invocation<'_>, guild_id: Id<GuildMarker>, name: &str) -> InteractionResponse {
        if let Some(refusal) = may_create(invocation.interaction) {
            return refusal;
        }
        let name = name.trim();
        let length = name.chars().count();
        if length == 0 || length > MAX_CHANNEL_NAME_CHARS {
            return responses::ephemeral(format!(
                "A channel name must be 1 to {MAX_CHANNEL_NAME_CHARS} characters long; this one has {length}."
            ));
        }
        let subject = match SubjectRef::parse(name) {
            // A subject picked from the suggestions (or typed as `event:42`) must exist.
            Some(reference) => match self.deps.store.subject(guild_id, &reference).await {
                Ok(Some(subject)) => subject.subject,
                Ok(None) => {
                    return responses::ephemeral(format!(
                        "There is no {reference} in this server. Pick an event or lead from the suggestions, or type a plain name."
                    ));
                }
                Err(error) => return unavailable(error),
            },
            None => match channels::adhoc_subject(name) {
                Ok(subject) => match self.deps.store.upsert_subject(guild_id, &subject).await {
                    Ok(_) => subject.subject,
                    Err(error) => return unavailable(error),
                },
                Err(error) => return responses::ephemeral(format!("{error}. Use letters or digits.")),
            },
        };
        request(&self.deps, invocation.interaction, guild_id, subject).await
    }

    async fn mapping_here(
        &self,
        invocation: &Invocation<'_>,
        guild_id: Id<GuildMarker>,
    ) -> Result<Option<ChannelMapping>, StoreError> {
        let Some(channel) = invocation.interaction.channel.as_ref() else { return Ok(None) };
        self.deps.store.mapping_for_channel(guild_id, channel.id).await
    }

    async fn info(&self, invocation: &Invocation<'_>, guild_id: Id<GuildMarker>) -> InteractionResponse {
        let mapping = match self.mapping_here(invocation, guild_id).await {
            Ok(Some(mapping)) => mapping,
            Ok(None) => {
                return responses::ephemeral(
                    "This channel isn't managed by Guildbridge. Run /channel info inside a channel Guildbridge created.",
                );
            }
            Err(error) => return unavailable(error),
        };
        let subject: Option<Subject> = self.deps.store.subject(guild_id, &mapping.subject).await.ok().flatten();
        let mut lines = vec![match &subject {
            Some(subject) => format!("This channel is for **{}** ({}).", subject.name, mapping.subject),
            None => format!("This channel is for {}.", mapping.subject),
        }];
        lines.push(format!("Status: {}", mapping.status.as_str()));
        let by = mapping.requested_by.map(|user| format!(" by <@{user}>")).unwrap_or_default();
        lines.push(format!("Created <t:{}:f>{by}", mapping.created_at));
        if let Some(reason) = &mapping.reason {
            lines.push(format!("Note: {reason}"));
        }
        responses::ephemeral(lines.join("\n"))
    }

    async fn archive(
        &self,
        invocation: &Invocation<'_>,
        guild_id: Id<GuildMarker>,
        reason: Option<&str>,
    ) -> InteractionResponse {
        // Archive acts on this very channel: Manage Channels here (an overwrite included) is
        // exactly the right to lock or delete it, which the member already has in Discord.
        if !invocation.member_may(Permissions::MANAGE_CHANNELS) {
            return responses::ephemeral("You need the Manage Channels permission to archive channels.");
        }
        let mapping = match self.mapping_here(invocation, guild_id).await {
            Ok(Some(mapping)) if matches!(mapping.status, MappingStatus::Active | MappingStatus::Completed) => mapping,
            Ok(Some(mapping)) => {
                return responses::ephemeral(format!(
                    "This channel is {}; only an active channel can be archived.",
                    mapping.status.as_str()
                ));
            }
            Ok(None) => {
                return responses::ephemeral(
                    "This channel isn't managed by Guildbridge, so it can't be archived here.",
                );
            }
            Err(error) => return unavailable(error),
        };
        let who = invocation.interaction.author_id().map(|user| format!(" (by {user})")).unwrap_or_default();
        let reason =
            format!("{}{who}", reason.map(str::trim).filter(|r| !r.is_empty()).unwrap_or("archived from Discord"));
        let job = Job::ArchiveChannel {
            guild_id,
            subject: mapping.subject,
            reason,
            reply: Some(invocation.reply(self.deps.clock.now())),
        };
        match self.deps.queue.enqueue(&job).await {
            Ok(()) => responses::deferred_ephemeral(),
            Err(error) => unavailable(error),
        }
    }
}

/// Discord computes `member.permissions` for the channel the command was typed in, so a
/// channel overwrite can grant Manage Channels there alone. Creating makes channels
/// server-wide: it takes Manage Server, which no channel overwrite can grant.
fn may_create(interaction: &Interaction) -> Option<InteractionResponse> {
    (!member_may(interaction, Permissions::MANAGE_GUILD)).then(|| {
        responses::ephemeral(
            "You need the Manage Server permission to create channels: Manage Channels granted in one \
             channel does not reach the whole server.",
        )
    })
}

/// Hands the subject's channel to the worker, which answers through this interaction.
async fn request(
    deps: &CommandDeps,
    interaction: &Interaction,
    guild_id: Id<GuildMarker>,
    subject: SubjectRef,
) -> InteractionResponse {
    let reply = reply_to(interaction, deps.clock.now());
    match channels::request_channel(deps.queue.as_ref(), guild_id, subject, interaction.author_id(), reply).await {
        Ok(()) => responses::deferred_ephemeral(),
        Err(RequestError::BadName(error)) => responses::ephemeral(error.to_string()),
        Err(error) => unavailable(error),
    }
}

/// "Retry" on a failed `/channel create` answer: asks for the subject's channel again. The
/// subject comes from the button's signed state, so a click can only retry what the worker
/// offered; the clicker needs the same permission as the command.
#[derive(Debug, Clone)]
pub struct RetryButton {
    deps: CommandDeps,
}

impl RetryButton {
    pub fn new(deps: CommandDeps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl ComponentHandler for RetryButton {
    fn name(&self) -> &'static str {
        channels::RETRY_BUTTON
    }

    async fn handle(&self, interaction: &Interaction, state: &str) -> InteractionResponse {
        let Some(guild_id) = interaction.guild_id else {
            return responses::ephemeral("Channels are made inside a server.");
        };
        if let Some(refusal) = may_create(interaction) {
            return refusal;
        }
        let Some(reference) = SubjectRef::parse(state) else {
            tracing::warn!("a signed retry button names no subject");
            return responses::ephemeral("This button could not be read. Run /channel create again.");
        };
        match self.deps.store.subject(guild_id, &reference).await {
            Ok(Some(_)) => request(&self.deps, interaction, guild_id, reference).await,
            Ok(None) => responses::ephemeral(format!("There is no {reference} in this server any more.")),
            Err(error) => unavailable(error),
        }
    }
}

/// Suggestions for a subject picker: subjects whose name starts with what was typed.
pub(super) async fn subject_choices(
    deps: &CommandDeps,
    guild_id: Id<GuildMarker>,
    typed: &str,
    keep: impl Fn(&Subject) -> bool,
) -> Vec<CommandOptionChoice> {
    let found =
        match deps.store.search_subjects(guild_id, typed.trim(), responses::MAX_AUTOCOMPLETE_CHOICES as u32).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(error = %Report(&error), "autocomplete could not search subjects");
                return Vec::new();
            }
        };
    found
        .into_iter()
        .filter(|subject| keep(subject))
        .filter_map(|subject| choice_for(&subject))
        .take(responses::MAX_AUTOCOMPLETE_CHOICES)
        .collect()
}

/// A subject as a choice; `None` when its reference is longer than a choice value may be
/// (`lead:` plus a 100-character id): it is left out rather than spoil the whole answer.
fn choice_for(subject: &Subject) -> Option<CommandOptionChoice> {
    let value = subject.subject.to_string();
    if value.chars().count() > MAX_CHOICE_VALUE_CHARS {
        tracing::debug!(subject = %subject.subject, "too long to offer as a choice");
        return None;
    }
    Some(CommandOptionChoice {
        name: subject.name.chars().take(MAX_CHOICE_NAME_CHARS).collect(),
        name_localizations: None,
        value: CommandOptionChoiceValue::String(value),
    })
}

#[async_trait]
impl SlashCommand for ChannelCommand {
    async fn run(&self, invocation: &Invocation<'_>) -> InteractionResponse {
        let Some(guild_id) = invocation.guild_id() else {
            return responses::ephemeral("/channel works inside a server, not in direct messages.");
        };
        match invocation.subcommand() {
            Some(("create", options)) => {
                self.create(invocation, guild_id, string_option(options, "name").unwrap_or_default()).await
            }
            Some(("info", _)) => self.info(invocation, guild_id).await,
            Some(("archive", options)) => self.archive(invocation, guild_id, string_option(options, "reason")).await,
            _ => responses::ephemeral("Use /channel create, /channel info or /channel archive."),
        }
    }

    async fn autocomplete(&self, invocation: &Invocation<'_>) -> Vec<CommandOptionChoice> {
        match (invocation.guild_id(), invocation.focused()) {
            (Some(guild_id), Some(("name", typed))) => subject_choices(&self.deps, guild_id, typed, |_| true).await,
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SubjectKind;

    fn subject(kind: SubjectKind, id: &str) -> Subject {
        Subject {
            signups: None,
            relay: None,
            subject: SubjectRef::new(kind, id),
            name: "n".repeat(150),
            fields: Default::default(),
            signup_url: None,
            starts_at: None,
            discord_user_id: None,
            ends_at: None,
        }
    }

    #[test]
    fn autocomplete_choices_stay_within_discords_value_limit() {
        let long = subject(SubjectKind::Adhoc, &"x".repeat(100));
        assert_eq!(choice_for(&long), None, "adhoc: + 100 characters is 106");
        let fits = subject(SubjectKind::Lead, &"y".repeat(95));
        let choice = choice_for(&fits).expect("lead: + 95 is 100");
        let CommandOptionChoiceValue::String(value) = &choice.value else { panic!("a string choice") };
        assert_eq!(value.chars().count(), 100);
        assert_eq!(choice.name.chars().count(), MAX_CHOICE_NAME_CHARS);
    }
}
