//! A subject's channel: ask for it, read it, archive it, post to it; and the guild's
//! channels by status.

use serde_json::json;
use twilight_model::id::Id;

use super::{SubjectPath, prelude::*};
use crate::{
    api::idempotency::{self, IdempotencyKey},
    domain::{Job, MappingStatus, SubjectRef},
};

/// 202 with the job, or 200 with the channel when it exists.
#[utoipa::path(post, path = "/v1/subjects/{kind}/{id}/channel", tag = "channels", params(SubjectPath),
    responses(
        (status = 202, description = "the channel job is queued", body = Accepted),
        (status = 200, description = "the channel exists", body = ChannelView),
    ))]
pub async fn request_channel(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<SubjectPath>,
) -> Result<Response, Problem> {
    let subject = existing_subject(&api, &caller, &path).await?;
    let mapping = api.store.mapping(caller.guild_id, &subject).await?;
    if let Some(mapping) = &mapping
        && ChannelView::is_usable(mapping.status)
    {
        return Ok(Json(ChannelView::new(mapping.clone(), caller.guild_id)).into_response());
    }
    // Asking again after a failure is a retry: its own job to the queue's deduplication.
    let retry = match mapping.map(|mapping| mapping.status) {
        Some(MappingStatus::Error) => Some(random_key()?),
        _ => None,
    };
    let job = Job::CreateChannels { retry, guild_id: caller.guild_id, subject, requested_by: None, reply: None };
    accepted(&api, job).await
}

/// The subject's channel mapping: status, ids, link, and the reason when there is one.
#[utoipa::path(get, path = "/v1/subjects/{kind}/{id}/channel", tag = "channels", params(SubjectPath),
    responses((status = 200, description = "the channel", body = ChannelView)))]
pub async fn get_channel(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<SubjectPath>,
) -> Result<Json<ChannelView>, Problem> {
    let subject = path.subject()?;
    let mapping = api.store.mapping(caller.guild_id, &subject).await?.ok_or_else(|| Problem::not_found("channel"))?;
    Ok(Json(ChannelView::new(mapping, caller.guild_id)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveBody {
    /// Why (1 to 400 characters): shown on the mapping and in Discord's audit log.
    #[schema(min_length = 1, max_length = 400)]
    pub reason: String,
}

/// Archives the subject's channel: 202 with the job.
#[utoipa::path(delete, path = "/v1/subjects/{kind}/{id}/channel", tag = "channels", params(SubjectPath),
    request_body = ArchiveBody,
    responses((status = 202, description = "the archive job is queued", body = Accepted)))]
pub async fn archive_channel(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<SubjectPath>,
    JsonBody(body, _): JsonBody<ArchiveBody>,
) -> Result<Response, Problem> {
    let subject = path.subject()?;
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 400 {
        return Err(Problem::invalid_field("reason", "1 to 400 characters"));
    }
    if api.store.mapping(caller.guild_id, &subject).await?.is_none() {
        return Err(Problem::not_found("channel"));
    }
    let job = Job::ArchiveChannel { guild_id: caller.guild_id, subject, reason, reply: None };
    accepted(&api, job).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// 1 to 2000 characters.
    #[schema(min_length = 1, max_length = 2000)]
    pub content: String,
    /// Whether mentions in the content notify anyone (off unless asked for).
    #[serde(default)]
    pub allow_mentions: bool,
    /// A relayed message's `message_id` (from `message.received`): shown as a reply to it.
    #[schema(pattern = "^[1-9][0-9]{0,19}$")]
    pub reply_to: Option<String>,
}

/// Sends a message to the subject's channel: 202 with the job. With an `Idempotency-Key`,
/// sending again posts nothing new and answers as the first time.
#[utoipa::path(post, path = "/v1/subjects/{kind}/{id}/messages", tag = "channels", params(SubjectPath,
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "makes a retry answer the first answer")),
    request_body = NewMessage,
    responses((status = 202, description = "the message job is queued", body = Accepted)))]
