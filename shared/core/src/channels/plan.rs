//! What a subject's channels should look like, and what of it already exists in a guild:
//! pure functions over settings, the subject and the guild's channel list.

use std::collections::BTreeMap;

use twilight_model::{
    channel::{
        Channel, ChannelType,
        permission_overwrite::{PermissionOverwrite, PermissionOverwriteType},
    },
    guild::Permissions,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, UserMarker},
    },
};

use crate::domain::{
    ChannelIds, GuildSettings, Subject, SubjectRef,
    naming::{self, MAX_CHANNEL_NAME_CHARS, NamingError},
};

/// Discord's limit on channels in one category.
pub const MAX_CATEGORY_CHANNELS: usize = 50;
/// Discord's limit on a channel topic.
pub const MAX_TOPIC_CHARS: usize = 1024;

/// The channels to create for one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPlan {
    pub text: Option<String>,
    pub voice: Option<String>,
    pub practice_voice: Option<String>,
    /// The category's base name when settings want one per series and the subject has one.
    pub series: Option<String>,
    /// Written into the text channel's topic; finds the channel again after a crash.
    pub topic: String,
    pub overwrites: Vec<PermissionOverwrite>,
}

impl ChannelPlan {
    /// How many channels go into the category.
    pub fn channel_count(&self) -> usize {
        [&self.text, &self.voice, &self.practice_voice].into_iter().flatten().count()
    }
}

/// The marker in a channel's topic that names its subject.
pub fn topic_marker(subject: &SubjectRef) -> String {
    format!("[guildbridge:{subject}]")
}

/// Plans a subject's channels from the guild's settings.
pub fn plan(
    subject: &Subject,
    settings: &GuildSettings,
    guild_id: Id<GuildMarker>,
    bot_user_id: Id<UserMarker>,
) -> Result<ChannelPlan, NamingError> {
    let text = settings.text_channel.then(|| text_name(subject, &settings.naming_pattern)).transpose()?;
    let voice_name = display_name(&subject.name);
    let marker = topic_marker(&subject.subject);
    let room = MAX_TOPIC_CHARS.saturating_sub(marker.chars().count() + 1);
    Ok(ChannelPlan {
        text,
        voice: settings.voice_channel.then(|| voice_name.clone()),
        practice_voice: settings.practice_voice_channel.then(|| display_name(&format!("{voice_name} practice"))),
        series: series_of(subject, settings),
        topic: format!("{} {marker}", truncate(&subject.name, room)),
        // A subject with its own Discord user (a lead) is a conversation with that person:
        // private whatever the guild's setting, as the tenant API promises.
        overwrites: if settings.private_channels || subject.discord_user_id.is_some() {
            private_overwrites(guild_id, bot_user_id, subject.discord_user_id)
        } else {
            Vec::new()
        },
    })
}

/// The category's base name when settings want one per series and the subject has one.
pub fn series_of(subject: &Subject, settings: &GuildSettings) -> Option<String> {
    settings
        .category_per_series
        .then(|| subject.fields.get("series_name").map(|series| display_name(series)))
        .flatten()
        .filter(|series| !series.is_empty())
}

/// The text channel's name: the pattern with the subject's fields, or the subject's name
/// when the pattern renders to nothing for this subject.
fn text_name(subject: &Subject, pattern: &str) -> Result<String, NamingError> {
    let mut fields: BTreeMap<String, String> = subject.fields.clone();
    fields.entry("event_name".to_owned()).or_insert_with(|| subject.name.clone());
    fields.insert("subject_id".to_owned(), subject.subject.id.clone());
    fields.insert("kind".to_owned(), subject.subject.kind.as_str().to_owned());
    match naming::render(pattern, &fields) {
        Err(NamingError::Empty) => naming::normalise_text_channel_name(&subject.name),
        other => other,
    }
}

