//! `infra/template.yaml` against the code: the table is exactly the one `guildbridge_core::store::schema`
//! defines, every function gets the variables its configuration requires, timeouts and queue
//! visibility agree with the workers, and SQS batches report partial failures.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use guildbridge_core::store::schema::{GLOBAL_INDEXES, Index, attr};
use guildbridge_host::{
    config::{self, DiscordConfig, InteractionsConfig, QueueConfig, StoreConfig, WebConfig, WorkerConfig},
    secrets::SECRET_VARIABLES,
    wiring,
};
use serde_yaml::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    serde_yaml::from_str(&text).expect("the template is YAML")
}

fn resource<'t>(template: &'t Value, name: &str) -> &'t Value {
    let found = &template["Resources"][name];
    assert!(!found.is_null(), "the template has no resource {name}");
    &found["Properties"]
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

fn key_schema(value: &Value) -> Vec<(String, String)> {
    let elements = value.as_sequence().expect("a key schema");
    elements.iter().map(|e| (text(&e["AttributeName"]), text(&e["KeyType"]))).collect()
}

fn code_key_schema(index: Index) -> Vec<(String, String)> {
    let (pk, sk) = index.key_attributes();
    vec![(pk.to_owned(), "HASH".to_owned()), (sk.to_owned(), "RANGE".to_owned())]
}

#[test]
fn the_table_is_exactly_the_one_the_code_defines() {
    let template = template();
    let table = resource(&template, "Table");
    assert_eq!(text(&table["BillingMode"]), "PAY_PER_REQUEST");
    assert_eq!(text(&table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]), "true");
    assert_eq!(key_schema(&table["KeySchema"]), code_key_schema(Index::Table));

    let in_template: BTreeMap<String, Vec<(String, String)>> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes")
        .iter()
        .map(|gsi| {
            assert_eq!(text(&gsi["Projection"]["ProjectionType"]), "ALL", "the code reads whole items from indexes");
            (text(&gsi["IndexName"]), key_schema(&gsi["KeySchema"]))
        })
        .collect();
    let in_code: BTreeMap<String, Vec<(String, String)>> = GLOBAL_INDEXES
        .iter()
        .map(|index| (index.name().expect("a GSI has a name").to_owned(), code_key_schema(*index)))
        .collect();
    assert_eq!(in_template, in_code, "exactly the code's indexes");

    let attributes: BTreeSet<(String, String)> = table["AttributeDefinitions"]
        .as_sequence()
        .expect("attributes")
        .iter()
        .map(|a| (text(&a["AttributeName"]), text(&a["AttributeType"])))
        .collect();
    let keyed: BTreeSet<(String, String)> = std::iter::once(Index::Table)
        .chain(GLOBAL_INDEXES)
        .flat_map(|index| {
            let (pk, sk) = index.key_attributes();
            [(pk.to_owned(), "S".to_owned()), (sk.to_owned(), "S".to_owned())]
        })
        .collect();
    assert_eq!(attributes, keyed, "every key attribute is a string, and only key attributes are declared");

    assert_eq!(text(&table["TimeToLiveSpecification"]["AttributeName"]), attr::EXPIRES_AT);
    assert_eq!(text(&table["TimeToLiveSpecification"]["Enabled"]), "true");
}

/// A function's environment with plausible values in place of the template's references,
/// plus what the secret provides when the function is given `SECRETS_ARN`.
fn environment(template: &Value, function: &str) -> HashMap<String, String> {
    let variables = resource(template, function)["Environment"]["Variables"].as_mapping().expect("variables").clone();
    plausible(function, variables)
}

