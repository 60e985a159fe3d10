//! `guildbridge doctor` against a deployment made of moto's table, queues and secret and the
//! Discord sandbox: a healthy one passes; each fault made on purpose is named, with its fix,
//! and makes it exit non-zero. (The local stack's check is in `local.rs`.)

use std::time::Duration;

use discord_sandbox::{RateLimits, Sandbox};
use e2e::stack::{self, ADMIN, APPLICATION_ID, Aws, BOT_TOKEN};
use guildbridge_core::{
    discord::rest::DiscordClient,
    domain::{GuildSettings, Tenant, TenantId},
    interactions::commands::manifest,
    store::TenantStore,
    test_support::interactions::new_snowflake,
};
use tokio::process::Command;
use twilight_model::{guild::Permissions, id::Id};

const GUILD: u64 = 1_100_000_000_000_930_001;
const INTERACTIONS: &str = "https://abc.lambda-url.us-east-1.on.aws/interactions";
const WEB: &str = "https://guildbridge.example.com";

struct Run {
    ok: bool,
    out: String,
}

impl Run {
    /// The checks that reported a problem, by name.
    fn problems(&self) -> Vec<String> {
        self.out
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix("PROBLEM"))
            .map(|rest| rest.trim().split("  ").next().unwrap_or_default().trim().to_owned())
            .collect()
    }
}

async fn doctor(env: &[(String, String)]) -> Run {
    let output = Command::new(super::BIN)
        .arg("doctor")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .expect("run");
    let out = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    Run { ok: output.status.success(), out }
}

fn set(env: &mut [(String, String)], name: &str, value: &str) {
    for (key, old) in env.iter_mut() {
        if key == name {
            *old = value.to_owned();
        }
    }
}

async fn register(sandbox: &Sandbox, count: usize) {
    let client = DiscordClient::new(
        url::Url::parse(&sandbox.base_url()).expect("url"),
        stack::discord_config(sandbox).bot_token,
    )
    .expect("client");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let commands: Vec<_> = manifest().into_iter().take(count).collect();
    client.bulk_overwrite_commands(Id::new(APPLICATION_ID), None, &commands, deadline).await.expect("registered");
}

