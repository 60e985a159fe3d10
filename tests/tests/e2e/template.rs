//! `infra/template.yaml` against the code: the table is exactly the one `guildbridge_core::store::schema`
//! defines, every function gets the variables its configuration requires, timeouts and queue
//! visibility agree with the workers, and SQS batches report partial failures.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use guildbridge_core::{
    domain::metrics,
    store::schema::{GLOBAL_INDEXES, Index, attr},
};
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
    let secrets = secrets_given(&variables);
    let mut env = plausible(function, variables);
    for secret in secrets {
        for key in secret_keys(template, &secret) {
            env.insert(key, "x".repeat(40));
        }
    }
    env
}

/// The secrets (resource names) a `SECRETS_ARN` value refers to: `!Ref` one, or `!Join` several.
fn secrets_given(variables: &serde_yaml::Mapping) -> Vec<String> {
    let Some(value) = variables.get(config::SECRETS_ARN) else { return Vec::new() };
    let shown = format!("{value:?}");
    let mut names: Vec<String> = shown.split('"').filter(|word| word.ends_with("Secret")).map(str::to_owned).collect();
    names.dedup();
    assert!(!names.is_empty(), "SECRETS_ARN names secrets: {shown}");
    names
}

/// The variables a secret resource holds: its initial JSON's keys, or its generated key.
fn secret_keys(template: &Value, secret: &str) -> Vec<String> {
    let properties = resource(template, secret);
    if let Some(initial) = properties["SecretString"].as_str() {
        let initial: serde_json::Value = serde_json::from_str(initial).expect("a JSON secret");
        return initial.as_object().expect("an object").keys().cloned().collect();
    }
    let generated = &properties["GenerateSecretString"];
    let initial: serde_json::Value =
        serde_json::from_str(generated["SecretStringTemplate"].as_str().expect("a template")).expect("JSON");
    let mut keys: Vec<String> = initial.as_object().expect("an object").keys().cloned().collect();
    keys.push(text(&generated["GenerateStringKey"]));
    keys
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
    for secret in SECRET_VARIABLES {
        assert!(!env.contains_key(secret), "{function}: {secret} must come from a secret, not the template");
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

    // Least privilege: the public interactions function holds no Discord credential.
    assert!(
        !interactions.contains_key(config::DISCORD_BOT_TOKEN)
            && !interactions.contains_key(config::DISCORD_CLIENT_SECRET)
    );
    assert!(!environment(&template, "ChannelWorkerFunction").contains_key(config::DISCORD_CLIENT_SECRET));

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
    let secrets = secrets_given(&variables);
    let mut env = plausible("GatewayTask", variables);
    for secret in secrets {
        env.extend(secret_keys(&template, &secret).into_iter().map(|key| (key, "x".repeat(40))));
    }
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

/// The stack's own namespace, as the template writes it.
const NAMESPACE: &str = "Guildbridge/${AWS::StackName}";

/// A value under its tag (`!Sub "..."` is the string).
fn untagged(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => &tagged.value,
        other => other,
    }
}

/// Checks one metric the template names in the stack's namespace against the code's list:
/// the name exists, and the dimensions are exactly its labels (else CloudWatch shows nothing).
fn check_metric(place: &str, name: &str, dimensions: &[String]) -> &'static metrics::Metric {
    let metric = metrics::find(name).unwrap_or_else(|| panic!("{place}: {name} is not a metric the code emits"));
    assert_eq!(dimensions, metric.labels, "{place}: {name}'s dimensions");
    metric
}

fn alarms(template: &Value) -> Vec<(String, &Value)> {
    let resources = template["Resources"].as_mapping().expect("resources");
    resources
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(name, resource)| (text(name), &resource["Properties"]))
        .collect()
}

/// The metrics one alarm watches in the stack's namespace (checked), and other namespaces'.
fn watched(name: &str, alarm: &Value) -> (Vec<&'static str>, Vec<String>) {
    let mut ours = Vec::new();
    let mut others = Vec::new();
    let mut see = |metric: &Value| {
        let namespace = text(untagged(&metric["Namespace"]));
        let dimensions: Vec<String> =
            metric["Dimensions"].as_sequence().into_iter().flatten().map(|d| text(&d["Name"])).collect();
        if namespace == NAMESPACE {
            ours.push(check_metric(name, &text(&metric["MetricName"]), &dimensions).name);
        } else {
            others.push(format!("{namespace} {}", text(&metric["MetricName"])));
        }
    };
    match alarm["Metrics"].as_sequence() {
        Some(queries) => {
            queries.iter().filter(|q| !q["MetricStat"].is_null()).for_each(|q| see(&q["MetricStat"]["Metric"]))
        }
        None => see(alarm),
    }
    (ours, others)
}

