//! Subjects: the platform's events and leads, each with its channel state.

use std::collections::BTreeMap;

use twilight_model::id::Id;

use super::{SubjectPath, prelude::*};
use crate::{
    channels::{self, RequestError},
    domain::{Signups, Subject, SubjectKind, SubjectRef},
    timeline,
};

/// A subject as the platform sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectBody {
    /// What people see (1 to 100 characters).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Values the naming pattern uses (`series_name`, `event_name`, ...).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Unix seconds.
    #[schema(maximum = 253_402_300_799_u64)]
    pub starts_at: Option<u64>,
    /// Unix seconds, not before `starts_at`.
    #[schema(maximum = 253_402_300_799_u64)]
    pub ends_at: Option<u64>,
    /// An `https` link people sign up at.
    pub signup_url: Option<String>,
    /// The subject's own Discord account (a lead's): its channel is private to it.
    #[schema(pattern = "^[1-9][0-9]{0,18}$")]
    pub discord_user_id: Option<String>,
    /// Relay the messages posted in its channel as `message.received` (on for leads unless
    /// `false`).
    pub relay: Option<bool>,
    /// Who signed up: shown on the event's sign-up board, kept up to date in Discord.
    pub signups: Option<SignupsBody>,
}

/// An event's sign-ups.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupsBody {
    #[schema(maximum = 1_000_000)]
    pub count: u32,
    #[schema(maximum = 1_000_000)]
    pub capacity: Option<u32>,
    /// Names or teams, at most 500, each 1 to 100 characters.
    #[serde(default)]
    pub entries: Vec<String>,
    /// This change matters (full, closed): the board is updated now, not at its next turn.
    #[serde(default)]
    pub significant: bool,
}

const MAX_SIGNUP_ENTRIES: usize = 500;
const MAX_SIGNUPS: u32 = 1_000_000;

const MAX_FIELDS: usize = 25;
/// The last second of the year 9999: times past it are mistakes (milliseconds, say).
const LATEST: u64 = 253_402_300_799;
const MAX_TEXT: usize = 100;

impl SubjectBody {
    /// The subject, or every problem with the body at once.
    fn into_subject(self, subject: SubjectRef) -> Result<Subject, Problem> {
        let mut errors = BTreeMap::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_TEXT {
            errors.insert("name".to_owned(), format!("1 to {MAX_TEXT} characters"));
        }
        if self.fields.len() > MAX_FIELDS {
            errors.insert("fields".to_owned(), format!("at most {MAX_FIELDS} fields"));
        }
        for (field, value) in &self.fields {
            let plain =
                !field.is_empty() && field.len() <= 32 && field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            if !plain || value.chars().count() > MAX_TEXT {
                errors.insert(
                    format!("fields.{field}"),
                    format!("names are lowercase letters and _ (at most 32); values at most {MAX_TEXT} characters"),
                );
            }
        }
        for (field, at) in [("starts_at", self.starts_at), ("ends_at", self.ends_at)] {
            if at.is_some_and(|at| at > LATEST) {
                errors.insert(field.to_owned(), "Unix seconds, at most 253402300799 (year 9999)".to_owned());
            }
        }
        if let (Some(starts), Some(ends)) = (self.starts_at, self.ends_at)
            && ends < starts
        {
            errors.insert("ends_at".to_owned(), "not before starts_at".to_owned());
        }
        let signup_ok = self.signup_url.as_deref().is_none_or(|url| {
            url.len() <= 512 && url::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "https" | "http"))
        });
        if !signup_ok {
            errors.insert("signup_url".to_owned(), "an http(s) URL of at most 512 characters".to_owned());
        }
        if let Some(signups) = &self.signups {
            let entries_ok = signups.entries.len() <= MAX_SIGNUP_ENTRIES
                && signups.entries.iter().all(|entry| (1..=MAX_TEXT).contains(&entry.trim().chars().count()));
            if !entries_ok {
                errors.insert(
                    "signups.entries".to_owned(),
                    format!("at most {MAX_SIGNUP_ENTRIES} entries, each 1 to {MAX_TEXT} characters"),
                );
            }
            if signups.count > MAX_SIGNUPS || signups.capacity.is_some_and(|capacity| capacity > MAX_SIGNUPS) {
                errors.insert("signups".to_owned(), format!("count and capacity at most {MAX_SIGNUPS}"));
            }
        }
        let discord_user_id = match self.discord_user_id.as_deref().map(crate::domain::snowflake) {
            Some(Some(id)) => Some(id),
            Some(None) => {
                errors.insert("discord_user_id".to_owned(), "a Discord user id (digits)".to_owned());
                None
            }
            None => None,
        };
        if !errors.is_empty() {
            return Err(Problem::invalid(errors));
        }
        Ok(Subject {
            signups: self.signups.map(|signups| Signups {
                count: signups.count,
                capacity: signups.capacity,
                entries: signups.entries.into_iter().map(|entry| entry.trim().to_owned()).collect(),
                significant: signups.significant,
            }),
            subject,
            name,
            fields: self.fields,
            signup_url: self.signup_url,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            discord_user_id,
            relay: self.relay,
        })
    }
}

