//! The one table: key schema, indexes and TTL, and the key layout of every item in it.
//! The DynamoDB adapter, the table-creation helper, the embedded store and (later) the
//! infrastructure template all read this module; nothing else names an attribute or index.
//!
//! | item | pk | sk | gsi1 (pk / sk) | gsi2 (pk / sk) |
//! |---|---|---|---|---|
//! | tenant | `TENANT#{t}` | `PROFILE` | | |
//! | tenant's connection | `TENANT#{t}` | `CONNECTION` | | |
//! | guild's connection | `GUILD#{g}` | `CONNECTION` | | |
//! | bot installation | `GUILD#{g}` | `BOT` | | |
//! | purge under way | `GUILD#{g}` | `PURGE` | `PURGE` / `GUILD#{g}` | |
//! | settings | `GUILD#{g}` | `SETTINGS` | | |
//! | a setting's problem at use | `GUILD#{g}` | `PROBLEM#{field}` | | |
//! | subject | `GUILD#{g}` | `SUBJECT#{kind}#{id}` | `GUILD#{g}#STARTS` / `{start}#{kind}#{id}` | `GUILD#{g}#NAMES` / `{lowercase name}#{kind}#{id}` |
//! | channel mapping | `GUILD#{g}` | `MAPPING#{kind}#{id}` | `GUILD#{g}#MAPPINGS#{status}` / `{updated}#{kind}#{id}` | |
//! | channel's subject | `GUILD#{g}` | `CHANNEL#{c}` | | |
//! | member | `GUILD#{g}` | `MEMBER#{u}` | | |
//! | link, Discord side | `GUILD#{g}` | `LINK#DISCORD#{u}` | | |
//! | link, platform side | `GUILD#{g}` | `LINK#PLATFORM#{p}` | | |
//! | sync lease | `GUILD#{g}` | `SYNC#LEASE` | | |
//! | sync run | `GUILD#{g}` | `SYNC#RUN#{started}#{run}` | | |
//! | sync run's id | `GUILD#{g}` | `SYNC#ID#{run}` | | |
//! | dead letter | `GUILD#{g}` (or `DEADLETTERS#UNROUTED`) | `DEADLETTER#{failed}#{hash}` | | |
//! | job record | `GUILD#{g}` | `JOB#{id}` | | |
//! | schedule | `GUILD#{g}` | `SCHEDULE` | `SCHEDULE` / `{due}#{g}` | |
//! | schedule backfill | `MIGRATION#SCHEDULES` | `STATE` | | |
//! | idempotency record | `IDEMPOTENCY#{scope}#{key}` | `RECORD` | | |
//! | API key | `APIKEY#{sha256}` | `APIKEY` | `TENANT#{t}#APIKEYS` / `{created}#{sha256}` | |
//! | request counter | `RATE#{t}#{budget}` | `{minute}` | | |
//! | settings-page session | `SESSION#{sha256 of the cookie's id}` | `SESSION` | | |
//! | login in flight | `LOGIN#{state}` | `LOGIN` | | |
//! | audit entry | `GUILD#{g}` | `AUDIT#{at}#{nonce}` | | |
//! | webhook endpoint | `TENANT#{t}` | `WEBHOOK` | | |
//! | webhook delivery | `TENANT#{t}` | `WEBHOOK#EVENT#{event}` | | |
//! | webhook attempt | `TENANT#{t}` | `WEBHOOK#ATTEMPT#{at}#{event}#{n}` | | |
//! | relayed channel | `GUILD#{g}` | `RELAY#{kind}#{id}` | `RELAYED` / `{g}#{kind}#{id}` | |
//! | relayed guild (its next check) | `GUILD#{g}` | `RELAYGUILD` | `RELAY` / `{next check}#{g}` | |
//! | bot's intents | `APPLICATION` | `INTENTS` | | |
//! | gateway ingest's heartbeat | `APPLICATION` | `GATEWAY` | | |
//! | team (as asked) | `GUILD#{g}` | `TEAM#{kind}#{id}#{team}` | | |
//! | team (in Discord) | `GUILD#{g}` | `TEAMSTATE#{kind}#{id}#{team}` | | |
//! | due subject action | `GUILD#{g}` | `DUE#{kind}#{id}#{action}` | `DUE` / `{at}#{g}#{kind}#{id}#{action}` | |
//! | subject action taken | `GUILD#{g}` | `DONE#{kind}#{id}#{action}` | | |
//!
//! Times in sort keys are zero-padded unix seconds, so byte order is time order.

