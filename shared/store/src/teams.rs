//! Teams: what the platform asked for (written by the API, by condition on its revision) and
//! what Discord has (written by the worker alone), as two items so neither overwrites the other.

use async_trait::async_trait;
use serde_json::json;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, Key, Query, SortKeyRange},
    schema::{Index, keys},
    to_item,
};
use guildbridge_domain::{SubjectRef, Team, TeamId, TeamState};

/// Teams read per subject: more than any event has.
const TEAMS_PER_SUBJECT: u32 = 200;
const REVISION: &str = "revision";

#[async_trait]
pub trait TeamStore: Send + Sync {
    /// Writes the team if the stored one is still at `team.revision - 1` (absent for 1):
    /// `false` when another change came first.
    async fn put_team(&self, guild_id: Id<GuildMarker>, team: &Team) -> Result<bool, StoreError>;
    async fn team(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        team: &TeamId,
    ) -> Result<Option<(Team, TeamState)>, StoreError>;
    /// Every team of the subject with its state, by id.
    async fn teams(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
    ) -> Result<Vec<(Team, TeamState)>, StoreError>;
    async fn record_team_state(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        team: &TeamId,
        state: &TeamState,
    ) -> Result<(), StoreError>;
}

fn team_key(guild_id: Id<GuildMarker>, subject: &SubjectRef, team: &TeamId) -> Key {
    keys::team(guild_id.get(), subject.kind.as_str(), &subject.id, team.as_str())
}

fn state_key(guild_id: Id<GuildMarker>, subject: &SubjectRef, team: &TeamId) -> Key {
    keys::team_state(guild_id.get(), subject.kind.as_str(), &subject.id, team.as_str())
}

#[async_trait]
impl<I: ItemStore> TeamStore for Store<I> {
    /// 1 conditional PutItem.
    async fn put_team(&self, guild_id: Id<GuildMarker>, team: &Team) -> Result<bool, StoreError> {
        let condition = match team.revision {
            0 | 1 => Condition::NotExists,
            revision => Condition::Equals(REVISION, json!(revision - 1)),
        };
        let item = to_item(&team_key(guild_id, &team.subject, &team.team_id), team, &[])?;
        match self.items.put(item, Some(condition)).await {
            Ok(()) => Ok(true),
            Err(ItemError::ConditionFailed) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// 1 BatchGetItem.
    async fn team(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        team: &TeamId,
    ) -> Result<Option<(Team, TeamState)>, StoreError> {
        let (team_key, state_key) = (team_key(guild_id, subject, team), state_key(guild_id, subject, team));
        let items = self.items.get_many(&[team_key.clone(), state_key]).await?;
        let mut found = None;
        let mut state = TeamState::default();
        for item in items {
            if Key::of(&item).is_some_and(|key| key == team_key) {
                found = Some(from_item::<Team>(item)?);
            } else {
                state = from_item(item)?;
            }
        }
        Ok(found.map(|team| (team, state)))
    }

    /// 2 Queries (teams, states), each one page.
    async fn teams(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
    ) -> Result<Vec<(Team, TeamState)>, StoreError> {
        let pk = keys::guild(guild_id.get());
        let (kind, id) = (subject.kind.as_str(), subject.id.as_str());
        let teams = Query::new(Index::Table, pk.clone(), SortKeyRange::BeginsWith(keys::teams_of(kind, id)))
            .limit(TEAMS_PER_SUBJECT);
        let states = Query::new(Index::Table, pk, SortKeyRange::BeginsWith(keys::team_states_of(kind, id)))
            .limit(TEAMS_PER_SUBJECT);
        let teams: Vec<Team> =
            self.items.query(&teams).await?.items.into_iter().map(from_item).collect::<Result<_, _>>()?;
        let mut by_team = std::collections::HashMap::new();
        for item in self.items.query(&states).await?.items {
            let sk = item.get(super::schema::attr::SK).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            by_team.insert(sk.rsplit('#').next().unwrap_or_default().to_owned(), from_item::<TeamState>(item)?);
        }
        Ok(teams
            .into_iter()
            .map(|team| {
                let state = by_team.remove(team.team_id.as_str()).unwrap_or_default();
                (team, state)
            })
            .collect())
    }

    /// 1 PutItem (only the worker writes a team's state; one guild's jobs run in order).
    async fn record_team_state(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        team: &TeamId,
        state: &TeamState,
    ) -> Result<(), StoreError> {
        Ok(self.items.put(to_item(&state_key(guild_id, subject, team), state, &[])?, None).await?)
    }
}
