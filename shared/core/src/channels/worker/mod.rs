//! The channel worker: creates ([`create`]), archives ([`archive`]) and messages subjects'
//! channels, exactly once per subject however often a job is delivered, reporting back to
//! whoever asked.

mod access;
mod archive;
mod board;
mod create;
mod dms;
mod team_voice;
mod teams;
#[cfg(test)]
mod tests;

use crate::domain::error::Report;
use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, UserMarker},
};

pub use self::create::RETRY_BUTTON;

/// The "Remind me" button on reminders: its handler name, and the state that opts in
/// (`REMIND_OFF` opts out again).
pub const REMIND_BUTTON: &str = "remind";
pub const REMIND_ON: &str = "on";
pub const REMIND_OFF: &str = "off";
use crate::{
    discord::{
        custom_id::StateKey,
        responses::action_button_row,
        rest::{DiscordClient, MessageBody},
    },
    domain::{ClaimToken, GuildSettings, InteractionReply, Job, MessageParts, SubjectRef},
    outbox::{EventSink, NoEvents},
    store::DomainStore,
    worker::{Attempt, JobHandler, JobOutcome, edit_deferred_answer, post_to_log, store_failure},
};

/// A channel claim older than this is taken to belong to a crashed attempt (longer than the
/// channel worker's timeout, so the attempt cannot still be running).
pub const DEFAULT_CLAIM_STALE_AFTER: Duration = Duration::from_secs(120);

/// What the channel worker needs, built once at init.
#[derive(Clone)]
pub struct ChannelWorker {
    store: Arc<dyn DomainStore>,
    discord: DiscordClient,
    /// The bot's own user id (a bot application's id): private channels let it in.
    bot_user_id: Id<UserMarker>,
    /// A claim older than this belongs to an attempt that can no longer be running (longer
    /// than the function's timeout): it is reconciled and taken over.
    claim_stale_after: Duration,
    /// Signs the "Retry" button on a failed answer.
    state_key: StateKey,
    clock: crate::clock::SharedClock,
    /// Where "channel created / failed / archived" go.
    events: Arc<dyn EventSink>,
}

/// Time the leave job keeps back from deleting data, to leave the guild and answer.
const LEAVE_MARGIN: Duration = Duration::from_secs(5);

/// One job's context: the guild, its settings, whoever asked, and this attempt.
struct JobContext<'a> {
    guild_id: Id<GuildMarker>,
    settings: GuildSettings,
    reply: Option<&'a InteractionReply>,
    attempt: Attempt,
}

/// `<#id>`: Discord renders it as a link to the channel.
fn mention(channel: Id<ChannelMarker>) -> String {
    format!("<#{channel}>")
}

fn new_claim_token() -> ClaimToken {
    let mut random = [0u8; 16];
    if getrandom::fill(&mut random).is_err() {
        // Uniqueness, not secrecy, is what matters here; time and a counter-free RNG suffice.
        random = fastrand::u128(..).to_le_bytes();
    }
    ClaimToken::new(hex::encode(random))
}

impl std::fmt::Debug for ChannelWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelWorker").field("bot_user_id", &self.bot_user_id).finish_non_exhaustive()
    }
}

impl ChannelWorker {
    pub fn new(
        store: Arc<dyn DomainStore>,
        discord: DiscordClient,
        bot_user_id: Id<UserMarker>,
        state_key: StateKey,
    ) -> Self {
        Self {
            store,
            discord,
            bot_user_id,
            claim_stale_after: DEFAULT_CLAIM_STALE_AFTER,
            state_key,
            clock: crate::clock::system(),
            events: Arc::new(NoEvents),
        }
    }

    pub fn with_events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    pub fn with_claim_stale_after(mut self, after: Duration) -> Self {
        self.claim_stale_after = after;
        self
    }

    pub fn with_clock(mut self, clock: crate::clock::SharedClock) -> Self {
        self.clock = clock;
        self
    }

    async fn send_message(
        &self,
        guild_id: Id<GuildMarker>,
        reference: SubjectRef,
        body: MessageBody,
        attempt: Attempt,
    ) -> JobOutcome {
        let channel = match self.store.mapping(guild_id, &reference).await {
            Ok(Some(mapping)) if mapping.status.is_open() => mapping.channels.text,
            Ok(_) => None,
            Err(error) => return store_failure(error),
        };
        let Some(channel) = channel else {
            // Given up with its reason, so whoever sent it sees why (the job's record, the
            // dead letters) rather than a message that silently went nowhere.
            tracing::warn!(subject = %reference, "no active text channel; message not posted");
            return JobOutcome::Reject { reason: format!("{reference} has no active text channel") };
        };
        self.post(channel, &reference, body, attempt).await
    }

