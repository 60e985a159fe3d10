//! The OpenAPI document: made from the routes, served, and committed as
//! `functions/web/openapi.json`. `UPDATE_OPENAPI=1` rewrites the committed copy.

use std::path::PathBuf;

use axum::http::Method;
use guildbridge_web::api;
use serde_json::Value;

use super::{TwoTenants, call};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../functions/web/openapi.json")
}

fn generated() -> String {
    api::document().to_pretty_json().expect("document") + "\n"
}

#[test]
fn the_committed_document_is_the_one_the_code_makes() {
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, generated()).expect("write");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated(),
        "{} is stale: run `UPDATE_OPENAPI=1 cargo test -p guildbridge-host --test service document` and commit it",
        path.display()
    );
}

#[tokio::test]
async fn the_document_is_served_without_a_key_and_is_openapi_3_1() {
    let t = TwoTenants::new().await;
    let answer = call(&t.router, Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!((answer.status, answer.content_type.as_str()), (200, "application/json"));
    let document: Value = answer.json();
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", document["openapi"]);
    let paths = document["paths"].as_object().expect("paths");
    for route in ["/v1/tenant", "/v1/subjects/{kind}/{id}", "/v1/subjects/{kind}/{id}/messages", "/v1/settings"] {
        assert!(paths.contains_key(route), "{route} is documented");
    }
    // Every authenticated operation names the problems it can answer.
    for (route, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            if route == "/v1/openapi.json" {
                continue;
            }
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("401") && responses.contains_key("404"), "{method} {route}");
        }
    }
}