/// Attribute names the table and its indexes are keyed on.
pub mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const GSI1_PK: &str = "gsi1pk";
    pub const GSI1_SK: &str = "gsi1sk";
    pub const GSI2_PK: &str = "gsi2pk";
    pub const GSI2_SK: &str = "gsi2sk";
    /// Unix seconds after which the item is dead. DynamoDB's TTL deletes such items only
    /// eventually, so every read and condition checks it too.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// Where a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Table,
    Gsi1,
    Gsi2,
}

impl Index {
    /// The index's name in DynamoDB (`None` for the table itself).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Index::Table => None,
            Index::Gsi1 => Some("gsi1"),
            Index::Gsi2 => Some("gsi2"),
        }
    }

    /// Partition and sort key attributes.
    pub fn key_attributes(self) -> (&'static str, &'static str) {
        match self {
            Index::Table => (attr::PK, attr::SK),
            Index::Gsi1 => (attr::GSI1_PK, attr::GSI1_SK),
            Index::Gsi2 => (attr::GSI2_PK, attr::GSI2_SK),
        }
    }
}

/// The global secondary indexes, all projecting every attribute.
pub const GLOBAL_INDEXES: [Index; 2] = [Index::Gsi1, Index::Gsi2];

/// Zero-padded unix seconds for sort keys.
pub fn sortable_time(unix_seconds: u64) -> String {
    format!("{unix_seconds:012}")
}

/// Key builders, one per item kind in the table above.
pub mod keys {
    use super::sortable_time;
    use crate::items::Key;

