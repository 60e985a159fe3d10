//! One page of members: written to the store, matched to platform users, and the member
//! role granted or removed as the guild's settings say.

use crate::domain::error::Cause;
use std::collections::HashMap;

use twilight_model::{
    guild::Member as DiscordMember,
    id::{
        Id,
        marker::{GuildMarker, RoleMarker, UserMarker},
    },
};

use super::SyncWorker;
use crate::{
    discord::{guild_ids::GuildIds, rest::DiscordError},
    domain::{EventType, GuildSettings, Member, RunId, SyncCounts},
    store::StoreError,
    worker::Attempt,
};

pub(super) enum PageError {
    Store(StoreError),
    Discord(DiscordError),
    /// The member role is one the bot does not hand out (or take away).
    RoleRefused(String),
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        PageError::Store(error)
    }
}

/// What a member looks like to the store.
fn to_member(member: &DiscordMember) -> Member {
    Member {
        user_id: member.user.id,
        username: member.user.name.clone(),
        display_name: member.nick.clone().or_else(|| member.user.global_name.clone()),
        roles: member.roles.clone(),
    }
}

impl SyncWorker {
    /// One page: members written, links matched, the member role granted or removed.
    pub(super) async fn page(
        &self,
        guild_id: Id<GuildMarker>,
        run_id: &RunId,
        page: &[DiscordMember],
        settings: &GuildSettings,
        counts: &mut SyncCounts,
        attempt: Attempt,
    ) -> Result<(), PageError> {
        let humans: Vec<&DiscordMember> = page.iter().filter(|member| !member.user.bot).collect();
        let members: Vec<Member> = humans.iter().map(|member| to_member(member)).collect();
        let ids: Vec<Id<UserMarker>> = members.iter().map(|member| member.user_id).collect();
        let links: HashMap<Id<UserMarker>, String> = self.store.links_for(guild_id, &ids).await?;
        let new = self.store.upsert_members(guild_id, run_id, &members, self.clock.now()).await?;
        // A retried page finds the same members new again (first seen by this run), so
        // failing here loses no event.
        let now = self.clock.now();
        let joined = new
            .iter()
            .map(|user| super::member_event(EventType::MemberJoined, *user, run_id, links.get(user).cloned(), now))
            .collect();
        self.events
            .emit(guild_id, joined)
            .await
            .map_err(|error| PageError::Store(StoreError::Retryable(Cause::new(error))))?;
        let mut page_counts = SyncCounts {
            total: members.len() as u64,
            matched: links.len() as u64,
            new: new.len() as u64,
            ..SyncCounts::default()
        };
        if let Some(role) = settings.member_role_id {
            let changes: Vec<(&DiscordMember, bool)> = humans
                .iter()
                .map(|member| (*member, links.contains_key(&member.user.id)))
                .filter(|(member, linked)| {
                    *linked != member.roles.contains(&role) && (*linked || settings.remove_role_when_unlinked)
                })
                .collect();
            if !changes.is_empty() {
                self.check_role(guild_id, role, attempt).await?;
            }
            for (member, linked) in changes {
                match self.set_role(guild_id, member.user.id, role, linked, attempt).await {
                    Ok(()) => {}
                    Err(error) if error.is_permanent() => {
                        tracing::warn!(user_id = %member.user.id, error = %error.explain(), "member role not changed");
                        page_counts.errors += 1;
                    }
                    Err(error) => return Err(PageError::Discord(error)),
                }
            }
        }
        counts.total += page_counts.total;
        counts.matched += page_counts.matched;
        counts.new += page_counts.new;
        counts.errors += page_counts.errors;
        Ok(())
    }

    /// The role is checked against the guild as Discord has it now, before any grant or
    /// removal: the settings may name a role that has since gained power or moved above the
    /// bot, or one saved before such checks existed.
    async fn check_role(
        &self,
        guild_id: Id<GuildMarker>,
        role: Id<RoleMarker>,
        attempt: Attempt,
    ) -> Result<(), PageError> {
        let guild = GuildIds::fetch_roles(&self.discord, guild_id, self.application_id, attempt.deadline)
            .await
            .map_err(PageError::Discord)?;
        guild.grantable_role(role).map_err(|refusal| {
            PageError::RoleRefused(format!(
                "the member role ({role}) {refusal}; no role was granted or removed. Choose another member role in the settings."
            ))
        })
    }

    async fn set_role(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        role: Id<RoleMarker>,
        grant: bool,
        attempt: Attempt,
    ) -> Result<(), DiscordError> {
        let reason = Some("Guildbridge member sync");
        if grant {
            self.discord.add_member_role(guild_id, user_id, role, reason, attempt.deadline).await
        } else {
            self.discord.remove_member_role(guild_id, user_id, role, reason, attempt.deadline).await
        }
    }
}
