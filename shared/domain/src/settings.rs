//! A guild's settings: what they are, their defaults, and the rules every field keeps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use twilight_model::{
    guild::Permissions,
    id::{
        Id,
        marker::{ChannelMarker, RoleMarker},
    },
};
use twilight_validate::message::MESSAGE_CONTENT_LENGTH_MAX as MAX_CONTENT_CHARS;

use super::{
    EmbedTemplate, FieldTemplate, MessageTemplate, THREAD_AUTO_ARCHIVE_MINUTES, TemplateKind, VoicePattern, naming,
};

/// Hours between scheduled syncs: at least hourly, at most weekly.
pub const SYNC_INTERVAL_HOURS: std::ops::RangeInclusive<u32> = 1..=168;
/// Hours a completed subject's channel is kept before archiving: up to a year.
pub const ARCHIVE_RETENTION_HOURS: std::ops::RangeInclusive<u32> = 0..=8760;
/// Hours between edits of a sign-up board (0: every change): up to a week.
pub const SIGNUP_UPDATE_HOURS: std::ops::RangeInclusive<u32> = 0..=168;
/// How long before the start a reminder may go out, in minutes: up to two weeks.
pub const REMINDER_MINUTES: std::ops::RangeInclusive<u32> = 1..=20_160;
/// Reminders a guild may set per subject.
pub const MAX_REMINDERS: usize = 5;

/// A reminder posted in a subject's channel `before_minutes` before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReminderSetting {
    pub before_minutes: u32,
    pub template: MessageTemplate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ArchiveMode {
    /// Move to the archive category and lock.
    Lock,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Notifications {
    /// Where Guildbridge reports what it did when no interaction is left to answer.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub log_channel_id: Option<Id<ChannelMarker>>,
    pub on_channel_created: bool,
    pub on_sync_finished: bool,
    pub on_error: bool,
}

impl Default for Notifications {
    fn default() -> Self {
        Self { log_channel_id: None, on_channel_created: false, on_sync_finished: false, on_error: true }
    }
}

/// A guild's settings (the document names each field's limits; ids are strings of digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct GuildSettings {
    pub auto_create_channels: bool,
    pub naming_pattern: String,
    pub text_channel: bool,
    pub voice_channel: bool,
    pub practice_voice_channel: bool,
    pub private_channels: bool,
    pub category_per_series: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub archive_category_id: Option<Id<ChannelMarker>>,
    pub welcome_message: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub member_role_id: Option<Id<RoleMarker>>,
    pub remove_role_when_unlinked: bool,
    pub sync_interval_hours: u32,
    pub archive_retention_hours: u32,
    pub archive_mode: ArchiveMode,
    pub notifications: Notifications,
    /// Reminders before an event starts (`starts_at`), each posted once.
    pub reminders: Vec<ReminderSetting>,
    /// Posted when an event starts, when set.
    pub start_message: Option<MessageTemplate>,
    /// What `POST .../messages` with `"template": "results"` posts.
    pub results_template: MessageTemplate,
    /// The sign-up board.
    pub board_template: MessageTemplate,
    /// The board is edited at most this often unless a change is significant.
    pub signup_update_hours: u32,
    /// Each team also gets a role, given to its linked members.
    pub team_roles: bool,
    /// A team thread's auto-archive, in minutes: 60, 1440, 4320 or 10080.
    pub thread_auto_archive_minutes: u32,
    /// Each team also gets a voice channel in its event's category, open only to its linked
    /// members (or its role, with team roles on).
    pub team_voice: bool,
    /// A team voice channel's name: `{team_name}`, `{team_id}`, `{event_name}`; up to 100
    /// characters.
    pub team_voice_pattern: String,
    /// Posted once in an event's channel, when set: right after its results, or at its end
    /// if none came (or when the platform asks, with `"template": "summary"`).
    pub summary_template: Option<MessageTemplate>,
}