    pub fn tenant(tenant: &str) -> String {
        format!("TENANT#{tenant}")
    }
    pub fn guild(guild: u64) -> String {
        format!("GUILD#{guild}")
    }
    pub fn tenant_profile(tenant_id: &str) -> Key {
        Key::new(tenant(tenant_id), "PROFILE")
    }
    pub fn tenant_connection(tenant_id: &str) -> Key {
        Key::new(tenant(tenant_id), "CONNECTION")
    }
    pub fn guild_connection(guild_id: u64) -> Key {
        Key::new(guild(guild_id), CONNECTION_SK)
    }
    /// The sort key of both sides of a connection (the schedule backfill scans for it).
    pub const CONNECTION_SK: &str = "CONNECTION";
    /// A connection's key from its partition key.
    pub fn guild_connection_of(pk: &str) -> Key {
        Key::new(pk, CONNECTION_SK)
    }
    /// Where the walk that gives every connected guild a schedule stands.
    pub fn schedule_backfill() -> Key {
        Key::new("MIGRATION#SCHEDULES", "STATE")
    }
    /// The guild is being forgotten (its tenant disconnected): it cannot be connected again
    /// until the marker is gone.
    pub const PURGE_SK: &str = "PURGE";
    pub const PURGE_INDEX_PK: &str = "PURGE";
    pub fn guild_purge(guild_id: u64) -> Key {
        Key::new(guild(guild_id), PURGE_SK)
    }
    pub fn bot(guild_id: u64) -> Key {
        Key::new(guild(guild_id), "BOT")
    }
    pub fn settings(guild_id: u64) -> Key {
        Key::new(guild(guild_id), "SETTINGS")
    }
    pub const SETTINGS_PROBLEM_PREFIX: &str = "PROBLEM#";
    pub fn settings_problem(guild_id: u64, field: &str) -> Key {
        Key::new(guild(guild_id), format!("{SETTINGS_PROBLEM_PREFIX}{field}"))
    }
    pub const SUBJECT_PREFIX: &str = "SUBJECT#";
    pub fn subject(guild_id: u64, kind: &str, id: &str) -> Key {
        Key::new(guild(guild_id), format!("{SUBJECT_PREFIX}{kind}#{id}"))
    }
    pub fn subject_starts(guild_id: u64) -> String {
        format!("GUILD#{guild_id}#STARTS")
    }
    pub fn subject_names(guild_id: u64) -> String {
        format!("GUILD#{guild_id}#NAMES")
    }
    pub fn mapping(guild_id: u64, kind: &str, id: &str) -> Key {
        Key::new(guild(guild_id), format!("MAPPING#{kind}#{id}"))
    }
    pub fn mappings_by_status(guild_id: u64, status: &str) -> String {
        format!("GUILD#{guild_id}#MAPPINGS#{status}")
    }
    pub fn channel(guild_id: u64, channel_id: u64) -> Key {
        Key::new(guild(guild_id), format!("CHANNEL#{channel_id}"))
    }
    pub const MEMBER_PREFIX: &str = "MEMBER#";
    pub fn member(guild_id: u64, user_id: u64) -> Key {
        Key::new(guild(guild_id), format!("{MEMBER_PREFIX}{user_id}"))
    }
    pub fn discord_link(guild_id: u64, user_id: u64) -> Key {
        Key::new(guild(guild_id), format!("LINK#DISCORD#{user_id}"))
    }
    pub const PLATFORM_LINK_PREFIX: &str = "LINK#PLATFORM#";
    pub fn platform_link(guild_id: u64, platform_user: &str) -> Key {
        Key::new(guild(guild_id), format!("{PLATFORM_LINK_PREFIX}{platform_user}"))
    }
    pub fn sync_lease(guild_id: u64) -> Key {
        Key::new(guild(guild_id), "SYNC#LEASE")
    }
    pub const SYNC_RUN_PREFIX: &str = "SYNC#RUN#";
    pub fn sync_run(guild_id: u64, started_at: u64, run_id: &str) -> Key {
        Key::new(guild(guild_id), format!("{SYNC_RUN_PREFIX}{}#{run_id}", sortable_time(started_at)))
    }
    pub fn sync_run_id(guild_id: u64, run_id: &str) -> Key {
        Key::new(guild(guild_id), format!("SYNC#ID#{run_id}"))
    }
    pub const DEAD_LETTER_PREFIX: &str = "DEADLETTER#";
    /// Dead letters whose body names no guild.
    pub const UNROUTED_DEAD_LETTERS: &str = "DEADLETTERS#UNROUTED";
    pub fn dead_letter(partition: &str, failed_at: u64, hash: &str) -> Key {
        Key::new(partition, format!("{DEAD_LETTER_PREFIX}{}#{hash}", sortable_time(failed_at)))
    }
    pub fn job(guild_id: u64, job_id: &str) -> Key {
        Key::new(guild(guild_id), format!("JOB#{job_id}"))
    }
    pub fn schedule(guild_id: u64) -> Key {
        Key::new(guild(guild_id), "SCHEDULE")
    }
    pub const SCHEDULE_INDEX_PK: &str = "SCHEDULE";
    pub fn idempotency(scope: &str, key: &str) -> Key {
        Key::new(format!("IDEMPOTENCY#{scope}#{key}"), "RECORD")
    }
    pub fn api_key(hash: &str) -> Key {
        Key::new(format!("APIKEY#{hash}"), "APIKEY")
    }
    pub fn tenant_api_keys(tenant_id: &str) -> String {
        format!("TENANT#{tenant_id}#APIKEYS")
    }
    pub fn request_counter(tenant_id: &str, budget: &str, window_start: u64) -> Key {
        Key::new(format!("RATE#{tenant_id}#{budget}"), sortable_time(window_start))
    }
    pub fn session(id_hash: &str) -> Key {
        Key::new(format!("SESSION#{id_hash}"), "SESSION")
    }
    pub fn login(state: &str) -> Key {
        Key::new(format!("LOGIN#{state}"), "LOGIN")
    }
    pub fn webhook(tenant_id: &str) -> Key {
        Key::new(tenant(tenant_id), "WEBHOOK")
    }
    pub fn webhook_delivery(tenant_id: &str, event_id: &str) -> Key {
        Key::new(tenant(tenant_id), format!("WEBHOOK#EVENT#{event_id}"))
    }
    pub const WEBHOOK_ATTEMPT_PREFIX: &str = "WEBHOOK#ATTEMPT#";
    pub fn webhook_attempt(tenant_id: &str, at: u64, event_id: &str, attempt: u32) -> Key {
        Key::new(tenant(tenant_id), format!("{WEBHOOK_ATTEMPT_PREFIX}{}#{event_id}#{attempt:03}", sortable_time(at)))
    }
    pub const RELAY_PREFIX: &str = "RELAY#";
    pub fn relay(guild_id: u64, kind: &str, id: &str) -> Key {
        Key::new(guild(guild_id), format!("{RELAY_PREFIX}{kind}#{id}"))
    }
    /// Relayed guilds by their next check (and, before the guild-level poller, channels by
    /// their next poll: such entries are moved on when the poller meets them).
    pub const RELAY_INDEX_PK: &str = "RELAY";
    /// Every relayed channel that is not parked, by guild (the gateway ingest's set).
    pub const RELAYED_INDEX_PK: &str = "RELAYED";
    pub const RELAY_GUILD_SK: &str = "RELAYGUILD";
    pub fn relay_guild(guild_id: u64) -> Key {
        Key::new(guild(guild_id), RELAY_GUILD_SK)
    }
    pub fn teams_of(kind: &str, id: &str) -> String {
        format!("TEAM#{kind}#{id}#")
    }
    pub fn team(guild_id: u64, kind: &str, id: &str, team: &str) -> Key {
        Key::new(guild(guild_id), format!("{}{team}", teams_of(kind, id)))
    }
    pub fn team_states_of(kind: &str, id: &str) -> String {
        format!("TEAMSTATE#{kind}#{id}#")
    }
    pub fn team_state(guild_id: u64, kind: &str, id: &str, team: &str) -> Key {
        Key::new(guild(guild_id), format!("{}{team}", team_states_of(kind, id)))
    }
    pub fn due_of(kind: &str, id: &str) -> String {
        format!("DUE#{kind}#{id}#")
    }
    pub fn due(guild_id: u64, kind: &str, id: &str, action: &str) -> Key {
        Key::new(guild(guild_id), format!("{}{action}", due_of(kind, id)))
    }
    pub const DUE_INDEX_PK: &str = "DUE";
    pub fn done_of(kind: &str, id: &str) -> String {
        format!("DONE#{kind}#{id}#")
    }
    pub fn done(guild_id: u64, kind: &str, id: &str, action: &str) -> Key {
        Key::new(guild(guild_id), format!("{}{action}", done_of(kind, id)))
    }
    pub fn intents() -> Key {
        Key::new("APPLICATION", "INTENTS")
    }
    pub fn gateway_pulse() -> Key {
        Key::new("APPLICATION", "GATEWAY")
    }
    pub const AUDIT_PREFIX: &str = "AUDIT#";
    pub fn audit(guild_id: u64, at: u64, nonce: &str) -> Key {
        Key::new(guild(guild_id), format!("{AUDIT_PREFIX}{}#{nonce}", sortable_time(at)))
    }
}
