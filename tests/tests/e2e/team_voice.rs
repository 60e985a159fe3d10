//! The rest of a race, through the tenant API and the schedule only, on moto and the
//! sandbox: each team's own voice channel (open to exactly its linked members, following
//! its members and its name, gone with the team and at retention; the next category of the
//! series when the event's is full), and the event's summary, posted once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::event_life::{BOT, GUILD, HOUR, MEMBER, World, id_of, now};

const VOICE: u8 = 2;
const CATEGORY: u8 = 4;
/// Discord's Connect permission.
const CONNECT: u64 = 1 << 20;

fn bits(value: &Value) -> u64 {
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_default()
}

impl World {
    /// A voice channel as the sandbox holds it: name, parent, and the members allowed to
    /// connect (the bot aside), sorted; `None` once it is gone.
    fn voice(&self, id: u64) -> Option<(String, Option<u64>, Vec<u64>, bool)> {
        self.sandbox.with_world(|w| {
            let channel = w.channels.get(&id)?;
            assert_eq!(channel.kind, VOICE, "a voice channel");
            let mut allowed: Vec<u64> = channel
                .overwrites
                .iter()
                .filter(|o| o["type"] == 1 && bits(&o["allow"]) & CONNECT != 0)
                .filter_map(|o| o["id"].as_str().and_then(|id| id.parse().ok()))
                .filter(|id| *id != BOT)
                .collect();
            allowed.sort_unstable();
            let everyone_denied = channel
                .overwrites
                .iter()
                .any(|o| o["id"] == GUILD.to_string().as_str() && bits(&o["deny"]) & CONNECT != 0);
            Some((channel.name.clone(), channel.parent_id, allowed, everyone_denied))
        })
    }

    async fn teams(&self, event: &str) -> Vec<Value> {
        let (status, teams) = self.call(Method::GET, &format!("/v1/subjects/event/{event}/teams"), None).await;
        assert_eq!(status, 200, "{teams}");
        teams.as_array().cloned().unwrap_or_default()
    }

    async fn voice_of(&self, event: &str, team: &str) -> u64 {
        let teams = self.teams(event).await;
        let found = teams.iter().find(|t| t["team_id"] == team).unwrap_or_else(|| panic!("team {team}: {teams:?}"));
        id_of(&found["voice_channel_id"])
    }

    async fn put_team(&self, event: &str, team: &str, body: Value) {
        let path = format!("/v1/subjects/event/{event}/teams/{team}");
        let (status, answer) = self.call(Method::PUT, &path, Some(body)).await;
        assert!(status == 200 || status == 201, "{status} {answer}");
    }

    fn texts(&self, channel: u64) -> Vec<String> {
        self.messages(channel).iter().filter_map(|m| m["content"].as_str().map(str::to_owned)).collect()
    }
}

