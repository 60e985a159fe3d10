//! A subject's channel: ask for it, read it, archive it, post to it; and the guild's
//! channels by status.

use crate::domain::error::Report;
use std::collections::BTreeMap;

use serde_json::json;
use twilight_model::id::Id;

use super::{SubjectPath, prelude::*};
use crate::{
    api::idempotency::{self, IdempotencyKey},
    domain::{
        ArchiveReason, Job, MappingStatus, MessageParts, RESULT_PREFIX, RESULT_VALUE_MAX_CHARS, SubjectRef,
        is_field_name, subject_values,
    },
    timeline::{self, SummaryOutcome},
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
    let reason = ArchiveReason::parse(&body.reason)
        .map_err(|_| Problem::invalid_field("reason", format!("1 to {} characters", ArchiveReason::MAX_CHARS)))?
        .into_string();
    if api.store.mapping(caller.guild_id, &subject).await?.is_none() {
        return Err(Problem::not_found("channel"));
    }
    let job = Job::ArchiveChannel { guild_id: caller.guild_id, subject, reason, reply: None };
    accepted(&api, job).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// 1 to 2000 characters (optional with a template).
    #[schema(max_length = 2000)]
    #[serde(default)]
    pub content: String,
    /// `results`: post the guild's results template, filled from `results` (the event's
    /// summary follows, once, when the guild has a summary template). `summary`: post the
    /// summary now (once per event: 409 when it was already posted).
    pub template: Option<MessageTemplateName>,
    /// The values a results template uses as `{result.<name>}`, and a summary lists as its
    /// top entries: names are lowercase letters and `_`, values 1 to 100 characters.
    #[serde(default)]
    pub results: BTreeMap<String, String>,
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
    let templated = body.template.is_some();
    if (!templated && body.content.trim().is_empty()) || length > 2000 {
        return Err(Problem::invalid_field("content", format!("1 to 2000 characters, got {length}")));
    }
    if body.template == Some(MessageTemplateName::Summary) {
        check_results(&body.results).map_err(Problem::invalid)?;
        return summary_now(&api, &caller, &subject, &key, &raw, &body.results).await;
    }
    let results = body.template == Some(MessageTemplateName::Results);
    let (content, parts) = match results {
        true => results_message(&api, &caller, &subject, &body.results).await?,
        false => (body.content, MessageParts::default()),
    };
    let reply_to = match body.reply_to.as_deref().map(crate::domain::snowflake) {
        None => None,
        Some(Some(id)) => Some(id),
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
        if !mapping.status.is_open() {
            return Err(Problem::conflict(
                "channel-not-active",
                format!("the channel is {}; messages go to channels until they are archived", mapping.status.as_str()),
            ));
        }
        let job = Job::SendMessage {
            guild_id: caller.guild_id,
            subject: subject.clone(),
            content,
            message_key,
            allow_mentions: body.allow_mentions,
            reply_to,
            parts,
            team: None,
        };
        api.queue.enqueue(&job).await?;
        if results {
            summary_after_results(&api, &caller, &subject, &body.results).await;
        }
        Ok((StatusCode::ACCEPTED, json!(Accepted { job: JobView::queued(&job) })))
    })
    .await
}

/// The templates a platform message can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageTemplateName {
    Results,
    Summary,
}

/// The results are queued: the summary follows them, once. If it cannot be decided now,
/// the summary planned at the event's end still stands.
async fn summary_after_results(
    api: &Api,
    caller: &Connected,
    subject: &SubjectRef,
    results: &BTreeMap<String, String>,
) {
    let now = api.clock.now();
    match timeline::post_summary(api.store.as_ref(), api.queue.as_ref(), caller.guild_id, subject, results, now).await {
        Ok(SummaryOutcome::Queued(_)) => {
            tracing::info!(guild_id = %caller.guild_id, %subject, "the summary follows the results")
        }
        Ok(SummaryOutcome::AlreadyDecided(_) | SummaryOutcome::UnknownSubject | SummaryOutcome::Nothing(_)) => {}
        Err(error) => {
            tracing::warn!(guild_id = %caller.guild_id, %subject, error = %Report(&error), "the summary did not follow the results; it stays planned at the end")
        }
    }
}

/// `"template": "summary"`: the summary now, once per event.
async fn summary_now(
    api: &Api,
    caller: &Connected,
    subject: &SubjectRef,
    key: &IdempotencyKey,
    raw: &[u8],
    results: &BTreeMap<String, String>,
) -> Result<Response, Problem> {
    let request = [format!("{subject}\n").as_bytes(), raw].concat();
    idempotency::once(api, &caller.tenant_id, "message", key, &request, async {
        let now = api.clock.now();
        let posted =
            timeline::post_summary(api.store.as_ref(), api.queue.as_ref(), caller.guild_id, subject, results, now)
                .await?;
        match posted {
            SummaryOutcome::Queued(job) => Ok((StatusCode::ACCEPTED, json!(Accepted { job: JobView::queued(&job) }))),
            SummaryOutcome::AlreadyDecided(decided) => Err(Problem::conflict(
                "summary-already-decided",
                format!("the summary was already {} at {}", decided.outcome.as_str(), decided.decided_at),
            )),
            SummaryOutcome::UnknownSubject => Err(Problem::not_found("subject")),
            SummaryOutcome::Nothing(reason) => Err(Problem::conflict("no-summary", reason)),
        }
    })
    .await
}

/// Every problem with the platform's result values, by field.
fn check_results(results: &BTreeMap<String, String>) -> Result<(), BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    for (name, value) in results {
        if !is_field_name(name) || value.trim().is_empty() || value.chars().count() > RESULT_VALUE_MAX_CHARS {
            errors.insert(
                format!("results.{name}"),
                format!("names are lowercase letters and _; values 1 to {RESULT_VALUE_MAX_CHARS} characters"),
            );
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// The results template rendered with the subject and the platform's values; every problem
/// (a value the template needs and the body lacks, one too long) is a 422 before anything is queued.
async fn results_message(
    api: &Api,
    caller: &Connected,
    subject: &SubjectRef,
    results: &BTreeMap<String, String>,
) -> Result<(String, MessageParts), Problem> {
    let mut errors = check_results(results).err().unwrap_or_default();
    let settings = api.store.settings(caller.guild_id).await?.settings;
    let template = &settings.results_template;
    for needed in template.result_fields() {
        if !results.contains_key(&needed) {
            errors.insert(format!("results.{needed}"), "the results template uses it".to_owned());
        }
    }
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    let record = api.store.subject(caller.guild_id, subject).await?.ok_or_else(|| Problem::not_found("subject"))?;
    let channel = api.store.mapping(caller.guild_id, subject).await?.and_then(|mapping| mapping.channels.text);
    let mut values = subject_values(&record, channel.map(Id::get));
    values.extend(results.iter().map(|(name, value)| (format!("{RESULT_PREFIX}{name}"), value.clone())));
    let rendered = template.render(&values).map_err(|errors| Problem::invalid_field("results", errors.to_string()))?;
    let parts = MessageParts { embeds: rendered.embeds, ..MessageParts::default() };
    Ok((rendered.content.unwrap_or_default(), parts))
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
#[serde(deny_unknown_fields)]
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
    let page = api.store.mappings_by_status(caller.guild_id, status, limit, query.cursor.as_deref()).await?;
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
