//! The channel worker: creates, archives and messages subjects' channels, exactly once per
//! subject however often a job is delivered (rule 4), reporting back to whoever asked.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use twilight_model::{
    channel::{
        ChannelType,
        permission_overwrite::{PermissionOverwrite, PermissionOverwriteType},
    },
    guild::Permissions,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, UserMarker},
    },
};

use super::plan::{self, CategoryChoice, ChannelPlan};
use crate::{
    discord::rest::{CreateChannel, DiscordClient, DiscordError, MessageBody, ModifyChannel, PermanentKind},
    queue::{
        InteractionReply, Job,
        worker::{Attempt, JobHandler, JobOutcome, edit_deferred_answer},
    },
    settings::{ArchiveMode, GuildSettings},
    store::{ChannelIds, ChannelMapping, ClaimOutcome, DomainStore, MappingStatus, StoreError, Subject, SubjectRef},
};

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
    clock: fn() -> u64,
}

/// Why creating failed, sorted by what to do about it.
enum Failure {
    Discord(DiscordError),
    Store(StoreError),
    /// The plan itself cannot be made (the naming pattern yields no valid name).
    Plan(String),
}

impl Failure {
    fn explain(&self) -> String {
        match self {
            Failure::Discord(error) => error.explain(),
            Failure::Store(error) => error.to_string(),
            Failure::Plan(reason) => reason.clone(),
        }
    }

    /// Retrying may succeed: when, and why it failed.
    fn retry(&self) -> Option<Duration> {
        match self {
            Failure::Discord(error) if !error.is_permanent() => error.retry_after(),
            Failure::Store(error) if error.is_retryable() => Some(Duration::from_secs(2)),
            _ => None,
        }
    }
}

impl From<DiscordError> for Failure {
    fn from(error: DiscordError) -> Self {
        Failure::Discord(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

/// The voice channels a plan may ask for.
#[derive(Clone, Copy)]
enum Voice {
    Race,
    Practice,
}

/// A store error outside a claim: retried while the store may recover; otherwise the job
/// can never succeed as it is, so it is given up on with the reason (dead-lettered and
/// recorded), not recycled as "storage busy" until the queue gives up.
fn store_failure(error: StoreError) -> JobOutcome {
    if error.is_retryable() {
        JobOutcome::storage_busy(error)
    } else {
        JobOutcome::Reject { reason: format!("storage: {error}") }
    }
}

/// `<#id>`: Discord renders it as a link to the channel.
fn mention(channel: Id<ChannelMarker>) -> String {
    format!("<#{channel}>")
}

fn new_claim_token() -> String {
    let mut random = [0u8; 16];
    if getrandom::fill(&mut random).is_err() {
        // Uniqueness, not secrecy, is what matters here; time and a counter-free RNG suffice.
        random = fastrand::u128(..).to_le_bytes();
    }
    hex::encode(random)
}

impl std::fmt::Debug for ChannelWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelWorker").field("bot_user_id", &self.bot_user_id).finish_non_exhaustive()
    }
}

impl ChannelWorker {
    pub fn new(store: Arc<dyn DomainStore>, discord: DiscordClient, bot_user_id: Id<UserMarker>) -> Self {
        Self {
            store,
            discord,
            bot_user_id,
            claim_stale_after: crate::config::DEFAULT_CLAIM_STALE_AFTER,
            clock: crate::discord::simulate::unix_now,
        }
    }

    pub fn with_claim_stale_after(mut self, after: Duration) -> Self {
        self.claim_stale_after = after;
        self
    }

    pub fn with_clock(mut self, clock: fn() -> u64) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }

    async fn create(
        &self,
        guild_id: Id<GuildMarker>,
        reference: SubjectRef,
        requested_by: Option<Id<UserMarker>>,
        reply: Option<InteractionReply>,
        attempt: Attempt,
    ) -> JobOutcome {
        let settings = match self.store.settings(guild_id).await {
            Ok(versioned) => versioned.settings,
            Err(error) => return store_failure(error),
        };
        let subject = match self.store.subject(guild_id, &reference).await {
            Ok(Some(subject)) => subject,
            Ok(None) => {
                let text = format!("Guildbridge has no record of {reference} in this server, so no channel was made.");
                self.report(&settings, reply.as_ref(), &text, attempt).await;
                return JobOutcome::Done;
            }
            Err(error) => return store_failure(error),
        };
        let token = new_claim_token();
        let claimed = match self.store.claim(guild_id, &reference, &token, requested_by, self.now()).await {
            Ok(claimed) => claimed,
            Err(error) => return store_failure(error),
        };
        let (claim, reconcile) = match claimed {
            ClaimOutcome::Claimed(claim) => (claim, false),
            ClaimOutcome::Reclaimed(claim) => (claim, true),
            ClaimOutcome::Existing(existing) => {
                match self.existing(guild_id, &settings, existing, &token, reply.as_ref(), attempt).await {
                    Ok(claim) => (claim, true),
                    Err(outcome) => return outcome,
                }
            }
        };
        match self.build(guild_id, &subject, &settings, claim, reconcile, attempt).await {
            Ok(channels) => self.finish(guild_id, &subject, &settings, &token, channels, reply.as_ref(), attempt).await,
            // Another attempt took the claim over (this one was thought crashed): its report wins.
            Err(Failure::Store(StoreError::Conflict(_))) => JobOutcome::Done,
            Err(failure) => self.fail(guild_id, &reference, &settings, &token, failure, reply.as_ref(), attempt).await,
        }
    }

    /// Someone claimed the subject first. Done or archived: answer with what is there. Being
    /// created: wait for that attempt, unless it is stale, then take it over (`Ok`: the claim
    /// taken over; go on and build, reconciling first).
    async fn existing(
        &self,
        guild_id: Id<GuildMarker>,
        settings: &GuildSettings,
        existing: ChannelMapping,
        token: &str,
        reply: Option<&InteractionReply>,
        attempt: Attempt,
    ) -> Result<ChannelMapping, JobOutcome> {
        let text = match existing.status {
            MappingStatus::Active | MappingStatus::Completed => match existing.channels.text {
                Some(channel) => format!("{} already has its channel: {}", existing.subject, mention(channel)),
                None => format!("{}'s channels already exist.", existing.subject),
            },
            MappingStatus::Archived => format!("{}'s channel was archived.", existing.subject),
            MappingStatus::Error | MappingStatus::Creating => {
                let age = self.now().saturating_sub(existing.updated_at);
                let stale = self.claim_stale_after.as_secs();
                if age < stale {
                    let reason = format!("another attempt is creating {}'s channel", existing.subject);
                    return Err(JobOutcome::Retry { after: Duration::from_secs(stale - age), reason });
                }
                let taken =
                    self.store.take_over(guild_id, &existing.subject, &existing.claim_token, token, self.now()).await;
                return match taken {
                    Ok(claim) => Ok(claim),
                    Err(StoreError::Conflict(_)) => Err(JobOutcome::Retry {
                        after: Duration::from_secs(1),
                        reason: "another attempt took over the claim first".to_owned(),
                    }),
                    Err(error) => Err(store_failure(error)),
                };
            }
        };
        self.report(settings, reply, &text, attempt).await;
        Err(JobOutcome::Done)
    }

    /// Creates what the plan asks for and does not exist yet, recording each channel in the
    /// claim as soon as it exists, so a later attempt adopts it and nothing else.
    async fn build(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &Subject,
        settings: &GuildSettings,
        mut claim: ChannelMapping,
        reconcile: bool,
        attempt: Attempt,
    ) -> Result<ChannelIds, Failure> {
        let plan = plan::plan(subject, settings, guild_id, self.bot_user_id)
            .map_err(|error| Failure::Plan(format!("the naming pattern gives no usable name: {error}")))?;
        let needs_list = reconcile || plan.series.is_some();
        let channels = if needs_list { self.discord.guild_channels(guild_id, attempt.deadline).await? } else { vec![] };
        let mut ids = if reconcile {
            plan::already_created(&plan, &subject.subject, &claim.channels, &channels)
        } else {
            ChannelIds::default()
        };
        let reason = format!("Guildbridge: channel for {}", subject.subject);
        if ids.category.is_none() {
            ids.category = match plan::choose_category(plan.series.as_deref(), plan.channel_count(), &channels) {
                CategoryChoice::None => None,
                CategoryChoice::Existing(id) => Some(id),
                CategoryChoice::Create(name) => {
                    let body = self.channel_body(&name, ChannelType::GuildCategory, None, None, &plan);
                    let id =
                        self.discord.create_guild_channel(guild_id, &body, Some(&reason), attempt.deadline).await?.id;
                    ids.category = Some(id);
                    claim = self.store.record_created(guild_id, &claim, ids.clone(), self.now()).await?;
                    Some(id)
                }
            };
        }
        // Voice channels first: the text channel carries the marker, so once it exists the
        // whole set does; each voice channel is recorded in the claim as it is made.
        for voice in [Voice::Race, Voice::Practice] {
            let (wanted, made) = match voice {
                Voice::Race => (&plan.voice, ids.voice),
                Voice::Practice => (&plan.practice_voice, ids.practice_voice),
            };
            if let (Some(name), None) = (wanted, made) {
                let body = self.channel_body(name, ChannelType::GuildVoice, ids.category, None, &plan);
                let id = self.discord.create_guild_channel(guild_id, &body, Some(&reason), attempt.deadline).await?.id;
                match voice {
                    Voice::Race => ids.voice = Some(id),
                    Voice::Practice => ids.practice_voice = Some(id),
                }
                claim = self.store.record_created(guild_id, &claim, ids.clone(), self.now()).await?;
            }
        }
        if let (Some(name), None) = (&plan.text, ids.text) {
            let body = self.channel_body(name, ChannelType::GuildText, ids.category, Some(plan.topic.clone()), &plan);
            ids.text =
                Some(self.discord.create_guild_channel(guild_id, &body, Some(&reason), attempt.deadline).await?.id);
        }
        Ok(ids)
    }

