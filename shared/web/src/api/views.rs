//! What the API answers with: its own shapes, made from the domain's records, so storage can
//! change without changing the contract. Discord ids are strings, times Unix seconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use twilight_model::id::{Id, marker::GuildMarker};
use utoipa::ToSchema;

use crate::{
    domain::{ChannelMapping, Job, MappingStatus, Subject, SubjectKind, SyncKind, SyncOutcome, SyncRun, UserLink},
    store::{DeadLetterRecord, JobStatus, StoredMember},
};

/// Whether the bot's application has the Message Content intent, as last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentView {
    Enabled,
    Missing,
    Unknown,
}

impl IntentView {
    pub fn of(status: Option<crate::store::IntentStatus>) -> Self {
        match status {
            Some(status) if status.message_content => Self::Enabled,
            Some(_) => Self::Missing,
            None => Self::Unknown,
        }
    }
}

/// What became of a timeline action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionDecision {
    Posted,
    Skipped,
    Done,
}

/// Where a team's thread stands against the team's last revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamStatus {
    Pending,
    Active,
    Removed,
}

/// Where a sync run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    Running,
    Succeeded,
    Failed,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Running => "running",
            SyncStatus::Succeeded => "succeeded",
            SyncStatus::Failed => "failed",
        }
    }
}

/// Whether a member is still in the guild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    Active,
    Left,
}

/// A page of a listing; pass `next_cursor` as `cursor` for the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub tenant_id: String,
    pub allowed_origins: Vec<String>,
    /// The connected Discord server, once there is one.
    pub guild: Option<GuildView>,
    pub permissions: PermissionsView,
    /// Whether the bot's application has Discord's Message Content intent, as the relay last
    /// read it: `enabled`, `missing` (relayed messages arrive without content, except those
    /// mentioning or replying to the bot), or `unknown` (not read yet).
    #[schema(value_type = String, example = "enabled")]
    pub message_content_intent: IntentView,
    /// What the workers found wrong with a setting when they used it (a log channel that is
    /// not this server's, a member role that gained power): shown until the settings are
    /// saved again.
    pub settings_problems: Vec<crate::domain::SettingsProblem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GuildView {
    pub id: String,
    /// The guild's name when it was connected.
    pub name: String,
    pub connected_at: u64,
    /// Whether Discord confirmed the bot is in the server.
    pub bot_present: bool,
    /// When the next scheduled member sync is due (unix seconds): the initial sync right
    /// after connecting, then every `sync_interval_hours`.
    pub next_sync_at: Option<u64>,
}

/// What the bot was granted, and what the enabled features need that it lacks.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionsView {
    pub granted: Vec<String>,
    pub missing: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectView {
    /// `event` or `lead`.
    #[schema(value_type = String)]
    pub kind: SubjectKind,
    pub id: String,
    pub name: String,
    pub fields: BTreeMap<String, String>,
    pub starts_at: Option<u64>,
    pub ends_at: Option<u64>,
    pub signup_url: Option<String>,
    pub discord_user_id: Option<String>,
    /// Whether its channel's messages are relayed as `message.received`.
    pub relay: bool,
    /// Why relaying stopped, when Discord said the bot cannot read the channel any more (on
    /// a single subject's GET). Mapping the channel anew starts it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay_parked: Option<String>,
    /// The subject's Discord user as Guildbridge knows them (on a single subject's GET).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discord_user: Option<DiscordUserView>,
    /// The subject's channel, once one was asked for.
    pub channel: Option<ChannelView>,
    /// Sign-ups as the platform last sent them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signups: Option<SignupsView>,
    /// The sign-up board's message, once posted.
    pub board_message_id: Option<String>,
    /// Its teams (on a single subject's GET).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<TeamView>>,
    /// What the schedule decided for each reminder and the start (on a single subject's GET).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<ActionView>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupsView {
    pub count: u32,
    pub capacity: Option<u32>,
    pub entries: Vec<String>,
}

/// A timeline action, decided once: a reminder or the start message `posted` or `skipped`
/// (with why), the retention's `archive` `done` or `skipped`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionView {
    /// `reminder:1440`, `start`, `archive`.
    pub action: String,
    pub due_at: u64,
    pub decided_at: u64,
    #[schema(value_type = String, example = "posted")]
    pub outcome: ActionDecision,
    pub reason: Option<String>,
}

impl From<crate::store::ActionRecord> for ActionView {
    fn from(record: crate::store::ActionRecord) -> Self {
        let (outcome, reason) = match record.outcome {
            crate::store::ActionOutcome::Posted => (ActionDecision::Posted, None),
            crate::store::ActionOutcome::Skipped(reason) => (ActionDecision::Skipped, Some(reason)),
            crate::store::ActionOutcome::Done => (ActionDecision::Done, None),
        };
        Self { action: record.action, due_at: record.due_at, decided_at: record.decided_at, outcome, reason }
    }
}

