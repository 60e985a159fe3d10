//! Message templates: what Guildbridge posts for a subject (welcome, reminders, the start,
//! results, the sign-up board), with named placeholders. A template is checked when it is
//! saved: every placeholder must be one its kind knows, and it must fit Discord's limits
//! when every placeholder holds the longest value it can, so it never fails when sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use twilight_model::channel::message::{
    Embed,
    embed::{EmbedField, EmbedFooter},
};
use twilight_validate::{embed as limits, message::MESSAGE_CONTENT_LENGTH_MAX};

use super::{Signups, Subject, naming};

/// What stands in for an empty field value or an empty message (Discord refuses both).
const EMPTY: &str = "\u{2014}";
/// How much of the sign-up list a board shows; the rest is counted ("and 12 more").
pub const SIGNUP_LIST_MAX_CHARS: usize = 1000;
/// A result field's value, as the platform may send it.
pub const RESULT_VALUE_MAX_CHARS: usize = 100;
/// Placeholders of results that the platform fills in: `{result.winner}`.
pub const RESULT_PREFIX: &str = "result.";
/// How much of the teams list a summary shows; the rest is counted.
pub const TEAM_LIST_MAX_CHARS: usize = 1000;
/// How much of the results a summary shows; the rest is counted.
pub const RESULTS_LIST_MAX_CHARS: usize = 600;
/// The results a summary lists at most (its top entries).
pub const SUMMARY_RESULTS: usize = 10;
/// The longest a subject's text values can be (the tenant API's limit).
const SUBJECT_TEXT_MAX_CHARS: usize = 100;

/// Which message a template is for: each kind knows its own placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TemplateKind {
    Welcome,
    Reminder,
    Start,
    Results,
    Board,
    /// The event summed up, once: at its results, or at its end if none came.
    Summary,
}

/// Every subject's placeholders, with the longest value each can hold.
const SUBJECT_PLACEHOLDERS: &[(&str, usize)] = &[
    ("name", SUBJECT_TEXT_MAX_CHARS),
    ("series_name", SUBJECT_TEXT_MAX_CHARS),
    ("event_name", SUBJECT_TEXT_MAX_CHARS),
    ("subject_id", SUBJECT_TEXT_MAX_CHARS),
    ("kind", 5),
    ("date", SUBJECT_TEXT_MAX_CHARS),
    // `<t:253402300799:F>`: Discord shows each reader the time in their own zone.
    ("starts_at", 18),
    ("starts_in", 18),
    ("ends_at", 18),
    ("signup_url", 512),
    ("channel", 23),
];

impl TemplateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::Welcome => "welcome",
            TemplateKind::Reminder => "reminder",
            TemplateKind::Start => "start",
            TemplateKind::Results => "results",
            TemplateKind::Board => "board",
            TemplateKind::Summary => "summary",
        }
    }

    /// The placeholders only this kind has, with their longest values.
    fn own_placeholders(self) -> &'static [(&'static str, usize)] {
        match self {
            TemplateKind::Reminder => &[("offset", 24)],
            TemplateKind::Board => {
                &[("signup_count", 10), ("signup_capacity", 10), ("signup_list", SIGNUP_LIST_MAX_CHARS)]
            }
            TemplateKind::Summary => &[
                ("signup_count", 10),
                ("signup_capacity", 10),
                ("teams", TEAM_LIST_MAX_CHARS),
                ("results", RESULTS_LIST_MAX_CHARS),
            ],
            _ => &[],
        }
    }

    /// Every placeholder this kind knows (`{result.*}` aside), for error messages and the page.
    pub fn placeholders(self) -> Vec<&'static str> {
        SUBJECT_PLACEHOLDERS.iter().chain(self.own_placeholders()).map(|(name, _)| *name).collect()
    }

    /// The longest value `name` can hold in this kind, or `None` for an unknown placeholder.
    fn longest(self, name: &str) -> Option<usize> {
        if self == TemplateKind::Results && name.strip_prefix(RESULT_PREFIX).is_some_and(is_field_name) {
            return Some(RESULT_VALUE_MAX_CHARS);
        }
        SUBJECT_PLACEHOLDERS.iter().chain(self.own_placeholders()).find(|(known, _)| *known == name).map(|(_, n)| *n)
    }
}

/// `winner`, `fastest_lap`: what the platform may name a result field.
pub fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 32 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// One field of an embed template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldTemplate {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub inline: bool,
}

