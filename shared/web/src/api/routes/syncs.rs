//! Member syncs: start one, list the runs, read one.

use serde_json::json;

use super::prelude::*;
use crate::{
    api::idempotency::{self, IdempotencyKey},
    domain::RunId,
    sync::{SyncRequest, SyncRequestError, SyncRequested, request_sync},
};

/// Starts a member sync: 202 with the run, or 409 with the run that is running.
#[utoipa::path(post, path = "/v1/syncs", tag = "syncs",
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "makes a retry answer the first answer")),
    responses((status = 202, description = "the sync is queued", body = SyncView)))]
pub async fn start_sync(
    caller: Connected,
    State(api): State<Arc<Api>>,
    key: IdempotencyKey,
) -> Result<Response, Problem> {
    let request_id = match &key.0 {
        Some(key) => key.clone(),
        None => random_key()?,
    };
    idempotency::once(&api, &caller.tenant_id, "sync", &key, b"", async {
        let request = SyncRequest::Platform(request_id);
        let asked =
            request_sync(api.store.as_ref(), api.queue.as_ref(), caller.guild_id, request, None, api.clock.now())
                .await
                .map_err(|error| match error {
                    SyncRequestError::Store(error) => Problem::from(error),
                    SyncRequestError::Queue(error) => Problem::from(error),
                })?;
        let run_id = match asked {
            SyncRequested::Queued { run_id } | SyncRequested::AlreadyRequested { run_id } => run_id,
            SyncRequested::Busy(lease) => {
                let running = api.store.run(caller.guild_id, &lease.run_id).await?.map(SyncView::from);
                return Err(Problem::conflict("sync-running", "a member sync is already running")
                    .with_conflict(json!({ "run": running, "run_id": lease.run_id })));
            }
        };
        let run = api.store.run(caller.guild_id, &run_id).await?.ok_or_else(|| Problem::not_found("sync run"))?;
        Ok((StatusCode::ACCEPTED, json!(SyncView::from(run))))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SyncsQuery {
    /// 1 to 100; 50 unless given.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The most recent runs first.
#[utoipa::path(get, path = "/v1/syncs", tag = "syncs", params(SyncsQuery),
    responses((status = 200, description = "recent runs", body = Page<SyncView>)))]
pub async fn list_syncs(
    caller: Connected,
    State(api): State<Arc<Api>>,
    QueryParams(query): QueryParams<SyncsQuery>,
) -> Result<Json<Page<SyncView>>, Problem> {
    let runs = api.store.recent_runs(caller.guild_id, page_limit(query.limit)?).await?;
    Ok(Json(Page { items: runs.into_iter().map(SyncView::from).collect(), next_cursor: None }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RunPath {
    #[param(min_length = 1, max_length = 200)]
    pub run_id: String,
}

/// One run.
#[utoipa::path(get, path = "/v1/syncs/{run_id}", tag = "syncs", params(RunPath),
    responses((status = 200, description = "the run", body = SyncView)))]
pub async fn get_sync(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<RunPath>,
) -> Result<Json<SyncView>, Problem> {
    let run = api
        .store
        .run(caller.guild_id, &RunId::from(path.run_id))
        .await?
        .ok_or_else(|| Problem::not_found("sync run"))?;
    Ok(Json(SyncView::from(run)))
}
