//! Jobs: slow work handed from the functions that answer (interactions, the tenant API, the
//! scheduler) to the workers. The job types live here once, for producers and consumers
//! alike; the queues that carry them are adapters (`queue`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use twilight_model::id::{
    Id,
    marker::{ApplicationMarker, GuildMarker, InteractionMarker, MessageMarker, UserMarker},
};

use twilight_model::channel::message::{Component, Embed};

use super::{JobKey, PlatformEvent, RequestId, SubjectRef, SyncKind, TeamId, TenantId};

/// What a message carries besides its text: embeds (results) and components (buttons).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageParts {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embeds: Vec<Embed>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// A "Remind me" button (signed by the worker that posts it) goes with the message.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remind_button: bool,
}

impl MessageParts {
    pub fn is_empty(&self) -> bool {
        self.embeds.is_empty() && self.components.is_empty() && !self.remind_button
    }
}

/// Which queue a job goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueKind {
    Channel,
    Sync,
    /// Platform webhook deliveries (grouped by tenant).
    Webhook,
}

impl QueueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Channel => "channel",
            QueueKind::Sync => "sync",
            QueueKind::Webhook => "webhook",
        }
    }
}

/// Where a worker reports back when a job came from a slash command: the interaction's
/// webhook (its token works for 15 minutes after `received_at`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionReply {
    pub application_id: Id<ApplicationMarker>,
    pub interaction_id: Id<InteractionMarker>,
    /// A secret for 15 minutes: never logged.
    pub token: String,
    /// Unix seconds.
    pub received_at: u64,
}

impl std::fmt::Debug for InteractionReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractionReply")
            .field("application_id", &self.application_id)
            .field("interaction_id", &self.interaction_id)
            .field("token", &"<redacted>")
            .field("received_at", &self.received_at)
            .finish()
    }
}

/// One unit of slow work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// Create the subject's channel(s).
    CreateChannels {
        guild_id: Id<GuildMarker>,
        subject: SubjectRef,
        requested_by: Option<Id<UserMarker>>,
        reply: Option<InteractionReply>,
        /// A person asking again after the channel failed: new work for the queue's
        /// deduplication window (which would otherwise drop it as the first job's repeat),
        /// while the store's claim still keeps it to one channel.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry: Option<String>,
    },
    /// Archive (or delete) the subject's channel(s).
    ArchiveChannel { guild_id: Id<GuildMarker>, subject: SubjectRef, reason: String, reply: Option<InteractionReply> },
    /// Post a message in the subject's channel; `message_key` names it so a redelivery posts once.
    SendMessage {
        guild_id: Id<GuildMarker>,
        subject: SubjectRef,
        content: String,
        message_key: String,
        /// Whether mentions in `content` notify anyone (off unless the sender asked).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        allow_mentions: bool,
        /// The message this one answers (a relayed message), shown as a reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<Id<MessageMarker>>,
        #[serde(default, skip_serializing_if = "MessageParts::is_empty")]
        parts: MessageParts,
        /// Post in this team's thread instead of the subject's channel.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team: Option<TeamId>,
    },
    /// A reminder by DM to a member of the event's teams who asked for them ("Remind me"):
    /// the same message as in the channel, `message_key` its action (`reminder:60`).
    RemindByDm {
        guild_id: Id<GuildMarker>,
        subject: SubjectRef,
        user_id: Id<UserMarker>,
        message_key: String,
        content: String,
        #[serde(default, skip_serializing_if = "MessageParts::is_empty")]
        parts: MessageParts,
    },
    /// Bring the team's thread (role and voice channel) in line with the team as the platform
    /// described it at `revision`: create, add and remove members, or archive it once removed.
    /// `settings_saved_at`: asked again because the guild's team settings changed then (its
    /// own job, not a repeat of the revision's).
    SyncTeam {
        guild_id: Id<GuildMarker>,
        subject: SubjectRef,
        team_id: TeamId,
        revision: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        settings_saved_at: Option<u64>,
    },
    /// Post or edit the subject's sign-up board so it shows the sign-ups hashed as `shows`.
    /// `asked_at` keeps a return to earlier sign-ups (A, B, then A again) from being dropped
    /// as the first job's repeat; the worker still edits only when the board shows otherwise.
    UpdateBoard {
        guild_id: Id<GuildMarker>,
        subject: SubjectRef,
        shows: String,
        #[serde(default)]
        asked_at: u64,
    },
    /// Synchronise the guild's members; `request_id` names the request (an interaction, a
    /// due time, a platform call) so that one request is one run. A run too large for one
    /// invocation continues in a job with `after` set (the cursor it continues from), which
    /// makes the continuation a job of its own in the queue's deduplication.
    SyncMembers {
        guild_id: Id<GuildMarker>,
        kind: SyncKind,
        request_id: RequestId,
        reply: Option<InteractionReply>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Id<UserMarker>>,
    },
    /// The bot leaves a guild its tenant disconnected (unless it was connected again since).
    /// `requested_at` makes each disconnect its own job.
    LeaveGuild { guild_id: Id<GuildMarker>, requested_at: u64 },
    /// The subject's Discord user changed after its channel existed: let `add` in and
    /// `remove` out of the private channel.
    UpdateSubjectAccess {
        guild_id: Id<GuildMarker>,
        subject: SubjectRef,
        add: Option<Id<UserMarker>>,
        remove: Option<Id<UserMarker>>,
    },
    /// A single-use invite into the subject's channel; `request_id` names the request.
    CreateInvite { guild_id: Id<GuildMarker>, subject: SubjectRef, request_id: RequestId },
    /// One event to the tenant's webhook endpoint. `copy` is unique to each emission, so the
    /// delivery record knows its own redeliveries from a second copy of the same event.
    DeliverWebhook {
        guild_id: Id<GuildMarker>,
        tenant_id: TenantId,
        event: PlatformEvent,
        copy: String,
        /// A person's retry of a dead-lettered delivery (new work to the queue's deduplication).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry: Option<String>,
    },
}

