//! Creating a subject's channels: claim, build what is missing (adopting what an earlier
//! attempt made), complete, and answer. A failure the user can fix carries a "Retry" button.

use crate::domain::error::Report;
use std::time::Duration;

use twilight_model::{
    channel::ChannelType,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, UserMarker},
    },
};

use super::{ChannelWorker, JobContext, mention, new_claim_token, store_failure, welcome_nonce};
use crate::{
    channels::plan::{self, CategoryChoice, ChannelPlan},
    discord::{
        responses,
        rest::{CreateChannel, DiscordError, MessageBody},
    },
    domain::{ChannelIds, ChannelMapping, ClaimToken, EventDraft, EventType, MappingStatus, Subject, SubjectRef},
    store::{BOARD_TURN, ClaimOutcome, DueAction, RelayedChannel, StoreError},
    worker::JobOutcome,
};

/// The handler name of the "Retry" button on a failed `/channel create` answer; its signed
/// state is the subject.
pub const RETRY_BUTTON: &str = "channel-retry";

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

impl ChannelWorker {
    pub(super) async fn create(
        &self,
        job: &JobContext<'_>,
        reference: SubjectRef,
        requested_by: Option<Id<UserMarker>>,
    ) -> JobOutcome {
        let subject = match self.store.subject(job.guild_id, &reference).await {
            Ok(Some(subject)) => subject,
            Ok(None) => {
                let text = format!("Guildbridge has no record of {reference} in this server, so no channel was made.");
                self.report(job, &text).await;
                return JobOutcome::Done;
            }
            Err(error) => return store_failure(error),
        };
        let token = new_claim_token();
        let claimed = match self.store.claim(job.guild_id, &reference, &token, requested_by, self.clock.now()).await {
            Ok(claimed) => claimed,
            Err(error) => return store_failure(error),
        };
        let (claim, reconcile) = match claimed {
            ClaimOutcome::Claimed(claim) => (claim, false),
            ClaimOutcome::Reclaimed(claim) => (claim, true),
            ClaimOutcome::Existing(existing) => {
                // A redelivery after the channel was made (perhaps after its event failed to
                // queue): the event again, deduplicated by its id.
                if existing.status == MappingStatus::Active
                    && let Err(outcome) = self.after_created(job.guild_id, &subject, &existing.channels).await
                {
                    return outcome;
                }
                match self.existing(job, existing, &token).await {
                    Ok(claim) => (claim, true),
                    Err(outcome) => return outcome,
                }
            }
        };
        match self.build(job, &subject, claim, reconcile).await {
            Ok(channels) => self.finish(job, &subject, &token, channels).await,
            // Another attempt took the claim over (this one was thought crashed): its report wins.
            Err(Failure::Store(StoreError::Conflict(_))) => JobOutcome::Done,
            Err(failure) => self.fail(job, &reference, &token, failure).await,
        }
    }

