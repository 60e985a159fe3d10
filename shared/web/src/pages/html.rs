//! The pages' HTML: askama templates compiled from `shared/web/templates/` (escaped by default)
//! and the rows they show.

use std::collections::BTreeMap;

use askama::Template;

use super::access::GuildAdmin;
use crate::{
    api::views::{ChannelView, DeadLetterView, SyncView},
    domain::{ApiKeyRecord, AuditEntry, KeyDoor},
};

/// Unix seconds as `2026-12-03 08:30 UTC`.
pub fn when(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let (hour, minute) = ((unix % 86_400) / 3600, (unix % 3600) / 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: &'static str,
    pub text: String,
}

impl Notice {
    pub fn success(text: impl Into<String>) -> Self {
        Self { kind: "success", text: text.into() }
    }
    pub fn error(text: impl Into<String>) -> Self {
        Self { kind: "error", text: text.into() }
    }
}

/// The bar above every guild page.
#[derive(Debug, Clone)]
pub struct Nav {
    pub guild_id: String,
    pub guild_name: String,
    pub username: String,
    pub csrf: String,
    pub current: &'static str,
    /// A guild Guildbridge is not connected to has only the page that connects it.
    pub connected: bool,
    /// What is happening now, under the tabs.
    pub summary: Option<String>,
}

impl Nav {
    pub fn new(admin: &GuildAdmin, current: &'static str) -> Self {
        Self {
            guild_id: admin.guild_id().to_string(),
            guild_name: admin.guild.name.clone(),
            username: admin.signed_in.session.username.clone(),
            csrf: admin.csrf().to_owned(),
            current,
            connected: true,
            summary: None,
        }
    }

    pub fn with_summary(mut self, summary: Option<String>) -> Self {
        self.summary = summary;
        self
    }

    /// For a guild not connected yet: its one tab.
    pub fn unconnected(admin: &GuildAdmin) -> Self {
        Self { connected: false, ..Self::new(admin, "settings") }
    }

    pub fn tabs(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        let all = [
            ("settings", "Settings", ""),
            ("messages", "Messages", "/messages"),
            ("channels", "Channels", "/channels"),
            ("sync", "Sync", "/sync"),
            ("dead-letters", "Dead letters", "/dead-letters"),
            ("keys", "API keys", "/keys"),
            ("webhook", "Webhook", "/webhook"),
        ];
        let shown = if self.connected { all.len() } else { 1 };
        all.into_iter().take(shown).collect()
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {}

#[derive(Debug, Clone)]
pub struct GuildChoice {
    pub id: String,
    pub name: String,
    pub connected: bool,
}

#[derive(Template)]
#[template(path = "picker.html")]
pub struct PickerPage<'a> {
    pub username: &'a str,
    pub csrf: &'a str,
    pub guilds: Vec<GuildChoice>,
}

#[derive(Template)]
#[template(path = "connect.html")]
pub struct ConnectPage {
    pub nav: Nav,
    pub link: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Picked {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    /// The element id (`notifications-on_error`).
    pub id: String,
    pub label: &'static str,
    pub help: &'static str,
    /// checkbox, text, number, select or picker.
    pub kind: &'static str,
    pub value: String,
    pub checked: bool,
    pub error: Option<String>,
    pub options: Vec<Picked>,
    /// What someone else saved here meanwhile (after a conflict).
    pub theirs: Option<String>,
}

/// A group of the settings form's fields.
#[derive(Debug, Clone)]
pub struct Section {
    pub id: &'static str,
    pub title: &'static str,
    pub fields: Vec<Field>,
}

/// A field as someone else saved it (shown after a conflict).
#[derive(Debug, Clone)]
pub struct Theirs {
    pub field: String,
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub at: String,
    pub who: String,
    pub changes: Vec<(String, String, String)>,
}

impl From<AuditEntry> for AuditRow {
    fn from(entry: AuditEntry) -> Self {
        Self {
            at: when(entry.at),
            who: entry.actor_name,
            changes: entry
                .changes
                .into_iter()
                .map(|c| (super::settings_form::label_of(&c.field), c.from, c.to))
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub nav: Nav,
    pub version: u64,
    pub sections: Vec<Section>,
    pub notice: Option<Notice>,
    pub theirs: Vec<Theirs>,
    pub preview: Option<String>,
    pub pickers_unavailable: bool,
    pub missing_permissions: Vec<String>,
    /// What the workers found wrong with a setting when they used it: (field, problem).
    pub problems: Vec<(String, String)>,
    pub audit: Vec<AuditRow>,
    /// The relay found the bot without Discord's Message Content intent.
    pub message_content_missing: bool,
    /// The tenant's webhook endpoint, when it has one.
    pub webhook: Option<WebhookSummary>,
}

/// One template on the Messages tab: its texts as typed, its problems and its preview.
#[derive(Debug, Clone)]
pub struct MessageEditor {
    /// The prefix of its form fields and element ids (`reminder1`).
    pub key: String,
    pub heading: String,
    pub help: &'static str,
    pub placeholders: String,
    /// Whether this editor shows its placeholders (the first with that list; the rest say
    /// "as above").
    pub first_with_placeholders: bool,
    /// Whether its inputs start unfolded (an unused reminder starts folded).
    pub open: bool,
    pub reminder: bool,
    pub embed: bool,
    pub draft: super::message_drafts::Draft,
    pub check: super::message_drafts::Checked,
}

impl MessageEditor {
    /// Whether the embed's inputs start open: it has one, or the template has problems.
    pub fn embed_open(&self) -> bool {
        self.draft.has_embed() || !self.check.problems.is_empty()
    }
}

#[derive(Template)]
#[template(path = "messages.html")]
pub struct MessagesPage {
    pub nav: Nav,
    pub notice: Option<Notice>,
    pub version: u64,
    /// Problems of the settings as a whole (not of one template).
    pub general: Vec<String>,
    pub editors: Vec<MessageEditor>,
}

#[derive(Template)]
#[template(path = "webhook.html")]
pub struct WebhookPage {
    pub nav: Nav,
    /// A standalone tenant's admins manage its endpoint; a platform's is shown read-only.
    pub manage: bool,
    pub notice: Option<Notice>,
    pub url: String,
    /// Each subscribable type and whether it is chosen.
    pub events: Vec<(&'static str, bool)>,
    pub errors: BTreeMap<String, String>,
    /// Shown once, right after it was made.
    pub secret: Option<String>,
    pub exists: bool,
    pub paused: Option<String>,
    pub message_content_missing: bool,
    pub attempts: Vec<AttemptRow>,
}

impl WebhookPage {
    pub fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

/// One delivery attempt on the webhook page.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub at: String,
    pub event: &'static str,
    pub attempt: u32,
    pub outcome: String,
    pub status: String,
    pub latency_ms: u64,
    pub error: String,
}

impl From<crate::store::DeliveryAttempt> for AttemptRow {
    fn from(attempt: crate::store::DeliveryAttempt) -> Self {
        Self {
            at: when(attempt.at),
            event: attempt.event_type.as_str(),
            attempt: attempt.attempt,
            outcome: attempt.outcome.as_str().to_owned(),
            status: attempt.status.map(|status| status.to_string()).unwrap_or_else(|| "-".to_owned()),
            latency_ms: attempt.latency_ms,
            error: attempt.error.unwrap_or_default(),
        }
    }
}

/// Where the platform hears events, as the settings page shows it.
#[derive(Debug, Clone)]
pub struct WebhookSummary {
    pub url: String,
    pub events: String,
    /// Why deliveries stopped, when they did.
    pub paused: Option<String>,
}

#[derive(Template)]
#[template(path = "channels.html")]
pub struct ChannelsPage {
    pub nav: Nav,
    pub statuses: Vec<(&'static str, bool)>,
    pub status: &'static str,
    pub rows: Vec<ChannelView>,
    /// The subjects' names, by `kind:id`.
    pub names: std::collections::HashMap<String, String>,
    pub next: Option<String>,
    pub notice: Option<Notice>,
}

impl ChannelsPage {
    pub fn created(&self, row: &ChannelView) -> String {
        when(row.created_at)
    }

    /// The subject's name, or its `kind:id` when it has none (it was deleted meanwhile).
    pub fn name<'a>(&'a self, row: &'a ChannelView) -> &'a str {
        self.names.get(&row.subject).map_or(row.subject.as_str(), String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct RunRow {
    pub run_id: String,
    pub kind: String,
    pub status: String,
    pub error: String,
    pub started: String,
    pub duration: String,
    pub total: u64,
    pub matched: u64,
    pub new: u64,
    pub left: u64,
    pub errors: u64,
}

impl From<SyncView> for RunRow {
    fn from(run: SyncView) -> Self {
        let duration = match run.finished_at {
            Some(finished) => format!("{} s", finished.saturating_sub(run.started_at)),
            None => "running".to_owned(),
        };
        Self {
            run_id: run.run_id,
            kind: run.kind.as_str().to_owned(),
            status: run.status.as_str().to_owned(),
            error: run.error.unwrap_or_default(),
            started: when(run.started_at),
            duration,
            total: run.counts.total,
            matched: run.counts.matched,
            new: run.counts.new,
            left: run.counts.left,
            errors: run.counts.errors,
        }
    }
}

#[derive(Template)]
#[template(path = "sync.html")]
pub struct SyncPage {
    pub nav: Nav,
    pub running: Option<String>,
    pub next_at: Option<String>,
    pub schedule_error: Option<String>,
    pub runs: Vec<RunRow>,
    pub notice: Option<Notice>,
}

#[derive(Debug, Clone)]
pub struct LetterRow {
    pub id: String,
    pub job_type: String,
    pub queue: String,
    pub reason: String,
    pub failed: String,
    pub attempts: u32,
}

impl From<DeadLetterView> for LetterRow {
    fn from(letter: DeadLetterView) -> Self {
        Self {
            id: letter.id,
            job_type: letter.job_type,
            queue: letter.queue,
            reason: letter.reason,
            failed: when(letter.failed_at),
            attempts: letter.attempts,
        }
    }
}

#[derive(Template)]
#[template(path = "dead_letters.html")]
pub struct DeadLettersPage {
    pub nav: Nav,
    pub letters: Vec<LetterRow>,
    pub notice: Option<Notice>,
}

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub key_id: String,
    pub created: String,
    /// Who, through which door.
    pub made_by: String,
    pub revoked: Option<String>,
    pub expires: Option<String>,
}

impl From<ApiKeyRecord> for KeyRow {
    fn from(key: ApiKeyRecord) -> Self {
        let door = match key.door {
            KeyDoor::Operator => "the operator",
            KeyDoor::Page => "this page",
            KeyDoor::Api => "the API",
        };
        let made_by = match &key.created_by {
            Some(by) if key.door != KeyDoor::Operator => format!("{by}, on {door}"),
            _ => door.to_owned(),
        };
        Self {
            key_id: key.key_id,
            created: when(key.created_at),
            made_by,
            revoked: key.revoked_at.map(when),
            expires: key.expires_at.map(when),
        }
    }
}

#[derive(Template)]
#[template(path = "keys.html")]
pub struct KeysPage {
    pub nav: Nav,
    /// A standalone tenant's admins manage its keys; a platform's are shown read-only.
    pub manage: bool,
    pub tenant: String,
    pub keys: Vec<KeyRow>,
    pub secret: Option<String>,
    pub notice: Option<Notice>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(super::when(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::when(1_796_286_600), "2026-12-03 08:30 UTC");
    }
}
