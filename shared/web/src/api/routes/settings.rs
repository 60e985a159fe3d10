//! The guild's settings, with optimistic concurrency through `ETag` / `If-Match`.

use crate::domain::error::Report;
use std::sync::Arc;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    api::{
        Api,
        extract::{Connected, JsonBody},
        problem::{Problem, ProblemDetails},
    },
    discord::guild_ids::check_new_ids,
    domain::GuildSettings,
    store::{Actor, StoreError},
};

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn with_etag(settings: GuildSettings, version: u64) -> Response {
    let mut response = Json(settings).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// The guild's settings; the `ETag` names their version.
#[utoipa::path(get, path = "/v1/settings", tag = "settings",
    responses((status = 200, description = "the settings", body = GuildSettings,
        headers(("ETag" = String, description = "the version, for If-Match")))))]
pub async fn get_settings(caller: Connected, State(api): State<Arc<Api>>) -> Result<Response, Problem> {
    let stored = api.store.settings(caller.guild_id).await?;
    Ok(with_etag(stored.settings, stored.version))
}

/// Replaces the settings. `If-Match` must name the version read: 428 without it, 412 when
/// someone saved since, 422 naming every invalid field at once (a channel, category or role
/// id that is not this guild's, of the wrong kind, or a role the bot may not hand out).
#[utoipa::path(put, path = "/v1/settings", tag = "settings",
    params(("If-Match" = String, Header, description = "the ETag of the settings this change is based on (`*`: whatever is there)")),
    request_body = GuildSettings,
    responses(
        (status = 200, description = "saved", body = GuildSettings,
            headers(("ETag" = String, description = "the new version"))),
        (status = 412, description = "someone saved first", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn put_settings(
    caller: Connected,
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    JsonBody(value, _): JsonBody<serde_json::Value>,
) -> Result<Response, Problem> {
    if !value.is_object() {
        return Err(Problem::bad_request("the settings are a JSON object"));
    }
    let Some(if_match) = headers.get(header::IF_MATCH) else {
        return Err(Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "if-match-required",
            "send If-Match with the ETag of the settings you read",
        ));
    };
    let tag = if_match.to_str().unwrap_or_default().trim();
    let version = tag.trim_start_matches("W/").trim_matches('"').parse::<u64>().ok();
    if tag != "*" && version.is_none() {
        return Err(Problem::bad_request("If-Match takes the ETag GET /v1/settings answered with (or *)"));
    }
    let settings = GuildSettings::from_json(value.clone()).map_err(|errors| {
        Problem::invalid(errors.0.into_iter().map(|(field, problem)| (field.to_owned(), problem)).collect())
    })?;
    if let Some(unknown) = unknown_field(&value, &serde_json::to_value(&settings).unwrap_or_default(), "") {
        return Err(Problem::bad_request(format!("unknown field `{unknown}`")));
    }
    // `*` (any current version) is a client's explicit "overwrite whatever is there". The
    // save is conditional on `expected`, so when it succeeds `current` is what it replaced.
    let current = api.store.settings(caller.guild_id).await?;
    // Ids are the guild's, of the right kind, and a role without power: checked with Discord.
    let problems = check_new_ids(&api.bot, caller.guild_id, api.connect.application_id, &settings, &current.settings)
        .await
        .map_err(|error| {
            tracing::warn!(error = %Report(&error), "could not check the settings' Discord ids");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "discord-unavailable",
                "Discord did not answer while the channel and role ids were checked; nothing was saved, try again",
            )
        })?;
    if !problems.is_empty() {
        return Err(Problem::invalid(problems));
    }
    let expected = version.unwrap_or(current.version);
    let actor = Actor { id: "tenant-api", name: caller.tenant_id.as_str() };
    let now = api.clock.now();
    match api.store.save_settings(caller.guild_id, expected, &settings, actor, now).await {
        Ok(version) => {
            crate::timeline::replan_logged(
                api.store.as_ref(),
                api.queue.as_ref(),
                caller.guild_id,
                &current.settings,
                &settings,
                now,
            )
            .await;
            // Saved and checked again: what the workers found before no longer stands.
            if let Err(error) = api.store.clear_problems(caller.guild_id).await {
                tracing::warn!(error = %Report(&error), "the settings' old problems were not cleared");
            }
            Ok(with_etag(settings, version))
        }
        Err(StoreError::VersionConflict) => Err(stale()),
        Err(error) => Err(error.into()),
    }
}

fn stale() -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "settings-changed",
        "the settings were saved by someone else since this version; read them again",
    )
}

/// The first field of `sent` that the settings do not have, at any depth, inside lists too
/// (serde ignores such fields; the API refuses them, so a typo such as
/// `reminders[0].befor_minutes` is not silently dropped).
fn unknown_field(sent: &serde_json::Value, known: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match (sent, known) {
        (Value::Object(sent), Value::Object(known)) => sent.iter().find_map(|(name, value)| {
            let path = if at.is_empty() { name.clone() } else { format!("{at}.{name}") };
            match known.get(name) {
                None => Some(path),
                Some(inner) => unknown_field(value, inner, &path),
            }
        }),
        (Value::Array(sent), Value::Array(known)) => sent
            .iter()
            .zip(known)
            .enumerate()
            .find_map(|(n, (value, inner))| unknown_field(value, inner, &format!("{at}[{n}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::unknown_field;

    #[test]
    fn a_misspelt_field_is_found_at_any_depth() {
        let known = json!({ "reminders": [{ "before_minutes": 60, "template": { "content": "x", "embed": null } }] });
        let sent = json!({ "reminders": [{ "befor_minutes": 60, "template": { "content": "x" } }] });
        assert_eq!(unknown_field(&sent, &known, "").as_deref(), Some("reminders[0].befor_minutes"));
        let sent = json!({ "reminders": [{ "before_minutes": 60, "template": { "contnet": "x" } }] });
        assert_eq!(unknown_field(&sent, &known, "").as_deref(), Some("reminders[0].template.contnet"));
        let sent = json!({ "reminders": [{ "before_minutes": 60, "template": { "content": "x" } }] });
        assert_eq!(unknown_field(&sent, &known, ""), None);
    }
}
