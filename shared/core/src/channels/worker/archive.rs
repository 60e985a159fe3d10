//! Archiving a subject's channels as the guild's settings say: locked (and moved to the
//! archive category) or deleted. Safe to repeat.

use twilight_model::{
    channel::permission_overwrite::{PermissionOverwrite, PermissionOverwriteType},
    guild::Permissions,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker},
    },
};

use super::{ChannelWorker, JobContext, store_failure};
use crate::{
    discord::{
        guild_ids::is_category_of,
        rest::{DiscordError, ModifyChannel, PermanentKind},
    },
    domain::{ArchiveMode, ChannelIds, EventDraft, EventType, GuildSettings, MappingStatus, SubjectRef},
    store::StoreError,
    worker::{Attempt, JobOutcome},
};

impl ChannelWorker {
    pub(super) async fn archive(&self, job: &JobContext<'_>, reference: SubjectRef, reason: String) -> JobOutcome {
        let (guild_id, settings, attempt) = (job.guild_id, &job.settings, job.attempt);
        let mapping = match self.store.mapping(guild_id, &reference).await {
            Ok(mapping) => mapping,
            Err(error) => return store_failure(error),
        };
        let mapping = match mapping {
            Some(mapping) if matches!(mapping.status, MappingStatus::Active | MappingStatus::Completed) => mapping,
            Some(mapping) if mapping.status == MappingStatus::Archived => {
                let text = format!("{reference}'s channel is already archived.");
                self.report(job, &text).await;
                return JobOutcome::Done;
            }
            _ => {
                let text = format!("{reference} has no active channel to archive.");
                self.report(job, &text).await;
                return JobOutcome::Done;
            }
        };
        if let Err(error) = self.archive_channels(guild_id, settings, &mapping.channels, &reason, attempt).await {
            if let (false, Some(after)) = (error.is_permanent(), error.retry_after()) {
                return JobOutcome::Retry { after, reason: error.explain() };
            }
            let text = format!("Couldn't archive {reference}'s channel: {}", error.explain());
            self.report(job, &text).await;
            return JobOutcome::Done;
        }
        if let Err(outcome) = self.retire_teams(guild_id, &reference, attempt).await {
            return outcome;
        }
        match self.store.archive(guild_id, &reference, &reason, self.clock.now()).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(error) => return store_failure(error),
        }
        if let Err(error) = self.store.unwatch_relay(guild_id, &reference).await {
            return store_failure(error);
        }
        let now = self.clock.now();
        let key = format!("{reference}:archived:{}", mapping.channels.text.map_or(0, Id::get));
        let data = serde_json::json!({ "reason": reason, "channels": mapping.channels });
        let archived = EventDraft::new(EventType::ChannelArchived, key, now, data).about(&reference);
        if let Err(error) = self.events.emit(guild_id, vec![archived]).await {
            return JobOutcome::Retry { after: std::time::Duration::from_secs(5), reason: error.to_string() };
        }
        let text = match settings.archive_mode {
            ArchiveMode::Lock => format!("Archived {reference}'s channel (locked). Reason: {reason}"),
            ArchiveMode::Delete => format!("Deleted {reference}'s channels. Reason: {reason}"),
        };
        self.report(job, &text).await;
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
        // The category comes from the tenant's settings: channels move only into a category
        // of this very guild (they are locked either way).
        let move_into = settings
            .archive_category_id
            .filter(|_| settings.archive_mode == ArchiveMode::Lock)
            .filter(|category| is_category_of(&guild_channels, guild_id, *category));
        if let (Some(category), None, ArchiveMode::Lock) =
            (settings.archive_category_id, move_into, settings.archive_mode)
        {
            tracing::error!(%guild_id, %category, "the archive category in the settings is not a category of this server; channels are locked where they are");
            let problem = "is not a category of this server; archived channels were locked where they are";
            crate::worker::record_problem(self.store.as_ref(), guild_id, "archive_category_id", problem).await;
        }
        for channel in channels.owned() {
            let result = match settings.archive_mode {
                ArchiveMode::Delete => {
                    self.discord.delete_channel(channel, Some(&audit), attempt.deadline).await.map(drop)
                }
                ArchiveMode::Lock => {
                    let Some(current) = guild_channels.iter().find(|c| c.id == channel) else { continue };
                    let overwrites = current.permission_overwrites.clone().unwrap_or_default();
                    if let Some(category) = move_into {
                        let body = ModifyChannel { parent_id: Some(category), ..ModifyChannel::default() };
                        self.discord.modify_channel(channel, &body, Some(&audit), attempt.deadline).await?;
                    }
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
}
