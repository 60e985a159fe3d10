//! The line under every guild page's tabs: what is happening now (the last sync, the channels
//! by status, dead letters waiting, the webhook). Each part is read at once; a part that
//! cannot be read is left out rather than failing the page.

use twilight_model::id::{Id, marker::GuildMarker};

use super::Pages;
use crate::domain::{MappingStatus, SyncOutcome};

/// The statuses the line counts, in the order it names them.
const COUNTED: [MappingStatus; 3] = [MappingStatus::Active, MappingStatus::Creating, MappingStatus::Error];

pub(super) async fn line(pages: &Pages, guild_id: Id<GuildMarker>) -> Option<String> {
    let store = &pages.store;
    let (runs, letters, tenant, active, creating, error) = tokio::join!(
        store.recent_runs(guild_id, 1),
        store.count_dead_letters(guild_id),
        store.tenant_of(guild_id),
        store.count_by_status(guild_id, COUNTED[0]),
        store.count_by_status(guild_id, COUNTED[1]),
        store.count_by_status(guild_id, COUNTED[2]),
    );
    let mut parts = Vec::new();
    if let Ok(runs) = runs {
        parts.push(match runs.first() {
            Some(run) => {
                let outcome = match &run.outcome {
                    SyncOutcome::Running => "running",
                    SyncOutcome::Succeeded => "succeeded",
                    SyncOutcome::Failed(_) => "failed",
                };
                format!("Last sync {} ({outcome})", super::html::when(run.started_at))
            }
            None => "No sync yet".to_owned(),
        });
    }
    let counts: Vec<String> = COUNTED
        .iter()
        .zip([active, creating, error])
        .filter_map(|(status, count)| count.ok().filter(|n| *n > 0).map(|n| format!("{n} {}", status.as_str())))
        .collect();
    parts.push(if counts.is_empty() { "No channels".to_owned() } else { format!("Channels: {}", counts.join(", ")) });
    if let Ok(letters) = letters {
        parts.push(match letters {
            0 => "no dead letters".to_owned(),
            1 => "1 dead letter waiting".to_owned(),
            n => format!("{n} dead letters waiting"),
        });
    }
    if let Ok(Some(tenant)) = tenant
        && let Ok(endpoint) = store.webhook(&tenant).await
    {
        parts.push(match endpoint {
            Some(endpoint) if endpoint.paused.is_some() => "webhook paused".to_owned(),
            Some(_) => "webhook delivering".to_owned(),
            None => "no webhook".to_owned(),
        });
    }
    Some(parts.join(" · "))
}
