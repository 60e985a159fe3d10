//! A team's own voice channel (with `team_voice` on): made once in its event's category (the
//! next category of the series when that one is full), named from the settings' pattern,
//! open only to the team's linked members (or its role, with team roles on). It is renamed
//! with the team, follows its members by diff, and is deleted with the team or its event.

use crate::domain::error::Cause;
use twilight_model::{
    channel::{
        Channel, ChannelType,
        permission_overwrite::{PermissionOverwrite, PermissionOverwriteType},
    },
    guild::Permissions,
    id::{
        Id,
        marker::{ChannelMarker, GenericMarker, GuildMarker, RoleMarker, UserMarker},
    },
};

use super::{ChannelWorker, JobContext, teams::already_gone};
use crate::{
    channels::plan::{self, CategoryChoice},
    discord::rest::{CreateChannel, DiscordError, ModifyChannel, codes},
    domain::{ChannelIds, Subject, Team, TeamState, member_diff},
    worker::Attempt,
};

/// What a team's member (or its role) may do in the team's voice channel.
pub const TEAM_VOICE_ACCESS: Permissions =
    Permissions::VIEW_CHANNEL.union(Permissions::CONNECT).union(Permissions::SPEAK);
/// What the bot keeps in it: to see, rename and delete it, and to manage who may join.
const BOT_ACCESS: Permissions = TEAM_VOICE_ACCESS.union(Permissions::MANAGE_CHANNELS);
const AUDIT: &str = "Guildbridge: team voice";
/// Categories tried in one attempt when the chosen one fills up before the channel is made.
const CATEGORY_TRIES: usize = 3;

fn allow(id: Id<GenericMarker>, kind: PermissionOverwriteType, allow: Permissions) -> PermissionOverwrite {
    PermissionOverwrite { id, kind, allow, deny: Permissions::empty() }
}

/// Who the channel lets in: the team's role when team roles are on and it has one, else
/// each linked member.
struct Admitted<'a> {
    role: Option<Id<RoleMarker>>,
    members: &'a [Id<UserMarker>],
}

impl ChannelWorker {
    /// Makes, renames and opens the team's voice channel to exactly who the team is now. A
    /// channel someone deleted by hand is made again (Discord answers Unknown Channel for it).
    pub(super) async fn team_voice(
        &self,
        job: &JobContext<'_>,
        event: (&Subject, &ChannelIds),
        team: &Team,
        wanted: &[Id<UserMarker>],
        state: &mut TeamState,
    ) -> Result<(), DiscordError> {
        match self.apply_team_voice(job, event, team, wanted, state).await {
            Err(error) if state.voice_id.is_some() && error.code() == Some(codes::UNKNOWN_CHANNEL) => {
                tracing::info!(team = %team.team_id, "the team's voice channel is gone; making it again");
                (state.voice_id, state.voice_name, state.voice_role, state.voice_pending) = (None, None, None, false);
                state.voice_members.clear();
                self.apply_team_voice(job, event, team, wanted, state).await
            }
            other => other,
        }
    }

