//! An event's teams: each a private thread in the event's channel with the team's linked
//! members (and a role, when the guild has team roles on), and messages to a team's thread.

use std::collections::BTreeSet;

use serde_json::json;

use super::prelude::*;
use crate::{
    api::idempotency::{self, IdempotencyKey},
    domain::{Job, MAX_TEAM_MEMBERS, MessageParts, PlatformUserId, SubjectRef, TEAM_NAME_MAX_CHARS, Team, TeamId},
};

/// `/v1/subjects/{kind}/{id}/teams/{team_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TeamPath {
    /// `event` or `lead`.
    #[param(pattern = "^(event|lead)$")]
    pub kind: String,
    /// The platform's subject id.
    #[param(pattern = "^[A-Za-z0-9._-]{1,100}$")]
    pub id: String,
    /// The platform's team id: letters, digits, `-`, `_`, `.` (1 to 64).
    #[param(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub team_id: String,
}

impl TeamPath {
    /// The subject (which must exist) and the team id, or 404.
    async fn resolve(&self, api: &Api, caller: &Connected) -> Result<(SubjectRef, TeamId), Problem> {
        let subject = super::SubjectPath { kind: self.kind.clone(), id: self.id.clone() }.subject()?;
        let team = TeamId::parse(&self.team_id).ok_or_else(|| Problem::not_found("team"))?;
        if api.store.subject(caller.guild_id, &subject).await?.is_none() {
            return Err(Problem::not_found("subject"));
        }
        Ok((subject, team))
    }
}

/// A team as the platform sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    /// The thread's name (1 to 100 characters).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Platform user ids (at most 100), each added through their link.
    #[serde(default)]
    pub members: Vec<String>,
}

impl TeamBody {
    fn checked(self) -> Result<(String, Vec<String>), Problem> {
        let mut errors = std::collections::BTreeMap::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > TEAM_NAME_MAX_CHARS {
            errors.insert("name".to_owned(), format!("1 to {TEAM_NAME_MAX_CHARS} characters"));
        }
        let mut seen = BTreeSet::new();
        let members: Vec<String> = self.members.into_iter().filter(|member| seen.insert(member.clone())).collect();
        if members.len() > MAX_TEAM_MEMBERS {
            errors.insert("members".to_owned(), format!("at most {MAX_TEAM_MEMBERS} members"));
        }
        if let Some(error) = members.iter().find_map(|member| PlatformUserId::parse(member).err()) {
            errors.insert("members".to_owned(), error.to_string());
        }
        if errors.is_empty() { Ok((name, members)) } else { Err(Problem::invalid(errors)) }
    }
}

/// Writes the team's next revision (by condition on the one read) and queues its job.
async fn save(api: &Api, caller: &Connected, team: Team) -> Result<Team, Problem> {
    if !api.store.put_team(caller.guild_id, &team).await? {
        return Err(Problem::conflict("team-changed", "the team changed at the same time; send it again"));
    }
    let job = Job::SyncTeam {
        guild_id: caller.guild_id,
        subject: team.subject.clone(),
        team_id: team.team_id.clone(),
        revision: team.revision,
        settings_saved_at: None,
    };
    api.queue.enqueue(&job).await?;
    Ok(team)
}

/// Creates (201) or updates (200) a team: its thread follows, with exactly its linked
/// members; `unlinked` names the members who have no link yet.
#[utoipa::path(put, path = "/v1/subjects/{kind}/{id}/teams/{team_id}", tag = "teams", params(TeamPath),
    request_body = TeamBody,
    responses(
        (status = 201, description = "created", body = TeamView),
        (status = 200, description = "updated", body = TeamView),
    ))]
pub async fn put_team(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<TeamPath>,
    JsonBody(body, _): JsonBody<TeamBody>,
) -> Result<Response, Problem> {
    let (subject, team_id) = path.resolve(&api, &caller).await?;
    let (name, members) = body.checked()?;
    let existing = api.store.team(caller.guild_id, &subject, &team_id).await?;
    let revision = existing.as_ref().map_or(1, |(team, _)| team.revision + 1);
    let created = existing.as_ref().is_none_or(|(team, _)| team.removed);
    let team = Team { subject, team_id, name, members, removed: false, revision, updated_at: api.clock.now() };
    let team = save(&api, &caller, team).await?;
    let links = api.store.links_of_platform_users(caller.guild_id, &team.members).await?;
    let mut state = existing.map(|(_, state)| state).unwrap_or_default();
    state.unlinked = team.members.iter().filter(|member| !links.contains_key(*member)).cloned().collect();
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(TeamView::new(team, state, caller.guild_id))).into_response())
}