#[tokio::test]
async fn a_healthy_deployment_passes_and_each_fault_is_named_with_its_fix() {
    let aws = Aws::connect();
    let provisioned = aws.provision(5).await;
    let sandbox = stack::sandbox(RateLimits::generous(), GUILD, ADMIN).await;
    let store = aws.store(&provisioned);
    let tenant = TenantId::from("club");
    store
        .create_tenant(&Tenant { tenant_id: tenant.clone(), allowed_origins: vec![], created_at: 1 })
        .await
        .expect("tenant");
    store.connect(&tenant, Id::new(GUILD), "Club", 1).await.expect("connected");
    register(&sandbox, usize::MAX).await;
    sandbox.with_world(|world| {
        world.interactions_endpoint_url = Some(INTERACTIONS.to_owned());
        world.redirect_uris = vec![format!("{WEB}/connect/callback"), format!("{WEB}/settings/login/callback")];
    });
    // Two secrets, as the template splits them: SECRETS_ARN names both.
    let credentials =
        aws.secret(&[("DISCORD_BOT_TOKEN", BOT_TOKEN), ("DISCORD_CLIENT_SECRET", "a-client-secret")]).await;
    let signing = aws.secret(&[("STATE_SIGNING_KEY", &"k".repeat(64))]).await;
    let secret = format!("{credentials},{signing}");
    let mut env = stack::aws_env();
    env.extend(provisioned.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    env.extend([
        ("SECRETS_ARN".to_owned(), secret),
        ("DISCORD_API_BASE_URL".to_owned(), sandbox.base_url()),
        ("DISCORD_APPLICATION_ID".to_owned(), APPLICATION_ID.to_string()),
        ("INTERACTIONS_ENDPOINT_URL".to_owned(), INTERACTIONS.to_owned()),
        ("WEB_PUBLIC_URL".to_owned(), WEB.to_owned()),
    ]);

    let healthy = doctor(&env).await;
    assert!(healthy.ok && healthy.problems().is_empty(), "{}", healthy.out);
    for check in
        ["table", "channel queue", "sync queue", "webhook queue", "secret", "Server Members intent", "slash commands"]
    {
        assert!(
            healthy.out.lines().any(|l| l.trim_start().starts_with(&format!("ok       {check}"))),
            "{check}: {}",
            healthy.out
        );
    }
    assert!(healthy.out.contains(&format!("guild {GUILD}")), "{}", healthy.out);

    // A table made by hand, without the code's indexes.
    let bare = format!("bare-{}", new_snowflake());
    let key = |name: &str, kind| {
        aws_sdk_dynamodb::types::KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key")
    };
    let attribute = |name: &str| {
        aws_sdk_dynamodb::types::AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    aws.dynamo
        .create_table()
        .table_name(&bare)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .key_schema(key("pk", aws_sdk_dynamodb::types::KeyType::Hash))
        .key_schema(key("sk", aws_sdk_dynamodb::types::KeyType::Range))
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .send()
        .await
        .expect("bare table");
    let mut faulty = env.clone();
    set(&mut faulty, "TABLE_NAME", &bare);
    let run = doctor(&faulty).await;
    assert!(!run.ok && run.problems().contains(&"table".to_owned()), "{}", run.out);
    assert!(run.out.contains("it has no index gsi1") && run.out.contains("fix: deploy the template"), "{}", run.out);

    // A sync queue without a redrive policy.
    let plain = aws
        .sqs
        .create_queue()
        .queue_name(format!("plain-{}.fifo", new_snowflake()))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("queue");
    let mut faulty = env.clone();
    set(&mut faulty, "SYNC_QUEUE_URL", plain.queue_url().expect("url"));
    let run = doctor(&faulty).await;
    assert_eq!((run.ok, run.problems()), (false, vec!["sync queue".to_owned()]), "{}", run.out);
    assert!(run.out.contains("no redrive policy"), "{}", run.out);

    // The secret as the template leaves it.
    let placeholder = aws.secret(&[("DISCORD_BOT_TOKEN", "set-me"), ("DISCORD_CLIENT_SECRET", "set-me")]).await;
    let mut faulty = env.clone();
    set(&mut faulty, "SECRETS_ARN", &format!("{placeholder},{signing}"));
    let run = doctor(&faulty).await;
    assert!(!run.ok && run.problems().contains(&"secret".to_owned()), "{}", run.out);
    assert!(
        run.out.contains("DISCORD_BOT_TOKEN and DISCORD_CLIENT_SECRET still hold the template's placeholder"),
        "{}",
        run.out
    );
    assert!(run.problems().contains(&"Discord application".to_owned()), "Discord refuses the placeholder: {}", run.out);

    // The Developer Portal: each setting wrong in turn, then put right.
    type Fault = (&'static str, fn(&mut discord_sandbox::world::World), fn(&mut discord_sandbox::world::World));
    let portal: [Fault; 4] = [
        (
            "interactions endpoint",
            |w| w.interactions_endpoint_url = Some("https://old.example.com/interactions".to_owned()),
            |w| w.interactions_endpoint_url = Some(INTERACTIONS.to_owned()),
        ),
        (
            "OAuth2 redirects",
            |w| {
                w.redirect_uris.pop();
            },
            |w| w.redirect_uris.push(format!("{WEB}/settings/login/callback")),
        ),
        ("Server Members intent", |w| w.server_members_intent = false, |w| w.server_members_intent = true),
        ("Message Content intent", |w| w.message_content_intent = false, |w| w.message_content_intent = true),
    ];
    for (check, break_it, mend) in portal {
        sandbox.with_world(break_it);
        let run = doctor(&env).await;
        assert_eq!((run.ok, run.problems()), (false, vec![check.to_owned()]), "{}", run.out);
        assert!(run.out.contains("fix: Developer Portal >"), "{}", run.out);
        sandbox.with_world(mend);
    }

    // A command left out of the registration.
    register(&sandbox, manifest().len() - 1).await;
    let run = doctor(&env).await;
    assert_eq!((run.ok, run.problems()), (false, vec!["slash commands".to_owned()]), "{}", run.out);
    let last = manifest().pop().expect("a command").name;
    assert!(run.out.contains(&format!("not registered: /{last}")), "{}", run.out);
    register(&sandbox, usize::MAX).await;

    // The bot's role with all it needs but Manage Roles.
    let all_but_roles = (GuildSettings::default().bot_permissions() - Permissions::MANAGE_ROLES).bits();
    sandbox.with_world(|w| w.guilds.get_mut(&GUILD).expect("guild").bot_permissions = all_but_roles);
    let run = doctor(&env).await;
    assert_eq!((run.ok, run.problems()), (false, vec![format!("guild {GUILD}")]), "{}", run.out);
    assert!(run.out.contains("the bot lacks Manage Roles\n"), "{}", run.out);
    sandbox.with_world(|w| w.guilds.get_mut(&GUILD).expect("guild").bot_permissions = ADMIN);

    let mended = doctor(&env).await;
    assert!(mended.ok, "{}", mended.out);
}
