//! A team's private thread, role and voice channel ([`super::team_voice`]), kept in line with the team as the platform described
//! it: made once (a creation whose answer was lost is found again before another is made),
//! members added and removed by diff, archived and its role deleted when the team or its
//! event ends.

use crate::domain::error::{Cause, Report};
use std::time::Duration;

use twilight_model::{
    channel::ChannelType,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, RoleMarker, UserMarker},
    },
};

use super::{ChannelWorker, JobContext, access::discord_outcome, store_failure};
use crate::{
    discord::guild_ids::GuildIds,
    discord::rest::{CreateRole, CreateThread, DiscordError, ModifyRole, ModifyThread, codes},
    domain::{ChannelIds, MappingStatus, Subject, SubjectRef, Team, TeamId, TeamState, member_diff},
    worker::{Attempt, JobOutcome},
};

/// Discord's answers that mean "already gone": the work of removing it is done.
pub(super) fn already_gone(error: &DiscordError) -> bool {
    matches!(error.code(), Some(codes::UNKNOWN_CHANNEL | codes::UNKNOWN_ROLE | codes::UNKNOWN_MEMBER))
}

/// The team's role or voice channel is not what the settings now ask for: turned on or off,
/// or the voice channel's name pattern changed, since the team was last brought in line.
fn drifted(job: &JobContext<'_>, event: &Subject, team: &Team, state: &TeamState) -> bool {
    let settings = &job.settings;
    let has_voice = state.voice_id.is_some() || state.voice_pending;
    let voice_name = settings.team_voice.then(|| settings.team_voice_pattern().name(team, &event.name));
    settings.team_roles != state.role_id.is_some()
        || settings.team_voice != has_voice
        || (settings.team_voice && state.voice_name != voice_name)
}

/// The team's name for its thread and its role: within Discord's 100 characters for both.
fn discord_name(team: &Team) -> String {
    team.name.chars().take(100).collect()
}

impl ChannelWorker {
    pub(super) async fn sync_team(&self, job: &JobContext<'_>, subject: SubjectRef, team_id: TeamId) -> JobOutcome {
        let guild_id = job.guild_id;
        let (team, mut state) = match self.store.team(guild_id, &subject, &team_id).await {
            Ok(Some(found)) => found,
            Ok(None) => return JobOutcome::Reject { reason: format!("{subject} has no team {team_id}") },
            Err(error) => return store_failure(error),
        };
        if team.removed {
            return self
                .finish_team(guild_id, &team, self.retire_team(guild_id, &mut state, job.attempt).await, state)
                .await;
        }
        let event = match self.store.subject(guild_id, &subject).await {
            Ok(Some(event)) => event,
            Ok(None) => return JobOutcome::Reject { reason: format!("{subject} is no longer known") },
            Err(error) => return store_failure(error),
        };
        if state.applied_revision >= team.revision && state.error.is_none() && !drifted(job, &event, &team, &state) {
            return JobOutcome::DoneWith(serde_json::json!({ "unchanged": true }));
        }
        // No channel yet (or its creation failed and waits to be asked again) is no failure:
        // the event's channel, once made, brings its teams in.
        let waiting = JobOutcome::DoneWith(serde_json::json!({ "waiting": "the event's channel" }));
        match self.store.mapping(guild_id, &subject).await {
            Ok(None) => return waiting,
            Ok(Some(mapping)) if mapping.status == MappingStatus::Error => return waiting,
            Ok(Some(_)) => {}
            Err(error) => return store_failure(error),
        }
        let channels = match self.live_channels(guild_id, &subject).await {
            Ok(channels) => channels,
            Err(outcome) => return outcome,
        };
        let Some(channel) = channels.text else { return waiting };
        let result = self.apply_team(job, (&event, &channels), channel, &team, &mut state).await;
        self.finish_team(guild_id, &team, result, state).await
    }