/// What a results message looks like unless a guild says otherwise.
fn default_results_template() -> MessageTemplate {
    MessageTemplate {
        content: None,
        embed: Some(EmbedTemplate {
            title: Some("Results: {name}".to_owned()),
            description: Some("{result.summary}".to_owned()),
            color: Some(0x00_99_ff),
            fields: vec![FieldTemplate {
                name: "Winner".to_owned(),
                value: "{result.winner}".to_owned(),
                inline: true,
            }],
            footer: None,
        }),
    }
}

fn default_board_template() -> MessageTemplate {
    MessageTemplate::text("**Sign-ups for {name}** ({starts_at}): {signup_count} of {signup_capacity}\n{signup_list}")
}

impl Default for GuildSettings {
    fn default() -> Self {
        Self {
            auto_create_channels: false,
            naming_pattern: "{event_name}".to_owned(),
            text_channel: true,
            voice_channel: false,
            practice_voice_channel: false,
            private_channels: false,
            category_per_series: false,
            archive_category_id: None,
            welcome_message: None,
            member_role_id: None,
            remove_role_when_unlinked: false,
            sync_interval_hours: 24,
            archive_retention_hours: 72,
            archive_mode: ArchiveMode::Lock,
            notifications: Notifications::default(),
            reminders: Vec::new(),
            start_message: None,
            results_template: default_results_template(),
            board_template: default_board_template(),
            signup_update_hours: 6,
            team_roles: false,
            thread_auto_archive_minutes: 10080,
            team_voice: false,
            team_voice_pattern: "{team_name}".to_owned(),
            summary_template: None,
        }
    }
}

/// Settings as stored: the values and the version an update must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedSettings {
    pub settings: GuildSettings,
    /// 0 for settings never saved (the defaults).
    pub version: u64,
}

