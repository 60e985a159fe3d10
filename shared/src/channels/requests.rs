//! Asking for channels: the use cases the interactions function and the platform API call.
//! They only touch the store and the queue; the worker does the Discord work.

use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{
    domain::{
        InteractionReply, Job, Subject, SubjectKind, SubjectRef,
        naming::{self, NamingError},
    },
    queue::{JobQueue, QueueError},
    store::{DomainStore, StoreError},
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Queue(#[from] QueueError),
    #[error("that name can't be a channel name: {0}")]
    BadName(NamingError),
}

/// Registers (or updates) a subject; when the guild's settings create channels
/// automatically, enqueues its channel job. Returns whether a job was enqueued.
pub async fn register_subject(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    guild_id: Id<GuildMarker>,
    subject: &Subject,
) -> Result<bool, RequestError> {
    store.upsert_subject(guild_id, subject).await?;
    if !store.settings(guild_id).await?.settings.auto_create_channels {
        return Ok(false);
    }
    let job = Job::CreateChannels { guild_id, subject: subject.subject.clone(), requested_by: None, reply: None };
    queue.enqueue(&job).await?;
    Ok(true)
}

/// An ad-hoc subject for a channel someone asked for by name: its id is the normalised name,
/// so asking twice for the same name finds the same channel instead of making a second.
pub fn adhoc_subject(name: &str) -> Result<Subject, RequestError> {
    let id = naming::normalise_text_channel_name(name).map_err(RequestError::BadName)?;
    Ok(Subject {
        subject: SubjectRef::new(SubjectKind::Adhoc, id),
        name: name.trim().to_owned(),
        fields: Default::default(),
        signup_url: None,
        starts_at: None,
        discord_user_id: None,
    })
}

/// Enqueues the channel job for a subject someone asked for in Discord; the worker answers
/// them by editing the deferred reply.
pub async fn request_channel(
    queue: &dyn JobQueue,
    guild_id: Id<GuildMarker>,
    subject: SubjectRef,
    requested_by: Option<Id<UserMarker>>,
    reply: InteractionReply,
) -> Result<(), RequestError> {
    let job = Job::CreateChannels { guild_id, subject, requested_by, reply: Some(reply) };
    Ok(queue.enqueue(&job).await?)
}