    /// A message in a team's thread, once the thread exists.
    async fn send_team_message(
        &self,
        guild_id: Id<GuildMarker>,
        reference: SubjectRef,
        team: crate::domain::TeamId,
        body: MessageBody,
        attempt: Attempt,
    ) -> JobOutcome {
        let thread = match self.store.team(guild_id, &reference, &team).await {
            Ok(Some((team, state))) if !team.removed && !state.archived => state.thread_id,
            Ok(_) => return JobOutcome::Reject { reason: format!("{reference} has no active team {team}") },
            Err(error) => return store_failure(error),
        };
        match thread {
            Some(thread) => self.post(thread, &reference, body, attempt).await,
            None => JobOutcome::Retry {
                after: Duration::from_secs(10),
                reason: format!("team {team}'s thread is still being created"),
            },
        }
    }

    /// A message to post once (by `nonce`): its text, embeds and buttons, with mentions
    /// silenced unless the sender allowed them.
    fn message_body(&self, content: String, nonce: String, parts: MessageParts, allow_mentions: bool) -> MessageBody {
        let mut body = MessageBody::once(content, nonce);
        if body.content.as_deref().is_some_and(str::is_empty) {
            body.content = None;
        }
        if !parts.embeds.is_empty() {
            body.embeds = Some(parts.embeds);
        }
        let mut components = parts.components;
        if parts.remind_button {
            match self.state_key.sign(REMIND_BUTTON, REMIND_ON) {
                Ok(custom_id) => components.push(action_button_row("Remind me", custom_id)),
                Err(error) => tracing::warn!(error = %Report(&error), "the Remind me button could not be signed"),
            }
        }
        if !components.is_empty() {
            body.components = Some(components);
        }
        // Nobody is pinged unless the sender allowed it, and then only the users mentioned.
        if allow_mentions { body.pinging_users() } else { body }
    }

    async fn post(
        &self,
        channel: Id<ChannelMarker>,
        reference: &SubjectRef,
        body: MessageBody,
        attempt: Attempt,
    ) -> JobOutcome {
        match self.discord.create_message(channel, &body, attempt.deadline).await {
            Ok(message) => JobOutcome::DoneWith(serde_json::json!({
                "message_id": message.id.to_string(),
                "channel_id": channel.to_string(),
            })),
            Err(error) if error.is_permanent() => {
                tracing::warn!(subject = %reference, error = %error.explain(), "message not posted");
                JobOutcome::Reject { reason: error.explain() }
            }
            Err(error) => JobOutcome::Retry {
                after: error.retry_after().unwrap_or(Duration::from_secs(5)),
                reason: error.explain(),
            },
        }
    }

    /// The bot leaves a disconnected guild, deleting what was kept for its tenant, unless a
    /// tenant connected it again since (the bot is theirs now). A guild the bot is already
    /// out of counts as left.
    async fn leave_guild(&self, guild_id: Id<GuildMarker>, attempt: Attempt) -> JobOutcome {
        match self.store.tenant_of(guild_id).await {
            Ok(Some(_)) => return JobOutcome::DoneWith(serde_json::json!({ "left": false, "reconnected": true })),
            Ok(None) => {}
            Err(error) => return store_failure(error),
        }
        // The guild's data was the tenant's: relays first (nothing of the guild is polled
        // any more), then everything else, while this invocation has time; the ticks finish it.
        match self.store.unwatch_guild_relays(guild_id).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(%guild_id, removed, "relays of a disconnected guild stopped"),
            Err(error) => return store_failure(error),
        }
        let until = attempt.deadline.checked_sub(LEAVE_MARGIN).unwrap_or_else(tokio::time::Instant::now);
        let forgotten = match crate::forget::forget_guild(self.store.as_ref(), guild_id, until).await {
            Ok(report) => report,
            Err(error) => return store_failure(error),
        };
        let left = |left: bool| {
            JobOutcome::DoneWith(serde_json::json!({
                "left": left, "deleted": forgotten.deleted, "all_deleted": forgotten.finished > 0,
            }))
        };
        match self.discord.leave_guild(guild_id, attempt.deadline).await {
            Ok(()) => left(true),
            Err(error) if error.permanent_kind() == Some(crate::discord::rest::PermanentKind::UnknownGuild) => {
                left(true)
            }
            Err(error) if error.is_permanent() => JobOutcome::Reject { reason: error.explain() },
            Err(error) => JobOutcome::Retry {
                after: error.retry_after().unwrap_or(Duration::from_secs(5)),
                reason: error.explain(),
            },
        }
    }

    /// Tells whoever asked: edits the interaction's deferred answer while its token lives;
    /// after that the guild's log channel (when set) is the place.
    async fn report(&self, job: &JobContext<'_>, text: &str) {
        self.announce(job, &MessageBody::text(text), false).await;
    }

    /// Answers whoever asked and, when the guild's notification settings ask for this kind
    /// of event (`to_log`), the log channel: whether a person or the platform asked. The
    /// log channel gets the text once, also when it stands in for an expired interaction.
    async fn announce(&self, job: &JobContext<'_>, answer: &MessageBody, to_log: bool) {
        let deadline = job.attempt.deadline;
        let answered = match job.reply {
            Some(reply) => edit_deferred_answer(&self.discord, reply, answer, self.clock.now(), deadline).await,
            None => false,
        };
        let text = answer.content.as_deref().unwrap_or_default();
        if let (true, Some(channel)) = (to_log || (job.reply.is_some() && !answered), job.settings.log_channel()) {
            post_to_log(&self.discord, self.store.as_ref(), job.guild_id, channel, text, deadline).await;
        }
    }

    /// The job's context: the guild's settings are read once, for the whole job.
    async fn context<'a>(
        &self,
        guild_id: Id<GuildMarker>,
        reply: Option<&'a InteractionReply>,
        attempt: Attempt,
    ) -> Result<JobContext<'a>, JobOutcome> {
        match self.store.settings(guild_id).await {
            Ok(versioned) => Ok(JobContext { guild_id, settings: versioned.settings, reply, attempt }),
            Err(error) => Err(store_failure(error)),
        }
    }
}

