//! Discord's view of an interaction answer, as text.

use serde_json::Value;

pub fn answer(status: u16, body: &Value) -> String {
    if status != 200 {
        let message = body["message"].as_str().unwrap_or("(no message)");
        return format!("HTTP {status}: {message}");
    }
    let data = &body["data"];
    let mut lines = Vec::new();
    match body["type"].as_u64() {
        Some(1) => lines.push("PONG".to_owned()),
        Some(4) => {
            let ephemeral = data["flags"].as_u64().is_some_and(|flags| flags & 64 != 0);
            lines.push(if ephemeral { "[only you can see this]".to_owned() } else { "[message]".to_owned() });
            lines.extend(data["content"].as_str().map(str::to_owned));
            for row in data["components"].as_array().into_iter().flatten() {
                for component in row["components"].as_array().into_iter().flatten() {
                    let label = component["label"].as_str().unwrap_or("button");
                    match component["url"].as_str() {
                        Some(url) => lines.push(format!("[{label}] -> {url}")),
                        None => lines.push(format!("[{label}]")),
                    }
                }
            }
        }
        Some(5) => lines.push("[deferred: Guildbridge is thinking...]".to_owned()),
        Some(8) => {
            lines.push("[autocomplete]".to_owned());
            for choice in data["choices"].as_array().into_iter().flatten() {
                lines.push(format!("  {}", choice["name"].as_str().unwrap_or_default()));
            }
        }
        other => lines.push(format!("[response type {}]", other.map_or("?".to_owned(), |t| t.to_string()))),
    }
    lines.join("\n")
}

/// A deferred answer once the worker has edited it.
pub fn edited(message: &Value) -> String {
    let content = message["content"].as_str().unwrap_or_default();
    format!("[answer edited]\n{content}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shows_ephemeral_messages_with_their_links() {
        let body = json!({ "type": 4, "data": { "flags": 64, "content": "hello", "components": [
            { "type": 1, "components": [{ "type": 2, "style": 5, "label": "Open", "url": "http://x/y" }] }
        ] } });
        assert_eq!(answer(200, &body), "[only you can see this]\nhello\n[Open] -> http://x/y");
        assert_eq!(
            answer(401, &json!({ "message": "invalid request signature" })),
            "HTTP 401: invalid request signature"
        );
    }
}
