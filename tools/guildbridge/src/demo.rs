//! The local stack's first impression: the demo seeded on first start (through the tenant
//! API, as a platform would), and a landing page at `/` saying what runs where.

use std::path::Path;

use anyhow::Context;
use axum::{
    Router,
    body::Body,
    http::{Method, Request, header},
};
use discord_sandbox::demo;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// Written once the demo is seeded: later starts leave whatever the user made of it.
const DEMO_SEEDED_FILE: &str = "demo-seeded";

/// The demo's ids, for the banner and the tests.
pub const DEMO_EVENT: &str = "demo-race";
pub const DEMO_LEAD: &str = "demo-lead";

/// On first start only: two linked people, an event three days out with a team (its
/// reminders are the settings' defaults) and a lead, each with its channel. Whether it seeded.
pub async fn seed(app: &Router, key: &str, state_dir: &Path, now: u64) -> anyhow::Result<bool> {
    let marker = state_dir.join(DEMO_SEEDED_FILE);
    if marker.exists() {
        return Ok(false);
    }
    let event = format!("/v1/subjects/event/{DEMO_EVENT}");
    let lead = format!("/v1/subjects/lead/{DEMO_LEAD}");
    let calls = [
        (Method::PUT, "/v1/links/demo-admin".to_owned(), json!({ "discord_user_id": demo::ADMIN.to_string() })),
        (Method::PUT, "/v1/links/demo-member".to_owned(), json!({ "discord_user_id": demo::MEMBER.to_string() })),
        (Method::PUT, event.clone(), json!({ "name": "Demo Race", "starts_at": now + 3 * 86_400 })),
        // The channel first: the team's job follows it in the guild's queue, and finds it.
        (Method::POST, format!("{event}/channel"), Value::Null),
        (
            Method::PUT,
            format!("{event}/teams/red"),
            json!({ "name": "Red Team", "members": ["demo-admin", "demo-member"] }),
        ),
        (
            Method::PUT,
            lead.clone(),
            json!({ "name": "Demo Lead (Acme Ltd)", "discord_user_id": demo::MEMBER.to_string() }),
        ),
        (Method::POST, format!("{lead}/channel"), Value::Null),
    ];
    for (method, path, body) in calls {
        let mut request =
            Request::builder().method(method.clone()).uri(&path).header(header::AUTHORIZATION, format!("Bearer {key}"));
        let body = if body.is_null() {
            Body::empty()
        } else {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        };
        let answer = app.clone().oneshot(request.body(body)?).await.context("the tenant API")?;
        let status = answer.status();
        if !status.is_success() {
            let text = axum::body::to_bytes(answer.into_body(), 64 * 1024).await.unwrap_or_default();
            anyhow::bail!("seeding the demo: {method} {path} answered {status}: {}", String::from_utf8_lossy(&text));
        }
    }
    std::fs::write(&marker, "seeded\n").with_context(|| format!("writing {}", marker.display()))?;
    Ok(true)
}

/// What `/` lists.
pub struct Landing {
    pub base: String,
    pub sandbox: Option<String>,
}

impl Landing {
    /// A plain page: every value in it is the stack's own address, so there is nothing a
    /// visitor could inject. The demo's API key stays in the banner and the data folder.
    pub fn html(&self) -> String {
        let base = &self.base;
        let mut rows = vec![
            format!("<li>Settings page: <a href=\"{base}/settings\">{base}/settings</a></li>"),
            format!(
                "<li>Tenant API: <code>{base}/v1</code> (its document: <a href=\"{base}/v1/openapi.json\">/v1/openapi.json</a>)</li>"
            ),
            format!(
                "<li>Interactions endpoint: <code>{base}/interactions</code> (try <code>cargo run -p guildbridge -- interact '/events'</code>)</li>"
            ),
            format!("<li>Metrics (Prometheus text): <a href=\"{base}/metrics\">{base}/metrics</a></li>"),
        ];
        if let Some(sandbox) = &self.sandbox {
            rows.push(format!(
                "<li>Discord sandbox: <code>{sandbox}</code>; log in to the settings page as demo-admin (Manage Server), demo-member or second-admin</li>"
            ));
        }
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Guildbridge (local)</title></head>\
             <body><h1>Guildbridge is running locally</h1><ul>{}</ul>\
             <p>The workers, the scheduler and the relay run in this process too. The demo (an event, its team, a lead) is made on first start; stop the stack and delete its data folder to start again.</p></body></html>",
            rows.join("")
        )
    }
}