/// Discord drops a second message with the same nonce (`enforce_nonce`) for a few minutes.
fn welcome_nonce(guild_id: Id<GuildMarker>, subject: &SubjectRef) -> String {
    message_nonce(&format!("welcome:{guild_id}:{subject}"))
}

/// Discord's `enforce_nonce` is per author, and the bot is the author in every guild: a
/// nonce's key names the guild, the subject and the message (and the team or the member), so
/// two events' reminders never collide. Nonces are at most 25 characters.
fn message_nonce(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))[..25].to_owned()
}

#[async_trait]
impl JobHandler for ChannelWorker {
    async fn handle(&self, job: Job, attempt: Attempt) -> JobOutcome {
        match job {
            Job::CreateChannels { guild_id, subject, requested_by, reply, .. } => {
                match self.context(guild_id, reply.as_ref(), attempt).await {
                    Ok(job) => self.create(&job, subject, requested_by).await,
                    Err(outcome) => outcome,
                }
            }
            Job::ArchiveChannel { guild_id, subject, reason, reply } => {
                match self.context(guild_id, reply.as_ref(), attempt).await {
                    Ok(job) => self.archive(&job, subject, reason).await,
                    Err(outcome) => outcome,
                }
            }
            job @ Job::SendMessage { .. } => {
                // The job's key names the guild, the subject, the message and the team.
                let nonce = message_nonce(job.idempotency_key().as_str());
                let Job::SendMessage { guild_id, subject, content, allow_mentions, reply_to, parts, team, .. } = job
                else {
                    return JobOutcome::Reject { reason: "not a message job".to_owned() };
                };
                let mut body = self.message_body(content, nonce, parts, allow_mentions);
                if let Some(message) = reply_to {
                    body = body.replying_to(message);
                }
                match team {
                    Some(team) => self.send_team_message(guild_id, subject, team, body, attempt).await,
                    None => self.send_message(guild_id, subject, body, attempt).await,
                }
            }
            Job::RemindByDm { guild_id, subject, user_id, message_key, content, parts } => {
                let nonce = message_nonce(&format!("dm:{guild_id}:{user_id}:{subject}:{message_key}"));
                let body = self.message_body(content, nonce, parts, false);
                self.remind_by_dm(&subject, user_id, &body, attempt).await
            }
            Job::SyncTeam { guild_id, subject, team_id, .. } => match self.context(guild_id, None, attempt).await {
                Ok(job) => self.sync_team(&job, subject, team_id).await,
                Err(outcome) => outcome,
            },
            Job::UpdateBoard { guild_id, subject, .. } => match self.context(guild_id, None, attempt).await {
                Ok(job) => self.update_board(&job, subject).await,
                Err(outcome) => outcome,
            },
            Job::SyncMembers { .. } => {
                JobOutcome::Reject { reason: "a member sync job reached the channel queue".to_owned() }
            }
            Job::LeaveGuild { guild_id, .. } => self.leave_guild(guild_id, attempt).await,
            Job::UpdateSubjectAccess { guild_id, subject, add, remove } => {
                self.update_access(guild_id, subject, add, remove, attempt).await
            }
            Job::CreateInvite { guild_id, subject, .. } => self.create_invite(guild_id, subject, attempt).await,
            Job::DeliverWebhook { .. } => {
                JobOutcome::Reject { reason: "a webhook delivery reached the channel queue".to_owned() }
            }
        }
    }
}