impl Job {
    pub fn guild_id(&self) -> Id<GuildMarker> {
        match self {
            Job::CreateChannels { guild_id, .. }
            | Job::ArchiveChannel { guild_id, .. }
            | Job::SendMessage { guild_id, .. }
            | Job::RemindByDm { guild_id, .. }
            | Job::SyncMembers { guild_id, .. }
            | Job::LeaveGuild { guild_id, .. }
            | Job::UpdateSubjectAccess { guild_id, .. }
            | Job::CreateInvite { guild_id, .. }
            | Job::DeliverWebhook { guild_id, .. }
            | Job::SyncTeam { guild_id, .. }
            | Job::UpdateBoard { guild_id, .. } => *guild_id,
        }
    }

    /// The FIFO message group: one guild's jobs run in order, one tenant's deliveries too.
    pub fn message_group(&self) -> String {
        match self {
            Job::DeliverWebhook { tenant_id, .. } => format!("tenant:{tenant_id}"),
            other => other.guild_id().to_string(),
        }
    }

    /// The job's type as its body names it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Job::CreateChannels { .. } => "create_channels",
            Job::ArchiveChannel { .. } => "archive_channel",
            Job::SendMessage { .. } => "send_message",
            Job::RemindByDm { .. } => "remind_by_dm",
            Job::SyncMembers { .. } => "sync_members",
            Job::LeaveGuild { .. } => "leave_guild",
            Job::UpdateSubjectAccess { .. } => "update_subject_access",
            Job::CreateInvite { .. } => "create_invite",
            Job::DeliverWebhook { .. } => "deliver_webhook",
            Job::SyncTeam { .. } => "sync_team",
            Job::UpdateBoard { .. } => "update_board",
        }
    }

    pub fn queue(&self) -> QueueKind {
        match self {
            Job::SyncMembers { .. } => QueueKind::Sync,
            Job::DeliverWebhook { .. } => QueueKind::Webhook,
            _ => QueueKind::Channel,
        }
    }

    /// The same work has the same key, so duplicates collapse: in the queue's deduplication
    /// window first, and through the store's conditions after it.
    pub fn idempotency_key(&self) -> JobKey {
        JobKey::new(match self {
            Job::CreateChannels { guild_id, subject, .. } => format!("create:{guild_id}:{subject}"),
            Job::ArchiveChannel { guild_id, subject, .. } => format!("archive:{guild_id}:{subject}"),
            Job::SendMessage { guild_id, subject, message_key, team: None, .. } => {
                format!("message:{guild_id}:{subject}:{message_key}")
            }
            Job::SendMessage { guild_id, subject, message_key, team: Some(team), .. } => {
                format!("message:{guild_id}:{subject}:team:{team}:{message_key}")
            }
            Job::RemindByDm { guild_id, subject, user_id, message_key, .. } => {
                format!("dm:{guild_id}:{subject}:{user_id}:{message_key}")
            }
            Job::SyncTeam { guild_id, subject, team_id, revision, settings_saved_at: None } => {
                format!("team:{guild_id}:{subject}:{team_id}:{revision}")
            }
            Job::SyncTeam { guild_id, subject, team_id, revision, settings_saved_at: Some(at) } => {
                format!("team:{guild_id}:{subject}:{team_id}:{revision}:settings:{at}")
            }
            Job::UpdateBoard { guild_id, subject, shows, asked_at } => {
                format!("board:{guild_id}:{subject}:{shows}:{asked_at}")
            }
            Job::SyncMembers { guild_id, request_id, after: None, .. } => format!("sync:{guild_id}:{request_id}"),
            Job::SyncMembers { guild_id, request_id, after: Some(after), .. } => {
                format!("sync:{guild_id}:{request_id}:after:{after}")
            }
            Job::LeaveGuild { guild_id, requested_at } => format!("leave:{guild_id}:{requested_at}"),
            Job::UpdateSubjectAccess { guild_id, subject, add, remove } => {
                let user = |id: &Option<Id<UserMarker>>| id.map_or_else(String::new, |id| id.to_string());
                format!("access:{guild_id}:{subject}:+{}:-{}", user(add), user(remove))
            }
            Job::CreateInvite { guild_id, subject, request_id } => format!("invite:{guild_id}:{subject}:{request_id}"),
            // One event is one delivery, however many copies were emitted.
            Job::DeliverWebhook { tenant_id, event, .. } => format!("webhook:{tenant_id}:{}", event.id),
        })
    }

    /// Where to report back, when a person asked through a slash command.
    pub fn reply(&self) -> Option<&InteractionReply> {
        match self {
            Job::CreateChannels { reply, .. } | Job::ArchiveChannel { reply, .. } | Job::SyncMembers { reply, .. } => {
                reply.as_ref()
            }
            _ => None,
        }
    }

    /// The job as a person's retry of it (`retry` unique to that asking): a channel job
    /// becomes new work to the queue's deduplication; other jobs are their own keys already
    /// or are harmless to drop as repeats.
    pub fn retried(self, retry: String) -> Self {
        match self {
            Job::CreateChannels { guild_id, subject, requested_by, reply, .. } => {
                Job::CreateChannels { guild_id, subject, requested_by, reply, retry: Some(retry) }
            }
            // The same copy again (its delivery record knows it), new to the queue.
            Job::DeliverWebhook { guild_id, tenant_id, event, copy, .. } => {
                Job::DeliverWebhook { guild_id, tenant_id, event, copy, retry: Some(retry) }
            }
            other => other,
        }
    }

    /// The key as SQS takes a deduplication id: at most 128 characters of a safe alphabet.
    /// A job someone is waiting on also names their interaction: a second person asking for
    /// the same work within the window still gets their own answer (the store's conditions,
    /// not the queue, keep the work itself to once), while one interaction enqueues once.
    pub fn deduplication_id(&self) -> String {
        let mut key = self.idempotency_key().to_string();
        if let Some(reply) = self.reply() {
            key.push_str(&format!(":interaction:{}", reply.interaction_id));
        }
        if let Job::CreateChannels { retry: Some(retry), .. } | Job::DeliverWebhook { retry: Some(retry), .. } = self {
            key.push_str(&format!(":retry:{retry}"));
        }
        hex::encode(Sha256::digest(key.as_bytes()))
    }

    pub fn to_body(&self) -> Result<String, JobFormatError> {
        serde_json::to_string(self).map_err(|e| JobFormatError(e.to_string()))
    }

    /// Reads a message body; a body that is not a job is `Invalid` (dead-letter it, do not retry).
    pub fn from_body(body: &str) -> Result<Self, JobFormatError> {
        serde_json::from_str(body).map_err(|e| JobFormatError(format!("not a Guildbridge job: {e}")))
    }
}