#[tokio::test]
async fn each_team_has_its_own_voice_for_the_race_and_the_event_is_summed_up_once() {
    let world = World::new().await;
    let mut settings = json!({
        "auto_create_channels": true,
        "category_per_series": true,
        "team_voice": false,
        "team_voice_pattern": "{team_name} voice",
        "archive_retention_hours": 1,
        "results_template": { "embed": { "title": "Results: {name}",
            "fields": [ { "name": "Winner", "value": "{result.winner}" } ] } },
        "summary_template": {
            "content": "**{name}** is over ({starts_at} to {ends_at}): {signup_count} of {signup_capacity} signed up.\n{teams}\n{results}",
        },
    });
    let (status, saved) = world.put_settings(settings.clone()).await;
    assert_eq!(status, 200, "{saved}");
    for n in 0..6u64 {
        let body = json!({ "discord_user_id": (MEMBER + n).to_string() });
        assert_eq!(world.call(Method::PUT, &format!("/v1/links/driver-{n}"), Some(body)).await.0, 201);
    }
    let starts = now() + 2 * 24 * HOUR;
    let ends = starts + 6 * HOUR;
    for event in ["spa", "monza"] {
        let body = json!({
            "name": format!("{event} 6 Hours"), "starts_at": starts, "ends_at": ends,
            "fields": { "series_name": "Endurance" },
            "signups": { "count": 5, "capacity": 20, "entries": [], "significant": false },
        });
        assert_eq!(world.call(Method::PUT, &format!("/v1/subjects/event/{event}"), Some(body)).await.0, 201);
    }
    world.work().await;
    let (_, spa) = world.call(Method::GET, "/v1/subjects/event/spa", None).await;
    let channel = id_of(&spa["channel"]["text_channel_id"]);
    let category = world.sandbox.with_world(|w| w.channels[&channel].parent_id).expect("the series' category");

    // Three teams, then team voice turned on: three voice channels in the event's category,
    // each open to exactly the team's linked members (the unlinked one waits for their link).
    world.put_team("spa", "red", json!({ "name": "Red Racing", "members": ["driver-0", "driver-1", "ghost"] })).await;
    world.put_team("spa", "blue", json!({ "name": "Blue Motorsport", "members": ["driver-2"] })).await;
    world.put_team("spa", "green", json!({ "name": "Green Garage", "members": ["driver-3", "driver-4"] })).await;
    world.work().await;
    assert!(world.teams("spa").await.iter().all(|t| t["voice_channel_id"].is_null()), "no team voice yet");
    settings["team_voice"] = json!(true);
    assert_eq!(world.put_settings(settings).await.0, 200);
    world.work().await;
    let (red, blue, green) =
        (world.voice_of("spa", "red").await, world.voice_of("spa", "blue").await, world.voice_of("spa", "green").await);
    let shown = |id: u64| world.voice(id).unwrap_or_else(|| panic!("voice channel {id} exists"));
    assert_eq!(shown(red), ("Red Racing voice".to_owned(), Some(category), vec![MEMBER, MEMBER + 1], true));
    assert_eq!(shown(blue), ("Blue Motorsport voice".to_owned(), Some(category), vec![MEMBER + 2], true));
    assert_eq!(shown(green), ("Green Garage voice".to_owned(), Some(category), vec![MEMBER + 3, MEMBER + 4], true));

    // A member change is followed, and so is a new name; a redelivered job changes nothing.
    world.put_team("spa", "red", json!({ "name": "Red Racing", "members": ["driver-0", "driver-5"] })).await;
    world.put_team("spa", "blue", json!({ "name": "Blue Motorsport Works", "members": ["driver-2"] })).await;
    world.work().await;
    assert_eq!(shown(red).2, vec![MEMBER, MEMBER + 5], "driver-1 is out, driver-5 in");
    assert_eq!(shown(blue).0, "Blue Motorsport Works voice");
    assert_eq!(world.voice_of("spa", "red").await, red, "the same channel, not a new one");

    // Someone deletes Red's voice channel by hand: the team's next change makes it again.
    world.sandbox.with_world(|w| w.channels.remove(&red));
    world
        .put_team("spa", "red", json!({ "name": "Red Racing", "members": ["driver-0", "driver-1", "driver-5"] }))
        .await;
    world.work().await;
    let red = world.voice_of("spa", "red").await;
    assert_eq!(shown(red), ("Red Racing voice".to_owned(), Some(category), vec![MEMBER, MEMBER + 1, MEMBER + 5], true));
    let teams = world.teams("spa").await;
    assert!(teams.iter().all(|t| t["error"].is_null()), "{teams:?}");

    // A team deleted: its voice channel is gone.
    let (status, _) = world.call(Method::DELETE, "/v1/subjects/event/spa/teams/green", None).await;
    assert_eq!(status, 202);
    world.work().await;
    assert!(world.voice(green).is_none(), "the deleted team's voice channel is gone");

    // Results: the summary follows them, once, with the teams, the sign-ups and the top results.
    let results = json!({ "template": "results", "results": { "winner": "Red Racing" } });
    assert_eq!(world.call(Method::POST, "/v1/subjects/event/spa/messages", Some(results)).await.0, 202);
    world.work().await;
    let summaries = |world: &World, channel: u64| {
        world.texts(channel).into_iter().filter(|text| text.contains("is over")).collect::<Vec<_>>()
    };
    let posted = summaries(&world, channel);
    assert_eq!(posted.len(), 1, "{posted:?}");
    let summary = &posted[0];
    assert!(summary.contains("5 of 20 signed up"), "{summary}");
    let red_line = format!("**Red Racing**: <@{MEMBER}>, <@{}>, <@{}>", MEMBER + 1, MEMBER + 5);
    assert!(summary.contains(&red_line), "{summary}");
    assert!(summary.contains(&format!("**Blue Motorsport Works**: <@{}>", MEMBER + 2)), "{summary}");
    assert!(!summary.contains("Green Garage"), "a deleted team is not listed: {summary}");
    assert!(summary.contains("**Winner**: Red Racing"), "{summary}");
    assert!(summary.contains(&format!("<t:{ends}:F>")), "{summary}");
    let again = json!({ "template": "summary" });
    let (status, problem) = world.call(Method::POST, "/v1/subjects/event/spa/messages", Some(again)).await;
    assert_eq!((status, problem["type"].as_str()), (409, Some("urn:guildbridge:problem:summary-already-decided")));
    let unknown =
        world.call(Method::POST, "/v1/subjects/event/nowhere/messages", Some(json!({ "template": "summary" })));
    assert_eq!(unknown.await.0, 404, "a subject the tenant does not have");

    // The end, fired twice: Monza (no results came) is summed up once; Spa not again.
    world.fire_twice(ends + 60).await;
    world.fire_twice(ends + 120).await;
    let (_, monza) = world.call(Method::GET, "/v1/subjects/event/monza", None).await;
    let monza_channel = id_of(&monza["channel"]["text_channel_id"]);
    let monza_summaries = summaries(&world, monza_channel);
    assert_eq!(monza_summaries.len(), 1, "{monza_summaries:?}");
    assert!(monza_summaries[0].ends_with("\u{2014}"), "no teams, no results: {}", monza_summaries[0]);
    assert_eq!(summaries(&world, channel).len(), 1, "Spa's summary is not posted again");

    // Retention: the channel is archived and nothing is left of the teams' voice.
    world.fire_twice(ends + HOUR + 60).await;
    let (_, spa) = world.call(Method::GET, "/v1/subjects/event/spa", None).await;
    assert_eq!(spa["channel"]["status"], "archived");
    assert!(world.voice(red).is_none() && world.voice(blue).is_none(), "the teams' voice channels are gone");
    let teams = world.teams("spa").await;
    assert!(teams.iter().all(|t| t["voice_channel_id"].is_null()), "{teams:?}");
    let voices_left = world.sandbox.with_world(|w| w.guild_channels(GUILD).filter(|c| c.kind == VOICE).count());
    assert_eq!(voices_left, 0);
}