/// The subject's teams, each with its thread.
#[utoipa::path(get, path = "/v1/subjects/{kind}/{id}/teams", tag = "teams", params(super::SubjectPath),
    responses((status = 200, description = "the teams", body = Vec<TeamView>)))]
pub async fn list_teams(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<super::SubjectPath>,
) -> Result<Json<Vec<TeamView>>, Problem> {
    let subject = path.subject()?;
    if api.store.subject(caller.guild_id, &subject).await?.is_none() {
        return Err(Problem::not_found("subject"));
    }
    let teams = api.store.teams(caller.guild_id, &subject).await?;
    Ok(Json(teams.into_iter().map(|(team, state)| TeamView::new(team, state, caller.guild_id)).collect()))
}

/// Removes a team: its thread is archived and its role deleted. 202 with the job.
#[utoipa::path(delete, path = "/v1/subjects/{kind}/{id}/teams/{team_id}", tag = "teams", params(TeamPath),
    responses((status = 202, description = "the team's removal is queued", body = TeamView)))]
pub async fn delete_team(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<TeamPath>,
) -> Result<Response, Problem> {
    let (subject, team_id) = path.resolve(&api, &caller).await?;
    let Some((team, state)) = api.store.team(caller.guild_id, &subject, &team_id).await?.filter(|(t, _)| !t.removed)
    else {
        return Err(Problem::not_found("team"));
    };
    let removed = Team { removed: true, revision: team.revision + 1, updated_at: api.clock.now(), ..team };
    let removed = save(&api, &caller, removed).await?;
    Ok((StatusCode::ACCEPTED, Json(TeamView::new(removed, state, caller.guild_id))).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMessage {
    /// 1 to 2000 characters: a stint change, a pit call.
    #[schema(min_length = 1, max_length = 2000)]
    pub content: String,
    /// Whether mentions in the content notify anyone (off unless asked for).
    #[serde(default)]
    pub allow_mentions: bool,
}

/// Posts in the team's thread: 202 with the job. With an `Idempotency-Key`, sending again
/// posts nothing new and answers as the first time.
#[utoipa::path(post, path = "/v1/subjects/{kind}/{id}/teams/{team_id}/messages", tag = "teams", params(TeamPath,
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "makes a retry answer the first answer")),
    request_body = TeamMessage,
    responses((status = 202, description = "the message job is queued", body = Accepted)))]
pub async fn send_team_message(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<TeamPath>,
    key: IdempotencyKey,
    JsonBody(body, raw): JsonBody<TeamMessage>,
) -> Result<Response, Problem> {
    let (subject, team_id) = path.resolve(&api, &caller).await?;
    let length = body.content.chars().count();
    if body.content.trim().is_empty() || length > 2000 {
        return Err(Problem::invalid_field("content", format!("1 to 2000 characters, got {length}")));
    }
    if api.store.team(caller.guild_id, &subject, &team_id).await?.is_none_or(|(team, _)| team.removed) {
        return Err(Problem::not_found("team"));
    }
    let request = [format!("{subject}:{team_id}\n").as_bytes(), &raw].concat();
    let message_key = match &key.0 {
        Some(key) => key.clone(),
        None => random_key()?,
    };
    idempotency::once(&api, &caller.tenant_id, "team-message", &key, &request, async {
        let job = Job::SendMessage {
            guild_id: caller.guild_id,
            subject: subject.clone(),
            content: body.content,
            message_key,
            allow_mentions: body.allow_mentions,
            reply_to: None,
            parts: MessageParts::default(),
            team: Some(team_id),
        };
        api.queue.enqueue(&job).await?;
        Ok((StatusCode::ACCEPTED, json!(Accepted { job: JobView::queued(&job) })))
    })
    .await
}