pub async fn send_message(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<SubjectPath>,
    key: IdempotencyKey,
    JsonBody(body, raw): JsonBody<NewMessage>,
) -> Result<Response, Problem> {
    let subject = path.subject()?;
    let length = body.content.chars().count();
    if body.content.trim().is_empty() || length > 2000 {
        return Err(Problem::invalid_field("content", format!("1 to 2000 characters, got {length}")));
    }
    let reply_to = match body.reply_to.as_deref().map(super::snowflake) {
        None => None,
        Some(Some(id)) => Some(Id::new(id)),
        Some(None) => return Err(Problem::invalid_field("reply_to", "a Discord message id (digits)")),
    };
    let request = [format!("{subject}\n").as_bytes(), &raw].concat();
    let message_key = match &key.0 {
        Some(key) => key.clone(),
        None => random_key()?,
    };
    idempotency::once(&api, &caller.tenant_id, "message", &key, &request, async {
        let mapping =
            api.store.mapping(caller.guild_id, &subject).await?.ok_or_else(|| Problem::not_found("channel"))?;
        if mapping.status != MappingStatus::Active {
            return Err(Problem::conflict(
                "channel-not-active",
                format!("the channel is {}; messages go to active channels", mapping.status.as_str()),
            ));
        }
        let job = Job::SendMessage {
            guild_id: caller.guild_id,
            subject: subject.clone(),
            content: body.content,
            message_key,
            allow_mentions: body.allow_mentions,
            reply_to,
            parts: Default::default(),
            team: None,
        };
        api.queue.enqueue(&job).await?;
        Ok((StatusCode::ACCEPTED, json!(Accepted { job: JobView::queued(&job) })))
    })
    .await
}

async fn existing_subject(api: &Api, caller: &Connected, path: &SubjectPath) -> Result<SubjectRef, Problem> {
    let subject = path.subject()?;
    match api.store.subject(caller.guild_id, &subject).await? {
        Some(_) => Ok(subject),
        None => Err(Problem::not_found("subject")),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelsQuery {
    /// `creating`, `active` (unless given), `completed`, `archived` or `error`.
    #[param(pattern = "^(creating|active|completed|archived|error)$")]
    pub status: Option<String>,
    /// 1 to 100; 50 unless given.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{1,4096}$")]
    pub cursor: Option<String>,
}

/// The guild's channel mappings in one status, most recently changed first.
#[utoipa::path(get, path = "/v1/channels", tag = "channels", params(ChannelsQuery),
    responses((status = 200, description = "a page of channels", body = Page<ChannelView>)))]
pub async fn list_channels(
    caller: Connected,
    State(api): State<Arc<Api>>,
    QueryParams(query): QueryParams<ChannelsQuery>,
) -> Result<Json<Page<ChannelView>>, Problem> {
    let status = match query.status.as_deref().unwrap_or("active") {
        "creating" => MappingStatus::Creating,
        "active" => MappingStatus::Active,
        "completed" => MappingStatus::Completed,
        "archived" => MappingStatus::Archived,
        "error" => MappingStatus::Error,
        _ => return Err(Problem::invalid_field("status", "creating, active, completed, archived or error")),
    };
    let limit = page_limit(query.limit)?;
    let page = api
        .store
        .mappings_by_status(caller.guild_id, status, limit, query.cursor.as_deref())
        .await
        .map_err(cursor_problem)?;
    let items = page.mappings.into_iter().map(|mapping| ChannelView::new(mapping, caller.guild_id)).collect();
    Ok(Json(Page { items, next_cursor: page.next }))
}

/// A single-use, week-long invite into the subject's channel, for the platform to send to a
/// lead who is not in the guild yet: 202 with the job; its result holds `url` and `code`.
#[utoipa::path(post, path = "/v1/subjects/{kind}/{id}/invite", tag = "channels", params(SubjectPath),
    responses((status = 202, description = "the invite job is queued; GET its job for the invite", body = Accepted)))]
pub async fn create_invite(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<SubjectPath>,
) -> Result<Response, Problem> {
    let subject = path.subject()?;
    let mapping = api.store.mapping(caller.guild_id, &subject).await?.ok_or_else(|| Problem::not_found("channel"))?;
    if mapping.status != MappingStatus::Active {
        return Err(Problem::conflict(
            "channel-not-active",
            format!("the channel is {}; invites go to active channels", mapping.status.as_str()),
        ));
    }
    let job = Job::CreateInvite { guild_id: caller.guild_id, subject, request_id: random_key()?.into() };
    accepted(&api, job).await
}