/// A team: as the platform described it, and its thread (role and voice channel) in Discord.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    pub team_id: String,
    pub name: String,
    /// Platform user ids.
    pub members: Vec<String>,
    /// Members without a link: not in the thread until they link their Discord account.
    pub unlinked: Vec<String>,
    /// `pending` (Discord not caught up yet), `active`, `removed` (thread archived).
    #[schema(value_type = String, example = "active")]
    pub status: TeamStatus,
    pub thread_id: Option<String>,
    /// `https://discord.com/channels/{guild}/{thread}`.
    pub thread_url: Option<String>,
    pub role_id: Option<String>,
    /// Discord members in the thread now.
    pub thread_members: Vec<String>,
    /// The team's own voice channel (with `team_voice` on).
    pub voice_channel_id: Option<String>,
    /// Discord members its overwrites let in (empty when the team's role does).
    pub voice_members: Vec<String>,
    /// Why Discord could not be brought in line, last time.
    pub error: Option<String>,
}

impl TeamView {
    pub fn new(team: crate::domain::Team, state: crate::domain::TeamState, guild_id: Id<GuildMarker>) -> Self {
        let status = match (team.removed, state.applied_revision >= team.revision) {
            (true, true) if state.archived => TeamStatus::Removed,
            (true, _) => TeamStatus::Pending,
            (false, true) => TeamStatus::Active,
            (false, false) => TeamStatus::Pending,
        };
        Self {
            team_id: team.team_id.to_string(),
            name: team.name,
            members: team.members,
            unlinked: state.unlinked,
            status,
            thread_id: state.thread_id.map(|id| id.to_string()),
            thread_url: state.thread_id.map(|id| format!("https://discord.com/channels/{guild_id}/{id}")),
            role_id: state.role_id.map(|id| id.to_string()),
            thread_members: state.thread_members.iter().map(ToString::to_string).collect(),
            voice_channel_id: state.voice_id.map(|id| id.to_string()),
            voice_members: state.voice_members.iter().map(ToString::to_string).collect(),
            error: state.error,
        }
    }
}

/// A subject's Discord user: in the guild (as the last member sync saw it), linked to which
/// platform user, and whether they have written in the channel yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscordUserView {
    pub id: String,
    /// `None` until a member sync has seen the guild.
    pub in_guild: Option<bool>,
    pub linked_platform_user: Option<String>,
    /// When a member sync last saw them (Unix seconds).
    pub last_seen: Option<u64>,
    /// When they first wrote in the subject's channel: the lead joined the conversation.
    pub joined_conversation_at: Option<u64>,
}

impl SubjectView {
    pub fn new(subject: Subject, mapping: Option<ChannelMapping>, guild_id: Id<GuildMarker>) -> Self {
        let relay = subject.relays();
        Self {
            kind: subject.subject.kind,
            id: subject.subject.id,
            name: subject.name,
            fields: subject.fields,
            starts_at: subject.starts_at,
            ends_at: subject.ends_at,
            signup_url: subject.signup_url,
            discord_user_id: subject.discord_user_id.map(|id| id.to_string()),
            relay,
            relay_parked: None,
            discord_user: None,
            board_message_id: mapping.as_ref().and_then(|m| m.board.as_ref()).map(|board| board.message_id.to_string()),
            channel: mapping.map(|mapping| ChannelView::new(mapping, guild_id)),
            signups: subject.signups.map(|signups| SignupsView {
                count: signups.count,
                capacity: signups.capacity,
                entries: signups.entries,
            }),
            teams: None,
            timeline: None,
        }
    }
}

/// Subject -> Discord channel(s).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    /// `event:42`.
    pub subject: String,
    #[schema(value_type = String, example = "active")]
    pub status: MappingStatus,
    pub text_channel_id: Option<String>,
    pub category_id: Option<String>,
    pub voice_channel_id: Option<String>,
    pub practice_voice_channel_id: Option<String>,
    /// `https://discord.com/channels/{guild}/{channel}`, once the text channel exists.
    pub url: Option<String>,
    /// Why it failed, or why it was archived.
    pub reason: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
}

impl ChannelView {
    pub fn new(mapping: ChannelMapping, guild_id: Id<GuildMarker>) -> Self {
        let channels = &mapping.channels;
        let text = |id: Option<Id<_>>| id.map(|id: Id<_>| id.to_string());
        Self {
            subject: mapping.subject.to_string(),
            status: mapping.status,
            text_channel_id: text(channels.text),
            category_id: text(channels.category),
            voice_channel_id: text(channels.voice),
            practice_voice_channel_id: text(channels.practice_voice),
            url: channels.text.map(|channel| format!("https://discord.com/channels/{guild_id}/{channel}")),
            reason: mapping.reason,
            created_at: mapping.created_at,
            updated_at: mapping.updated_at,
        }
    }

