//! A deployment: the secret, the configuration the functions read, the table and the queues,
//! then Discord as the functions see it.

use guildbridge_aws::{dynamo::table_differences, sqs::queue_differences};
use guildbridge_core::{discord::rest::DiscordClient, domain::error::Report};
use guildbridge_host::{
    config::{self, DiscordConfig, EnvSource, QueueConfig, StoreConfig, WEBHOOK_MAX_RECEIVES, WorkerConfig},
    secrets::HostEnv,
    wiring::Backends,
};

use super::{Deployment, Finding, discord};

/// Placeholders the template's secret starts with.
const PLACEHOLDER: &str = "set-me";

pub async fn check(expect: Deployment) -> (String, Vec<Finding>) {
    let mut findings = Vec::new();
    let env = match HostEnv::load().await {
        Ok(env) => env,
        Err(error) => {
            findings.push(Finding::problem(
                "secret",
                Report(&error).to_string(),
                "set SECRETS_ARN to the stack's SecretsArn output, with credentials that may read it",
            ));
            return ("a deployment".to_owned(), findings);
        }
    };
    findings.push(secret(&env));
    let configs = (
        StoreConfig::from_source(&env),
        QueueConfig::from_source(&env),
        DiscordConfig::from_source(&env),
        WorkerConfig::from_source(&env),
    );
    let (Ok(store), Ok(queues), Ok(discord_config), Ok(worker)) = configs else {
        let problems = [configs.0.err(), configs.1.err(), configs.2.err(), configs.3.err()];
        let error = config::ConfigError::join(problems);
        let fix = "set the variables as the template gives them to the functions (the stack's outputs)";
        findings.push(Finding::problem("configuration", Report(&error).to_string(), fix));
        return ("a deployment".to_owned(), findings);
    };
    let what = format!("the deployment with table {}", store.table_name);

    let dynamo = guildbridge_aws::dynamo::DynamoItems::client_from_env().await;
    findings.push(match table_differences(&dynamo, &store.table_name).await {
        Ok(differences) if differences.is_empty() => Finding::ok("table", "its keys and indexes are the code's"),
        Ok(differences) => Finding::problem(
            "table",
            differences.join("; "),
            "deploy the template of this release (the table is infra/template.yaml's, from shared/store/src/schema.rs)",
        ),
        Err(error) => Finding::problem(
            "table",
            format!("{} cannot be described: {}", store.table_name, Report(&error)),
            "set TABLE_NAME to the stack's TableName output, with credentials that may describe it",
        ),
    });
    let sqs = guildbridge_aws::sqs::SqsQueues::client_from_env().await;
    for (name, url, receives) in [
        ("channel queue", &queues.channel_queue_url, worker.max_receives),
        ("sync queue", &queues.sync_queue_url, worker.max_receives),
        ("webhook queue", &queues.webhook_queue_url, WEBHOOK_MAX_RECEIVES),
    ] {
        findings.push(match queue_differences(&sqs, url, receives).await {
            Ok(differences) if differences.is_empty() => {
                Finding::ok(name, format!("FIFO, dead-lettered after {receives} receives"))
            }
            Ok(differences) => Finding::problem(
                name,
                differences.join("; "),
                "deploy the template of this release (its queues have the redrive the workers expect)",
            ),
            Err(error) => Finding::problem(
                name,
                format!("{url} cannot be read: {}", Report(&error)),
                "set the queue URLs to the stack's outputs, with credentials that may read them",
            ),
        });
    }

    let (backends, _) = Backends::aws(&store, &queues).await;
    let client = match DiscordClient::new(discord_config.api_base_url.clone(), discord_config.bot_token.clone()) {
        Ok(client) => client,
        Err(error) => {
            findings.push(Finding::problem("Discord", Report(&error).to_string(), "check DISCORD_API_BASE_URL"));
            return (what, findings);
        }
    };
    findings.extend(discord::check(&client, backends.store.as_ref(), worker.application_id, &expect).await);
    (what, findings)
}

/// The secret's values are in: not the template's placeholders.
fn secret(env: &HostEnv) -> Finding {
    let placeholders: Vec<&str> = [config::DISCORD_BOT_TOKEN, config::DISCORD_CLIENT_SECRET]
        .into_iter()
        .filter(|name| env.get(name).is_none_or(|value| value == PLACEHOLDER || value.is_empty()))
        .collect();
    if placeholders.is_empty() {
        return Finding::ok("secret", "it resolves, with the bot token, the client secret and the signing key");
    }
    Finding::problem(
        "secret",
        format!("{} still hold the template's placeholder", placeholders.join(" and ")),
        "put the values in (infra/README.md, step 2)",
    )
}
