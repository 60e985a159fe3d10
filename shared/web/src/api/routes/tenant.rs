//! The tenant itself, and the jobs that gave up in its guild.

use twilight_model::guild::Permissions;

use super::prelude::*;
use crate::domain::Job;

/// The tenant, its guild, and the bot's permissions there: granted, and missing for the
/// features the settings turn on.
#[utoipa::path(get, path = "/v1/tenant", tag = "tenant",
    responses((status = 200, description = "the tenant", body = TenantView)))]
pub async fn get_tenant(caller: Caller, State(api): State<Arc<Api>>) -> Result<Json<TenantView>, Problem> {
    let tenant = api.store.tenant(&caller.tenant_id).await?;
    let connection = api.store.connection(&caller.tenant_id).await?;
    let mut view = TenantView {
        tenant_id: caller.tenant_id.to_string(),
        allowed_origins: tenant.map(|tenant| tenant.allowed_origins).unwrap_or_default(),
        guild: None,
        permissions: PermissionsView { granted: Vec::new(), missing: Vec::new() },
        message_content_intent: IntentView::of(api.store.intents().await?),
        settings_problems: Vec::new(),
    };
    if let Some(connection) = connection {
        let install = api.store.bot_install(connection.guild_id).await?;
        let needed = api.store.settings(connection.guild_id).await?.settings.bot_permissions();
        let granted =
            install.map(|install| Permissions::from_bits_truncate(install.permissions)).unwrap_or(Permissions::empty());
        view.permissions = PermissionsView { granted: names(granted), missing: names(needed - granted) };
        let schedule = api.store.sync_schedule(connection.guild_id).await?;
        view.guild = Some(GuildView {
            id: connection.guild_id.to_string(),
            name: connection.guild_name,
            connected_at: connection.connected_at,
            bot_present: install.is_some_and(|install| install.invited),
            next_sync_at: schedule.map(|schedule| schedule.next_at),
        });
        view.settings_problems = api.store.settings_problems(connection.guild_id).await?;
    }
    Ok(Json(view))
}

/// Discord's names for the permissions set (`MANAGE_ROLES`, ...).
pub fn names(permissions: Permissions) -> Vec<String> {
    permissions.iter_names().map(|(name, _)| name.to_owned()).collect()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeadLettersQuery {
    /// 1 to 100; 50 unless given.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Jobs that gave up in the guild, the most recent first, with their reasons.
#[utoipa::path(get, path = "/v1/dead-letters", tag = "tenant", params(DeadLettersQuery),
    responses((status = 200, description = "recent dead letters", body = Page<DeadLetterView>)))]
pub async fn list_dead_letters(
    caller: Connected,
    State(api): State<Arc<Api>>,
    QueryParams(query): QueryParams<DeadLettersQuery>,
) -> Result<Json<Page<DeadLetterView>>, Problem> {
    let letters = api.store.dead_letters(Some(caller.guild_id), page_limit(query.limit)?).await?;
    Ok(Json(Page { items: letters.into_iter().map(DeadLetterView::from).collect(), next_cursor: None }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeadLetterPath {
    /// The `id` the listing gave.
    #[param(pattern = "^[0-9]{12}-[0-9a-f]{16}$")]
    pub id: String,
}

/// Enqueues a dead letter's job again, under its key: 202 with the job. A record whose body
/// is not a job Guildbridge can read is a 409: retrying it would only fail again.
#[utoipa::path(post, path = "/v1/dead-letters/{id}/retry", tag = "tenant", params(DeadLetterPath),
    responses((status = 202, description = "the job is queued again", body = Accepted)))]
pub async fn retry_dead_letter(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<DeadLetterPath>,
) -> Result<Response, Problem> {
    let letter =
        api.store.dead_letter(caller.guild_id, &path.id).await?.ok_or_else(|| Problem::not_found("dead letter"))?;
    let job = match Job::from_body(&letter.body) {
        Ok(job) if job.guild_id() == caller.guild_id => job.retried(random_key()?),
        _ => return Err(Problem::conflict("not-retryable", "this record's body is not a job that can run again")),
    };
    accepted(&api, job).await
}