/// Creates (201) or updates (200) a subject; with auto-create on, its channel is requested.
#[utoipa::path(put, path = "/v1/subjects/{kind}/{id}", tag = "subjects", params(SubjectPath),
    request_body = SubjectBody,
    responses(
        (status = 201, description = "created", body = SubjectView),
        (status = 200, description = "updated", body = SubjectView),
    ))]
pub async fn put_subject(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<SubjectPath>,
    JsonBody(body, _): JsonBody<SubjectBody>,
) -> Result<Response, Problem> {
    let reference = path.subject()?;
    let subject = body.into_subject(reference.clone())?;
    let registered = channels::register_subject(api.store.as_ref(), api.queue.as_ref(), caller.guild_id, &subject)
        .await
        .map_err(|error| match error {
            RequestError::Store(error) => Problem::from(error),
            RequestError::Queue(error) => Problem::from(error),
            RequestError::BadName(error) => Problem::invalid_field("name", error.to_string()),
        })?;
    let channel_requested = registered.channel_job.is_some();
    let now = api.clock.now();
    timeline::plan_subject(api.store.as_ref(), api.queue.as_ref(), caller.guild_id, &subject, channel_requested, now)
        .await?;
    let mapping = api.store.mapping(caller.guild_id, &reference).await?;
    let status = if registered.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(SubjectView::new(subject, mapping, caller.guild_id))).into_response())
}

/// The subject with its channel state.
#[utoipa::path(get, path = "/v1/subjects/{kind}/{id}", tag = "subjects", params(SubjectPath),
    responses((status = 200, description = "the subject", body = SubjectView)))]
pub async fn get_subject(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<SubjectPath>,
) -> Result<Json<SubjectView>, Problem> {
    let reference = path.subject()?;
    let subject = api.store.subject(caller.guild_id, &reference).await?.ok_or_else(|| Problem::not_found("subject"))?;
    let mapping = api.store.mapping(caller.guild_id, &reference).await?;
    let discord_user = match subject.discord_user_id {
        Some(user) => Some(discord_user(&api, caller.guild_id, &reference, user).await?),
        None => None,
    };
    let teams = api.store.teams(caller.guild_id, &reference).await?;
    let timeline = api.store.actions_taken(caller.guild_id, &reference).await?;
    let mut view = SubjectView::new(subject, mapping, caller.guild_id);
    view.discord_user = discord_user;
    view.teams = Some(teams.into_iter().map(|(team, state)| TeamView::new(team, state, caller.guild_id)).collect());
    view.relay_parked = api.store.relayed(caller.guild_id, &reference).await?.and_then(|relayed| relayed.parked_reason);
    view.timeline = Some(timeline.into_iter().map(ActionView::from).collect());
    Ok(Json(view))
}

/// What the member syncs, the links and the relay know of the subject's Discord user.
async fn discord_user(
    api: &Api,
    guild_id: Id<twilight_model::id::marker::GuildMarker>,
    subject: &SubjectRef,
    user: Id<twilight_model::id::marker::UserMarker>,
) -> Result<DiscordUserView, Problem> {
    let member = api.store.member(guild_id, user).await?;
    let link = api.store.link_of_discord_user(guild_id, user).await?;
    let relayed = api.store.relayed(guild_id, subject).await?;
    Ok(DiscordUserView {
        id: user.to_string(),
        in_guild: member.as_ref().map(|member| !member.left),
        linked_platform_user: link.map(|link| link.platform_user),
        last_seen: member.map(|member| member.seen_at),
        joined_conversation_at: relayed.and_then(|relayed| relayed.conversation_joined_at),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubjectsQuery {
    /// Only subjects of this kind.
    #[param(inline)]
    pub kind: Option<ApiSubjectKind>,
    /// 1 to 100; 50 unless given.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the page before.
    #[param(pattern = "^[A-Za-z0-9_-]{1,4096}$")]
    pub cursor: Option<String>,
}

/// The kinds of subject the platform registers.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiSubjectKind {
    Event,
    Lead,
}

impl From<ApiSubjectKind> for SubjectKind {
    fn from(kind: ApiSubjectKind) -> Self {
        match kind {
            ApiSubjectKind::Event => SubjectKind::Event,
            ApiSubjectKind::Lead => SubjectKind::Lead,
        }
    }
}

/// The guild's subjects, by kind and id, each with its channel state.
#[utoipa::path(get, path = "/v1/subjects", tag = "subjects", params(SubjectsQuery),
    responses((status = 200, description = "a page of subjects", body = Page<SubjectView>)))]
pub async fn list_subjects(
    caller: Connected,
    State(api): State<Arc<Api>>,
    QueryParams(query): QueryParams<SubjectsQuery>,
) -> Result<Json<Page<SubjectView>>, Problem> {
    let limit = page_limit(query.limit)?;
    let page =
        api.store.subjects_page(caller.guild_id, query.kind.map(Into::into), limit, query.cursor.as_deref()).await?;
    let references: Vec<SubjectRef> = page.items.iter().map(|subject| subject.subject.clone()).collect();
    let mut mappings = api.store.mappings_of(caller.guild_id, &references).await?;
    let items = page
        .items
        .into_iter()
        .map(|subject| {
            let mapping = mappings
                .iter()
                .position(|mapping| mapping.subject == subject.subject)
                .map(|at| mappings.swap_remove(at));
            SubjectView::new(subject, mapping, caller.guild_id)
        })
        .collect();
    Ok(Json(Page { items, next_cursor: page.next }))
}
