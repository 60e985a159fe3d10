//! The Messages tab: every template of an event's life (welcome, reminders, the start,
//! results, the sign-up board) edited with a preview. Preview shows each message as Discord
//! would, with sample values, and its length at its longest against Discord's limits;
//! Save checks the same way (and by the settings' own rules) and saves all of them or none,
//! conditional on the version the form was read at, with an audit entry.

use std::sync::Arc;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{
    Pages,
    access::{ConnectedForm, ConnectedPage, Denied, GuildAdmin},
    html::{self, MessageEditor, Nav, Notice},
    message_drafts::{self, Checked, Draft, Slot},
    render, see_other,
};
use crate::{
    domain::templates::known_list,
    store::{Actor, StoreError},
};

/// A rendering of the form: the drafts with what checking them found.
struct FormState {
    drafts: Vec<(Slot, Draft)>,
    /// Each draft checked, in the drafts' order.
    checked: Vec<Checked>,
    /// The settings' own rules that no single template breaks.
    general: Vec<String>,
    version: u64,
    notice: Option<Notice>,
}

fn path_of(guild: impl std::fmt::Display) -> String {
    format!("/settings/guilds/{guild}/messages")
}

/// `GET .../messages`: the stored templates, previewed.
pub async fn show(
    State(pages): State<Arc<Pages>>,
    ConnectedPage { admin, .. }: ConnectedPage,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let stored = match pages.store.settings(admin.guild_id()).await {
        Ok(stored) => stored,
        Err(error) => return Denied::from(error).into_response(),
    };
    let drafts = Draft::all_of(&stored.settings);
    let (_, checked) = message_drafts::read(&drafts, &stored.settings);
    let saved = query.as_deref() == Some("saved=1");
    let state = FormState {
        drafts,
        checked,
        general: Vec::new(),
        version: stored.version,
        notice: saved.then(|| Notice::success("Saved.")),
    };
    page(&pages, &admin, state, StatusCode::OK).await
}

/// `POST .../messages` with `action` = `preview` (nothing saved) or `save`.
pub async fn act(State(pages): State<Arc<Pages>>, ConnectedForm { admin, form, .. }: ConnectedForm) -> Response {
    let version = form.get("version").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // What the form does not hold stays as stored; the save is conditional on `version`.
    let base = match pages.store.settings(admin.guild_id()).await {
        Ok(stored) => stored.settings,
        Err(error) => return Denied::from(error).into_response(),
    };
    let drafts: Vec<(Slot, Draft)> =
        Slot::all().into_iter().map(|slot| (slot, Draft::from_form(&form, slot))).collect();
    let (settings, checked) = message_drafts::read(&drafts, &base);
    let mut state = FormState { drafts, checked, general: Vec::new(), version, notice: None };
    let problems_notice = || Notice::error("Nothing was saved: fix the messages marked below.");
    if form.get("action").map(String::as_str) == Some("preview") {
        state.notice = Some(match settings {
            Some(_) => Notice::success("Preview below, with sample values. Nothing is saved until you save."),
            None => Notice::error("Preview below. Some messages have problems: they are marked."),
        });
        return page(&pages, &admin, state, StatusCode::OK).await;
    }
    let Some(settings) = settings else {
        state.notice = Some(problems_notice());
        return page(&pages, &admin, state, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let session = &admin.signed_in.session;
    let actor = Actor { id: &session.user_id, name: &session.username };
    match pages.store.save_settings(admin.guild_id(), version, &settings, actor, pages.clock.now()).await {
        Ok(_) => {
            tracing::info!(guild_id = %admin.guild_id(), "settings page: message templates saved");
            let now = pages.clock.now();
            crate::timeline::replan_logged(
                pages.store.as_ref(),
                pages.queue.as_ref(),
                admin.guild_id(),
                &base,
                &settings,
                now,
            )
            .await;
            see_other(&format!("{}?saved=1", path_of(admin.guild_id())))
        }
        Err(StoreError::VersionConflict) => {
            match pages.store.settings(admin.guild_id()).await {
                Ok(current) => state.version = current.version,
                Err(error) => return Denied::from(error).into_response(),
            }
            state.notice = Some(Notice::error(
                "Someone saved these settings after you opened them. The form still holds your messages: \
                 save again to apply them over theirs, or reload to see theirs.",
            ));
            page(&pages, &admin, state, StatusCode::CONFLICT).await
        }
        // The settings' own rules (the store checks them on every save), beyond one template.
        Err(StoreError::InvalidSettings(errors)) => {
            state.general = errors.0.into_iter().map(|(field, problem)| format!("{field}: {problem}")).collect();
            state.notice = Some(problems_notice());
            page(&pages, &admin, state, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(error) => Denied::from(error).into_response(),
    }
}

async fn page(pages: &Pages, admin: &GuildAdmin, state: FormState, status: StatusCode) -> Response {
    let mut listed: Vec<String> = Vec::new();
    let mut first_unused_reminder = true;
    let editors = state
        .drafts
        .into_iter()
        .zip(state.checked)
        .map(|((slot, draft), check)| {
            let placeholders = known_list(slot.kind());
            let first_with_placeholders = !listed.contains(&placeholders);
            if first_with_placeholders {
                listed.push(placeholders.clone());
            }
            let reminder = matches!(slot, Slot::Reminder(_));
            // An unused message folds, but for the first unused reminder: that is where a new
            // one goes.
            let unused = draft.is_empty() && draft.minutes.is_empty() && check.problems.is_empty();
            let open = !unused || (reminder && std::mem::replace(&mut first_unused_reminder, false));
            MessageEditor {
                key: slot.key(),
                heading: slot.heading(),
                help: slot.help(),
                placeholders,
                first_with_placeholders,
                open,
                reminder,
                embed: slot.has_embed(),
                draft,
                check,
            }
        })
        .collect();
    let page = html::MessagesPage {
        nav: Nav::new(admin, "messages").with_summary(super::summary::line(pages, admin.guild_id()).await),
        notice: state.notice,
        version: state.version,
        general: state.general,
        editors,
    };
    (status, render(&page)).into_response()
}