/// Every problem with a settings value, by field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid settings: {}", .0.iter().map(|(field, problem)| format!("{field}: {problem}")).collect::<Vec<_>>().join("; "))]
pub struct SettingsErrors(pub BTreeMap<&'static str, String>);

/// The settings fields that hold Discord ids, as JSON pointers.
const ID_FIELDS: [(&str, &str); 3] = [
    ("archive_category_id", "/archive_category_id"),
    ("member_role_id", "/member_role_id"),
    ("notifications", "/notifications/log_channel_id"),
];

fn is_snowflake(value: &serde_json::Value) -> bool {
    let digits = match value {
        serde_json::Value::String(text) => text.as_str(),
        serde_json::Value::Null => return true,
        _ => return false,
    };
    crate::inputs::snowflake::<twilight_model::id::marker::GenericMarker>(digits).is_some()
}

impl GuildSettings {
    /// What the bot must be granted for the features these settings turn on: to see, post
    /// and make channels always; to set permission overwrites (Manage Roles) always too,
    /// since archiving locks a channel through them and a lead's channel is private
    /// whatever the settings say; to let people into voice channels (Connect) when those
    /// are made.
    pub fn bot_permissions(&self) -> Permissions {
        // Team threads are private, added to and locked by the bot; the board is pinned.
        let mut needed = Permissions::VIEW_CHANNEL
            | Permissions::SEND_MESSAGES
            | Permissions::MANAGE_CHANNELS
            | Permissions::MANAGE_ROLES
            | Permissions::CREATE_PRIVATE_THREADS
            | Permissions::SEND_MESSAGES_IN_THREADS
            | Permissions::MANAGE_THREADS
            | Permissions::MANAGE_MESSAGES;
        if self.voice_channel || self.practice_voice_channel || self.team_voice {
            needed |= Permissions::CONNECT;
        }
        needed
    }

    /// Where Guildbridge reports to the guild's admins, when they chose a channel.
    pub fn log_channel(&self) -> Option<Id<ChannelMarker>> {
        self.notifications.log_channel_id
    }

    /// Reads settings as the settings page sends them (JSON; ids as strings), reporting every
    /// problem at once: malformed ids and values as well as the rules of [`Self::validate`].
    pub fn from_json(mut value: serde_json::Value) -> Result<Self, SettingsErrors> {
        let mut problems = BTreeMap::new();
        for (field, pointer) in ID_FIELDS {
            if let Some(id) = value.pointer_mut(pointer).filter(|id| !is_snowflake(id)) {
                problems.insert(field, "must be a Discord id (a snowflake, as a string of digits)".to_owned());
                *id = serde_json::Value::Null;
            }
        }
        let settings: GuildSettings = match serde_json::from_value(value) {
            Ok(settings) => settings,
            Err(error) => {
                problems.insert("settings", format!("cannot be read: {error}"));
                return Err(SettingsErrors(problems));
            }
        };
        if let Err(SettingsErrors(more)) = settings.validate() {
            problems.extend(more);
        }
        if problems.is_empty() { Ok(settings) } else { Err(SettingsErrors(problems)) }
    }

    /// Checks every field and reports every problem at once.
    pub fn validate(&self) -> Result<(), SettingsErrors> {
        let mut problems = BTreeMap::new();
        let sample: BTreeMap<String, String> =
            naming::PLACEHOLDERS.iter().map(|name| ((*name).to_owned(), format!("sample {name}"))).collect();
        if let Err(error) = naming::render(&self.naming_pattern, &sample) {
            problems.insert("naming_pattern", error.to_string());
        } else if self.naming_pattern.chars().count() > 200 {
            problems.insert("naming_pattern", "at most 200 characters".to_owned());
        }
        if !(self.text_channel || self.voice_channel || self.practice_voice_channel) {
            problems.insert("text_channel", "at least one kind of channel must be enabled".to_owned());
        }
        if let Some(message) = &self.welcome_message {
            let length = message.chars().count();
            if length == 0 || length > MAX_CONTENT_CHARS {
                problems.insert("welcome_message", format!("1 to {MAX_CONTENT_CHARS} characters, got {length}"));
            } else if let Err(errors) = MessageTemplate::text(message).validate(TemplateKind::Welcome) {
                problems.insert("welcome_message", errors.to_string());
            }
        }
        self.validate_event_messages(&mut problems);
        if !SYNC_INTERVAL_HOURS.contains(&self.sync_interval_hours) {
            problems.insert(
                "sync_interval_hours",
                format!("{} to {} hours", SYNC_INTERVAL_HOURS.start(), SYNC_INTERVAL_HOURS.end()),
            );
        }
        if !ARCHIVE_RETENTION_HOURS.contains(&self.archive_retention_hours) {
            problems.insert(
                "archive_retention_hours",
                format!("{} to {} hours", ARCHIVE_RETENTION_HOURS.start(), ARCHIVE_RETENTION_HOURS.end()),
            );
        }
        if self.remove_role_when_unlinked && self.member_role_id.is_none() {
            problems.insert("remove_role_when_unlinked", "needs member_role_id".to_owned());
        }
        let notifying = self.notifications.on_channel_created || self.notifications.on_sync_finished;
        if notifying && self.notifications.log_channel_id.is_none() {
            problems.insert("notifications", "a log channel is needed to send notifications".to_owned());
        }
        if problems.is_empty() { Ok(()) } else { Err(SettingsErrors(problems)) }
    }

    /// The reminders, templates and team settings of an event's life.
    fn validate_event_messages(&self, problems: &mut BTreeMap<&'static str, String>) {
        let mut reminder_problems = Vec::new();
        if self.reminders.len() > MAX_REMINDERS {
            reminder_problems.push(format!("at most {MAX_REMINDERS} reminders"));
        }
        for (n, reminder) in self.reminders.iter().enumerate() {
            if !REMINDER_MINUTES.contains(&reminder.before_minutes) {
                reminder_problems.push(format!(
                    "[{n}].before_minutes: {} to {} minutes",
                    REMINDER_MINUTES.start(),
                    REMINDER_MINUTES.end()
                ));
            }
            if self.reminders[..n].iter().any(|other| other.before_minutes == reminder.before_minutes) {
                reminder_problems.push(format!("[{n}].before_minutes: {} is set twice", reminder.before_minutes));
            }
            if let Err(errors) = reminder.template.validate(TemplateKind::Reminder) {
                reminder_problems.extend(errors.0.into_iter().map(|problem| format!("[{n}].template.{problem}")));
            }
        }
        if !reminder_problems.is_empty() {
            problems.insert("reminders", reminder_problems.join("; "));
        }
        let templates = [
            ("start_message", self.start_message.as_ref(), TemplateKind::Start),
            ("results_template", Some(&self.results_template), TemplateKind::Results),
            ("board_template", Some(&self.board_template), TemplateKind::Board),
            ("summary_template", self.summary_template.as_ref(), TemplateKind::Summary),
        ];
        for (field, template, kind) in templates {
            if let Some(Err(errors)) = template.map(|template| template.validate(kind)) {
                problems.insert(field, errors.to_string());
            }
        }
        if !SIGNUP_UPDATE_HOURS.contains(&self.signup_update_hours) {
            problems.insert(
                "signup_update_hours",
                format!("{} to {} hours", SIGNUP_UPDATE_HOURS.start(), SIGNUP_UPDATE_HOURS.end()),
            );
        }
        if !THREAD_AUTO_ARCHIVE_MINUTES.contains(&self.thread_auto_archive_minutes) {
            problems.insert("thread_auto_archive_minutes", "one of 60, 1440, 4320, 10080".to_owned());
        }
        if let Err(error) = VoicePattern::parse(&self.team_voice_pattern) {
            problems.insert("team_voice_pattern", error.to_string());
        }
    }

    /// The team voice channels' name pattern (checked when saved; an unreadable one stored
    /// before is the team's name).
    pub fn team_voice_pattern(&self) -> VoicePattern {
        VoicePattern::parse(&self.team_voice_pattern).unwrap_or_default()
    }

    /// The reminder offsets, in minutes, longest first.
    pub fn reminder_offsets(&self) -> Vec<u32> {
        let mut offsets: Vec<u32> = self.reminders.iter().map(|reminder| reminder.before_minutes).collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(GuildSettings::default().validate(), Ok(()));
    }

    #[test]
    fn reports_every_problem_at_once() {
        let settings = GuildSettings {
            naming_pattern: "{track}-{event_name}".to_owned(),
            sync_interval_hours: 0,
            archive_retention_hours: 9000,
            welcome_message: Some("x".repeat(2001)),
            remove_role_when_unlinked: true,
            text_channel: false,
            ..GuildSettings::default()
        };
        let errors = settings.validate().expect_err("invalid");
        let fields: Vec<&str> = errors.0.keys().copied().collect();
        assert_eq!(
            fields,
            [
                "archive_retention_hours",
                "naming_pattern",
                "remove_role_when_unlinked",
                "sync_interval_hours",
                "text_channel",
                "welcome_message"
            ]
        );
        assert!(errors.to_string().contains("unknown placeholder {track}"), "{errors}");
    }

    #[test]
    fn json_from_the_settings_page_reports_bad_ids_with_the_other_problems() {
        let value = serde_json::json!({
            "member_role_id": "not-an-id",
            "archive_category_id": "0",
            "notifications": { "log_channel_id": "123456789012345678", "on_sync_finished": true },
            "sync_interval_hours": 500,
        });
        let errors = GuildSettings::from_json(value).expect_err("invalid");
        assert_eq!(
            errors.0.keys().copied().collect::<Vec<_>>(),
            ["archive_category_id", "member_role_id", "sync_interval_hours"]
        );
        let ok = GuildSettings::from_json(serde_json::json!({ "member_role_id": "42", "voice_channel": true }))
            .expect("valid");
        assert_eq!((ok.member_role_id.map(|id| id.get()), ok.voice_channel), (Some(42), true));
    }

    #[test]
    fn snowflakes_are_checked_when_read() {
        let parsed: Result<GuildSettings, _> = serde_json::from_value(serde_json::json!({ "member_role_id": "abc" }));
        assert!(parsed.is_err());
        let parsed: GuildSettings = serde_json::from_value(serde_json::json!({ "member_role_id": "123" })).expect("ok");
        assert_eq!(parsed.member_role_id.map(|id| id.get()), Some(123));
    }
}