    /// An event's channel was just made: its teams, made before it, are brought in now. A
    /// team that cannot be keeps its error in its state (the teams API shows it) and is
    /// brought in by its next change or the next settings save.
    pub(super) async fn bring_in_teams(&self, job: &JobContext<'_>, subject: &SubjectRef) {
        let teams = match self.store.teams(job.guild_id, subject).await {
            Ok(teams) => teams,
            Err(error) => {
                tracing::warn!(error = %Report(&error), %subject, "the event's teams could not be listed; each comes in with its next change");
                return;
            }
        };
        for (team, _) in teams.into_iter().filter(|(team, _)| !team.removed) {
            let outcome = self.sync_team(job, subject.clone(), team.team_id.clone()).await;
            if !matches!(outcome, JobOutcome::Done | JobOutcome::DoneWith(_)) {
                tracing::warn!(%subject, team = %team.team_id, ?outcome, "team not brought in with its event's channel");
            }
        }
    }

    /// Records what was done, also when it stopped partway, and turns the result into the outcome.
    async fn finish_team(
        &self,
        guild_id: Id<GuildMarker>,
        team: &Team,
        result: Result<(), DiscordError>,
        mut state: TeamState,
    ) -> JobOutcome {
        state.updated_at = self.clock.now();
        let outcome = match result {
            Ok(()) => {
                state.applied_revision = team.revision;
                state.error = None;
                JobOutcome::DoneWith(serde_json::json!({
                    "thread_id": state.thread_id.map(|id| id.to_string()),
                    "members": state.thread_members.len(),
                    "unlinked": state.unlinked,
                }))
            }
            Err(error) => {
                state.error = Some(error.explain());
                discord_outcome(error)
            }
        };
        match self.store.record_team_state(guild_id, &team.subject, &team.team_id, &state).await {
            Ok(()) => outcome,
            Err(error) => store_failure(error),
        }
    }

    async fn apply_team(
        &self,
        job: &JobContext<'_>,
        event: (&Subject, &ChannelIds),
        channel: Id<ChannelMarker>,
        team: &Team,
        state: &mut TeamState,
    ) -> Result<(), DiscordError> {
        let (guild_id, deadline) = (job.guild_id, job.attempt.deadline);
        let links = match self.store.links_of_platform_users(guild_id, &team.members).await {
            Ok(links) => links,
            Err(error) => return Err(DiscordError::Transient(Cause::new(error))),
        };
        let wanted: Vec<Id<UserMarker>> = team.members.iter().filter_map(|member| links.get(member)).copied().collect();
        state.unlinked = team.members.iter().filter(|member| !links.contains_key(*member)).cloned().collect();
        let thread = self.team_thread(job, channel, team, state).await?;
        let name = discord_name(team);
        let renamed = state.thread_name.as_deref() != Some(name.as_str());
        if state.archived || renamed {
            let change = ModifyThread {
                name: renamed.then(|| name.clone()),
                archived: state.archived.then_some(false),
                locked: state.archived.then_some(false),
            };
            let reason = if state.archived { "Guildbridge: team is back" } else { "Guildbridge: team renamed" };
            self.discord.modify_thread(thread, &change, Some(reason), deadline).await?;
            (state.archived, state.thread_name) = (false, Some(name));
        }
        let (add, remove) = member_diff(&state.thread_members, &wanted);
        for user in add {
            match self.discord.add_thread_member(thread, user, deadline).await {
                Ok(()) => state.thread_members.push(user),
                // Not in the guild (left since the link): added once they are back.
                Err(error) if error.code() == Some(codes::UNKNOWN_MEMBER) => {}
                Err(error) => return Err(error),
            }
        }
        for user in remove {
            match self.discord.remove_thread_member(thread, user, deadline).await {
                Ok(()) => {}
                Err(error) if already_gone(&error) => {}
                Err(error) => return Err(error),
            }
            state.thread_members.retain(|member| *member != user);
        }
        if job.settings.team_roles {
            self.team_role(guild_id, team, &wanted, state, job.attempt).await?;
        } else {
            self.drop_role(guild_id, state, job.attempt).await?;
        }
        if job.settings.team_voice {
            self.team_voice(job, event, team, &wanted, state).await
        } else {
            self.drop_team_voice(guild_id, state, job.attempt).await
        }
    }