    fn channel_body(
        &self,
        name: &str,
        kind: ChannelType,
        parent_id: Option<Id<ChannelMarker>>,
        topic: Option<String>,
        plan: &ChannelPlan,
    ) -> CreateChannel {
        let overwrites = if kind == ChannelType::GuildCategory { Vec::new() } else { plan.overwrites.clone() };
        CreateChannel { name: name.to_owned(), kind, parent_id, topic, permission_overwrites: overwrites }
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &Subject,
        settings: &GuildSettings,
        token: &str,
        channels: ChannelIds,
        reply: Option<&InteractionReply>,
        attempt: Attempt,
    ) -> JobOutcome {
        let text_channel = channels.text;
        match self.store.complete(guild_id, &subject.subject, token, channels, self.now()).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                // Another attempt took the claim over (we were thought crashed); it finds these
                // channels by their marker, so nothing is made twice. Its report wins.
                return JobOutcome::Done;
            }
            // Retryable or not, `fail` records why on the mapping and tells whoever asked
            // (a channel already mapped to another subject will not free itself by retrying).
            Err(error) => {
                let failure = Failure::Store(error);
                return self.fail(guild_id, &subject.subject, settings, token, failure, reply, attempt).await;
            }
        }
        if let (Some(welcome), Some(channel)) = (settings.welcome_message.as_deref(), text_channel) {
            let body = MessageBody::once(welcome, welcome_nonce(&subject.subject));
            if let Err(error) = self.discord.create_message(channel, &body, attempt.deadline).await {
                tracing::warn!(%error, subject = %subject.subject, "welcome message not posted");
            }
        }
        let text = match text_channel {
            Some(channel) => format!("Created {} for {}.", mention(channel), subject.name),
            None => format!("Created the channels for {}.", subject.name),
        };
        self.announce(settings, reply, &text, settings.notifications.on_channel_created, attempt).await;
        JobOutcome::Done
    }

    #[allow(clippy::too_many_arguments)]
    async fn fail(
        &self,
        guild_id: Id<GuildMarker>,
        reference: &SubjectRef,
        settings: &GuildSettings,
        token: &str,
        failure: Failure,
        reply: Option<&InteractionReply>,
        attempt: Attempt,
    ) -> JobOutcome {
        let reason = failure.explain();
        let retry = failure.retry().filter(|_| !attempt.is_last());
        let recorded = match (&retry, failure.retry()) {
            (Some(_), _) => format!("will retry: {reason}"),
            (None, Some(_)) => crate::queue::worker::gave_up(attempt.receives, &reason),
            (None, None) => reason.clone(),
        };
        // `error` frees the claim: the retry (or a later request) reclaims it and reconciles.
        if let Err(error) = self.store.mark_error(guild_id, reference, token, &recorded, self.now()).await {
            tracing::warn!(%error, subject = %reference, "could not record the failure");
        }
        if let Some(after) = retry {
            return JobOutcome::Retry { after, reason };
        }
        let text = format!("Couldn't create the channel for {reference}: {reason}");
        self.announce(settings, reply, &text, settings.notifications.on_error, attempt).await;
        match failure.retry() {
            // The last attempt of a retryable failure: SQS dead-letters it, the reason is recorded.
            Some(after) => JobOutcome::Retry { after, reason: recorded },
            None => JobOutcome::Done,
        }
    }

    async fn archive(
        &self,
        guild_id: Id<GuildMarker>,
        reference: SubjectRef,
        reason: String,
        reply: Option<InteractionReply>,
        attempt: Attempt,
    ) -> JobOutcome {
        let settings = match self.store.settings(guild_id).await {
            Ok(versioned) => versioned.settings,
            Err(error) => return store_failure(error),
        };
        let mapping = match self.store.mapping(guild_id, &reference).await {
            Ok(mapping) => mapping,
            Err(error) => return store_failure(error),
        };
        let mapping = match mapping {
            Some(mapping) if matches!(mapping.status, MappingStatus::Active | MappingStatus::Completed) => mapping,
            Some(mapping) if mapping.status == MappingStatus::Archived => {
                let text = format!("{reference}'s channel is already archived.");
                self.report(&settings, reply.as_ref(), &text, attempt).await;
                return JobOutcome::Done;
            }
            _ => {
                let text = format!("{reference} has no active channel to archive.");
                self.report(&settings, reply.as_ref(), &text, attempt).await;
                return JobOutcome::Done;
            }
        };
        if let Err(error) = self.archive_channels(guild_id, &settings, &mapping.channels, &reason, attempt).await {
            if let (false, Some(after)) = (error.is_permanent(), error.retry_after()) {
                return JobOutcome::Retry { after, reason: error.explain() };
            }
            let text = format!("Couldn't archive {reference}'s channel: {}", error.explain());
            self.report(&settings, reply.as_ref(), &text, attempt).await;
            return JobOutcome::Done;
        }
        match self.store.archive(guild_id, &reference, &reason, self.now()).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(error) => return store_failure(error),
        }
        let text = match settings.archive_mode {
            ArchiveMode::Lock => format!("Archived {reference}'s channel (locked). Reason: {reason}"),
            ArchiveMode::Delete => format!("Deleted {reference}'s channels. Reason: {reason}"),
        };
        self.report(&settings, reply.as_ref(), &text, attempt).await;
        JobOutcome::Done
    }

    /// Locks (moving to the archive category when one is set) or deletes each channel. Safe
    /// to repeat: a channel already gone counts as done.
    async fn archive_channels(
        &self,
        guild_id: Id<GuildMarker>,
        settings: &GuildSettings,
        channels: &ChannelIds,
        reason: &str,
        attempt: Attempt,
    ) -> Result<(), DiscordError> {
        let audit = format!("Guildbridge archive: {reason}");
        // Locking rewrites every overwrite a channel has, so it needs to see them first.
        let guild_channels = match settings.archive_mode {
            ArchiveMode::Lock => self.discord.guild_channels(guild_id, attempt.deadline).await?,
            ArchiveMode::Delete => Vec::new(),
        };
        for channel in channels.owned() {
            let result = match settings.archive_mode {
                ArchiveMode::Delete => {
                    self.discord.delete_channel(channel, Some(&audit), attempt.deadline).await.map(drop)
                }
                ArchiveMode::Lock => {
                    let Some(current) = guild_channels.iter().find(|c| c.id == channel) else { continue };
                    let overwrites = current.permission_overwrites.clone().unwrap_or_default();
                    self.lock(guild_id, settings, channel, &overwrites, &audit, attempt).await
                }
            };
            match result {
                Err(error) if error.permanent_kind() == Some(PermanentKind::UnknownChannel) => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Nobody may send or connect any more: @everyone is denied, and so is every other
    /// overwrite on the channel (a private channel's owner, roles Guildbridge or an admin
    /// let in), which would otherwise still allow it. The bot keeps its own access.
    async fn lock(
        &self,
        guild_id: Id<GuildMarker>,
        settings: &GuildSettings,
        channel: Id<ChannelMarker>,
        overwrites: &[PermissionOverwrite],
        audit: &str,
        attempt: Attempt,
    ) -> Result<(), DiscordError> {
        if let Some(category) = settings.archive_category_id {
            let body = ModifyChannel { parent_id: Some(category), ..ModifyChannel::default() };
            self.discord.modify_channel(channel, &body, Some(audit), attempt.deadline).await?;
        }
        let silenced = Permissions::SEND_MESSAGES | Permissions::CONNECT;
        let mut deny = silenced;
        if settings.private_channels {
            deny |= Permissions::VIEW_CHANNEL;
        }
        let everyone = PermissionOverwrite {
            id: guild_id.cast(),
            kind: PermissionOverwriteType::Role,
            allow: Permissions::empty(),
            deny,
        };
        self.discord.edit_permission_overwrite(channel, &everyone, Some(audit), attempt.deadline).await?;
        let bot = self.bot_user_id.cast();
        for overwrite in overwrites.iter().filter(|o| o.id != everyone.id && o.id != bot) {
            if overwrite.deny.contains(silenced) && !overwrite.allow.intersects(silenced) {
                continue;
            }
            let locked = PermissionOverwrite {
                allow: overwrite.allow - silenced,
                deny: overwrite.deny | silenced,
                ..*overwrite
            };
            self.discord.edit_permission_overwrite(channel, &locked, Some(audit), attempt.deadline).await?;
        }
        Ok(())
    }

    async fn send_message(
        &self,
        guild_id: Id<GuildMarker>,
        reference: SubjectRef,
        content: String,
        message_key: String,
        attempt: Attempt,
    ) -> JobOutcome {
        let channel = match self.store.mapping(guild_id, &reference).await {
            Ok(Some(mapping)) if mapping.status == MappingStatus::Active => mapping.channels.text,
            Ok(_) => None,
            Err(error) => return store_failure(error),
        };
        let Some(channel) = channel else {
            tracing::warn!(subject = %reference, "no active text channel; message dropped");
            return JobOutcome::Done;
        };
        let body = MessageBody::once(content, message_nonce(&message_key));
        match self.discord.create_message(channel, &body, attempt.deadline).await {
            Ok(_) => JobOutcome::Done,
            Err(error) if error.is_permanent() => {
                tracing::warn!(subject = %reference, error = %error.explain(), "message not posted");
                JobOutcome::Done
            }
            Err(error) => JobOutcome::Retry {
                after: error.retry_after().unwrap_or(Duration::from_secs(5)),
                reason: error.explain(),
            },
        }
    }

    /// Tells whoever asked: edits the interaction's deferred answer while its token lives;
    /// after that the guild's log channel (when set) is the place.
    async fn report(&self, settings: &GuildSettings, reply: Option<&InteractionReply>, text: &str, attempt: Attempt) {
        self.announce(settings, reply, text, false, attempt).await;
    }

    /// Reports to whoever asked and, when the guild's notification settings ask for this kind
    /// of event (`to_log`), to the log channel: whether a person or the platform asked. The
    /// log channel gets the text once, also when it stands in for an expired interaction.
    async fn announce(
        &self,
        settings: &GuildSettings,
        reply: Option<&InteractionReply>,
        text: &str,
        to_log: bool,
        attempt: Attempt,
    ) {
        let answered = match reply {
            Some(reply) => edit_deferred_answer(&self.discord, reply, text, self.now(), attempt.deadline).await,
            None => false,
        };
        if to_log || (reply.is_some() && !answered) {
            self.log(settings, text, attempt).await;
        }
    }

    async fn log(&self, settings: &GuildSettings, text: &str, attempt: Attempt) {
        let Some(channel) = settings.notifications.log_channel_id else { return };
        if let Err(error) = self.discord.create_message(channel, &MessageBody::text(text), attempt.deadline).await {
            tracing::warn!(%error, "could not post to the log channel");
        }
    }
}

/// Discord drops a second message with the same nonce (`enforce_nonce`) for a few minutes.
fn welcome_nonce(subject: &SubjectRef) -> String {
    message_nonce(&format!("welcome:{subject}"))
}

/// Nonces are at most 25 characters.
fn message_nonce(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))[..25].to_owned()
}

#[async_trait]
impl JobHandler for ChannelWorker {
    async fn handle(&self, job: Job, attempt: Attempt) -> JobOutcome {
        match job {
            Job::CreateChannels { guild_id, subject, requested_by, reply } => {
                self.create(guild_id, subject, requested_by, reply, attempt).await
            }
            Job::ArchiveChannel { guild_id, subject, reason, reply } => {
                self.archive(guild_id, subject, reason, reply, attempt).await
            }
            Job::SendMessage { guild_id, subject, content, message_key } => {
                self.send_message(guild_id, subject, content, message_key, attempt).await
            }
            Job::SyncMembers { .. } => {
                JobOutcome::Reject { reason: "a member sync job reached the channel queue".to_owned() }
            }
        }
    }
}
