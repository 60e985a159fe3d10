//! A subject's channel after it exists: its Discord user changed (let the new one in, the
//! old one out), or the platform wants an invite into it for a lead not in the guild yet.

use std::time::Duration;

use twilight_model::{
    channel::permission_overwrite::{PermissionOverwrite, PermissionOverwriteType},
    guild::Permissions,
    id::{
        Id,
        marker::{GuildMarker, UserMarker},
    },
};

use super::{ChannelWorker, store_failure};
use crate::{
    channels::plan::SUBJECT_USER_ACCESS,
    discord::rest::{CreateInvite, DiscordError, PermanentKind},
    domain::{ChannelIds, MappingStatus, SubjectRef},
    worker::{Attempt, JobOutcome},
};

/// A single-use invite lasts a week (Discord's longest but "never").
const INVITE_MAX_AGE: u32 = 7 * 24 * 3600;

pub(super) fn discord_outcome(error: DiscordError) -> JobOutcome {
    if error.is_permanent() {
        JobOutcome::Reject { reason: error.explain() }
    } else {
        JobOutcome::Retry { after: error.retry_after().unwrap_or(Duration::from_secs(5)), reason: error.explain() }
    }
}

impl ChannelWorker {
    /// The subject's channels once they exist; `Err` is the job's outcome meanwhile.
    pub(super) async fn live_channels(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
    ) -> Result<ChannelIds, JobOutcome> {
        match self.store.mapping(guild_id, subject).await {
            Ok(Some(mapping)) if mapping.status.is_open() => Ok(mapping.channels),
            Ok(Some(mapping)) if mapping.status == MappingStatus::Creating => Err(JobOutcome::Retry {
                after: Duration::from_secs(10),
                reason: format!("{subject}'s channel is still being created"),
            }),
            Ok(_) => Err(JobOutcome::Reject { reason: format!("{subject} has no active channel") }),
            Err(error) => Err(store_failure(error)),
        }
    }

    /// Lets in whoever the subject names now (`add`, if it still does) and takes `remove`
    /// out. Both calls are idempotent (PUT and DELETE of one overwrite), so a redelivery or
    /// an older job arriving late changes nothing wrongly.
    pub(super) async fn update_access(
        &self,
        guild_id: Id<GuildMarker>,
        subject: SubjectRef,
        add: Option<Id<UserMarker>>,
        remove: Option<Id<UserMarker>>,
        attempt: Attempt,
    ) -> JobOutcome {
        let channels = match self.live_channels(guild_id, &subject).await {
            Ok(channels) => channels,
            Err(outcome) => return outcome,
        };
        let current = match self.store.subject(guild_id, &subject).await {
            Ok(found) => found.and_then(|subject| subject.discord_user_id),
            Err(error) => return store_failure(error),
        };
        let add = add.filter(|user| Some(*user) == current && *user != self.bot_user_id);
        let remove = remove.filter(|user| Some(*user) != current && *user != self.bot_user_id);
        let reason = Some("Guildbridge: the subject's Discord account changed");
        for channel in channels.owned() {
            if let Some(user) = add {
                let overwrite = PermissionOverwrite {
                    id: user.cast(),
                    kind: PermissionOverwriteType::Member,
                    allow: SUBJECT_USER_ACCESS,
                    deny: Permissions::empty(),
                };
                if let Err(error) =
                    self.discord.edit_permission_overwrite(channel, &overwrite, reason, attempt.deadline).await
                {
                    return discord_outcome(error);
                }
            }
            if let Some(user) = remove {
                match self.discord.delete_permission_overwrite(channel, user.cast(), reason, attempt.deadline).await {
                    Ok(()) => {}
                    Err(error) if error.permanent_kind() == Some(PermanentKind::UnknownOther) => {}
                    Err(error) => return discord_outcome(error),
                }
            }
        }
        // The relay compares authors with the subject's user: it follows in the same job.
        if let Err(error) = self.store.follow_relay_user(guild_id, &subject, current, self.clock.now()).await {
            return store_failure(error);
        }
        JobOutcome::DoneWith(serde_json::json!({
            "added": add.map(|user| user.to_string()),
            "removed": remove.map(|user| user.to_string()),
        }))
    }

    /// A single-use, week-long invite into the subject's text channel.
    pub(super) async fn create_invite(
        &self,
        guild_id: Id<GuildMarker>,
        subject: SubjectRef,
        attempt: Attempt,
    ) -> JobOutcome {
        let channel = match self.live_channels(guild_id, &subject).await {
            Ok(ChannelIds { text: Some(text), .. }) => text,
            Ok(_) => return JobOutcome::Reject { reason: format!("{subject} has no text channel") },
            Err(outcome) => return outcome,
        };
        let body = CreateInvite { max_age: INVITE_MAX_AGE, max_uses: 1, unique: true };
        let reason = Some("Guildbridge: an invite the platform asked for");
        match self.discord.create_channel_invite(channel, &body, reason, attempt.deadline).await {
            Ok(invite) => JobOutcome::DoneWith(serde_json::json!({
                "code": invite.code,
                "url": format!("https://discord.gg/{}", invite.code),
                "channel_id": channel.to_string(),
                "max_uses": 1,
                "expires_in": INVITE_MAX_AGE,
            })),
            Err(error) => discord_outcome(error),
        }
    }
}