/// Voice channel and category names keep case and spaces; only the length is Discord's.
fn display_name(name: &str) -> String {
    truncate(name.trim(), MAX_CHANNEL_NAME_CHARS)
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// What the subject's own Discord user may do in its private channel.
pub const SUBJECT_USER_ACCESS: Permissions =
    Permissions::VIEW_CHANNEL.union(Permissions::SEND_MESSAGES).union(Permissions::CONNECT);

/// @everyone may not see the channel; the bot and the subject's own Discord user may.
fn private_overwrites(
    guild_id: Id<GuildMarker>,
    bot_user_id: Id<UserMarker>,
    owner: Option<Id<UserMarker>>,
) -> Vec<PermissionOverwrite> {
    let member_access = SUBJECT_USER_ACCESS;
    let mut overwrites = vec![
        PermissionOverwrite {
            id: guild_id.cast(),
            kind: PermissionOverwriteType::Role,
            allow: Permissions::empty(),
            deny: Permissions::VIEW_CHANNEL,
        },
        PermissionOverwrite {
            id: bot_user_id.cast(),
            kind: PermissionOverwriteType::Member,
            allow: member_access | Permissions::MANAGE_CHANNELS,
            deny: Permissions::empty(),
        },
    ];
    if let Some(owner) = owner.filter(|owner| *owner != bot_user_id) {
        overwrites.push(PermissionOverwrite {
            id: owner.cast(),
            kind: PermissionOverwriteType::Member,
            allow: member_access,
            deny: Permissions::empty(),
        });
    }
    overwrites
}

/// Where the subject's channels go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryChoice {
    None,
    Existing(Id<ChannelMarker>),
    /// No category of the series has room: create this one.
    Create(String),
}

/// The first category of the series with room for `needed` more channels (`Series`,
/// `Series 2`, `Series 3`, ...: a full category rolls over to the next), or the next name.
pub fn choose_category(series: Option<&str>, needed: usize, channels: &[Channel]) -> CategoryChoice {
    let Some(series) = series else { return CategoryChoice::None };
    for n in 1.. {
        let name = if n == 1 { series.to_owned() } else { display_name(&format!("{series} {n}")) };
        let category =
            channels.iter().find(|c| c.kind == ChannelType::GuildCategory && c.name.as_deref() == Some(&name));
        let Some(category) = category else { return CategoryChoice::Create(name) };
        let children = channels.iter().filter(|c| c.parent_id == Some(category.id)).count();
        if children + needed <= MAX_CATEGORY_CHANNELS {
            return CategoryChoice::Existing(category.id);
        }
    }
    CategoryChoice::None
}

/// Where a team's voice channel goes: its event's category while that has room, else the
/// first category of the event's series with room (made when none has); at the top level
/// when the event has no category.
pub fn team_voice_parent(
    event_category: Option<Id<ChannelMarker>>,
    series: Option<&str>,
    channels: &[Channel],
) -> CategoryChoice {
    let Some(category) = event_category else { return CategoryChoice::None };
    let children = channels.iter().filter(|c| c.parent_id == Some(category)).count();
    if children < MAX_CATEGORY_CHANNELS {
        return CategoryChoice::Existing(category);
    }
    match series {
        Some(series) => choose_category(Some(series), 1, channels),
        None => CategoryChoice::None,
    }
}