    /// Someone claimed the subject first. Done or archived: answer with what is there. Being
    /// created: wait for that attempt, unless it is stale, then take it over (`Ok`: the claim
    /// taken over; go on and build, reconciling first).
    async fn existing(
        &self,
        job: &JobContext<'_>,
        existing: ChannelMapping,
        token: &ClaimToken,
    ) -> Result<ChannelMapping, JobOutcome> {
        let text = match existing.status {
            MappingStatus::Active | MappingStatus::Completed => match existing.channels.text {
                Some(channel) => format!("{} already has its channel: {}", existing.subject, mention(channel)),
                None => format!("{}'s channels already exist.", existing.subject),
            },
            MappingStatus::Archived => format!("{}'s channel was archived.", existing.subject),
            MappingStatus::Error | MappingStatus::Creating => {
                let age = self.clock.now().saturating_sub(existing.updated_at);
                let stale = self.claim_stale_after.as_secs();
                if age < stale {
                    let reason = format!("another attempt is creating {}'s channel", existing.subject);
                    return Err(JobOutcome::Retry { after: Duration::from_secs(stale - age), reason });
                }
                let taken = self
                    .store
                    .take_over(job.guild_id, &existing.subject, &existing.claim_token, token, self.clock.now())
                    .await;
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
        self.report(job, &text).await;
        Err(JobOutcome::Done)
    }

    /// Creates what the plan asks for and does not exist yet, recording each channel in the
    /// claim as soon as it exists, so a later attempt adopts it and nothing else.
    async fn build(
        &self,
        job: &JobContext<'_>,
        subject: &Subject,
        mut claim: ChannelMapping,
        reconcile: bool,
    ) -> Result<ChannelIds, Failure> {
        let (guild_id, deadline) = (job.guild_id, job.attempt.deadline);
        let plan = plan::plan(subject, &job.settings, guild_id, self.bot_user_id)
            .map_err(|error| Failure::Plan(format!("the naming pattern gives no usable name: {error}")))?;
        let needs_list = reconcile || plan.series.is_some();
        let channels = if needs_list { self.discord.guild_channels(guild_id, deadline).await? } else { vec![] };
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
                    let body = channel_body(&name, ChannelType::GuildCategory, None, None, &plan);
                    let id = self.discord.create_guild_channel(guild_id, &body, Some(&reason), deadline).await?.id;
                    ids.category = Some(id);
                    claim = self.store.record_created(guild_id, &claim, ids.clone(), self.clock.now()).await?;
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
                let body = channel_body(name, ChannelType::GuildVoice, ids.category, None, &plan);
                let id = self.discord.create_guild_channel(guild_id, &body, Some(&reason), deadline).await?.id;
                match voice {
                    Voice::Race => ids.voice = Some(id),
                    Voice::Practice => ids.practice_voice = Some(id),
                }
                claim = self.store.record_created(guild_id, &claim, ids.clone(), self.clock.now()).await?;
            }
        }
        if let (Some(name), None) = (&plan.text, ids.text) {
            let body = channel_body(name, ChannelType::GuildText, ids.category, Some(plan.topic.clone()), &plan);
            ids.text = Some(self.discord.create_guild_channel(guild_id, &body, Some(&reason), deadline).await?.id);
        }
        Ok(ids)
    }