/// The variables as the code would read them, with plausible values where the template
/// refers to a resource or a parameter.
fn plausible(function: &str, variables: serde_yaml::Mapping) -> HashMap<String, String> {
    let mut env = HashMap::new();
    for (name, value) in variables {
        let name = text(&name);
        let plausible = match name.as_str() {
            config::CHANNEL_QUEUE_URL | config::SYNC_QUEUE_URL | config::WEBHOOK_QUEUE_URL => {
                "https://sqs.us-east-1.amazonaws.com/123456789012/guildbridge-x.fifo".to_owned()
            }
            config::TABLE_NAME => "guildbridge-table".to_owned(),
            config::DISCORD_APPLICATION_ID => "1100000000000000001".to_owned(),
            config::DISCORD_PUBLIC_KEY => "a".repeat(64),
            config::SETTINGS_URL => "https://example.lambda-url.us-east-1.on.aws/settings".to_owned(),
            config::MAX_RECEIVES => "5".to_owned(),
            config::WEB_PUBLIC_URL => "https://guildbridge.example.com".to_owned(),
            _ => match value {
                Value::Tagged(_) => "arn:aws:secretsmanager:us-east-1:123456789012:secret:x".to_owned(),
                other => text(&other),
            },
        };
        env.insert(name, plausible);
    }
    if env.contains_key(config::SECRETS_ARN) {
        for secret in SECRET_VARIABLES {
            assert!(!env.contains_key(secret), "{function}: {secret} must come from the secret, not the template");
            env.insert(secret.to_owned(), "x".repeat(40));
        }
    }
    env
}

#[test]
fn every_function_gets_the_configuration_its_code_requires_and_no_secret_in_plain_text() {
    let template = template();
    let interactions = environment(&template, "InteractionsFunction");
    InteractionsConfig::from_source(&interactions).expect("interactions configuration");
    StoreConfig::from_source(&interactions).expect("interactions store");
    QueueConfig::from_source(&interactions).expect("interactions queues");
    let web = environment(&template, "WebFunction");
    StoreConfig::from_source(&web).expect("web store");
    QueueConfig::from_source(&web).expect("web queues");
    WebConfig::from_source(&web).expect("web connect flow");
    for worker in ["ChannelWorkerFunction", "SyncWorkerFunction"] {
        let env = environment(&template, worker);
        StoreConfig::from_source(&env).unwrap_or_else(|e| panic!("{worker}: {e}"));
        QueueConfig::from_source(&env).unwrap_or_else(|e| panic!("{worker}: {e}"));
        DiscordConfig::from_source(&env).unwrap_or_else(|e| panic!("{worker}: {e}"));
        WorkerConfig::from_source(&env).unwrap_or_else(|e| panic!("{worker}: {e}"));
    }
    let webhooks = environment(&template, "WebhookWorkerFunction");
    StoreConfig::from_source(&webhooks).expect("webhook worker store");
    QueueConfig::from_source(&webhooks).expect("webhook worker queues");
    guildbridge_host::config::WebhookConfig::from_source(&webhooks).expect("webhook worker");
    let relay = environment(&template, "RelayWorkerFunction");
    for check in [
        StoreConfig::from_source(&relay).err(),
        QueueConfig::from_source(&relay).err(),
        DiscordConfig::from_source(&relay).err(),
        WorkerConfig::from_source(&relay).err(),
    ] {
        assert!(check.is_none(), "relay worker: {check:?}");
    }
    let scheduler = environment(&template, "SchedulerFunction");
    StoreConfig::from_source(&scheduler).expect("scheduler store");
    QueueConfig::from_source(&scheduler).expect("scheduler queues");

    for parameter in template["Parameters"].as_mapping().expect("parameters").keys() {
        let name = text(parameter).to_lowercase();
        assert!(!name.contains("token") && !name.contains("secret"), "a secret as a parameter: {name}");
    }
}