    /// The team's thread: the recorded one, one an earlier attempt made (found by name in
    /// the channel), or a new private thread.
    async fn team_thread(
        &self,
        job: &JobContext<'_>,
        channel: Id<ChannelMarker>,
        team: &Team,
        state: &mut TeamState,
    ) -> Result<Id<ChannelMarker>, DiscordError> {
        if let Some(thread) = state.thread_id {
            return Ok(thread);
        }
        let (guild_id, deadline) = (job.guild_id, job.attempt.deadline);
        let name = discord_name(team);
        if state.thread_pending {
            let active = self.discord.active_threads(guild_id, deadline).await?;
            let bot = self.bot_user_id;
            let earlier = active.threads.into_iter().find(|thread| {
                thread.parent_id == Some(channel)
                    && thread.name.as_deref() == Some(&name)
                    && thread.owner_id == Some(bot)
            });
            if let Some(thread) = earlier {
                return self.adopt_thread(guild_id, team, state, thread.id, name).await;
            }
        }
        state.thread_pending = true;
        self.record_progress(guild_id, team, state).await?;
        let body = CreateThread {
            name: name.clone(),
            kind: ChannelType::PrivateThread,
            auto_archive_duration: job.settings.thread_auto_archive_minutes,
            invitable: false,
        };
        let thread = self.discord.create_thread(channel, &body, Some("Guildbridge: team thread"), deadline).await?;
        self.adopt_thread(guild_id, team, state, thread.id, name).await
    }

    async fn adopt_thread(
        &self,
        guild_id: Id<GuildMarker>,
        team: &Team,
        state: &mut TeamState,
        thread: Id<ChannelMarker>,
        name: String,
    ) -> Result<Id<ChannelMarker>, DiscordError> {
        state.thread_id = Some(thread);
        state.thread_name = Some(name);
        state.thread_pending = false;
        state.thread_members.clear();
        self.record_progress(guild_id, team, state).await?;
        Ok(thread)
    }

    /// Writes the state now: a creation must be known before (pending) and after (its id).
    pub(super) async fn record_progress(
        &self,
        guild_id: Id<GuildMarker>,
        team: &Team,
        state: &TeamState,
    ) -> Result<(), DiscordError> {
        self.store
            .record_team_state(guild_id, &team.subject, &team.team_id, state)
            .await
            .map_err(|error| DiscordError::Transient(Cause::new(error)))
    }

    async fn team_role(
        &self,
        guild_id: Id<GuildMarker>,
        team: &Team,
        wanted: &[Id<UserMarker>],
        state: &mut TeamState,
        attempt: Attempt,
    ) -> Result<(), DiscordError> {
        let role = match state.role_id {
            Some(role) => role,
            None => self.make_role(guild_id, team, state, attempt).await?,
        };
        let name = discord_name(team);
        if state.role_name.as_deref() != Some(name.as_str()) {
            let body = ModifyRole { name: name.clone() };
            self.discord
                .modify_role(guild_id, role, &body, Some("Guildbridge: team renamed"), attempt.deadline)
                .await?;
            state.role_name = Some(name);
        }
        let audit = Some("Guildbridge: team role");
        let (add, remove) = member_diff(&state.role_members, wanted);
        if !(add.is_empty() && remove.is_empty()) {
            // The bot made the role without power, but anyone with Manage Roles may have
            // given it some since: the bot hands out only roles it may.
            let guild =
                GuildIds::fetch_roles(&self.discord, guild_id, self.bot_user_id.cast(), attempt.deadline).await?;
            if let Err(refusal) = guild.grantable_role(role) {
                tracing::error!(%guild_id, %role, %refusal, "the team role is not granted or removed");
                let problem =
                    format!("the role of team {} ({role}) {refusal}; nobody was given or lost it", team.team_id);
                crate::worker::record_problem(self.store.as_ref(), guild_id, "team_roles", &problem).await;
                return Ok(());
            }
        }
        for user in add {
            match self.discord.add_member_role(guild_id, user, role, audit, attempt.deadline).await {
                Ok(()) => state.role_members.push(user),
                Err(error) if error.code() == Some(codes::UNKNOWN_MEMBER) => {}
                Err(error) => return Err(error),
            }
        }
        for user in remove {
            match self.discord.remove_member_role(guild_id, user, role, audit, attempt.deadline).await {
                Ok(()) => {}
                Err(error) if already_gone(&error) => {}
                Err(error) => return Err(error),
            }
            state.role_members.retain(|member| *member != user);
        }
        Ok(())
    }