#[test]
fn the_alarms_watch_metrics_the_code_emits_and_cover_what_an_operator_is_paged_for() {
    let template = template();
    let mut ours = BTreeSet::new();
    let mut others = BTreeSet::new();
    for (name, alarm) in alarms(&template) {
        assert!(text(&alarm["AlarmDescription"]).len() > 60, "{name} says what it means and what to do");
        assert_eq!(text(&alarm["TreatMissingData"]), "notBreaching", "{name}: no figures is no trouble");
        assert!(alarm["AlarmActions"].as_sequence().is_some_and(|a| !a.is_empty()), "{name} pages someone");
        let (mine, theirs) = watched(&name, alarm);
        ours.extend(mine);
        others.extend(theirs);
    }
    for paged in [
        metrics::INTERACTION_LATENCY,
        metrics::DEAD_LETTERS,
        metrics::DISCORD_RATE_LIMITED,
        metrics::RELAY_LAG,
        metrics::TICK_FAILURES,
        metrics::WEBHOOK_ENDPOINTS_PAUSED,
    ] {
        assert!(ours.contains(paged.name), "no alarm watches {}", paged.name);
    }
    assert!(others.contains("AWS/Lambda Url5xxCount"), "the web function's 5xx: {others:?}");
    // The interaction alarm fires inside Discord's 3 s, at the answer budget.
    let latency = alarms(&template).into_iter().find(|(_, a)| a["MetricName"] == "InteractionLatency").expect("alarm");
    let threshold = text(&latency.1["Threshold"]).parse::<u128>().expect("a number");
    assert_eq!(threshold, guildbridge_core::interactions::ANSWER_BUDGET.as_millis());
}

#[test]
fn the_dashboard_shows_every_metric_the_code_emits_by_its_labels() {
    let template = template();
    let body = text(untagged(&resource(&template, "Dashboard")["DashboardBody"]));
    let body = body.replace("${AWS::Region}", "us-east-1").replace("${WebFunction}", "web");
    let dashboard: serde_json::Value = serde_json::from_str(&body).expect("the dashboard body is JSON");
    let mut shown = BTreeSet::new();
    for widget in dashboard["widgets"].as_array().expect("widgets") {
        let title = widget["properties"]["title"].as_str().expect("a title");
        for row in widget["properties"]["metrics"].as_array().expect("metrics") {
            let row = row.as_array().expect("a metric row");
            if let Some(expression) = row[0]["expression"].as_str() {
                // SEARCH('{"namespace",label,...} MetricName="Name"', 'stat', period)
                let (namespace, rest) = expression
                    .split_once("'{\"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .unwrap_or_else(|| panic!("{title}: a quoted namespace in {expression}"));
                assert_eq!(namespace, NAMESPACE, "{title}");
                let (labels, rest) = rest.split_once('}').expect("a schema");
                let labels: Vec<String> = labels.split(',').filter(|l| !l.is_empty()).map(str::to_owned).collect();
                let name = rest.split_once("MetricName=\"").and_then(|(_, rest)| rest.split_once('"')).expect("a name");
                shown.insert(check_metric(title, name.0, &labels).name);
                continue;
            }
            let names: Vec<&str> = row.iter().filter_map(serde_json::Value::as_str).collect();
            if names[0] != NAMESPACE {
                continue;
            }
            let dimensions: Vec<String> = names[2..].iter().step_by(2).map(|d| d.to_string()).collect();
            shown.insert(check_metric(title, names[1], &dimensions).name);
        }
    }
    let missing: Vec<&str> = metrics::ALL.iter().map(|m| m.name).filter(|name| !shown.contains(name)).collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
}

#[test]
fn every_function_and_the_gateway_task_emit_under_the_stacks_namespace() {
    let template = template();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(text(untagged(&globals[guildbridge_host::metrics::METRICS_NAMESPACE])), NAMESPACE);
    let gateway = &resource(&template, "GatewayTask")["ContainerDefinitions"][0]["Environment"];
    let set = gateway.as_sequence().expect("variables").iter().find(|v| v["Name"] == "METRICS_NAMESPACE");
    assert_eq!(set.map(|v| text(untagged(&v["Value"]))).as_deref(), Some(NAMESPACE));
}

#[test]
fn each_function_may_read_exactly_the_secrets_it_is_given() {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("resources");
    let mut checked = 0;
    for (name, resource) in resources {
        let name = text(name);
        let properties = &resource["Properties"];
        let (given, statements) = match text(&resource["Type"]).as_str() {
            "AWS::Serverless::Function" => {
                let variables = properties["Environment"]["Variables"].as_mapping().cloned().unwrap_or_default();
                (
                    secrets_given(&variables).into_iter().collect::<BTreeSet<_>>(),
                    &properties["Policies"][0]["Statement"],
                )
            }
            _ => continue,
        };
        let readable: BTreeSet<String> = statements
            .as_sequence()
            .expect("statements")
            .iter()
            .filter(|statement| format!("{:?}", statement["Action"]).contains("secretsmanager:"))
            .flat_map(|statement| {
                assert_eq!(text(&statement["Action"]), "secretsmanager:GetSecretValue", "{name}: only reads");
                statement["Resource"].as_sequence().cloned().unwrap_or_default()
            })
            .map(|resource| {
                format!("{resource:?}").split('"').find(|w| w.ends_with("Secret")).unwrap_or_default().to_owned()
            })
            .collect();
        assert_eq!(readable, given, "{name} may read exactly the secrets SECRETS_ARN gives it");
        checked += 1;
    }
    assert_eq!(checked, 7, "every function");

    // The gateway task: its role reads what its environment names.
    let container = &resource(&template, "GatewayTask")["ContainerDefinitions"][0]["Environment"];
    let variables: serde_yaml::Mapping =
        container.as_sequence().expect("environment").iter().map(|v| (v["Name"].clone(), v["Value"].clone())).collect();
    let given: BTreeSet<String> = secrets_given(&variables).into_iter().collect();
    let role = format!("{:?}", resource(&template, "GatewayTaskRole")["Policies"]);
    let readable: BTreeSet<String> =
        role.split('"').filter(|word| word.ends_with("Secret")).map(str::to_owned).collect();
    assert_eq!(readable, given, "the gateway task reads exactly its secrets");
}