    async fn apply_team_voice(
        &self,
        job: &JobContext<'_>,
        event: (&Subject, &ChannelIds),
        team: &Team,
        wanted: &[Id<UserMarker>],
        state: &mut TeamState,
    ) -> Result<(), DiscordError> {
        let deadline = job.attempt.deadline;
        let role = state.role_id.filter(|_| job.settings.team_roles);
        let admitted = Admitted { role, members: if role.is_some() { &[] } else { wanted } };
        let name = job.settings.team_voice_pattern().name(team, &event.0.name);
        let voice = match state.voice_id {
            Some(voice) => voice,
            None => self.make_team_voice(job, event, team, &name, &admitted, state).await?,
        };
        if state.voice_name.as_deref() != Some(name.as_str()) {
            let body = ModifyChannel { name: Some(name.clone()), ..ModifyChannel::default() };
            self.discord.modify_channel(voice, &body, Some("Guildbridge: team renamed"), deadline).await?;
            state.voice_name = Some(name);
        }
        if state.voice_role != admitted.role {
            if let Some(role) = admitted.role {
                let overwrite = allow(role.cast(), PermissionOverwriteType::Role, TEAM_VOICE_ACCESS);
                self.discord.edit_permission_overwrite(voice, &overwrite, Some(AUDIT), deadline).await?;
            }
            if let Some(old) = state.voice_role {
                self.close_to(voice, old.cast(), job.attempt).await?;
            }
            state.voice_role = admitted.role;
        }
        let (add, remove) = member_diff(&state.voice_members, admitted.members);
        for user in add {
            let overwrite = allow(user.cast(), PermissionOverwriteType::Member, TEAM_VOICE_ACCESS);
            self.discord.edit_permission_overwrite(voice, &overwrite, Some(AUDIT), deadline).await?;
            state.voice_members.push(user);
        }
        for user in remove {
            self.close_to(voice, user.cast(), job.attempt).await?;
            state.voice_members.retain(|member| *member != user);
        }
        Ok(())
    }

