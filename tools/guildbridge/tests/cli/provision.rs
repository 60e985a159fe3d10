//! `guildbridge provision` makes the table and FIFO queues with redrive to dead-letter
//! queues, prints an environment the functions accept, and can run again.

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;

async fn provision(endpoint: &str, prefix: &str) -> std::process::Output {
    super::on_moto(&["provision", "--endpoint", endpoint, "--prefix", prefix]).await
}

#[tokio::test]
async fn provisions_table_and_fifo_queues_with_dead_letters_and_prints_the_environment() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(!endpoint.is_empty(), "AWS_ENDPOINT_URL is not set: run through tools/test, which starts moto's server");
    let prefix = format!("prov-{}", guildbridge_core::test_support::interactions::new_snowflake());
    let output = provision(&endpoint, &prefix).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let env: HashMap<String, String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    assert_eq!(env.get("TABLE_NAME"), Some(&prefix));
    let queues =
        guildbridge_host::config::QueueConfig::from_source(&env).expect("the functions accept the printed queues");
    assert!(queues.channel_queue_url.ends_with(&format!("{prefix}-channel.fifo")));
    assert!(guildbridge_host::config::StoreConfig::from_source(&env).is_ok());

    let sqs = e2e::stack::Aws::connect().sqs;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queues.channel_queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    assert_eq!(attributes.get(&QueueAttributeName::FifoQueue).map(String::as_str), Some("true"));
    let redrive: serde_json::Value =
        serde_json::from_str(attributes.get(&QueueAttributeName::RedrivePolicy).expect("redrive")).expect("json");
    assert!(
        redrive["deadLetterTargetArn"].as_str().unwrap_or_default().ends_with(&format!("{prefix}-channel-dlq.fifo"))
    );
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "5");

    let again = provision(&endpoint, &prefix).await;
    assert!(again.status.success(), "running it again keeps what exists: {}", String::from_utf8_lossy(&again.stderr));
}
