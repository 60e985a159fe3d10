//! The guild's tabs that watch what Guildbridge does: its channels by status (Retry, Archive), its
//! member syncs (Sync now), its dead letters (Retry), and the tenant's API keys.

use crate::domain::error::Report;
use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{
    ErrorPage, Pages,
    access::{ConnectedForm, ConnectedPage, Denied, Fields, FromFields, GuildAdmin},
    html::{self, Nav, Notice},
    render, see_other,
};
use crate::{
    api::views::{ChannelView, DeadLetterView, SyncView},
    domain::{ArchiveReason, Job, MappingStatus, SubjectRef, TenantId},
    store::{JobRecord, JobStatus},
    sync::{SyncRequest, SyncRequestError, SyncRequested, request_sync},
};

const PAGE_SIZE: u32 = 25;
const STATUSES: [MappingStatus; 5] = [
    MappingStatus::Active,
    MappingStatus::Creating,
    MappingStatus::Error,
    MappingStatus::Completed,
    MappingStatus::Archived,
];

/// What a write did, carried to the page it lands on as `?done=<code>`: the page shows the
/// code's own text, so a crafted link cannot make the site say something of its choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    RetryQueued,
    ArchiveQueued,
    SyncQueued,
    SyncRunning,
    QueuedAgain,
}

impl Done {
    const ALL: [Done; 5] =
        [Done::RetryQueued, Done::ArchiveQueued, Done::SyncQueued, Done::SyncRunning, Done::QueuedAgain];

    fn code(self) -> &'static str {
        match self {
            Done::RetryQueued => "retry-queued",
            Done::ArchiveQueued => "archive-queued",
            Done::SyncQueued => "sync-queued",
            Done::SyncRunning => "sync-running",
            Done::QueuedAgain => "queued-again",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Done::RetryQueued => "Retry queued: the channel will be made again.",
            Done::ArchiveQueued => "Archive queued.",
            Done::SyncQueued => "Sync queued.",
            Done::SyncRunning => "A sync is already running; it is shown below.",
            Done::QueuedAgain => "Queued again.",
        }
    }

    /// The notice for the page's `done` parameter; none for a code it does not know.
    fn notice(query: &HashMap<String, String>) -> Option<Notice> {
        let code = query.get("done")?;
        Done::ALL.into_iter().find(|done| done.code() == code).map(|done| Notice::success(done.text()))
    }
}