    pub fn is_usable(status: MappingStatus) -> bool {
        matches!(status, MappingStatus::Active | MappingStatus::Completed)
    }
}

/// A job handed to a worker.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct JobView {
    /// Stable for the same work: asking again names the same job.
    pub id: String,
    /// `create_channels`, `archive_channel`, `send_message`, `sync_members`, `leave_guild`.
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = String)]
    pub status: JobStatus,
}

impl JobView {
    pub fn queued(job: &Job) -> Self {
        Self { id: job.deduplication_id(), kind: job.type_name().to_owned(), status: JobStatus::Queued }
    }
}

/// A job as its record has it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobStatusView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `queued`, `running`, `done`, `failed` (tried again later) or `dead` (given up).
    #[schema(value_type = String)]
    pub status: JobStatus,
    /// Deliveries so far.
    pub attempts: u32,
    /// Why it failed or gave up.
    pub reason: Option<String>,
    /// What it produced: `{message_id, channel_id}` for a message.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub updated_at: u64,
}

impl From<crate::store::JobRecord> for JobStatusView {
    fn from(record: crate::store::JobRecord) -> Self {
        Self {
            id: record.id,
            kind: record.job_type,
            status: record.status,
            attempts: record.attempts,
            reason: record.reason,
            result: record.result,
            updated_at: record.updated_at,
        }
    }
}

/// The link that connects a guild.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectView {
    /// Send the person here: Discord's bot authorization.
    pub authorize_url: String,
    /// Unix seconds after which the link no longer works.
    pub expires_at: u64,
    /// The permissions the link asks for.
    pub permissions: Vec<String>,
}

/// The answer to a request that enqueued work.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Accepted {
    pub job: JobView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    pub platform_user_id: String,
    pub discord_user_id: String,
    pub linked_at: u64,
}

impl From<UserLink> for LinkView {
    fn from(link: UserLink) -> Self {
        Self {
            platform_user_id: link.platform_user,
            discord_user_id: link.user_id.to_string(),
            linked_at: link.linked_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct SyncView {
    pub run_id: String,
    /// `manual`, `scheduled`, `automatic`, `webhook` (started through this API).
    #[schema(value_type = String)]
    pub kind: SyncKind,
    /// `running`, `succeeded`, `failed`.
    #[schema(value_type = String)]
    pub status: SyncStatus,
    pub error: Option<String>,
    pub started_at: u64,
    pub finished_at: Option<u64>,
    pub counts: SyncCountsView,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct SyncCountsView {
    pub total: u64,
    pub matched: u64,
    pub new: u64,
    pub left: u64,
    pub errors: u64,
}

impl From<SyncRun> for SyncView {
    fn from(run: SyncRun) -> Self {
        let (status, error) = match run.outcome {
            SyncOutcome::Running => (SyncStatus::Running, None),
            SyncOutcome::Succeeded => (SyncStatus::Succeeded, None),
            SyncOutcome::Failed(reason) => (SyncStatus::Failed, Some(reason)),
        };
        let kind = run.kind;
        let counts = run.counts;
        Self {
            run_id: run.run_id.to_string(),
            kind,
            status,
            error,
            started_at: run.started_at,
            finished_at: run.finished_at,
            counts: SyncCountsView {
                total: counts.total,
                matched: counts.matched,
                new: counts.new,
                left: counts.left,
                errors: counts.errors,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub discord_user_id: String,
    pub username: String,
    pub display_name: Option<String>,
    /// `active` or `left`.
    #[schema(value_type = String)]
    pub status: MemberStatus,
    pub platform_user_id: Option<String>,
    pub last_seen_at: u64,
}

impl MemberView {
    pub fn new(member: StoredMember, platform_user_id: Option<String>) -> Self {
        Self {
            discord_user_id: member.member.user_id.to_string(),
            username: member.member.username,
            display_name: member.member.display_name,
            status: if member.left { MemberStatus::Left } else { MemberStatus::Active },
            platform_user_id,
            last_seen_at: member.seen_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterView {
    /// For `POST /v1/dead-letters/{id}/retry`.
    pub id: String,
    /// `channel`, `sync`.
    pub queue: String,
    pub job_type: String,
    pub reason: String,
    pub failed_at: u64,
    pub attempts: u32,
}

impl From<DeadLetterRecord> for DeadLetterView {
    fn from(letter: DeadLetterRecord) -> Self {
        Self {
            id: letter.id(),
            queue: letter.queue,
            job_type: letter.job_type,
            reason: letter.reason,
            failed_at: letter.failed_at,
            attempts: letter.attempts,
        }
    }
}