/// A body that is not a job Guildbridge can read (or a job that cannot be written as one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JobFormatError(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SubjectKind;

    fn reply() -> InteractionReply {
        InteractionReply {
            application_id: Id::new(1),
            interaction_id: Id::new(2),
            token: "secret-token".to_owned(),
            received_at: 3,
        }
    }

    #[test]
    fn jobs_round_trip_and_keep_their_token_out_of_debug_output() {
        let job = Job::CreateChannels {
            retry: None,
            guild_id: Id::new(10),
            subject: SubjectRef::new(SubjectKind::Event, "42"),
            requested_by: Some(Id::new(7)),
            reply: Some(reply()),
        };
        assert_eq!(Job::from_body(&job.to_body().expect("body")), Ok(job.clone()));
        assert!(!format!("{job:?}").contains("secret-token"));
        assert_eq!(job.queue(), QueueKind::Channel);
        assert_eq!(job.type_name(), "create_channels");
        let body = job.to_body().expect("body");
        assert!(body.contains(&format!("\"type\":\"{}\"", job.type_name())), "type_name is the body's type");
        assert!(matches!(Job::from_body("{\"type\":\"teleport\"}"), Err(JobFormatError(_))));
    }

    #[test]
    fn a_retry_of_a_failed_channel_is_not_dropped_as_the_first_jobs_repeat() {
        let job = Job::CreateChannels {
            retry: None,
            guild_id: Id::new(10),
            subject: SubjectRef::new(SubjectKind::Lead, "7"),
            requested_by: None,
            reply: None,
        };
        let first = job.clone().retried("a".into());
        let second = job.clone().retried("b".into());
        assert_ne!(first.deduplication_id(), job.deduplication_id());
        assert_ne!(first.deduplication_id(), second.deduplication_id());
        assert_eq!(first.idempotency_key(), job.idempotency_key(), "still the same work to the store");
        assert_eq!(Job::from_body(&serde_json::to_string(&first).expect("json")).expect("job"), first);
    }

    #[test]
    fn the_same_work_has_the_same_key_whoever_asks() {
        let subject = SubjectRef::new(SubjectKind::Event, "42");
        let from_command = Job::CreateChannels {
            retry: None,
            guild_id: Id::new(10),
            subject: subject.clone(),
            requested_by: Some(Id::new(7)),
            reply: Some(reply()),
        };
        let from_platform =
            Job::CreateChannels { retry: None, guild_id: Id::new(10), subject, requested_by: None, reply: None };
        assert_eq!(from_command.idempotency_key(), from_platform.idempotency_key());
        assert_eq!(from_command.deduplication_id().len(), 64);
        assert_ne!(
            from_command.deduplication_id(),
            from_platform.deduplication_id(),
            "each person who asks is answered, so their jobs are not collapsed in the queue"
        );
        let sync = |request: &str| Job::SyncMembers {
            guild_id: Id::new(10),
            kind: SyncKind::Scheduled,
            request_id: request.into(),
            reply: None,
            after: None,
        };
        assert_ne!(sync("due:100").idempotency_key(), sync("due:200").idempotency_key());
        assert_eq!(sync("due:100").queue(), QueueKind::Sync);
    }
}
