//! What a platform sees through the API, route by route.

use axum::http::Method;
use guildbridge_core::domain::{ClaimToken, QueueKind, SubjectKind, SubjectRef};
use serde_json::json;
use twilight_model::id::Id;

use super::{GUILD_A, TwoTenants, call, call_with};

fn lead_42() -> serde_json::Value {
    json!({ "name": "Ada Lovelace", "fields": { "company": "Analytical" }, "discord_user_id": "4242" })
}

#[tokio::test]
async fn a_missing_unknown_or_revoked_key_is_401_at_once() {
    let t = TwoTenants::new().await;
    for key in [None, Some("gbk_not-a-key"), Some("")] {
        let answer = call(&t.router, Method::GET, "/v1/tenant", key, None).await;
        assert_eq!((answer.status, answer.content_type.as_str()), (401, "application/problem+json"), "{key:?}");
    }
    assert_eq!(call(&t.router, Method::GET, "/v1/tenant", Some(&t.key_a), None).await.status, 200);
    let store = t.backends.store.as_ref();
    let tenant = "club-a".into();
    let key_id = store.api_keys(&tenant).await.unwrap()[0].key_id.clone();
    store.revoke_api_key(&tenant, &key_id, 2).await.unwrap();
    let answer = call(&t.router, Method::GET, "/v1/subjects", Some(&t.key_a), None).await;
    assert_eq!(answer.status, 401, "revoked: {}", answer.text);
}

#[tokio::test]
async fn the_tenant_shows_its_guild_and_the_permissions_the_bot_lacks() {
    let t = TwoTenants::new().await;
    let answer = call(&t.router, Method::GET, "/v1/tenant", Some(&t.key_a), None).await.json();
    assert_eq!(answer["tenant_id"], "club-a");
    assert_eq!(answer["guild"]["id"], GUILD_A.to_string());
    assert_eq!(answer["guild"]["bot_present"], false);
    let missing: Vec<&str> =
        answer["permissions"]["missing"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(missing.contains(&"MANAGE_CHANNELS"), "{missing:?}");
}

#[tokio::test]
async fn a_subject_is_created_then_updated_and_read_back_with_its_channel_state() {
    let t = TwoTenants::new().await;
    let key = Some(t.key_a.as_str());
    let created = call(&t.router, Method::PUT, "/v1/subjects/lead/42", key, Some(lead_42())).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["channel"], serde_json::Value::Null);
    let mut changed = lead_42();
    changed["name"] = json!("Ada King");
    let updated = call(&t.router, Method::PUT, "/v1/subjects/lead/42", key, Some(changed)).await;
    assert_eq!((updated.status, updated.json()["name"].clone()), (200, json!("Ada King")));
    let read = call(&t.router, Method::GET, "/v1/subjects/lead/42", key, None).await.json();
    assert_eq!(
        (read["discord_user_id"].clone(), read["fields"]["company"].clone()),
        (json!("4242"), json!("Analytical"))
    );
    let listed = call(&t.router, Method::GET, "/v1/subjects?kind=lead", key, None).await.json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    let events = call(&t.router, Method::GET, "/v1/subjects?kind=event", key, None).await.json();
    assert_eq!(events["items"], json!([]));
}