/// An embed with placeholders in its texts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct EmbedTemplate {
    pub title: Option<String>,
    pub description: Option<String>,
    /// 0xRRGGBB as a number.
    pub color: Option<u32>,
    pub fields: Vec<FieldTemplate>,
    pub footer: Option<String>,
}

/// A message: content, an embed, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct MessageTemplate {
    pub content: Option<String>,
    pub embed: Option<EmbedTemplate>,
}

impl MessageTemplate {
    pub fn text(content: &str) -> Self {
        Self { content: Some(content.to_owned()), embed: None }
    }
}

/// A template rendered: what a message carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderedMessage {
    pub content: Option<String>,
    pub embeds: Vec<Embed>,
}

/// A text's length with its placeholders at their longest, and Discord's limit for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// `content` or `embed` (all of its texts together).
    pub place: &'static str,
    pub longest: usize,
    pub max: usize,
}

/// Every problem with a template, each naming where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct TemplateErrors(pub Vec<String>);

/// The placeholders a text uses, or why it cannot be read.
pub(crate) fn placeholders_in(text: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| "unclosed '{'".to_owned())?;
        found.push(&after[..close]);
        rest = &after[close + 1..];
    }
    Ok(found)
}

/// Fills the placeholders of a text that [`placeholders_in`] accepted; missing values are empty.
pub(crate) fn fill(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut filled = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            filled.push_str(&rest[open..]);
            return filled;
        };
        filled.push_str(values.get(&after[..close]).map(String::as_str).unwrap_or_default());
        rest = &after[close + 1..];
    }
    filled.push_str(rest);
    filled
}

impl MessageTemplate {
    /// Every text of the template with where it sits (`content`, `embed.title`, ...).
    fn texts(&self) -> Vec<(String, &str)> {
        let mut texts = Vec::new();
        if let Some(content) = &self.content {
            texts.push(("content".to_owned(), content.as_str()));
        }
        if let Some(embed) = &self.embed {
            for (place, text) in
                [("title", &embed.title), ("description", &embed.description), ("footer", &embed.footer)]
            {
                if let Some(text) = text {
                    texts.push((format!("embed.{place}"), text.as_str()));
                }
            }
            for (n, field) in embed.fields.iter().enumerate() {
                texts.push((format!("embed.fields[{n}].name"), field.name.as_str()));
                texts.push((format!("embed.fields[{n}].value"), field.value.as_str()));
            }
        }
        texts
    }

