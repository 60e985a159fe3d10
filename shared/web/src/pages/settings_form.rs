//! The guild's settings form: every setting with a label and help, pickers filled from the
//! guild, errors beside their fields with the entered values kept, a preview of the naming
//! pattern, optimistic concurrency (a stale save shows the other values and keeps yours), and
//! an audit entry for every change.

use crate::domain::error::Report;
use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use twilight_model::guild::Permissions;

use super::{
    Pages,
    access::{AdminForm, ConnectedPage, Denied, GuildAdmin},
    html::{self, Field, Nav, Picked},
    pickers::Choices,
    render, see_other,
};
use crate::{
    discord::guild_ids::check_new_ids,
    domain::{AuditEntry, GuildSettings, naming},
    store::{Actor, StoreError},
};

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Check,
    Text,
    Number,
    ArchiveMode,
    Category,
    TextChannel,
    Role,
}

struct Spec {
    name: &'static str,
    label: &'static str,
    help: &'static str,
    kind: Kind,
}

const fn spec(name: &'static str, label: &'static str, help: &'static str, kind: Kind) -> Spec {
    Spec { name, label, help, kind }
}

/// The form's sections, each starting at its first setting in [`SPECS`] and running to the
/// next section's.
const SECTIONS: &[(&str, &str, &str)] = &[
    ("channels", "Channels", "naming_pattern"),
    ("members", "Members and sync", "member_role_id"),
    ("events", "Events and teams", "team_roles"),
    ("notifications", "Notifications", "notifications.log_channel_id"),
];

/// The fields, in [`SECTIONS`].
fn sections(fields: Vec<html::Field>) -> Vec<html::Section> {
    let mut sections: Vec<html::Section> = Vec::new();
    for field in fields {
        match SECTIONS.iter().find(|(_, _, first)| *first == field.name) {
            Some((id, title, _)) => sections.push(html::Section { id, title, fields: vec![field] }),
            None => match sections.last_mut() {
                Some(section) => section.fields.push(field),
                None => sections.push(html::Section { id: "settings", title: "Settings", fields: vec![field] }),
            },
        }
    }
    sections
}

/// Every setting, in the order the form shows them; names are the settings' JSON paths.
const SPECS: &[Spec] = &[
    spec(
        "naming_pattern",
        "Channel name pattern",
        "Placeholders: {series_name}, {event_name}, {subject_id}, {kind}, {date}.",
        Kind::Text,
    ),
    spec(
        "auto_create_channels",
        "Create channels automatically",
        "Make a channel as soon as the platform registers a subject.",
        Kind::Check,
    ),
    spec("text_channel", "Text channel", "Each subject gets a text channel.", Kind::Check),
    spec("voice_channel", "Voice channel", "Each subject also gets a voice channel.", Kind::Check),
    spec("practice_voice_channel", "Practice voice channel", "A second voice channel, for practice.", Kind::Check),
    spec("private_channels", "Private channels", "Only the subject's members see its channels.", Kind::Check),
    spec("category_per_series", "A category per series", "Group a series' channels under one category.", Kind::Check),
    spec(
        "archive_mode",
        "When archiving",
        "Lock moves the channel to the archive category read-only; Delete removes it.",
        Kind::ArchiveMode,
    ),
    spec("archive_category_id", "Archive category", "Where locked channels go.", Kind::Category),
    spec(
        "archive_retention_hours",
        "Keep completed channels (hours)",
        "0 to 8760; then they are archived.",
        Kind::Number,
    ),
    spec(
        "member_role_id",
        "Member role",
        "Given to linked members at sync; only roles below the bot's highest role can be given.",
        Kind::Role,
    ),
    spec("remove_role_when_unlinked", "Remove the role when unlinked", "Needs a member role.", Kind::Check),
    spec("sync_interval_hours", "Sync every (hours)", "1 to 168.", Kind::Number),
    spec("team_roles", "Team roles", "Each team of an event also gets a role for its linked members.", Kind::Check),
    spec(
        "team_voice",
        "Team voice channels",
        "Each team of an event also gets a voice channel in the event's category that only its linked members \
         (or its role, with team roles on) can join.",
        Kind::Check,
    ),
    spec(
        "team_voice_pattern",
        "Team voice channel name",
        "Placeholders: {team_name}, {team_id}, {event_name}. Up to 100 characters.",
        Kind::Text,
    ),
    spec(
        "thread_auto_archive_minutes",
        "Team threads auto-archive after (minutes)",
        "60, 1440, 4320 or 10080.",
        Kind::Number,
    ),
    spec(
        "signup_update_hours",
        "Sign-up board edits at most every (hours)",
        "0 to 168; a change the platform marks significant goes out at once.",
        Kind::Number,
    ),
    spec(
        "notifications.log_channel_id",
        "Log channel",
        "Where Guildbridge reports when there is no one to answer.",
        Kind::TextChannel,
    ),
    spec("notifications.on_channel_created", "Report new channels", "Needs a log channel.", Kind::Check),
    spec("notifications.on_sync_finished", "Report finished syncs", "Needs a log channel.", Kind::Check),
    spec("notifications.on_error", "Report errors", "In the log channel, when one is set.", Kind::Check),
];