#[test]
fn timeouts_visibility_and_batches_agree_with_the_workers() {
    let template = template();
    for (function, queue, timeout) in [
        ("ChannelWorkerFunction", "ChannelQueue", wiring::CHANNEL_WORKER_TIMEOUT),
        ("SyncWorkerFunction", "SyncQueue", wiring::SYNC_WORKER_TIMEOUT),
        ("WebhookWorkerFunction", "WebhookQueue", wiring::WEBHOOK_WORKER_TIMEOUT),
    ] {
        let properties = resource(&template, function);
        assert_eq!(text(&properties["Timeout"]), timeout.as_secs().to_string(), "{function}'s timeout");
        let visibility: u64 = text(&resource(&template, queue)["VisibilityTimeout"]).parse().expect("seconds");
        assert!(visibility >= 6 * timeout.as_secs(), "{queue}: a running job must not be handed out twice");
        assert_eq!(text(&resource(&template, queue)["FifoQueue"]), "true");
        assert!(!resource(&template, queue)["RedrivePolicy"].is_null(), "{queue} dead-letters");
        let events = properties["Events"].as_mapping().expect("events");
        assert_eq!(events.len(), 1);
        let event = events.values().next().expect("one event");
        assert_eq!(text(&event["Type"]), "SQS");
        let responses = event["Properties"]["FunctionResponseTypes"].as_sequence().expect("response types");
        assert!(responses.iter().any(|r| text(r) == "ReportBatchItemFailures"), "{function}: partial batch failures");
        assert!(!event["Properties"]["ScalingConfig"]["MaximumConcurrency"].is_null(), "{function}: bounded");
    }
    // Every delivery of a webhook batch fits the invocation, however slow each endpoint is.
    let deliveries = resource(&template, "WebhookWorkerFunction")["Events"].as_mapping().expect("events");
    let batch: u32 =
        text(&deliveries.values().next().expect("one event")["Properties"]["BatchSize"]).parse().expect("n");
    assert_eq!(batch, wiring::WEBHOOK_WORKER_BATCH);
    let slowest = guildbridge_core::webhooks::sender::DELIVERY_TIMEOUT * batch;
    assert!(slowest < wiring::WEBHOOK_WORKER_TIMEOUT, "{batch} deliveries of 10 s fit the webhook worker's timeout");
}

#[test]
fn the_processes_sharing_the_bot_token_are_the_ones_the_rate_limit_share_assumes() {
    let template = template();
    let mut processes = 0;
    for function in ["ChannelWorkerFunction", "SyncWorkerFunction"] {
        let event = resource(&template, function)["Events"].as_mapping().expect("events").values().next().cloned();
        let concurrency: usize = text(&event.expect("one event")["Properties"]["ScalingConfig"]["MaximumConcurrency"])
            .parse()
            .expect("a number");
        processes += concurrency;
    }
    assert_eq!(
        processes,
        wiring::DISCORD_PROCESSES,
        "each process takes 1/{} of the global limit",
        wiring::DISCORD_PROCESSES
    );
    let relay = resource(&template, "RelayWorkerFunction");
    assert_eq!(text(&relay["ReservedConcurrentExecutions"]), "1", "one relay poller holds the relay's share");
    assert!(
        wiring::GLOBAL_SHARE_PER_PROCESS * processes
            + guildbridge_core::relay::RELAY_REQUESTS_PER_SECOND
            + guildbridge_core::relay::GATEWAY_REQUESTS_PER_SECOND
            <= guildbridge_core::discord::rest::ratelimit::GLOBAL_PER_SECOND,
        "the fleet stays under Discord's 50 requests a second"
    );
    let redrive = &resource(&template, "WebhookQueue")["RedrivePolicy"]["maxReceiveCount"];
    assert_eq!(text(redrive), guildbridge_host::provision::WEBHOOK_MAX_RECEIVES.to_string());
    assert!(
        guildbridge_host::provision::WEBHOOK_MAX_RECEIVES
            >= guildbridge_core::domain::RetrySchedule::default().receives_needed(),
        "the backstop is above the delivery schedule's tries"
    );
}

#[test]
fn the_gateway_ingest_is_off_by_default_one_arm_task_with_the_workers_configuration() {
    let template = template();
    assert_eq!(text(&template["Parameters"]["GatewayImage"]["Default"]), "", "off unless an image is given");
    let gateway: Vec<&Value> = template["Resources"]
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(name, _)| text(name).starts_with("Gateway"))
        .map(|(_, resource)| resource)
        .collect();
    assert!(gateway.len() >= 6, "cluster, security group, roles, task, service, logs");
    assert!(gateway.iter().all(|resource| text(&resource["Condition"]) == "HasGateway"), "each behind the parameter");
    let task = resource(&template, "GatewayTask");
    assert_eq!(text(&task["RuntimePlatform"]["CpuArchitecture"]), "ARM64");
    assert_eq!(text(&resource(&template, "GatewayService")["DesiredCount"]), "1");
    let container = &task["ContainerDefinitions"][0];
    let variables: serde_yaml::Mapping = container["Environment"]
        .as_sequence()
        .expect("environment")
        .iter()
        .map(|pair| (pair["Name"].clone(), pair["Value"].clone()))
        .collect();
    let env = plausible("GatewayTask", variables);
    for check in [
        StoreConfig::from_source(&env).err(),
        QueueConfig::from_source(&env).err(),
        DiscordConfig::from_source(&env).err(),
        WorkerConfig::from_source(&env).err(),
    ] {
        assert!(check.is_none(), "gateway ingest: {check:?}");
    }
}

