//! Asking for channels: the use cases the interactions function and the platform API call.
//! They only touch the store and the queue; the worker does the Discord work.

use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{
    domain::{
        InteractionReply, Job, MappingStatus, Subject, SubjectKind, SubjectRef,
        naming::{self, NamingError},
    },
    queue::{JobQueue, QueueError},
    store::{DomainStore, StoreError},
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("that name can't be a channel name: {0}")]
    BadName(NamingError),
}

/// What registering a subject did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The subject is new (not an update).
    pub created: bool,
    /// The channel job enqueued because the guild creates channels automatically.
    pub channel_job: Option<Job>,
}

/// Registers (or updates) a subject; when the guild's settings create channels
/// automatically, enqueues its channel job (a subject whose channel exists gets none: the
/// job would find the mapping and do nothing).
pub async fn register_subject(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    guild_id: Id<GuildMarker>,
    subject: &Subject,
) -> Result<Registered, RequestError> {
    // Read first only to see whose the channel was: the worker lets in whoever the subject
    // names when it runs, so a race between two updates still ends with the last one.
    let before = store.subject(guild_id, &subject.subject).await?;
    let created = store.upsert_subject(guild_id, subject).await?;
    let mapping = match created {
        true => None,
        false => store.mapping(guild_id, &subject.subject).await?,
    };
    let previous_user = before.and_then(|before| before.discord_user_id);
    if let Some(mapping) = &mapping
        && previous_user != subject.discord_user_id
        && matches!(mapping.status, MappingStatus::Active | MappingStatus::Creating | MappingStatus::Completed)
    {
        let job = Job::UpdateSubjectAccess {
            guild_id,
            subject: subject.subject.clone(),
            add: subject.discord_user_id,
            remove: previous_user,
        };
        queue.enqueue(&job).await?;
    }
    if mapping.is_some() || !store.settings(guild_id).await?.settings.auto_create_channels {
        return Ok(Registered { created, channel_job: None });
    }
    let job = Job::CreateChannels {
        retry: None,
        guild_id,
        subject: subject.subject.clone(),
        requested_by: None,
        reply: None,
    };
    queue.enqueue(&job).await?;
    Ok(Registered { created, channel_job: Some(job) })
}

/// An ad-hoc subject for a channel someone asked for by name: its id is the normalised name,
/// so asking twice for the same name finds the same channel instead of making a second.
pub fn adhoc_subject(name: &str) -> Result<Subject, RequestError> {
    let id = naming::normalise_text_channel_name(name).map_err(RequestError::BadName)?;
    Ok(Subject {
        signups: None,
        subject: SubjectRef::new(SubjectKind::Adhoc, id),
        name: name.trim().to_owned(),
        fields: Default::default(),
        signup_url: None,
        starts_at: None,
        discord_user_id: None,
        ends_at: None,
        relay: None,
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
    let job = Job::CreateChannels { retry: None, guild_id, subject, requested_by, reply: Some(reply) };
    Ok(queue.enqueue(&job).await?)
}
