//! The Messages tab's form, without the web: each template as the admin types it (a
//! `Draft`), read into a [`MessageTemplate`] or every problem with it, and shown as Discord
//! would show it with sample values, beside its length at its longest against Discord's limits.

use std::collections::HashMap;

use crate::domain::{
    GuildSettings, MAX_REMINDERS, MessageTemplate, REMINDER_MINUTES, ReminderSetting, TemplateKind, sample_values,
    templates::{EmbedTemplate, FieldTemplate, RenderedMessage},
};

/// Where a template sits in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    Welcome,
    /// The n-th reminder line of the form (0-based).
    Reminder(usize),
    Start,
    Results,
    Summary,
    Board,
}

impl Slot {
    /// Every slot, in the order of an event's life.
    pub(super) fn all() -> Vec<Slot> {
        let reminders = (0..MAX_REMINDERS).map(Slot::Reminder);
        std::iter::once(Slot::Welcome)
            .chain(reminders)
            .chain([Slot::Start, Slot::Results, Slot::Summary, Slot::Board])
            .collect()
    }

    /// The prefix of its form fields: `welcome`, `reminder1`, `results`.
    pub(super) fn key(self) -> String {
        match self {
            Slot::Reminder(n) => format!("reminder{}", n + 1),
            other => other.kind().as_str().to_owned(),
        }
    }

    pub(super) fn kind(self) -> TemplateKind {
        match self {
            Slot::Welcome => TemplateKind::Welcome,
            Slot::Reminder(_) => TemplateKind::Reminder,
            Slot::Start => TemplateKind::Start,
            Slot::Results => TemplateKind::Results,
            Slot::Summary => TemplateKind::Summary,
            Slot::Board => TemplateKind::Board,
        }
    }

    pub(super) fn heading(self) -> String {
        match self {
            Slot::Welcome => "Welcome message".to_owned(),
            Slot::Reminder(n) => format!("Reminder {}", n + 1),
            Slot::Start => "Start message".to_owned(),
            Slot::Results => "Results".to_owned(),
            Slot::Summary => "Event summary".to_owned(),
            Slot::Board => "Sign-up board".to_owned(),
        }
    }

    pub(super) fn help(self) -> &'static str {
        match self {
            Slot::Welcome => "Posted in each new channel. Empty for none.",
            Slot::Reminder(_) => {
                "Posted in the event's channel this many minutes before it starts, once, with a Remind me button. \
                 Leave the minutes and the message empty for no reminder."
            }
            Slot::Start => "Posted when the event starts. Empty for none.",
            Slot::Results => {
                "What the platform's results post (POST …/messages with \"template\": \"results\"); \
                 {result.<field>} is a field the platform sends."
            }
            Slot::Summary => {
                "Posted once in the event's channel: right after its results, or when it ends if none came. \
                 {teams} lists the teams with their members, {results} the results' top entries. Empty for none."
            }
            Slot::Board => "The pinned sign-up message, edited in place as sign-ups change, with a Sign up button.",
        }
    }

    /// The welcome message is text only; every other template may have an embed.
    pub(super) fn has_embed(self) -> bool {
        self != Slot::Welcome
    }

    /// A template that must exist: emptied, it is a problem rather than "none".
    fn required(self) -> bool {
        matches!(self, Slot::Results | Slot::Board)
    }

    /// The button Guildbridge adds to this message.
    fn button(self) -> Option<&'static str> {
        match self {
            Slot::Reminder(_) => Some("Remind me"),
            Slot::Board => Some("Sign up"),
            _ => None,
        }
    }
}

/// One template as the form holds it: its texts as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// A reminder's minutes before the start.
    pub minutes: String,
    pub content: String,
    pub title: String,
    pub description: String,
    /// `#RRGGBB`.
    pub color: String,
    pub footer: String,
    /// One field per line: `Name | value`, or `Name | value | inline`.
    pub fields: String,
}

const INLINE: &str = "inline";