#[tokio::test]
async fn bad_input_is_a_precise_problem_and_changes_nothing() {
    let t = TwoTenants::new().await;
    let key = Some(t.key_a.as_str());
    let path = "/v1/subjects/event/9";
    let invalid =
        json!({ "name": "", "starts_at": 10, "ends_at": 5, "signup_url": "ftp://x", "discord_user_id": "me" });
    let answer = call(&t.router, Method::PUT, path, key, Some(invalid)).await;
    assert_eq!((answer.status, answer.content_type.as_str()), (422, "application/problem+json"));
    let fields: Vec<String> = answer.json()["errors"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(fields, ["discord_user_id", "ends_at", "name", "signup_url"]);

    let unknown = call(&t.router, Method::PUT, path, key, Some(json!({ "name": "x", "colour": "red" }))).await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert!(unknown.json()["detail"].as_str().unwrap().contains("colour"));
    let malformed = call_with(&t.router, Method::PUT, path, key, Some("{\"name\":".to_owned()), &[]).await;
    assert_eq!(malformed.status, 400);
    // serde reads a struct from an array of its fields too; a body is an object or nothing.
    for not_an_object in [json!(["x"]), json!([]), json!("x"), json!(null)] {
        let answer = call(&t.router, Method::PUT, path, key, Some(not_an_object.clone())).await;
        assert_eq!(answer.status, 400, "{not_an_object}: {}", answer.text);
    }
    let keys_before = call(&t.router, Method::GET, "/v1/keys", key, None).await.json()["items"].clone();
    let array_key = call(&t.router, Method::POST, "/v1/keys", key, Some(json!([]))).await;
    assert_eq!(array_key.status, 400, "no key is made from an array: {}", array_key.text);
    assert_eq!(call(&t.router, Method::GET, "/v1/keys", key, None).await.json()["items"], keys_before);
    let not_json =
        call_with(&t.router, Method::PUT, path, key, Some("name=x".to_owned()), &[("content-type", "text/plain")])
            .await;
    assert_eq!(not_json.status, 415);
    let huge = json!({ "name": "x", "fields": { "notes": "y".repeat(70 * 1024) } });
    assert_eq!(call(&t.router, Method::PUT, path, key, Some(huge)).await.status, 413);
    let bad_kind = call(&t.router, Method::GET, "/v1/subjects/planet/9", key, None).await;
    assert_eq!(bad_kind.status, 404);
    let bad_limit = call(&t.router, Method::GET, "/v1/subjects?limit=1000", key, None).await;
    assert_eq!(bad_limit.status, 422);
    let bad_cursor = call(&t.router, Method::GET, "/v1/subjects?cursor=bm9wZQ", key, None).await;
    assert_eq!(bad_cursor.status, 400);

    let store = t.backends.store.as_ref();
    let subject = SubjectRef::new(SubjectKind::Event, "9");
    assert_eq!(store.subject(Id::new(GUILD_A), &subject).await.unwrap(), None, "nothing was written");
    assert_eq!(t.queue.len(QueueKind::Channel).await, Ok(0));
}

#[tokio::test]
async fn asking_for_a_channel_three_times_queues_one_job() {
    let t = TwoTenants::new().await;
    let key = Some(t.key_a.as_str());
    call(&t.router, Method::PUT, "/v1/subjects/lead/42", key, Some(lead_42())).await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        let answer = call(&t.router, Method::POST, "/v1/subjects/lead/42/channel", key, None).await;
        assert_eq!(answer.status, 202, "{}", answer.text);
        jobs.push(answer.json()["job"]["id"].clone());
    }
    assert!(jobs.windows(2).all(|pair| pair[0] == pair[1]), "one job: {jobs:?}");
    assert_eq!(t.queue.len(QueueKind::Channel).await, Ok(1));
    let unknown = call(&t.router, Method::POST, "/v1/subjects/lead/43/channel", key, None).await;
    assert_eq!(unknown.status, 404);
    let none_yet = call(&t.router, Method::GET, "/v1/subjects/lead/42/channel", key, None).await;
    assert_eq!(none_yet.status, 404, "no mapping before the worker claims it");
}

#[tokio::test]
async fn asking_again_after_the_channel_failed_queues_a_retry_inside_the_dedup_window() {
    let t = TwoTenants::new().await;
    let key = Some(t.key_a.as_str());
    call(&t.router, Method::PUT, "/v1/subjects/lead/42", key, Some(lead_42())).await;
    assert_eq!(call(&t.router, Method::POST, "/v1/subjects/lead/42/channel", key, None).await.status, 202);
    // The worker claims it and fails for good (say, Missing Permissions).
    let (guild, subject, token) = (Id::new(GUILD_A), SubjectRef::new(SubjectKind::Lead, "42"), ClaimToken::from("t1"));
    let store = t.backends.store.as_ref();
    store.claim(guild, &subject, &token, None, 1).await.expect("claim");
    store.mark_error(guild, &subject, &token, "Missing Permissions", 2).await.expect("error");
    let again = call(&t.router, Method::POST, "/v1/subjects/lead/42/channel", key, None).await;
    assert_eq!(again.status, 202, "{}", again.text);
    // Seconds after the first: SQS FIFO would drop a repeat of the first job's id.
    assert_eq!(t.queue.len(QueueKind::Channel).await, Ok(2), "the retry is a job of its own");
}