    async fn close_to(
        &self,
        voice: Id<ChannelMarker>,
        overwrite: Id<GenericMarker>,
        attempt: Attempt,
    ) -> Result<(), DiscordError> {
        match self.discord.delete_permission_overwrite(voice, overwrite, Some(AUDIT), attempt.deadline).await {
            Ok(()) => Ok(()),
            Err(error) if already_gone(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// The channel an earlier attempt made (its answer lost), or a new one: claimed in the
    /// team's state before it is sent, with everyone it admits already in its overwrites. A
    /// category that filled up since the list was read is passed over for the next.
    async fn make_team_voice(
        &self,
        job: &JobContext<'_>,
        (subject, event): (&Subject, &ChannelIds),
        team: &Team,
        name: &str,
        admitted: &Admitted<'_>,
        state: &mut TeamState,
    ) -> Result<Id<ChannelMarker>, DiscordError> {
        let (guild_id, deadline) = (job.guild_id, job.attempt.deadline);
        let series = plan::series_of(subject, &job.settings);
        for _ in 0..CATEGORY_TRIES {
            let channels = self.discord.guild_channels(guild_id, deadline).await?;
            if state.voice_pending
                && let Some(earlier) =
                    state.voice_name.as_deref().and_then(|claimed| self.earlier_voice(&channels, claimed))
            {
                adopt(state, earlier, self.bot_user_id);
                return self.record_progress(guild_id, team, state).await.map(|()| earlier.id);
            }
            let parent = match plan::team_voice_parent(event.category, series.as_deref(), &channels) {
                CategoryChoice::None => None,
                CategoryChoice::Existing(category) => Some(category),
                CategoryChoice::Create(category) => {
                    let body = CreateChannel {
                        name: category,
                        kind: ChannelType::GuildCategory,
                        parent_id: None,
                        topic: None,
                        permission_overwrites: Vec::new(),
                    };
                    Some(self.discord.create_guild_channel(guild_id, &body, Some(AUDIT), deadline).await?.id)
                }
            };
            (state.voice_pending, state.voice_name) = (true, Some(name.to_owned()));
            self.record_progress(guild_id, team, state).await?;
            let body = CreateChannel {
                name: name.to_owned(),
                kind: ChannelType::GuildVoice,
                parent_id: parent,
                topic: None,
                permission_overwrites: self.team_voice_overwrites(guild_id, admitted),
            };
            let voice = match self.discord.create_guild_channel(guild_id, &body, Some(AUDIT), deadline).await {
                Ok(voice) => voice.id,
                Err(error) if error.is_category_full() => continue,
                Err(error) => return Err(error),
            };
            state.voice_id = Some(voice);
            state.voice_pending = false;
            state.voice_role = admitted.role;
            state.voice_members = admitted.members.to_vec();
            self.record_progress(guild_id, team, state).await?;
            return Ok(voice);
        }
        Err(DiscordError::Transient(Cause::described(
            "the series' categories kept filling up while a team voice was placed",
        )))
    }

    /// @everyone may not see or join; the bot manages it; whoever the team admits may join and speak.
    fn team_voice_overwrites(&self, guild_id: Id<GuildMarker>, admitted: &Admitted<'_>) -> Vec<PermissionOverwrite> {
        let mut overwrites = vec![
            PermissionOverwrite {
                id: guild_id.cast(),
                kind: PermissionOverwriteType::Role,
                allow: Permissions::empty(),
                deny: Permissions::VIEW_CHANNEL | Permissions::CONNECT,
            },
            allow(self.bot_user_id.cast(), PermissionOverwriteType::Member, BOT_ACCESS),
        ];
        let role = admitted.role.map(|role| allow(role.cast(), PermissionOverwriteType::Role, TEAM_VOICE_ACCESS));
        let members =
            admitted.members.iter().map(|user| allow(user.cast(), PermissionOverwriteType::Member, TEAM_VOICE_ACCESS));
        overwrites.extend(role.into_iter().chain(members));
        overwrites
    }

    /// A voice channel of the claimed name that only the bot could have made: one where the
    /// bot has its own overwrite to manage it and @everyone may not connect.
    fn earlier_voice<'c>(&self, channels: &'c [Channel], claimed: &str) -> Option<&'c Channel> {
        let bot = self.bot_user_id.cast::<GenericMarker>();
        channels.iter().find(|channel| {
            let overwrites = channel.permission_overwrites.as_deref().unwrap_or_default();
            channel.kind == ChannelType::GuildVoice
                && channel.name.as_deref() == Some(claimed)
                && overwrites.iter().any(|o| o.id == bot && o.allow.contains(Permissions::MANAGE_CHANNELS))
                && overwrites
                    .iter()
                    .any(|o| o.kind == PermissionOverwriteType::Role && o.deny.contains(Permissions::CONNECT))
        })
    }

    /// Deletes the team's voice channel (the team removed, its event archived, or team
    /// voice turned off), including one whose creation answer was lost. Safe to repeat.
    pub(super) async fn drop_team_voice(
        &self,
        guild_id: Id<GuildMarker>,
        state: &mut TeamState,
        attempt: Attempt,
    ) -> Result<(), DiscordError> {
        let mut voice = state.voice_id;
        if let (None, true, Some(claimed)) = (voice, state.voice_pending, state.voice_name.as_deref()) {
            let channels = self.discord.guild_channels(guild_id, attempt.deadline).await?;
            voice = self.earlier_voice(&channels, claimed).map(|channel| channel.id);
        }
        if let Some(voice) = voice {
            match self.discord.delete_channel(voice, Some("Guildbridge: team ended"), attempt.deadline).await {
                Ok(_) => {}
                Err(error) if already_gone(&error) => {}
                Err(error) => return Err(error),
            }
        }
        (state.voice_id, state.voice_name, state.voice_role, state.voice_pending) = (None, None, None, false);
        state.voice_members.clear();
        Ok(())
    }
}

/// Takes an earlier attempt's channel as the team's, with whoever its overwrites admit.
fn adopt(state: &mut TeamState, channel: &Channel, bot: Id<UserMarker>) {
    let admits = |o: &&PermissionOverwrite| o.allow.contains(Permissions::CONNECT) && o.id != bot.cast();
    let overwrites = channel.permission_overwrites.as_deref().unwrap_or_default();
    state.voice_id = Some(channel.id);
    state.voice_pending = false;
    state.voice_members = overwrites
        .iter()
        .filter(admits)
        .filter(|o| o.kind == PermissionOverwriteType::Member)
        .map(|o| o.id.cast())
        .collect();
    state.voice_role =
        overwrites.iter().filter(admits).find(|o| o.kind == PermissionOverwriteType::Role).map(|o| o.id.cast());
}