impl Draft {
    pub(super) fn of(template: Option<&MessageTemplate>, minutes: Option<u32>) -> Self {
        let text = |text: &Option<String>| text.clone().unwrap_or_default();
        let mut draft = Draft { minutes: minutes.map(|m| m.to_string()).unwrap_or_default(), ..Draft::default() };
        let Some(template) = template else { return draft };
        draft.content = text(&template.content);
        if let Some(embed) = &template.embed {
            draft.title = text(&embed.title);
            draft.description = text(&embed.description);
            draft.footer = text(&embed.footer);
            draft.color = embed.color.map(|color| format!("#{color:06x}")).unwrap_or_default();
            draft.fields = embed
                .fields
                .iter()
                .map(|field| {
                    let inline = if field.inline { format!(" | {INLINE}") } else { String::new() };
                    format!("{} | {}{inline}", field.name, field.value)
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        draft
    }

    /// The drafts of every slot from the stored settings.
    pub(super) fn all_of(settings: &GuildSettings) -> Vec<(Slot, Draft)> {
        Slot::all()
            .into_iter()
            .map(|slot| {
                let draft = match slot {
                    Slot::Welcome => {
                        Draft::of(settings.welcome_message.as_deref().map(MessageTemplate::text).as_ref(), None)
                    }
                    Slot::Reminder(n) => settings.reminders.get(n).map_or_else(Draft::default, |reminder| {
                        Draft::of(Some(&reminder.template), Some(reminder.before_minutes))
                    }),
                    Slot::Start => Draft::of(settings.start_message.as_ref(), None),
                    Slot::Results => Draft::of(Some(&settings.results_template), None),
                    Slot::Summary => Draft::of(settings.summary_template.as_ref(), None),
                    Slot::Board => Draft::of(Some(&settings.board_template), None),
                };
                (slot, draft)
            })
            .collect()
    }

    pub(super) fn from_form(form: &HashMap<String, String>, slot: Slot) -> Self {
        let key = slot.key();
        // Texts as typed, only their ends' whitespace trimmed (a browser sends CRLF).
        let get = |name: &str| {
            form.get(&format!("{key}.{name}"))
                .map(|value| value.replace("\r\n", "\n").trim().to_owned())
                .unwrap_or_default()
        };
        let embed = |name: &str| if slot.has_embed() { get(name) } else { String::new() };
        Draft {
            minutes: get("minutes"),
            content: get("content"),
            title: embed("title"),
            description: embed("description"),
            color: embed("color"),
            footer: embed("footer"),
            fields: embed("fields"),
        }
    }

    pub(super) fn has_embed(&self) -> bool {
        [&self.title, &self.description, &self.color, &self.footer, &self.fields].iter().any(|text| !text.is_empty())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.content.is_empty() && !self.has_embed()
    }

    /// The template (`None` when every text is empty), with what the form's own fields
    /// cannot say (a colour that is not one, a field line without its value) left out and
    /// named, so the template's own checks still find everything else.
    fn template(&self) -> (Option<MessageTemplate>, Vec<String>) {
        if self.is_empty() {
            return (None, Vec::new());
        }
        let mut problems = Vec::new();
        let text = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        let embed = self.has_embed().then(|| {
            let color = match self.color.trim_start_matches('#') {
                "" => None,
                hex => match u32::from_str_radix(hex, 16) {
                    Ok(color) if hex.len() == 6 => Some(color),
                    _ => {
                        problems.push(format!("embed colour: {:?} is not #RRGGBB", self.color));
                        None
                    }
                },
            };
            let fields = self
                .fields
                .lines()
                .enumerate()
                .filter(|(_, line)| !line.trim().is_empty())
                .filter_map(|(n, line)| {
                    let Some((name, value)) = line.split_once('|') else {
                        problems.push(format!("embed field line {}: write it as Name | value", n + 1));
                        return None;
                    };
                    let (value, inline) = match value.rsplit_once('|') {
                        Some((value, flag)) if flag.trim() == INLINE => (value, true),
                        _ => (value, false),
                    };
                    Some(FieldTemplate { name: name.trim().to_owned(), value: value.trim().to_owned(), inline })
                })
                .collect::<Vec<_>>();
            if self.title.is_empty() && self.description.is_empty() && self.footer.is_empty() && fields.is_empty() {
                problems.push("embed: a colour alone shows nothing; add a title, description, field or footer".into());
            }
            EmbedTemplate {
                title: text(&self.title),
                description: text(&self.description),
                color,
                fields,
                footer: text(&self.footer),
            }
        });
        (Some(MessageTemplate { content: text(&self.content), embed }), problems)
    }
}

/// A message as the preview shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub content: Option<String>,
    pub embed: Option<PreviewEmbed>,
    pub button: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PreviewEmbed {
    pub color: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Name, value, inline.
    pub fields: Vec<(String, String, bool)>,
    pub footer: Option<String>,
}

impl Preview {
    fn of(rendered: RenderedMessage, button: Option<&'static str>) -> Self {
        let embed = rendered.embeds.into_iter().next().map(|embed| PreviewEmbed {
            color: embed.color.map(|color| format!("#{color:06x}")),
            title: embed.title,
            description: embed.description,
            fields: embed.fields.into_iter().map(|field| (field.name, field.value, field.inline)).collect(),
            footer: embed.footer.map(|footer| footer.text),
        });
        Preview { content: rendered.content, embed, button }
    }
}

/// A slot checked: its problems, its preview with sample values and its sizes at their longest.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub problems: Vec<String>,
    pub preview: Option<Preview>,
    /// `content: 412 of 2000 characters at its longest`.
    pub sizes: Vec<String>,
}

/// Reads every slot's draft into the settings' templates over `base`, with each slot checked
/// (in the drafts' order). `None` when a slot has a problem; the settings' own rules are
/// checked again when they are saved.
pub(super) fn read(drafts: &[(Slot, Draft)], base: &GuildSettings) -> (Option<GuildSettings>, Vec<Checked>) {
    // Every slot is on the form: one left empty is none (the optional ones are cleared).
    let mut settings = GuildSettings {
        reminders: Vec::new(),
        welcome_message: None,
        start_message: None,
        summary_template: None,
        ..base.clone()
    };
    let mut all_fine = true;
    let mut checked = Vec::new();
    let mut minutes_seen: Vec<u32> = Vec::new();
    for (slot, draft) in drafts {
        let mut check = Checked::default();
        let minutes = reminder_minutes(*slot, draft, &mut minutes_seen, &mut check.problems);
        let (template, form_problems) = draft.template();
        check.problems.extend(form_problems);
        match template {
            None if slot.required() || !draft.minutes.is_empty() => {
                check.problems.push("the message needs content or an embed".to_owned());
            }
            None => {}
            Some(template) => {
                let kind = slot.kind();
                if let Err(errors) = template.validate(kind) {
                    check.problems.extend(errors.0);
                }
                let samples = sample_values(kind, minutes, &template.result_fields());
                // Samples are never longer than the longest values `validate` checked, so a
                // template that does not render has had its problems named already.
                if let Ok(rendered) = template.render(&samples) {
                    check.preview = Some(Preview::of(rendered, slot.button()));
                }
                check.sizes = template
                    .longest_sizes(kind)
                    .into_iter()
                    .map(|size| format!("{}: {} of {} characters at its longest", size.place, size.longest, size.max))
                    .collect();
                place(&mut settings, *slot, template, minutes);
            }
        }
        all_fine &= check.problems.is_empty();
        checked.push(check);
    }
    (all_fine.then_some(settings), checked)
}

/// A reminder slot's minutes, or `None` with the problem named (none asked for, out of
/// range, or the same as an earlier slot's).
fn reminder_minutes(slot: Slot, draft: &Draft, seen: &mut Vec<u32>, problems: &mut Vec<String>) -> Option<u32> {
    if !matches!(slot, Slot::Reminder(_)) || draft.minutes.is_empty() {
        if matches!(slot, Slot::Reminder(_)) && !draft.is_empty() {
            problems.push("minutes: how long before the start?".to_owned());
        }
        return None;
    }
    let problem = match draft.minutes.parse::<u32>() {
        Err(_) => "minutes: a whole number".to_owned(),
        Ok(minutes) if !REMINDER_MINUTES.contains(&minutes) => {
            format!("minutes: {} to {} (14 days)", REMINDER_MINUTES.start(), REMINDER_MINUTES.end())
        }
        Ok(minutes) if seen.contains(&minutes) => {
            format!("minutes: another reminder is already {minutes} minutes before")
        }
        Ok(minutes) => {
            seen.push(minutes);
            return Some(minutes);
        }
    };
    problems.push(problem);
    None
}

/// Puts a read template where its slot says (the settings start without any reminder).
fn place(settings: &mut GuildSettings, slot: Slot, template: MessageTemplate, minutes: Option<u32>) {
    match slot {
        Slot::Welcome => settings.welcome_message = template.content,
        Slot::Reminder(_) => {
            if let Some(before_minutes) = minutes {
                settings.reminders.push(ReminderSetting { before_minutes, template });
            }
        }
        Slot::Start => settings.start_message = Some(template),
        Slot::Results => settings.results_template = template,
        Slot::Summary => settings.summary_template = Some(template),
        Slot::Board => settings.board_template = template,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    fn drafts_of(form: &HashMap<String, String>) -> Vec<(Slot, Draft)> {
        Slot::all().into_iter().map(|slot| (slot, Draft::from_form(form, slot))).collect()
    }

    fn slot_index(drafts: &[(Slot, Draft)], slot: Slot) -> usize {
        drafts.iter().position(|(s, _)| *s == slot).expect("every slot has a draft")
    }

    /// What a browser would send for the drafts.
    fn as_form(drafts: &[(Slot, Draft)]) -> HashMap<String, String> {
        let mut form = HashMap::new();
        for (slot, draft) in drafts {
            let key = slot.key();
            for (name, value) in [
                ("minutes", &draft.minutes),
                ("content", &draft.content),
                ("title", &draft.title),
                ("description", &draft.description),
                ("color", &draft.color),
                ("footer", &draft.footer),
                ("fields", &draft.fields),
            ] {
                form.insert(format!("{key}.{name}"), value.replace('\n', "\r\n"));
            }
        }
        form
    }

    #[test]
    fn the_stored_templates_read_back_unchanged() {
        let settings = GuildSettings {
            welcome_message: Some("Welcome to {name}!".to_owned()),
            reminders: vec![
                ReminderSetting { before_minutes: 1440, template: MessageTemplate::text("{name} in {offset}") },
                ReminderSetting { before_minutes: 60, template: MessageTemplate::text("{name} {starts_in}") },
            ],
            start_message: Some(MessageTemplate::text("Green flag: {name}")),
            ..GuildSettings::default()
        };
        let drafts = drafts_of(&as_form(&Draft::all_of(&settings)));
        let (read_back, checked) = read(&drafts, &settings);
        assert_eq!(read_back, Some(settings));
        let results = &checked[slot_index(&drafts, Slot::Results)];
        let embed = results.preview.as_ref().and_then(|preview| preview.embed.as_ref()).expect("embed");
        assert_eq!(embed.title.as_deref(), Some("Results: Spa 6 Hours"));
        assert_eq!(embed.fields[0], ("Winner".to_owned(), "sample winner".to_owned(), true));
        assert_eq!(embed.color.as_deref(), Some("#0099ff"));
    }

    #[test]
    fn the_summary_previews_its_teams_and_results_and_an_emptied_optional_message_is_none() {
        let settings = GuildSettings {
            start_message: Some(MessageTemplate::text("Green flag: {name}")),
            summary_template: Some(MessageTemplate::text(
                "{name}: {signup_count} of {signup_capacity}\n{teams}\n{results}",
            )),
            ..GuildSettings::default()
        };
        let mut form = as_form(&Draft::all_of(&settings));
        let drafts = drafts_of(&form);
        let (read_back, checked) = read(&drafts, &settings);
        assert_eq!(read_back.as_ref(), Some(&settings));
        let preview = checked[slot_index(&drafts, Slot::Summary)].preview.clone().expect("a preview");
        let shown = preview.content.unwrap_or_default();
        assert!(shown.starts_with("Spa 6 Hours: 18 of 24\n**Red Racing**: @Ana, @Ben"), "{shown}");
        assert!(shown.contains("**Blue Motorsport**: @Chen (+1 not linked)"), "{shown}");
        assert!(shown.contains("**Fastest lap**: Ben Okafor 2:17.4\n**Winner**: Red Racing"), "{shown}");
        form.insert("summary.content".to_owned(), String::new());
        form.insert("start.content".to_owned(), String::new());
        let (read_back, _) = read(&drafts_of(&form), &settings);
        let read_back = read_back.expect("valid");
        assert_eq!((read_back.summary_template, read_back.start_message), (None, None));
    }

    #[test]
    fn each_problem_is_named_on_its_own_template_and_nothing_is_read() {
        let mut form = as_form(&Draft::all_of(&GuildSettings::default()));
        form.extend(form_pairs());
        let drafts = drafts_of(&form);
        let (read_back, checked) = read(&drafts, &GuildSettings::default());
        assert!(read_back.is_none());
        let problems = |slot: Slot| Some(checked[slot_index(&drafts, slot)].problems.join(" / "));
        let first = problems(Slot::Reminder(0)).unwrap_or_default();
        assert!(first.contains("unknown placeholder {track}"), "{first}");
        let second = problems(Slot::Reminder(1)).unwrap_or_default();
        assert!(second.contains("already 60 minutes"), "{second}");
        let start = problems(Slot::Start).unwrap_or_default();
        assert!(start.contains("\"blue\" is not #RRGGBB") && start.contains("field line 1"), "{start}");
        assert_eq!(problems(Slot::Board).as_deref(), Some("the message needs content or an embed"));
        assert_eq!(problems(Slot::Welcome).as_deref(), Some(""));
    }

    fn form_pairs() -> HashMap<String, String> {
        form(&[
            ("reminder1.minutes", "60"),
            ("reminder1.content", "{name} at {track}"),
            ("reminder2.minutes", "60"),
            ("reminder2.content", "{name}"),
            ("start.title", "Go"),
            ("start.color", "blue"),
            ("start.fields", "no separator"),
            ("board.content", ""),
        ])
    }

    #[test]
    fn the_preview_shows_sample_values_and_the_longest_sizes() {
        let form = form(&[
            ("reminder1.minutes", "1440"),
            ("reminder1.content", "{name} starts {starts_in} ({offset} to go)"),
            ("board.content", "{signup_count}/{signup_capacity}\n{signup_list}"),
            ("results.title", "{result.winner} wins"),
        ]);
        let drafts = drafts_of(&form);
        let (read_back, checked) = read(&drafts, &GuildSettings::default());
        assert!(read_back.is_some(), "{checked:?}");
        let of = |slot: Slot| checked[slot_index(&drafts, slot)].clone();
        let reminder = of(Slot::Reminder(0));
        let preview = reminder.preview.expect("preview");
        assert_eq!(preview.content.as_deref(), Some("Spa 6 Hours starts in 2 days (24 hours to go)"));
        assert_eq!(preview.button, Some("Remind me"));
        assert_eq!(reminder.sizes, ["content: 159 of 2000 characters at its longest"]);
        let board = of(Slot::Board).preview.expect("board");
        assert_eq!(board.content.as_deref(), Some("3/24\n\u{2022} Ana Costa\n\u{2022} Ben Okafor\n\u{2022} Chen Wei"));
        assert!(of(Slot::Start).preview.is_none(), "no start message, no preview");
    }
}