    /// The `{result.*}` fields the template uses (a results message must bring them).
    pub fn result_fields(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .texts()
            .into_iter()
            .filter_map(|(_, text)| placeholders_in(text).ok())
            .flatten()
            .filter_map(|name| name.strip_prefix(RESULT_PREFIX).map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Checks the template for `kind`: known placeholders only, and within Discord's limits
    /// with every placeholder at its longest. Reports every problem at once.
    pub fn validate(&self, kind: TemplateKind) -> Result<(), TemplateErrors> {
        // An unknown placeholder counts as empty in the limit checks, so both are named at once.
        let (longest, mut problems) = self.longest_values(kind);
        if self.content.as_deref().is_none_or(str::is_empty) && self.embed.is_none() {
            problems.push("the message needs content or an embed".to_owned());
        }
        problems.extend(self.limit_problems(&longest, "at its longest"));
        if problems.is_empty() { Ok(()) } else { Err(TemplateErrors(problems)) }
    }

    /// How long the content and the embed are with every placeholder at its longest (an
    /// unknown placeholder counts as empty), against Discord's limits: what the settings
    /// page shows beside a preview.
    pub fn longest_sizes(&self, kind: TemplateKind) -> Vec<Size> {
        let (longest, _) = self.longest_values(kind);
        let length = |text: &str| fill(text, &longest).chars().count();
        let mut sizes = Vec::new();
        if let Some(content) = &self.content {
            sizes.push(Size { place: "content", longest: length(content), max: MESSAGE_CONTENT_LENGTH_MAX });
        }
        if let Some(embed) = &self.embed {
            let texts = [&embed.title, &embed.description, &embed.footer];
            let total = texts.into_iter().flatten().map(|text| length(text)).sum::<usize>()
                + embed.fields.iter().map(|field| length(&field.name) + length(&field.value)).sum::<usize>();
            sizes.push(Size { place: "embed", longest: total, max: limits::EMBED_TOTAL_LENGTH });
        }
        sizes
    }

    /// Each placeholder the template uses at its longest value, and every placeholder
    /// problem (unreadable, or unknown to `kind`).
    fn longest_values(&self, kind: TemplateKind) -> (BTreeMap<String, String>, Vec<String>) {
        let mut problems = Vec::new();
        let mut longest = BTreeMap::new();
        for (place, text) in self.texts() {
            match placeholders_in(text) {
                Err(problem) => problems.push(format!("{place}: {problem}")),
                Ok(names) => {
                    for name in names {
                        match kind.longest(name) {
                            Some(length) => {
                                longest.insert(name.to_owned(), "x".repeat(length));
                            }
                            None => problems.push(format!(
                                "{place}: unknown placeholder {{{name}}}; a {} template knows {}",
                                kind.as_str(),
                                known_list(kind)
                            )),
                        }
                    }
                }
            }
        }
        (longest, problems)
    }

    /// What goes over Discord's limits once rendered with `values`.
    fn limit_problems(&self, values: &BTreeMap<String, String>, when: &str) -> Vec<String> {
        let problems = std::cell::RefCell::new(Vec::new());
        let over = |place: &str, text: &str, max: usize| {
            let length = text.chars().count();
            if length > max {
                problems.borrow_mut().push(format!("{place}: {length} characters {when}; Discord allows {max}"));
            }
            length
        };
        if let Some(content) = &self.content {
            over("content", &fill(content, values), MESSAGE_CONTENT_LENGTH_MAX);
        }
        if let Some(embed) = &self.embed {
            let mut total = 0;
            for (place, text, max) in [
                ("embed.title", &embed.title, limits::TITLE_LENGTH),
                ("embed.description", &embed.description, limits::DESCRIPTION_LENGTH),
                ("embed.footer", &embed.footer, limits::FOOTER_TEXT_LENGTH),
            ] {
                if let Some(text) = text {
                    total += over(place, &fill(text, values), max);
                }
            }
            if embed.fields.len() > limits::FIELD_COUNT {
                problems.borrow_mut().push(format!(
                    "embed.fields: {} fields; Discord allows {}",
                    embed.fields.len(),
                    limits::FIELD_COUNT
                ));
            }
            for (n, field) in embed.fields.iter().enumerate() {
                total +=
                    over(&format!("embed.fields[{n}].name"), &fill(&field.name, values), limits::FIELD_NAME_LENGTH);
                total +=
                    over(&format!("embed.fields[{n}].value"), &fill(&field.value, values), limits::FIELD_VALUE_LENGTH);
            }
            if embed.color.is_some_and(|color| color > limits::COLOR_MAXIMUM) {
                problems.borrow_mut().push("embed.color: at most 0xFFFFFF".to_owned());
            }
            if total > limits::EMBED_TOTAL_LENGTH {
                problems.borrow_mut().push(format!(
                    "embed: {total} characters in all {when}; Discord allows {}",
                    limits::EMBED_TOTAL_LENGTH
                ));
            }
        }
        problems.into_inner()
    }

    /// The message for these values. A template that [`Self::validate`] accepted always fits
    /// when the values are within their limits; empty texts Discord would refuse become a dash.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<RenderedMessage, TemplateErrors> {
        let problems = self.limit_problems(values, "rendered");
        if !problems.is_empty() {
            return Err(TemplateErrors(problems));
        }
        let text =
            |text: &Option<String>| text.as_ref().map(|text| fill(text, values)).filter(|t| !t.trim().is_empty());
        let nonblank = |text: String| if text.trim().is_empty() { EMPTY.to_owned() } else { text };
        let embeds: Vec<Embed> = self
            .embed
            .iter()
            .map(|embed| Embed {
                author: None,
                color: embed.color,
                flags: None,
                description: text(&embed.description),
                fields: embed
                    .fields
                    .iter()
                    .map(|field| EmbedField {
                        inline: field.inline,
                        name: nonblank(fill(&field.name, values)),
                        value: nonblank(fill(&field.value, values)),
                    })
                    .collect(),
                footer: text(&embed.footer).map(|text| EmbedFooter { icon_url: None, proxy_icon_url: None, text }),
                image: None,
                kind: "rich".to_owned(),
                provider: None,
                thumbnail: None,
                timestamp: None,
                title: text(&embed.title),
                url: None,
                video: None,
            })
            .collect();
        let content = text(&self.content);
        let content = if content.is_none() && embeds.is_empty() { Some(EMPTY.to_owned()) } else { content };
        Ok(RenderedMessage { content, embeds })
    }
}

/// Every placeholder `kind` knows, as a template writes them.
pub fn known_list(kind: TemplateKind) -> String {
    let mut known: Vec<String> = kind.placeholders().iter().map(|name| format!("{{{name}}}")).collect();
    if kind == TemplateKind::Results {
        known.push("{result.<field>}".to_owned());
    }
    known.join(", ")
}

/// `<t:1767225600:F>`: a time every reader sees in their own time zone.
fn timestamp(at: u64, style: char) -> String {
    format!("<t:{at}:{style}>")
}

/// The values every template of a subject can use.
pub fn subject_values(subject: &Subject, channel: Option<u64>) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = subject
        .fields
        .iter()
        .filter(|(name, _)| naming::PLACEHOLDERS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    values.entry("event_name".to_owned()).or_insert_with(|| subject.name.clone());
    values.insert("name".to_owned(), subject.name.clone());
    values.insert("subject_id".to_owned(), subject.subject.id.clone());
    values.insert("kind".to_owned(), subject.subject.kind.as_str().to_owned());
    if let Some(at) = subject.starts_at {
        values.insert("starts_at".to_owned(), timestamp(at, 'F'));
        values.insert("starts_in".to_owned(), timestamp(at, 'R'));
    }
    if let Some(at) = subject.ends_at {
        values.insert("ends_at".to_owned(), timestamp(at, 'F'));
    }
    if let Some(url) = &subject.signup_url {
        values.insert("signup_url".to_owned(), url.clone());
    }
    if let Some(channel) = channel {
        values.insert("channel".to_owned(), format!("<#{channel}>"));
    }
    values
}

/// Adds the board's values: the count, the capacity and the list (cut to fit, the rest counted).
pub fn add_signup_values(values: &mut BTreeMap<String, String>, signups: &Signups) {
    values.insert("signup_count".to_owned(), signups.count.to_string());
    values.insert(
        "signup_capacity".to_owned(),
        signups.capacity.map_or_else(|| "\u{221e}".to_owned(), |c| c.to_string()),
    );
    let mut list = String::new();
    for (shown, entry) in signups.entries.iter().enumerate() {
        let line = format!("\u{2022} {entry}\n");
        let rest = signups.entries.len() - shown;
        let tail = format!("\u{2026} and {rest} more");
        if list.chars().count() + line.chars().count() + tail.chars().count() > SIGNUP_LIST_MAX_CHARS {
            list.push_str(&tail);
            break;
        }
        list.push_str(&line);
    }
    values.insert("signup_list".to_owned(), list.trim_end().to_owned());
}

/// A team as a summary lists it: its name and how its members read (mentions of the linked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamLine {
    pub name: String,
    pub members: Vec<String>,
    /// Members with no link, counted rather than named.
    pub unlinked: usize,
}

