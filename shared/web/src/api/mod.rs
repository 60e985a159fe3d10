//! The tenant REST API (`/v1`): how a platform registers subjects, asks for their channels,
//! posts to them, links its users and starts syncs. One axum router, hosted by `lambda_http`
//! in the `web` function and by axum's server in the local stack. The OpenAPI document is
//! made from the same route declarations, so routes and document cannot drift.

pub mod connect;
pub mod extract;
pub mod idempotency;
pub mod page_headers;
pub mod problem;
pub mod routes;
pub mod views;

use std::sync::{Arc, OnceLock};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, Content, RefOr, ResponseBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};

use self::{problem::Problem, routes::*};
use crate::{clock::SharedClock, queue::JobQueue, store::DomainStore};

/// What the routes use: the store, the queue, the clock, and the connect flow's parts.
pub struct Api {
    pub store: Arc<dyn DomainStore>,
    pub queue: Arc<dyn JobQueue>,
    pub clock: SharedClock,
    pub connect: connect::Connector,
    /// Where webhook endpoints may point.
    pub webhook_targets: crate::domain::TargetPolicy,
    /// The bot's client: settings ids are checked against the guild with it.
    pub bot: crate::discord::rest::DiscordClient,
    /// Each tenant's request budgets.
    pub limits: crate::domain::limits::RequestLimits,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Guildbridge tenant API", description = "A platform's way into its Discord server: subjects and their channels, messages, links, member syncs and settings. Authenticate with `Authorization: Bearer <API key>`; errors are `application/problem+json`."),
    modifiers(&Security),
    components(schemas(problem::ProblemDetails)),
    tags(
        (name = "tenant"), (name = "subjects"), (name = "channels"), (name = "links"),
        (name = "syncs"), (name = "members"), (name = "settings"), (name = "jobs"), (name = "webhook"), (name = "teams"), (name = "keys"),
        (name = "document"),
    ),
)]
struct Document;

/// Every route, with its place in the document.
fn declared() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::with_openapi(Document::openapi())
        .routes(routes!(tenant::get_tenant))
        .routes(routes!(guild::start_connect))
        .routes(routes!(guild::disconnect))
        .routes(routes!(jobs::get_job))
        .routes(routes!(subjects::list_subjects))
        .routes(routes!(subjects::put_subject, subjects::get_subject))
        .routes(routes!(channels::request_channel, channels::get_channel, channels::archive_channel))
        .routes(routes!(channels::send_message))
        .routes(routes!(channels::list_channels))
        .routes(routes!(links::list_links))
        .routes(routes!(links::put_link, links::delete_link))
        .routes(routes!(syncs::start_sync, syncs::list_syncs))
        .routes(routes!(syncs::get_sync))
        .routes(routes!(members::list_members))
        .routes(routes!(settings::get_settings, settings::put_settings))
        .routes(routes!(tenant::list_dead_letters))
        .routes(routes!(tenant::retry_dead_letter))
        .routes(routes!(webhook::put_webhook, webhook::get_webhook, webhook::delete_webhook))
        .routes(routes!(webhook::rotate_secret))
        .routes(routes!(webhook::resume_webhook))
        .routes(routes!(webhook::send_test_event))
        .routes(routes!(webhook::list_deliveries))
        .routes(routes!(channels::create_invite))
        .routes(routes!(teams::put_team, teams::delete_team))
        .routes(routes!(teams::list_teams))
        .routes(routes!(teams::send_team_message))
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(openapi_json))
}

/// The OpenAPI 3.1 document, as served at `/v1/openapi.json` and committed as
/// `functions/web/openapi.json`.
pub fn document() -> openapi::OpenApi {
    let mut document = declared().split_for_parts().1;
    // After the routes joined: the derive's own modifiers run before any path is known.
    CommonProblems.modify(&mut document);
    document
}

fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| document().to_pretty_json().unwrap_or_default())
}

/// The API's router: `/v1/...` and the connect callback (a browser's page, so not in the
/// document), with JSON problems for unknown routes and wrong methods.
pub fn router(api: Api) -> Router {
    let (router, _) = declared().split_for_parts();
    router
        .route(
            connect::CALLBACK_PATH,
            axum::routing::get(connect::callback)
                .post(connect::confirm)
                .layer(axum::middleware::from_fn(page_headers::security_headers)),
        )
        .fallback(|| async { Problem::not_found("route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "this route does not take that method")
        })
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(Arc::new(api))
}

/// One line per request: the route's template (never the raw path's ids, never a header),
/// the status and the time taken.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    tracing::info!(
        method = %method,
        route,
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "api request"
    );
    response
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "document", security(()),
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json", body = Object)))]
async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document_json()).into_response()
}

struct Security;

impl Modify for Security {
    fn modify(&self, document: &mut openapi::OpenApi) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("gbk_...").build()),
        );
        document.security = Some(vec![openapi::security::SecurityRequirement::new("api_key", Vec::<String>::new())]);
    }
}

/// The problems any authenticated route can answer, named on every operation so clients
/// (and schemathesis) know them: bad input, no key, not this tenant's, not connected, too
/// large, not JSON, invalid fields, busy.
struct CommonProblems;

const COMMON: [(&str, &str); 9] = [
    ("400", "malformed JSON, unknown fields or unreadable parameters"),
    ("401", "missing, unknown or revoked API key"),
    ("404", "no such resource for this tenant"),
    ("409", "the guild is not connected yet, or the request conflicts with what is there"),
    ("413", "the body is over 64 KiB"),
    ("415", "the body is not JSON"),
    ("422", "invalid fields, each named"),
    ("429", "over the tenant's request limit; `Retry-After` says in how many seconds to try again"),
    ("503", "storage or queue busy; try again"),
];

impl Modify for CommonProblems {
    fn modify(&self, document: &mut openapi::OpenApi) {
        for item in document.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                let public = operation.security.as_ref().is_some_and(|security| security.iter().all(is_empty));
                if public {
                    continue;
                }
                for (status, description) in COMMON {
                    operation.responses.responses.entry(status.to_owned()).or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    problem::PROBLEM_JSON,
                                    Content::new(Some(RefOr::Ref(openapi::Ref::from_schema_name("Problem")))),
                                )
                                .build(),
                        )
                    });
                }
            }
        }
    }
}

fn is_empty(requirement: &openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(requirement).is_ok_and(|value| value.as_object().is_some_and(|object| object.is_empty()))
}