fn query_map(raw: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// A platform tenant's credentials (API keys, the webhook endpoint and its secret) are the
/// platform's: a guild's admins see their status, and only a standalone tenant's admins
/// change them. `Some` is the refusal to give a change on a platform's tenant.
pub(super) fn platform_owned(admin: &GuildAdmin, tenant: &TenantId) -> Option<Response> {
    (!tenant.is_standalone_for(admin.guild_id())).then(|| {
        ErrorPage::new(
            StatusCode::FORBIDDEN,
            "The platform's to change",
            "This server is connected to a platform: its API keys and webhook belong to the platform, which \
             manages them through the tenant API.",
        )
        .unchanged()
        .into_response()
    })
}

/// Queues a job with its record, as the tenant API does.
async fn queue(pages: &Pages, job: &Job) -> Result<(), ErrorPage> {
    let record = JobRecord::of(job, JobStatus::Queued, 0, pages.clock.now());
    pages.store.record_job_queued(job.guild_id(), &record).await?;
    pages.queue.enqueue(job).await.map_err(|error| {
        tracing::warn!(error = %Report(&error), "settings page: queue failed");
        ErrorPage::busy()
    })
}

/// A checked write to a connected guild (origin, CSRF, access): `act` on the form.
async fn write<T, F, Fut>(checked: ConnectedForm<T>, act: F) -> Response
where
    F: FnOnce(GuildAdmin, TenantId, T) -> Fut,
    Fut: std::future::Future<Output = Result<Response, ErrorPage>>,
{
    let ConnectedForm { admin, tenant, form } = checked;
    act(admin, tenant, form).await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /settings/guilds/{id}/channels?status=..&cursor=..`.
pub async fn channels(
    State(pages): State<Arc<Pages>>,
    ConnectedPage { admin, .. }: ConnectedPage,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = query_map(raw);
    let path = format!("/settings/guilds/{}/channels", admin.guild_id());
    let status = query
        .get("status")
        .and_then(|wanted| STATUSES.into_iter().find(|status| status.as_str() == wanted))
        .unwrap_or(MappingStatus::Active);
    let cursor = query.get("cursor").map(String::as_str);
    let page = match pages.store.mappings_by_status(admin.guild_id(), status, PAGE_SIZE, cursor).await {
        Ok(page) => page,
        // A cursor from elsewhere (or damaged) starts the listing over.
        Err(crate::store::StoreError::BadCursor) => return see_other(&format!("{path}?status={}", status.as_str())),
        Err(error) => return Denied::from(error).into_response(),
    };
    let subjects: Vec<SubjectRef> = page.mappings.iter().map(|mapping| mapping.subject.clone()).collect();
    // Names are a nicety: without them the rows show each subject's `kind:id`.
    let names = match pages.store.subjects(admin.guild_id(), &subjects).await {
        Ok(found) => found.into_iter().map(|subject| (subject.subject.to_string(), subject.name)).collect(),
        Err(error) => {
            tracing::warn!(error = %Report(&error), "the channels page shows ids without names");
            Default::default()
        }
    };
    let rows = page.mappings.into_iter().map(|mapping| ChannelView::new(mapping, admin.guild_id())).collect();
    let notice = Done::notice(&query);
    render(&html::ChannelsPage {
        nav: Nav::new(&admin, "channels").with_summary(super::summary::line(&pages, admin.guild_id()).await),
        statuses: STATUSES.iter().map(|s| (s.as_str(), *s == status)).collect(),
        status: status.as_str(),
        rows,
        names,
        next: page.next,
        notice,
    })
}

fn subject_of(fields: &Fields) -> Result<SubjectRef, ErrorPage> {
    fields
        .get("subject")
        .and_then(|subject| SubjectRef::parse(subject))
        .ok_or_else(|| ErrorPage::new(StatusCode::BAD_REQUEST, "No such channel", "The form named no subject."))
}

/// A channel's row form: its subject.
pub struct ChannelForm {
    subject: SubjectRef,
}

impl FromFields for ChannelForm {
    fn from_fields(fields: Fields) -> Result<Self, ErrorPage> {
        Ok(Self { subject: subject_of(&fields)? })
    }
}

/// The archive form: the subject, and why.
pub struct ArchiveForm {
    subject: SubjectRef,
    reason: ArchiveReason,
}

impl FromFields for ArchiveForm {
    fn from_fields(fields: Fields) -> Result<Self, ErrorPage> {
        let subject = subject_of(&fields)?;
        let reason =
            ArchiveReason::parse(fields.get("reason").map(String::as_str).unwrap_or_default()).map_err(|_| {
                let detail = format!("Say why the channel is archived (1 to {} characters).", ArchiveReason::MAX_CHARS);
                ErrorPage::new(StatusCode::UNPROCESSABLE_ENTITY, "A reason is needed", detail).unchanged()
            })?;
        Ok(Self { subject, reason })
    }
}

/// The dead-letter retry form: the record's id (checked against this guild's records).
pub struct DeadLetterForm {
    id: String,
}

impl FromFields for DeadLetterForm {
    fn from_fields(mut fields: Fields) -> Result<Self, ErrorPage> {
        Ok(Self { id: fields.remove("id").unwrap_or_default() })
    }
}

/// The key revocation form: the key's id (checked against this tenant's keys).
pub struct RevokeForm {
    key_id: String,
}

impl FromFields for RevokeForm {
    fn from_fields(mut fields: Fields) -> Result<Self, ErrorPage> {
        Ok(Self { key_id: fields.remove("key_id").unwrap_or_default() })
    }
}

fn back_to_channels(guild: &GuildAdmin, status: &str, done: Done) -> Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("status", status).append_pair("done", done.code());
    see_other(&format!("/settings/guilds/{}/channels?{}", guild.guild_id(), query.finish()))
}

/// `POST .../channels/retry`: an errored channel's job again.
pub async fn retry_channel(State(pages): State<Arc<Pages>>, checked: ConnectedForm<ChannelForm>) -> Response {
    let pages = pages.as_ref();
    write(checked, |admin, _, ChannelForm { subject }| async move {
        let mapping = pages.store.mapping(admin.guild_id(), &subject).await?;
        if mapping.map(|mapping| mapping.status) != Some(MappingStatus::Error) {
            return Err(ErrorPage::new(StatusCode::CONFLICT, "Nothing to retry", "Only errored channels are retried."));
        }
        let job =
            Job::CreateChannels { retry: None, guild_id: admin.guild_id(), subject, requested_by: None, reply: None }
                .retried(super::random_token()?);
        queue(pages, &job).await?;
        Ok(back_to_channels(&admin, "error", Done::RetryQueued))
    })
    .await
}

/// `POST .../channels/archive`: archives a channel, with a reason.
pub async fn archive_channel(State(pages): State<Arc<Pages>>, checked: ConnectedForm<ArchiveForm>) -> Response {
    let pages = pages.as_ref();
    write(checked, |admin, _, ArchiveForm { subject, reason }| async move {
        let reason = reason.into_string();
        let Some(mapping) = pages.store.mapping(admin.guild_id(), &subject).await? else {
            return Err(ErrorPage::new(StatusCode::NOT_FOUND, "No such channel", "It is not this server's."));
        };
        let job = Job::ArchiveChannel { guild_id: admin.guild_id(), subject, reason, reply: None };
        queue(pages, &job).await?;
        Ok(back_to_channels(&admin, mapping.status.as_str(), Done::ArchiveQueued))
    })
    .await
}

/// `GET .../sync`: recent runs, the running one, the next scheduled time.
pub async fn syncs(
    State(pages): State<Arc<Pages>>,
    ConnectedPage { admin, .. }: ConnectedPage,
    RawQuery(raw): RawQuery,
) -> Response {
    let guild_id = admin.guild_id();
    let now = pages.clock.now();
    let (runs, lease, schedule) = match tokio::join!(
        pages.store.recent_runs(guild_id, 20),
        pages.store.lease(guild_id, now),
        pages.store.sync_schedule(guild_id),
    ) {
        (Ok(runs), Ok(lease), Ok(schedule)) => (runs, lease, schedule),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => return Denied::from(error).into_response(),
    };
    let query = query_map(raw);
    render(&html::SyncPage {
        nav: Nav::new(&admin, "sync").with_summary(super::summary::line(&pages, admin.guild_id()).await),
        running: lease.map(|lease| lease.run_id.to_string()),
        next_at: schedule.as_ref().map(|schedule| html::when(schedule.next_at)),
        schedule_error: schedule.and_then(|schedule| schedule.last_error),
        runs: runs.into_iter().map(SyncView::from).map(html::RunRow::from).collect(),
        notice: Done::notice(&query),
    })
}

/// `POST .../sync`: Sync now.
pub async fn sync_now(State(pages): State<Arc<Pages>>, checked: ConnectedForm) -> Response {
    let pages = pages.as_ref();
    write(checked, |admin, _, _| async move {
        let request = SyncRequest::Platform(format!("settings-page:{}", super::random_token()?));
        let asked = request_sync(
            pages.store.as_ref(),
            pages.queue.as_ref(),
            admin.guild_id(),
            request,
            None,
            pages.clock.now(),
        )
        .await
        .map_err(|error| match error {
            SyncRequestError::Store(error) => ErrorPage::from(error),
            SyncRequestError::Queue(_) => ErrorPage::busy(),
        })?;
        let done = match asked {
            SyncRequested::Queued { .. } | SyncRequested::AlreadyRequested { .. } => Done::SyncQueued,
            SyncRequested::Busy(_) => Done::SyncRunning,
        };
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("done", done.code());
        Ok(see_other(&format!("/settings/guilds/{}/sync?{}", admin.guild_id(), query.finish())))
    })
    .await
}

/// `GET .../dead-letters`.
pub async fn dead_letters(
    State(pages): State<Arc<Pages>>,
    ConnectedPage { admin, .. }: ConnectedPage,
    RawQuery(raw): RawQuery,
) -> Response {
    let letters = match pages.store.dead_letters(Some(admin.guild_id()), 50).await {
        Ok(letters) => letters,
        Err(error) => return Denied::from(error).into_response(),
    };
    let query = query_map(raw);
    render(&html::DeadLettersPage {
        nav: Nav::new(&admin, "dead-letters").with_summary(super::summary::line(&pages, admin.guild_id()).await),
        letters: letters.into_iter().map(DeadLetterView::from).map(html::LetterRow::from).collect(),
        notice: Done::notice(&query),
    })
}

/// `POST .../dead-letters/retry`: the job queued again, as it was.
pub async fn retry_dead_letter(State(pages): State<Arc<Pages>>, checked: ConnectedForm<DeadLetterForm>) -> Response {
    let pages = pages.as_ref();
    write(checked, |admin, _, DeadLetterForm { id }| async move {
        let gone = || ErrorPage::new(StatusCode::NOT_FOUND, "No such dead letter", "It is not this server's.");
        let letter = pages.store.dead_letter(admin.guild_id(), &id).await?.ok_or_else(gone)?;
        let job = match Job::from_body(&letter.body) {
            Ok(job) if job.guild_id() == admin.guild_id() => job,
            _ => {
                return Err(ErrorPage::new(
                    StatusCode::CONFLICT,
                    "Cannot retry",
                    "This record's body is not a job that can run again.",
                ));
            }
        };
        queue(pages, &job).await?;
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("done", Done::QueuedAgain.code());
        Ok(see_other(&format!("/settings/guilds/{}/dead-letters?{}", admin.guild_id(), query.finish())))
    })
    .await
}

/// `GET .../keys`: the tenant's API keys (never their secrets).
pub async fn api_keys(State(pages): State<Arc<Pages>>, ConnectedPage { admin, tenant }: ConnectedPage) -> Response {
    keys_page(&pages, &admin, &tenant, None, None).await
}

async fn keys_page(
    pages: &Pages,
    admin: &GuildAdmin,
    tenant: &TenantId,
    secret: Option<String>,
    notice: Option<Notice>,
) -> Response {
    match pages.store.api_keys(tenant).await {
        Ok(keys) => render(&html::KeysPage {
            nav: Nav::new(admin, "keys").with_summary(super::summary::line(pages, admin.guild_id()).await),
            manage: tenant.is_standalone_for(admin.guild_id()),
            tenant: tenant.to_string(),
            keys: keys.into_iter().map(html::KeyRow::from).collect(),
            secret,
            notice,
        }),
        Err(error) => Denied::from(error).into_response(),
    }
}

/// `POST .../keys`: a new key, shown once on the page that answers.
pub async fn create_api_key(
    State(pages): State<Arc<Pages>>,
    ConnectedForm { admin, tenant, .. }: ConnectedForm,
) -> Response {
    if let Some(refused) = platform_owned(&admin, &tenant) {
        return refused;
    }
    let session = &admin.signed_in.session;
    let grant = crate::domain::KeyGrant {
        door: crate::domain::KeyDoor::Page,
        created_by: format!("{} ({})", session.username, session.user_id),
        expires_at: None,
    };
    match pages.store.issue_key(&tenant, grant, pages.clock.now()).await {
        Ok(issued) => {
            tracing::info!(key_id = %issued.record.key_id, "settings page: API key issued");
            let notice = Notice::success("Key created. Copy it now: it is not shown again.");
            keys_page(&pages, &admin, &tenant, Some(issued.secret), Some(notice)).await
        }
        Err(error) => Denied::from(error).into_response(),
    }
}

/// `POST .../keys/revoke`.
pub async fn revoke_api_key(
    State(pages): State<Arc<Pages>>,
    ConnectedForm { admin, tenant, form: RevokeForm { key_id } }: ConnectedForm<RevokeForm>,
) -> Response {
    if let Some(refused) = platform_owned(&admin, &tenant) {
        return refused;
    }
    match pages.store.revoke_api_key(&tenant, &key_id, pages.clock.now()).await {
        Ok(()) => keys_page(&pages, &admin, &tenant, None, Some(Notice::success("Key revoked."))).await,
        Err(crate::store::StoreError::NotFound(_)) => {
            ErrorPage::new(StatusCode::NOT_FOUND, "No such key", "It is not this tenant's.").into_response()
        }
        Err(error) => Denied::from(error).into_response(),
    }
}