#[tokio::test]
async fn a_message_needs_an_active_channel_and_one_key_makes_one_job() {
    let t = TwoTenants::new().await;
    let key = Some(t.key_a.as_str());
    call(&t.router, Method::PUT, "/v1/subjects/lead/42", key, Some(lead_42())).await;
    let path = "/v1/subjects/lead/42/messages";
    let body = json!({ "content": "Welcome aboard" }).to_string();
    let idem = [("idempotency-key", "msg-1")];
    let no_channel = call_with(&t.router, Method::POST, path, key, Some(body.clone()), &idem).await;
    assert_eq!(no_channel.status, 404, "{}", no_channel.text);

    // The channel exists: claimed and completed as the worker would.
    let store = t.backends.store.as_ref();
    let guild = Id::new(GUILD_A);
    let subject = SubjectRef::new(SubjectKind::Lead, "42");
    let token = "attempt".into();
    store.claim(guild, &subject, &token, None, 5).await.unwrap();
    let channels = guildbridge_core::domain::ChannelIds { text: Some(Id::new(777)), ..Default::default() };
    store.complete(guild, &subject, &token, channels, 6).await.unwrap();

    let first = call_with(&t.router, Method::POST, path, key, Some(body.clone()), &idem).await;
    let again = call_with(&t.router, Method::POST, path, key, Some(body.clone()), &idem).await;
    assert_eq!(first.status, 202, "{}", first.text);
    assert_eq!((again.status, again.json()), (202, first.json()), "a replay answers as the first time");
    assert_eq!(t.queue.len(QueueKind::Channel).await, Ok(1), "one job");
    let other_body = json!({ "content": "Something else" }).to_string();
    let reused = call_with(&t.router, Method::POST, path, key, Some(other_body), &idem).await;
    assert_eq!(reused.status, 422, "{}", reused.text);
    let too_long = json!({ "content": "x".repeat(2001) });
    assert_eq!(call(&t.router, Method::POST, path, key, Some(too_long)).await.status, 422);

    let channel = call(&t.router, Method::GET, "/v1/subjects/lead/42/channel", key, None).await.json();
    assert_eq!(channel["url"], format!("https://discord.com/channels/{GUILD_A}/777"));
    let active = call(&t.router, Method::GET, "/v1/channels?status=active", key, None).await.json();
    assert_eq!(active["items"][0]["subject"], "lead:42");
    let asked_again = call(&t.router, Method::POST, "/v1/subjects/lead/42/channel", key, None).await;
    assert_eq!((asked_again.status, asked_again.json()["status"].clone()), (200, json!("active")));
    let archived =
        call(&t.router, Method::DELETE, "/v1/subjects/lead/42/channel", key, Some(json!({ "reason": "deal closed" })))
            .await;
    assert_eq!((archived.status, archived.json()["job"]["type"].clone()), (202, json!("archive_channel")));
}

#[tokio::test]
async fn links_are_one_to_one_and_a_taken_discord_user_is_a_409_naming_the_other() {
    let t = TwoTenants::new().await;
    let key = Some(t.key_a.as_str());
    let link = |user: &str| Some(json!({ "discord_user_id": user }));
    assert_eq!(call(&t.router, Method::PUT, "/v1/links/u-1", key, link("5001")).await.status, 201);
    assert_eq!(call(&t.router, Method::PUT, "/v1/links/u-1", key, link("5001")).await.status, 200);
    let taken = call(&t.router, Method::PUT, "/v1/links/u-2", key, link("5001")).await;
    assert_eq!((taken.status, taken.json()["conflict"]["platform_user_id"].clone()), (409, json!("u-1")));
    assert_eq!(call(&t.router, Method::PUT, "/v1/links/u-1", key, link("5002")).await.status, 201, "moved over");
    assert_eq!(call(&t.router, Method::PUT, "/v1/links/u-2", key, link("5001")).await.status, 201, "freed");
    let listed = call(&t.router, Method::GET, "/v1/links", key, None).await.json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(call(&t.router, Method::DELETE, "/v1/links/u-1", key, None).await.status, 204);
    assert_eq!(call(&t.router, Method::DELETE, "/v1/links/u-1", key, None).await.status, 404);
}

