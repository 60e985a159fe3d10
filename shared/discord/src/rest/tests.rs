use super::*;

#[test]
fn audit_reasons_are_encoded_and_capped() {
    assert_eq!(audit_reason("event ended: Spa 24h"), "event%20ended%3A%20Spa%2024h");
    let long = audit_reason(&"é".repeat(400));
    assert!(long.len() <= MAX_AUDIT_REASON);
    assert!(long.ends_with("%A9"), "never ends inside an escape: {}", &long[long.len() - 6..]);
}

fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let Ok(value) = reqwest::header::HeaderValue::from_str(value) {
            map.insert(*name, value);
        }
    }
    map
}

#[test]
fn malformed_rate_limit_values_are_ignored_or_capped_not_a_crash() {
    for bad in ["-1", "NaN", "inf", "-inf", "1e300", "1.8e19"] {
        let limits = limit_headers(&headers(&[("x-ratelimit-reset-after", bad.to_owned())]));
        assert!(limits.reset_after.is_none_or(|wait| wait <= MAX_RATE_LIMIT_WAIT), "{bad}: {limits:?}");
        let (wait, _) = too_many_requests(&headers(&[("retry-after", bad.to_owned())]), b"");
        assert!((MIN_RETRY_AFTER..=MAX_RATE_LIMIT_WAIT).contains(&wait), "{bad}: {wait:?}");
    }
    let (wait, _) = too_many_requests(&HeaderMap::new(), br#"{"retry_after": -5, "global": false}"#);
    assert_eq!(wait, Duration::from_secs(1), "a negative body value is ignored");
    let (wait, _) = too_many_requests(&HeaderMap::new(), br#"{"retry_after": 0}"#);
    assert_eq!(wait, MIN_RETRY_AFTER, "no tight loop on retry_after 0");
    let (wait, _) = too_many_requests(&HeaderMap::new(), br#"{"retry_after": 1e308}"#);
    assert_eq!(wait, MAX_RATE_LIMIT_WAIT);
}

proptest::proptest! {
    #[test]
    fn any_rate_limit_header_value_gives_a_bounded_wait(
        reset in proptest::prelude::any::<f64>(),
        retry in proptest::prelude::any::<f64>(),
        body in proptest::prelude::any::<f64>(),
        text in "\\PC{0,24}",
    ) {
        let set = headers(&[
            ("x-ratelimit-reset-after", reset.to_string()),
            ("retry-after", retry.to_string()),
            ("x-ratelimit-remaining", text.clone()),
            ("x-ratelimit-bucket", text.clone()),
        ]);
        let limits = limit_headers(&set);
        proptest::prop_assert!(limits.reset_after.is_none_or(|wait| wait <= MAX_RATE_LIMIT_WAIT));
        let body = format!("{{\"retry_after\": {body}}}");
        for answer in [body.as_bytes(), text.as_bytes(), b""] {
            let (wait, _) = too_many_requests(&set, answer);
            proptest::prop_assert!((MIN_RETRY_AFTER..=MAX_RATE_LIMIT_WAIT).contains(&wait));
        }
        let texts = headers(&[("x-ratelimit-reset-after", text.clone()), ("retry-after", text.clone())]);
        let (wait, _) = too_many_requests(&texts, text.as_bytes());
        proptest::prop_assert!((MIN_RETRY_AFTER..=MAX_RATE_LIMIT_WAIT).contains(&wait));
        proptest::prop_assert!(limit_headers(&texts).reset_after.is_none_or(|wait| wait <= MAX_RATE_LIMIT_WAIT));
    }
}

/// An answer whose headers arrive and whose body then breaks off, on every connection.
async fn truncating_server() -> Url {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"id\"";
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    Url::parse(&format!("http://{addr}/api/v10")).expect("url")
}

#[tokio::test]
async fn a_broken_answer_to_an_interaction_edit_never_puts_the_token_in_the_error() {
    let client = DiscordClient::new(truncating_server().await, BotToken::new("bot")).expect("client");
    let token = "aW50ZXJhY3Rpb24tdG9rZW4tc2VjcmV0";
    let deadline = Instant::now() + Duration::from_secs(20);
    let error = client
        .edit_original_response(twilight_model::id::Id::new(1), token, &MessageBody::text("hi"), deadline)
        .await
        .expect_err("every answer breaks off");
    let shown = format!("{error} {error:?} {}", error.explain());
    assert!(shown.contains("reading the answer"), "the body read failed: {shown}");
    assert!(!shown.contains(token), "the interaction token leaked into: {shown}");
}

#[test]
fn credentials_never_show_in_debug_output() {
    let route = Route::new(Method::POST, "/oauth2/token", "/oauth2/token".to_owned(), "oauth".to_owned())
        .auth(Auth::Basic("client-id".to_owned(), "client-secret-value".to_owned()));
    let bearer = Auth::Bearer("user-access-token".to_owned());
    let shown = format!("{route:?} {bearer:?}");
    assert!(!shown.contains("client-secret-value") && !shown.contains("user-access-token"), "{shown}");
}

#[test]
fn user_agent_has_discords_form() {
    assert!(USER_AGENT.starts_with("DiscordBot (https://"), "{USER_AGENT}");
    assert!(USER_AGENT.ends_with(')'));
    assert!(!format!("{:?}", BotToken::new("secret-token")).contains("secret"));
}

/// Answers every request 204 with no rate-limit headers (the bucket stays unknown).
async fn no_content_server() -> Url {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                while matches!(socket.read(&mut request).await, Ok(n) if n > 0) {
                    let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
                }
            });
        }
    });
    Url::parse(&format!("http://{addr}/api/v10")).expect("url")
}

#[tokio::test]
async fn a_request_whose_deadline_passed_holding_the_probe_does_not_hold_up_the_next() {
    let client = DiscordClient::new(no_content_server().await, BotToken::new("bot")).expect("client");
    let (channel, member) = (twilight_model::id::Id::new(1), twilight_model::id::Id::new(2));
    // Its deadline is already gone: it takes the unknown bucket's probe, then gives up unsent.
    let gone = client.delete_permission_overwrite(channel, member, None, Instant::now()).await;
    assert!(matches!(gone, Err(DiscordError::RetryAfter { .. })), "{gone:?}");
    // The next request on the same bucket goes out rather than waiting out its own deadline
    // on a probe nobody will answer.
    let next = client.delete_permission_overwrite(channel, member, None, Instant::now() + Duration::from_secs(3)).await;
    assert!(next.is_ok(), "{next:?}");
}
