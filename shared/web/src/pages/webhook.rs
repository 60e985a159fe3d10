//! The platform webhook on the settings page: the endpoint's URL and events (set, with the
//! secret shown once), rotating the secret, resuming after a pause, a test event, and the
//! recent delivery attempts. The same use cases as the tenant API (`webhooks::endpoint`).

use crate::domain::error::Report;
use std::{collections::BTreeMap, sync::Arc};

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{
    Pages,
    access::{ConnectedForm, ConnectedPage, Denied, GuildAdmin},
    html::{self, Nav, Notice},
    render,
    tabs::platform_owned,
};
use crate::{
    domain::{EventType, TenantId},
    webhooks::endpoint::{self, EndpointError},
};

/// What the form shows besides the stored endpoint.
#[derive(Default)]
struct FormState {
    url: Option<String>,
    events: Option<Vec<String>>,
    errors: BTreeMap<String, String>,
    secret: Option<String>,
    notice: Option<Notice>,
}

/// `GET .../webhook`.
pub async fn show(State(pages): State<Arc<Pages>>, ConnectedPage { admin, tenant }: ConnectedPage) -> Response {
    page(&pages, &admin, &tenant, FormState::default(), StatusCode::OK).await
}

/// `POST .../webhook` with `action` = `save` (url, `event.<type>` checkboxes), `rotate`,
/// `resume` or `test`.
pub async fn act(State(pages): State<Arc<Pages>>, ConnectedForm { admin, tenant, form }: ConnectedForm) -> Response {
    if let Some(refused) = platform_owned(&admin, &tenant) {
        return refused;
    }
    let now = pages.clock.now();
    let store = pages.store.as_ref();
    let action = form.get("action").map(String::as_str).unwrap_or("save");
    let mut state = FormState::default();
    let outcome = match action {
        "rotate" => endpoint::rotate(store, &tenant, now).await.map(|rotated| {
            state.secret = Some(rotated.secret.expose().to_owned());
            "New secret made. Copy it now: it is not shown again. The old one signs beside it for 24 hours."
        }),
        "resume" => endpoint::resume(store, &tenant, now).await.map(|_| "Deliveries resumed."),
        "test" => endpoint::send_test(store, pages.queue.as_ref(), &tenant, admin.guild_id(), now)
            .await
            .map(|_| "Test event queued: see the deliveries below."),
        _ => {
            let url = form.get("url").cloned().unwrap_or_default();
            let events: Vec<String> = EventType::SUBSCRIBABLE
                .iter()
                .filter(|kind| form.contains_key(&format!("event.{}", kind.as_str())))
                .map(|kind| kind.as_str().to_owned())
                .collect();
            state.url = Some(url.clone());
            state.events = Some(events.clone());
            endpoint::set(store, pages.webhook_targets, &tenant, url.trim(), &events, now).await.map(
                |(set, created)| {
                    if created {
                        state.secret = Some(set.secret.expose().to_owned());
                        "Endpoint saved. Copy its signing secret now: it is not shown again."
                    } else {
                        "Endpoint saved."
                    }
                },
            )
        }
    };
    match outcome {
        Ok(text) => {
            tracing::info!(action, "settings page: webhook endpoint changed");
            state.notice = Some(Notice::success(text));
            if state.secret.is_none() {
                (state.url, state.events) = (None, None);
            }
            page(&pages, &admin, &tenant, state, StatusCode::OK).await
        }
        Err(EndpointError::Invalid(errors)) => {
            state.errors = errors;
            state.notice = Some(Notice::error("The endpoint was not saved: see the fields below."));
            page(&pages, &admin, &tenant, state, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(EndpointError::NotFound) => {
            state.notice = Some(Notice::error("Set an endpoint first."));
            page(&pages, &admin, &tenant, state, StatusCode::NOT_FOUND).await
        }
        Err(EndpointError::Store(crate::store::StoreError::VersionConflict)) => {
            state.notice = Some(Notice::error("The endpoint changed meanwhile: here it is now. Try again."));
            page(&pages, &admin, &tenant, state, StatusCode::CONFLICT).await
        }
        Err(EndpointError::Store(error)) => Denied::from(error).into_response(),
        Err(EndpointError::Queue(error)) => {
            tracing::warn!(error = %Report(&error), "settings page: queue failed");
            super::ErrorPage::busy().into_response()
        }
    }
}

async fn page(pages: &Pages, admin: &GuildAdmin, tenant: &TenantId, state: FormState, status: StatusCode) -> Response {
    let (stored, attempts, intent) = match tokio::join!(
        pages.store.webhook(tenant),
        pages.store.delivery_attempts(tenant, 20),
        pages.store.intents(),
    ) {
        (Ok(stored), Ok(attempts), Ok(intent)) => (stored, attempts, intent),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => return Denied::from(error).into_response(),
    };
    let wanted: Vec<String> = match (&state.events, &stored) {
        (Some(events), _) => events.clone(),
        (None, Some(stored)) => stored.events.iter().map(|kind| kind.as_str().to_owned()).collect(),
        (None, None) => Vec::new(),
    };
    let page = html::WebhookPage {
        nav: Nav::new(admin, "webhook").with_summary(super::summary::line(pages, admin.guild_id()).await),
        manage: tenant.is_standalone_for(admin.guild_id()),
        notice: state.notice,
        url: state.url.or_else(|| stored.as_ref().map(|stored| stored.url.clone())).unwrap_or_default(),
        events: EventType::SUBSCRIBABLE
            .iter()
            .map(|kind| (kind.as_str(), wanted.iter().any(|name| name == kind.as_str())))
            .collect(),
        errors: state.errors,
        secret: state.secret,
        exists: stored.is_some(),
        paused: stored.as_ref().and_then(|stored| stored.paused.as_ref().map(|pause| pause.reason.clone())),
        message_content_missing: intent.is_some_and(|status| !status.message_content),
        attempts: attempts.into_iter().map(html::AttemptRow::from).collect(),
    };
    (status, render(&page)).into_response()
}