#[tokio::test]
async fn settings_need_the_version_they_were_read_at() {
    let t = TwoTenants::new().await;
    let key = Some(t.key_a.as_str());
    let read = call(&t.router, Method::GET, "/v1/settings", key, None).await;
    let etag = read.headers["etag"].to_str().unwrap().to_owned();
    let mut settings = read.json();
    settings["auto_create_channels"] = json!(true);
    let body = Some(settings.to_string());
    let without = call_with(&t.router, Method::PUT, "/v1/settings", key, body.clone(), &[]).await;
    assert_eq!(without.status, 428);
    let saved = call_with(&t.router, Method::PUT, "/v1/settings", key, body.clone(), &[("if-match", &etag)]).await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    let stale = call_with(&t.router, Method::PUT, "/v1/settings", key, body, &[("if-match", &etag)]).await;
    assert_eq!(stale.status, 412);
    let new_etag = saved.headers["etag"].to_str().unwrap().to_owned();
    let mut invalid = settings.clone();
    invalid["naming_pattern"] = json!("{nope}");
    invalid["sync_interval_hours"] = json!(0);
    let refused =
        call_with(&t.router, Method::PUT, "/v1/settings", key, Some(invalid.to_string()), &[("if-match", &new_etag)])
            .await;
    assert_eq!(refused.status, 422);
    let fields: Vec<String> = refused.json()["errors"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(fields, ["naming_pattern", "sync_interval_hours"]);
    let mut typo = settings;
    typo["notifications"]["on_eror"] = json!(true);
    let unknown =
        call_with(&t.router, Method::PUT, "/v1/settings", key, Some(typo.to_string()), &[("if-match", &new_etag)])
            .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);

    // With auto-create on, registering a subject queues its channel.
    let created = call(&t.router, Method::PUT, "/v1/subjects/event/1", key, Some(json!({ "name": "Spa" }))).await;
    assert_eq!(created.status, 201);
    assert_eq!(t.queue.len(QueueKind::Channel).await, Ok(1));
}

#[tokio::test]
async fn a_sync_starts_once_per_key_and_a_second_while_it_runs_is_a_409_naming_it() {
    let t = TwoTenants::new().await;
    let key = Some(t.key_a.as_str());
    let idem = [("idempotency-key", "sync-1")];
    let first = call_with(&t.router, Method::POST, "/v1/syncs", key, None, &idem).await;
    assert_eq!(first.status, 202, "{}", first.text);
    let replay = call_with(&t.router, Method::POST, "/v1/syncs", key, None, &idem).await;
    assert_eq!((replay.status, replay.json()), (202, first.json()));
    let other = call(&t.router, Method::POST, "/v1/syncs", key, None).await;
    let run_id = first.json()["run_id"].clone();
    assert_eq!((other.status, other.json()["conflict"]["run"]["run_id"].clone()), (409, run_id.clone()));
    assert_eq!(t.queue.len(QueueKind::Sync).await, Ok(1));
    let path = format!("/v1/syncs/{}", run_id.as_str().unwrap());
    let run = call(&t.router, Method::GET, &path, key, None).await.json();
    assert_eq!(run["status"], "running");
    let runs = call(&t.router, Method::GET, "/v1/syncs", key, None).await.json();
    assert_eq!(runs["items"][0]["run_id"], run_id);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let t = TwoTenants::new().await;
    let key = Some(t.key_a.as_str());
    let missing = call(&t.router, Method::GET, "/v1/nothing-here", key, None).await;
    assert_eq!((missing.status, missing.content_type.as_str()), (404, "application/problem+json"));
    let wrong = call(&t.router, Method::PATCH, "/v1/tenant", key, None).await;
    assert_eq!((wrong.status, wrong.content_type.as_str()), (405, "application/problem+json"));
}