/// What of the plan a crashed or failed attempt already created, as far as it can be proven
/// the subject's: the text channel by the marker in its topic, and any channel whose id an
/// earlier attempt `recorded` in the claim right after creating it (and that still exists
/// as the kind planned). A channel that merely has the right name is never adopted: it may
/// be another subject's or a member's own, and archiving could later delete it.
pub fn already_created(
    plan: &ChannelPlan,
    subject: &SubjectRef,
    recorded: &ChannelIds,
    channels: &[Channel],
) -> ChannelIds {
    let marker = topic_marker(subject);
    let still = |id: Option<Id<ChannelMarker>>, kind: ChannelType| {
        id.filter(|id| channels.iter().any(|c| c.id == *id && c.kind == kind))
    };
    let text = channels
        .iter()
        .find(|c| c.kind == ChannelType::GuildText && c.topic.as_deref().is_some_and(|topic| topic.contains(&marker)))
        .map(|c| c.id)
        .or_else(|| still(recorded.text, ChannelType::GuildText))
        .filter(|_| plan.text.is_some());
    let text_parent = text.and_then(|id| channels.iter().find(|c| c.id == id)).and_then(|c| c.parent_id);
    ChannelIds {
        text,
        category: still(recorded.category, ChannelType::GuildCategory).or(text_parent),
        voice: still(recorded.voice, ChannelType::GuildVoice).filter(|_| plan.voice.is_some()),
        practice_voice: still(recorded.practice_voice, ChannelType::GuildVoice)
            .filter(|_| plan.practice_voice.is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SubjectKind;

    fn subject(name: &str, series: Option<&str>) -> Subject {
        Subject {
            signups: None,
            relay: None,
            subject: SubjectRef::new(SubjectKind::Event, "42"),
            name: name.to_owned(),
            fields: series.map(|s| [("series_name".to_owned(), s.to_owned())].into()).unwrap_or_default(),
            signup_url: None,
            starts_at: None,
            discord_user_id: Some(Id::new(77)),
            ends_at: None,
        }
    }

    fn channel(id: u64, kind: ChannelType, name: &str, parent: Option<u64>, topic: Option<&str>) -> Channel {
        let json = serde_json::json!({
            "id": id.to_string(), "type": u8::from(kind), "name": name, "guild_id": "1",
            "parent_id": parent.map(|p| p.to_string()), "topic": topic,
        });
        serde_json::from_value(json).expect("channel")
    }

    #[test]
    fn names_follow_the_pattern_and_fall_back_to_the_subject_name() {
        let settings = GuildSettings {
            naming_pattern: "{series_name}-{event_name}".to_owned(),
            voice_channel: true,
            ..GuildSettings::default()
        };
        let planned = plan(&subject("Spa 24 Hours", Some("GT3 Cup")), &settings, Id::new(1), Id::new(2)).expect("plan");
        assert_eq!(planned.text.as_deref(), Some("gt3-cup-spa-24-hours"));
        assert_eq!(planned.voice.as_deref(), Some("Spa 24 Hours"));
        assert!(planned.topic.ends_with("[guildbridge:event:42]"));

        let empty_pattern = GuildSettings { naming_pattern: "{series_name}".to_owned(), ..GuildSettings::default() };
        let planned = plan(&subject("Spa 24 Hours", None), &empty_pattern, Id::new(1), Id::new(2)).expect("plan");
        assert_eq!(planned.text.as_deref(), Some("spa-24-hours"));
    }

    #[test]
    fn a_subject_with_its_own_discord_user_is_private_even_with_the_setting_off() {
        let planned = plan(&subject("Lead", None), &GuildSettings::default(), Id::new(1), Id::new(2)).expect("plan");
        let ids: Vec<u64> = planned.overwrites.iter().map(|o| o.id.get()).collect();
        assert_eq!(ids, [1, 2, 77], "everyone denied, the bot and the lead let in");
        let mut public = subject("Event", None);
        public.discord_user_id = None;
        let planned = plan(&public, &GuildSettings::default(), Id::new(1), Id::new(2)).expect("plan");
        assert!(planned.overwrites.is_empty());
    }

    #[test]
    fn private_channels_shut_out_everyone_but_the_bot_and_the_owner() {
        let settings = GuildSettings { private_channels: true, ..GuildSettings::default() };
        let planned = plan(&subject("Lead", None), &settings, Id::new(1), Id::new(2)).expect("plan");
        let ids: Vec<u64> = planned.overwrites.iter().map(|o| o.id.get()).collect();
        assert_eq!(ids, [1, 2, 77]);
        assert!(planned.overwrites[0].deny.contains(Permissions::VIEW_CHANNEL));
        assert!(planned.overwrites[2].allow.contains(Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES));
    }

    #[test]
    fn a_full_category_rolls_over_to_the_next() {
        let mut channels = vec![channel(10, ChannelType::GuildCategory, "GT3 Cup", None, None)];
        assert_eq!(choose_category(Some("GT3 Cup"), 2, &channels), CategoryChoice::Existing(Id::new(10)));
        channels.extend((0..49).map(|n| channel(100 + n, ChannelType::GuildText, "x", Some(10), None)));
        assert_eq!(choose_category(Some("GT3 Cup"), 1, &channels), CategoryChoice::Existing(Id::new(10)));
        assert_eq!(choose_category(Some("GT3 Cup"), 2, &channels), CategoryChoice::Create("GT3 Cup 2".to_owned()));
        assert_eq!(choose_category(None, 2, &channels), CategoryChoice::None);
    }

    #[test]
    fn a_team_voice_stays_with_its_event_until_the_category_is_full() {
        let mut channels = vec![channel(10, ChannelType::GuildCategory, "GT3 Cup", None, None)];
        channels.extend((0..49).map(|n| channel(100 + n, ChannelType::GuildText, "x", Some(10), None)));
        let event = Some(Id::new(10));
        assert_eq!(team_voice_parent(event, Some("GT3 Cup"), &channels), CategoryChoice::Existing(Id::new(10)));
        channels.push(channel(200, ChannelType::GuildVoice, "Red", Some(10), None));
        assert_eq!(team_voice_parent(event, Some("GT3 Cup"), &channels), CategoryChoice::Create("GT3 Cup 2".into()));
        channels.push(channel(11, ChannelType::GuildCategory, "GT3 Cup 2", None, None));
        assert_eq!(team_voice_parent(event, Some("GT3 Cup"), &channels), CategoryChoice::Existing(Id::new(11)));
        assert_eq!(team_voice_parent(event, None, &channels), CategoryChoice::None, "no series: the top level");
        assert_eq!(team_voice_parent(None, Some("GT3 Cup"), &channels), CategoryChoice::None);
    }

    #[test]
    fn finds_what_a_crashed_attempt_left_by_the_topic_marker_and_the_recorded_ids_only() {
        let settings = GuildSettings { voice_channel: true, ..GuildSettings::default() };
        let planned = plan(&subject("Spa", None), &settings, Id::new(1), Id::new(2)).expect("plan");
        let reference = SubjectRef::new(SubjectKind::Event, "42");
        let channels = vec![
            channel(5, ChannelType::GuildText, "spa", None, Some("Spa [guildbridge:event:420]")),
            channel(6, ChannelType::GuildText, "spa", None, Some("Spa [guildbridge:event:42]")),
            channel(7, ChannelType::GuildVoice, "Spa", None, None),
            channel(8, ChannelType::GuildVoice, "Spa", None, None),
        ];
        let nothing = ChannelIds::default();
        let found = already_created(&planned, &reference, &nothing, &channels);
        assert_eq!((found.text, found.voice), (Some(Id::new(6)), None), "a voice channel named alike is not proof");
        let recorded = ChannelIds { voice: Some(Id::new(8)), ..ChannelIds::default() };
        let found = already_created(&planned, &reference, &recorded, &channels);
        assert_eq!((found.text, found.voice), (Some(Id::new(6)), Some(Id::new(8))), "the recorded id is");
        assert_eq!(already_created(&planned, &reference, &nothing, &channels[..1]), ChannelIds::default());
        let gone = ChannelIds { voice: Some(Id::new(99)), ..ChannelIds::default() };
        assert_eq!(
            already_created(&planned, &reference, &gone, &channels[..1]),
            ChannelIds::default(),
            "deleted since"
        );
    }
}