/// Lines cut to `max` characters, the rest counted (`… and 3 more`).
fn bounded_list(lines: &[String], max: usize) -> String {
    let mut list = String::new();
    for (shown, line) in lines.iter().enumerate() {
        let tail = format!("\u{2026} and {} more", lines.len() - shown);
        if list.chars().count() + line.chars().count() + 1 + tail.chars().count() > max {
            list.push_str(&tail);
            return list;
        }
        list.push_str(line);
        list.push('\n');
    }
    match list.trim_end() {
        "" => EMPTY.to_owned(),
        text => text.to_owned(),
    }
}

/// `fastest_lap` as a reader sees it: `Fastest lap`.
fn result_label(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Adds a summary's values: sign-ups against capacity, the teams with their members, and
/// the results' top entries (the first [`SUMMARY_RESULTS`] by name), when there are any.
pub fn add_summary_values(
    values: &mut BTreeMap<String, String>,
    signups: Option<&Signups>,
    teams: &[TeamLine],
    results: &BTreeMap<String, String>,
) {
    match signups {
        Some(signups) => add_signup_values(values, signups),
        None => {
            values.insert("signup_count".to_owned(), "0".to_owned());
            values.insert("signup_capacity".to_owned(), "\u{221e}".to_owned());
        }
    }
    values.remove("signup_list");
    let team_lines: Vec<String> = teams
        .iter()
        .map(|team| {
            let mut members = team.members.join(", ");
            if team.unlinked > 0 {
                let more = format!("{} not linked", team.unlinked);
                members = if members.is_empty() { more } else { format!("{members} (+{more})") };
            }
            let name: String = team.name.chars().take(SUBJECT_TEXT_MAX_CHARS).collect();
            if members.is_empty() { format!("**{name}**") } else { format!("**{name}**: {members}") }
        })
        .collect();
    values.insert("teams".to_owned(), bounded_list(&team_lines, TEAM_LIST_MAX_CHARS));
    let result_lines: Vec<String> = results
        .iter()
        .take(SUMMARY_RESULTS)
        .map(|(name, value)| {
            let value: String = value.chars().take(RESULT_VALUE_MAX_CHARS).collect();
            format!("**{}**: {value}", result_label(name))
        })
        .collect();
    values.insert("results".to_owned(), bounded_list(&result_lines, RESULTS_LIST_MAX_CHARS));
}

/// What a preview shows for each placeholder of `kind`: a reminder `before_minutes` ahead,
/// and `result_fields` (the `{result.*}` a results template uses). Times read as Discord
/// shows them to a reader, not as the `<t:…>` markup sent.
pub fn sample_values(
    kind: TemplateKind,
    before_minutes: Option<u32>,
    result_fields: &[String],
) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = [
        ("name", "Spa 6 Hours"),
        ("series_name", "GT3 Sprint"),
        ("event_name", "Spa 6 Hours"),
        ("subject_id", "evt-42"),
        ("kind", "event"),
        ("date", "2026-12-05"),
        ("starts_at", "Saturday, 5 December 2026 19:00"),
        ("starts_in", "in 2 days"),
        ("ends_at", "Sunday, 6 December 2026 01:00"),
        ("signup_url", "https://club.example/events/42"),
        ("channel", "#spa-6-hours"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    match kind {
        TemplateKind::Reminder => {
            values.insert("offset".to_owned(), offset_text(before_minutes.unwrap_or(60)));
        }
        TemplateKind::Board => add_signup_values(
            &mut values,
            &Signups {
                count: 3,
                capacity: Some(24),
                entries: ["Ana Costa", "Ben Okafor", "Chen Wei"].map(str::to_owned).to_vec(),
                significant: false,
            },
        ),
        TemplateKind::Results => {
            for field in result_fields {
                values.insert(format!("{RESULT_PREFIX}{field}"), format!("sample {}", field.replace('_', " ")));
            }
        }
        TemplateKind::Summary => {
            let signups = Signups { count: 18, capacity: Some(24), entries: Vec::new(), significant: false };
            let teams = [
                TeamLine {
                    name: "Red Racing".to_owned(),
                    members: vec!["@Ana".to_owned(), "@Ben".to_owned()],
                    unlinked: 0,
                },
                TeamLine { name: "Blue Motorsport".to_owned(), members: vec!["@Chen".to_owned()], unlinked: 1 },
            ];
            let results = BTreeMap::from([
                ("fastest_lap".to_owned(), "Ben Okafor 2:17.4".to_owned()),
                ("winner".to_owned(), "Red Racing".to_owned()),
            ]);
            add_summary_values(&mut values, Some(&signups), &teams, &results);
        }
        TemplateKind::Welcome | TemplateKind::Start => {}
    }
    values
}

/// `24 hours`, `1 hour`, `90 minutes`: how a reminder's offset reads.
pub fn offset_text(minutes: u32) -> String {
    match minutes {
        1 => "1 minute".to_owned(),
        60 => "1 hour".to_owned(),
        m if m % 60 == 0 => format!("{} hours", m / 60),
        m => format!("{m} minutes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SubjectKind, SubjectRef};

    fn subject() -> Subject {
        Subject {
            subject: SubjectRef::new(SubjectKind::Event, "42"),
            name: "Spa 6 Hours".to_owned(),
            fields: BTreeMap::from([("series_name".to_owned(), "GT3".to_owned())]),
            signup_url: Some("https://club.example/42".to_owned()),
            starts_at: Some(1_800_000_000),
            ends_at: None,
            discord_user_id: None,
            relay: None,
            signups: None,
        }
    }

    #[test]
    fn unknown_placeholders_are_named_with_where_they_are() {
        let template = MessageTemplate {
            content: Some("{name} on {track}".to_owned()),
            embed: Some(EmbedTemplate {
                title: Some("{result.winner} {signup_count}".to_owned()),
                ..Default::default()
            }),
        };
        let errors = template.validate(TemplateKind::Reminder).expect_err("invalid");
        assert_eq!(errors.0.len(), 3, "{errors}");
        assert!(errors.0[0].starts_with("content: unknown placeholder {track}"), "{errors}");
        assert!(errors.0[1].starts_with("embed.title: unknown placeholder {result.winner}"), "{errors}");
        assert!(template.validate(TemplateKind::Results).expect_err("still").0.len() == 2);
    }

    #[test]
    fn a_template_that_would_go_over_a_limit_at_its_longest_is_refused() {
        // 1900 characters fit alone, but not with a 512-character sign-up link.
        let template = MessageTemplate::text(&format!("{} {{signup_url}}", "x".repeat(1900)));
        let errors = template.validate(TemplateKind::Start).expect_err("too long");
        assert!(errors.0[0].contains("2413 characters at its longest; Discord allows 2000"), "{errors}");
        let embed = EmbedTemplate {
            title: Some("{name}".to_owned()),
            fields: vec![FieldTemplate { name: "n".into(), value: "v".into(), inline: false }; 26],
            ..Default::default()
        };
        let errors =
            MessageTemplate { content: None, embed: Some(embed) }.validate(TemplateKind::Results).expect_err("26");
        assert!(errors.0.iter().any(|e| e.contains("26 fields")), "{errors}");
        assert!(MessageTemplate::text("{name} starts {starts_in}").validate(TemplateKind::Reminder).is_ok());
    }

    #[test]
    fn an_unknown_placeholder_and_an_over_limit_text_are_both_named() {
        let template = MessageTemplate::text(&format!("{{trak}} {}", "x".repeat(2001)));
        let errors = template.validate(TemplateKind::Start).expect_err("two problems");
        assert_eq!(errors.0.len(), 2, "{errors}");
        assert!(errors.0[0].starts_with("content: unknown placeholder {trak}"), "{errors}");
        assert!(errors.0[1].contains("2002 characters at its longest"), "{errors}");
    }

    #[test]
    fn renders_an_embed_from_the_platform_fields() {
        let template = MessageTemplate {
            content: None,
            embed: Some(EmbedTemplate {
                title: Some("Results: {name}".to_owned()),
                fields: vec![
                    FieldTemplate { name: "Winner".into(), value: "{result.winner}".into(), inline: true },
                    FieldTemplate { name: "Fastest lap".into(), value: "{result.fastest_lap}".into(), inline: true },
                ],
                ..Default::default()
            }),
        };
        assert!(template.validate(TemplateKind::Results).is_ok());
        assert_eq!(template.result_fields(), ["fastest_lap", "winner"]);
        let mut values = subject_values(&subject(), Some(7));
        values.insert("result.winner".to_owned(), "Ana".to_owned());
        let rendered = template.render(&values).expect("fits");
        let embed = &rendered.embeds[0];
        assert_eq!(embed.title.as_deref(), Some("Results: Spa 6 Hours"));
        assert_eq!((embed.fields[0].value.as_str(), embed.fields[1].value.as_str()), ("Ana", EMPTY));
        assert_eq!(rendered.content, None);
    }

    #[test]
    fn every_placeholder_has_a_sample_and_sizes_count_placeholders_at_their_longest() {
        for kind in [
            TemplateKind::Welcome,
            TemplateKind::Reminder,
            TemplateKind::Start,
            TemplateKind::Results,
            TemplateKind::Board,
        ] {
            let samples = sample_values(kind, Some(1440), &["winner".to_owned()]);
            for name in kind.placeholders() {
                assert!(samples.contains_key(name), "{} has no sample for {{{name}}}", kind.as_str());
            }
        }
        let template = MessageTemplate {
            content: Some("Link: {signup_url}".to_owned()),
            embed: Some(EmbedTemplate { title: Some("{name}".to_owned()), ..Default::default() }),
        };
        let sizes = template.longest_sizes(TemplateKind::Start);
        assert_eq!(sizes[0], Size { place: "content", longest: 6 + 512, max: 2000 });
        assert_eq!(sizes[1], Size { place: "embed", longest: 100, max: 6000 });
    }

    #[test]
    fn the_signup_list_is_cut_to_fit_and_counts_the_rest() {
        let signups = Signups {
            count: 300,
            capacity: Some(300),
            entries: (0..300).map(|n| format!("Driver number {n}")).collect(),
            significant: false,
        };
        let mut values = BTreeMap::new();
        add_signup_values(&mut values, &signups);
        let list = &values["signup_list"];
        assert!(list.chars().count() <= SIGNUP_LIST_MAX_CHARS, "{}", list.len());
        assert!(list.ends_with("more") && list.starts_with("\u{2022} Driver number 0"), "{list}");
        assert_eq!(values["signup_capacity"], "300");
        assert_eq!(offset_text(1440), "24 hours");
    }
}