#[tokio::test]
async fn a_dead_letter_is_listed_with_its_reason_and_retried_under_its_key() {
    let t = TwoTenants::new().await;
    let job = guildbridge_core::domain::Job::ArchiveChannel {
        guild_id: Id::new(GUILD_A),
        subject: SubjectRef::new(SubjectKind::Event, "7"),
        reason: "done".to_owned(),
        reply: None,
    };
    let letter =
        guildbridge_core::store::DeadLetterRecord::for_body("channel", &job.to_body().unwrap(), "Missing Access", 5, 9);
    t.backends.store.record_dead_letter(Some(Id::new(GUILD_A)), &letter).await.unwrap();
    let key = Some(t.key_a.as_str());
    let listed = call(&t.router, Method::GET, "/v1/dead-letters", key, None).await.json();
    let item = &listed["items"][0];
    assert_eq!((item["reason"].clone(), item["attempts"].clone()), (json!("Missing Access"), json!(5)));
    let path = format!("/v1/dead-letters/{}/retry", item["id"].as_str().unwrap());
    let retried = call(&t.router, Method::POST, &path, key, None).await;
    assert_eq!((retried.status, retried.json()["job"]["type"].clone()), (202, json!("archive_channel")));
    let received =
        t.queue.receive(QueueKind::Channel, std::time::Duration::from_secs(30)).await.unwrap().expect("queued");
    assert_eq!(received.job, job, "the same job, under its key");
    let unknown =
        call(&t.router, Method::POST, "/v1/dead-letters/000000000009-0000000000000000/retry", key, None).await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn a_misspelt_query_parameter_or_nested_setting_is_refused_not_ignored() {
    let t = TwoTenants::new().await;
    for path in ["/v1/subjects?limt=5", "/v1/channels?stauts=error", "/v1/syncs?limit=5&cursor=x", "/v1/links?x=1"] {
        let answer = call(&t.router, Method::GET, path, Some(&t.key_a), None).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.text);
        assert!(answer.content_type.starts_with("application/problem+json"), "{path}");
    }
    let settings = json!({ "reminders": [{ "before_minutes": 60, "template": { "content": "{name}", "embd": {} } }] });
    let answer = call_with(
        &t.router,
        Method::PUT,
        "/v1/settings",
        Some(&t.key_a),
        Some(settings.to_string()),
        &[("if-match", "*"), ("content-type", "application/json")],
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.text.contains("reminders[0].template.embd"), "the field is named: {}", answer.text);
    let stored = call(&t.router, Method::GET, "/v1/settings", Some(&t.key_a), None).await;
    assert_eq!(stored.json()["reminders"], json!([]), "nothing was saved");
}

#[tokio::test]
async fn a_platform_rotates_its_key_through_the_api_and_cannot_lock_itself_out() {
    let t = TwoTenants::new().await;
    let old = t.key_a.as_str();
    let made = call(&t.router, Method::POST, "/v1/keys", Some(old), Some(json!({ "expires_in_days": 90 }))).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let made = made.json();
    let new = made["secret"].as_str().expect("shown once").to_owned();
    assert_eq!(made["key"]["door"], "api");
    let new_id = made["key"]["key_id"].as_str().expect("id").to_owned();
    let keys = t.backends.store.api_keys(&"club-a".into()).await.unwrap();
    let old_id = keys.into_iter().find(|key| key.key_id != new_id).expect("the old key").key_id;
    assert_eq!(made["key"]["created_by"], format!("key {old_id}"), "who made it");
    assert_eq!(made["key"]["expires_at"], 1_800_000_000 + 90 * 86_400);
    assert_eq!(call(&t.router, Method::GET, "/v1/tenant", Some(&new), None).await.status, 200);

    let listed = call(&t.router, Method::GET, "/v1/keys", Some(&new), None).await;
    assert_eq!(listed.status, 200);
    assert!(!listed.text.contains(&new) && !listed.text.contains("gbk_"), "no key is ever listed");
    assert_eq!(listed.json()["items"].as_array().map(Vec::len), Some(2));

    // B cannot revoke A's key; nor is a made-up expiry taken.
    let theirs = call(&t.router, Method::DELETE, &format!("/v1/keys/{old_id}"), Some(&t.key_b), None).await;
    assert_eq!(theirs.status, 404, "{}", theirs.text);
    let forever = call(&t.router, Method::POST, "/v1/keys", Some(&new), Some(json!({ "expires_in_days": 0 }))).await;
    assert_eq!(forever.status, 422, "{}", forever.text);

    // The new key revokes the old one; then it is the last, and stays.
    let revoked = call(&t.router, Method::DELETE, &format!("/v1/keys/{old_id}"), Some(&new), None).await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    assert_eq!(call(&t.router, Method::GET, "/v1/tenant", Some(old), None).await.status, 401);
    let last = call(&t.router, Method::DELETE, &format!("/v1/keys/{new_id}"), Some(&new), None).await;
    assert_eq!(last.status, 409, "{}", last.text);
    assert!(last.text.contains("last usable key"), "{}", last.text);
    // The key expires: at its time it is refused like a revoked one.
    t.clock.advance(90 * 86_400);
    assert_eq!(call(&t.router, Method::GET, "/v1/tenant", Some(&new), None).await.status, 401);
}