#[tokio::test]
async fn a_team_voice_goes_to_the_next_category_of_the_series_when_the_event_s_is_full() {
    let world = World::new().await;
    let settings = json!({ "auto_create_channels": true, "category_per_series": true, "team_voice": true });
    assert_eq!(world.put_settings(settings).await.0, 200);
    let body = json!({ "name": "Spa 6 Hours", "fields": { "series_name": "GT3 Cup" } });
    assert_eq!(world.call(Method::PUT, "/v1/subjects/event/spa", Some(body)).await.0, 201);
    world.work().await;
    let (_, spa) = world.call(Method::GET, "/v1/subjects/event/spa", None).await;
    let channel = id_of(&spa["channel"]["text_channel_id"]);
    let category = world.sandbox.with_world(|w| w.channels[&channel].parent_id).expect("the series' category");
    // Members' own channels fill the category to 47 (the event's text channel is one).
    for n in 0..46 {
        let id = world.sandbox.add_channel(GUILD, &format!("chat-{n}"), 0);
        world.sandbox.with_world(|w| w.channels.get_mut(&id).map(|c| c.parent_id = Some(category)));
    }
    for (team, name) in [("a", "Alpha"), ("b", "Bravo"), ("c", "Charlie"), ("d", "Delta")] {
        world.put_team("spa", team, json!({ "name": name, "members": [] })).await;
    }
    world.work().await;
    let children =
        world.sandbox.with_world(|w| w.guild_channels(GUILD).filter(|c| c.parent_id == Some(category)).count());
    assert_eq!(children, 50, "the event's category is full, and not over");
    let mut parents = Vec::new();
    for team in ["a", "b", "c", "d"] {
        let voice = world.voice_of("spa", team).await;
        parents.push(world.voice(voice).and_then(|(_, parent, _, _)| parent).expect("in a category"));
    }
    assert_eq!(&parents[..3], [category; 3], "three teams fit beside the event");
    let next = world.sandbox.with_world(|w| w.channels.get(&parents[3]).map(|c| (c.name.clone(), c.kind)));
    assert_eq!(next, Some(("GT3 Cup 2".to_owned(), CATEGORY)), "the fourth goes to the series' next category");
}

#[tokio::test]
async fn a_team_made_before_its_event_s_channel_comes_in_with_the_channel_and_nothing_is_dead_lettered() {
    let world = World::new().await;
    let link = json!({ "discord_user_id": MEMBER.to_string() });
    assert_eq!(world.call(Method::PUT, "/v1/links/driver-0", Some(link)).await.0, 201);
    let event = json!({ "name": "Sprint Cup", "starts_at": now() + 2 * 24 * HOUR });
    assert_eq!(world.call(Method::PUT, "/v1/subjects/event/sprint", Some(event)).await.0, 201);
    world.put_team("sprint", "red", json!({ "name": "Red Racing", "members": ["driver-0"] })).await;
    world.work().await;
    assert!(world.teams("sprint").await[0]["thread_id"].is_null(), "no channel, so no thread yet");
    let (_, letters) = world.call(Method::GET, "/v1/dead-letters", None).await;
    assert_eq!(letters["items"], json!([]), "waiting for the channel is no failure");

    assert_eq!(world.call(Method::POST, "/v1/subjects/event/sprint/channel", None).await.0, 202);
    world.work().await;
    let teams = world.teams("sprint").await;
    let thread = id_of(&teams[0]["thread_id"]);
    let (_, sprint) = world.call(Method::GET, "/v1/subjects/event/sprint", None).await;
    let channel = id_of(&sprint["channel"]["text_channel_id"]);
    let parent = world.sandbox.with_world(|w| w.channels.get(&thread).and_then(|t| t.parent_id));
    assert_eq!(parent, Some(channel), "the team's thread is in the event's new channel: {teams:?}");
    assert!(teams[0]["error"].is_null(), "{teams:?}");
}
