//! A job's status, for the platform that asked for it.

use super::prelude::*;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JobPath {
    /// The `id` a 202 answer gave.
    #[param(pattern = "^[0-9a-f]{64}$")]
    pub id: String,
}

/// Where a job is: queued, running, done (with its result, such as the message id), failed
/// (to be tried again) or dead, with the reason and the attempts so far.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", params(JobPath),
    responses((status = 200, description = "the job", body = JobStatusView)))]
pub async fn get_job(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<JobPath>,
) -> Result<Json<JobStatusView>, Problem> {
    let record = api.store.job_record(caller.guild_id, &path.id).await?.ok_or_else(|| Problem::not_found("job"))?;
    Ok(Json(JobStatusView::from(record)))
}