/// Settings as `name -> value` with dotted names for nested fields.
fn flatten(value: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (name, inner) in map {
                let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
                flatten(inner, &path, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

fn values_of(settings: &GuildSettings) -> HashMap<String, String> {
    let mut flat = BTreeMap::new();
    flatten(&serde_json::to_value(settings).unwrap_or_default(), "", &mut flat);
    flat.into_iter()
        .filter_map(|(name, value)| {
            let shown = match value {
                Value::Null | Value::Bool(false) => return None,
                Value::Bool(true) => "on".to_owned(),
                Value::String(text) => text,
                other => other.to_string(),
            };
            Some((name, shown))
        })
        .collect()
}

/// The form's fields over `base` (the stored settings) as settings JSON, with the problems
/// only the form can have (a number that is not one). What the form does not show (the
/// messages, which the Messages tab edits) stays as stored.
fn settings_json(form: &HashMap<String, String>, base: &GuildSettings) -> (Value, BTreeMap<String, String>) {
    let mut problems = BTreeMap::new();
    let mut document = serde_json::to_value(base).unwrap_or_else(|_| json!({}));
    if !document["notifications"].is_object() {
        document["notifications"] = json!({});
    }
    for spec in SPECS {
        let raw = form.get(spec.name).map(|value| value.trim()).unwrap_or_default();
        let value = match spec.kind {
            Kind::Check => json!(form.contains_key(spec.name)),
            Kind::Number => match raw.parse::<u32>() {
                Ok(number) => json!(number),
                Err(_) => {
                    problems.insert(spec.name.to_owned(), "must be a whole number".to_owned());
                    continue;
                }
            },
            Kind::Category | Kind::TextChannel | Kind::Role if raw.is_empty() => Value::Null,
            Kind::Text | Kind::ArchiveMode | Kind::Category | Kind::TextChannel | Kind::Role => json!(raw),
        };
        match spec.name.split_once('.') {
            Some((outer, inner)) => document[outer][inner] = value,
            None => document[spec.name] = value,
        }
    }
    (document, problems)
}

/// What the settings rules call a field, as the form names it.
/// How the page names a setting: its form label, or its words when the form has none (the
/// messages, which the Messages tab edits).
pub(super) fn label_of(field: &str) -> String {
    if let Some(spec) = SPECS.iter().find(|spec| spec.name == field) {
        return spec.label.to_owned();
    }
    let words = field.replace('.', " › ").replace('_', " ");
    let mut letters = words.chars();
    letters.next().map(|first| first.to_uppercase().chain(letters).collect()).unwrap_or_default()
}

fn form_name(field: &str) -> String {
    match field {
        "notifications" => "notifications.log_channel_id".to_owned(),
        other => other.to_owned(),
    }
}

/// Reads the form over the stored settings, or every problem by field.
fn parse(form: &HashMap<String, String>, base: &GuildSettings) -> Result<GuildSettings, BTreeMap<String, String>> {
    let (document, mut problems) = settings_json(form, base);
    match GuildSettings::from_json(document) {
        Ok(settings) if problems.is_empty() => Ok(settings),
        Ok(_) => Err(problems),
        Err(errors) => {
            for (field, problem) in errors.0 {
                problems.entry(form_name(field)).or_insert(problem);
            }
            Err(problems)
        }
    }
}

/// A sample channel name from a pattern, or why it cannot make one.
pub(super) fn preview(pattern: &str) -> Result<String, String> {
    let sample: BTreeMap<String, String> = [
        ("series_name", "GT3 Sprint"),
        ("event_name", "Spa 6 Hours"),
        ("subject_id", "evt-42"),
        ("kind", "event"),
        ("date", "2026-12-05"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    let rendered = naming::render(pattern, &sample).map_err(|e| e.to_string())?;
    naming::normalise_text_channel_name(&rendered).map_err(|e| e.to_string())
}

/// What a rendering of the form needs besides the values.
struct FormState {
    values: HashMap<String, String>,
    errors: BTreeMap<String, String>,
    version: u64,
    notice: Option<html::Notice>,
    theirs: Vec<html::Theirs>,
}

async fn render_form(pages: &Pages, admin: &GuildAdmin, state: FormState, status: StatusCode) -> Response {
    let guild_id = admin.guild_id();
    let (settings, audit, choices) = match tokio::join!(
        pages.store.settings(guild_id),
        pages.store.audit_log(guild_id, 20),
        pages.pickers.choices(&pages.bot, guild_id),
    ) {
        (Ok(settings), Ok(audit), choices) => (settings, audit, choices),
        (Err(error), _, _) | (_, Err(error), _) => return Denied::from(error).into_response(),
    };
    let fields = sections(SPECS.iter().map(|spec| field(spec, &state, choices.as_ref())).collect());
    let pattern = state.values.get("naming_pattern").cloned().unwrap_or_default();
    let install = pages.store.bot_install(guild_id).await.ok().flatten();
    let granted =
        install.map(|install| Permissions::from_bits_truncate(install.permissions)).unwrap_or(Permissions::empty());
    let missing = crate::discord::permissions::labels(settings.settings.bot_permissions() - granted);
    let intent = pages.store.intents().await.ok().flatten();
    let problems = pages.store.settings_problems(guild_id).await.unwrap_or_default();
    let webhook = match pages.store.tenant_of(guild_id).await.ok().flatten() {
        Some(tenant) => pages.store.webhook(&tenant).await.ok().flatten().map(|endpoint| html::WebhookSummary {
            url: endpoint.url,
            events: endpoint.events.iter().map(|kind| kind.as_str()).collect::<Vec<_>>().join(", "),
            paused: endpoint.paused.map(|pause| pause.reason),
        }),
        None => None,
    };
    let page = html::SettingsPage {
        message_content_missing: intent.is_some_and(|status| !status.message_content),
        webhook,
        nav: Nav::new(admin, "settings").with_summary(super::summary::line(pages, admin.guild_id()).await),
        version: state.version,
        sections: fields,
        notice: state.notice,
        theirs: state.theirs,
        preview: preview(&pattern).ok(),
        pickers_unavailable: choices.is_none(),
        missing_permissions: missing,
        problems: problems.into_iter().map(|problem| (problem.field, problem.problem)).collect(),
        audit: audit.into_iter().map(html::AuditRow::from).collect(),
    };
    (status, render(&page)).into_response()
}

fn field(spec: &Spec, state: &FormState, choices: Option<&Choices>) -> Field {
    let value = state.values.get(spec.name).cloned().unwrap_or_default();
    let options = |list: &[(String, String)]| -> Vec<Picked> {
        let mut picked: Vec<Picked> = list
            .iter()
            .map(|(id, name)| Picked { value: id.clone(), label: name.clone(), selected: *id == value })
            .collect();
        if !value.is_empty() && !list.iter().any(|(id, _)| *id == value) {
            // Chosen once, gone from Discord since (or not usable by the bot): said so.
            picked.insert(
                0,
                Picked { value: value.clone(), label: format!("{value} (deleted in Discord)"), selected: true },
            );
        }
        picked
    };
    let (kind, options) = match (spec.kind, choices) {
        (Kind::Check, _) => ("checkbox", Vec::new()),
        (Kind::Text, _) => ("text", Vec::new()),
        (Kind::Number, _) => ("number", Vec::new()),
        (Kind::ArchiveMode, _) => (
            "select",
            ["lock", "delete"]
                .into_iter()
                .map(|mode| Picked { value: mode.to_owned(), label: mode.to_owned(), selected: value == mode })
                .collect(),
        ),
        (Kind::Category, Some(choices)) => ("picker", options(&choices.categories)),
        (Kind::TextChannel, Some(choices)) => ("picker", options(&choices.text_channels)),
        (Kind::Role, Some(choices)) => ("picker", options(&choices.roles)),
        // Discord could not be asked: the id itself.
        (Kind::Category | Kind::TextChannel | Kind::Role, None) => ("text", Vec::new()),
    };
    Field {
        name: spec.name,
        id: spec.name.replace('.', "-"),
        label: spec.label,
        help: spec.help,
        kind,
        checked: value == "on",
        value,
        error: state.errors.get(spec.name).cloned(),
        options,
        theirs: state.theirs.iter().find(|theirs| theirs.field == spec.name).map(|theirs| theirs.value.clone()),
    }
}

/// `GET /settings/guilds/{guild_id}`.
pub async fn show(
    State(pages): State<Arc<Pages>>,
    ConnectedPage { admin, .. }: ConnectedPage,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let current = match pages.store.settings(admin.guild_id()).await {
        Ok(current) => current,
        Err(error) => return Denied::from(error).into_response(),
    };
    let saved = query.as_deref() == Some("saved=1");
    let state = FormState {
        values: values_of(&current.settings),
        errors: BTreeMap::new(),
        version: current.version,
        notice: saved.then(|| html::Notice::success("Saved.")),
        theirs: Vec::new(),
    };
    render_form(&pages, &admin, state, StatusCode::OK).await
}

/// `POST /settings/guilds/{guild_id}`.
pub async fn save(
    State(pages): State<Arc<Pages>>,
    headers: HeaderMap,
    AdminForm { admin, form }: AdminForm,
) -> Response {
    if admin.tenant.is_none() {
        return super::connect::page(&pages, &headers, &admin).await;
    }
    let version = form.get("version").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let mut state = FormState {
        values: form.iter().map(|(name, value)| (name.clone(), value.clone())).collect(),
        errors: BTreeMap::new(),
        version,
        notice: None,
        theirs: Vec::new(),
    };
    // The settings the form was read from carry what the form does not show; saving is
    // conditional on their version, so a change made meanwhile is a conflict, not lost.
    let base = match pages.store.settings(admin.guild_id()).await {
        Ok(stored) => stored.settings,
        Err(error) => return Denied::from(error).into_response(),
    };
    let settings = match parse(&form, &base) {
        Ok(settings) => settings,
        Err(errors) => {
            state.notice = Some(html::Notice::error("Nothing was saved: fix the fields marked below."));
            state.errors = errors;
            return render_form(&pages, &admin, state, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    // The ids must be this guild's, of the right kind; a member role also needs its chooser
    // to hold Manage Roles, as Discord would ask of them.
    let mut problems = BTreeMap::new();
    if settings.member_role_id.is_some_and(|role| base.member_role_id != Some(role)) && !admin.guild.can_manage_roles()
    {
        problems.insert(
            "member_role_id".to_owned(),
            "choosing the member role needs Manage Roles in this server".to_owned(),
        );
    }
    match check_new_ids(&pages.bot, admin.guild_id(), pages.connect.application_id, &settings, &base).await {
        Ok(found) => problems.extend(found),
        Err(error) => return super::access::discord_unavailable(error).into_response(),
    }
    if !problems.is_empty() {
        state.notice = Some(html::Notice::error("Nothing was saved: fix the fields marked below."));
        state.errors = problems;
        return render_form(&pages, &admin, state, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let session = &admin.signed_in.session;
    let actor = Actor { id: &session.user_id, name: &session.username };
    match pages.store.save_settings(admin.guild_id(), version, &settings, actor, pages.clock.now()).await {
        Ok(_) => {
            // A new interval moves the next sync; a new retention moves the archives.
            crate::timeline::replan_logged(
                pages.store.as_ref(),
                pages.queue.as_ref(),
                admin.guild_id(),
                &base,
                &settings,
                pages.clock.now(),
            )
            .await;
            // Saved and checked again: what the workers found before no longer stands.
            if let Err(error) = pages.store.clear_problems(admin.guild_id()).await {
                tracing::warn!(error = %Report(&error), "the settings' old problems were not cleared");
            }
            see_other(&format!("/settings/guilds/{}?saved=1", admin.guild_id()))
        }
        Err(StoreError::VersionConflict) => {
            let current = match pages.store.settings(admin.guild_id()).await {
                Ok(current) => current,
                Err(error) => return Denied::from(error).into_response(),
            };
            let yours = serde_json::to_value(&settings).unwrap_or_default();
            let theirs = serde_json::to_value(&current.settings).unwrap_or_default();
            state.theirs = AuditEntry::diff(&yours, &theirs)
                .into_iter()
                .map(|change| html::Theirs { label: label_of(&change.field), field: change.field, value: change.to })
                .collect();
            // Saving again applies yours over theirs, knowingly.
            state.version = current.version;
            state.notice = Some(html::Notice::error(
                "Someone saved these settings after you opened them. Their values are listed below; \
                 the form still holds yours: save again to apply yours over theirs.",
            ));
            render_form(&pages, &admin, state, StatusCode::CONFLICT).await
        }
        Err(StoreError::InvalidSettings(errors)) => {
            state.errors = errors.0.into_iter().map(|(field, problem)| (form_name(field), problem)).collect();
            state.notice = Some(html::Notice::error("Nothing was saved: fix the fields marked below."));
            render_form(&pages, &admin, state, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(error) => Denied::from(error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_in_one_of_the_four_sections_in_order() {
        let fields = SPECS
            .iter()
            .map(|spec| {
                let state = FormState {
                    values: HashMap::new(),
                    errors: BTreeMap::new(),
                    version: 0,
                    notice: None,
                    theirs: Vec::new(),
                };
                field(spec, &state, None)
            })
            .collect::<Vec<_>>();
        let grouped = sections(fields);
        let titles: Vec<&str> = grouped.iter().map(|section| section.title).collect();
        assert_eq!(titles, ["Channels", "Members and sync", "Events and teams", "Notifications"]);
        assert_eq!(grouped.iter().map(|section| section.fields.len()).sum::<usize>(), SPECS.len());
        assert!(grouped[1].fields.iter().any(|field| field.name == "sync_interval_hours"));
        assert!(grouped[3].fields.iter().all(|field| field.name.starts_with("notifications.")));
    }

    #[test]
    fn the_form_of_the_defaults_reads_back_as_the_defaults() {
        let defaults = GuildSettings::default();
        assert_eq!(parse(&values_of(&defaults), &defaults), Ok(defaults.clone()));
    }

    #[test]
    fn saving_the_form_keeps_what_it_does_not_show() {
        let template = crate::domain::MessageTemplate::text("{name} in {offset}");
        let reminders = vec![crate::domain::ReminderSetting { before_minutes: 60, template }];
        let stored = GuildSettings { reminders, team_roles: true, ..GuildSettings::default() };
        let mut form = values_of(&stored);
        form.insert("sync_interval_hours".into(), "12".into());
        let saved = parse(&form, &stored).expect("valid");
        assert_eq!((&saved.reminders, saved.team_roles, saved.sync_interval_hours), (&stored.reminders, true, 12));
    }

    #[test]
    fn problems_are_named_by_form_field() {
        let mut form = values_of(&GuildSettings::default());
        form.insert("naming_pattern".into(), "{track}".into());
        form.insert("sync_interval_hours".into(), "soon".into());
        form.insert("notifications.on_sync_finished".into(), "on".into());
        let problems = parse(&form, &GuildSettings::default()).expect_err("invalid");
        let names: Vec<&str> = problems.keys().map(String::as_str).collect();
        assert_eq!(names, ["naming_pattern", "notifications.log_channel_id", "sync_interval_hours"]);
    }

    #[test]
    fn the_preview_is_the_channel_name_discord_would_show() {
        assert_eq!(preview("{series_name} {event_name}").as_deref(), Ok("gt3-sprint-spa-6-hours"));
        assert!(preview("{track}").is_err());
    }
}