#[test]
fn the_public_function_urls_are_throttled_and_the_web_url_is_a_parameter() {
    let template = template();
    for (function, parameter, default) in
        [("InteractionsFunction", "InteractionsConcurrency", "20"), ("WebFunction", "WebConcurrency", "10")]
    {
        let reserved = format!("{:?}", resource(&template, function)["ReservedConcurrentExecutions"]);
        assert!(reserved.contains(parameter), "{function} reserves {parameter}: {reserved}");
        assert_eq!(text(&template["Parameters"][parameter]["Default"]), default);
    }
    assert_eq!(text(&template["Parameters"]["WebPublicUrl"]["Default"]), "", "from the request's Host unless given");
    let web = format!("{:?}", resource(&template, "WebFunction")["Environment"]["Variables"]["WEB_PUBLIC_URL"]);
    assert!(web.contains("WebPublicUrl") && web.contains("NoValue"), "{web}");
}

#[test]
fn every_function_is_built_from_a_binary_in_the_workspace() {
    let template = template();
    let functions_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    let mut built = BTreeSet::new();
    for (name, resource) in template["Resources"].as_mapping().expect("resources") {
        if text(&resource["Type"]) != "AWS::Serverless::Function" {
            continue;
        }
        assert_eq!(text(&resource["Metadata"]["BuildMethod"]), "rust-cargolambda", "{}", text(name));
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        assert!(std::path::Path::new(functions_dir).join(&binary).join("Cargo.toml").exists(), "{binary}");
        built.insert(binary);
    }
    // The gateway ingest is a long-running process, not a Lambda function.
    let long_running = ["gateway"];
    let in_workspace: BTreeSet<String> = std::fs::read_dir(functions_dir)
        .expect("functions/")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| !long_running.contains(&name.as_str()))
        .collect();
    assert_eq!(built, in_workspace, "every function is deployed");
}

#[test]
fn the_log_scan_recognises_every_kind_of_secret_the_suites_use() {
    for line in [
        r#"{"level":"WARN","fields":{"url":"http://127.0.0.1:1/webhooks/1/sandbox-interaction-1300000000000000007"}}"#,
        "Authorization: Bot sandbox-bot-token",
        "key=gbk_0123456789abcdef",
        "client_secret=sandbox-client-secret",
        r#"{"fields":{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}"#,
    ] {
        assert!(e2e::logs::leak(line).is_some(), "not caught: {line}");
    }
    assert_eq!(e2e::logs::leak(r#"{"message":"job handed back","receives":2}"#), None);
}

/// Runs after every other suite (tools/test calls it last): each line any function process
/// printed during the run, scanned for every secret the tests handed out.
#[test]
#[ignore = "reads the logs of a whole run: tools/test runs it after the suites"]
fn no_secret_reaches_any_log() {
    let lines = e2e::logs::all_lines().expect("the suites' logs");
    // Every run starts the interactions binary and the workers: their lines must be here, or
    // the capture itself is broken and the scan would pass on nothing.
    for binary in ["interactions", "channel-worker", "sync-worker", "scheduler", "web"] {
        let prefix = format!("{binary}\t");
        assert!(lines.iter().any(|(_, line)| line.starts_with(&prefix)), "no log line of {binary} was collected");
    }
    let leaks: Vec<String> = lines
        .iter()
        .filter_map(|(file, line)| e2e::logs::leak(line).map(|secret| format!("{secret} in {file}: {line}")))
        .collect();
    assert!(leaks.is_empty(), "{} log lines carry a secret:\n{}", leaks.len(), leaks.join("\n"));
}