    async fn make_role(
        &self,
        guild_id: Id<GuildMarker>,
        team: &Team,
        state: &mut TeamState,
        attempt: Attempt,
    ) -> Result<Id<RoleMarker>, DiscordError> {
        let name = discord_name(team);
        if state.role_pending {
            let roles = self.discord.guild_roles(guild_id, attempt.deadline).await?;
            let guild = GuildIds::new(guild_id, Vec::new(), roles.clone(), self.bot_user_id.cast());
            // Found by name, so only one the bot could have made: no power, below the bot.
            let found = roles.into_iter().find(|role| role.name == name && guild.grantable_role(role.id).is_ok());
            if let Some(role) = found {
                state.role_id = Some(role.id);
                state.role_name = Some(name);
                state.role_pending = false;
                self.record_progress(guild_id, team, state).await?;
                return Ok(role.id);
            }
        }
        state.role_pending = true;
        self.record_progress(guild_id, team, state).await?;
        let body = CreateRole { name: name.clone(), permissions: 0, mentionable: false };
        let role = self.discord.create_role(guild_id, &body, Some("Guildbridge: team role"), attempt.deadline).await?;
        state.role_id = Some(role.id);
        state.role_name = Some(name);
        state.role_pending = false;
        state.role_members.clear();
        self.record_progress(guild_id, team, state).await?;
        Ok(role.id)
    }

    /// Deletes the team's role (team roles turned off, the team removed or its event over).
    async fn drop_role(
        &self,
        guild_id: Id<GuildMarker>,
        state: &mut TeamState,
        attempt: Attempt,
    ) -> Result<(), DiscordError> {
        if let Some(role) = state.role_id {
            match self.discord.delete_role(guild_id, role, Some("Guildbridge: team ended"), attempt.deadline).await {
                Ok(()) => {}
                Err(error) if already_gone(&error) => {}
                Err(error) => return Err(error),
            }
        }
        state.role_id = None;
        state.role_members.clear();
        Ok(())
    }

    /// Archives and locks the team's thread, and deletes its role and voice channel. Safe to repeat.
    pub(super) async fn retire_team(
        &self,
        guild_id: Id<GuildMarker>,
        state: &mut TeamState,
        attempt: Attempt,
    ) -> Result<(), DiscordError> {
        if let (Some(thread), false) = (state.thread_id, state.archived) {
            let close = ModifyThread { archived: Some(true), locked: Some(true), ..ModifyThread::default() };
            match self.discord.modify_thread(thread, &close, Some("Guildbridge: team ended"), attempt.deadline).await {
                Ok(_) => {}
                Err(error) if already_gone(&error) => {}
                Err(error) => return Err(error),
            }
        }
        state.archived = true;
        self.drop_role(guild_id, state, attempt).await?;
        self.drop_team_voice(guild_id, state, attempt).await
    }

    /// Every team of an archived subject: threads archived, roles and voice channels deleted.
    pub(super) async fn retire_teams(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        attempt: Attempt,
    ) -> Result<(), JobOutcome> {
        let teams = self.store.teams(guild_id, subject).await.map_err(store_failure)?;
        for (team, mut state) in teams {
            if state.archived && state.role_id.is_none() && state.voice_id.is_none() && !state.voice_pending {
                continue;
            }
            let result = self.retire_team(guild_id, &mut state, attempt).await;
            state.updated_at = self.clock.now();
            // A refusal (a permission taken away) is left on the team for an admin to see.
            state.error = result.as_ref().err().map(DiscordError::explain);
            self.store.record_team_state(guild_id, subject, &team.team_id, &state).await.map_err(store_failure)?;
            if let Err(error) = result
                && !error.is_permanent()
            {
                let after = error.retry_after().unwrap_or(Duration::from_secs(5));
                return Err(JobOutcome::Retry { after, reason: error.explain() });
            }
        }
        Ok(())
    }
}