    async fn finish(
        &self,
        job: &JobContext<'_>,
        subject: &Subject,
        token: &ClaimToken,
        channels: ChannelIds,
    ) -> JobOutcome {
        let text_channel = channels.text;
        match self.store.complete(job.guild_id, &subject.subject, token, channels.clone(), self.clock.now()).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                // Another attempt took the claim over (we were thought crashed); it finds these
                // channels by their marker, so nothing is made twice. Its report wins.
                return JobOutcome::Done;
            }
            // Retryable or not, `fail` records why on the mapping and tells whoever asked
            // (a channel already mapped to another subject will not free itself by retrying).
            Err(error) => return self.fail(job, &subject.subject, token, Failure::Store(error)).await,
        }
        if let Err(outcome) = self.after_created(job.guild_id, subject, &channels).await {
            return outcome;
        }
        if let (Some(welcome), Some(channel)) = (job.settings.welcome_message.as_deref(), text_channel) {
            let values = crate::domain::subject_values(subject, Some(channel.get()));
            // Validated when saved; an old unvalidated welcome is posted as it was written.
            let text = crate::domain::MessageTemplate::text(welcome)
                .render(&values)
                .ok()
                .and_then(|rendered| rendered.content)
                .unwrap_or_else(|| welcome.to_owned());
            let body = MessageBody::once(text, welcome_nonce(job.guild_id, &subject.subject));
            if let Err(error) = self.discord.create_message(channel, &body, job.attempt.deadline).await {
                tracing::warn!(error = %Report(&error), subject = %subject.subject, "welcome message not posted");
            }
        }
        if subject.signups.is_some() {
            self.first_board(job, subject).await;
        }
        self.bring_in_teams(job, &subject.subject).await;
        let text = match text_channel {
            Some(channel) => format!("Created {} for {}.", mention(channel), subject.name),
            None => format!("Created the channels for {}.", subject.name),
        };
        self.announce(job, &MessageBody::text(text), job.settings.notifications.on_channel_created).await;
        JobOutcome::Done
    }

    /// A subject's sign-ups came before its channel: the board goes up with the channel. If
    /// it cannot, a board turn due now hands it to the schedule rather than losing it.
    async fn first_board(&self, job: &JobContext<'_>, subject: &Subject) {
        let outcome = self.update_board(job, subject.subject.clone()).await;
        if matches!(outcome, JobOutcome::Done | JobOutcome::DoneWith(_)) {
            return;
        }
        tracing::warn!(subject = %subject.subject, ?outcome, "board not posted with its channel; the schedule tries again");
        let due = DueAction {
            guild_id: job.guild_id,
            subject: subject.subject.clone(),
            action: BOARD_TURN.to_owned(),
            at: self.clock.now(),
        };
        if let Err(error) = self.store.plan_action(&due).await {
            tracing::warn!(subject = %subject.subject, error = %Report(&error), "board turn not planned either");
        }
    }

    /// The channel exists: relay it when the subject relays, and tell the platform. `Err`
    /// (retry the job) when either could not be queued or written, so neither is lost.
    pub(super) async fn after_created(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &Subject,
        channels: &ChannelIds,
    ) -> Result<(), JobOutcome> {
        let now = self.clock.now();
        if let (true, Some(text)) = (subject.relays(), channels.text) {
            let relayed = RelayedChannel {
                guild_id,
                subject: subject.subject.clone(),
                channel_id: text,
                cursor: text.cast(),
                next_poll_at: now,
                interval: 0,
                last_message_at: None,
                subject_user: subject.discord_user_id,
                conversation_joined_at: None,
                parked: false,
                parked_reason: None,
            };
            self.store.watch_relay(&relayed).await.map_err(store_failure)?;
        }
        let platform_user = match subject.discord_user_id {
            Some(user) => self.store.link_of_discord_user(guild_id, user).await.map_err(store_failure)?,
            None => None,
        };
        let key = format!("{}:created:{}", subject.subject, channels.text.map_or(0, Id::get));
        let data = serde_json::json!({ "name": subject.name, "channels": channels });
        let created = EventDraft::new(EventType::ChannelCreated, key, now, data)
            .about(&subject.subject)
            .by(platform_user.map(|link| link.platform_user));
        match self.events.emit(guild_id, vec![created]).await {
            Ok(_) => Ok(()),
            Err(error) => Err(JobOutcome::Retry { after: Duration::from_secs(5), reason: error.to_string() }),
        }
    }

    async fn fail(
        &self,
        job: &JobContext<'_>,
        reference: &SubjectRef,
        token: &ClaimToken,
        failure: Failure,
    ) -> JobOutcome {
        let reason = failure.explain();
        let retry = failure.retry().filter(|_| !job.attempt.is_last());
        let recorded = match (&retry, failure.retry()) {
            (Some(_), _) => format!("will retry: {reason}"),
            (None, Some(_)) => crate::worker::gave_up(job.attempt.receives, &reason),
            (None, None) => reason.clone(),
        };
        // `error` frees the claim: the retry (or a later request) reclaims it and reconciles.
        if let Err(error) = self.store.mark_error(job.guild_id, reference, token, &recorded, self.clock.now()).await {
            tracing::warn!(error = %Report(&error), subject = %reference, "could not record the failure");
        }
        if let Some(after) = retry {
            return JobOutcome::Retry { after, reason };
        }
        let now = self.clock.now();
        let failed = EventDraft::new(
            EventType::ChannelFailed,
            format!("{reference}:failed:{now}"),
            now,
            serde_json::json!({ "reason": recorded }),
        )
        .about(reference);
        crate::outbox::emit_logged(self.events.as_ref(), job.guild_id, vec![failed]).await;
        let answer = self.failure_answer(format!("Couldn't create the channel for {reference}: {reason}"), reference);
        self.announce(job, &answer, job.settings.notifications.on_error).await;
        match failure.retry() {
            // The last attempt of a retryable failure: SQS dead-letters it, the reason is recorded.
            Some(after) => JobOutcome::Retry { after, reason: recorded },
            None => JobOutcome::Done,
        }
    }

    /// The failure told with a "Retry" button that asks for the subject's channel again (once
    /// the admin has fixed what the reason names).
    fn failure_answer(&self, text: String, reference: &SubjectRef) -> MessageBody {
        let mut answer = MessageBody::text(text);
        match self.state_key.sign(RETRY_BUTTON, &reference.to_string()) {
            Ok(custom_id) => answer.components = Some(vec![responses::action_button_row("Retry", custom_id)]),
            Err(error) => {
                tracing::warn!(error = %Report(&error), subject = %reference, "the subject does not fit a retry button")
            }
        }
        answer
    }
}

fn channel_body(
    name: &str,
    kind: ChannelType,
    parent_id: Option<Id<ChannelMarker>>,
    topic: Option<String>,
    plan: &ChannelPlan,
) -> CreateChannel {
    let overwrites = if kind == ChannelType::GuildCategory { Vec::new() } else { plan.overwrites.clone() };
    CreateChannel { name: name.to_owned(), kind, parent_id, topic, permission_overwrites: overwrites }
}
